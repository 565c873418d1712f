//! Scoped access to a value: the plaintext is wiped when the scope ends, on panic too.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use secrecy::ExposeSecret;

use crate::cache::DocumentCache;
use crate::record::{Metadata, SecretRecord, SecretSource};

/// Runs `f` with the record's value and wipes the value when `f` returns or panics.
///
/// The record is consumed: after the call no copy of the value is left in it. Whatever `f`
/// copies out of the `&str` is the caller's to protect.
///
/// ```
/// use secret_cascade::{with_sensitive, Resolver, SecretRequest};
///
/// let resolver = Resolver::builder().override_secret("api.token", "tok-123").build();
/// let record = resolver.resolve(&SecretRequest::new("api.token"))?;
/// let length = with_sensitive(record, |token: &str| token.len());
/// assert_eq!(length, 7);
/// # Ok::<(), secret_cascade::Error>(())
/// ```
pub fn with_sensitive<R>(record: SecretRecord, f: impl FnOnce(&str) -> R) -> R {
    let guard = SensitiveGuard::new(record);
    f(guard.expose_secret())
}

/// Like [`with_sensitive`], and also drops the decrypted document the record came from (for a
/// record from a SOPS file) from `cache`, so that no other copy of the file's plaintext stays in
/// memory once `f` is done. Later lookups decrypt the file again.
///
/// ```
/// # use secret_cascade::{with_sensitive_purging, Resolver, SecretRequest};
/// # let resolver = Resolver::builder().override_secret("k", "v").build();
/// let record = resolver.resolve(&SecretRequest::new("k"))?;
/// with_sensitive_purging(record, resolver.document_cache(), |value: &str| value.len());
/// # Ok::<(), secret_cascade::Error>(())
/// ```
pub fn with_sensitive_purging<R>(
    record: SecretRecord,
    cache: &Arc<DocumentCache>,
    f: impl FnOnce(&str) -> R,
) -> R {
    let guard = SensitiveGuard::new(record).purging(Arc::clone(cache));
    f(guard.expose_secret())
}

/// Owns a record and zeroizes its value in place when dropped, including during unwinding.
///
/// [`with_sensitive`] is the usual way to use it; hold a guard directly when the value must stay
/// available across several statements.
pub struct SensitiveGuard {
    record: SecretRecord,
    purge: Option<Arc<DocumentCache>>,
}

impl SensitiveGuard {
    /// Takes ownership of `record`.
    pub fn new(record: SecretRecord) -> Self {
        Self {
            record,
            purge: None,
        }
    }

    /// When the guard drops, also drop the record's document (a SOPS record's file) from `cache`.
    pub fn purging(mut self, cache: Arc<DocumentCache>) -> Self {
        self.purge = Some(cache);
        self
    }

    /// Which kind of layer the value came from.
    pub fn source(&self) -> SecretSource {
        self.record.source()
    }

    /// How the layer found it.
    pub fn metadata(&self) -> &Metadata {
        self.record.metadata()
    }
}

impl ExposeSecret<str> for SensitiveGuard {
    fn expose_secret(&self) -> &str {
        self.record.expose_secret()
    }
}

impl Drop for SensitiveGuard {
    fn drop(&mut self) {
        self.record.wipe();
        if let (Some(cache), Some(path)) = (&self.purge, self.record.metadata().get("path")) {
            cache.purge(Path::new(path));
        }
        #[cfg(test)]
        tests::observe_wiped(self.record.expose_secret());
    }
}

impl fmt::Debug for SensitiveGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SensitiveGuard")
            .field("record", &self.record)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;

    thread_local! {
        /// The bytes of the last guard's buffer, read after its wipe and before it is freed.
        static LAST_WIPED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    }

    pub(super) fn observe_wiped(buffer: &str) {
        LAST_WIPED.with(|last| *last.borrow_mut() = Some(buffer.as_bytes().to_vec()));
    }

    fn last_wiped() -> Vec<u8> {
        LAST_WIPED
            .with(|last| last.borrow_mut().take())
            .expect("no guard was dropped")
    }

    fn record(value: &str) -> SecretRecord {
        SecretRecord::new(value.into(), SecretSource::Override, Metadata::new())
    }

    #[test]
    fn value_is_wiped_when_the_closure_returns() {
        let seen = with_sensitive(record("hunter2"), |value| value.to_owned());
        assert_eq!(seen, "hunter2");
        assert_eq!(last_wiped(), vec![0u8; 7]);
    }

    #[test]
    fn value_is_wiped_when_the_closure_panics() {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            with_sensitive(record("hunter2!"), |_| panic!("closure failed"))
        }));
        assert!(outcome.is_err());
        assert_eq!(last_wiped(), vec![0u8; 8]);
    }

    #[test]
    fn guard_shows_no_value() {
        let guard = SensitiveGuard::new(record("hunter2"));
        assert_eq!(guard.expose_secret(), "hunter2");
        assert!(!format!("{guard:?}").contains("hunter2"));
        drop(guard);
        assert_eq!(last_wiped(), vec![0u8; 7]);
    }
}
