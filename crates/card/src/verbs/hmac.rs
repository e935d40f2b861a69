//! HMAC_Generate (CSNBHMG) and HMAC_Verify (CSNBHMV): FIPS 198-1 HMAC with SHA-1, SHA-224,
//! SHA-256, SHA-384 or SHA-512 under an HMAC MAC key in a variable-length token.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", CSNBHMG parameters
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_hmgnparameters.html>): rule-array
//!   count 2 or 3; token algorithm HMAC required; hash method SHA-1 | SHA-224 | SHA-256 |
//!   SHA-384 | SHA-512 required ("a 20-byte (160-bit) MAC" … "a 64-byte (512-bit) MAC");
//!   segmenting control FIRST | MIDDLE | LAST | ONLY, "ONLY … This is the default value".
//!   Usage notes (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_hmgnusage.html>): "The
//!   HMAC key bit length must be equal or greater than half of the size of the hash function
//!   output".
//! - IBM Docs "CCA for Linux", CSNBHMV parameters
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_hmvrparameters.html>): the same rule
//!   array. A MAC that does not verify is 4/1 (CCA254 Fig. A-3, p=363; opencryptoki accepts
//!   4/1 or 4/429 as "signature invalid").
//! - opencryptoki (`cca_specific.c`) calls `HMAC SHA-n ONLY`, and for multi-part operations
//!   FIRST/MIDDLE with whole blocks of the hash and LAST with the rest; it passes a 128-byte
//!   chaining vector and, for the *_HMAC_GENERAL mechanisms, a `mac_length` below the digest
//!   size and takes that many bytes.
//!
//! Parameter blocks:
//! - CSNBHMG: rule array 2–3; params `[Bytes key_identifier, Bytes text, Bytes
//!   chaining_vector (128), Int mac_length]` → `[Bytes chaining_vector (128), Bytes mac]`.
//! - CSNBHMV: rule array 2–3; params `[Bytes key_identifier, Bytes text, Bytes
//!   chaining_vector (128), Bytes mac]` → `[Bytes chaining_vector (128)]`, with 4/1 when the
//!   MAC does not verify.
//!
//! Key checks: the identifier must be an internal, complete HMAC token (8/47 for a null,
//! external or skeleton token, or one whose key parts are not complete); a token of another
//! algorithm or key type (an AES CIPHER key) is 8/39; so is a key whose key-usage field 1 does
//! not allow the operation (a VERIFY key cannot generate, a GENONLY key cannot verify) or
//! whose key-usage field 2 does not allow the hash method. A key under the OLD AES master key
//! works and answers 0/10001. A clear-key token (Key Token Build2 KEY-CLR) is accepted.
//!
//! What softcca chose where IBM is silent:
//! - A key shorter than half the digest (and than 80 bits) is 8/39: IBM's usage note forbids
//!   it but names no code; the key's attributes do not permit the operation.
//! - `mac_length` (CSNBHMG, ONLY and LAST): 4 or more; the MAC returned is the digest
//!   truncated to `mac_length` when that is smaller (as opencryptoki's *_GENERAL mechanisms
//!   expect), else the whole digest. Less than 4 is 8/72. FIRST and MIDDLE return an empty
//!   `mac`. CSNBHMV: the MAC to verify is 4 bytes up to the digest size (8/72 otherwise) and
//!   is compared, in constant time, with as many leading bytes of the digest.
//! - FIRST and MIDDLE text must be a whole number of the hash's blocks (64 bytes for SHA-1,
//!   SHA-224, SHA-256; 128 for SHA-384 and SHA-512), possibly none; otherwise 8/25, as
//!   One_Way_Hash. LAST and ONLY take any length, empty included.
//! - `chaining_vector` must be 128 bytes (8/72). Layout (softcca's own): bytes 0–3 `SCHM`, 4
//!   layout version 1, 5 hash method (3 SHA-1 … 7 SHA-512, as One_Way_Hash), 6–7 zero, 8–23
//!   bytes of the inner hash compressed so far (the key block included), 24–87 the inner hash
//!   state words, 88–119 zero, 120–127 the first 8 bytes of HMAC-SHA-256 under the HMAC key
//!   of `softcca CSNBHMG chaining vector v1` ‖ bytes 0–119. A vector altered, zeroed, written
//!   for another method or under another key is 8/72. The vector holds the inner hash state
//!   of (K ⊕ ipad) ‖ text, from which the key cannot be recovered and with which no MAC can be
//!   finished without the key. LAST returns it zeroed; ONLY returns it as it came.

use aws_lc_rs::{constant_time, digest, hmac};
use softcca_wire::Param;
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Failure, Notice};
use crate::rules::{self, Grammar, Group};
use crate::tokens::var::usage;
use crate::verbs::hash::{CHAINING_VECTOR_LEN, Chain, Method};
use crate::verbs::keys::{VarOpKey, notice_for};
use crate::verbs::{Params, Reply};

const HM: Grammar = Grammar {
    min: 2,
    max: 3,
    groups: &[
        Group::required(&["HMAC"]),
        Group::required(&["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]),
        Group::optional(&["FIRST", "MIDDLE", "LAST", "ONLY"], "ONLY"),
    ],
};

const MAGIC: &[u8; 4] = b"SCHM";
const LAYOUT_VERSION: u8 = 1;
const CHECK_DOMAIN: &[u8] = b"softcca CSNBHMG chaining vector v1";
const OFF_COUNT: usize = 8;
const OFF_STATE: usize = 24;
const OFF_CHECK: usize = 120;
/// The shortest MAC softcca returns or verifies.
const MIN_MAC: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    First,
    Middle,
    Last,
    Only,
}

fn parse_rules(rule_array: &[rules::Element]) -> Result<(Method, Segment), Failure> {
    let chosen = rules::parse(&HM, rule_array)?;
    let method = chosen
        .get(1)
        .and_then(Method::from_keyword)
        .ok_or(Failure::KeywordCombination)?;
    let segment = match chosen.get(2) {
        Some("FIRST") => Segment::First,
        Some("MIDDLE") => Segment::Middle,
        Some("LAST") => Segment::Last,
        _ => Segment::Only,
    };
    Ok((method, segment))
}

fn method_bit(method: Method) -> u16 {
    match method {
        Method::Sha1 => usage::SHA_1,
        Method::Sha224 => usage::SHA_224,
        Method::Sha256 => usage::SHA_256,
        Method::Sha384 => usage::SHA_384,
        _ => usage::SHA_512,
    }
}

fn method_tag(method: Method) -> u8 {
    match method {
        Method::Sha1 => 3,
        Method::Sha224 => 4,
        Method::Sha256 => 5,
        Method::Sha384 => 6,
        _ => 7,
    }
}

fn lc_hmac(method: Method) -> hmac::Algorithm {
    match method {
        Method::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Method::Sha224 => hmac::HMAC_SHA224,
        Method::Sha256 => hmac::HMAC_SHA256,
        Method::Sha384 => hmac::HMAC_SHA384,
        _ => hmac::HMAC_SHA512,
    }
}

fn lc_digest(method: Method) -> &'static digest::Algorithm {
    match method {
        Method::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        Method::Sha224 => &digest::SHA224,
        Method::Sha256 => &digest::SHA256,
        Method::Sha384 => &digest::SHA384,
        _ => &digest::SHA512,
    }
}

/// The key of `identifier` if it may do `generate` (else verify) with `method`.
fn hmac_key(
    card: &Card,
    identifier: &[u8],
    method: Method,
    generate: bool,
) -> Result<VarOpKey, Failure> {
    let k = card.var_key(identifier)?;
    let t = &k.token;
    let allowed = if generate {
        t.may_generate()
    } else {
        t.may_verify()
    };
    let long_enough = k.key.expose().len() * 2 >= method.digest_len() && k.key.expose().len() >= 10;
    if !allowed || !t.allows_hash(method_bit(method)) || !long_enough {
        return Err(Failure::ControlVector);
    }
    Ok(k)
}

/// K0: the key padded with zeros to the block size, or its digest padded so when longer.
fn block_key(method: Method, key: &[u8]) -> Zeroizing<Vec<u8>> {
    let bs = method.block_size();
    let mut k0 = Zeroizing::new(vec![0u8; bs]);
    if key.len() > bs {
        let d = digest::digest(lc_digest(method), key);
        k0[..d.as_ref().len()].copy_from_slice(d.as_ref());
    } else {
        k0[..key.len()].copy_from_slice(key);
    }
    k0
}

fn padded(k0: &[u8], pad: u8) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(k0.iter().map(|b| b ^ pad).collect())
}

fn vector_check(key: &[u8], body: &[u8]) -> [u8; 8] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&k);
    ctx.update(CHECK_DOMAIN);
    ctx.update(body);
    let tag = ctx.sign();
    let mut out = [0u8; 8];
    out.copy_from_slice(&tag.as_ref()[..8]);
    out
}

fn to_vector(chain: &Chain, method: Method, key: &[u8]) -> Vec<u8> {
    let (count, state) = chain.snapshot();
    let mut v = vec![0u8; CHAINING_VECTOR_LEN];
    v[..4].copy_from_slice(MAGIC);
    v[4] = LAYOUT_VERSION;
    v[5] = method_tag(method);
    v[OFF_COUNT..OFF_STATE].copy_from_slice(&count.to_be_bytes());
    v[OFF_STATE..OFF_STATE + state.len()].copy_from_slice(&state);
    let check = vector_check(key, &v[..OFF_CHECK]);
    v[OFF_CHECK..].copy_from_slice(&check);
    v
}

fn from_vector(v: &[u8], method: Method, key: &[u8]) -> Result<Chain, Failure> {
    let bad = Failure::ChainingVector;
    if v.len() != CHAINING_VECTOR_LEN
        || &v[..4] != MAGIC
        || v[4] != LAYOUT_VERSION
        || v[5] != method_tag(method)
        || v[6..8] != [0, 0]
    {
        return Err(bad);
    }
    let expected = vector_check(key, &v[..OFF_CHECK]);
    if constant_time::verify_slices_are_equal(&expected, &v[OFF_CHECK..]).is_err() {
        return Err(bad);
    }
    let count = u128::from_be_bytes(v[OFF_COUNT..OFF_STATE].try_into().map_err(|_| bad)?);
    let state_len = match method {
        Method::Sha1 => 20,
        Method::Sha224 | Method::Sha256 => 32,
        _ => 64,
    };
    if v[OFF_STATE + state_len..OFF_CHECK].iter().any(|&b| b != 0) || count == 0 {
        return Err(bad);
    }
    Chain::resume(method, count, &v[OFF_STATE..OFF_STATE + state_len]).ok_or(bad)
}

/// What one segment gives back: the chaining vector and, for LAST and ONLY, the MAC.
type Segmented = (Vec<u8>, Option<Zeroizing<Vec<u8>>>);

/// Runs one segment. Returns the chaining vector to hand back and, for LAST and ONLY, the
/// full HMAC.
fn segment(
    method: Method,
    segment: Segment,
    key: &[u8],
    text: &[u8],
    vector: &[u8],
) -> Result<Segmented, Failure> {
    if vector.len() != CHAINING_VECTOR_LEN {
        return Err(Failure::Length);
    }
    if segment == Segment::Only {
        let tag = hmac::sign(&hmac::Key::new(lc_hmac(method), key), text);
        return Ok((vector.to_vec(), Some(Zeroizing::new(tag.as_ref().to_vec()))));
    }
    let k0 = block_key(method, key);
    let mut chain = if segment == Segment::First {
        let mut c = Chain::new(method).ok_or(Failure::NotSupported)?;
        c.compress(&padded(&k0, 0x36))?;
        c
    } else {
        from_vector(vector, method, key)?
    };
    if segment == Segment::Last {
        let inner = chain.finish(text)?;
        let mut outer = digest::Context::new(lc_digest(method));
        outer.update(&padded(&k0, 0x5c));
        outer.update(&inner);
        let mac = outer.finish().as_ref().to_vec();
        return Ok((vec![0u8; CHAINING_VECTOR_LEN], Some(Zeroizing::new(mac))));
    }
    if !text.len().is_multiple_of(method.block_size()) {
        return Err(Failure::TextLength);
    }
    chain.compress(text)?;
    Ok((to_vector(&chain, method, key), None))
}

pub(crate) fn csnbhmg(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let (method, seg) = parse_rules(rule_array)?;
    p.expect_len(4)?;
    let identifier = p.bytes(0)?;
    let text = p.bytes(1)?;
    let vector = p.bytes(2)?;
    let mac_length = usize::try_from(p.int(3)?).map_err(|_| Failure::Length)?;
    if matches!(seg, Segment::Last | Segment::Only) && mac_length < MIN_MAC {
        return Err(Failure::Length);
    }
    let k = hmac_key(card, identifier, method, true)?;
    let (vector, mac) = segment(method, seg, k.key.expose(), text, vector)?;
    let mac = mac.map_or_else(Vec::new, |m| m[..mac_length.min(m.len())].to_vec());
    Ok(Reply {
        notice: k.used.and_then(notice_for),
        outputs: vec![Param::Bytes(vector), Param::Bytes(mac)],
        ..Reply::default()
    })
}

pub(crate) fn csnbhmv(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    let (method, seg) = parse_rules(rule_array)?;
    p.expect_len(4)?;
    let identifier = p.bytes(0)?;
    let text = p.bytes(1)?;
    let vector = p.bytes(2)?;
    let mac = p.bytes(3)?;
    if matches!(seg, Segment::Last | Segment::Only)
        && !(MIN_MAC..=method.digest_len()).contains(&mac.len())
    {
        return Err(Failure::Length);
    }
    let k = hmac_key(card, identifier, method, false)?;
    let (vector, computed) = segment(method, seg, k.key.expose(), text, vector)?;
    let notice = match computed {
        Some(c) if constant_time::verify_slices_are_equal(&c[..mac.len()], mac).is_err() => {
            Some(Notice::VerificationFailed)
        }
        _ => k.used.and_then(notice_for),
    };
    Ok(Reply {
        notice,
        outputs: vec![Param::Bytes(vector)],
        ..Reply::default()
    })
}
