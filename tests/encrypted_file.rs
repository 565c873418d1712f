//! `kind: encrypted-file` and `modelmesh.encrypted-file.v1`: ModelMesh's encrypted files opened and
//! written byte-compatibly. Every shared fixture opens with its expected values; files we write
//! are read by the real modelmesh-lite 0.1.1 and its files by us (passphrase and raw key, unicode
//! and emoji names and values, empty and 10 KB values); a wrong passphrase, tampered data or a
//! broken envelope is an error (exit 3) and a `set` then leaves the file's bytes unchanged; a
//! missing file is skipped and `set` creates it with mode 0600; saves keep the salt and renew the
//! nonce; a SIGKILLed writer leaves a whole file, and readers never see a partial one; xor files open only when allowed and never for
//! writing; config errors name the key; no value reaches an error, a `Debug` or a log line.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secret_cascade::providers::{EncryptedFileError, EncryptedFileProvider};
use secret_cascade::{
    Answer, Error, ExposeSecret, Management, Provider, Resolver, SecretRequest, SecretSource,
    SecretString,
};
use serde_json::Value as Json;
use support::modelmesh::{self, Credential};
use support::{Sandbox, run};
use zeroize::Zeroizing;

/// The raw key of `rawkey_mixed.enc` and `xor_fallback.enc`.
const FIXTURE_KEY: &str = "4b43d22cb6b0ef788367b2f0642fab326796f75e8e9e8378db94e992908d2b7f";
const WORKED_PASSPHRASE: &str = "correct horse battery staple";
/// Distinctive enough that finding it anywhere means it leaked.
const CANARY: &str = "c4n4ry-enc-9b2e-S3CR3T";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/modelmesh")
        .join(name)
}

/// `fixtures/modelmesh/expected.json`'s `encrypted` table.
fn expected_fixtures() -> serde_json::Map<String, Json> {
    let text = std::fs::read(fixture("expected.json")).unwrap();
    let mut all: serde_json::Map<String, Json> = serde_json::from_slice(&text).unwrap();
    match all.remove("encrypted") {
        Some(Json::Object(encrypted)) => encrypted,
        other => panic!("expected.json has no `encrypted` table: {other:?}"),
    }
}

/// A resolver with one layer: `- kind: KIND` and `options` (YAML lines, indented by 4).
fn resolver(sandbox: &Sandbox, kind: &str, options: &str) -> Result<Resolver, Error> {
    let config = sandbox.write(
        "config.yml",
        &format!("providers:\n  - kind: {kind}\n{options}"),
    );
    Resolver::from_config_file(config)
}

fn key(hex: &str) -> Zeroizing<[u8; 32]> {
    let bytes: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    Zeroizing::new(bytes.try_into().unwrap())
}

fn with_passphrase(path: &Path, passphrase: &str) -> EncryptedFileProvider {
    EncryptedFileProvider::with_passphrase(path, SecretString::from(passphrase))
}

fn value(provider: &EncryptedFileProvider, name: &str) -> Option<String> {
    match provider.fetch(&SecretRequest::new(name)).unwrap() {
        Answer::Hit(record) => {
            assert_eq!(record.source(), SecretSource::EncryptedFile);
            Some(record.expose_secret().to_owned())
        }
        Answer::Miss(_) => None,
        other => panic!("{name}: {other:?}"),
    }
}

fn failure(provider: &EncryptedFileProvider, name: &str) -> Error {
    match provider.fetch(&SecretRequest::new(name)) {
        Err(error) => error,
        Ok(answer) => panic!("{name}: expected an error, got {answer:?}"),
    }
}

/// The typed cause of a provider's error.
fn cause(error: &Error) -> &EncryptedFileError {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<EncryptedFileError>())
        .unwrap_or_else(|| panic!("not an encrypted-file error: {error:?}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn every_shared_fixture_opens_with_its_expected_values() {
    let sandbox = Sandbox::new();
    for (file, expected) in expected_fixtures() {
        let credential = match (expected.get("passphrase"), expected.get("encryption_key")) {
            (Some(Json::String(p)), _) => format!("    passphrase: \"{p}\"\n"),
            (_, Some(Json::String(k))) => format!("    encryption_key: {k}\n"),
            _ => panic!("{file}: no credential in expected.json"),
        };
        let xor = file.starts_with("xor");
        // Our kind, and ModelMesh's id with ModelMesh's option names.
        let layers = [
            (
                "encrypted-file",
                format!(
                    "    path: {}\n{credential}    allow_insecure_xor: {xor}\n",
                    fixture(&file).display()
                ),
            ),
            (
                "modelmesh.encrypted-file.v1",
                format!(
                    "    file_path: {}\n{credential}    cache_enabled: false\n    secrets: {{}}\n",
                    fixture(&file).display()
                ),
            ),
        ];
        for (kind, options) in layers {
            let resolver = resolver(&sandbox, kind, &options).unwrap();
            let secrets = expected["secrets"].as_object().unwrap();
            if xor && kind.starts_with("modelmesh") {
                // Not allowed there: refused, never an empty store.
                let error = resolver.resolve(&SecretRequest::new("EMPTY")).unwrap_err();
                assert!(
                    matches!(cause(&error), EncryptedFileError::InsecureXor),
                    "{error}"
                );
                continue;
            }
            for (name, value) in secrets {
                let record = resolver
                    .resolve(&SecretRequest::new(name))
                    .unwrap_or_else(|e| panic!("{file} via {kind}: {name}: {e}"));
                assert_eq!(
                    record.expose_secret(),
                    value.as_str().unwrap(),
                    "{file} {name}"
                );
                assert_eq!(record.source(), SecretSource::EncryptedFile);
            }
            let (_, management) = resolver.managed_layers().next().unwrap();
            let mut names: Vec<String> = secrets.keys().cloned().collect();
            names.sort();
            assert_eq!(management.list().unwrap(), names, "{file}");
        }
    }
}

#[test]
fn dotted_and_scoped_names_are_one_flat_key() {
    let provider = with_passphrase(
        &fixture("passphrase_mixed.enc"),
        "modelmesh-fixture-passphrase-1",
    );
    let expected = Some("dots are literal in this store".to_owned());
    assert_eq!(value(&provider, "dotted.name"), expected);
    let scoped = SecretRequest::new("name").with_scope("dotted");
    let Answer::Hit(record) = provider.fetch(&scoped).unwrap() else {
        panic!("scope.name is the flat key");
    };
    assert_eq!(Some(record.expose_secret().to_owned()), expected);
    assert_eq!(record.metadata().get("key"), Some("dotted.name"));
    assert_eq!(value(&provider, "dotted"), None);
    assert_eq!(
        value(&provider, "ключ").as_deref(),
        Some("unicode key name")
    );
}

#[test]
fn a_wrong_passphrase_is_an_error_and_a_set_leaves_the_file_unchanged() {
    let sandbox = Sandbox::new();
    let original = std::fs::read(fixture("worked_passphrase.enc")).unwrap();
    let file = sandbox.write_bytes("team.enc", &original);
    let provider = with_passphrase(&file, "wrong horse battery staple");
    let error = failure(&provider, "GREETING");
    assert!(
        matches!(cause(&error), EncryptedFileError::Authentication),
        "{error}"
    );
    assert!(
        error.to_string().contains("passphrase or key is wrong"),
        "{error}"
    );
    let refused = provider
        .set("GREETING", SecretString::from(CANARY))
        .unwrap_err();
    assert!(matches!(
        cause(&refused),
        EncryptedFileError::Authentication
    ));
    assert!(provider.delete("EMPTY").is_err());
    assert!(provider.list().is_err());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        original,
        "the file was rewritten"
    );

    // The command line: exit code 3, the layer named.
    sandbox.write(
        "secret-cascade.yml",
        "providers:\n  - kind: encrypted-file\n    path: team.enc\n    passphrase: nope\n",
    );
    let (code, stdout, stderr) = run(sandbox.cli().args(["get", "GREETING"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty() && stderr.contains("team.enc"), "{stderr}");
}

#[test]
fn tampered_or_malformed_files_are_errors_never_empty_stores() {
    let sandbox = Sandbox::new();
    let worked =
        String::from_utf8(std::fs::read(fixture("worked_passphrase.enc")).unwrap()).unwrap();
    let data = worked
        .split("\"data\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut flipped = data.as_bytes().to_vec();
    flipped[40] = if flipped[40] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(&str, String)> = vec![
        (
            "tampered data",
            worked.replace(data, std::str::from_utf8(&flipped).unwrap()),
        ),
        (
            "a character outside standard base64",
            worked.replace(data, &data.replacen('a', "_", 1)),
        ),
        (
            "base64 without padding",
            worked.replace(data, data.trim_end_matches('=')),
        ),
        (
            "version 2",
            worked.replace("\"version\": 1", "\"version\": 2"),
        ),
        ("no salt", worked.replace("\"salt\"", "\"pepper\"")),
        (
            "unknown algorithm",
            worked.replace("aes-256-gcm", "chacha20"),
        ),
        ("not JSON", "not json".to_owned()),
        ("a list", "[]".to_owned()),
        ("empty", String::new()),
    ];
    for (case, text) in cases {
        let file = sandbox.write(&format!("{}.enc", case.replace(' ', "-")), &text);
        let provider = with_passphrase(&file, WORKED_PASSPHRASE);
        let error = failure(&provider, "GREETING");
        assert!(
            matches!(
                cause(&error),
                EncryptedFileError::Authentication
                    | EncryptedFileError::Envelope(_)
                    | EncryptedFileError::UnknownAlgorithm
            ),
            "{case}: {error}"
        );
        assert!(
            provider.set("x", SecretString::from("y")).is_err(),
            "{case}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            text,
            "{case}: rewritten"
        );
    }
}

#[test]
fn decrypted_content_that_is_not_an_object_is_an_error() {
    // Made with modelmesh's own format by a second, raw-key writer: a store whose plaintext is a
    // JSON list. modelmesh would quietly load it as an empty store.
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("list.enc");
    let python = modelmesh::python();
    let script = format!(
        r#"
import base64, json
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = bytes.fromhex("{FIXTURE_KEY}")
nonce = bytes(12)
data = nonce + AESGCM(key).encrypt(nonce, b'["a"]', None)
json.dump({{"version": 1, "algorithm": "aes-256-gcm", "salt": base64.b64encode(bytes(16)).decode(),
           "data": base64.b64encode(data).decode()}}, open("{}", "w"), indent=2)
"#,
        file.display()
    );
    let status = Command::new(python).args(["-c", &script]).status().unwrap();
    assert!(status.success());
    let provider = EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY));
    let error = failure(&provider, "a");
    assert!(
        matches!(cause(&error), EncryptedFileError::Content { .. }),
        "{error}"
    );
}

#[test]
fn a_missing_file_is_skipped_and_set_creates_it_with_mode_0600() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("new.enc");
    let provider = EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY));
    let request = SecretRequest::new("a");
    let answer = provider.fetch(&request).unwrap();
    assert!(
        matches!(&answer, Answer::Unavailable(reason)
            if reason.describe(&provider, &request).contains("new.enc does not exist")),
        "{answer:?}"
    );
    assert_eq!(provider.list().unwrap(), Vec::<String>::new());
    provider.set("api.key", SecretString::from("v1")).unwrap();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(value(&provider, "api.key").as_deref(), Some("v1"));

    // set, list, delete; a missing name is NotFound naming the layer.
    provider.set("b", SecretString::from("2")).unwrap();
    provider.set("api.key", SecretString::from("v2")).unwrap();
    assert_eq!(provider.list().unwrap(), ["api.key", "b"]);
    assert_eq!(value(&provider, "api.key").as_deref(), Some("v2"));
    provider.delete("b").unwrap();
    assert_eq!(value(&provider, "b"), None);
    let error = provider.delete("b").unwrap_err();
    assert!(
        matches!(&error, Error::NotFound { name, .. } if name == "b"),
        "{error}"
    );
    assert!(error.to_string().contains("new.enc"), "{error}");
    // Inserted in place, in insertion order, as modelmesh keeps them.
    assert_eq!(
        modelmesh::read(&file, Credential::Key(FIXTURE_KEY)),
        pairs(&[("api.key", "v2")])
    );
}

#[test]
fn saves_keep_the_salt_and_renew_the_nonce() {
    let sandbox = Sandbox::new();
    let file = sandbox.write_bytes(
        "team.enc",
        &std::fs::read(fixture("worked_passphrase.enc")).unwrap(),
    );
    let provider = with_passphrase(&file, WORKED_PASSPHRASE);
    let envelope = |path: &Path| -> serde_json::Map<String, Json> {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let before = envelope(&file);
    // modelmesh saves with the umask's mode; our save makes it private.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    provider.set("GREETING", SecretString::from("hi")).unwrap();
    let first = envelope(&file);
    provider.set("GREETING", SecretString::from("hi")).unwrap();
    let second = envelope(&file);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(before["salt"], first["salt"]);
    assert_eq!(first["salt"], second["salt"]);
    let nonce = |envelope: &serde_json::Map<String, Json>| {
        envelope["data"].as_str().unwrap()[..16].to_owned()
    };
    assert_ne!(nonce(&before), nonce(&first));
    assert_ne!(nonce(&first), nonce(&second));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("{\n  \"version\": 1,\n  \"algorithm\": \"aes-256-gcm\",\n  \"salt\": ")
    );
    assert!(
        text.ends_with("\"\n}"),
        "2-space indent, no trailing newline"
    );
    assert_eq!(
        modelmesh::read(&file, Credential::Passphrase(WORKED_PASSPHRASE)),
        pairs(&[
            ("OPENAI_API_KEY", "sk-test-123"),
            ("GREETING", "hi"),
            ("EMPTY", "")
        ])
    );
}

#[test]
fn a_changed_file_is_read_again() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("shared.enc");
    let ours = EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY));
    modelmesh::write(&file, Credential::Key(FIXTURE_KEY), &pairs(&[("a", "1")]));
    assert_eq!(value(&ours, "a").as_deref(), Some("1"));
    modelmesh::write(&file, Credential::Key(FIXTURE_KEY), &pairs(&[("a", "2")]));
    assert_eq!(value(&ours, "a").as_deref(), Some("2"));
}

#[test]
fn files_we_write_are_read_by_modelmesh() {
    let sandbox = Sandbox::new();
    let secrets = interop_secrets();
    for (credential, file, provider) in interop_layers(&sandbox, "ours") {
        for (name, value) in &secrets {
            provider
                .set(name, SecretString::from(value.as_str()))
                .unwrap();
        }
        assert_eq!(
            modelmesh::read(&file, credential),
            secrets,
            "{credential:?}"
        );
        assert_eq!(mode(&file), 0o600);
    }
}

#[test]
fn files_modelmesh_writes_are_read_by_us() {
    let sandbox = Sandbox::new();
    let secrets = interop_secrets();
    for (credential, file, provider) in interop_layers(&sandbox, "theirs") {
        modelmesh::write(&file, credential, &secrets);
        for (name, expected) in &secrets {
            assert_eq!(
                value(&provider, name).as_ref(),
                Some(expected),
                "{credential:?} {name}"
            );
        }
        let mut names: Vec<String> = secrets.iter().map(|(name, _)| name.clone()).collect();
        names.sort();
        assert_eq!(provider.list().unwrap(), names);
        // And our save of their file reads back in modelmesh, order kept.
        provider.set("added", SecretString::from("later")).unwrap();
        let mut more = secrets.clone();
        more.push(("added".to_owned(), "later".to_owned()));
        assert_eq!(modelmesh::read(&file, credential), more);
    }
}

/// A passphrase layer (a passphrase with non-ASCII characters) and a raw-key layer, on files named
/// `PREFIX-pass.enc` and `PREFIX-key.enc` that do not exist yet.
fn interop_layers(
    sandbox: &Sandbox,
    prefix: &str,
) -> [(Credential<'static>, PathBuf, EncryptedFileProvider); 2] {
    const PASSPHRASE: &str = "pässphrase ✓ 🔑";
    let pass = sandbox.path().join(format!("{prefix}-pass.enc"));
    let raw = sandbox.path().join(format!("{prefix}-key.enc"));
    [
        (
            Credential::Passphrase(PASSPHRASE),
            pass.clone(),
            with_passphrase(&pass, PASSPHRASE),
        ),
        (
            Credential::Key(FIXTURE_KEY),
            raw.clone(),
            EncryptedFileProvider::with_key(&raw, key(FIXTURE_KEY)),
        ),
    ]
}

/// Unicode and emoji names and values, quotes and control characters, empty and 10 KB values.
fn interop_secrets() -> Vec<(String, String)> {
    let mut secrets = pairs(&[
        ("OPENAI_API_KEY", "sk-proj-AbC123xyz"),
        ("empty", ""),
        ("ключ 🔑", "значение ✓ 日本語 🎉"),
        (
            "emoji 🔐.name",
            "𝄞 astral + \u{7f} + \u{1} + \t + \n + \"q\" + \\",
        ),
        ("dotted.name", "dots are literal"),
    ]);
    let big: String = (0..10_240)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    secrets.push(("ten_kb".to_owned(), big));
    secrets.push(("ten_kb_unicode".to_owned(), "é🔑".repeat(2048)));
    secrets
}

#[test]
fn xor_files_open_only_when_allowed_and_are_never_written() {
    let sandbox = Sandbox::new();
    let original = std::fs::read(fixture("xor_fallback.enc")).unwrap();
    let file = sandbox.write_bytes("legacy.enc", &original);
    let refused = EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY));
    let error = failure(&refused, "LEGACY_KEY");
    assert!(
        matches!(cause(&error), EncryptedFileError::InsecureXor),
        "{error}"
    );
    assert!(error.to_string().contains("allow_insecure_xor"), "{error}");

    let allowed = EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY)).allowing_insecure_xor();
    let logs = support::capture_logs(|| {
        assert_eq!(value(&allowed, "LEGACY_KEY").as_deref(), Some("xor-value"));
    });
    assert!(
        logs.contains("WARN") && logs.contains("xor-obfuscation"),
        "{logs}"
    );
    assert!(!logs.contains("xor-value"), "{logs}");
    let error = allowed
        .set("LEGACY_KEY", SecretString::from("new"))
        .unwrap_err();
    assert!(
        matches!(cause(&error), EncryptedFileError::ReadOnlyXor),
        "{error}"
    );
    assert!(allowed.delete("EMPTY").is_err());
    assert_eq!(std::fs::read(&file).unwrap(), original);

    // A wrong key gives garbage, which is refused, never returned.
    let wrong =
        EncryptedFileProvider::with_key(&file, key(&"0".repeat(64))).allowing_insecure_xor();
    let error = failure(&wrong, "LEGACY_KEY");
    assert!(
        matches!(cause(&error), EncryptedFileError::Content { .. }),
        "{error}"
    );
}

#[test]
fn config_errors_name_the_key() {
    let sandbox = Sandbox::new();
    let path = "    path: team.enc\n";
    let cases = [
        (
            format!("{path}    encryption_key: {}\n", &FIXTURE_KEY[..63]),
            "encryption_key",
            "64 hexadecimal digits",
        ),
        (
            format!(
                "{path}    encryption_key: \"{}{}\"\n",
                &FIXTURE_KEY[..32],
                " ".repeat(32)
            ),
            "encryption_key",
            "64 hexadecimal digits",
        ),
        (
            format!("{path}    encryption_key: {}zz\n", &FIXTURE_KEY[..62]),
            "encryption_key",
            "64 hexadecimal digits",
        ),
        (
            format!("{path}    passphrase: p\n    colour: blue\n"),
            "colour",
            "unknown option `colour`",
        ),
        (
            format!("{path}    passphrase: p\n    file_path: x\n"),
            "file_path",
            "unknown option",
        ),
        (
            path.to_owned(),
            "providers[0]",
            "missing `passphrase` or `encryption_key`",
        ),
        (
            "    passphrase: p\n".to_owned(),
            "providers[0]",
            "missing `path`",
        ),
        (
            format!("{path}    passphrase: p\n    pbkdf2_iterations: 0\n"),
            "pbkdf2_iterations",
            "at least 1",
        ),
        (
            format!("{path}    passphrase: p\n    allow_insecure_xor: yes please\n"),
            "allow_insecure_xor",
            "true or false",
        ),
    ];
    for (options, key, message) in cases {
        let Err(Error::Config(error)) = resolver(&sandbox, "encrypted-file", &options) else {
            panic!("{options:?} was accepted");
        };
        assert!(
            error.key().unwrap_or_default().ends_with(key),
            "{options:?}: {error}"
        );
        assert!(error.message().contains(message), "{options:?}: {error}");
        assert!(
            !error.to_string().contains(&FIXTURE_KEY[..30]),
            "the key is quoted: {error}"
        );
    }
    // ModelMesh's names under its id, and ours refused there.
    let mm = "    file_path: team.enc\n    passphrase: p\n";
    resolver(
        &sandbox,
        "modelmesh.encrypted-file.v1",
        &format!("{mm}    encryption_key: \"\"\n    pbkdf2_iterations: 1000\n    cache_enabled: true\n    cache_ttl_ms: 5\n    fail_on_missing: false\n    secrets: {{a: b}}\n"),
    )
    .unwrap();
    let Err(Error::Config(error)) = resolver(
        &sandbox,
        "modelmesh.encrypted-file.v1",
        &format!("{mm}    path: x\n"),
    ) else {
        panic!("`path` is not a ModelMesh option");
    };
    assert_eq!(error.key(), Some("providers[0].path"));
}

#[test]
fn the_key_wins_over_the_passphrase_and_fail_on_missing_false_answers_empty() {
    let sandbox = Sandbox::new();
    let options = format!(
        "    file_path: {}\n    passphrase: not-this-one\n    encryption_key: {FIXTURE_KEY}\n    fail_on_missing: false\n",
        fixture("rawkey_mixed.enc").display()
    );
    let resolver = resolver(&sandbox, "modelmesh.encrypted-file.v1", &options).unwrap();
    assert_eq!(
        resolver
            .resolve(&SecretRequest::new("DB_PASSWORD"))
            .unwrap()
            .expose_secret(),
        "hunter2"
    );
    let absent = resolver
        .resolve(&SecretRequest::new("ABSENT").with_default("d"))
        .unwrap();
    assert_eq!(
        absent.expose_secret(),
        "",
        "ModelMesh's get returns \"\" for a miss"
    );
    assert_eq!(absent.source(), SecretSource::EncryptedFile);
}

#[test]
fn a_passphrase_from_an_earlier_layer_opens_the_file() {
    // The team's passphrase sits in a raw-key file listed first; the team file refers to it.
    let sandbox = Sandbox::new();
    let keys = sandbox.path().join("keys.enc");
    EncryptedFileProvider::with_key(&keys, key(FIXTURE_KEY))
        .set("team.passphrase", SecretString::from(WORKED_PASSPHRASE))
        .unwrap();
    let config = sandbox.write(
        "config.yml",
        &format!(
            "providers:\n  - kind: encrypted-file\n    path: keys.enc\n    encryption_key: \
             {FIXTURE_KEY}\n  - kind: encrypted-file\n    path: {}\n    passphrase: \
             ${{secrets:team.passphrase}}\n",
            fixture("worked_passphrase.enc").display()
        ),
    );
    let resolver = Resolver::from_config_file(config).unwrap();
    let record = resolver
        .resolve(&SecretRequest::new("OPENAI_API_KEY"))
        .unwrap();
    assert_eq!(record.expose_secret(), "sk-test-123");
    assert!(
        record
            .metadata()
            .get("path")
            .unwrap()
            .ends_with("worked_passphrase.enc")
    );
}

#[test]
fn no_value_in_errors_debug_or_logs() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("canary.enc");
    let provider = with_passphrase(&file, CANARY)
        .with_pbkdf2_iterations(1000)
        .with_cache_ttl(Duration::from_secs(60));
    let mut shown = Vec::new();
    let logs = support::capture_logs(|| {
        provider
            .set(CANARY.get(..6).unwrap(), SecretString::from(CANARY))
            .unwrap();
        provider.set("name", SecretString::from(CANARY)).unwrap();
        let Answer::Hit(record) = provider.fetch(&SecretRequest::new("name")).unwrap() else {
            panic!("set did not land");
        };
        assert_eq!(record.expose_secret(), CANARY);
        shown.push(format!("{record:?}"));
        shown.push(format!("{provider:?}"));
        let wrong = with_passphrase(&file, "wrong").with_pbkdf2_iterations(1000);
        let error = failure(&wrong, "name");
        shown.push(format!("{error} {error:?}"));
        shown.push(format!("{}", provider.delete("absent").unwrap_err()));
        shown.push(format!(
            "{:?}",
            wrong.set("name", SecretString::from(CANARY)).unwrap_err()
        ));
        shown.push(format!("{:?}", provider.diagnose()));
    });
    shown.push(logs);
    for text in shown {
        assert!(!text.contains(CANARY), "a value leaked: {text}");
    }
}

/// Run as itself by [`a_killed_set_leaves_a_whole_file`] (with `ENCRYPTED_FILE_KILL_TARGET`), it
/// sets `victim` to `v-1`, `v-2`, ... in that file until killed. Run as a test, it does 20 such
/// sets in a row on a file of its own and checks that each one landed.
#[test]
fn sets_in_a_row_each_land() {
    let sandbox = Sandbox::new();
    let target = std::env::var_os("ENCRYPTED_FILE_KILL_TARGET").map(PathBuf::from);
    let file = target
        .clone()
        .unwrap_or_else(|| sandbox.path().join("row.enc"));
    let provider = EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY));
    for round in 1.. {
        let meant = format!("v-{round}");
        provider
            .set("victim", SecretString::from(meant.as_str()))
            .unwrap();
        if target.is_none() {
            assert_eq!(value(&provider, "victim"), Some(meant));
            if round == 20 {
                break;
            }
        }
    }
}

#[test]
fn a_killed_set_leaves_a_whole_file() {
    const KILLS: u32 = 12;
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("big.enc");
    let provider = EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY));
    // Large enough that a save takes a while (encrypt, check and write 200 KB).
    let filler = "x".repeat(200_000);
    provider
        .set("filler", SecretString::from(filler.as_str()))
        .unwrap();
    provider.set("victim", SecretString::from("v-0")).unwrap();
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sets_in_a_row_each_land", "--test-threads=1"])
            .env("ENCRYPTED_FILE_KILL_TARGET", &file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let victim = || {
        let reader = EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY));
        assert_eq!(value(&reader, "filler").as_deref(), Some(filler.as_str()));
        let victim = value(&reader, "victim").unwrap();
        victim
            .strip_prefix("v-")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("victim is {victim:?}"))
    };
    // How long a child takes to start and land its first set, here and now.
    let started = Instant::now();
    let before = std::fs::read(&file).unwrap();
    let mut child = spawn();
    while std::fs::read(&file).unwrap() == before {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child's set never landed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let first_set = started.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(victim() >= 1, "the first set did not land whole");
    provider.set("victim", SecretString::from("v-0")).unwrap();
    // One round: a child sets in a loop, killed (SIGKILL) after `delay`; how far it got.
    let round = |delay: Duration| {
        let mut child = spawn();
        // Until the kill, a reader keeps reading the file: it must always see a whole one.
        let started = Instant::now();
        while started.elapsed() < delay {
            let bytes = std::fs::read(&file).unwrap();
            let envelope: Result<Json, _> = serde_json::from_slice(&bytes);
            assert!(
                envelope.is_ok(),
                "a reader saw a partial file ({} bytes)",
                bytes.len()
            );
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // A fresh reader: the file decrypts whole, every secret intact.
        let reached = victim();
        assert_eq!(mode(&file), 0o600);
        provider.set("victim", SecretString::from("v-0")).unwrap();
        reached
    };
    // From before the first set lands to several sets later.
    let mut rounds: Vec<u64> = (1..=KILLS)
        .map(|kill| round(first_set.mul_f64(2.0 * f64::from(kill - 1) / f64::from(KILLS))))
        .collect();
    // A loaded machine can make every set slower (or faster) than the first one measured: go on
    // with later (or immediate) kills until some rounds land and some do not.
    for extra in 0..KILLS {
        if rounds.iter().all(|&r| r == 0) {
            rounds.push(round(first_set.mul_f64(2.0 + f64::from(extra))));
        } else if rounds.iter().all(|&r| r > 0) {
            rounds.push(round(Duration::ZERO));
        } else {
            break;
        }
    }
    let landed = rounds.iter().filter(|&&r| r > 0).count();
    eprintln!("a_killed_set_leaves_a_whole_file: first set after {first_set:?}; rounds {rounds:?}");
    assert!(
        landed > 0,
        "no set landed before a kill: the test proves nothing"
    );
    assert!(
        landed < rounds.len(),
        "every kill came after a whole set: the test proves little"
    );
    // Only temporary files of ours may be left beside it.
    for entry in std::fs::read_dir(sandbox.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "big.enc" || name.starts_with(".big.enc.secret-cascade-"),
            "unexpected {name}"
        );
    }
}

#[test]
fn doctor_checks_the_file_mode_and_that_the_key_opens_it() {
    let sandbox = Sandbox::new();
    let file = sandbox.write_bytes(
        "team.enc",
        &std::fs::read(fixture("rawkey_mixed.enc")).unwrap(),
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let summary = |provider: &EncryptedFileProvider| -> Vec<(String, String)> {
        provider
            .diagnose()
            .iter()
            .map(|check| {
                (
                    format!("{} {}", check.status(), check.subject()),
                    check.message().to_owned(),
                )
            })
            .collect()
    };
    let good = summary(&EncryptedFileProvider::with_key(&file, key(FIXTURE_KEY)));
    assert_eq!(good[0].0, "warn file");
    assert!(good[0].1.contains("chmod 600"), "{good:?}");
    assert_eq!(
        good[1],
        ("ok decryption".to_owned(), "opens; 3 secrets".to_owned())
    );
    let wrong = summary(&EncryptedFileProvider::with_key(
        &file,
        key(&"1".repeat(64)),
    ));
    assert_eq!(wrong[1].0, "fail decryption");
    assert!(
        wrong[1].1.contains("passphrase or key is wrong"),
        "{wrong:?}"
    );
    let missing = summary(&EncryptedFileProvider::with_key(
        sandbox.path().join("no.enc"),
        key(FIXTURE_KEY),
    ));
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].0, "warn file");
}
