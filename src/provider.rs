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

    /// Why the layer did not answer `request`, for a miss or unavailability whose reason was
    /// [`Reason::deferred`]. The resolver asks only when the whole chain misses (or trace logging
    /// is on), so a miss that a later layer makes irrelevant costs no formatting. The layer may
    /// look again (the answer describes its state now). The default says only that it missed.
    fn explain(&self, request: &SecretRequest) -> String {
        let _ = request;
        "no value (the layer gives no reason)".to_owned()
    }

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
    Miss(Reason),
    /// Could not be consulted; the reason says why (`no D-Bus session`).
    Unavailable(Reason),
}

/// Why a layer missed or could not be consulted: words, or [`Reason::deferred`] for words the
/// layer gives later through [`Provider::explain`].
///
/// A fixed `&'static str` costs nothing on the way to a later hit. A reason that needs the
/// request's details (a variable name, a key path) would cost an allocation on every miss, also
/// when a later layer answers; such a layer answers `Reason::deferred()` and formats it in
/// [`Provider::explain`], which the resolver calls only if nothing answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(Option<Cow<'static, str>>);

impl Reason {
    /// No words yet: the resolver asks [`Provider::explain`] if it needs them.
    pub const fn deferred() -> Self {
        Self(None)
    }

    /// The words given with the answer; `None` for a deferred reason.
    pub fn text(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The words: those given, else those `layer` (the layer that answered) explains for `request`.
    pub fn explain(self, layer: &dyn Provider, request: &SecretRequest) -> String {
        match self.0 {
            Some(text) => text.into_owned(),
            None => layer.explain(request),
        }
    }

    /// Like [`Reason::explain`], borrowing.
    pub fn describe(&self, layer: &dyn Provider, request: &SecretRequest) -> Cow<'_, str> {
        match &self.0 {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(layer.explain(request)),
        }
    }
}

impl From<&'static str> for Reason {
    fn from(text: &'static str) -> Self {
        Self(Some(Cow::Borrowed(text)))
    }
}

impl From<String> for Reason {
    fn from(text: String) -> Self {
        Self(Some(Cow::Owned(text)))
    }
}

impl From<Cow<'static, str>> for Reason {
    fn from(text: Cow<'static, str>) -> Self {
        Self(Some(text))
    }
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
