//! SOPS files that other projects commit as test data (`fixtures/sops/public`, see its README),
//! opened by the real sops 3.11 and by us with the test keys those projects publish: where sops
//! opens a file we must print the same bytes, and where sops fails we must fail too (exit 3 or 6,
//! no panic, the file named). Each key type is its own test, so that one missing key type does
//! not hide the others; every mismatch of a type is reported in one message, with a count.
//!
//! `corpus.tsv` has one line per (file, key) pair: the file, the key types its metadata names,
//! the key to use (`age:`/`pq:` an age key file, `pgp:` an armored secret key imported into a
//! fresh `GNUPGHOME` and given to us as `SECRET_CASCADE_PGP_KEY_FILE`, `ssh:` an OpenSSH private
//! key as `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `-` none: a key that is not public or a cloud KMS), and
//! extra `decrypt` flags.

mod support;

use std::path::{Path, PathBuf};

use support::gnupg::GnuPgHome;
use support::interop::{Run, Tool, preview};
use support::{Sandbox, parallel_map, run};

/// `fixtures/sops/public`.
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sops/public");

/// How an entry's key reaches the tools.
#[derive(Clone, Copy, PartialEq, Debug)]
enum KeyKind {
    /// An age key file (X25519) as `SOPS_AGE_KEY_FILE`.
    Age,
    /// An age key file with a post-quantum (ML-KEM hybrid) identity as `SOPS_AGE_KEY_FILE`.
    Pq,
    /// An armored OpenPGP secret key.
    Pgp,
    /// An OpenSSH private key as `SOPS_AGE_SSH_PRIVATE_KEY_FILE`.
    Ssh,
    /// No public key opens the file (a key the project did not publish, or a cloud KMS).
    None,
}

/// One line of `corpus.tsv`.
#[derive(Clone)]
struct Entry {
    /// Relative to [`CORPUS`].
    file: String,
    /// The key types the file's metadata names (`age,pgp`, `kms`, ...).
    types: String,
    kind: KeyKind,
    /// The key file, absolute.
    key: Option<PathBuf>,
    flags: Vec<String>,
}

impl Entry {
    fn path(&self) -> PathBuf {
        Path::new(CORPUS).join(&self.file)
    }

    fn label(&self) -> String {
        let key = self.key.as_ref().map_or("no key".to_owned(), |key| {
            format!(
                "{:?} key {}",
                self.kind,
                key.strip_prefix(CORPUS).unwrap_or(key).display()
            )
        });
        format!("{} [{}] with {key}", self.file, self.types)
    }
}

fn corpus() -> Vec<Entry> {
    let text = std::fs::read_to_string(Path::new(CORPUS).join("corpus.tsv"))
        .expect("fixtures/sops/public/corpus.tsv");
    let entries: Vec<Entry> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert!(fields.len() >= 3, "corpus.tsv line {line:?}");
            let (kind, key) = match fields[2].split_once(':') {
                None => (KeyKind::None, None),
                Some((kind, key)) => {
                    let kind = match kind {
                        "age" => KeyKind::Age,
                        "pq" => KeyKind::Pq,
                        "pgp" => KeyKind::Pgp,
                        "ssh" => KeyKind::Ssh,
                        other => panic!("corpus.tsv: unknown key kind {other:?} in {line:?}"),
                    };
                    let key = Path::new(CORPUS).join(key);
                    assert!(key.is_file(), "corpus.tsv names {}", key.display());
                    (kind, Some(key))
                }
            };
            let entry = Entry {
                file: fields[0].to_owned(),
                types: fields[1].to_owned(),
                kind,
                key,
                flags: fields
                    .get(3)
                    .map(|flags| flags.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
            };
            assert!(entry.path().is_file(), "corpus.tsv names {}", entry.file);
            entry
        })
        .collect();
    assert!(
        entries.len() > 50,
        "corpus.tsv has {} entries",
        entries.len()
    );
    entries
}

/// A sandbox and a private `GNUPGHOME` (with the entry's key imported, for PGP); the gpg agent
/// it may start is stopped when it is dropped.
struct KeySandbox {
    sandbox: Sandbox,
    gnupg: GnuPgHome,
}

impl KeySandbox {
    fn new(entry: &Entry) -> Self {
        let gnupg = GnuPgHome::new();
        if entry.kind == KeyKind::Pgp {
            gnupg.import(entry.key.as_ref().unwrap());
        }
        Self {
            sandbox: Sandbox::new(),
            gnupg,
        }
    }

    fn gnupg_home(&self) -> &Path {
        self.gnupg.path()
    }

    /// `tool decrypt` of the entry's file (copied nowhere: the fixture itself), with its key.
    fn decrypt(&self, tool: Tool, entry: &Entry) -> Run {
        let file = entry.path().display().to_string();
        let mut args = vec!["decrypt".to_owned()];
        match tool {
            Tool::Sops => args.extend(entry.flags.iter().cloned().chain([file])),
            Tool::Ours => args.extend([file].into_iter().chain(entry.flags.iter().cloned())),
        }
        let mut cmd = self.command(tool, entry);
        cmd.args(&args);
        tool.finish(&mut cmd, args)
    }

    /// The tool's command with the entry's key and nothing else in reach.
    fn command(&self, tool: Tool, entry: &Entry) -> assert_cmd::Command {
        let mut cmd = tool.command(&self.sandbox, self.sandbox.path(), None);
        // No cloud credentials, and the AWS SDK kept off the EC2 metadata address: a KMS entry
        // must fail at once, without any traffic.
        let none = self.sandbox.path().join("none");
        cmd.env("GNUPGHOME", self.gnupg_home())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &none)
            .env("AWS_SHARED_CREDENTIALS_FILE", &none)
            .env("GOOGLE_APPLICATION_CREDENTIALS", &none)
            .env("VAULT_ADDR", "http://127.0.0.1:9")
            .env("VAULT_TOKEN", "none");
        for name in [
            "SECRET_CASCADE_PGP_KEY_FILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ] {
            cmd.env_remove(name);
        }
        if let Some(key) = &entry.key {
            match entry.kind {
                KeyKind::Age | KeyKind::Pq => {
                    cmd.env("SOPS_AGE_KEY_FILE", key);
                }
                KeyKind::Ssh => {
                    cmd.env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", key);
                }
                KeyKind::Pgp => {
                    if let Tool::Ours = tool {
                        cmd.env("SECRET_CASCADE_PGP_KEY_FILE", key);
                    }
                }
                KeyKind::None => {}
            }
        }
        cmd
    }
}

/// What one entry showed: `None` if we behave as sops does, else the mismatch.
struct Outcome {
    sops_opened: bool,
    mismatch: Option<String>,
}

/// The file's `sops:` map with a `version` added at its end: rops writes none, and sops 3.11
/// refuses a file without one (it parses the version before decrypting; the version is not
/// authenticated). We open such files, and compare with sops on this copy.
fn with_version(text: &str) -> Option<String> {
    let has_version = text.contains("\n    version:") || text.contains("\n  version:");
    if !text.contains("\nsops:\n") || has_version {
        return None;
    }
    Some(format!(
        "{}\n  version: 3.8.1\n",
        text.trim_end_matches('\n')
    ))
}

fn compare(entry: &Entry) -> Outcome {
    let keys = KeySandbox::new(entry);
    let mut sops = keys.decrypt(Tool::Sops, entry);
    let ours = keys.decrypt(Tool::Ours, entry);
    // A rops file (no `version`): sops is asked about a copy with one.
    let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
    if let (false, Some(versioned)) = (sops.ok(), with_version(&text)) {
        let copy = keys.sandbox.write(
            entry.path().file_name().unwrap().to_str().unwrap(),
            &versioned,
        );
        let copied = Entry {
            file: copy.display().to_string(),
            ..entry.clone()
        };
        sops = keys.decrypt(Tool::Sops, &copied);
    }
    let label = entry.label();
    let short = |run: &Run| run.failure().replace(&format!("{CORPUS}/"), "");
    let mismatch = if ours.stderr.contains("panicked") {
        Some(format!("{label}: we panicked: {}", short(&ours)))
    } else if sops.ok() {
        if !ours.ok() {
            Some(format!(
                "{label}: sops opens it, we do not: {}",
                short(&ours)
            ))
        } else {
            support::interop::bytes_difference(&sops.stdout, &ours.stdout)
                .map(|difference| format!("{label}: output differs from sops's: {difference}"))
        }
    } else if ours.ok() {
        Some(format!(
            "{label}: sops fails ({}), we succeed",
            short(&sops)
        ))
    } else if ours.code != 3 && ours.code != 6 {
        Some(format!(
            "{label}: sops fails, we fail with exit {} instead of 3 or 6: {}",
            ours.code,
            short(&ours)
        ))
    } else if !ours
        .stderr
        .contains(entry.path().file_name().unwrap().to_string_lossy().as_ref())
    {
        Some(format!(
            "{label}: our error does not name the file: {}",
            short(&ours)
        ))
    } else {
        None
    };
    Outcome {
        sops_opened: sops.ok(),
        mismatch,
    }
}

/// Compares every entry of `kinds` and fails with all mismatches and a count.
fn check(kinds: &[KeyKind]) {
    let entries: Vec<Entry> = corpus()
        .into_iter()
        .filter(|entry| kinds.contains(&entry.kind))
        .collect();
    assert!(!entries.is_empty(), "corpus.tsv has no {kinds:?} entries");
    let outcomes = parallel_map(&entries, compare);
    let sops_opens = outcomes.iter().filter(|o| o.sops_opened).count();
    let we_open = outcomes
        .iter()
        .filter(|o| o.sops_opened && o.mismatch.is_none())
        .count();
    let mismatches: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| o.mismatch.as_ref())
        .collect();
    eprintln!(
        "{kinds:?}: {} entries, sops opens {sops_opens}; we open {we_open} of those as sops does; \
         {} mismatches",
        entries.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} {kinds:?} entries differ from sops; opened {we_open} of {sops_opens} that sops \
         opens:\n{}",
        mismatches.len(),
        entries.len(),
        mismatches
            .iter()
            .map(|m| format!("- {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn age_files_open_as_sops_opens_them() {
    check(&[KeyKind::Age]);
}

#[test]
fn files_without_a_public_key_fail_as_in_sops() {
    check(&[KeyKind::None]);
}

#[test]
fn pgp_files_open_as_sops_opens_them() {
    check(&[KeyKind::Pgp]);
}

#[test]
fn ssh_and_post_quantum_age_files_open_as_sops_opens_them() {
    check(&[KeyKind::Ssh, KeyKind::Pq]);
}

/// Through a config's `sops` layer: `secret-cascade get` of one scalar of a few age files,
/// against `sops decrypt --extract`.
#[test]
fn a_sops_layer_reads_a_scalar_of_age_files_others_wrote() {
    layer_gets(&[
        (
            "fluxcd-kustomize-controller/internal/controller/testdata/sops/algorithms/age.yaml",
            KeyKind::Age,
            "stringData.key",
            r#"["stringData"]["key"]"#,
        ),
        (
            "isindir-sops-secrets-operator/config/age-test-key/00-test-secrets.yaml",
            KeyKind::Age,
            "spec.secretTemplates.0.stringData.token",
            r#"["spec"]["secretTemplates"][0]["stringData"]["token"]"#,
        ),
        (
            "jkroepke-helm-secrets/tests/assets/values/sops/secrets.age.yaml",
            KeyKind::Age,
            "global_secret",
            r#"["global_secret"]"#,
        ),
        (
            "Mic92-sops-nix/pkgs/sops-install-secrets/test-assets/secrets.yaml",
            KeyKind::Age,
            "test_key",
            r#"["test_key"]"#,
        ),
    ]);
}

/// The same for PGP files, with the key as `SECRET_CASCADE_PGP_KEY_FILE`.
#[test]
fn a_sops_layer_reads_a_scalar_of_pgp_files_others_wrote() {
    layer_gets(&[
        (
            "getsops-sops/example.yaml",
            KeyKind::Pgp,
            "number",
            r#"["number"]"#,
        ),
        (
            "Mic92-sops-nix/pkgs/sops-install-secrets/test-assets/secrets.yaml",
            KeyKind::Pgp,
            "test_key",
            r#"["test_key"]"#,
        ),
        (
            "gruntwork-io-terragrunt/test/fixtures/sops/secrets.json",
            KeyKind::Pgp,
            "example_key",
            r#"["example_key"]"#,
        ),
    ]);
}

/// For each (file, key kind, dotted name for us, sops `--extract` path): `secret-cascade get`
/// through a config with one `sops` layer gives what `sops decrypt --extract` gives.
fn layer_gets(cases: &[(&str, KeyKind, &str, &str)]) {
    let entries = corpus();
    let mut mismatches = Vec::new();
    for &(file, kind, name, extract) in cases {
        let entry = entries
            .iter()
            .find(|entry| entry.file == file && entry.kind == kind)
            .unwrap_or_else(|| panic!("corpus.tsv has {file} with a {kind:?} key"));
        let keys = KeySandbox::new(entry);
        let mut sops = keys.command(Tool::Sops, entry);
        let sops_args = vec![
            "decrypt".to_owned(),
            "--extract".to_owned(),
            extract.to_owned(),
            entry.path().display().to_string(),
        ];
        sops.args(&sops_args);
        let sops = Tool::Sops.finish(&mut sops, sops_args).expect_ok();
        let config = keys.sandbox.write(
            "secret-cascade.yml",
            &format!(
                "providers:\n  - kind: sops\n    path: {}\n",
                entry.path().display()
            ),
        );
        let mut ours = keys.command(Tool::Ours, entry);
        ours.args(["get", "--config"]).arg(&config).arg(name);
        let (code, stdout, stderr) = run(&mut ours);
        let expected = String::from_utf8_lossy(&sops.stdout);
        if code != 0 {
            mismatches.push(format!(
                "{} ({kind:?}) get {name}: exited {code}: {}",
                file,
                preview(&stderr)
            ));
        } else if !same_scalar(&stdout, &expected) {
            mismatches.push(format!(
                "{file} ({kind:?}) get {name}: {} but sops --extract gives {}",
                preview(&stdout),
                preview(&expected)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Whether a value `get` printed is the one `sops --extract` printed: the same text, or the same
/// number (a float's text is ours as the DESIGN gives it, `1234568000`, where sops prints
/// go-yaml's `1.234568e+09`).
fn same_scalar(ours: &str, sops: &str) -> bool {
    let (ours, sops) = (ours.trim_end_matches('\n'), sops.trim_end_matches('\n'));
    ours == sops
        || matches!(
            (ours.parse::<f64>(), sops.parse::<f64>()),
            (Ok(a), Ok(b)) if a == b
        )
}
