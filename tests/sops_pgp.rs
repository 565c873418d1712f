//! PGP master keys, against the real sops 3.11 and GnuPG: files sops encrypts to a PGP key we
//! decrypt, natively (the secret key exported into `SECRET_CASCADE_PGP_KEY_FILE`) and through gpg
//! (the key in `GNUPGHOME`); files we encrypt to a PGP key sops decrypts; `rotate --add-pgp
//! --rm-pgp`; key groups mixing age and PGP under a Shamir threshold; and the PGP files that the
//! sops, sops-nix and helm-secrets repositories ship (`fixtures/sops/pgp/`, see its README).
//!
//! Needs `$SOPS_BIN` (scripts/install-sops) and gpg (Debian `gnupg`); without either every test
//! panics. Every run gets its own `GNUPGHOME` ([`GnuPgHome`]); "natively" means with an empty
//! `GNUPGHOME`, so that gpg, which exists, cannot be what opened the file.

mod support;

use std::path::{Path, PathBuf};

use support::Sandbox;
use support::gnupg::GnuPgHome;
use support::interop::{FIXTURES, KEY1, Keys, Run, Tool};

/// secret-cascade's exit code for a decryption error.
const EXIT_DECRYPTION: i32 = 3;

/// How a tool finds PGP keys in one run.
struct PgpEnv<'a> {
    gnupg: &'a GnuPgHome,
    key_file: Option<&'a Path>,
    age: Option<Keys>,
}

impl<'a> PgpEnv<'a> {
    /// GnuPG only.
    fn gnupg(gnupg: &'a GnuPgHome) -> Self {
        Self {
            gnupg,
            key_file: None,
            age: None,
        }
    }

    /// The key file, with a GnuPG that has no key.
    fn native(empty: &'a GnuPgHome, key_file: &'a Path) -> Self {
        Self {
            gnupg: empty,
            key_file: Some(key_file),
            age: None,
        }
    }

    fn run(&self, tool: Tool, sandbox: &Sandbox, args: &[&str]) -> Run {
        let mut cmd = tool.command(sandbox, sandbox.path(), self.age);
        cmd.env("GNUPGHOME", self.gnupg.path());
        if let Some(key_file) = self.key_file {
            cmd.env("SECRET_CASCADE_PGP_KEY_FILE", key_file);
        }
        cmd.args(args);
        tool.finish(&mut cmd, args.iter().map(|a| (*a).to_owned()).collect())
    }
}

fn fixture(path: &str) -> PathBuf {
    Path::new(FIXTURES).join(path)
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

/// `decrypt` of `file` (with `flags` after it for ours, before it for sops).
fn decrypt(tool: Tool, sandbox: &Sandbox, env: &PgpEnv, file: &Path, flags: &[&str]) -> Run {
    let file = text(file);
    let mut args = vec!["decrypt"];
    match tool {
        Tool::Sops => args.extend(flags.iter().copied().chain([file.as_str()])),
        Tool::Ours => args.extend([file.as_str()].into_iter().chain(flags.iter().copied())),
    }
    env.run(tool, sandbox, &args)
}

/// `sops encrypt --pgp FP input` with `keyring` as GnuPG, written to `name` in the sandbox.
fn sops_encrypt(
    sandbox: &Sandbox,
    keyring: &GnuPgHome,
    fingerprint: &str,
    input: &Path,
    name: &str,
) -> PathBuf {
    let args = ["encrypt", "--pgp", fingerprint, &text(input)];
    let encrypted = PgpEnv::gnupg(keyring)
        .run(Tool::Sops, sandbox, &args)
        .expect_ok();
    sandbox.write_bytes(name, &encrypted.stdout)
}

/// Asserts that ours prints exactly what sops prints for `file`.
#[track_caller]
fn assert_same_as_sops(sops: &Run, ours: &Run) {
    assert!(sops.ok(), "{}", sops.failure());
    assert!(ours.ok(), "{}", ours.failure());
    assert!(
        sops.stdout == ours.stdout,
        "`{}` and `{}` differ:\n{}\n---\n{}",
        sops.line,
        ours.line,
        String::from_utf8_lossy(&sops.stdout),
        String::from_utf8_lossy(&ours.stdout)
    );
}

// =============================================================================================
// Others' files

/// A fixture of `fixtures/sops/pgp/`, its key file, and the `--input-type` it needs.
struct OthersFile {
    file: &'static str,
    key: &'static str,
    flags: &'static [&'static str],
}

const SOPS_KEY: &str = "pgp/getsops-sops/sops_functional_tests_key.asc";
const NIX_KEY: &str = "pgp/sops-nix/key.asc";
const HELM_KEY: &str = "pgp/helm-secrets/private.gpg";
const HELM_KEY2: &str = "pgp/helm-secrets/private2.gpg";

const OTHERS: &[OthersFile] = &[
    OthersFile {
        file: "pgp/getsops-sops/example.yaml",
        key: SOPS_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/getsops-sops/example.json",
        key: SOPS_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/getsops-sops/example.ini",
        key: SOPS_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/getsops-sops/example.txt",
        key: SOPS_KEY,
        flags: &["--input-type", "json", "--output-type", "binary"],
    },
    OthersFile {
        file: "pgp/getsops-sops/comments.enc.yaml",
        key: SOPS_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/getsops-sops/multiple_keys.yaml",
        key: SOPS_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/getsops-sops/secret.enc.json",
        key: SOPS_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/getsops-sops/static_github.json",
        key: SOPS_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/sops-nix/secrets.yaml",
        key: NIX_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/sops-nix/secrets.json",
        key: NIX_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/sops-nix/secrets.env",
        key: NIX_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/sops-nix/secrets.ini",
        key: NIX_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/sops-nix/secrets.bin",
        key: NIX_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/helm-secrets/secrets.yaml",
        key: HELM_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/helm-secrets/some-secrets.yaml",
        key: HELM_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/helm-secrets/secrets.trailing-newline.yaml",
        key: HELM_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/helm-secrets/secrets.gpg_key.yaml",
        key: HELM_KEY2,
        flags: &[],
    },
    OthersFile {
        file: "pgp/helm-secrets/file.json",
        key: HELM_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/helm-secrets/file.yaml",
        key: HELM_KEY,
        flags: &[],
    },
    OthersFile {
        file: "pgp/helm-secrets/file.properties",
        key: HELM_KEY,
        flags: &[],
    },
];

#[test]
fn pgp_files_of_other_projects_decrypt_as_sops_prints_them() {
    let mut failures = Vec::new();
    for case in OTHERS {
        let sandbox = Sandbox::new();
        let (keyring, empty) = (GnuPgHome::new(), GnuPgHome::new());
        let key = fixture(case.key);
        keyring.import(&key);
        let file = fixture(case.file);
        let sops = decrypt(
            Tool::Sops,
            &sandbox,
            &PgpEnv::gnupg(&keyring),
            &file,
            case.flags,
        );
        if !sops.ok() {
            failures.push(format!(
                "{}: sops itself fails: {}",
                case.file,
                sops.failure()
            ));
            continue;
        }
        for env in [PgpEnv::native(&empty, &key), PgpEnv::gnupg(&keyring)] {
            let ours = decrypt(Tool::Ours, &sandbox, &env, &file, case.flags);
            if !ours.ok() || ours.stdout != sops.stdout {
                failures.push(format!(
                    "{}: {} differs from sops",
                    case.file,
                    ours.outcome()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_file_without_mac_is_refused_like_sops() {
    let sandbox = Sandbox::new();
    let (keyring, empty) = (GnuPgHome::new(), GnuPgHome::new());
    let key = fixture(SOPS_KEY);
    keyring.import(&key);
    let file = fixture("pgp/getsops-sops/no_mac.yaml");
    let sops = decrypt(Tool::Sops, &sandbox, &PgpEnv::gnupg(&keyring), &file, &[]);
    assert!(
        !sops.ok() && sops.stderr.contains("MAC"),
        "{}",
        sops.outcome()
    );
    let ours = decrypt(
        Tool::Ours,
        &sandbox,
        &PgpEnv::native(&empty, &key),
        &file,
        &[],
    );
    assert_eq!(ours.code, EXIT_DECRYPTION, "{}", ours.outcome());
    assert!(
        ours.stderr.contains("the file has no MAC"),
        "{}",
        ours.stderr
    );
}

// =============================================================================================
// Files sops writes, files we write

/// A key generated in `keyring`, and its secret key exported into the sandbox.
struct GeneratedKey {
    fingerprint: String,
    key_file: PathBuf,
}

/// RSA with an RSA encryption subkey; Ed25519 with a Curve25519 (ECDH) one.
const RSA: (&str, &str) = ("rsa3072", "rsa3072");
const CURVE25519: (&str, &str) = ("ed25519", "cv25519");

fn generate(
    keyring: &GnuPgHome,
    sandbox: &Sandbox,
    name: &str,
    kind: (&str, &str),
) -> GeneratedKey {
    let fingerprint = keyring.generate(name, kind.0, kind.1);
    let key_file = keyring.export_secret(&fingerprint, &sandbox.path().join(format!("{name}.asc")));
    GeneratedKey {
        fingerprint,
        key_file,
    }
}

/// Plain inputs of every text store.
const PLAIN: &[&str] = &["simple.yaml", "data.json", "app.env", "app.ini"];

#[test]
fn files_sops_encrypts_to_a_pgp_key_decrypt_natively_and_through_gpg() {
    let sandbox = Sandbox::new();
    let (keyring, empty) = (GnuPgHome::new(), GnuPgHome::new());
    for (name, kind) in [("rsa", RSA), ("cv", CURVE25519)] {
        let key = generate(&keyring, &sandbox, name, kind);
        for plain in PLAIN {
            let input = fixture(&format!("plain/{plain}"));
            let file = sops_encrypt(
                &sandbox,
                &keyring,
                &key.fingerprint,
                &input,
                &format!("{name}-{plain}"),
            );
            let sops = decrypt(Tool::Sops, &sandbox, &PgpEnv::gnupg(&keyring), &file, &[]);
            for env in [
                PgpEnv::native(&empty, &key.key_file),
                PgpEnv::gnupg(&keyring),
            ] {
                let ours = decrypt(Tool::Ours, &sandbox, &env, &file, &[]);
                assert_same_as_sops(&sops, &ours);
            }
        }
    }
}

#[test]
fn files_we_encrypt_to_a_pgp_key_sops_decrypts() {
    let sandbox = Sandbox::new();
    let (keyring, empty) = (GnuPgHome::new(), GnuPgHome::new());
    let keys = [
        generate(&keyring, &sandbox, "rsa", RSA),
        generate(&keyring, &sandbox, "cv", CURVE25519),
    ];
    for plain in PLAIN {
        let input = fixture(&format!("plain/{plain}"));
        // What sops prints for its own encryption of the input.
        let theirs = sops_encrypt(
            &sandbox,
            &keyring,
            &keys[0].fingerprint,
            &input,
            &format!("sops-{plain}"),
        );
        let reference = decrypt(Tool::Sops, &sandbox, &PgpEnv::gnupg(&keyring), &theirs, &[]);
        for key in &keys {
            // The public key from GnuPG (`gpg --export`), then from the key file alone.
            for (how, env) in [
                ("gnupg", PgpEnv::gnupg(&keyring)),
                ("keyfile", PgpEnv::native(&empty, &key.key_file)),
            ] {
                let ours = env
                    .run(
                        Tool::Ours,
                        &sandbox,
                        &["encrypt", &text(&input), "--pgp", &key.fingerprint],
                    )
                    .expect_ok();
                let name = format!("{how}-{}-{plain}", &key.fingerprint[..8]);
                let file = sandbox.write_bytes(&name, &ours.stdout);
                let sops = decrypt(Tool::Sops, &sandbox, &PgpEnv::gnupg(&keyring), &file, &[]);
                assert_same_as_sops(&reference, &sops);
            }
        }
    }
}

#[test]
fn a_yaml_enc_is_written_as_sops_writes_it_without_a_trailing_newline() {
    let sandbox = Sandbox::new();
    let (keyring, empty) = (GnuPgHome::new(), GnuPgHome::new());
    let key = generate(&keyring, &sandbox, "k", RSA);
    let input = fixture("plain/simple.yaml");
    for env in [
        PgpEnv::gnupg(&keyring),
        PgpEnv::native(&empty, &key.key_file),
    ] {
        let ours = env
            .run(
                Tool::Ours,
                &sandbox,
                &["encrypt", &text(&input), "--pgp", &key.fingerprint],
            )
            .expect_ok();
        let written = String::from_utf8(ours.stdout).unwrap();
        assert!(
            written.contains("          enc: |-\n            -----BEGIN PGP MESSAGE-----\n\n"),
            "{written}"
        );
        assert!(
            written.contains("-----END PGP MESSAGE-----\n          fp: "),
            "{written}"
        );
    }
}

#[test]
fn rotate_adds_and_removes_pgp_keys_as_sops_reads_them() {
    let sandbox = Sandbox::new();
    let (old_ring, new_ring) = (GnuPgHome::new(), GnuPgHome::new());
    let old = generate(&old_ring, &sandbox, "old", RSA);
    let new = generate(&new_ring, &sandbox, "new", RSA);
    // The new key's public half in the old keyring, for encrypting to it.
    let public = new_ring.gpg(&["--armor", "--export", &new.fingerprint]);
    let public_file = sandbox.write_bytes("new.pub.asc", &public.stdout);
    old_ring.import(&public_file);
    let input = fixture("plain/nested.yaml");
    let file = sops_encrypt(
        &sandbox,
        &old_ring,
        &old.fingerprint,
        &input,
        "rotated.yaml",
    );
    let before = decrypt(Tool::Sops, &sandbox, &PgpEnv::gnupg(&old_ring), &file, &[]);
    PgpEnv::gnupg(&old_ring)
        .run(
            Tool::Ours,
            &sandbox,
            &[
                "rotate",
                &text(&file),
                "--add-pgp",
                &new.fingerprint,
                "--rm-pgp",
                &old.fingerprint,
                // Handing the file over to a key held elsewhere: nothing here opens it after.
                "--force",
            ],
        )
        .expect_ok();
    let rotated = std::fs::read_to_string(&file).unwrap();
    assert!(rotated.contains(&new.fingerprint) && !rotated.contains(&old.fingerprint));
    let after = decrypt(Tool::Sops, &sandbox, &PgpEnv::gnupg(&new_ring), &file, &[]);
    assert_same_as_sops(&before, &after);
    let old_only = decrypt(
        Tool::Sops,
        &sandbox,
        &PgpEnv::gnupg(&GnuPgHome::new()),
        &file,
        &[],
    );
    assert!(!old_only.ok(), "{}", old_only.outcome());
    let ours_new = decrypt(Tool::Ours, &sandbox, &PgpEnv::gnupg(&new_ring), &file, &[]);
    assert_same_as_sops(&before, &ours_new);
    let ours_old = decrypt(Tool::Ours, &sandbox, &PgpEnv::gnupg(&old_ring), &file, &[]);
    assert_eq!(ours_old.code, EXIT_DECRYPTION, "{}", ours_old.outcome());
}

#[test]
fn key_groups_mixing_age_and_pgp_need_both_shares_in_both_tools() {
    let sandbox = Sandbox::new();
    let (keyring, empty) = (GnuPgHome::new(), GnuPgHome::new());
    let key = generate(&keyring, &sandbox, "group", RSA);
    sandbox.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age:\n          - {KEY1}\n      - pgp:\n          - {}\n",
            key.fingerprint
        ),
    );
    let plain = std::fs::read(fixture("plain/nested.yaml")).unwrap();
    let input = sandbox.write_bytes("groups.yaml", &plain);
    let both = |gnupg| PgpEnv {
        gnupg,
        key_file: None,
        age: Some(Keys::One),
    };
    let by_sops = both(&keyring)
        .run(Tool::Sops, &sandbox, &["encrypt", &text(&input)])
        .expect_ok();
    let ours = both(&keyring)
        .run(Tool::Ours, &sandbox, &["encrypt", &text(&input)])
        .expect_ok();
    for (who, bytes) in [("sops", &by_sops.stdout), ("ours", &ours.stdout)] {
        let written = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            written.contains("shamir_threshold: 2") && written.contains("key_groups:"),
            "{who}: {written}"
        );
        let file = sandbox.write_bytes(&format!("{who}.groups.yaml"), bytes);
        let sops = decrypt(Tool::Sops, &sandbox, &both(&keyring), &file, &[]);
        assert!(sops.ok(), "{who}: {}", sops.failure());
        let native = PgpEnv {
            gnupg: &empty,
            key_file: Some(&key.key_file),
            age: Some(Keys::One),
        };
        for env in [both(&keyring), native] {
            let ours = decrypt(Tool::Ours, &sandbox, &env, &file, &[]);
            assert_same_as_sops(&sops, &ours);
        }
        // One share is not enough.
        let age_only = PgpEnv {
            gnupg: &empty,
            key_file: None,
            age: Some(Keys::One),
        };
        let short = decrypt(Tool::Ours, &sandbox, &age_only, &file, &[]);
        assert_eq!(short.code, EXIT_DECRYPTION, "{who}: {}", short.outcome());
        assert!(short.stderr.contains("key groups"), "{}", short.stderr);
    }
}

// =============================================================================================
// Errors

/// A file sops encrypted to a fresh key, with that key's home and key file.
struct Encrypted {
    sandbox: Sandbox,
    keyring: GnuPgHome,
    key: GeneratedKey,
    file: PathBuf,
}

fn encrypted_to_a_new_key() -> Encrypted {
    let sandbox = Sandbox::new();
    let keyring = GnuPgHome::new();
    let key = generate(&keyring, &sandbox, "owner", RSA);
    let input = fixture("plain/simple.yaml");
    let file = sops_encrypt(&sandbox, &keyring, &key.fingerprint, &input, "secrets.yaml");
    Encrypted {
        sandbox,
        keyring,
        key,
        file,
    }
}

/// Asserts that `stderr` holds neither the key file's key lines nor the plaintext.
#[track_caller]
fn assert_no_secrets(stderr: &str, key_file: &Path) {
    let key = std::fs::read_to_string(key_file).unwrap();
    for line in key
        .lines()
        .filter(|l| l.len() > 20 && !l.starts_with("-----"))
    {
        assert!(!stderr.contains(line), "key material in: {stderr}");
    }
    let plain = std::fs::read_to_string(fixture("plain/simple.yaml")).unwrap();
    for value in plain
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(_, v)| v)
    {
        assert!(
            value.len() < 4 || !stderr.contains(value),
            "a value in: {stderr}"
        );
    }
}

#[test]
fn a_wrong_key_names_the_fingerprint_and_where_keys_were_looked_for() {
    let case = encrypted_to_a_new_key();
    let other_ring = GnuPgHome::new();
    let other = generate(&other_ring, &case.sandbox, "other", RSA);
    let empty = GnuPgHome::new();
    let ours = decrypt(
        Tool::Ours,
        &case.sandbox,
        &PgpEnv::native(&empty, &other.key_file),
        &case.file,
        &[],
    );
    assert_eq!(ours.code, EXIT_DECRYPTION, "{}", ours.outcome());
    let expected = [
        format!("pgp {}", case.key.fingerprint),
        text(&other.key_file),
        format!("GNUPGHOME={}", empty.path().display()),
    ];
    for part in expected {
        assert!(
            ours.stderr.contains(&part),
            "no `{part}` in: {}",
            ours.stderr
        );
    }
    assert_no_secrets(&ours.stderr, &other.key_file);
    assert_no_secrets(&ours.stderr, &case.key.key_file);
}

#[test]
fn a_missing_key_file_is_an_error_naming_it() {
    let case = encrypted_to_a_new_key();
    let missing = case.sandbox.path().join("no-such-key.asc");
    let ours = decrypt(
        Tool::Ours,
        &case.sandbox,
        &PgpEnv::native(&case.keyring, &missing),
        &case.file,
        &[],
    );
    assert_eq!(ours.code, EXIT_DECRYPTION, "{}", ours.outcome());
    assert!(
        ours.stderr.contains(&format!(
            "cannot load PGP keys: cannot read the PGP key file {}",
            text(&missing)
        )),
        "{}",
        ours.stderr
    );
}

#[test]
fn a_tampered_enc_fails_naming_the_fingerprint_natively_and_through_gpg() {
    let case = encrypted_to_a_new_key();
    let text_before = std::fs::read_to_string(&case.file).unwrap();
    // Change one character in the middle of the armored message's body.
    let start = text_before.find("-----BEGIN PGP MESSAGE-----").unwrap() + 200;
    let mut bytes = text_before.into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    let file = case.sandbox.write_bytes("tampered.yaml", &bytes);
    let empty = GnuPgHome::new();
    for env in [
        PgpEnv::native(&empty, &case.key.key_file),
        PgpEnv::gnupg(&case.keyring),
    ] {
        let ours = decrypt(Tool::Ours, &case.sandbox, &env, &file, &[]);
        assert_eq!(ours.code, EXIT_DECRYPTION, "{}", ours.outcome());
        let named = format!("failed: pgp {}: ", case.key.fingerprint);
        assert!(
            ours.stderr.contains(&named),
            "no `{named}` in: {}",
            ours.stderr
        );
        assert_no_secrets(&ours.stderr, &case.key.key_file);
    }
}

#[test]
fn a_passphrase_protected_key_file_is_left_to_gnupg_and_says_so() {
    let sandbox = Sandbox::new();
    let keyring = GnuPgHome::new();
    let fingerprint = keyring.generate_locked("locked", "rsa3072", "rsa3072", "correct horse");
    let exported = keyring.gpg_with(
        "correct horse",
        &["--armor", "--export-secret-keys", &fingerprint],
    );
    let key_file = sandbox.write_bytes("locked.asc", &exported.stdout);
    let input = fixture("plain/simple.yaml");
    let file = sops_encrypt(&sandbox, &keyring, &fingerprint, &input, "locked.yaml");
    let empty = GnuPgHome::new();
    let ours = decrypt(
        Tool::Ours,
        &sandbox,
        &PgpEnv::native(&empty, &key_file),
        &file,
        &[],
    );
    assert_eq!(ours.code, EXIT_DECRYPTION, "{}", ours.outcome());
    for part in [
        "protected by a passphrase",
        "gpg --import",
        &text(&key_file),
    ] {
        assert!(
            ours.stderr.contains(part),
            "no `{part}` in: {}",
            ours.stderr
        );
    }
    assert!(!ours.stderr.contains("correct horse"));
    assert_no_secrets(&ours.stderr, &key_file);
}

#[test]
fn without_gpg_the_key_file_still_opens_and_gnupg_is_named_as_unused() {
    let case = encrypted_to_a_new_key();
    let no_gpg = case.sandbox.path().join("empty-path");
    std::fs::create_dir_all(&no_gpg).unwrap();
    let run = |key_file: Option<&Path>| {
        let mut cmd = Tool::Ours.command(&case.sandbox, case.sandbox.path(), None);
        cmd.env("PATH", &no_gpg)
            .env("GNUPGHOME", case.keyring.path());
        if let Some(key_file) = key_file {
            cmd.env("SECRET_CASCADE_PGP_KEY_FILE", key_file);
        }
        let args = vec!["decrypt".to_owned(), text(&case.file)];
        cmd.args(&args);
        Tool::Ours.finish(&mut cmd, args)
    };
    let sops = decrypt(
        Tool::Sops,
        &case.sandbox,
        &PgpEnv::gnupg(&case.keyring),
        &case.file,
        &[],
    );
    assert_same_as_sops(&sops, &run(Some(&case.key.key_file)));
    let missing = run(None);
    assert_eq!(missing.code, EXIT_DECRYPTION, "{}", missing.outcome());
    assert!(
        missing
            .stderr
            .contains("GnuPG (not used: no gpg on PATH and SOPS_GPG_EXEC is not set)"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_sops_gpg_exec_that_cannot_start_is_a_failure_naming_it() {
    let case = encrypted_to_a_new_key();
    let mut cmd = Tool::Ours.command(&case.sandbox, case.sandbox.path(), None);
    cmd.env("SOPS_GPG_EXEC", "/nonexistent/gpg2")
        .env("GNUPGHOME", case.keyring.path());
    let args = vec!["decrypt".to_owned(), text(&case.file)];
    cmd.args(&args);
    let run = Tool::Ours.finish(&mut cmd, args);
    assert_eq!(run.code, EXIT_DECRYPTION, "{}", run.outcome());
    assert!(
        run.stderr
            .contains("/nonexistent/gpg2 could not be started"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_sops_layer_opens_pgp_entries_with_its_pgp_key_file_relative_to_the_config() {
    let sandbox = Sandbox::new();
    let copy = |from: &str, to: &str| {
        sandbox.write_bytes(to, &std::fs::read(fixture(from)).unwrap());
    };
    copy("pgp/getsops-sops/example.yaml", "secrets.enc.yaml");
    copy(SOPS_KEY, "keys/pgp.asc");
    let resolver = sandbox
        .one_layer(
            "sops",
            "    path: secrets.enc.yaml\n    pgp_key_file: keys/pgp.asc\n",
        )
        .unwrap();
    let record = resolver
        .resolve(&secret_cascade::SecretRequest::new("myapp1"))
        .unwrap();
    use secret_cascade::ExposeSecret as _;
    assert_eq!(record.expose_secret(), "t00m4nys3cr3tzupdated");
}
