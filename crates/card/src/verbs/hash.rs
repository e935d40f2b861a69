//! One_Way_Hash (CSNBOWH).
//!
//! IBM Docs "CCA for Linux", "One-Way Hash (CSNBOWH)" (`linuxonibm/lxcc/wskc_r_owh.html`,
//! `wskc_r_owhparameters.html`, `wskc_r_owhusage.html`); z/OS ICSF "One-Way Hash Generate
//! (CSNBOWH …)"; CCA 2.54 Basic Services Reference, One_Way_Hash (pp. 147–148). What IBM says
//! and softcca follows:
//!
//! - Parameters: `return_code, reason_code, exit_data_length, exit_data, rule_array_count,
//!   rule_array, text_length, text, chaining_vector_length, chaining_vector, hash_length,
//!   hash`.
//! - `rule_array_count` is 1 or 2 (8/35). Hash method, one required: MD5, RPMD-160, SHA-1,
//!   SHA-224, SHA-256, SHA-384, SHA-512, SHA3-224, SHA3-256, SHA3-384, SHA3-512. Chaining flag,
//!   optional: FIRST, MIDDLE, LAST, ONLY (ONLY when none is given). An unknown keyword is 8/33,
//!   two of a group or no hash method 8/34.
//! - Block sizes (usage notes): 64 bytes for MD5, RIPEMD-160, SHA-1, SHA-224, SHA-256; 128 for
//!   SHA-384 and SHA-512; 144, 136, 104, 72 for SHA3-224/256/384/512. "If FIRST or MIDDLE
//!   calls are made, the text size must be greater than 0 and a multiple of the algorithm
//!   block size", and "although the algorithms accept zero bit length text, it is not
//!   supported for any hashing method": an empty text is refused for every chaining flag.
//!   Both are 8/25, "the value that the text_length parameter specifies is not valid".
//! - `chaining_vector_length` "must be 128"; the vector is a work area the application must
//!   not alter between FIRST, MIDDLE and LAST. Another length is 8/72.
//! - For FIRST and MIDDLE "intermediate results are stored in the hash field"; ICSF marks
//!   SHA-224 and SHA-384 as having additional `hash_length` requirements, which is their
//!   intermediate value being the full SHA-256 / SHA-512 state (32 / 64 bytes).
//!
//! What softcca chose where IBM is silent (also in ARCHITECTURE.md):
//!
//! - `hash_length` must be at least the digest size for ONLY and LAST, at least the size of
//!   the intermediate value for FIRST and MIDDLE (SHA-1 20, SHA-224 and SHA-256 32, SHA-384
//!   and SHA-512 64; the digest size for the methods whose chain the card holds); less (or a negative value) is 8/72. The card
//!   returns exactly that many bytes; the host places them left-aligned in the caller's
//!   field and leaves the rest of it alone.
//! - The intermediate value returned in `hash` for FIRST and MIDDLE is the state words in the
//!   method's own byte order (what the digest would be without padding and truncation).
//! - Chaining SHA-1 and SHA-2 carries the state words through the vector, using the hash's
//!   block function from a library (RustCrypto's `sha1` and `sha2` export theirs). Padding and
//!   the length field of LAST are softcca's, checked against the libraries' digests in the
//!   tests.
//! - The SHA-3 methods keep a 200-byte Keccak state, which cannot travel in a 128-byte
//!   vector, and the `md-5` and `ripemd` crates expose no state to carry (softcca writes no
//!   hash primitive of its own). For MD5, RPMD-160 and SHA3-* the card holds the library's
//!   hasher between calls and the vector carries a one-use handle to it
//!   ([`held`](super::held): the rules and bounds are written there). Their FIRST and MIDDLE
//!   return zeros of the digest's length in `hash`: there is no intermediate value to show.
//! - A MIDDLE or LAST vector that this card did not write for the same method (zeroed,
//!   altered, from another method) is 8/72 ([`Failure::ChainingVector`]).
//! - The vector returned: ONLY returns it as it came; FIRST and MIDDLE write the layout
//!   below; LAST returns it zeroed, so an ended chain cannot be continued by mistake.
//!
//! Chaining-vector layout (softcca's own; all integers big-endian):
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 4 | magic `SCOH` |
//! | 4 | 1 | layout version, 1 |
//! | 5 | 1 | method: 1 MD5, 2 RPMD-160, 3 SHA-1, 4 SHA-224, 5 SHA-256, 6 SHA-384, 7 SHA-512, 8–11 SHA3-224/256/384/512 |
//! | 6 | 2 | zero |
//! | 8 | 16 | bytes hashed so far (a multiple of the block size) |
//! | 24 | 64 | the state words, each big-endian, zero after the method's words; for a chain the card holds, the 16-byte handle, then zeros |
//! | 88 | 32 | zero |
//! | 120 | 8 | check: the first 8 bytes of SHA-256(`softcca CSNBOWH chaining vector v1` ‖ bytes 0–119) |
//!
//! The check catches corruption, not forgery: anyone may compute a hash state, so the vector
//! holds no secret. The compression functions are RustCrypto's `sha1::compress`,
//! `sha2::compress256` and `sha2::compress512` (MD5 and RIPEMD-160 do not chain: their crates
//! export no block function). Padding is applied here on LAST, checked against the libraries'
//! digests and the published test vectors.
//!
//! Parameter block: rule array (1–2); params `[Bytes text, Bytes chaining_vector, Int
//! hash_length]` → outputs `[Bytes chaining_vector (128), Bytes hash]`.

use softcca_wire::Param;

use sha1::digest::generic_array::GenericArray;
use sha3::Digest;

use crate::card::Card;
use crate::error::Failure;
use crate::rules::{self, Grammar, Group};
use crate::verbs::held::Held;
use crate::verbs::{Params, Reply};

/// The length IBM requires of the chaining vector.
pub const CHAINING_VECTOR_LEN: usize = 128;

const MAGIC: &[u8; 4] = b"SCOH";
const LAYOUT_VERSION: u8 = 1;
const CHECK_DOMAIN: &[u8] = b"softcca CSNBOWH chaining vector v1";
const OFF_COUNT: usize = 8;
const OFF_STATE: usize = 24;
const OFF_CHECK: usize = 120;

const OWH: Grammar = Grammar {
    min: 1,
    max: 2,
    groups: &[
        Group::required(&[
            "MD5", "RPMD-160", "SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512", "SHA3-224",
            "SHA3-256", "SHA3-384", "SHA3-512",
        ]),
        Group::optional(&["FIRST", "MIDDLE", "LAST", "ONLY"], "ONLY"),
    ],
};

/// A hash method of the rule array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// MD5 (RFC 1321).
    Md5,
    /// RIPEMD-160.
    Rmd160,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SHA3-224.
    Sha3_224,
    /// SHA3-256.
    Sha3_256,
    /// SHA3-384.
    Sha3_384,
    /// SHA3-512.
    Sha3_512,
}

impl Method {
    /// The method a keyword names.
    pub fn from_keyword(word: &str) -> Option<Method> {
        Some(match word {
            "MD5" => Method::Md5,
            "RPMD-160" => Method::Rmd160,
            "SHA-1" => Method::Sha1,
            "SHA-224" => Method::Sha224,
            "SHA-256" => Method::Sha256,
            "SHA-384" => Method::Sha384,
            "SHA-512" => Method::Sha512,
            "SHA3-224" => Method::Sha3_224,
            "SHA3-256" => Method::Sha3_256,
            "SHA3-384" => Method::Sha3_384,
            "SHA3-512" => Method::Sha3_512,
            _ => return None,
        })
    }

    /// The algorithm block size in bytes (IBM's usage-notes table).
    pub const fn block_size(self) -> usize {
        match self {
            Method::Md5 | Method::Rmd160 | Method::Sha1 | Method::Sha224 | Method::Sha256 => 64,
            Method::Sha384 | Method::Sha512 => 128,
            Method::Sha3_224 => 144,
            Method::Sha3_256 => 136,
            Method::Sha3_384 => 104,
            Method::Sha3_512 => 72,
        }
    }

    /// The message-digest size in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            Method::Md5 => 16,
            Method::Rmd160 | Method::Sha1 => 20,
            Method::Sha224 | Method::Sha3_224 => 28,
            Method::Sha256 | Method::Sha3_256 => 32,
            Method::Sha384 | Method::Sha3_384 => 48,
            Method::Sha512 | Method::Sha3_512 => 64,
        }
    }

    /// The size of the intermediate value FIRST and MIDDLE return in `hash`; `None` for the
    /// methods softcca cannot chain.
    pub const fn intermediate_len(self) -> Option<usize> {
        match self {
            Method::Sha1 => Some(20),
            Method::Sha224 | Method::Sha256 => Some(32),
            Method::Sha384 | Method::Sha512 => Some(64),
            _ => None,
        }
    }

    const fn tag(self) -> u8 {
        match self {
            Method::Md5 => 1,
            Method::Rmd160 => 2,
            Method::Sha1 => 3,
            Method::Sha224 => 4,
            Method::Sha256 => 5,
            Method::Sha384 => 6,
            Method::Sha512 => 7,
            Method::Sha3_224 => 8,
            Method::Sha3_256 => 9,
            Method::Sha3_384 => 10,
            Method::Sha3_512 => 11,
        }
    }
}

/// The chaining flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chaining {
    Only,
    First,
    Middle,
    Last,
}

impl Chaining {
    fn from_keyword(word: &str) -> Option<Chaining> {
        Some(match word {
            "ONLY" => Chaining::Only,
            "FIRST" => Chaining::First,
            "MIDDLE" => Chaining::Middle,
            "LAST" => Chaining::Last,
            _ => return None,
        })
    }
}

/// The running state of a Merkle–Damgård hash: the state words and the bytes compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    method: Method,
    h32: [u32; 8],
    h64: [u64; 8],
    processed: u128,
}

const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];
const SHA224_IV: [u32; 8] = [
    0xc105_9ed8,
    0x367c_d507,
    0x3070_dd17,
    0xf70e_5939,
    0xffc0_0b31,
    0x6858_1511,
    0x64f9_8fa7,
    0xbefa_4fa4,
];
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
const SHA384_IV: [u64; 8] = [
    0xcbbb_9d5d_c105_9ed8,
    0x629a_292a_367c_d507,
    0x9159_015a_3070_dd17,
    0x152f_ecd8_f70e_5939,
    0x6733_2667_ffc0_0b31,
    0x8eb4_4a87_6858_1511,
    0xdb0c_2e0d_64f9_8fa7,
    0x47b5_481d_befa_4fa4,
];
const SHA512_IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

impl Chain {
    /// A fresh state; `None` for the SHA-3 methods (not Merkle–Damgård).
    pub fn new(method: Method) -> Option<Chain> {
        let mut h32 = [0u32; 8];
        let mut h64 = [0u64; 8];
        match method {
            Method::Sha1 => h32[..5].copy_from_slice(&SHA1_IV),
            Method::Sha224 => h32 = SHA224_IV,
            Method::Sha256 => h32 = SHA256_IV,
            Method::Sha384 => h64 = SHA384_IV,
            Method::Sha512 => h64 = SHA512_IV,
            _ => return None,
        }
        Some(Chain {
            method,
            h32,
            h64,
            processed: 0,
        })
    }

    fn words32(&self) -> usize {
        match self.method {
            Method::Sha1 => 5,
            Method::Sha224 | Method::Sha256 => 8,
            _ => 0,
        }
    }

    fn wide(&self) -> bool {
        matches!(self.method, Method::Sha384 | Method::Sha512)
    }

    /// Compresses whole blocks; `data.len()` must be a multiple of the block size.
    pub(crate) fn compress(&mut self, data: &[u8]) -> Result<(), Failure> {
        let bs = self.method.block_size();
        if !data.len().is_multiple_of(bs) {
            return Err(Failure::TextLength);
        }
        match self.method {
            Method::Sha1 => {
                let mut s = [
                    self.h32[0],
                    self.h32[1],
                    self.h32[2],
                    self.h32[3],
                    self.h32[4],
                ];
                for block in data.chunks_exact(64) {
                    sha1::compress(&mut s, &[GenericArray::clone_from_slice(block)]);
                }
                self.h32[..5].copy_from_slice(&s);
            }
            Method::Sha224 | Method::Sha256 => {
                for block in data.chunks_exact(64) {
                    sha2::compress256(&mut self.h32, &[GenericArray::clone_from_slice(block)]);
                }
            }
            Method::Sha384 | Method::Sha512 => {
                for block in data.chunks_exact(128) {
                    sha2::compress512(&mut self.h64, &[GenericArray::clone_from_slice(block)]);
                }
            }
            _ => return Err(Failure::NotSupported),
        }
        let added = u128::try_from(data.len()).map_err(|_| Failure::TextLength)?;
        self.processed = self
            .processed
            .checked_add(added)
            .filter(|&n| n <= self.max_bytes())
            .ok_or(Failure::TextLength)?;
        Ok(())
    }

    /// The most bytes the method's length field can count.
    fn max_bytes(&self) -> u128 {
        if self.wide() {
            (1u128 << 125) - 1
        } else {
            (1u128 << 61) - 1
        }
    }

    /// The state words, big-endian as SHA-1 and SHA-2 write them.
    fn state_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        if self.wide() {
            for w in &self.h64 {
                out.extend_from_slice(&w.to_be_bytes());
            }
        } else {
            for w in &self.h32[..self.words32()] {
                out.extend_from_slice(&w.to_be_bytes());
            }
        }
        out
    }

    /// Hashes the final `tail` (any length) with the method's padding and returns the digest.
    pub fn finish(mut self, tail: &[u8]) -> Result<Vec<u8>, Failure> {
        let bs = self.method.block_size();
        let whole = tail.len() - tail.len() % bs;
        self.compress(&tail[..whole])?;
        let rest = &tail[whole..];
        let total = self
            .processed
            .checked_add(u128::try_from(rest.len()).map_err(|_| Failure::TextLength)?)
            .filter(|&n| n <= self.max_bytes())
            .ok_or(Failure::TextLength)?;
        let bits = total << 3;
        let len_field = if self.wide() { 16 } else { 8 };
        let mut last = rest.to_vec();
        last.push(0x80);
        while !(last.len() + len_field).is_multiple_of(bs) {
            last.push(0);
        }
        if self.wide() {
            last.extend_from_slice(&bits.to_be_bytes());
        } else {
            last.extend_from_slice(&(bits as u64).to_be_bytes());
        }
        // The padding is not message: compress it without counting it.
        let processed = self.processed;
        self.processed = 0;
        self.compress(&last)?;
        self.processed = processed;
        let mut digest = self.state_bytes();
        digest.truncate(self.method.digest_len());
        Ok(digest)
    }

    /// The bytes compressed so far and the state words (big-endian), for a verb that carries
    /// the state in a vector of its own layout (HMAC_Generate's inner hash).
    pub(crate) fn snapshot(&self) -> (u128, Vec<u8>) {
        (self.processed, self.state_bytes())
    }

    /// The inverse of [`Chain::snapshot`]; `None` when `state` has the wrong length or the
    /// count is not a whole number of blocks.
    pub(crate) fn resume(method: Method, processed: u128, state: &[u8]) -> Option<Chain> {
        let mut chain = Chain::new(method)?;
        let state_len = if chain.wide() {
            64
        } else {
            4 * chain.words32()
        };
        if state.len() != state_len
            || !processed.is_multiple_of(method.block_size() as u128)
            || processed > chain.max_bytes()
        {
            return None;
        }
        chain.processed = processed;
        if chain.wide() {
            for (w, b) in chain.h64.iter_mut().zip(state.chunks_exact(8)) {
                *w = u64::from_be_bytes(b.try_into().ok()?);
            }
        } else {
            for (w, b) in chain.h32.iter_mut().zip(state.chunks_exact(4)) {
                *w = u32::from_be_bytes(b.try_into().ok()?);
            }
        }
        Some(chain)
    }

    /// The chaining vector that carries this state.
    pub fn to_vector(&self) -> [u8; CHAINING_VECTOR_LEN] {
        let mut v = [0u8; CHAINING_VECTOR_LEN];
        v[..4].copy_from_slice(MAGIC);
        v[4] = LAYOUT_VERSION;
        v[5] = self.method.tag();
        v[OFF_COUNT..OFF_STATE].copy_from_slice(&self.processed.to_be_bytes());
        let mut at = OFF_STATE;
        if self.wide() {
            for w in &self.h64 {
                v[at..at + 8].copy_from_slice(&w.to_be_bytes());
                at += 8;
            }
        } else {
            for w in &self.h32[..self.words32()] {
                v[at..at + 4].copy_from_slice(&w.to_be_bytes());
                at += 4;
            }
        }
        let check = vector_check(&v[..OFF_CHECK]);
        v[OFF_CHECK..].copy_from_slice(&check);
        v
    }

    /// Reads a chaining vector written for `method`; anything else is
    /// [`Failure::ChainingVector`].
    pub fn from_vector(method: Method, v: &[u8]) -> Result<Chain, Failure> {
        let bad = Failure::ChainingVector;
        check_vector(method, v)?;
        let mut chain = Chain::new(method).ok_or(bad)?;
        let count: [u8; 16] = v[OFF_COUNT..OFF_STATE].try_into().map_err(|_| bad)?;
        chain.processed = u128::from_be_bytes(count);
        let state_len = if chain.wide() {
            64
        } else {
            4 * chain.words32()
        };
        let state = &v[OFF_STATE..OFF_STATE + state_len];
        if v[OFF_STATE + state_len..OFF_CHECK].iter().any(|&b| b != 0)
            || chain.processed == 0
            || !chain.processed.is_multiple_of(method.block_size() as u128)
            || chain.processed > chain.max_bytes()
        {
            return Err(bad);
        }
        if chain.wide() {
            for (w, b) in chain.h64.iter_mut().zip(state.chunks_exact(8)) {
                *w = u64::from_be_bytes(b.try_into().map_err(|_| bad)?);
            }
        } else {
            for (w, b) in chain.h32.iter_mut().zip(state.chunks_exact(4)) {
                *w = u32::from_be_bytes(b.try_into().map_err(|_| bad)?);
            }
        }
        Ok(chain)
    }
}

/// The checks every vector passes: length, magic, layout, method tag, reserved bytes, check
/// value. Anything else is [`Failure::ChainingVector`].
fn check_vector(method: Method, v: &[u8]) -> Result<(), Failure> {
    if v.len() != CHAINING_VECTOR_LEN
        || &v[..4] != MAGIC
        || v[4] != LAYOUT_VERSION
        || v[5] != method.tag()
        || v[6..8] != [0, 0]
        || v[OFF_CHECK..] != vector_check(&v[..OFF_CHECK])
    {
        return Err(Failure::ChainingVector);
    }
    Ok(())
}

fn vector_check(body: &[u8]) -> [u8; 8] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(CHECK_DOMAIN);
    ctx.update(body);
    let d = ctx.finish();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d.as_ref()[..8]);
    out
}

/// Hashes `text` whole with `method` (ONLY), with the libraries' own implementations:
/// aws-lc-rs for SHA-1 and SHA-2, RustCrypto for MD5, RIPEMD-160 and SHA-3.
pub fn digest(method: Method, text: &[u8]) -> Result<Vec<u8>, Failure> {
    use aws_lc_rs::digest as lc;
    let lc = |algorithm: &'static lc::Algorithm| lc::digest(algorithm, text).as_ref().to_vec();
    Ok(match method {
        Method::Md5 => md5::Md5::digest(text).to_vec(),
        Method::Rmd160 => ripemd::Ripemd160::digest(text).to_vec(),
        Method::Sha1 => lc(&lc::SHA1_FOR_LEGACY_USE_ONLY),
        Method::Sha224 => lc(&lc::SHA224),
        Method::Sha256 => lc(&lc::SHA256),
        Method::Sha384 => lc(&lc::SHA384),
        Method::Sha512 => lc(&lc::SHA512),
        Method::Sha3_224 => sha3::Sha3_224::digest(text).to_vec(),
        Method::Sha3_256 => sha3::Sha3_256::digest(text).to_vec(),
        Method::Sha3_384 => sha3::Sha3_384::digest(text).to_vec(),
        Method::Sha3_512 => sha3::Sha3_512::digest(text).to_vec(),
    })
}

/// The vector of a chain the card holds: magic, layout, method tag, byte count, the 16-byte
/// handle at the state's offset, zeros, the check.
fn held_vector(method: Method, processed: u128, handle: &[u8; 16]) -> [u8; CHAINING_VECTOR_LEN] {
    let mut v = [0u8; CHAINING_VECTOR_LEN];
    v[..4].copy_from_slice(MAGIC);
    v[4] = LAYOUT_VERSION;
    v[5] = method.tag();
    v[OFF_COUNT..OFF_STATE].copy_from_slice(&processed.to_be_bytes());
    v[OFF_STATE..OFF_STATE + 16].copy_from_slice(handle);
    let check = vector_check(&v[..OFF_CHECK]);
    v[OFF_CHECK..].copy_from_slice(&check);
    v
}

/// Reads a held chain's vector: its handle and byte count ([`Failure::ChainingVector`] for
/// anything this card did not write for `method`).
fn held_of_vector(method: Method, v: &[u8]) -> Result<([u8; 16], u128), Failure> {
    let bad = Failure::ChainingVector;
    check_vector(method, v)?;
    if v[OFF_STATE + 16..OFF_CHECK].iter().any(|&b| b != 0) {
        return Err(bad);
    }
    let count: [u8; 16] = v[OFF_COUNT..OFF_STATE].try_into().map_err(|_| bad)?;
    let handle: [u8; 16] = v[OFF_STATE..OFF_STATE + 16].try_into().map_err(|_| bad)?;
    Ok((handle, u128::from_be_bytes(count)))
}

/// FIRST, MIDDLE or LAST of a method whose state the card holds ([`held`](super::held)).
/// FIRST and MIDDLE return the new vector and, in `hash`, zeros of the digest's length (the
/// library exposes no intermediate value); LAST returns a zeroed vector and the digest.
fn held_step(
    card: &Card,
    method: Method,
    chaining: Chaining,
    text: &[u8],
    vector: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), Failure> {
    let (mut state, processed) = if chaining == Chaining::First {
        (Held::new(method).ok_or(Failure::NotSupported)?, 0)
    } else {
        let (handle, processed) = held_of_vector(method, vector)?;
        let state = card
            .held_hashes()
            .take(&handle, method, processed)
            .ok_or(Failure::ChainingVector)?;
        (state, processed)
    };
    state.update(text);
    if chaining == Chaining::Last {
        return Ok((vec![0u8; CHAINING_VECTOR_LEN], state.finish()));
    }
    let processed = u128::try_from(text.len())
        .ok()
        .and_then(|n| processed.checked_add(n))
        .ok_or(Failure::TextLength)?;
    let mut handle = [0u8; 16];
    card.random(&mut handle)?;
    card.held_hashes().put(handle, state, processed);
    Ok((
        held_vector(method, processed, &handle).to_vec(),
        vec![0u8; method.digest_len()],
    ))
}

pub(crate) fn csnbowh(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let chosen = rules::parse(&OWH, rule_array)?;
    let method = chosen
        .get(0)
        .and_then(Method::from_keyword)
        .ok_or(Failure::KeywordCombination)?;
    let chaining = chosen
        .get(1)
        .and_then(Chaining::from_keyword)
        .ok_or(Failure::KeywordCombination)?;
    p.expect_len(3)?;
    let text = p.bytes(0)?;
    let vector = p.bytes(1)?;
    let hash_length = usize::try_from(p.int(2)?).map_err(|_| Failure::Length)?;
    if vector.len() != CHAINING_VECTOR_LEN {
        return Err(Failure::Length);
    }
    let needed = match chaining {
        Chaining::Only | Chaining::Last => method.digest_len(),
        Chaining::First | Chaining::Middle => {
            method.intermediate_len().unwrap_or(method.digest_len())
        }
    };
    if hash_length < needed {
        return Err(Failure::Length);
    }
    if text.is_empty() {
        return Err(Failure::TextLength);
    }
    if matches!(chaining, Chaining::First | Chaining::Middle)
        && !text.len().is_multiple_of(method.block_size())
    {
        return Err(Failure::TextLength);
    }
    let (vector_out, hash) = match chaining {
        Chaining::Only => (vector.to_vec(), digest(method, text)?),
        Chaining::First | Chaining::Middle | Chaining::Last if Held::new(method).is_some() => {
            held_step(card, method, chaining, text, vector)?
        }
        Chaining::First | Chaining::Middle => {
            let mut chain = if chaining == Chaining::First {
                Chain::new(method).ok_or(Failure::NotSupported)?
            } else {
                Chain::from_vector(method, vector)?
            };
            chain.compress(text)?;
            (chain.to_vector().to_vec(), chain.state_bytes())
        }
        Chaining::Last => {
            let chain = Chain::from_vector(method, vector)?;
            (vec![0u8; CHAINING_VECTOR_LEN], chain.finish(text)?)
        }
    };
    Ok(Reply::outputs(vec![
        Param::Bytes(vector_out),
        Param::Bytes(hash),
    ]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn empty_message_known_answers() {
        // IBM refuses empty text at the verb; the engine still pads it right.
        let cases = [
            (Method::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
            (Method::Rmd160, "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
            (Method::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (
                Method::Sha224,
                "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f",
            ),
            (
                Method::Sha256,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
        ];
        for (m, want) in cases {
            assert_eq!(hex(&digest(m, b"").unwrap()), want, "{m:?}");
        }
        assert!(hex(&digest(Method::Sha384, b"").unwrap()).starts_with("38b060a751ac9638"));
        assert!(hex(&digest(Method::Sha512, b"").unwrap()).starts_with("cf83e1357eefb8bd"));
        assert!(hex(&digest(Method::Sha3_256, b"").unwrap()).starts_with("a7ffc6f8bf1ed766"));
    }

    #[test]
    fn vector_round_trip_and_refusals() {
        let mut c = Chain::new(Method::Sha256).unwrap();
        c.compress(&[7u8; 128]).unwrap();
        let v = c.to_vector();
        assert_eq!(Chain::from_vector(Method::Sha256, &v).unwrap(), c);
        assert_eq!(
            Chain::from_vector(Method::Sha224, &v),
            Err(Failure::ChainingVector)
        );
        for i in 0..CHAINING_VECTOR_LEN {
            let mut bad = v;
            bad[i] ^= 1;
            assert_eq!(
                Chain::from_vector(Method::Sha256, &bad),
                Err(Failure::ChainingVector),
                "byte {i}"
            );
        }
    }
}
