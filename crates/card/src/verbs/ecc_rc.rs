//! The Weierstrass curves aws-lc-rs does not offer, for [`super::ecc`]: NIST P-192 and
//! P-224 (RustCrypto `p192`, `p224`, on `elliptic-curve` 0.13 and `ecdsa` 0.16) and
//! Brainpool P-256r1 and P-384r1 (RustCrypto `bp256`, `bp384`, on `elliptic-curve` 0.14 and
//! `ecdsa` 0.17), and Brainpool P-192r1 and P-512r1 (their RFC 5639 constants on the same
//! generic RustCrypto arithmetic, [`super::ecc_bp`]). Nothing here is hand-rolled: the point arithmetic, ECDH and ECDSA are the
//! crates' (`ecdh::diffie_hellman`, `ecdsa::hazmat::{sign_prehashed, verify_prehashed}`).
//!
//! ECDSA nonces: `p192` has no signing key (no RFC 6979 digest of P-192's width), so for
//! one rule on all these curves k is drawn from the card's DRBG (rejection sampling: a
//! candidate that is zero or not below the order is drawn again), as FIPS 186-4 B.5.2
//! describes; the caller hands the candidates in. The hash reaching this module is already
//! the curve's length (see `Engine::digest` in [`super::ecc`]); the orders of these
//! curves have as many bits as their fields, so leftmost bytes are leftmost bits.
//!
//! Brainpool P-160r1, P-224r1 and P-320r1 stay 8/874 ([`super::ecc_bp`] says why).

use zeroize::Zeroizing;

/// A curve of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RcCurve {
    P192,
    P224,
    Bp256,
    Bp384,
    Bp192,
    Bp512,
}

/// The operations, per curve; every function answers `None` for an invalid input.
macro_rules! ec13 {
    ($m:ident, $c:ty) => {
        mod $m {
            use ecdsa::hazmat::{bits2field, sign_prehashed, verify_prehashed};
            use elliptic_curve::ecdh::diffie_hellman;
            use elliptic_curve::sec1::ToEncodedPoint;
            use elliptic_curve::{PublicKey, SecretKey};
            use zeroize::Zeroizing;

            type C = $c;

            pub(super) fn public(d: &[u8]) -> Option<Vec<u8>> {
                let sk = SecretKey::<C>::from_slice(d).ok()?;
                Some(sk.public_key().to_encoded_point(false).as_bytes().to_vec())
            }

            pub(super) fn valid_public(q: &[u8]) -> bool {
                PublicKey::<C>::from_sec1_bytes(q).is_ok()
            }

            pub(super) fn agree(d: &[u8], peer: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
                let sk = SecretKey::<C>::from_slice(d).ok()?;
                let pk = PublicKey::<C>::from_sec1_bytes(peer).ok()?;
                let z = diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
                Some(Zeroizing::new(z.raw_secret_bytes().to_vec()))
            }

            pub(super) fn sign(d: &[u8], k: &[u8], z: &[u8]) -> Option<Vec<u8>> {
                let d = SecretKey::<C>::from_slice(d).ok()?.to_nonzero_scalar();
                let k = SecretKey::<C>::from_slice(k).ok()?.to_nonzero_scalar();
                let z = bits2field::<C>(z).ok()?;
                let (s, _) = sign_prehashed::<C, _>(d.as_ref(), *k.as_ref(), &z).ok()?;
                Some(s.to_bytes().to_vec())
            }

            pub(super) fn verify(q: &[u8], z: &[u8], signature: &[u8]) -> bool {
                let (Ok(pk), Ok(s), Ok(z)) = (
                    PublicKey::<C>::from_sec1_bytes(q),
                    ecdsa::Signature::<C>::from_slice(signature),
                    bits2field::<C>(z),
                ) else {
                    return false;
                };
                verify_prehashed::<C>(&pk.to_projective(), &z, &s).is_ok()
            }
        }
    };
}

macro_rules! ec14 {
    ($m:ident, $c:ty) => {
        mod $m {
            use ecdsa_17::hazmat::{sign_prehashed, verify_prehashed};
            use elliptic_curve_14::ecdh::diffie_hellman;
            use elliptic_curve_14::sec1::ToSec1Point;
            use elliptic_curve_14::{PublicKey, SecretKey};
            use zeroize::Zeroizing;

            type C = $c;

            pub(super) fn public(d: &[u8]) -> Option<Vec<u8>> {
                let sk = SecretKey::<C>::from_slice(d).ok()?;
                Some(sk.public_key().to_sec1_point(false).as_bytes().to_vec())
            }

            pub(super) fn valid_public(q: &[u8]) -> bool {
                PublicKey::<C>::from_sec1_bytes(q).is_ok()
            }

            pub(super) fn agree(d: &[u8], peer: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
                let sk = SecretKey::<C>::from_slice(d).ok()?;
                let pk = PublicKey::<C>::from_sec1_bytes(peer).ok()?;
                let z = diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
                Some(Zeroizing::new(z.raw_secret_bytes().to_vec()))
            }

            pub(super) fn sign(d: &[u8], k: &[u8], z: &[u8]) -> Option<Vec<u8>> {
                let d = SecretKey::<C>::from_slice(d).ok()?.to_nonzero_scalar();
                let k = SecretKey::<C>::from_slice(k).ok()?.to_nonzero_scalar();
                let (s, _) = sign_prehashed::<C>(&d, &k, z).ok()?;
                Some(s.to_bytes().to_vec())
            }

            pub(super) fn verify(q: &[u8], z: &[u8], signature: &[u8]) -> bool {
                let (Ok(pk), Ok(s)) = (
                    PublicKey::<C>::from_sec1_bytes(q),
                    ecdsa_17::Signature::<C>::from_slice(signature),
                ) else {
                    return false;
                };
                verify_prehashed::<C>(&pk.to_projective(), z, &s).is_ok()
            }
        }
    };
}

ec13!(p192c, p192::NistP192);
ec13!(p224c, p224::NistP224);
ec14!(bp256c, bp256::BrainpoolP256r1);
ec14!(bp384c, bp384::BrainpoolP384r1);
ec14!(bp192c, super::super::ecc_bp::bp192::BrainpoolP192r1);
ec14!(bp512c, super::super::ecc_bp::bp512::BrainpoolP512r1);

macro_rules! each {
    ($self:expr, $f:ident ( $($a:expr),* )) => {
        match $self {
            RcCurve::P192 => p192c::$f($($a),*),
            RcCurve::P224 => p224c::$f($($a),*),
            RcCurve::Bp256 => bp256c::$f($($a),*),
            RcCurve::Bp384 => bp384c::$f($($a),*),
            RcCurve::Bp192 => bp192c::$f($($a),*),
            RcCurve::Bp512 => bp512c::$f($($a),*),
        }
    };
}

impl RcCurve {
    /// The length of d, of r and of s, and of the hash the curve signs.
    pub(crate) fn scalar_len(self) -> usize {
        match self {
            RcCurve::P192 => 24,
            RcCurve::P224 => 28,
            RcCurve::Bp256 => 32,
            RcCurve::Bp384 => 48,
            RcCurve::Bp192 => 24,
            RcCurve::Bp512 => 64,
        }
    }

    /// The uncompressed public point of d (d of [`Self::scalar_len`] bytes).
    pub(crate) fn public(self, d: &[u8]) -> Option<Vec<u8>> {
        if d.len() != self.scalar_len() {
            return None;
        }
        each!(self, public(d))
    }

    pub(crate) fn valid_public(self, q: &[u8]) -> bool {
        each!(self, valid_public(q))
    }

    /// The ECDH shared secret: the x-coordinate of d·peer.
    pub(crate) fn agree(self, d: &[u8], peer: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if d.len() != self.scalar_len() {
            return None;
        }
        each!(self, agree(d, peer))
    }

    /// ECDSA r ‖ s of the hash z with the nonce k; `None` when k (or d) is not a valid
    /// scalar, so the caller draws another.
    pub(crate) fn sign(self, d: &[u8], k: &[u8], z: &[u8]) -> Option<Vec<u8>> {
        let n = self.scalar_len();
        if d.len() != n || k.len() != n || z.len() != n {
            return None;
        }
        each!(self, sign(d, k, z))
    }

    pub(crate) fn verify(self, q: &[u8], z: &[u8], signature: &[u8]) -> bool {
        if z.len() != self.scalar_len() {
            return false;
        }
        each!(self, verify(q, z, signature))
    }
}
