//! sv-vault 2.0.2's vaults, read as they are (`SV_VAULT_FORMAT.md`): a directory holding
//! `vault.key.enc` (the master key sealed with AES-256-GCM under Argon2id(password), m=64 MiB,
//! t=3, p=4, no associated data) and `vault.data` (one JSON object of records sealed under the
//! master key), each in the SV01 container (§2). `vault.meta.json` and `audit.jsonl` are not
//! needed and not read.
//!
//! Read-only: nothing here writes an sv-vault. Its shares (`share <i>: <base64>` or `<i>:<base64>`,
//! GF(2^8) with the polynomial 0x11D, §6) recover the master key, which is checked by opening
//! `vault.data` with it, since the shares carry no checksum.

use std::fmt;
use std::path::{Path, PathBuf};

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::shamir::{self, Field, Point};

use super::crypto::KdfParams;
use super::error::VaultError;

/// The key file's name in the vault directory.
pub const KEY_FILE: &str = "vault.key.enc";
/// The data file's name in the vault directory.
pub const DATA_FILE: &str = "vault.data";

/// sv-vault's fixed Argon2id parameters (§3); not recorded in its files.
const SV_KDF: KdfParams = KdfParams::FLOOR;

/// An sv-vault opened: its records in the order sv-vault keeps them.
pub struct SvVault {
    dir: PathBuf,
    entries: Vec<SvEntry>,
}

/// One sv-vault record. `Debug` hides the value.
pub struct SvEntry {
    /// The name, as sv-vault shows it (`db/password`).
    pub name: String,
    /// The value.
    pub value: Zeroizing<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its note.
    pub note: String,
    /// Its category (`default` unless set).
    pub category: String,
}

impl SvVault {
    /// Opens the vault in `dir` with its password.
    pub fn open(dir: &Path, password: &[u8]) -> Result<Self, VaultError> {
        let key = Self::master_key(dir, password)?;
        Self::open_with_master_key(dir, &key)
    }

    /// The master key that `password` opens (§3 steps 1-2).
    pub fn master_key(dir: &Path, password: &[u8]) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        let path = dir.join(KEY_FILE);
        let blob = Blob::read(&path)?;
        let kek = SV_KDF
            .derive(password, &blob.salt)
            .map_err(|reason| VaultError::Invalid { reason })?;
        let key = blob
            .open(&kek)
            .ok_or(VaultError::WrongPassword { path: path.clone() })?;
        <[u8; 32]>::try_from(key.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Corrupt {
                path,
                reason: "the master key is not 32 bytes".into(),
            })
    }

    /// Opens the vault in `dir` with its master key (§3 step 3).
    pub fn open_with_master_key(dir: &Path, key: &[u8; 32]) -> Result<Self, VaultError> {
        let path = dir.join(DATA_FILE);
        let blob = Blob::read(&path)?;
        let plaintext = blob.open(key).ok_or_else(|| VaultError::Integrity {
            path: path.clone(),
            what: "`vault.data` (or it was written under another master key, as after an \
                   interrupted rekey)"
                .into(),
        })?;
        let entries = parse_records(&path, &plaintext)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            entries,
        })
    }

    /// The master key that sv-vault's `shares` give (each `share <i>: <base64>` or
    /// `<i>:<base64>`), checked by opening the vault's data with it.
    pub fn recover_master_key(
        dir: &Path,
        shares: &[&str],
    ) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        let bad = |reason: String| VaultError::BadShares { reason };
        let parsed = shares
            .iter()
            .enumerate()
            .map(|(n, line)| {
                parse_share(line).ok_or_else(|| {
                    bad(format!(
                        "share {} is not `share <i>: <base64>` or `<i>:<base64>` of 32 bytes",
                        n + 1
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let points: Vec<Point<'_>> = parsed.iter().map(|(x, y)| Point { x: *x, y }).collect();
        let key = shamir::combine(Field::RS, &points)?;
        let key = <[u8; 32]>::try_from(key.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| bad("the shares are not of a 32-byte key".into()))?;
        match Self::open_with_master_key(dir, &key) {
            Ok(_) => Ok(key),
            Err(VaultError::Integrity { .. }) => Err(bad(
                "the key they give does not open the vault's data: too few shares, or shares \
                 of another vault"
                    .into(),
            )),
            Err(other) => Err(other),
        }
    }

    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The records, in sv-vault's order.
    pub fn entries(&self) -> &[SvEntry] {
        &self.entries
    }

    /// The record named `name` as sv-vault shows it (`db/password`), or in its dotted form
    /// (`db.password`, slashes read as dots) when no record has that exact name.
    pub fn find(&self, name: &str) -> Option<&SvEntry> {
        self.entries
            .iter()
            .find(|entry| entry.name == name)
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|entry| entry.name.replace('/', ".") == name)
            })
    }
}

impl fmt::Debug for SvVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SvVault")
            .field("dir", &self.dir)
            .field("entries", &self.entries)
            .finish()
    }
}

impl fmt::Debug for SvEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SvEntry")
            .field("name", &self.name)
            .field("value", &"[REDACTED]")
            .field("tags", &self.tags)
            .field("note", &self.note)
            .field("category", &self.category)
            .finish()
    }
}

/// One SV01 container (§2), its lengths checked against the bytes there are.
struct Blob {
    salt: [u8; 32],
    nonce: [u8; 12],
    ciphertext: Vec<u8>,
}

impl Blob {
    fn read(path: &Path) -> Result<Self, VaultError> {
        Self::parse(path, &super::read_bytes(path)?)
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, VaultError> {
        let corrupt = |reason: &str| VaultError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let mut reader = Reader(bytes);
        if reader.take(4) != Some(b"SV01") {
            return Err(corrupt(
                "it does not start with `SV01`: not an sv-vault file",
            ));
        }
        let version = reader.take(1).ok_or_else(|| corrupt("cut short"))?[0];
        if version != 1 {
            return Err(VaultError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: format!("SV01 container version {version}"),
            });
        }
        let short = || corrupt("cut short, or a length field points past the end");
        let salt = reader.array::<32>().ok_or_else(short)?;
        let nonce = reader.array::<12>().ok_or_else(short)?;
        for _context_then_timestamp in 0..2 {
            let length = u16::from_be_bytes(reader.array::<2>().ok_or_else(short)?);
            reader.take(usize::from(length)).ok_or_else(short)?;
        }
        let length = u32::from_be_bytes(reader.array::<4>().ok_or_else(short)?);
        let ciphertext = reader
            .take(usize::try_from(length).map_err(|_| short())?)
            .ok_or_else(short)?;
        if ciphertext.len() < 16 {
            return Err(corrupt("the ciphertext is shorter than its tag"));
        }
        if !reader.0.is_empty() {
            return Err(corrupt("there are bytes after the ciphertext"));
        }
        Ok(Self {
            salt,
            nonce,
            ciphertext: ciphertext.to_vec(),
        })
    }

    /// AES-256-GCM without associated data (§2); `None` when it does not authenticate.
    fn open(&self, key: &[u8; 32]) -> Option<Zeroizing<Vec<u8>>> {
        let (ciphertext, tag) = self.ciphertext.split_at(self.ciphertext.len() - 16);
        let tag = <[u8; 16]>::try_from(tag).ok()?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        Aes256Gcm::new(&(*key).into())
            .decrypt_inout_detached(
                &Nonce::from(self.nonce),
                b"",
                buffer.as_mut_slice().into(),
                &Tag::from(tag),
            )
            .ok()?;
        Some(buffer)
    }
}

/// Bytes read from the front.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

/// The records of the DB plaintext (§4), in order.
fn parse_records(path: &Path, plaintext: &[u8]) -> Result<Vec<SvEntry>, VaultError> {
    let corrupt = |reason: &str| VaultError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    };
    let mut root: Value =
        serde_json::from_slice(plaintext).map_err(|_| corrupt("the decrypted data is not JSON"))?;
    let records = root
        .as_object_mut()
        .ok_or_else(|| corrupt("the decrypted data is not a JSON object"))?;
    let mut entries = Vec::with_capacity(records.len());
    for (name, record) in records.iter_mut() {
        let text = |record: &Value, key: &str, default: &str| match record.get(key) {
            None => Ok(default.to_owned()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(_) => Err(corrupt(&format!("a record's `{key}` is not a string"))),
        };
        let tags = match record.get("tags") {
            None => Vec::new(),
            Some(Value::Array(tags)) => tags
                .iter()
                .map(|tag| tag.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| corrupt("a record's tag is not a string"))?,
            Some(_) => return Err(corrupt("a record's `tags` is not a list")),
        };
        let note = text(record, "note", "")?;
        let category = text(record, "category", "default")?;
        // Moved out of the parsed document, not copied; the document is dropped below.
        let value = match record.get_mut("value") {
            Some(Value::String(value)) => Zeroizing::new(std::mem::take(value)),
            _ => return Err(corrupt("a record's `value` is missing or not a string")),
        };
        entries.push(SvEntry {
            name: name.clone(),
            value,
            tags,
            note,
            category,
        });
    }
    Ok(entries)
}

/// `share <i>: <base64>` or `<i>:<base64>` as (x, 32 bytes).
fn parse_share(line: &str) -> Option<(u8, Zeroizing<Vec<u8>>)> {
    let line = line.trim();
    let line = line.strip_prefix("share").unwrap_or(line);
    let (index, data) = line.split_once(':')?;
    let index: u8 = index.trim().parse().ok().filter(|x| *x > 0)?;
    let bytes = Zeroizing::new(STANDARD.decode(data.trim()).ok()?);
    (bytes.len() == 32).then_some((index, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sv-vault")
    }

    #[test]
    fn truncated_or_trailing_containers_are_corrupt() {
        let bytes = std::fs::read(example().join(KEY_FILE)).unwrap();
        let path = Path::new("k");
        assert!(Blob::parse(path, &bytes).is_ok());
        for cut in [0, 4, 5, 40, 60, 98, 146] {
            assert!(
                matches!(
                    Blob::parse(path, &bytes[..cut]),
                    Err(VaultError::Corrupt { .. })
                ),
                "{cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Blob::parse(path, &longer),
            Err(VaultError::Corrupt { .. })
        ));
        let mut other = bytes;
        other[4] = 2;
        assert!(matches!(
            Blob::parse(path, &other),
            Err(VaultError::UnsupportedVersion { .. })
        ));
    }

    /// `SV_VAULT_FORMAT.md` §7: the data blob opens under the published master key to exactly
    /// the published DB plaintext.
    #[test]
    fn the_data_blob_opens_to_the_published_plaintext() {
        let expected: Value =
            serde_json::from_slice(&std::fs::read(example().join("expected.json")).unwrap())
                .unwrap();
        let hex = expected["master_key_hex"].as_str().unwrap();
        let key: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let blob = Blob::read(&example().join(DATA_FILE)).unwrap();
        let plaintext = blob.open(&key.try_into().unwrap()).unwrap();
        assert_eq!(
            std::str::from_utf8(&plaintext).unwrap(),
            expected["db_plaintext_utf8"].as_str().unwrap()
        );
    }

    #[test]
    fn share_lines_in_both_printed_forms_parse() {
        let share = "uFAOoxzpX0sNOcaobXSQMIXaPJ0aLz9gP1NDNKXI5kU=";
        assert_eq!(parse_share(&format!("share 1: {share}")).unwrap().0, 1);
        assert_eq!(parse_share(&format!("4:{share}")).unwrap().0, 4);
        assert!(parse_share(&format!("0:{share}")).is_none());
        assert!(parse_share("1:AAAA").is_none());
    }
}
