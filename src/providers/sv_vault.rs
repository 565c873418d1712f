//! `kind: sv-vault` (connector id `secret-cascade.sv-vault.v1`): a vault of sv-vault 2.0.2, read
//! as it is and never written ([`crate::vault_file::sv_vault`], `SV_VAULT_FORMAT.md`).
//!
//! Options: `path` (required: the vault directory, sv-vault's `~/.sv-vault`), and `password_file`
//! (a file whose first line is the password) or `password` (usually a reference), one required.
//!
//! A request's qualified name or key path, joined with dots, is looked up as sv-vault shows the
//! name (`db/password` asked as `db/password`) and, when no record has that exact name, in its
//! dotted form (`db.password` finds `db/password`). Records carry the directory's `path` and the
//! record's `key` (its sv-vault name).
//!
//! The vault is opened once (Argon2id, 64 MiB) and kept while neither file changes (one `stat`
//! of each per lookup). A directory without `vault.key.enc` is *unavailable*; a vault that does not
//! open (a wrong password, a truncated or modified file) is an [`Error::Provider`] whose source is
//! a [`VaultError`] (exit 3).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use secrecy::SecretString;

use crate::cache::FileIdentity;
use crate::check::{self, Check};
use crate::error::{ConfigError, Error};
use crate::options::Options;
use crate::provider::{Answer, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;
use crate::vault_file::sv_vault::{DATA_FILE, KEY_FILE, SvVault};
use crate::vault_file::{Password, VaultError};

use super::vault_file::password_options;

/// Reads one sv-vault directory.
pub struct SvVaultProvider {
    dir: PathBuf,
    label: String,
    password: Password,
    opened: Mutex<Option<(Identities, Arc<SvVault>)>>,
}

/// The identities of the key file and the data file when the vault was opened.
type Identities = (FileIdentity, FileIdentity);

impl SvVaultProvider {
    /// A layer for the sv-vault in `dir`, opened with `password`.
    pub fn new(dir: impl Into<PathBuf>, password: Password) -> Self {
        let dir = dir.into();
        Self {
            label: format!("sv-vault:{}", dir.display()),
            dir,
            password,
            opened: Mutex::new(None),
        }
    }

    /// The layer `kind: sv-vault` describes: `path`, `password_file` or `password`.
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let Some(dir) = options.path("path")? else {
            return Err(options.error(None, "missing `path`: the sv-vault directory"));
        };
        let password = password_options(options, true)?
            .ok_or_else(|| options.error(None, "missing `password_file` or `password`"))?;
        Ok(Self::new(dir, password))
    }

    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn open(&self) -> Result<Option<Arc<SvVault>>, VaultError> {
        let identity = |name: &str| FileIdentity::of(&self.dir.join(name));
        let identities = match (identity(KEY_FILE), identity(DATA_FILE)) {
            (Ok(key), Ok(data)) => (key, data),
            (Err(e), _) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            (Err(e), _) | (_, Err(e)) => {
                return Err(VaultError::Read {
                    path: self.dir.clone(),
                    source: crate::bounded_read::ReadError::Io(e.into()),
                });
            }
        };
        let mut slot = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, vault)) = slot.as_ref().filter(|(known, _)| *known == identities) {
            return Ok(Some(Arc::clone(vault)));
        }
        let vault = Arc::new(SvVault::open(&self.dir, &self.password.read()?)?);
        *slot = Some((identities, Arc::clone(&vault)));
        Ok(Some(vault))
    }
}

impl Provider for SvVaultProvider {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let name = request.document_key();
        let Some(vault) = self
            .open()
            .map_err(|e| Error::provider(self.label.clone(), e))?
        else {
            return Ok(Answer::Unavailable(Reason::deferred()));
        };
        match vault.find(name) {
            Some(entry) => Ok(Answer::Hit(SecretRecord::new(
                SecretString::from(entry.value.as_str()),
                SecretSource::SvVault,
                Metadata::new()
                    .with("path", self.dir.display().to_string())
                    .with("key", entry.name.as_str()),
            ))),
            None => Ok(Answer::Miss(Reason::deferred())),
        }
    }

    fn explain(&self, request: &SecretRequest) -> String {
        if !self.dir.join(KEY_FILE).exists() {
            return format!("no {KEY_FILE} in {}", self.dir.display());
        }
        let name = request.document_key();
        format!("no `{name}` in the sv-vault (as named or with `/` for `.`)")
    }

    fn diagnose(&self) -> Vec<Check> {
        let key_file = self.dir.join(KEY_FILE);
        let mut checks = Vec::new();
        match std::fs::metadata(&key_file) {
            Ok(metadata) => checks.extend(check::private_file("key file", &key_file, &metadata)),
            Err(e) => {
                checks.push(Check::fail(
                    "key file",
                    format!("cannot read {}: {e}", key_file.display()),
                ));
                return checks;
            }
        }
        let opened = self
            .password
            .read()
            .and_then(|password| SvVault::open(&self.dir, &password));
        checks.push(match opened {
            Ok(vault) => Check::ok(
                "decryption",
                format!("opens; {}", check::count(vault.entries().len(), "secret")),
            ),
            Err(e) => Check::fail("decryption", e.to_string()),
        });
        checks
    }
}

impl fmt::Debug for SvVaultProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SvVaultProvider")
            .field("dir", &self.dir)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}
