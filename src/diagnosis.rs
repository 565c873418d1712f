//! Health checks: can each layer of a chain serve, and is the config sound?
//!
//! [`Diagnosis`] is what `secret-cascade doctor` prints: the config file's checks (valid, not
//! writable by others) under the label `config`, then each layer's own [`Check`]s from
//! [`crate::Provider::diagnose`], in chain order. A check names files, variables' prefixes and
//! recipients, never a value: a layer may decrypt to prove it can, but drops (and wipes) what it
//! decrypted without showing it.
//!
//! ```
//! use secret_cascade::providers::EnvProvider;
//! use secret_cascade::{Resolver, Status};
//!
//! let resolver = Resolver::builder()
//!     .provider(EnvProvider::new().with_prefix("NO_SUCH_PREFIX_ANYWHERE"))
//!     .build();
//! let layers = resolver.diagnose();
//! assert_eq!(layers[0].label(), "env");
//! assert_eq!(layers[0].status(), Status::Warn); // no variable starts with the prefix
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config;
use crate::providers::EnvProvider;
use crate::resolver::Resolver;

/// The whole report: the config file, then every layer of the chain it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    config: Option<PathBuf>,
    layers: Vec<LayerDiagnosis>,
}

impl Diagnosis {
    /// The label of the config file's checks in [`Diagnosis::layers`].
    pub const CONFIG_LABEL: &'static str = "config";

    /// Checks the config file at `path` and, if it is valid, every layer it describes.
    ///
    /// An invalid or missing file is not an error here but a failed check naming the file, the
    /// line and the key: reporting it is the diagnosis's job.
    pub fn of_config_file(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let file = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let mut checks = Vec::new();
        let layers = match config::load(&file) {
            Ok(builder) => {
                let resolver = builder.build();
                checks.push(Check::ok(
                    "file",
                    format!(
                        "{} is valid; {}",
                        file.display(),
                        count(resolver.layers().count(), "layer")
                    ),
                ));
                resolver.diagnose()
            }
            Err(error) => {
                checks.push(Check::fail("file", error.to_string()));
                Vec::new()
            }
        };
        if let Ok(metadata) = std::fs::metadata(&file) {
            checks.extend(config_mode(&file, &metadata));
        }
        Self {
            layers: std::iter::once(LayerDiagnosis::new(Self::CONFIG_LABEL, checks))
                .chain(layers)
                .collect(),
            config: Some(file),
        }
    }

    /// Like [`Diagnosis::of_config_file`] on the config file [`Resolver::discover`] would use.
    /// With none, the config check is a warning (only the environment, without a prefix, is
    /// consulted) followed by that environment layer's checks.
    pub fn discover() -> Self {
        if let Some(path) = config::discover() {
            return Self::of_config_file(path);
        }
        let warning = Check::warn(
            "file",
            format!(
                "no config file found (${}, ./{}, $XDG_CONFIG_HOME/secret-cascade/config.yml); \
                 only the environment is consulted, without a prefix",
                config::CONFIG_ENV,
                config::LOCAL_CONFIG
            ),
        );
        let resolver = Resolver::builder().provider(EnvProvider::new()).build();
        Self {
            config: None,
            layers: std::iter::once(LayerDiagnosis::new(Self::CONFIG_LABEL, vec![warning]))
                .chain(resolver.diagnose())
                .collect(),
        }
    }

    /// The config file checked (absolute), or `None` when none was found.
    pub fn config(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    /// The config's checks (label [`Diagnosis::CONFIG_LABEL`]), then each layer's, in chain order.
    pub fn layers(&self) -> &[LayerDiagnosis] {
        &self.layers
    }

    /// The worst status of any check: [`Status::Ok`] only when every check is.
    pub fn status(&self) -> Status {
        self.layers
            .iter()
            .map(LayerDiagnosis::status)
            .max()
            .unwrap_or(Status::Ok)
    }

    /// Whether every check is [`Status::Ok`]; a warning counts as not well.
    pub fn is_ok(&self) -> bool {
        self.status() == Status::Ok
    }
}

/// One layer's checks, under its label (`env`, `sops:/etc/app/secrets.yaml`, or `config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDiagnosis {
    label: String,
    checks: Vec<Check>,
}

impl LayerDiagnosis {
    pub(crate) fn new(label: impl Into<String>, checks: Vec<Check>) -> Self {
        Self {
            label: label.into(),
            checks,
        }
    }

    /// The layer's label, as in errors.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The layer's checks, in the order it made them. Empty for a layer that has none.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The worst status of the layer's checks; [`Status::Ok`] when it has none.
    pub fn status(&self) -> Status {
        self.checks
            .iter()
            .map(Check::status)
            .max()
            .unwrap_or(Status::Ok)
    }
}

/// One finding about a layer: its status, what it is about, and what was found.
///
/// Built by providers in [`crate::Provider::diagnose`]. The message is a sentence a user can act
/// on (`mode 0644 gives group or others access; run chmod 600 /srv/app/keys.txt`), and never
/// contains a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    status: Status,
    subject: String,
    message: String,
}

impl Check {
    /// A check that passed.
    pub fn ok(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Ok, subject, message)
    }

    /// Something works but deserves attention (loose file permissions, no variable with the
    /// prefix).
    pub fn warn(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Warn, subject, message)
    }

    /// Something keeps the layer from serving (a missing file, no key that opens it).
    pub fn fail(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Fail, subject, message)
    }

    /// A check with the given status.
    pub fn new(status: Status, subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            subject: subject.into(),
            message: message.into(),
        }
    }

    /// How it came out.
    pub fn status(&self) -> Status {
        self.status
    }

    /// What was checked, in a word or two: `file`, `key file`, `decryption`, `variables`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// What was found.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// How a [`Check`] came out, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but deserves attention.
    Warn,
    /// Keeps the layer (or the config) from serving.
    Fail,
}

impl Status {
    /// `ok`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The check of a file that holds secrets or keys: [`Status::Ok`] with its mode when only its
/// owner has access, a warning naming the `chmod` that fixes it when group or others have any.
/// `None` where file modes do not exist (not Unix).
pub(crate) fn private_file(
    subject: &str,
    path: &Path,
    metadata: &std::fs::Metadata,
) -> Option<Check> {
    let mode = mode(metadata)?;
    Some(if mode & 0o077 == 0 {
        Check::ok(subject, format!("{}, mode {mode:04o}", path.display()))
    } else {
        Check::warn(
            subject,
            format!(
                "mode {mode:04o} gives group or others access; run chmod 600 {}",
                path.display()
            ),
        )
    })
}

/// The config file's mode: a warning when group or others may write it, since whoever can
/// change the config decides where secrets are read from.
fn config_mode(path: &Path, metadata: &std::fs::Metadata) -> Option<Check> {
    let mode = mode(metadata)?;
    Some(if mode & 0o022 == 0 {
        Check::ok("mode", format!("{mode:04o}"))
    } else {
        Check::warn(
            "mode",
            format!(
                "{mode:04o} lets group or others change the config, and with it where secrets \
                 are read from; run chmod go-w {}",
                path.display()
            ),
        )
    })
}

#[cfg(unix)]
fn mode(metadata: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(metadata.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode(_metadata: &std::fs::Metadata) -> Option<u32> {
    None
}

/// `1 layer`, `3 layers`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_check_decides_and_no_checks_is_ok() {
        let layer = |checks| LayerDiagnosis::new("x", checks);
        assert_eq!(layer(vec![]).status(), Status::Ok);
        assert_eq!(
            layer(vec![Check::ok("a", ""), Check::warn("b", "")]).status(),
            Status::Warn
        );
        let diagnosis = Diagnosis {
            config: None,
            layers: vec![
                layer(vec![Check::fail("a", "")]),
                layer(vec![Check::warn("b", "")]),
            ],
        };
        assert_eq!(diagnosis.status(), Status::Fail);
        assert!(!diagnosis.is_ok());
    }

    #[test]
    fn a_resolver_reports_its_layers_in_chain_order_overrides_first() {
        let resolver = Resolver::builder()
            .provider(EnvProvider::new())
            .override_secret("a", "value-never-shown")
            .override_secret("b", "value-never-shown")
            .build();
        let layers = resolver.diagnose();
        let labels: Vec<&str> = layers.iter().map(LayerDiagnosis::label).collect();
        assert_eq!(labels, ["override", "env"]);
        assert_eq!(
            layers[0].checks(),
            [Check::ok("values", "2 overrides set in code")]
        );
    }

    #[cfg(unix)]
    #[test]
    fn modes_open_to_group_or_others_are_warnings() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        std::fs::write(&path, "").unwrap();
        let check_with = |mode| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let metadata = std::fs::metadata(&path).unwrap();
            (
                private_file("key file", &path, &metadata).unwrap(),
                config_mode(&path, &metadata).unwrap(),
            )
        };
        let (key, config) = check_with(0o600);
        assert_eq!((key.status(), config.status()), (Status::Ok, Status::Ok));
        let (key, config) = check_with(0o644);
        assert_eq!((key.status(), config.status()), (Status::Warn, Status::Ok));
        assert!(key.message().contains("mode 0644"), "{}", key.message());
        assert!(key.message().contains("chmod 600"), "{}", key.message());
        let (key, config) = check_with(0o660);
        assert_eq!(
            (key.status(), config.status()),
            (Status::Warn, Status::Warn)
        );
        assert!(
            config.message().contains("chmod go-w"),
            "{}",
            config.message()
        );
    }
}
