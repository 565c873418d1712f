//! The tree every store parses into and the decryptor walks (SOPS_FORMAT.md §2).

use crate::words::words;
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use zeroize::Zeroizing;

/// Documents deeper than this are refused: parsing, walking and dropping all recurse over depth.
pub(crate) const MAX_DEPTH: usize = 128;

/// A node of a SOPS document. Maps keep their order.
#[derive(Clone)]
pub(crate) enum Node {
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Leaf(Leaf),
    Null,
    /// A comment line of a dotenv or INI file, stored in its map under the empty key (which no
    /// lookup can name) at its position. Never part of the MAC; not written to JSON or YAML.
    Comment(Leaf),
}

/// A scalar, held as the bytes SOPS encrypts and hashes for it (`ToBytes`, SOPS_FORMAT.md §5):
/// `5432`, `True`, `0.125`, `2024-01-02T00:00:00Z`, or a string's bytes (which the binary store
/// allows to be invalid UTF-8). Before decryption an encrypted leaf is a `Str` holding `ENC[...]`;
/// after, it holds the plaintext, wiped on drop.
#[derive(Clone)]
pub(crate) struct Leaf {
    pub(crate) kind: Kind,
    pub(crate) bytes: Zeroizing<Vec<u8>>,
}

/// The type of a scalar, as in the `type:` field of an encrypted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Time,
    /// Only for comments.
    Comment,
}

words!(Kind, "value type" {
    Str => "str",
    Int => "int",
    Float => "float",
    Bool => "bool",
    Time => "time",
    Comment => "comment",
});

impl Leaf {
    pub(crate) fn new(kind: Kind, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            kind,
            bytes: Zeroizing::new(bytes.into()),
        }
    }

    pub(crate) fn string(text: &str) -> Self {
        Self::new(Kind::Str, text.as_bytes())
    }
}

impl Node {
    /// The value of `key` in a map.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The node at `path`: map keys, and numeric segments as list indexes.
    pub(crate) fn at<'a>(&self, path: impl IntoIterator<Item = &'a str>) -> Option<&Node> {
        path.into_iter().try_fold(self, |node, segment| match node {
            Node::Map(_) => node.get(segment),
            Node::List(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
    }

    /// Why `path` reaches no value from this node, in words naming the part of the path that
    /// fails (`` `list` has 2 items ``, `` `port` is an int, not a map or list ``, `` `db` has no
    /// key `host` ``, `` `a.b` is null ``); `None` when it does reach one. Names only keys.
    pub(crate) fn why_missing<'a>(
        &self,
        path: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        let mut node = self;
        let mut walked: Vec<&str> = Vec::new();
        let here = |walked: &[&str]| {
            if walked.is_empty() {
                "the document".to_owned()
            } else {
                format!("`{}`", walked.join("."))
            }
        };
        for segment in path {
            let next = match node {
                Node::Map(_) => node
                    .get(segment)
                    .ok_or_else(|| format!("{} has no key `{segment}`", here(&walked))),
                Node::List(items) => match segment.parse::<usize>() {
                    Ok(index) => items.get(index).ok_or_else(|| {
                        let n = items.len();
                        let noun = if n == 1 { "item" } else { "items" };
                        format!(
                            "{} has {n} {noun}; index {index} is past its end",
                            here(&walked)
                        )
                    }),
                    Err(_) => Err(format!(
                        "{} is a list; `{segment}` is not an index",
                        here(&walked)
                    )),
                },
                Node::Null | Node::Comment(_) => Err(format!("{} is null", here(&walked))),
                Node::Leaf(leaf) => Err(format!(
                    "{} is {}, not a map or list",
                    here(&walked),
                    match leaf.kind {
                        Kind::Int | Kind::Float => "a number",
                        Kind::Bool => "a boolean",
                        Kind::Time => "a timestamp",
                        Kind::Str | Kind::Comment => "a string",
                    }
                )),
            };
            match next {
                Ok(child) => node = child,
                Err(reason) => return Some(reason),
            }
            walked.push(segment);
        }
        match node {
            Node::Null | Node::Comment(_) => Some(format!("{} is null", here(&walked))),
            _ => None,
        }
    }

    /// Removes `key` from a map and returns its value.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Node> {
        let Node::Map(entries) = self else {
            return None;
        };
        let at = entries.iter().position(|(k, _)| k == key)?;
        Some(entries.remove(at).1)
    }

    /// Whether this is data (not a comment).
    pub(crate) fn is_data(&self) -> bool {
        !matches!(self, Node::Comment(_))
    }

    /// The text of a string leaf, if this is one and it is UTF-8.
    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            Node::Leaf(leaf) => std::str::from_utf8(&leaf.bytes).ok(),
            _ => None,
        }
    }
}

/// About how many bytes `nodes` take as indented text (YAML or JSON), so that an emitter can size
/// its buffer once: every key and scalar, and a few bytes a line for indentation and punctuation.
/// Quoting or escaping can make the text longer; the buffer then grows as usual.
pub(crate) fn text_len_hint(nodes: &[Node]) -> usize {
    fn hint(node: &Node, depth: usize) -> usize {
        let line = 4 * depth + 4;
        match node {
            Node::Map(entries) => entries
                .iter()
                .map(|(key, value)| line + key.len() + hint(value, depth + 1))
                .sum(),
            Node::List(items) => items.iter().map(|item| line + hint(item, depth + 1)).sum(),
            Node::Leaf(leaf) | Node::Comment(leaf) => leaf.bytes.len() + 4,
            Node::Null => 4,
        }
    }
    nodes.iter().map(|node| hint(node, 0) + 4).sum()
}

/// Every leaf and comment of `nodes` in document order, which is the order in which
/// `visit_leaves` visits them (it visits each of them once, and nothing else), so that what it
/// decided for each can be paired with the leaf afterwards.
pub(crate) fn leaves_mut<'t>(nodes: &'t mut [Node], out: &mut Vec<&'t mut Leaf>) {
    for node in nodes {
        match node {
            Node::Map(entries) => {
                for (_, value) in entries {
                    leaves_mut(std::slice::from_mut(value), out);
                }
            }
            Node::List(items) => leaves_mut(items, out),
            Node::Leaf(leaf) | Node::Comment(leaf) => out.push(leaf),
            Node::Null => {}
        }
    }
}

/// The keys of a map being parsed, so that a duplicate is found in constant time per key rather
/// than by a scan (which a file with a million keys would turn into a denial of service): their
/// hashes under a random key, with an exact comparison only when a hash repeats. A map's first
/// [`KeySet::SCAN_LIMIT`] keys are compared directly, which for the small maps most files are made
/// of costs less than hashing.
#[derive(Default)]
pub(crate) struct KeySet {
    hashes: HashSet<u64>,
    state: RandomState,
}

impl KeySet {
    /// Up to this many entries, a new key is compared with each of them.
    const SCAN_LIMIT: usize = 16;

    /// Whether `key` is not yet among `entries` (comments aside); remembers it.
    pub(crate) fn is_new(&mut self, key: &str, entries: &[(String, Node)]) -> bool {
        let present = |key: &str| entries.iter().any(|(k, v)| k == key && v.is_data());
        if entries.len() < Self::SCAN_LIMIT {
            return !present(key);
        }
        if self.hashes.is_empty() {
            // The map has just outgrown scanning: hash the keys it has so far.
            let data = entries.iter().filter(|(_, v)| v.is_data());
            self.hashes
                .extend(data.map(|(k, _)| self.state.hash_one(k.as_str())));
        }
        self.hashes.insert(self.state.hash_one(key)) || !present(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sets_find_duplicates_and_ignore_comments() {
        let mut keys = KeySet::default();
        let mut entries = Vec::new();
        for key in ["a", "b", "c"] {
            assert!(keys.is_new(key, &entries));
            entries.push((key.to_owned(), Node::Null));
        }
        assert!(!keys.is_new("b", &entries));
        entries.push((String::new(), Node::Comment(Leaf::new(Kind::Comment, "x"))));
        assert!(
            keys.is_new("", &entries),
            "a comment's empty key is not a key"
        );
    }

    #[test]
    fn key_sets_find_duplicates_past_the_scan_limit() {
        let mut keys = KeySet::default();
        let mut entries = vec![(String::new(), Node::Comment(Leaf::new(Kind::Comment, "x")))];
        for i in 0..100 {
            let key = format!("k{i}");
            assert!(keys.is_new(&key, &entries), "{key}");
            entries.push((key, Node::Null));
            // Every key so far, whether it was seen by the scan or by the hashes.
            for earlier in [0, i / 2, i] {
                assert!(
                    !keys.is_new(&format!("k{earlier}"), &entries),
                    "{i}: {earlier}"
                );
            }
        }
        assert!(keys.is_new("", &entries));
    }
}
