//! A kind of layer registered from outside the crate, as a third-party crate would: it resolves
//! through a YAML config by name or connector id, its options are read by the same strict reader
//! as the built-in kinds', its records say where they came from, and its own error type is kept as
//! the cause of the chain's error.

use std::path::{Path, PathBuf};

use secret_cascade::config::{Options, Registry};
use secret_cascade::{
    Answer, ConfigError, Error, ExposeSecret, Metadata, Provider, Resolver, SecretRecord,
    SecretRequest, SecretSource,
};

/// `kind: vendor` (`vendor.api.v1`): answers `api.token` with its `token` option, fails with its
/// own error for `broken`, misses everything else.
struct Vendor {
    token: String,
    region: Option<String>,
}

impl Vendor {
    fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let token = options
            .secret("token")?
            .ok_or_else(|| options.error(None, "missing `token`"))?;
        Ok(Self {
            token: token.to_string(),
            region: options.non_empty_string("region")?,
        })
    }
}

/// The vendor's own error type.
#[derive(Debug, thiserror::Error)]
#[error("the vendor API answered 503")]
struct VendorDown;

impl Provider for Vendor {
    fn label(&self) -> &str {
        "vendor"
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        match request.qualified_name().as_str() {
            "api.token" => Ok(Answer::Hit(SecretRecord::new(
                self.token.as_str().into(),
                SecretSource::Other("vendor"),
                Metadata::new().with("region", self.region.clone().unwrap_or_default()),
            ))),
            "broken" => Err(Error::provider("vendor", VendorDown)),
            _ => Ok(Answer::Miss("not in the vendor API".into())),
        }
    }
}

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry
        .register("vendor", "vendor.api.v1", Vendor::from_options)
        .unwrap();
    registry
}

fn config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("secret-cascade.yml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_registered_kind_resolves_by_name_or_connector_id_and_names_its_source() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["vendor", "vendor.api.v1"] {
        let path = config(
            dir.path(),
            &format!(
                "providers:\n  - kind: env\n    prefix: NO_SUCH_PREFIX_5f1\n  - kind: {kind}\n    \
                 token: t-123\n    region: eu\n"
            ),
        );
        let resolver = Resolver::from_config_file_with(&path, &registry()).unwrap();
        let record = resolver.resolve(&SecretRequest::new("api.token")).unwrap();
        assert_eq!(record.expose_secret(), "t-123");
        assert_eq!(record.source(), SecretSource::Other("vendor"));
        assert_eq!(record.source().to_string(), "vendor");
        assert_eq!(record.metadata().get("region"), Some("eu"));
        let error = resolver.resolve(&SecretRequest::new("other")).unwrap_err();
        assert!(
            error.to_string().contains("vendor (not in the vendor API)"),
            "{error}"
        );
    }
}

#[test]
fn a_registered_kind_is_unknown_to_a_registry_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "providers:\n  - kind: vendor\n    token: t\n");
    let Err(Error::Config(error)) = Resolver::from_config_file(&path) else {
        panic!("the built-in registry has no `vendor`");
    };
    assert_eq!(error.key(), Some("providers[0].kind"));
    assert!(
        error
            .message()
            .starts_with("unknown provider kind `vendor`; expected one of `env`"),
        "{error}"
    );
}

#[test]
fn an_unknown_option_of_a_registered_kind_is_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        "providers:\n  - kind: vendor\n    token: t\n    regoin: eu\n",
    );
    let Err(Error::Config(error)) = Resolver::from_config_file_with(&path, &registry()) else {
        panic!("`regoin` must be refused");
    };
    assert_eq!(error.file(), path);
    assert_eq!(error.key(), Some("providers[0].regoin"));
    assert_eq!(error.line(), Some(4));
    assert!(
        error.message().contains("unknown option `regoin`") && error.message().contains("`region`"),
        "{error}"
    );
}

#[test]
fn a_kind_name_or_connector_id_cannot_be_registered_twice() {
    let mut registry = registry();
    assert!(
        registry
            .register("vendor", "x.v1", Vendor::from_options)
            .is_err()
    );
    assert!(
        registry
            .register("x", "vendor.api.v1", Vendor::from_options)
            .is_err()
    );
    assert!(
        registry
            .register("sops", "y.v1", Vendor::from_options)
            .is_err()
    );
    let kinds: Vec<_> = registry.kinds().map(|(name, _)| name).collect();
    assert_eq!(
        kinds,
        [
            "env",
            "keyring",
            "sops",
            "dotenv",
            "json",
            "memory",
            "modelmesh.dotenv.v1",
            "modelmesh.json-secrets.v1",
            "modelmesh.memory-secrets.v1",
            "vendor"
        ]
    );
}

#[test]
fn a_third_party_error_is_kept_as_the_cause_and_stops_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        "providers:\n  - kind: vendor\n    token: t\n  - kind: env\n",
    );
    let resolver = Resolver::from_config_file_with(&path, &registry()).unwrap();
    let request = SecretRequest::new("broken").with_default("never used");
    let error = resolver.resolve(&request).unwrap_err();
    assert!(matches!(error, Error::Provider { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "layer `vendor` failed: the vendor API answered 503"
    );
    let cause = std::error::Error::source(&error).expect("the vendor's error is the cause");
    assert!(cause.downcast_ref::<VendorDown>().is_some(), "{cause:?}");
}

#[test]
fn an_io_failure_reading_the_config_is_the_cause_of_the_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = Resolver::from_config_file(dir.path().join("missing.yml")).unwrap_err();
    let mut cause = std::error::Error::source(&error);
    let mut found = false;
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
            found = true;
        }
        cause = error.source();
    }
    assert!(
        found,
        "the chain of causes ends in the io::Error: {error:?}"
    );
}
