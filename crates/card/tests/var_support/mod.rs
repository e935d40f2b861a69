//! Helpers shared by the variable-length token and HMAC API tests (`var.rs`, `hmac.rs`).
#![allow(dead_code)]

use std::sync::Arc;

pub use softcca_card::mk::{Class, MasterKey};
use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
pub use softcca_card::tokens::var::{VarKey, VarToken};
pub use softcca_card::{Card, Model, PowerOn, rules};
pub use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};

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

pub fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = u8::try_from(i % 256).expect("byte");
            i.wrapping_mul(73).wrapping_add(tag.wrapping_mul(151)) ^ 0x5A
        })
        .collect()
}

pub fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// Loads (or replaces: the previous current key becomes OLD) the AES master key from two
/// parts derived from `tag`; returns the key the card now holds.
pub fn load_aes(card: &Card, tag: u8) -> MasterKey {
    let q1 = pattern(tag, 32);
    let q2 = pattern(tag.wrapping_add(1), 32);
    for (process, part) in [("FIRST", &q1), ("LAST", &q2)] {
        let r = call(
            card,
            "CSNBMKP",
            &["AES-MK", process],
            vec![Param::Bytes(part.clone())],
        );
        assert_eq!(codes(&r), (0, 0), "CSNBMKP {process}");
    }
    let r = call(
        card,
        "CSNBMKP",
        &["AES-MK", "SET"],
        vec![Param::Bytes(Vec::new())],
    );
    assert_eq!(codes(&r), (0, 0), "CSNBMKP SET");
    let mk = MasterKey::from_bytes(&xor(&q1, &q2));
    assert_eq!(
        card.verification_patterns(Class::Aes)[1],
        Some(softcca_card::mk::verification_pattern(Class::Aes, &mk)),
        "the test rebuilt the card's AES master key"
    );
    mk
}

pub fn bytes_out(r: &VerbResponse, i: usize) -> Vec<u8> {
    match r.outputs.get(i) {
        Some(Param::Bytes(b)) => b.clone(),
        other => panic!("output {i}: bytes expected, got {other:?} ({:?})", codes(r)),
    }
}

pub fn var_key(token: &[u8]) -> VarKey {
    match VarToken::parse(token).expect("the token parses") {
        VarToken::Key(k) => k,
        VarToken::Null => panic!("null token"),
    }
}

/// CSNBKTB2 with IBM's parameters (no token_data, no verb_data, a 725-byte buffer).
pub fn ktb2(
    card: &Card,
    rules: &[&str],
    bits: i32,
    clear: &[u8],
    name: &[u8],
    uad: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBKTB2",
        rules,
        vec![
            Param::Int(bits),
            Param::Bytes(clear.to_vec()),
            Param::Bytes(name.to_vec()),
            Param::Bytes(uad.to_vec()),
            Param::Bytes(Vec::new()),
            Param::Bytes(Vec::new()),
            Param::Int(725),
        ],
    )
}

/// A token from CSNBKTB2, which must succeed.
pub fn build(card: &Card, rules: &[&str], bits: i32, clear: &[u8]) -> Vec<u8> {
    let r = ktb2(card, rules, bits, clear, &[], &[]);
    assert_eq!(codes(&r), (0, 0), "CSNBKTB2 {rules:?}");
    bytes_out(&r, 0)
}

/// CSNBKGN2 OP with key type TOKEN and `token` as generated_key_identifier_1.
pub fn kgn2(
    card: &Card,
    rules: &[&str],
    bits: i32,
    key_type_1: &str,
    token: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBKGN2",
        rules,
        vec![
            Param::Int(bits),
            Param::Bytes(rules::element(key_type_1).expect("fits").to_vec()),
            Param::Bytes(vec![b' '; 8]),
            Param::Bytes(Vec::new()),
            Param::Bytes(Vec::new()),
            Param::Bytes(Vec::new()),
            Param::Bytes(Vec::new()),
            Param::Bytes(Vec::new()),
            Param::Bytes(Vec::new()),
            Param::Int(725),
            Param::Bytes(token.to_vec()),
            Param::Int(0),
            Param::Bytes(Vec::new()),
        ],
    )
}

pub fn kpi2(card: &Card, rules: &[&str], bits: i32, part: &[u8], token: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNBKPI2",
        rules,
        vec![
            Param::Int(bits),
            Param::Bytes(part.to_vec()),
            Param::Int(725),
            Param::Bytes(token.to_vec()),
        ],
    )
}

pub fn hmg(
    card: &Card,
    rules: &[&str],
    key: &[u8],
    text: &[u8],
    cv: &[u8],
    mac_len: i32,
) -> VerbResponse {
    call(
        card,
        "CSNBHMG",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(text.to_vec()),
            Param::Bytes(cv.to_vec()),
            Param::Int(mac_len),
        ],
    )
}

pub fn hmv(
    card: &Card,
    rules: &[&str],
    key: &[u8],
    text: &[u8],
    cv: &[u8],
    mac: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBHMV",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(text.to_vec()),
            Param::Bytes(cv.to_vec()),
            Param::Bytes(mac.to_vec()),
        ],
    )
}

pub const CV0: [u8; 128] = [0; 128];
