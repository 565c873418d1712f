//! Encrypted values: `ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]` (SOPS_FORMAT.md §5).

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U32;
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::tree::{Kind, Leaf};

/// AES-256-GCM with sops's 32-byte IV.
type SopsGcm = AesGcm<Aes256, U32>;

/// The data key, ready to decrypt values. The AES key schedule inside is wiped on drop by the
/// `aes` crate's `zeroize` support; the raw key bytes are held by the caller in a zeroizing buffer.
pub(crate) struct DataKey {
    cipher: SopsGcm,
}

/// Why an encrypted value could not be read, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// Not of the `ENC[AES256_GCM,...]` form; the text says what is wrong.
    Syntax(&'static str),
    /// The tag did not verify: wrong key, wrong place (AAD) or modified ciphertext.
    Authentication,
}

impl DataKey {
    /// `key` must be 32 bytes.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        SopsGcm::new_from_slice(key)
            .ok()
            .map(|cipher| Self { cipher })
    }

    /// Decrypts one `ENC[...]` value with `aad` (the key path, or `lastmodified` for the MAC).
    pub(crate) fn decrypt(&self, value: &[u8], aad: &[u8]) -> Result<Leaf, ValueError> {
        let mut bytes = Zeroizing::new(value.to_vec());
        let kind = self.decrypt_in_place(&mut bytes, aad)?;
        Ok(Leaf { kind, bytes })
    }

    /// Decrypts the `ENC[...]` value in `value` into the same buffer and returns its type: the
    /// plaintext takes the place of the text, so that opening a value allocates nothing and the
    /// buffer that was already wiped on drop now holds the plaintext. After an error the buffer
    /// holds no plaintext (AES-GCM checks the tag before it decrypts).
    pub(crate) fn decrypt_in_place(
        &self,
        value: &mut Zeroizing<Vec<u8>>,
        aad: &[u8],
    ) -> Result<Kind, ValueError> {
        let parts = EncryptedValue::parse(value)?;
        let iv: [u8; 32] = decode_exact(parts.iv, "iv is not valid base64", "iv is not 32 bytes")?;
        let tag: [u8; 16] =
            decode_exact(parts.tag, "tag is not valid base64", "tag is not 16 bytes")?;
        let kind = parts.kind;
        // The data's base64 (ciphertext, nothing to wipe) is copied aside, on the stack when it
        // is short, since it is decoded into the buffer it is read from.
        let mut inline = [0u8; INLINE_DATA];
        let spilled: Vec<u8>;
        let encoded: &[u8] = match inline.get_mut(..parts.data.len()) {
            Some(copy) => {
                copy.copy_from_slice(parts.data);
                copy
            }
            None => {
                spilled = parts.data.to_vec();
                &spilled
            }
        };
        let length = STANDARD
            .decode_slice(encoded, value.as_mut_slice())
            .map_err(|_| ValueError::Syntax("data is not valid base64"))?;
        value.truncate(length);
        let (nonce, tag) = (
            Nonce::<U32>::from(iv),
            Tag::<aes_gcm::aead::consts::U16>::from(tag),
        );
        self.cipher
            .decrypt_inout_detached(&nonce, aad, value.as_mut_slice().into(), &tag)
            .map_err(|_| ValueError::Authentication)?;
        Ok(kind)
    }
}

/// The longest data field decoded from a copy on the stack (most values are short); longer ones
/// are copied to the heap. Small, because the copy's buffer is zeroed on every call.
const INLINE_DATA: usize = 512;

impl DataKey {
    /// Encrypts one value's bytes (`ToBytes`, SOPS_FORMAT.md §5) under `aad` with a fresh random
    /// 32-byte IV, as `ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]`.
    pub(crate) fn encrypt(&self, kind: Kind, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut iv = [0u8; 32];
        fill_random(&mut iv);
        let mut buffer = Zeroizing::new(plaintext.to_vec());
        let tag = self
            .cipher
            .encrypt_inout_detached(&Nonce::<U32>::from(iv), aad, buffer.as_mut_slice().into())
            .expect("AES-GCM encrypts any value below 64 GiB");
        let mut out = Vec::with_capacity(plaintext.len() * 4 / 3 + 120);
        out.extend_from_slice(b"ENC[AES256_GCM,data:");
        out.extend_from_slice(STANDARD.encode(buffer.as_slice()).as_bytes());
        out.extend_from_slice(b",iv:");
        out.extend_from_slice(STANDARD.encode(iv).as_bytes());
        out.extend_from_slice(b",tag:");
        out.extend_from_slice(STANDARD.encode(tag).as_bytes());
        out.extend_from_slice(b",type:");
        out.extend_from_slice(kind.as_str().as_bytes());
        out.push(b']');
        out
    }
}

/// Fills `buffer` from the operating system's CSPRNG. Without one nothing can be encrypted safely,
/// so its absence is a panic rather than an error every caller would have to carry.
pub(crate) fn fill_random(buffer: &mut [u8]) {
    getrandom::fill(buffer).expect("the operating system's random number generator failed");
}

/// A fresh random 32-byte data key.
pub(crate) fn new_data_key() -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(vec![0u8; 32]);
    fill_random(&mut key);
    key
}

/// Whether a scalar is an encrypted value (starts with `ENC[AES256_GCM,`).
pub(crate) fn is_encrypted(value: &[u8]) -> bool {
    value.starts_with(b"ENC[AES256_GCM,")
}

struct EncryptedValue<'a> {
    data: &'a [u8],
    iv: &'a [u8],
    tag: &'a [u8],
    kind: Kind,
}

impl<'a> EncryptedValue<'a> {
    /// The fields in their fixed order.
    fn parse(value: &'a [u8]) -> Result<Self, ValueError> {
        let inner = value
            .strip_prefix(b"ENC[AES256_GCM,")
            .and_then(|rest| rest.strip_suffix(b"]"))
            .ok_or(ValueError::Syntax("not of the form ENC[AES256_GCM,...]"))?;
        let mut fields = inner.split(|&b| b == b',');
        let mut field = |name: &'static [u8], missing: &'static str| {
            fields
                .next()
                .and_then(|f| f.strip_prefix(name))
                .ok_or(ValueError::Syntax(missing))
        };
        let data = field(b"data:", "the data field is missing")?;
        let iv = field(b"iv:", "the iv field is missing")?;
        let tag = field(b"tag:", "the tag field is missing")?;
        let kind = field(b"type:", "the type field is missing")?;
        if fields.next().is_some() {
            return Err(ValueError::Syntax("it has fields after type"));
        }
        let kind = std::str::from_utf8(kind)
            .ok()
            .and_then(|word| word.parse::<Kind>().ok())
            .ok_or(ValueError::Syntax(
                "unknown type (expected str, int, float, bool or time)",
            ))?;
        Ok(Self {
            data,
            iv,
            tag,
            kind,
        })
    }
}

/// Decodes a field of a fixed size on the stack: one allocation less per field and value.
fn decode_exact<const N: usize>(
    field: &[u8],
    invalid: &'static str,
    wrong_size: &'static str,
) -> Result<[u8; N], ValueError> {
    let mut buffer = [0u8; 64];
    if field.len() > 84 {
        return Err(ValueError::Syntax(wrong_size));
    }
    let length = STANDARD
        .decode_slice(field, &mut buffer)
        .map_err(|_| ValueError::Syntax(invalid))?;
    buffer[..length]
        .try_into()
        .map_err(|_| ValueError::Syntax(wrong_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOPS_FORMAT.md §9: the data key of simple.yaml and its `hello` value.
    const KEY: &str = "983c2d76d5e710609bd89341f10d986d43cdde9bc8ef9346eae0f272c18be707";
    const HELLO: &[u8] = b"ENC[AES256_GCM,data:pseNwMg=,iv:q86uMZcrYSmZEsysL5wzEyb8ryfQmhKg5vN5tvmLsPM=,tag:jqWJZb/q8WifIzhecBcDMg==,type:str]";

    fn key() -> DataKey {
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&KEY[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        DataKey::new(&bytes).unwrap()
    }

    #[test]
    fn decrypts_the_worked_example() {
        let leaf = key().decrypt(HELLO, b"hello:").unwrap();
        assert_eq!(
            (leaf.kind, leaf.bytes.as_slice()),
            (Kind::Str, &b"world"[..])
        );
    }

    #[test]
    fn encrypted_values_decrypt_with_their_aad_only() {
        let key = key();
        for (kind, plaintext) in [
            (Kind::Str, &b"world"[..]),
            (Kind::Int, b"3"),
            (Kind::Str, b""),
        ] {
            let value = key.encrypt(kind, plaintext, b"a:b:");
            let leaf = key.decrypt(&value, b"a:b:").unwrap();
            assert_eq!((leaf.kind, leaf.bytes.as_slice()), (kind, plaintext));
            assert_eq!(
                key.decrypt(&value, b"a:").err(),
                Some(ValueError::Authentication)
            );
        }
        assert_ne!(
            key.encrypt(Kind::Str, b"x", b":"),
            key.encrypt(Kind::Str, b"x", b":")
        );
    }

    #[test]
    fn a_wrong_aad_fails_authentication() {
        assert_eq!(
            key().decrypt(HELLO, b"hello").err(),
            Some(ValueError::Authentication)
        );
    }

    #[test]
    fn malformed_values_are_syntax_errors() {
        let cases: &[&[u8]] = &[
            b"ENC[AES256_GCM,data:pseNwMg=,iv:q86u,tag:jqWJZb/q8WifIzhecBcDMg==,type:str]",
            b"ENC[AES256_GCM,data:!!!,iv:q86uMZcrYSmZEsysL5wzEyb8ryfQmhKg5vN5tvmLsPM=,tag:jqWJZb/q8WifIzhecBcDMg==,type:str]",
            b"ENC[AES256_GCM,data:pseNwMg=,iv:q86uMZcrYSmZEsysL5wzEyb8ryfQmhKg5vN5tvmLsPM=,tag:jqWJZb/q8WifIzhecBcDMg==,type:blob]",
            b"ENC[AES256_GCM,data:pseNwMg=,tag:jqWJZb/q8WifIzhecBcDMg==,type:str]",
            b"ENC[AES256_GCM,data:pseNwMg=",
        ];
        for case in cases {
            assert!(matches!(
                key().decrypt(case, b"hello:"),
                Err(ValueError::Syntax(_))
            ));
        }
    }
}
