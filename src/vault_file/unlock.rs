//! An unlock that lasts: a vault's data key (never its password) kept in the Linux kernel
//! keyring, in the session keyring of the calling process (the user-session keyring when there
//! is none), with an expiry, readable by the processes that possess it only.
//!
//! The key is a `user` key named `secret-cascade-vault:<vault id>`, holding the key epoch (8 bytes)
//! and the data key (32 bytes). Its permissions are all rights for the possessor (the processes of
//! the session: the shell that ran `unlock` and its children), view for the user, nothing for
//! anyone else; the kernel removes it at the expiry. Elsewhere than Linux, or where the kernel
//! refuses keyrings (a container's seccomp profile), every call answers
//! [`VaultError::KeyringUnavailable`] and the password is asked each time.

use std::time::Duration;

use super::VaultIdentity;
use super::crypto::DataKey;
use super::error::VaultError;

/// The description of a vault's key in the keyring.
fn description(vault_id: &str) -> String {
    format!("secret-cascade-vault:{vault_id}")
}

#[cfg(target_os = "linux")]
mod kernel {
    use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
    use zeroize::Zeroizing;

    use super::*;

    fn unavailable(error: KeyError) -> VaultError {
        VaultError::KeyringUnavailable {
            reason: format!("{error:?}"),
        }
    }

    fn session() -> Result<KeyRing, VaultError> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .or_else(|_| KeyRing::from_special_id(KeyRingIdentifier::UserSession, false))
            .map_err(unavailable)
    }

    pub fn remember(
        identity: &VaultIdentity,
        key: &DataKey,
        timeout: Duration,
    ) -> Result<(), VaultError> {
        let ring = session()?;
        let mut payload = Zeroizing::new([0u8; 40]);
        payload[..8].copy_from_slice(&identity.epoch.to_be_bytes());
        payload[8..].copy_from_slice(key.expose_bytes());
        let stored = ring
            .add_key(&description(&identity.id), &payload[..])
            .map_err(unavailable)?;
        let permissions = KeyPermissionsBuilder::builder()
            .posessor(Permission::ALL)
            .user(Permission::VIEW)
            .build();
        let timeout = usize::try_from(timeout.as_secs().max(1)).unwrap_or(usize::MAX);
        let limited = stored
            .set_perms(permissions)
            .and_then(|()| stored.set_timeout(timeout));
        if let Err(e) = limited {
            let _ = stored.invalidate();
            return Err(unavailable(e));
        }
        Ok(())
    }

    pub fn recall(identity: &VaultIdentity) -> Result<Option<DataKey>, VaultError> {
        let ring = session()?;
        let stored = match ring.search(&description(&identity.id)) {
            Ok(stored) => stored,
            Err(
                KeyError::KeyDoesNotExist
                | KeyError::KeyExpired
                | KeyError::KeyRevoked
                | KeyError::AccessDenied,
            ) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let mut payload = Zeroizing::new([0u8; 40]);
        match stored.read(&mut *payload) {
            Ok(40) => {}
            Ok(_) => return Ok(None),
            Err(KeyError::KeyExpired | KeyError::KeyRevoked | KeyError::KeyDoesNotExist) => {
                return Ok(None);
            }
            Err(e) => return Err(unavailable(e)),
        }
        let epoch = u64::from_be_bytes(payload[..8].try_into().unwrap_or_default());
        if epoch != identity.epoch {
            return Ok(None);
        }
        Ok(DataKey::from_bytes(&payload[8..]))
    }

    pub fn forget(vault_id: &str) -> Result<bool, VaultError> {
        let ring = session()?;
        match ring.search(&description(vault_id)) {
            Ok(stored) => {
                stored.invalidate().map_err(unavailable)?;
                Ok(true)
            }
            Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod kernel {
    use super::*;

    fn unavailable() -> VaultError {
        VaultError::KeyringUnavailable {
            reason: "the kernel keyring exists on Linux only".into(),
        }
    }

    pub fn remember(_: &VaultIdentity, _: &DataKey, _: Duration) -> Result<(), VaultError> {
        Err(unavailable())
    }

    pub fn recall(_: &VaultIdentity) -> Result<Option<DataKey>, VaultError> {
        Err(unavailable())
    }

    pub fn forget(_: &str) -> Result<bool, VaultError> {
        Err(unavailable())
    }
}

/// Keeps `key` for the vault `identity` names until `timeout` passes (at least one second),
/// replacing a key kept before.
pub fn remember(
    identity: &VaultIdentity,
    key: &DataKey,
    timeout: Duration,
) -> Result<(), VaultError> {
    kernel::remember(identity, key, timeout)
}

/// The key kept for the vault `identity` names, if one is kept for its current epoch and has not
/// expired.
pub fn recall(identity: &VaultIdentity) -> Result<Option<DataKey>, VaultError> {
    kernel::recall(identity)
}

/// Removes the key kept for the vault `vault_id`; whether there was one.
pub fn forget(vault_id: &str) -> Result<bool, VaultError> {
    kernel::forget(vault_id)
}
