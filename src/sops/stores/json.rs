//! JSON (and the binary store, which is JSON with one `data` value). Every number is a float, as
//! in sops (SOPS_FORMAT.md §2); duplicate keys are refused; serde_json bounds the nesting.

use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroizing;

use super::{EmitError, Format, ParseError};
use crate::plaintext::PlaintextBuffer;
use crate::sops::scalar::{format_float, json_float};
use crate::sops::tree::{self, KeySet, Kind, Leaf, Node};

pub(crate) fn parse(text: &[u8]) -> Result<Node, ParseError> {
    parse_with(text, Numbers::Floats)
}

/// How whole numbers are read: as floats, as sops reads every JSON number (`12345678901234567890`
/// becomes `12345678901234567000`), or exactly, as the JSON layer reads them (integers within the
/// 64-bit range; larger ones and fractions are floats either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbers {
    Exact,
    Floats,
}

/// Parses `text` with whole numbers read as `numbers` says.
pub(crate) fn parse_with(text: &[u8], numbers: Numbers) -> Result<Node, ParseError> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let node = NodeSeed(numbers)
        .deserialize(&mut deserializer)
        .and_then(|node| deserializer.end().map(|()| node))
        .map_err(|e| ParseError::Syntax {
            format: Format::Json,
            line: e.line(),
            column: e.column(),
            reason: describe(&e).to_owned(),
        })?;
    Ok(node)
}

/// serde_json's message without any quoted input (it can quote a key or a string).
fn describe(error: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match error.classify() {
        Category::Io => "read error",
        Category::Syntax => "syntax error",
        Category::Data => {
            "unexpected content (a duplicated key, or nesting deeper than 128 levels)"
        }
        Category::Eof => "unexpected end of input",
    }
}

struct NodeSeed(Numbers);

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor(self.0))
    }
}

struct NodeVisitor(Numbers);

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Leaf(Leaf::new(
            Kind::Bool,
            if value { "True" } else { "False" },
        )))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node, E> {
        match self.0 {
            Numbers::Exact => Ok(Node::Leaf(Leaf::new(Kind::Int, value.to_string()))),
            Numbers::Floats => self.visit_f64(value as f64),
        }
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node, E> {
        match self.0 {
            Numbers::Exact => Ok(Node::Leaf(Leaf::new(Kind::Int, value.to_string()))),
            Numbers::Floats => self.visit_f64(value as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Node, E> {
        Ok(Node::Leaf(Leaf::new(Kind::Float, format_float(value))))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Node, E> {
        Ok(Node::Leaf(Leaf::string(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NodeSeed(self.0))? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut keys = KeySet::default();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.is_new(&key, &entries) {
                return Err(de::Error::custom("duplicated key"));
            }
            let value = map.next_value_seed(NodeSeed(self.0))?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// A decrypted document as JSON, tab-indented like sops. Like sops, only the first document of a
/// multi-document file is written: JSON holds one.
pub(crate) fn emit_document(branches: &[Node]) -> Zeroizing<Vec<u8>> {
    let first = branches.get(..1).unwrap_or_default();
    let mut out = PlaintextBuffer::with_capacity(tree::text_len_hint(first));
    if let Some(first) = branches.first() {
        write(&mut out, first, Some(0));
        out.push(b'\n');
    }
    out.into()
}

/// One node as compact JSON text (how a map or list is handed out by a lookup).
pub(crate) fn compact(node: &Node) -> Zeroizing<Vec<u8>> {
    let mut out = PlaintextBuffer::new();
    write(&mut out, node, None);
    out.into()
}

/// The binary store's output: the raw bytes of its `data` value.
pub(crate) fn emit_binary(document: &Node) -> Result<Zeroizing<Vec<u8>>, EmitError> {
    match document.get("data") {
        Some(Node::Leaf(leaf)) => Ok(Zeroizing::new(leaf.bytes.to_vec())),
        _ => Err(EmitError::BinaryNoData),
    }
}

/// Writes `node`; `indent` is `Some(depth)` for tab-indented output, `None` for compact.
fn write(out: &mut PlaintextBuffer, node: &Node, indent: Option<usize>) {
    let newline = |out: &mut PlaintextBuffer, depth: usize| {
        if indent.is_some() {
            out.push(b'\n');
            out.extend(std::iter::repeat_n(b'\t', depth));
        }
    };
    let depth = indent.unwrap_or(0);
    let deeper = indent.map(|d| d + 1);
    match node {
        Node::Null | Node::Comment(_) => out.extend_from_slice(b"null"),
        Node::Leaf(leaf) => leaf_json(out, leaf),
        Node::List(items) if items.is_empty() => out.extend_from_slice(b"[]"),
        Node::Map(entries) if !entries.iter().any(|(_, v)| v.is_data()) => {
            out.extend_from_slice(b"{}")
        }
        Node::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, depth + 1);
                write(out, item, deeper);
            }
            newline(out, depth);
            out.push(b']');
        }
        Node::Map(entries) => {
            out.push(b'{');
            // Comments have no place in JSON (sops drops them too).
            for (i, (key, value)) in entries.iter().filter(|(_, v)| v.is_data()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, depth + 1);
                string(out, key.as_bytes());
                out.extend_from_slice(if indent.is_some() { b": " } else { b":" });
                write(out, value, deeper);
            }
            newline(out, depth);
            out.push(b'}');
        }
    }
}

fn leaf_json(out: &mut PlaintextBuffer, leaf: &Leaf) {
    match leaf.kind {
        Kind::Str | Kind::Time | Kind::Comment => string(out, &leaf.bytes),
        Kind::Bool => out.extend_from_slice(if leaf.bytes.as_slice() == b"True" {
            b"true"
        } else {
            b"false"
        }),
        Kind::Int => out.extend_from_slice(&leaf.bytes),
        // JSON has no infinities or NaN (Go's encoder refuses them): they are written as strings.
        Kind::Float if matches!(leaf.bytes.as_slice(), b"+Inf" | b"-Inf" | b"NaN") => {
            string(out, &leaf.bytes)
        }
        Kind::Float => out.extend_from_slice(Zeroizing::new(json_float(&leaf.bytes)).as_bytes()),
    }
}

/// A JSON string as Go's encoder writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped, invalid
/// UTF-8 replaced by U+FFFD.
fn string(out: &mut PlaintextBuffer, bytes: &[u8]) {
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20
                    || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') =>
                {
                    // Straight into the buffer: a `format!` string would be freed unwiped.
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
    out.push(b'"');
}
