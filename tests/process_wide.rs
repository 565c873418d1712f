//! `resolve_secret`: one process-wide resolver built lazily from the discovered config.
//! The only test in this binary, because it sets `SECRET_CASCADE_CONFIG` for the whole process.

use secret_cascade::{Error, ExposeSecret, SecretSource, resolve_secret};

#[test]
fn resolve_secret_uses_the_discovered_config_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("global.yml");
    std::fs::write(&config, "providers: [\n").unwrap();
    // SAFETY: the only test in this binary; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var("SECRET_CASCADE_CONFIG", &config);
        std::env::set_var("GLOBALTEST__API__TOKEN", "tok-global");
    }
    // A broken config is an error, and is not cached: fixing the file fixes the next call.
    assert!(matches!(resolve_secret("api.token"), Err(Error::Config(_))));
    std::fs::write(
        &config,
        "providers:\n  - kind: env\n    prefix: GLOBALTEST\n",
    )
    .unwrap();
    let record = resolve_secret("api.token").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (record.source(), record.expose_secret()),
        (SecretSource::Env, "tok-global")
    );

    // Built once: later changes to the config do not rebuild it.
    std::fs::write(&config, "providers: [\n").unwrap();
    assert_eq!(
        resolve_secret("api.token").unwrap().expose_secret(),
        "tok-global"
    );
    assert!(matches!(
        resolve_secret("absent.name"),
        Err(Error::NotFound { .. })
    ));
}
