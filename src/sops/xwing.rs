//! X-Wing (MLKEM768-X25519, draft-connolly-cfrg-xwing-kem) as an HPKE KEM (ID `0x647a`, as
//! draft-ietf-hpke-pq assigns it), for age's post-quantum keys ([`super::age_pq`]).
//!
//! Built from ML-KEM-768 (`ml-kem`), X25519 (`x25519-dalek`) and SHA-3 (`sha3`), the crates the
//! age crate's own hybrid KEM uses: a 32-byte seed expands by SHAKE-256 into the ML-KEM key
//! generation seeds `d`, `z` and the X25519 secret; the public key is the ML-KEM encapsulation
//! key then the X25519 public key (1216 bytes), the ciphertext the ML-KEM ciphertext then the
//! ephemeral X25519 public key (1120 bytes); the shared secret is
//! SHA3-256(ss_M || ss_X || ct_X || pk_X || `\.//^\`).

use hpke::generic_array::typenum::{Sum, U32, Unsigned};
use hpke::kem::SharedSecret;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, HpkeError, Serializable};
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{Ciphertext, EncodedSizeUser, KemCore, MlKem768};
use sha3::digest::{Digest, ExtendableOutput, Update, XofReader};
use sha3::{Sha3_256, Shake256};
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// The combiner's label, `\.//^\`.
const XWING_LABEL: &[u8] = b"\\.//^\\";
const SEED_BYTES: usize = 32;

type MlKemPublic = <MlKem768 as KemCore>::EncapsulationKey;
type MlKemPrivate = <MlKem768 as KemCore>::DecapsulationKey;
type PublicSize = <MlKemPublic as EncodedSizeUser>::EncodedSize;
type CiphertextSize = <MlKem768 as KemCore>::CiphertextSize;

/// The X-Wing KEM.
pub(crate) struct XWing;

/// An X-Wing private key: its seed and what the seed expands to. No `Debug`.
#[derive(Clone)]
pub(crate) struct PrivateKey {
    seed: Zeroizing<[u8; SEED_BYTES]>,
    ml_kem: MlKemPrivate,
    x25519: StaticSecret,
    public: PublicKey,
}

/// An X-Wing public key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PublicKey {
    ml_kem: MlKemPublic,
    x25519: X25519Public,
}

impl Eq for PublicKey {}

/// An X-Wing ciphertext.
#[derive(Clone)]
pub(crate) struct EncappedKey {
    ml_kem: Ciphertext<MlKem768>,
    x25519: [u8; 32],
}

impl PrivateKey {
    fn from_seed(seed: &[u8; SEED_BYTES]) -> Self {
        let mut expanded = Zeroizing::new([0u8; 96]);
        Shake256::default()
            .chain(seed)
            .finalize_xof()
            .read(expanded.as_mut_slice());
        let mut d = Zeroizing::new([0u8; 32]);
        let mut z = Zeroizing::new([0u8; 32]);
        let mut x = [0u8; 32];
        d.copy_from_slice(&expanded[..32]);
        z.copy_from_slice(&expanded[32..64]);
        x.copy_from_slice(&expanded[64..]);
        let (ml_kem, ml_kem_public) = MlKem768::generate_deterministic(&(*d).into(), &(*z).into());
        let x25519 = StaticSecret::from(x);
        x.zeroize();
        let public = PublicKey {
            ml_kem: ml_kem_public,
            x25519: X25519Public::from(&x25519),
        };
        Self {
            seed: Zeroizing::new(*seed),
            ml_kem,
            x25519,
            public,
        }
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.seed.ct_eq(other.seed.as_slice()).into()
    }
}

impl Eq for PrivateKey {}

impl Serializable for PrivateKey {
    type OutputSize = U32;

    fn write_exact(&self, buf: &mut [u8]) {
        buf.copy_from_slice(self.seed.as_slice());
    }
}

impl Deserializable for PrivateKey {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let seed = <&[u8; SEED_BYTES]>::try_from(encoded)
            .map_err(|_| HpkeError::IncorrectInputLength(SEED_BYTES, encoded.len()))?;
        Ok(Self::from_seed(seed))
    }
}

impl Serializable for PublicKey {
    type OutputSize = Sum<PublicSize, U32>;

    fn write_exact(&self, buf: &mut [u8]) {
        let (ml_kem, x25519) = buf.split_at_mut(PublicSize::USIZE);
        ml_kem.copy_from_slice(&self.ml_kem.as_bytes());
        x25519.copy_from_slice(self.x25519.as_bytes());
    }
}

impl Deserializable for PublicKey {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let size = <Self as Serializable>::OutputSize::USIZE;
        if encoded.len() != size {
            return Err(HpkeError::IncorrectInputLength(size, encoded.len()));
        }
        let (ml_kem, x25519) = encoded.split_at(PublicSize::USIZE);
        let ml_kem = MlKemPublic::from_bytes(ml_kem.try_into().expect("length checked"));
        // FIPS 203's modulus check: an encapsulation key must re-encode to itself.
        if ml_kem.as_bytes().as_slice() != &encoded[..PublicSize::USIZE] {
            return Err(HpkeError::ValidationError);
        }
        let x25519: [u8; 32] = x25519.try_into().expect("length checked");
        Ok(Self {
            ml_kem,
            x25519: X25519Public::from(x25519),
        })
    }
}

impl Serializable for EncappedKey {
    type OutputSize = Sum<CiphertextSize, U32>;

    fn write_exact(&self, buf: &mut [u8]) {
        let (ml_kem, x25519) = buf.split_at_mut(CiphertextSize::USIZE);
        ml_kem.copy_from_slice(&self.ml_kem);
        x25519.copy_from_slice(&self.x25519);
    }
}

impl Deserializable for EncappedKey {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let size = <Self as Serializable>::OutputSize::USIZE;
        if encoded.len() != size {
            return Err(HpkeError::IncorrectInputLength(size, encoded.len()));
        }
        let (ml_kem, x25519) = encoded.split_at(CiphertextSize::USIZE);
        Ok(Self {
            ml_kem: <[u8; CiphertextSize::USIZE]>::try_from(ml_kem)
                .expect("length checked")
                .into(),
            x25519: x25519.try_into().expect("length checked"),
        })
    }
}

impl hpke::Kem for XWing {
    type PublicKey = PublicKey;
    type PrivateKey = PrivateKey;
    type EncappedKey = EncappedKey;
    type NSecret = U32;
    const KEM_ID: u16 = 0x647a;

    fn sk_to_pk(sk: &PrivateKey) -> PublicKey {
        sk.public.clone()
    }

    /// draft-ietf-hpke-pq's DeriveKeyPair: seed = SHAKE256.LabeledDerive(ikm, "DeriveKeyPair",
    /// "", 32). (age's keys are seeds themselves; this is here for the trait.)
    fn derive_keypair(ikm: &[u8]) -> (PrivateKey, PublicKey) {
        let label = b"DeriveKeyPair";
        let mut seed = Zeroizing::new([0u8; SEED_BYTES]);
        Shake256::default()
            .chain(ikm)
            .chain(b"HPKE-v1")
            .chain(b"KEM")
            .chain(Self::KEM_ID.to_be_bytes())
            .chain((label.len() as u16).to_be_bytes())
            .chain(label)
            .chain((SEED_BYTES as u16).to_be_bytes())
            .finalize_xof()
            .read(seed.as_mut_slice());
        let sk = PrivateKey::from_seed(&seed);
        let pk = sk.public.clone();
        (sk, pk)
    }

    /// X-Wing has no authenticated mode: a sender key is refused.
    fn decap(
        sk_recip: &PrivateKey,
        pk_sender_id: Option<&PublicKey>,
        encapped_key: &EncappedKey,
    ) -> Result<SharedSecret<Self>, HpkeError> {
        if pk_sender_id.is_some() {
            return Err(HpkeError::DecapError);
        }
        let ss_m = sk_recip
            .ml_kem
            .decapsulate(&encapped_key.ml_kem)
            .map_err(|()| HpkeError::DecapError)?;
        let ss_x = sk_recip
            .x25519
            .diffie_hellman(&X25519Public::from(encapped_key.x25519));
        // An all-zero X25519 secret (a low-order point) is refused, as age's Go HPKE does.
        if !ss_x.was_contributory() {
            return Err(HpkeError::DecapError);
        }
        Ok(combine(
            &ss_m,
            ss_x.as_bytes(),
            &encapped_key.x25519,
            sk_recip.public.x25519.as_bytes(),
        ))
    }

    /// X-Wing has no authenticated mode: a sender key is refused.
    fn encap<R: CryptoRng + RngCore>(
        pk_recip: &PublicKey,
        sender_id_keypair: Option<(&PrivateKey, &PublicKey)>,
        csprng: &mut R,
    ) -> Result<(SharedSecret<Self>, EncappedKey), HpkeError> {
        if sender_id_keypair.is_some() {
            return Err(HpkeError::EncapError);
        }
        let (ml_kem, ss_m) = pk_recip
            .ml_kem
            .encapsulate(csprng)
            .map_err(|()| HpkeError::EncapError)?;
        let ephemeral = StaticSecret::random_from_rng(&mut *csprng);
        let ct_x = X25519Public::from(&ephemeral).to_bytes();
        let ss_x = ephemeral.diffie_hellman(&pk_recip.x25519);
        if !ss_x.was_contributory() {
            return Err(HpkeError::EncapError);
        }
        let shared = combine(&ss_m, ss_x.as_bytes(), &ct_x, pk_recip.x25519.as_bytes());
        Ok((
            shared,
            EncappedKey {
                ml_kem,
                x25519: ct_x,
            },
        ))
    }
}

/// SHA3-256(ss_M || ss_X || ct_X || pk_X || label).
fn combine(ss_m: &[u8], ss_x: &[u8], ct_x: &[u8], pk_x: &[u8]) -> SharedSecret<XWing> {
    let digest = Sha3_256::new()
        .chain_update(ss_m)
        .chain_update(ss_x)
        .chain_update(ct_x)
        .chain_update(pk_x)
        .chain_update(XWING_LABEL)
        .finalize();
    let mut secret = SharedSecret::<XWing>::default();
    secret.0.copy_from_slice(&digest);
    secret
}
