//! ModelMesh's connector ids: a config written for ModelMesh's stores (its ids, its option names,
//! its defaults: a five-minute value cache, `fail_on_missing`) builds our layers, which look names
//! up by ModelMesh's rules. `modelmesh.keyring.v1` against a real Secret Service is in
//! tests/keyring.rs; the file stores' ids are in their own test files.

use std::path::{Path, PathBuf};

use secret_cascade::{Error, ExposeSecret, Resolver, SecretRequest, SecretSource};

fn config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("secret-cascade.yml");
    std::fs::write(&path, text).unwrap();
    path
}

fn set_env(name: &str, value: &str) {
    // SAFETY: std serializes its own environment access; each test uses variables of its own
    // and nothing here reads the environment outside std.
    unsafe { std::env::set_var(name, value) };
}

#[test]
fn modelmesh_env_joins_prefix_and_name_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    set_env("MMV_openai-key", "v1");
    let path = config(
        dir.path(),
        "providers:\n  - kind: modelmesh.env.v1\n    prefix: MMV_\n    cache_enabled: false\n",
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let record = resolver.resolve(&SecretRequest::new("openai-key")).unwrap();
    assert_eq!(record.expose_secret(), "v1");
    assert_eq!(record.source(), SecretSource::Env);
    assert_eq!(record.metadata().get("variable"), Some("MMV_openai-key"));
    // Our own env kind would ask for MMV__OPENAI_KEY; this one never translates.
    let error = resolver
        .resolve(&SecretRequest::new("OPENAI_KEY"))
        .unwrap_err();
    assert!(
        error.to_string().contains("MMV_OPENAI_KEY is not set"),
        "{error}"
    );
}

#[test]
fn modelmesh_layers_cache_found_values_for_the_ttl_as_modelmesh_does() {
    let dir = tempfile::tempdir().unwrap();
    set_env("MMC_token", "first");
    // No cache options: ModelMesh's default, on for 300 s.
    let path = config(
        dir.path(),
        "providers:\n  - kind: modelmesh.env.v1\n    prefix: MMC_\n",
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let request = SecretRequest::new("token");
    assert_eq!(resolver.resolve(&request).unwrap().expose_secret(), "first");
    set_env("MMC_token", "second");
    let cached = resolver.resolve(&request).unwrap();
    assert_eq!(cached.expose_secret(), "first", "kept for the TTL");
    assert_eq!(cached.source(), SecretSource::Env);

    // A miss is never cached: a variable that appears later is seen at once.
    let later = SecretRequest::new("later");
    assert!(resolver.lookup(&later).unwrap().is_none());
    set_env("MMC_later", "now");
    assert_eq!(resolver.resolve(&later).unwrap().expose_secret(), "now");

    // `cache_ttl_ms: 0` (or `cache_enabled: false`) reuses nothing.
    let path = config(
        dir.path(),
        "providers:\n  - kind: modelmesh.env.v1\n    prefix: MMC_\n    cache_ttl_ms: 0\n",
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    assert_eq!(
        resolver.resolve(&request).unwrap().expose_secret(),
        "second"
    );
    set_env("MMC_token", "third");
    assert_eq!(resolver.resolve(&request).unwrap().expose_secret(), "third");
}

#[test]
fn fail_on_missing_false_answers_an_empty_string_as_modelmesh_returns_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        "providers:\n  - kind: modelmesh.env.v1\n    prefix: MMF_\n    fail_on_missing: false\n  \
         - kind: env\n",
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let record = resolver.resolve(&SecretRequest::new("absent")).unwrap();
    assert_eq!(record.expose_secret(), "");
    assert_eq!(record.source(), SecretSource::Env);
    // The default, `true`: a miss, and the chain goes on.
    let path = config(
        dir.path(),
        "providers:\n  - kind: modelmesh.env.v1\n    prefix: MMF_\n",
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    assert!(matches!(
        resolver.resolve(&SecretRequest::new("absent")),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn modelmesh_option_names_are_read_strictly() {
    let dir = tempfile::tempdir().unwrap();
    // `secrets` is accepted and ignored by the env store, as in ModelMesh.
    let path = config(
        dir.path(),
        "providers:\n  - kind: modelmesh.env.v1\n    prefix: X_\n    secrets: {a: b}\n",
    );
    Resolver::from_config_file(&path).unwrap();
    for (option, key) in [
        ("    delimiter: \"__\"\n", "providers[0].delimiter"),
        ("    cache_ttl: 300s\n", "providers[0].cache_ttl"),
    ] {
        let path = config(
            dir.path(),
            &format!("providers:\n  - kind: modelmesh.env.v1\n{option}"),
        );
        let Err(Error::Config(error)) = Resolver::from_config_file(&path) else {
            panic!("{option} must be refused");
        };
        assert_eq!(error.key(), Some(key), "{error}");
    }
    let path = config(
        dir.path(),
        "providers:\n  - kind: modelmesh.keyring.v1\n    service_name: app\n    service: x\n",
    );
    let Err(Error::Config(error)) = Resolver::from_config_file(&path) else {
        panic!("`service` is our keyring's option, not ModelMesh's");
    };
    assert_eq!(error.key(), Some("providers[0].service"));
}
