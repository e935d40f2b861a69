//! The ECC half of the PKA verbs (entered through [`super::pka`]): PKA_Key_Token_Build
//! (CSNDPKB ECC-PAIR, ECC-PUBL), PKA_Key_Generate (CSNDPKG), PKA_Key_Import (CSNDPKI ECC),
//! PKA_Public_Key_Extract (CSNDPKX), PKA_Key_Token_Change (CSNDKTC RTCMK),
//! Digital_Signature_Generate/Verify (CSNDDSG, CSNDDSV with ECDSA and EDDSA) and
//! ECC_Diffie-Hellman (CSNDEDH PASSTHRU, DERIV01, DERIV02). The private-key section is
//! [`crate::tokens::pka_ecc`].
//!
//! Sources:
//! - IBM Docs "CCA for Linux", PKA Key Token Build, Key Generate, Key Import, Public Key
//!   Extract, Digital Signature Generate/Verify, ECC Diffie-Hellman (lxcc/wskc_r_xpkgrequired,
//!   wskc_r_pkirequired, wskc_r_pkx, wskc_r_dsgrequired, l0wskc105, wskc_r_vbecdhvb_req_cmd,
//!   l0wskc97); summarized with their keywords in `/work/shared/docs/CCA-FACTS-pka-access-clu.md`
//!   §7–§9. ICSF "ECC key token format" (csfb200/ecctf.htm) for the usage byte.
//! - IBM Docs "CCA for Linux", PKA Key Token Build
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_pkb.html>): skeletons for key
//!   generation, clear private keys for PKA Key Import, public-key tokens; "If an ECC private
//!   key specifies an Edwards curve, it can be used for EdDSA only".
//! - IBM Docs "CCA for Linux", "EC Diffie-Hellman (CSNDEDH)"
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=keys-ec-diffie-hellman-csndedh>):
//!   "Z" is one of the verb's outputs; both keys need the same curve type and size, and a
//!   key-usage field that permits key establishment (KEY-MGMT or KM-ONLY); one to six
//!   rule-array keywords; party information 8 to 256 bytes. Restrictions
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_l0wskc97.html>): "A clear private
//!   key is only allowed when rule-array keyword DERIV01 is specified". Required commands
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csndedh-required-commands>):
//!   PASSTHRU has its own control point (X'0361'); softcca has no access control yet.
//! - opencryptoki `cca_specific.c` (`/work/shared/docs/REFERENCES.md`): CSNDPKB
//!   `ECC-PAIR KEY-MGMT ECC-VER1` with 4-byte derivation data, `ECC-PAIR SIG-ONLY` for
//!   Edwards keys, `ECC-PUBL`; CSNDPKG `MASTER`; the ECDSA signature as r ‖ s, each the
//!   length of the curve's order, big-endian (opencryptoki hands CCA's signature to PKCS #11,
//!   whose CKM_ECDSA signature is exactly that); 8/874 "curve not supported".
//!
//! Parameter blocks (those of [`super::pka`]; CSNDEDH here):
//! - CSNDEDH: rule array 1–4; params `[Bytes private_key_identifier, Bytes
//!   private_KEK_key_identifier, Bytes public_key_identifier, Bytes hash_bytes (chain data),
//!   Bytes party_info, Int key_bit_length, Bytes reserved_1, Bytes reserved_2, Bytes
//!   reserved_3, Bytes reserved_4, Bytes reserved_5, Bytes output_KEK_key_identifier, Bytes
//!   output_key_identifier, Int output_key_identifier_length]` → `[Bytes
//!   output_key_identifier]`. With PASSTHRU the output is the shared secret Z (the
//!   x-coordinate of d·Q, the field's length in bytes), as opencryptoki's ECDH derive takes it.
//!   With DERIV01/DERIV02 the output is the derived key in the form of the output skeleton
//!   (an internal token under the master key).
//!
//! Curves: P-256, P-384 and P-521 (ECDSA, ECDH; aws-lc-rs), Ed25519 (EdDSA; aws-lc-rs,
//! curve type X'02', 255 bits), Ed448 (EdDSA, RFC 8032 pure Ed448 with an empty context;
//! RustCrypto `ed448-goldilocks`, curve type X'02', 448 bits, 57-byte d and q, 114-byte
//! signatures), and P-192, P-224, Brainpool P-192r1, P-256r1, P-384r1 and P-512r1 (ECDSA,
//! ECDH; RustCrypto, [`super::ecc_rc`], whose ECDSA nonces come from the card's DRBG;
//! P-192r1 and P-512r1 are RFC 5639's constants on RustCrypto's generic field and point
//! arithmetic, [`super::ecc_bp`]). Tokens for Brainpool P-160r1, P-224r1 and P-320r1 are
//! built, parsed and extracted, but a verb that needs their arithmetic answers 8/874 ("curve
//! not supported", opencryptoki's reading of IBM's code): no maintained crate gives their
//! arithmetic without hand-written glue ([`super::ecc_bp`] says why).
//!
//! What softcca chose where **IBM is silent**:
//! - An output buffer (`…_length` Int) smaller than the result: 8/72.
//! - CSNDPKB: a key-value structure whose lengths disagree with its size, a d longer than
//!   the curve's, a q that is not an uncompressed point of the curve's length (or not on the
//!   curve, for the supported curves), a d that does not match q: 8/72. A curve CCA does not
//!   define: 8/874. `private_key_name` empty or 64 bytes (kept as the key label in the
//!   associated data); user-definable associated data at most 100 bytes; reserved
//!   parameters empty (8/72 otherwise). Key-derivation data only with ECC-VER1 and then
//!   exactly 4 bytes (8/72). softcca keeps the four bytes as IBM extended associated data of
//!   the X'20' section (so the wrap binds them) and repeats them in a X'23' section after the
//!   public section (header X'23', version 0, length 8, then the four bytes: the layout
//!   opencryptoki's `cca_ec_ecc_key_derivation_info` reads; IBM's own page for the section
//!   was not found). A X'23' section that does not repeat the bound bytes is 8/770. KEY-MGMT or KM-ONLY
//!   with an Edwards curve, or a usage keyword with ECC-PUBL: 8/34.
//! - CSNDPKG: XPORT and CLONE 8/2 (no ECC transport wrap yet); RETAIN 8/34 (IBM: retained
//!   keys are RSA only); regeneration data 8/2. The skeleton must be an ECC token with a
//!   private section without d and an empty q (8/770 otherwise). Every generated pair
//!   signs and verifies (or agrees) once before it leaves; a failure there is 12/338 and no
//!   key is returned. d comes from the card's DRBG; ECDSA nonces from aws-lc-rs.
//! - CSNDPKI: the source must be an external token with a clear d (8/770 otherwise); the
//!   importer is not used for a clear key (any value); d must match q (8/72).
//! - CSNDDSG/CSNDDSV (IBM Docs "CCA for Linux", Digital Signature Generate,
//!   <https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_dsg.html>, usage notes
//!   <https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_dsgusage.html>: rule count 0–8, "the
//!   ECC signature generated is according to ANSI X9.30"): with an ECC key, ECDSA or EDDSA is required (an RSA formatting keyword
//!   or none: 8/34; EC-SDSA 8/2). ECDSA takes the hash as given (HASH, the default; IBM: "no
//!   restrictions for the hash length") and uses its leftmost bits as FIPS 186-4 says (a
//!   shorter hash is taken as the integer it is, left-padded), or
//!   hashes the message itself (MESSAGE with SHA-256/384/512); an empty hash, or a hash
//!   longer than 64 bytes with P-521, is 8/72. EDDSA signs the data as the message (EdDSA
//!   is defined on messages; IBM: at most 8192 bytes, 8/72 beyond), with SHA-512 or no hash
//!   keyword for Ed25519 and no hash keyword for Ed448 (it hashes with SHAKE256, which IBM's
//!   keyword list here does not name; a hash keyword is 8/34). A signature of the wrong
//!   length is 8/72, one that does not verify 4/429. A KM-ONLY key cannot sign (8/39).
//! - CSNDKTC RTCMK: a token whose section is under the current APKA master key is returned
//!   as it is; under OLD it is re-enciphered (only its OPK); an external or public token is
//!   returned unchanged.
//! - CSNDEDH DERIV01/DERIV02 (IBM: symmetric key material from the static unified model;
//!   opencryptoki `cca_specific.c` `cca_ecdh_pkcs_derive_kdf` sends `DERIV02 KEY-AES
//!   SHA-nnn` for PKCS #11's CKD_SHAnnn_KDF, which is the ANS X9.63 KDF, with the shared
//!   data as party information). IBM's KDF texts were not retrieved whole, so:
//!   DERIV02 is the ANS X9.63 KDF, K = H(Z ‖ counter ‖ party_info), with SHA-224/256/384/512
//!   (SHA-256 without a hash keyword: IBM is silent); DERIV01 is the NIST SP 800-56A
//!   single-step (concatenation) KDF with SHA-256, K = H(counter ‖ Z ‖ party_info), a hash
//!   keyword with it 8/34 (unsure). The counter is 32-bit big-endian from 1; the key is the
//!   leftmost key_bit_length bits. The output skeleton (output_key_identifier) is an internal
//!   fixed-length AES token (X'04', e.g. no key; any internal AES token is refilled), an
//!   internal variable-length AES token (X'05'; the derived key gets its associated data with
//!   key-management field 3 pedigree X'0303', "key agreement", unsure of IBM's value) or an
//!   internal DES token (its CV kept, IBM's default DATA CV for a zero CV; the key gets odd
//!   parity). key_bit_length: AES 128/192/256, DES 64/128/192 and the CV's length form,
//!   else 8/2149. An external skeleton or a non-null output KEK (an external output) is 8/2;
//!   another token 8/47; QSA-ECDH 8/2; chain data (hash_bytes) non-empty 8/72. IBM's table
//!   of minimum curve sizes per output length (AES-256 from a 512-bit curve) is not enforced:
//!   opencryptoki derives AES-256 from P-256 keys by default. KEY-AES/KEY-DES name the
//!   output KEK's type and are accepted without one. A clear private key is allowed with
//!   DERIV01 only (IBM), 8/34 otherwise. With DERIV02 the private key must carry CSNDPKB
//!   ECC-VER1 key-derivation data (opencryptoki: "CCA requires" its X'23' section) and must
//!   have been generated at random, not imported from clear (opencryptoki's words again):
//!   8/39 otherwise. When the key carries derivation data (algorithm X'02' AES / X'01' DES,
//!   type X'01' DATA / X'04' CIPHER, size in bits), the output must be of that algorithm and
//!   type (8/39; a fixed-length AES token is DATA, a variable-length AES CIPHER token is
//!   CIPHER) and size (8/2149). The four bytes are the private section's IBM extended
//!   associated data, repeated in the X'23' section opencryptoki reads (see CSNDPKB).
//! - CSNDEDH PASSTHRU needs an internal private key
//!   (a clear key: 8/34, IBM allows clear keys only with DERIV01); SIG-ONLY keys cannot agree
//!   (8/39; opencryptoki maps IBM's 8/2243–2246 to "function not permitted", softcca's code
//!   is the control-vector violation); curves differing between the keys 8/2158
//!   (opencryptoki's "curve mismatch"). party_info empty or 8–256 bytes; reserved empty.

use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use aws_lc_rs::{agreement, digest};
use softcca_wire::Param;
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::mk::Class;
use crate::rules::{self, Element, Grammar, Group};
use crate::tokens::aes::AesToken;
use crate::tokens::des::DesToken;
use crate::tokens::pka::{self, Curve, EccPublic, Framed, Kind, id};
use crate::tokens::pka_ecc::{EccPrivate, Material, d_len, format, source, usage};
use crate::tokens::var::{
    Algorithm as VarAlgorithm, VarKey, VarToken, key_type as var_key_type, wrap_var,
};
use crate::tokens::{ClearKey, KeyLength, MasterKeyUsed, cv, wrap};
use crate::verbs::ecc_rc::RcCurve;
use crate::verbs::keys::notice_for;
use crate::verbs::{Params, Reply};

// ---------------------------------------------------------------------------------------
// The curves softcca computes on.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    P256,
    P384,
    P521,
    Ed25519,
    /// Ed448 (RustCrypto `ed448-goldilocks`, [`ed448`]).
    Ed448,
    /// P-192, P-224, Brainpool P-256r1 and P-384r1 ([`super::ecc_rc`]).
    Rc(RcCurve),
}

fn engine(curve: Curve) -> Result<Engine, Failure> {
    match curve {
        Curve::Prime(256) => Ok(Engine::P256),
        Curve::Prime(384) => Ok(Engine::P384),
        Curve::Prime(521) => Ok(Engine::P521),
        Curve::Edwards(255) => Ok(Engine::Ed25519),
        Curve::Edwards(448) => Ok(Engine::Ed448),
        Curve::Prime(192) => Ok(Engine::Rc(RcCurve::P192)),
        Curve::Prime(224) => Ok(Engine::Rc(RcCurve::P224)),
        Curve::Brainpool(256) => Ok(Engine::Rc(RcCurve::Bp256)),
        Curve::Brainpool(384) => Ok(Engine::Rc(RcCurve::Bp384)),
        Curve::Brainpool(192) => Ok(Engine::Rc(RcCurve::Bp192)),
        Curve::Brainpool(512) => Ok(Engine::Rc(RcCurve::Bp512)),
        _ => Err(Failure::CurveNotSupported),
    }
}

impl Engine {
    fn ecdh(self) -> Option<&'static agreement::Algorithm> {
        match self {
            Engine::P256 => Some(&agreement::ECDH_P256),
            Engine::P384 => Some(&agreement::ECDH_P384),
            Engine::P521 => Some(&agreement::ECDH_P521),
            Engine::Ed25519 | Engine::Ed448 | Engine::Rc(_) => None,
        }
    }

    /// The ECDSA algorithm, and the digest length its input is normalized to.
    fn ecdsa(
        self,
    ) -> Option<(
        &'static sig::EcdsaSigningAlgorithm,
        &'static sig::EcdsaVerificationAlgorithm,
        &'static digest::Algorithm,
    )> {
        match self {
            Engine::P256 => Some((
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                &sig::ECDSA_P256_SHA256_FIXED,
                &digest::SHA256,
            )),
            Engine::P384 => Some((
                &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
                &sig::ECDSA_P384_SHA384_FIXED,
                &digest::SHA384,
            )),
            Engine::P521 => Some((
                &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
                &sig::ECDSA_P521_SHA512_FIXED,
                &digest::SHA512,
            )),
            Engine::Ed25519 | Engine::Ed448 | Engine::Rc(_) => None,
        }
    }

    /// Whether this is an Edwards curve (EdDSA only).
    fn edwards(self) -> bool {
        matches!(self, Engine::Ed25519 | Engine::Ed448)
    }

    /// The length of r and of s (and of an EdDSA signature's halves).
    fn scalar_len(self) -> usize {
        match self {
            Engine::P256 | Engine::Ed25519 => 32,
            Engine::P384 => 48,
            Engine::P521 => 66,
            Engine::Ed448 => 57,
            Engine::Rc(c) => c.scalar_len(),
        }
    }

    /// The public point of d; 8/72 when d is not a valid private value.
    fn public(self, d: &[u8]) -> Result<Vec<u8>, Failure> {
        if let Engine::Rc(c) = self {
            return c.public(d).ok_or(Failure::Length);
        }
        if self == Engine::Ed448 {
            return ed448::public(d).ok_or(Failure::Length);
        }
        match self.ecdh() {
            Some(alg) => {
                let k =
                    agreement::PrivateKey::from_private_key(alg, d).map_err(|_| Failure::Length)?;
                let q = k.compute_public_key().map_err(|_| Failure::Length)?;
                Ok(q.as_ref().to_vec())
            }
            None => {
                let kp = Ed25519KeyPair::from_seed_unchecked(d).map_err(|_| Failure::Length)?;
                Ok(kp.public_key().as_ref().to_vec())
            }
        }
    }

    /// Whether q is a valid public key of the curve.
    fn valid_public(self, q: &[u8]) -> bool {
        if let Engine::Rc(c) = self {
            return c.valid_public(q);
        }
        if self == Engine::Ed448 {
            return ed448::valid_public(q);
        }
        match self.ecdsa() {
            Some((_, v, _)) => UnparsedPublicKey::new(v, q).parse().is_ok(),
            None => UnparsedPublicKey::new(&sig::ED25519, q).parse().is_ok(),
        }
    }

    /// ECDSA: the hash as the curve's digest (leftmost bytes, or left-padded with zeros, which
    /// leaves its integer value, and so the signature, unchanged). 8/72 for an empty hash, and
    /// for P-521 a hash longer than 64 bytes (its leftmost 521 bits do not fit the SHA-512
    /// digest aws-lc-rs signs).
    fn digest(self, hash: &[u8]) -> Result<digest::Digest, Failure> {
        let (_, _, alg) = self.ecdsa().ok_or(Failure::KeywordCombination)?;
        let n = alg.output_len();
        if hash.is_empty() || (hash.len() > n && self == Engine::P521) {
            return Err(Failure::Length);
        }
        let mut buf = [0u8; 64];
        if hash.len() >= n {
            buf[..n].copy_from_slice(&hash[..n]);
        } else {
            buf[n - hash.len()..n].copy_from_slice(hash);
        }
        digest::Digest::import_less_safe(&buf[..n], alg).map_err(|_| Failure::Length)
    }

    fn sign(self, card: &Card, d: &[u8], q: &[u8], data: &[u8]) -> Result<Vec<u8>, Failure> {
        if let Engine::Rc(c) = self {
            let z = rc_hash(c, data)?;
            let mut k = Zeroizing::new(vec![0u8; c.scalar_len()]);
            for _ in 0..64 {
                card.random(&mut k)?;
                if let Some(signature) = c.sign(d, &k, &z) {
                    return Ok(signature);
                }
            }
            return Err(Failure::PkaTokenField);
        }
        if self == Engine::Ed448 {
            return ed448::sign(d, q, data).ok_or(Failure::PkaTokenField);
        }
        match self.ecdsa() {
            Some((s, _, _)) => {
                let digest = self.digest(data)?;
                let kp = EcdsaKeyPair::from_private_key_and_public_key(s, d, q)
                    .map_err(|_| Failure::PkaTokenField)?;
                let signature = kp
                    .sign_digest(&digest)
                    .map_err(|_| Failure::PkaTokenField)?;
                Ok(signature.as_ref().to_vec())
            }
            None => {
                let kp = Ed25519KeyPair::from_seed_and_public_key(d, q)
                    .map_err(|_| Failure::PkaTokenField)?;
                Ok(kp.sign(data).as_ref().to_vec())
            }
        }
    }

    fn verify(self, q: &[u8], data: &[u8], signature: &[u8]) -> Result<bool, Failure> {
        if signature.len() != 2 * self.scalar_len() {
            return Err(Failure::Length);
        }
        if let Engine::Rc(c) = self {
            return Ok(c.verify(q, &rc_hash(c, data)?, signature));
        }
        if self == Engine::Ed448 {
            return Ok(ed448::verify(q, data, signature));
        }
        Ok(match self.ecdsa() {
            Some((_, v, _)) => {
                let digest = self.digest(data)?;
                UnparsedPublicKey::new(v, q)
                    .verify_digest(&digest, signature)
                    .is_ok()
            }
            None => UnparsedPublicKey::new(&sig::ED25519, q)
                .verify(data, signature)
                .is_ok(),
        })
    }

    /// A fresh private value from the card's DRBG, and its public point.
    fn generate(self, card: &Card) -> Result<(ClearKey, Vec<u8>), Failure> {
        let n = self.scalar_len();
        for _ in 0..64 {
            let mut d = Zeroizing::new(vec![0u8; n]);
            card.random(&mut d)?;
            if self == Engine::P521 {
                d[0] &= 0x01;
            }
            if let Ok(q) = self.public(&d) {
                return Ok((ClearKey::new(&d), q));
            }
        }
        Err(Failure::CardUnavailable)
    }
}

/// The hash as the curve's length: its leftmost bytes, or left-padded with zeros (which
/// leaves its integer value unchanged); 8/72 when empty.
fn rc_hash(c: RcCurve, hash: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let n = c.scalar_len();
    if hash.is_empty() {
        return Err(Failure::Length);
    }
    let mut out = Zeroizing::new(vec![0u8; n]);
    if hash.len() >= n {
        out.copy_from_slice(&hash[..n]);
    } else {
        out[n - hash.len()..].copy_from_slice(hash);
    }
    Ok(out)
}

/// d left-padded to the curve's length.
fn padded_d(curve: Curve, d: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let n = d_len(curve);
    if d.is_empty() || d.len() > n {
        return Err(Failure::Length);
    }
    let mut out = Zeroizing::new(vec![0u8; n]);
    out[n - d.len()..].copy_from_slice(d);
    Ok(out)
}

/// Checks that d and q are one key pair of a supported curve.
fn check_pair(curve: Curve, d: &[u8], q: &[u8]) -> Result<(), Failure> {
    let e = engine(curve)?;
    if e.public(d)? != q {
        return Err(Failure::Length);
    }
    Ok(())
}

/// Ed448 (RFC 8032 §5.2, pure Ed448 with an empty context) through RustCrypto's
/// `ed448-goldilocks`: d is the 57-byte seed, q the 57-byte encoded point, a signature
/// 114 bytes. Every function answers `None` (or false) for an invalid input.
mod ed448 {
    use ed448_goldilocks::{Signature, SigningKey, VerifyingKey};

    /// The signing key of a 57-byte seed (the local copy is zeroized; the crate's key type
    /// holds the seed as it holds it).
    fn seed(d: &[u8]) -> Option<SigningKey> {
        if d.len() != 57 {
            return None;
        }
        let mut bytes = zeroize::Zeroizing::new([0u8; 57]);
        bytes.copy_from_slice(d);
        Some(SigningKey::from(ed448_goldilocks::SecretKey::from(*bytes)))
    }

    pub(super) fn public(d: &[u8]) -> Option<Vec<u8>> {
        Some(seed(d)?.verifying_key().to_bytes().to_vec())
    }

    fn point(q: &[u8]) -> Option<VerifyingKey> {
        let bytes: [u8; 57] = q.try_into().ok()?;
        VerifyingKey::from_bytes(&bytes).ok()
    }

    pub(super) fn valid_public(q: &[u8]) -> bool {
        point(q).is_some()
    }

    pub(super) fn sign(d: &[u8], q: &[u8], message: &[u8]) -> Option<Vec<u8>> {
        let key = seed(d)?;
        if key.verifying_key().to_bytes().as_slice() != q {
            return None;
        }
        Some(key.sign_raw(message).to_bytes().to_vec())
    }

    pub(super) fn verify(q: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let (Some(key), Ok(s)) = (point(q), Signature::try_from(signature)) else {
            return false;
        };
        key.verify_raw(&s, message).is_ok()
    }
}

// ---------------------------------------------------------------------------------------
// Tokens.

/// An ECC token's sections.
#[derive(Debug)]
pub(crate) struct EccToken {
    pub kind: Kind,
    pub private: Option<EccPrivate>,
    pub public: EccPublic,
}

impl EccToken {
    pub(crate) fn parse(bytes: &[u8]) -> Result<EccToken, Failure> {
        let (kind, sections) = match pka::frame(bytes)? {
            Framed::Token { kind, sections, .. } => (kind, sections),
            Framed::Null => return Err(Failure::PkaTokenField),
        };
        let (private, public, derivation) = match sections.as_slice() {
            [p, q] if p.id == id::ECC_PRIVATE => (
                Some(EccPrivate::parse(p.bytes)?),
                EccPublic::parse(q.bytes)?,
                None,
            ),
            [p, q, x] if p.id == id::ECC_PRIVATE && x.id == id::ECC_DERIVATION => (
                Some(EccPrivate::parse(p.bytes)?),
                EccPublic::parse(q.bytes)?,
                Some(x),
            ),
            [q] if q.id == id::ECC_PUBLIC => (None, EccPublic::parse(q.bytes)?, None),
            _ => return Err(Failure::PkaTokenField),
        };
        // The X'23' section repeats the key-derivation data the private section binds (its
        // IBM extended associated data): version 0, four bytes, the same four bytes.
        if let (Some(x), Some(p)) = (derivation, &private)
            && (x.version != 0
                || x.bytes.len() != 8
                || p.extended_ad.len() != 4
                || x.bytes[4..] != p.extended_ad[..])
        {
            return Err(Failure::PkaTokenField);
        }
        if let Some(p) = &private {
            // An internal token holds a wrapped d; an external one a clear d or none.
            let internal = matches!(p.material, Material::Wrapped { .. });
            if internal != (kind == Kind::Internal) || p.curve != public.curve {
                return Err(Failure::PkaTokenField);
            }
        } else if kind == Kind::Internal {
            return Err(Failure::PkaTokenField);
        }
        Ok(EccToken {
            kind,
            private,
            public,
        })
    }

    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        let public = self.public.to_bytes()?;
        match &self.private {
            Some(p) if p.extended_ad.len() == 4 => {
                let mut derivation = vec![id::ECC_DERIVATION, 0, 0, 8];
                derivation.extend_from_slice(&p.extended_ad);
                pka::assemble(self.kind, &[&p.to_bytes()?, &public, &derivation])
            }
            Some(p) => pka::assemble(self.kind, &[&p.to_bytes()?, &public]),
            None => pka::assemble(self.kind, &[&public]),
        }
    }
}

/// An operational ECC private key.
#[derive(Debug)]
pub(crate) struct EccOpKey {
    /// The private section.
    pub private: EccPrivate,
    /// The public point.
    pub q: Vec<u8>,
    /// d.
    pub d: ClearKey,
    /// Which master key unwrapped d; `None` for a clear key.
    pub used: Option<MasterKeyUsed>,
}

impl Card {
    /// Parses `identifier` as an ECC token with a private key and returns d, unwrapped under
    /// the CURRENT or OLD APKA master key (8/24 for neither, 12/764 without a current one).
    /// A public token or a skeleton is 8/770.
    pub(crate) fn ecc_key(&self, identifier: &[u8]) -> Result<EccOpKey, Failure> {
        let token = EccToken::parse(identifier)?;
        let private = token.private.ok_or(Failure::PkaTokenField)?;
        if token.public.q.is_empty() {
            return Err(Failure::PkaTokenField);
        }
        let (d, used) =
            self.with_master_keys(Class::Apka, |cur, old| private.private_value(cur, old))?;
        Ok(EccOpKey {
            private,
            q: token.public.q,
            d,
            used,
        })
    }

    fn wrap_ecc(&self, section: &EccPrivate, d: &[u8]) -> Result<EccPrivate, Failure> {
        let mut seed = Zeroizing::new([0u8; 40]);
        self.random(&mut seed[..])?;
        self.with_master_keys(Class::Apka, |cur, _| {
            let mk = cur.ok_or(Failure::MasterKeyNotLoaded)?;
            section.wrap(d, mk, &seed)
        })
    }
}

fn capacity(p: Params, index: usize, out: &[u8]) -> Result<(), Failure> {
    let cap = usize::try_from(p.int(index)?).map_err(|_| Failure::Length)?;
    if cap < out.len() {
        return Err(Failure::Length);
    }
    Ok(())
}

fn one(out: Vec<u8>) -> Reply {
    Reply::outputs(vec![Param::Bytes(out)])
}

// ---------------------------------------------------------------------------------------
// CSNDPKB.

const PKB: Grammar = Grammar {
    min: 1,
    max: 3,
    groups: &[
        Group::required(&["ECC-PAIR", "ECC-PUBL"]),
        Group::optional_none(&["SIG-ONLY", "KEY-MGMT", "KM-ONLY"]),
        Group::optional_none(&["ECC-VER1"]),
    ],
};

fn kvs_curve(kvs: &[u8]) -> Result<Curve, Failure> {
    if kvs.len() < 4 || kvs[1] != 0 {
        return Err(Failure::Length);
    }
    Curve::from_fields(kvs[0], u16::from_be_bytes([kvs[2], kvs[3]]))
        .ok_or(Failure::CurveNotSupported)
}

fn be16(b: &[u8], at: usize) -> Result<usize, Failure> {
    match b.get(at..at + 2) {
        Some(&[h, l]) => Ok(usize::from(u16::from_be_bytes([h, l]))),
        _ => Err(Failure::Length),
    }
}

fn check_q(curve: Curve, q: &[u8]) -> Result<(), Failure> {
    let weierstrass = !matches!(curve, Curve::Edwards(_));
    if q.len() != curve.q_len() || (weierstrass && q[0] != 0x04) {
        return Err(Failure::Length);
    }
    if let Ok(e) = engine(curve)
        && !e.valid_public(q)
    {
        return Err(Failure::Length);
    }
    Ok(())
}

pub(crate) fn csndpkb(_card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&PKB, rule_array)?;
    p.expect_len(8)?;
    let kvs = p.bytes(0)?;
    let name = p.bytes(1)?;
    let user_ad = p.bytes(2)?;
    let derivation = p.bytes(3)?;
    if !p.bytes(4)?.is_empty() || !p.bytes(5)?.is_empty() || !p.bytes(6)?.is_empty() {
        return Err(Failure::Length);
    }
    let pair = chosen.get(0) == Some("ECC-PAIR");
    let curve = kvs_curve(kvs)?;
    let token = if pair {
        let usage_byte = match chosen.get(1) {
            None | Some("SIG-ONLY") => usage::SIG_ONLY,
            Some("KEY-MGMT") => usage::KEY_MGMT,
            _ => usage::KM_ONLY,
        };
        if matches!(curve, Curve::Edwards(_)) && usage_byte != usage::SIG_ONLY {
            return Err(Failure::KeywordCombination);
        }
        let extended_ad = match (chosen.get(2), derivation.len()) {
            (Some(_), 4) => derivation.to_vec(),
            (None, 0) => Vec::new(),
            _ => return Err(Failure::Length),
        };
        let label = match name.len() {
            0 => None,
            64 => {
                let mut l = [0u8; 64];
                l.copy_from_slice(name);
                Some(l)
            }
            _ => return Err(Failure::Length),
        };
        if user_ad.len() > crate::tokens::pka_ecc::MAX_USER_AD {
            return Err(Failure::Length);
        }
        let d_length = be16(kvs, 4)?;
        let q_length = be16(kvs, 6)?;
        if kvs.len() != 8 + d_length + q_length {
            return Err(Failure::Length);
        }
        let d = &kvs[8..8 + d_length];
        let q = &kvs[8 + d_length..];
        let (material, q) = match (d.is_empty(), q.is_empty()) {
            (true, true) => (Material::Skeleton, Vec::new()),
            (true, false) => return Err(Failure::Length),
            (false, _) => {
                let d = padded_d(curve, d)?;
                let q = if q.is_empty() {
                    engine(curve)?.public(&d)?
                } else {
                    check_q(curve, q)?;
                    check_pair(curve, &d, q)?;
                    q.to_vec()
                };
                (Material::Clear(d), q)
            }
        };
        EccToken {
            kind: Kind::External,
            private: Some(EccPrivate {
                usage: usage_byte,
                curve,
                source: 0,
                label,
                extended_ad,
                user_ad: user_ad.to_vec(),
                material,
            }),
            public: EccPublic { curve, q },
        }
    } else {
        if chosen.get(1).is_some() || chosen.get(2).is_some() {
            return Err(Failure::KeywordCombination);
        }
        if !name.is_empty() || !user_ad.is_empty() || !derivation.is_empty() {
            return Err(Failure::Length);
        }
        let q_length = be16(kvs, 4)?;
        if kvs.len() != 6 + q_length {
            return Err(Failure::Length);
        }
        let q = &kvs[6..];
        check_q(curve, q)?;
        EccToken {
            kind: Kind::External,
            private: None,
            public: EccPublic {
                curve,
                q: q.to_vec(),
            },
        }
    };
    let out = token.to_bytes()?;
    capacity(p, 7, &out)?;
    Ok(one(out))
}

// ---------------------------------------------------------------------------------------
// CSNDPKG.

const PKG: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::required(&["MASTER", "CLEAR", "XPORT", "RETAIN"]),
        Group::optional_none(&["CLONE"]),
    ],
};

/// One signature (or, for KM-ONLY, one agreement with itself) made and checked.
fn pairwise(card: &Card, e: Engine, usage_byte: u8, d: &[u8], q: &[u8]) -> Result<(), Failure> {
    let broken = |_| Failure::CardUnavailable;
    if usage::may_sign(usage_byte) {
        let data = [0x5Au8; 32];
        let s = e.sign(card, d, q, &data).map_err(broken)?;
        if !e.verify(q, &data, &s).map_err(broken)? {
            return Err(Failure::CardUnavailable);
        }
    } else {
        agree(e, d, q).map_err(broken)?;
    }
    Ok(())
}

pub(crate) fn csndpkg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&PKG, rule_array)?;
    p.expect_len(4)?;
    match chosen.get(0) {
        Some("XPORT") => return Err(Failure::NotSupported),
        Some("RETAIN") => return Err(Failure::KeywordCombination),
        _ => {}
    }
    if chosen.get(1).is_some() || !p.bytes(0)?.is_empty() {
        return Err(Failure::NotSupported);
    }
    let transport = p.bytes(2)?;
    if !matches!(transport.len(), 0 | 64) {
        return Err(Failure::Length);
    }
    let skeleton = EccToken::parse(p.bytes(1)?)?;
    let section = match skeleton.private {
        Some(s) if s.material == Material::Skeleton && skeleton.public.q.is_empty() => s,
        _ => return Err(Failure::PkaTokenField),
    };
    let e = engine(section.curve)?;
    let (d, q) = e.generate(card)?;
    pairwise(card, e, section.usage, d.expose(), &q)?;
    let section = EccPrivate {
        source: source::RANDOM,
        ..section
    };
    let (kind, private) = if chosen.get(0) == Some("MASTER") {
        (Kind::Internal, card.wrap_ecc(&section, d.expose())?)
    } else {
        (
            Kind::External,
            EccPrivate {
                material: Material::Clear(Zeroizing::new(d.expose().to_vec())),
                ..section
            },
        )
    };
    let out = EccToken {
        kind,
        private: Some(private),
        public: EccPublic {
            curve: section.curve,
            q,
        },
    }
    .to_bytes()?;
    capacity(p, 3, &out)?;
    Ok(one(out))
}

// ---------------------------------------------------------------------------------------
// CSNDPKI.

const PKI: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::required(&["ECC"]),
        Group::optional_none(&["IKEK-AES", "IKEK-DES", "IKEK-PKA"]),
    ],
};

pub(crate) fn csndpki(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    rules::parse(&PKI, rule_array)?;
    p.expect_len(3)?;
    let source_token = EccToken::parse(p.bytes(0)?)?;
    let private = source_token.private.ok_or(Failure::PkaTokenField)?;
    let Material::Clear(d) = &private.material else {
        return Err(Failure::PkaTokenField);
    };
    let q = source_token.public.q;
    check_pair(private.curve, d, &q)?;
    let section = EccPrivate {
        source: source::CLEAR_IMPORT,
        ..private.clone()
    };
    let wrapped = card.wrap_ecc(&section, d)?;
    let out = EccToken {
        kind: Kind::Internal,
        private: Some(wrapped),
        public: EccPublic {
            curve: private.curve,
            q,
        },
    }
    .to_bytes()?;
    capacity(p, 2, &out)?;
    Ok(one(out))
}

// ---------------------------------------------------------------------------------------
// CSNDPKX.

pub(crate) fn csndpkx(_card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(2)?;
    let token = EccToken::parse(p.bytes(0)?)?;
    if token.public.q.is_empty() {
        return Err(Failure::PkaTokenField);
    }
    let out = EccToken {
        kind: Kind::External,
        private: None,
        public: token.public,
    }
    .to_bytes()?;
    capacity(p, 1, &out)?;
    Ok(one(out))
}

// ---------------------------------------------------------------------------------------
// CSNDKTC.

const KTC: Grammar = Grammar {
    min: 1,
    max: 1,
    groups: &[Group::required(&["RTCMK"])],
};

pub(crate) fn csndktc(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    rules::parse(&KTC, rule_array)?;
    p.expect_len(1)?;
    let mut token = EccToken::parse(p.bytes(0)?)?;
    if let Some(private) = &token.private
        && let Some(mkvp) = private.mkvp()
    {
        let moved = card.with_master_keys(Class::Apka, |cur, old| {
            let cur = cur.ok_or(Failure::MasterKeyNotLoaded)?;
            if crate::mk::verification_pattern(Class::Apka, cur) == mkvp {
                return Ok(None);
            }
            match old {
                Some(o) if crate::mk::verification_pattern(Class::Apka, o) == mkvp => {
                    private.rewrap(o, cur).map(Some)
                }
                _ => Err(Failure::MasterKeyPatternUnknown),
            }
        })?;
        if let Some(m) = moved {
            token.private = Some(m);
        }
    }
    Ok(one(token.to_bytes()?))
}

// ---------------------------------------------------------------------------------------
// CSNDDSG, CSNDDSV.

const DSG: Grammar = Grammar {
    min: 0,
    max: 8,
    groups: &[
        Group::optional(
            &[
                "ECDSA", "EDDSA", "EC-SDSA", "ISO-9796", "PKCS-1.0", "PKCS-1.1", "PKCS-PSS",
                "X9.31", "ZERO-PAD",
            ],
            "ISO-9796",
        ),
        Group::optional(&["HASH", "MESSAGE"], "HASH"),
        Group::optional_none(&["SHA-256", "SHA-384", "SHA-512"]),
    ],
};

const DSV: Grammar = Grammar {
    min: 0,
    max: 9,
    groups: &[
        DSG.groups[0],
        DSG.groups[1],
        DSG.groups[2],
        Group::optional(&["EXMATCH", "NEXMATCH"], "EXMATCH"),
    ],
};

/// IBM's limit on an EDDSA message (CSNDDSG usage notes).
const MAX_EDDSA_MESSAGE: usize = 8192;

/// The data to sign or verify: the hash as given, or the message hashed (MESSAGE, ECDSA).
fn signed_data(
    e: Engine,
    chosen: &rules::Chosen,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    match chosen.get(0) {
        Some("ECDSA") if !e.edwards() => {}
        Some("EDDSA") if e.edwards() => {
            // Ed25519 hashes with SHA-512 (the keyword may name it); Ed448 with SHAKE256,
            // which has no keyword here.
            let hash_ok = match e {
                Engine::Ed25519 => matches!(chosen.get(2), None | Some("SHA-512")),
                _ => chosen.get(2).is_none(),
            };
            if !hash_ok {
                return Err(Failure::KeywordCombination);
            }
            if data.len() > MAX_EDDSA_MESSAGE {
                return Err(Failure::Length);
            }
            return Ok(Zeroizing::new(data.to_vec()));
        }
        Some("EC-SDSA") => return Err(Failure::NotSupported),
        _ => return Err(Failure::KeywordCombination),
    }
    match (chosen.get(1), chosen.get(2)) {
        (Some("MESSAGE"), Some(m)) => {
            let alg = match m {
                "SHA-256" => &digest::SHA256,
                "SHA-384" => &digest::SHA384,
                _ => &digest::SHA512,
            };
            Ok(Zeroizing::new(digest::digest(alg, data).as_ref().to_vec()))
        }
        (Some("HASH"), None) => Ok(Zeroizing::new(data.to_vec())),
        _ => Err(Failure::KeywordCombination),
    }
}

pub(crate) fn csnddsg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&DSG, rule_array)?;
    p.expect_len(3)?;
    let key = card.ecc_key(p.bytes(0)?)?;
    let e = engine(key.private.curve)?;
    let data = signed_data(e, &chosen, p.bytes(1)?)?;
    if !usage::may_sign(key.private.usage) {
        return Err(Failure::ControlVector);
    }
    let signature = e.sign(card, key.d.expose(), &key.q, &data)?;
    capacity(p, 2, &signature)?;
    let bits = i32::try_from(signature.len() * 8).map_err(|_| Failure::Length)?;
    Ok(Reply {
        notice: key.used.and_then(notice_for),
        outputs: vec![Param::Int(bits), Param::Bytes(signature)],
        ..Reply::default()
    })
}

pub(crate) fn csnddsv(_card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&DSV, rule_array)?;
    p.expect_len(3)?;
    let token = EccToken::parse(p.bytes(0)?)?;
    if token.public.q.is_empty() {
        return Err(Failure::PkaTokenField);
    }
    let e = engine(token.public.curve)?;
    let data = signed_data(e, &chosen, p.bytes(1)?)?;
    if e.verify(&token.public.q, &data, p.bytes(2)?)? {
        Ok(Reply::default())
    } else {
        Ok(Reply {
            notice: Some(Notice::SignatureNotVerified),
            ..Reply::default()
        })
    }
}

// ---------------------------------------------------------------------------------------
// CSNDEDH.

const EDH: Grammar = Grammar {
    min: 1,
    max: 6,
    groups: &[
        Group::required(&["DERIV01", "DERIV02", "PASSTHRU"]),
        Group::optional_none(&["KEY-AES", "KEY-DES"]),
        Group::optional_none(&["SHA-224", "SHA-256", "SHA-384", "SHA-512"]),
        Group::optional_none(&["QSA-ECDH"]),
    ],
};

fn agree(e: Engine, d: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
    if let Engine::Rc(c) = e {
        return c.agree(d, peer).ok_or(Failure::PkaTokenField);
    }
    let alg = e.ecdh().ok_or(Failure::KeywordCombination)?;
    let k = agreement::PrivateKey::from_private_key(alg, d).map_err(|_| Failure::PkaTokenField)?;
    agreement::agree(
        &k,
        agreement::UnparsedPublicKey::new(alg, peer),
        Failure::PkaTokenField,
        |z| Ok(Zeroizing::new(z.to_vec())),
    )
}

/// The derivation scheme of DERIV01 or DERIV02.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// NIST SP 800-56A single-step (concatenation) KDF: H(counter ‖ Z ‖ OtherInfo).
    Concatenation,
    /// ANS X9.63 KDF: H(Z ‖ counter ‖ SharedInfo).
    X963,
}

/// `len` bytes of key material from Z and the party information, the 32-bit big-endian
/// counter starting at 1 in both schemes.
fn kdf(
    scheme: Scheme,
    hash: &'static digest::Algorithm,
    z: &[u8],
    info: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut ctx = digest::Context::new(hash);
        match scheme {
            Scheme::Concatenation => {
                ctx.update(&counter.to_be_bytes());
                ctx.update(z);
            }
            Scheme::X963 => {
                ctx.update(z);
                ctx.update(&counter.to_be_bytes());
            }
        }
        ctx.update(info);
        out.extend_from_slice(ctx.finish().as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// Key-management field 3 of a variable-length key established by key agreement: pedigree
/// X'03' in both bytes, as [`crate::tokens::var::usage::PEDIGREE_RANDOM`] is X'02' in both
/// (IBM's "established by key agreement" pedigree value; unsure, see the module doc).
const PEDIGREE_KEY_AGREEMENT: u16 = 0x0303;

/// What the output skeleton asks for.
enum OutputForm {
    /// A fixed-length AES token (version X'04'), DATA.
    AesFixed,
    /// A variable-length AES token (version X'05') to fill.
    AesVar(Box<VarKey>),
    /// A DES token with this control vector.
    Des([u8; 8], [u8; 8]),
}

/// Judges the output skeleton: an internal fixed-length AES token, an internal AES
/// variable-length token, or an internal DES token (8/47 for anything else; an external
/// skeleton, which needs an output KEK, 8/2).
fn output_form(skeleton: &[u8]) -> Result<OutputForm, Failure> {
    match (skeleton.first(), skeleton.get(4)) {
        (Some(0x02), _) => Err(Failure::NotSupported),
        (Some(0x01), Some(0x04)) => match AesToken::parse(skeleton)? {
            AesToken::Internal(_) => Ok(OutputForm::AesFixed),
            AesToken::Null => Err(Failure::KeyTokenInvalid),
        },
        (Some(0x01), Some(0x05)) => match VarToken::parse(skeleton)? {
            VarToken::Key(t)
                if t.internal && t.ad.algorithm == VarAlgorithm::Aes && t.complete() =>
            {
                Ok(OutputForm::AesVar(Box::new(t)))
            }
            VarToken::Key(t) if !t.internal => Err(Failure::NotSupported),
            _ => Err(Failure::KeyTokenInvalid),
        },
        (Some(0x01), _) => match DesToken::parse(skeleton)? {
            DesToken::Internal(t) => Ok(OutputForm::Des(t.fields.cv_left, t.fields.cv_right)),
            _ => Err(Failure::KeyTokenInvalid),
        },
        _ => Err(Failure::KeyTokenInvalid),
    }
}

/// The key-derivation data's algorithm byte (opencryptoki `cca_stdll.h`: X'02' AES; X'01'
/// taken for DES) and key type (X'01' DATA, X'04' CIPHER) an output form gives.
fn derivation_kind(form: &OutputForm) -> (u8, Option<u8>) {
    match form {
        OutputForm::AesFixed => (0x02, Some(0x01)),
        OutputForm::AesVar(t) if t.ad.key_type == var_key_type::CIPHER => (0x02, Some(0x04)),
        OutputForm::AesVar(_) => (0x02, None),
        OutputForm::Des(..) => (0x01, None),
    }
}

/// The derived key's length in bytes for the output form (8/2149 otherwise).
fn derived_len(form: &OutputForm, bits: i32) -> Result<usize, Failure> {
    let len = match (form, bits) {
        (OutputForm::AesFixed | OutputForm::AesVar(_), 128 | 192 | 256) => bits / 8,
        (OutputForm::Des(left, _), 64 | 128 | 192) => {
            let length = des_length(bits / 8)?;
            if *left != [0; 8] && cv::length_from_form(left) != Some(length) {
                return Err(Failure::DerivedKeyLength);
            }
            bits / 8
        }
        _ => return Err(Failure::DerivedKeyLength),
    };
    usize::try_from(len).map_err(|_| Failure::DerivedKeyLength)
}

fn des_length(bytes: i32) -> Result<KeyLength, Failure> {
    match bytes {
        8 => Ok(KeyLength::Single),
        16 => Ok(KeyLength::Double),
        24 => Ok(KeyLength::Triple),
        _ => Err(Failure::DerivedKeyLength),
    }
}

/// The derived key under the current master key in the skeleton's form.
fn output_token(card: &Card, form: &OutputForm, key: &mut [u8]) -> Result<Vec<u8>, Failure> {
    match form {
        OutputForm::AesFixed => card.with_current_master_key(Class::Aes, |mk| {
            Ok(AesToken::Internal(wrap::wrap_aes(mk, key)?)
                .to_bytes()
                .to_vec())
        }),
        OutputForm::AesVar(template) => {
            let mut template = template.as_ref().clone();
            while template.ad.kmf.len() < 3 {
                template.ad.kmf.push(0);
            }
            template.ad.kmf[2] = PEDIGREE_KEY_AGREEMENT;
            card.with_current_master_key(Class::Aes, |mk| {
                Ok(wrap_var(mk, &template, key)?.to_bytes())
            })
        }
        OutputForm::Des(left, right) => {
            // DES keys carry odd parity.
            for b in key.iter_mut() {
                if b.count_ones() % 2 == 0 {
                    *b ^= 1;
                }
            }
            let length = des_length(i32::try_from(key.len()).map_err(|_| Failure::KeyLength)?)?;
            let (left, right) = if *left == [0; 8] && *right == [0; 8] {
                cv::default_cv("DATA", length).ok_or(Failure::KeyTokenInvalid)?
            } else {
                (*left, *right)
            };
            card.with_current_master_key(Class::Sym, |mk| {
                let internal = wrap::wrap_des(mk, key, left, right, length)?;
                Ok(DesToken::Internal(internal).to_bytes().to_vec())
            })
        }
    }
}

fn kdf_hash(keyword: Option<&str>) -> &'static digest::Algorithm {
    match keyword {
        Some("SHA-224") => &digest::SHA224,
        Some("SHA-384") => &digest::SHA384,
        Some("SHA-512") => &digest::SHA512,
        _ => &digest::SHA256,
    }
}

pub(crate) fn csndedh(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    let chosen = rules::parse(&EDH, rule_array)?;
    p.expect_len(14)?;
    if chosen.get(3).is_some() {
        // QSA-ECDH (a hybrid scheme with a CRYSTALS-Kyber or AES-encrypted value).
        return Err(Failure::NotSupported);
    }
    let scheme = match chosen.get(0) {
        Some("PASSTHRU") => {
            if chosen.get(1).is_some() || chosen.get(2).is_some() {
                return Err(Failure::KeywordCombination);
            }
            None
        }
        Some("DERIV01") => {
            if chosen.get(2).is_some() {
                return Err(Failure::KeywordCombination);
            }
            Some(Scheme::Concatenation)
        }
        Some("DERIV02") => Some(Scheme::X963),
        _ => return Err(Failure::NotSupported),
    };
    let party = p.bytes(4)?;
    if !(party.is_empty() || (8..=256).contains(&party.len())) {
        return Err(Failure::Length);
    }
    if !p.bytes(3)?.is_empty()
        || (6..=10).any(|i| p.bytes(i).map(|b| !b.is_empty()).unwrap_or(true))
    {
        return Err(Failure::Length);
    }
    // The output's form is judged before any key is used.
    let output = match scheme {
        None => None,
        Some(_) => {
            let kek = p.bytes(11)?;
            if !(kek.is_empty() || kek.iter().all(|&b| b == 0)) {
                return Err(Failure::NotSupported);
            }
            let form = output_form(p.bytes(12)?)?;
            let len = derived_len(&form, p.int(5)?)?;
            Some((form, len))
        }
    };
    let key = card.ecc_key(p.bytes(0)?)?;
    let clear_allowed = scheme == Some(Scheme::Concatenation);
    if (key.used.is_none() || key.private.key_format() != format::INTERNAL) && !clear_allowed {
        return Err(Failure::KeywordCombination);
    }
    if !usage::may_agree(key.private.usage) {
        return Err(Failure::ControlVector);
    }
    if scheme == Some(Scheme::X963) && key.private.source == source::CLEAR_IMPORT {
        return Err(Failure::ControlVector);
    }
    if let Some((form, len)) = &output {
        check_derivation(&key.private.extended_ad, form, *len, scheme)?;
    }
    let peer = EccToken::parse(p.bytes(2)?)?;
    if peer.public.curve != key.private.curve {
        return Err(Failure::CurveMismatch);
    }
    if peer
        .private
        .as_ref()
        .is_some_and(|s| !usage::may_agree(s.usage))
    {
        return Err(Failure::ControlVector);
    }
    if peer.public.q.is_empty() {
        return Err(Failure::PkaTokenField);
    }
    let e = engine(key.private.curve)?;
    let z = agree(e, key.d.expose(), &peer.public.q)?;
    let out = match (scheme, output) {
        (Some(scheme), Some((form, len))) => {
            let mut material = kdf(scheme, kdf_hash(chosen.get(2)), &z, party, len);
            output_token(card, &form, &mut material)?
        }
        _ => z.to_vec(),
    };
    capacity(p, 13, &out)?;
    Ok(Reply {
        notice: key.used.and_then(notice_for),
        outputs: vec![Param::Bytes(out)],
        ..Reply::default()
    })
}

/// The private key's key-derivation data (CSNDPKB ECC-VER1: algorithm, key type, key bits,
/// kept as its IBM extended associated data) against the output: the algorithm and type
/// must match (8/39) and the size equal the derived key's (8/2149). DERIV02 needs the data
/// (8/39 without it, as opencryptoki says CCA requires); DERIV01 takes a key without it.
fn check_derivation(
    data: &[u8],
    form: &OutputForm,
    len: usize,
    scheme: Option<Scheme>,
) -> Result<(), Failure> {
    let [algorithm, key_type, hi, lo] = data else {
        return if scheme == Some(Scheme::X963) {
            Err(Failure::ControlVector)
        } else {
            Ok(())
        };
    };
    let (want_algorithm, want_type) = derivation_kind(form);
    if *algorithm != want_algorithm || want_type.is_some_and(|t| t != *key_type) {
        return Err(Failure::ControlVector);
    }
    if usize::from(u16::from_be_bytes([*hi, *lo])) != len * 8 {
        return Err(Failure::DerivedKeyLength);
    }
    Ok(())
}
