//! The trait every source of secrets implements, the three answers it can give, and the trait of
//! the layers whose secrets can be written.

use std::borrow::Cow;

use secrecy::SecretString;

use crate::check::Check;
use crate::error::Error;
use crate::record::SecretRecord;
use crate::request::SecretRequest;

/// One layer of the chain: environment, keyring, a SOPS file, ...
///
/// The resolver asks each layer in order with [`Provider::fetch`] and never looks at what kind of
/// layer it is. A provider chooses between three answers and an error:
///
/// - [`Answer::Hit`]: it has the name (an empty value is a hit);
/// - [`Answer::Miss`]: it was consulted and does not have the name; the chain goes on;
/// - [`Answer::Unavailable`]: it cannot be consulted at all (no daemon, no file, server down);
///   the chain goes on and the reason is recorded;
/// - `Err(..)`: it is present but broken (a tampered file, a wrong key, an unusable value);
///   the chain stops and no later layer or default is used in its place.
///
/// Reasons and errors name variables, files and keys, never a value.
pub trait Provider: Send + Sync {
    /// The layer's label in errors and logs: `env`, `keyring`, `sops:/etc/app/secrets.yaml`.
    fn label(&self) -> &str;

    /// Looks the request up.
    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error>;

    /// Checks whether the layer can serve, for `secret-cascade doctor` and
    /// [`crate::Resolver::diagnose`]: its files exist and are private, its keys open them, its
    /// daemon answers. Each finding is a [`Check`]; a warning means the layer works but deserves
    /// attention, a failure that it cannot serve. Checks never contain a value.
    ///
    /// The default reports nothing, so a provider written before this method existed still
    /// compiles; an empty list reads as "no checks", not as healthy proof.
    fn diagnose(&self) -> Vec<Check> {
        Vec::new()
    }

    /// The layer's [`Management`], if its secrets can be set, listed and deleted (`secret-cascade
    /// store`, [`crate::Resolver::managed_layers`]). The default, `None`, is a read-only layer.
    fn management(&self) -> Option<&dyn Management> {
        None
    }
}

/// A provider's answer to one request.
#[derive(Debug)]
pub enum Answer {
    /// Found; the record carries the value, its source and metadata.
    Hit(SecretRecord),
    /// Consulted, not there; the reason says what was looked for (`MYAPP__X is not set`).
    /// A fixed `&'static str` costs nothing on the way to a later hit; build a `String` only when
    /// the reason needs the request's details.
    Miss(Cow<'static, str>),
    /// Could not be consulted; the reason says why (`no D-Bus session`).
    Unavailable(Cow<'static, str>),
}

/// Writing a layer's secrets: ModelMesh's `SecretManagement`. Names are the layer's own (flat
/// names such as `api.key` for the memory and encrypted-file kinds). A layer with a value cache
/// evicts a name it sets or deletes.
pub trait Management: Send + Sync {
    /// Inserts `name` or replaces its value. A file-backed layer writes its file atomically
    /// before returning (creating it, mode 0600, when it does not exist yet).
    fn set(&self, name: &str, value: SecretString) -> Result<(), Error>;

    /// The names the layer holds, sorted (code-point order, as ModelMesh sorts them). Never
    /// values.
    fn list(&self) -> Result<Vec<String>, Error>;

    /// Removes `name`. A name the layer does not hold is [`Error::NotFound`], naming the layer.
    fn delete(&self, name: &str) -> Result<(), Error>;
}
