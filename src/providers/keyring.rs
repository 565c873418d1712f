//! `kind: keyring`: the OS keyring, through `keyring-core` and its store crates.
//!
//! Options: `service` (default `secret-cascade`), `backend` (`secret-service`, the default: the
//! freedesktop Secret Service, e.g. gnome-keyring or KWallet over D-Bus; or `keyutils`: the Linux
//! kernel's session keyring), `timeout_ms` (default 2000: how long a keyring call may take) and
//! `cache_ttl_ms` (default 0, off: how long answers are kept in this process).
//!
//! A request maps to one entry: the service, and the username `"{scope or 'default'}:{name}"`,
//! exactly kstlib's rule, so `service: kstlib` finds the entries kstlib (and Python's `keyring`
//! with that service) wrote: scope `mail`, name `smtp.password` is user `mail:smtp.password`.
//!
//! **Never blocks the chain.** No D-Bus session, no Secret Service, a locked collection, keyutils
//! denied, or a call that does not answer within the timeout make the layer *unavailable* with
//! that reason; the chain goes on and `NotFound` names it. A Secret Service call runs on a helper
//! thread that is abandoned when it times out (at most [`MAX_PENDING`] are left waiting at once;
//! beyond that the layer answers unavailable at once). No entry is a *miss*. An entry whose value
//! is not UTF-8, or several entries for one name, are errors: the keyring is there but its answer
//! is unusable, so the chain stops.
//!
//! Entries written here through the Secret Service carry the attribute `application: Python
//! keyring library`, as Python's `keyring` writes them: each tool's write then replaces the
//! other's instead of adding a second item. `set` and `delete` act on every entry of the name when
//! there are several.
//!
//! Stores are built per provider, never through keyring-core's process-wide default store, so
//! resolvers and tests do not share or fight over one. Values go from the store's buffer into a
//! zeroizing one; the store crates' own copies (and the daemon's) are theirs.

use crate::words::UnknownWord;
use crate::words::words;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyring_core::{CredentialStore, Entry};
use secrecy::SecretString;
use tracing::debug;
use zeroize::Zeroizing;

use crate::check::Check;
use crate::error::ConfigError;
use crate::error::Error;
use crate::options::Options;
use crate::provider::{Answer, Provider};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;

/// How many timed-out keyring calls may be left running before the layer stops starting new
/// ones (and answers unavailable until they finish). Calls that answer in time do not count:
/// any number may run at once.
pub const MAX_PENDING: usize = 4;

/// A helper-thread call's states.
const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const ABANDONED: u8 = 2;

/// Reads (and, for `secret-cascade keyring`, writes) secrets in the OS keyring.
pub struct KeyringProvider {
    service: String,
    timeout: Duration,
    label: String,
    shared: Arc<Shared>,
    cache: Option<AnswerCache>,
    /// ModelMesh's entry names (the name itself) instead of kstlib's (`scope:name`).
    verbatim_names: bool,
}

/// A keyring backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// The freedesktop Secret Service over D-Bus (gnome-keyring, KWallet, KeePassXC).
    SecretService,
    /// The Linux kernel's keyutils: entries in the process's session keyring, also linked into
    /// the user's persistent keyring (kept across sessions, expiring after the kernel's
    /// `persistent_keyring_expiry`, 3 days unused by default). A process without a session
    /// keyring of its own (many containers) is denied: the layer is then unavailable.
    Keyutils,
    /// An in-memory store, for tests: nothing persists beyond the provider.
    Mock,
}

impl Backend {
    /// Whether calls can block (D-Bus) and so run on a helper thread under the timeout.
    fn can_block(self) -> bool {
        self == Self::SecretService
    }
}

words!(Backend, "keyring backend" {
    SecretService => "secret-service",
    Keyutils => "keyutils",
    Mock => "mock",
});

/// What the provider's calls share with the helper threads that make them.
struct Shared {
    backend: Backend,
    /// The store, connected on first use (and again after a failure).
    store: Mutex<Option<Arc<CredentialStore>>>,
    /// Calls that timed out and whose helper thread is still waiting for the keyring.
    abandoned: AtomicUsize,
}

/// Why the keyring could not answer.
enum Failure {
    /// No such entry.
    Missing,
    /// The keyring cannot be consulted; the reason says why.
    Unavailable(String),
    /// The keyring answered with something unusable.
    Broken(String),
}

impl KeyringProvider {
    /// The service used when none is configured.
    pub const DEFAULT_SERVICE: &'static str = "secret-cascade";

    /// How long a keyring call may take when the config does not say.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// A layer for `service` in the platform's default backend (the Secret Service on Linux).
    pub fn new(service: impl Into<String>) -> Self {
        Self::with_backend(service, Backend::SecretService)
    }

    /// A layer for `service` in `backend`.
    pub fn with_backend(service: impl Into<String>, backend: Backend) -> Self {
        let service = service.into();
        Self {
            label: format!("keyring:{}", backend.as_str()),
            service,
            timeout: Self::DEFAULT_TIMEOUT,
            shared: Arc::new(Shared {
                backend,
                store: Mutex::new(None),
                abandoned: AtomicUsize::new(0),
            }),
            cache: None,
            verbatim_names: false,
        }
    }

    /// How long one keyring call may take before the layer counts as unavailable.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Keeps answers (hits and misses) in this process for `ttl`: a hot path then skips the
    /// keyring, at the price of not seeing changes for up to `ttl`. Off by default.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache = (!ttl.is_zero()).then(|| AnswerCache {
            ttl,
            answers: Mutex::new(HashMap::new()),
        });
        self
    }

    /// The service name entries are stored under.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// How long one keyring call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The keyring username for a request: `"{scope or 'default'}:{name}"`.
    pub fn username(&self, request: &SecretRequest) -> String {
        if self.verbatim_names {
            return request.qualified_name();
        }
        format!(
            "{}:{}",
            request.scope().unwrap_or("default"),
            request.name()
        )
    }

    /// Names entries as ModelMesh's keyring store does: the user is the secret's name itself
    /// (`scope.name` with a scope), not kstlib's `scope:name`.
    pub fn with_verbatim_names(mut self) -> Self {
        self.verbatim_names = true;
        self
    }

    /// `kind: modelmesh.keyring.v1`: ModelMesh's option `service_name` (default `modelmesh`),
    /// on the Secret Service, with ModelMesh's entry names.
    pub fn from_modelmesh_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let service = options
            .non_empty_string("service_name")?
            .unwrap_or_else(|| "modelmesh".to_owned());
        Ok(Self::with_backend(service, Backend::SecretService).with_verbatim_names())
    }

    /// Stores `value` for the request (replacing any value it had).
    pub fn set(&self, request: &SecretRequest, value: &str) -> Result<(), Error> {
        let user = self.username(request);
        let value = Zeroizing::new(value.as_bytes().to_vec());
        let backend = self.shared.backend;
        let outcome = self.call(&user, move |entry| {
            // Several entries (one written by Python's keyring, one by an older version of
            // this tool) all give way to the new value.
            if let Err(keyring_core::Error::Ambiguous(entries)) = entry.set_secret(&value) {
                delete_all(entries)?;
            }
            entry.set_secret(&value)?;
            if backend == Backend::SecretService {
                // Python's keyring writes this attribute and replaces (instead of duplicating)
                // only an item with exactly its attributes: with it, either tool's write
                // replaces the other's.
                let python = HashMap::from([("application", PYTHON_KEYRING_APPLICATION)]);
                entry.update_attributes(&python)?;
            }
            Ok(())
        });
        self.forget(&user);
        match outcome {
            Ok(()) => Ok(()),
            Err(failure) => Err(self.error(&user, failure, "store")),
        }
    }

    /// Removes the request's entry; `Ok(false)` when there was none.
    pub fn delete(&self, request: &SecretRequest) -> Result<bool, Error> {
        let user = self.username(request);
        let outcome = self.call(&user, |entry| match entry.delete_credential() {
            Err(keyring_core::Error::Ambiguous(entries)) => delete_all(entries),
            other => other,
        });
        self.forget(&user);
        match outcome {
            Ok(()) => Ok(true),
            Err(Failure::Missing) => Ok(false),
            Err(failure) => Err(self.error(&user, failure, "delete")),
        }
    }

    /// The layer a config mapping describes (its `kind` registered under this kind's name).
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let service = options
            .non_empty_string("service")?
            .unwrap_or_else(|| Self::DEFAULT_SERVICE.to_owned());
        let backend = match options.non_empty_string("backend")? {
            None => Backend::SecretService,
            Some(word) => word
                .parse()
                .map_err(|e: UnknownWord| options.error(Some("backend"), e.to_string()))?,
        };
        let mut provider = Self::with_backend(service, backend);
        if let Some(ms) = options.positive_integer("timeout_ms")? {
            provider = provider.with_timeout(Duration::from_millis(ms as u64));
        }
        if let Some(ms) = options.positive_integer("cache_ttl_ms")? {
            provider = provider.with_cache_ttl(Duration::from_millis(ms as u64));
        }
        Ok(provider)
    }

    /// Runs `op` on the entry for `user`: directly for backends that cannot block, on a helper
    /// thread bounded by the timeout otherwise.
    fn call<T: Send + 'static>(
        &self,
        user: &str,
        op: impl FnOnce(&Entry) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T, Failure> {
        let (service, user) = (self.service.clone(), user.to_owned());
        self.call_store(move |store| op(&store.build(&service, &user, None)?))
    }

    /// Runs `op` on the store, as [`Self::call`] does.
    fn call_store<T: Send + 'static>(
        &self,
        op: impl FnOnce(&CredentialStore) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T, Failure> {
        let shared = Arc::clone(&self.shared);
        let job = move || shared.run(op);
        if !self.shared.backend.can_block() {
            return job();
        }
        if self.shared.abandoned.load(Ordering::Acquire) >= MAX_PENDING {
            return Err(Failure::Unavailable(format!(
                "{MAX_PENDING} earlier keyring calls have not answered yet"
            )));
        }
        // The call's state, shared with its thread: whichever of "finished" and "abandoned"
        // comes second knows how to count.
        let state = Arc::new(AtomicU8::new(RUNNING));
        let (sender, receiver) = mpsc::sync_channel(1);
        let (shared, thread_state) = (Arc::clone(&self.shared), Arc::clone(&state));
        let spawned = std::thread::Builder::new()
            .name("secret-cascade-keyring".into())
            .spawn(move || {
                let outcome = job();
                if thread_state.swap(FINISHED, Ordering::AcqRel) == ABANDONED {
                    shared.abandoned.fetch_sub(1, Ordering::AcqRel);
                }
                let _ = sender.send(outcome);
            });
        if let Err(e) = spawned {
            return Err(Failure::Unavailable(format!(
                "cannot start a keyring call: {e}"
            )));
        }
        receiver.recv_timeout(self.timeout).unwrap_or_else(|_| {
            if state.swap(ABANDONED, Ordering::AcqRel) == RUNNING {
                self.shared.abandoned.fetch_add(1, Ordering::AcqRel);
            }
            Err(Failure::Unavailable(format!(
                "the keyring did not answer within {} ms",
                self.timeout.as_millis()
            )))
        })
    }

    fn error(&self, user: &str, failure: Failure, action: &str) -> Error {
        let what = format!("cannot {action} service `{}`, user `{user}`", self.service);
        let layer = self.label.clone();
        match failure {
            Failure::Unavailable(reason) => Error::Unavailable {
                layer,
                reason: format!("{what}: {reason}"),
            },
            Failure::Missing => Error::Provider {
                layer,
                reason: format!("{what}: no such entry"),
                source: None,
            },
            Failure::Broken(reason) => Error::Provider {
                layer,
                reason: format!("{what}: {reason}"),
                source: None,
            },
        }
    }

    fn forget(&self, user: &str) {
        if let Some(cache) = &self.cache {
            cache.lock().remove(user);
        }
    }

    fn answer(&self, user: &str, value: Option<&str>) -> Answer {
        match value {
            Some(value) => Answer::Hit(SecretRecord::new(
                SecretString::from(value),
                SecretSource::Keyring,
                Metadata::new()
                    .with("service", &self.service)
                    .with("user", user),
            )),
            None => Answer::Miss(
                format!("no entry for service `{}`, user `{user}`", self.service).into(),
            ),
        }
    }
}

impl Shared {
    /// Connects (once) and runs `op` on the store. A connection that fails (the bus or the daemon
    /// went away) is dropped, so the next call connects again.
    fn run<T>(
        &self,
        op: impl FnOnce(&CredentialStore) -> keyring_core::Result<T>,
    ) -> Result<T, Failure> {
        let store = self.store()?;
        let outcome = op(store.as_ref()).map_err(|e| classify(&e));
        if let Err(Failure::Unavailable(_)) = &outcome {
            let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_some_and(|kept| Arc::ptr_eq(kept, &store)) {
                *slot = None;
            }
        }
        outcome
    }

    fn store(&self) -> Result<Arc<CredentialStore>, Failure> {
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = slot.as_ref() {
            return Ok(Arc::clone(store));
        }
        let store: keyring_core::Result<Arc<CredentialStore>> = match self.backend {
            #[cfg(target_os = "linux")]
            Backend::SecretService => {
                zbus_secret_service_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)
            }
            #[cfg(target_os = "linux")]
            Backend::Keyutils => {
                linux_keyutils_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)
            }
            #[cfg(not(target_os = "linux"))]
            Backend::SecretService | Backend::Keyutils => {
                return Err(Failure::Unavailable(format!(
                    "the {} backend exists only on Linux",
                    self.backend
                )));
            }
            Backend::Mock => keyring_core::mock::Store::new().map(|s| s as Arc<CredentialStore>),
        };
        let store = store.map_err(|e| match classify(&e) {
            Failure::Broken(reason) => Failure::Unavailable(reason),
            other => other,
        })?;
        *slot = Some(Arc::clone(&store));
        Ok(store)
    }
}

/// The `application` attribute Python's `keyring` gives the Secret Service items it writes.
const PYTHON_KEYRING_APPLICATION: &str = "Python keyring library";

fn delete_all(entries: Vec<Entry>) -> keyring_core::Result<()> {
    entries.iter().try_for_each(Entry::delete_credential)
}

/// A keyring-core error as a failure, described without its payload (`BadEncoding` and
/// `BadDataFormat` carry the secret's bytes).
fn classify(error: &keyring_core::Error) -> Failure {
    use keyring_core::Error as E;
    match error {
        E::NoEntry => Failure::Missing,
        E::NoStorageAccess(e) => {
            Failure::Unavailable(format!("the keyring is locked or refused access: {e}"))
        }
        E::PlatformFailure(e) => Failure::Unavailable(e.to_string()),
        E::NoDefaultStore => Failure::Unavailable("no keyring store".into()),
        E::NotSupportedByStore(reason) => Failure::Unavailable(reason.clone()),
        E::BadEncoding(_) => Failure::Broken("the stored value is not UTF-8".into()),
        E::BadDataFormat(..) => Failure::Broken("the stored value is malformed".into()),
        E::BadStoreFormat(reason) => Failure::Broken(format!("the keyring is malformed: {reason}")),
        E::Ambiguous(entries) => Failure::Broken(format!(
            "{} entries match; remove all but one",
            entries.len()
        )),
        E::TooLong(name, limit) => Failure::Broken(format!(
            "`{name}` is longer than the keyring's limit of {limit}"
        )),
        E::Invalid(name, reason) => Failure::Broken(format!("`{name}` is invalid: {reason}")),
        _ => Failure::Unavailable("the keyring failed".into()),
    }
}

impl Provider for KeyringProvider {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let user = self.username(request);
        if let Some(cached) = self.cache.as_ref().and_then(|cache| cache.get(&user)) {
            debug!(layer = %self.label, user = %user, "answered from the keyring cache");
            return Ok(self.answer(&user, cached.as_deref().map(|v| v.as_str())));
        }
        let outcome = self.call(&user, |entry| entry.get_secret());
        let value = match outcome {
            // The store's buffer becomes ours without a copy, and is wiped on every path.
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(Zeroizing::new(text)),
                Err(invalid) => {
                    drop(Zeroizing::new(invalid.into_bytes()));
                    return Err(self.error(
                        &user,
                        Failure::Broken("the stored value is not UTF-8".into()),
                        "read",
                    ));
                }
            },
            Err(Failure::Missing) => None,
            Err(Failure::Unavailable(reason)) => return Ok(Answer::Unavailable(reason.into())),
            Err(failure) => return Err(self.error(&user, failure, "read")),
        };
        let answer = self.answer(&user, value.as_deref().map(|v| v.as_str()));
        if let Some(cache) = &self.cache {
            cache.put(user, value);
        }
        Ok(answer)
    }

    fn diagnose(&self) -> Vec<Check> {
        // Read one stored entry of the service when the store can list them: a locked collection
        // answers a search, and a miss, without unlocking, but not a read.
        let service = self.service.clone();
        let probe = self.username(&SecretRequest::new("secret-cascade-doctor-probe"));
        let outcome = self.call_store(move |store| {
            let spec = HashMap::from([("service", service.as_str())]);
            let entries = match store.search(&spec) {
                Ok(entries) => entries,
                Err(keyring_core::Error::NotSupportedByStore(_)) => Vec::new(),
                Err(e) => return Err(e),
            };
            let entry = match entries.into_iter().next() {
                Some(entry) => entry,
                None => store.build(&service, &probe, None)?,
            };
            match entry.get_secret() {
                Ok(secret) => {
                    drop(Zeroizing::new(secret));
                    Ok(true)
                }
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(e),
            }
        });
        match outcome {
            Ok(read) => vec![Check::ok(
                "backend",
                format!(
                    "{} answers (service `{}`{})",
                    self.shared.backend,
                    self.service,
                    if read {
                        "; a stored entry reads"
                    } else {
                        "; no entries yet"
                    }
                ),
            )],
            Err(Failure::Missing) => vec![Check::ok(
                "backend",
                format!(
                    "{} answers (service `{}`)",
                    self.shared.backend, self.service
                ),
            )],
            Err(Failure::Unavailable(reason)) => vec![Check::fail(
                "backend",
                format!("{} is unavailable: {reason}", self.shared.backend),
            )],
            Err(Failure::Broken(reason)) => vec![Check::fail("backend", reason)],
        }
    }
}

impl fmt::Debug for KeyringProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringProvider")
            .field("service", &self.service)
            .field("backend", &self.shared.backend)
            .field("timeout", &self.timeout)
            .field("cache_ttl", &self.cache.as_ref().map(|c| c.ttl))
            .finish_non_exhaustive()
    }
}

/// Answers kept for a while (opt-in), by user: when, and the value (wiped when evicted) or
/// `None` for no entry.
struct AnswerCache {
    ttl: Duration,
    answers: Mutex<Answers>,
}

type Answers = HashMap<String, (Instant, Option<Zeroizing<String>>)>;

impl AnswerCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Answers> {
        self.answers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, user: &str) -> Option<Option<Zeroizing<String>>> {
        let mut answers = self.lock();
        match answers.get(user) {
            Some((at, value)) if at.elapsed() < self.ttl => Some(value.clone()),
            Some(_) => {
                answers.remove(user);
                None
            }
            None => None,
        }
    }

    fn put(&self, user: String, value: Option<Zeroizing<String>>) {
        let mut answers = self.lock();
        answers.retain(|_, (at, _)| at.elapsed() < self.ttl);
        answers.insert(user, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn mock() -> KeyringProvider {
        KeyringProvider::with_backend("svc", Backend::Mock)
    }

    #[test]
    fn usernames_follow_kstlib() {
        assert_eq!(
            mock().username(&SecretRequest::new("smtp.user")),
            "default:smtp.user"
        );
        let scoped = SecretRequest::new("smtp.password").with_scope("mail");
        assert_eq!(mock().username(&scoped), "mail:smtp.password");
        let modelmesh = mock().with_verbatim_names();
        assert_eq!(modelmesh.username(&scoped), "mail.smtp.password");
        assert_eq!(
            modelmesh.username(&SecretRequest::new("OPENAI_KEY")),
            "OPENAI_KEY"
        );
    }

    #[test]
    fn set_get_delete_round_trip() {
        let keyring = mock();
        let request = SecretRequest::new("db.password").with_scope("app");
        assert!(matches!(keyring.fetch(&request), Ok(Answer::Miss(_))));
        keyring.set(&request, "s3cr3t-value").unwrap();
        let Ok(Answer::Hit(record)) = keyring.fetch(&request) else {
            panic!("expected a hit");
        };
        assert_eq!(record.expose_secret(), "s3cr3t-value");
        assert_eq!(record.source(), SecretSource::Keyring);
        assert_eq!(record.metadata().get("user"), Some("app:db.password"));
        assert!(keyring.delete(&request).unwrap());
        assert!(!keyring.delete(&request).unwrap());
        assert!(matches!(keyring.fetch(&request), Ok(Answer::Miss(_))));
    }

    #[test]
    fn the_cache_keeps_answers_for_its_ttl_and_forgets_on_write() {
        let keyring = mock().with_cache_ttl(Duration::from_secs(3600));
        let request = SecretRequest::new("token");
        assert!(matches!(keyring.fetch(&request), Ok(Answer::Miss(_))));
        // A write through this provider invalidates its cached miss.
        keyring.set(&request, "v1").unwrap();
        let Ok(Answer::Hit(record)) = keyring.fetch(&request) else {
            panic!("expected a hit");
        };
        assert_eq!(record.expose_secret(), "v1");
        // A change behind its back is not seen while the answer is cached.
        let store = keyring.shared.store().ok().unwrap();
        let entry = store.build("svc", "default:token", None).unwrap();
        entry.set_password("v2").unwrap();
        let Ok(Answer::Hit(record)) = keyring.fetch(&request) else {
            panic!("expected a hit");
        };
        assert_eq!(record.expose_secret(), "v1");
    }

    #[test]
    fn errors_name_the_entry_and_never_the_value() {
        let keyring = mock();
        let request = SecretRequest::new("bin");
        let store = keyring.shared.store().ok().unwrap();
        let entry = store.build("svc", "default:bin", None).unwrap();
        entry.set_secret(b"\xffsecret-bytes").unwrap();
        let error = keyring.fetch(&request).unwrap_err();
        let text = format!("{error} {error:?}");
        assert!(
            text.contains("default:bin") && text.contains("not UTF-8"),
            "{text}"
        );
        assert!(!text.contains("secret-bytes"), "{text}");
    }

    #[test]
    fn a_locked_keyring_is_unavailable_and_a_missing_store_too() {
        let keyring = mock();
        let request = SecretRequest::new("x");
        let store = keyring.shared.store().ok().unwrap();
        let entry = store.build("svc", "default:x", None).unwrap();
        let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        cred.set_error(keyring_core::Error::NoStorageAccess(Box::new(
            std::io::Error::other("collection is locked"),
        )));
        let Ok(Answer::Unavailable(reason)) = keyring.fetch(&request) else {
            panic!("expected unavailable");
        };
        assert!(
            reason.text().is_some_and(|r| r.contains("locked")),
            "{reason:?}"
        );
    }

    #[test]
    fn the_debug_form_shows_the_configuration_only() {
        let text = format!("{:?}", mock().with_timeout(Duration::from_millis(250)));
        assert!(
            text.contains("svc") && text.contains("Mock") && text.contains("250ms"),
            "{text}"
        );
    }
}
