//! No value in any Debug, Display, error message, log line or CLI error output.

mod support;

use std::os::unix::ffi::OsStrExt;
use std::sync::Once;

use secret_cascade::providers::EnvProvider;
use secret_cascade::{Error, ExposeSecret, Resolver, SecretRequest, SensitiveGuard};
use support::{Sandbox, run};

/// Distinctive enough that finding it anywhere means it leaked.
const CANARY: &str = "c4n4ry-7f1d9e-S3CR3T";

fn set_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut broken = CANARY.as_bytes().to_vec();
        broken.push(0xff);
        // SAFETY: runs once, before any test in this binary reads the environment.
        unsafe {
            std::env::set_var("LEAKS__ENV__VALUE", CANARY);
            std::env::set_var("LEAKS__NOT__UTF8", std::ffi::OsStr::from_bytes(&broken));
        }
    });
}

fn resolver() -> Resolver {
    Resolver::builder()
        .name("leaks")
        .override_secret("code.value", CANARY)
        .provider(EnvProvider::new().with_prefix("LEAKS"))
        .build()
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} contains the value: {text}");
}

#[test]
fn debug_of_records_requests_guards_and_resolvers_hides_the_value() {
    set_env();
    let resolver = resolver();
    let request = SecretRequest::new("absent").with_default(CANARY);
    assert_clean("request Debug", &format!("{request:?}"));
    assert_clean("resolver Debug", &format!("{resolver:?}"));
    for request in [
        request,
        SecretRequest::new("env.value"),
        SecretRequest::new("code.value"),
    ] {
        let record = resolver.resolve(&request).unwrap();
        assert_eq!(
            record.expose_secret(),
            CANARY,
            "the record must hold the canary"
        );
        assert_clean("record Debug", &format!("{record:?}"));
        assert_clean("record Debug (alternate)", &format!("{record:#?}"));
        let guard = SensitiveGuard::new(record);
        assert_clean("guard Debug", &format!("{guard:?}"));
    }
}

#[test]
fn errors_hide_the_value() {
    set_env();
    let resolver = resolver();
    let broken = resolver
        .resolve(&SecretRequest::new("not.utf8"))
        .unwrap_err();
    assert!(matches!(broken, Error::Provider { .. }), "{broken:?}");
    let missing = resolver.resolve(&SecretRequest::new("absent")).unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }));
    for error in [broken, missing] {
        assert_clean("error Display", &error.to_string());
        assert_clean("error Debug", &format!("{error:?}"));
    }
}

#[test]
fn trace_logs_name_layers_but_never_values() {
    set_env();
    let logs = support::capture_logs(|| {
        let resolver = resolver();
        for request in [
            SecretRequest::new("code.value"),
            SecretRequest::new("env.value"),
            SecretRequest::new("absent").with_default(CANARY),
            SecretRequest::new("not.utf8").with_default(CANARY),
            SecretRequest::new("absent"),
        ] {
            let _ = resolver.resolve(&request);
        }
    });
    assert!(
        logs.contains("secret found") && logs.contains("layer=\"env\""),
        "nothing captured: {logs}"
    );
    assert!(
        logs.contains("layer missed") && logs.contains("TRACE"),
        "no trace lines: {logs}"
    );
    assert_clean("trace logs", &logs);
}

#[test]
fn cli_stderr_never_shows_the_value() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "secret-cascade.yml",
        "providers:\n  - kind: env\n    prefix: LEAKS\n",
    );
    let mut broken = CANARY.as_bytes().to_vec();
    broken.push(0xff);

    let (code, stdout, stderr) = run(sandbox
        .cli()
        .args(["get", "-vv", "env.value", "--json"])
        .env("LEAKS__ENV__VALUE", CANARY));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(CANARY), "the value goes to stdout");
    assert!(
        stderr.contains("secret found"),
        "trace logs expected on stderr: {stderr}"
    );
    assert_clean("stderr of a hit", &stderr);

    let (code, _, stderr) = run(sandbox
        .cli()
        .args(["get", "-vv", "absent", "--default", CANARY])
        .arg("--config")
        .arg(&config));
    assert_eq!(code, 0, "{stderr}");
    assert_clean("stderr of a default", &stderr);

    let (code, stdout, stderr) = run(sandbox
        .cli()
        .args(["get", "-vv", "not.utf8", "--default", CANARY])
        .env("LEAKS__NOT__UTF8", std::ffi::OsStr::from_bytes(&broken)));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("LEAKS__NOT__UTF8 is set but its value is not valid UTF-8"),
        "{stderr}"
    );
    assert_clean("stdout of an error", &stdout);
    assert_clean("stderr of an error", &stderr);
}

#[test]
fn sops_lookups_and_failures_never_show_values() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops");
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("s.enc.yaml");
    std::fs::copy(fixtures.join("enc/nested.yaml"), &file).unwrap();
    sandbox.write(
        "secret-cascade.yml",
        &format!(
            "providers:\n  - kind: sops\n    path: s.enc.yaml\n    age_key_file: {}\n",
            fixtures.join("key.txt").display()
        ),
    );
    let values = ["s3cr3t", "tok-123", "héllo"];
    let (code, stdout, stderr) = run(sandbox.cli().args(["get", "-vv", "database.password"]));
    assert_eq!((code, stdout.as_str()), (0, "s3cr3t\n"), "{stderr}");
    assert!(
        stderr.contains("decrypted"),
        "trace logs expected: {stderr}"
    );
    let (code, _, missing) = run(sandbox.cli().args(["get", "-vv", "database.absent"]));
    assert_eq!(code, 1);

    let text = std::fs::read_to_string(&file).unwrap();
    let password = text
        .lines()
        .find(|l| l.trim_start().starts_with("password: "))
        .unwrap()
        .trim_start()[10..]
        .to_owned();
    std::fs::write(&file, text.replace(&password, "s3cr3t")).unwrap();
    let (code, _, tampered) =
        run(sandbox
            .cli()
            .args(["get", "-vv", "token", "--default", "tok-123"]));
    assert_eq!(code, 3, "{tampered}");
    let (code, decrypt_out, decrypt_err) = run(sandbox
        .cli()
        .arg("decrypt")
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", fixtures.join("key.txt")));
    assert_eq!(code, 3);
    for output in [&stderr, &missing, &tampered, &decrypt_out, &decrypt_err] {
        for value in values {
            assert!(!output.contains(value), "{value} leaked: {output}");
        }
    }
}
