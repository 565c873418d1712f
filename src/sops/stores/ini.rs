//! INI: `[section]` then `key = value` lines; values are trimmed; `;` and `#` lines are comments;
//! keys before any section belong to `DEFAULT`; the `[sops]` section is the flattened metadata.

use zeroize::Zeroizing;

use super::Parsed;
use crate::PlaintextBuffer;
use crate::sops::DecryptionError;
use crate::sops::metadata::unflatten;
use crate::sops::tree::{KeySet, Kind, Leaf, Node};

pub(crate) fn parse(text: &str) -> Result<Parsed, DecryptionError> {
    // go-ini always has a DEFAULT section, and sops keeps it, empty or not.
    let mut sections: Vec<(String, Vec<(String, Node)>)> = vec![("DEFAULT".to_owned(), Vec::new())];
    let mut keys = vec![KeySet::default()];
    let mut metadata = Vec::new();
    let mut current = 0;
    // Comments belong to what follows them: the next key, or the next section (SOPS_FORMAT.md §7).
    // Comments belong to what follows them, the next key or the next section (SOPS_FORMAT.md §7),
    // and are kept in that section's map: under the key `[` when they stand above its header (a
    // key cannot start with `[`), under the empty key otherwise.
    let mut pending = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix(';').or_else(|| line.strip_prefix('#')) {
            pending.push((
                String::new(),
                Node::Comment(Leaf::new(Kind::Comment, comment.trim_start())),
            ));
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            current = match sections.iter().position(|(known, _)| known == name) {
                Some(at) => at,
                None => {
                    sections.push((name.to_owned(), Vec::new()));
                    keys.push(KeySet::default());
                    sections.len() - 1
                }
            };
            for (key, _) in &mut pending {
                *key = SECTION_COMMENT.to_owned();
            }
            sections[current].1.append(&mut pending);
            continue;
        }
        let Some(split) = line.find(['=', ':']) else {
            return Err(DecryptionError::Parse(format!(
                "line {}: expected `key = value` or `[section]`",
                number + 1
            )));
        };
        let key = line[..split].trim().to_owned();
        let value = unquote(line[split + 1..].trim());
        let (name, entries) = &mut sections[current];
        if name == "sops" {
            pending.clear();
            metadata.push((key, Leaf::string(value)));
            continue;
        }
        if key.is_empty() || !keys[current].is_new(&key, entries) {
            return Err(DecryptionError::Parse(format!(
                "line {}: `{key}` is empty or appears twice in [{name}]",
                number + 1
            )));
        }
        entries.append(&mut pending);
        entries.push((key, Node::Leaf(Leaf::string(value))));
    }
    sections[current].1.append(&mut pending);
    let tree = Node::Map(
        sections
            .into_iter()
            .filter(|(name, _)| name != "sops")
            .map(|(name, entries)| (name, Node::Map(entries)))
            .collect(),
    );
    Ok(Parsed {
        branches: vec![tree],
        sops: if metadata.is_empty() {
            None
        } else {
            Some(unflatten(metadata, true)?)
        },
    })
}

/// The key under which a comment above a section header is kept.
const SECTION_COMMENT: &str = "[";

/// go-ini strips one pair of surrounding double quotes or backquotes.
fn unquote(value: &str) -> &str {
    for quote in ['"', '`'] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

/// Writes sections as go-ini does: `DEFAULT`'s keys first without a header, `=` aligned within a
/// section, a blank line between sections, a section's leading comments above its header.
pub(crate) fn emit(document: &Node) -> Result<Zeroizing<Vec<u8>>, String> {
    let Node::Map(sections) = document else {
        return Err("INI output needs a map of sections".into());
    };
    let mut out = PlaintextBuffer::new();
    let mut first = true;
    for (name, section) in sections {
        let Node::Map(entries) = section else {
            return Err(format!(
                "INI output needs sections of key = value; `{name}` is not a map"
            ));
        };
        if name == "DEFAULT" && entries.is_empty() {
            continue;
        }
        if !first {
            out.push(b'\n');
        }
        first = false;
        let leading = entries
            .iter()
            .take_while(|(key, _)| key == SECTION_COMMENT)
            .count();
        for (_, comment) in &entries[..leading] {
            comment_line(&mut out, comment);
        }
        if name != "DEFAULT" {
            out.extend_from_slice(format!("[{name}]\n").as_bytes());
        }
        // go-ini aligns `=` by byte length.
        let width = entries
            .iter()
            .filter(|(_, v)| v.is_data())
            .map(|(key, _)| key.len())
            .max()
            .unwrap_or(0);
        for (key, value) in &entries[leading..] {
            match value {
                Node::Leaf(leaf) if leaf.bytes.contains(&b'\n') => {
                    return Err(format!(
                        "INI values cannot hold line breaks; `{name}.{key}` has one"
                    ));
                }
                Node::Leaf(leaf) => {
                    out.extend_from_slice(key.as_bytes());
                    out.extend(std::iter::repeat_n(b' ', width - key.len()));
                    out.extend_from_slice(b" = ");
                    out.extend_from_slice(&leaf.bytes);
                    out.push(b'\n');
                }
                Node::Comment(_) => comment_line(&mut out, value),
                _ => {
                    return Err(format!(
                        "INI output needs flat values; `{name}.{key}` is nested"
                    ));
                }
            }
        }
    }
    Ok(out.into())
}

fn comment_line(out: &mut PlaintextBuffer, comment: &Node) {
    if let Node::Comment(leaf) = comment {
        out.extend_from_slice(b"; ");
        out.extend_from_slice(&leaf.bytes);
        out.push(b'\n');
    }
}
