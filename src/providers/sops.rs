//! `kind: sops`: a SOPS-encrypted file, decrypted natively.
//!
//! Options: `path` (required; relative to the config file's folder), `age_key_file` (optional;
//! tried before `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD` and sops's default key
//! file), `pgp_key_file` (optional; armored PGP secret keys, besides
//! `SECRET_CASCADE_PGP_KEY_FILE` and the user's GnuPG), `input_type` (`yaml`, `json`, `dotenv`,
//! `ini`, `binary`; default by extension).
//!
//! A request maps to a path inside the document: its key path if given, else the scope's and the
//! name's dotted segments; a numeric segment indexes a list (`database.replicas.1.token`). Scalars
//! come back as text (`2525`, `true`, `0.125`, times as sops prints them), maps and lists as
//! compact JSON; a null is a miss. The record's metadata has the file's canonical `path` and the
//! `key` path.
//!
//! A file that does not exist is *unavailable* (skipped, named in `NotFound`). One that exists but
//! cannot be read, decrypted or verified is an [`Error::Decryption`] that stops the chain: a
//! default never replaces a tampered or undecryptable file. Decrypted documents are kept in the
//! resolver's [`DocumentCache`] while the file is unchanged.
//!
//! Diagnosis (`doctor`) checks that the file exists and only its owner has access, the same for
//! every age key file in use, that the identities open it (a full decryption with the MAC
//! verified, bypassing the cache, whose result is dropped unseen), and lists its recipients.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwapOption;
use tracing::{debug, trace};
use zeroize::Zeroizing;

use crate::cache::{DocumentCache, FileIdentity, Freshness};
use crate::check::{self, Check};
use crate::error::ConfigError;
use crate::error::Error;
use crate::options::Options;
use crate::plaintext::into_secret;
use crate::provider::{Answer, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;
use crate::sops::{self, DecryptionError, Format, Identities, Lookup};
use crate::watch;
use crate::words::UnknownWord;

/// Reads secrets from one SOPS-encrypted file.
#[derive(Debug)]
pub struct SopsProvider {
    path: PathBuf,
    label: String,
    age_key_file: Option<PathBuf>,
    pgp_key_file: Option<PathBuf>,
    format: Option<Format>,
    cache: Arc<DocumentCache>,
    /// What the last `stat` found, so that warm lookups need no `realpath` and, while the file is
    /// watched and nothing happened, no `stat`.
    known: ArcSwapOption<Known>,
}

/// The file as last checked.
#[derive(Debug)]
struct Known {
    canonical: Canonical,
    identity: FileIdentity,
    /// The watch generation ([`watch::generation`]) when `identity` was last confirmed.
    checked: AtomicU64,
    /// Whether changes to the file raise watch events ([`Freshness::Watch`] and a watch set up).
    watched: bool,
}

/// A canonical path and its text for records' metadata, made once.
#[derive(Debug)]
struct Canonical {
    path: PathBuf,
    text: String,
}

impl SopsProvider {
    /// A layer for the file at `path`, keeping decrypted documents in `cache` (share the
    /// resolver's: [`crate::ResolverBuilder::document_cache`]).
    pub fn new(path: impl Into<PathBuf>, cache: Arc<DocumentCache>) -> Self {
        let path = path.into();
        Self {
            label: format!("sops:{}", path.display()),
            path,
            age_key_file: None,
            pgp_key_file: None,
            format: None,
            cache,
            known: ArcSwapOption::empty(),
        }
    }

    /// Tries the identities in `key_file` before those sops would find.
    pub fn with_age_key_file(mut self, key_file: impl Into<PathBuf>) -> Self {
        self.age_key_file = Some(key_file.into());
        self
    }

    /// Also tries the PGP secret keys in `key_file` (armored, as `gpg --armor
    /// --export-secret-keys` writes them).
    pub fn with_pgp_key_file(mut self, key_file: impl Into<PathBuf>) -> Self {
        self.pgp_key_file = Some(key_file.into());
        self
    }

    /// Reads the file as `format` instead of choosing by extension.
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// The file this layer reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layer a config mapping describes (`kind: sops`), sharing the resolver's document cache.
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let Some(path) = options.path("path")? else {
            return Err(options.error(None, "missing `path`: the SOPS file to read"));
        };
        let cache = options.document_cache();
        let mut provider = Self::new(path, cache);
        if let Some(key_file) = options.path("age_key_file")? {
            provider = provider.with_age_key_file(key_file);
        }
        if let Some(key_file) = options.path("pgp_key_file")? {
            provider = provider.with_pgp_key_file(key_file);
        }
        if let Some(word) = options.non_empty_string("input_type")? {
            let format = word
                .parse()
                .map_err(|e: UnknownWord| options.error(Some("input_type"), e.to_string()))?;
            provider = provider.with_format(format);
        }
        Ok(provider)
    }

    /// Runs `read` on the file's document (from the cache while the file is unchanged);
    /// `Ok(None)` when the file does not exist.
    fn with_document<R>(
        &self,
        read: impl FnOnce(&sops::Document, &Canonical) -> R,
    ) -> Result<Option<R>, Error> {
        let failed = |reason| Error::Decryption {
            file: self.path.clone(),
            reason,
        };
        // Read before any `stat`: an event after this moves it, and the next lookup checks again.
        let generation = watch::generation();
        let known = self.known.load();
        let checked;
        let known: &Known = match known.as_ref() {
            // Watched, and nothing happened since the identity was last confirmed: no `stat`.
            Some(known)
                if known.watched && generation == Some(known.checked.load(Ordering::Acquire)) =>
            {
                known
            }
            _ => match self.check(known.as_ref(), generation) {
                Ok(Some(known)) => {
                    checked = known;
                    &checked
                }
                Ok(None) => return Ok(None),
                Err(e) => return Err(failed(DecryptionError::Read(e.into()))),
            },
        };
        let load = || {
            let started = std::time::Instant::now();
            let identities = self.identities()?;
            let document = sops::decrypt_file(&self.path, self.format, &identities);
            debug!(file = %self.path.display(), ok = document.is_ok(), elapsed = ?started.elapsed(), "decrypted");
            document
        };
        let read = |document: &sops::Document| read(document, &known.canonical);
        match self
            .cache
            .with_document(&known.canonical.path, known.identity, load, read)
        {
            Ok(answer) => Ok(Some(answer)),
            Err(e) => {
                // The path may lead elsewhere next time (a symlink retargeted): resolve it again.
                self.known.store(None);
                Err(failed(e))
            }
        }
    }

    /// Checks the file with `stat`: the known identity confirmed as of `generation`, or a new one
    /// (the file was created or replaced), canonicalized and watched again. `None` when the file
    /// does not exist.
    fn check(
        &self,
        known: Option<&Arc<Known>>,
        generation: Option<u64>,
    ) -> std::io::Result<Option<Arc<Known>>> {
        trace!(file = %self.path.display(), "checked with stat");
        let identity = match FileIdentity::of(&self.path) {
            Ok(identity) => identity,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if let Some(known) = known.filter(|known| known.identity == identity) {
            if let Some(generation) = generation {
                known.checked.store(generation, Ordering::Release);
            }
            return Ok(Some(Arc::clone(known)));
        }
        let watched = match self.cache.freshness() {
            Freshness::Strict => false,
            Freshness::Watch => match watch::watch(&self.path) {
                Ok(()) => true,
                Err(why) => {
                    debug!(file = %self.path.display(), %why, "not watched; checked with stat on every lookup");
                    false
                }
            },
        };
        // A change between the `stat` above and the watch raised no event: look again, now that
        // every later change will.
        let generation = watch::generation();
        let identity = FileIdentity::of(&self.path)?;
        let path = std::fs::canonicalize(&self.path)?;
        let known = Arc::new(Known {
            canonical: Canonical {
                text: path.display().to_string(),
                path,
            },
            identity,
            checked: AtomicU64::new(generation.unwrap_or_default()),
            watched: watched && generation.is_some(),
        });
        self.known.store(Some(Arc::clone(&known)));
        Ok(Some(known))
    }

    /// The identities this layer opens its file with: its `age_key_file`, then sops's usual
    /// sources ([`Identities::discover`]), and its `pgp_key_file`. The file commands use them
    /// for the file a layer names.
    pub fn identities(&self) -> Result<Identities, DecryptionError> {
        let identities = Identities::discover(self.age_key_file.as_deref())?;
        match &self.pgp_key_file {
            Some(key_file) => identities.with_pgp_key_file(key_file),
            None => Ok(identities),
        }
    }

    /// How lookups learn that the file is unchanged (`cache.freshness`), and why a file that
    /// should be watched is not.
    fn freshness_check(&self) -> Check {
        let how = match self.cache.freshness() {
            Freshness::Strict => "`stat` on every lookup (freshness: strict)".to_owned(),
            Freshness::Watch => match watch::watch(&self.path) {
                Ok(()) => {
                    "watched with inotify: a lookup checks the file only after a change".to_owned()
                }
                Err(why) => format!("`stat` on every lookup: cannot be watched: {why}"),
            },
        };
        Check::ok("freshness", how)
    }
}

impl Provider for SopsProvider {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let path = request.document_segments();
        let found =
            self.with_document(|document, canonical| match document.lookup_segments(path) {
                Lookup::Value(value) => Some((value, canonical.text.clone())),
                Lookup::Null | Lookup::Missing => None,
            })?;
        let (mut value, file) = match found {
            None => return Ok(Answer::Unavailable(Reason::deferred())),
            Some(None) => return Ok(Answer::Miss(Reason::deferred())),
            Some(Some(found)) => found,
        };
        let key = request.document_key();
        // The lookup's buffer becomes the secret: exactly its size, so no copy is made.
        let text = match String::from_utf8(std::mem::take(&mut *value)) {
            Ok(text) => text,
            Err(not_utf8) => {
                drop(Zeroizing::new(not_utf8.into_bytes()));
                return Err(Error::Provider {
                    layer: self.label.clone(),
                    reason: format!("the value at `{key}` is not valid UTF-8"),
                    source: None,
                });
            }
        };
        Ok(Answer::Hit(SecretRecord::new(
            into_secret(text),
            SecretSource::Sops,
            Metadata::new().with("path", file).with("key", key),
        )))
    }

    fn explain(&self, request: &SecretRequest) -> String {
        let why = |document: &sops::Document, _: &Canonical| {
            let why = document
                .why_missing(&request.document_path())
                .unwrap_or_default();
            format!("no value at `{}`: {why}", request.document_key())
        };
        match self.with_document(why) {
            Ok(Some(why)) => why,
            Ok(None) => format!("{} does not exist", self.path.display()),
            Err(error) => error.to_string(),
        }
    }

    fn diagnose(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        let readable = match std::fs::metadata(&self.path) {
            Ok(metadata) => {
                // Ciphertext is meant to be committed: readable by others is normal.
                checks.extend(check::unwritable_file("file", &self.path, &metadata));
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let missing = format!("{} does not exist", self.path.display());
                checks.push(Check::fail("file", missing));
                false
            }
            Err(e) => {
                let unreadable = format!("cannot read {}: {e}", self.path.display());
                checks.push(Check::fail("file", unreadable));
                false
            }
        };
        let mut key_file_failed = false;
        if let Some(key_file) = &self.age_key_file {
            match std::fs::metadata(key_file) {
                Ok(metadata) => {
                    checks.extend(check::private_file("key file", key_file, &metadata));
                }
                Err(e) => {
                    key_file_failed = true;
                    let reason = if e.kind() == std::io::ErrorKind::NotFound {
                        "does not exist".to_owned()
                    } else {
                        format!("cannot be read: {e}")
                    };
                    let message = format!("age_key_file {} {reason}", key_file.display());
                    checks.push(Check::fail("key file", message));
                }
            }
        }
        let identities = match self.identities() {
            Ok(identities) => Some(identities),
            Err(e) => {
                // A missing `age_key_file` was just reported; discovery fails on it the same way.
                if !key_file_failed {
                    checks.push(Check::fail("identities", e.to_string()));
                }
                None
            }
        };
        if let Some(identities) = &identities {
            checks.extend(other_key_files(identities, self.age_key_file.as_deref()));
        }
        if !readable {
            return checks;
        }
        let text = match sops::read_file(&self.path) {
            Ok(text) => text,
            Err(e) => {
                checks.push(Check::fail("decryption", e.to_string()));
                return checks;
            }
        };
        let format = self.format.unwrap_or_else(|| Format::from_path(&self.path));
        if let Some(identities) = &identities {
            checks.push(match sops::decrypt(&text, format, identities) {
                // The document is dropped here, and its values wiped, without being looked at.
                Ok(_document) => Check::ok(
                    "decryption",
                    format!(
                        "opens with an identity from {}; MAC verified",
                        identities.sources().join(", ")
                    ),
                ),
                Err(e) => Check::fail("decryption", e.to_string()),
            });
        }
        // Also when decryption failed: the recipients say which key the file wants.
        if let Ok(recipients) = sops::inspect::recipients(&text, format) {
            checks.push(Check::ok("recipients", recipients.join(", ")));
        }
        checks.push(self.freshness_check());
        checks
    }
}

/// The mode checks of the key files found through the environment or sops's default location
/// (the configured `age_key_file` is checked on its own). [`Identities::sources`] names files
/// by path and the other sources by variable name.
fn other_key_files(identities: &Identities, configured: Option<&Path>) -> Vec<Check> {
    let configured = configured.map(|path| path.display().to_string());
    let mut seen = Vec::new();
    for source in identities.sources() {
        let not_a_file = ["SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD"].contains(&source.as_str());
        if not_a_file || configured.as_ref() == Some(source) || seen.contains(&source) {
            continue;
        }
        seen.push(source);
    }
    seen.into_iter()
        .filter_map(|source| {
            let path = Path::new(source);
            let metadata = std::fs::metadata(path).ok()?;
            check::private_file("key file", path, &metadata)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn a_missing_file_and_key_file_fail_naming_their_paths() {
        let dir = tempfile::tempdir().unwrap();
        let provider = SopsProvider::new(
            dir.path().join("absent.enc.yaml"),
            Arc::new(DocumentCache::new(1)),
        )
        .with_age_key_file(dir.path().join("absent-keys.txt"));
        let checks = provider.diagnose();
        let summary: Vec<(Status, &str)> = checks
            .iter()
            .map(|check| (check.status(), check.subject()))
            .collect();
        // The key file's failure is not repeated as an identities failure.
        assert_eq!(
            summary,
            [(Status::Fail, "file"), (Status::Fail, "key file")]
        );
        assert!(
            checks[0]
                .message()
                .ends_with("absent.enc.yaml does not exist")
        );
        assert!(
            checks[1]
                .message()
                .contains("absent-keys.txt does not exist")
        );
    }
}
