//! `kind: memory`: values held in the process, given in code ([`MemoryProvider::with_secret`]) or
//! in the config file.
//!
//! Options: `secrets`, a mapping of names to strings, usually references
//! (`api.key: ${env:API_KEY}`, `db.password: ${file:db.pass}`), expanded once when the config is
//! read. Under ModelMesh's id `modelmesh.memory-secrets.v1`: `secrets` and ModelMesh's common
//! options ([`super::modelmesh`]); `cache_enabled` and `cache_ttl_ms` are accepted and change
//! nothing, since the values are in memory already and change only through [`Management`], which
//! ModelMesh's cache follows at once too.
//!
//! Names are flat, as in ModelMesh: `api.key` is one key of the map, not a path. A request maps to
//! its qualified name (`scope.name`, or the name alone); a key path is not used. An empty value is
//! a hit, an absent name a miss. This layer is never unavailable and never fails a lookup.
//!
//! Values sit in zeroizing buffers, wiped when replaced, deleted or dropped with the layer. The
//! layer has [`Management`]: `set`, `list` (names in code-point order) and `delete` (an absent name
//! is [`Error::NotFound`] naming the layer); changes live as long as the layer and are never
//! written anywhere.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::check::{Check, count};
use crate::error::{Attempt, ConfigError, Error, Outcome};
use crate::options::Options;
use crate::provider::{Answer, Management, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;

use super::modelmesh::common_options;

/// Secrets held in memory, by flat name.
pub struct MemoryProvider {
    values: RwLock<BTreeMap<String, SecretString>>,
}

impl MemoryProvider {
    /// An empty layer.
    pub fn new() -> Self {
        Self {
            values: RwLock::new(BTreeMap::new()),
        }
    }

    /// Adds `name` (or replaces its value), builder style. The caller's `String` is wiped once
    /// copied.
    pub fn with_secret(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let value = Zeroizing::new(value.into());
        self.write()
            .insert(name.into(), SecretString::from(value.as_str()));
        self
    }

    /// The layer a config mapping describes (`kind: memory`): the `secrets` mapping.
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let secrets = options.secret_map("secrets")?;
        Ok(secrets
            .into_iter()
            .fold(Self::new(), |provider, (name, mut value)| {
                provider.with_secret(name, std::mem::take(&mut *value))
            }))
    }

    /// The layer a ModelMesh config describes (`modelmesh.memory-secrets.v1`): `secrets` and the
    /// common options, whose cache has nothing to do here.
    pub fn from_modelmesh_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let provider = Self::from_options(options)?;
        common_options(options)?;
        Ok(provider)
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, SecretString>> {
        self.values.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, SecretString>> {
        self.values.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for MemoryProvider {
    fn label(&self) -> &str {
        "memory"
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let values = self.read();
        // Without a scope the name is the key as it is: no `scope.name` string to build.
        let scoped;
        let name = match request.scope() {
            None => request.name(),
            Some(_) => {
                scoped = request.qualified_name();
                &scoped
            }
        };
        Ok(match values.get(name) {
            Some(value) => Answer::Hit(SecretRecord::new(
                SecretString::from(value.expose_secret()),
                SecretSource::Memory,
                Metadata::new().with("name", name),
            )),
            None => Answer::Miss(Reason::deferred()),
        })
    }

    fn explain(&self, request: &SecretRequest) -> String {
        format!("no `{}` in memory", request.qualified_name())
    }

    fn diagnose(&self) -> Vec<Check> {
        let held = count(self.read().len(), "secret");
        vec![Check::ok("values", format!("{held} held in memory"))]
    }

    fn management(&self) -> Option<&dyn Management> {
        Some(self)
    }
}

impl Management for MemoryProvider {
    fn set(&self, name: &str, value: SecretString) -> Result<(), Error> {
        self.write().insert(name.to_owned(), value);
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>, Error> {
        // A BTreeMap of Strings iterates in byte order, which for UTF-8 is code-point order.
        Ok(self.read().keys().cloned().collect())
    }

    fn delete(&self, name: &str) -> Result<(), Error> {
        match self.write().remove(name) {
            Some(_wiped_on_drop) => Ok(()),
            None => Err(Error::NotFound {
                name: name.to_owned(),
                resolver: self.label().to_owned(),
                tried: vec![Attempt {
                    layer: self.label().to_owned(),
                    outcome: Outcome::Missed,
                    reason: "no such name to delete".to_owned(),
                }],
            }),
        }
    }
}

impl fmt::Debug for MemoryProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryProvider")
            .field("names", &self.read().keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_part_of_the_flat_name() {
        let memory = MemoryProvider::new().with_secret("mail.smtp.password", "s");
        let scoped = SecretRequest::new("smtp.password").with_scope("mail");
        assert!(matches!(memory.fetch(&scoped), Ok(Answer::Hit(_))));
        let path = SecretRequest::new("password").with_key_path(["mail", "smtp", "password"]);
        assert!(matches!(memory.fetch(&path), Ok(Answer::Miss(_))));
    }
}
