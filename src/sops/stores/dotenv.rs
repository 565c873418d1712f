//! dotenv: `KEY=value` lines. Values are kept verbatim (quotes included) except that the two
//! characters `\n` become LF; `#` lines are comments; `sops_` keys are the flattened metadata.
//! So a value cannot hold a backslash before an `n`: writing one is refused.

use zeroize::Zeroizing;

use super::{EmitError, ParseError, ParseProblem, Parsed, SopsSection};
use crate::plaintext::PlaintextBuffer;
use crate::sops::metadata::unescape_newlines;
use crate::sops::tree::{KeySet, Kind, Leaf, Node};

pub(crate) fn parse(text: &str) -> Result<Parsed, ParseError> {
    let mut data = Vec::new();
    let mut keys = KeySet::default();
    let mut metadata = Vec::new();
    for (number, line) in text.split('\n').enumerate() {
        let at = |problem| ParseError::AtLine {
            line: number + 1,
            problem,
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            data.push((
                String::new(),
                Node::Comment(Leaf::new(Kind::Comment, comment)),
            ));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(at(ParseProblem::NoEquals));
        };
        if key.is_empty() {
            return Err(at(ParseProblem::EmptyName));
        }
        let leaf = Leaf::new(Kind::Str, unescape_newlines(value.as_bytes()));
        match key.strip_prefix("sops_") {
            Some(meta) => metadata.push((meta.to_owned(), leaf)),
            None if !keys.is_new(key, &data) => {
                return Err(at(ParseProblem::DuplicateName {
                    name: key.to_owned(),
                }));
            }
            None => data.push((key.to_owned(), Node::Leaf(leaf))),
        }
    }
    Ok(Parsed {
        branches: vec![Node::Map(data)],
        sops: (!metadata.is_empty()).then_some(SopsSection::Flat {
            entries: metadata,
            unescape: false,
        }),
    })
}

pub(crate) fn emit(document: &Node) -> Result<Zeroizing<Vec<u8>>, EmitError> {
    let Node::Map(entries) = document else {
        return Err(EmitError::DotenvNotAMap);
    };
    let mut out = PlaintextBuffer::new();
    for (key, value) in entries {
        if let Node::Comment(comment) = value {
            out.push(b'#');
            out.extend_from_slice(&comment.bytes);
            out.push(b'\n');
            continue;
        }
        let Node::Leaf(leaf) = value else {
            return Err(EmitError::DotenvNested { key: key.clone() });
        };
        // sops reads every `\n` as a line break: a value holding those two characters would
        // come back changed.
        if leaf.bytes.windows(2).any(|pair| pair == b"\\n") {
            return Err(EmitError::DotenvBackslashN { key: key.clone() });
        }
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        for &byte in leaf.bytes.iter() {
            if byte == b'\n' {
                out.extend_from_slice(b"\\n");
            } else {
                out.push(byte);
            }
        }
        out.push(b'\n');
    }
    Ok(out.into())
}
