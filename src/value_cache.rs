//! A layer's cache of the values it found: kept for a time to live (or until the backend's own
//! expiry), never a miss, wiped when a value expires, is evicted or replaced.
//!
//! Off by default for local files (a lookup there is already cheap and a cached value would hide
//! a change of the file); a layer offers it as its `cache_ttl_ms` option. A layer that writes
//! ([`crate::Management`]) evicts the name it sets or deletes.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// Values by name, each until its expiry.
pub struct ValueCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

/// A value and when it stops being valid.
struct Entry {
    value: Zeroizing<String>,
    expires: Instant,
}

impl ValueCache {
    /// A cache keeping each value for `ttl` (a zero `ttl` keeps nothing).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// A cache for a layer's `cache_ttl_ms`: `None` for a zero `ttl`, which keeps nothing.
    pub fn for_ttl(ttl: Duration) -> Option<Self> {
        (!ttl.is_zero()).then(|| Self::new(ttl))
    }

    /// The value cached for `name`, if it has not expired; an expired one is dropped (and wiped).
    pub fn get(&self, name: &str) -> Option<SecretString> {
        let mut entries = self.lock();
        match entries.get(name) {
            Some(entry) if Instant::now() < entry.expires => {
                Some(SecretString::from(entry.value.as_str()))
            }
            Some(_) => {
                entries.remove(name);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for `name` for the time to live, or until `expires_at` (a backend's own
    /// expiry, such as a lease) when that comes first. Expired entries are dropped on the way.
    pub fn put(&self, name: &str, value: &SecretString, expires_at: Option<Instant>) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let expires = expires_at.map_or(now + self.ttl, |at| at.min(now + self.ttl));
        let mut entries = self.lock();
        entries.retain(|_, entry| now < entry.expires);
        if now < expires {
            entries.insert(
                name.to_owned(),
                Entry {
                    value: Zeroizing::new(value.expose_secret().to_owned()),
                    expires,
                },
            );
        }
    }

    /// Forgets `name` (its value is wiped): after a write or a delete of it.
    pub fn evict(&self, name: &str) {
        self.lock().remove(name);
    }

    /// Forgets every value.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The time to live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for ValueCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueCache")
            .field("ttl", &self.ttl)
            .field("entries", &self.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    #[test]
    fn values_live_for_the_ttl_and_are_evicted_by_name() {
        let cache = ValueCache::new(Duration::from_secs(3600));
        assert!(cache.get("a").is_none());
        cache.put("a", &secret("1"), None);
        assert_eq!(cache.get("a").unwrap().expose_secret(), "1");
        cache.evict("a");
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn a_backend_expiry_before_the_ttl_wins_and_a_past_one_keeps_nothing() {
        let cache = ValueCache::new(Duration::from_secs(3600));
        cache.put("past", &secret("x"), Some(Instant::now()));
        assert!(cache.get("past").is_none());
        cache.put(
            "soon",
            &secret("y"),
            Some(Instant::now() + Duration::from_millis(30)),
        );
        assert!(cache.get("soon").is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("soon").is_none());
    }

    #[test]
    fn a_zero_ttl_keeps_nothing_and_debug_shows_no_value() {
        let cache = ValueCache::new(Duration::ZERO);
        cache.put("a", &secret("never-shown"), None);
        assert!(cache.get("a").is_none());
        let kept = ValueCache::new(Duration::from_secs(1));
        kept.put("a", &secret("never-shown"), None);
        assert!(!format!("{kept:?}").contains("never-shown"));
    }
}
