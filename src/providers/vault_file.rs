//! `kind: vault-file` (connector id `secret-cascade.vault-file.v1`): our master-password vault
//! file ([`crate::vault_file`], made and changed with `secret-cascade vault-file`).
//!
//! Options: `path` (default `$XDG_DATA_HOME/secret-cascade/vault`, else
//! `~/.local/share/secret-cascade/vault`), and `password_file` (a file whose first line is the
//! password) or `password` (usually a reference: `${secrets:vault.password}`, `${env:X}`), both
//! optional: without them only a key kept by `secret-cascade vault-file unlock` in the kernel
//! keyring opens the vault; `generations_file` (default
//! `$XDG_STATE_HOME/secret-cascade/vault-generations.json`), where the highest generation of each
//! vault seen is kept. Argon2id parameters below [`KdfParams::FLOOR`] are refused.
//!
//! Names are flat: the request's qualified name (`scope.name`) or key path, joined with dots, is
//! one name of the vault (`db.password`). Records carry the vault's `path` and the `key`.
//!
//! The key comes from the kernel keyring when a `vault-file unlock` kept one for the vault's
//! current epoch, else from the password (Argon2id, once: the data key is then kept in memory for
//! the vault's id and epoch). The opened vault is kept while the file's identity is unchanged.
//!
//! A vault that does not exist is *unavailable*, and so is a locked one (no password configured,
//! no unlocked key). A vault that exists but does not open (a wrong password, a modified or
//! truncated file, a version this build does not read, weak Argon2 parameters) is an
//! [`Error::Provider`] whose source is a [`VaultError`] (exit 3).
//!
//! A vault older than a copy of it seen before on this machine (its authenticated generation
//! below the mark in `$XDG_STATE_HOME/secret-cascade/vault-generations.json`) was rolled back
//! and is refused ([`SeenGenerations`]).
//!
//! The layer can be written ([`Management`]: `set` adds or updates, `list`, `delete`), each write
//! reading the vault again under its edit lock.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use secrecy::{ExposeSecret, SecretString};
use tracing::warn;

use crate::cache::FileIdentity;
use crate::check::{self, Check};
use crate::error::{Attempt, ConfigError, Error, Outcome};
use crate::options::Options;
use crate::provider::{Answer, Management, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;
use crate::vault_file::{
    DataKey, KdfParams, Password, SeenGenerations, Vault, VaultError, VaultIdentity, unlock,
};

/// Reads (and writes) one vault file.
pub struct VaultFileProvider {
    path: PathBuf,
    label: String,
    password: Option<Password>,
    /// The vault as last opened, with the file's identity then.
    opened: Mutex<Option<(FileIdentity, Arc<Vault>)>>,
    /// The data key last obtained, for the vault id and epoch it opens.
    key: Mutex<Option<(VaultIdentity, DataKey)>>,
    /// The highest generation of each vault seen on this machine (rollback detection).
    seen: Option<SeenGenerations>,
}

impl VaultFileProvider {
    /// A layer for the vault at `path`, opened with `password` when no unlocked key is kept.
    pub fn new(path: impl Into<PathBuf>, password: Option<Password>) -> Self {
        let path = path.into();
        Self {
            label: format!("vault-file:{}", path.display()),
            path,
            password,
            opened: Mutex::new(None),
            key: Mutex::new(None),
            seen: SeenGenerations::default_location(),
        }
    }

    /// The layer `kind: vault-file` describes: `path`, `password_file` or `password`,
    /// `generations_file`.
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let path = match options.path("path")? {
            Some(path) => path,
            None => crate::vault_file::default_path().ok_or_else(|| {
                options.error(
                    None,
                    "missing `path`, and neither XDG_DATA_HOME nor HOME is set to find the \
                     default vault",
                )
            })?,
        };
        let mut provider = Self::new(path, password_options(options, false)?);
        if let Some(file) = options.path("generations_file")? {
            provider.seen = Some(SeenGenerations::at(file));
        }
        Ok(provider)
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The vault, opened (from memory while the file is unchanged); `Ok(None)` when it does not
    /// exist.
    fn open(&self) -> Result<Option<Arc<Vault>>, VaultError> {
        let identity = match FileIdentity::of(&self.path) {
            Ok(identity) => identity,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(VaultError::Read {
                    path: self.path.clone(),
                    source: crate::bounded_read::ReadError::Io(e.into()),
                });
            }
        };
        let mut slot = lock(&self.opened);
        if let Some((_, vault)) = slot.as_ref().filter(|(known, _)| *known == identity) {
            return Ok(Some(Arc::clone(vault)));
        }
        let vault = match self.open_fresh() {
            Err(VaultError::NoVault { .. }) => return Ok(None),
            other => Arc::new(other?),
        };
        *slot = Some((identity, Arc::clone(&vault)));
        Ok(Some(vault))
    }

    /// Opens the vault from disk ([`Self::unlock`]), refused when it is older than a copy seen
    /// before on this machine; its generation is recorded.
    fn open_fresh(&self) -> Result<Vault, VaultError> {
        let vault = self.unlock()?;
        self.checked(&vault)?;
        Ok(vault)
    }

    /// Refuses `vault` when it was rolled back; records its generation (a failure to record is
    /// logged: the vault itself is fine).
    fn checked(&self, vault: &Vault) -> Result<(), VaultError> {
        let Some(seen) = &self.seen else {
            return Ok(());
        };
        seen.check(vault)?;
        if let Err(e) = seen.record(vault) {
            warn!(layer = %self.label, "rollback detection: {e}");
        }
        Ok(())
    }

    /// The vault opened with the key kept in memory or in the kernel keyring for its id and
    /// epoch, else with the password.
    fn unlock(&self) -> Result<Vault, VaultError> {
        let identity = Vault::identify(&self.path)?;
        if !identity.kdf.at_least(&KdfParams::FLOOR) {
            return Err(VaultError::WeakKdf {
                path: self.path.clone(),
                params: identity.kdf,
                floor: KdfParams::FLOOR,
            });
        }
        let known = lock(&self.key)
            .as_ref()
            .filter(|(id, _)| id.id == identity.id && id.epoch == identity.epoch)
            .map(|(_, key)| key.clone());
        // A kernel keyring that cannot be used is the same as one without the key.
        let known = known.or_else(|| unlock::recall(&identity).ok().flatten());
        if let Some(key) = known
            && let Ok(vault) = Vault::open_with_key(&self.path, key)
        {
            return Ok(vault);
        }
        let Some(password) = &self.password else {
            return Err(VaultError::Locked {
                path: self.path.clone(),
                how: "no `password` or `password_file` is configured and no unlocked key is in \
                      the kernel keyring; run `secret-cascade vault-file unlock`"
                    .into(),
            });
        };
        let vault = Vault::open_with_password(&self.path, &password.read()?, KdfParams::FLOOR)?;
        *lock(&self.key) = Some((vault.identity(), vault.data_key().clone()));
        Ok(vault)
    }

    /// Opens the vault afresh, applies `change` and saves it.
    fn edit(&self, change: impl FnOnce(&mut Vault) -> Result<(), VaultError>) -> Result<(), Error> {
        let mut vault = self.open_fresh().map_err(|e| self.failed(e))?;
        change(&mut vault).map_err(|e| self.failed(e))?;
        vault.save().map_err(|e| self.failed(e))?;
        self.checked(&vault).map_err(|e| self.failed(e))?;
        *lock(&self.opened) = None;
        Ok(())
    }

    fn failed(&self, error: VaultError) -> Error {
        match error {
            VaultError::NotFound { name, .. } => Error::NotFound {
                resolver: self.label.clone(),
                tried: vec![Attempt {
                    layer: self.label.clone(),
                    outcome: Outcome::Missed,
                    reason: format!("no `{name}` in the vault"),
                }],
                name,
            },
            other => Error::provider(self.label.clone(), other),
        }
    }
}

impl Provider for VaultFileProvider {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let name = request.document_key();
        let vault = match self.open() {
            Ok(Some(vault)) => vault,
            Ok(None) => return Ok(Answer::Unavailable(Reason::deferred())),
            Err(VaultError::Locked { .. }) => {
                return Ok(Answer::Unavailable(
                    "the vault is locked (no password configured, no unlocked key)".into(),
                ));
            }
            Err(e) => return Err(self.failed(e)),
        };
        match vault.get(name) {
            Ok(value) => Ok(Answer::Hit(SecretRecord::new(
                SecretString::from(value.as_str()),
                SecretSource::VaultFile,
                Metadata::new()
                    .with("path", self.path.display().to_string())
                    .with("key", name),
            ))),
            Err(VaultError::NotFound { .. }) => Ok(Answer::Miss(Reason::deferred())),
            Err(e) => Err(self.failed(e)),
        }
    }

    fn explain(&self, request: &SecretRequest) -> String {
        if !self.path.exists() {
            return format!("{} does not exist", self.path.display());
        }
        format!("no `{}` in the vault", request.document_key())
    }

    fn diagnose(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        match std::fs::metadata(&self.path) {
            Ok(metadata) => checks.extend(check::private_file("file", &self.path, &metadata)),
            Err(e) => {
                checks.push(Check::fail(
                    "file",
                    format!("cannot read {}: {e}", self.path.display()),
                ));
                return checks;
            }
        }
        checks.push(match self.open_fresh() {
            Ok(vault) => Check::ok(
                "decryption",
                format!("opens; {}", check::count(vault.entries().count(), "secret")),
            ),
            Err(e @ VaultError::Locked { .. }) => Check::warn("decryption", e.to_string()),
            Err(e) => Check::fail("decryption", e.to_string()),
        });
        checks
    }

    fn management(&self) -> Option<&dyn Management> {
        Some(self)
    }
}

impl Management for VaultFileProvider {
    fn set(&self, name: &str, value: SecretString) -> Result<(), Error> {
        self.edit(|vault| {
            let value = value.expose_secret();
            match vault.update(name, Some(value), None, None) {
                Err(VaultError::NotFound { .. }) => vault.add(name, value, &[], ""),
                other => other,
            }
        })
    }

    fn list(&self) -> Result<Vec<String>, Error> {
        match self.open().map_err(|e| self.failed(e))? {
            Some(vault) => Ok(vault.entries().map(|e| e.name.to_owned()).collect()),
            None => Ok(Vec::new()),
        }
    }

    fn delete(&self, name: &str) -> Result<(), Error> {
        self.edit(|vault| vault.delete(name))
    }
}

impl fmt::Debug for VaultFileProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultFileProvider")
            .field("path", &self.path)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

/// `password_file` or `password` (not both); `required` makes one of them mandatory.
pub(super) fn password_options(
    options: &mut Options<'_>,
    required: bool,
) -> Result<Option<Password>, ConfigError> {
    let file = options.path("password_file")?;
    let given = options.secret("password")?;
    match (file, given) {
        (Some(_), Some(_)) => Err(options.error(
            Some("password"),
            "give `password_file` or `password`, not both",
        )),
        (Some(file), None) => Ok(Some(Password::File(file))),
        (None, Some(text)) => Ok(Some(Password::Given(text))),
        (None, None) if required => Err(options.error(
            None,
            "missing `password_file` or `password` (usually a reference such as \
             `${secrets:NAME}` or `${env:NAME}`)",
        )),
        (None, None) => Ok(None),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
