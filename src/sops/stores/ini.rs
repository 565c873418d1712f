//! INI: `[section]` then `key = value` lines; `;` and `#` lines are comments; keys before any
//! section belong to `DEFAULT`; the `[sops]` section is the flattened metadata.
//!
//! Values are read and quoted as go-ini v1.67 (which sops 3.11 uses) reads and quotes them: a
//! value in `"""` or backquotes is taken as it is and may span lines; any other is trimmed, cut at
//! an inline `#` or `;`, continued on the next line after a trailing `\`, and loses one pair of
//! surrounding `"` or `'`. go-ini writes `"""` around a value with a line break or backquote,
//! backquotes around one with `#` or `;`, `"` around one with spaces at its ends, and cannot
//! write some values back as they were (`'x'`, a trailing `\`): those get another of its quotings
//! that reads back, or are refused.

use zeroize::Zeroizing;

use super::{EmitError, ParseError, ParseProblem, Parsed, SopsSection};
use crate::plaintext::PlaintextBuffer;
use crate::sops::tree::{KeySet, Kind, Leaf, Node};

pub(crate) fn parse(text: &str) -> Result<Parsed, ParseError> {
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
    let mut lines = text.split_inclusive('\n').enumerate();
    while let Some((number, raw)) = lines.next() {
        let line = raw.trim();
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
            return Err(ParseError::AtLine {
                line: number + 1,
                problem: ParseProblem::NotIniLine,
            });
        };
        let key = line[..split].trim().to_owned();
        // The value as go-ini reads it, from the untrimmed line: a quoted one keeps its spaces and
        // may take the lines after it.
        let after = &raw[raw.find(['=', ':']).map_or(raw.len(), |i| i + 1)..];
        let value =
            read_value(after, &mut lines.by_ref().map(|(_, line)| line)).map_err(|reason| {
                ParseError::AtLine {
                    line: number + 1,
                    problem: ParseProblem::IniValue(reason),
                }
            })?;
        let value = value.as_str();
        let (name, entries) = &mut sections[current];
        if name == "sops" {
            pending.clear();
            metadata.push((key, Leaf::string(value)));
            continue;
        }
        if key.is_empty() || !keys[current].is_new(&key, entries) {
            return Err(ParseError::AtLine {
                line: number + 1,
                problem: ParseProblem::EmptyOrDuplicateIniKey {
                    key,
                    section: name.clone(),
                },
            });
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
        sops: (!metadata.is_empty()).then_some(SopsSection::Flat {
            entries: metadata,
            unescape: true,
        }),
    })
}

/// The key under which a comment above a section header is kept.
const SECTION_COMMENT: &str = "[";

/// The value after a key's `=` as go-ini reads it; `first` is the rest of the key's line (its
/// line break included), `rest` the lines after it, of which a quoted value may take some.
fn read_value<'a>(
    first: &'a str,
    rest: &mut impl Iterator<Item = &'a str>,
) -> Result<Zeroizing<String>, &'static str> {
    let line = first.trim_start();
    let quote = if line.len() > 3 && line.starts_with(TRIPLE_QUOTE) {
        Some(TRIPLE_QUOTE)
    } else if line.starts_with('`') {
        Some("`")
    } else {
        None
    };
    if let Some(quote) = quote {
        // Up to the last closing quote on the first line that has one.
        let body = &line[quote.len()..];
        if let Some(end) = body.rfind(quote) {
            return Ok(joined(&[&body[..end]]));
        }
        let mut parts = vec![body];
        for next in rest {
            if let Some(end) = next.rfind(quote) {
                parts.push(&next[..end]);
                return Ok(joined(&parts));
            }
            parts.push(next);
        }
        return Err("a quoted value is never closed");
    }
    let line = line.trim();
    if let Some(head) = line.strip_suffix('\\') {
        // Continued: the next non-empty lines, trimmed, while they end with `\` too.
        let mut parts = vec![head];
        for next in rest {
            let next = next.trim();
            if next.is_empty() {
                break;
            }
            match next.strip_suffix('\\') {
                Some(continued) => parts.push(continued),
                None => {
                    parts.push(next);
                    break;
                }
            }
        }
        return Ok(joined(&parts));
    }
    let line = match line.find(['#', ';']) {
        Some(comment) => line[..comment].trim_end(),
        None => line,
    };
    let surrounded = |quote: char| {
        line.len() >= 2
            && line.starts_with(quote)
            && line.ends_with(quote)
            && line.matches(quote).count() == 2
    };
    let line = if surrounded('\'') || surrounded('"') {
        &line[1..line.len() - 1]
    } else {
        line
    };
    Ok(joined(&[line]))
}

/// The parts of a value as one string, allocated once: growing it would leave unwiped copies.
fn joined(parts: &[&str]) -> Zeroizing<String> {
    let mut value = Zeroizing::new(String::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for part in parts {
        value.push_str(part);
    }
    value
}

const TRIPLE_QUOTE: &str = "\"\"\"";

/// `value` as it is written after `key = `: go-ini's quoting where it reads back, else the first
/// of its other quotings that does; `None` when none does.
fn quoted(value: &str) -> Option<Zeroizing<String>> {
    let wrap = |quote: &str| joined(&[quote, value, quote]);
    let triple = || wrap(TRIPLE_QUOTE);
    let back = || wrap("`");
    let double = || wrap("\"");
    let raw = || joined(&[value]);
    let preferred = if value.contains(['\n', '`']) {
        triple()
    } else if value.contains(['#', ';']) {
        back()
    } else if value.trim() != value {
        double()
    } else {
        raw()
    };
    [preferred, raw(), back(), double(), triple()]
        .into_iter()
        .find(|written| reads_back(written, value))
}

/// Whether a value written as `written` (then a line break) reads back as `value`, taking all of
/// its lines.
fn reads_back(written: &str, value: &str) -> bool {
    let text = joined(&[written, "\n"]);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    matches!(read_value(first, &mut lines), Ok(read) if read.as_str() == value)
        && lines.next().is_none()
}

/// Writes sections as go-ini does: `DEFAULT`'s keys first without a header, `=` aligned within a
/// section, a blank line between sections, a section's leading comments above its header.
pub(crate) fn emit(document: &Node) -> Result<Zeroizing<Vec<u8>>, EmitError> {
    let Node::Map(sections) = document else {
        return Err(EmitError::IniNotAMap);
    };
    let mut out = PlaintextBuffer::new();
    let mut first = true;
    for (name, section) in sections {
        let Node::Map(entries) = section else {
            return Err(EmitError::IniSectionNotAMap {
                section: name.clone(),
            });
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
                Node::Leaf(leaf) => {
                    let value = std::str::from_utf8(&leaf.bytes)
                        .ok()
                        .and_then(quoted)
                        .ok_or_else(|| EmitError::IniUnquotable {
                            section: name.clone(),
                            key: key.clone(),
                        })?;
                    out.extend_from_slice(key.as_bytes());
                    out.extend(std::iter::repeat_n(b' ', width - key.len()));
                    out.extend_from_slice(b" = ");
                    out.extend_from_slice(value.as_bytes());
                    out.push(b'\n');
                }
                Node::Comment(_) => comment_line(&mut out, value),
                _ => {
                    return Err(EmitError::IniNested {
                        section: name.clone(),
                        key: key.clone(),
                    });
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
