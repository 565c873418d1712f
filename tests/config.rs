//! Config file validation: every bad config is exit 2 with a message naming the file and key.

mod support;

use secret_cascade::{Error, ExposeSecret, Resolver, SecretRequest};
use support::{Sandbox, run};

/// (config text, the key the message must name, a phrase it must contain)
const BAD_CONFIGS: &[(&str, &str, &str)] = &[
    (
        "providers:\n  - kind: env\n    prefixx: A\n",
        "at `providers[0].prefixx`",
        "unknown option `prefixx`; expected one of `kind`, `prefix`, `delimiter`",
    ),
    (
        "providers:\n  - kind: nosuch\n",
        "at `providers[0].kind`",
        "unknown provider kind `nosuch`; expected one of `env`, `keyring`, `sops`, `vault`, `encrypted-file`, `dotenv`, `json`, `memory`, `vault-file`, `sv-vault`, `modelmesh.env.v1`",
    ),
    (
        "providers:\n  - kind: keyring\n    backend: wallet\n",
        "at `providers[0].backend`",
        "unknown keyring backend `wallet`; expected `secret-service`, `keyutils` or `mock`",
    ),
    (
        "providers:\n  - kind: keyring\n    timeout_ms: 0\n",
        "at `providers[0].timeout_ms`",
        "timeout_ms",
    ),
    (
        "providers:\n  - kind: keyring\n    servise: app\n",
        "at `providers[0].servise`",
        "unknown option `servise`",
    ),
    (
        "providers:\n  - prefix: A\n",
        "at `providers[0]`",
        "missing `kind`",
    ),
    (
        "providers:\n  - kind: env\n    prefix: 12345\n",
        "at `providers[0].prefix`",
        "expected a string, found an integer",
    ),
    (
        "providers:\n  - kind: env\n    prefix: [A]\n",
        "at `providers[0].prefix`",
        "expected a string, found a list",
    ),
    (
        "providers:\n  - kind: env\n    delimiter: \"\"\n",
        "at `providers[0].delimiter`",
        "must not be empty",
    ),
    (
        "providers:\n  - kind: env\n  - kind: env\n    delimiter: {a: b}\n",
        "at `providers[1].delimiter`",
        "expected a string, found a mapping",
    ),
    (
        "providers: env\n",
        "at `providers`",
        "expected a list, found a string",
    ),
    (
        "providers:\n  - env\n",
        "at `providers[0]`",
        "must be a mapping, found a string",
    ),
    (
        "provider:\n  - kind: env\n",
        "at `provider`",
        "unknown option `provider`; expected one of `name`, `cache`, `providers`",
    ),
    ("name: \"\"\n", "at `name`", "must not be empty"),
    (
        "name: true\n",
        "at `name`",
        "expected a string, found a boolean",
    ),
    (
        "cache:\n  max_documents: 0\n",
        "at `cache.max_documents`",
        "expected a whole number of at least 1",
    ),
    (
        "cache:\n  max_documents: -3\n",
        "at `cache.max_documents`",
        "expected a whole number of at least 1",
    ),
    (
        "cache:\n  max_documents: 1.5\n",
        "at `cache.max_documents`",
        "found a number with a fraction",
    ),
    (
        "cache:\n  max_documents: ten\n",
        "at `cache.max_documents`",
        "found a string",
    ),
    (
        "cache:\n  max_docs: 3\n",
        "at `cache.max_docs`",
        "unknown option `max_docs`; expected one of `max_documents`",
    ),
    (
        "cache: 64\n",
        "at `cache`",
        "must be a mapping, found an integer",
    ),
    (
        "- kind: env\n",
        "line 1",
        "the file must be a mapping, found a list",
    ),
    (
        "name: a\nname: b\n",
        "line 2",
        "not valid YAML: duplicated key in mapping",
    ),
    ("providers: [\n", "line 2", "not valid YAML"),
    ("", "secret-cascade.yml", "the file is empty"),
    (
        "name: a\n---\nname: b\n",
        "secret-cascade.yml",
        "expected one YAML document, found several",
    ),
    (
        "1: env\n",
        "line 1",
        "keys must be strings, found an integer",
    ),
    (
        // A block value starts on the line after its key: the key's line is named.
        "providers:\n  - kind: env\n    prefix:\n      a: b\n",
        "line 3, at `providers[0].prefix`",
        "expected a string, found a mapping",
    ),
    (
        "providers:\n  - kind: env\n    bogus:\n      - 1\n",
        "line 3, at `providers[0].bogus`",
        "unknown option `bogus`",
    ),
    (
        // A SOPS file given as the config.
        "db:\n    password: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n    lastmodified: \"2026-01-01T00:00:00Z\"\n    mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n",
        "secret-cascade.yml",
        "this is a SOPS-encrypted file, not a secret-cascade config",
    ),
    (
        "DB=ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops_mac=ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n",
        "secret-cascade.yml",
        "name it as the `path` of a `kind: sops` layer",
    ),
];

#[test]
fn each_bad_config_is_exit_2_naming_the_file_and_key() {
    for (text, key, phrase) in BAD_CONFIGS {
        let sandbox = Sandbox::new();
        let file = sandbox.write("secret-cascade.yml", text);
        let (code, stdout, stderr) = run(sandbox
            .cli()
            .args(["get", "x", "--default", "d", "--config"])
            .arg(&file));
        assert_eq!(code, 2, "config {text:?}: {stderr}");
        assert!(stdout.is_empty(), "config {text:?} printed {stdout}");
        let expected_file = format!("invalid config {}", file.display());
        for needle in [expected_file.as_str(), key, phrase] {
            assert!(
                stderr.contains(needle),
                "config {text:?}: {needle:?} not in {stderr}"
            );
        }
    }
}

#[test]
fn messages_do_not_quote_values() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "c.yml",
        "providers:\n  - kind: env\n    prefix: 987654321\n",
    );
    let (code, _, stderr) = run(sandbox.cli().args(["get", "x", "--config"]).arg(&file));
    assert_eq!(code, 2);
    assert!(!stderr.contains("987654321"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_an_error_not_a_fallback() {
    let sandbox = Sandbox::new();
    let missing = sandbox.path().join("nope.yml");
    let (code, _, stderr) = run(sandbox
        .cli()
        .args(["get", "x", "--default", "d", "--config"])
        .arg(&missing));
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!(
            "invalid config {}: cannot read the file",
            missing.display()
        )),
        "{stderr}"
    );

    let (code, _, stderr) = run(sandbox
        .cli()
        .args(["get", "x", "--default", "d"])
        .env("SECRET_CASCADE_CONFIG", &missing));
    assert_eq!(
        code, 2,
        "SECRET_CASCADE_CONFIG pointing nowhere must fail: {stderr}"
    );
}

#[test]
fn the_library_reports_config_errors_with_their_parts() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "c.yml",
        "name: svc\nproviders:\n  - kind: env\n    prefixx: A\n",
    );
    let Err(Error::Config(error)) = Resolver::from_config_file(&file) else {
        panic!("expected a config error");
    };
    assert_eq!(error.file(), file);
    assert_eq!(error.key(), Some("providers[0].prefixx"));
    assert_eq!(error.line(), Some(4));
}

#[test]
fn a_valid_config_builds_the_described_chain() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "c.yml",
        "name: svc # comment\nproviders:\n  - kind: env\n    prefix: CFGTEST\n    delimiter: _\n  - kind: env\ncache:\n  max_documents: 5\n  freshness: strict\n",
    );
    let resolver = Resolver::from_config_file(&file).unwrap();
    assert_eq!(resolver.name(), "svc");
    assert_eq!(resolver.layers().collect::<Vec<_>>(), ["env", "env"]);
    assert_eq!(
        format!("{:?}", resolver.document_cache()),
        "DocumentCache { documents: 0, max_documents: 5, freshness: Strict }"
    );
    let record = resolver
        .resolve(&SecretRequest::new("x").with_default("d"))
        .unwrap();
    assert_eq!(record.expose_secret(), "d");
}

#[test]
fn omitted_sections_take_their_defaults() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("c.yml", "name: only-a-name\n");
    let resolver = Resolver::from_config_file(&file).unwrap();
    assert_eq!(resolver.layers().collect::<Vec<_>>(), ["env"]);
    assert!(format!("{:?}", resolver.document_cache()).contains("max_documents: 64"));
}

#[test]
fn an_unknown_freshness_is_a_config_error_naming_the_choices() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("c.yml", "cache:\n  freshness: sometimes\n");
    let Err(Error::Config(error)) = Resolver::from_config_file(&file) else {
        panic!("expected a config error");
    };
    assert_eq!(error.key(), Some("cache.freshness"));
    assert!(error.to_string().contains("`watch` or `strict`"), "{error}");
}
