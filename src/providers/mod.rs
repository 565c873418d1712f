//! The built-in layers, one file per source.
//!
//! Each file opens with what its config `kind` is, its options, how a name maps to the backend,
//! and when it answers *unavailable* rather than failing. `modelmesh` is not a source: it holds
//! what every ModelMesh connector id shares (its common options, and the layer around a kind
//! that applies them).

mod dotenv;
mod encrypted_file;
mod env;
mod json;
mod keyring;
mod memory;
pub(crate) mod modelmesh;
pub(crate) mod overrides;
mod sops;
mod sv_vault;
mod vault;
mod vault_file;

pub use dotenv::DotenvProvider;
pub use encrypted_file::{EncryptedFileError, EncryptedFileProvider};
pub use env::EnvProvider;
pub use json::JsonProvider;
pub use keyring::{Backend, KeyringProvider};
pub use memory::MemoryProvider;
pub use sops::SopsProvider;
pub use sv_vault::SvVaultProvider;
pub use vault::VaultProvider;
pub use vault_file::VaultFileProvider;
