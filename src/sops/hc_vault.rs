//! Vault/OpenBao transit master keys (`hc_vault` entries): the data key encrypted by the transit
//! engine of a server.

use super::keys::RecipientError;
use super::master_key::{KeyFailure, Payload, VaultKey};

/// Opens an `hc_vault` entry's data key through the server's transit engine.
pub(crate) fn unwrap(_key: &VaultKey) -> Result<Option<Payload>, KeyFailure> {
    Ok(None)
}

/// Encrypts `payload` with the transit key at `uri`
/// (`https://host:8200/v1/transit/keys/name`).
pub(crate) fn wrap(
    _payload: &[u8],
    uri: &str,
    _created_at: &str,
) -> Result<VaultKey, RecipientError> {
    Err(RecipientError::unusable(
        uri,
        "Vault transit keys are not supported yet",
    ))
}
