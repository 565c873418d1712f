//! PGP master keys (`pgp` entries): the data key encrypted to an OpenPGP key.

use super::keys::{Identities, RecipientError};
use super::master_key::{KeyFailure, Payload, PgpKey};

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
