//! The vault file on disk: a JSON document (mode 0600), version 1.
//!
//! ```json
//! {
//!   "secret-cascade-vault": 1,
//!   "vault_id": "32 hex digits",
//!   "epoch": 1,
//!   "kdf": {"algorithm": "argon2id", "version": 19, "memory_kib": 65536, "passes": 3,
//!           "lanes": 4, "salt": "base64"},
//!   "wrapped_key": {"nonce": "base64", "ciphertext": "base64"},
//!   "generation": 7,
//!   "entries": [{"name": "db.password", "version": 7, "tags": ["db"], "note": "...",
//!                "nonce": "base64", "ciphertext": "base64"}],
//!   "manifest": {"nonce": "base64", "tag": "base64"}
//! }
//! ```
//!
//! - The **header** is the format version, `vault_id`, `epoch` and `kdf`. Its canonical encoding
//!   is the associated data of `wrapped_key`, the data key sealed (XChaCha20-Poly1305) under
//!   Argon2id(password, salt): a changed header does not open, as a wrong password does not.
//! - Each **entry** is its value sealed under the data key with associated data binding the vault
//!   id, the epoch, the entry's name and its version (the generation it was written in): a value
//!   moved to another name, another vault or epoch, or given another version, does not open.
//! - The **manifest** is a Poly1305 tag (an empty message sealed under the data key) over the
//!   header, the wrapped key, the generation and every entry in order (name, version, tags, note,
//!   nonce, ciphertext): a dropped, added, reordered, swapped or rolled-back entry, or a changed
//!   tag or note, fails it. `generation` grows by one with every write.
//!
//! Names, tags and notes are readable in the file (authenticated, not secret); values are not.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::crypto::{Canonical, KdfParams, NONCE_BYTES, SALT_BYTES, Sealed, TAG_BYTES};
use super::error::VaultError;

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// The file's first key, whose value is the format version.
const FORMAT_KEY: &str = "secret-cascade-vault";

/// Argon2's version 0x13, the only one written or read.
const ARGON2_VERSION: u64 = 0x13;

/// What identifies a vault and its password key; authenticated by the wrapped key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub vault_id: [u8; 16],
    pub epoch: u64,
    pub kdf: KdfParams,
    pub salt: [u8; SALT_BYTES],
}

/// One secret as stored: clear name, tags and note; the sealed value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub version: u64,
    pub tags: Vec<String>,
    pub note: String,
    pub sealed: Sealed,
}

/// A vault file as parsed, not yet authenticated.
#[derive(Clone)]
pub(crate) struct Document {
    pub header: Header,
    pub wrapped_key: Sealed,
    pub generation: u64,
    pub entries: Vec<Entry>,
    pub manifest: Sealed,
}

impl Header {
    /// The canonical encoding: the wrapped key's associated data.
    pub fn canonical(&self) -> Canonical {
        let mut canonical = Canonical::new("secret-cascade-vault/header/v1");
        canonical
            .number(FORMAT_VERSION)
            .bytes(&self.vault_id)
            .number(self.epoch)
            .bytes(b"argon2id")
            .number(ARGON2_VERSION)
            .number(self.kdf.memory_kib.into())
            .number(self.kdf.passes.into())
            .number(self.kdf.lanes.into())
            .bytes(&self.salt);
        canonical
    }

    /// The vault id as 32 hex digits.
    pub fn id_hex(&self) -> String {
        hex(&self.vault_id)
    }
}

impl Entry {
    /// The associated data of an entry's value.
    pub fn aad(header: &Header, name: &str, version: u64) -> Canonical {
        let mut canonical = Canonical::new("secret-cascade-vault/entry/v1");
        canonical
            .bytes(&header.vault_id)
            .number(header.epoch)
            .bytes(name.as_bytes())
            .number(version);
        canonical
    }
}

impl Document {
    /// What the manifest tag authenticates.
    pub fn manifest_data(&self) -> Canonical {
        let mut canonical = Canonical::new("secret-cascade-vault/manifest/v1");
        canonical
            .bytes(self.header.canonical().finish())
            .bytes(&self.wrapped_key.nonce)
            .bytes(&self.wrapped_key.ciphertext)
            .number(self.generation)
            .number(self.entries.len() as u64);
        for entry in &self.entries {
            canonical
                .bytes(entry.name.as_bytes())
                .number(entry.version)
                .number(entry.tags.len() as u64);
            for tag in &entry.tags {
                canonical.bytes(tag.as_bytes());
            }
            canonical
                .bytes(entry.note.as_bytes())
                .bytes(&entry.sealed.nonce)
                .bytes(&entry.sealed.ciphertext);
        }
        canonical
    }

    /// Parses a file's bytes; `path` is for messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, VaultError> {
        let corrupt = |reason: &str| VaultError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let root: Value = serde_json::from_slice(bytes)
            .map_err(|_| corrupt("it is not complete JSON (a file cut short reads this way)"))?;
        let root = Fields::of(&root, "the file", path)?;
        match root.0.get(FORMAT_KEY).and_then(Value::as_u64) {
            Some(FORMAT_VERSION) => {}
            Some(other) => {
                return Err(VaultError::UnsupportedVersion {
                    path: path.to_path_buf(),
                    found: format!("format version {other}"),
                });
            }
            None => {
                return Err(corrupt(&format!(
                    "`{FORMAT_KEY}` (the format version) is missing: not a secret-cascade vault"
                )));
            }
        }
        let kdf = root.object("kdf")?;
        let algorithm = kdf.text("algorithm")?;
        let version = kdf.number("version")?;
        if algorithm != "argon2id" || version != ARGON2_VERSION {
            return Err(VaultError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: format!("key derivation {algorithm} version {version}"),
            });
        }
        let small = |fields: &Fields<'_>, key: &str| {
            u32::try_from(fields.number(key)?)
                .map_err(|_| fields.corrupt(&format!("`{key}` is out of range")))
        };
        let header = Header {
            vault_id: root.fixed("vault_id", Encoding::Hex)?,
            epoch: root.number("epoch")?,
            kdf: KdfParams {
                memory_kib: small(&kdf, "memory_kib")?,
                passes: small(&kdf, "passes")?,
                lanes: small(&kdf, "lanes")?,
            },
            salt: kdf.fixed("salt", Encoding::Base64)?,
        };
        if !KdfParams::CEILING.at_least(&header.kdf) {
            return Err(kdf.corrupt(&format!(
                "the Argon2id parameters {} exceed what this program runs ({})",
                header.kdf,
                KdfParams::CEILING
            )));
        }
        let wrapped = root.object("wrapped_key")?;
        let manifest = root.object("manifest")?;
        let entries = root
            .0
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(|| corrupt("`entries` is missing or not a list"))?
            .iter()
            .map(|entry| {
                let fields = Fields::of(entry, "an entry", path)?;
                let tags = fields
                    .0
                    .get("tags")
                    .and_then(Value::as_array)
                    .ok_or_else(|| fields.corrupt("`tags` is missing or not a list"))?
                    .iter()
                    .map(|tag| tag.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| fields.corrupt("a tag is not a string"))?;
                Ok(Entry {
                    name: fields.text("name")?.to_owned(),
                    version: fields.number("version")?,
                    tags,
                    note: fields.text("note")?.to_owned(),
                    sealed: fields.sealed("ciphertext")?,
                })
            })
            .collect::<Result<Vec<_>, VaultError>>()?;
        Ok(Self {
            header,
            wrapped_key: wrapped.sealed("ciphertext")?,
            generation: root.number("generation")?,
            entries,
            manifest: Sealed {
                nonce: manifest.fixed("nonce", Encoding::Base64)?,
                ciphertext: manifest
                    .fixed::<TAG_BYTES>("tag", Encoding::Base64)?
                    .to_vec(),
            },
        })
    }

    /// The file's bytes: pretty JSON, keys in the order above, a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|entry| {
                json!({
                    "name": entry.name,
                    "version": entry.version,
                    "tags": entry.tags,
                    "note": entry.note,
                    "nonce": STANDARD.encode(entry.sealed.nonce),
                    "ciphertext": STANDARD.encode(&entry.sealed.ciphertext),
                })
            })
            .collect();
        let document = json!({
            FORMAT_KEY: FORMAT_VERSION,
            "vault_id": self.header.id_hex(),
            "epoch": self.header.epoch,
            "kdf": {
                "algorithm": "argon2id",
                "version": ARGON2_VERSION,
                "memory_kib": self.header.kdf.memory_kib,
                "passes": self.header.kdf.passes,
                "lanes": self.header.kdf.lanes,
                "salt": STANDARD.encode(self.header.salt),
            },
            "wrapped_key": {
                "nonce": STANDARD.encode(self.wrapped_key.nonce),
                "ciphertext": STANDARD.encode(&self.wrapped_key.ciphertext),
            },
            "generation": self.generation,
            "entries": entries,
            "manifest": {
                "nonce": STANDARD.encode(self.manifest.nonce),
                "tag": STANDARD.encode(&self.manifest.ciphertext),
            },
        });
        let mut bytes = serde_json::to_vec_pretty(&document).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// How a fixed-size byte field is written.
#[derive(Clone, Copy)]
enum Encoding {
    Hex,
    Base64,
}

/// One JSON object of the file, with the words to say where a problem is.
struct Fields<'a>(&'a Map<String, Value>, &'static str, PathBuf);

impl<'a> Fields<'a> {
    fn of(value: &'a Value, what: &'static str, path: &Path) -> Result<Self, VaultError> {
        match value.as_object() {
            Some(map) => Ok(Self(map, what, path.to_path_buf())),
            None => Err(VaultError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("{what} is not a JSON object"),
            }),
        }
    }

    fn corrupt(&self, reason: &str) -> VaultError {
        VaultError::Corrupt {
            path: self.2.clone(),
            reason: format!("in {}: {reason}", self.1),
        }
    }

    fn object(&self, key: &'static str) -> Result<Fields<'a>, VaultError> {
        let value = self
            .0
            .get(key)
            .ok_or_else(|| self.corrupt(&format!("`{key}` is missing")))?;
        let what = match key {
            "kdf" => "`kdf`",
            "wrapped_key" => "`wrapped_key`",
            _ => "`manifest`",
        };
        Fields::of(value, what, &self.2)
    }

    fn text(&self, key: &str) -> Result<&'a str, VaultError> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.corrupt(&format!("`{key}` is missing or not a string")))
    }

    fn number(&self, key: &str) -> Result<u64, VaultError> {
        self.0
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| self.corrupt(&format!("`{key}` is missing or not a whole number")))
    }

    fn bytes(&self, key: &str, encoding: Encoding) -> Result<Vec<u8>, VaultError> {
        let text = self.text(key)?;
        let decoded = match encoding {
            Encoding::Base64 => STANDARD.decode(text).ok(),
            Encoding::Hex => unhex(text),
        };
        decoded.ok_or_else(|| self.corrupt(&format!("`{key}` is not valid encoded bytes")))
    }

    fn fixed<const N: usize>(&self, key: &str, encoding: Encoding) -> Result<[u8; N], VaultError> {
        self.bytes(key, encoding)?
            .try_into()
            .map_err(|_| self.corrupt(&format!("`{key}` is not {N} bytes long")))
    }

    /// `nonce` and the ciphertext under `key`.
    fn sealed(&self, key: &str) -> Result<Sealed, VaultError> {
        let ciphertext = self.bytes(key, Encoding::Base64)?;
        if ciphertext.len() < TAG_BYTES {
            return Err(self.corrupt(&format!("`{key}` is shorter than its tag")));
        }
        Ok(Sealed {
            nonce: self.fixed::<NONCE_BYTES>("nonce", Encoding::Base64)?,
            ciphertext,
        })
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of an even-length hex string (either case).
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}
