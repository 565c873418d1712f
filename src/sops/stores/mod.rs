//! The five sops stores: how a file becomes a tree plus its `sops` section, and how a decrypted
//! tree is written back out (SOPS_FORMAT.md §2).

pub(crate) mod dotenv;
pub(crate) mod ini;
pub(crate) mod json;
pub(crate) mod yaml;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::DecryptionError;
use super::tree::{Kind, Leaf, Node};

/// A sops store: the file format of an encrypted file, or of `decrypt`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML, possibly with several documents (`.yaml`, `.yml`).
    Yaml,
    /// JSON (`.json`).
    Json,
    /// `KEY=value` lines (`.env`).
    Dotenv,
    /// INI sections (`.ini`).
    Ini,
    /// Any other file: its bytes as the `data` value of a JSON document.
    Binary,
}

impl Format {
    /// The store sops picks for a file name: by extension, binary for anything else.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Self::Yaml,
            Some("json") => Self::Json,
            Some("env") => Self::Dotenv,
            Some("ini") => Self::Ini,
            _ => Self::Binary,
        }
    }

    /// The word used by `--input-type` and `--output-type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yaml => "yaml",
            Self::Json => "json",
            Self::Dotenv => "dotenv",
            Self::Ini => "ini",
            Self::Binary => "binary",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        Ok(match word {
            "yaml" => Self::Yaml,
            "json" => Self::Json,
            "dotenv" => Self::Dotenv,
            "ini" => Self::Ini,
            "binary" => Self::Binary,
            other => {
                return Err(format!(
                    "unknown format `{other}`; expected yaml, json, dotenv, ini or binary"
                ));
            }
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed file: its documents (one except for multi-document YAML) with the `sops` key removed,
/// and the `sops` section if it has one.
pub(crate) struct Parsed {
    pub(crate) branches: Vec<Node>,
    pub(crate) sops: Option<Node>,
}

/// Parses a file in `format`. The binary store's files are JSON; see [`parse_plain`] for the
/// cleartext input of `encrypt`.
pub(crate) fn parse(text: &[u8], format: Format) -> Result<Parsed, DecryptionError> {
    let utf8 = || {
        std::str::from_utf8(text)
            .map_err(|_| DecryptionError::Parse(format!("the {format} file is not valid UTF-8")))
    };
    match format {
        Format::Yaml => take_sops(yaml::parse(utf8()?)?),
        Format::Json | Format::Binary => take_sops(vec![json::parse(text)?]),
        Format::Dotenv => dotenv::parse(utf8()?),
        Format::Ini => ini::parse(utf8()?),
    }
}

/// Removes the top-level `sops` key from every document; the first copy is the metadata.
fn take_sops(mut branches: Vec<Node>) -> Result<Parsed, DecryptionError> {
    let mut sops = None;
    for branch in &mut branches {
        match branch {
            Node::Map(_) => {}
            // An empty YAML document: nothing in it (cleartext input makes it an empty map).
            Node::Null => continue,
            _ => return Err(DecryptionError::Parse("a document is not a map".into())),
        }
        let found = branch.remove("sops");
        if sops.is_none() {
            sops = found;
        }
    }
    Ok(Parsed { branches, sops })
}

/// Parses cleartext to be encrypted: the binary store takes any bytes as the `data` string.
/// A file that already has a `sops` section is refused.
pub(crate) fn parse_plain(text: &[u8], format: Format) -> Result<Vec<Node>, DecryptionError> {
    if format == Format::Binary {
        let data = Node::Leaf(Leaf::new(Kind::Str, text));
        return Ok(vec![Node::Map(vec![("data".to_owned(), data)])]);
    }
    let parsed = parse(text, format)?;
    if parsed.sops.is_some() {
        return Err(DecryptionError::Parse(
            "the file already has a `sops` section: it is encrypted already".into(),
        ));
    }
    if parsed.branches.is_empty() {
        return Err(DecryptionError::Parse(
            "the file has no document to encrypt".into(),
        ));
    }
    parsed
        .branches
        .into_iter()
        .map(|branch| match branch {
            // An empty YAML document (`---` at the end of a file) is an empty map, as in sops.
            Node::Null => Ok(Node::Map(Vec::new())),
            Node::Map(_) => Ok(branch),
            _ => Err(DecryptionError::Parse("a document is not a map".into())),
        })
        .collect()
}

/// Writes encrypted documents with their `sops` section in `format`, as sops lays them out:
/// YAML and JSON carry the section as the last top-level key (YAML in every document), dotenv as
/// sorted `sops_` lines, INI as a final sorted `[sops]` section.
pub(crate) fn emit_encrypted(
    branches: &[Node],
    sops: &Node,
    format: Format,
) -> Result<Vec<u8>, String> {
    let with_sops = |branch: &Node| -> Result<Node, String> {
        let Node::Map(entries) = branch else {
            return Err("a document is not a map".into());
        };
        let mut entries = entries.clone();
        entries.push(("sops".to_owned(), sops.clone()));
        Ok(Node::Map(entries))
    };
    let flat = || super::metadata::flatten(sops);
    let out = match format {
        Format::Yaml => yaml::emit(
            &branches
                .iter()
                .map(with_sops)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Format::Json | Format::Binary => json::emit_document(&[with_sops(single(branches)?)?]),
        Format::Dotenv => {
            let Node::Map(entries) = single(branches)? else {
                return Err("dotenv output needs a map of names to values".into());
            };
            let mut entries = entries.clone();
            entries.extend(
                flat()
                    .into_iter()
                    .map(|(key, leaf)| (format!("sops_{key}"), Node::Leaf(leaf))),
            );
            dotenv::emit(&Node::Map(entries))?
        }
        Format::Ini => {
            let Node::Map(sections) = single(branches)? else {
                return Err("INI output needs a map of sections".into());
            };
            let mut sections = sections.clone();
            let escaped = flat()
                .into_iter()
                .map(|(key, leaf)| {
                    let text = String::from_utf8_lossy(&leaf.bytes).replace('\n', "\\n");
                    (key, Node::Leaf(Leaf::string(&text)))
                })
                .collect();
            sections.push(("sops".to_owned(), Node::Map(escaped)));
            ini::emit(&Node::Map(sections))?
        }
    };
    Ok(out.to_vec())
}

/// Writes decrypted documents in `format`.
pub(crate) fn emit(
    branches: &[Node],
    format: Format,
) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
    match format {
        Format::Yaml => Ok(yaml::emit(branches)),
        Format::Json => Ok(json::emit_document(branches)),
        Format::Dotenv => dotenv::emit(single(branches)?),
        Format::Ini => ini::emit(single(branches)?),
        Format::Binary => json::emit_binary(single(branches)?),
    }
}

fn single(branches: &[Node]) -> Result<&Node, String> {
    match branches {
        [one] => Ok(one),
        _ => Err(format!(
            "{} documents cannot be written as one flat file",
            branches.len()
        )),
    }
}
