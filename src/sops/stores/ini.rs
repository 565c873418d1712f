//! INI: `[section]` then `key = value` lines; values are trimmed; `;` and `#` lines are comments;
//! keys before any section belong to `DEFAULT`; the `[sops]` section is the flattened metadata.

use zeroize::Zeroizing;

use super::Parsed;
use crate::sops::DecryptionError;
use crate::sops::metadata::unflatten;
use crate::sops::tree::{Leaf, Node};

pub(crate) fn parse(text: &str) -> Result<Parsed, DecryptionError> {
    // go-ini always has a DEFAULT section, and sops keeps it, empty or not.
    let mut sections: Vec<(String, Vec<(String, Node)>)> = vec![("DEFAULT".to_owned(), Vec::new())];
    let mut metadata = Vec::new();
    let mut current = "DEFAULT".to_owned();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
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
        if current == "sops" {
            metadata.push((key, Leaf::string(value)));
            continue;
        }
        let at = match sections.iter().position(|(name, _)| *name == current) {
            Some(at) => at,
            None => {
                sections.push((current.clone(), Vec::new()));
                sections.len() - 1
            }
        };
        let entries = &mut sections[at].1;
        if entries.iter().any(|(k, _)| *k == key) {
            return Err(DecryptionError::Parse(format!(
                "line {}: `{key}` appears twice in [{current}]",
                number + 1
            )));
        }
        entries.push((key, Node::Leaf(Leaf::string(value))));
    }
    if metadata.is_empty() {
        return Err(DecryptionError::MissingMetadata);
    }
    let tree = Node::Map(
        sections
            .into_iter()
            .map(|(name, entries)| (name, Node::Map(entries)))
            .collect(),
    );
    Ok(Parsed {
        branches: vec![tree],
        sops: unflatten(metadata, true)?,
    })
}

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
/// section, a blank line between sections. Comments are not kept.
pub(crate) fn emit(document: &Node) -> Result<Zeroizing<Vec<u8>>, String> {
    let Node::Map(sections) = document else {
        return Err("INI output needs a map of sections".into());
    };
    let mut out = Zeroizing::new(Vec::new());
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
        if name != "DEFAULT" {
            out.extend_from_slice(format!("[{name}]\n").as_bytes());
        }
        let width = entries
            .iter()
            .map(|(key, _)| key.chars().count())
            .max()
            .unwrap_or(0);
        for (key, value) in entries {
            let Node::Leaf(leaf) = value else {
                return Err(format!(
                    "INI output needs flat values; `{name}.{key}` is nested"
                ));
            };
            out.extend_from_slice(format!("{key:width$} = ").as_bytes());
            out.extend_from_slice(&leaf.bytes);
            out.push(b'\n');
        }
    }
    Ok(out)
}
