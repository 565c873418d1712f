//! Rollback of a whole vault file to an older copy: an older copy is complete and authentic, so
//! nothing in the file can show it. What shows it is the highest generation of each vault seen on
//! this machine, kept in `$XDG_STATE_HOME/secret-cascade/vault-generations.json` (else
//! `~/.local/state/...`): a vault whose generation (authenticated by its manifest) is below that
//! mark was rolled back. A copy restored on purpose is accepted by recording it
//! (`vault-file ... --accept-older`).
//!
//! The file holds vault ids and numbers only: `{"<vault id>": <generation>, ...}`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::atomic_write::{self, Mode};

use super::error::VaultError;
use super::{Vault, read_bytes};

/// The highest generation of each vault seen, in one file.
#[derive(Debug, Clone)]
pub struct SeenGenerations {
    path: PathBuf,
}

impl SeenGenerations {
    /// Marks kept in the file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Marks kept in `$XDG_STATE_HOME/secret-cascade/vault-generations.json`, else
    /// `~/.local/state/secret-cascade/vault-generations.json`; `None` without either variable.
    pub fn default_location() -> Option<Self> {
        std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME").map(|home| Path::new(&home).join(".local").join("state"))
            })
            .map(|dir| Self::at(dir.join("secret-cascade").join("vault-generations.json")))
    }

    /// Refuses `vault` when it is older than a generation of it seen before.
    pub fn check(&self, vault: &Vault) -> Result<(), VaultError> {
        let identity = vault.identity();
        let seen = self.read()?.get(&identity.id).and_then(Value::as_u64);
        match seen {
            Some(seen) if seen > vault.generation() => Err(VaultError::RolledBack {
                path: vault.path().to_path_buf(),
                found: vault.generation(),
                seen,
            }),
            _ => Ok(()),
        }
    }

    /// Records `vault`'s generation as the mark (raising it, or lowering it to accept an older
    /// copy restored on purpose).
    pub fn record(&self, vault: &Vault) -> Result<(), VaultError> {
        let failed = |action, source| VaultError::Write {
            path: self.path.clone(),
            action,
            source,
        };
        if let Some(folder) = self.path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| failed("create the folder of", e))?;
        }
        let _lock = atomic_write::lock(&self.path, atomic_write::DEFAULT_LOCK_TIMEOUT)
            .map_err(|e| failed("take the edit lock of", e))?;
        let mut marks = self.read()?;
        let id = vault.identity().id;
        if marks.get(&id).and_then(Value::as_u64) == Some(vault.generation()) {
            return Ok(());
        }
        marks.insert(id, vault.generation().into());
        let mut bytes = serde_json::to_vec_pretty(&marks).unwrap_or_default();
        bytes.push(b'\n');
        atomic_write::write(&self.path, &bytes, Mode::Fixed(0o600)).map_err(|e| failed("write", e))
    }

    fn read(&self) -> Result<Map<String, Value>, VaultError> {
        let bytes = match read_bytes(&self.path) {
            Ok(bytes) => bytes,
            Err(VaultError::NoVault { .. }) => return Ok(Map::new()),
            Err(e) => return Err(e),
        };
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(marks)) => Ok(marks),
            _ => Err(VaultError::Corrupt {
                path: self.path.clone(),
                reason: "the record of vault generations seen is not a JSON object; delete it \
                         to start again"
                    .into(),
            }),
        }
    }
}
