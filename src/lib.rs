//! Resolve secrets by name through an ordered chain of sources, and get back a record that knows
//! where the value came from and wipes it from memory when dropped.
//!
//! ```text
//! overrides (in code) -> environment -> OS keyring -> SOPS-encrypted files -> ... -> default
//! ```
//!
//! The first layer that has the name wins. A layer that cannot be consulted (no keyring daemon,
//! no file) is skipped and named in the error if nothing is found; a layer that is present but
//! broken (a tampered file, a wrong key) stops the chain with an error and is never papered over
//! by a later layer or a default.
//!
//! ```
//! use secret_cascade::providers::EnvProvider;
//! use secret_cascade::{ExposeSecret, Resolver, SecretRequest, SecretSource, with_sensitive};
//!
//! let resolver = Resolver::builder()
//!     .name("example")
//!     .provider(EnvProvider::new().with_prefix("EXAMPLE"))
//!     .build();
//!
//! // Not in the environment: the request's default answers, and the record says so.
//! let request = SecretRequest::new("smtp.password").with_scope("mail").with_default("dev-only");
//! let record = resolver.resolve(&request)?;
//! assert_eq!(record.source(), SecretSource::Default);
//!
//! // Use the value in a closure; the buffer is zeroized when the closure returns or panics.
//! let length = with_sensitive(record, |password: &str| password.len());
//! assert_eq!(length, 8);
//!
//! // `lookup` is `resolve` with "not found" as `None` instead of an error.
//! assert!(resolver.lookup(&SecretRequest::new("absent.name"))?.is_none());
//! # Ok::<(), secret_cascade::Error>(())
//! ```
//!
//! # Beyond resolving
//!
//! - [`sops`]: the SOPS file format, native: decrypt ([`sops::decrypt_file`]), encrypt
//!   ([`sops::encrypt`]) and edit ([`sops::edit_file`], [`sops::EditableFile`]) files the real
//!   sops 3.11 reads, keeping every unchanged ciphertext; `.sops.yaml` creation rules.
//! - [`atomic_write`]: replace a file so readers see the old or the new content, never a mix.
//! - [`shred`]: overwrite a file in place, then delete it (with what that cannot guarantee).
//! - [`init`]: a new age identity, `.sops.yaml` and starter config.
//! - [`Diagnosis`]: whether every configured layer can serve (`secret-cascade doctor`).
//!
//! # Threat model
//!
//! What this crate protects against:
//!
//! - **Accidental disclosure.** No `Debug`, `Display`, error message or log line of this crate
//!   contains a value; records have no `Serialize` and no `Clone`. The only way to the plaintext is
//!   [`ExposeSecret::expose_secret`] (or the `&str` handed to a [`with_sensitive`] closure), so a
//!   search for `expose_secret` finds every place a value leaves its guard.
//! - **Plaintext lingering in freed memory.** Values live in zeroizing buffers ([`SecretString`])
//!   that are overwritten when the record is dropped; [`SensitiveGuard`] overwrites in place when
//!   it drops, also during a panic. Intermediate copies made while reading a value, hashing it for
//!   the MAC or writing it out (a [`PlaintextBuffer`] wipes its old allocation before it grows) are
//!   wiped too.
//! - **Silent fallbacks.** A present but broken source is an error, never a quiet default.
//! - **Plaintext on disk.** Writing SOPS files happens in memory; files are replaced atomically
//!   and a file that fails verification is never rewritten.
//!
//! What it does **not** guarantee:
//!
//! - Copies outside this crate's buffers: the process environment keeps its own copy of every
//!   variable, a keyring daemon or the kernel keeps theirs, and whatever the caller copies out of
//!   an exposed `&str` is the caller's to protect.
//! - Swap, hibernation files and core dumps: memory is not locked (`mlock`) and core dumps are not
//!   disabled.
//! - Another process of the same user, a debugger, or root: they can read this process's memory.
//! - Compiler-made copies (registers, moved stack values) that `zeroize` cannot reach.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod atomic_write;
mod bounded_read;
mod cache;
mod check;
pub mod config;
mod diagnosis;
mod error;
pub mod init;
mod kstlib;
mod options;
mod plaintext;
mod provider;
pub mod providers;
mod record;
mod request;
mod resolver;
mod sensitive;
pub mod shamir;
pub mod shred;
pub mod sops;
mod timestamp;
mod value_cache;
mod vault_api;
pub mod vault_file;
mod watch;
mod words;

pub use cache::{DocumentCache, FileIdentity, Freshness};
pub use check::{Check, LayerDiagnosis, Status};
pub use diagnosis::Diagnosis;
pub use error::{Attempt, ConfigError, Error, Outcome};
pub use plaintext::PlaintextBuffer;
pub use provider::{Answer, Management, Provider, Reason};
pub use record::{Metadata, SecretRecord, SecretSource};
pub use request::SecretRequest;
pub use resolver::{Resolver, ResolverBuilder};
pub use secrecy::{ExposeSecret, SecretString};
pub use sensitive::{SensitiveGuard, with_sensitive, with_sensitive_purging};
pub use value_cache::ValueCache;
pub use watch::{settle as settle_watches, stop as stop_watching};
pub use words::UnknownWord;

/// Resolves `name` with the process-wide resolver.
///
/// The resolver is built on first use from the discovered config ([`Resolver::discover`]) and then
/// lives for the process, caches included. If building it fails, the error is returned and the
/// next call tries again.
pub fn resolve_secret(name: &str) -> Result<SecretRecord, Error> {
    config::global()?.resolve(&SecretRequest::new(name))
}
