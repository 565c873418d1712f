//! Writing SOPS files: encrypting cleartext into a new file, and editing an encrypted file (set,
//! unset, rotate) so that the real sops reads the result.
//!
//! Values are encrypted as sops encrypts them (SOPS_FORMAT.md §5-§8): a fresh 32-byte data key
//! per file, a fresh 32-byte IV per value, the path as AAD, the MAC over every value in document
//! order, `lastmodified` as the MAC's AAD. Editing keeps every unchanged value's ciphertext byte for
//! byte, as sops does, so a `set` changes one value, `lastmodified` and the MAC.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use regex::Regex;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::cipher::{self, DataKey};
use super::keys::{self, Identities, RecipientError};
use super::master_key::{MasterKey, Recipient};
use super::metadata::{KeyGroup, Metadata, Rule};
use super::tree::{Kind, Leaf, Node};
use super::{
    DecryptionError, EmitError, Format, MAC_ONLY_ENCRYPTED_INIT, ParseError, Place, ReadError,
    mac_text, open_tree, stores, visit_leaves,
};
use crate::atomic_write;

/// How [`encrypt`] protects a new file: the age recipients, grouped, and which values are
/// encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptOptions {
    /// Master keys per key group. One group: any of its keys opens the file. Several: the data
    /// key is split by Shamir's scheme and `shamir_threshold` groups are needed.
    pub key_groups: Vec<Vec<Recipient>>,
    /// How many key groups are needed; `None` means all of them.
    pub shamir_threshold: Option<usize>,
    /// Which values are encrypted.
    pub rule: EncryptionRule,
    /// Whether the MAC covers only the encrypted values (sops's `--mac-only-encrypted`).
    pub mac_only_encrypted: bool,
}

impl EncryptOptions {
    /// One key group with these recipients (a string is an age recipient), the default rule,
    /// the default MAC.
    pub fn for_recipients(recipients: impl IntoIterator<Item = impl Into<Recipient>>) -> Self {
        Self {
            key_groups: vec![recipients.into_iter().map(Into::into).collect()],
            shamir_threshold: None,
            rule: EncryptionRule::default(),
            mac_only_encrypted: false,
        }
    }
}

/// Which values a file encrypts (SOPS_FORMAT.md §6). Every key on a value's path is tested.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptionRule {
    /// Encrypt everything except under keys ending with this suffix (sops's default,
    /// `_unencrypted`).
    UnencryptedSuffix(String),
    /// Encrypt only under keys ending with this suffix.
    EncryptedSuffix(String),
    /// Encrypt everything except under keys matching this regular expression.
    UnencryptedRegex(String),
    /// Encrypt only under keys matching this regular expression.
    EncryptedRegex(String),
    /// Encrypt only the keys (with their subtrees) below a comment matching this regular
    /// expression.
    EncryptedCommentRegex(String),
    /// Encrypt everything except the keys (with their subtrees) below a comment matching this
    /// regular expression.
    UnencryptedCommentRegex(String),
}

impl Default for EncryptionRule {
    fn default() -> Self {
        Self::UnencryptedSuffix("_unencrypted".to_owned())
    }
}

impl EncryptionRule {
    fn compile(&self) -> Result<Rule, EncryptionError> {
        let regex = |pattern: &str| {
            Regex::new(pattern).map_err(|source| {
                EncryptionError::Options(OptionsError::BadRegex {
                    pattern: pattern.to_owned(),
                    source,
                })
            })
        };
        Ok(match self {
            Self::UnencryptedSuffix(s) => Rule::UnencryptedSuffix(s.clone()),
            Self::EncryptedSuffix(s) => Rule::EncryptedSuffix(s.clone()),
            Self::UnencryptedRegex(r) => Rule::UnencryptedRegex(regex(r)?),
            Self::EncryptedRegex(r) => Rule::EncryptedRegex(regex(r)?),
            Self::EncryptedCommentRegex(r) => Rule::EncryptedCommentRegex(regex(r)?),
            Self::UnencryptedCommentRegex(r) => Rule::UnencryptedCommentRegex(regex(r)?),
        })
    }
}

/// Why a SOPS file could not be written. Messages name keys, paths and recipients, never values.
/// Typed causes (the decryption error, the cleartext's parse error, an I/O error) are returned
/// by [`std::error::Error::source`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EncryptionError {
    /// The existing encrypted file could not be opened (wrong key, tampered, malformed).
    Decryption(DecryptionError),
    /// The cleartext could not be parsed in its store.
    Input(ParseError),
    /// The recipients, key groups or rule are unusable.
    Options(OptionsError),
    /// A key path cannot be set: its parent is a value, an index is out of range, the store cannot
    /// hold it.
    Path {
        /// The dotted path.
        path: String,
        /// Why.
        reason: String,
    },
    /// `unset` of a path that does not exist.
    Missing {
        /// The dotted path.
        path: String,
    },
    /// The document cannot be written in the output store (nesting in dotenv, several YAML
    /// documents in JSON).
    Output(EmitError),
    /// The file could not be read; nothing was written.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ReadError,
    },
    /// The file could not be locked or replaced; the old file is intact.
    Io {
        /// What was being done: `lock` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error, shared so that the error stays `Clone`.
        source: Arc<std::io::Error>,
    },
    /// What would be written does not read back as what was meant (the store cannot hold a
    /// value as it is); nothing was written.
    ReadBack {
        /// The store of the file.
        format: Format,
        /// What differs: a key path or the reader's error, never a value.
        reason: ReadBackProblem,
    },
}

impl fmt::Display for EncryptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decryption(error) => write!(f, "{error}"),
            Self::Input(reason) => write!(f, "cannot read the cleartext: {reason}"),
            Self::Options(reason) => write!(f, "{reason}"),
            Self::Path { path, reason } => write!(f, "cannot set `{path}`: {reason}"),
            Self::Missing { path } => write!(f, "the file has no value at `{path}`"),
            Self::Output(reason) => write!(f, "cannot write the file: {reason}"),
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Self::ReadBack { format, reason } => write!(
                f,
                "refusing to write: the {format} file would not read back as meant ({reason}); \
                 the file on disk is unchanged. A value this store cannot carry can go in an \
                 encrypted value or another store; otherwise please report this"
            ),
        }
    }
}

impl std::error::Error for EncryptionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decryption(cause) => Some(cause),
            Self::Input(cause) => Some(cause),
            Self::Output(cause) => Some(cause),
            Self::Options(cause) => Some(cause),
            Self::ReadBack {
                reason: ReadBackProblem::Unreadable(cause),
                ..
            } => Some(cause),
            Self::Read { source, .. } => Some(source),
            Self::Io { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

/// Why what would be written does not read back as meant ([`EncryptionError::ReadBack`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReadBackProblem {
    /// The bytes do not parse, decrypt or verify.
    Unreadable(DecryptionError),
    /// Another number of documents reads back.
    DocumentCount {
        /// How many were meant.
        meant: usize,
        /// How many read back.
        read: usize,
    },
    /// The document reads back with other keys.
    OtherKeys,
    /// The value at a key path reads back differently.
    Value {
        /// The dotted path.
        path: String,
    },
}

impl fmt::Display for ReadBackProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(e) => write!(f, "{e}"),
            Self::DocumentCount { meant, read } => {
                write!(f, "{meant} documents read back as {read}")
            }
            Self::OtherKeys => f.write_str("the document reads back with other keys"),
            Self::Value { path } => write!(f, "the value at `{path}` reads back differently"),
        }
    }
}

/// Why the recipients, key groups or rule of a file cannot be used.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OptionsError {
    /// A rule's regular expression does not compile.
    BadRegex {
        /// The pattern.
        pattern: String,
        /// The regex crate's error.
        source: regex::Error,
    },
    /// `rotate` was asked to remove a recipient the file does not have.
    NotARecipient {
        /// The recipient.
        recipient: String,
    },
    /// The data key does not have 32 bytes.
    DataKeySize,
    /// There is no recipient at all.
    NoRecipients,
    /// The Shamir threshold does not fit the number of key groups.
    BadThreshold {
        /// The threshold asked for.
        threshold: usize,
        /// How many non-empty key groups there are.
        groups: usize,
    },
    /// The data key cannot be encrypted to a recipient.
    Recipient(RecipientError),
    /// `rotate` would remove every key of the file and add none.
    NoKeyLeft,
    /// After the change, none of the identities at hand would open the file: the keys removed
    /// were the only ones held here (`rotate --force` / `updatekeys --force` allow it).
    LocksOut {
        /// The keys the change removes.
        removed: Vec<String>,
    },
    /// The file has a key of a type this build cannot give a new data key to.
    UnsupportedKey {
        /// The key, named by its type and id.
        key: String,
    },
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRegex { pattern, source } => {
                write!(f, "`{pattern}` is not a valid regular expression: {source}")
            }
            Self::NotARecipient { recipient } => {
                write!(f, "`{recipient}` is not a recipient of the file")
            }
            Self::DataKeySize => f.write_str("the data key is not 32 bytes"),
            Self::NoRecipients => f.write_str(
                "no recipients: pass --age (or --pgp, --hc-vault-transit, --kms), set \
                 SOPS_AGE_RECIPIENTS or add a .sops.yaml creation rule",
            ),
            Self::BadThreshold { threshold, groups } => write!(
                f,
                "a Shamir threshold of {threshold} does not fit {groups} key groups"
            ),
            Self::Recipient(e) => write!(f, "{e}"),
            Self::NoKeyLeft => f.write_str(
                "that removes every key of the file; add one in the same command with --add-age \
                 (or --add-pgp, --add-hc-vault-transit, --add-kms)",
            ),
            Self::LocksOut { removed } => write!(
                f,
                "after removing {} no identity available here would open the file; pass \
                 --force if that is meant (keep a key that opens it, or a copy)",
                if removed.is_empty() {
                    "those keys".to_owned()
                } else {
                    removed.join(", ")
                }
            ),
            Self::UnsupportedKey { key } => write!(
                f,
                "the file has the key {key}, whose type secret-cascade cannot encrypt to; remove \
                 it from the file's keys (or use sops) to change the data key"
            ),
        }
    }
}

impl std::error::Error for OptionsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::BadRegex { source, .. } => Some(source),
            Self::Recipient(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecryptionError> for EncryptionError {
    fn from(error: DecryptionError) -> Self {
        Self::Decryption(error)
    }
}

/// Encrypts cleartext `text` read in store `input` into a new SOPS file written in store `output`,
/// under a fresh data key.
pub fn encrypt(
    text: &[u8],
    input: Format,
    output: Format,
    options: &EncryptOptions,
) -> Result<Vec<u8>, EncryptionError> {
    let size = text.len() as u64;
    let parsed = if size > super::MAX_FILE_BYTES {
        Err(ParseError::TooLarge { size })
    } else {
        stores::parse_plain(text, input)
    };
    let branches = parsed.map_err(EncryptionError::Input)?;
    let data_key = cipher::new_data_key();
    let groups = options.key_groups.iter().filter(|g| !g.is_empty()).count();
    let threshold = options.shamir_threshold.unwrap_or(groups);
    let key_groups = wrap_key(&data_key, &options.key_groups, threshold)?;
    let binary = input == Format::Binary;
    if binary && (options.rule != EncryptionRule::default() || options.mac_only_encrypted) {
        // As sops: the whole file is one value, always encrypted and always in the MAC.
        tracing::warn!(
            "encryption rules and mac_only_encrypted do not apply to binary input; the whole \
             file is encrypted"
        );
    }
    let metadata = Metadata {
        key_groups,
        threshold,
        last_modified: String::new(),
        mac: Vec::new(),
        rule: if binary {
            EncryptionRule::default().compile()?
        } else {
            options.rule.compile()?
        },
        // sops states the rule in every new file but a binary one.
        rule_stated: !binary,
        mac_only_encrypted: options.mac_only_encrypted && !binary,
    };
    EditableFile {
        branches,
        metadata,
        data_key,
        stash: Stash::default(),
        format: output,
    }
    .to_bytes()
}

/// Edits the SOPS file at `path` in place: waits at most `lock_timeout` for the file's edit lock,
/// decrypts and verifies it, applies `edit`, and replaces it atomically (its permissions, owner
/// and group kept; a symbolic link is followed to the file it names, which is the one replaced).
/// On any error the file is left as it was. The store is `format` or else chosen by extension.
pub fn edit_file(
    path: &Path,
    format: Option<Format>,
    identities: &Identities,
    lock_timeout: Duration,
    edit: impl FnOnce(&mut EditableFile) -> Result<(), EncryptionError>,
) -> Result<(), EncryptionError> {
    let io = |action: &'static str, e: std::io::Error| EncryptionError::Io {
        action,
        path: path.to_path_buf(),
        source: Arc::new(e),
    };
    let _lock = atomic_write::lock(path, lock_timeout).map_err(|e| io("lock", e))?;
    let text = super::read_file(path).map_err(|e| match e {
        DecryptionError::Read(source) => EncryptionError::Read {
            path: path.to_path_buf(),
            source,
        },
        other => other.into(),
    })?;
    let format = format.unwrap_or_else(|| Format::from_path(path));
    let mut file = EditableFile::open(&text, format, identities)?;
    edit(&mut file)?;
    let written = file.to_bytes()?;
    atomic_write::write(path, &written, atomic_write::Mode::KeepOr(0o600))
        .map_err(|e| io("write", e))
}

/// An encrypted file opened for editing: decrypted and verified, changed in memory, written back
/// with [`EditableFile::to_bytes`]. The plaintext is wiped when it is dropped.
pub struct EditableFile {
    branches: Vec<Node>,
    metadata: Metadata,
    data_key: Zeroizing<Vec<u8>>,
    stash: Stash,
    format: Format,
}

impl EditableFile {
    /// Decrypts and verifies `text` (a SOPS file in store `format`) for editing.
    pub fn open(
        text: &[u8],
        format: Format,
        identities: &Identities,
    ) -> Result<Self, EncryptionError> {
        let mut stash = Stash::default();
        let mut opened = open_tree(text, format, identities, Some(&mut stash))?;
        // sops states the rule whenever it rewrites a file, even a binary one that had none.
        opened.metadata.rule_stated = true;
        Ok(Self {
            branches: opened.branches,
            metadata: opened.metadata,
            data_key: opened.data_key,
            stash,
            format,
        })
    }

    /// The store the file is written in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The file's cleartext in its own store, comments included: what `edit` hands to the
    /// editor (and what `sops decrypt` prints). Held in a buffer wiped on drop.
    pub fn plaintext(&self) -> Result<Zeroizing<Vec<u8>>, EmitError> {
        stores::emit(&self.branches, self.format)
    }

    /// Replaces every value with those of `text`, cleartext in the file's store (what the
    /// editor left), as `sops edit` does: a value whose place, type and plaintext did not change
    /// keeps its ciphertext when the file is written; the rest are encrypted anew. A `sops` key
    /// in `text` is refused.
    pub fn replace_plaintext(&mut self, text: &[u8]) -> Result<(), EncryptionError> {
        self.branches = stores::parse_plain(text, self.format).map_err(EncryptionError::Input)?;
        Ok(())
    }

    /// The master keys of every key group, as named in messages (an age recipient, `pgp FP`,
    /// `hc_vault URI`, `kms ARN`, or the type and id of a key this build cannot use).
    pub fn recipients(&self) -> Vec<String> {
        self.metadata
            .key_groups
            .iter()
            .flat_map(|g| g.keys.iter().map(MasterKey::describe))
            .collect()
    }

    /// Sets the string at `path` (map keys; a numeric segment indexes a list, one past the end
    /// appends), creating missing maps on the way. The first document of a multi-document file is
    /// edited.
    pub fn set(&mut self, path: &[String], value: &[u8]) -> Result<(), EncryptionError> {
        self.put(path, Node::Leaf(Leaf::new(Kind::Str, value)))
    }

    /// Sets the value at `path` (as [`EditableFile::set`]) to `json` parsed as sops's `set`
    /// parses its value: a number is a float, `true`/`false` a boolean, `null` a null, a string a
    /// string, an object or array a map or list of those. Invalid JSON is refused without naming
    /// its content.
    pub fn set_json(&mut self, path: &[String], json: &[u8]) -> Result<(), EncryptionError> {
        let node = stores::json::parse(json).map_err(|e| EncryptionError::Path {
            path: path.join("."),
            reason: format!("the value is not valid JSON: {e}"),
        })?;
        self.put(path, node)
    }

    fn put(&mut self, path: &[String], value: Node) -> Result<(), EncryptionError> {
        let dotted = path.join(".");
        let fail = |reason: &str| EncryptionError::Path {
            path: dotted.clone(),
            reason: reason.to_owned(),
        };
        let (last, parents) = path.split_last().ok_or_else(|| fail("the path is empty"))?;
        self.check_shape(path).map_err(fail)?;
        let mut node = self
            .branches
            .first_mut()
            .ok_or_else(|| fail("the file has no document"))?;
        for segment in parents {
            node = child(node, segment, true).map_err(fail)?;
        }
        *child(node, last, true).map_err(fail)? = value;
        Ok(())
    }

    /// Removes the value at `path` (a map key or a list item).
    pub fn unset(&mut self, path: &[String]) -> Result<(), EncryptionError> {
        let missing = || EncryptionError::Missing {
            path: path.join("."),
        };
        let (last, parents) = path.split_last().ok_or_else(missing)?;
        let mut node = self.branches.first_mut().ok_or_else(missing)?;
        for segment in parents {
            node = child(node, segment, false).map_err(|_| missing())?;
        }
        match node {
            Node::Map(entries) => {
                let at = entries
                    .iter()
                    .position(|(k, v)| k == last && v.is_data())
                    .ok_or_else(missing)?;
                entries.remove(at);
            }
            Node::List(items) => {
                let at = last
                    .parse::<usize>()
                    .ok()
                    .filter(|&i| i < items.len())
                    .ok_or_else(missing)?;
                items.remove(at);
            }
            _ => return Err(missing()),
        }
        Ok(())
    }

    /// Replaces the data key: every value is encrypted again under a new one, the master keys
    /// kept, `add` added to the first key group and the keys `remove` names (as
    /// [`Recipient::is_named`] matches them; a key of a type this build cannot use, by its
    /// resource id, vault URL or key id) removed everywhere. A file that keeps keys of such a
    /// type (GCP KMS, ...) cannot get a new data key, since they could not be given it.
    pub fn rotate(&mut self, add: &[Recipient], remove: &[String]) -> Result<(), EncryptionError> {
        for name in remove {
            let named = |key: &MasterKey| key.is_named(name);
            if !self
                .metadata
                .key_groups
                .iter()
                .any(|g| g.keys.iter().any(named))
            {
                return Err(EncryptionError::Options(OptionsError::NotARecipient {
                    recipient: name.clone(),
                }));
            }
        }
        for group in &mut self.metadata.key_groups {
            group
                .keys
                .retain(|key| !remove.iter().any(|name| key.is_named(name)));
        }
        let mut groups = self.recipient_groups()?;
        if let Some(first) = groups.first_mut() {
            for recipient in add {
                if !first.contains(recipient) {
                    first.push(recipient.clone());
                }
            }
        }
        if groups.iter().all(Vec::is_empty) {
            return Err(EncryptionError::Options(OptionsError::NoKeyLeft));
        }
        self.rewrap(&groups, cipher::new_data_key())?;
        self.stash = Stash::default();
        Ok(())
    }

    /// The file's master keys as recipients, per key group; an error naming a key of a type
    /// this build cannot wrap a data key for.
    pub fn recipient_groups(&self) -> Result<Vec<Vec<Recipient>>, EncryptionError> {
        self.metadata
            .key_groups
            .iter()
            .map(|group| {
                group
                    .keys
                    .iter()
                    .map(|key| {
                        key.recipient().ok_or_else(|| {
                            EncryptionError::Options(OptionsError::UnsupportedKey {
                                key: key.describe(),
                            })
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Wraps `data_key` for `groups` (the threshold kept, or lowered to the number of groups)
    /// and makes it the file's.
    fn rewrap(
        &mut self,
        groups: &[Vec<Recipient>],
        data_key: Zeroizing<Vec<u8>>,
    ) -> Result<(), EncryptionError> {
        let count = groups.iter().filter(|g| !g.is_empty()).count();
        let threshold = self.metadata.threshold.min(count.max(1));
        self.metadata.key_groups = wrap_key(&data_key, groups, threshold)?;
        self.metadata.threshold = if self.metadata.key_groups.len() == 1 {
            1
        } else {
            threshold
        };
        self.data_key = data_key;
        Ok(())
    }

    /// Refuses (with [`OptionsError::LocksOut`] naming the keys removed since `before`, as
    /// [`EditableFile::recipients`] named them) when none of `identities` opens the file's data
    /// key as it now stands: a change that would lock out whoever makes it. Every key is tried
    /// as decryption tries them (a Vault or KMS key asks its server).
    pub fn check_still_opens(
        &self,
        identities: &Identities,
        before: &[String],
    ) -> Result<(), EncryptionError> {
        if keys::data_key(&self.metadata, identities).is_ok() {
            return Ok(());
        }
        let now = self.recipients();
        Err(EncryptionError::Options(OptionsError::LocksOut {
            removed: before
                .iter()
                .filter(|k| !now.contains(k))
                .cloned()
                .collect(),
        }))
    }

    /// Gives the file exactly these master keys (sops's `updatekeys`): the data key is kept, so
    /// no value changes, and wrapped anew for every group; with several groups its Shamir shares
    /// are drawn anew. `threshold` `None` keeps the file's (capped at the number of groups).
    pub fn set_recipients(
        &mut self,
        groups: &[Vec<Recipient>],
        threshold: Option<usize>,
    ) -> Result<(), EncryptionError> {
        if let Some(threshold) = threshold {
            self.metadata.threshold = threshold;
        }
        let data_key = Zeroizing::new(self.data_key.to_vec());
        self.rewrap(groups, data_key)
    }

    /// The file's text: every value encrypted (unchanged ones as they were), a new `lastmodified`
    /// and MAC.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncryptionError> {
        let key = DataKey::new(&self.data_key)
            .ok_or(EncryptionError::Options(OptionsError::DataKeySize))?;
        let mut branches = self.branches.clone();
        let rule = &self.metadata.rule;
        let mac_only = self.metadata.mac_only_encrypted;
        let mut hasher = Sha512::new();
        if mac_only {
            hasher.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        let seal = |leaf: &mut Leaf, kind: Kind, aad: &[u8]| {
            let sealed = self
                .stash
                .get(aad, kind, &leaf.bytes)
                .unwrap_or_else(|| key.encrypt(kind, &leaf.bytes, aad));
            *leaf = Leaf::new(Kind::Str, sealed);
        };
        visit_leaves(&mut branches, rule, |place| {
            let Place {
                leaf,
                aad,
                matched,
                comment,
                marker,
            } = place;
            if comment {
                if rule.encrypts_comment(matched, marker) {
                    seal(leaf, Kind::Comment, aad);
                }
                return Ok::<(), EncryptionError>(());
            }
            let encrypted = rule.encrypts(matched);
            if !encrypted && mac_only {
                return Ok(());
            }
            // §5: empty strings are never encrypted and add nothing to the MAC.
            if encrypted && leaf.kind == Kind::Str && leaf.bytes.is_empty() {
                return Ok(());
            }
            hasher.update(&leaf.bytes);
            if encrypted {
                let kind = leaf.kind;
                seal(leaf, kind, aad);
            }
            Ok(())
        })?;
        let mut metadata = self.metadata.clone();
        metadata.last_modified = crate::timestamp::rfc3339_utc(SystemTime::now());
        metadata.mac = key.encrypt(
            Kind::Str,
            &mac_text(&mut hasher),
            metadata.last_modified.as_bytes(),
        );
        let written = stores::emit_encrypted(&branches, &metadata.to_node(), self.format)
            .map_err(EncryptionError::Output)?;
        self.check_reads_back(&written)?;
        Ok(written)
    }

    /// Reads `written` back as any reader will (parse, decrypt with the data key, MAC) and checks
    /// that it holds exactly the values meant. A store that cannot carry a value as it is (a
    /// quoting rule the writer missed) is found here, before anything reaches the disk.
    fn check_reads_back(&self, written: &[u8]) -> Result<(), EncryptionError> {
        let unreadable = |reason| EncryptionError::ReadBack {
            format: self.format,
            reason,
        };
        let (branches, metadata) = super::parse_encrypted(written, self.format)
            .map_err(|e| unreadable(ReadBackProblem::Unreadable(e)))?;
        let opened = super::open_with_key(branches, metadata, self.data_key.clone(), None)
            .map_err(|e| unreadable(ReadBackProblem::Unreadable(e)))?;
        match differing_value(&self.branches, &opened.branches, self.format) {
            None => Ok(()),
            Some(difference) => Err(unreadable(difference)),
        }
    }

    /// Whether `path` fits the store (dotenv holds `NAME`, INI `section.key`) and stays clear of
    /// the `sops` metadata and of characters the store cannot write back.
    fn check_shape(&self, path: &[String]) -> Result<(), &'static str> {
        let first = path.first().map(String::as_str).unwrap_or_default();
        match (self.format, path.len()) {
            (Format::Dotenv, 1) if first.starts_with("sops_") => {
                Err("`sops_` names hold the file's metadata")
            }
            (Format::Dotenv, 1) if first.starts_with('#') || first.contains(['=', '\n', '\r']) => {
                Err("a dotenv name cannot start with `#` or hold `=` or a line break")
            }
            (Format::Ini, 2) if first == "sops" => {
                Err("the `[sops]` section holds the file's metadata")
            }
            (Format::Ini, 2)
                if path.iter().any(|p| {
                    p.starts_with([';', '#', '[']) || p.contains([']', '=', ':', '\n', '\r'])
                }) =>
            {
                Err(
                    "an INI section or key cannot hold `]`, `=`, `:` or a line break, or start \
                     with `;`, `#` or `[`",
                )
            }
            (Format::Dotenv, 1) | (Format::Ini, 2) => Ok(()),
            (Format::Dotenv, _) => Err("a dotenv file holds plain `NAME`s"),
            (Format::Ini, _) => Err("an INI file holds `section.key` names"),
            (Format::Binary, _) if path != ["data"] => Err("a binary file holds only `data`"),
            _ if first == "sops" => Err("the top-level `sops` key holds the file's metadata"),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for EditableFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EditableFile")
            .field("format", &self.format)
            .field("recipients", &self.recipients())
            .finish_non_exhaustive()
    }
}

/// The child of `node` at `segment`; with `create`, a missing map key is added (as an empty map,
/// to be filled or replaced) and an index one past a list's end appends.
fn child<'a>(
    node: &'a mut Node,
    segment: &str,
    create: bool,
) -> Result<&'a mut Node, &'static str> {
    match node {
        Node::Map(entries) => {
            let at = match entries
                .iter()
                .position(|(k, v)| k == segment && v.is_data())
            {
                Some(at) => at,
                None if create => {
                    entries.push((segment.to_owned(), Node::Map(Vec::new())));
                    entries.len() - 1
                }
                None => return Err("no such key"),
            };
            Ok(&mut entries[at].1)
        }
        Node::List(items) => {
            let index = segment
                .parse::<usize>()
                .map_err(|_| "a list is indexed by numbers")?;
            if create && index == items.len() {
                items.push(Node::Map(Vec::new()));
            }
            items
                .get_mut(index)
                .ok_or("the index is past the end of the list")
        }
        Node::Null if create => {
            *node = Node::Map(Vec::new());
            child(node, segment, create)
        }
        _ => Err("a value on the way is not a map or list"),
    }
}

/// Where the first value (map keys and list items, comments aside) differs
/// between what was meant and what was read back, compared by bytes: a type may change across stores (an
/// int written to dotenv reads back as a string) but its text may not. An INI reader always has a
/// `DEFAULT` section, so an empty one on either side is no difference.
fn differing_value(meant: &[Node], read: &[Node], format: Format) -> Option<ReadBackProblem> {
    fn data(entries: &[(String, Node)], skip_empty_default: bool) -> Vec<&(String, Node)> {
        entries
            .iter()
            .filter(|(key, value)| {
                value.is_data()
                    && !(skip_empty_default
                        && key == "DEFAULT"
                        && matches!(value, Node::Map(e) if !e.iter().any(|(_, v)| v.is_data())))
            })
            .collect()
    }
    fn differs(a: &Node, b: &Node, path: &mut Vec<String>, top_ini: bool) -> bool {
        match (a, b) {
            (Node::Map(a), Node::Map(b)) => {
                let (a, b) = (data(a, top_ini), data(b, top_ini));
                if a.len() != b.len() {
                    return true;
                }
                a.iter().zip(&b).any(|((ka, va), (kb, vb))| {
                    path.push(ka.clone());
                    let found = ka != kb || differs(va, vb, path, false);
                    if !found {
                        path.pop();
                    }
                    found
                })
            }
            (Node::List(a), Node::List(b)) => {
                let a: Vec<_> = a.iter().filter(|n| n.is_data()).collect();
                let b: Vec<_> = b.iter().filter(|n| n.is_data()).collect();
                a.len() != b.len()
                    || a.iter().zip(&b).enumerate().any(|(i, (x, y))| {
                        path.push(i.to_string());
                        let found = differs(x, y, path, false);
                        if !found {
                            path.pop();
                        }
                        found
                    })
            }
            (Node::Leaf(a), Node::Leaf(b)) => a.bytes.as_slice() != b.bytes.as_slice(),
            (Node::Null, Node::Null) => false,
            _ => true,
        }
    }
    if meant.len() != read.len() {
        return Some(ReadBackProblem::DocumentCount {
            meant: meant.len(),
            read: read.len(),
        });
    }
    let mut path = Vec::new();
    meant
        .iter()
        .zip(read)
        .any(|(a, b)| differs(a, b, &mut path, format == Format::Ini))
        .then(|| match path.as_slice() {
            [] => ReadBackProblem::OtherKeys,
            _ => ReadBackProblem::Value {
                path: path.join("."),
            },
        })
}

/// Encrypts the data key to every recipient, split into Shamir shares when there are several
/// groups.
fn wrap_key(
    data_key: &[u8],
    groups: &[Vec<Recipient>],
    threshold: usize,
) -> Result<Vec<KeyGroup>, EncryptionError> {
    let groups: Vec<&Vec<Recipient>> = groups.iter().filter(|g| !g.is_empty()).collect();
    if groups.is_empty() {
        return Err(EncryptionError::Options(OptionsError::NoRecipients));
    }
    if groups.len() > 255 || threshold == 0 || threshold > groups.len() {
        return Err(EncryptionError::Options(OptionsError::BadThreshold {
            threshold,
            groups: groups.len(),
        }));
    }
    let payloads = if groups.len() == 1 {
        vec![Zeroizing::new(data_key.to_vec())]
    } else {
        keys::shamir_split(data_key, groups.len(), threshold).map_err(|_| {
            EncryptionError::Options(OptionsError::BadThreshold {
                threshold,
                groups: groups.len(),
            })
        })?
    };
    let created_at = crate::timestamp::rfc3339_utc(std::time::SystemTime::now());
    groups
        .iter()
        .zip(&payloads)
        .map(|(recipients, payload)| {
            let keys = recipients
                .iter()
                .map(|recipient| {
                    MasterKey::wrap(payload, recipient, &created_at)
                        .map_err(|e| EncryptionError::Options(OptionsError::Recipient(e)))
                })
                .collect::<Result<_, EncryptionError>>()?;
            Ok(KeyGroup { keys })
        })
        .collect()
}

/// The ciphertexts of a file's values as read, by place, type and plaintext: re-encrypting an
/// unchanged value gives back its old ciphertext (sops's stash), so an edit touches only what
/// changed.
#[derive(Default)]
pub(crate) struct Stash {
    by_place: HashMap<Vec<u8>, Vec<Stashed>>,
}

/// A value's type and plaintext, and the ciphertext it was read from.
type Stashed = (Kind, Zeroizing<Vec<u8>>, Vec<u8>);

impl Stash {
    /// Remembers that `leaf` (decrypted) at `aad` was `ciphertext`.
    pub(crate) fn keep(&mut self, aad: &[u8], leaf: &Leaf, ciphertext: Vec<u8>) {
        self.by_place.entry(aad.to_vec()).or_default().push((
            leaf.kind,
            leaf.bytes.clone(),
            ciphertext,
        ));
    }

    fn get(&self, aad: &[u8], kind: Kind, plaintext: &[u8]) -> Option<Vec<u8>> {
        self.by_place
            .get(aad)?
            .iter()
            .find_map(|(k, p, c)| (*k == kind && p.as_slice() == plaintext).then(|| c.clone()))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    /// A file encrypted from `yaml`, opened for editing, with what `to_bytes` wrote.
    fn written(yaml: &str, mac_only_encrypted: bool) -> (EditableFile, String) {
        let identity = age::x25519::Identity::generate();
        let mut options = EncryptOptions::for_recipients([identity.to_public().to_string()]);
        options.mac_only_encrypted = mac_only_encrypted;
        let bytes = encrypt(yaml.as_bytes(), Format::Yaml, Format::Yaml, &options).unwrap();
        let identities =
            Identities::from_text(identity.to_string().expose_secret(), "test").unwrap();
        let file = EditableFile::open(&bytes, Format::Yaml, &identities).unwrap();
        let again = String::from_utf8(file.to_bytes().unwrap()).unwrap();
        (file, again)
    }

    #[test]
    fn a_write_whose_mac_does_not_read_back_is_refused() {
        let (file, text) = written("secret: s3cr3t\nport_unencrypted: 5432\n", false);
        let changed = text.replace("port_unencrypted: 5432", "port_unencrypted: 5433");
        let error = file.check_reads_back(changed.as_bytes()).unwrap_err();
        assert!(
            matches!(
                &error,
                EncryptionError::ReadBack { reason: ReadBackProblem::Unreadable(e), .. }
                    if e.to_string().contains("MAC")
            ),
            "{error}"
        );
    }

    #[test]
    fn a_write_whose_values_do_not_read_back_is_refused_and_named_without_the_value() {
        // With --mac-only-encrypted the MAC does not cover plaintext values: only the
        // comparison of the values finds the change.
        let (file, text) = written("secret: s3cr3t\nport_unencrypted: 5432\n", true);
        let changed = text.replace("port_unencrypted: 5432", "port_unencrypted: 5433");
        let error = file.check_reads_back(changed.as_bytes()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`port_unencrypted`"), "{message}");
        assert!(
            !message.contains("5432") && !message.contains("5433"),
            "{message}"
        );
        assert!(message.contains("unchanged"), "{message}");
    }

    #[test]
    fn a_write_that_does_not_parse_is_refused() {
        let (file, text) = written("secret: s3cr3t\n", false);
        let error = file.check_reads_back(&text.as_bytes()[..text.len() / 2]);
        assert!(matches!(error, Err(EncryptionError::ReadBack { .. })));
    }
}
