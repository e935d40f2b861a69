//! Device attestation: public keys, softcca certificates, the card's RSA
//! device key and signed status responses.
//!
//! This module is pure: it does no I/O and keeps no global state. It models
//! IBM's scheme for the 4767: a 521-bit prime-curve ECC root key certifies
//! class keys, a class key certifies each card's RSA device key (generated on
//! the card in the last manufacturing step), and the device key signs status
//! responses that a host validates after walking the chain
//! (root → class certificate → device certificate → signed status).
//!
//! All integers are big-endian. Every parser is strict: lengths are bounded,
//! reserved bytes must be zero, text is printable ASCII (0x20..=0x7E), and
//! trailing bytes are rejected. No parser panics on any input.
//!
//! # Public key encoding
//!
//! | size | field                                                         |
//! |------|---------------------------------------------------------------|
//! | 1    | kind: 1 = EC P-521, 2 = RSA                                   |
//! | 2    | key length *n*                                                |
//! | *n*  | EC: uncompressed point (133 bytes, `0x04 ‖ X ‖ Y`); RSA: DER `RSAPublicKey` (RFC 8017), modulus 2048..=8192 bits, canonical |
//!
//! # Certificate encoding
//!
//! | size | field                                                         |
//! |------|---------------------------------------------------------------|
//! | 8    | magic `b"SCCACERT"`                                           |
//! | 1    | format version = 1                                            |
//! | 1    | role: 1 = Root, 2 = Class, 3 = Device, 4 = CodeSigning        |
//! | 2    | reserved, must be 0                                           |
//! | 1    | subject length (1..=64)                                       |
//! | *n*  | subject, printable ASCII                                      |
//! | 1    | issuer length (1..=64)                                        |
//! | *n*  | issuer, printable ASCII                                       |
//! | 1    | serial length (1..=32)                                        |
//! | *n*  | serial                                                        |
//! | 8    | not_before, Unix seconds                                      |
//! | 8    | not_after, Unix seconds (≥ not_before)                        |
//! | 3+*n*| subject public key (see above)                                 |
//! | 2    | signature length (1..=139)                                    |
//! | *n*  | signature: ECDSA P-521 / SHA-512, ASN.1 DER, by the issuer    |
//!
//! The signature covers every byte before the signature length ([`Certificate::tbs`]).
//! Certificates are always signed by an EC P-521 key (root, class or code
//! signing); the device key only signs status responses.
//!
//! # Signed status encoding
//!
//! | size | field                                                         |
//! |------|---------------------------------------------------------------|
//! | 21   | `b"SCCA-SIGNED-STATUS-V1"`                                    |
//! | 2    | nonce length (16..=64)                                        |
//! | *n*  | nonce                                                         |
//! | 2    | field count (0..=64)                                          |
//! |      | per field: u16 name length (1..=64), name (printable ASCII), u16 value length (0..=512), value (printable ASCII); names unique |
//! | 2    | signature length (1..=1024)                                   |
//! | *n*  | signature: RSA-PSS / SHA-256 by the device key                |
//!
//! The signature covers every byte before the signature length ([`SignedStatus::message`]).

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa;
use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey, UnparsedPublicKey};
use zeroize::Zeroizing;

/// Certificate magic.
pub const CERT_MAGIC: &[u8; 8] = b"SCCACERT";
/// Certificate format version.
pub const CERT_VERSION: u8 = 1;
/// Longest subject or issuer name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest certificate serial number.
pub const MAX_SERIAL_LEN: usize = 32;
/// Length of an uncompressed P-521 point.
pub const EC_P521_POINT_LEN: usize = 133;
/// Longest accepted DER `RSAPublicKey` (an 8192-bit modulus needs ~1040 bytes).
pub const MAX_RSA_PUBLIC_KEY_LEN: usize = 1100;
/// Longest ECDSA P-521 ASN.1 DER signature.
pub const MAX_EC_SIGNATURE_LEN: usize = 139;
/// Longest RSA signature (8192-bit modulus).
pub const MAX_RSA_SIGNATURE_LEN: usize = 1024;
/// Signed-status domain separator.
pub const STATUS_MAGIC: &[u8; 21] = b"SCCA-SIGNED-STATUS-V1";
/// Shortest status nonce.
pub const MIN_NONCE_LEN: usize = 16;
/// Longest status nonce.
pub const MAX_NONCE_LEN: usize = 64;
/// Most fields in one signed status.
pub const MAX_STATUS_FIELDS: usize = 64;
/// Longest status field name.
pub const MAX_FIELD_NAME_LEN: usize = 64;
/// Longest status field value.
pub const MAX_FIELD_VALUE_LEN: usize = 512;

const KIND_EC_P521: u8 = 1;
const KIND_RSA: u8 = 2;
const RSA_MIN_MODULUS_BYTES: usize = 256;
const RSA_MAX_MODULUS_BYTES: usize = 1024;
const DEVICE_KEY_MODULUS_BYTES: usize = 256;

/// Every failure of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestError {
    /// An encoding (or a value to be encoded) breaks the format; the text says where.
    Malformed(&'static str),
    /// A signature does not verify.
    BadSignature,
    /// A certificate has the wrong role.
    WrongRole {
        /// Role required here.
        expected: Role,
        /// Role found.
        found: Role,
    },
    /// The certificate's `not_after` is before now.
    Expired,
    /// The certificate's `not_before` is after now.
    NotYetValid,
    /// A key of the wrong type (EC vs RSA) was supplied or certified.
    WrongKeyType,
    /// The device certificate's issuer is not the class certificate's subject.
    IssuerMismatch,
    /// The signed status carries a nonce other than the one expected.
    NonceMismatch,
    /// Key generation failed.
    KeyGeneration,
    /// A private key was rejected on load (bad PKCS#8, wrong size, ...).
    KeyRejected,
    /// The library failed to produce a signature.
    Signing,
    /// A freshly generated or loaded key failed its sign-then-verify check.
    PairwiseConsistency,
}

impl fmt::Display for AttestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed attestation data: {what}"),
            Self::BadSignature => f.write_str("signature does not verify"),
            Self::WrongRole { expected, found } => {
                write!(f, "certificate role is {found}, expected {expected}")
            }
            Self::Expired => f.write_str("certificate has expired"),
            Self::NotYetValid => f.write_str("certificate is not yet valid"),
            Self::WrongKeyType => f.write_str("wrong public key type"),
            Self::IssuerMismatch => f.write_str("certificate issuer does not match"),
            Self::NonceMismatch => f.write_str("status nonce does not match the request"),
            Self::KeyGeneration => f.write_str("key generation failed"),
            Self::KeyRejected => f.write_str("private key rejected"),
            Self::Signing => f.write_str("signing failed"),
            Self::PairwiseConsistency => f.write_str("key pair failed its consistency check"),
        }
    }
}

impl std::error::Error for AttestError {}

// ---------------------------------------------------------------------------
// Byte reader/writer shared with `firmware`.

/// Bounds-checked big-endian reader; every accessor returns `None` past the end.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The closing field every signed format here ends with: a u16 length (1..=`max`), the
    /// signature, and nothing after it. `None` if any of that does not hold.
    pub(crate) fn final_signature(&mut self, max: usize) -> Option<Vec<u8>> {
        let len = usize::from(self.u16()?);
        if len == 0 || len > max {
            return None;
        }
        let signature = self.take(len)?.to_vec();
        self.is_empty().then_some(signature)
    }
}

/// Appends the closing field every signed format here ends with — a u16 length (1..=`max`)
/// and the signature — the inverse of [`Reader::final_signature`]. `None` if the signature is
/// empty or too long.
pub(crate) fn put_final_signature(out: &mut Vec<u8>, signature: &[u8], max: usize) -> Option<()> {
    if signature.is_empty() {
        return None;
    }
    put_u16_len(out, signature.len(), max).ok()?;
    out.extend_from_slice(signature);
    Some(())
}

/// True for a string of printable ASCII (0x20..=0x7E) characters.
pub(crate) fn is_printable(s: &[u8]) -> bool {
    s.iter().all(|b| (0x20..=0x7e).contains(b))
}

/// Appends `len` as a u16 after checking it against `max`.
pub(crate) fn put_u16_len(out: &mut Vec<u8>, len: usize, max: usize) -> Result<(), &'static str> {
    if len > max {
        return Err("length over limit");
    }
    let len = u16::try_from(len).map_err(|_| "length over limit")?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn malformed(what: &'static str) -> impl Fn() -> AttestError {
    move || AttestError::Malformed(what)
}

fn check_name(s: &str, what: &'static str) -> Result<(), AttestError> {
    if s.is_empty() || s.len() > MAX_NAME_LEN || !is_printable(s.as_bytes()) {
        return Err(AttestError::Malformed(what));
    }
    Ok(())
}

fn read_u8_name(r: &mut Reader<'_>, what: &'static str) -> Result<String, AttestError> {
    let len = usize::from(r.u8().ok_or_else(malformed(what))?);
    let bytes = r.take(len).ok_or_else(malformed(what))?;
    let s = String::from_utf8(bytes.to_vec()).map_err(|_| AttestError::Malformed(what))?;
    check_name(&s, what)?;
    Ok(s)
}

fn put_u8_name(out: &mut Vec<u8>, s: &str, what: &'static str) -> Result<(), AttestError> {
    check_name(s, what)?;
    let len = u8::try_from(s.len()).map_err(|_| AttestError::Malformed(what))?;
    out.push(len);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

pub(crate) fn hex_string(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

// ---------------------------------------------------------------------------
// Public keys.

/// A public key that can appear in a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PublicKey {
    /// NIST P-521 uncompressed point (133 bytes, `0x04 ‖ X ‖ Y`).
    EcP521(Vec<u8>),
    /// DER `RSAPublicKey` (RFC 8017), exactly as aws-lc-rs exports it.
    Rsa(Vec<u8>),
}

impl PublicKey {
    fn kind(&self) -> u8 {
        match self {
            Self::EcP521(_) => KIND_EC_P521,
            Self::Rsa(_) => KIND_RSA,
        }
    }

    fn key_bytes(&self) -> &[u8] {
        match self {
            Self::EcP521(b) | Self::Rsa(b) => b,
        }
    }

    /// Checks that the key is well formed: an on-curve uncompressed P-521
    /// point, or a canonical RFC 8017 RSA key with a 2048..=8192-bit modulus.
    pub fn validate(&self) -> Result<(), AttestError> {
        match self {
            Self::EcP521(b) => {
                if b.len() != EC_P521_POINT_LEN || b.first() != Some(&0x04) {
                    return Err(AttestError::Malformed(
                        "EC key is not an uncompressed P-521 point",
                    ));
                }
                ParsedPublicKey::new(&signature::ECDSA_P521_SHA512_ASN1, b.as_slice())
                    .map_err(|_| AttestError::Malformed("EC key is not a P-521 point"))?;
            }
            Self::Rsa(b) => {
                if b.is_empty() || b.len() > MAX_RSA_PUBLIC_KEY_LEN {
                    return Err(AttestError::Malformed("RSA key length"));
                }
                let key = rsa::PublicKey::from_der(b)
                    .map_err(|_| AttestError::Malformed("RSA key does not parse"))?;
                if key.as_ref() != b.as_slice() {
                    return Err(AttestError::Malformed(
                        "RSA key is not canonical RFC 8017 DER",
                    ));
                }
                if !(RSA_MIN_MODULUS_BYTES..=RSA_MAX_MODULUS_BYTES).contains(&key.modulus_len()) {
                    return Err(AttestError::Malformed("RSA modulus size"));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn write_to(&self, out: &mut Vec<u8>) -> Result<(), AttestError> {
        self.validate()?;
        out.push(self.kind());
        let bytes = self.key_bytes();
        put_u16_len(out, bytes.len(), MAX_RSA_PUBLIC_KEY_LEN).map_err(AttestError::Malformed)?;
        out.extend_from_slice(bytes);
        Ok(())
    }

    pub(crate) fn read_from(r: &mut Reader<'_>) -> Result<Self, AttestError> {
        let kind = r.u8().ok_or_else(malformed("truncated key kind"))?;
        let len = usize::from(r.u16().ok_or_else(malformed("truncated key length"))?);
        let bytes = r.take(len).ok_or_else(malformed("truncated key"))?.to_vec();
        let key = match kind {
            KIND_EC_P521 => Self::EcP521(bytes),
            KIND_RSA => Self::Rsa(bytes),
            _ => return Err(AttestError::Malformed("unknown key kind")),
        };
        key.validate()?;
        Ok(key)
    }

    /// Encodes as `kind ‖ u16 length ‖ key`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AttestError> {
        let mut out = Vec::with_capacity(3 + self.key_bytes().len());
        self.write_to(&mut out)?;
        Ok(out)
    }

    /// Strict inverse of [`PublicKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AttestError> {
        let mut r = Reader::new(bytes);
        let key = Self::read_from(&mut r)?;
        if !r.is_empty() {
            return Err(AttestError::Malformed("trailing bytes after key"));
        }
        Ok(key)
    }

    /// SHA-256 of [`PublicKey::to_bytes`]. For a key that cannot be encoded
    /// (never produced by this module's parsers) the hash covers
    /// `kind ‖ 0xFFFF ‖ key`, which no valid encoding starts with, so it
    /// never collides with a valid key's fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        match self.to_bytes() {
            Ok(enc) => sha256(&enc),
            Err(_) => {
                let mut ctx = digest::Context::new(&digest::SHA256);
                ctx.update(&[self.kind(), 0xff, 0xff]);
                ctx.update(self.key_bytes());
                let mut out = [0u8; 32];
                out.copy_from_slice(ctx.finish().as_ref());
                out
            }
        }
    }

    /// Verifies `signature` over `message`: ECDSA P-521/SHA-512 (ASN.1) for
    /// EC keys, RSA-PSS/SHA-256 for RSA keys.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), AttestError> {
        let alg: &'static dyn signature::VerificationAlgorithm = match self {
            Self::EcP521(_) => &signature::ECDSA_P521_SHA512_ASN1,
            Self::Rsa(_) => &signature::RSA_PSS_2048_8192_SHA256,
        };
        if signature.is_empty() {
            return Err(AttestError::BadSignature);
        }
        UnparsedPublicKey::new(alg, self.key_bytes())
            .verify(message, signature)
            .map_err(|_| AttestError::BadSignature)
    }
}

// ---------------------------------------------------------------------------
// Certificates.

/// What a certified key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Role {
    /// Self-signed manufacturer root (EC P-521).
    Root = 1,
    /// Class key: certifies device keys (EC P-521).
    Class = 2,
    /// A card's RSA device key: signs status responses.
    Device = 3,
    /// Firmware code-signing key (EC P-521).
    CodeSigning = 4,
}

impl TryFrom<u8> for Role {
    type Error = AttestError;

    fn try_from(v: u8) -> Result<Self, AttestError> {
        match v {
            1 => Ok(Self::Root),
            2 => Ok(Self::Class),
            3 => Ok(Self::Device),
            4 => Ok(Self::CodeSigning),
            _ => Err(AttestError::Malformed("unknown role")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Root => "root",
            Self::Class => "class",
            Self::Device => "device",
            Self::CodeSigning => "code-signing",
        })
    }
}

/// A softcca certificate (format in the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Use of the certified key.
    pub role: Role,
    /// Name of the certified key's holder (printable ASCII, 1..=64).
    pub subject: String,
    /// Subject of the issuing certificate (printable ASCII, 1..=64).
    pub issuer: String,
    /// Serial number (1..=32 bytes).
    pub serial: Vec<u8>,
    /// Start of validity, Unix seconds (inclusive).
    pub not_before: u64,
    /// End of validity, Unix seconds (inclusive).
    pub not_after: u64,
    /// The certified key.
    pub public_key: PublicKey,
    /// ECDSA P-521/SHA-512 ASN.1 signature over [`Certificate::tbs`].
    pub signature: Vec<u8>,
}

impl Certificate {
    /// The bytes the signature covers: everything before the signature length.
    pub fn tbs(&self) -> Result<Vec<u8>, AttestError> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(CERT_MAGIC);
        out.push(CERT_VERSION);
        out.push(self.role as u8);
        out.extend_from_slice(&[0, 0]);
        put_u8_name(&mut out, &self.subject, "subject")?;
        put_u8_name(&mut out, &self.issuer, "issuer")?;
        if self.serial.is_empty() || self.serial.len() > MAX_SERIAL_LEN {
            return Err(AttestError::Malformed("serial length"));
        }
        out.push(u8::try_from(self.serial.len()).map_err(|_| AttestError::Malformed("serial"))?);
        out.extend_from_slice(&self.serial);
        if self.not_before > self.not_after {
            return Err(AttestError::Malformed("not_before after not_after"));
        }
        out.extend_from_slice(&self.not_before.to_be_bytes());
        out.extend_from_slice(&self.not_after.to_be_bytes());
        self.public_key.write_to(&mut out)?;
        Ok(out)
    }

    /// Full encoding; fails if any field breaks the format (including an
    /// empty signature).
    pub fn to_bytes(&self) -> Result<Vec<u8>, AttestError> {
        let mut out = self.tbs()?;
        put_final_signature(&mut out, &self.signature, MAX_EC_SIGNATURE_LEN)
            .ok_or(AttestError::Malformed("signature length"))?;
        Ok(out)
    }

    /// Strict parser: the inverse of [`Certificate::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AttestError> {
        let mut r = Reader::new(bytes);
        if r.take(CERT_MAGIC.len()) != Some(CERT_MAGIC.as_slice()) {
            return Err(AttestError::Malformed("bad certificate magic"));
        }
        if r.u8() != Some(CERT_VERSION) {
            return Err(AttestError::Malformed("unsupported certificate version"));
        }
        let role = Role::try_from(r.u8().ok_or_else(malformed("truncated role"))?)?;
        if r.u16() != Some(0) {
            return Err(AttestError::Malformed("reserved bytes not zero"));
        }
        let subject = read_u8_name(&mut r, "subject")?;
        let issuer = read_u8_name(&mut r, "issuer")?;
        let serial_len = usize::from(r.u8().ok_or_else(malformed("truncated serial"))?);
        if serial_len == 0 || serial_len > MAX_SERIAL_LEN {
            return Err(AttestError::Malformed("serial length"));
        }
        let serial = r
            .take(serial_len)
            .ok_or_else(malformed("truncated serial"))?
            .to_vec();
        let not_before = r.u64().ok_or_else(malformed("truncated not_before"))?;
        let not_after = r.u64().ok_or_else(malformed("truncated not_after"))?;
        if not_before > not_after {
            return Err(AttestError::Malformed("not_before after not_after"));
        }
        let public_key = PublicKey::read_from(&mut r)?;
        let signature = r
            .final_signature(MAX_EC_SIGNATURE_LEN)
            .ok_or(AttestError::Malformed("certificate signature"))?;
        Ok(Self {
            role,
            subject,
            issuer,
            serial,
            not_before,
            not_after,
            public_key,
            signature,
        })
    }

    /// Checks the signature only, with `issuer` (which must be an EC P-521 key).
    pub fn verify_issued_by(&self, issuer: &PublicKey) -> Result<(), AttestError> {
        if !matches!(issuer, PublicKey::EcP521(_)) {
            return Err(AttestError::WrongKeyType);
        }
        issuer.verify(&self.tbs()?, &self.signature)
    }

    /// Checks `not_before <= now <= not_after`.
    pub fn check_validity(&self, now: u64) -> Result<(), AttestError> {
        if now < self.not_before {
            return Err(AttestError::NotYetValid);
        }
        if now > self.not_after {
            return Err(AttestError::Expired);
        }
        Ok(())
    }

    fn expect_role(&self, expected: Role) -> Result<(), AttestError> {
        if self.role != expected {
            return Err(AttestError::WrongRole {
                expected,
                found: self.role,
            });
        }
        Ok(())
    }
}

/// Validates root → class → device: roles, signatures, validity at `now`,
/// key types (class EC P-521, device RSA) and that the device certificate's
/// issuer is the class certificate's subject.
pub fn verify_chain(
    root: &PublicKey,
    class: &Certificate,
    device: &Certificate,
    now: u64,
) -> Result<(), AttestError> {
    class.expect_role(Role::Class)?;
    if !matches!(class.public_key, PublicKey::EcP521(_)) {
        return Err(AttestError::WrongKeyType);
    }
    class.verify_issued_by(root)?;
    class.check_validity(now)?;

    device.expect_role(Role::Device)?;
    if !matches!(device.public_key, PublicKey::Rsa(_)) {
        return Err(AttestError::WrongKeyType);
    }
    if device.issuer != class.subject {
        return Err(AttestError::IssuerMismatch);
    }
    device.verify_issued_by(&class.public_key)?;
    device.check_validity(now)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Device key.

/// The card's RSA-2048 device key.
///
/// The PKCS#8 copy is kept in [`Zeroizing`] storage and wiped on drop; the
/// parsed key lives inside AWS-LC, whose `OPENSSL_free` cleanses memory when
/// the key is freed. `Debug` prints only the public key's fingerprint.
pub struct DeviceKey {
    key: rsa::KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    public: PublicKey,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public_key_sha256", &hex_string(&self.public.fingerprint()))
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// Generates a fresh RSA-2048 key and runs the pairwise-consistency check.
    pub fn generate() -> Result<Self, AttestError> {
        let key = rsa::KeyPair::generate(rsa::KeySize::Rsa2048)
            .map_err(|_| AttestError::KeyGeneration)?;
        Self::from_key_pair(key).map_err(|e| match e {
            AttestError::KeyRejected => AttestError::KeyGeneration,
            other => other,
        })
    }

    /// Loads a PKCS#8 v1 RSA-2048 key and runs the pairwise-consistency check.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, AttestError> {
        let key = rsa::KeyPair::from_pkcs8(pkcs8).map_err(|_| AttestError::KeyRejected)?;
        Self::from_key_pair(key)
    }

    fn from_key_pair(key: rsa::KeyPair) -> Result<Self, AttestError> {
        use aws_lc_rs::encoding::AsDer as _;
        if key.public_modulus_len() != DEVICE_KEY_MODULUS_BYTES {
            return Err(AttestError::KeyRejected);
        }
        let der = key.as_der().map_err(|_| AttestError::KeyRejected)?;
        let pkcs8 = Zeroizing::new(der.as_ref().to_vec());
        drop(der);
        let public = PublicKey::Rsa(key.public_key().as_ref().to_vec());
        public.validate().map_err(|_| AttestError::KeyRejected)?;
        let this = Self { key, pkcs8, public };
        this.pairwise_check()?;
        Ok(this)
    }

    /// Signs a fixed test message and verifies it with the public half.
    fn pairwise_check(&self) -> Result<(), AttestError> {
        const MSG: &[u8] = b"softcca device key pairwise consistency test";
        let sig = self.sign(MSG)?;
        self.public
            .verify(MSG, &sig)
            .map_err(|_| AttestError::PairwiseConsistency)
    }

    /// PKCS#8 v1 DER of the private key.
    pub fn to_pkcs8(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The public half ([`PublicKey::Rsa`]).
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// RSA-PSS / SHA-256 signature over `message` (salt length = 32).
    ///
    /// This is the one place the card relies on the crypto library's random
    /// source instead of its own DRBG: aws-lc-rs's RSA signing API takes a
    /// `SecureRandom` argument (we pass `SystemRandom`; aws-lc-rs documents
    /// that it ignores it) and AWS-LC draws the PSS salt from its own RNG.
    /// That is acceptable because the PSS salt needs no secrecy.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AttestError> {
        let rng = SystemRandom::new();
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&signature::RSA_PSS_SHA256, &rng, message, &mut sig)
            .map_err(|_| AttestError::Signing)?;
        Ok(sig)
    }
}

// ---------------------------------------------------------------------------
// Signed status.

/// A status response signed by the device key over a host-chosen nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedStatus {
    /// The host's challenge (16..=64 bytes).
    pub nonce: Vec<u8>,
    /// Ordered `(name, value)` pairs; names unique.
    pub fields: Vec<(String, String)>,
    /// RSA-PSS/SHA-256 signature over [`SignedStatus::message`].
    pub signature: Vec<u8>,
}

fn check_field(name: &str, value: &str) -> Result<(), AttestError> {
    if name.is_empty() || name.len() > MAX_FIELD_NAME_LEN || !is_printable(name.as_bytes()) {
        return Err(AttestError::Malformed("status field name"));
    }
    if value.len() > MAX_FIELD_VALUE_LEN || !is_printable(value.as_bytes()) {
        return Err(AttestError::Malformed("status field value"));
    }
    Ok(())
}

fn check_status(nonce: &[u8], fields: &[(String, String)]) -> Result<(), AttestError> {
    if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len()) {
        return Err(AttestError::Malformed("nonce length"));
    }
    if fields.len() > MAX_STATUS_FIELDS {
        return Err(AttestError::Malformed("too many status fields"));
    }
    for (i, (name, value)) in fields.iter().enumerate() {
        check_field(name, value)?;
        if fields.iter().take(i).any(|(n, _)| n == name) {
            return Err(AttestError::Malformed("duplicate status field"));
        }
    }
    Ok(())
}

impl SignedStatus {
    /// The signed bytes: `b"SCCA-SIGNED-STATUS-V1" ‖ u16 nonce len ‖ nonce ‖
    /// u16 count ‖ (u16 len ‖ name ‖ u16 len ‖ value)*`.
    pub fn message(nonce: &[u8], fields: &[(String, String)]) -> Result<Vec<u8>, AttestError> {
        check_status(nonce, fields)?;
        let m = AttestError::Malformed;
        let mut out = Vec::with_capacity(64 + fields.len() * 32);
        out.extend_from_slice(STATUS_MAGIC);
        put_u16_len(&mut out, nonce.len(), MAX_NONCE_LEN).map_err(m)?;
        out.extend_from_slice(nonce);
        put_u16_len(&mut out, fields.len(), MAX_STATUS_FIELDS).map_err(m)?;
        for (name, value) in fields {
            put_u16_len(&mut out, name.len(), MAX_FIELD_NAME_LEN).map_err(m)?;
            out.extend_from_slice(name.as_bytes());
            put_u16_len(&mut out, value.len(), MAX_FIELD_VALUE_LEN).map_err(m)?;
            out.extend_from_slice(value.as_bytes());
        }
        Ok(out)
    }

    /// Signs `nonce` and `fields` with the device key.
    pub fn sign(
        key: &DeviceKey,
        nonce: &[u8],
        fields: Vec<(String, String)>,
    ) -> Result<Self, AttestError> {
        let msg = Self::message(nonce, &fields)?;
        let signature = key.sign(&msg)?;
        Ok(Self {
            nonce: nonce.to_vec(),
            fields,
            signature,
        })
    }

    /// Checks the nonce equals `expected_nonce`, then the signature with
    /// `device` (which must be an RSA key).
    pub fn verify(&self, device: &PublicKey, expected_nonce: &[u8]) -> Result<(), AttestError> {
        if self.nonce != expected_nonce {
            return Err(AttestError::NonceMismatch);
        }
        if !matches!(device, PublicKey::Rsa(_)) {
            return Err(AttestError::WrongKeyType);
        }
        let msg = Self::message(&self.nonce, &self.fields)?;
        device.verify(&msg, &self.signature)
    }

    /// `message ‖ u16 signature length ‖ signature`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AttestError> {
        let mut out = Self::message(&self.nonce, &self.fields)?;
        put_final_signature(&mut out, &self.signature, MAX_RSA_SIGNATURE_LEN)
            .ok_or(AttestError::Malformed("signature length"))?;
        Ok(out)
    }

    /// Strict inverse of [`SignedStatus::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AttestError> {
        let mut r = Reader::new(bytes);
        if r.take(STATUS_MAGIC.len()) != Some(STATUS_MAGIC.as_slice()) {
            return Err(AttestError::Malformed("bad status magic"));
        }
        let nonce_len = usize::from(r.u16().ok_or_else(malformed("truncated nonce"))?);
        if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce_len) {
            return Err(AttestError::Malformed("nonce length"));
        }
        let nonce = r
            .take(nonce_len)
            .ok_or_else(malformed("truncated nonce"))?
            .to_vec();
        let count = usize::from(r.u16().ok_or_else(malformed("truncated field count"))?);
        if count > MAX_STATUS_FIELDS {
            return Err(AttestError::Malformed("too many status fields"));
        }
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            let name = read_u16_text(&mut r, MAX_FIELD_NAME_LEN, "status field name")?;
            let value = read_u16_text(&mut r, MAX_FIELD_VALUE_LEN, "status field value")?;
            fields.push((name, value));
        }
        check_status(&nonce, &fields)?;
        let signature = r
            .final_signature(MAX_RSA_SIGNATURE_LEN)
            .ok_or(AttestError::Malformed("status signature"))?;
        Ok(Self {
            nonce,
            fields,
            signature,
        })
    }
}

fn read_u16_text(
    r: &mut Reader<'_>,
    max: usize,
    what: &'static str,
) -> Result<String, AttestError> {
    let len = usize::from(r.u16().ok_or_else(malformed(what))?);
    if len > max {
        return Err(AttestError::Malformed(what));
    }
    let bytes = r.take(len).ok_or_else(malformed(what))?;
    if !is_printable(bytes) {
        return Err(AttestError::Malformed(what));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| AttestError::Malformed(what))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair};
    use std::sync::OnceLock;

    /// Deterministic xorshift64 PRNG for the mutation loops.
    pub(crate) struct XorShift(pub(crate) u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % (n as u64)) as usize
        }
    }

    /// Flips, inserts, deletes, truncates and duplicates bytes of `valid`
    /// `iterations` times; `parse` must never panic.
    pub(crate) fn mutation_loop(valid: &[u8], iterations: usize, seed: u64, parse: impl Fn(&[u8])) {
        let mut rng = XorShift(seed);
        let mut buf = valid.to_vec();
        for i in 0..iterations {
            if i % 16 == 0 {
                buf = valid.to_vec();
            }
            let len = buf.len();
            match rng.below(6) {
                0 if len > 0 => {
                    let p = rng.below(len);
                    buf[p] ^= 1 << rng.below(8);
                }
                1 if len > 0 => {
                    let p = rng.below(len);
                    buf[p] = rng.next() as u8;
                }
                2 => {
                    let p = rng.below(len + 1);
                    buf.insert(p, rng.next() as u8);
                }
                3 if len > 0 => {
                    let p = rng.below(len);
                    buf.remove(p);
                }
                4 => buf.truncate(rng.below(len + 1)),
                _ => {
                    // Poke a likely length field with an extreme value.
                    if len >= 2 {
                        let p = rng.below(len - 1);
                        let v: u16 = [0, 1, 0x7fff, 0xffff][rng.below(4)];
                        buf[p..p + 2].copy_from_slice(&v.to_be_bytes());
                    }
                }
            }
            parse(&buf);
        }
    }

    pub(crate) struct TestEc {
        pub(crate) key: EcdsaKeyPair,
        pub(crate) public: PublicKey,
    }

    pub(crate) fn ec_key() -> TestEc {
        let key = EcdsaKeyPair::generate(&ECDSA_P521_SHA512_ASN1_SIGNING).unwrap();
        let public = PublicKey::EcP521(key.public_key().as_ref().to_vec());
        TestEc { key, public }
    }

    pub(crate) fn ec_sign(key: &EcdsaKeyPair, msg: &[u8]) -> Vec<u8> {
        key.sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    fn device_key() -> &'static DeviceKey {
        static KEY: OnceLock<DeviceKey> = OnceLock::new();
        KEY.get_or_init(|| DeviceKey::generate().unwrap())
    }

    fn issue(
        signer: &EcdsaKeyPair,
        role: Role,
        subject: &str,
        issuer: &str,
        public_key: PublicKey,
    ) -> Certificate {
        let mut cert = Certificate {
            role,
            subject: subject.into(),
            issuer: issuer.into(),
            serial: vec![1, 2, 3, 4],
            not_before: 1_000,
            not_after: 2_000,
            public_key,
            signature: Vec::new(),
        };
        cert.signature = ec_sign(signer, &cert.tbs().unwrap());
        cert
    }

    struct Chain {
        root: TestEc,
        class: Certificate,
        device: Certificate,
    }

    fn chain() -> Chain {
        let root = ec_key();
        let class_key = ec_key();
        let class = issue(
            &root.key,
            Role::Class,
            "softcca class A",
            "softcca root",
            class_key.public,
        );
        let device = issue(
            &class_key.key,
            Role::Device,
            "softcca device 42",
            "softcca class A",
            device_key().public_key(),
        );
        Chain {
            root,
            class,
            device,
        }
    }

    #[test]
    fn public_key_round_trip_and_strictness() {
        let ec = ec_key().public;
        let rsa = device_key().public_key();
        for k in [&ec, &rsa] {
            let enc = k.to_bytes().unwrap();
            assert_eq!(&PublicKey::from_bytes(&enc).unwrap(), k);
            assert_eq!(k.fingerprint(), sha256(&enc));
            let mut trailing = enc.clone();
            trailing.push(0);
            assert!(PublicKey::from_bytes(&trailing).is_err());
        }
        assert_ne!(ec.fingerprint(), rsa.fingerprint());
        // Wrong kind for the bytes.
        let mut enc = ec.to_bytes().unwrap();
        enc[0] = KIND_RSA;
        assert!(PublicKey::from_bytes(&enc).is_err());
        enc[0] = 9;
        assert!(PublicKey::from_bytes(&enc).is_err());
        // Off-curve point.
        let PublicKey::EcP521(mut point) = ec.clone() else {
            unreachable!()
        };
        point[100] ^= 1;
        assert!(PublicKey::EcP521(point).validate().is_err());
        // Compressed / short point.
        assert!(PublicKey::EcP521(vec![4; 67]).validate().is_err());
        assert!(PublicKey::Rsa(vec![]).to_bytes().is_err());
        // Invalid key has a fingerprint distinct from valid ones.
        assert_ne!(PublicKey::Rsa(vec![1]).fingerprint(), rsa.fingerprint());
    }

    #[test]
    fn certificate_round_trip_and_chain() {
        let c = chain();
        for cert in [&c.class, &c.device] {
            let enc = cert.to_bytes().unwrap();
            assert_eq!(&Certificate::from_bytes(&enc).unwrap(), cert);
            assert_eq!(
                cert.tbs().unwrap(),
                enc[..enc.len() - 2 - cert.signature.len()]
            );
        }
        verify_chain(&c.root.public, &c.class, &c.device, 1_500).unwrap();
        verify_chain(&c.root.public, &c.class, &c.device, 1_000).unwrap();
        verify_chain(&c.root.public, &c.class, &c.device, 2_000).unwrap();
    }

    #[test]
    fn certificate_strict_fields() {
        let c = chain();
        let enc = c.class.to_bytes().unwrap();
        let mut bad = enc.clone();
        bad.push(0);
        assert!(Certificate::from_bytes(&bad).is_err(), "trailing byte");
        for (pos, val) in [(0, b'X'), (8, 2), (9, 0), (9, 5), (10, 1), (11, 1)] {
            let mut bad = enc.clone();
            bad[pos] = val;
            assert!(Certificate::from_bytes(&bad).is_err(), "pos {pos}");
        }
        for i in 0..enc.len() {
            assert!(
                Certificate::from_bytes(&enc[..i]).is_err(),
                "truncated at {i}"
            );
        }
        let mut cert = c.class.clone();
        cert.subject = "x".repeat(65);
        assert!(cert.to_bytes().is_err());
        cert.subject = "tab\there".into();
        assert!(cert.to_bytes().is_err());
        cert.subject = String::new();
        assert!(cert.to_bytes().is_err());
        let mut cert = c.class.clone();
        cert.serial = vec![0; 33];
        assert!(cert.to_bytes().is_err());
        cert.serial.clear();
        assert!(cert.to_bytes().is_err());
        let mut cert = c.class.clone();
        cert.not_before = 3_000;
        assert!(cert.to_bytes().is_err());
        let mut cert = c.class.clone();
        cert.signature = vec![0; MAX_EC_SIGNATURE_LEN + 1];
        assert!(cert.to_bytes().is_err());
        cert.signature.clear();
        assert!(cert.to_bytes().is_err());
    }

    #[test]
    fn certificate_every_byte_tamper_fails() {
        let c = chain();
        for (which, cert) in [("class", &c.class), ("device", &c.device)] {
            let enc = cert.to_bytes().unwrap();
            for i in 0..enc.len() {
                for mask in [0x01u8, 0x80] {
                    let mut bad = enc.clone();
                    bad[i] ^= mask;
                    let Ok(parsed) = Certificate::from_bytes(&bad) else {
                        continue;
                    };
                    let (class, device) = if which == "class" {
                        (parsed, c.device.clone())
                    } else {
                        (c.class.clone(), parsed)
                    };
                    assert!(
                        verify_chain(&c.root.public, &class, &device, 1_500).is_err(),
                        "{which} byte {i} mask {mask:#x} accepted"
                    );
                }
            }
        }
    }

    #[test]
    fn chain_failures() {
        let c = chain();
        let root = &c.root.public;
        // Expired / not yet valid.
        assert_eq!(
            verify_chain(root, &c.class, &c.device, 2_001),
            Err(AttestError::Expired)
        );
        assert_eq!(
            verify_chain(root, &c.class, &c.device, 999),
            Err(AttestError::NotYetValid)
        );
        // Another root.
        let other = ec_key();
        assert_eq!(
            verify_chain(&other.public, &c.class, &c.device, 1_500),
            Err(AttestError::BadSignature)
        );
        // A full chain built under another root fails against ours.
        let c2 = chain();
        assert!(verify_chain(root, &c2.class, &c2.device, 1_500).is_err());
        // Mixing: class from chain 2, device from chain 1 (same names).
        assert_eq!(
            verify_chain(&c2.root.public, &c2.class, &c.device, 1_500),
            Err(AttestError::BadSignature)
        );
        // Wrong roles.
        assert!(matches!(
            verify_chain(root, &c.device, &c.device, 1_500),
            Err(AttestError::WrongRole {
                expected: Role::Class,
                found: Role::Device
            })
        ));
        assert!(matches!(
            verify_chain(root, &c.class, &c.class, 1_500),
            Err(AttestError::WrongRole {
                expected: Role::Device,
                found: Role::Class
            })
        ));
        // Role changed after signing (re-encoded) breaks the signature.
        let mut relabeled = c.class.clone();
        relabeled.role = Role::CodeSigning;
        assert!(relabeled.verify_issued_by(root).is_err());
        // A class cert signed by root but with role CodeSigning is refused.
        let signer = ec_key();
        let cs = issue(
            &c.root.key,
            Role::CodeSigning,
            "softcca class A",
            "softcca root",
            signer.public,
        );
        cs.verify_issued_by(root).unwrap();
        assert!(matches!(
            verify_chain(root, &cs, &c.device, 1_500),
            Err(AttestError::WrongRole { .. })
        ));
        // Wrong issuer name on device cert.
        let class_key = ec_key();
        let class = issue(
            &c.root.key,
            Role::Class,
            "softcca class A",
            "softcca root",
            class_key.public,
        );
        let device = issue(
            &class_key.key,
            Role::Device,
            "d",
            "softcca class B",
            device_key().public_key(),
        );
        assert_eq!(
            verify_chain(root, &class, &device, 1_500),
            Err(AttestError::IssuerMismatch)
        );
        // Right name but signed by a different class key.
        let imposter = ec_key();
        let device = issue(
            &imposter.key,
            Role::Device,
            "d",
            "softcca class A",
            device_key().public_key(),
        );
        assert_eq!(
            verify_chain(root, &class, &device, 1_500),
            Err(AttestError::BadSignature)
        );
        // Wrong key types.
        let rsa_class = issue(
            &c.root.key,
            Role::Class,
            "softcca class A",
            "softcca root",
            device_key().public_key(),
        );
        assert_eq!(
            verify_chain(root, &rsa_class, &c.device, 1_500),
            Err(AttestError::WrongKeyType)
        );
        let ec_device = issue(
            &class_key.key,
            Role::Device,
            "d",
            "softcca class A",
            ec_key().public,
        );
        assert_eq!(
            verify_chain(root, &class, &ec_device, 1_500),
            Err(AttestError::WrongKeyType)
        );
        assert_eq!(
            c.class.verify_issued_by(&device_key().public_key()),
            Err(AttestError::WrongKeyType)
        );
    }

    #[test]
    fn device_key_pairwise_and_pkcs8() {
        let key = device_key();
        let msg = b"hello";
        let sig = key.sign(msg).unwrap();
        key.public_key().verify(msg, &sig).unwrap();
        assert!(key.public_key().verify(b"hellp", &sig).is_err());
        let pkcs8 = key.to_pkcs8();
        let loaded = DeviceKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(loaded.public_key(), key.public_key());
        key.public_key()
            .verify(msg, &loaded.sign(msg).unwrap())
            .unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains("DeviceKey"));
        assert!(!dbg.contains(&hex_string(&pkcs8[pkcs8.len() - 16..])));
        assert!(DeviceKey::from_pkcs8(&pkcs8[..pkcs8.len() - 1]).is_err());
        assert!(DeviceKey::from_pkcs8(b"").is_err());
        // An EC PKCS#8 is rejected.
        let ec = EcdsaKeyPair::generate(&ECDSA_P521_SHA512_ASN1_SIGNING).unwrap();
        assert_eq!(
            DeviceKey::from_pkcs8(ec.to_pkcs8v1().unwrap().as_ref()).unwrap_err(),
            AttestError::KeyRejected
        );
        // RSA-3072 is refused as a device key.
        let big = rsa::KeyPair::generate(rsa::KeySize::Rsa3072).unwrap();
        use aws_lc_rs::encoding::AsDer as _;
        assert!(DeviceKey::from_pkcs8(big.as_der().unwrap().as_ref()).is_err());
    }

    fn status() -> SignedStatus {
        SignedStatus::sign(
            device_key(),
            &[7u8; 16],
            vec![
                ("serial".into(), "SCCA0001".into()),
                ("firmware".into(), "5.6.9 CCA".into()),
                ("empty".into(), String::new()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn signed_status_round_trip_and_verify() {
        let s = status();
        let dev = device_key().public_key();
        s.verify(&dev, &[7u8; 16]).unwrap();
        let enc = s.to_bytes().unwrap();
        assert_eq!(SignedStatus::from_bytes(&enc).unwrap(), s);
        assert_eq!(
            SignedStatus::message(&s.nonce, &s.fields).unwrap(),
            enc[..enc.len() - 2 - s.signature.len()]
        );
        assert_eq!(s.verify(&dev, &[8u8; 16]), Err(AttestError::NonceMismatch));
        assert_eq!(s.verify(&dev, &[7u8; 17]), Err(AttestError::NonceMismatch));
        assert_eq!(
            s.verify(&ec_key().public, &[7u8; 16]),
            Err(AttestError::WrongKeyType)
        );
        let other = DeviceKey::generate().unwrap();
        assert_eq!(
            s.verify(&other.public_key(), &[7u8; 16]),
            Err(AttestError::BadSignature)
        );
        let mut reordered = s.clone();
        reordered.fields.swap(0, 1);
        assert_eq!(
            reordered.verify(&dev, &[7u8; 16]),
            Err(AttestError::BadSignature)
        );
    }

    #[test]
    fn signed_status_limits() {
        let key = device_key();
        assert!(SignedStatus::sign(key, &[0; 15], vec![]).is_err());
        assert!(SignedStatus::sign(key, &[0; 65], vec![]).is_err());
        SignedStatus::sign(key, &[0; 64], vec![]).unwrap();
        let dup = vec![("a".into(), "1".into()), ("a".into(), "2".into())];
        assert!(SignedStatus::sign(key, &[0; 16], dup).is_err());
        let many: Vec<_> = (0..65).map(|i| (format!("f{i}"), String::new())).collect();
        assert!(SignedStatus::sign(key, &[0; 16], many).is_err());
        assert!(SignedStatus::sign(key, &[0; 16], vec![(String::new(), "v".into())]).is_err());
        assert!(SignedStatus::sign(key, &[0; 16], vec![("n".into(), "é".into())]).is_err());
        assert!(SignedStatus::sign(key, &[0; 16], vec![("n".into(), "v".repeat(513))]).is_err());
        let enc = status().to_bytes().unwrap();
        let mut bad = enc.clone();
        bad.push(0);
        assert!(SignedStatus::from_bytes(&bad).is_err());
        for i in 0..enc.len() {
            assert!(SignedStatus::from_bytes(&enc[..i]).is_err());
        }
    }

    #[test]
    fn signed_status_every_byte_tamper_fails() {
        let s = status();
        let dev = device_key().public_key();
        let enc = s.to_bytes().unwrap();
        for i in 0..enc.len() {
            let mut bad = enc.clone();
            bad[i] ^= 0x01;
            if let Ok(parsed) = SignedStatus::from_bytes(&bad) {
                assert!(parsed.verify(&dev, &s.nonce).is_err(), "byte {i} accepted");
            }
        }
    }

    #[test]
    fn mutation_no_panic_certificate() {
        let c = chain();
        let root = c.root.public.clone();
        let class = c.class.clone();
        mutation_loop(
            &c.device.to_bytes().unwrap(),
            20_000,
            0x9e37_79b9_7f4a_7c15,
            |b| {
                if let Ok(cert) = Certificate::from_bytes(b) {
                    let _ = cert.to_bytes();
                    let _ = verify_chain(&root, &class, &cert, 1_500);
                }
            },
        );
        mutation_loop(
            &c.class.to_bytes().unwrap(),
            20_000,
            0x1234_5678_9abc_def1,
            |b| {
                let _ = Certificate::from_bytes(b);
            },
        );
    }

    #[test]
    fn mutation_no_panic_public_key_and_status() {
        mutation_loop(&ec_key().public.to_bytes().unwrap(), 20_000, 77, |b| {
            if let Ok(k) = PublicKey::from_bytes(b) {
                let _ = k.verify(b"m", b"s");
                let _ = k.fingerprint();
            }
        });
        mutation_loop(
            &device_key().public_key().to_bytes().unwrap(),
            20_000,
            78,
            |b| {
                let _ = PublicKey::from_bytes(b);
            },
        );
        let dev = device_key().public_key();
        mutation_loop(&status().to_bytes().unwrap(), 20_000, 79, |b| {
            if let Ok(s) = SignedStatus::from_bytes(b) {
                let _ = s.to_bytes();
                let _ = s.verify(&dev, &[7u8; 16]);
            }
        });
    }

    #[test]
    fn error_display() {
        let e = AttestError::WrongRole {
            expected: Role::Class,
            found: Role::Device,
        };
        assert_eq!(e.to_string(), "certificate role is device, expected class");
        assert!(AttestError::Malformed("x").to_string().contains('x'));
    }
}
