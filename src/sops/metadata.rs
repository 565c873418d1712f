//! The `sops` section: key groups, `lastmodified`, the MAC and the selection rule
//! (SOPS_FORMAT.md §3, §6).

use regex::Regex;

use super::DecryptionError;
use super::tree::{Kind, Leaf, Node};

/// What the `sops` section says about how to decrypt and verify the document.
pub(crate) struct Metadata {
    /// One group for the usual top-level key lists; several with `key_groups`.
    pub(crate) key_groups: Vec<KeyGroup>,
    /// How many groups' shares are needed (1 for a single group).
    pub(crate) threshold: usize,
    pub(crate) last_modified: String,
    /// The encrypted MAC (`ENC[...]`).
    pub(crate) mac: Vec<u8>,
    pub(crate) rule: Rule,
    pub(crate) mac_only_encrypted: bool,
}

/// One key group: the age stanzas that can open its data key (or share).
pub(crate) struct KeyGroup {
    pub(crate) age: Vec<AgeStanza>,
}

/// An age `recipient` and the armored `enc` blob holding the data key for it.
pub(crate) struct AgeStanza {
    pub(crate) recipient: String,
    pub(crate) enc: String,
}

/// Which leaves are encrypted (SOPS_FORMAT.md §6).
pub(crate) enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
    /// `encrypted_comment_regex` / `unencrypted_comment_regex`: without comments in the tree, a leaf
    /// is encrypted iff it holds an `ENC[...]` value; the MAC still covers every leaf.
    ByValue,
}

impl Rule {
    /// Whether `key` matches the rule's suffix or pattern.
    pub(crate) fn matches(&self, key: &str) -> bool {
        match self {
            Rule::UnencryptedSuffix(suffix) | Rule::EncryptedSuffix(suffix) => {
                key.ends_with(suffix.as_str())
            }
            Rule::UnencryptedRegex(regex) | Rule::EncryptedRegex(regex) => regex.is_match(key),
            Rule::ByValue => false,
        }
    }

    /// Whether a leaf must be encrypted, given whether some key on its path matched.
    pub(crate) fn encrypts(&self, matched: bool, leaf: &Leaf) -> bool {
        match self {
            Rule::UnencryptedSuffix(_) | Rule::UnencryptedRegex(_) => !matched,
            Rule::EncryptedSuffix(_) | Rule::EncryptedRegex(_) => matched,
            Rule::ByValue => leaf.kind == Kind::Str && super::cipher::is_encrypted(&leaf.bytes),
        }
    }
}

impl Metadata {
    /// Reads the `sops` map of a YAML or JSON document (or the unflattened one of dotenv/INI).
    pub(crate) fn parse(sops: &Node) -> Result<Self, DecryptionError> {
        let Node::Map(_) = sops else {
            return Err(bad("the `sops` section is not a map"));
        };
        let key_groups = match sops.get("key_groups") {
            Some(Node::List(groups)) if !groups.is_empty() => groups
                .iter()
                .map(key_group)
                .collect::<Result<Vec<_>, _>>()?,
            Some(Node::List(_)) | Some(Node::Null) | None => vec![key_group(sops)?],
            Some(_) => return Err(bad("`key_groups` is not a list")),
        };
        let threshold = match sops.get("shamir_threshold") {
            None | Some(Node::Null) => key_groups.len(),
            Some(node) => text(node, "shamir_threshold")?
                .parse::<usize>()
                .ok()
                .filter(|&n| n >= 1 && n <= key_groups.len())
                .ok_or_else(|| {
                    bad("`shamir_threshold` is not a number between 1 and the number of key groups")
                })?,
        };
        let threshold = if key_groups.len() == 1 { 1 } else { threshold };
        let last_modified = required_text(sops, "lastmodified")?.to_owned();
        let mac = match sops.get("mac") {
            Some(Node::Leaf(leaf)) if !leaf.bytes.is_empty() => leaf.bytes.to_vec(),
            _ => return Err(DecryptionError::MacMissing),
        };
        let mac_only_encrypted = match sops.get("mac_only_encrypted") {
            None | Some(Node::Null) => false,
            Some(node) => match text(node, "mac_only_encrypted")? {
                "true" | "True" => true,
                "false" | "False" => false,
                _ => return Err(bad("`mac_only_encrypted` is not a boolean")),
            },
        };
        Ok(Self {
            key_groups,
            threshold,
            last_modified,
            mac,
            rule: rule(sops)?,
            mac_only_encrypted,
        })
    }
}

fn key_group(group: &Node) -> Result<KeyGroup, DecryptionError> {
    let age = match group.get("age") {
        Some(Node::List(stanzas)) => stanzas
            .iter()
            .map(|stanza| {
                Ok(AgeStanza {
                    recipient: required_text(stanza, "recipient")?.to_owned(),
                    enc: required_text(stanza, "enc")?.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, DecryptionError>>()?,
        None | Some(Node::Null) => Vec::new(),
        Some(_) => return Err(bad("`age` is not a list")),
    };
    if age.is_empty() {
        let kinds: Vec<&str> = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"]
            .into_iter()
            .filter(|kind| matches!(group.get(kind), Some(Node::List(list)) if !list.is_empty()))
            .collect();
        return Err(if kinds.is_empty() {
            bad("a key group has no age recipients")
        } else {
            bad(format!(
                "a key group has no age recipients, only {} (not supported)",
                kinds.join(", ")
            ))
        });
    }
    Ok(KeyGroup { age })
}

fn rule(sops: &Node) -> Result<Rule, DecryptionError> {
    let given = |key: &str| {
        sops.get(key)
            .and_then(Node::as_text)
            .filter(|t| !t.is_empty())
    };
    let regex = |key: &str, pattern: &str| {
        Regex::new(pattern).map_err(|_| bad(format!("`{key}` is not a valid regular expression")))
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
    if given("encrypted_comment_regex").is_some() || given("unencrypted_comment_regex").is_some() {
        rules.push(Rule::ByValue);
    }
    match rules.len() {
        0 => Ok(Rule::UnencryptedSuffix("_unencrypted".to_owned())),
        1 => Ok(rules.remove(0)),
        _ => Err(bad("more than one encryption rule is set")),
    }
}

fn required_text<'a>(node: &'a Node, key: &str) -> Result<&'a str, DecryptionError> {
    match node.get(key) {
        Some(value) => text(value, key),
        None => Err(bad(format!("`{key}` is missing"))),
    }
}

fn text<'a>(node: &'a Node, key: &str) -> Result<&'a str, DecryptionError> {
    node.as_text()
        .ok_or_else(|| bad(format!("`{key}` is not a string")))
}

fn bad(message: impl Into<String>) -> DecryptionError {
    DecryptionError::Metadata(message.into())
}

/// Rebuilds the `sops` tree from dotenv/INI's flattened keys (SOPS_FORMAT.md §3.2):
/// `age__list_0__map_enc` is `age[0].enc`. `unescape` turns the two characters `\n` into LF (INI;
/// dotenv values are already unescaped by the store).
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
                        .map_err(|_| bad(format!("flattened key `{key}` has a bad list index")))?,
                )
            } else if let Some(name) = segment.strip_prefix("map_") {
                Slot::Key(name.to_owned())
            } else {
                return Err(bad(format!(
                    "flattened key `{key}` has a segment that is neither list_ nor map_"
                )));
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

/// The child of `node` at `slot`, created as null if missing. Lists grow only by one at a time.
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
        (Node::List(items), Slot::Index(index)) if index <= items.len() => {
            if index == items.len() {
                items.push(Node::Null);
            }
            Ok(&mut items[index])
        }
        _ => Err(bad("flattened metadata keys are inconsistent")),
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
