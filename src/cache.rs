//! The document cache: decrypted SOPS documents kept in memory, each valid while its file is
//! unchanged.
//!
//! A file counts as unchanged while its identity is: modification time with nanoseconds, change
//! time, size, inode and device. The change time cannot be set back by a user, so a rewrite that
//! restores the old modification time is still seen; a replacement by rename changes the inode.
//! Entries are keyed by canonical path (`a.yaml` and `/abs/a.yaml` share one), bounded by
//! `cache.max_documents` with least-recently-used eviction. Concurrent misses on one file decrypt
//! it once. Lookups read a document in place, without a lock; an evicted or purged document is
//! zeroized as soon as no lookup is reading it.
//!
//! How a lookup learns that the file is unchanged is its layer's [`Freshness`]: by `stat`, or by
//! an inotify watch ([`crate::watch`]) that spares the `stat` until something happens.
//!
//! Plain files (dotenv, JSON) are held the same way, one per layer, in a [`ParsedFile`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use arc_swap::ArcSwap;

use crate::bounded_read::{self, ReadError};
use crate::check::{self, Check};
use crate::error::Error;
use crate::sops::{DecryptionError, Document};

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    modified: (i64, i64),
    changed: (i64, i64),
    size: u64,
    inode: u64,
    device: u64,
}

impl FileIdentity {
    /// The identity of the file at `path` (following symlinks).
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        Ok(Self::from_metadata(&metadata))
    }

    #[cfg(unix)]
    fn from_metadata(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            size: metadata.size(),
            inode: metadata.ino(),
            device: metadata.dev(),
        }
    }

    #[cfg(not(unix))]
    fn from_metadata(metadata: &std::fs::Metadata) -> Self {
        let nanos = |time: std::io::Result<std::time::SystemTime>| {
            time.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or((0, 0), |d| {
                    (d.as_secs() as i64, i64::from(d.subsec_nanos()))
                })
        };
        Self {
            modified: nanos(metadata.modified()),
            changed: nanos(metadata.created()),
            size: metadata.len(),
            inode: 0,
            device: 0,
        }
    }
}

/// How a SOPS layer checks, on a lookup, that its cached document is still its file's content.
/// Set for a resolver's cache with `cache.freshness` in the config or
/// [`crate::ResolverBuilder::freshness`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Freshness {
    /// inotify watches on the file and the folders its path goes through (Linux, local file
    /// systems): a lookup reads one atomic counter instead of calling `stat`, and calls `stat`
    /// only after a watched event. A change is seen once the watching thread has read its event
    /// (microseconds after the writer's call returns) or after [`crate::settle_watches`]. Where
    /// a file cannot be watched (another OS, a network or FUSE file system, the watch limit
    /// reached), its layer checks with `stat` on every lookup instead. The default.
    #[default]
    Watch,
    /// `stat` on every lookup: a change is seen by the first lookup after the writer's call
    /// returns, whatever the file system.
    Strict,
}

impl std::str::FromStr for Freshness {
    type Err = crate::words::UnknownWord;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        match word {
            "watch" => Ok(Self::Watch),
            "strict" => Ok(Self::Strict),
            _ => Err(crate::words::UnknownWord::new(
                "freshness",
                word,
                &["watch", "strict"],
            )),
        }
    }
}

/// Decrypted documents, shared by the SOPS layers of a resolver.
///
/// Lookups read an immutable table through an atomic pointer ([`arc_swap`]) and take no lock;
/// inserting, evicting and purging copy the small table and swap it in under a writers' lock.
/// Recency is a stamp per entry, written only when it changes, so warm lookups of the same
/// documents from many threads write no shared memory.
pub struct DocumentCache {
    table: ArcSwap<Table>,
    /// Serializes changes of the table; lookups never take it.
    writer: Mutex<()>,
    max_documents: AtomicUsize,
    /// The recency clock: moves when an entry is used after another one was.
    clock: AtomicU64,
    /// [`Freshness::Strict`] when set, else [`Freshness::Watch`].
    strict: AtomicBool,
    /// One lock per file being loaded, so that concurrent misses decrypt once.
    loading: Mutex<HashMap<OsString, Arc<Mutex<()>>>>,
}

/// Keyed by the canonical path's bytes: hashing a `Path` walks its components, several times
/// slower on the warm path.
type Table = HashMap<OsString, Arc<Entry>, foldhash::fast::RandomState>;

struct Entry {
    identity: FileIdentity,
    document: Document,
    /// The clock when the entry was last used.
    used: AtomicU64,
}

impl DocumentCache {
    /// How many decrypted documents a cache keeps when the config does not say.
    pub const DEFAULT_MAX_DOCUMENTS: usize = 64;

    /// A cache holding at most `max_documents` documents (at least 1).
    pub fn new(max_documents: usize) -> Self {
        Self {
            table: ArcSwap::from_pointee(Table::default()),
            writer: Mutex::new(()),
            max_documents: AtomicUsize::new(max_documents.max(1)),
            clock: AtomicU64::new(0),
            strict: AtomicBool::new(false),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// Changes the bound, evicting the least recently used documents beyond it.
    pub fn set_max_documents(&self, max_documents: usize) {
        self.change(|table| {
            self.max_documents
                .store(max_documents.max(1), Ordering::Relaxed);
            self.evict_beyond(table, 0);
        });
    }

    /// How the SOPS layers sharing this cache check their files ([`Freshness::Watch`] unless
    /// set).
    pub fn freshness(&self) -> Freshness {
        if self.strict.load(Ordering::Relaxed) {
            Freshness::Strict
        } else {
            Freshness::Watch
        }
    }

    /// Sets how the SOPS layers sharing this cache check their files.
    pub fn set_freshness(&self, freshness: Freshness) {
        self.strict
            .store(freshness == Freshness::Strict, Ordering::Relaxed);
    }

    /// How many documents are held.
    pub fn len(&self) -> usize {
        self.table.load().len()
    }

    /// Whether no document is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the document of the file at `canonical_path` (as in a record's `path` metadata).
    /// It is wiped as soon as no lookup is reading it.
    pub fn purge(&self, canonical_path: &Path) {
        self.change(|table| {
            table.remove(canonical_path.as_os_str());
        });
    }

    /// Drops every document.
    pub fn purge_all(&self) {
        self.change(Table::clear);
    }

    /// Runs `read` on the document of the file `canonical` (whose current identity is
    /// `identity`), loading it with `load` unless an entry with the same identity is held.
    pub(crate) fn with_document<R>(
        &self,
        canonical: &Path,
        identity: FileIdentity,
        load: impl FnOnce() -> Result<Document, DecryptionError>,
        read: impl FnOnce(&Document) -> R,
    ) -> Result<R, DecryptionError> {
        let key = canonical.as_os_str();
        {
            let table = self.table.load();
            if let Some(entry) = table.get(key).filter(|entry| entry.identity == identity) {
                self.touch(entry);
                return Ok(read(&entry.document));
            }
        }
        let file_lock = Arc::clone(lock(&self.loading).entry(key.to_owned()).or_default());
        let loaded = {
            let _loading = lock(&file_lock);
            let held = self.table.load().get(key).cloned();
            match held.filter(|entry| entry.identity == identity) {
                Some(entry) => Ok(entry),
                None => load().map(|document| {
                    let entry = Arc::new(Entry {
                        identity,
                        document,
                        used: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed) + 1),
                    });
                    self.change(|table| {
                        self.evict_beyond(table, 1);
                        table.insert(key.to_owned(), Arc::clone(&entry));
                    });
                    entry
                }),
            }
        };
        let mut loading = lock(&self.loading);
        if Arc::strong_count(&file_lock) == 2 {
            loading.remove(key);
        }
        drop(loading);
        loaded.map(|entry| read(&entry.document))
    }

    /// Marks `entry` as the most recently used, writing only when another entry was used since.
    fn touch(&self, entry: &Entry) {
        let now = self.clock.load(Ordering::Relaxed);
        if entry.used.load(Ordering::Relaxed) != now {
            let stamp = self.clock.fetch_add(1, Ordering::Relaxed) + 1;
            entry.used.store(stamp, Ordering::Relaxed);
        }
    }

    /// Replaces the table with a changed copy.
    fn change(&self, edit: impl FnOnce(&mut Table)) {
        let _writer = lock(&self.writer);
        let mut table = Table::clone(&self.table.load());
        edit(&mut table);
        self.table.store(Arc::new(table));
    }

    /// Evicts the least recently used entries until `room` more fit.
    fn evict_beyond(&self, table: &mut Table, room: usize) {
        let max = self.max_documents.load(Ordering::Relaxed);
        while table.len() + room > max {
            let oldest = table
                .iter()
                .min_by_key(|(_, entry)| entry.used.load(Ordering::Relaxed))
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => table.remove(&key),
                None => break,
            };
        }
    }
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_DOCUMENTS)
    }
}

impl std::fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCache")
            .field("documents", &self.len())
            .field("max_documents", &self.max_documents.load(Ordering::Relaxed))
            .field("freshness", &self.freshness())
            .finish()
    }
}

/// A plain file's parsed content (a dotenv or JSON layer's), read again when the file's identity
/// changes, so that an edit is seen on the next lookup at the cost of one `stat`.
pub(crate) struct ParsedFile<T> {
    path: PathBuf,
    current: RwLock<Option<(FileIdentity, Arc<T>)>>,
}

impl<T> ParsedFile<T> {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            current: RwLock::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The content: the one held while the file is unchanged, else the file read (at most
    /// `limit` bytes) and given to `parse`. `Ok(None)` when the file does not exist. A failure is
    /// not kept: the next call tries again.
    pub(crate) fn get<E>(
        &self,
        limit: u64,
        parse: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Option<Arc<T>>, LoadError<E>> {
        // The identity is taken before the read: a change in between leaves an old identity with
        // new content, which the next call reads again, never the reverse.
        let identity = match FileIdentity::of(&self.path) {
            Ok(identity) => identity,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LoadError::Read(e.into())),
        };
        let held = self.current.read().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, content)) = held.as_ref().filter(|(known, _)| *known == identity) {
            return Ok(Some(Arc::clone(content)));
        }
        drop(held);
        let bytes = bounded_read::file(&self.path, limit).map_err(LoadError::Read)?;
        let content = Arc::new(parse(&bytes).map_err(LoadError::Parse)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Some((identity, Arc::clone(&content)));
        Ok(Some(content))
    }

    /// `doctor`'s findings: whether the file exists (`missing` when it does not), is private, and
    /// parses. Read afresh, bypassing the content held; nothing in it is shown.
    pub(crate) fn checks<E: std::fmt::Display>(
        &self,
        limit: u64,
        parse: impl FnOnce(&[u8]) -> Result<T, E>,
        missing: Check,
    ) -> Vec<Check> {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return vec![missing],
            Err(e) => {
                let unreadable = format!("cannot read {}: {e}", self.path.display());
                return vec![Check::fail("file", unreadable)];
            }
        };
        let mut checks: Vec<Check> = check::private_file("file", &self.path, &metadata)
            .into_iter()
            .collect();
        let parsed = bounded_read::file(&self.path, limit)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))
            .and_then(|bytes| {
                parse(&bytes)
                    .map(drop)
                    .map_err(|e| format!("{}: {e}", self.path.display()))
            });
        checks.push(match parsed {
            Ok(()) => Check::ok("content", format!("{} parses", self.path.display())),
            Err(reason) => Check::fail("content", reason),
        });
        checks
    }
}

/// Why [`ParsedFile::get`] has no content: the file could not be read, or `parse` refused it.
pub(crate) enum LoadError<E> {
    Read(ReadError),
    Parse(E),
}

impl<E: std::error::Error + Send + Sync + 'static> LoadError<E> {
    /// The lookup error of the layer `layer` reading `path`: [`Error::Provider`], which stops
    /// the chain (exit 3), naming the file and, for a parse failure, the line.
    pub(crate) fn into_error(self, layer: &str, path: &Path) -> Error {
        let (reason, source): (String, Box<dyn std::error::Error + Send + Sync>) = match self {
            Self::Read(e) => (format!("cannot read {}: {e}", path.display()), Box::new(e)),
            Self::Parse(e) => (format!("{}: {e}", path.display()), Box::new(e)),
        };
        Error::Provider {
            layer: layer.to_owned(),
            reason,
            source: Some(source),
        }
    }
}

/// A poisoned lock only means another thread panicked while holding it; the cache's state is a
/// plain map that stays consistent, so carry on.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
