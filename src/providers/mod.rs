//! The built-in layers, one file per source.
//!
//! Each file opens with what its config `kind` is, its options, how a name maps to the backend,
//! and when it answers *unavailable* rather than failing.

mod encrypted_file;
mod env;
mod keyring;
pub(crate) mod modelmesh;
pub(crate) mod overrides;
mod sops;
mod vault;

pub use encrypted_file::{EncryptedFileError, EncryptedFileProvider};
pub use env::EnvProvider;
pub use keyring::{Backend, KeyringProvider};
pub use sops::SopsProvider;
pub use vault::VaultProvider;
