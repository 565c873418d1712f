//! `.sops.yaml` creation rules: which recipients and rule a new file gets, as sops picks them.
//!
//! The first `.sops.yaml` found walking up from the file's folder is read; its first rule whose
//! `path_regex` matches the file's path relative to that folder (or that has no `path_regex`)
//! applies. Supported in a rule: `path_regex`, `age` (a comma-separated string or a list),
//! `key_groups` with `age` lists, `shamir_threshold`, one of `encrypted_regex`,
//! `unencrypted_regex`, `encrypted_suffix`, `unencrypted_suffix`, and `mac_only_encrypted`.
//! A matching rule that needs anything else (PGP, KMS, Vault, comment regexes) is an error, never
//! silently ignored.

use std::path::{Path, PathBuf};

use regex::Regex;

use super::encrypt::{EncryptOptions, EncryptionError, EncryptionRule};
use super::stores::yaml;
use super::tree::{Kind, Node};

/// A `.sops.yaml` larger than this is refused; real ones hold a few rules.
const MAX_SOPS_CONFIG_BYTES: u64 = 1 << 20;

/// The creation rule that applies to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationRule {
    /// The `.sops.yaml` it comes from.
    pub config: PathBuf,
    /// Its position in `creation_rules`, from 0.
    pub index: usize,
    /// What it asks for.
    pub options: EncryptOptions,
}

/// The creation rule for `file` from the nearest `.sops.yaml` above it, `Ok(None)` when there is
/// no `.sops.yaml`. A `.sops.yaml` without a matching rule, or with a malformed one, is an error.
pub fn find_creation_rule(file: &Path) -> Result<Option<CreationRule>, EncryptionError> {
    let absolute = std::path::absolute(file)
        .map_err(|e| EncryptionError::Options(format!("{}: {e}", file.display())))?;
    let Some(config) = absolute
        .ancestors()
        .skip(1)
        .flat_map(|dir| [dir.join(".sops.yaml"), dir.join(".sops.yml")])
        .find(|candidate| candidate.is_file())
    else {
        return Ok(None);
    };
    let folder = config.parent().unwrap_or(Path::new("/"));
    let relative = absolute.strip_prefix(folder).unwrap_or(&absolute);
    let fail =
        |message: String| EncryptionError::Options(format!("{}: {message}", config.display()));
    let bytes = crate::bounded_read::file(&config, MAX_SOPS_CONFIG_BYTES)
        .map_err(|e| fail(format!("cannot read the file: {e}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| fail(format!("cannot read the file: it is not UTF-8 ({e})")))?;
    let documents = yaml::parse(text).map_err(|e| fail(format!("cannot parse the file: {e}")))?;
    let rules = match documents.first().and_then(|d| d.get("creation_rules")) {
        Some(Node::List(rules)) => rules,
        Some(_) => return Err(fail("`creation_rules` is not a list".into())),
        None => return Err(fail("there is no `creation_rules` list".into())),
    };
    let path_text = relative.to_string_lossy();
    for (index, rule) in rules.iter().enumerate() {
        let at = |message: String| fail(format!("creation_rules[{index}]: {message}"));
        let matches = match rule.get("path_regex").and_then(Node::as_text) {
            None | Some("") => true,
            Some(pattern) => Regex::new(pattern)
                .map_err(|e| {
                    at(format!(
                        "`path_regex` is not a valid regular expression: {e}"
                    ))
                })?
                .is_match(&path_text),
        };
        if matches {
            let options = options(rule).map_err(at)?;
            return Ok(Some(CreationRule {
                config,
                index,
                options,
            }));
        }
    }
    Err(fail(format!(
        "no creation rule matches `{path_text}`; add one or pass --age"
    )))
}

/// The options a matching rule asks for.
fn options(rule: &Node) -> Result<EncryptOptions, String> {
    let Node::Map(entries) = rule else {
        return Err("a rule is not a map".into());
    };
    let mut options = EncryptOptions::for_recipients(Vec::<String>::new());
    let mut rules = Vec::new();
    for (key, value) in entries {
        let text = || {
            value
                .as_text()
                .map(str::to_owned)
                .ok_or_else(|| format!("`{key}` is not a string"))
        };
        match key.as_str() {
            "path_regex" => {}
            "age" => options.key_groups = vec![recipients(value)?],
            "key_groups" => {
                let Node::List(groups) = value else {
                    return Err("`key_groups` is not a list".into());
                };
                options.key_groups = groups
                    .iter()
                    .map(|group| match group {
                        Node::Map(fields) => {
                            if let Some((other, _)) =
                                fields.iter().find(|(k, v)| k != "age" && !is_empty(v))
                            {
                                return Err(format!(
                                    "a key group uses `{other}`; only age keys are supported"
                                ));
                            }
                            group.get("age").map_or(Ok(Vec::new()), recipients)
                        }
                        _ => Err("a key group is not a map".into()),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "shamir_threshold" => {
                options.shamir_threshold = Some(
                    value
                        .as_text()
                        .and_then(|t| t.parse().ok())
                        .filter(|&n: &usize| n >= 1)
                        .ok_or("`shamir_threshold` is not a positive number")?,
                )
            }
            "encrypted_regex" => rules.push(EncryptionRule::EncryptedRegex(text()?)),
            "unencrypted_regex" => rules.push(EncryptionRule::UnencryptedRegex(text()?)),
            "encrypted_suffix" => rules.push(EncryptionRule::EncryptedSuffix(text()?)),
            "unencrypted_suffix" => rules.push(EncryptionRule::UnencryptedSuffix(text()?)),
            "encrypted_comment_regex" => rules.push(EncryptionRule::EncryptedCommentRegex(text()?)),
            "unencrypted_comment_regex" => {
                rules.push(EncryptionRule::UnencryptedCommentRegex(text()?))
            }
            "mac_only_encrypted" => {
                options.mac_only_encrypted = matches!(value, Node::Leaf(l) if l.kind == Kind::Bool && l.bytes.as_slice() == b"True")
            }
            _ if is_empty(value) => {}
            other => {
                return Err(format!(
                    "`{other}` is not supported by secret-cascade (only age keys and the \
                     encryption rules are)"
                ));
            }
        }
    }
    match rules.len() {
        0 => {}
        1 => options.rule = rules.remove(0),
        _ => return Err("more than one encryption rule is set".into()),
    }
    if options.key_groups.iter().all(Vec::is_empty) {
        return Err("the rule has no age recipients".into());
    }
    Ok(options)
}

/// `age: age1a,age1b` or `age: [age1a, age1b]`.
fn recipients(value: &Node) -> Result<Vec<String>, String> {
    let list: Vec<&str> = match value {
        Node::List(items) => items
            .iter()
            .map(|i| i.as_text().ok_or("an `age` entry is not a string"))
            .collect::<Result<_, _>>()?,
        Node::Leaf(_) => value.as_text().map(|t| vec![t]).unwrap_or_default(),
        _ => return Err("`age` is not a string or list".into()),
    };
    Ok(list
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect())
}

fn is_empty(node: &Node) -> bool {
    match node {
        Node::Null => true,
        Node::List(items) => items.is_empty(),
        Node::Map(entries) => entries.is_empty(),
        Node::Leaf(leaf) => leaf.bytes.is_empty(),
        Node::Comment(_) => true,
    }
}
