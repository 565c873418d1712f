//! The vault file's primitives: Argon2id for the password key (with a floor), XChaCha20-Poly1305
//! for the wrapped data key, the entries and the manifest, and the data key itself.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::error::VaultError;

/// Bytes of an XChaCha20-Poly1305 nonce (random per seal: 192 bits never collide in practice).
pub const NONCE_BYTES: usize = 24;
/// Bytes of a Poly1305 tag.
pub const TAG_BYTES: usize = 16;
/// Bytes of the Argon2id salt.
pub const SALT_BYTES: usize = 16;

/// Argon2id's cost: memory in KiB, passes and lanes. Shown as `m=65536 KiB, t=3, p=4`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory (time cost).
    pub passes: u32,
    /// Lanes (parallelism).
    pub lanes: u32,
}

impl KdfParams {
    /// The floor production code enforces, and the parameters new vaults get: 64 MiB, 3 passes, 4
    /// lanes (RFC 9106's second recommended option, and sv-vault's constants).
    pub const FLOOR: Self = Self {
        memory_kib: 64 * 1024,
        passes: 3,
        lanes: 4,
    };

    /// The most a vault's header may ask for (4 GiB, 64 passes, 64 lanes): a header modified to
    /// ask for terabytes would otherwise abort the program that opens it.
    pub const CEILING: Self = Self {
        memory_kib: 4 * 1024 * 1024,
        passes: 64,
        lanes: 64,
    };

    /// Whether every parameter is at least `floor`'s.
    pub fn at_least(&self, floor: &Self) -> bool {
        self.memory_kib >= floor.memory_kib
            && self.passes >= floor.passes
            && self.lanes >= floor.lanes
    }

    /// Argon2id (version 0x13) of `password` with `salt`, 32 bytes.
    pub(crate) fn derive(
        &self,
        password: &[u8],
        salt: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, String> {
        let params = Params::new(self.memory_kib, self.passes, self.lanes, Some(32))
            .map_err(|e| format!("Argon2id parameters {self} are invalid: {e}"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password, salt, &mut *key)
            .map_err(|e| format!("Argon2id failed: {e}"))?;
        Ok(key)
    }
}

impl fmt::Display for KdfParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "m={} KiB, t={}, p={}",
            self.memory_kib, self.passes, self.lanes
        )
    }
}

impl fmt::Debug for KdfParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A vault's 32-byte data key, wiped on drop. `Debug` never shows it.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random key.
    pub(crate) fn generate() -> Result<Self, VaultError> {
        Ok(Self(Zeroizing::new(random()?)))
    }

    /// The key of these bytes (from the kernel keyring, recovery shares, an unwrap).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let key: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(key)))
    }

    /// The key's bytes, to wrap, split or keep in the kernel keyring.
    pub(crate) fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// A sealed message: its nonce and ciphertext with the tag at the end.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub nonce: [u8; NONCE_BYTES],
    pub ciphertext: Vec<u8>,
}

/// Encrypts `plaintext` under `key` with `aad`, under a fresh random nonce.
pub(crate) fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Sealed, VaultError> {
    let nonce = random::<NONCE_BYTES>()?;
    let ciphertext = XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Only a message longer than 256 GiB fails; none is.
        .map_err(|_| VaultError::Invalid {
            reason: "a value too large to encrypt".into(),
        })?;
    Ok(Sealed { nonce, ciphertext })
}

/// Decrypts `sealed` under `key` with `aad`; `None` when it does not authenticate.
pub(crate) fn open(key: &[u8; 32], sealed: &Sealed, aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let split = sealed.ciphertext.len().checked_sub(TAG_BYTES)?;
    let (ciphertext, tag) = sealed.ciphertext.split_at(split);
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    XChaCha20Poly1305::new(key.into())
        .decrypt_in_place_detached(
            XNonce::from_slice(&sealed.nonce),
            aad,
            buffer.as_mut_slice(),
            Tag::from_slice(tag),
        )
        .ok()?;
    Some(buffer)
}

/// `N` random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(VaultError::Random)?;
    Ok(bytes)
}

/// A length-prefixed byte string under construction: the canonical encoding that associated
/// data and the manifest authenticate, so that no two different field lists encode alike.
#[derive(Default)]
pub(crate) struct Canonical(Vec<u8>);

impl Canonical {
    /// Starts with a domain label (`secret-cascade-vault/entry/v1`).
    pub fn new(label: &str) -> Self {
        let mut canonical = Self::default();
        canonical.bytes(label.as_bytes());
        canonical
    }

    /// Appends `bytes` with its length.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0
            .extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// Appends a number.
    pub fn number(&mut self, n: u64) -> &mut Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// The encoding.
    pub fn finish(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9106 §5.3's Argon2id vector is for a secret and associated data, which the vault does
    /// not use; sv-vault's published KEK (same parameters, no secret) checks the derivation.
    #[test]
    fn argon2id_matches_sv_vaults_published_kek() {
        let salt: Vec<u8> = (0..32)
            .map(|i| {
                u8::from_str_radix(
                    &"6ca4ea3dc1743ab7b74ffe8281fe49f9e9b0bcfc946ed18b000c2bb01fe40b0c"
                        [2 * i..2 * i + 2],
                    16,
                )
                .unwrap()
            })
            .collect();
        let kek = KdfParams::FLOOR.derive(b"example-pass", &salt).unwrap();
        let hex: String = kek.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "65fc86f2d13cca8f9f39dbe94073a550484d8f7f46097c50a370778e537ae36c"
        );
    }

    #[test]
    fn sealed_data_opens_only_with_its_key_and_aad() {
        let key = [1u8; 32];
        let sealed = seal(&key, b"value", b"aad").unwrap();
        assert_eq!(open(&key, &sealed, b"aad").unwrap().as_slice(), b"value");
        assert!(open(&key, &sealed, b"other").is_none());
        assert!(open(&[2u8; 32], &sealed, b"aad").is_none());
        let mut cut = sealed.clone();
        cut.ciphertext.truncate(3);
        assert!(open(&key, &cut, b"aad").is_none());
    }

    #[test]
    fn floor_compares_each_parameter() {
        let floor = KdfParams::FLOOR;
        assert!(floor.at_least(&floor));
        for weaker in [
            KdfParams {
                memory_kib: 65535,
                ..floor
            },
            KdfParams { passes: 2, ..floor },
            KdfParams { lanes: 1, ..floor },
        ] {
            assert!(!weaker.at_least(&floor), "{weaker}");
        }
    }
}
