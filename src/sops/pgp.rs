//! PGP master keys (`pgp` entries): the data key (or a key group's Shamir share) encrypted to an
//! OpenPGP key, stored in `enc` as an armored `PGP MESSAGE` (SOPS_FORMAT.md §3.1).
//!
//! Opening an entry, in order:
//!
//! 1. **Natively** (rPGP), with the secret keys of the key files loaded into [`Identities`]: the
//!    `sops` kind's `pgp_key_file` and `SECRET_CASCADE_PGP_KEY_FILE` ([`KEY_FILE_ENV`]). A key
//!    file holds armored secret key blocks (`gpg --armor --export-secret-keys FP`), or the same
//!    unarmored; public key blocks in it are used only to encrypt. The message's recipients are
//!    matched by key id against every primary key and subkey. A secret key protected by a
//!    passphrase is not unlocked here (secret-cascade never asks for a passphrase): the entry is
//!    left to GnuPG, whose agent asks, and if GnuPG cannot open it either the failure says to
//!    import the key there (`gpg --import FILE`) or to export it without a passphrase.
//! 2. **Through the user's GnuPG** ([`gnupg`]), as sops falls back to it: `gpg --decrypt`, only
//!    when the native keys do not open the entry and a gpg exists. A gpg without the secret key
//!    is no failure; a gpg that fails otherwise is.
//!
//! Encrypting to a fingerprint (`encrypt --pgp FP`, `rotate --add-pgp`, `.sops.yaml`): natively to
//! the public key from the `SECRET_CASCADE_PGP_KEY_FILE` file if it holds that key, else to the
//! key GnuPG exports (`gpg --export`), else with `gpg --encrypt` as sops does; the armored message
//! is written without a trailing newline, as sops writes it.
//!
//! Secret keys are held only while the [`Identities`] that loaded them live (one decryption); the
//! key material rPGP parses is wiped when it is dropped. Messages name key files, fingerprints
//! and key ids, never key material or a data key.

mod gnupg;

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pgp::composed::{
    ArmorOptions, DecryptionOptions, Deserializable, Esk, Message, MessageBuilder, SignedPublicKey,
    SignedPublicSubKey, SignedSecretKey, TheRing,
};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{KeyFlags, PublicKeyEncryptedSessionKey, Signature, SignatureType};
use pgp::types::{KeyDetails, Timestamp};
use zeroize::Zeroizing;

use gnupg::EXEC_ENV;

use super::DecryptionError;
use super::keys::{Identities, RecipientError};
use super::master_key::{KeyFailure, Payload, PgpKey};
use crate::bounded_read::ReadError;

/// The variable naming a PGP key file, read with the age key sources.
pub(crate) const KEY_FILE_ENV: &str = "SECRET_CASCADE_PGP_KEY_FILE";

/// A key file larger than this is refused; a secret RSA-4096 key is about 7 KiB armored.
const MAX_KEY_FILE_BYTES: u64 = 4 << 20;
/// An `enc` longer than this is not a wrapped data key.
const MAX_ENC_BYTES: usize = 64 << 10;
/// A decrypted payload longer than this is not a data key (32 bytes) or share (33).
const MAX_PAYLOAD_BYTES: u64 = 1024;

/// Why a PGP key file cannot be used. Messages name the file, never a key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PgpKeyError {
    /// The file could not be read.
    Read {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: ReadError,
    },
    /// A key block of the file is not a valid OpenPGP key.
    Malformed {
        /// The key file.
        path: PathBuf,
        /// rPGP's reason.
        source: Arc<pgp::errors::Error>,
    },
    /// The file holds no secret key.
    NoSecretKey {
        /// The key file.
        path: PathBuf,
    },
}

impl fmt::Display for PgpKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => {
                write!(
                    f,
                    "cannot read the PGP key file {}: {source}",
                    path.display()
                )
            }
            Self::Malformed { path, source } => write!(
                f,
                "the PGP key file {} holds a malformed key: {source}",
                path.display()
            ),
            Self::NoSecretKey { path } => write!(
                f,
                "the PGP key file {} holds no secret key (expected the output of \
                 `gpg --armor --export-secret-keys FINGERPRINT`)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for PgpKeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::Malformed { source, .. } => Some(&**source),
            Self::NoSecretKey { .. } => None,
        }
    }
}

impl From<PgpKeyError> for DecryptionError {
    fn from(error: PgpKeyError) -> Self {
        Self::PgpKeys(error)
    }
}

/// The PGP secret keys loaded natively, each with the file it came from. No `Debug`: it holds
/// secret keys.
#[derive(Default)]
pub(crate) struct PgpKeys {
    keys: Vec<(SignedSecretKey, PathBuf)>,
}

impl PgpKeys {
    /// Loads the secret keys of a key file (armored or binary).
    pub(crate) fn add_key_file(&mut self, path: &Path) -> Result<(), DecryptionError> {
        let file = KeyFile::read(path)?;
        if file.secret.is_empty() {
            return Err(PgpKeyError::NoSecretKey {
                path: path.to_path_buf(),
            }
            .into());
        }
        self.keys
            .extend(file.secret.into_iter().map(|k| (k, path.to_path_buf())));
        Ok(())
    }

    /// The fingerprints (upper-case hex) of the primary keys loaded, for messages: public
    /// knowledge, never key material.
    pub(crate) fn fingerprints(&self) -> Vec<String> {
        let mut fingerprints: Vec<String> = self
            .keys
            .iter()
            .map(|(key, _)| format!("{:X}", key.fingerprint()))
            .collect();
        fingerprints.dedup();
        fingerprints
    }

    /// Where PGP keys are looked for besides the key files: the user's GnuPG, for messages.
    pub(crate) fn gnupg_source(&self) -> String {
        gnupg::describe()
    }
}

/// The keys of one key file.
struct KeyFile {
    secret: Vec<SignedSecretKey>,
    public: Vec<SignedPublicKey>,
}

impl KeyFile {
    fn read(path: &Path) -> Result<Self, PgpKeyError> {
        let bytes = crate::bounded_read::file(path, MAX_KEY_FILE_BYTES).map_err(|source| {
            PgpKeyError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Self::parse(&bytes).map_err(|e| PgpKeyError::Malformed {
            path: path.to_path_buf(),
            source: Arc::new(e),
        })
    }

    /// Every armored key block in `bytes` (several exports may be concatenated), or binary
    /// secret keys when there is no armor.
    fn parse(bytes: &[u8]) -> pgp::errors::Result<Self> {
        const SECRET: &str = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
        const PUBLIC: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
        let mut found = Self {
            secret: Vec::new(),
            public: Vec::new(),
        };
        let text = std::str::from_utf8(bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN PGP "));
        let Some(text) = text else {
            for key in SignedSecretKey::from_bytes_many(bytes)? {
                found.secret.push(key?);
            }
            return Ok(found);
        };
        let mut rest = text;
        while let Some(start) = rest.find("-----BEGIN PGP ") {
            let block = &rest[start..];
            // The block ends with the line of its END marker (or with the text).
            let end_line = block.find("-----END PGP ").unwrap_or(block.len());
            let end = block[end_line..]
                .find('\n')
                .map_or(block.len(), |n| end_line + n + 1);
            let (armored, after) = block.split_at(end);
            if armored.starts_with(SECRET) {
                let (keys, _) = SignedSecretKey::from_armor_many(armored.as_bytes())?;
                for key in keys {
                    found.secret.push(key?);
                }
            } else if armored.starts_with(PUBLIC) {
                let (keys, _) = SignedPublicKey::from_armor_many(armored.as_bytes())?;
                for key in keys {
                    found.public.push(key?);
                }
            }
            rest = after;
        }
        Ok(found)
    }
}

/// Opens a `pgp` entry's data key with the loaded secret keys, else through GnuPG.
pub(crate) fn unwrap(key: &PgpKey, identities: &Identities) -> Result<Option<Payload>, KeyFailure> {
    if key.enc.len() > MAX_ENC_BYTES {
        return Err(KeyFailure(format!(
            "enc has {} bytes, more than a wrapped data key can need",
            key.enc.len()
        )));
    }
    let keys = &identities.pgp.keys;
    // A native failure (a message rPGP cannot read, a tampered one) still lets GnuPG try: it
    // reports it only if GnuPG does not open the entry either.
    let (locked, native_failure) = match keys.is_empty() {
        true => (Vec::new(), None),
        false => match open(&key.enc, keys) {
            Ok(Native::Opened(payload)) => return Ok(Some(payload)),
            Ok(Native::Locked(names)) => (names, None),
            Ok(Native::NoKey) => (Vec::new(), None),
            Err(failure) => (Vec::new(), Some(failure)),
        },
    };
    let from_gnupg = match gnupg::GnuPg::find()? {
        Some(gpg) => gpg.decrypt(&key.enc),
        None => Ok(None),
    };
    match (from_gnupg, native_failure) {
        (Ok(Some(payload)), _) => Ok(Some(payload)),
        (Ok(None), Some(native)) => Err(native),
        (Err(gpg), Some(native)) => Err(KeyFailure(format!("{native}; {gpg}"))),
        (Err(gpg), None) => Err(gpg),
        (Ok(None), None) if !locked.is_empty() => Err(KeyFailure(format!(
            "the secret key {} is protected by a passphrase, which secret-cascade does not ask \
             for, and GnuPG did not open the entry: import the key into GnuPG \
             (`gpg --import FILE`), whose agent asks for the passphrase, or export it without \
             one",
            locked.join(", ")
        ))),
        (Ok(None), None) => Ok(None),
    }
}

/// What the loaded keys did with a message.
enum Native {
    Opened(Payload),
    /// Only passphrase-protected keys (named with their files) are among its recipients.
    Locked(Vec<String>),
    NoKey,
}

/// Decrypts the armored message `enc` with whichever of `keys` it is encrypted to.
fn open(enc: &str, keys: &[(SignedSecretKey, PathBuf)]) -> Result<Native, KeyFailure> {
    let failed = |what: &str, e: &dyn fmt::Display| KeyFailure(format!("{what}: {e}"));
    let (message, _) = Message::from_armor(enc.as_bytes())
        .map_err(|e| failed("enc is not an armored OpenPGP message", &e))?;
    let Message::Encrypted { esk, .. } = &message else {
        return Err(KeyFailure("enc is not an encrypted OpenPGP message".into()));
    };
    let recipients: Vec<&PublicKeyEncryptedSessionKey> = esk
        .iter()
        .filter_map(|e| match e {
            Esk::PublicKeyEncryptedSessionKey(k) => Some(k),
            Esk::SymKeyEncryptedSessionKey(_) => None,
        })
        .collect();
    let mut usable = Vec::new();
    let mut locked = Vec::new();
    for (key, path) in keys {
        let components = std::iter::once((
            key.primary_key.fingerprint(),
            key.primary_key.legacy_key_id(),
            key.primary_key.secret_params().is_encrypted(),
        ))
        .chain(key.secret_subkeys.iter().map(|s| {
            (
                s.key.fingerprint(),
                s.key.legacy_key_id(),
                s.key.secret_params().is_encrypted(),
            )
        }));
        for (fingerprint, id, is_locked) in components {
            if !recipients.iter().any(|r| matches_id(r, &fingerprint, &id)) {
                continue;
            }
            if is_locked {
                locked.push(format!("{fingerprint:X} (in {})", path.display()));
            } else if !usable
                .iter()
                .any(|k: &&SignedSecretKey| std::ptr::eq(*k, key))
            {
                usable.push(key);
            }
        }
    }
    if usable.is_empty() {
        return Ok(if locked.is_empty() {
            Native::NoKey
        } else {
            Native::Locked(locked)
        });
    }
    let ring = TheRing {
        secret_keys: usable,
        // GnuPG 2.3+ writes its own AEAD packet (OCB) for keys that announce AEAD support.
        decrypt_options: DecryptionOptions::new().enable_gnupg_aead(),
        ..TheRing::default()
    };
    let (mut plain, _) = message.decrypt_the_ring(ring, true).map_err(|e| {
        failed(
            "the message does not decrypt with the matching secret key",
            &e,
        )
    })?;
    if plain.is_compressed() {
        plain = plain
            .decompress()
            .map_err(|e| failed("the decrypted message does not decompress", &e))?;
    }
    let mut payload = Zeroizing::new(Vec::with_capacity(64));
    (&mut plain)
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut payload)
        .map_err(|e| failed("the decrypted message is corrupt", &e))?;
    if payload.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(KeyFailure(format!(
            "the decrypted message is longer than {MAX_PAYLOAD_BYTES} bytes: not a data key"
        )));
    }
    Ok(Native::Opened(payload))
}

/// Whether a recipient of a message is this key (or a wildcard recipient, which any key may be).
fn matches_id(
    recipient: &PublicKeyEncryptedSessionKey,
    fingerprint: &pgp::types::Fingerprint,
    id: &pgp::types::KeyId,
) -> bool {
    match (recipient.id(), recipient.fingerprint()) {
        (Ok(wanted), _) => wanted.is_wildcard() || wanted == id,
        (_, Ok(Some(wanted))) => wanted == fingerprint,
        (_, Ok(None)) => true,
        _ => false,
    }
}

/// Encrypts `payload` to the PGP key with this fingerprint, ASCII-armored as sops stores it.
pub(crate) fn wrap(payload: &[u8], fingerprint: &str) -> Result<String, RecipientError> {
    let fingerprint = fingerprint.replace(' ', "");
    let fingerprint = fingerprint.as_str();
    let unusable = |reason: String| RecipientError::unusable(fingerprint, reason);
    let mut tried = Vec::new();
    if let Some(path) = std::env::var_os(KEY_FILE_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        let file = KeyFile::read(&path).map_err(|e| unusable(e.to_string()))?;
        let public = file.secret.iter().map(SignedSecretKey::to_public_key);
        let public: Vec<SignedPublicKey> = public.chain(file.public).collect();
        match encrypt_natively(payload, fingerprint, &public) {
            Ok(Some(armored)) => return Ok(armored),
            Ok(None) => tried.push(format!("not in {KEY_FILE_ENV} ({})", path.display())),
            Err(reason) => tried.push(format!("{} ({reason})", path.display())),
        }
    }
    let Some(gpg) = gnupg::GnuPg::find().map_err(|e| unusable(e.0))? else {
        tried.push(format!(
            "GnuPG not used: no gpg on PATH and {EXEC_ENV} is not set"
        ));
        return Err(unusable(format!(
            "no public key found: {}",
            tried.join("; ")
        )));
    };
    let exported = gpg.export(fingerprint).map_err(|e| unusable(e.0))?;
    if let Some(bytes) = exported {
        let mut public = Vec::new();
        if let Ok(keys) = SignedPublicKey::from_bytes_many(bytes.as_slice()) {
            public.extend(keys.flatten());
        }
        if let Ok(Some(armored)) = encrypt_natively(payload, fingerprint, &public) {
            return Ok(armored);
        }
    }
    // As sops: gpg encrypts, and says why not if it cannot (an unknown, expired or revoked key).
    gpg.encrypt(payload, fingerprint).map_err(|e| unusable(e.0))
}

/// Encrypts to the key of `keys` named by `fingerprint`: `Ok(None)` if none is, `Err` if it has
/// no usable encryption key (revoked, expired, no encryption subkey) or encryption failed.
fn encrypt_natively(
    payload: &[u8],
    fingerprint: &str,
    keys: &[SignedPublicKey],
) -> Result<Option<String>, String> {
    let wanted = fingerprint.trim_end_matches('!').replace(' ', "");
    let names = |fp: &pgp::types::Fingerprint, id: &pgp::types::KeyId| {
        let id: String = id.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        wanted.eq_ignore_ascii_case(&format!("{fp:X}")) || wanted.eq_ignore_ascii_case(&id)
    };
    let now = SystemTime::now();
    for key in keys {
        let primary = &key.primary_key;
        let chosen_subkey = key
            .public_subkeys
            .iter()
            .find(|s| names(&s.key.fingerprint(), &s.key.legacy_key_id()));
        let primary_named = names(&primary.fingerprint(), &primary.legacy_key_id());
        if chosen_subkey.is_none() && !primary_named {
            continue;
        }
        if !key.details.revocation_signatures.is_empty() {
            return Err("the key is revoked".into());
        }
        if let Some(expiry) = newest(key.details.users.iter().flat_map(|u| &u.signatures))
            .and_then(Signature::key_expiration_time)
            && expired(primary.created_at(), expiry.into(), now)
        {
            return Err("the key has expired".into());
        }
        let subkey = match chosen_subkey {
            Some(subkey) => Some(subkey).filter(|s| usable_subkey(key, s, now)),
            None => key
                .public_subkeys
                .iter()
                .filter(|s| usable_subkey(key, s, now))
                .max_by_key(|s| s.key.created_at().as_secs()),
        };
        let mut rng = rand::rngs::OsRng;
        let mut builder = MessageBuilder::from_bytes("", payload.to_vec())
            .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
        let added = match subkey {
            Some(subkey) => builder.encrypt_to_key(&mut rng, subkey),
            None if chosen_subkey.is_none() && primary_can_encrypt(key) => {
                builder.encrypt_to_key(&mut rng, key)
            }
            None => return Err("the key has no usable encryption subkey".into()),
        };
        added.map_err(|e| format!("cannot encrypt to it: {e}"))?;
        let armored = builder
            .to_armored_string(rng, ArmorOptions::default())
            .map_err(|e| format!("cannot encrypt to it: {e}"))?;
        return Ok(Some(armored.trim_end().to_owned()));
    }
    Ok(None)
}

/// The most recently created of `signatures`.
fn newest<'a>(signatures: impl Iterator<Item = &'a Signature>) -> Option<&'a Signature> {
    signatures.max_by_key(|s| s.created().map_or(0, Timestamp::as_secs))
}

/// Whether a key created at `created` with this validity period has expired by `now`.
fn expired(created: Timestamp, validity: Duration, now: SystemTime) -> bool {
    !validity.is_zero() && SystemTime::from(created) + validity <= now
}

/// A subkey bound to `key` (its binding signature verified), not revoked, not expired, and
/// flagged for encryption by its newest binding.
fn usable_subkey(key: &SignedPublicKey, subkey: &SignedPublicSubKey, now: SystemTime) -> bool {
    let revoked = subkey
        .signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation));
    let Some(binding) = newest(
        subkey
            .signatures
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding)),
    ) else {
        return false;
    };
    let subkey_expired = binding
        .key_expiration_time()
        .is_some_and(|v| expired(subkey.key.created_at(), v.into(), now));
    !revoked
        && !subkey_expired
        && can_encrypt(binding.key_flags())
        && subkey.verify_bindings(&key.primary_key).is_ok()
}

/// Whether the primary key's newest self-signature flags it for encryption (a key without
/// subkeys, `[SCEA]`).
fn primary_can_encrypt(key: &SignedPublicKey) -> bool {
    newest(key.details.users.iter().flat_map(|u| &u.signatures))
        .is_some_and(|s| can_encrypt(s.key_flags()))
}

fn can_encrypt(flags: KeyFlags) -> bool {
    flags.encrypt_comms() || flags.encrypt_storage()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two keys of the sops repository's functional tests (RSA with encryption subkeys).
    fn sops_test_keys() -> Vec<(SignedSecretKey, PathBuf)> {
        let bytes =
            include_bytes!("../../fixtures/sops/pgp/getsops-sops/sops_functional_tests_key.asc");
        let file = KeyFile::parse(bytes).unwrap();
        assert_eq!(file.secret.len(), 2);
        let path = PathBuf::from("sops_functional_tests_key.asc");
        file.secret.into_iter().map(|k| (k, path.clone())).collect()
    }

    const KEY1: &str = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
    const KEY1_SUBKEY: &str = "71D962851765394F76DB9CFC25294A17CD90507F";
    const KEY2: &str = "D7229043384BCC60326C6FB9D8720D957C3D3074";

    fn opened(enc: &str, keys: &[(SignedSecretKey, PathBuf)]) -> Option<Vec<u8>> {
        match open(enc, keys).unwrap() {
            Native::Opened(payload) => Some(payload.to_vec()),
            Native::NoKey => None,
            Native::Locked(_) => panic!("the fixture keys have no passphrase"),
        }
    }

    #[test]
    fn a_wrapped_payload_opens_with_its_key_only() {
        let keys = sops_test_keys();
        let public: Vec<SignedPublicKey> = keys.iter().map(|(k, _)| k.to_public_key()).collect();
        let payload: Vec<u8> = (0..32).collect();
        for named in [
            KEY1,
            KEY1_SUBKEY,
            "3D16CEE4A27381B4",
            "fbc7b9e2a4f9289ac0c1d4843d16cee4a27381b4",
        ] {
            let armored = encrypt_natively(&payload, named, &public).unwrap().unwrap();
            assert!(
                armored.starts_with("-----BEGIN PGP MESSAGE-----\n"),
                "{armored}"
            );
            assert!(armored.ends_with("-----END PGP MESSAGE-----"), "{armored}");
            assert_eq!(opened(&armored, &keys), Some(payload.clone()), "{named}");
            assert_eq!(opened(&armored, &keys[1..]), None, "{named}: not for KEY2");
        }
        let to_key2 = encrypt_natively(&payload, KEY2, &public).unwrap().unwrap();
        assert_eq!(opened(&to_key2, &keys[1..]), Some(payload.clone()));
        assert_eq!(
            encrypt_natively(&payload, "0123456789ABCDEF", &public).unwrap(),
            None
        );
    }

    #[test]
    fn a_tampered_or_foreign_enc_is_a_failure_not_a_miss() {
        let keys = sops_test_keys();
        let public: Vec<SignedPublicKey> = keys.iter().map(|(k, _)| k.to_public_key()).collect();
        let armored = encrypt_natively(&[7; 32], KEY1, &public).unwrap().unwrap();
        let mut lines: Vec<String> = armored.lines().map(str::to_owned).collect();
        // The last line of data before the checksum: the encrypted data packet.
        let at = lines.len() - 3;
        let first = if lines[at].starts_with('A') { "B" } else { "A" };
        lines[at].replace_range(..1, first);
        let tampered = lines.join("\n");
        let Err(failure) = open(&tampered, &keys) else {
            panic!("a tampered message must fail");
        };
        assert!(!failure.0.contains("0707"), "{failure}");
        let Err(failure) = open("-----BEGIN AGE ENCRYPTED FILE-----\n", &keys) else {
            panic!("not a PGP message");
        };
        assert!(
            failure
                .0
                .starts_with("enc is not an armored OpenPGP message"),
            "{failure}"
        );
    }

    #[test]
    fn concatenated_exports_all_count_and_public_blocks_only_encrypt() {
        let keys = sops_test_keys();
        let public = keys[0].0.to_public_key();
        let public = public.to_armored_string(ArmorOptions::default()).unwrap();
        let secret =
            include_str!("../../fixtures/sops/pgp/getsops-sops/sops_functional_tests_key.asc");
        let text = format!("# two exports\n{public}\n{secret}");
        let file = KeyFile::parse(text.as_bytes()).unwrap();
        // The sops file itself is five blocks: two secret keys, then three public ones.
        assert_eq!((file.secret.len(), file.public.len()), (2, 4));
        let payload = [5u8; 33];
        let armored = encrypt_natively(&payload, KEY1, &file.public)
            .unwrap()
            .unwrap();
        assert_eq!(opened(&armored, &keys).as_deref(), Some(&payload[..]));
    }

    #[test]
    fn an_empty_key_file_text_holds_no_key() {
        let parsed = KeyFile::parse(b"# nothing here\n-----BEGIN PGP SIGNATURE-----\n").unwrap();
        assert!(parsed.secret.is_empty() && parsed.public.is_empty());
    }

    #[test]
    fn a_malformed_key_block_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.asc");
        std::fs::write(
            &path,
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nbm90IGEga2V5\n=AAAA\n-----END PGP PRIVATE KEY BLOCK-----\n",
        )
        .unwrap();
        let mut keys = PgpKeys::default();
        let error = keys.add_key_file(&path).expect_err("malformed");
        let text = error.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.starts_with("cannot load PGP keys: "), "{text}");
    }

    #[test]
    fn expiry_counts_from_creation_and_zero_means_never() {
        let created = Timestamp::from_secs(1_000);
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert!(!expired(created, Duration::ZERO, at(10_000)));
        assert!(!expired(created, Duration::from_secs(100), at(1_099)));
        assert!(expired(created, Duration::from_secs(100), at(1_100)));
    }
}
