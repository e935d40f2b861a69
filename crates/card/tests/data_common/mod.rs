//! Helpers shared by the data-encipherment and MAC API tests (`data.rs`) and their
//! known-answer tests (`data_kat.rs`): a fresh card, master keys loaded from known parts,
//! DES and AES keys imported with CSNBCKM or built as internal tokens with the master key the
//! test loaded, and one caller per verb in softcca's parameter-block convention.

#![allow(dead_code)] // Each test crate uses a part of these helpers.

use std::sync::Arc;

use softcca_card::mk::{Class, MasterKey};
use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::des::DesToken;
use softcca_card::tokens::{KeyLength, cv, wrap};
use softcca_card::{Card, Model, PowerOn, rules};
use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};

const NOW: u64 = 1_795_740_425;

pub fn new_card(seed: u64) -> Card {
    let platform = Platform {
        entropy: Box::new(CountingSource::new(seed)),
        clock: Box::new(FixedClock(NOW)),
        flash: Box::new(Arc::new(MemoryFlash::default())),
        bbram: Box::new(Arc::new(MemoryBatteryRam::default())),
    };
    let (card, how) = Card::power_on(platform, Some(Model::Ibm4767)).expect("powers on");
    assert_eq!(how, PowerOn::Manufactured);
    card
}

pub fn call(card: &Card, verb: &str, rule_array: &[&str], params: Vec<Param>) -> VerbResponse {
    card.execute(&VerbRequest {
        verb: VerbName::new(verb).expect("valid verb name"),
        rule_array: rule_array
            .iter()
            .map(|k| rules::element(k).expect("keyword fits"))
            .collect(),
        params,
    })
}

pub fn codes(r: &VerbResponse) -> (i32, i32) {
    (r.return_code, r.reason_code)
}

pub fn assert_refused(r: &VerbResponse, expected: (i32, i32), what: &str) {
    assert_eq!(codes(r), expected, "{what}");
    assert!(r.rule_array.is_empty(), "{what}: no rule-array output");
    assert!(r.outputs.is_empty(), "{what}: no outputs");
}

/// The byte-string outputs of a response, in order.
pub fn outputs(r: &VerbResponse) -> Vec<Vec<u8>> {
    r.outputs
        .iter()
        .map(|p| match p {
            Param::Bytes(b) => b.clone(),
            other => panic!("byte output expected, got {other:?}"),
        })
        .collect()
}

pub fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = u8::try_from(i % 256).expect("fits");
            i.wrapping_mul(73).wrapping_add(tag.wrapping_mul(151)) ^ 0x5A
        })
        .collect()
}

pub fn with_odd_parity(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        if b.count_ones() % 2 == 0 {
            *b ^= 1;
        }
    }
    bytes
}

pub fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

pub fn mkp(card: &Card, class: &str, process: &str, part: &[u8]) {
    let r = call(
        card,
        "CSNBMKP",
        &[class, process],
        vec![Param::Bytes(part.to_vec())],
    );
    assert_eq!(codes(&r), (0, 0), "CSNBMKP {class} {process}");
}

/// Loads and sets a SYM master key from two known parts (seeded by `seed`); returns the key
/// the card holds (the XOR of the parts, odd parity).
pub fn load_sym_seeded(card: &Card, seed: u8) -> MasterKey {
    let p1 = with_odd_parity(pattern(seed, 24));
    let p2 = with_odd_parity(pattern(seed.wrapping_add(1), 24));
    mkp(card, "SYM-MK", "FIRST", &p1);
    mkp(card, "SYM-MK", "LAST", &p2);
    mkp(card, "SYM-MK", "SET", &[]);
    let mk = MasterKey::from_bytes(&with_odd_parity(xor(&p1, &p2)));
    assert_eq!(
        card.verification_patterns(Class::Sym)[1],
        Some(softcca_card::mk::verification_pattern(Class::Sym, &mk)),
        "the test rebuilt the card's SYM master key"
    );
    mk
}

pub fn load_sym(card: &Card) -> MasterKey {
    load_sym_seeded(card, 31)
}

pub fn load_aes_seeded(card: &Card, seed: u8) -> MasterKey {
    let q1 = pattern(seed, 32);
    let q2 = pattern(seed.wrapping_add(1), 32);
    mkp(card, "AES-MK", "FIRST", &q1);
    mkp(card, "AES-MK", "LAST", &q2);
    mkp(card, "AES-MK", "SET", &[]);
    MasterKey::from_bytes(&xor(&q1, &q2))
}

pub fn load_aes(card: &Card) -> MasterKey {
    load_aes_seeded(card, 41)
}

fn single_token(r: &VerbResponse, what: &str) -> Vec<u8> {
    assert!(r.return_code < 8, "{what}: {:?}", codes(r));
    match r.outputs.as_slice() {
        [Param::Bytes(t)] if t.len() == 64 => t.clone(),
        other => panic!("{what}: one 64-byte token expected, got {other:?}"),
    }
}

/// A DES DATA key imported with CSNBCKM (8, 16 or 24 bytes).
pub fn import_des(card: &Card, clear: &[u8]) -> Vec<u8> {
    let r = call(
        card,
        "CSNBCKM",
        &[],
        vec![Param::Bytes(clear.to_vec()), Param::Bytes(vec![0; 64])],
    );
    single_token(&r, "CSNBCKM DES")
}

/// An AES key imported with CSNBCKM rule AES.
pub fn import_aes(card: &Card, clear: &[u8]) -> Vec<u8> {
    let r = call(
        card,
        "CSNBCKM",
        &["AES"],
        vec![Param::Bytes(clear.to_vec()), Param::Bytes(vec![0; 64])],
    );
    single_token(&r, "CSNBCKM AES")
}

pub fn length_of(clear: &[u8]) -> KeyLength {
    match clear.len() {
        8 => KeyLength::Single,
        16 => KeyLength::Double,
        24 => KeyLength::Triple,
        n => panic!("no DES key is {n} bytes"),
    }
}

/// An internal DES token of `key_type` (IBM's default CV for the length) built with the
/// master key the test loaded.
pub fn des_token(mk: &MasterKey, clear: &[u8], key_type: &str) -> Vec<u8> {
    let length = length_of(clear);
    let (l, r) = cv::default_cv(key_type, length).expect("IBM defines the key type");
    let t = wrap::wrap_des(mk, clear, l, r, length).expect("wraps");
    DesToken::Internal(t).to_bytes().to_vec()
}

/// Rewrites a token's TVV after a test altered it.
pub fn reseal(token: &mut [u8]) {
    let t: &mut [u8; 64] = token.try_into().expect("64 bytes");
    let v = softcca_card::tokens::tvv(t);
    t[60..].copy_from_slice(&v.to_be_bytes());
}

pub fn enc(
    card: &Card,
    rules: &[&str],
    key: &[u8],
    text: &[u8],
    iv: &[u8],
    chain: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBENC",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(text.to_vec()),
            Param::Bytes(iv.to_vec()),
            Param::Int(0),
            Param::Bytes(chain.to_vec()),
        ],
    )
}

pub fn dec(
    card: &Card,
    rules: &[&str],
    key: &[u8],
    text: &[u8],
    iv: &[u8],
    chain: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBDEC",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(text.to_vec()),
            Param::Bytes(iv.to_vec()),
            Param::Bytes(chain.to_vec()),
        ],
    )
}

pub fn mgn(card: &Card, rules: &[&str], key: &[u8], text: &[u8], chain: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNBMGN",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(text.to_vec()),
            Param::Bytes(chain.to_vec()),
        ],
    )
}

pub fn mvr(
    card: &Card,
    rules: &[&str],
    key: &[u8],
    text: &[u8],
    chain: &[u8],
    mac: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBMVR",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(text.to_vec()),
            Param::Bytes(chain.to_vec()),
            Param::Bytes(mac.to_vec()),
        ],
    )
}

/// CSNBSAE with a block size of 16, an output buffer of `text.len() + 16` and `chain` as the
/// chain data.
#[allow(clippy::too_many_arguments)]
pub fn sae(
    card: &Card,
    rules: &[&str],
    key: &[u8],
    tag_len: i32,
    iv: &[u8],
    chain: &[u8],
    text: &[u8],
    aad: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBSAE",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Int(tag_len),
            Param::Int(16),
            Param::Bytes(iv.to_vec()),
            Param::Bytes(chain.to_vec()),
            Param::Bytes(text.to_vec()),
            Param::Int(i32::try_from(text.len() + 16).expect("fits")),
            Param::Bytes(aad.to_vec()),
        ],
    )
}

#[allow(clippy::too_many_arguments)]
pub fn sad(
    card: &Card,
    rules: &[&str],
    key: &[u8],
    tag: &[u8],
    iv: &[u8],
    chain: &[u8],
    text: &[u8],
    aad: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBSAD",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(tag.to_vec()),
            Param::Int(16),
            Param::Bytes(iv.to_vec()),
            Param::Bytes(chain.to_vec()),
            Param::Bytes(text.to_vec()),
            Param::Int(i32::try_from(text.len()).expect("fits")),
            Param::Bytes(aad.to_vec()),
        ],
    )
}

pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).expect("hex")
}
