//! `.sops.yaml` creation rules: which recipients and rule a new file gets, as sops picks them.
//!
//! The first `.sops.yaml` found walking up from the file's folder is read; its first rule whose
//! `path_regex` matches the file's path relative to that folder (or that has no `path_regex`)
//! applies. Supported in a rule: `path_regex`; `age`, `pgp`, `hc_vault_transit_uri` and `kms`
//! (each a comma-separated string or a list; `kms` entries are `ARN[+ROLE_ARN]`) with
//! `aws_profile`; `key_groups` with `age`, `pgp`, `hc_vault` and `kms` (`{arn, role, context,
//! aws_profile}`) lists; `shamir_threshold`; one encryption rule; and `mac_only_encrypted`.
//! A matching rule that needs anything else (GCP KMS, Azure Key Vault, `merge`) is an error,
//! never silently ignored.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;

use super::ReadError;
use super::encrypt::{EncryptOptions, EncryptionRule};
use super::master_key::{KmsRecipient, Recipient};
use super::stores::{ParseError, yaml};
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

/// Why no creation rule could be taken from a `.sops.yaml`. Messages name the file, the rule's
/// index and the key, never a value; a read or parse failure is kept as the source.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CreationRuleError {
    /// The encrypted file's path cannot be made absolute.
    Path {
        /// The file being encrypted.
        file: PathBuf,
        /// Why.
        source: Arc<io::Error>,
    },
    /// The `.sops.yaml` cannot be read.
    Read {
        /// The `.sops.yaml`.
        config: PathBuf,
        /// Why.
        source: ReadError,
    },
    /// The `.sops.yaml` is not UTF-8.
    NotUtf8 {
        /// The `.sops.yaml`.
        config: PathBuf,
        /// Where the UTF-8 breaks.
        source: std::str::Utf8Error,
    },
    /// The `.sops.yaml` is not valid YAML.
    Parse {
        /// The `.sops.yaml`.
        config: PathBuf,
        /// Why.
        source: ParseError,
    },
    /// It has no `creation_rules` list.
    NoRules {
        /// The `.sops.yaml`.
        config: PathBuf,
    },
    /// Its `creation_rules` is not a list.
    RulesNotAList {
        /// The `.sops.yaml`.
        config: PathBuf,
    },
    /// The matching rule is malformed or asks for what is not supported.
    Rule {
        /// The `.sops.yaml`.
        config: PathBuf,
        /// The rule's position in `creation_rules`, from 0.
        index: usize,
        /// What is wrong with it.
        problem: RuleProblem,
    },
    /// No rule matches the file.
    NoMatch {
        /// The `.sops.yaml`.
        config: PathBuf,
        /// The file's path relative to the `.sops.yaml`'s folder.
        path: String,
    },
}

/// What is wrong with a creation rule ([`CreationRuleError::Rule`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RuleProblem {
    /// `path_regex` does not compile.
    BadPathRegex(regex::Error),
    /// The rule is not a map.
    NotAMap,
    /// An option that takes a string holds something else.
    NotAString {
        /// The option.
        key: String,
    },
    /// `key_groups` is not a list.
    KeyGroupsNotAList,
    /// A key group is not a map.
    KeyGroupNotAMap,
    /// A key group uses a key type secret-cascade cannot encrypt to.
    KeyGroupUses {
        /// The key type.
        key: String,
    },
    /// `shamir_threshold` is not a positive number.
    BadThreshold,
    /// An option secret-cascade does not support.
    Unsupported {
        /// The option.
        key: String,
    },
    /// More than one encryption rule.
    SeveralRules,
    /// No recipient at all.
    NoRecipients,
    /// An entry of a list of keys is not a string (or, for `kms` in a key group, not a map
    /// with an `arn`).
    EntryNotString {
        /// The key type.
        key: String,
    },
    /// A key type's value is neither a string nor a list.
    NotStringOrList {
        /// The key type.
        key: String,
    },
}

impl fmt::Display for CreationRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path { file, source } => write!(f, "{}: {source}", file.display()),
            Self::Read { config, source } => {
                write!(f, "{}: cannot read the file: {source}", config.display())
            }
            Self::NotUtf8 { config, source } => write!(
                f,
                "{}: cannot read the file: it is not UTF-8 ({source})",
                config.display()
            ),
            Self::Parse { config, source } => {
                write!(f, "{}: cannot parse the file: {source}", config.display())
            }
            Self::NoRules { config } => {
                write!(f, "{}: there is no `creation_rules` list", config.display())
            }
            Self::RulesNotAList { config } => {
                write!(f, "{}: `creation_rules` is not a list", config.display())
            }
            Self::Rule {
                config,
                index,
                problem,
            } => write!(
                f,
                "{}: creation_rules[{index}]: {problem}",
                config.display()
            ),
            Self::NoMatch { config, path } => write!(
                f,
                "{}: no creation rule matches `{path}`; add one or pass --age",
                config.display()
            ),
        }
    }
}

impl std::error::Error for CreationRuleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Path { source, .. } => Some(&**source),
            Self::Read { source, .. } => Some(source),
            Self::NotUtf8 { source, .. } => Some(source),
            Self::Parse { source, .. } => Some(source),
            Self::Rule {
                problem: RuleProblem::BadPathRegex(source),
                ..
            } => Some(source),
            _ => None,
        }
    }
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadPathRegex(e) => {
                write!(f, "`path_regex` is not a valid regular expression: {e}")
            }
            Self::NotAMap => f.write_str("a rule is not a map"),
            Self::NotAString { key } => write!(f, "`{key}` is not a string"),
            Self::KeyGroupsNotAList => f.write_str("`key_groups` is not a list"),
            Self::KeyGroupNotAMap => f.write_str("a key group is not a map"),
            Self::KeyGroupUses { key } => write!(
                f,
                "a key group uses `{key}`, which secret-cascade cannot encrypt to (age, pgp, \
                 hc_vault and kms are supported)"
            ),
            Self::BadThreshold => f.write_str("`shamir_threshold` is not a positive number"),
            Self::Unsupported { key } => write!(
                f,
                "`{key}` is not supported by secret-cascade (age, pgp, hc_vault_transit_uri, \
                 kms and aws_profile keys and the encryption rules are)"
            ),
            Self::SeveralRules => f.write_str("more than one encryption rule is set"),
            Self::NoRecipients => f.write_str("the rule has no recipients"),
            Self::EntryNotString { key } => write!(f, "a `{key}` entry is not a string"),
            Self::NotStringOrList { key } => write!(f, "`{key}` is not a string or list"),
        }
    }
}

/// The creation rule for `file` from the nearest `.sops.yaml` above it, `Ok(None)` when there is
/// no `.sops.yaml`. A `.sops.yaml` without a matching rule, or with a malformed one, is an error.
pub fn find_creation_rule(file: &Path) -> Result<Option<CreationRule>, CreationRuleError> {
    let absolute = std::path::absolute(file).map_err(|e| CreationRuleError::Path {
        file: file.to_path_buf(),
        source: Arc::new(e),
    })?;
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
    let bytes = match crate::bounded_read::file(&config, MAX_SOPS_CONFIG_BYTES) {
        Ok(bytes) => bytes,
        Err(source) => return Err(CreationRuleError::Read { config, source }),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(source) => return Err(CreationRuleError::NotUtf8 { config, source }),
    };
    let documents = match yaml::parse(text) {
        Ok(documents) => documents,
        Err(source) => return Err(CreationRuleError::Parse { config, source }),
    };
    let rules = match documents.first().and_then(|d| d.get("creation_rules")) {
        Some(Node::List(rules)) => rules,
        Some(_) => return Err(CreationRuleError::RulesNotAList { config }),
        None => return Err(CreationRuleError::NoRules { config }),
    };
    let path_text = relative.to_string_lossy();
    for (index, rule) in rules.iter().enumerate() {
        let matches = match rule.get("path_regex").and_then(Node::as_text) {
            None | Some("") => Ok(true),
            Some(pattern) => Regex::new(pattern)
                .map(|regex| regex.is_match(&path_text))
                .map_err(RuleProblem::BadPathRegex),
        };
        let options = match matches {
            Ok(false) => continue,
            Ok(true) => options(rule),
            Err(problem) => Err(problem),
        };
        return match options {
            Ok(options) => Ok(Some(CreationRule {
                config,
                index,
                options,
            })),
            Err(problem) => Err(CreationRuleError::Rule {
                config,
                index,
                problem,
            }),
        };
    }
    Err(CreationRuleError::NoMatch {
        path: path_text.into_owned(),
        config,
    })
}

/// The options a matching rule asks for.
fn options(rule: &Node) -> Result<EncryptOptions, RuleProblem> {
    let Node::Map(entries) = rule else {
        return Err(RuleProblem::NotAMap);
    };
    let mut options = EncryptOptions::for_recipients(Vec::<Recipient>::new());
    let mut single = Vec::new();
    let mut groups = None;
    let mut aws_profile = None;
    let mut rules = Vec::new();
    for (key, value) in entries {
        let text = || {
            value
                .as_text()
                .map(str::to_owned)
                .ok_or_else(|| RuleProblem::NotAString { key: key.clone() })
        };
        match key.as_str() {
            "path_regex" => {}
            "age" | "pgp" | "hc_vault_transit_uri" | "kms" => {
                single.extend(recipients(key, value)?);
            }
            "aws_profile" => aws_profile = Some(text()?).filter(|p| !p.is_empty()),
            "key_groups" => {
                let Node::List(list) = value else {
                    return Err(RuleProblem::KeyGroupsNotAList);
                };
                groups = Some(list.iter().map(key_group).collect::<Result<Vec<_>, _>>()?);
            }
            "shamir_threshold" => {
                options.shamir_threshold = Some(
                    value
                        .as_text()
                        .and_then(|t| t.parse().ok())
                        .filter(|&n: &usize| n >= 1)
                        .ok_or(RuleProblem::BadThreshold)?,
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
                return Err(RuleProblem::Unsupported {
                    key: other.to_owned(),
                });
            }
        }
    }
    // sops applies the rule's `aws_profile` to the KMS keys listed at its top level.
    for recipient in &mut single {
        if let Recipient::Kms(kms) = recipient {
            kms.aws_profile = kms.aws_profile.take().or_else(|| aws_profile.clone());
        }
    }
    options.key_groups = groups.unwrap_or_else(|| vec![single]);
    match rules.len() {
        0 => {}
        1 => options.rule = rules.remove(0),
        _ => return Err(RuleProblem::SeveralRules),
    }
    if options.key_groups.iter().all(Vec::is_empty) {
        return Err(RuleProblem::NoRecipients);
    }
    Ok(options)
}

/// One entry of `key_groups`: lists under `age`, `pgp`, `hc_vault` (transit URIs) and `kms`
/// (maps with `arn`, `role`, `context`, `aws_profile`).
fn key_group(group: &Node) -> Result<Vec<Recipient>, RuleProblem> {
    let Node::Map(fields) = group else {
        return Err(RuleProblem::KeyGroupNotAMap);
    };
    let mut keys = Vec::new();
    for (key, value) in fields {
        match key.as_str() {
            "age" | "pgp" => keys.extend(recipients(key, value)?),
            "hc_vault" => keys.extend(recipients("hc_vault_transit_uri", value)?),
            "kms" => {
                let Node::List(items) = value else {
                    return Err(RuleProblem::NotStringOrList { key: key.clone() });
                };
                for item in items {
                    keys.push(Recipient::Kms(kms_key(item)?));
                }
            }
            _ if is_empty(value) => {}
            other => {
                return Err(RuleProblem::KeyGroupUses {
                    key: other.to_owned(),
                });
            }
        }
    }
    Ok(keys)
}

/// A `kms` entry of a key group: `{arn, role, context, aws_profile}`.
fn kms_key(item: &Node) -> Result<KmsRecipient, RuleProblem> {
    let not_string = || RuleProblem::EntryNotString { key: "kms".into() };
    let field = |name: &str| {
        item.get(name)
            .and_then(Node::as_text)
            .filter(|t| !t.is_empty())
    };
    let arn = field("arn").ok_or_else(not_string)?;
    let mut context: Vec<(String, String)> = match item.get("context") {
        Some(Node::Map(pairs)) => pairs
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_text().ok_or_else(not_string)?.to_owned())))
            .collect::<Result<_, RuleProblem>>()?,
        _ => Vec::new(),
    };
    context.sort();
    Ok(KmsRecipient {
        arn: arn.to_owned(),
        role: field("role").map(str::to_owned),
        context,
        aws_profile: field("aws_profile").map(str::to_owned),
    })
}

/// `age: age1a,age1b` or `age: [age1a, age1b]` (and the same for `pgp`,
/// `hc_vault_transit_uri` and `kms`, whose entries are `ARN[+ROLE]`).
fn recipients(key: &str, value: &Node) -> Result<Vec<Recipient>, RuleProblem> {
    let list: Vec<&str> = match value {
        Node::List(items) => items
            .iter()
            .map(|i| {
                i.as_text().ok_or_else(|| RuleProblem::EntryNotString {
                    key: key.to_owned(),
                })
            })
            .collect::<Result<_, _>>()?,
        Node::Leaf(_) => value.as_text().map(|t| vec![t]).unwrap_or_default(),
        Node::Null => Vec::new(),
        _ => {
            return Err(RuleProblem::NotStringOrList {
                key: key.to_owned(),
            });
        }
    };
    Ok(list
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| match key {
            "pgp" => Recipient::Pgp(r.to_owned()),
            "hc_vault_transit_uri" => Recipient::HcVaultTransit(r.to_owned()),
            "kms" => Recipient::Kms(KmsRecipient::parse(r)),
            _ => Recipient::Age(r.to_owned()),
        })
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
