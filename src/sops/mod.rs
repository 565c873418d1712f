//! The SOPS file format, read and written natively (no `sops` binary): the five stores, the
//! metadata, age identities and Shamir key groups, the values' AES-256-GCM, and the MAC.
//! `SOPS_FORMAT.md` in the project's design notes is the rule-by-rule specification this follows;
//! comments cite its sections. [`decrypt_file`] reads; [`encrypt`], [`EditableFile`] and
//! [`edit_file`] write files the real sops 3.11 reads, laid out as sops lays them out.
//!
//! Decryption fails closed: the MAC is verified over every value before any value is returned,
//! and a value that is plaintext where the file's rules require ciphertext is an error. Editing
//! decrypts and verifies the whole file first, so a tampered file is never rewritten.

mod age_encrypted;
mod age_pq;
mod age_ssh;
mod aws;
mod cipher;
mod creation_rules;
mod encrypt;
mod hc_vault;
pub mod inspect;
mod key_command;
mod keys;
mod kms;
mod master_key;
mod metadata;
mod passphrase;
mod pgp;
mod scalar;
pub(crate) mod stores;
mod threads;
pub(crate) mod tree;
mod values;
mod xwing;

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use crate::bounded_read::ReadError;
pub use creation_rules::{CreationRule, CreationRuleError, RuleProblem, find_creation_rule};
pub use encrypt::{
    EditableFile, EncryptOptions, EncryptionError, EncryptionRule, OptionsError, ReadBackProblem,
    edit_file, encrypt,
};
pub use key_command::KeyCommandError;
pub use keys::{Identities, IdentityError, RecipientError, StanzaError};
pub use master_key::{KmsRecipient, Recipient};
pub use stores::{EmitError, Format, ParseError, ParseProblem};

use cipher::{DataKey, ValueError};
use encrypt::Stash;
use metadata::Metadata;
pub use metadata::MetadataError;
pub use pgp::PgpKeyError;
use tree::{Kind, Node};

/// Files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The 32 bytes that start the MAC of a `mac_only_encrypted` file (SOPS_FORMAT.md §8).
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

impl DecryptionError {
    /// Whether the file uses only key types this build cannot open (exit code 6 on the command
    /// line), as opposed to keys it supports but does not have (exit code 3).
    pub fn is_unsupported_key_type(&self) -> bool {
        matches!(self, Self::UnsupportedKeyTypes { .. })
    }
}

/// Why a SOPS file could not be decrypted. Messages name keys and recipients, never values.
///
/// A failure with a typed cause (the I/O error of a read, the parse error of the file, an
/// identity source's failure) keeps it: [`std::error::Error::source`] returns it, and the chain
/// ends at the [`std::io::Error`] when there is one. `Clone`, because the causes are shared; not
/// `PartialEq`, because an I/O error has no equality: match with `matches!`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DecryptionError {
    /// The file could not be read (it is missing, unreadable, or not a regular file).
    Read(ReadError),
    /// The file is larger than [`MAX_FILE_BYTES`].
    TooLarge {
        /// Its size in bytes as reported, or as many bytes as were read when the report was
        /// smaller (a `/proc` file, a growing file).
        size: u64,
    },
    /// The file is not valid in its store's syntax, or is hostile (too deep, too many nodes).
    Parse(ParseError),
    /// There is no `sops` section: the file is not encrypted by sops.
    MissingMetadata,
    /// The `sops` section is malformed.
    Metadata(MetadataError),
    /// An identity source is set but unusable (unreadable key file, malformed key, failed command).
    Identities(IdentityError),
    /// A PGP key file is set but unusable (unreadable, malformed, without a secret key).
    PgpKeys(PgpKeyError),
    /// An age stanza of the file is malformed or corrupt.
    Stanza(StanzaError),
    /// No age identity is available at all.
    NoIdentities,
    /// None of the available identities opens the data key.
    NoMatchingIdentity {
        /// The file's master keys (age recipients, `pgp FINGERPRINT`, `hc_vault URI`, `kms ARN`).
        recipients: Vec<String>,
        /// Where the identities tried came from (files, variables, GnuPG).
        tried: Vec<String>,
        /// The public keys of the identities tried (age recipients, `pgp FINGERPRINT`), where
        /// known: which keys the user has, to compare with the file's.
        held: Vec<String>,
        /// Keys that could not be used although they may be ours: a server that could not be
        /// reached, gpg or `SOPS_AGE_KEY_CMD` failing. Each names the key and the cause.
        failures: Vec<String>,
    },
    /// None of the file's key groups has a key of a type this build can open (GCP KMS, Azure Key
    /// Vault, ...). The command-line tool exits with 6.
    UnsupportedKeyTypes {
        /// The file's key types, named for people (`GCP Cloud KMS (gcp_kms)`).
        types: Vec<String>,
    },
    /// Key groups: fewer shares could be opened than the threshold needs.
    TooFewShares {
        /// The file's `shamir_threshold`.
        needed: usize,
        /// How many groups the available identities opened.
        opened: usize,
    },
    /// A value the file's rules require to be encrypted is plaintext: the file was modified.
    NotEncrypted {
        /// Its key path as used for authentication (`database:password:`).
        path: String,
    },
    /// An `ENC[...]` value is malformed.
    BadValue {
        /// Its key path (`database:password:`).
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value failed authentication: the file was modified, or a value was moved to another key.
    ValueAuthentication {
        /// Its key path (`database:password:`).
        path: String,
    },
    /// The `sops.mac` entry is missing or empty.
    MacMissing,
    /// The stored MAC itself failed authentication (modified `mac` or `lastmodified`).
    MacAuthentication,
    /// The MAC does not match the values: the file was modified.
    MacMismatch,
    /// A thread decrypting values stopped unexpectedly (a bug): nothing was returned.
    WorkerPanicked,
}

impl fmt::Display for DecryptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(reason) => write!(f, "cannot read the file: {reason}"),
            Self::TooLarge { size } => {
                write!(
                    f,
                    "the file has at least {size} bytes; the limit is {MAX_FILE_BYTES}"
                )
            }
            Self::Parse(reason) => write!(f, "cannot parse the file: {reason}"),
            Self::MissingMetadata => {
                f.write_str("the file has no `sops` section; it is not a sops-encrypted file")
            }
            Self::Metadata(reason) => write!(f, "the `sops` section is invalid: {reason}"),
            Self::Identities(reason) => write!(f, "cannot load age identities: {reason}"),
            Self::PgpKeys(reason) => write!(f, "cannot load PGP keys: {reason}"),
            Self::Stanza(reason) => write!(f, "the `sops` section is invalid: {reason}"),
            Self::NoIdentities => f.write_str(
                "no age identity available: set `age_key_file` in the config, SOPS_AGE_KEY, \
                 SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD or SOPS_AGE_SSH_PRIVATE_KEY_FILE, or create \
                 ~/.config/sops/age/keys.txt or ~/.ssh/id_ed25519",
            ),
            Self::NoMatchingIdentity {
                recipients,
                tried,
                held,
                failures,
            } => {
                write!(
                    f,
                    "no identity matched: the file is encrypted to {}; identities tried from {}",
                    recipients.join(", "),
                    if tried.is_empty() {
                        "nowhere (none is configured)".to_owned()
                    } else {
                        tried.join(", ")
                    }
                )?;
                if !held.is_empty() {
                    write!(f, " (holding {})", held.join(", "))?;
                }
                if !failures.is_empty() {
                    write!(f, "; failed: {}", failures.join("; "))?;
                }
                Ok(())
            }
            Self::UnsupportedKeyTypes { types } => write!(
                f,
                "the file can only be opened with {}, which secret-cascade does not support; \
                 decrypt it with sops, or add an age, PGP, Vault transit or AWS KMS key to it \
                 (`sops updatekeys` after adding one to .sops.yaml)",
                types.join(", ")
            ),
            Self::TooFewShares { needed, opened } => write!(
                f,
                "the file needs keys from {needed} key groups; the available identities open {opened}"
            ),
            Self::NotEncrypted { path } => write!(
                f,
                "value at `{path}` is not encrypted although the file's rules require it: the file was modified"
            ),
            Self::BadValue { path, reason } => {
                write!(f, "value at `{path}` is malformed: {reason}")
            }
            Self::ValueAuthentication { path } => write!(
                f,
                "value at `{path}` failed authentication: the file was modified or the value moved"
            ),
            Self::MacMissing => f.write_str("the file has no MAC"),
            Self::MacAuthentication => {
                f.write_str("the MAC failed authentication: `mac` or `lastmodified` was modified")
            }
            Self::MacMismatch => f.write_str("MAC mismatch: the file was modified"),
            Self::WorkerPanicked => f.write_str(
                "a thread decrypting the values stopped unexpectedly (a bug in secret-cascade; \
                 please report it); no value was returned",
            ),
        }
    }
}

impl From<ParseError> for DecryptionError {
    fn from(error: ParseError) -> Self {
        Self::Parse(error)
    }
}

impl std::error::Error for DecryptionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read(cause) => Some(cause),
            Self::Parse(cause) => Some(cause),
            Self::Metadata(cause) => Some(cause),
            Self::Identities(cause) => Some(cause),
            Self::PgpKeys(cause) => Some(cause),
            Self::Stanza(cause) => Some(cause),
            _ => None,
        }
    }
}

/// A decrypted, MAC-verified SOPS document. Values are held in zeroizing buffers and wiped when
/// the document is dropped. `Debug` shows the shape, never a value.
pub struct Document {
    branches: Vec<Node>,
    format: Format,
}

/// A key and its value as text, wiped on drop.
pub type NamedValue = (String, Zeroizing<Vec<u8>>);

/// What a key path points at in a [`Document`].
pub enum Lookup {
    /// A scalar as text (`s3cr3t`, `5432`, `true`, `0.125`, a time as sops prints it) or a map
    /// or list as compact JSON.
    Value(Zeroizing<Vec<u8>>),
    /// The key exists and is null.
    Null,
    /// No such key.
    Missing,
}

impl Lookup {
    /// What a lookup gives for the node a path reached (`None`: nothing there): a scalar as text
    /// (a boolean as `true`/`false`), a map or list as compact JSON, a null as [`Lookup::Null`].
    /// The JSON layer shares it, so both layers hand out values alike.
    pub(crate) fn of(found: Option<&Node>) -> Self {
        match found {
            None => Lookup::Missing,
            Some(Node::Null | Node::Comment(_)) => Lookup::Null,
            Some(Node::Leaf(leaf)) if leaf.kind == Kind::Bool => {
                let text: &[u8] = if leaf.bytes.as_slice() == b"True" {
                    b"true"
                } else {
                    b"false"
                };
                Lookup::Value(Zeroizing::new(text.to_vec()))
            }
            Some(Node::Leaf(leaf)) => Lookup::Value(Zeroizing::new(leaf.bytes.to_vec())),
            Some(tree) => Lookup::Value(stores::json::compact(tree)),
        }
    }
}

impl Document {
    /// The store the document was read from.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The value at `path` (map keys; a numeric segment indexes a list), searching the documents
    /// of a multi-document file in order.
    pub fn lookup(&self, path: &[&str]) -> Lookup {
        self.lookup_segments(path.iter().copied())
    }

    /// [`Document::lookup`] for segments given as an iterator.
    pub(crate) fn lookup_segments<'p>(
        &self,
        path: impl Iterator<Item = &'p str> + Clone,
    ) -> Lookup {
        Lookup::of(
            self.branches
                .iter()
                .find_map(|branch| branch.at(path.clone())),
        )
    }

    /// The top-level keys of the first document and their scalar values as text (a null as
    /// empty), as `sops exec-env` exports them; `Err` names the first key whose value is a map or
    /// list, which no environment variable can hold. Comments are skipped.
    pub fn top_level_scalars(&self) -> Result<Vec<NamedValue>, String> {
        let Some(Node::Map(entries)) = self.branches.first() else {
            return Ok(Vec::new());
        };
        entries
            .iter()
            .filter(|(_, node)| node.is_data())
            .map(|(key, node)| match (node, Lookup::of(Some(node))) {
                (Node::Map(_) | Node::List(_), _) => Err(key.clone()),
                (_, Lookup::Value(text)) => Ok((key.clone(), text)),
                (_, Lookup::Null | Lookup::Missing) => {
                    Ok((key.clone(), Zeroizing::new(Vec::new())))
                }
            })
            .collect()
    }

    /// Why `path` holds no value, in words naming the part of the path that fails (a missing
    /// key, a list index past the end, a scalar or null on the way, a null at the end); `None`
    /// when it holds one. Names keys, never values.
    pub fn why_missing(&self, path: &[&str]) -> Option<String> {
        let mut reasons = self
            .branches
            .iter()
            .map(|branch| branch.why_missing(path.iter().copied()));
        let first = reasons.next()??;
        reasons.all(|r| r.is_some()).then_some(first)
    }

    /// The whole document written in `format` (sops's `--output-type`), optionally only the
    /// subtree at `extract`.
    pub fn emit(
        &self,
        format: Format,
        extract: Option<&[String]>,
    ) -> Result<Zeroizing<Vec<u8>>, EmitError> {
        let Some(path) = extract else {
            return stores::emit(&self.branches, format);
        };
        let first = self.branches.first().ok_or(EmitError::NoDocument)?;
        let segments = || path.iter().map(String::as_str);
        let node = first.at(segments()).ok_or_else(|| EmitError::NoValueAt {
            path: path.join("."),
            reason: first.why_missing(segments()).unwrap_or_default(),
        })?;
        match node {
            // A string as its bytes; another scalar as sops prints it (`0.75`, `.inf`, `true`).
            Node::Leaf(leaf) if leaf.kind == Kind::Str => Ok(Zeroizing::new(leaf.bytes.to_vec())),
            Node::Leaf(_) => Ok(stores::yaml::extracted_scalar(node)),
            Node::Null | Node::Comment(_) => Ok(Zeroizing::new(b"null".to_vec())),
            tree => stores::emit(std::slice::from_ref(tree), format),
        }
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("format", &self.format)
            .field("documents", &self.branches.len())
            .finish_non_exhaustive()
    }
}

/// A path in sops's `--extract` syntax that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractSyntaxError {
    text: String,
}

impl ExtractSyntaxError {
    /// The text given as the path.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ExtractSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--extract: expected a path like '[\"key\"][0]', got {:?}",
            self.text
        )
    }
}

impl std::error::Error for ExtractSyntaxError {}

/// Parses sops's `--extract` syntax, `["key"]["other"][0]`, into path segments.
pub fn parse_extract(text: &str) -> Result<Vec<String>, ExtractSyntaxError> {
    let invalid = || ExtractSyntaxError {
        text: text.to_owned(),
    };
    let mut rest = text.trim();
    let mut path = Vec::new();
    while let Some(inner) = rest.strip_prefix('[') {
        let (segment, after) = match inner.strip_prefix('"') {
            Some(quoted) => quoted.split_once("\"]").ok_or_else(invalid)?,
            None => inner.split_once(']').ok_or_else(invalid)?,
        };
        path.push(segment.to_owned());
        rest = after;
    }
    if rest.is_empty() {
        Ok(path)
    } else {
        Err(invalid())
    }
}

/// Reads the regular file at `path`, of at most [`MAX_FILE_BYTES`], into a buffer that is wiped
/// on drop: a SOPS file, or the cleartext `encrypt` is given. A FIFO, device or directory is
/// refused before anything is read, and the limit holds even when the reported size lies.
pub fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, DecryptionError> {
    crate::bounded_read::file(path, MAX_FILE_BYTES).map_err(|e| match e {
        ReadError::TooLarge { size, .. } => DecryptionError::TooLarge { size },
        other => DecryptionError::Read(other),
    })
}

/// Reads, decrypts and verifies a SOPS file; the store is `format` or else chosen by extension.
pub fn decrypt_file(
    path: &Path,
    format: Option<Format>,
    identities: &Identities,
) -> Result<Document, DecryptionError> {
    let text = read_file(path)?;
    decrypt(
        &text,
        format.unwrap_or_else(|| Format::from_path(path)),
        identities,
    )
}

/// Decrypts and verifies the text of a SOPS file in `format`.
pub fn decrypt(
    text: &[u8],
    format: Format,
    identities: &Identities,
) -> Result<Document, DecryptionError> {
    let opened = open_tree(text, format, identities, None)?;
    Ok(Document {
        branches: opened.branches,
        format,
    })
}

/// A file's verified plaintext tree with its metadata and data key.
pub(crate) struct Opened {
    pub(crate) branches: Vec<Node>,
    pub(crate) metadata: Metadata,
    pub(crate) data_key: Zeroizing<Vec<u8>>,
}

/// Parses, decrypts and verifies; with `stash`, remembers every value's ciphertext so that
/// re-encrypting an unchanged value can give back the same bytes, as sops does.
pub(crate) fn open_tree(
    text: &[u8],
    format: Format,
    identities: &Identities,
    stash: Option<&mut Stash>,
) -> Result<Opened, DecryptionError> {
    let (branches, metadata) = parse_encrypted(text, format)?;
    let data_key = keys::data_key(&metadata, identities)?;
    open_with_key(branches, metadata, data_key, stash)
}

/// Parses an encrypted file into its (still encrypted) documents and its metadata.
pub(crate) fn parse_encrypted(
    text: &[u8],
    format: Format,
) -> Result<(Vec<Node>, Metadata), DecryptionError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(DecryptionError::TooLarge {
            size: text.len() as u64,
        });
    }
    let stores::Parsed { branches, sops } = stores::parse(text, format)?;
    let sops = sops.ok_or(DecryptionError::MissingMetadata)?.into_tree()?;
    let metadata = Metadata::parse(&sops)?;
    Ok((branches, metadata))
}

/// Decrypts every value of parsed `branches` with the data key and verifies the MAC.
pub(crate) fn open_with_key(
    branches: Vec<Node>,
    metadata: Metadata,
    data_key: Zeroizing<Vec<u8>>,
    stash: Option<&mut Stash>,
) -> Result<Opened, DecryptionError> {
    open_on_threads(branches, metadata, data_key, stash, threads::available())
}

/// [`open_with_key`] on at most `max_threads` threads.
fn open_on_threads(
    mut branches: Vec<Node>,
    metadata: Metadata,
    data_key: Zeroizing<Vec<u8>>,
    stash: Option<&mut Stash>,
    max_threads: usize,
) -> Result<Opened, DecryptionError> {
    let key =
        DataKey::new(&data_key).ok_or(DecryptionError::Metadata(MetadataError::DataKeySize))?;
    let mut hasher = Sha512::new();
    if metadata.mac_only_encrypted {
        hasher.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    values::open(
        &mut branches,
        &metadata,
        &key,
        &mut hasher,
        stash,
        max_threads,
    )?;
    verify_mac(&key, &metadata, &mut hasher)?;
    Ok(Opened {
        branches,
        metadata,
        data_key,
    })
}

/// A leaf or comment met by [`visit_leaves`].
pub(crate) struct Place<'a> {
    pub(crate) leaf: &'a mut tree::Leaf,
    /// The AAD of the place (SOPS_FORMAT.md §7): `key:key:`, a comment's enclosing map's path,
    /// `:` for a top-level comment.
    pub(crate) aad: &'a [u8],
    /// Whether some key on the path matches the rule's suffix or pattern, or (comment rules) a
    /// marker comment stands above a key on the path (§6).
    pub(crate) matched: bool,
    pub(crate) comment: bool,
    /// For a comment: whether it is itself a marker of a comment rule.
    pub(crate) marker: bool,
}

/// Visits every leaf and comment in document order (§8), as both encryption and decryption walk.
pub(crate) fn visit_leaves<E>(
    branches: &mut [Node],
    rule: &metadata::Rule,
    mut visit: impl FnMut(Place<'_>) -> Result<(), E>,
) -> Result<(), E> {
    fn walk<E>(
        node: &mut Node,
        matched: bool,
        aad: &mut Vec<u8>,
        rule: &metadata::Rule,
        visit: &mut impl FnMut(Place<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        match node {
            Node::Map(entries) => {
                // Whether a marker comment came since the previous key (comment rules).
                let mut marked = false;
                for (key, value) in entries {
                    if let Node::Comment(leaf) = value {
                        // A comment takes its enclosing map's path: its empty key adds nothing.
                        marked |= comment(leaf, matched || marked, aad, rule, visit)?;
                        continue;
                    }
                    let depth = aad.len();
                    aad.extend_from_slice(key.as_bytes());
                    aad.push(b':');
                    let matched = matched || marked || rule.matches(key);
                    walk(value, matched, aad, rule, visit)?;
                    aad.truncate(depth);
                    marked = false;
                }
            }
            Node::List(items) => {
                let mut marked = false;
                for item in items {
                    if let Node::Comment(leaf) = item {
                        marked |= comment(leaf, matched || marked, aad, rule, visit)?;
                        continue;
                    }
                    walk(item, matched || marked, aad, rule, visit)?;
                    marked = false;
                }
            }
            Node::Null => {}
            Node::Comment(leaf) => {
                comment(leaf, matched, aad, rule, visit)?;
            }
            Node::Leaf(leaf) => visit(Place {
                leaf,
                aad,
                matched,
                comment: false,
                marker: false,
            })?,
        }
        Ok(())
    }
    /// Visits a comment; returns whether it is a marker (read in plaintext, before encryption or
    /// after decryption).
    fn comment<E>(
        leaf: &mut tree::Leaf,
        matched: bool,
        aad: &[u8],
        rule: &metadata::Rule,
        visit: &mut impl FnMut(Place<'_>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let plaintext = !cipher::is_encrypted(&leaf.bytes);
        let marker = plaintext && rule.marks(&leaf.bytes);
        visit(Place {
            aad: if aad.is_empty() { b":" } else { aad },
            matched,
            comment: true,
            marker,
            leaf,
        })?;
        Ok(marker || (!plaintext && rule.marks(&leaf.bytes)))
    }
    let mut aad = Vec::new();
    for branch in branches {
        walk(branch, false, &mut aad, rule, &mut visit)?;
    }
    Ok(())
}

/// The MAC's text: upper-case hex of the SHA-512 (§8).
///
/// The hasher is finalized where it lives, through `&mut`: moving it (as `finalize(self)` does)
/// would leave a stale copy of its block buffer, the last plaintext hashed, in a dead stack slot
/// that nothing wipes. The original is wiped where it lives when it drops (sha2's `zeroize`).
fn mac_text(hasher: &mut Sha512) -> Zeroizing<Vec<u8>> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut digest = sha2::digest::Output::<Sha512>::default();
    hasher.finalize_into_reset(&mut digest);
    let mut text = Zeroizing::new(Vec::with_capacity(2 * digest.len()));
    for byte in digest.iter() {
        text.push(HEX[usize::from(byte >> 4)]);
        text.push(HEX[usize::from(byte & 0x0f)]);
    }
    text
}

fn verify_mac(
    key: &DataKey,
    metadata: &Metadata,
    hasher: &mut Sha512,
) -> Result<(), DecryptionError> {
    let computed = mac_text(hasher);
    let stored = key
        .decrypt(&metadata.mac, metadata.last_modified.as_bytes())
        .map_err(|e| match e {
            ValueError::Syntax(_) => DecryptionError::MacMissing,
            ValueError::Authentication => DecryptionError::MacAuthentication,
        })?;
    if bool::from(stored.bytes.as_slice().ct_eq(computed.as_slice())) {
        Ok(())
    } else {
        Err(DecryptionError::MacMismatch)
    }
}
