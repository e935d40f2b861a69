//! Helpers shared by the key-part, key-test, key-token-change and control-vector-attack API
//! tests: a card with master keys loaded from known parts (so that a test can rebuild them,
//! build key tokens itself and unwrap what the card returns), verb calls, and codes.

#![allow(dead_code)] // Each test file uses a different subset.

use std::sync::Arc;

use softcca_card::mk::{Class, MasterKey, verification_pattern};
use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::des::{
    DesFields, DesToken, FLAG_CV_APPLIED, FLAG_KEY_PRESENT, InternalDes, WrapMethod,
};
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

pub fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = u8::try_from(i).expect("short pattern");
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

/// Every byte with even parity: a key part that keeps an odd-parity key odd.
pub fn with_even_parity(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        if b.count_ones() % 2 == 1 {
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

/// Loads NEW of `class` from two known parts (tagged `tag`); returns the key NEW holds.
pub fn load_new(card: &Card, class: &str, tag: u8) -> MasterKey {
    let (len, odd) = if class == "SYM-MK" {
        (24, true)
    } else {
        (32, false)
    };
    let fix = |v: Vec<u8>| if odd { with_odd_parity(v) } else { v };
    let p1 = fix(pattern(tag, len));
    let p2 = fix(pattern(tag.wrapping_add(1), len));
    mkp(card, class, "FIRST", &p1);
    mkp(card, class, "LAST", &p2);
    MasterKey::from_bytes(&fix(xor(&p1, &p2)))
}

/// Loads and sets a master key of `class` (CURRENT moves to OLD); returns the key.
pub fn set_master_key(card: &Card, class: &str, tag: u8) -> MasterKey {
    let mk = load_new(card, class, tag);
    mkp(card, class, "SET", &[]);
    let c = if class == "SYM-MK" {
        Class::Sym
    } else {
        Class::Aes
    };
    assert_eq!(
        card.verification_patterns(c)[1],
        Some(verification_pattern(c, &mk)),
        "the test rebuilt the card's {class}"
    );
    mk
}

pub fn token_of(r: &VerbResponse) -> Vec<u8> {
    match r.outputs.as_slice() {
        [Param::Bytes(t)] => {
            assert_eq!(t.len(), 64);
            t.clone()
        }
        other => panic!("one 64-byte token expected, got {other:?} ({:?})", codes(r)),
    }
}

pub fn internal_des(token: &[u8]) -> InternalDes {
    match DesToken::parse(token).expect("the token parses") {
        DesToken::Internal(t) => t,
        other => panic!("internal DES token expected, got {other:?}"),
    }
}

/// IBM's default control vector of a key type, with the key-part bit set when `part`.
pub fn cv_of(key_type: &str, length: KeyLength, part: bool) -> ([u8; 8], [u8; 8]) {
    let (l, r) = cv::default_cv(key_type, length).expect("a default CV");
    if part {
        (cv::with_key_part(&l, true), cv::with_key_part(&r, true))
    } else {
        (l, r)
    }
}

/// A skeleton internal token (no key, no MKVP) with the key-part bit, as Key_Token_Build
/// with KEY-PART would give it.
pub fn skeleton(key_type: &str, length: KeyLength) -> Vec<u8> {
    let (cv_left, cv_right) = cv_of(key_type, length, true);
    DesToken::Internal(InternalDes {
        mkvp: [0; 8],
        fields: DesFields {
            flags: FLAG_CV_APPLIED,
            wrap_method: WrapMethod::Ecb,
            key: [0; 24],
            cv_left,
            cv_right,
            length,
        },
    })
    .to_bytes()
    .to_vec()
}

/// An internal token of `clear` under `mk` with the given CV, built by the test.
pub fn des_token(mk: &MasterKey, clear: &[u8], cvs: ([u8; 8], [u8; 8])) -> Vec<u8> {
    let length = match clear.len() {
        8 => KeyLength::Single,
        16 => KeyLength::Double,
        _ => KeyLength::Triple,
    };
    let mut t = wrap::wrap_des(mk, clear, cvs.0, cvs.1, length).expect("wraps");
    t.fields.flags = FLAG_KEY_PRESENT | FLAG_CV_APPLIED;
    DesToken::Internal(t).to_bytes().to_vec()
}

/// The clear key of an internal token, deciphered by the test with the master key it knows.
pub fn clear_of(mk: &MasterKey, token: &[u8]) -> Vec<u8> {
    let t = internal_des(token);
    let (k, _) = wrap::unwrap_des(&t, Some(mk), None).expect("unwraps under the test's MK");
    k.expose().to_vec()
}

/// Rewrites the TVV (bytes 60–63) after a test changed a field.
pub fn reseal(token: &mut [u8]) {
    let t: &mut [u8; 64] = token.try_into().expect("64 bytes");
    let v = softcca_card::tokens::tvv(t);
    t[60..].copy_from_slice(&v.to_be_bytes());
}

/// Key_Part_Import.
pub fn kpi(card: &Card, process: &str, part: &[u8], token: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNBKPI",
        &[process],
        vec![Param::Bytes(part.to_vec()), Param::Bytes(token.to_vec())],
    )
}

/// Key_Test with ENC-ZERO: the 4-byte pattern of a token's key (panics on failure).
pub fn enc_zero(card: &Card, key_rule: &str, token: &[u8]) -> Vec<u8> {
    let r = call(
        card,
        "CSNBKYT",
        &["GENERATE", key_rule, "ENC-ZERO"],
        vec![
            Param::Bytes(token.to_vec()),
            Param::Bytes(vec![0; 8]),
            Param::Bytes(vec![0; 8]),
        ],
    );
    assert!(r.return_code < 8, "KYT {:?}", codes(&r));
    match r.outputs.as_slice() {
        [_, Param::Bytes(vp)] => vp[..4].to_vec(),
        other => panic!("two outputs expected, got {other:?}"),
    }
}

/// ENC-ZERO of a clear key, computed by the test with RustCrypto `des`.
pub fn enc_zero_clear(key: &[u8]) -> Vec<u8> {
    use des::cipher::generic_array::GenericArray;
    use des::cipher::{BlockEncrypt, KeyInit};
    let mut b = GenericArray::clone_from_slice(&[0u8; 8]);
    match key.len() {
        8 => des::Des::new(GenericArray::from_slice(key)).encrypt_block(&mut b),
        16 => des::TdesEde2::new(GenericArray::from_slice(key)).encrypt_block(&mut b),
        _ => des::TdesEde3::new(GenericArray::from_slice(key)).encrypt_block(&mut b),
    }
    b[..4].to_vec()
}
