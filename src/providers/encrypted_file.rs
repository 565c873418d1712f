//! `kind: encrypted-file` (connector id `secret-cascade.encrypted-file.v1`; also
//! `modelmesh.encrypted-file.v1` with ModelMesh's option names): a file of secrets in the format of
//! modelmesh-lite 0.1.1's `EncryptedFileSecretStore`, read and written byte-compatibly
//! (`MODELMESH_REFERENCE.md §2`).
//!
//! The file is a JSON envelope `{"version": 1, "algorithm": "aes-256-gcm", "salt": B64, "data":
//! B64}` (standard base64 with padding); `data` is nonce (12 bytes) ‖ AES-256-GCM ciphertext ‖ tag
//! (16 bytes), without AAD, of a JSON object mapping names to values. The key is `encryption_key`
//! (exactly 64 hex digits) when given, else PBKDF2-HMAC-SHA256 of `passphrase` (UTF-8, not
//! normalised) with the stored salt and `pbkdf2_iterations` rounds (not stored in the file).
//!
//! Options of `kind: encrypted-file`: `path` (required), `passphrase` or `encryption_key` (one is
//! required; the key wins), `pbkdf2_iterations` (default 600 000), `cache_ttl_ms` (a value cache,
//! off by default), `allow_insecure_xor` (default `false`). Under `modelmesh.encrypted-file.v1`:
//! `file_path` (required), `passphrase`, `encryption_key`, `pbkdf2_iterations`, `cache_enabled`
//! (default `true`), `cache_ttl_ms` (default 300 000), `fail_on_missing` (default `true`; `false`
//! answers `""` for a name the file lacks, as ModelMesh's `get` does) and `secrets` (accepted and
//! ignored, as ModelMesh ignores it). There an empty string counts as not given, as in ModelMesh.
//!
//! Names are flat, as in ModelMesh: the request's qualified name (`scope.name`) is one key of the
//! map, dots included (a key path's segments are joined with dots the same way). Strings
//! come back as they are, numbers and booleans as their JSON text (`8080`, `true`), maps and lists
//! as compact JSON (hand-made files only: ModelMesh writes strings); `null` is a miss. Records
//! carry the file's `path` and the `key`.
//!
//! A file that does not exist is *unavailable* (skipped), and `set` creates it (mode 0600). One
//! that exists but cannot be read, parsed or decrypted (a wrong passphrase or key, tampered data,
//! bad base64, content that is not an object) is an [`Error::Provider`] whose source is an
//! [`EncryptedFileError`] (exit code 3), never an empty store as in ModelMesh. Files written by
//! ModelMesh's `xor-obfuscation` fallback (no integrity check) open only with `allow_insecure_xor:
//! true`, with a warning, and are never written.
//!
//! PBKDF2 at 600 000 rounds costs a few hundred milliseconds, so the derived key is kept for the
//! file's salt (which saves keep) and the decrypted map while the file's identity
//! ([`FileIdentity`]) is unchanged: a warm lookup costs a `stat`. A changed file is read again.
//!
//! Writes ([`Provider::management`]: `set`, `list`, `delete`) take the edit lock, read and decrypt
//! the file again (a file that fails to load is never written), change the map, encrypt it with
//! the same salt and a fresh nonce, check that the result decrypts to the map meant, and replace
//! the file atomically with mode 0600. The plaintext is written as Python's `json.dumps(d,
//! indent=2)` writes it, so that a file we write is byte-identical to ModelMesh's for the same
//! salt and nonce.

use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};
use tracing::warn;
use zeroize::Zeroizing;

use crate::atomic_write::{self, Mode};
use crate::bounded_read::{self, ReadError};
use crate::cache::FileIdentity;
use crate::check::{self, Check};
use crate::error::{Attempt, ConfigError, Error, Outcome};
use crate::options::Options;
use crate::plaintext::PlaintextBuffer;
use crate::provider::{Answer, Management, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;
use crate::value_cache::ValueCache;

use super::modelmesh::common_options;

/// Reads and writes one encrypted file of secrets in ModelMesh's format.
pub struct EncryptedFileProvider {
    path: PathBuf,
    label: String,
    path_text: String,
    credential: Credential,
    iterations: u32,
    insecure_xor: bool,
    values: Option<ValueCache>,
    /// The decrypted map of the file as last read, with the identity it had.
    opened: Mutex<Option<Arc<Opened>>>,
    /// The key PBKDF2 gave for the last salt seen.
    derived: Mutex<Option<DerivedKey>>,
}

/// What the key comes from.
enum Credential {
    Key(Zeroizing<[u8; 32]>),
    Passphrase(Zeroizing<String>),
}

struct DerivedKey {
    salt: Vec<u8>,
    key: Zeroizing<[u8; 32]>,
}

/// A file's content as decrypted, while the file has `identity`.
struct Opened {
    identity: FileIdentity,
    contents: Contents,
}

/// A decrypted file: its salt and algorithm (kept by saves) and its entries.
struct Contents {
    salt: Vec<u8>,
    algorithm: Algorithm,
    entries: Entries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    AesGcm,
    /// modelmesh's fallback without the `cryptography` package: no integrity check.
    Xor,
}

impl EncryptedFileProvider {
    /// ModelMesh's default PBKDF2 round count (OWASP's figure for PBKDF2-HMAC-SHA256).
    pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;

    /// A layer for the file at `path`, its key derived from `passphrase` (PBKDF2-HMAC-SHA256 with
    /// the file's salt, [`Self::DEFAULT_PBKDF2_ITERATIONS`] rounds unless
    /// [`with_pbkdf2_iterations`](Self::with_pbkdf2_iterations) says otherwise).
    pub fn with_passphrase(path: impl Into<PathBuf>, passphrase: SecretString) -> Self {
        let passphrase = Zeroizing::new(passphrase.expose_secret().to_owned());
        Self::new(path.into(), Credential::Passphrase(passphrase))
    }

    /// A layer for the file at `path` encrypted with the raw 32-byte `key` (ModelMesh's
    /// `encryption_key`).
    pub fn with_key(path: impl Into<PathBuf>, key: Zeroizing<[u8; 32]>) -> Self {
        Self::new(path.into(), Credential::Key(key))
    }

    fn new(path: PathBuf, credential: Credential) -> Self {
        Self {
            label: format!("encrypted-file:{}", path.display()),
            path_text: path.display().to_string(),
            path,
            credential,
            iterations: Self::DEFAULT_PBKDF2_ITERATIONS,
            insecure_xor: false,
            values: None,
            opened: Mutex::new(None),
            derived: Mutex::new(None),
        }
    }

    /// The layer `kind: encrypted-file` describes: `path`, `passphrase` or `encryption_key`,
    /// `pbkdf2_iterations`, `cache_ttl_ms`, `allow_insecure_xor`.
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let Some(path) = options.path("path")? else {
            return Err(options.error(None, "missing `path`: the encrypted file to read"));
        };
        let mut provider = Self::with_credential_options(path, options)?;
        if let Some(ttl) = options.positive_integer("cache_ttl_ms")? {
            provider = provider.with_cache_ttl(Duration::from_millis(ttl as u64));
        }
        provider.insecure_xor = options.boolean("allow_insecure_xor")?.unwrap_or(false);
        Ok(provider)
    }

    /// The layer `modelmesh.encrypted-file.v1` describes, with ModelMesh's option names and
    /// defaults: `file_path`, `passphrase`, `encryption_key`, `pbkdf2_iterations`,
    /// `cache_enabled` (true), `cache_ttl_ms` (300 000), `fail_on_missing` (true), `secrets`
    /// (ignored, as ModelMesh ignores it).
    pub fn from_modelmesh_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let Some(path) = options.path("file_path")? else {
            return Err(options.error(None, "missing `file_path`: the encrypted file to read"));
        };
        let mut provider = Self::with_credential_options(path, options)?;
        // ModelMesh's cache options; its `fail_on_missing` is the ModelMesh layer's, around this
        // one (providers/modelmesh.rs).
        provider.values = common_options(options)?;
        if options.section("secrets")?.is_some() {
            warn!(layer = %provider.label, "`secrets` is ignored by modelmesh.encrypted-file.v1, as by ModelMesh");
        }
        Ok(provider)
    }

    /// Derives the key with `iterations` PBKDF2 rounds instead of 600 000 (the count is not stored
    /// in the file: it must match the writer's).
    pub fn with_pbkdf2_iterations(mut self, iterations: u32) -> Self {
        self.iterations = iterations.max(1);
        self
    }

    /// Keeps values found for `ttl` ([`ValueCache`]); a changed file is then seen only when the
    /// value expires. `set` and `delete` evict the name.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.values = ValueCache::for_ttl(ttl);
        self
    }

    /// Opens files of ModelMesh's `xor-obfuscation` fallback (no integrity check: a modified file
    /// decrypts to garbage, not to an error), read-only, with a warning when they are read.
    pub fn allowing_insecure_xor(mut self) -> Self {
        self.insecure_xor = true;
        self
    }

    /// The file this layer reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The provider with `passphrase`, `encryption_key` and `pbkdf2_iterations` read (empty
    /// strings count as absent, as in ModelMesh, whose defaults they are).
    fn with_credential_options(
        path: PathBuf,
        options: &mut Options<'_>,
    ) -> Result<Self, ConfigError> {
        let key = options.secret("encryption_key")?.filter(|k| !k.is_empty());
        let passphrase = options.secret("passphrase")?.filter(|p| !p.is_empty());
        let credential = match (key, passphrase) {
            (Some(hex), _) => Credential::Key(parse_hex_key(&hex).ok_or_else(|| {
                options.error(
                    Some("encryption_key"),
                    "expected exactly 64 hexadecimal digits (a 32-byte key), nothing else: no \
                     spaces, no prefix",
                )
            })?),
            (None, Some(passphrase)) => Credential::Passphrase(passphrase),
            (None, None) => {
                return Err(options.error(
                    None,
                    "missing `passphrase` or `encryption_key`: the file's key (usually a \
                     reference such as `${secrets:NAME}` or `${env:NAME}`)",
                ));
            }
        };
        let mut provider = Self::new(path, credential);
        if let Some(iterations) = options.positive_integer("pbkdf2_iterations")? {
            provider.iterations = u32::try_from(iterations).map_err(|_| {
                options.error(Some("pbkdf2_iterations"), "expected at most 4294967295")
            })?;
        }
        Ok(provider)
    }

    /// The file's decrypted map, from memory while the file's identity is unchanged; `None` when
    /// the file does not exist.
    fn open(&self) -> Result<Option<Arc<Opened>>, Error> {
        let identity = match FileIdentity::of(&self.path) {
            Ok(identity) => identity,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.failed(EncryptedFileError::Read(e.into()))),
        };
        // Held while loading, so that concurrent first lookups derive the key once.
        let mut slot = lock(&self.opened);
        if let Some(opened) = slot.as_ref().filter(|o| o.identity == identity) {
            return Ok(Some(Arc::clone(opened)));
        }
        *slot = None;
        let Some(contents) = self.read().map_err(|e| self.failed(e))? else {
            return Ok(None);
        };
        let opened = Arc::new(Opened { identity, contents });
        *slot = Some(Arc::clone(&opened));
        Ok(Some(opened))
    }

    /// Reads and decrypts the file, bypassing what is kept in memory (the derived key aside).
    fn read(&self) -> Result<Option<Contents>, EncryptedFileError> {
        let bytes = match bounded_read::file(&self.path, MAX_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EncryptedFileError::Read(e)),
        };
        let envelope = Envelope::parse(&bytes)?;
        if envelope.algorithm == Algorithm::Xor {
            if !self.insecure_xor {
                return Err(EncryptedFileError::InsecureXor);
            }
            warn!(
                layer = %self.label,
                "opening an xor-obfuscation file: it has no integrity check; re-encrypt it with \
                 AES-256-GCM (modelmesh with `cryptography` installed)"
            );
        }
        let key = self.key(&envelope.salt);
        let entries = envelope.open(&key)?;
        Ok(Some(Contents {
            salt: envelope.salt,
            algorithm: envelope.algorithm,
            entries,
        }))
    }

    /// The AES key for a file with `salt`: the raw key, or PBKDF2's, derived once per salt.
    fn key(&self, salt: &[u8]) -> Zeroizing<[u8; 32]> {
        let passphrase = match &self.credential {
            Credential::Key(key) => return key.clone(),
            Credential::Passphrase(passphrase) => passphrase,
        };
        let mut derived = lock(&self.derived);
        if let Some(known) = derived.as_ref().filter(|d| d.salt == salt) {
            return known.key.clone();
        }
        let mut key = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(passphrase.as_bytes(), salt, self.iterations, &mut *key);
        *derived = Some(DerivedKey {
            salt: salt.to_vec(),
            key: key.clone(),
        });
        key
    }

    /// Reads the file again under the edit lock, applies `change` to its entries and writes it
    /// back (creating it when it does not exist), checked before it replaces the old file.
    fn edit(
        &self,
        name: &str,
        change: impl FnOnce(&mut Entries) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let _lock = atomic_write::lock(&self.path, atomic_write::DEFAULT_LOCK_TIMEOUT).map_err(
            |source| {
                self.failed(EncryptedFileError::Write {
                    action: "take the edit lock of",
                    source,
                })
            },
        )?;
        let contents = match self.read().map_err(|e| self.failed(e))? {
            Some(contents) => contents,
            None => Contents {
                salt: random::<SALT_BYTES>().map_err(|e| self.failed(e))?.to_vec(),
                algorithm: Algorithm::AesGcm,
                entries: Entries::default(),
            },
        };
        if contents.algorithm == Algorithm::Xor {
            return Err(self.failed(EncryptedFileError::ReadOnlyXor));
        }
        let mut entries = contents.entries;
        change(&mut entries)?;
        let key = self.key(&contents.salt);
        let nonce = random::<NONCE_BYTES>().map_err(|e| self.failed(e))?;
        let written = seal(&entries, &contents.salt, &key, &nonce);
        let reads_back = Envelope::parse(&written)
            .and_then(|envelope| envelope.open(&key))
            .is_ok_and(|read| read == entries);
        if !reads_back {
            return Err(self.failed(EncryptedFileError::ReadBack));
        }
        atomic_write::write(&self.path, &written, Mode::Fixed(0o600)).map_err(|source| {
            self.failed(EncryptedFileError::Write {
                action: "write",
                source,
            })
        })?;
        if let Some(values) = &self.values {
            values.evict(name);
        }
        *lock(&self.opened) = None;
        Ok(())
    }

    fn failed(&self, error: EncryptedFileError) -> Error {
        Error::provider(self.label.clone(), error)
    }
}

impl Provider for EncryptedFileProvider {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        // The document path joined with dots: `scope.name`, or a key path's segments.
        let name = request.document_key();
        let hit = |value: SecretString| {
            Answer::Hit(SecretRecord::new(
                value,
                SecretSource::EncryptedFile,
                Metadata::new()
                    .with("path", self.path_text.as_str())
                    .with("key", name),
            ))
        };
        if let Some(value) = self.values.as_ref().and_then(|v| v.get(name)) {
            return Ok(hit(value));
        }
        let Some(opened) = self.open()? else {
            return Ok(Answer::Unavailable(Reason::deferred()));
        };
        match opened.contents.entries.get(name) {
            Some(Value::Text(text) | Value::Json(text)) => {
                let value = SecretString::from(text.as_str());
                if let Some(values) = &self.values {
                    values.put(name, &value, None);
                }
                Ok(hit(value))
            }
            Some(Value::Null) | None => Ok(Answer::Miss(Reason::deferred())),
        }
    }

    fn explain(&self, request: &SecretRequest) -> String {
        match self.open() {
            Ok(None) => format!("{} does not exist", self.path.display()),
            Ok(Some(_)) => format!("no `{}` in the file", request.document_key()),
            Err(error) => error.to_string(),
        }
    }

    fn diagnose(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        match std::fs::metadata(&self.path) {
            Ok(metadata) => checks.extend(check::private_file("file", &self.path, &metadata)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let missing = format!(
                    "{} does not exist (`store set` creates it)",
                    self.path.display()
                );
                checks.push(Check::warn("file", missing));
                return checks;
            }
            Err(e) => {
                checks.push(Check::fail(
                    "file",
                    format!("cannot read {}: {e}", self.path.display()),
                ));
                return checks;
            }
        }
        checks.push(match self.read() {
            // The entries are dropped here, and their values wiped, without being looked at.
            Ok(Some(contents)) => Check::ok(
                "decryption",
                format!(
                    "opens; {}",
                    check::count(contents.entries.0.len(), "secret")
                ),
            ),
            Ok(None) => Check::fail("decryption", "the file disappeared while it was checked"),
            Err(e) => Check::fail("decryption", e.to_string()),
        });
        checks
    }

    fn management(&self) -> Option<&dyn Management> {
        Some(self)
    }
}

impl Management for EncryptedFileProvider {
    fn set(&self, name: &str, value: SecretString) -> Result<(), Error> {
        self.edit(name, |entries| {
            entries.insert(
                name,
                Value::Text(Zeroizing::new(value.expose_secret().to_owned())),
            );
            Ok(())
        })
    }

    fn list(&self) -> Result<Vec<String>, Error> {
        let mut names: Vec<String> = match self.open()? {
            Some(opened) => opened
                .contents
                .entries
                .0
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            None => Vec::new(),
        };
        names.sort_unstable();
        Ok(names)
    }

    fn delete(&self, name: &str) -> Result<(), Error> {
        self.edit(name, |entries| {
            if entries.remove(name) {
                return Ok(());
            }
            Err(Error::NotFound {
                name: name.to_owned(),
                resolver: self.label.clone(),
                tried: vec![Attempt {
                    layer: self.label.clone(),
                    outcome: Outcome::Missed,
                    reason: format!("no `{name}` in the file"),
                }],
            })
        })
    }
}

impl fmt::Debug for EncryptedFileProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credential = match self.credential {
            Credential::Key(_) => "encryption_key",
            Credential::Passphrase(_) => "passphrase",
        };
        f.debug_struct("EncryptedFileProvider")
            .field("path", &self.path)
            .field("credential", &credential)
            .field("pbkdf2_iterations", &self.iterations)
            .field("allow_insecure_xor", &self.insecure_xor)
            .field("values", &self.values)
            .finish_non_exhaustive()
    }
}

/// Why an encrypted file could not be used. No message quotes the file's content or a value.
#[derive(Debug)]
#[non_exhaustive]
pub enum EncryptedFileError {
    /// The file could not be read (unreadable, not a regular file, too large).
    Read(ReadError),
    /// The envelope is not ModelMesh's: the text says what is wrong.
    Envelope(&'static str),
    /// The envelope names an algorithm other than `aes-256-gcm` or `xor-obfuscation`.
    UnknownAlgorithm,
    /// The data failed authentication: a wrong passphrase, key or `pbkdf2_iterations`, or a file
    /// that was modified.
    Authentication,
    /// The decrypted content is not a JSON object (for an xor file, also what a wrong key gives).
    Content {
        /// Where in the plaintext the problem is (1-based).
        line: usize,
        /// Its column.
        column: usize,
        /// What is wrong, without any of the text.
        reason: &'static str,
    },
    /// An `xor-obfuscation` file without `allow_insecure_xor: true`.
    InsecureXor,
    /// A `set` or `delete` on an `xor-obfuscation` file.
    ReadOnlyXor,
    /// The file about to be written did not decrypt to the secrets meant; nothing was written.
    ReadBack,
    /// Taking the edit lock or writing the file failed; the old file is intact.
    Write {
        /// What was being done: `write`, `take the edit lock of`.
        action: &'static str,
        /// The I/O error.
        source: io::Error,
    },
    /// The operating system's random number generator failed.
    Random(getrandom::Error),
}

impl fmt::Display for EncryptedFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "cannot read the file: {e}"),
            Self::Envelope(reason) => write!(
                f,
                "not a ModelMesh encrypted file: {reason}; expected {{\"version\": 1, \
                 \"algorithm\": \"aes-256-gcm\", \"salt\": ..., \"data\": ...}}"
            ),
            Self::UnknownAlgorithm => {
                f.write_str("the file's `algorithm` is neither `aes-256-gcm` nor `xor-obfuscation`")
            }
            Self::Authentication => f.write_str(
                "decryption failed: the passphrase or key is wrong (or `pbkdf2_iterations` is not \
                 the writer's), or the file was modified",
            ),
            Self::Content {
                line,
                column,
                reason,
            } => write!(
                f,
                "the decrypted content is not a JSON object of secrets ({reason} at line {line}, \
                 column {column}); a wrong key for an xor-obfuscation file gives this too"
            ),
            Self::InsecureXor => f.write_str(
                "the file uses modelmesh's `xor-obfuscation` fallback, which has no integrity \
                 check; set `allow_insecure_xor: true` to read it anyway, and re-encrypt it",
            ),
            Self::ReadOnlyXor => f.write_str(
                "an `xor-obfuscation` file is read-only: write its secrets to a new \
                 encrypted-file layer (AES-256-GCM) instead",
            ),
            Self::ReadBack => f.write_str(
                "the file about to be written did not decrypt to the secrets meant; nothing was \
                 written",
            ),
            Self::Write { action, source } => write!(f, "cannot {action} the file: {source}"),
            Self::Random(e) => write!(f, "the random number generator failed: {e}"),
        }
    }
}

impl std::error::Error for EncryptedFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read(e) => Some(e),
            Self::Write { source, .. } => Some(source),
            Self::Random(e) => Some(e),
            _ => None,
        }
    }
}

/// The outer JSON of a file (nothing secret in it).
struct Envelope {
    algorithm: Algorithm,
    salt: Vec<u8>,
    data: Vec<u8>,
}

impl Envelope {
    fn parse(bytes: &[u8]) -> Result<Self, EncryptedFileError> {
        use serde_json::Value as Json;
        let envelope: Json = serde_json::from_slice(bytes)
            .map_err(|_| EncryptedFileError::Envelope("the file is not JSON"))?;
        let Json::Object(fields) = envelope else {
            return Err(EncryptedFileError::Envelope("the JSON is not an object"));
        };
        if fields.get("version").and_then(Json::as_f64) != Some(1.0) {
            return Err(EncryptedFileError::Envelope("`version` is not 1"));
        }
        // modelmesh never reads `algorithm`; a file without one is taken as AES-GCM.
        let algorithm = match fields.get("algorithm").map(Json::as_str) {
            None | Some(Some("aes-256-gcm")) => Algorithm::AesGcm,
            Some(Some("xor-obfuscation")) => Algorithm::Xor,
            Some(_) => return Err(EncryptedFileError::UnknownAlgorithm),
        };
        let base64 = |field: &'static str, missing, invalid| {
            let text = fields.get(field).and_then(Json::as_str);
            let text = text.ok_or(EncryptedFileError::Envelope(missing))?;
            STANDARD
                .decode(text)
                .map_err(|_| EncryptedFileError::Envelope(invalid))
        };
        Ok(Self {
            algorithm,
            salt: base64(
                "salt",
                "`salt` is missing or not a string",
                "`salt` is not valid base64",
            )?,
            data: base64(
                "data",
                "`data` is missing or not a string",
                "`data` is not valid base64",
            )?,
        })
    }

    /// Decrypts the data with `key` and parses the entries.
    fn open(&self, key: &[u8; 32]) -> Result<Entries, EncryptedFileError> {
        let plaintext = match self.algorithm {
            Algorithm::AesGcm => {
                if self.data.len() < NONCE_BYTES + TAG_BYTES {
                    return Err(EncryptedFileError::Envelope("`data` is too short"));
                }
                let (nonce, rest) = self.data.split_at(NONCE_BYTES);
                let (ciphertext, tag) = rest.split_at(rest.len() - TAG_BYTES);
                let mut buffer = Zeroizing::new(ciphertext.to_vec());
                let nonce = <[u8; NONCE_BYTES]>::try_from(nonce)
                    .map_err(|_| EncryptedFileError::Authentication)?;
                let tag = <[u8; TAG_BYTES]>::try_from(tag)
                    .map_err(|_| EncryptedFileError::Authentication)?;
                Aes256Gcm::new(&(*key).into())
                    .decrypt_inout_detached(
                        &Nonce::from(nonce),
                        b"",
                        buffer.as_mut_slice().into(),
                        &Tag::from(tag),
                    )
                    .map_err(|_| EncryptedFileError::Authentication)?;
                buffer
            }
            Algorithm::Xor => {
                if self.data.len() < XOR_NONCE_BYTES {
                    return Err(EncryptedFileError::Envelope("`data` is too short"));
                }
                let (nonce, ciphertext) = self.data.split_at(XOR_NONCE_BYTES);
                let pad = Zeroizing::new(<[u8; 32]>::from(
                    Sha256::new()
                        .chain_update(key)
                        .chain_update(nonce)
                        .finalize(),
                ));
                Zeroizing::new(
                    ciphertext
                        .iter()
                        .zip(pad.iter().cycle())
                        .map(|(c, p)| c ^ p)
                        .collect(),
                )
            }
        };
        Entries::parse(&plaintext)
    }
}

/// A file's secrets in the order they were inserted (which ModelMesh keeps when it writes).
#[derive(Default, PartialEq)]
struct Entries(Vec<(String, Value)>);

/// One value of the map.
#[derive(PartialEq)]
enum Value {
    /// A string (what ModelMesh writes).
    Text(Zeroizing<String>),
    /// Anything else but null, as compact JSON text (ASCII, escaped as Python escapes).
    Json(Zeroizing<String>),
    /// JSON `null`: a miss, written back as it was.
    Null,
}

impl Entries {
    fn parse(plaintext: &[u8]) -> Result<Self, EncryptedFileError> {
        let mut deserializer = serde_json::Deserializer::from_slice(plaintext);
        let content = |e: serde_json::Error| EncryptedFileError::Content {
            line: e.line(),
            column: e.column(),
            reason: match e.classify() {
                serde_json::error::Category::Data => "not an object",
                serde_json::error::Category::Eof => "unexpected end",
                _ => "not JSON",
            },
        };
        let entries = deserializer
            .deserialize_map(EntriesVisitor)
            .map_err(content)?;
        deserializer.end().map_err(content)?;
        Ok(entries)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Replaces the value of `name` where it stands, or appends it (as a Python dict does).
    fn insert(&mut self, name: &str, value: Value) {
        match self.0.iter_mut().find(|(key, _)| key == name) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Removes `name`; `false` when it was not there.
    fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(key, _)| key != name);
        self.0.len() != before
    }

    /// The plaintext as Python's `json.dumps(entries, indent=2)` writes it: ASCII only.
    fn to_python_json(&self) -> Zeroizing<Vec<u8>> {
        let mut out = PlaintextBuffer::with_capacity(
            self.0
                .iter()
                .map(|(k, v)| k.len() + v.len() + 8)
                .sum::<usize>()
                + 4,
        );
        if self.0.is_empty() {
            out.extend_from_slice(b"{}");
            return out.into();
        }
        out.push(b'{');
        for (index, (name, value)) in self.0.iter().enumerate() {
            out.extend_from_slice(if index == 0 { b"\n  " } else { b",\n  " });
            python_string(&mut out, name);
            out.extend_from_slice(b": ");
            match value {
                Value::Text(text) => python_string(&mut out, text),
                Value::Json(json) => out.extend_from_slice(json.as_bytes()),
                Value::Null => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b"\n}");
        out.into()
    }
}

impl Value {
    fn len(&self) -> usize {
        match self {
            Self::Text(text) | Self::Json(text) => text.len(),
            Self::Null => 4,
        }
    }
}

/// Encrypts `entries` into a whole file, as modelmesh writes it with this salt and nonce: the
/// envelope with 2-space indent and no trailing newline.
fn seal(entries: &Entries, salt: &[u8], key: &[u8; 32], nonce: &[u8; NONCE_BYTES]) -> Vec<u8> {
    let mut buffer = entries.to_python_json();
    // AES-GCM refuses only plaintexts of 64 GiB and more; a file is at most MAX_FILE_BYTES.
    let tag = Aes256Gcm::new(&(*key).into())
        .encrypt_inout_detached(&Nonce::from(*nonce), b"", buffer.as_mut_slice().into())
        .expect("AES-GCM encrypts anything below 64 GiB");
    let mut data = Vec::with_capacity(NONCE_BYTES + buffer.len() + TAG_BYTES);
    data.extend_from_slice(nonce);
    data.extend_from_slice(&buffer);
    data.extend_from_slice(&tag);
    format!(
        "{{\n  \"version\": 1,\n  \"algorithm\": \"aes-256-gcm\",\n  \"salt\": \"{}\",\n  \"data\": \"{}\"\n}}",
        STANDARD.encode(salt),
        STANDARD.encode(&data)
    )
    .into_bytes()
}

/// `text` as a JSON string the way Python's `json.dumps` (`ensure_ascii`) writes it: every
/// character outside printable ASCII as `\uXXXX` (lower-case hex, astral ones as a surrogate
/// pair), with the short escapes Python uses.
fn python_string(out: &mut PlaintextBuffer, text: &str) {
    out.push(b'"');
    for character in text.chars() {
        match character {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            ' '..='~' => out.push(character as u8),
            other => {
                for unit in other.encode_utf16(&mut [0; 2]) {
                    // Writing to a PlaintextBuffer cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push(b'"');
}

/// The top-level object: names to values, duplicates keeping the first one's place and the last
/// one's value (as Python's `json.loads` does).
struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of secrets")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Entries::default();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed)?;
            entries.insert(&name, value);
        }
        Ok(entries)
    }
}

struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        let mut json = PlaintextBuffer::new();
        let text = deserializer.deserialize_any(JsonText { out: &mut json })?;
        let json = String::from_utf8(std::mem::take(&mut *Zeroizing::<Vec<u8>>::from(json)))
            .map_err(|_| de::Error::custom("not UTF-8"))?;
        Ok(match text {
            Some(text) => Value::Text(text),
            None if json == "null" => Value::Null,
            None => Value::Json(Zeroizing::new(json)),
        })
    }
}

/// Writes any JSON value as compact JSON with Python's escapes into `out`; a top-level string is
/// returned as it is instead.
struct JsonText<'a> {
    out: &'a mut PlaintextBuffer,
}

impl<'de> Visitor<'de> for JsonText<'_> {
    type Value = Option<Zeroizing<String>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.out.extend_from_slice(b"null");
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        let _ = write!(self.out, "{value}");
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        let _ = write!(self.out, "{value}");
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        let _ = write!(self.out, "{value:?}");
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(Zeroizing::new(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Some(Zeroizing::new(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        self.out.push(b'[');
        let mut first = true;
        while let Some(()) = seq.next_element_seed(Nested {
            out: &mut *self.out,
            first,
        })? {
            first = false;
        }
        self.out.push(b']');
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        self.out.push(b'{');
        let mut first = true;
        while let Some(key) = map.next_key::<String>()? {
            let key = Zeroizing::new(key);
            if !first {
                self.out.push(b',');
            }
            first = false;
            python_string(self.out, &key);
            self.out.push(b':');
            map.next_value_seed(Nested {
                out: &mut *self.out,
                first: true,
            })?;
        }
        self.out.push(b'}');
        Ok(None)
    }
}

/// A value inside a list or map: written as JSON (a string too), after a comma unless `first`.
struct Nested<'a> {
    out: &'a mut PlaintextBuffer,
    first: bool,
}

impl<'de> DeserializeSeed<'de> for Nested<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if !self.first {
            self.out.push(b',');
        }
        if let Some(text) = deserializer.deserialize_any(JsonText {
            out: &mut *self.out,
        })? {
            python_string(self.out, &text);
        }
        Ok(())
    }
}

/// `hex` as a 32-byte key: exactly 64 hex digits (either case), nothing else. Python's parser
/// also skips whitespace, which lets a 32-digit key padded with spaces pass as "aes-256-gcm"
/// while it is AES-128 (`MODELMESH_REFERENCE.md §2`): refused here.
fn parse_hex_key(hex: &str) -> Option<Zeroizing<[u8; 32]>> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    for (byte, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = (high * 16 + low) as u8;
    }
    Some(key)
}

/// `N` random bytes from the operating system.
fn random<const N: usize>() -> Result<[u8; N], EncryptedFileError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(EncryptedFileError::Random)?;
    Ok(bytes)
}

/// A poisoned lock only means another thread panicked while holding it; what it guards is
/// replaced whole, so it stays consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

const SALT_BYTES: usize = 16;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// modelmesh's xor fallback uses a 16-byte nonce.
const XOR_NONCE_BYTES: usize = 16;
/// Files larger than this are refused before decryption (a store of secrets, not a database).
const MAX_FILE_BYTES: u64 = 64 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    const WORKED_FILE: &[u8] = include_bytes!("../../fixtures/modelmesh/worked_passphrase.enc");

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn entries(pairs: &[(&str, &str)]) -> Entries {
        let mut entries = Entries::default();
        for (name, value) in pairs {
            entries.insert(name, Value::Text(Zeroizing::new((*value).to_owned())));
        }
        entries
    }

    #[test]
    fn the_worked_vector_is_reproduced_byte_for_byte() {
        let salt: Vec<u8> = (0x00..=0x0f).collect();
        let nonce: [u8; 12] = std::array::from_fn(|i| 0xa0 + i as u8);
        let provider = EncryptedFileProvider::with_passphrase(
            "unused",
            SecretString::from("correct horse battery staple"),
        );
        let key = provider.key(&salt);
        assert_eq!(
            key.as_slice(),
            hex("ef177144eec9420cbc1093d2a8b344a92bc506d0d4ec9c028dd19f8324d8c1e6")
        );
        let secrets = entries(&[
            ("OPENAI_API_KEY", "sk-test-123"),
            ("GREETING", "héllo ✓"),
            ("EMPTY", ""),
        ]);
        assert_eq!(seal(&secrets, &salt, &key, &nonce), WORKED_FILE);
    }

    #[test]
    fn the_raw_key_vector_is_reproduced() {
        let key: [u8; 32] = std::array::from_fn(|i| 0x20 + i as u8);
        let nonce: [u8; 12] = std::array::from_fn(|i| 0xa0 + i as u8);
        let file = seal(&entries(&[("A", "1")]), &[0xee; 16], &key, &nonce);
        let text = String::from_utf8(file).unwrap();
        assert!(
            text.contains("\"salt\": \"7u7u7u7u7u7u7u7u7u7u7g==\""),
            "{text}"
        );
        assert!(
            text.contains("\"data\": \"oKGio6SlpqeoqaqrBTaEFOaWopCBCpyYLCCVTE9Wcb5xHWEKRT+ZeZ0m\""),
            "{text}"
        );
        let empty = seal(&Entries::default(), &[0xee; 16], &key, &nonce);
        let envelope = Envelope::parse(&empty).unwrap();
        assert_eq!(envelope.data.len(), 30);
        assert!(envelope.open(&key).unwrap() == Entries::default());
    }

    #[test]
    fn python_escapes_are_written_as_python_writes_them() {
        let secrets = entries(&[("k\u{1}", "🔑 \"q\" \\ \n\t\u{7f}é")]);
        assert_eq!(
            std::str::from_utf8(&secrets.to_python_json()).unwrap(),
            "{\n  \"k\\u0001\": \"\\ud83d\\udd11 \\\"q\\\" \\\\ \\n\\t\\u007f\\u00e9\"\n}"
        );
    }

    #[test]
    fn non_string_values_are_json_text_and_null_is_kept() {
        let parsed = Entries::parse(
            br#"{"n": 8080, "f": 1.5, "b": true, "z": null, "l": ["a", 1, null, {"k": "\u00e9"}], "n": 1}"#,
        )
        .unwrap();
        let shown: Vec<(&str, Option<&str>)> = parsed
            .0
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    match v {
                        Value::Text(t) | Value::Json(t) => Some(t.as_str()),
                        Value::Null => None,
                    },
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("n", Some("1")),
                ("f", Some("1.5")),
                ("b", Some("true")),
                ("z", None),
                ("l", Some(r#"["a",1,null,{"k":"\u00e9"}]"#)),
            ]
        );
        assert!(Entries::parse(&parsed.to_python_json()).unwrap() == parsed);
    }

    #[test]
    fn keys_must_be_exactly_64_hex_digits() {
        let good = "4b43d22cb6b0ef788367b2f0642fab326796f75e8e9e8378db94e992908d2B7F";
        assert_eq!(parse_hex_key(good).unwrap()[31], 0x7f);
        assert!(parse_hex_key(&good[..63]).is_none());
        assert!(parse_hex_key(&format!("{}{}", &good[..32], " ".repeat(32))).is_none());
        assert!(parse_hex_key(&format!("{}g", &good[..63])).is_none());
        assert!(parse_hex_key(&format!("{good}0")).is_none());
    }

    #[test]
    fn a_wrong_key_and_a_tampered_file_fail_authentication() {
        let envelope = Envelope::parse(WORKED_FILE).unwrap();
        assert!(matches!(
            envelope.open(&[0; 32]),
            Err(EncryptedFileError::Authentication)
        ));
        let mut text = String::from_utf8(WORKED_FILE.to_vec()).unwrap();
        text = text.replace("oKGio6Sl", "oKGio6Sm");
        assert!(matches!(
            Envelope::parse(text.as_bytes()).unwrap().open(&[0; 32]),
            Err(EncryptedFileError::Authentication)
        ));
        for broken in [
            &b"[]"[..],
            b"{\"version\": 2, \"salt\": \"\", \"data\": \"\"}",
            b"{\"version\": 1, \"salt\": \"AA\", \"data\": \"\"}",
        ] {
            assert!(matches!(
                Envelope::parse(broken),
                Err(EncryptedFileError::Envelope(_))
            ));
        }
    }
}
