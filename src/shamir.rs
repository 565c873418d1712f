//! Shamir secret sharing over GF(2^8), byte by byte, with the field's reduction polynomial as a
//! parameter: [`Field::AES`] (0x11B) is the field of HashiCorp's shamir package that sops uses,
//! [`Field::RS`] (0x11D) the one sv-vault uses (`SV_VAULT_FORMAT.md` §6).
//!
//! Each byte of the secret is the constant term of its own random polynomial of degree
//! `threshold - 1`; a share is the polynomial values at one non-zero `x`. Any `threshold` shares
//! give the secret back by Lagrange interpolation at `x = 0`; fewer give a value that says nothing
//! about it. Shares carry no integrity check here: the formats that use them add one (or, as sops,
//! check the key they give).
//!
//! ```
//! use secret_cascade::shamir::{self, Field, Point};
//!
//! let secret = [7u8; 32];
//! let shares = shamir::split(Field::RS, &secret, &[1, 2, 3], 2).unwrap();
//! let points = [Point { x: 1, y: &shares[0] }, Point { x: 3, y: &shares[2] }];
//! assert_eq!(shamir::combine(Field::RS, &points).unwrap().as_slice(), &secret);
//! ```

use std::fmt;

use zeroize::Zeroizing;

/// GF(2^8) with a reduction polynomial (x^8 + ..., its low 8 bits kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The polynomial without its x^8 term: 0x1B for 0x11B.
    reduction: u8,
}

impl Field {
    /// The AES field, x^8 + x^4 + x^3 + x + 1 (0x11B): HashiCorp's shamir package, hence sops.
    pub const AES: Self = Self::with_polynomial(0x11B);

    /// x^8 + x^4 + x^3 + x^2 + 1 (0x11D), the Reed-Solomon field: sv-vault's shares.
    pub const RS: Self = Self::with_polynomial(0x11D);

    /// The field reduced by `polynomial` (degree 8, bit 8 set: 0x1XX). It must be irreducible
    /// for division to work; 0x11B and 0x11D are.
    pub const fn with_polynomial(polynomial: u16) -> Self {
        Self {
            reduction: (polynomial & 0xFF) as u8,
        }
    }

    /// a · b.
    pub fn mul(self, mut a: u8, mut b: u8) -> u8 {
        let mut product = 0u8;
        while b != 0 {
            if b & 1 != 0 {
                product ^= a;
            }
            let carry = a & 0x80;
            a <<= 1;
            if carry != 0 {
                a ^= self.reduction;
            }
            b >>= 1;
        }
        product
    }

    /// a / b; b^-1 = b^254. Division by zero gives 0 (callers refuse duplicate x first).
    pub fn div(self, a: u8, b: u8) -> u8 {
        let mut inverse = 1u8;
        for _ in 0..254 {
            inverse = self.mul(inverse, b);
        }
        self.mul(a, inverse)
    }
}

/// One share as a point: its `x` (non-zero) and its bytes, one per byte of the secret.
#[derive(Clone, Copy)]
pub struct Point<'a> {
    /// The x-coordinate, 1..=255.
    pub x: u8,
    /// The polynomials' values at `x`.
    pub y: &'a [u8],
}

impl fmt::Debug for Point<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Point")
            .field("x", &self.x)
            .field("y", &"[REDACTED]")
            .finish()
    }
}

/// Why shares cannot be made or combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShamirError {
    /// The threshold is 0 or more than the number of shares, or more than 255 shares are asked.
    #[error(
        "cannot split into {parts} shares with threshold {threshold}: need 1 <= threshold <= shares <= 255"
    )]
    Parameters {
        /// Shares asked for.
        parts: usize,
        /// Shares needed to recover.
        threshold: usize,
    },
    /// An x-coordinate is 0 (the secret itself) or appears twice.
    #[error("share x-coordinates must be distinct and non-zero (x = {x} is not)")]
    BadX {
        /// The offending x.
        x: u8,
    },
    /// No shares, or shares of different lengths.
    #[error("the shares are empty or of different lengths")]
    Lengths,
    /// Randomness for the polynomials could not be had.
    #[error("the random number generator failed: {0}")]
    Random(getrandom::Error),
}

/// The shares of `secret` at each of `xs` (distinct, non-zero), any `threshold` of which recover
/// it: one `Vec` of `secret.len()` bytes per x, in the order of `xs`.
pub fn split(
    field: Field,
    secret: &[u8],
    xs: &[u8],
    threshold: usize,
) -> Result<Vec<Zeroizing<Vec<u8>>>, ShamirError> {
    if threshold == 0 || threshold > xs.len() || xs.len() > 255 {
        return Err(ShamirError::Parameters {
            parts: xs.len(),
            threshold,
        });
    }
    check_xs(xs.iter().copied())?;
    let mut shares: Vec<Zeroizing<Vec<u8>>> = xs
        .iter()
        .map(|_| Zeroizing::new(Vec::with_capacity(secret.len() + 1)))
        .collect();
    let mut coefficients = Zeroizing::new(vec![0u8; threshold - 1]);
    for &byte in secret {
        getrandom::fill(&mut coefficients).map_err(ShamirError::Random)?;
        for (share, &x) in shares.iter_mut().zip(xs) {
            // Horner's rule: byte + c1 x + c2 x^2 + ...
            let mut y = 0u8;
            for &c in coefficients.iter().rev() {
                y = field.mul(y ^ c, x);
            }
            share.push(y ^ byte);
        }
    }
    Ok(shares)
}

/// The secret the `points` give by Lagrange interpolation at x = 0. With fewer points than the
/// threshold, or points of another secret, the result is simply a wrong value: check it.
pub fn combine(field: Field, points: &[Point<'_>]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let length = points.first().ok_or(ShamirError::Lengths)?.y.len();
    if points.iter().any(|p| p.y.len() != length) {
        return Err(ShamirError::Lengths);
    }
    check_xs(points.iter().map(|p| p.x))?;
    let mut secret = Zeroizing::new(vec![0u8; length]);
    for (k, point) in points.iter().enumerate() {
        // basis_k(0) = prod_{j != k} x_j / (x_k xor x_j)
        let mut basis = 1u8;
        for (j, other) in points.iter().enumerate() {
            if j != k {
                basis = field.mul(basis, field.div(other.x, point.x ^ other.x));
            }
        }
        for (byte, &y) in secret.iter_mut().zip(point.y) {
            *byte ^= field.mul(y, basis);
        }
    }
    Ok(secret)
}

/// `parts` distinct non-zero x-coordinates drawn at random, as HashiCorp's package draws them.
pub fn random_xs(parts: usize) -> Result<Vec<u8>, ShamirError> {
    let mut xs: Vec<u8> = (1..=255).collect();
    for i in (1..xs.len()).rev() {
        let mut draw = [0u8; 2];
        getrandom::fill(&mut draw).map_err(ShamirError::Random)?;
        xs.swap(i, usize::from(u16::from_le_bytes(draw)) % (i + 1));
    }
    xs.truncate(parts);
    Ok(xs)
}

/// HashiCorp's layout (sops's key-group shares): `parts` shares at random x, each the y-bytes
/// followed by its x.
pub fn split_with_trailing_x(
    field: Field,
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Result<Vec<Zeroizing<Vec<u8>>>, ShamirError> {
    if parts > 255 {
        return Err(ShamirError::Parameters { parts, threshold });
    }
    let xs = random_xs(parts)?;
    let mut shares = split(field, secret, &xs, threshold)?;
    for (share, x) in shares.iter_mut().zip(xs) {
        share.push(x);
    }
    Ok(shares)
}

/// Combines shares in HashiCorp's layout (y-bytes, then x), as [`split_with_trailing_x`] makes.
pub fn combine_with_trailing_x(
    field: Field,
    shares: &[impl AsRef<[u8]>],
) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let points = shares
        .iter()
        .map(|share| match share.as_ref().split_last() {
            Some((&x, y)) => Ok(Point { x, y }),
            None => Err(ShamirError::Lengths),
        })
        .collect::<Result<Vec<_>, _>>()?;
    combine(field, &points)
}

fn check_xs(xs: impl Iterator<Item = u8>) -> Result<(), ShamirError> {
    let mut seen = [false; 256];
    for x in xs {
        if x == 0 || std::mem::replace(&mut seen[usize::from(x)], true) {
            return Err(ShamirError::BadX { x });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_fields_invert_and_match_published_products() {
        for field in [Field::AES, Field::RS] {
            for a in 1..=255u8 {
                assert_eq!(field.mul(field.div(1, a), a), 1, "{field:?} {a}");
            }
        }
        assert_eq!(Field::AES.mul(0x57, 0x83), 0xC1); // FIPS-197 §4.2
        assert_eq!(Field::RS.mul(0x02, 0x80), 0x1D); // SV_VAULT_FORMAT.md §7
    }

    /// Every K-of-N up to 5-of-7, each K-subset (and one short subset, which must not recover).
    #[test]
    fn every_threshold_subset_recovers_up_to_5_of_7() {
        let secret: Vec<u8> = (0..32).map(|i| i * 7 + 3).collect();
        for field in [Field::AES, Field::RS] {
            for n in 1..=7usize {
                for k in 1..=n.min(5) {
                    let xs: Vec<u8> = (1..=n as u8).collect();
                    let shares = split(field, &secret, &xs, k).unwrap();
                    for mask in 0u32..(1 << n) {
                        let chosen: Vec<Point<'_>> = (0..n)
                            .filter(|i| mask & (1 << i) != 0)
                            .map(|i| Point {
                                x: xs[i],
                                y: &shares[i],
                            })
                            .collect();
                        if chosen.len() == k {
                            let got = combine(field, &chosen).unwrap();
                            assert_eq!(got.as_slice(), secret, "{field:?} {k}-of-{n} {mask:b}");
                        } else if chosen.len() == k - 1 && k > 1 {
                            let got = combine(field, &chosen).unwrap();
                            assert_ne!(got.as_slice(), secret, "{field:?} {k}-of-{n} {mask:b}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn trailing_x_layout_round_trips() {
        let secret = [0xA5u8; 32];
        let shares = split_with_trailing_x(Field::AES, &secret, 5, 3).unwrap();
        assert!(shares.iter().all(|s| s.len() == 33));
        let got = combine_with_trailing_x(Field::AES, &shares[1..4]).unwrap();
        assert_eq!(got.as_slice(), secret);
    }

    #[test]
    fn bad_parameters_and_points_are_refused() {
        assert!(matches!(
            split(Field::RS, &[1], &[1, 2], 3),
            Err(ShamirError::Parameters { .. })
        ));
        assert!(matches!(
            split(Field::RS, &[1], &[1, 1], 2),
            Err(ShamirError::BadX { x: 1 })
        ));
        let y = [1u8, 2];
        assert!(matches!(
            combine(Field::RS, &[Point { x: 0, y: &y }]),
            Err(ShamirError::BadX { x: 0 })
        ));
        assert_eq!(combine(Field::RS, &[]), Err(ShamirError::Lengths));
        assert_eq!(
            combine(
                Field::RS,
                &[Point { x: 1, y: &y }, Point { x: 2, y: &y[..1] }]
            ),
            Err(ShamirError::Lengths)
        );
    }
}
