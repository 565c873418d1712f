//! YAML, with several documents: built from saphyr-parser's events so that scalars resolve as
//! go-yaml v3 resolves them (which decides the bytes sops hashes), aliases expand as copies under a
//! budget, nesting is bounded and duplicate keys are refused. Comments are not kept (they are never
//! part of the MAC).

use std::collections::HashMap;

use base64::Engine;
use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use zeroize::Zeroizing;

use crate::sops::DecryptionError;
use crate::sops::scalar::{resolve_plain, yaml_float};
use crate::sops::tree::{Kind, Leaf, MAX_DEPTH, Node};

/// At most this many nodes in a file, aliases expanded: a few anchors can otherwise expand into
/// billions of nodes.
const MAX_NODES: usize = 4_000_000;

pub(crate) fn parse(text: &str) -> Result<Vec<Node>, DecryptionError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            DecryptionError::Parse(format!(
                "not valid YAML: line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            ))
        })?;
        let at = |message: &str| {
            DecryptionError::Parse(format!("line {}: {message}", span.start.line()))
        };
        builder.event(event).map_err(|message| at(&message))?;
    }
    Ok(builder.documents)
}

/// A collection being built.
struct Frame {
    collection: Collection,
    anchor: usize,
    /// The depth of its deepest child so far.
    depth: usize,
    /// The node count when it opened, to know its size when it closes.
    nodes_before: usize,
}

enum Collection {
    Map {
        entries: Vec<(String, Node)>,
        key: Option<String>,
    },
    List(Vec<Node>),
}

#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    stack: Vec<Frame>,
    /// Anchored nodes with their size and depth, for expanding aliases.
    anchors: HashMap<usize, (Node, usize, usize)>,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                self.count(1)?;
                let node = scalar(&value, style, tag.as_deref())?;
                self.complete(node, anchor, 1, 0)
            }
            Event::SequenceStart(anchor, _) => self.open(Collection::List(Vec::new()), anchor),
            Event::MappingStart(anchor, _) => self.open(
                Collection::Map {
                    entries: Vec::new(),
                    key: None,
                },
                anchor,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = self.stack.pop().ok_or("unbalanced collection end")?;
                let node = match frame.collection {
                    Collection::List(items) => Node::List(items),
                    Collection::Map { entries, .. } => Node::Map(entries),
                };
                let size = self.nodes - frame.nodes_before;
                self.complete(node, frame.anchor, size, frame.depth + 1)
            }
            Event::Alias(id) => {
                let (size, depth) = match self.anchors.get(&id) {
                    Some((_, size, depth)) => (*size, *depth),
                    None => return Err("an alias refers to an unknown anchor".into()),
                };
                // Count before copying: the copy itself is what a bomb would blow up.
                self.count(size)?;
                let copy = clone(&self.anchors[&id].0);
                self.complete(copy, 0, size, depth)
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Ok(()),
        }
    }

    fn open(&mut self, collection: Collection, anchor: usize) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        let nodes_before = self.nodes;
        self.count(1)?;
        self.stack.push(Frame {
            collection,
            anchor,
            depth: 0,
            nodes_before,
        });
        Ok(())
    }

    fn count(&mut self, nodes: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(format!(
                "the document expands to more than {MAX_NODES} nodes (aliases are expanded)"
            ));
        }
        Ok(())
    }

    /// Attaches a finished (and counted) node of `size` nodes and `depth` levels to its parent.
    fn complete(
        &mut self,
        node: Node,
        anchor: usize,
        size: usize,
        depth: usize,
    ) -> Result<(), String> {
        if self.stack.len() + depth > MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (clone(&node), size, depth));
        }
        let Some(frame) = self.stack.last_mut() else {
            self.documents.push(node);
            return Ok(());
        };
        match &mut frame.collection {
            Collection::List(items) => {
                frame.depth = frame.depth.max(depth);
                items.push(node);
            }
            Collection::Map { entries, key } => match key.take() {
                Some(name) => {
                    frame.depth = frame.depth.max(depth);
                    entries.push((name, node));
                }
                None => {
                    let name = match node {
                        Node::Leaf(Leaf {
                            kind: Kind::Str,
                            bytes,
                        }) => String::from_utf8(bytes.to_vec())
                            .map_err(|_| "a key is not valid UTF-8".to_owned())?,
                        _ => return Err("a key is not a string (sops requires string keys)".into()),
                    };
                    if entries.iter().any(|(k, _)| *k == name) {
                        return Err(format!("the key `{name}` appears twice in one map"));
                    }
                    *key = Some(name);
                }
            },
        }
        Ok(())
    }
}

/// A scalar event as go-yaml v3 decodes it: quoted and block scalars are strings, `!!str` forces a
/// string, `!!binary` is base64-decoded into a string's bytes, everything else resolves as plain.
fn scalar(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Node, String> {
    let core = tag
        .filter(|t| t.handle == "tag:yaml.org,2002:" || t.handle == "!!")
        .map(|t| t.suffix.as_str());
    match core {
        Some("str") => return Ok(Node::Leaf(Leaf::string(value))),
        Some("binary") => {
            let compact: String = value.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| "a !!binary value is not valid base64".to_owned())?;
            return Ok(Node::Leaf(Leaf::new(Kind::Str, bytes)));
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Ok(Node::Leaf(Leaf::string(value)));
    }
    Ok(resolve_plain(value).map_or(Node::Null, Node::Leaf))
}

fn clone(node: &Node) -> Node {
    match node {
        Node::Map(entries) => {
            Node::Map(entries.iter().map(|(k, v)| (k.clone(), clone(v))).collect())
        }
        Node::List(items) => Node::List(items.iter().map(clone).collect()),
        Node::Leaf(leaf) => Node::Leaf(Leaf::new(leaf.kind, leaf.bytes.as_slice())),
        Node::Comment(leaf) => Node::Comment(Leaf::new(leaf.kind, leaf.bytes.as_slice())),
        Node::Null => Node::Null,
    }
}

/// Decrypted documents as block YAML with 4-space indentation, `---` between documents.
pub(crate) fn emit(branches: &[Node]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    for (i, branch) in branches.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"---\n");
        }
        match branch {
            branch if is_block(branch) => block(&mut out, branch, 0, false),
            other => {
                inline(&mut out, other);
                out.push(b'\n');
            }
        }
    }
    out
}

/// A non-empty map or list in block style at `indent`; with `continued`, the first line goes
/// where the cursor is (after a `- `).
fn block(out: &mut Vec<u8>, node: &Node, indent: usize, continued: bool) {
    let pad = |out: &mut Vec<u8>, first: bool| {
        if !(first && continued) {
            out.extend(std::iter::repeat_n(b' ', indent));
        }
    };
    match node {
        Node::Map(entries) => {
            // Comments of dotenv/INI input are not carried into YAML.
            for (i, (key, value)) in entries.iter().filter(|(_, v)| v.is_data()).enumerate() {
                pad(out, i == 0);
                text(out, key.as_bytes());
                out.push(b':');
                if is_block(value) {
                    out.push(b'\n');
                    block(out, value, indent + 4, false);
                } else {
                    out.push(b' ');
                    inline(out, value);
                    out.push(b'\n');
                }
            }
        }
        Node::List(items) => {
            for (i, item) in items.iter().enumerate() {
                pad(out, i == 0);
                out.extend_from_slice(b"- ");
                if is_block(item) {
                    block(out, item, indent + 2, true);
                } else {
                    inline(out, item);
                    out.push(b'\n');
                }
            }
        }
        other => {
            inline(out, other);
            out.push(b'\n');
        }
    }
}

fn is_block(node: &Node) -> bool {
    matches!(node, Node::Map(e) if e.iter().any(|(_, v)| v.is_data()))
        || matches!(node, Node::List(i) if !i.is_empty())
}

/// A scalar as `--extract` prints it.
pub(crate) fn extracted_scalar(node: &Node) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    inline(&mut out, node);
    out
}

/// A scalar, null or empty collection, written so that it reads back with the same type.
fn inline(out: &mut Vec<u8>, node: &Node) {
    match node {
        Node::Null | Node::Comment(_) => out.extend_from_slice(b"null"),
        Node::Map(_) => out.extend_from_slice(b"{}"),
        Node::List(_) => out.extend_from_slice(b"[]"),
        Node::Leaf(leaf) => match leaf.kind {
            Kind::Str | Kind::Comment => text(out, &leaf.bytes),
            Kind::Int | Kind::Time => out.extend_from_slice(&leaf.bytes),
            Kind::Bool => out.extend_from_slice(if leaf.bytes.as_slice() == b"True" {
                b"true"
            } else {
                b"false"
            }),
            // As sops writes it, so `3.0` comes out as `3` (which reads back as an int, in sops too).
            Kind::Float => out.extend_from_slice(yaml_float(&leaf.bytes).as_bytes()),
        },
    }
}

/// A string: plain when that reads back as the same string, double-quoted otherwise, `!!binary`
/// when it is not UTF-8.
fn text(out: &mut Vec<u8>, bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        out.extend_from_slice(b"!!binary ");
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .as_bytes(),
        );
        return;
    };
    if plain_is_safe(text) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let resolves_to_itself = matches!(
        resolve_plain(text),
        Some(Leaf {
            kind: Kind::Str,
            ..
        })
    );
    // go-yaml also quotes YAML 1.1 booleans, which older parsers would read as booleans.
    let old_bool = matches!(
        text,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    );
    resolves_to_itself
        && !old_bool
        && (first.is_alphanumeric()
            || matches!(first, '_' | '/' | '.' | '(' | '$' | '^' | '+' | '='))
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.chars().any(|c| {
            c.is_control()
                || matches!(
                    c,
                    '"' | '\'' | '\\' | '{' | '}' | '[' | ']' | ',' | '`' | '\u{feff}'
                )
        })
}
