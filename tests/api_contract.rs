//! The pinned library contract of DESIGN.md as a test. Copy it into the project's tests/ (it expects
//! the shared SOPS fixtures copied to fixtures/sops/, see the paths below) and keep it passing: code
//! outside this repo calls the library exactly like this.
use secret_cascade::{
    Error, ExposeSecret, Resolver, SecretRequest, SecretSource, resolve_secret, with_sensitive,
};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops")
        .join(rel)
}

fn config(dir: &Path) -> PathBuf {
    std::fs::copy(fixture("enc/nested.yaml"), dir.join("secrets.enc.yaml")).unwrap();
    let cfg = dir.join("secret-cascade.yml");
    std::fs::write(
        &cfg,
        format!(
            "name: contract\nproviders:\n  - kind: env\n    prefix: CONTRACT\n  - kind: sops\n    path: secrets.enc.yaml\n    age_key_file: {}\n",
            fixture("key.txt").display()
        ),
    )
    .unwrap();
    cfg
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("contract-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_pinned_contract() {
    let dir = tempdir("main");
    let resolver = Resolver::from_config_file(config(&dir)).unwrap();

    let rec = resolver
        .resolve(&SecretRequest::new("database.password"))
        .unwrap();
    assert_eq!(rec.source(), SecretSource::Sops);
    assert_eq!(rec.expose_secret(), "s3cr3t");
    assert!(!format!("{rec:?}").contains("s3cr3t"));

    let port = resolver
        .lookup(&SecretRequest::new("database.port"))
        .unwrap()
        .unwrap();
    assert_eq!(port.expose_secret(), "5432");
    let tag = resolver
        .resolve(&SecretRequest::new("database.tags.2.nested_in_list.deep"))
        .unwrap();
    assert_eq!(tag.expose_secret(), "value");
    let token = resolver
        .resolve(&SecretRequest::new("ignored").with_key_path(["api", "token"]))
        .unwrap();
    assert_eq!(token.expose_secret(), "abc");
    let scoped = resolver
        .resolve(&SecretRequest::new("password").with_scope("database"))
        .unwrap();
    assert_eq!(scoped.expose_secret(), "s3cr3t");

    let dflt = resolver
        .resolve(&SecretRequest::new("no.such").with_default("d"))
        .unwrap();
    assert_eq!(dflt.source(), SecretSource::Default);
    assert!(
        resolver
            .lookup(&SecretRequest::new("no.such"))
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        resolver.resolve(&SecretRequest::new("no.such")),
        Err(Error::NotFound { .. })
    ));

    let len = with_sensitive(rec, |value: &str| value.len());
    assert_eq!(len, 6);

    let shared = std::sync::Arc::new(resolver);
    let t = {
        let r = shared.clone();
        std::thread::spawn(move || {
            r.resolve(&SecretRequest::new("token"))
                .unwrap()
                .expose_secret()
                .to_owned()
        })
    };
    assert_eq!(t.join().unwrap(), "tok-123");
    let _: SecretSource = SecretSource::Env;
    let _ = SecretSource::Override;
    let _ = SecretSource::Keyring;
}

#[test]
fn the_process_wide_resolver() {
    let dir = tempdir("global");
    let cfg = config(&dir);
    // SAFETY: the only test in this file that touches the environment.
    unsafe { std::env::set_var("SECRET_CASCADE_CONFIG", &cfg) };
    let rec = resolve_secret("token").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rec.expose_secret(), "tok-123");
    assert_eq!(rec.source(), SecretSource::Sops);
    let _ = filetime::FileTime::now(); // filetime is at least a dev-dependency
    let is_decryption = |e: &Error| matches!(e, Error::Decryption { .. });
    let _ = is_decryption;
}
