//! sv-vault 2.0.2's vaults read as they are: the vault the real sv-vault wrote
//! (`fixtures/sv-vault/`, from `SV_VAULT_FORMAT.md`'s worked example) and that reference's
//! vectors (the master key, every 3-of-5 share subset in the 0x11D field); `kind: sv-vault`
//! finding `demo/key` as `demo.key`; `vault-file import --from-sv-vault` by password and by
//! shares, printing a summary and never a value; truncated and modified files refused.

mod support;

use std::path::{Path, PathBuf};

use secret_cascade::vault_file::VaultError;
use secret_cascade::vault_file::sv_vault::SvVault;
use secret_cascade::{Error, ExposeSecret, SecretRequest, SecretSource};
use serde_json::Value;
use support::{Sandbox, run};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sv-vault")
}

fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(example().join("expected.json")).unwrap()).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sandbox holding a copy of the example vault in `sv/` and its password in `sv-pw`.
fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    for name in ["vault.key.enc", "vault.data", "vault.meta.json"] {
        sandbox.write_bytes(
            &format!("sv/{name}"),
            &std::fs::read(example().join(name)).unwrap(),
        );
    }
    sandbox.write("sv-pw", "example-pass\n");
    sandbox
}

#[test]
fn the_example_opens_to_its_published_master_key_and_record() {
    let expected = expected();
    let key = SvVault::master_key(&example(), b"example-pass").unwrap();
    assert_eq!(hex(&key[..]), expected["master_key_hex"]);
    let vault = SvVault::open(&example(), b"example-pass").unwrap();
    let [entry] = vault.entries() else {
        panic!("{vault:?}")
    };
    let record = &expected["entries"]["demo/key"];
    assert_eq!(entry.name, "demo/key");
    assert_eq!(entry.value.as_str(), record["value"]);
    assert_eq!(entry.tags, ["demo"]);
    assert_eq!(entry.note, record["note"]);
    assert_eq!(entry.category, record["category"]);
    assert_eq!(vault.find("demo.key").unwrap().name, "demo/key");
    assert!(!format!("{vault:?}").contains("demo-value"));
    assert!(matches!(
        SvVault::open(&example(), b"wrong"),
        Err(VaultError::WrongPassword { .. })
    ));
}

#[test]
#[allow(clippy::needless_range_loop)] // three indexes into two lists read best as a, b, c
fn every_three_shares_recover_the_master_key_and_no_two_do() {
    let expected = expected();
    let shares: Vec<String> = expected["shamir"]["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    // sv-vault prints `share <i>: <base64>`; its recover command takes `<i>:<base64>`.
    let printed: Vec<String> = shares
        .iter()
        .map(|s| {
            let (i, b64) = s.split_once(':').unwrap();
            format!("share {i}: {b64}")
        })
        .collect();
    let mut subsets = 0;
    for a in 0..5 {
        for b in a + 1..5 {
            let pair = [shares[a].as_str(), printed[b].as_str()];
            assert!(
                matches!(
                    SvVault::recover_master_key(&example(), &pair),
                    Err(VaultError::BadShares { .. })
                ),
                "{a} {b}"
            );
            for c in b + 1..5 {
                let three = [shares[a].as_str(), printed[b].as_str(), shares[c].as_str()];
                let key = SvVault::recover_master_key(&example(), &three)
                    .unwrap_or_else(|e| panic!("{a} {b} {c}: {e}"));
                assert_eq!(hex(&key[..]), expected["master_key_hex"]);
                subsets += 1;
            }
        }
    }
    assert_eq!(subsets, 10);
    assert!(matches!(
        SvVault::recover_master_key(&example(), &["1:AAAA", &shares[1], &shares[2]]),
        Err(VaultError::BadShares { .. })
    ));
}

#[test]
fn the_layer_finds_names_as_shown_and_dotted() {
    let sandbox = sandbox();
    let resolver = sandbox
        .one_layer("sv-vault", "    path: sv\n    password_file: sv-pw\n")
        .unwrap();
    for name in ["demo/key", "demo.key"] {
        let record = resolver.resolve(&SecretRequest::new(name)).unwrap();
        assert_eq!(record.expose_secret(), "demo-value", "{name}");
        assert_eq!(record.source(), SecretSource::SvVault);
        assert_eq!(record.metadata().get("key"), Some("demo/key"));
    }
    let scoped = SecretRequest::new("key").with_scope("demo");
    assert_eq!(
        resolver.resolve(&scoped).unwrap().expose_secret(),
        "demo-value"
    );
    assert!(
        resolver
            .lookup(&SecretRequest::new("demo.other"))
            .unwrap()
            .is_none()
    );
    // The password through a reference.
    let resolver = sandbox
        .one_layer(
            "sv-vault",
            "    path: sv\n    password: \"${file:sv-pw}\"\n",
        )
        .unwrap();
    assert!(
        resolver
            .lookup(&SecretRequest::new("demo.key"))
            .unwrap()
            .is_some()
    );
    // A wrong password stops the chain; a missing directory is skipped.
    sandbox.write("bad", "nope");
    let resolver = sandbox
        .one_layer("sv-vault", "    path: sv\n    password_file: bad\n")
        .unwrap();
    let error = resolver
        .resolve(&SecretRequest::new("demo.key").with_default("d"))
        .unwrap_err();
    assert!(matches!(error, Error::Provider { .. }), "{error:?}");
    assert!(error.to_string().contains("wrong password"), "{error}");
    let resolver = sandbox
        .one_layer(
            "sv-vault",
            "    path: elsewhere\n    password_file: sv-pw\n",
        )
        .unwrap();
    let request = SecretRequest::new("demo.key").with_default("d");
    assert_eq!(resolver.resolve(&request).unwrap().expose_secret(), "d");
    // A missing password is a config error naming the options.
    let Err(Error::Config(error)) = sandbox.one_layer("sv-vault", "    path: sv\n") else {
        panic!("no password accepted")
    };
    assert!(error.to_string().contains("password_file"), "{error}");
}

#[test]
fn modified_or_truncated_files_are_refused() {
    let sandbox = sandbox();
    let dir = sandbox.path().join("sv");
    let data = std::fs::read(dir.join("vault.data")).unwrap();
    let mut flipped = data.clone();
    flipped[200] ^= 1;
    std::fs::write(dir.join("vault.data"), &flipped).unwrap();
    assert!(matches!(
        SvVault::open(&dir, b"example-pass"),
        Err(VaultError::Integrity { .. })
    ));
    std::fs::write(dir.join("vault.data"), &data[..300]).unwrap();
    assert!(matches!(
        SvVault::open(&dir, b"example-pass"),
        Err(VaultError::Corrupt { .. })
    ));
    // The context and timestamp are not authenticated (§2): changing them still opens.
    let mut relabelled = data.clone();
    relabelled[51] = b'D';
    std::fs::write(dir.join("vault.data"), &relabelled).unwrap();
    assert!(SvVault::open(&dir, b"example-pass").is_ok());
}

#[test]
fn import_copies_every_secret_and_prints_no_value() {
    let sandbox = sandbox();
    sandbox.write("pw", "ours\n");
    let ours = |args: &[&str]| {
        let (code, stdout, stderr) = run(sandbox.cli().arg("vault-file").args(args).args([
            "--vault",
            "v/vault",
            "--password-file",
            "pw",
        ]));
        assert!(
            !stdout.contains("demo-value") || args[0] == "get",
            "{stdout}"
        );
        assert!(!stderr.contains("demo-value") && !stderr.contains("example-pass"));
        (code, stdout, stderr)
    };
    assert_eq!(ours(&["init"]).0, 0);
    let (code, stdout, stderr) = ours(&[
        "import",
        "--from-sv-vault",
        "sv",
        "--sv-password-file",
        "sv-pw",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("imported 1 of 1 secrets"), "{stderr}");
    assert_eq!(ours(&["get", "demo/key"]).1, "demo-value\n");
    assert_eq!(ours(&["list"]).1, "demo/key\t[demo]\texample\n");
    // Again, by shares: the name is there already and is kept, and said so.
    let shares: Vec<String> = expected()["shamir"]["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    sandbox.write(
        "shares",
        &format!("{}\n{}\n{}\n", shares[1], shares[3], shares[4]),
    );
    let (code, _, stderr) = ours(&[
        "import",
        "--from-sv-vault",
        "sv",
        "--sv-shares-file",
        "shares",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("imported 0 of 1") && stderr.contains("demo/key"),
        "{stderr}"
    );
    // Two shares are too few: the key they give does not open the data.
    sandbox.write("shares", &format!("{}\n{}\n", shares[1], shares[3]));
    let (code, _, stderr) = ours(&[
        "import",
        "--from-sv-vault",
        "sv",
        "--sv-shares-file",
        "shares",
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("bad recovery shares"), "{stderr}");
    // A wrong sv-vault password.
    sandbox.write("bad", "nope\n");
    let (code, _, stderr) = ours(&[
        "import",
        "--from-sv-vault",
        "sv",
        "--sv-password-file",
        "bad",
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("wrong password") && stderr.contains("vault.key.enc"),
        "{stderr}"
    );
}
