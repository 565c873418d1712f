//! AWS KMS master keys (`kms` entries): the data key encrypted by a KMS key.

use super::keys::RecipientError;
use super::master_key::{KeyFailure, KmsKey, KmsRecipient, Payload};

/// Opens a `kms` entry's data key with KMS Decrypt.
pub(crate) fn unwrap(_key: &KmsKey) -> Result<Option<Payload>, KeyFailure> {
    Ok(None)
}

/// Encrypts `payload` with KMS Encrypt; the base64 ciphertext blob.
pub(crate) fn wrap(_payload: &[u8], key: &KmsRecipient) -> Result<String, RecipientError> {
    Err(RecipientError::unusable(
        &key.arn,
        "AWS KMS keys are not supported yet",
    ))
}
