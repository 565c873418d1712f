//! The master keys of a key group, one per entry of the `sops` section (SOPS_FORMAT.md §3.1):
//! what each type stores, how it is read and written back in sops's field order, and which
//! module opens or wraps the data key for it. Recipients name master keys for new files.

use std::fmt;

use zeroize::Zeroizing;

use super::DecryptionError;
use super::keys::{self, Identities, RecipientError};
use super::metadata::{AgeStanza, MetadataError};
use super::tree::Node;
use super::{hc_vault, kms, pgp};

/// A master key that can open a file's data key (or a key group's share), named as sops names it
/// on the command line and in `.sops.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recipient {
    /// An age recipient: X25519 (`age1...`), post-quantum (`age1pq1...`), an SSH public key
    /// (`ssh-ed25519 ...`, `ssh-rsa ...`) or a plugin's (`age1<plugin>1...`).
    Age(String),
    /// A PGP key, by its fingerprint.
    Pgp(String),
    /// A Vault/OpenBao transit key, by its URI
    /// (`https://vault.example:8200/v1/transit/keys/name`).
    HcVaultTransit(String),
    /// An AWS KMS key.
    Kms(KmsRecipient),
}

/// An AWS KMS key as sops names it: `ARN[+ROLE_ARN]`, with an encryption context and a profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsRecipient {
    /// The key's ARN.
    pub arn: String,
    /// A role to assume before calling KMS.
    pub role: Option<String>,
    /// The encryption context, sorted by key.
    pub context: Vec<(String, String)>,
    /// The AWS profile (of the shared config and credentials files) to use.
    pub aws_profile: Option<String>,
}

impl KmsRecipient {
    /// Parses sops's `--kms` form: `arn:aws:kms:...:key/ID` or `ARN+arn:aws:iam::...:role/NAME`.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        match text.split_once('+') {
            Some((arn, role)) => Self {
                arn: arn.to_owned(),
                role: Some(role.to_owned()),
                ..Self::default()
            },
            None => Self {
                arn: text.to_owned(),
                ..Self::default()
            },
        }
    }
}

impl Recipient {
    /// The key type as the `sops` section names it: `age`, `pgp`, `hc_vault`, `kms`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Age(_) => "age",
            Self::Pgp(_) => "pgp",
            Self::HcVaultTransit(_) => "hc_vault",
            Self::Kms(_) => "kms",
        }
    }

    /// Whether `text` names this recipient as a user would on the command line (an age
    /// recipient, a fingerprint in any case, a transit URI, a KMS ARN).
    pub fn is_named(&self, text: &str) -> bool {
        let text = text.trim();
        match self {
            Self::Age(r) | Self::HcVaultTransit(r) => r == text,
            Self::Pgp(fp) => fp.eq_ignore_ascii_case(text),
            Self::Kms(k) => k.arn == text || KmsRecipient::parse(text) == *k,
        }
    }
}

impl From<String> for Recipient {
    /// An age recipient.
    fn from(recipient: String) -> Self {
        Self::Age(recipient.trim().to_owned())
    }
}

impl From<&str> for Recipient {
    /// An age recipient.
    fn from(recipient: &str) -> Self {
        Self::Age(recipient.trim().to_owned())
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Age(r) => f.write_str(r),
            Self::Pgp(fp) => write!(f, "pgp {fp}"),
            Self::HcVaultTransit(uri) => write!(f, "hc_vault {uri}"),
            Self::Kms(k) => match &k.role {
                Some(role) => write!(f, "kms {}+{role}", k.arn),
                None => write!(f, "kms {}", k.arn),
            },
        }
    }
}

/// A `pgp` entry: the data key encrypted to a PGP key.
#[derive(Clone, Debug)]
pub(crate) struct PgpKey {
    pub(crate) fingerprint: String,
    pub(crate) created_at: String,
    pub(crate) enc: String,
}

/// An `hc_vault` entry: the data key encrypted by a Vault/OpenBao transit key.
#[derive(Clone, Debug)]
pub(crate) struct VaultKey {
    /// `https://host:8200`.
    pub(crate) vault_address: String,
    /// The transit engine's mount, `transit`.
    pub(crate) engine_path: String,
    pub(crate) key_name: String,
    pub(crate) created_at: String,
    /// `vault:v1:...`.
    pub(crate) enc: String,
}

impl VaultKey {
    /// The key's URI as sops prints it: `{address}/v1/{engine}/keys/{name}`.
    pub(crate) fn uri(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.vault_address, self.engine_path, self.key_name
        )
    }
}

/// A `kms` entry: the data key encrypted by AWS KMS.
#[derive(Clone, Debug)]
pub(crate) struct KmsKey {
    pub(crate) recipient: KmsRecipient,
    pub(crate) created_at: String,
    /// Base64 of KMS's ciphertext blob.
    pub(crate) enc: String,
}

/// One master key of a key group.
#[derive(Clone)]
pub(crate) enum MasterKey {
    Age(AgeStanza),
    Pgp(PgpKey),
    HcVault(VaultKey),
    Kms(KmsKey),
    /// A key type this build cannot open (`gcp_kms`, `azure_kv`, `hckms`): kept as read, so that
    /// a rewrite under the same data key keeps it.
    Other {
        kind: &'static str,
        entry: Node,
    },
}

/// The key types a `sops` section or key group may list, in the order sops 3.11 writes them in a
/// key group (`pgp` first; at the top level sops writes `pgp` after `mac`).
pub(crate) const KINDS: [&str; 7] = [
    "pgp", "kms", "gcp_kms", "azure_kv", "hckms", "hc_vault", "age",
];

/// The key types this build cannot open, with what to use instead.
const OTHER_KINDS: [(&str, &str); 3] = [
    ("gcp_kms", "GCP Cloud KMS"),
    ("azure_kv", "Azure Key Vault"),
    ("hckms", "HuaweiCloud KMS"),
];

impl MasterKey {
    /// The key type as the `sops` section names it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Age(_) => "age",
            Self::Pgp(_) => "pgp",
            Self::HcVault(_) => "hc_vault",
            Self::Kms(_) => "kms",
            Self::Other { kind, .. } => kind,
        }
    }

    /// The recipient this entry is for, `None` for a type this build cannot use.
    pub(crate) fn recipient(&self) -> Option<Recipient> {
        match self {
            Self::Age(stanza) => Some(Recipient::Age(stanza.recipient.clone())),
            Self::Pgp(key) => Some(Recipient::Pgp(key.fingerprint.clone())),
            Self::HcVault(key) => Some(Recipient::HcVaultTransit(key.uri())),
            Self::Kms(key) => Some(Recipient::Kms(key.recipient.clone())),
            Self::Other { .. } => None,
        }
    }

    /// How messages name the entry: its recipient, or its type and identifying field.
    pub(crate) fn describe(&self) -> String {
        match (self.recipient(), self) {
            (Some(recipient), _) => recipient.to_string(),
            (None, Self::Other { kind, entry }) => {
                let id = ["resource_id", "vault_url", "key_id"]
                    .iter()
                    .find_map(|k| entry.get(k).and_then(Node::as_text))
                    .unwrap_or("?");
                format!("{kind} {id}")
            }
            (None, _) => self.kind().to_owned(),
        }
    }

    /// The human name of a type this build cannot open (`GCP Cloud KMS`), `None` for the others.
    pub(crate) fn unsupported_name(&self) -> Option<&'static str> {
        match self {
            Self::Other { kind, .. } => OTHER_KINDS
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, name)| *name),
            _ => None,
        }
    }

    /// Reads an entry of the list `kind` (one of [`KINDS`]).
    pub(crate) fn parse(kind: &'static str, entry: &Node) -> Result<Self, DecryptionError> {
        let field = |key: &str| -> Result<String, DecryptionError> {
            super::metadata::required_text(entry, key).map(str::to_owned)
        };
        let optional = |key: &str| entry.get(key).and_then(Node::as_text).map(str::to_owned);
        Ok(match kind {
            "age" => Self::Age(AgeStanza {
                recipient: field("recipient")?,
                enc: field("enc")?,
            }),
            "pgp" => Self::Pgp(PgpKey {
                fingerprint: field("fp")?,
                created_at: optional("created_at").unwrap_or_default(),
                enc: field("enc")?,
            }),
            "hc_vault" => Self::HcVault(VaultKey {
                vault_address: field("vault_address")?,
                engine_path: field("engine_path")?,
                key_name: field("key_name")?,
                created_at: optional("created_at").unwrap_or_default(),
                enc: field("enc")?,
            }),
            "kms" => {
                let mut context: Vec<(String, String)> = match entry.get("context") {
                    Some(Node::Map(pairs)) => pairs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_text().unwrap_or_default().to_owned()))
                        .collect(),
                    _ => Vec::new(),
                };
                context.sort();
                Self::Kms(KmsKey {
                    recipient: KmsRecipient {
                        arn: field("arn")?,
                        role: optional("role").filter(|r| !r.is_empty()),
                        context,
                        aws_profile: optional("aws_profile").filter(|p| !p.is_empty()),
                    },
                    created_at: optional("created_at").unwrap_or_default(),
                    enc: field("enc")?,
                })
            }
            other => {
                if !matches!(entry, Node::Map(_)) {
                    return Err(DecryptionError::Metadata(MetadataError::NotAString {
                        key: other.to_owned(),
                    }));
                }
                Self::Other {
                    kind: other,
                    entry: entry.clone(),
                }
            }
        })
    }

    /// The entry as sops 3.11 writes it, in its struct's field order.
    pub(crate) fn to_node(&self) -> Node {
        let text = |value: &str| Node::Leaf(super::tree::Leaf::string(value));
        let map = |pairs: Vec<(&str, Node)>| {
            Node::Map(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        };
        match self {
            Self::Age(stanza) => map(vec![
                ("recipient", text(&stanza.recipient)),
                ("enc", text(&stanza.enc)),
            ]),
            Self::Pgp(key) => map(vec![
                ("created_at", text(&key.created_at)),
                ("enc", text(&key.enc)),
                ("fp", text(&key.fingerprint)),
            ]),
            Self::HcVault(key) => map(vec![
                ("vault_address", text(&key.vault_address)),
                ("engine_path", text(&key.engine_path)),
                ("key_name", text(&key.key_name)),
                ("created_at", text(&key.created_at)),
                ("enc", text(&key.enc)),
            ]),
            Self::Kms(key) => {
                let r = &key.recipient;
                let mut pairs = vec![("arn", text(&r.arn))];
                if let Some(role) = &r.role {
                    pairs.push(("role", text(role)));
                }
                if !r.context.is_empty() {
                    let context = r
                        .context
                        .iter()
                        .map(|(k, v)| (k.clone(), text(v)))
                        .collect();
                    pairs.push(("context", Node::Map(context)));
                }
                pairs.push(("created_at", text(&key.created_at)));
                pairs.push(("enc", text(&key.enc)));
                pairs.push(("aws_profile", text(r.aws_profile.as_deref().unwrap_or(""))));
                map(pairs)
            }
            Self::Other { entry, .. } => entry.clone(),
        }
    }

    /// Opens the data key (or share) this entry holds with what `identities` offer; `Ok(None)`
    /// when they hold nothing for this entry. `Err` is a failure of this entry alone (a server
    /// that cannot be reached, a gpg that failed): the caller notes it and tries the others.
    /// An age stanza is opened by [`keys`] itself, which also runs `SOPS_AGE_KEY_CMD`.
    pub(crate) fn unwrap(&self, identities: &Identities) -> Result<Option<Payload>, KeyFailure> {
        match self {
            Self::Age(_) | Self::Other { .. } => Ok(None),
            Self::Pgp(key) => pgp::unwrap(key, identities),
            Self::HcVault(key) => hc_vault::unwrap(key),
            Self::Kms(key) => kms::unwrap(key),
        }
    }

    /// Encrypts `payload` (the data key or a share) to `recipient`; `created_at` is the time to
    /// record (RFC 3339, seconds).
    pub(crate) fn wrap(
        payload: &[u8],
        recipient: &Recipient,
        created_at: &str,
    ) -> Result<Self, RecipientError> {
        Ok(match recipient {
            Recipient::Age(r) => Self::Age(AgeStanza {
                recipient: r.trim().to_owned(),
                enc: keys::wrap(payload, r)?,
            }),
            Recipient::Pgp(fp) => Self::Pgp(PgpKey {
                // As sops: a fingerprint given with spaces (as gpg prints it) is stored without.
                fingerprint: fp.replace(' ', ""),
                created_at: created_at.to_owned(),
                enc: pgp::wrap(payload, fp)?,
            }),
            Recipient::HcVaultTransit(uri) => {
                Self::HcVault(hc_vault::wrap(payload, uri, created_at)?)
            }
            Recipient::Kms(k) => Self::Kms(KmsKey {
                recipient: k.clone(),
                created_at: created_at.to_owned(),
                enc: kms::wrap(payload, k)?,
            }),
        })
    }
}

/// An opened data key or share.
pub(crate) type Payload = Zeroizing<Vec<u8>>;

/// Why one master key could not be used although it may be ours: a message naming the key and
/// the cause (a server's status, gpg's exit), never key material or a value.
#[derive(Debug, Clone)]
pub(crate) struct KeyFailure(pub(crate) String);

impl fmt::Display for KeyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
