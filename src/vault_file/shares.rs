//! Recovery shares of a vault's data key, as one line of text each that a person can copy by hand:
//!
//! ```text
//! secret-cascade-vault-share v1 vault=9f86d081884c7d659a2feaa0c55ad015 epoch=1 threshold=3 index=2 key=3f1a-09bc-...-77e0 check=5be2c41d
//! ```
//!
//! `key` is the share's 32 bytes in hex, in groups of four digits (dashes and case do not
//! matter); `check` is the first 4 bytes of SHA-256 over the other fields, so that a digit copied
//! wrong is caught before any arithmetic. The field is GF(2^8) with the AES polynomial (as sops's
//! key groups); share `index` is the point x = index.

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::shamir::{self, Field, Point};

use super::VaultIdentity;
use super::crypto::DataKey;
use super::error::VaultError;
use super::format::{hex, unhex};

const PREFIX: &str = "secret-cascade-vault-share";
const VERSION: &str = "v1";

/// One recovery share: which vault and epoch it is for, the threshold, its index and its bytes.
/// `Display` writes the line above; [`Share::parse`] reads it. `Debug` hides the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Share {
    vault_id: String,
    epoch: u64,
    threshold: u8,
    index: u8,
    bytes: Zeroizing<Vec<u8>>,
}

impl Share {
    /// Reads one share line (surrounding whitespace ignored).
    pub fn parse(line: &str) -> Result<Self, VaultError> {
        let bad = |reason: &str| VaultError::BadShares {
            reason: reason.to_owned(),
        };
        let mut words = line.split_whitespace();
        if words.next() != Some(PREFIX) || words.next() != Some(VERSION) {
            return Err(bad(&format!(
                "a share starts with `{PREFIX} {VERSION}`; this line does not"
            )));
        }
        let mut field = |name: &str| {
            words
                .next()
                .and_then(|word| word.strip_prefix(name)?.strip_prefix('='))
                .ok_or_else(|| bad(&format!("the share has no `{name}=` where expected")))
        };
        let (vault_id, epoch, threshold, index, key, check) = (
            field("vault")?.to_ascii_lowercase(),
            field("epoch")?,
            field("threshold")?,
            field("index")?,
            field("key")?,
            field("check")?,
        );
        let number = |text: &str, what: &str| {
            text.parse::<u64>()
                .map_err(|_| bad(&format!("the share's `{what}` is not a number")))
        };
        let small = |text: &str, what: &str| {
            u8::try_from(number(text, what)?)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(&format!("the share's `{what}` is not in 1..=255")))
        };
        let digits: String = key.chars().filter(|c| *c != '-').collect();
        let bytes = Zeroizing::new(
            unhex(&digits)
                .filter(|b| b.len() == 32)
                .ok_or_else(|| bad("the share's `key` is not 64 hex digits"))?,
        );
        let share = Self {
            vault_id,
            epoch: number(epoch, "epoch")?,
            threshold: small(threshold, "threshold")?,
            index: small(index, "index")?,
            bytes,
        };
        if !check.eq_ignore_ascii_case(&share.checksum()) {
            return Err(bad(&format!(
                "share {} fails its checksum: a digit was copied wrong",
                share.index
            )));
        }
        Ok(share)
    }

    /// The share's index (its x).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// Shares of `key` for the vault `identity` names.
    pub(crate) fn split(
        identity: &VaultIdentity,
        key: &DataKey,
        count: usize,
        threshold: usize,
    ) -> Result<Vec<Self>, VaultError> {
        if !(2..=255).contains(&count) || !(2..=count).contains(&threshold) {
            return Err(VaultError::Invalid {
                reason: format!(
                    "cannot split into {count} shares with threshold {threshold}: need \
                     2 <= threshold <= shares <= 255"
                ),
            });
        }
        let xs: Vec<u8> = (1..=count as u8).collect();
        let ys = shamir::split(Field::AES, key.expose_bytes(), &xs, threshold)?;
        Ok(xs
            .into_iter()
            .zip(ys)
            .map(|(index, bytes)| Self {
                vault_id: identity.id.clone(),
                epoch: identity.epoch,
                threshold: threshold as u8,
                index,
                bytes,
            })
            .collect())
    }

    /// The key `shares` give, after checking they are of `identity`'s vault and epoch, agree on
    /// the threshold, are distinct and enough.
    pub(crate) fn combine(
        shares: &[Self],
        identity: &VaultIdentity,
    ) -> Result<DataKey, VaultError> {
        let bad = |reason: String| VaultError::BadShares { reason };
        let first = shares
            .first()
            .ok_or_else(|| bad("no shares were given".into()))?;
        for share in shares {
            if share.vault_id != identity.id {
                return Err(bad(format!(
                    "share {} is of the vault {}, not of this vault ({})",
                    share.index, share.vault_id, identity.id
                )));
            }
            if share.epoch != identity.epoch {
                return Err(bad(format!(
                    "share {} is of key epoch {}, the vault is at epoch {} (shares made before \
                     a `rotate` no longer apply)",
                    share.index, share.epoch, identity.epoch
                )));
            }
            if share.threshold != first.threshold {
                return Err(bad(format!(
                    "shares {} and {} name different thresholds ({} and {}): they are of \
                     different splits",
                    first.index, share.index, first.threshold, share.threshold
                )));
            }
        }
        let mut seen = [false; 256];
        for share in shares {
            if std::mem::replace(&mut seen[usize::from(share.index)], true) {
                return Err(bad(format!("share {} was given twice", share.index)));
            }
        }
        if shares.len() < usize::from(first.threshold) {
            return Err(bad(format!(
                "{} shares were given; {} are needed",
                shares.len(),
                first.threshold
            )));
        }
        let points: Vec<Point<'_>> = shares
            .iter()
            .map(|share| Point {
                x: share.index,
                y: &share.bytes,
            })
            .collect();
        let key = shamir::combine(Field::AES, &points)?;
        DataKey::from_bytes(&key).ok_or_else(|| bad("the shares are not of a 32-byte key".into()))
    }

    /// The fields before `check=` (the key's digits included, hence wiped on drop).
    fn fields(&self) -> Zeroizing<String> {
        let key = Zeroizing::new(self.bytes.chunks(2).map(hex).collect::<Vec<_>>());
        Zeroizing::new(format!(
            "vault={} epoch={} threshold={} index={} key={}",
            self.vault_id,
            self.epoch,
            self.threshold,
            self.index,
            Zeroizing::new(key.join("-")).as_str()
        ))
    }

    fn checksum(&self) -> String {
        let digest = Sha256::digest(self.fields().as_bytes());
        hex(&digest[..4])
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} {VERSION} {} check={}",
            self.fields().as_str(),
            self.checksum()
        )
    }
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("vault_id", &self.vault_id)
            .field("epoch", &self.epoch)
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("bytes", &"[REDACTED]")
            .finish()
    }
}
