//! What can go wrong with a vault file (ours or sv-vault's). Messages name files, secrets and
//! parameters, never a value, a key or a password.

use std::io;
use std::path::PathBuf;

use crate::bounded_read::ReadError;
use crate::shamir::ShamirError;

use super::crypto::KdfParams;

/// Why a vault could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The password does not open the vault's data key. The same check fails when the header (the
    /// vault id, epoch or Argon2 parameters) was modified: the two cannot be told apart.
    #[error(
        "wrong password for the vault {} (or its header was modified)",
        path.display()
    )]
    WrongPassword {
        /// The vault.
        path: PathBuf,
    },
    /// The file is not a vault, or is cut short: it does not parse.
    #[error("the vault {} is corrupt or truncated: {reason}", path.display())]
    Corrupt {
        /// The vault.
        path: PathBuf,
        /// What does not parse, without any of the content.
        reason: String,
    },
    /// The file parses but fails authentication under its data key: an entry or the manifest was
    /// modified, dropped, swapped, or replaced by an older copy.
    #[error(
        "the vault {} failed its integrity check: {what} was modified, dropped, swapped or \
         rolled back to an older copy; restore it from a backup",
        path.display()
    )]
    Integrity {
        /// The vault.
        path: PathBuf,
        /// The part that failed: `the manifest`, `entry `db.password``.
        what: String,
    },
    /// The vault is an older copy than one seen before on this machine: the whole file was rolled
    /// back (or restored from a backup).
    #[error(
        "the vault {} is at generation {found}, older than generation {seen} seen before on this \
         machine: it was rolled back to an older copy; if you restored it on purpose, accept it \
         with --accept-older",
        path.display()
    )]
    RolledBack {
        /// The vault.
        path: PathBuf,
        /// Its generation.
        found: u64,
        /// The highest generation seen.
        seen: u64,
    },
    /// The file is of a format version (or uses a key derivation) this build does not read.
    #[error(
        "the vault {} uses {found}, which this version of secret-cascade does not read; \
         upgrade secret-cascade",
        path.display()
    )]
    UnsupportedVersion {
        /// The vault.
        path: PathBuf,
        /// What it uses: `format version 2`, `key derivation scrypt`.
        found: String,
    },
    /// The vault's Argon2id parameters are below the floor this program accepts.
    #[error(
        "the vault {} derives its key with Argon2id {params}, below the floor {floor}; refusing \
         to use a weak password key (re-create it with `vault-file passwd`, which writes the \
         floor's parameters, using a program that accepts the old ones)",
        path.display()
    )]
    WeakKdf {
        /// The vault.
        path: PathBuf,
        /// Its parameters.
        params: KdfParams,
        /// The floor.
        floor: KdfParams,
    },
    /// The vault is locked: no password was given and no unlocked key is in the kernel keyring.
    #[error("the vault {} is locked: {how}", path.display())]
    Locked {
        /// The vault.
        path: PathBuf,
        /// What to do: give a password file, run `vault-file unlock`.
        how: String,
    },
    /// The vault file does not exist.
    #[error(
        "no vault at {} (create one with `secret-cascade vault-file init`)",
        path.display()
    )]
    NoVault {
        /// The path looked at.
        path: PathBuf,
    },
    /// The vault has no secret of this name.
    #[error("no secret `{name}` in the vault {}", path.display())]
    NotFound {
        /// The vault.
        path: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// A vault already exists where one was to be created.
    #[error("a vault already exists at {}; refusing to overwrite it", path.display())]
    VaultExists {
        /// The path.
        path: PathBuf,
    },
    /// The vault has a secret of this name already (`add`; `update` changes one).
    #[error(
        "the vault {} has a secret `{name}` already (use `update` to change it)",
        path.display()
    )]
    AlreadyExists {
        /// The vault.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// Recovery shares that cannot be used: unreadable, a bad checksum, of different vaults or
    /// epochs, duplicated, too few, or giving a key that does not open the vault.
    #[error("bad recovery shares: {reason}")]
    BadShares {
        /// What is wrong with which share (its number), never its content.
        reason: String,
    },
    /// Something other than a vault's content is wrong: an empty name, a value that is not text,
    /// split parameters out of range.
    #[error("{reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// Another process replaced the vault between reading and writing it; nothing was written.
    #[error(
        "the vault {} changed while this command ran; nothing was written: run it again",
        path.display()
    )]
    Conflict {
        /// The vault.
        path: PathBuf,
    },
    /// The kernel keyring could not be used to keep or find an unlocked key.
    #[error("the kernel keyring is unavailable ({reason}); the password is needed each time")]
    KeyringUnavailable {
        /// Why.
        reason: String,
    },
    /// Reading the file failed.
    #[error("cannot read the vault {}: {source}", path.display())]
    Read {
        /// The vault.
        path: PathBuf,
        /// The failure.
        #[source]
        source: ReadError,
    },
    /// Writing the file (or taking its edit lock) failed; the old file is intact.
    #[error("cannot {action} the vault {}: {source}", path.display())]
    Write {
        /// The vault.
        path: PathBuf,
        /// `write`, `take the edit lock of`, `create the folder of`.
        action: &'static str,
        /// The failure.
        #[source]
        source: io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("the random number generator failed: {0}")]
    Random(getrandom::Error),
}

impl From<ShamirError> for VaultError {
    fn from(error: ShamirError) -> Self {
        match error {
            ShamirError::Random(e) => Self::Random(e),
            other => Self::BadShares {
                reason: other.to_string(),
            },
        }
    }
}
