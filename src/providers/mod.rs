//! The built-in layers, one file per source.
//!
//! Each file opens with what its config `kind` is, its options, how a name maps to the backend,
//! and when it answers *unavailable* rather than failing. `modelmesh` is not a source: it reads
//! the options every ModelMesh connector id shares.

mod dotenv;
mod env;
mod json;
mod keyring;
mod memory;
mod modelmesh;
pub(crate) mod overrides;
mod sops;

pub use dotenv::DotenvProvider;
pub use env::EnvProvider;
pub use json::JsonProvider;
pub use keyring::{Backend, KeyringProvider};
pub use memory::MemoryProvider;
pub use sops::SopsProvider;
