//! What the caller asks for: a name, an optional scope, default and key path.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::error::Error;

/// A request for one secret.
///
/// The **name** is dotted (`mail.smtp.password`). The **scope** namespaces it: name-based layers
/// put it first (env: `MYAPP__MAIL__SMTP__PASSWORD` for scope `mail`, name `smtp.password`; keyring
/// username `mail:smtp.password`), and document layers prepend its segments to the path. A **key
/// path** replaces the dotted path inside documents (SOPS files and the like) with explicit
/// segments, to reach keys that contain dots; it is the complete path, the scope is not prepended.
/// The **default** is used when no layer has the name; it is held in a zeroizing buffer and never
/// shown by `Debug`.
pub struct SecretRequest {
    name: String,
    scope: Option<String>,
    default: Option<SecretString>,
    key_path: Option<Vec<String>>,
    /// Why the request cannot name anything, found once when it is built rather than on every
    /// lookup.
    problem: Option<Problem>,
    /// The document path, split and joined on the first lookup that needs it, so that a reused
    /// request costs no splitting, joining or allocation on later lookups.
    path: OnceLock<DocumentPath>,
    /// The name the first name-based layer that asked mapped this request to (its variable
    /// name), with that layer's id, so that a reused request is not mapped again.
    layer_name: OnceLock<(u64, Box<str>)>,
}

/// A document path: the segments joined with dots, and where each segment ends in that text
/// (a key-path segment may itself hold dots).
struct DocumentPath {
    joined: String,
    ends: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Problem {
    EmptySegment,
    EmptyKeyPath,
}

impl SecretRequest {
    /// A request for `name` with no scope, default or key path.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            scope: None,
            default: None,
            key_path: None,
            problem: None,
            path: OnceLock::new(),
            layer_name: OnceLock::new(),
        }
        .checked()
    }

    /// Sets the scope (`mail` in `MYAPP__MAIL__SMTP__PASSWORD`).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self.checked()
    }

    /// Sets the value to return, with source [`crate::SecretSource::Default`], when no layer has
    /// the name. `""` is a valid default.
    pub fn with_default(mut self, default: impl Into<String>) -> Self {
        // Copy into an exact-size box and wipe the caller's String, so no stray copy survives.
        let text = Zeroizing::new(default.into());
        self.default = Some(SecretString::from(text.as_str()));
        self
    }

    /// Sets the complete path inside documents, one segment per key or list index:
    /// `["api", "token"]`, `["hosts", "db.internal"]`, `["replicas", "1", "token"]`.
    pub fn with_key_path(mut self, path: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.key_path = Some(path.into_iter().map(Into::into).collect());
        self.checked()
    }

    /// The name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scope, if any.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// `scope.name` with a scope, else the name: how overrides are keyed and errors name it.
    pub fn qualified_name(&self) -> String {
        match &self.scope {
            Some(scope) => format!("{scope}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The segments of the scope and then of the name, split on dots: what name-based layers map.
    pub fn name_segments(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .into_iter()
            .flat_map(|scope| scope.split('.'))
            .chain(self.name.split('.'))
    }

    /// The key path, if one was given ([`SecretRequest::with_key_path`]).
    pub fn key_path(&self) -> Option<&[String]> {
        self.key_path.as_deref()
    }

    /// The path inside a document: the key path if one was given, else the name segments.
    pub fn document_path(&self) -> Vec<&str> {
        self.document_segments().collect()
    }

    /// Whether a default was given.
    pub fn has_default(&self) -> bool {
        self.default.is_some()
    }

    pub(crate) fn default_value(&self) -> Option<&SecretString> {
        self.default.as_ref()
    }

    /// The path inside documents joined with dots (`prod.database.password`), as records' `key`
    /// metadata names it.
    pub(crate) fn document_key(&self) -> &str {
        &self.path().joined
    }

    /// The segments of [`SecretRequest::document_path`], without allocating.
    pub(crate) fn document_segments(&self) -> impl Iterator<Item = &str> + Clone {
        let path = self.path();
        let starts = std::iter::once(0).chain(path.ends.iter().map(|end| end + 1));
        starts
            .zip(&path.ends)
            .map(|(start, &end)| &path.joined[start..end])
    }

    /// The name layer `layer` (a [`layer_id`]) maps this request to, remembered for the first
    /// layer that asks (made by `map` then); `None` for other layers, which map it themselves.
    pub(crate) fn layer_name(&self, layer: u64, map: impl FnOnce() -> String) -> Option<&str> {
        let (id, name) = self.layer_name.get_or_init(|| (layer, map().into()));
        (*id == layer).then_some(&**name)
    }

    fn path(&self) -> &DocumentPath {
        self.path.get_or_init(|| {
            let segments: Vec<&str> = match &self.key_path {
                Some(segments) => segments.iter().map(String::as_str).collect(),
                None => self.name_segments().collect(),
            };
            let mut joined = String::with_capacity(segments.iter().map(|s| s.len() + 1).sum());
            let mut ends = Vec::with_capacity(segments.len());
            for (i, segment) in segments.iter().enumerate() {
                if i > 0 {
                    joined.push('.');
                }
                joined.push_str(segment);
                ends.push(joined.len());
            }
            DocumentPath { joined, ends }
        })
    }

    /// Notes whether the request can name anything: not with an empty name or scope, an empty
    /// segment (`a..b`, `.a`), an empty key path or an empty segment in it.
    fn checked(mut self) -> Self {
        self.path = OnceLock::new();
        self.layer_name = OnceLock::new();
        let path_is_empty =
            |path: &Vec<String>| path.is_empty() || path.iter().any(String::is_empty);
        self.problem = if has_empty_segment(&self.name)
            || self.scope.as_deref().is_some_and(has_empty_segment)
        {
            Some(Problem::EmptySegment)
        } else if self.key_path.as_ref().is_some_and(path_is_empty) {
            Some(Problem::EmptyKeyPath)
        } else {
            None
        };
        self
    }

    /// Refuses requests that cannot name anything (see [`SecretRequest::checked`]).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let reason = match self.problem {
            None => return Ok(()),
            Some(Problem::EmptySegment) => format!(
                "`{}` has an empty name or segment; use names like `mail.smtp.password`",
                self.qualified_name()
            ),
            Some(Problem::EmptyKeyPath) => format!(
                "the key path for `{}` is empty or has an empty segment",
                self.qualified_name()
            ),
        };
        Err(Error::InvalidRequest { reason })
    }
}

/// A new id for a layer that maps requests to names ([`SecretRequest::layer_name`]); layers
/// that map alike may share one.
pub(crate) fn layer_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether a dotted name is empty or has an empty segment (`a..b`, `.a`, `a.`), in one pass.
fn has_empty_segment(dotted: &str) -> bool {
    let mut previous = b'.';
    for &byte in dotted.as_bytes() {
        if byte == b'.' && previous == b'.' {
            return true;
        }
        previous = byte;
    }
    previous == b'.'
}

impl fmt::Debug for SecretRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRequest")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("key_path", &self.key_path)
            .field("default", &self.default.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn document_path_prefers_the_key_path() {
        let plain = SecretRequest::new("database.password").with_scope("prod");
        assert_eq!(plain.document_path(), ["prod", "database", "password"]);
        let explicit = SecretRequest::new("ignored")
            .with_scope("prod")
            .with_key_path(["hosts", "db.internal"]);
        assert_eq!(explicit.document_path(), ["hosts", "db.internal"]);
        assert_eq!(explicit.document_key(), "hosts.db.internal");
        assert_eq!(plain.document_key(), "prod.database.password");
    }

    #[test]
    fn empty_segments_are_refused() {
        for bad in [
            SecretRequest::new(""),
            SecretRequest::new("a..b"),
            SecretRequest::new(".a"),
            SecretRequest::new("a").with_scope(""),
            SecretRequest::new("a").with_key_path(Vec::<String>::new()),
            SecretRequest::new("a").with_key_path(["x", ""]),
        ] {
            assert!(
                matches!(bad.check(), Err(Error::InvalidRequest { .. })),
                "{bad:?}"
            );
        }
        assert!(SecretRequest::new("a.b-c").with_scope("s").check().is_ok());
    }

    #[test]
    fn the_default_is_kept_but_not_shown() {
        let request = SecretRequest::new("x").with_default("fallback-value");
        assert_eq!(
            request.default_value().unwrap().expose_secret(),
            "fallback-value"
        );
        assert!(!format!("{request:?}").contains("fallback-value"));
    }
}
