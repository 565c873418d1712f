//! PGP master keys (`pgp` entries): the data key encrypted to an OpenPGP key.

use std::path::Path;

use super::DecryptionError;
use super::keys::{Identities, RecipientError};
use super::master_key::{KeyFailure, Payload, PgpKey};

/// The PGP secret keys loaded natively, and whether the user's GnuPG may be asked.
#[derive(Default)]
pub(crate) struct PgpKeys {}

impl PgpKeys {
    /// Loads the secret keys of an armored key file.
    pub(crate) fn add_key_file(&mut self, _path: &Path) -> Result<(), DecryptionError> {
        Ok(())
    }
}

/// Opens a `pgp` entry's data key.
pub(crate) fn unwrap(
    _key: &PgpKey,
    _identities: &Identities,
) -> Result<Option<Payload>, KeyFailure> {
    Ok(None)
}

/// Encrypts `payload` to the PGP key with this fingerprint, ASCII-armored as sops stores it.
pub(crate) fn wrap(_payload: &[u8], fingerprint: &str) -> Result<String, RecipientError> {
    Err(RecipientError::unusable(
        fingerprint,
        "PGP keys are not supported yet",
    ))
}
