//! The five sops stores: how a file becomes a tree plus its `sops` section, and how a decrypted
//! tree is written back out (SOPS_FORMAT.md §2).

pub(crate) mod dotenv;
pub(crate) mod ini;
pub(crate) mod json;
pub(crate) mod yaml;

use crate::words::words;
use std::fmt;
use std::path::Path;

use super::DecryptionError;
use super::metadata::unflatten;
use super::tree::{Kind, Leaf, MAX_DEPTH, Node};

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
}

words!(Format, "format" {
    Yaml => "yaml",
    Json => "json",
    Dotenv => "dotenv",
    Ini => "ini",
    Binary => "binary",
});

/// Why a file's text (an encrypted file, or the cleartext given to `encrypt`) could not be read
/// in its store. Messages name lines, columns and keys, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Not valid YAML or JSON.
    Syntax {
        /// The store whose syntax it breaks.
        format: Format,
        /// The line (1-based for JSON, as the parser counts for YAML).
        line: usize,
        /// The column, 1-based.
        column: usize,
        /// The parser's description, without any quoted input.
        reason: String,
    },
    /// The text is not UTF-8.
    NotUtf8 {
        /// The store it was read in.
        format: Format,
    },
    /// A line breaks the store's rules.
    AtLine {
        /// The line.
        line: usize,
        /// What is wrong there.
        problem: ParseProblem,
    },
    /// A document is a scalar or a list, not a map.
    NotAMap,
    /// Cleartext to encrypt has a `sops` section already.
    AlreadyEncrypted,
    /// Cleartext to encrypt has no document.
    NoDocument,
    /// Cleartext to encrypt is larger than [`super::MAX_FILE_BYTES`].
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

/// What is wrong at one line of a file ([`ParseError::AtLine`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseProblem {
    /// Nesting deeper than the limit (128 levels).
    TooDeep,
    /// The document expands to too many nodes (aliases expanded).
    TooManyNodes {
        /// The limit.
        limit: usize,
    },
    /// The document expands to too many bytes of scalars (aliases expanded).
    TooManyBytes {
        /// The limit.
        limit: usize,
    },
    /// A collection ends that never started.
    UnbalancedEnd,
    /// A YAML alias names no anchor.
    UnknownAnchor,
    /// A YAML map key is not UTF-8.
    KeyNotUtf8,
    /// A YAML map key is not a string.
    KeyNotString,
    /// A YAML map has the key twice.
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A `!!binary` value is not base64.
    BadBase64,
    /// A dotenv line has no `=`.
    NoEquals,
    /// A dotenv line has nothing before `=`.
    EmptyName,
    /// A dotenv file has the name twice.
    DuplicateName {
        /// The name.
        name: String,
    },
    /// An INI line is neither `key = value` nor `[section]`.
    NotIniLine,
    /// An INI value cannot be read (an unterminated quote).
    IniValue(&'static str),
    /// An INI key is empty or appears twice in its section.
    EmptyOrDuplicateIniKey {
        /// The key.
        key: String,
        /// The section.
        section: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax {
                format,
                line,
                column,
                reason,
            } => {
                let name = if *format == Format::Yaml {
                    "YAML"
                } else {
                    "JSON"
                };
                write!(
                    f,
                    "not valid {name}: line {line}, column {column}: {reason}"
                )
            }
            Self::NotUtf8 { format } => write!(f, "the {format} file is not valid UTF-8"),
            Self::AtLine { line, problem } => write!(f, "line {line}: {problem}"),
            Self::NotAMap => f.write_str("a document is not a map"),
            Self::AlreadyEncrypted => {
                f.write_str("the file already has a `sops` section: it is encrypted already")
            }
            Self::NoDocument => f.write_str("the file has no document to encrypt"),
            Self::TooLarge { size } => write!(
                f,
                "the file has at least {size} bytes; the limit is {}",
                super::MAX_FILE_BYTES
            ),
        }
    }
}

impl std::error::Error for ParseError {}

impl fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels"),
            Self::TooManyNodes { limit } => write!(
                f,
                "the document expands to more than {limit} nodes (aliases are expanded)"
            ),
            Self::TooManyBytes { limit } => write!(
                f,
                "the document expands to more than {limit} bytes (aliases are expanded): \
                 refused as a likely alias bomb"
            ),
            Self::UnbalancedEnd => f.write_str("unbalanced collection end"),
            Self::UnknownAnchor => f.write_str("an alias refers to an unknown anchor"),
            Self::KeyNotUtf8 => f.write_str("a key is not valid UTF-8"),
            Self::KeyNotString => f.write_str("a key is not a string (sops requires string keys)"),
            Self::DuplicateKey { key } => write!(f, "the key `{key}` appears twice in one map"),
            Self::BadBase64 => f.write_str("a !!binary value is not valid base64"),
            Self::NoEquals => f.write_str("expected KEY=VALUE"),
            Self::EmptyName => f.write_str("the name before `=` is empty"),
            Self::DuplicateName { name } => write!(f, "the key `{name}` appears twice"),
            Self::NotIniLine => f.write_str("expected `key = value` or `[section]`"),
            Self::IniValue(reason) => f.write_str(reason),
            Self::EmptyOrDuplicateIniKey { key, section } => {
                write!(f, "`{key}` is empty or appears twice in [{section}]")
            }
        }
    }
}

/// Why a document cannot be written in a store (sops's `--output-type`), or `--extract` finds
/// nothing to write. Messages name keys and sections, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmitError {
    /// A document is not a map.
    NotAMap,
    /// Several documents (multi-document YAML) cannot go in one flat file.
    SeveralDocuments {
        /// How many there are.
        count: usize,
    },
    /// dotenv needs a map of names to values.
    DotenvNotAMap,
    /// dotenv needs flat values.
    DotenvNested {
        /// The nested key.
        key: String,
    },
    /// A value holds a backslash before an `n`, which dotenv would read back as a line break.
    DotenvBackslashN {
        /// The key of the value.
        key: String,
    },
    /// INI needs a map of sections.
    IniNotAMap,
    /// An INI section must be a map of key = value.
    IniSectionNotAMap {
        /// The section.
        section: String,
    },
    /// INI needs flat values.
    IniNested {
        /// The section.
        section: String,
        /// The nested key.
        key: String,
    },
    /// No INI quoting carries the value so that it reads back the same.
    IniUnquotable {
        /// The section.
        section: String,
        /// The key of the value.
        key: String,
    },
    /// The binary store needs a document with a `data` string.
    BinaryNoData,
    /// `--extract`: the file has no document.
    NoDocument,
    /// `--extract`: nothing at this path.
    NoValueAt {
        /// The dotted path.
        path: String,
        /// Which part of the path fails, and why.
        reason: String,
    },
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAMap => f.write_str("a document is not a map"),
            Self::SeveralDocuments { count } => {
                write!(f, "{count} documents cannot be written as one flat file")
            }
            Self::DotenvNotAMap => f.write_str("dotenv output needs a map of names to values"),
            Self::DotenvNested { key } => {
                write!(f, "dotenv output needs flat values; `{key}` is nested")
            }
            Self::DotenvBackslashN { key } => write!(
                f,
                "the value of `{key}` holds a backslash before an `n`, which dotenv reads as a \
                 line break: it cannot be written so that it reads back the same"
            ),
            Self::IniNotAMap => f.write_str("INI output needs a map of sections"),
            Self::IniSectionNotAMap { section } => write!(
                f,
                "INI output needs sections of key = value; `{section}` is not a map"
            ),
            Self::IniNested { section, key } => {
                write!(
                    f,
                    "INI output needs flat values; `{section}.{key}` is nested"
                )
            }
            Self::IniUnquotable { section, key } => write!(
                f,
                "the value of `{section}.{key}` cannot be written in INI so that it reads back \
                 the same (quotes, a trailing backslash or a line break that no INI quoting \
                 carries)"
            ),
            Self::BinaryNoData => {
                f.write_str("binary output needs a document with a `data` string")
            }
            Self::NoDocument => f.write_str("the file has no document"),
            Self::NoValueAt { path, reason } => {
                write!(f, "the file has no value at `{path}`: {reason}")
            }
        }
    }
}

impl std::error::Error for EmitError {}

/// A parsed file: its documents (one except for multi-document YAML) with the `sops` key removed,
/// and the `sops` section if it has one.
pub(crate) struct Parsed {
    pub(crate) branches: Vec<Node>,
    pub(crate) sops: Option<SopsSection>,
}

/// The `sops` section as a store holds it: a tree (YAML, JSON), or flattened `sops_` keys
/// (dotenv, INI; SOPS_FORMAT.md §3.2), rebuilt only when the metadata is read, so that a
/// malformed one is a metadata error, not a parse error.
pub(crate) enum SopsSection {
    Tree(Node),
    Flat {
        entries: Vec<(String, Leaf)>,
        /// Whether the values still hold `\n` for LF (INI).
        unescape: bool,
    },
}

impl SopsSection {
    pub(crate) fn into_tree(self) -> Result<Node, DecryptionError> {
        match self {
            Self::Tree(node) => Ok(node),
            Self::Flat { entries, unescape } => unflatten(entries, unescape),
        }
    }
}

/// Parses a file in `format`. The binary store's files are JSON; see [`parse_plain`] for the
/// cleartext input of `encrypt`.
pub(crate) fn parse(text: &[u8], format: Format) -> Result<Parsed, ParseError> {
    let utf8 = || std::str::from_utf8(text).map_err(|_| ParseError::NotUtf8 { format });
    match format {
        Format::Yaml => take_sops(yaml::parse(utf8()?)?),
        Format::Json | Format::Binary => take_sops(vec![json::parse(text)?]),
        Format::Dotenv => dotenv::parse(utf8()?),
        Format::Ini => ini::parse(utf8()?),
    }
}

/// Removes the top-level `sops` key from every document; the first copy is the metadata.
fn take_sops(mut branches: Vec<Node>) -> Result<Parsed, ParseError> {
    let mut sops = None;
    for branch in &mut branches {
        match branch {
            Node::Map(_) => {}
            // An empty YAML document: nothing in it (cleartext input makes it an empty map).
            Node::Null => continue,
            _ => return Err(ParseError::NotAMap),
        }
        let found = branch.remove("sops").map(SopsSection::Tree);
        if sops.is_none() {
            sops = found;
        }
    }
    Ok(Parsed { branches, sops })
}

/// Parses cleartext to be encrypted: the binary store takes any bytes as the `data` string.
/// A file that already has a `sops` section is refused.
pub(crate) fn parse_plain(text: &[u8], format: Format) -> Result<Vec<Node>, ParseError> {
    if format == Format::Binary {
        let data = Node::Leaf(Leaf::new(Kind::Str, text));
        return Ok(vec![Node::Map(vec![("data".to_owned(), data)])]);
    }
    let parsed = parse(text, format)?;
    if parsed.sops.is_some() {
        return Err(ParseError::AlreadyEncrypted);
    }
    if parsed.branches.is_empty() {
        return Err(ParseError::NoDocument);
    }
    parsed
        .branches
        .into_iter()
        .map(|branch| match branch {
            // An empty YAML document (`---` at the end of a file) is an empty map, as in sops.
            Node::Null => Ok(Node::Map(Vec::new())),
            Node::Map(_) => Ok(branch),
            _ => Err(ParseError::NotAMap),
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
) -> Result<Vec<u8>, EmitError> {
    let with_sops = |branch: &Node| -> Result<Node, EmitError> {
        let Node::Map(entries) = branch else {
            return Err(EmitError::NotAMap);
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
                return Err(EmitError::DotenvNotAMap);
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
                return Err(EmitError::IniNotAMap);
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
) -> Result<zeroize::Zeroizing<Vec<u8>>, EmitError> {
    match format {
        Format::Yaml => Ok(yaml::emit(branches)),
        Format::Json => Ok(json::emit_document(branches)),
        Format::Dotenv => dotenv::emit(single(branches)?),
        Format::Ini => ini::emit(single(branches)?),
        Format::Binary => json::emit_binary(single(branches)?),
    }
}

fn single(branches: &[Node]) -> Result<&Node, EmitError> {
    match branches {
        [one] => Ok(one),
        _ => Err(EmitError::SeveralDocuments {
            count: branches.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The emitters size their buffer from `tree::text_len_hint`: for the 2000-leaf benchmark
    /// document (quoted passwords, lists, numbers, comments) the output fits the hint without
    /// growing, and the hint does not reserve more than twice what is written.
    #[test]
    fn emitters_fit_their_output_in_one_allocation() {
        let text = include_bytes!("../../../benches/data/large.yaml");
        let branches = parse_plain(text, Format::Yaml).expect("the benchmark document parses");
        for format in [Format::Yaml, Format::Json] {
            let hint = crate::sops::tree::text_len_hint(&branches);
            let out = emit(&branches, format).expect("it is written");
            assert!(
                out.len() <= hint && hint <= 2 * out.len(),
                "{format:?}: {} bytes written, {hint} reserved",
                out.len()
            );
            assert_eq!(out.capacity(), hint, "{format:?}: the buffer grew");
        }
    }
}
