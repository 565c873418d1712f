//! The one error type of the crate, and the typed parts a caller may want to match on.
//!
//! No `Display` or `Debug` here ever contains a secret value: errors carry names, paths, layer
//! labels and reasons written by this crate, never the text of a value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything that can go wrong while resolving a secret.
///
/// The command-line tool maps these to its exit codes: `NotFound` is 1, `Config` and
/// `InvalidRequest` are 2, `Decryption` and `Provider` are 3 (6 for a SOPS file whose keys are
/// all of unsupported types), `Unavailable` is 4, `Denied` is 5.
///
/// `Debug` prints the message and its chain of causes, so that `fn main() -> Result<(), Error>`
/// and `unwrap` show what went wrong in words; match on the variants for the parts.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No layer had the secret and the request carried no default.
    #[error(
        "secret `{name}` not found by resolver `{resolver}`; tried: {}",
        Tried(tried)
    )]
    NotFound {
        /// The requested name (with its scope, if any: `scope.name`).
        name: String,
        /// The resolver's name, from the config file or the builder.
        resolver: String,
        /// Every layer asked, in order, with why it did not answer.
        tried: Vec<Attempt>,
    },

    /// The config file could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// An encrypted source is present but could not be decrypted or verified: no key opens it,
    /// the file was modified, a value failed authentication. The chain stops here; a default is
    /// never used in its place.
    #[error("cannot decrypt {}: {reason}", file.display())]
    Decryption {
        /// The file that failed.
        file: PathBuf,
        /// What failed, without any value.
        #[source]
        reason: crate::sops::DecryptionError,
    },

    /// A layer is present but answered with something unusable (for example an environment
    /// variable that is not valid UTF-8), or failed in its own way (a third-party layer's error,
    /// kept as the [`source`](std::error::Error::source)). Like `Decryption`, this stops the
    /// chain. An `encrypted-file` layer whose file does not open (a wrong passphrase or key, a
    /// modified file) is this variant, its source a
    /// [`EncryptedFileError`](crate::providers::EncryptedFileError): `Decryption` carries the SOPS
    /// format's own error type.
    #[error("layer `{layer}` failed: {reason}")]
    Provider {
        /// The layer's label, as in [`Attempt::layer`].
        layer: String,
        /// What went wrong, without any value.
        reason: String,
        /// The error that caused it, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A server refused access (a Vault/OpenBao 403: a token without the policy for the path, an
    /// expired token). This stops the chain, unless the layer was configured to skip it.
    #[error("`{layer}` denied access: {reason}")]
    Denied {
        /// The layer's label.
        layer: String,
        /// What was refused, without any token or value.
        reason: String,
    },

    /// A backend that an operation needs could not be reached (writing to a keyring that has no
    /// daemon, for instance). Lookups never fail this way: an unavailable layer is skipped.
    #[error("`{layer}` is unavailable: {reason}")]
    Unavailable {
        /// The layer's label.
        layer: String,
        /// Why, without any value.
        reason: String,
    },

    /// The request cannot name any secret (an empty name, an empty segment in `a..b`).
    #[error("invalid secret request: {reason}")]
    InvalidRequest {
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.to_string();
        f.write_str(&shown)?;
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            let text = error.to_string();
            // A cause whose words the message already carries adds nothing.
            if !shown.contains(&text) {
                write!(f, "\n  caused by: {text}")?;
                shown = text;
            }
            cause = error.source();
        }
        Ok(())
    }
}

impl Error {
    /// A layer's failure caused by `source` (its own error type, boxed): an [`Error::Provider`]
    /// whose reason is `source`'s message, which must name no value.
    pub fn provider(
        layer: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        let source = source.into();
        Self::Provider {
            layer: layer.into(),
            reason: source.to_string(),
            source: Some(source),
        }
    }
}

/// One layer's answer on the way to a [`Error::NotFound`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// The layer's label (`override`, `env`, `keyring`, `sops:/path/to/file`, ...).
    pub layer: String,
    /// Whether the layer was asked and did not have it, or could not be asked at all.
    pub outcome: Outcome,
    /// Why, in words: `MYAPP__DB__PASSWORD is not set`, `no D-Bus session`.
    pub reason: String,
}

/// How a layer that did not answer came out of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The layer was consulted and does not have the name.
    Missed,
    /// The layer could not be consulted (no daemon, no file, server down) and was skipped.
    Unavailable,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome {
            Outcome::Missed => write!(f, "{} ({})", self.layer, self.reason),
            Outcome::Unavailable => write!(f, "{} (unavailable: {})", self.layer, self.reason),
        }
    }
}

/// Formats a list of attempts as `a (why); b (why); no default given`.
struct Tried<'a>(&'a [Attempt]);

impl fmt::Display for Tried<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for attempt in self.0 {
            write!(f, "{attempt}; ")?;
        }
        f.write_str("no default given")
    }
}

/// A config file that cannot be read or does not describe a valid resolver.
///
/// The message names the file, the key (as a path such as `providers[1].prefix`) and what was
/// expected. It never quotes a value from the file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    file: PathBuf,
    key: Option<String>,
    line: Option<usize>,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl ConfigError {
    pub(crate) fn new(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            key: None,
            line: None,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps `source` (an I/O failure reading the file, say) as the error's cause.
    pub(crate) fn caused_by(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn at(mut self, key: impl Into<String>, line: Option<usize>) -> Self {
        self.key = Some(key.into()).filter(|k: &String| !k.is_empty());
        self.line = line;
        self
    }

    /// The config file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The offending key as a path (`providers[0].prefix`), when the error is about one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The 1-based line in the file, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What is wrong and what was expected.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config {}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", at `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// Two config errors are equal when they say the same thing about the same place; their causes
/// are not compared.
impl PartialEq for ConfigError {
    fn eq(&self, other: &Self) -> bool {
        (&self.file, &self.key, self.line, &self.message)
            == (&other.file, &other.key, other.line, &other.message)
    }
}

impl Eq for ConfigError {}
