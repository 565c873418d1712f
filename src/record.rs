//! What a resolved secret looks like: its value, where it came from, and how it was found.

use crate::words::words;
use std::fmt;

use secrecy::{ExposeSecret, ExposeSecretMut, SecretString};
use zeroize::Zeroize;

/// Facts about where a record was found: the environment variable's name, the file's path, the
/// key inside it. Keys are fixed words chosen by each provider; values are never secret.
///
/// A short list in insertion order. The first two entries are stored inline: records carry one
/// (the variable) or two (the file and the key), and a list or map would cost an allocation on
/// every lookup.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    inline: [Option<(&'static str, String)>; 2],
    rest: Vec<(&'static str, String)>,
}

impl Metadata {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key` (or replaces its value), builder style.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        let value = value.into();
        let mut entries = self.inline.iter_mut().flatten().chain(&mut self.rest);
        if let Some(entry) = entries.find(|(k, _)| *k == key) {
            entry.1 = value;
        } else if let Some(free) = self.inline.iter_mut().find(|slot| slot.is_none()) {
            *free = Some((key, value));
        } else {
            self.rest.push((key, value));
        }
        self
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The entries in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.inline
            .iter()
            .flatten()
            .chain(&self.rest)
            .map(|(k, v)| (*k, v.as_str()))
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.inline[0].is_none()
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A resolved secret.
///
/// Immutable once built. The value is reachable only through [`ExposeSecret::expose_secret`], so a
/// search for `expose_secret` finds every place a value leaves its guard. The value lives in a
/// [`SecretString`], which zeroizes its buffer when the record is dropped. `Debug` shows the
/// source and metadata, never the value; there is no `Display`, `Clone` or `Serialize`.
pub struct SecretRecord {
    value: SecretString,
    source: SecretSource,
    metadata: Metadata,
}

impl SecretRecord {
    /// Builds a record. Providers call this with a value they have already moved into a
    /// [`SecretString`] without leaving copies behind (for example `SecretString::from(&str)` out of a
    /// [`zeroize::Zeroizing`] buffer).
    pub fn new(value: SecretString, source: SecretSource, metadata: Metadata) -> Self {
        Self {
            value,
            source,
            metadata,
        }
    }

    /// Which kind of layer answered.
    pub fn source(&self) -> SecretSource {
        self.source
    }

    /// How the layer found it: `variable` for env, `path` and `key` for files, and so on.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Overwrites the value with zeros in place. The record stays valid (an all-zero string).
    pub(crate) fn wipe(&mut self) {
        self.value.expose_secret_mut().zeroize();
    }
}

impl ExposeSecret<str> for SecretRecord {
    fn expose_secret(&self) -> &str {
        self.value.expose_secret()
    }
}

impl fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRecord")
            .field("source", &self.source)
            .field("metadata", &self.metadata)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

/// The kind of layer a record came from.
///
/// Shown (`Display`) as the kind's word (`override`, `env`, `keyring`, `sops`, `vault`,
/// `encrypted-file`, `dotenv`, `json`, `memory`, `vault-file`, `sv-vault`, `default`) or a third-party kind's name. New
/// built-in providers add variants, hence `#[non_exhaustive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretSource {
    /// A value given in code through the resolver builder.
    Override,
    /// An environment variable.
    Env,
    /// The operating system's keyring.
    Keyring,
    /// A SOPS-encrypted file.
    Sops,
    /// A Vault or OpenBao server's KV engine.
    Vault,
    /// A ModelMesh-format encrypted file (`kind: encrypted-file`).
    EncryptedFile,
    /// A dotenv file (a value the dotenv layer took from the process environment is [`Env`]).
    ///
    /// [`Env`]: SecretSource::Env
    Dotenv,
    /// A JSON file.
    Json,
    /// Values held in memory, given in code or in the config file.
    Memory,
    /// Our master-password vault file (`kind: vault-file`).
    VaultFile,
    /// A vault of sv-vault, read as it is (`kind: sv-vault`).
    SvVault,
    /// The request's default.
    Default,
    /// A layer of a kind registered outside this crate, by its kind's name (`acme-vault`).
    Other(&'static str),
}

words!(SecretSource {
    Override => "override",
    Env => "env",
    Keyring => "keyring",
    Sops => "sops",
    Vault => "vault",
    EncryptedFile => "encrypted-file",
    Dotenv => "dotenv",
    Json => "json",
    Memory => "memory",
    VaultFile => "vault-file",
    SvVault => "sv-vault",
    Default => "default";
    Self::Other(name) => name
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_display_as_their_config_words() {
        let shown: Vec<String> = [
            SecretSource::Override,
            SecretSource::Env,
            SecretSource::Keyring,
            SecretSource::Sops,
            SecretSource::Vault,
            SecretSource::EncryptedFile,
            SecretSource::Dotenv,
            SecretSource::Json,
            SecretSource::Memory,
            SecretSource::VaultFile,
            SecretSource::SvVault,
            SecretSource::Default,
            SecretSource::Other("acme-vault"),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            shown,
            [
                "override",
                "env",
                "keyring",
                "sops",
                "vault",
                "encrypted-file",
                "dotenv",
                "json",
                "memory",
                "vault-file",
                "sv-vault",
                "default",
                "acme-vault"
            ]
        );
    }

    #[test]
    fn metadata_keeps_order_and_replaces_keys() {
        let metadata = Metadata::new()
            .with("path", "/a")
            .with("key", "k")
            .with("path", "/b")
            .with("n", "1");
        assert_eq!(
            metadata.iter().collect::<Vec<_>>(),
            [("path", "/b"), ("key", "k"), ("n", "1")]
        );
        assert_eq!(metadata.get("key"), Some("k"));
        assert_eq!(metadata.get("absent"), None);
        assert!(Metadata::new().is_empty() && !metadata.is_empty());
    }

    #[test]
    fn wipe_zeroes_the_value_in_place() {
        let mut record = SecretRecord::new("abc".into(), SecretSource::Env, Metadata::new());
        record.wipe();
        assert_eq!(record.expose_secret().as_bytes(), [0, 0, 0]);
    }
}
