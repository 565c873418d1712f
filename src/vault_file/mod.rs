//! Our master-password vault (`kind: vault-file`, `secret-cascade vault-file ...`), and
//! sv-vault's vaults read as they are ([`sv_vault`]).
//!
//! A vault is one file ([`format`] has its layout): a random 32-byte data key, wrapped by
//! Argon2id(password); each secret sealed under the data key with XChaCha20-Poly1305 and
//! associated data binding the vault id, key epoch, name and version; an authenticated manifest
//! over everything. Writes take the edit lock and replace the file atomically (mode 0600, a new
//! folder 0700), after checking that the bytes about to be written open.
//!
//! **The Argon2 floor.** [`KdfParams::FLOOR`] (64 MiB, 3 passes, 4 lanes) is what new vaults get
//! and the least that the `vault-file` layer and the command line accept: a vault whose header
//! asks for less is refused ([`VaultError::WeakKdf`]) before any password is tried. The library
//! calls that open or create a vault take the floor as an argument so that tests can build and
//! open vaults with cheap parameters; the production paths always pass [`KdfParams::FLOOR`], so
//! a vault made that way is refused by them (a test checks it).
//!
//! ```
//! use secret_cascade::vault_file::{KdfParams, Vault};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("vault");
//! // Cheap parameters for the example; the command line refuses this vault.
//! let cheap = KdfParams { memory_kib: 64, passes: 1, lanes: 1 };
//! let mut vault = Vault::create(&path, b"correct horse", cheap, cheap).unwrap();
//! vault.add("db.password", "s3cret", &["db".into()], "prod").unwrap();
//! vault.save().unwrap();
//! let vault = Vault::open_with_password(&path, b"correct horse", cheap).unwrap();
//! assert_eq!(vault.get("db.password").unwrap().as_str(), "s3cret");
//! ```

mod crypto;
mod error;
pub mod format;
mod seen;
mod shares;
pub mod sv_vault;
pub mod unlock;

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::atomic_write::{self, Mode};
use crate::bounded_read::{self, ReadError};

pub use crypto::{DataKey, KdfParams};
pub use error::VaultError;
pub use seen::SeenGenerations;
pub use shares::Share;

use crypto::{Sealed, open, random, seal};
use format::{Document, Entry, Header};

/// The largest vault file read (16 MiB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The largest password file read (64 KiB).
const MAX_PASSWORD_BYTES: u64 = 64 << 10;

/// Where a vault's password comes from: a file (its first line, without the line ending) or text
/// given already (a config reference's expansion).
pub enum Password {
    /// The file's content, one trailing newline removed.
    File(PathBuf),
    /// The text itself.
    Given(Zeroizing<String>),
}

impl Password {
    /// The password's bytes, read now (a file is read again at each call).
    pub fn read(&self) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        match self {
            Self::Given(text) => Ok(Zeroizing::new(text.as_bytes().to_vec())),
            Self::File(path) => {
                let mut bytes = bounded_read::file(path, MAX_PASSWORD_BYTES).map_err(|source| {
                    VaultError::Read {
                        path: path.clone(),
                        source,
                    }
                })?;
                if bytes.ends_with(b"\n") {
                    bytes.pop();
                    if bytes.ends_with(b"\r") {
                        bytes.pop();
                    }
                }
                Ok(bytes)
            }
        }
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Given(_) => f.write_str("Given([REDACTED])"),
        }
    }
}

/// The default vault: `$XDG_DATA_HOME/secret-cascade/vault`, else
/// `~/.local/share/secret-cascade/vault`; `None` without either variable.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".local").join("share"))
        })
        .map(|dir| dir.join("secret-cascade").join("vault"))
}

/// A vault file opened with its data key: entries can be read and changed in memory, then
/// [`save`](Self::save)d.
pub struct Vault {
    path: PathBuf,
    document: Document,
    key: DataKey,
    /// The (epoch, generation) of the file as read, which must still be on disk when saving.
    on_disk: Option<(u64, u64)>,
}

/// What identifies a vault's key without opening it: its id and key epoch (from the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultIdentity {
    /// The vault id, 32 hex digits.
    pub id: String,
    /// The data key's epoch, raised by every `rotate`.
    pub epoch: u64,
    /// The header's Argon2id parameters.
    pub kdf: KdfParams,
}

/// One secret's description: never its value.
#[derive(Debug, Clone, Copy)]
pub struct EntryInfo<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its tags.
    pub tags: &'a [String],
    /// Its note.
    pub note: &'a str,
    /// The generation it was last written in.
    pub version: u64,
}

impl Vault {
    /// Creates a new vault at `path` (which must not exist) with a fresh data key wrapped by
    /// Argon2id(`password`) with `kdf`, refused below `floor`. Nothing is written until
    /// [`save`](Self::save); `save` refuses to replace a file that appeared meanwhile.
    pub fn create(
        path: &Path,
        password: &[u8],
        kdf: KdfParams,
        floor: KdfParams,
    ) -> Result<Self, VaultError> {
        if path.symlink_metadata().is_ok() {
            return Err(VaultError::VaultExists {
                path: path.to_path_buf(),
            });
        }
        check_floor(path, kdf, floor)?;
        let header = Header {
            vault_id: random()?,
            epoch: 1,
            kdf,
            salt: random()?,
        };
        let key = DataKey::generate()?;
        let wrapped_key = wrap(path, &header, password, &key)?;
        let document = Document {
            header,
            wrapped_key,
            generation: 0,
            entries: Vec::new(),
            manifest: Sealed {
                nonce: [0; crypto::NONCE_BYTES],
                ciphertext: Vec::new(),
            },
        };
        Ok(Self {
            path: path.to_path_buf(),
            document,
            key,
            on_disk: None,
        })
    }

    /// Reads the vault's header, unauthenticated: which key opens it.
    pub fn identify(path: &Path) -> Result<VaultIdentity, VaultError> {
        let header = read(path)?.header;
        Ok(VaultIdentity {
            id: header.id_hex(),
            epoch: header.epoch,
            kdf: header.kdf,
        })
    }

    /// Opens the vault with its password (Argon2id, refused when the header's parameters are
    /// below `floor`), and checks its manifest.
    pub fn open_with_password(
        path: &Path,
        password: &[u8],
        floor: KdfParams,
    ) -> Result<Self, VaultError> {
        let document = read(path)?;
        check_floor(path, document.header.kdf, floor)?;
        let key = unwrap(path, &document, password)?;
        Self::verified(path, document, key)
    }

    /// Opens the vault with its data key (from the kernel keyring or recovery shares), and checks
    /// its manifest: a key that is not the vault's fails as [`VaultError::Integrity`].
    pub fn open_with_key(path: &Path, key: DataKey) -> Result<Self, VaultError> {
        Self::verified(path, read(path)?, key)
    }

    fn verified(path: &Path, document: Document, key: DataKey) -> Result<Self, VaultError> {
        let data = document.manifest_data();
        if open(key.expose_bytes(), &document.manifest, data.finish()).is_none() {
            return Err(VaultError::Integrity {
                path: path.to_path_buf(),
                what: "the manifest (or the entries, header or key it covers)".into(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            on_disk: Some((document.header.epoch, document.generation)),
            document,
            key,
        })
    }

    /// The vault's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its id, epoch and Argon2id parameters.
    pub fn identity(&self) -> VaultIdentity {
        VaultIdentity {
            id: self.document.header.id_hex(),
            epoch: self.document.header.epoch,
            kdf: self.document.header.kdf,
        }
    }

    /// How many times the file was written (authenticated by the manifest); 0 before the first
    /// save.
    pub fn generation(&self) -> u64 {
        self.on_disk.map_or(0, |(_, generation)| generation)
    }

    /// The data key (to keep in the kernel keyring or split into shares).
    pub fn data_key(&self) -> &DataKey {
        &self.key
    }

    /// Every secret's description, in the file's order (names sorted).
    pub fn entries(&self) -> impl Iterator<Item = EntryInfo<'_>> {
        self.document.entries.iter().map(|entry| EntryInfo {
            name: &entry.name,
            tags: &entry.tags,
            note: &entry.note,
            version: entry.version,
        })
    }

    /// The secrets whose name, a tag or the note contains `query` (ignoring case). Values are
    /// never searched.
    pub fn search(&self, query: &str) -> Vec<EntryInfo<'_>> {
        let query = query.to_lowercase();
        let hit = |text: &str| text.to_lowercase().contains(&query);
        self.entries()
            .filter(|entry| hit(entry.name) || entry.tags.iter().any(|t| hit(t)) || hit(entry.note))
            .collect()
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Result<Zeroizing<String>, VaultError> {
        let entry = self.entry(name)?;
        let aad = Entry::aad(&self.document.header, &entry.name, entry.version);
        let bytes =
            open(self.key.expose_bytes(), &entry.sealed, aad.finish()).ok_or_else(|| {
                VaultError::Integrity {
                    path: self.path.clone(),
                    what: format!("entry `{name}`"),
                }
            })?;
        text(bytes).ok_or_else(|| VaultError::Integrity {
            path: self.path.clone(),
            what: format!("entry `{name}` (not UTF-8)"),
        })
    }

    /// Adds a secret; a name already present is [`VaultError::AlreadyExists`].
    pub fn add(
        &mut self,
        name: &str,
        value: &str,
        tags: &[String],
        note: &str,
    ) -> Result<(), VaultError> {
        check_name(name)?;
        if self.entry(name).is_ok() {
            return Err(VaultError::AlreadyExists {
                path: self.path.clone(),
                name: name.to_owned(),
            });
        }
        let version = self.next_generation();
        let sealed = self.seal_value(name, version, value.as_bytes())?;
        let at = self
            .document
            .entries
            .partition_point(|entry| entry.name.as_str() < name);
        self.document.entries.insert(
            at,
            Entry {
                name: name.to_owned(),
                version,
                tags: tags.to_vec(),
                note: note.to_owned(),
                sealed,
            },
        );
        Ok(())
    }

    /// Changes a secret's value, tags or note (each when given); a missing name is
    /// [`VaultError::NotFound`].
    pub fn update(
        &mut self,
        name: &str,
        value: Option<&str>,
        tags: Option<&[String]>,
        note: Option<&str>,
    ) -> Result<(), VaultError> {
        let version = self.next_generation();
        let index = self.index(name)?;
        let value = match value {
            Some(value) => Zeroizing::new(value.to_owned()),
            None => self.get(name)?,
        };
        let sealed = self.seal_value(name, version, value.as_bytes())?;
        let entry = &mut self.document.entries[index];
        entry.version = version;
        entry.sealed = sealed;
        if let Some(tags) = tags {
            entry.tags = tags.to_vec();
        }
        if let Some(note) = note {
            entry.note = note.to_owned();
        }
        Ok(())
    }

    /// Removes a secret; a missing name is [`VaultError::NotFound`].
    pub fn delete(&mut self, name: &str) -> Result<(), VaultError> {
        let index = self.index(name)?;
        self.document.entries.remove(index);
        Ok(())
    }

    /// Wraps the same data key under a new password (`passwd`): entries are untouched, the epoch
    /// stays, shares made before still recover the key.
    pub fn change_password(
        &mut self,
        password: &[u8],
        kdf: KdfParams,
        floor: KdfParams,
    ) -> Result<(), VaultError> {
        check_floor(&self.path, kdf, floor)?;
        self.document.header.kdf = kdf;
        self.document.header.salt = random()?;
        self.document.wrapped_key = wrap(&self.path, &self.document.header, password, &self.key)?;
        Ok(())
    }

    /// A new data key and epoch (`rotate`): every entry re-sealed, the key wrapped under
    /// `password`. Shares and unlocked keys of the old epoch no longer open the vault.
    pub fn rotate(
        &mut self,
        password: &[u8],
        kdf: KdfParams,
        floor: KdfParams,
    ) -> Result<(), VaultError> {
        check_floor(&self.path, kdf, floor)?;
        let values = self
            .document
            .entries
            .iter()
            .map(|entry| self.get(&entry.name))
            .collect::<Result<Vec<_>, _>>()?;
        self.key = DataKey::generate()?;
        self.document.header.epoch += 1;
        for (index, value) in values.iter().enumerate() {
            let entry = &self.document.entries[index];
            let sealed = self.seal_value(&entry.name, entry.version, value.as_bytes())?;
            self.document.entries[index].sealed = sealed;
        }
        self.change_password(password, kdf, floor)
    }

    /// Writes the vault: under the edit lock, after checking that the file on disk is still the
    /// one read (or, for a new vault, still absent), with the next generation and a new manifest,
    /// checked to open, replacing the file atomically (mode 0600).
    pub fn save(&mut self) -> Result<(), VaultError> {
        let written = |action, source| VaultError::Write {
            path: self.path.clone(),
            action,
            source,
        };
        if self.on_disk.is_none() {
            create_folder(&self.path).map_err(|e| written("create the folder of", e))?;
        }
        let _lock = atomic_write::lock(&self.path, atomic_write::DEFAULT_LOCK_TIMEOUT)
            .map_err(|e| written("take the edit lock of", e))?;
        let now = match read(&self.path) {
            Ok(document) => Some((document.header.epoch, document.generation)),
            Err(VaultError::NoVault { .. }) => None,
            Err(e) => return Err(e),
        };
        if now != self.on_disk {
            return Err(match self.on_disk {
                None => VaultError::VaultExists {
                    path: self.path.clone(),
                },
                Some(_) => VaultError::Conflict {
                    path: self.path.clone(),
                },
            });
        }
        let mut document = self.document.clone();
        document.generation = self.next_generation();
        let data = document.manifest_data();
        document.manifest = seal(self.key.expose_bytes(), b"", data.finish())?;
        let bytes = document.to_bytes();
        // What is about to replace the file must open with the key, every entry included.
        let reads_back = Document::parse(&self.path, &bytes).ok().and_then(|parsed| {
            let check = Self::verified(&self.path, parsed, self.key.clone()).ok()?;
            check
                .document
                .entries
                .iter()
                .all(|e| check.get(&e.name).is_ok())
                .then_some(())
        });
        if reads_back.is_none() {
            return Err(VaultError::Invalid {
                reason: "the vault about to be written did not read back; nothing was written"
                    .into(),
            });
        }
        atomic_write::write(&self.path, &bytes, Mode::Fixed(0o600))
            .map_err(|e| written("write", e))?;
        self.on_disk = Some((document.header.epoch, document.generation));
        self.document = document;
        Ok(())
    }

    /// Splits the data key into `count` shares of which any `threshold` recover it, as text a
    /// person can copy ([`Share`]).
    pub fn split(&self, count: usize, threshold: usize) -> Result<Vec<Share>, VaultError> {
        Share::split(&self.identity(), &self.key, count, threshold)
    }

    /// Opens the vault at `path` with the data key that `shares` recover (checked: their
    /// checksums, that they are of this vault and epoch, distinct and enough, and that the key
    /// opens the vault).
    pub fn recover(path: &Path, shares: &[Share]) -> Result<Self, VaultError> {
        let identity = Self::identify(path)?;
        let key = Share::combine(shares, &identity)?;
        Self::open_with_key(path, key).map_err(|e| match e {
            VaultError::Integrity { .. } => VaultError::BadShares {
                reason: "the key they give does not open the vault".into(),
            },
            other => other,
        })
    }

    fn entry(&self, name: &str) -> Result<&Entry, VaultError> {
        self.index(name).map(|i| &self.document.entries[i])
    }

    fn index(&self, name: &str) -> Result<usize, VaultError> {
        self.document
            .entries
            .iter()
            .position(|entry| entry.name == name)
            .ok_or_else(|| VaultError::NotFound {
                path: self.path.clone(),
                name: name.to_owned(),
            })
    }

    fn next_generation(&self) -> u64 {
        self.generation() + 1
    }

    fn seal_value(&self, name: &str, version: u64, value: &[u8]) -> Result<Sealed, VaultError> {
        let aad = Entry::aad(&self.document.header, name, version);
        seal(self.key.expose_bytes(), value, aad.finish())
    }
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("identity", &self.identity())
            .field("entries", &self.document.entries.len())
            .finish_non_exhaustive()
    }
}

/// The vault file parsed; [`VaultError::NoVault`] when it does not exist.
fn read(path: &Path) -> Result<Document, VaultError> {
    Document::parse(path, &read_bytes(path)?)
}

/// A vault file's bytes (at most [`MAX_FILE_BYTES`]); [`VaultError::NoVault`] when it does not
/// exist.
pub(crate) fn read_bytes(path: &Path) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    bounded_read::file(path, MAX_FILE_BYTES).map_err(|error| match error {
        ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => VaultError::NoVault {
            path: path.to_path_buf(),
        },
        source => VaultError::Read {
            path: path.to_path_buf(),
            source,
        },
    })
}

fn check_floor(path: &Path, params: KdfParams, floor: KdfParams) -> Result<(), VaultError> {
    if params.at_least(&floor) {
        return Ok(());
    }
    Err(VaultError::WeakKdf {
        path: path.to_path_buf(),
        params,
        floor,
    })
}

fn password_key(
    path: &Path,
    header: &Header,
    password: &[u8],
) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    header
        .kdf
        .derive(password, &header.salt)
        .map_err(|reason| VaultError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: reason,
        })
}

fn wrap(
    path: &Path,
    header: &Header,
    password: &[u8],
    key: &DataKey,
) -> Result<Sealed, VaultError> {
    let kek = password_key(path, header, password)?;
    seal(&kek, key.expose_bytes(), header.canonical().finish())
}

fn unwrap(path: &Path, document: &Document, password: &[u8]) -> Result<DataKey, VaultError> {
    let kek = password_key(path, &document.header, password)?;
    let header = document.header.canonical();
    open(&kek, &document.wrapped_key, header.finish())
        .and_then(|bytes| DataKey::from_bytes(&bytes))
        .ok_or_else(|| VaultError::WrongPassword {
            path: path.to_path_buf(),
        })
}

fn check_name(name: &str) -> Result<(), VaultError> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(VaultError::Invalid {
            reason: "a secret's name must be non-empty, without control characters".into(),
        });
    }
    Ok(())
}

/// Plaintext bytes as text, without a copy; non-UTF-8 bytes are wiped.
pub(crate) fn text(mut bytes: Zeroizing<Vec<u8>>) -> Option<Zeroizing<String>> {
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Some(Zeroizing::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            None
        }
    }
}

/// Creates the vault's folder (and missing parents) with mode 0700 when it does not exist.
fn create_folder(path: &Path) -> std::io::Result<()> {
    let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    if folder.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

#[cfg(test)]
mod tests;
