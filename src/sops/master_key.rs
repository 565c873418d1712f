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

    /// Whether `name` names this key: as [`Recipient::is_named`], or for a type this build
    /// cannot use, its identifying field (`resource_id`, `vault_url`, `key_id`).
    pub(crate) fn is_named(&self, name: &str) -> bool {
        match self.recipient() {
            Some(recipient) => recipient.is_named(name),
            None => self
                .describe()
                .split_once(' ')
                .is_some_and(|(_, id)| id == name.trim()),
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
                    return Err(DecryptionError::Metadata(MetadataError::KeysNotAList {
                        kind: other,
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

#[cfg(test)]
mod tests {
    use super::super::metadata::Metadata;
    use super::super::{Format, stores};
    use super::*;

    /// The `sops` section of a YAML file, parsed and written back.
    fn round_trip(yaml: &str) -> (Metadata, Node) {
        let parsed = stores::parse(yaml.as_bytes(), Format::Yaml).unwrap();
        let sops = parsed.sops.unwrap().into_tree().unwrap();
        let metadata = Metadata::parse(&sops).unwrap();
        let node = metadata.to_node();
        (metadata, node)
    }

    fn keys(node: &Node) -> Vec<&str> {
        match node {
            Node::Map(entries) => entries.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    const EVERY_TYPE: &str = "a: 1\nsops:\n    pgp:\n        - created_at: \"2020-07-12T08:03:51Z\"\n          enc: P\n          fp: 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0\n    kms:\n        - arn: arn:aws:kms:us-east-1:111122223333:key/k\n          role: arn:aws:iam::111122223333:role/r\n          context:\n            z: \"1\"\n            a: \"2\"\n          created_at: \"2020-07-12T08:03:51Z\"\n          enc: K\n          aws_profile: \"\"\n    gcp_kms:\n        - resource_id: projects/p/locations/l/keyRings/r/cryptoKeys/k\n          created_at: \"2020-07-12T08:03:51Z\"\n          enc: G\n    hc_vault:\n        - vault_address: http://127.0.0.1:8200\n          engine_path: sops/transit\n          key_name: k\n          created_at: \"2020-07-12T08:03:51Z\"\n          enc: vault:v1:V\n    age:\n        - recipient: age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw\n          enc: A\n    lastmodified: \"2021-09-30T19:49:41Z\"\n    mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n    unencrypted_suffix: _unencrypted\n    version: 3.7.1\n";

    #[test]
    fn every_key_type_is_read_and_written_back_in_sops_field_order() {
        let (metadata, node) = round_trip(EVERY_TYPE);
        let kinds: Vec<&str> = metadata.key_groups[0]
            .keys
            .iter()
            .map(MasterKey::kind)
            .collect();
        assert_eq!(
            kinds,
            ["age", "pgp", "hc_vault", "kms", "gcp_kms"],
            "tried local first"
        );
        assert_eq!(
            keys(&node),
            [
                "kms",
                "gcp_kms",
                "hc_vault",
                "age",
                "lastmodified",
                "mac",
                "pgp",
                "unencrypted_suffix",
                "version"
            ]
        );
        let entry = |kind: &str| match node.get(kind) {
            Some(Node::List(items)) => items[0].clone(),
            other => panic!("{kind}: {:?}", other.is_some()),
        };
        assert_eq!(keys(&entry("pgp")), ["created_at", "enc", "fp"]);
        assert_eq!(
            keys(&entry("kms")),
            ["arn", "role", "context", "created_at", "enc", "aws_profile"]
        );
        assert_eq!(keys(entry("kms").get("context").unwrap()), ["a", "z"]);
        assert_eq!(
            keys(&entry("hc_vault")),
            [
                "vault_address",
                "engine_path",
                "key_name",
                "created_at",
                "enc"
            ]
        );
        assert_eq!(
            keys(&entry("gcp_kms")),
            ["resource_id", "created_at", "enc"],
            "kept as read"
        );
        let names: Vec<String> = metadata.key_groups[0]
            .keys
            .iter()
            .map(MasterKey::describe)
            .collect();
        assert_eq!(
            names,
            [
                "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw",
                "pgp 7FB89715AADA920D65D25E63F9BA9DEBD03F57C0",
                "hc_vault http://127.0.0.1:8200/v1/sops/transit/keys/k",
                "kms arn:aws:kms:us-east-1:111122223333:key/k+arn:aws:iam::111122223333:role/r",
                "gcp_kms projects/p/locations/l/keyRings/r/cryptoKeys/k",
            ]
        );
    }

    #[test]
    fn key_groups_list_hc_vault_and_age_always_and_pgp_first() {
        let yaml = EVERY_TYPE.replace(
            "    pgp:\n",
            "    shamir_threshold: 1\n    key_groups:\n        - age:\n              - recipient: age1x\n                enc: B\n    pgp:\n",
        );
        // A `sops` section with key_groups ignores the top-level lists, as sops does.
        let (metadata, _) = round_trip(&yaml);
        assert_eq!(metadata.key_groups.len(), 1);
        let mut two = metadata.clone();
        two.key_groups.push(super::super::metadata::KeyGroup {
            keys: vec![MasterKey::Pgp(PgpKey {
                fingerprint: "FP".into(),
                created_at: "t".into(),
                enc: "e".into(),
            })],
        });
        two.threshold = 2;
        let written = two.to_node();
        assert_eq!(keys(&written)[..2], ["shamir_threshold", "key_groups"]);
        let Some(Node::List(groups)) = written.get("key_groups") else {
            panic!("key_groups")
        };
        assert_eq!(keys(&groups[0]), ["hc_vault", "age"]);
        assert_eq!(keys(&groups[1]), ["pgp", "hc_vault", "age"]);
    }

    #[test]
    fn recipients_are_named_as_on_the_command_line() {
        let pgp = Recipient::Pgp("7FB89715AADA920D65D25E63F9BA9DEBD03F57C0".into());
        assert!(pgp.is_named("7fb89715aada920d65d25e63f9ba9debd03f57c0"));
        let kms = Recipient::Kms(KmsRecipient::parse("arn:a+arn:role"));
        assert!(kms.is_named("arn:a") && kms.is_named("arn:a+arn:role"));
        assert!(!kms.is_named("arn:b"));
        assert_eq!(Recipient::from(" age1x "), Recipient::Age("age1x".into()));
    }
}
