//! YAML, with several documents: built from saphyr-parser's events so that scalars resolve as
//! go-yaml v3 resolves them (which decides the bytes sops hashes), aliases expand as copies under a
//! budget, nesting is bounded and duplicate keys are refused.
//!
//! Comments are kept where sops keeps them (they are never part of the MAC, but sops encrypts them
//! with their enclosing map's path as AAD): saphyr-parser reports none, so they are found in the
//! text between events and placed as go-yaml attaches them: lines above a key (or list item) go
//! before it; a comment after a value on its line goes before that value's key; lines after a
//! collection's last entry stay in that collection when indented at least as far as its entries.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use base64::Engine;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Tag};
use zeroize::Zeroizing;

use super::{Format, ParseError, ParseProblem};
use crate::plaintext::PlaintextBuffer;
use crate::sops::scalar::{plain_is_string, resolve_plain, yaml_float};
use crate::sops::tree::{self, KeySet, Kind, Leaf, MAX_DEPTH, Node};

/// At most this many nodes in a file, aliases expanded: a few anchors can otherwise expand into
/// billions of nodes.
const MAX_NODES: usize = 4_000_000;

/// At most this many bytes of scalars in a file, aliases expanded. go-yaml (in sops) bounds the
/// ratio of aliases to nodes; that does not stop one anchored 8 MiB scalar referenced a few
/// hundred times, which is few nodes and gigabytes of copies. As much as the largest file holds:
/// a file without aliases never passes it.
const MAX_EXPANDED_BYTES: usize = crate::sops::MAX_FILE_BYTES as usize;

/// How much a node expands to: its nodes and the bytes of its scalars.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
}

impl Size {
    fn since(self, earlier: Size) -> Size {
        Size {
            nodes: self.nodes - earlier.nodes,
            bytes: self.bytes - earlier.bytes,
        }
    }
}

pub(crate) fn parse(text: &str) -> Result<Vec<Node>, ParseError> {
    let mut builder = Builder::default();
    let mut gaps = Gaps::new(text);
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| ParseError::Syntax {
            format: Format::Yaml,
            line: e.marker().line(),
            column: e.marker().col() + 1,
            reason: e.info().to_owned(),
        })?;
        let at = |problem| ParseError::AtLine {
            line: span.start.line(),
            problem,
        };
        for comment in gaps.comments_before(span.start.index()) {
            builder.comment(comment);
        }
        builder.event(event, span.start.col()).map_err(at)?;
        gaps.skip_to(&span.end);
    }
    Ok(builder.documents)
}

/// A comment line found between events.
struct Comment {
    /// The text after `#`.
    text: String,
    column: usize,
    /// Whether it follows something on its line (`key: value # comment`).
    trailing: bool,
}

/// Walks the text between parser events (whitespace, indicators, comments), which saphyr-parser
/// does not report. Events arrive in order, so one cursor (in characters, as the parser counts,
/// and in bytes) serves the whole file.
struct Gaps<'a> {
    text: &'a str,
    /// Whether every character is one byte, so that positions can jump.
    ascii: bool,
    chars: usize,
    bytes: usize,
    /// The line where the last event ended (1-based), for trailing comments.
    event_line: usize,
    line: usize,
    column: usize,
}

impl<'a> Gaps<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            ascii: text.is_ascii(),
            chars: 0,
            bytes: 0,
            event_line: 0,
            line: 1,
            column: 0,
        }
    }

    /// The comments from the cursor up to character `end`.
    fn comments_before(&mut self, end: usize) -> Vec<Comment> {
        let mut found = Vec::new();
        let mut previous = '\n';
        while self.chars < end {
            let Some(c) = self.text[self.bytes..].chars().next() else {
                break;
            };
            if c == '#' && previous.is_whitespace() {
                let rest = &self.text[self.bytes + 1..];
                let length = rest.find(['\n', '\r']).unwrap_or(rest.len());
                found.push(Comment {
                    text: rest[..length].to_owned(),
                    column: self.column,
                    trailing: self.line == self.event_line,
                });
                let skipped = rest[..length].chars().count() + 1;
                self.chars += skipped;
                self.bytes += 1 + length;
                self.column += skipped;
                previous = ' ';
                continue;
            }
            self.advance(c);
            previous = c;
        }
        found
    }

    /// Moves the cursor over an event's own text (where a `#` is not a comment) to `end`.
    fn skip_to(&mut self, end: &Marker) {
        let broke = if self.ascii {
            // One byte per character: jump, then look back over the indentation.
            let end_byte = end.index().min(self.text.len());
            let before = self.text.as_bytes()[self.bytes.min(end_byte)..end_byte]
                .iter()
                .rev()
                .find(|&&b| b != b' ');
            self.chars = end.index();
            self.bytes = end_byte;
            self.line = end.line();
            self.column = end.col();
            before == Some(&b'\n')
        } else {
            let mut broke = false;
            while self.chars < end.index() {
                let Some(c) = self.text[self.bytes..].chars().next() else {
                    break;
                };
                self.advance(c);
                broke = c == '\n' || (broke && c == ' ');
            }
            broke
        };
        // A block scalar's span ends past its last line break (and the next line's indentation):
        // what follows is on a new line.
        self.event_line = if broke { 0 } else { end.line() };
    }

    fn advance(&mut self, c: char) {
        self.chars += 1;
        self.bytes += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
    }
}

/// A collection being built.
struct Frame {
    collection: Collection,
    anchor: usize,
    /// The depth of its deepest child so far.
    depth: usize,
    /// The count when it opened, to know its size when it closes.
    before: Size,
    /// The column of its first entry: comments after its last entry belong to it when indented at
    /// least this far.
    column: Option<usize>,
}

enum Collection {
    Map {
        entries: Vec<(String, Node)>,
        key: Option<String>,
        keys: KeySet,
    },
    List(Vec<Node>),
}

#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    stack: Vec<Frame>,
    /// Anchored nodes with their size and depth, for expanding aliases.
    anchors: HashMap<usize, (Node, Size, usize)>,
    total: Size,
    /// Comments waiting for the next key or list item (or their collection's end).
    pending: Vec<Comment>,
}

impl Builder {
    fn comment(&mut self, comment: Comment) {
        let Some(frame) = self.stack.last_mut() else {
            self.pending.push(comment);
            return;
        };
        let node = Node::Comment(Leaf::new(Kind::Comment, comment.text.as_bytes()));
        match &mut frame.collection {
            // After `key:` (the value is still to come): before the key, which is pushed later.
            Collection::Map {
                entries,
                key: Some(_),
                ..
            } if comment.trailing => entries.push((String::new(), node)),
            // After `key: value`: before that key.
            Collection::Map {
                entries, key: None, ..
            } if comment.trailing && !entries.is_empty() => {
                entries.insert(entries.len() - 1, (String::new(), node))
            }
            Collection::List(items) if comment.trailing && !items.is_empty() => {
                items.insert(items.len() - 1, node)
            }
            _ => self.pending.push(comment),
        }
    }

    /// Places pending comments before the key or item that an event at `column` starts.
    fn flush_pending(&mut self, column: usize) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        let starts_entry = match &frame.collection {
            Collection::Map { key, .. } => key.is_none(),
            Collection::List(_) => true,
        };
        if !starts_entry {
            return;
        }
        frame.column.get_or_insert(column);
        for comment in self.pending.drain(..) {
            let node = Node::Comment(Leaf::new(Kind::Comment, comment.text.as_bytes()));
            match &mut frame.collection {
                Collection::Map { entries, .. } => entries.push((String::new(), node)),
                Collection::List(items) => items.push(node),
            }
        }
    }

    /// At a collection's end: the pending comments indented as far as its entries stay in it.
    fn close_pending(&mut self, frame: &mut Frame) {
        let column = frame.column.unwrap_or(0);
        let (inside, outside): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|c| c.column >= column);
        self.pending = outside;
        for comment in inside {
            let node = Node::Comment(Leaf::new(Kind::Comment, comment.text.as_bytes()));
            match &mut frame.collection {
                Collection::Map { entries, .. } => entries.push((String::new(), node)),
                Collection::List(items) => items.push(node),
            }
        }
    }

    fn event(&mut self, event: Event<'_>, column: usize) -> Result<(), ParseProblem> {
        if matches!(
            event,
            Event::Scalar(..)
                | Event::SequenceStart(..)
                | Event::MappingStart(..)
                | Event::Alias(_)
        ) {
            self.flush_pending(column);
        }
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let size = Size {
                    nodes: 1,
                    bytes: value.len(),
                };
                self.count(size)?;
                let node = scalar(value, style, tag.as_deref())?;
                self.complete(node, anchor, size, 0)
            }
            Event::SequenceStart(anchor, _) => self.open(Collection::List(Vec::new()), anchor),
            Event::MappingStart(anchor, _) => self.open(
                Collection::Map {
                    entries: Vec::new(),
                    key: None,
                    keys: KeySet::default(),
                },
                anchor,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let mut frame = self.stack.pop().ok_or(ParseProblem::UnbalancedEnd)?;
                self.close_pending(&mut frame);
                let node = match frame.collection {
                    Collection::List(items) => Node::List(items),
                    Collection::Map { entries, .. } => Node::Map(entries),
                };
                let size = self.total.since(frame.before);
                self.complete(node, frame.anchor, size, frame.depth + 1)
            }
            Event::Alias(id) => {
                let (size, depth) = match self.anchors.get(&id) {
                    Some((_, size, depth)) => (*size, *depth),
                    None => return Err(ParseProblem::UnknownAnchor),
                };
                // Count before copying: the copy itself is what a bomb would blow up.
                self.count(size)?;
                let copy = self.anchors[&id].0.clone();
                self.complete(copy, 0, size, depth)
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Ok(()),
        }
    }

    fn open(&mut self, collection: Collection, anchor: usize) -> Result<(), ParseProblem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(ParseProblem::TooDeep);
        }
        let before = self.total;
        self.count(Size { nodes: 1, bytes: 0 })?;
        self.stack.push(Frame {
            collection,
            anchor,
            depth: 0,
            before,
            column: None,
        });
        Ok(())
    }

    fn count(&mut self, size: Size) -> Result<(), ParseProblem> {
        self.total.nodes = self.total.nodes.saturating_add(size.nodes);
        self.total.bytes = self.total.bytes.saturating_add(size.bytes);
        if self.total.nodes > MAX_NODES {
            return Err(ParseProblem::TooManyNodes { limit: MAX_NODES });
        }
        if self.total.bytes > MAX_EXPANDED_BYTES {
            return Err(ParseProblem::TooManyBytes {
                limit: MAX_EXPANDED_BYTES,
            });
        }
        Ok(())
    }

    /// Attaches a finished (and counted) node of `size` nodes and `depth` levels to its parent.
    fn complete(
        &mut self,
        node: Node,
        anchor: usize,
        size: Size,
        depth: usize,
    ) -> Result<(), ParseProblem> {
        if self.stack.len() + depth > MAX_DEPTH {
            return Err(ParseProblem::TooDeep);
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size, depth));
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
            Collection::Map { entries, key, keys } => match key.take() {
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
                            .map_err(|_| ParseProblem::KeyNotUtf8)?,
                        _ => return Err(ParseProblem::KeyNotString),
                    };
                    if !keys.is_new(&name, entries) {
                        return Err(ParseProblem::DuplicateKey { key: name });
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
/// A string takes the parser's buffer when it owns one.
fn scalar(
    value: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<Node, ParseProblem> {
    let core = tag
        .filter(|t| t.handle == "tag:yaml.org,2002:" || t.handle == "!!")
        .map(|t| t.suffix.as_str());
    match core {
        Some("str") => return Ok(Node::Leaf(Leaf::new(Kind::Str, value.into_owned()))),
        Some("binary") => {
            let compact: String = value.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| ParseProblem::BadBase64)?;
            return Ok(Node::Leaf(Leaf::new(Kind::Str, bytes)));
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Ok(Node::Leaf(Leaf::new(Kind::Str, value.into_owned())));
    }
    Ok(resolve_plain(value).map_or(Node::Null, Node::Leaf))
}

/// Documents as block YAML the way sops writes them (go-yaml v3 with 4-space indentation), `---`
/// between documents.
pub(crate) fn emit(branches: &[Node]) -> Zeroizing<Vec<u8>> {
    let mut out = PlaintextBuffer::with_capacity(tree::text_len_hint(branches));
    for (i, branch) in branches.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"---\n");
        }
        match branch {
            branch if is_block(branch) => block(&mut out, branch, 0, false),
            other => {
                inline(&mut out, other, None);
                out.push(b'\n');
            }
        }
    }
    out.into()
}

/// A non-empty map or list in block style at `indent`; with `continued`, the first line goes
/// where the cursor is (after a `- `).
fn block(out: &mut PlaintextBuffer, node: &Node, indent: usize, continued: bool) {
    let pad = |out: &mut PlaintextBuffer, first: bool| {
        if !(first && continued) {
            out.extend(std::iter::repeat_n(b' ', indent));
        }
    };
    // go-yaml indents what a mapping holds (nested blocks, literal text) 4 columns past the
    // mapping's own indentation, which for a mapping that starts a list item is its `- `'s column.
    let inner = if continued { indent + 2 } else { indent + 4 };
    match node {
        Node::Map(entries) => {
            for (i, (key, value)) in entries.iter().enumerate() {
                pad(out, i == 0);
                if let Node::Comment(comment) = value {
                    comment_line(out, comment);
                    continue;
                }
                string(out, key.as_bytes(), None);
                out.push(b':');
                if is_block(value) {
                    out.push(b'\n');
                    block(out, value, inner, false);
                } else {
                    out.push(b' ');
                    inline(out, value, Some(inner));
                    out.push(b'\n');
                }
            }
        }
        Node::List(items) => {
            for (i, item) in items.iter().enumerate() {
                pad(out, i == 0);
                if let Node::Comment(comment) = item {
                    comment_line(out, comment);
                    continue;
                }
                out.extend_from_slice(b"- ");
                if is_block(item) {
                    block(out, item, indent + 2, true);
                } else {
                    inline(out, item, Some(indent + 4));
                    out.push(b'\n');
                }
            }
        }
        other => {
            inline(out, other, None);
            out.push(b'\n');
        }
    }
}

/// `#` and the comment's text (which keeps its leading space, as sops stores it).
fn comment_line(out: &mut PlaintextBuffer, comment: &Leaf) {
    out.push(b'#');
    out.extend(comment.bytes.iter().filter(|&&b| b != b'\n' && b != b'\r'));
    out.push(b'\n');
}

fn is_block(node: &Node) -> bool {
    matches!(node, Node::Map(e) if e.iter().any(|(_, v)| v.is_data()))
        || matches!(node, Node::List(i) if !i.is_empty())
}

/// A scalar as `--extract` prints it.
pub(crate) fn extracted_scalar(node: &Node) -> Zeroizing<Vec<u8>> {
    let mut out = PlaintextBuffer::new();
    inline(&mut out, node, None);
    out.into()
}

/// A scalar, null or empty collection, written so that it reads back with the same type. A
/// multi-line string becomes a literal block indented to `literal_indent` when that is given.
fn inline(out: &mut PlaintextBuffer, node: &Node, literal_indent: Option<usize>) {
    match node {
        Node::Null | Node::Comment(_) => out.extend_from_slice(b"null"),
        Node::Map(_) => out.extend_from_slice(b"{}"),
        Node::List(_) => out.extend_from_slice(b"[]"),
        Node::Leaf(leaf) => match leaf.kind {
            Kind::Str | Kind::Comment => string(out, &leaf.bytes, literal_indent),
            Kind::Int | Kind::Time => out.extend_from_slice(&leaf.bytes),
            Kind::Bool => out.extend_from_slice(if leaf.bytes.as_slice() == b"True" {
                b"true"
            } else {
                b"false"
            }),
            // As sops writes it, so `3.0` comes out as `3` (which reads back as an int, in sops too).
            Kind::Float => {
                out.extend_from_slice(Zeroizing::new(yaml_float(&leaf.bytes)).as_bytes())
            }
        },
    }
}

/// A string in the style go-yaml v3 picks: plain when it reads back as the same string and
/// nothing in it needs quoting; single-quoted when only its syntax needs quoting; a literal block
/// for multi-line text where allowed; double-quoted otherwise; `!!binary` when it is not UTF-8.
fn string(out: &mut PlaintextBuffer, bytes: &[u8], literal_indent: Option<usize>) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        out.extend_from_slice(b"!!binary ");
        let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(bytes));
        out.extend_from_slice(encoded.as_bytes());
        return;
    };
    // Most keys and values (and every `ENC[...]`) are one run of visible ASCII that starts with a
    // letter or digit: without spaces there is no `: ` or ` #`, so only the ending, quotes and
    // how the text resolves can matter.
    let word = text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        // A fold without an early exit, which the compiler turns into vector instructions.
        && !text.bytes().fold(false, |quote, b| {
            quote | !b.is_ascii_graphic() | matches!(b, b'#' | b'\'' | b'"' | b'\\')
        })
        && !text.ends_with(':');
    if word && resolves_to_string(text) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let style = Analysis::of(text);
    if style.line_breaks {
        match literal_indent {
            Some(indent) if style.block_allowed && !text.starts_with([' ', '\n']) => {
                literal(out, text, indent)
            }
            _ => double_quoted(out, text),
        }
    } else if !resolves_to_string(text) {
        double_quoted(out, text);
    } else if style.plain_allowed {
        out.extend_from_slice(text.as_bytes());
    } else if style.single_quoted_allowed {
        out.push(b'\'');
        // Piece by piece: `str::replace` would leave an unwiped copy of the value.
        for (i, piece) in text.split('\'').enumerate() {
            if i > 0 {
                out.extend_from_slice(b"''");
            }
            out.extend_from_slice(piece.as_bytes());
        }
        out.push(b'\'');
    } else {
        double_quoted(out, text);
    }
}

/// Whether plain `text` would read back as this string (go-yaml also quotes YAML 1.1 booleans and
/// base-60 floats, which older parsers read as other types).
fn resolves_to_string(text: &str) -> bool {
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
    plain_is_string(text) && !old_bool && !is_base60_float(text)
}

/// go-yaml's `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let (body, _) = match body.split_once('.') {
        Some((body, fraction)) if fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_') => {
            (body, fraction)
        }
        Some(_) => return false,
        None => (body, ""),
    };
    let mut parts = body.split(':');
    let head = parts.next().unwrap_or_default();
    let mut sexagesimal = parts.peekable();
    head.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && sexagesimal.peek().is_some() && sexagesimal.all(|part| {
        matches!(part.as_bytes(), [d] if d.is_ascii_digit())
            || matches!(part.as_bytes(), [a, b] if (b'0'..=b'5').contains(a) && b.is_ascii_digit())
    })
}

/// libyaml's scalar analysis (`yaml_emitter_analyze_scalar`) for block context.
struct Analysis {
    line_breaks: bool,
    plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

impl Analysis {
    fn of(text: &str) -> Self {
        // The value itself, one `char` per element: wiped like every other copy.
        let chars: Zeroizing<Vec<char>> = Zeroizing::new(text.chars().collect());
        let mut indicators = text.starts_with("---") || text.starts_with("...");
        let (mut special, mut line_breaks) = (false, false);
        let (mut leading_space, mut leading_break) = (false, false);
        let (mut trailing_space, mut trailing_break) = (false, false);
        let (mut break_space, mut space_break) = (false, false);
        let (mut previous_space, mut previous_break) = (false, false);
        let mut preceded_by_whitespace = true;
        for (i, &c) in chars.iter().enumerate() {
            let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| is_blank_or_break(n));
            let last = i + 1 == chars.len();
            if i == 0 {
                indicators |= matches!(
                    c,
                    '#' | ','
                        | '['
                        | ']'
                        | '{'
                        | '}'
                        | '&'
                        | '*'
                        | '!'
                        | '|'
                        | '>'
                        | '\''
                        | '"'
                        | '%'
                        | '@'
                        | '`'
                ) || (matches!(c, '?' | ':' | '-') && followed_by_whitespace);
            } else {
                indicators |=
                    (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace);
            }
            special |= !is_printable(c);
            if is_break(c) {
                line_breaks = true;
            }
            if c == ' ' {
                leading_space |= i == 0;
                trailing_space |= last;
                break_space |= previous_break;
                (previous_space, previous_break) = (true, false);
            } else if is_break(c) {
                leading_break |= i == 0;
                trailing_break |= last;
                space_break |= previous_space;
                (previous_space, previous_break) = (false, true);
            } else {
                (previous_space, previous_break) = (false, false);
            }
            preceded_by_whitespace = is_blank_or_break(c);
        }
        let hopeless = space_break || special;
        let edges = leading_space || leading_break || trailing_space || trailing_break;
        Self {
            line_breaks,
            plain_allowed: !(text.is_empty()
                || indicators
                || edges
                || break_space
                || hopeless
                || line_breaks),
            single_quoted_allowed: !break_space && !hopeless,
            block_allowed: !trailing_space && !hopeless,
        }
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_break(c: char) -> bool {
    matches!(c, ' ' | '\t') || is_break(c)
}

/// libyaml's `IS_PRINTABLE`: LF, ASCII graphic and space, U+00A0..U+D7FF and U+E000..U+FFFD but
/// not the BOM. Characters outside the Basic Multilingual Plane count as unprintable.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && c != '\u{FEFF}'
}

/// A literal block (`|`, `|-` without a final newline, `|+` with several), its lines at `indent`.
fn literal(out: &mut PlaintextBuffer, text: &str, indent: usize) {
    out.push(b'|');
    if !text.ends_with('\n') {
        out.push(b'-');
    } else if text == "\n" || text.ends_with("\n\n") {
        out.push(b'+');
    }
    out.push(b'\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    for line in body.split('\n') {
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(b' ', indent));
            out.extend_from_slice(line.as_bytes());
        }
        out.push(b'\n');
    }
    // The newline after the scalar is written by the caller; drop the one written here.
    out.pop();
}

/// A double-quoted string with libyaml's escapes.
fn double_quoted(out: &mut PlaintextBuffer, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        let escape: &[u8] = match c {
            '\0' => b"\\0",
            '\u{7}' => b"\\a",
            '\u{8}' => b"\\b",
            '\t' => b"\\t",
            '\n' => b"\\n",
            '\u{b}' => b"\\v",
            '\u{c}' => b"\\f",
            '\r' => b"\\r",
            '\u{1b}' => b"\\e",
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '\u{85}' => b"\\N",
            '\u{2028}' => b"\\L",
            '\u{2029}' => b"\\P",
            c if is_printable(c) => {
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                continue;
            }
            // Straight into the buffer: a `format!` string would be freed unwiped.
            c if (c as u32) <= 0xFF => {
                let _ = write!(out, "\\x{:02X}", c as u32);
                continue;
            }
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
                continue;
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
                continue;
            }
        };
        out.extend_from_slice(escape);
    }
    out.push(b'"');
}
