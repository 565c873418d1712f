//! Bad and hostile files: each is a clear error naming what failed, never a panic, never a value.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use secret_cascade::sops::{self, DecryptionError, Format, Identities};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops")
        .join(name)
}

fn identities(key: &str) -> Identities {
    let text = std::fs::read_to_string(fixture(key)).unwrap();
    Identities::from_text(&text, key).unwrap()
}

fn nested() -> String {
    std::fs::read_to_string(fixture("enc/nested.yaml")).unwrap()
}

fn decrypt(text: &str, format: Format) -> Result<sops::Document, DecryptionError> {
    sops::decrypt(text.as_bytes(), format, &identities("keys_both.txt"))
}

fn error(text: &str) -> DecryptionError {
    decrypt(text, Format::Yaml).expect_err("the file must be refused")
}

/// The `ENC[...]` value of `key:` in nested.yaml.
fn value_of(text: &str, key: &str) -> String {
    let prefix = format!("{key}: ");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&prefix))
        .unwrap();
    line.trim_start()[prefix.len()..].to_owned()
}

#[test]
fn a_truncated_file_is_refused() {
    let text = nested();
    for cut in [10, text.len() / 3, text.len() / 2, text.len() - 40] {
        let error = error(&text[..cut]);
        assert!(
            matches!(
                error,
                DecryptionError::Parse(_)
                    | DecryptionError::MissingMetadata
                    | DecryptionError::Metadata(_)
            ),
            "cut at {cut}: {error}"
        );
    }
}

#[test]
fn malformed_encrypted_values_name_their_place() {
    let text = nested();
    let password = value_of(&text, "password");
    let cases = [
        (
            password.replace("data:", "data:!!"),
            "data is not valid base64",
        ),
        (password.replace("iv:", "iv:AAAA"), "iv is not 32 bytes"),
        (password.replace("type:str", "type:blob"), "unknown type"),
        (password.replace(",iv:", ",vi:"), "the iv field is missing"),
    ];
    for (bad, reason) in cases {
        let error = error(&text.replace(&password, &bad));
        assert!(
            matches!(&error, DecryptionError::BadValue { path, .. } if path == "database:password:"),
            "{error}"
        );
        assert!(error.to_string().contains(reason), "{error}");
    }
}

#[test]
fn swapped_ciphertexts_fail_authentication() {
    let text = nested();
    let (user, password) = (value_of(&text, "user"), value_of(&text, "password"));
    let swapped = text
        .replace(&user, "@@")
        .replace(&password, &user)
        .replace("@@", &password);
    assert!(matches!(
        error(&swapped),
        DecryptionError::ValueAuthentication { path } if path == "database:user:"
    ));
}

#[test]
fn deleted_or_changed_entries_break_the_mac() {
    let text = nested();
    let without_token = text
        .lines()
        .filter(|l| !l.starts_with("token: "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(matches!(
        error(&without_token),
        DecryptionError::MacMismatch
    ));
    let changed = text.replace("key_unencrypted: visible", "key_unencrypted: hidden");
    assert!(matches!(error(&changed), DecryptionError::MacMismatch));
}

#[test]
fn plaintext_where_ciphertext_is_required_is_refused() {
    let text = nested();
    let plain = text.replace(&value_of(&text, "password"), "hunter2");
    let error = error(&plain);
    assert!(matches!(
        &error,
        DecryptionError::NotEncrypted { path } if path == "database:password:"
    ));
    assert!(!error.to_string().contains("hunter2"));
}

#[test]
fn missing_metadata_or_mac_is_refused() {
    let text = nested();
    let data_only = &text[..text.find("sops:").unwrap()];
    assert!(matches!(error(data_only), DecryptionError::MissingMetadata));
    let no_mac = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("mac: "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(matches!(error(&no_mac), DecryptionError::MacMissing));
    let moved_date = text.replace("lastmodified: \"2026", "lastmodified: \"2025");
    assert!(matches!(
        error(&moved_date),
        DecryptionError::MacAuthentication
    ));
    assert!(matches!(
        error("a: 1\nsops: 3\n"),
        DecryptionError::Metadata(_)
    ));
}

#[test]
fn the_wrong_key_names_the_recipients() {
    let result = sops::decrypt(nested().as_bytes(), Format::Yaml, &identities("key2.txt"));
    let Err(DecryptionError::NoMatchingIdentity {
        recipients, tried, ..
    }) = result
    else {
        panic!("expected no matching identity");
    };
    assert_eq!(
        recipients,
        ["age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg"]
    );
    assert_eq!(tried, ["key2.txt"]);
    // A source without a usable identity is still named among those tried.
    let none = Identities::from_text("# no keys\nnot a key\n", "empty").unwrap();
    let result = sops::decrypt(nested().as_bytes(), Format::Yaml, &none);
    let Err(DecryptionError::NoMatchingIdentity { tried, .. }) = result else {
        panic!("expected no matching identity");
    };
    assert_eq!(tried, ["empty"]);
}

#[test]
fn shamir_with_too_few_shares_is_refused() {
    let text = std::fs::read_to_string(fixture("enc/shamir.yaml")).unwrap();
    let result = sops::decrypt(text.as_bytes(), Format::Yaml, &identities("key.txt"));
    assert!(matches!(
        result.err(),
        Some(DecryptionError::TooFewShares {
            needed: 2,
            opened: 1
        })
    ));
    assert!(sops::decrypt(text.as_bytes(), Format::Yaml, &identities("keys_both.txt")).is_ok());
}

#[test]
fn alias_bombs_are_refused() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let previous = format!("*a{}", level - 1);
        bomb.push_str(&format!(
            "a{level}: &a{level} [{}]\n",
            [previous.as_str(); 10].join(", ")
        ));
    }
    let error = error(&bomb);
    assert!(
        error.to_string().contains("expands to more than"),
        "{error}"
    );
}

#[test]
fn deep_nesting_is_refused() {
    let too_deep = |e: &DecryptionError| {
        let message = e.to_string();
        message.contains("nesting deeper than 128 levels")
            || message.contains("recursion limit exceeded")
    };
    for depth in [200, 10_000] {
        let yaml = format!("{}x{}", "[".repeat(depth), "]".repeat(depth));
        assert!(too_deep(&error(&yaml)), "flow yaml, depth {depth}");
    }
    let json = format!("{{\"a\": {}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(
        matches!(decrypt(&json, Format::Json), Err(DecryptionError::Parse(_))),
        "json"
    );
    let mut block = String::new();
    for depth in 0..10_000 {
        block.push_str(&format!("{}k:\n", " ".repeat(depth)));
    }
    assert!(too_deep(&error(&block)), "block yaml");
}

#[test]
fn a_huge_file_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let result = sops::decrypt_file(&path, None, &identities("key.txt"));
    assert!(matches!(
        result.err(),
        Some(DecryptionError::TooLarge { size }) if size == 100 << 20
    ));
}

#[test]
fn duplicate_keys_are_refused_in_every_store() {
    assert!(
        error("a: 1\na: 2\nsops: {}\n")
            .to_string()
            .contains("appears twice")
    );
    assert!(matches!(
        decrypt("{\"a\": 1, \"a\": 2}", Format::Json),
        Err(DecryptionError::Parse(_))
    ));
    assert!(matches!(
        decrypt("A=1\nA=2\nsops_version=1\n", Format::Dotenv),
        Err(DecryptionError::Parse(_))
    ));
    assert!(matches!(
        decrypt("[s]\na=1\na=2\n[sops]\nversion=1\n", Format::Ini),
        Err(DecryptionError::Parse(_))
    ));
}

#[test]
fn the_cli_exits_3_naming_the_file_and_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tampered.yaml");
    std::fs::write(
        &file,
        nested().replace("key_unencrypted: visible", "key_unencrypted: hidden"),
    )
    .unwrap();
    let output = assert_cmd::Command::cargo_bin("secret-cascade")
        .unwrap()
        .arg("decrypt")
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", fixture("key.txt"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "cannot decrypt {}: MAC mismatch: the file was modified",
            file.display()
        )),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Arbitrary bytes in every store: an error or a document, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini, Format::Binary] {
            let _ = sops::decrypt(&bytes, format, &identities("key.txt"));
        }
    }

    /// A valid file with a few bytes changed: refused (or, if the change is immaterial, still
    /// decrypted), never a panic.
    #[test]
    fn mutated_files_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), file in prop::sample::select(vec!["nested.yaml", "data.json", "app.env", "app.ini", "multidoc.yaml", "shamir.yaml"])) {
        let mut bytes = std::fs::read(fixture(&format!("enc/{file}"))).unwrap();
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let _ = sops::decrypt(&bytes, Format::from_path(Path::new(file)), &identities("keys_both.txt"));
    }
}
