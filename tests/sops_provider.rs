//! `kind: sops` in a resolver: lookups, types, unavailable files, and failing closed.

mod support;

use std::path::{Path, PathBuf};

use secret_cascade::sops::DecryptionError;
use secret_cascade::{Error, ExposeSecret, Resolver, SecretRequest, SecretSource};
use support::{Sandbox, run};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops")
        .join(name)
}

/// A sandbox with `secrets.enc.yaml` (a copy of `fixture`) and a config reading it with key.txt,
/// after an env layer, with no other identity source in reach.
fn setup(file: &str) -> (Sandbox, PathBuf) {
    let sandbox = Sandbox::new();
    std::fs::copy(fixture(file), sandbox.path().join("secrets.enc.yaml")).unwrap();
    let config = sandbox.write(
        "secret-cascade.yml",
        &format!(
            "name: sopstest\nproviders:\n  - kind: env\n    prefix: SOPSTEST\n  - kind: sops\n    path: secrets.enc.yaml\n    age_key_file: {}\n",
            fixture("key.txt").display()
        ),
    );
    (sandbox, config)
}

fn value(resolver: &Resolver, request: SecretRequest) -> String {
    let record = resolver.resolve(&request).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(record.source(), SecretSource::Sops);
    record.expose_secret().to_owned()
}

#[test]
fn scalars_come_back_as_text_and_trees_as_compact_json() {
    let (_sandbox, config) = setup("enc/nested.yaml");
    let resolver = Resolver::from_config_file(&config).unwrap();
    let cases = [
        ("database.password", "s3cr3t"),
        ("database.port", "5432"),
        ("database.ratio", "0.75"),
        ("database.big_float", "100000000000000000000"),
        ("database.enabled", "true"),
        ("database.disabled", "false"),
        ("database.empty", ""),
        ("database.tags.1", "42"),
        ("database.tags.2.nested_in_list.deep", "value"),
        ("database.multiline", "line one\nline two\n"),
        ("database.unicode", "héllo wörld ✓ 日本語 🔑"),
        ("api.key_unencrypted", "visible"),
        (
            "database.tags",
            r#"["alpha",42,{"nested_in_list":{"deep":"value"}}]"#,
        ),
        ("api", r#"{"token":"abc","key_unencrypted":"visible"}"#),
    ];
    for (name, expected) in cases {
        assert_eq!(
            value(&resolver, SecretRequest::new(name)),
            expected,
            "{name}"
        );
    }
    let record = resolver.resolve(&SecretRequest::new("token")).unwrap();
    let canonical =
        std::fs::canonicalize(config.parent().unwrap().join("secrets.enc.yaml")).unwrap();
    assert_eq!(
        record.metadata().get("path"),
        Some(canonical.to_str().unwrap())
    );
    assert_eq!(record.metadata().get("key"), Some("token"));
}

#[test]
fn key_paths_reach_keys_with_dots_and_null_is_a_miss() {
    let (_sandbox, config) = setup("enc/edge.yaml");
    let resolver = Resolver::from_config_file(&config).unwrap();
    assert_eq!(
        value(
            &resolver,
            SecretRequest::new("x").with_key_path(["scalars", "colon_key:with"])
        ),
        "colon in key"
    );
    assert_eq!(value(&resolver, SecretRequest::new("scalars.hex")), "31");
    assert_eq!(
        value(&resolver, SecretRequest::new("scalars.yes_word")),
        "yes"
    );
    assert_eq!(
        value(&resolver, SecretRequest::new("list_of_lists.0.1")),
        "b"
    );
    assert_eq!(
        value(&resolver, SecretRequest::new("anchors.derived.x")),
        "1"
    );
    assert!(
        resolver
            .lookup(&SecretRequest::new("scalars.tilde"))
            .unwrap()
            .is_none()
    );
    let dflt = resolver
        .resolve(&SecretRequest::new("scalars.tilde").with_default("d"))
        .unwrap();
    assert_eq!(dflt.source(), SecretSource::Default);
}

#[test]
fn every_store_serves_lookups() {
    let cases = [
        ("enc/app.env", "DB_PASSWORD", "s3cr3t"),
        ("enc/app.ini", "database.password", "s3cr3t"),
        ("enc/data.json", "database.port", "5432"),
        ("enc/data.json", "database.whole_float", "2"),
        ("enc/multidoc.yaml", "second", "two"),
        (
            "enc/times.yaml",
            "frac",
            "2024-01-02T03:04:05.123456789+02:00",
        ),
        ("enc/dates.yaml", "date", "2024-01-02T00:00:00Z"),
    ];
    for (file, name, expected) in cases {
        let sandbox = Sandbox::new();
        let copy = sandbox.path().join(Path::new(file).file_name().unwrap());
        std::fs::copy(fixture(file), &copy).unwrap();
        let resolver = Resolver::builder()
            .provider(
                secret_cascade::providers::SopsProvider::new(&copy, Default::default())
                    .with_age_key_file(fixture("key.txt")),
            )
            .build();
        assert_eq!(
            value(&resolver, SecretRequest::new(name)),
            expected,
            "{file} {name}"
        );
    }
}

#[test]
fn a_missing_file_is_unavailable_and_named() {
    let (sandbox, config) = setup("enc/nested.yaml");
    std::fs::remove_file(sandbox.path().join("secrets.enc.yaml")).unwrap();
    let resolver = Resolver::from_config_file(&config).unwrap();
    let dflt = resolver
        .resolve(&SecretRequest::new("token").with_default("d"))
        .unwrap();
    assert_eq!(dflt.source(), SecretSource::Default);
    let error = resolver.resolve(&SecretRequest::new("token")).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("(unavailable: ") && message.contains("secrets.enc.yaml does not exist"),
        "{message}"
    );
}

#[test]
fn a_tampered_file_fails_closed_even_with_a_default() {
    let (sandbox, config) = setup("enc/nested.yaml");
    let file = sandbox.path().join("secrets.enc.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("key_unencrypted: visible", "key_unencrypted: changed"),
    )
    .unwrap();
    let resolver = Resolver::from_config_file(&config).unwrap();
    let error = resolver
        .resolve(&SecretRequest::new("token").with_default("d"))
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Decryption {
                reason: DecryptionError::MacMismatch,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("MAC mismatch: the file was modified")
    );
}

#[test]
fn a_moved_value_fails_authentication_naming_its_place() {
    let (sandbox, config) = setup("enc/simple.yaml");
    let file = sandbox.path().join("secrets.enc.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let hello = text
        .lines()
        .find(|l| l.starts_with("hello: "))
        .unwrap()
        .trim_start_matches("hello: ")
        .to_owned();
    // Swap the list's first value into `hello`: right key, wrong place.
    let first_item = text
        .lines()
        .find(|l| l.trim_start().starts_with("- ENC"))
        .unwrap()
        .trim_start()
        .trim_start_matches("- ")
        .to_owned();
    std::fs::write(&file, text.replacen(&hello, &first_item, 1)).unwrap();
    let resolver = Resolver::from_config_file(&config).unwrap();
    let error = resolver.resolve(&SecretRequest::new("num")).unwrap_err();
    assert!(
        matches!(&error, Error::Decryption { reason: DecryptionError::ValueAuthentication { path }, .. } if path == "hello:"),
        "{error}"
    );
}

#[test]
fn a_wrong_key_is_exit_3_naming_the_file_and_recipients() {
    let (sandbox, _) = setup("enc/nested.yaml");
    sandbox.write(
        "secret-cascade.yml",
        &format!(
            "providers:\n  - kind: sops\n    path: secrets.enc.yaml\n    age_key_file: {}\n",
            fixture("key2.txt").display()
        ),
    );
    let (code, stdout, stderr) = run(sandbox.cli().args(["get", "token", "--default", "d"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("secrets.enc.yaml: no identity matched: the file is encrypted to age17qg6"),
        "{stderr}"
    );
    assert!(!stderr.contains("tok-123"));
}

#[test]
fn get_from_a_sops_file_on_the_command_line() {
    let (sandbox, _) = setup("enc/nested.yaml");
    let (code, stdout, stderr) = run(sandbox
        .cli()
        .args(["get", "password", "--scope", "database", "--json"]));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["source"], "sops");
    assert_eq!(json["value"], "s3cr3t");
    assert_eq!(json["metadata"]["key"], "database.password");
}

#[test]
fn bad_sops_options_are_config_errors() {
    let sandbox = Sandbox::new();
    for (text, needle) in [
        (
            "providers:\n  - kind: sops\n",
            "at `providers[0]`: missing `path`",
        ),
        (
            "providers:\n  - kind: sops\n    path: a.yaml\n    input_type: toml\n",
            "at `providers[0].input_type`: unknown format `toml`",
        ),
        (
            "providers:\n  - kind: sops\n    path: a.yaml\n    age_keyfile: k\n",
            "unknown option `age_keyfile`; expected one of `kind`, `path`, `age_key_file`, `pgp_key_file`, `input_type`",
        ),
    ] {
        let file = sandbox.write("c.yml", text);
        let (code, _, stderr) = run(sandbox.cli().args(["get", "x", "--config"]).arg(&file));
        assert_eq!(code, 2, "{text}");
        assert!(stderr.contains(needle), "{needle} not in {stderr}");
    }
}

#[test]
fn a_miss_says_which_part_of_the_name_fails_and_why() {
    let (sandbox, config) = setup("enc/simple.yaml");
    let resolver = Resolver::from_config_file(&config).unwrap();
    for (name, why) in [
        ("nope", "no value at `nope`: the document has no key `nope`"),
        (
            "list.5",
            "no value at `list.5`: `list` has 2 items; index 5 is past its end",
        ),
        ("list.first", "`list` is a list; `first` is not an index"),
        (
            "num.x",
            "no value at `num.x`: `num` is a number, not a map or list",
        ),
        ("hello.x", "`hello` is a string, not a map or list"),
    ] {
        let Err(Error::NotFound { tried, .. }) = resolver.resolve(&SecretRequest::new(name)) else {
            panic!("{name} is a miss");
        };
        let sops = tried.last().unwrap();
        assert!(sops.reason.contains(why), "{name}: {}", sops.reason);
    }
    let (_edge_sandbox, edge_config) = setup("enc/edge.yaml");
    let edge = Resolver::from_config_file(&edge_config).unwrap();
    let Err(Error::NotFound { tried, .. }) = edge.resolve(&SecretRequest::new("scalars.tilde"))
    else {
        panic!("null is a miss");
    };
    assert!(
        tried
            .last()
            .unwrap()
            .reason
            .ends_with("`scalars.tilde` is null"),
        "{:?}",
        tried.last()
    );

    // `decrypt --extract` says the same, exit 1 as sops.
    let mut cli = sandbox.cli();
    cli.env("SOPS_AGE_KEY_FILE", fixture("key.txt")).args([
        "decrypt",
        "secrets.enc.yaml",
        "--extract",
        r#"["list"][5]"#,
    ]);
    let (code, stdout, stderr) = run(&mut cli);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("no value at `list.5`: `list` has 2 items; index 5 is past its end"),
        "{stderr}"
    );
}
