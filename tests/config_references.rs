//! References in config values: `${env:NAME}`, `${file:PATH}`, `${secrets:NAME}` (through the
//! layers listed before), `$${` for a literal `${`; their errors name the reference and never its
//! value, in `Display`, `Debug` and logs.

mod support;

use std::path::{Path, PathBuf};

use secret_cascade::config::{Options, Registry};
use secret_cascade::{
    Answer, ConfigError, Error, ExposeSecret, Metadata, Provider, Resolver, SecretRecord,
    SecretRequest, SecretSource,
};

/// `kind: echo`: answers `echo` with its `text` option as read (a secret), and `echo.plain` with
/// its `plain` option, so a test sees exactly what a reference expanded to.
struct Echo {
    text: String,
    plain: String,
}

impl Echo {
    fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            text: options
                .secret("text")?
                .map(|text| text.to_string())
                .unwrap_or_default(),
            plain: options.string("plain")?.unwrap_or_default(),
        })
    }
}

impl Provider for Echo {
    fn label(&self) -> &str {
        "echo"
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let value = match request.qualified_name().as_str() {
            "echo" => &self.text,
            "echo.plain" => &self.plain,
            _ => return Ok(Answer::Miss("echo has only `echo`".into())),
        };
        Ok(Answer::Hit(SecretRecord::new(
            value.as_str().into(),
            SecretSource::Other("echo"),
            Metadata::new(),
        )))
    }
}

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry
        .register("echo", "test.echo.v1", Echo::from_options)
        .unwrap();
    registry
}

/// A config whose last layer is `echo` with `text: TEXT`, after `before` (YAML list items).
fn config(dir: &Path, before: &str, text: &str) -> PathBuf {
    let path = dir.join("secret-cascade.yml");
    std::fs::write(
        &path,
        format!("providers:\n{before}  - kind: echo\n    text: '{text}'\n"),
    )
    .unwrap();
    path
}

fn echoed(path: &Path) -> Result<String, Error> {
    let resolver = Resolver::from_config_file_with(path, &registry())?;
    let record = resolver.resolve(&SecretRequest::new("echo"))?;
    Ok(record.expose_secret().to_owned())
}

fn config_error(path: &Path) -> secret_cascade::ConfigError {
    match echoed(path) {
        Err(Error::Config(error)) => error,
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// A value that must never show in an error: checked in `Display` and `Debug`.
const CANARY: &str = "canary-value-0b7e41";

fn assert_hidden(error: &impl std::fmt::Debug, display: &str) {
    assert!(!display.contains(CANARY), "{display}");
    assert!(!format!("{error:?}").contains(CANARY), "{error:?}");
}

#[test]
fn env_references_expand_anywhere_in_a_string() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: std serializes its own environment access, a variable no other test uses, and
    // nothing in this test binary reads the environment outside std.
    unsafe { std::env::set_var("SC_REF_TEST_KEYS", "/srv/keys") };
    let path = config(
        dir.path(),
        "",
        "${env:SC_REF_TEST_KEYS}/app.txt and $${literal}",
    );
    assert_eq!(echoed(&path).unwrap(), "/srv/keys/app.txt and ${literal}");
}

#[test]
fn an_unset_variable_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "", "${env:SC_REF_TEST_UNSET_9}");
    let error = config_error(&path);
    assert_eq!(error.key(), Some("providers[0].text"));
    assert!(
        error.message().contains(
            "`${env:SC_REF_TEST_UNSET_9}`: the environment variable SC_REF_TEST_UNSET_9 is not set"
        ),
        "{error}"
    );
}

#[test]
fn file_references_read_the_file_relative_to_the_config_without_one_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    std::fs::write(dir.path().join("tokens/agent"), format!("{CANARY}\n")).unwrap();
    let path = config(dir.path(), "", "${file:tokens/agent}");
    assert_eq!(echoed(&path).unwrap(), CANARY);

    let path = config(dir.path(), "", "${file:tokens/missing}");
    let error = config_error(&path);
    assert!(
        error
            .message()
            .contains("`${file:tokens/missing}`: cannot read"),
        "{error}"
    );
    let io = std::error::Error::source(&error)
        .and_then(|cause| {
            let mut cause = Some(cause);
            while let Some(error) = cause {
                if let Some(io) = error.downcast_ref::<std::io::Error>() {
                    return Some(io.kind());
                }
                cause = error.source();
            }
            None
        })
        .expect("the io::Error is a cause");
    assert_eq!(io, std::io::ErrorKind::NotFound);
}

#[test]
fn secrets_references_resolve_through_the_layers_listed_before() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: as above, a variable of this test alone.
    unsafe { std::env::set_var("SCREF__TEAM__PASSPHRASE", CANARY) };
    let path = config(
        dir.path(),
        "  - kind: env\n    prefix: SCREF\n",
        "${secrets:team.passphrase}",
    );
    assert_eq!(echoed(&path).unwrap(), CANARY);
}

#[test]
fn a_secrets_reference_never_looks_at_later_layers_and_names_the_ones_tried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret-cascade.yml");
    std::fs::write(
        &path,
        "providers:\n  - kind: env\n    prefix: SCREF_NONE\n  - kind: echo\n    text: \
         '${secrets:db.password}'\n  - kind: env\n",
    )
    .unwrap();
    let error = config_error(&path);
    assert_eq!(error.key(), Some("providers[1].text"));
    assert!(
        error.message().contains("`${secrets:db.password}`: not found in the layers listed before this one: env (SCREF_NONE__DB__PASSWORD is not set)"),
        "{error}"
    );

    let path = config(dir.path(), "", "${secrets:db.password}");
    let error = config_error(&path);
    assert!(
        error
            .message()
            .contains("no layer is listed before this one"),
        "{error}"
    );
}

#[test]
fn malformed_references_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (text, message) in [
        ("${env:X", "is not closed by `}`"),
        (
            "${vault:x}",
            "unknown reference scheme `vault`; expected env, file or secrets",
        ),
        (
            "${nothing}",
            "a reference is `${env:NAME}`, `${file:PATH}` or `${secrets:NAME}`",
        ),
        ("${env:}", "`env:` needs a name after the colon"),
    ] {
        let path = config(dir.path(), "", text);
        let error = config_error(&path);
        assert!(error.message().contains(message), "{text}: {error}");
    }
}

#[test]
fn referenced_values_never_appear_in_errors_debug_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), CANARY).unwrap();
    // SAFETY: as above, a variable of this test alone.
    unsafe { std::env::set_var("SCLEAK__A", CANARY) };
    // A resolver built from references, then a failure after them: the canary must not show.
    let path = dir.path().join("secret-cascade.yml");
    std::fs::write(
        &path,
        "providers:\n  - kind: env\n    prefix: SCLEAK\n  - kind: echo\n    text: \
         '${secrets:a}${file:token}${env:SCLEAK__A}'\n    plain: '${file:token}'\n  - kind: \
         echo\n    text: '${secrets:a}${env:SC_REF_TEST_UNSET_7}'\n",
    )
    .unwrap();
    let logs = support::capture_logs(|| {
        let error = echoed(&path).unwrap_err();
        assert!(error.to_string().contains("SC_REF_TEST_UNSET_7"), "{error}");
        assert_hidden(&error, &error.to_string());
    });
    assert!(!logs.contains(CANARY), "{logs}");
    let registry = registry();
    assert!(!format!("{registry:?}").contains(CANARY));
}
