//! The `sops` section: key groups, `lastmodified`, the MAC and the selection rule
//! (SOPS_FORMAT.md §3, §6).

use std::fmt;

use regex::Regex;

use super::DecryptionError;
use super::master_key::{KINDS, MasterKey};
use super::tree::{Kind, Leaf, Node};

/// What the `sops` section says about how to decrypt and verify the document.
#[derive(Clone)]
pub(crate) struct Metadata {
    /// One group for the usual top-level key lists; several with `key_groups`.
    pub(crate) key_groups: Vec<KeyGroup>,
    /// How many groups' shares are needed (1 for a single group).
    pub(crate) threshold: usize,
    pub(crate) last_modified: String,
    /// The encrypted MAC (`ENC[...]`).
    pub(crate) mac: Vec<u8>,
    pub(crate) rule: Rule,
    /// Whether the section states the rule. sops leaves the default out of binary files.
    pub(crate) rule_stated: bool,
    pub(crate) mac_only_encrypted: bool,
}

/// One key group: the master keys that can each open its data key (or share), in the order
/// they are tried: age, PGP, Vault transit, AWS KMS (local keys before servers), then the types
/// this build cannot open.
#[derive(Clone)]
pub(crate) struct KeyGroup {
    pub(crate) keys: Vec<MasterKey>,
}

impl KeyGroup {
    /// The age stanzas of the group.
    pub(crate) fn age(&self) -> impl Iterator<Item = &AgeStanza> {
        self.keys.iter().filter_map(|key| match key {
            MasterKey::Age(stanza) => Some(stanza),
            _ => None,
        })
    }
}

/// An age `recipient` and the armored `enc` blob holding the data key for it.
#[derive(Clone)]
pub(crate) struct AgeStanza {
    pub(crate) recipient: String,
    pub(crate) enc: String,
}

/// Which leaves are encrypted (SOPS_FORMAT.md §6).
#[derive(Clone)]
pub(crate) enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
    /// A comment matching it marks the key below it (and that key's subtree) as encrypted; the
    /// rest stays plaintext.
    EncryptedCommentRegex(Regex),
    /// A comment matching it marks the key below it (and its subtree) as plaintext; the rest is
    /// encrypted.
    UnencryptedCommentRegex(Regex),
}

impl Rule {
    /// Whether `key` matches the rule's suffix or pattern.
    pub(crate) fn matches(&self, key: &str) -> bool {
        match self {
            Rule::UnencryptedSuffix(suffix) | Rule::EncryptedSuffix(suffix) => {
                key.ends_with(suffix.as_str())
            }
            Rule::UnencryptedRegex(regex) | Rule::EncryptedRegex(regex) => regex.is_match(key),
            Rule::EncryptedCommentRegex(_) | Rule::UnencryptedCommentRegex(_) => false,
        }
    }

    /// Whether a (plaintext) comment is a marker of a comment rule.
    pub(crate) fn marks(&self, comment: &[u8]) -> bool {
        match self {
            Rule::EncryptedCommentRegex(regex) | Rule::UnencryptedCommentRegex(regex) => {
                regex.is_match(&String::from_utf8_lossy(comment))
            }
            _ => false,
        }
    }

    /// The metadata key and value that state the rule.
    pub(crate) fn spec(&self) -> (&'static str, &str) {
        match self {
            Rule::UnencryptedSuffix(s) => ("unencrypted_suffix", s),
            Rule::EncryptedSuffix(s) => ("encrypted_suffix", s),
            Rule::UnencryptedRegex(r) => ("unencrypted_regex", r.as_str()),
            Rule::EncryptedRegex(r) => ("encrypted_regex", r.as_str()),
            Rule::EncryptedCommentRegex(r) => ("encrypted_comment_regex", r.as_str()),
            Rule::UnencryptedCommentRegex(r) => ("unencrypted_comment_regex", r.as_str()),
        }
    }

    /// Whether a value is encrypted, given whether some key on its path matched (or, for the
    /// comment rules, some marker comment stands above a key on its path).
    pub(crate) fn encrypts(&self, matched: bool) -> bool {
        match self {
            Rule::UnencryptedSuffix(_)
            | Rule::UnencryptedRegex(_)
            | Rule::UnencryptedCommentRegex(_) => !matched,
            Rule::EncryptedSuffix(_) | Rule::EncryptedRegex(_) | Rule::EncryptedCommentRegex(_) => {
                matched
            }
        }
    }

    /// Whether a comment is encrypted: as a value at its place, except that markers stay
    /// readable.
    pub(crate) fn encrypts_comment(&self, matched: bool, marker: bool) -> bool {
        !marker && self.encrypts(matched)
    }
}

/// What is wrong with a file's `sops` section ([`DecryptionError::Metadata`]). Messages name
/// keys, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// The section is not a map.
    NotAMap,
    /// `key_groups` is not a list.
    KeyGroupsNotAList,
    /// `shamir_threshold` is not between 1 and the number of key groups.
    BadThreshold,
    /// `mac_only_encrypted` is not a boolean.
    MacOnlyEncryptedNotBoolean,
    /// A key type's entry (`age`, `pgp`, ...) is not a list of maps.
    KeysNotAList {
        /// The key type.
        kind: &'static str,
    },
    /// A key group has no master key at all.
    NoKeys,
    /// A rule's regular expression does not compile.
    BadRegex {
        /// The rule's key.
        key: &'static str,
    },
    /// More than one encryption rule is set.
    SeveralRules,
    /// A required key is missing.
    Missing {
        /// The key.
        key: String,
    },
    /// A key that holds text holds something else.
    NotAString {
        /// The key.
        key: String,
    },
    /// A flattened (dotenv/INI) key has a list index that is not a number.
    BadListIndex {
        /// The flattened key.
        key: String,
    },
    /// A flattened key has a segment that is neither `list_` nor `map_`.
    BadSegment {
        /// The flattened key.
        key: String,
    },
    /// Flattened keys contradict each other.
    InconsistentFlatKeys,
    /// An age payload is not the size of a data key or share.
    PayloadSize {
        /// Its size.
        size: usize,
        /// The size expected.
        expected: usize,
    },
    /// The data key is not 32 bytes.
    DataKeySize,
    /// The key groups' Shamir shares do not fit together (two with the same x-coordinate, or of
    /// different lengths): the file was modified.
    InconsistentShares,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAMap => f.write_str("the `sops` section is not a map"),
            Self::KeyGroupsNotAList => f.write_str("`key_groups` is not a list"),
            Self::BadThreshold => f.write_str(
                "`shamir_threshold` is not a number between 1 and the number of key groups",
            ),
            Self::MacOnlyEncryptedNotBoolean => {
                f.write_str("`mac_only_encrypted` is not a boolean")
            }
            Self::KeysNotAList { kind } => write!(f, "`{kind}` is not a list of keys"),
            Self::NoKeys => f.write_str("a key group has no keys"),
            Self::BadRegex { key } => write!(f, "`{key}` is not a valid regular expression"),
            Self::SeveralRules => f.write_str("more than one encryption rule is set"),
            Self::Missing { key } => write!(f, "`{key}` is missing"),
            Self::NotAString { key } => write!(f, "`{key}` is not a string"),
            Self::BadListIndex { key } => {
                write!(f, "flattened key `{key}` has a bad list index")
            }
            Self::BadSegment { key } => write!(
                f,
                "flattened key `{key}` has a segment that is neither list_ nor map_"
            ),
            Self::InconsistentFlatKeys => f.write_str("flattened metadata keys are inconsistent"),
            Self::PayloadSize { size, expected } => write!(
                f,
                "an age payload is {size} bytes; expected a {expected}-byte data key or share"
            ),
            Self::DataKeySize => f.write_str("the data key is not 32 bytes"),
            Self::InconsistentShares => f.write_str(
                "the key groups' Shamir shares do not fit together: the file was modified",
            ),
        }
    }
}

impl std::error::Error for MetadataError {}

impl Metadata {
    /// Reads the `sops` map of a YAML or JSON document (or the unflattened one of dotenv/INI).
    pub(crate) fn parse(sops: &Node) -> Result<Self, DecryptionError> {
        let Node::Map(_) = sops else {
            return Err(bad(MetadataError::NotAMap));
        };
        let key_groups = match sops.get("key_groups") {
            Some(Node::List(groups)) if !groups.is_empty() => groups
                .iter()
                .map(key_group)
                .collect::<Result<Vec<_>, _>>()?,
            Some(Node::List(_)) | Some(Node::Null) | None => vec![key_group(sops)?],
            Some(_) => return Err(bad(MetadataError::KeyGroupsNotAList)),
        };
        let threshold = match sops.get("shamir_threshold") {
            None | Some(Node::Null) => key_groups.len(),
            Some(node) => text(node, "shamir_threshold")?
                .parse::<usize>()
                .ok()
                .filter(|&n| n >= 1 && n <= key_groups.len())
                .ok_or_else(|| bad(MetadataError::BadThreshold))?,
        };
        let threshold = if key_groups.len() == 1 { 1 } else { threshold };
        let last_modified = required_text(sops, "lastmodified")?.to_owned();
        // `version` is informational (SOPS_FORMAT.md §3.1): a file without it, as rops writes,
        // opens. sops 3.11 refuses one, parsing the version before it decrypts; we need not.
        let mac = match sops.get("mac") {
            Some(Node::Leaf(leaf)) if !leaf.bytes.is_empty() => leaf.bytes.to_vec(),
            _ => return Err(DecryptionError::MacMissing),
        };
        let mac_only_encrypted = match sops.get("mac_only_encrypted") {
            None | Some(Node::Null) => false,
            Some(node) => match text(node, "mac_only_encrypted")? {
                "true" | "True" => true,
                "false" | "False" => false,
                _ => return Err(bad(MetadataError::MacOnlyEncryptedNotBoolean)),
            },
        };
        Ok(Self {
            key_groups,
            threshold,
            last_modified,
            mac,
            rule: rule(sops)?,
            rule_stated: RULE_KEYS.iter().any(|key| sops.get(key).is_some()),
            mac_only_encrypted,
        })
    }
}

impl Metadata {
    /// The `sops` section as sops 3.11 writes it, in its field order: the age keys (or
    /// `shamir_threshold` and `key_groups` when there are several groups), `lastmodified`, `mac`,
    /// the rule, `mac_only_encrypted`, `version`.
    pub(crate) fn to_node(&self) -> Node {
        let text = |value: &str| Node::Leaf(Leaf::string(value));
        let list = |group: &KeyGroup, kind: &str| {
            Node::List(
                group
                    .keys
                    .iter()
                    .filter(|key| key.kind() == kind)
                    .map(MasterKey::to_node)
                    .collect(),
            )
        };
        let has = |group: &KeyGroup, kind: &str| group.keys.iter().any(|k| k.kind() == kind);
        let mut entries = Vec::new();
        let mut pgp_after_mac = None;
        match self.key_groups.as_slice() {
            [group] => {
                // Top level: every type but `pgp` before `lastmodified`, `pgp` after `mac`.
                for kind in KINDS.iter().filter(|k| **k != "pgp") {
                    if has(group, kind) {
                        entries.push(((*kind).into(), list(group, kind)));
                    }
                }
                if has(group, "pgp") {
                    pgp_after_mac = Some(list(group, "pgp"));
                }
            }
            groups => {
                let threshold = Leaf::new(Kind::Int, self.threshold.to_string());
                entries.push(("shamir_threshold".into(), Node::Leaf(threshold)));
                // In a group sops writes `hc_vault` and `age` always (those fields of its struct
                // have no `omitempty`), the others when they have keys.
                let groups = groups
                    .iter()
                    .map(|group| {
                        let kinds = KINDS
                            .iter()
                            .filter(|k| matches!(**k, "hc_vault" | "age") || has(group, k));
                        Node::Map(
                            kinds
                                .map(|kind| ((*kind).into(), list(group, kind)))
                                .collect(),
                        )
                    })
                    .collect();
                entries.push(("key_groups".into(), Node::List(groups)));
            }
        }
        entries.push(("lastmodified".into(), text(&self.last_modified)));
        let mac = String::from_utf8_lossy(&self.mac).into_owned();
        entries.push(("mac".into(), text(&mac)));
        if let Some(pgp) = pgp_after_mac {
            entries.push(("pgp".into(), pgp));
        }
        if self.rule_stated {
            let (key, value) = self.rule.spec();
            entries.push((key.into(), text(value)));
        }
        if self.mac_only_encrypted {
            entries.push((
                "mac_only_encrypted".into(),
                Node::Leaf(Leaf::new(Kind::Bool, "True")),
            ));
        }
        entries.push(("version".into(), text(VERSION)));
        Node::Map(entries)
    }
}

/// The sops version whose format is written (`version` in the metadata).
pub(crate) const VERSION: &str = "3.11.0";

/// Flattens the `sops` section for dotenv and INI (SOPS_FORMAT.md §3.2): `age__list_0__map_enc`,
/// sorted by key as sops writes them. Booleans are `true`/`false`.
pub(crate) fn flatten(sops: &Node) -> Vec<(String, Leaf)> {
    fn walk(node: &Node, prefix: &str, out: &mut Vec<(String, Leaf)>) {
        match node {
            Node::Map(entries) => {
                for (key, value) in entries {
                    let name = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}__map_{key}")
                    };
                    walk(value, &name, out);
                }
            }
            Node::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{prefix}__list_{i}"), out);
                }
            }
            Node::Leaf(leaf) if leaf.kind == Kind::Bool => {
                let word = if leaf.bytes.as_slice() == b"True" {
                    "true"
                } else {
                    "false"
                };
                out.push((prefix.to_owned(), Leaf::string(word)));
            }
            Node::Leaf(leaf) => {
                out.push((prefix.to_owned(), Leaf::new(Kind::Str, leaf.bytes.to_vec())))
            }
            Node::Null | Node::Comment(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(sops, "", &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn key_group(group: &Node) -> Result<KeyGroup, DecryptionError> {
    let mut keys = Vec::new();
    for kind in TRY_ORDER {
        match group.get(kind) {
            Some(Node::List(entries)) => {
                for entry in entries {
                    keys.push(MasterKey::parse(kind, entry)?);
                }
            }
            None | Some(Node::Null) => {}
            Some(_) => return Err(bad(MetadataError::KeysNotAList { kind })),
        }
    }
    if keys.is_empty() {
        return Err(bad(MetadataError::NoKeys));
    }
    Ok(KeyGroup { keys })
}

/// The order a group's keys are tried in: local keys first, then servers, then what this build
/// cannot open (kept for writing back).
const TRY_ORDER: [&str; 7] = [
    "age", "pgp", "hc_vault", "kms", "gcp_kms", "azure_kv", "hckms",
];

/// The keys that state a rule.
const RULE_KEYS: [&str; 6] = [
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "encrypted_comment_regex",
    "unencrypted_comment_regex",
];

fn rule(sops: &Node) -> Result<Rule, DecryptionError> {
    let given = |key: &str| {
        sops.get(key)
            .and_then(Node::as_text)
            .filter(|t| !t.is_empty())
    };
    let regex = |key: &'static str, pattern: &str| {
        Regex::new(pattern).map_err(|_| bad(MetadataError::BadRegex { key }))
    };
    let mut rules = Vec::new();
    if let Some(s) = given("unencrypted_suffix") {
        rules.push(Rule::UnencryptedSuffix(s.to_owned()));
    }
    if let Some(s) = given("encrypted_suffix") {
        rules.push(Rule::EncryptedSuffix(s.to_owned()));
    }
    if let Some(r) = given("unencrypted_regex") {
        rules.push(Rule::UnencryptedRegex(regex("unencrypted_regex", r)?));
    }
    if let Some(r) = given("encrypted_regex") {
        rules.push(Rule::EncryptedRegex(regex("encrypted_regex", r)?));
    }
    if let Some(r) = given("encrypted_comment_regex") {
        rules.push(Rule::EncryptedCommentRegex(regex(
            "encrypted_comment_regex",
            r,
        )?));
    }
    if let Some(r) = given("unencrypted_comment_regex") {
        rules.push(Rule::UnencryptedCommentRegex(regex(
            "unencrypted_comment_regex",
            r,
        )?));
    }
    match rules.len() {
        0 => Ok(Rule::UnencryptedSuffix("_unencrypted".to_owned())),
        1 => Ok(rules.remove(0)),
        _ => Err(bad(MetadataError::SeveralRules)),
    }
}

pub(crate) fn required_text<'a>(node: &'a Node, key: &str) -> Result<&'a str, DecryptionError> {
    match node.get(key) {
        Some(value) => text(value, key),
        None => Err(bad(MetadataError::Missing {
            key: key.to_owned(),
        })),
    }
}

fn text<'a>(node: &'a Node, key: &str) -> Result<&'a str, DecryptionError> {
    node.as_text().ok_or_else(|| {
        bad(MetadataError::NotAString {
            key: key.to_owned(),
        })
    })
}

fn bad(problem: MetadataError) -> DecryptionError {
    DecryptionError::Metadata(problem)
}

/// Rebuilds the `sops` tree from dotenv/INI's flattened keys (SOPS_FORMAT.md §3.2):
/// `age__list_0__map_enc` is `age[0].enc`. `unescape` turns the two characters `\n` into LF (INI;
/// dotenv values are already unescaped by the store). The keys may come in any order: sops
/// before 3.8 wrote them in Go's random map order, so `list_1` may precede `list_0` (see
/// [`child`]).
pub(crate) fn unflatten(
    entries: Vec<(String, Leaf)>,
    unescape: bool,
) -> Result<Node, DecryptionError> {
    let mut root = Node::Map(Vec::new());
    for (key, mut leaf) in entries {
        if unescape {
            leaf.bytes = zeroize::Zeroizing::new(unescape_newlines(&leaf.bytes));
        }
        let mut node = &mut root;
        let mut segments = key.split("__");
        let first = segments.next().unwrap_or_default();
        let mut slot = Slot::Key(first.to_owned());
        for segment in segments {
            node = child(node, slot)?;
            slot = if let Some(index) = segment.strip_prefix("list_") {
                Slot::Index(
                    index
                        .parse()
                        .map_err(|_| bad(MetadataError::BadListIndex { key: key.clone() }))?,
                )
            } else if let Some(name) = segment.strip_prefix("map_") {
                Slot::Key(name.to_owned())
            } else {
                return Err(bad(MetadataError::BadSegment { key: key.clone() }));
            };
            if let Slot::Index(_) = slot {
                if let Node::Null = node {
                    *node = Node::List(Vec::new());
                }
            } else if let Node::Null = node {
                *node = Node::Map(Vec::new());
            }
        }
        *child(node, slot)? = Node::Leaf(leaf);
    }
    Ok(root)
}

enum Slot {
    Key(String),
    Index(usize),
}

/// The most entries a flattened metadata list may have (`sops_pgp__list_N__...`).
const MAX_FLAT_LIST: usize = 1024;

/// The child of `node` at `slot`, created as null if missing. A list grows to any index, as in
/// sops: sops 3.7 wrote dotenv metadata in random order (`list_1` before `list_0`); an index
/// left unfilled stays null, which the metadata reader then refuses.
fn child(node: &mut Node, slot: Slot) -> Result<&mut Node, DecryptionError> {
    match (node, slot) {
        (Node::Map(entries), Slot::Key(key)) => {
            let at = match entries.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    entries.push((key, Node::Null));
                    entries.len() - 1
                }
            };
            Ok(&mut entries[at].1)
        }
        (Node::List(items), Slot::Index(index)) if index < MAX_FLAT_LIST => {
            if index >= items.len() {
                items.resize_with(index + 1, || Node::Null);
            }
            Ok(&mut items[index])
        }
        _ => Err(bad(MetadataError::InconsistentFlatKeys)),
    }
}

/// `\n` (two characters) to LF.
pub(crate) fn unescape_newlines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'n') {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
