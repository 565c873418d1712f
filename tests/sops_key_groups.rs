//! Key groups beyond one age list: metadata that older sops wrote in random order, key types
//! this build cannot open (exit 6, kept on rewrites, removable before a rotation), and
//! `updatekeys` over a tree, against the real sops 3.11 where it can take part.

mod support;

use std::path::{Path, PathBuf};

use support::interop::{FIXTURES, KEY1, KEY2, Keys, Tool};
use support::{Sandbox, run};

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join("enc").join(name)
}

/// Both tools decrypt `file` with `keys` and print the same thing.
#[track_caller]
fn both_decrypt_alike(sandbox: &Sandbox, keys: Keys, file: &Path) -> Vec<u8> {
    let sops = Tool::Sops.decrypt(sandbox, keys, file, &[]).expect_ok();
    let ours = Tool::Ours.decrypt(sandbox, keys, file, &[]).expect_ok();
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&sops.stdout),
        "{}",
        file.display()
    );
    ours.stdout
}

/// The flattened `sops_`/`[sops]` metadata lines of a dotenv or INI file, reversed: sops before
/// 3.8 wrote them in Go's random map order (the sops repository's own `example.ini` has
/// `pgp__list_1__...` before `pgp__list_0__...`).
fn reverse_metadata(text: &str, ini: bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let is_meta = |line: &str| {
        if ini {
            line.contains(" = ") || line.contains("= ")
        } else {
            line.starts_with("sops_")
        }
    };
    let start = if ini {
        lines.iter().position(|l| *l == "[sops]").unwrap() + 1
    } else {
        lines.iter().position(|l| is_meta(l)).unwrap()
    };
    let (head, meta) = lines.split_at(start);
    assert!(meta.iter().all(|l| is_meta(l)), "metadata is last: {text}");
    let mut meta = meta.to_vec();
    meta.reverse();
    let mut out = [head, &meta].concat().join("\n");
    out.push('\n');
    out
}

#[test]
fn flattened_metadata_in_any_order_opens_as_in_sops() {
    let sandbox = Sandbox::new();
    for (name, ini) in [
        ("app_tworecip_regex_maconly.env", false),
        ("shamir.env", false),
        ("app.ini", true),
    ] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let shuffled = reverse_metadata(&text, ini);
        assert_ne!(shuffled, text);
        let file = sandbox.write(&format!("reversed_{name}"), &shuffled);
        let expected = Tool::Ours
            .decrypt(&sandbox, Keys::Both, &fixture(name), &[])
            .expect_ok();
        let printed = both_decrypt_alike(&sandbox, Keys::Both, &file);
        assert_eq!(printed, expected.stdout, "{name}");
    }
}

/// `simple.yaml` with its `age` list replaced by `lines` (YAML at the `sops:` indentation).
fn with_keys(sandbox: &Sandbox, name: &str, keep_age: bool, lines: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture("simple.yaml")).unwrap();
    let (data, sops) = text.split_once("sops:\n").unwrap();
    let mut kept = Vec::new();
    let mut in_age = false;
    for line in sops.lines() {
        if line == "    age:" {
            in_age = true;
        } else if in_age && !line.starts_with("        ") {
            in_age = false;
        }
        if keep_age || !in_age {
            kept.push(line);
        }
    }
    let file = format!("{data}sops:\n{lines}{}\n", kept.join("\n"));
    sandbox.write(name, &file)
}

const GCP: &str = "    gcp_kms:\n        - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: CiQAbcdefgh=\n";
const AZURE: &str = "    azure_kv:\n        - vault_url: https://v.vault.azure.net\n          name: sops-key\n          version: 0123456789abcdef\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: ZW5j\n";

#[test]
fn a_file_with_only_unsupported_key_types_exits_6_naming_them() {
    let sandbox = Sandbox::new();
    let file = with_keys(&sandbox, "cloud.yaml", false, &format!("{GCP}{AZURE}"));
    let decrypted = Tool::Ours.decrypt(&sandbox, Keys::Both, &file, &[]);
    assert_eq!(decrypted.code, 6, "{}", decrypted.failure());
    for words in [
        "GCP Cloud KMS (gcp_kms)",
        "Azure Key Vault (azure_kv)",
        "sops updatekeys",
    ] {
        assert!(
            decrypted.stderr.contains(words),
            "{words}: {}",
            decrypted.stderr
        );
    }
    // Through a config's sops layer, `get` exits 6 as well.
    sandbox.write(
        "secret-cascade.yml",
        "providers:\n  - kind: sops\n    path: cloud.yaml\n",
    );
    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::Both.path())
        .args(["get", "hello"]));
    assert_eq!(code, 6, "{stderr}");
}

#[test]
fn unsupported_keys_beside_age_ones_are_kept_on_set_and_removed_before_a_rotation() {
    let sandbox = Sandbox::new();
    let file = with_keys(&sandbox, "mixed.yaml", true, GCP);
    both_decrypt_alike(&sandbox, Keys::One, &file);

    let mut set = sandbox.cli();
    set.env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .args(["set", "mixed.yaml", "hello"])
        .write_stdin("changed");
    let (code, _, stderr) = run(&mut set);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k")
            && text.contains("enc: CiQAbcdefgh="),
        "the gcp_kms entry is kept as it was: {text}"
    );
    assert!(both_decrypt_alike(&sandbox, Keys::One, &file).starts_with(b"hello: changed\n"));

    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .args(["rotate", "mixed.yaml"]));
    assert_eq!(
        code, 2,
        "a new data key cannot be given to GCP KMS: {stderr}"
    );
    assert!(stderr.contains("gcp_kms projects/p/"), "{stderr}");
    assert!(stderr.contains("remove it"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "refused, unchanged"
    );

    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .args(["rotate", "mixed.yaml", "--rm-gcp-kms"])
        .arg("projects/p/locations/global/keyRings/r/cryptoKeys/k"));
    assert_eq!(code, 0, "{stderr}");
    let rotated = std::fs::read_to_string(&file).unwrap();
    assert!(!rotated.contains("gcp_kms"), "{rotated}");
    both_decrypt_alike(&sandbox, Keys::One, &file);
}

/// A tree for `updatekeys`: two SOPS files to KEY1, a cleartext file, a `.sops.yaml` naming
/// `recipients` for every `.enc.` file, and a SOPS file no rule matches.
fn tree(sandbox: &Sandbox, recipients: &str) -> PathBuf {
    let root = sandbox.path().join("repo");
    for (name, fixture_name) in [
        ("repo/app/secrets.enc.yaml", "nested.yaml"),
        ("repo/app/db.enc.env", "app.env"),
        ("repo/other/simple.yaml", "simple.yaml"),
    ] {
        sandbox.write_bytes(name, &std::fs::read(fixture(fixture_name)).unwrap());
    }
    sandbox.write("repo/app/README.md", "not a SOPS file\n");
    sandbox.write(
        "repo/.sops.yaml",
        &format!("creation_rules:\n  - path_regex: \\.enc\\.\n    age: {recipients}\n"),
    );
    root
}

/// The lines of a SOPS file that carry values (not the `sops` metadata).
fn value_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("sops") && *l != "[sops]")
        .map(str::to_owned)
        .collect()
}

#[test]
fn updatekeys_gives_a_tree_its_rules_keys_and_keeps_every_value() {
    let sandbox = Sandbox::new();
    let root = tree(&sandbox, &format!("{KEY1},{KEY2}"));
    let yaml = root.join("app/secrets.enc.yaml");
    let env = root.join("app/db.enc.env");
    let before = (value_lines(&yaml), value_lines(&env));
    for file in [&yaml, &env] {
        let run = Tool::Sops.decrypt(&sandbox, Keys::Two, file, &[]);
        assert!(!run.ok(), "KEY2 cannot open it yet");
    }

    // No terminal and no --yes: nothing changes.
    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .args(["updatekeys", "repo"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(
        stderr.contains(&format!("+{KEY2}")),
        "the change is shown: {stderr}"
    );
    assert_eq!((value_lines(&yaml), value_lines(&env)), before);

    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .args(["updatekeys", "--yes", "repo"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "updatekeys: 2 updated, 0 already up to date, 0 declined, 1 without a creation \
             rule, 2 not SOPS files, 0 failed"
        ),
        "{stderr}"
    );
    assert_eq!(
        (value_lines(&yaml), value_lines(&env)),
        before,
        "values keep their ciphertext"
    );
    for file in [&yaml, &env] {
        let expected = Tool::Sops
            .decrypt(&sandbox, Keys::One, file, &[])
            .expect_ok();
        let with_new_key = both_decrypt_alike(&sandbox, Keys::Two, file);
        assert_eq!(with_new_key, expected.stdout);
    }
    let untouched = root.join("other/simple.yaml");
    assert_eq!(
        std::fs::read(&untouched).unwrap(),
        std::fs::read(fixture("simple.yaml")).unwrap()
    );

    // Run again: nothing to do, no key needed.
    let (code, _, stderr) = run(sandbox.cli().args(["updatekeys", "repo"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("0 updated, 2 already up to date"),
        "{stderr}"
    );

    // Now drop KEY1 from the rule, for one named file: KEY1 no longer opens it.
    sandbox.write(
        "repo/.sops.yaml",
        &format!("creation_rules:\n  - path_regex: \\.enc\\.\n    age: {KEY2}\n"),
    );
    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::Two.path())
        .args(["updatekeys", "-y"])
        .arg(&yaml));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("-{KEY1}")), "{stderr}");
    assert!(!Tool::Sops.decrypt(&sandbox, Keys::One, &yaml, &[]).ok());
    both_decrypt_alike(&sandbox, Keys::Two, &yaml);
}

#[test]
fn updatekeys_reports_what_it_cannot_do_and_goes_on_with_the_rest() {
    let sandbox = Sandbox::new();
    let root = tree(&sandbox, &format!("{KEY1},{KEY2}"));
    // A file of the tree that the available key cannot open.
    sandbox.write_bytes(
        "repo/app/other.enc.yaml",
        &std::fs::read(fixture("simple.yaml")).unwrap(),
    );
    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::Two.path())
        .args(["updatekeys", "--yes", "repo"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("no identity matched"), "{stderr}");
    assert!(stderr.contains("3 failed"), "{stderr}");

    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .args(["updatekeys", "--yes", "repo"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("3 updated"), "{stderr}");

    // A named file no rule matches, and a named file that is not a SOPS file: usage errors.
    for (name, words) in [
        ("other/simple.yaml", "no creation rule"),
        ("app/README.md", "not a SOPS file"),
    ] {
        let (code, _, stderr) = run(sandbox
            .cli()
            .args(["updatekeys", "--yes"])
            .arg(root.join(name)));
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stderr.contains(words), "{name}: {stderr}");
    }
}

#[test]
fn encrypting_to_gcp_or_azure_keys_is_refused_naming_them() {
    let sandbox = Sandbox::new();
    sandbox.write("plain.yaml", "a: 1\n");
    for (flag, name) in [
        ("--gcp-kms", "GCP Cloud KMS"),
        ("--azure-kv", "Azure Key Vault"),
    ] {
        let (code, stdout, stderr) =
            run(sandbox
                .cli()
                .args(["encrypt", "plain.yaml", "--age", KEY1, flag, "some-key"]));
        assert_eq!(code, 2, "{flag}: {stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(name) && stderr.contains("not supported"),
            "{stderr}"
        );
    }
    // In a .sops.yaml rule as well.
    sandbox.write(
        ".sops.yaml",
        "creation_rules:\n  - gcp_kms: projects/p/locations/l/keyRings/r/cryptoKeys/k\n",
    );
    let (code, _, stderr) = run(sandbox.cli().args(["encrypt", "plain.yaml"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`gcp_kms` is not supported"), "{stderr}");
}

#[test]
fn removing_the_only_key_held_here_is_refused_unless_forced() {
    let sandbox = Sandbox::new();
    let file = sandbox.write_bytes(
        "two.yaml",
        &std::fs::read(fixture("tworecip.yaml")).unwrap(),
    );
    let before = std::fs::read(&file).unwrap();
    let rotate = |extra: &[&str]| {
        let mut cmd = sandbox.cli();
        cmd.env("SOPS_AGE_KEY_FILE", Keys::One.path())
            .args(["rotate", "two.yaml", "--rm-age", KEY1])
            .args(extra);
        run(&mut cmd)
    };
    let (code, _, stderr) = rotate(&[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "after removing {KEY1} no identity available here would open the file; pass --force"
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before, "refused, unchanged");

    let (code, _, stderr) = rotate(&["--rm-age", KEY2]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr
            .contains("removes every key of the file; add one in the same command with --add-age"),
        "{stderr}"
    );

    let (code, _, stderr) = rotate(&["--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!Tool::Sops.decrypt(&sandbox, Keys::One, &file, &[]).ok());
    both_decrypt_alike(&sandbox, Keys::Two, &file);

    // updatekeys to a rule without the key held here: the same refusal, then --force.
    let root = tree(&sandbox, KEY2);
    let yaml = root.join("app/secrets.enc.yaml");
    let before = std::fs::read(&yaml).unwrap();
    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .args(["updatekeys", "--yes"])
        .arg(&yaml));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no identity available here would open the file"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&yaml).unwrap(), before);
    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .args(["updatekeys", "--yes", "--force"])
        .arg(&yaml));
    assert_eq!(code, 0, "{stderr}");
    both_decrypt_alike(&sandbox, Keys::Two, &yaml);
}

#[test]
fn a_file_the_keys_here_do_not_open_names_its_keys_and_the_ones_held() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "secret-cascade.yml",
        &format!(
            "providers:\n  - kind: sops\n    path: {}\n    age_key_file: {}\n",
            fixture("simple.yaml").display(),
            Keys::Two.path().display()
        ),
    );
    // The same key file named twice (the config's and SOPS_AGE_KEY_FILE) is tried once.
    let (code, _, stderr) = run(sandbox
        .cli()
        .env("SOPS_AGE_KEY_FILE", Keys::Two.path())
        .args(["get", "hello", "--config"])
        .arg(&config));
    assert_eq!(code, 3, "{stderr}");
    let key2 = Keys::Two.path().display().to_string();
    assert!(
        stderr.contains(&format!(
            "no identity matched: the file is encrypted to {KEY1}; identities tried from {key2} (holding {KEY2})"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches(&key2).count(), 1, "{stderr}");
    assert!(!stderr.contains("AGE-SECRET-KEY"), "{stderr}");
}
