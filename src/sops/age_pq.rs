//! age's post-quantum keys: `age1pq1...` recipients and `AGE-SECRET-KEY-PQ-1...` identities, as
//! age 1.3 (Go `filippo.io/age`, `pq.go`) and sops built on it read and write them.
//!
//! A recipient is the Bech32 (HRP `age1pq`) of an X-Wing (MLKEM768-X25519) public key, 1216
//! bytes, longer than Bech32's usual 90-character limit; an identity is the Bech32 (HRP
//! `AGE-SECRET-KEY-PQ-`, printed upper-case) of the 32-byte X-Wing seed. The file key is sealed
//! with HPKE in base mode (X-Wing, HKDF-SHA256, ChaCha20-Poly1305, `info` =
//! `age-encryption.org/mlkem768x25519`, empty AAD) into the stanza
//! `-> mlkem768x25519 <enc>` whose body is the 32-byte sealed key. Recipients carry the label
//! `postquantum`, so age refuses to put them in one header with classic X25519 recipients.
//! X-Wing rejects implicitly: a stanza for another key decapsulates to a wrong secret and fails
//! only when the body is opened, which is "not this identity".

use std::collections::HashSet;
use std::fmt;

use age::{DecryptError, EncryptError};
use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use bech32::primitives::checksum::Checksum;
use bech32::{Bech32, Hrp};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use super::xwing::XWing;

/// The stanza's tag.
const STANZA_TAG: &str = "mlkem768x25519";
/// HPKE's `info`.
const INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
/// The label that keeps post-quantum recipients apart from classic ones.
const LABEL: &str = "postquantum";
const RECIPIENT_HRP: &str = "age1pq";
const IDENTITY_HRP: &str = "AGE-SECRET-KEY-PQ-";
/// The sealed file key: 16 bytes and a 16-byte tag.
const BODY_BYTES: usize = FILE_KEY_BYTES + 16;
const SEED_BYTES: usize = 32;

type PrivateKey = <XWing as Kem>::PrivateKey;
type PublicKey = <XWing as Kem>::PublicKey;
type EncappedKey = <XWing as Kem>::EncappedKey;

/// A post-quantum age identity (`AGE-SECRET-KEY-PQ-1...`). No `Debug`: it is a private key.
pub(crate) struct Identity {
    key: PrivateKey,
}

/// A post-quantum age recipient (`age1pq1...`).
#[derive(Clone)]
pub(crate) struct Recipient {
    key: PublicKey,
}

/// Why a post-quantum key does not parse. Names no key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Not Bech32, or not this kind's prefix.
    Encoding,
    /// The right prefix but not an X-Wing key.
    Key,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Encoding => "not a Bech32 post-quantum age key",
            Self::Key => "not a valid MLKEM768-X25519 key",
        })
    }
}

impl Identity {
    /// Parses `AGE-SECRET-KEY-PQ-1...` (upper or lower case).
    pub(crate) fn parse(text: &str) -> Result<Self, ParseError> {
        let seed = Zeroizing::new(decode(text, IDENTITY_HRP)?);
        if seed.len() != SEED_BYTES {
            return Err(ParseError::Key);
        }
        let key = PrivateKey::from_bytes(&seed).map_err(|_| ParseError::Key)?;
        Ok(Self { key })
    }

    /// A new identity from a random seed.
    #[cfg(test)]
    pub(crate) fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; SEED_BYTES]);
        super::cipher::fill_random(seed.as_mut_slice());
        Self {
            key: PrivateKey::from_bytes(seed.as_slice()).expect("any 32 bytes are an X-Wing seed"),
        }
    }

    /// The recipient this identity opens.
    pub(crate) fn to_public(&self) -> Recipient {
        Recipient {
            key: XWing::sk_to_pk(&self.key),
        }
    }

    /// The identity in its key-file form, upper-case. It is a private key: the only way to it.
    #[cfg(test)]
    pub(crate) fn to_secret_string(&self) -> Zeroizing<String> {
        use zeroize::Zeroize;
        let mut seed = self.key.to_bytes();
        let text = Zeroizing::new(encode(IDENTITY_HRP, &seed).to_uppercase());
        seed.zeroize();
        text
    }

    /// `Some(Ok)` with the file key, `Some(Err)` for a malformed stanza of this kind, `None` for
    /// another kind or another key.
    fn unwrap(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        let [enc] = stanza.args.as_slice() else {
            return Some(Err(DecryptError::InvalidHeader));
        };
        if stanza.body.len() != BODY_BYTES {
            return Some(Err(DecryptError::InvalidHeader));
        }
        let Some(encapped) = STANDARD_NO_PAD
            .decode(enc)
            .ok()
            .and_then(|bytes| EncappedKey::from_bytes(&bytes).ok())
        else {
            return Some(Err(DecryptError::InvalidHeader));
        };
        let mut context = match hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, XWing>(
            &OpModeR::Base,
            &self.key,
            &encapped,
            INFO,
        ) {
            Ok(context) => context,
            Err(_) => return Some(Err(DecryptError::InvalidHeader)),
        };
        // A failure to open is a stanza for another key (implicit rejection).
        let opened = Zeroizing::new(context.open(&stanza.body, b"").ok()?);
        let file_key = <[u8; FILE_KEY_BYTES]>::try_from(opened.as_slice()).ok()?;
        Some(Ok(FileKey::init_with_mut(|key| *key = file_key)))
    }
}

impl age::Identity for Identity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        self.unwrap(stanza)
    }
}

impl Recipient {
    /// Parses `age1pq1...`.
    pub(crate) fn parse(text: &str) -> Result<Self, ParseError> {
        let bytes = decode(text, RECIPIENT_HRP)?;
        let key = PublicKey::from_bytes(&bytes).map_err(|_| ParseError::Key)?;
        Ok(Self { key })
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        let (encapped, mut context) = hpke::setup_sender::<ChaCha20Poly1305, HkdfSha256, XWing, _>(
            &OpModeS::Base,
            &self.key,
            INFO,
            &mut rand::rngs::OsRng,
        )
        .map_err(|e| EncryptError::Io(std::io::Error::other(format!("HPKE: {e}"))))?;
        let body = context
            .seal(file_key.expose_secret(), b"")
            .map_err(|e| EncryptError::Io(std::io::Error::other(format!("HPKE: {e}"))))?;
        let stanza = Stanza {
            tag: STANZA_TAG.to_owned(),
            args: vec![STANDARD_NO_PAD.encode(encapped.to_bytes())],
            body,
        };
        Ok((vec![stanza], HashSet::from([LABEL.to_owned()])))
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(RECIPIENT_HRP, &self.key.to_bytes()))
    }
}

/// Bech32 as age writes it: the BIP-173 checksum without the 90-character limit (age's own
/// codec has none; the checksum's error detection weakens past 1023 characters, which age
/// accepts for keys of known length).
enum AgeBech32 {}

impl Checksum for AgeBech32 {
    type MidstateRepr = <Bech32 as Checksum>::MidstateRepr;
    const CODE_LENGTH: usize = usize::MAX;
    const CHECKSUM_LENGTH: usize = <Bech32 as Checksum>::CHECKSUM_LENGTH;
    const GENERATOR_SH: [Self::MidstateRepr; 5] = <Bech32 as Checksum>::GENERATOR_SH;
    const TARGET_RESIDUE: Self::MidstateRepr = <Bech32 as Checksum>::TARGET_RESIDUE;
}

/// The data of `text` if its HRP is `hrp` (compared without case; mixed case is refused).
fn decode(text: &str, hrp: &str) -> Result<Vec<u8>, ParseError> {
    let checked = bech32::primitives::decode::CheckedHrpstring::new::<AgeBech32>(text.trim())
        .map_err(|_| ParseError::Encoding)?;
    if !checked.hrp().as_str().eq_ignore_ascii_case(hrp) {
        return Err(ParseError::Encoding);
    }
    Ok(checked.byte_iter().collect())
}

fn encode(hrp: &str, data: &[u8]) -> String {
    let hrp = Hrp::parse_unchecked(hrp);
    bech32::encode_lower::<AgeBech32>(hrp, data).expect("no length limit")
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::{Identity as _, Recipient as _};

    #[test]
    fn a_file_key_wrapped_to_a_recipient_opens_with_its_identity_only() {
        let identity = Identity::generate();
        let recipient = Recipient::parse(&identity.to_public().to_string()).unwrap();
        let file_key = FileKey::init_with_mut(|k| k.copy_from_slice(b"sixteen byte key"));
        let (stanzas, labels) = recipient.wrap_file_key(&file_key).unwrap();
        assert_eq!(labels, HashSet::from(["postquantum".to_owned()]));
        assert_eq!(stanzas[0].tag, "mlkem768x25519");
        assert_eq!(stanzas[0].body.len(), 32);
        let opened = identity.unwrap_stanza(&stanzas[0]).unwrap().unwrap();
        assert_eq!(opened.expose_secret(), b"sixteen byte key");
        assert!(Identity::generate().unwrap_stanza(&stanzas[0]).is_none());
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/age")
            .join(name)
    }

    /// C2SP's age test kit (fixtures/age/README.md): each file's header says what decrypting it
    /// with its identities must give.
    #[test]
    fn cctv_hybrid_vectors() {
        use sha2::{Digest, Sha256};
        use std::io::Read;
        let mut count = 0;
        for entry in std::fs::read_dir(fixture("cctv")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
            let header = std::str::from_utf8(&bytes[..split]).unwrap();
            let file = &bytes[split + 2..];
            let field = |key: &'static str| {
                header
                    .lines()
                    .filter_map(move |l| l.strip_prefix(key)?.strip_prefix(": "))
            };
            let expect = field("expect").next().unwrap();
            let mut identities: Vec<Box<dyn age::Identity>> = Vec::new();
            for text in field("identity") {
                identities.push(match Identity::parse(text) {
                    Ok(identity) => Box::new(identity),
                    Err(_) => Box::new(text.parse::<age::x25519::Identity>().unwrap()),
                });
            }
            let armored = field("armored").next() == Some("yes");
            let result = (|| {
                let reader: Box<dyn Read> = if armored {
                    Box::new(age::armor::ArmoredReader::new(file))
                } else {
                    Box::new(file)
                };
                let decryptor = age::Decryptor::new(reader)?;
                let mut payload = Vec::new();
                decryptor
                    .decrypt(identities.iter().map(|i| &**i))?
                    .read_to_end(&mut payload)
                    .map_err(age::DecryptError::Io)?;
                Ok::<_, age::DecryptError>(payload)
            })();
            match (expect, result) {
                ("success", Ok(payload)) => {
                    let hash: String = Sha256::digest(&payload)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    assert_eq!(Some(hash.as_str()), field("payload").next(), "{name}");
                }
                ("no match", Err(age::DecryptError::NoMatchingKeys)) => {}
                ("header failure", Err(e)) => assert!(
                    !matches!(e, age::DecryptError::NoMatchingKeys),
                    "{name}: {e}"
                ),
                (expect, result) => panic!("{name}: expected {expect}, got {:?}", result.err()),
            }
            count += 1;
        }
        assert_eq!(count, 17, "every vector ran");
    }

    /// The key in Go age's own tests gives the recipient Go age printed for it: the seed
    /// expands to the same X-Wing key.
    #[test]
    fn go_age_key_gives_go_age_recipient() {
        let text = std::fs::read_to_string(fixture("go-age-hybrid-key.txt")).unwrap();
        let public = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap();
        let secret = text.lines().find(|l| l.starts_with("AGE-SECRET")).unwrap();
        let identity = Identity::parse(secret).unwrap();
        assert_eq!(identity.to_public().to_string(), public);
        assert!(Recipient::parse(public).is_ok());
    }

    #[test]
    fn keys_round_trip_through_their_text() {
        let identity = Identity::generate();
        let text = identity.to_secret_string();
        assert!(text.starts_with("AGE-SECRET-KEY-PQ-1"), "prefix");
        let again = Identity::parse(&text).unwrap();
        assert_eq!(
            again.to_public().to_string(),
            identity.to_public().to_string()
        );
        assert!(identity.to_public().to_string().starts_with("age1pq1"));
        assert_eq!(
            Identity::parse("AGE-SECRET-KEY-1XYZ").err(),
            Some(ParseError::Encoding)
        );
    }
}
