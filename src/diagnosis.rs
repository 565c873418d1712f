//! Health checks: can each layer of a chain serve, and is the config sound?
//!
//! [`Diagnosis`] is what `secret-cascade doctor` prints: the config file's checks (valid, not
//! writable by others) under the label `config`, then each layer's own checks from
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
//! assert_eq!(layers[0].status(), Status::Ok); // no variable yet: fine, and said so
//! ```

use std::path::{Path, PathBuf};

use crate::check::{Check, LayerDiagnosis, Status, count, mode};
use crate::config;

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
        Self::of_config_file_with(path, &config::Registry::builtin())
    }

    /// Like [`Diagnosis::of_config_file`], with the kinds of `registry` (your own among them).
    pub fn of_config_file_with(path: impl AsRef<Path>, registry: &config::Registry) -> Self {
        let path = path.as_ref();
        let file = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let mut checks = Vec::new();
        let layers = match config::load(&file, registry) {
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

    /// Like [`Diagnosis::of_config_file`] on the config file [`crate::Resolver::discover`] would
    /// use.
    /// With none, the config check is a warning (only the environment, without a prefix, is
    /// consulted) followed by that environment layer's checks.
    pub fn discover() -> Self {
        if let Some(path) = config::discover() {
            return Self::of_config_file(path);
        }
        match config::discover_kstlib() {
            Ok(None) => {}
            Ok(Some(kstlib)) => return Self::of_kstlib(&kstlib),
            Err(error) => {
                let file = error.file().to_path_buf();
                let check = Check::fail("file", format!("kstlib's config: {error}"));
                return Self {
                    config: Some(file),
                    layers: vec![LayerDiagnosis::new(Self::CONFIG_LABEL, vec![check])],
                };
            }
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
        let resolver = config::default_chain(crate::resolver::Resolver::builder()).build();
        Self {
            config: None,
            layers: std::iter::once(LayerDiagnosis::new(Self::CONFIG_LABEL, vec![warning]))
                .chain(resolver.diagnose())
                .collect(),
        }
    }

    /// The kstlib config [`crate::Resolver::discover`] falls back to: its files, then its layers.
    fn of_kstlib(kstlib: &config::KstlibConfig) -> Self {
        let files = kstlib
            .files()
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let (check, layers) = match kstlib.build(crate::resolver::Resolver::builder()) {
            Ok(builder) => {
                let resolver = builder.build();
                let check = Check::ok(
                    "file",
                    format!(
                        "no secret-cascade config; using kstlib's `secrets:` section from {files}; {}",
                        count(resolver.layers().count(), "layer")
                    ),
                );
                (check, resolver.diagnose())
            }
            Err(error) => (
                Check::fail("file", format!("kstlib's config: {error}")),
                Vec::new(),
            ),
        };
        Self {
            config: kstlib.files().last().cloned(),
            layers: std::iter::once(LayerDiagnosis::new(Self::CONFIG_LABEL, vec![check]))
                .chain(layers)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;

    #[test]
    fn the_worst_layer_decides() {
        let diagnosis = Diagnosis {
            config: None,
            layers: vec![
                LayerDiagnosis::new("a", vec![Check::fail("a", "")]),
                LayerDiagnosis::new("b", vec![Check::warn("b", "")]),
            ],
        };
        assert_eq!(diagnosis.status(), Status::Fail);
        assert!(!diagnosis.is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_config_others_may_write_is_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yml");
        std::fs::write(&path, "").unwrap();
        let check_with = |mode| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            config_mode(&path, &std::fs::metadata(&path).unwrap()).unwrap()
        };
        assert_eq!(check_with(0o644).status(), Status::Ok);
        let loose = check_with(0o660);
        assert_eq!(loose.status(), Status::Warn);
        assert!(
            loose.message().contains("chmod go-w"),
            "{}",
            loose.message()
        );
    }
}
