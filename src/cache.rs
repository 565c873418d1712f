//! The document cache: decrypted SOPS documents kept in memory, each valid while its file is
//! unchanged.
//!
//! A file counts as unchanged while its identity is: modification time with nanoseconds, change
//! time, size, inode and device. The change time cannot be set back by a user, so a rewrite that
//! restores the old modification time is still seen; a replacement by rename changes the inode.
//! Entries are keyed by canonical path (`a.yaml` and `/abs/a.yaml` share one), bounded by
//! `cache.max_documents` with least-recently-used eviction. Concurrent misses on one file decrypt
//! it once. Documents are handed out as `Arc`s and wiped when the last holder drops them, so an
//! evicted or purged document is zeroized as soon as no lookup is using it.
//!
//! Plain files (dotenv, JSON) are held the same way, one per layer, in a [`ParsedFile`].

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use lru::LruCache;

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

/// Decrypted documents, shared by the SOPS layers of a resolver.
pub struct DocumentCache {
    /// Keyed by the canonical path's bytes: hashing a `Path` walks its components, several times
    /// slower on the warm path.
    entries: Mutex<LruCache<OsString, Entry>>,
    /// One lock per file being loaded, so that concurrent misses decrypt once.
    loading: Mutex<HashMap<OsString, Arc<Mutex<()>>>>,
}

struct Entry {
    identity: FileIdentity,
    document: Arc<Document>,
}

impl DocumentCache {
    /// How many decrypted documents a cache keeps when the config does not say.
    pub const DEFAULT_MAX_DOCUMENTS: usize = 64;

    /// A cache holding at most `max_documents` documents (at least 1).
    pub fn new(max_documents: usize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(capacity(max_documents))),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// Changes the bound, evicting the least recently used documents beyond it.
    pub fn set_max_documents(&self, max_documents: usize) {
        lock(&self.entries).resize(capacity(max_documents));
    }

    /// How many documents are held.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether no document is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the document of the file at `canonical_path` (as in a record's `path` metadata).
    pub fn purge(&self, canonical_path: &Path) {
        lock(&self.entries).pop(canonical_path.as_os_str());
    }

    /// Drops every document.
    pub fn purge_all(&self) {
        lock(&self.entries).clear();
    }

    /// The document of the file `canonical` (whose current identity is `identity`), loading it with
    /// `load` unless an entry with the same identity is held.
    pub(crate) fn get_or_load(
        &self,
        canonical: &Path,
        identity: FileIdentity,
        load: impl FnOnce() -> Result<Document, DecryptionError>,
    ) -> Result<Arc<Document>, DecryptionError> {
        if let Some(document) = self.fresh(canonical, identity) {
            return Ok(document);
        }
        let file_lock = Arc::clone(
            lock(&self.loading)
                .entry(canonical.as_os_str().to_owned())
                .or_default(),
        );
        let loaded = {
            let _loading = lock(&file_lock);
            match self.fresh(canonical, identity) {
                Some(document) => Ok(document),
                None => load().map(Arc::new).inspect(|document| {
                    let entry = Entry {
                        identity,
                        document: Arc::clone(document),
                    };
                    lock(&self.entries).put(canonical.as_os_str().to_owned(), entry);
                }),
            }
        };
        let mut loading = lock(&self.loading);
        if Arc::strong_count(&file_lock) == 2 {
            loading.remove(canonical.as_os_str());
        }
        loaded
    }

    fn fresh(&self, canonical: &Path, identity: FileIdentity) -> Option<Arc<Document>> {
        let canonical: &OsStr = canonical.as_os_str();
        let mut entries = lock(&self.entries);
        match entries.get(canonical) {
            Some(entry) if entry.identity == identity => Some(Arc::clone(&entry.document)),
            Some(_) => {
                entries.pop(canonical);
                None
            }
            None => None,
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
        let entries = lock(&self.entries);
        f.debug_struct("DocumentCache")
            .field("documents", &entries.len())
            .field("max_documents", &entries.cap())
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

fn capacity(max_documents: usize) -> NonZeroUsize {
    NonZeroUsize::new(max_documents).unwrap_or(NonZeroUsize::MIN)
}

/// A poisoned lock only means another thread panicked while holding it; the cache's state is a
/// plain map that stays consistent, so carry on.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
