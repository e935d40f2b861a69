//! The variable-length symmetric key token, version X'05', for AES and HMAC keys.
//!
//! Layout (IBM Docs "CCA for Linux", "General format of a variable-length symmetric
//! key-token", <https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_general_vlskt.html>; "HMAC MAC
//! variable-length symmetric key token",
//! <https://www.ibm.com/docs/en/linux-on-systems?topic=tokens-hmac-mac-variable-length-symmetric-key-token>;
//! "HMAC key token" (null token),
//! <https://www.ibm.com/docs/en/linux-on-systems?topic=formats-hmac-key-token>; z/OS ICSF
//! "Variable-length symmetric key token",
//! <https://ibm.com/docs/en/zos/2.2.0?topic=vlsktf-variable-length-symmetric-key-token-1>;
//! `/work/shared/docs/CCA-FACTS-symmetric.md` §4). All integers big-endian.
//!
//! | off | len | content |
//! |---|---|---|
//! | 0 | 1 | 00 null · 01 internal · 02 external |
//! | 1 | 1 | zero |
//! | 2 | 2 | token length: 46 + 2·kuf + 2·kmf + kl + iead + uad + ⌈pl/8⌉ (8 for a null token) |
//! | 4 | 1 | version X'05' |
//! | 5 | 3 | zero |
//! | 8 | 1 | key-material state: 00 skeleton · 01 clear · 02 under a KEK · 03 under the AES MK |
//! | 9 | 1 | KVP type: 00 none · 01 AES MKVP · 02 KEK VP |
//! | 10 | 16 | KVP, left-aligned, zero-padded (the 8-byte AES MKVP for state 03) |
//! | 26 | 1 | wrapping method: 00 clear · 02 AESKW · 03 PKOAEP2 |
//! | 27 | 1 | hash of the wrapping: 00 none · 02 SHA-256 (AESKW) · 01/02/04/08 (PKOAEP2) |
//! | 28 | 1 | payload format version: 00 V0 · 01 V1 |
//! | 29 | 1 | zero |
//! | 30 | 1 | associated-data version X'01' |
//! | 31 | 1 | zero |
//! | 32 | 2 | adl = 16 + 2·kuf + 2·kmf + kl + iead + uad |
//! | 34 / 35 / 36 | 1 | kl (0 or 64), iead, uad |
//! | 37 | 1 | zero |
//! | 38 | 2 | pl, the payload length in bits |
//! | 40 | 1 | zero |
//! | 41 | 1 | algorithm: 02 AES · 03 HMAC |
//! | 42 | 2 | key type: 0001 CIPHER · 0002 MAC · 0003 EXPORTER · 0004 IMPORTER · … |
//! | 44 | 1 + 2·kuf | kuf, then the key-usage fields |
//! | 45+2kuf | 1 + 2·kmf | kmf, then the key-management fields |
//! | … | kl, iead, uad | key name, IBM extended AD, user AD |
//! | 30+adl | ⌈pl/8⌉ | payload |
//!
//! The null token is the eight bytes `00 00 0008 00000000`.
//!
//! **Checks** (each answers IBM's code and nothing else): fewer than 8 bytes, or more than
//! [`MAX_LEN`], 8/43; byte 0 not 00/01/02, 8/47; version not X'05', 8/49; the length field
//! against the real length, every reserved byte, the AD version, adl against its parts, kl
//! (0 or 64), the payload bytes against pl, the state against KVP type, wrapping method and
//! hash, an algorithm other than AES or HMAC: 8/47. **\[I\]** IBM documents no narrower codes
//! for these fields; softcca answers 8/47 ("a source key token is unusable").
//!
//! **The wrapped payload (state 03).** IBM wraps, with AESKW (ANSI X9.102) under the AES
//! master key, P = ICV `A6A6A6A6A6A6` ‖ pad length (1) ‖ hash length (1) ‖ hash options (4)
//! ‖ SHA-256(AD bytes 30 … 30+adl−1) ‖ key ‖ zero padding to a multiple of 8 bytes, the first
//! semiblock of P acting as the integrity block of the wrap. Neither aws-lc-rs nor RustCrypto
//! `aes-kw` lets the caller set that integrity block (both fix RFC 3394's IV), and softcca
//! writes no key-wrap mode of its own, so softcca uses the closest standard construction:
//! **AES-KWP (RFC 5649 / NIST SP 800-38F KWP, aws-lc-rs `wrap_with_padding`) under the
//! 32-byte AES master key of D = hash options (4, zero) ‖ SHA-256(AD) ‖ key.** The ciphertext
//! has exactly IBM's length (8 + ⌈(36 + key bytes)/8⌉·8 = ⌈(44 + key bytes)/8⌉·8), so pl and
//! the token length are IBM's (AES-128/192/256: 512, 576, 640 bits; HMAC:
//! ((bits+32+63) & ~63) + 320), but the integrity block is KWP's `A65959A6` ‖ 32-bit message
//! length instead of IBM's `A6A6A6A6A6A6` ‖ pad length ‖ hash length: softcca tokens do not
//! unwrap on an IBM card and IBM tokens do not unwrap here (they could not anyway: the master
//! keys differ). The hash of the AD binds every attribute to the key: a token whose AD was
//! altered unwraps to a hash that differs, 8/47 **\[I\]** (IBM documents no narrower code).
//! A wrap that fails its integrity check (altered payload) is 8/47 as well.
//!
//! A clear payload (state 01) is the key itself, pl its bit length.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::mk::{Class, MasterKey, verification_pattern};

use super::{ClearKey, MasterKeyUsed};

/// The null variable-length token.
pub const NULL_TOKEN: [u8; 8] = [0, 0, 0, 8, 0, 0, 0, 0];
/// The version byte.
pub const VERSION: u8 = 0x05;
/// The longest token softcca reads: IBM's largest internal HMAC token (679 bytes) rounded up
/// to the AES key storage record (725 bytes).
pub const MAX_LEN: usize = 725;
/// The key-name length a token may carry besides zero.
pub const KEY_NAME_LEN: usize = 64;

/// Offset of the associated data.
const AD_START: usize = 30;
/// The fixed part of the associated data (bytes 30–45 less the field arrays).
const AD_FIXED: usize = 16;
/// The fixed part of the token.
const FIXED: usize = 46;
/// Hash options and SHA-256 of the AD ahead of the key in the wrapped data.
const WRAP_PREFIX: usize = 4 + 32;

/// Key type values (offset 42).
pub mod key_type {
    /// CIPHER (AES).
    pub const CIPHER: u16 = 0x0001;
    /// MAC (AES CMAC or HMAC).
    pub const MAC: u16 = 0x0002;
    /// EXPORTER (AES).
    pub const EXPORTER: u16 = 0x0003;
    /// IMPORTER (AES).
    pub const IMPORTER: u16 = 0x0004;
}

/// Algorithm (offset 41).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// X'02'.
    Aes,
    /// X'03'.
    Hmac,
}

impl Algorithm {
    const fn byte(self) -> u8 {
        match self {
            Algorithm::Aes => 0x02,
            Algorithm::Hmac => 0x03,
        }
    }

    fn from_byte(b: u8) -> Option<Algorithm> {
        match b {
            0x02 => Some(Algorithm::Aes),
            0x03 => Some(Algorithm::Hmac),
            _ => None,
        }
    }
}

/// Key-material state (offset 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// 00: no key (a skeleton).
    Skeleton,
    /// 01: a clear key.
    Clear,
    /// 02: wrapped under a key-encrypting key (external tokens).
    UnderKek,
    /// 03: wrapped under the AES master key (internal tokens).
    UnderMk,
}

impl KeyState {
    const fn byte(self) -> u8 {
        match self {
            KeyState::Skeleton => 0,
            KeyState::Clear => 1,
            KeyState::UnderKek => 2,
            KeyState::UnderMk => 3,
        }
    }
}

/// The wrapping-information section (bytes 8–29).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapping {
    /// Key-material state.
    pub state: KeyState,
    /// KVP type: 0 none, 1 AES MKVP, 2 KEK VP.
    pub kvp_type: u8,
    /// The verification pattern of the wrapping key, left-aligned.
    pub kvp: [u8; 16],
    /// 0 clear, 2 AESKW, 3 PKOAEP2.
    pub method: u8,
    /// Hash of the wrapping.
    pub hash: u8,
    /// Payload format version, 0 or 1.
    pub payload_version: u8,
}

impl Wrapping {
    /// No key.
    pub const fn skeleton() -> Wrapping {
        Wrapping {
            state: KeyState::Skeleton,
            kvp_type: 0,
            kvp: [0; 16],
            method: 0,
            hash: 0,
            payload_version: 0,
        }
    }

    /// A clear key.
    pub const fn clear() -> Wrapping {
        Wrapping {
            state: KeyState::Clear,
            ..Wrapping::skeleton()
        }
    }
}

/// The associated data: everything IBM binds to the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Associated {
    /// AES or HMAC.
    pub algorithm: Algorithm,
    /// Key type (offset 42).
    pub key_type: u16,
    /// The key-usage fields.
    pub kuf: Vec<u16>,
    /// The key-management fields.
    pub kmf: Vec<u16>,
    /// Key name: empty or 64 bytes.
    pub key_name: Vec<u8>,
    /// IBM extended associated data.
    pub iead: Vec<u8>,
    /// User associated data (0–255 bytes).
    pub uad: Vec<u8>,
}

impl Associated {
    /// adl, the length of the associated data.
    pub fn len(&self) -> usize {
        AD_FIXED
            + 2 * self.kuf.len()
            + 2 * self.kmf.len()
            + self.key_name.len()
            + self.iead.len()
            + self.uad.len()
    }

    /// Never empty; for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A key-usage field, 0 when absent.
    pub fn kuf(&self, i: usize) -> u16 {
        self.kuf.get(i).copied().unwrap_or(0)
    }

    /// A key-management field, 0 when absent.
    pub fn kmf(&self, i: usize) -> u16 {
        self.kmf.get(i).copied().unwrap_or(0)
    }
}

/// A non-null variable-length token.
#[derive(Clone, PartialEq, Eq)]
pub struct VarKey {
    /// True for X'01' (internal), false for X'02' (external).
    pub internal: bool,
    /// The wrapping information.
    pub wrapping: Wrapping,
    /// The associated data.
    pub ad: Associated,
    /// pl, the payload length in bits.
    pub payload_bits: u16,
    /// The payload: empty, the clear key, or the wrapped key. Zeroized on drop.
    pub payload: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for VarKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VarKey")
            .field("internal", &self.internal)
            .field("wrapping", &self.wrapping)
            .field("ad", &self.ad)
            .field("payload_bits", &self.payload_bits)
            .finish_non_exhaustive()
    }
}

/// A parsed variable-length token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarToken {
    /// `00 00 0008 00000000`.
    Null,
    /// An internal or external token.
    Key(VarKey),
}

fn be16(b: &[u8], at: usize) -> Result<u16, Failure> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(Failure::KeyTokenInvalid)
}

fn byte(b: &[u8], at: usize) -> Result<u8, Failure> {
    b.get(at).copied().ok_or(Failure::KeyTokenInvalid)
}

impl VarToken {
    /// Parses a token; see the module documentation for the checks and their codes.
    pub fn parse(bytes: &[u8]) -> Result<VarToken, Failure> {
        if bytes.len() < 8 || bytes.len() > MAX_LEN {
            return Err(Failure::KeyTokenLength);
        }
        let bad = Failure::KeyTokenInvalid;
        if bytes[0] == 0 {
            return if bytes == NULL_TOKEN {
                Ok(VarToken::Null)
            } else {
                Err(bad)
            };
        }
        if !matches!(bytes[0], 1 | 2) {
            return Err(bad);
        }
        if bytes[4] != VERSION {
            return Err(Failure::KeyTokenVersion);
        }
        if bytes.len() < FIXED
            || bytes[1] != 0
            || usize::from(be16(bytes, 2)?) != bytes.len()
            || bytes[5..8] != [0, 0, 0]
            || bytes[29] != 0
            || bytes[30] != 1
            || bytes[31] != 0
            || bytes[37] != 0
            || bytes[40] != 0
        {
            return Err(bad);
        }
        let internal = bytes[0] == 1;
        let state = match bytes[8] {
            0 => KeyState::Skeleton,
            1 => KeyState::Clear,
            2 => KeyState::UnderKek,
            3 => KeyState::UnderMk,
            _ => return Err(bad),
        };
        let mut kvp = [0u8; 16];
        kvp.copy_from_slice(&bytes[10..26]);
        let wrapping = Wrapping {
            state,
            kvp_type: bytes[9],
            kvp,
            method: bytes[26],
            hash: bytes[27],
            payload_version: bytes[28],
        };
        check_wrapping(&wrapping, internal)?;
        let adl = usize::from(be16(bytes, 32)?);
        let kl = usize::from(bytes[34]);
        let iead = usize::from(bytes[35]);
        let uad = usize::from(bytes[36]);
        let pl = be16(bytes, 38)?;
        let algorithm = Algorithm::from_byte(bytes[41]).ok_or(bad)?;
        let key_type = be16(bytes, 42)?;
        let kuf_n = usize::from(bytes[44]);
        let mut at = 45;
        let mut kuf = Vec::with_capacity(kuf_n);
        for _ in 0..kuf_n {
            kuf.push(be16(bytes, at)?);
            at += 2;
        }
        let kmf_n = usize::from(byte(bytes, at)?);
        at += 1;
        let mut kmf = Vec::with_capacity(kmf_n);
        for _ in 0..kmf_n {
            kmf.push(be16(bytes, at)?);
            at += 2;
        }
        if !matches!(kl, 0 | KEY_NAME_LEN) {
            return Err(bad);
        }
        let tail = |from: usize, n: usize| bytes.get(from..from + n).ok_or(bad);
        let key_name = tail(at, kl)?.to_vec();
        let iead_bytes = tail(at + kl, iead)?.to_vec();
        let uad_bytes = tail(at + kl + iead, uad)?.to_vec();
        let ad = Associated {
            algorithm,
            key_type,
            kuf,
            kmf,
            key_name,
            iead: iead_bytes,
            uad: uad_bytes,
        };
        if ad.len() != adl || AD_START + adl != at + kl + iead + uad {
            return Err(bad);
        }
        let payload_len = usize::from(pl).div_ceil(8);
        let payload = bytes.get(AD_START + adl..).ok_or(bad)?;
        if payload.len() != payload_len {
            return Err(bad);
        }
        match state {
            KeyState::Skeleton if pl != 0 => return Err(bad),
            KeyState::Clear | KeyState::UnderKek | KeyState::UnderMk if pl == 0 => {
                return Err(bad);
            }
            KeyState::UnderMk | KeyState::UnderKek if !pl.is_multiple_of(64) => return Err(bad),
            _ => {}
        }
        Ok(VarToken::Key(VarKey {
            internal,
            wrapping,
            ad,
            payload_bits: pl,
            payload: Zeroizing::new(payload.to_vec()),
        }))
    }

    /// The token's bytes; the exact inverse of [`VarToken::parse`].
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            VarToken::Null => NULL_TOKEN.to_vec(),
            VarToken::Key(k) => k.to_bytes(),
        }
    }
}

/// The rules tying the key-material state to the other wrapping fields.
fn check_wrapping(w: &Wrapping, internal: bool) -> Result<(), Failure> {
    let ok = match w.state {
        KeyState::Skeleton | KeyState::Clear => {
            w.kvp_type == 0 && w.kvp == [0; 16] && w.method == 0 && w.hash == 0
        }
        KeyState::UnderMk => {
            internal && w.kvp_type == 1 && w.kvp[8..] == [0; 8] && w.method == 2 && w.hash == 2
        }
        KeyState::UnderKek => {
            !internal
                && w.kvp_type == 2
                && ((w.method == 2 && w.hash == 2)
                    || (w.method == 3 && matches!(w.hash, 1 | 2 | 4 | 8)))
        }
    };
    if ok && w.payload_version <= 1 {
        Ok(())
    } else {
        Err(Failure::KeyTokenInvalid)
    }
}

impl VarKey {
    /// A token with no key (key-material state 00).
    pub fn skeleton(internal: bool, ad: Associated) -> VarKey {
        VarKey {
            internal,
            wrapping: Wrapping::skeleton(),
            ad,
            payload_bits: 0,
            payload: Zeroizing::new(Vec::new()),
        }
    }

    /// A token holding `key` in the clear (key-material state 01).
    pub fn clear(internal: bool, ad: Associated, key: &[u8]) -> Result<VarKey, Failure> {
        let bits = u16::try_from(key.len() * 8).map_err(|_| Failure::KeyLength)?;
        Ok(VarKey {
            internal,
            wrapping: Wrapping::clear(),
            ad,
            payload_bits: bits,
            payload: Zeroizing::new(key.to_vec()),
        })
    }

    /// The associated-data bytes (offset 30 to 30 + adl), which the wrap hashes.
    pub fn ad_bytes(&self) -> Vec<u8> {
        let ad = &self.ad;
        let mut b = Vec::with_capacity(ad.len());
        b.push(1);
        b.push(0);
        b.extend_from_slice(&u16::try_from(ad.len()).unwrap_or(u16::MAX).to_be_bytes());
        for n in [ad.key_name.len(), ad.iead.len(), ad.uad.len()] {
            b.push(u8::try_from(n).unwrap_or(u8::MAX));
        }
        b.push(0);
        b.extend_from_slice(&self.payload_bits.to_be_bytes());
        b.push(0);
        b.push(ad.algorithm.byte());
        b.extend_from_slice(&ad.key_type.to_be_bytes());
        b.push(u8::try_from(ad.kuf.len()).unwrap_or(u8::MAX));
        for f in &ad.kuf {
            b.extend_from_slice(&f.to_be_bytes());
        }
        b.push(u8::try_from(ad.kmf.len()).unwrap_or(u8::MAX));
        for f in &ad.kmf {
            b.extend_from_slice(&f.to_be_bytes());
        }
        b.extend_from_slice(&ad.key_name);
        b.extend_from_slice(&ad.iead);
        b.extend_from_slice(&ad.uad);
        b
    }

    /// The token's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let ad = self.ad_bytes();
        let total = AD_START + ad.len() + self.payload.len();
        let mut b = Vec::with_capacity(total);
        b.push(if self.internal { 1 } else { 2 });
        b.push(0);
        b.extend_from_slice(&u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes());
        b.extend_from_slice(&[VERSION, 0, 0, 0]);
        let w = &self.wrapping;
        b.push(w.state.byte());
        b.push(w.kvp_type);
        b.extend_from_slice(&w.kvp);
        b.extend_from_slice(&[w.method, w.hash, w.payload_version, 0]);
        b.extend_from_slice(&ad);
        b.extend_from_slice(&self.payload);
        b
    }

    /// Whether the token is complete: key-management field 2's high-order bits 0–1 are zero
    /// (no key parts still expected).
    pub fn complete(&self) -> bool {
        self.ad.kmf(1) & KMF2_PARTS_MASK == 0
    }
}

/// Key-management field 2: the key-completeness bits (high-order byte, bits 0–1).
pub const KMF2_PARTS_MASK: u16 = 0xC000;

/// The bits of the key-usage and key-management fields softcca reads and writes. Each field
/// is two bytes, high-order byte (HOB) first (IBM Docs "CCA for Linux", CSNBKTB2 "Keywords
/// reference", <https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_ktb2keywords.html>: "Each
/// key-usage field (KUF) and key-management field (KMF) … consists of a high-order byte (HOB)
/// and a low-order byte (LOB)"). The KMF1 bits, KUF1 ENCRYPT | DECRYPT and KUF2 ANY-MODE
/// are **\[V\]** against the Linux kernel (`drivers/s390/crypto/zcrypt_ccamisc.h`, its
/// `KMF1_*` defines, and `zcrypt_ccamisc.c`, an AES CIPHER skeleton a card's CSNBKTB2 built
/// from INTERNAL NO-KEY AES CIPHER ANY-MODE NOEX-SYM NOEXAASY NOEXUASY XPRTCPAC NOEX-RAW
/// NOEX-DES NOEX-AES NOEX-RSA: KUF C000 FF00, KMF 08C8 0000 0000, which softcca reproduces
/// byte for byte in `tests/var.rs`). Values marked **\[U\]** are softcca's reading where
/// IBM's page could not be re-read in full; every verb uses only these constants, so a
/// correction is one line.
pub mod usage {
    /// KUF1 HOB (AES CIPHER): encipher.
    pub const ENCRYPT: u16 = 0x8000;
    /// KUF1 HOB (AES CIPHER): decipher.
    pub const DECRYPT: u16 = 0x4000;
    /// KUF1 HOB (AES CIPHER): cipher-text translate only. **\[U\]**
    pub const C_XLATE: u16 = 0x2000;
    /// KUF1 HOB (MAC keys): the key may generate a MAC. **\[U\]**
    pub const GENERATE_BIT: u16 = 0x8000;
    /// KUF1 HOB (MAC keys): the key may verify a MAC. **\[U\]**
    pub const VERIFY_BIT: u16 = 0x4000;
    /// KUF2 HOB (HMAC): SHA-1 allowed. **\[U\]**
    pub const SHA_1: u16 = 0x8000;
    /// KUF2 HOB (HMAC): SHA-224 allowed. **\[U\]**
    pub const SHA_224: u16 = 0x4000;
    /// KUF2 HOB (HMAC): SHA-256 allowed. **\[U\]**
    pub const SHA_256: u16 = 0x2000;
    /// KUF2 HOB (HMAC): SHA-384 allowed. **\[U\]**
    pub const SHA_384: u16 = 0x1000;
    /// KUF2 HOB (HMAC): SHA-512 allowed. **\[U\]**
    pub const SHA_512: u16 = 0x0800;
    /// KUF2 HOB (AES MAC): CMAC. **\[U\]**
    pub const CMAC: u16 = 0x0100;
    /// KUF2 HOB (AES CIPHER): the encryption mode, one value. **\[U\]**
    pub const MODES: &[(&str, u8)] = &[
        ("CBC", 0x00),
        ("ECB", 0x01),
        ("CFB", 0x02),
        ("OFB", 0x03),
        ("GCM", 0x04),
        ("XTS", 0x05),
        ("ANY-MODE", 0xFF),
    ];
    /// KMF1 HOB: export under a symmetric key allowed (XPRT-SYM; NOEX-SYM clears it).
    pub const XPRT_SYM: u16 = 0x8000;
    /// KMF1 HOB: export under an unauthenticated asymmetric key (XPRTUASY).
    pub const XPRT_UASY: u16 = 0x4000;
    /// KMF1 HOB: export under an authenticated asymmetric key (XPRTAASY).
    pub const XPRT_AASY: u16 = 0x2000;
    /// KMF1 HOB: export in the raw format (XPRT-RAW).
    pub const XPRT_RAW: u16 = 0x1000;
    /// KMF1 HOB: export as a CPACF protected key (XPRTCPAC).
    pub const XPRT_CPAC: u16 = 0x0800;
    /// KMF1 LOB: no export under a DES key.
    pub const NOEX_DES: u16 = 0x0080;
    /// KMF1 LOB: no export under an AES key.
    pub const NOEX_AES: u16 = 0x0040;
    /// KMF1 LOB: no export under an RSA key.
    pub const NOEX_RSA: u16 = 0x0008;
    /// KMF2 HOB completeness: at least two more parts needed (after FIRST with MIN3PART). **\[U\]**
    pub const PARTS_TWO_MORE: u16 = 0xC000;
    /// KMF2 HOB completeness: at least one more part needed. **\[U\]**
    pub const PARTS_ONE_MORE: u16 = 0x8000;
    /// KMF2 HOB completeness: incomplete, may be completed. **\[U\]**
    pub const PARTS_COMPLETABLE: u16 = 0x4000;
    /// KMF3 pedigree (HOB original, LOB current): unknown (Key Token Build2 skeleton). **\[U\]**
    pub const PEDIGREE_UNKNOWN: u16 = 0x0000;
    /// KMF3 pedigree: randomly generated (Key Generate2). **\[U\]**
    pub const PEDIGREE_RANDOM: u16 = 0x0202;
    /// KMF3 pedigree: from clear key parts (Key Part Import2). **\[U\]**
    pub const PEDIGREE_PARTS: u16 = 0x0404;
    /// KMF3 pedigree: entered as a clear key value (Key Token Build2 KEY-CLR). **\[U\]**
    pub const PEDIGREE_CLEAR: u16 = 0x0505;
}

impl VarKey {
    /// An AES CIPHER key.
    pub fn is_aes_cipher(&self) -> bool {
        self.ad.algorithm == Algorithm::Aes && self.ad.key_type == key_type::CIPHER
    }

    /// An HMAC MAC key.
    pub fn is_hmac_mac(&self) -> bool {
        self.ad.algorithm == Algorithm::Hmac && self.ad.key_type == key_type::MAC
    }

    /// An AES CIPHER key whose key-usage field 1 allows enciphering.
    pub fn may_encrypt(&self) -> bool {
        self.is_aes_cipher() && self.ad.kuf(0) & usage::ENCRYPT != 0
    }

    /// An AES CIPHER key whose key-usage field 1 allows deciphering.
    pub fn may_decrypt(&self) -> bool {
        self.is_aes_cipher() && self.ad.kuf(0) & usage::DECRYPT != 0
    }

    /// Whether an AES CIPHER key allows the mode named by `keyword` (CBC, ECB, CFB, OFB,
    /// GCM, XTS): its key-usage field 2 names that mode or ANY-MODE.
    pub fn allows_mode(&self, keyword: &str) -> bool {
        let mode = (self.ad.kuf(1) >> 8) as u8;
        self.is_aes_cipher()
            && usage::MODES
                .iter()
                .any(|(k, v)| *v == mode && (*k == keyword || *k == "ANY-MODE"))
    }

    /// An HMAC MAC key allowed to generate.
    pub fn may_generate(&self) -> bool {
        self.is_hmac_mac() && self.ad.kuf(0) & usage::GENERATE_BIT != 0
    }

    /// An HMAC MAC key allowed to verify.
    pub fn may_verify(&self) -> bool {
        self.is_hmac_mac() && self.ad.kuf(0) & usage::VERIFY_BIT != 0
    }

    /// An HMAC key whose key-usage field 2 allows the hash method bit `method`
    /// ([`usage::SHA_1`] …).
    pub fn allows_hash(&self, method: u16) -> bool {
        self.is_hmac_mac() && self.ad.kuf(1) & method != 0
    }
}

/// The AES master key as a KWP key-encrypting key.
fn kek(mk: &MasterKey) -> Result<AesKek, Failure> {
    AesKek::new(&AES_256, mk.expose()).map_err(|_| Failure::KeyLength)
}

fn ad_hash(token: &VarKey) -> digest::Digest {
    digest::digest(&digest::SHA256, &token.ad_bytes())
}

/// Wraps `key` under the AES master key into `template`'s associated data: the token
/// returned is internal, key-material state 03, V0 payload. pl is set before the AD is
/// hashed, since the AD includes it.
pub fn wrap_var(mk: &MasterKey, template: &VarKey, key: &[u8]) -> Result<VarKey, Failure> {
    let wrapped_len = 8 + (WRAP_PREFIX + key.len()).div_ceil(8) * 8;
    let bits = u16::try_from(wrapped_len * 8).map_err(|_| Failure::KeyLength)?;
    let mut token = VarKey {
        internal: true,
        wrapping: Wrapping {
            state: KeyState::UnderMk,
            kvp_type: 1,
            kvp: [0; 16],
            method: 2,
            hash: 2,
            payload_version: 0,
        },
        ad: template.ad.clone(),
        payload_bits: bits,
        payload: Zeroizing::new(Vec::new()),
    };
    token.wrapping.kvp[..8].copy_from_slice(&verification_pattern(Class::Aes, mk));
    let mut data = Zeroizing::new(Vec::with_capacity(WRAP_PREFIX + key.len()));
    data.extend_from_slice(&[0; 4]);
    data.extend_from_slice(ad_hash(&token).as_ref());
    data.extend_from_slice(key);
    let mut out = Zeroizing::new(vec![0u8; wrapped_len]);
    let n = kek(mk)?
        .wrap_with_padding(&data, &mut out)
        .map_err(|_| Failure::KeyLength)?
        .len();
    if n != wrapped_len {
        return Err(Failure::KeyLength);
    }
    token.payload = out;
    Ok(token)
}

/// The key of a token: unwrapped under the current or old AES master key (with which one),
/// or taken from a clear payload (`None`). A skeleton or a KEK-wrapped payload is 8/47; a V1
/// payload 8/2; an MKVP of neither master key 8/24; no current AES master key 12/764; a
/// failed integrity check or an AD hash that differs 8/47.
pub fn unwrap_var(
    token: &VarKey,
    current: Option<&MasterKey>,
    old: Option<&MasterKey>,
) -> Result<(ClearKey, Option<MasterKeyUsed>), Failure> {
    match token.wrapping.state {
        KeyState::Skeleton | KeyState::UnderKek => return Err(Failure::KeyTokenInvalid),
        KeyState::Clear => {
            let n = usize::from(token.payload_bits).div_ceil(8);
            return Ok((
                ClearKey::new(&token.payload[..n.min(token.payload.len())]),
                None,
            ));
        }
        KeyState::UnderMk => {}
    }
    if token.wrapping.payload_version != 0 {
        return Err(Failure::NotSupported);
    }
    let current = current.ok_or(Failure::MasterKeyNotLoaded)?;
    let mkvp = &token.wrapping.kvp[..8];
    let (mk, used) = if verification_pattern(Class::Aes, current) == mkvp {
        (current, MasterKeyUsed::Current)
    } else {
        match old {
            Some(o) if verification_pattern(Class::Aes, o) == mkvp => (o, MasterKeyUsed::Old),
            _ => return Err(Failure::MasterKeyPatternUnknown),
        }
    };
    let mut out = Zeroizing::new(vec![0u8; token.payload.len()]);
    let data = kek(mk)?
        .unwrap_with_padding(&token.payload, &mut out)
        .map_err(|_| Failure::KeyTokenInvalid)?;
    if data.len() <= WRAP_PREFIX
        || data[..4] != [0; 4]
        || data[4..WRAP_PREFIX] != *ad_hash(token).as_ref()
    {
        return Err(Failure::KeyTokenInvalid);
    }
    Ok((ClearKey::new(&data[WRAP_PREFIX..]), Some(used)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mk(seed: u8) -> MasterKey {
        MasterKey::from_bytes(&(0..32u8).map(|i| i ^ seed).collect::<Vec<_>>())
    }

    fn hmac_ad() -> Associated {
        Associated {
            algorithm: Algorithm::Hmac,
            key_type: key_type::MAC,
            kuf: vec![0x8000, 0xF800],
            kmf: vec![0xF000, 0x0000, 0x0000],
            key_name: Vec::new(),
            iead: Vec::new(),
            uad: Vec::new(),
        }
    }

    #[test]
    fn null_token() {
        assert_eq!(VarToken::parse(&NULL_TOKEN).unwrap(), VarToken::Null);
        assert_eq!(VarToken::Null.to_bytes(), NULL_TOKEN);
        let mut t = NULL_TOKEN;
        t[7] = 1;
        assert_eq!(VarToken::parse(&t).unwrap_err(), Failure::KeyTokenInvalid);
        assert_eq!(
            VarToken::parse(&[0; 7]).unwrap_err(),
            Failure::KeyTokenLength
        );
    }

    #[test]
    fn skeleton_layout_matches_ibm_sizes() {
        // IBM: an HMAC skeleton with kuf = 2 and kmf = 3 is 46 + 4 + 6 = 56 bytes.
        let t = VarKey::skeleton(true, hmac_ad()).to_bytes();
        assert_eq!(t.len(), 56);
        assert_eq!(&t[..5], &[1, 0, 0, 56, 5]);
        assert_eq!(t[30], 1);
        assert_eq!(u16::from_be_bytes([t[32], t[33]]), 26);
        assert_eq!((t[41], t[42], t[43], t[44]), (3, 0, 2, 2));
        assert_eq!(t[49], 3, "kmf count at 45 + 2·kuf");
        let parsed = VarToken::parse(&t).unwrap();
        assert_eq!(parsed.to_bytes(), t);
    }

    #[test]
    fn round_trips() {
        let mut ad = hmac_ad();
        ad.key_name = vec![b'A'; 64];
        ad.uad = vec![7; 13];
        let clear = VarKey::clear(false, ad.clone(), &[0x5A; 10]).unwrap();
        let b = clear.to_bytes();
        assert_eq!(b.len(), 46 + 4 + 6 + 64 + 13 + 10);
        assert_eq!(VarToken::parse(&b).unwrap(), VarToken::Key(clear));
        let m = mk(1);
        let w = wrap_var(&m, &VarKey::skeleton(true, ad), &[0x11; 10]).unwrap();
        assert_eq!(w.payload_bits, 448, "IBM: 448 bits for an 80-bit HMAC key");
        let b = w.to_bytes();
        assert_eq!(VarToken::parse(&b).unwrap().to_bytes(), b);
    }

    #[test]
    fn payload_sizes_are_ibms() {
        let m = mk(2);
        let mut ad = hmac_ad();
        ad.algorithm = Algorithm::Aes;
        ad.key_type = key_type::CIPHER;
        for (len, pl) in [(16, 512), (24, 576), (32, 640)] {
            let w = wrap_var(&m, &VarKey::skeleton(true, ad.clone()), &vec![1; len]).unwrap();
            assert_eq!(w.payload_bits, pl);
        }
        for bits in [80usize, 128, 256, 512, 1024, 2048] {
            let w = wrap_var(&m, &VarKey::skeleton(true, hmac_ad()), &vec![1; bits / 8]).unwrap();
            assert_eq!(usize::from(w.payload_bits), ((bits + 32 + 63) & !63) + 320);
        }
    }

    #[test]
    fn unwrap_current_old_unknown() {
        let (cur, old) = (mk(1), mk(2));
        let key = [0x42u8; 32];
        for (wrapper, expect) in [(&cur, MasterKeyUsed::Current), (&old, MasterKeyUsed::Old)] {
            let w = wrap_var(wrapper, &VarKey::skeleton(true, hmac_ad()), &key).unwrap();
            let (k, used) = unwrap_var(&w, Some(&cur), Some(&old)).unwrap();
            assert_eq!(k.expose(), key.as_slice());
            assert_eq!(used, Some(expect));
        }
        let w = wrap_var(&mk(3), &VarKey::skeleton(true, hmac_ad()), &key).unwrap();
        assert_eq!(
            unwrap_var(&w, Some(&cur), Some(&old)).unwrap_err(),
            Failure::MasterKeyPatternUnknown
        );
        assert_eq!(
            unwrap_var(&w, None, None).unwrap_err(),
            Failure::MasterKeyNotLoaded
        );
    }

    #[test]
    fn altered_ad_or_payload_is_refused() {
        let m = mk(1);
        let w = wrap_var(&m, &VarKey::skeleton(true, hmac_ad()), &[9; 20]).unwrap();
        let mut t = w.clone();
        t.ad.kuf[0] = 0x4000; // GENERATE → VERIFY
        assert_eq!(
            unwrap_var(&t, Some(&m), None).unwrap_err(),
            Failure::KeyTokenInvalid
        );
        let mut t = w.clone();
        t.payload[10] ^= 1;
        assert_eq!(
            unwrap_var(&t, Some(&m), None).unwrap_err(),
            Failure::KeyTokenInvalid
        );
        // And through the bytes: flipping a key-usage bit keeps the token parseable.
        let mut b = w.to_bytes();
        b[45] ^= 0x40;
        let VarToken::Key(t) = VarToken::parse(&b).unwrap() else {
            panic!("null");
        };
        assert_eq!(
            unwrap_var(&t, Some(&m), None).unwrap_err(),
            Failure::KeyTokenInvalid
        );
    }

    /// The fuzz target's property, on every single-byte change of a few real tokens: whatever
    /// parses re-encodes to the same bytes, and nothing panics.
    #[test]
    fn whatever_parses_re_encodes() {
        let m = mk(4);
        let mut named = hmac_ad();
        named.key_name = vec![b'N'; 64];
        named.uad = vec![1, 2, 3];
        let seeds = [
            VarKey::skeleton(true, hmac_ad()).to_bytes(),
            VarKey::clear(false, named.clone(), &[7; 11])
                .unwrap()
                .to_bytes(),
            wrap_var(&m, &VarKey::skeleton(true, named), &[9; 32])
                .unwrap()
                .to_bytes(),
            NULL_TOKEN.to_vec(),
        ];
        let mut parsed = 0;
        for seed in &seeds {
            for at in 0..seed.len() {
                for v in [0x00, 0x01, 0x02, 0x03, 0x05, 0x40, 0x80, 0xFF] {
                    let mut b = seed.clone();
                    b[at] = v;
                    if let Ok(t) = VarToken::parse(&b) {
                        assert_eq!(t.to_bytes(), b, "byte {at} = {v:#04x}");
                        parsed += 1;
                    }
                }
            }
            for n in 0..seed.len() {
                if let Ok(t) = VarToken::parse(&seed[..n]) {
                    assert_eq!(t.to_bytes(), &seed[..n]);
                }
            }
        }
        assert!(parsed > 100);
    }

    #[test]
    fn strict_fields() {
        let m = mk(1);
        let good = wrap_var(&m, &VarKey::skeleton(true, hmac_ad()), &[9; 20])
            .unwrap()
            .to_bytes();
        let code = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            VarToken::parse(&b).unwrap_err()
        };
        assert_eq!(code(&|b| b[4] = 4), Failure::KeyTokenVersion);
        assert_eq!(code(&|b| b[0] = 3), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[3] ^= 1), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[1] = 1), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[29] = 1), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[30] = 2), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[33] ^= 1), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[34] = 8), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[36] = 200), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[39] ^= 8), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[41] = 1), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[44] = 40), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[8] = 1), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[9] = 2), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[26] = 3), Failure::KeyTokenInvalid);
        assert_eq!(code(&|b| b[0] = 2), Failure::KeyTokenInvalid);
        assert_eq!(
            code(&|b| {
                b.push(0);
                let n = b.len() as u16;
                b[2..4].copy_from_slice(&n.to_be_bytes());
            }),
            Failure::KeyTokenInvalid
        );
        assert_eq!(code(&|b| b.truncate(20)), Failure::KeyTokenInvalid);
        assert_eq!(
            VarToken::parse(&vec![1u8; MAX_LEN + 1]).unwrap_err(),
            Failure::KeyTokenLength
        );
    }
}
