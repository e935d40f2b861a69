//! The card's one RSA private-key abstraction, for [`super::rsa`]: aws-lc-rs where it
//! accepts the key (2048–8192 bits with an exponent it loads: it is the faster engine, used
//! for PKCS #1 v1.5 and PSS signatures and OAEP), RustCrypto `rsa` 0.10 otherwise — keys
//! below 2048 bits, exponents aws-lc-rs refuses — and for every PKCS #1 v1.5 *decryption*.
//!
//! Why RustCrypto for PKCS-1.2 decryption at every size: aws-lc-rs has no implicit
//! rejection, so a bad padding there is an error a caller can tell from success. `rsa` 0.10
//! implements draft-irtf-cfrg-rsa-guidance-10 §7 (a bad padding gives a deterministic
//! synthetic message derived from d and the ciphertext, selected in constant time), and
//! 0.10's arithmetic is crypto-bigint's constant-time modular exponentiation (the Marvin
//! timing side channel, RUSTSEC-2023-0071, concerned the 0.9 big-integer code). Every
//! RustCrypto private operation is blinded.
//!
//! Randomness: key generation takes the card's DRBG ([`CardRng`]); the blinding of a private
//! operation and the padding bytes of an encryption done outside aws-lc-rs take AWS-LC's own
//! generator ([`AwsRng`]), as aws-lc-rs's own operations do, because the encipher/decipher
//! functions [`super::syx`] shares carry no card.
//!
//! The private key is held as PKCS #8 DER in every token payload, whichever engine made it
//! (both write the standard RSAPrivateKey inside PrivateKeyInfo).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::Failure;

/// A generator's failure (the card's DRBG or AWS-LC's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RngFailed;

impl std::fmt::Display for RngFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("random number generator failed")
    }
}

impl std::error::Error for RngFailed {}

/// The card's DRBG as a `rand_core` generator; the first failure is kept as well as
/// returned, so a caller can throw away what was made with it.
pub(crate) struct CardRng<'a> {
    pub card: &'a Card,
    pub failed: bool,
}

impl std::fmt::Debug for CardRng<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardRng")
            .field("failed", &self.failed)
            .finish()
    }
}

impl<'a> CardRng<'a> {
    pub(crate) fn new(card: &'a Card) -> CardRng<'a> {
        CardRng {
            card,
            failed: false,
        }
    }
}

impl rsa::rand_core::TryRng for CardRng<'_> {
    type Error = RngFailed;

    fn try_next_u32(&mut self) -> Result<u32, RngFailed> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailed> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RngFailed> {
        if self.card.random(dest).is_err() {
            self.failed = true;
            return Err(RngFailed);
        }
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for CardRng<'_> {}

/// AWS-LC's generator as a `rand_core` generator (blinding, padding bytes).
#[derive(Debug, Default)]
pub(crate) struct AwsRng(SystemRandom);

impl rsa::rand_core::TryRng for AwsRng {
    type Error = RngFailed;

    fn try_next_u32(&mut self) -> Result<u32, RngFailed> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailed> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RngFailed> {
        self.0.fill(dest).map_err(|_| RngFailed)
    }
}

impl rsa::rand_core::TryCryptoRng for AwsRng {}

/// A private key in the engine that will use it.
#[derive(Debug)]
pub(crate) enum RsaPrivate {
    /// aws-lc-rs accepted it.
    AwsLc(aws_lc_rs::rsa::KeyPair),
    /// RustCrypto `rsa` 0.10 (zeroized on drop).
    Rc(Box<PrivateKey>),
}

impl RsaPrivate {
    /// The key in PKCS #8 DER: aws-lc-rs if it loads it, else RustCrypto. A DER neither
    /// reads is 8/2034 (the token's key is not a key).
    pub(crate) fn from_der(der: &[u8]) -> Result<RsaPrivate, Failure> {
        if let Ok(pair) = aws_lc_rs::rsa::KeyPair::from_pkcs8(der) {
            return Ok(RsaPrivate::AwsLc(pair));
        }
        Ok(RsaPrivate::Rc(Box::new(rc_private(der)?)))
    }

    /// The modulus length in bytes.
    pub(crate) fn modulus_len(&self) -> usize {
        match self {
            RsaPrivate::AwsLc(p) => p.public_modulus_len(),
            RsaPrivate::Rc(k) => k.size(),
        }
    }
}

/// The key in PKCS #8 DER as a RustCrypto key (every size, every exponent `rsa` accepts:
/// 2 ≤ e < 2³³).
pub(crate) fn rc_private(der: &[u8]) -> Result<PrivateKey, Failure> {
    PrivateKey::from_pkcs8_der(der).map_err(|_| Failure::PkaTokenField)
}

/// The private exponent d of a key in PKCS #8 DER, big-endian without leading zeros (for a
/// section that holds d itself: the clear X'02' CSNDPKG CLEAR writes).
pub(crate) fn private_exponent_of(der: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    use rsa::traits::PrivateKeyParts;
    use zeroize::Zeroize;
    let key = rc_private(der)?;
    let mut wide = key.d().to_be_bytes();
    let start = wide.iter().position(|&b| b != 0).unwrap_or(wide.len());
    let d = Zeroizing::new(wide[start..].to_vec());
    wide.zeroize();
    Ok(d)
}

/// A RustCrypto key written as PKCS #8 DER.
pub(crate) fn rc_der(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let doc = key.to_pkcs8_der().map_err(|_| Failure::PkaTokenField)?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// A public key from its big-endian n and e, any size the token formats allow (512–8192).
pub(crate) fn rc_public(n: &[u8], e: &[u8]) -> Result<PublicKey, Failure> {
    let bad = |_| Failure::PkaTokenField;
    let bits = u32::try_from(n.len() * 8).map_err(|_| Failure::PkaTokenField)?;
    let n = BoxedUint::from_be_slice(n, bits).map_err(bad)?;
    let e_bits = u32::try_from(e.len().max(1) * 8).map_err(|_| Failure::PkaTokenField)?;
    let e = BoxedUint::from_be_slice(e, e_bits).map_err(bad)?;
    PublicKey::new_with_size_limits(n, e, 512..=8192).map_err(|_| Failure::PkaTokenField)
}

/// A private key built from IBM's CRT parts: aws-lc-rs's DER when it accepts them, else
/// RustCrypto's (which checks the parts form a key). `d` may be computed by the caller.
pub(crate) fn der_from_parts(
    n: &[u8],
    e: &[u8],
    d: &[u8],
    crt: [&[u8]; 5],
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeyPairComponents, PublicKeyComponents};
    let [p, q, dp, dq, u] = crt;
    let comps = KeyPairComponents {
        public_key: PublicKeyComponents { n, e },
        d,
        p,
        q,
        dP: dp,
        dQ: dq,
        qInv: u,
    };
    if let Ok(pair) = KeyPair::from_components(&comps) {
        let der = pair.as_der().map_err(|_| Failure::PkaTokenField)?;
        return Ok(Zeroizing::new(der.as_ref().to_vec()));
    }
    let bad = |_| Failure::PkaTokenField;
    let bits = u32::try_from(n.len() * 8).map_err(|_| Failure::PkaTokenField)?;
    let big = |b: &[u8]| BoxedUint::from_be_slice(b, bits).map_err(bad);
    let e_bits = u32::try_from(e.len().max(1) * 8).map_err(|_| Failure::PkaTokenField)?;
    let key = PrivateKey::from_components(
        big(n)?,
        BoxedUint::from_be_slice(e, e_bits).map_err(bad)?,
        big(d)?,
        vec![big(p)?, big(q)?],
    )
    .map_err(|_| Failure::PkaTokenField)?;
    // The CRT parts IBM carries must be the key's own (RustCrypto recomputes them).
    let derived = rc_der(&key)?;
    let again = rc_private(&derived)?;
    let same = |a: Option<&BoxedUint>, b: &[u8]| {
        a.is_some_and(|a| {
            let a = Zeroizing::new(a.to_be_bytes());
            super::rsa::significant(&a) == super::rsa::significant(b)
        })
    };
    use rsa::traits::PrivateKeyParts;
    let u_ok = again.crt_coefficient().is_some_and(|c| {
        let c = Zeroizing::new(c.to_be_bytes());
        super::rsa::significant(&c) == super::rsa::significant(u)
    });
    if !same(again.dp(), dp) || !same(again.dq(), dq) || !u_ok {
        return Err(Failure::PkaTokenField);
    }
    Ok(derived)
}

/// A private key from its modulus-exponent form (n, e, d), as PKCS #8 DER: RustCrypto
/// recovers p and q (NIST SP 800-56B rev. 2 appendix C.2), which it does for
/// 2¹⁶ < e < 2²⁵⁶ only — a key with e = 3 in this form is 8/770 (IBM is silent; a real
/// card computes without the primes).
pub(crate) fn der_from_me(n: &[u8], e: &[u8], d: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let bad = |_| Failure::PkaTokenField;
    // `rsa`'s prime recovery computes d·e − 1 and panics when it underflows; it also needs
    // 2¹⁶ < e, and the key's exponent must be below 2³³ anyway. So: 0 < d < n, and e in
    // (2¹⁶, 2³³) — anything else is not a key this card uses (8/770).
    let (n_s, d_s, e_s) = (
        super::rsa::significant(n),
        super::rsa::significant(d),
        super::rsa::significant(e),
    );
    let d_below_n = d_s.len() < n_s.len() || (d_s.len() == n_s.len() && d_s < n_s);
    let e_value = if e_s.len() <= 8 {
        e_s.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b))
    } else {
        u64::MAX
    };
    if d_s.is_empty() || !d_below_n || e_value <= 1 << 16 || e_value >= 1 << 33 {
        return Err(Failure::PkaTokenField);
    }
    let bits = u32::try_from(n.len() * 8).map_err(|_| Failure::PkaTokenField)?;
    let e_bits = u32::try_from(e.len().max(1) * 8).map_err(|_| Failure::PkaTokenField)?;
    let key = PrivateKey::from_components(
        BoxedUint::from_be_slice(n, bits).map_err(bad)?,
        BoxedUint::from_be_slice(e, e_bits).map_err(bad)?,
        BoxedUint::from_be_slice(d, bits).map_err(bad)?,
        Vec::new(),
    )
    .map_err(|_| Failure::PkaTokenField)?;
    rc_der(&key)
}

/// The raw private operation m = c^d mod n, blinded, with the CRT fault check, on a
/// big-endian input exactly one modulus long; the output is one modulus long. An input not
/// below n is 8/72 (IBM is silent; the length error a caller can correct).
pub(crate) fn raw_private(key: &PrivateKey, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let k = key.size();
    if input.len() != k {
        return Err(Failure::Length);
    }
    let c = BoxedUint::from_be_slice(input, key.n_bits_precision()).map_err(|_| Failure::Length)?;
    let m = rsa::hazmat::rsa_decrypt_and_check(key, Some(&mut AwsRng::default()), &c)
        .map_err(|_| Failure::Length)?;
    Ok(Zeroizing::new(fixed(&m.to_be_bytes(), k)))
}

/// The raw public operation s^e mod n; `None` when s is not below n.
pub(crate) fn raw_public(key: &PublicKey, input: &[u8]) -> Option<Vec<u8>> {
    let k = key.size();
    if input.len() != k {
        return None;
    }
    let s = BoxedUint::from_be_slice(input, key.n_bits_precision()).ok()?;
    if s >= *key.n().as_ref() {
        return None;
    }
    let m = rsa::hazmat::rsa_encrypt(key, &s).ok()?;
    Some(fixed(&m.to_be_bytes(), k))
}

/// `b` (big-endian) as exactly `k` bytes: leading zeros dropped or added.
fn fixed(b: &[u8], k: usize) -> Vec<u8> {
    if b.len() >= k {
        b[b.len() - k..].to_vec()
    } else {
        let mut out = vec![0u8; k - b.len()];
        out.extend_from_slice(b);
        out
    }
}

/// A signature encoding the RustCrypto engine applies.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SigPad {
    /// PKCS #1 v1.5 block type 01 over `prefix ‖ hash` (`prefix` the DER DigestInfo header,
    /// empty for IBM's PKCS-1.0 style raw hash).
    Pkcs1(&'static [u8]),
    /// PSS with MGF1 over the same hash and this salt length.
    Pss(usize),
}

fn pkcs1(prefix: &'static [u8], hash_len: usize) -> rsa::Pkcs1v15Sign {
    rsa::Pkcs1v15Sign {
        hash_len: Some(hash_len),
        prefix: prefix.into(),
    }
}

/// Signs `hash` (its length names SHA-1/224/256/384/512) with a RustCrypto key, blinded.
/// A hash of another length is 8/72; a key too short for the encoding is 8/72.
pub(crate) fn rc_sign(key: &PrivateKey, pad: SigPad, hash: &[u8]) -> Result<Vec<u8>, Failure> {
    use rsa::sha2::{Sha224, Sha256, Sha384, Sha512};
    use rsa::{Pss, traits::SignatureScheme};
    // `rsa` allocates the salt before it checks that it fits: a caller's 4-byte salt length
    // must be checked here first.
    if let SigPad::Pss(salt) = pad
        && salt.saturating_add(hash.len()).saturating_add(2) > key.size()
    {
        return Err(Failure::Length);
    }
    let mut rng = AwsRng::default();
    fn go<S: SignatureScheme>(
        key: &PrivateKey,
        rng: &mut AwsRng,
        s: S,
        hash: &[u8],
    ) -> Result<Vec<u8>, Failure> {
        key.sign_with_rng(rng, s, hash).map_err(|_| Failure::Length)
    }
    match pad {
        SigPad::Pkcs1(prefix) => go(key, &mut rng, pkcs1(prefix, hash.len()), hash),
        SigPad::Pss(salt) => match hash.len() {
            20 => go(
                key,
                &mut rng,
                Pss::<sha1_11::Sha1>::new_with_salt(salt),
                hash,
            ),
            28 => go(key, &mut rng, Pss::<Sha224>::new_with_salt(salt), hash),
            32 => go(key, &mut rng, Pss::<Sha256>::new_with_salt(salt), hash),
            48 => go(key, &mut rng, Pss::<Sha384>::new_with_salt(salt), hash),
            64 => go(key, &mut rng, Pss::<Sha512>::new_with_salt(salt), hash),
            _ => Err(Failure::Length),
        },
    }
}

/// Verifies a signature made by [`rc_sign`] with the public key.
pub(crate) fn rc_verify(key: &PublicKey, pad: SigPad, hash: &[u8], signature: &[u8]) -> bool {
    use rsa::sha2::{Sha224, Sha256, Sha384, Sha512};
    use rsa::{Pss, traits::SignatureScheme};
    fn go<S: SignatureScheme>(key: &PublicKey, s: S, hash: &[u8], signature: &[u8]) -> bool {
        key.verify(s, hash, signature).is_ok()
    }
    if let SigPad::Pss(salt) = pad
        && salt.saturating_add(hash.len()).saturating_add(2) > key.size()
    {
        return false;
    }
    match pad {
        SigPad::Pkcs1(prefix) => go(key, pkcs1(prefix, hash.len()), hash, signature),
        SigPad::Pss(salt) => match hash.len() {
            20 => go(
                key,
                Pss::<sha1_11::Sha1>::new_with_salt(salt),
                hash,
                signature,
            ),
            28 => go(key, Pss::<Sha224>::new_with_salt(salt), hash, signature),
            32 => go(key, Pss::<Sha256>::new_with_salt(salt), hash, signature),
            48 => go(key, Pss::<Sha384>::new_with_salt(salt), hash, signature),
            64 => go(key, Pss::<Sha512>::new_with_salt(salt), hash, signature),
            _ => false,
        },
    }
}

/// OAEP (MGF1 with the same hash, empty label) under a RustCrypto public key; `h_len` names
/// SHA-1/224/256/384/512. A value too long is 8/72.
pub(crate) fn rc_oaep_encrypt(
    key: &PublicKey,
    h_len: usize,
    value: &[u8],
) -> Result<Vec<u8>, Failure> {
    use rsa::Oaep;
    use rsa::sha2::{Sha224, Sha256, Sha384, Sha512};
    let mut rng = AwsRng::default();
    let r = match h_len {
        20 => key.encrypt(&mut rng, Oaep::<sha1_11::Sha1>::new(), value),
        28 => key.encrypt(&mut rng, Oaep::<Sha224>::new(), value),
        32 => key.encrypt(&mut rng, Oaep::<Sha256>::new(), value),
        48 => key.encrypt(&mut rng, Oaep::<Sha384>::new(), value),
        64 => key.encrypt(&mut rng, Oaep::<Sha512>::new(), value),
        _ => return Err(Failure::NotSupported),
    };
    r.map_err(|_| Failure::Length)
}

/// OAEP decryption with a RustCrypto key (blinded, constant-time decoding in `rsa`); every
/// failure is the one 8/2054. `rsa` 0.10 ignores the first octet of the encoded message on
/// purpose, which RFC 8017 §7.1.2 step 3.g requires to be zero (Wycheproof: "First byte is
/// 1"), so the raw private operation is also done here and its first octet checked; both
/// operations always run and their verdicts are combined before any branch.
pub(crate) fn rc_oaep_decrypt(
    key: &PrivateKey,
    h_len: usize,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    use rsa::Oaep;
    use rsa::sha2::{Sha224, Sha256, Sha384, Sha512};
    let mut rng = AwsRng::default();
    let r = match h_len {
        20 => key.decrypt_blinded(&mut rng, Oaep::<sha1_11::Sha1>::new(), ciphertext),
        28 => key.decrypt_blinded(&mut rng, Oaep::<Sha224>::new(), ciphertext),
        32 => key.decrypt_blinded(&mut rng, Oaep::<Sha256>::new(), ciphertext),
        48 => key.decrypt_blinded(&mut rng, Oaep::<Sha384>::new(), ciphertext),
        64 => key.decrypt_blinded(&mut rng, Oaep::<Sha512>::new(), ciphertext),
        _ => return Err(Failure::NotSupported),
    };
    let raw = raw_private(key, ciphertext);
    let first_zero = matches!(&raw, Ok(em) if em.first() == Some(&0));
    match r {
        Ok(m) if first_zero => Ok(Zeroizing::new(m)),
        Ok(mut m) => {
            zeroize::Zeroize::zeroize(&mut m);
            Err(Failure::PkaDecryptDecode)
        }
        Err(_) => Err(Failure::PkaDecryptDecode),
    }
}

/// PKCS #1 v1.5 encryption under a RustCrypto public key.
pub(crate) fn rc_pkcs1_encrypt(key: &PublicKey, value: &[u8]) -> Result<Vec<u8>, Failure> {
    key.encrypt(&mut AwsRng::default(), rsa::Pkcs1v15Encrypt, value)
        .map_err(|_| Failure::Length)
}

/// PKCS #1 v1.5 decryption with implicit rejection (draft-irtf-cfrg-rsa-guidance-10 §7):
/// a bad padding yields a deterministic synthetic message (a function of d and the
/// ciphertext), not an error. The one error left (a ciphertext not below n, an unusable key)
/// is 8/2054.
pub(crate) fn rc_pkcs1_decrypt(
    key: &PrivateKey,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    key.decrypt_blinded(&mut AwsRng::default(), rsa::Pkcs1v15Encrypt, ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| Failure::PkaDecryptDecode)
}
