//! API tests of the card's verbs, driven only through the public interface: a [`Card`] built
//! from a [`Platform`] of insecure test sources and in-memory flash / battery-backed RAM, and
//! [`Card::execute`] with wire requests. Expected return/reason codes are IBM's documented
//! values, written as literals.

use std::collections::HashSet;
use std::sync::Arc;

use aws_lc_rs::digest;
use softcca_card::mk::Class;
use softcca_card::platform::{FixedClock, Flash, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::EntropySource;
use softcca_card::rng::insecure_test_sources::{CountingSource, ScriptedSource, StuckSource};
use softcca_card::{Card, Model, PowerOn, PowerOnError, rules};
use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};

/// 2026-11-27 00:47:05 UTC, a Friday.
const NOW: u64 = 1_795_740_425;

type Element = [u8; 8];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A card's flash and battery-backed RAM, kept by the test across power cycles.
#[derive(Debug, Default, Clone)]
struct Store {
    flash: Arc<MemoryFlash>,
    bbram: Arc<MemoryBatteryRam>,
}

impl Store {
    fn new() -> Store {
        Store::default()
    }

    fn platform(&self, entropy: Box<dyn EntropySource>) -> Platform {
        Platform {
            entropy,
            clock: Box::new(FixedClock(NOW)),
            flash: Box::new(Arc::clone(&self.flash)),
            bbram: Box::new(Arc::clone(&self.bbram)),
        }
    }

    fn power_on(
        &self,
        entropy: Box<dyn EntropySource>,
        model: Option<Model>,
    ) -> Result<(Card, PowerOn), PowerOnError> {
        Card::power_on(self.platform(entropy), model)
    }

    fn flash_bytes(&self) -> Option<Vec<u8>> {
        self.flash
            .read(softcca_card::card::STATE_BLOB)
            .expect("memory flash reads")
    }
}

/// A freshly manufactured card of `model` with a deterministic entropy source.
fn card_with(seed: u64, model: Model) -> (Card, Store) {
    let store = Store::new();
    let (card, how) = store
        .power_on(Box::new(CountingSource::new(seed)), Some(model))
        .expect("a new card powers on");
    assert_eq!(how, PowerOn::Manufactured);
    (card, store)
}

fn new_card(seed: u64) -> Card {
    card_with(seed, Model::Ibm4767).0
}

fn el(keyword: &str) -> Element {
    rules::element(keyword).expect("keyword fits in 8 bytes")
}

fn ra(keywords: &[&str]) -> Vec<Element> {
    keywords.iter().map(|k| el(k)).collect()
}

fn call_raw(card: &Card, verb: &str, rule_array: Vec<Element>, params: Vec<Param>) -> VerbResponse {
    card.execute(&VerbRequest {
        verb: VerbName::new(verb).expect("valid verb name"),
        rule_array,
        params,
    })
}

fn call(card: &Card, verb: &str, rule_array: &[&str], params: Vec<Param>) -> VerbResponse {
    call_raw(card, verb, ra(rule_array), params)
}

fn codes(r: &VerbResponse) -> (i32, i32) {
    (r.return_code, r.reason_code)
}

/// Asserts a refused request: the given codes, and no output of any kind.
fn assert_refused(r: &VerbResponse, expected: (i32, i32), what: &str) {
    assert_eq!(codes(r), expected, "{what}");
    assert!(r.rule_array.is_empty(), "{what}: no rule-array output");
    assert!(r.outputs.is_empty(), "{what}: no outputs");
}

fn cfq_raw(card: &Card, rule_array: Vec<Element>) -> VerbResponse {
    call_raw(
        card,
        "CSUACFQ",
        rule_array,
        vec![Param::Int(0), Param::Bytes(Vec::new())],
    )
}

fn cfq(card: &Card, rule_array: &[&str]) -> VerbResponse {
    cfq_raw(card, ra(rule_array))
}

/// CSUACFQ with one information keyword; asserts 0/0 and returns the rule-array output.
fn query(card: &Card, keyword: &str) -> Vec<Element> {
    let r = cfq(card, &[keyword]);
    assert_eq!(codes(&r), (0, 0), "CSUACFQ {keyword}");
    assert!(r.outputs.is_empty(), "CSUACFQ {keyword} has no outputs");
    r.rule_array
}

fn cfv(card: &Card, rule_array: &[&str], length: i32) -> VerbResponse {
    call(card, "CSUACFV", rule_array, vec![Param::Int(length)])
}

fn mkp_raw(card: &Card, rule_array: &[&str], part: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNBMKP",
        rule_array,
        vec![Param::Bytes(part.to_vec())],
    )
}

/// CSNBMKP for one class and process keyword; returns the codes.
fn mkp(card: &Card, class: &str, process: &str, part: &[u8]) -> (i32, i32) {
    let r = mkp_raw(card, &[class, process], part);
    assert!(
        r.rule_array.is_empty() && r.outputs.is_empty(),
        "CSNBMKP has no outputs"
    );
    codes(&r)
}

fn rng(card: &Card, form: &[u8]) -> VerbResponse {
    call(card, "CSNBRNG", &[], vec![Param::Bytes(form.to_vec())])
}

fn rngl(card: &Card, rule_array: &[&str], length: i32) -> VerbResponse {
    call(
        card,
        "CSNBRNGL",
        rule_array,
        vec![Param::Bytes(Vec::new()), Param::Int(length)],
    )
}

/// The single byte-string output of a completed verb.
fn single_bytes(r: &VerbResponse) -> Vec<u8> {
    assert_eq!(codes(r), (0, 0), "verb completed");
    match r.outputs.as_slice() {
        [Param::Bytes(b)] => b.clone(),
        other => panic!("expected one byte-string output, got {other:?}"),
    }
}

fn all_odd(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| b.count_ones() % 2 == 1)
}

fn all_even(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| b.count_ones() % 2 == 0)
}

/// Deterministic test bytes, different for each `tag`.
fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = u8::try_from(i).expect("short pattern");
            i.wrapping_mul(73).wrapping_add(tag.wrapping_mul(151)) ^ 0x5A
        })
        .collect()
}

/// Test-side odd-parity adjustment (low bit is the parity bit).
fn with_odd_parity(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        if b.count_ones() % 2 == 0 {
            *b ^= 1;
        }
    }
    bytes
}

fn xor3(a: &[u8], b: &[u8], c: &[u8]) -> Vec<u8> {
    a.iter()
        .zip(b)
        .zip(c)
        .map(|((x, y), z)| x ^ y ^ z)
        .collect()
}

fn first8_of_digest(algorithm: &'static digest::Algorithm, key: &[u8]) -> [u8; 8] {
    let mut ctx = digest::Context::new(algorithm);
    ctx.update(&[0x01]);
    ctx.update(key);
    let d = ctx.finish();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d.as_ref()[..8]);
    out
}

/// Everything a refused request must leave alone: the register reports of every class, the
/// verification patterns, and the flash blob.
type Snapshot = (
    Vec<Element>,
    Vec<Element>,
    Vec<Element>,
    Vec<[Option<[u8; 8]>; 3]>,
    Option<Vec<u8>>,
);

/// A CSNBMKP request the card must refuse: rule array, key part, expected codes.
type RefusedMkp<'a> = (Vec<&'a str>, Vec<u8>, (i32, i32));

fn snapshot(card: &Card, store: &Store) -> Snapshot {
    (
        query(card, "STATCCAE"),
        query(card, "STATAES"),
        query(card, "STATAPKA"),
        Class::ALL
            .iter()
            .map(|c| card.verification_patterns(*c))
            .collect(),
        store.flash_bytes(),
    )
}

fn status_field(card: &Card, name: &str) -> String {
    card.device_status()
        .fields
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("device status has no field {name:?}"))
}

// ---------------------------------------------------------------------------------------------
// 1. CSUACFV
// ---------------------------------------------------------------------------------------------

#[test]
fn csuacfv_4767_reports_5_6_9() {
    let card = new_card(1);
    let data = single_bytes(&cfv(&card, &[], 17));
    assert_eq!(data, b"5.6.9   20201002\0".to_vec());
    assert_eq!(data.len(), 17);
}

#[test]
fn csuacfv_accepts_a_longer_buffer() {
    let card = new_card(1);
    let data = single_bytes(&cfv(&card, &[], 64));
    assert_eq!(&data[..17], b"5.6.9   20201002\0");
}

#[test]
fn csuacfv_4769_reports_7_5_52_at_least_7_1() {
    let (card, _store) = card_with(2, Model::Ibm4769);
    let data = single_bytes(&cfv(&card, &[], 17));
    assert_eq!(data.len(), 17);
    assert_eq!(&data[..8], b"7.5.52  ");
    assert_eq!(data[16], 0, "NUL-terminated");
    assert!(data[8..16].iter().all(u8::is_ascii_digit), "yyyymmdd date");
    // opencryptoki: sscanf(version, "%u.%u.%u") and requires >= 7.1.
    let text = std::str::from_utf8(&data[..8]).unwrap().trim_end();
    let parts: Vec<u32> = text.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3, "{text}");
    assert!((parts[0], parts[1]) >= (7, 1), "{text}");
}

#[test]
fn csuacfv_length_16_is_8_72() {
    let card = new_card(1);
    assert_refused(&cfv(&card, &[], 16), (8, 72), "length 16");
    assert_refused(&cfv(&card, &[], 0), (8, 72), "length 0");
    assert_refused(&cfv(&card, &[], -1), (8, 72), "length -1");
}

#[test]
fn csuacfv_rule_array_is_8_35() {
    let card = new_card(1);
    assert_refused(&cfv(&card, &["ADAPTER1"], 17), (8, 35), "rule array given");
}

// ---------------------------------------------------------------------------------------------
// 2. CSUACFQ
// ---------------------------------------------------------------------------------------------

#[test]
fn csuacfq_statcca_fresh_card() {
    let card = new_card(3);
    let e = query(&card, "STATCCA");
    assert_eq!(
        e,
        vec![
            *b"1       ",
            *b"1       ",
            *b"1       ",
            *b"5.6.9   ",
            *b"20201002",
            *b"DEFAULT ",
        ]
    );
}

#[test]
fn csuacfq_statccae_has_9_elements() {
    let card = new_card(3);
    let e = query(&card, "STATCCAE");
    assert_eq!(e.len(), 9);
    assert_eq!(e[..6], query(&card, "STATCCA")[..]);
    assert_eq!(e[6..], [*b"1       ", *b"1       ", *b"1       "]);
}

#[test]
fn csuacfq_stataes_and_statapka_have_3_elements() {
    let card = new_card(3);
    for kw in ["STATAES", "STATAPKA"] {
        assert_eq!(
            query(&card, kw),
            vec![*b"1       ", *b"1       ", *b"1       "],
            "{kw}"
        );
    }
}

#[test]
fn csuacfq_statcrd2_serial_at_offset_112() {
    let card = new_card(4);
    let e = query(&card, "STATCRD2");
    assert!(e.len() >= 15, "STATCRD2 has {} elements", e.len());
    assert_eq!(&e[0], b"1       ");
    let flat: Vec<u8> = e.concat();
    assert_eq!(&flat[112..120], &card.identity().serial[..]);
    assert_eq!(&card.identity().serial[..2], b"93");
}

#[test]
fn csuacfq_timedate_with_fixed_clock() {
    let card = new_card(5);
    assert_eq!(
        query(&card, "TIMEDATE"),
        vec![*b"20261127", *b"004705  ", *b"6       "]
    );
}

#[test]
fn csuacfq_adapter1_plus_statcca() {
    let card = new_card(5);
    let r = cfq(&card, &["ADAPTER1", "STATCCA"]);
    assert_eq!(codes(&r), (0, 0));
    assert_eq!(r.rule_array, query(&card, "STATCCA"));
    // Order does not matter.
    let r = cfq(&card, &["STATCCA", "ADAPTER1"]);
    assert_eq!(codes(&r), (0, 0));
    assert_eq!(r.rule_array.len(), 6);
}

#[test]
fn csuacfq_rule_array_count_0_and_3_are_8_35() {
    let card = new_card(6);
    assert_refused(&cfq(&card, &[]), (8, 35), "count 0");
    assert_refused(
        &cfq(&card, &["ADAPTER1", "STATCCA", "STATAES"]),
        (8, 35),
        "count 3",
    );
}

#[test]
fn csuacfq_unknown_keyword_is_8_33() {
    let card = new_card(6);
    assert_refused(&cfq(&card, &["STATXXXX"]), (8, 33), "STATXXXX");
}

#[test]
fn csuacfq_two_information_keywords_are_8_34() {
    let card = new_card(6);
    assert_refused(
        &cfq(&card, &["STATCCA", "STATAES"]),
        (8, 34),
        "two keywords",
    );
}

#[test]
fn csuacfq_adapter1_alone_is_8_34() {
    let card = new_card(6);
    assert_refused(&cfq(&card, &["ADAPTER1"]), (8, 34), "no info keyword");
}

#[test]
fn csuacfq_lowercase_keyword_is_8_33() {
    let card = new_card(6);
    assert_refused(&cfq(&card, &["statcca"]), (8, 33), "lowercase");
}

#[test]
fn csuacfq_garbage_element_is_8_33() {
    let card = new_card(6);
    for garbage in [
        *b"STAT\0CCA",
        *b"STATCCA\0",
        *b"        ",
        *b" STATCCA",
        [0xFF; 8],
    ] {
        assert_refused(
            &cfq_raw(&card, vec![garbage]),
            (8, 33),
            &format!("{garbage:?}"),
        );
    }
}

#[test]
fn csuacfq_negative_verb_data_length_is_8_72() {
    let card = new_card(6);
    let r = call(
        &card,
        "CSUACFQ",
        &["STATCCA"],
        vec![Param::Int(-1), Param::Bytes(Vec::new())],
    );
    assert_refused(&r, (8, 72), "verb_data_length -1");
}

// ---------------------------------------------------------------------------------------------
// 3. CSNBMKP, AES-MK
// ---------------------------------------------------------------------------------------------

fn stat(card: &Card, keyword: &str) -> Vec<Element> {
    query(card, keyword)
}

fn regs(nmk: u8, cmk: u8, omk: u8) -> Vec<Element> {
    [nmk, cmk, omk]
        .iter()
        .map(|d| {
            let mut e = [b' '; 8];
            e[0] = b'0' + d;
            e
        })
        .collect()
}

#[test]
fn csnbmkp_aes_full_ceremony() {
    let card = new_card(7);
    let (p1, p2, p3) = (pattern(1, 32), pattern(2, 32), pattern(3, 32));
    assert_eq!(stat(&card, "STATAES"), regs(1, 1, 1));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &p1), (0, 0));
    assert_eq!(stat(&card, "STATAES"), regs(2, 1, 1));
    assert_eq!(mkp(&card, "AES-MK", "MIDDLE", &p2), (0, 0));
    assert_eq!(stat(&card, "STATAES"), regs(2, 1, 1));
    assert_eq!(mkp(&card, "AES-MK", "LAST", &p3), (0, 0));
    assert_eq!(stat(&card, "STATAES"), regs(3, 1, 1));

    let key = xor3(&p1, &p2, &p3);
    let expected_vp = first8_of_digest(&digest::SHA256, &key);
    assert_eq!(card.verification_patterns(Class::Aes)[0], Some(expected_vp));

    assert_eq!(mkp(&card, "AES-MK", "SET", &[]), (0, 0));
    assert_eq!(stat(&card, "STATAES"), regs(1, 2, 1));
    let vps = card.verification_patterns(Class::Aes);
    assert_eq!(vps, [None, Some(expected_vp), None]);

    // Other classes untouched.
    assert_eq!(stat(&card, "STATAPKA"), regs(1, 1, 1));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(1, 1, 1)[..]);

    // Second ceremony: the first key moves to OLD.
    let (q1, q2) = (pattern(11, 32), pattern(12, 32));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &q1), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "LAST", &q2), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "SET", &[]), (0, 0));
    assert_eq!(stat(&card, "STATAES"), regs(1, 2, 2));
    let second: Vec<u8> = q1.iter().zip(&q2).map(|(a, b)| a ^ b).collect();
    let vps = card.verification_patterns(Class::Aes);
    assert_eq!(
        vps,
        [
            None,
            Some(first8_of_digest(&digest::SHA256, &second)),
            Some(expected_vp)
        ]
    );

    assert_eq!(mkp(&card, "AES-MK", "CLR-OLD", &[]), (0, 0));
    assert_eq!(stat(&card, "STATAES"), regs(1, 2, 1));
    assert_eq!(card.verification_patterns(Class::Aes)[2], None);
}

#[test]
fn csnbmkp_with_adapter_keyword() {
    let card = new_card(7);
    let r = mkp_raw(&card, &["ADAPTER", "APKA-MK", "FIRST"], &pattern(4, 32));
    assert_eq!(codes(&r), (0, 0));
    assert_eq!(stat(&card, "STATAPKA"), regs(2, 1, 1));
    assert_eq!(mkp(&card, "APKA-MK", "CLEAR", &[]), (0, 0));
    assert_eq!(stat(&card, "STATAPKA"), regs(1, 1, 1));
}

// ---------------------------------------------------------------------------------------------
// 4. CSNBMKP, SYM-MK
// ---------------------------------------------------------------------------------------------

fn sym_parts() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        with_odd_parity(pattern(21, 24)),
        with_odd_parity(pattern(22, 24)),
        with_odd_parity(pattern(23, 24)),
    )
}

#[test]
fn csnbmkp_sym_ceremony_parity_notice_and_vp() {
    let card = new_card(8);
    let (mut p1, p2, p3) = sym_parts();
    p1[5] ^= 0x01; // even parity in one byte
    assert!(!all_odd(&p1));
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &p1), (0, 702));
    assert_eq!(
        stat(&card, "STATCCA")[..3],
        regs(2, 1, 1)[..],
        "part loaded"
    );
    assert_eq!(mkp(&card, "SYM-MK", "MIDDLE", &p2), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "LAST", &p3), (0, 0));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(3, 1, 1)[..]);

    let key = with_odd_parity(xor3(&p1, &p2, &p3));
    assert_ne!(key[..8], key[16..], "not an effectively double-length key");
    let vp = first8_of_digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &key);
    assert_eq!(card.verification_patterns(Class::Sym)[0], Some(vp));

    assert_eq!(mkp(&card, "SYM-MK", "SET", &[]), (0, 0));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(1, 2, 1)[..]);
    assert_eq!(
        card.verification_patterns(Class::Sym),
        [None, Some(vp), None]
    );
}

#[test]
fn csnbmkp_sym_weak_key_is_8_703_and_changes_nothing() {
    let card = new_card(9);
    let ones = [0x01u8; 24];
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &ones), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "MIDDLE", &ones), (0, 0));
    let before = stat(&card, "STATCCA");
    let vps_before = card.verification_patterns(Class::Sym);
    assert_eq!(before[..3], regs(2, 1, 1)[..]);
    // 01 ^ 01 ^ 01 = 01 in every byte: weak in every third.
    assert_eq!(mkp(&card, "SYM-MK", "LAST", &ones), (8, 703));
    assert_eq!(stat(&card, "STATCCA"), before);
    assert_eq!(card.verification_patterns(Class::Sym), vps_before);
}

#[test]
fn csnbmkp_sym_random_fills_new() {
    let card = new_card(10);
    assert_eq!(mkp(&card, "SYM-MK", "RANDOM", &[]), (0, 0));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(3, 1, 1)[..]);
    assert!(card.verification_patterns(Class::Sym)[0].is_some());
    assert_eq!(mkp(&card, "SYM-MK", "SET", &[]), (0, 0));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(1, 2, 1)[..]);
}

#[test]
fn csnbmkp_aes_random_is_8_34() {
    let card = new_card(10);
    assert_eq!(mkp(&card, "AES-MK", "RANDOM", &[]), (8, 34));
    assert_eq!(stat(&card, "STATAES"), regs(1, 1, 1));
}

#[test]
fn csnbmkp_set_with_empty_new_is_8_34() {
    let card = new_card(11);
    assert_eq!(mkp(&card, "SYM-MK", "SET", &[]), (8, 34));
    assert_eq!(mkp(&card, "AES-MK", "SET", &[]), (8, 34));
    // A partial register cannot be SET either.
    let (p1, _, _) = sym_parts();
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &p1), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "SET", &[]), (8, 34));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(2, 1, 1)[..]);
}

#[test]
fn csnbmkp_middle_and_last_on_empty_are_8_34() {
    let card = new_card(12);
    let (_, p2, p3) = sym_parts();
    assert_eq!(mkp(&card, "SYM-MK", "MIDDLE", &p2), (8, 34));
    assert_eq!(mkp(&card, "SYM-MK", "LAST", &p3), (8, 34));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(1, 1, 1)[..]);
}

#[test]
fn csnbmkp_wrong_part_length_is_8_43() {
    let card = new_card(13);
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &[0x01; 16]), (8, 43));
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &[0x01; 32]), (8, 43));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &[0x01; 24]), (8, 43));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(1, 1, 1)[..]);
    assert_eq!(stat(&card, "STATAES"), regs(1, 1, 1));
}

#[test]
fn csnbmkp_same_key_as_current_is_8_704() {
    let card = new_card(14);
    let (p1, p2, p3) = sym_parts();
    for process in [("FIRST", &p1), ("MIDDLE", &p2), ("LAST", &p3)] {
        assert_eq!(mkp(&card, "SYM-MK", process.0, process.1), (0, 0));
    }
    assert_eq!(mkp(&card, "SYM-MK", "SET", &[]), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &p1), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "MIDDLE", &p2), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "LAST", &p3), (8, 704));
    assert_eq!(stat(&card, "STATCCA")[..3], regs(2, 2, 1)[..]);

    // The same holds for AES against the current key.
    let (a1, a2) = (pattern(31, 32), pattern(32, 32));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &a1), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "LAST", &a2), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "SET", &[]), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &a1), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "LAST", &a2), (8, 704));
}

#[test]
fn csnbmkp_rule_array_errors() {
    let card = new_card(15);
    let (p1, _, _) = sym_parts();
    assert_eq!(codes(&mkp_raw(&card, &["FIRST"], &p1)), (8, 34), "no class");
    assert_eq!(
        codes(&mkp_raw(&card, &["SYM-MK"], &p1)),
        (8, 34),
        "no process"
    );
    assert_eq!(
        codes(&mkp_raw(&card, &["SYM-MK", "AES-MK", "FIRST"], &p1)),
        (8, 34),
        "two classes"
    );
    assert_eq!(
        codes(&mkp_raw(&card, &["SYM-MK", "FIRST", "LAST"], &p1)),
        (8, 34),
        "two processes"
    );
    assert_eq!(
        codes(&mkp_raw(
            &card,
            &["ADAPTER", "SYM-MK", "FIRST", "FIRST"],
            &p1
        )),
        (8, 35),
        "count 4"
    );
    assert_eq!(codes(&mkp_raw(&card, &[], &p1)), (8, 35), "count 0");
    assert_eq!(
        codes(&mkp_raw(&card, &["SYM-MK", "BOGUS"], &p1)),
        (8, 33),
        "unknown"
    );
    assert_eq!(stat(&card, "STATCCA")[..3], regs(1, 1, 1)[..]);
}

// ---------------------------------------------------------------------------------------------
// 5. Refused requests change nothing
// ---------------------------------------------------------------------------------------------

#[test]
fn refused_requests_change_nothing() {
    let (card, store) = card_with(16, Model::Ibm4767);
    // A card with something in every kind of register.
    let (s1, s2, s3) = sym_parts();
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &s1), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "LAST", &s2), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "SET", &[]), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &s3), (0, 0));
    let (a1, a2) = (pattern(41, 32), pattern(42, 32));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &a1), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "LAST", &a2), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "SET", &[]), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &a2), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "LAST", &pattern(43, 32)), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "SET", &[]), (0, 0));
    assert_eq!(mkp(&card, "APKA-MK", "FIRST", &a1), (0, 0));
    assert_eq!(mkp(&card, "APKA-MK", "LAST", &a2), (0, 0));

    let sym_current_parts = (s1.clone(), s2.clone());
    let refused: Vec<RefusedMkp> = vec![
        (vec!["SYM-MK", "FIRST"], vec![0x01; 16], (8, 43)),
        (vec!["AES-MK", "FIRST"], vec![0x01; 24], (8, 43)),
        (vec!["AES-MK", "RANDOM"], vec![], (8, 34)),
        (vec!["APKA-MK", "RANDOM"], vec![], (8, 34)),
        (vec!["ASYM-MK", "SET"], vec![], (8, 34)),
        (vec!["ASYM-MK", "MIDDLE"], vec![0x01; 24], (8, 34)),
        (vec!["AES-MK", "LAST"], a1.clone(), (8, 34)),
        (vec!["AES-MK", "SET"], vec![], (8, 34)),
        // SYM NEW is partial with s3: s3 ^ (s3 ^ 01..) = 01.. is weak.
        (
            vec!["SYM-MK", "LAST"],
            s3.iter().map(|b| b ^ 0x01).collect(),
            (8, 703),
        ),
        // SYM NEW ^ part == the current key: 8/704.
        (
            vec!["SYM-MK", "LAST"],
            xor3(&s3, &sym_current_parts.0, &sym_current_parts.1),
            (8, 704),
        ),
        (vec!["FIRST"], s1.clone(), (8, 34)),
        (vec!["SYM-MK", "AES-MK", "FIRST"], s1.clone(), (8, 34)),
        (vec!["SYM-MK", "FIRST", "CLEAR"], s1.clone(), (8, 34)),
        (
            vec!["ADAPTER", "SYM-MK", "FIRST", "LAST"],
            s1.clone(),
            (8, 35),
        ),
        (vec![], s1.clone(), (8, 35)),
        (vec!["SYM-MK", "first"], s1.clone(), (8, 33)),
        (vec!["ADAPTER1", "SYM-MK", "CLEAR"], vec![], (8, 33)),
    ];
    for (rule_array, part, expected) in refused {
        let before = snapshot(&card, &store);
        let r = mkp_raw(&card, &rule_array, &part);
        assert_refused(&r, expected, &format!("{rule_array:?}"));
        assert_eq!(
            snapshot(&card, &store),
            before,
            "{rule_array:?} changed the card"
        );
    }

    // Malformed parameter blocks: refused and harmless too.
    let bad_blocks: Vec<Vec<Param>> = vec![
        vec![],
        vec![Param::Int(24)],
        vec![Param::Bytes(s1.clone()), Param::Bytes(s1.clone())],
    ];
    for params in bad_blocks {
        let before = snapshot(&card, &store);
        let r = call(&card, "CSNBMKP", &["SYM-MK", "FIRST"], params.clone());
        assert_refused(&r, (8, 72), &format!("{params:?}"));
        assert_eq!(
            snapshot(&card, &store),
            before,
            "{params:?} changed the card"
        );
    }

    // Refused non-MKP verbs too.
    let before = snapshot(&card, &store);
    assert_refused(&rngl(&card, &["ODD"], 0), (8, 72), "RNGL 0");
    assert_refused(&cfq(&card, &["STATXXXX"]), (8, 33), "CFQ");
    assert_eq!(snapshot(&card, &store), before);
}

// ---------------------------------------------------------------------------------------------
// 6. Persistence
// ---------------------------------------------------------------------------------------------

#[test]
fn state_persists_across_power_cycles() {
    let (card, store) = card_with(17, Model::Ibm4767);
    let (s1, s2, s3) = sym_parts();
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &s1), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "LAST", &s2), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "SET", &[]), (0, 0));
    assert_eq!(mkp(&card, "SYM-MK", "FIRST", &s3), (0, 0)); // partial NEW
    let (a1, a2) = (pattern(51, 32), pattern(52, 32));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &a1), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "LAST", &a2), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "SET", &[]), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &a2), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "LAST", &pattern(43, 32)), (0, 0));
    assert_eq!(mkp(&card, "AES-MK", "SET", &[]), (0, 0));
    assert_eq!(mkp(&card, "APKA-MK", "FIRST", &a1), (0, 0));
    assert_eq!(mkp(&card, "APKA-MK", "LAST", &a2), (0, 0)); // full NEW

    let identity = card.identity().clone();
    let reports: Vec<Vec<Element>> = ["STATCCAE", "STATAES", "STATAPKA", "STATCRD2"]
        .iter()
        .map(|k| query(&card, k))
        .collect();
    let vps: Vec<_> = Class::ALL
        .iter()
        .map(|c| card.verification_patterns(*c))
        .collect();
    drop(card);

    // A different entropy seed: the state comes from flash, not from the source.
    let (card, how) = store
        .power_on(Box::new(CountingSource::new(999)), None)
        .unwrap();
    assert_eq!(how, PowerOn::Resumed);
    assert_eq!(card.identity(), &identity);
    assert_eq!(card.identity().serial, identity.serial);
    let reports_after: Vec<Vec<Element>> = ["STATCCAE", "STATAES", "STATAPKA", "STATCRD2"]
        .iter()
        .map(|k| query(&card, k))
        .collect();
    assert_eq!(reports_after, reports);
    let vps_after: Vec<_> = Class::ALL
        .iter()
        .map(|c| card.verification_patterns(*c))
        .collect();
    assert_eq!(vps_after, vps);

    // The resumed card goes on: the partial SYM register completes.
    let third = with_odd_parity(pattern(24, 24));
    assert_eq!(mkp(&card, "SYM-MK", "LAST", &third), (0, 0));
    let expected = with_odd_parity(s3.iter().zip(&third).map(|(a, b)| a ^ b).collect());
    assert_eq!(
        card.verification_patterns(Class::Sym)[0],
        Some(first8_of_digest(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            &expected
        ))
    );
    drop(card);

    // Asking for the model it already is works.
    let (card, how) = store
        .power_on(Box::new(CountingSource::new(5)), Some(Model::Ibm4767))
        .unwrap();
    assert_eq!(how, PowerOn::Resumed);
    assert_eq!(card.identity().serial, identity.serial);
}

#[test]
fn lost_battery_ram_is_zeroized() {
    let (card, store) = card_with(18, Model::Ibm4767);
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &pattern(1, 32)), (0, 0));
    drop(card);
    let other = Store {
        flash: Arc::clone(&store.flash),
        bbram: Arc::new(MemoryBatteryRam::default()),
    };
    // Battery-backed RAM that lost its contents is a dead battery: the card comes up
    // zeroized and disabled for good, and says so with IBM's driver code.
    let (card, how) = other
        .power_on(Box::new(CountingSource::new(18)), None)
        .unwrap();
    assert_eq!(how, PowerOn::Resumed);
    assert_eq!(card.driver_status(), 0x8040_FFDA);
    assert_eq!(codes(&cfq(&card, &["STATCCA"])), (12, 338));
    drop(card);
    let (card, _) = other
        .power_on(Box::new(CountingSource::new(19)), None)
        .unwrap();
    assert_eq!(
        card.driver_status(),
        0x8040_FFDA,
        "the disabled state survives a restart"
    );
}

#[test]
fn other_model_on_existing_flash_is_model_mismatch() {
    let (card, store) = card_with(19, Model::Ibm4767);
    drop(card);
    let err = store
        .power_on(Box::new(CountingSource::new(19)), Some(Model::Ibm4769))
        .unwrap_err();
    assert!(
        matches!(
            err,
            PowerOnError::ModelMismatch {
                manufactured: Model::Ibm4767,
                requested: Model::Ibm4769
            }
        ),
        "{err:?}"
    );
    // The flash is still a good 4767.
    let (card, how) = store
        .power_on(Box::new(CountingSource::new(19)), None)
        .unwrap();
    assert_eq!(how, PowerOn::Resumed);
    assert_eq!(card.identity().model, Model::Ibm4767);
}

#[test]
fn two_cards_have_different_serials() {
    let a = new_card(100);
    let b = new_card(101);
    assert_ne!(a.identity().adapter_id, b.identity().adapter_id);
    // Serials are 6 base-36 characters; equal ones would be a 1-in-2^31 coincidence.
    assert_ne!(a.identity().serial, b.identity().serial);
}

// ---------------------------------------------------------------------------------------------
// 7. CSNBRNG / CSNBRNGL
// ---------------------------------------------------------------------------------------------

#[test]
fn csnbrng_forms_and_parity() {
    let card = new_card(20);
    for _ in 0..50 {
        let out = single_bytes(&rng(&card, b"RANDOM  "));
        assert_eq!(out.len(), 8);
        let odd = single_bytes(&rng(&card, b"ODD     "));
        assert_eq!(odd.len(), 8);
        assert!(all_odd(&odd), "{odd:02X?}");
        let even = single_bytes(&rng(&card, b"EVEN    "));
        assert_eq!(even.len(), 8);
        assert!(all_even(&even), "{even:02X?}");
    }
}

#[test]
fn csnbrng_random_form_is_not_parity_adjusted() {
    let card = new_card(21);
    let mut saw_odd = false;
    let mut saw_even = false;
    for _ in 0..20 {
        let out = single_bytes(&rng(&card, b"RANDOM  "));
        saw_odd |= out.iter().any(|b| b.count_ones() % 2 == 1);
        saw_even |= out.iter().any(|b| b.count_ones() % 2 == 0);
    }
    assert!(saw_odd && saw_even);
}

#[test]
fn csnbrng_bad_forms() {
    let card = new_card(22);
    assert_refused(&rng(&card, b"KEY-GEN "), (8, 33), "KEY-GEN");
    assert_refused(&rng(&card, b"odd     "), (8, 33), "lowercase");
    assert_refused(&rng(&card, b"ODD\0    "), (8, 33), "NUL");
    assert_refused(&rng(&card, b"ODD    "), (8, 72), "7 bytes");
    assert_refused(&rng(&card, b"ODD      "), (8, 72), "9 bytes");
    assert_refused(
        &call(
            &card,
            "CSNBRNG",
            &["ODD"],
            vec![Param::Bytes(b"ODD     ".to_vec())],
        ),
        (8, 35),
        "rule array",
    );
}

#[test]
fn csnbrngl_lengths_and_parity() {
    let card = new_card(23);
    for len in [1, 32, 8192] {
        let out = single_bytes(&rngl(&card, &["RANDOM"], len));
        assert_eq!(out.len(), usize::try_from(len).unwrap());
        let odd = single_bytes(&rngl(&card, &["ODD"], len));
        assert_eq!(odd.len(), usize::try_from(len).unwrap());
        assert!(all_odd(&odd), "ODD {len}");
        let even = single_bytes(&rngl(&card, &["EVEN"], len));
        assert_eq!(even.len(), usize::try_from(len).unwrap());
        assert!(all_even(&even), "EVEN {len}");
    }
    let big = single_bytes(&rngl(&card, &["RANDOM"], 8192));
    assert!(big.iter().any(|&b| b != 0));
    let distinct: HashSet<u8> = big.iter().copied().collect();
    assert!(distinct.len() > 200, "8192 random bytes use most values");
}

#[test]
fn csnbrngl_bad_lengths_are_8_72() {
    let card = new_card(24);
    for len in [0, 8193, -1, i32::MIN, i32::MAX] {
        assert_refused(&rngl(&card, &["RANDOM"], len), (8, 72), &format!("{len}"));
    }
}

#[test]
fn csnbrngl_tdes_cbc_is_8_2() {
    let card = new_card(25);
    assert_refused(
        &rngl(&card, &["RANDOM", "TDES-CBC"], 16),
        (8, 2),
        "TDES-CBC",
    );
    assert_refused(&rngl(&card, &["RT-KRD"], 16), (8, 2), "RT-KRD");
}

#[test]
fn csnbrngl_rule_array_errors() {
    let card = new_card(26);
    assert_refused(
        &rngl(&card, &["RANDOM", "TDES-CBC", "ODD"], 16),
        (8, 35),
        "count 3",
    );
    assert_refused(&rngl(&card, &[], 16), (8, 35), "count 0");
    assert_refused(&rngl(&card, &["ODD", "EVEN"], 16), (8, 34), "two parities");
    assert_refused(&rngl(&card, &["TDES-CBC"], 16), (8, 34), "no parity");
    assert_refused(&rngl(&card, &["KEY-GEN"], 16), (8, 33), "unknown");
}

#[test]
fn csnbrngl_two_calls_differ() {
    let card = new_card(27);
    let a = single_bytes(&rngl(&card, &["RANDOM"], 32));
    let b = single_bytes(&rngl(&card, &["RANDOM"], 32));
    assert_ne!(a, b);
    let c = single_bytes(&rng(&card, b"RANDOM  "));
    let d = single_bytes(&rng(&card, b"RANDOM  "));
    assert_ne!(c, d);
}

// ---------------------------------------------------------------------------------------------
// 8. Unknown verbs
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_verb_is_8_2() {
    let card = new_card(28);
    assert_refused(&call(&card, "CSNBXXXX", &[], vec![]), (8, 2), "CSNBXXXX");
    assert_refused(
        &call(&card, "CSNBCVG", &["DES"], vec![Param::Int(0)]),
        (8, 2),
        "CSNBCVG",
    );
}

#[test]
fn invalid_verb_name_bytes_are_8_2() {
    let card = new_card(28);
    let r = card.execute(&VerbRequest {
        verb: VerbName(*b"csnbrng "),
        rule_array: vec![],
        params: vec![Param::Bytes(b"RANDOM  ".to_vec())],
    });
    assert_refused(&r, (8, 2), "lowercase verb name");
}

// ---------------------------------------------------------------------------------------------
// 9. RNG fault
// ---------------------------------------------------------------------------------------------

/// One request of every verb the card knows, each valid on a healthy card.
fn every_verb(card: &Card) -> Vec<(&'static str, VerbResponse)> {
    vec![
        ("CSUACFQ", cfq(card, &["STATCCA"])),
        ("CSUACFV", cfv(card, &[], 17)),
        ("CSNBRNG", rng(card, b"ODD     ")),
        ("CSNBRNGL", rngl(card, &["RANDOM"], 32)),
        (
            "CSNBMKP",
            mkp_raw(card, &["AES-MK", "FIRST"], &pattern(61, 32)),
        ),
        ("CSNBMKP", mkp_raw(card, &["AES-MK", "CLEAR"], &[])),
    ]
}

#[test]
fn manufacturing_with_stuck_source_fails() {
    let store = Store::new();
    let err = store
        .power_on(Box::new(StuckSource::new(0x42)), None)
        .unwrap_err();
    assert!(matches!(err, PowerOnError::Rng(_)), "{err:?}");
    assert!(store.flash_bytes().is_none(), "nothing written");
}

#[test]
fn rng_fault_at_power_on_then_recovery() {
    let store = Store::new();
    let (card, _) = store
        .power_on(Box::new(CountingSource::new(30)), None)
        .unwrap();
    let serial = card.identity().serial;
    assert_eq!(mkp(&card, "AES-MK", "FIRST", &pattern(62, 32)), (0, 0));
    drop(card);

    // Powered on again with a source that is stuck from the start.
    let script = ScriptedSource::new(0, 30, 0x42);
    let (card, how) = store
        .power_on(Box::new(script.clone_handle()), None)
        .unwrap();
    assert_eq!(how, PowerOn::Resumed);
    assert_eq!(card.identity().serial, serial);
    assert_eq!(card.driver_status(), 0x8340_038F);
    for (verb, r) in every_verb(&card) {
        assert_refused(&r, (12, 338), verb);
    }
    assert_refused(
        &call(&card, "CSNBXXXX", &[], vec![]),
        (12, 338),
        "unknown verb",
    );
    assert_eq!(status_field(&card, "Driver Status"), "8340038F");
    // Still stuck: the status request's re-test fails again.
    assert_eq!(status_field(&card, "Driver Status"), "8340038F");
    assert_eq!(card.driver_status(), 0x8340_038F);
    assert_refused(&rngl(&card, &["RANDOM"], 8), (12, 338), "still stuck");

    // The noise source heals. The first status still shows the fault (and re-tests); the
    // second shows it cleared.
    script.set_good_calls(usize::MAX);
    assert_refused(&rngl(&card, &["RANDOM"], 8), (12, 338), "not yet re-tested");
    assert_eq!(status_field(&card, "Driver Status"), "8340038F");
    assert_eq!(status_field(&card, "Driver Status"), "00000000");
    assert_eq!(card.driver_status(), 0);
    assert_eq!(status_field(&card, "Card State"), "READY");
    let out = single_bytes(&rngl(&card, &["ODD"], 32));
    assert!(all_odd(&out));
    assert_eq!(query(&card, "STATAES"), regs(2, 1, 1), "state kept");
    assert_eq!(mkp(&card, "AES-MK", "LAST", &pattern(63, 32)), (0, 0));
}

/// The card reseeds from its noise source after 2^20 generate requests; a source that went
/// stuck after start-up is caught there. This needs 2^20 verb calls.
#[test]
fn rng_fault_at_reseed_latches_the_card() {
    // Start-up draws three times from the source (1024 + 32 + 16 samples); manufacturing
    // draws only from the DRBG.
    let script = ScriptedSource::new(3, 31, 0x00);
    let store = Store::new();
    let (card, _) = store
        .power_on(Box::new(script.clone_handle()), None)
        .unwrap();
    assert_eq!(script.calls(), 3);
    let mut n: u64 = 0;
    loop {
        let r = rng(&card, b"RANDOM  ");
        if r.return_code != 0 {
            assert_refused(&r, (12, 338), "reseed from a stuck source");
            break;
        }
        n += 1;
        assert!(n <= (1 << 20) + 1, "the card never reseeded");
    }
    assert!(n >= (1 << 20) - 8, "reseeded after {n} calls");
    assert_eq!(card.driver_status(), 0x8340_038F);
    assert_refused(&rngl(&card, &["RANDOM"], 8), (12, 338), "latched");
    script.set_good_calls(usize::MAX);
    assert_eq!(status_field(&card, "Driver Status"), "8340038F");
    assert_eq!(status_field(&card, "Driver Status"), "00000000");
    single_bytes(&rngl(&card, &["RANDOM"], 8));
}

// ---------------------------------------------------------------------------------------------
// 10. Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn concurrent_rngl_calls() {
    let card = Arc::new(new_card(40));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let card = Arc::clone(&card);
            std::thread::spawn(move || {
                (0..200)
                    .map(|_| {
                        let out = single_bytes(&rngl(&card, &["ODD"], 32));
                        assert_eq!(out.len(), 32);
                        assert!(all_odd(&out));
                        out
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for h in handles {
        for out in h.join().unwrap() {
            assert!(seen.insert(out), "duplicate random output");
        }
    }
    assert_eq!(seen.len(), 16 * 200);
}

#[test]
fn concurrent_mkp_and_queries() {
    let card = Arc::new(new_card(41));
    let handles: Vec<_> = (0..8u8)
        .map(|t| {
            let card = Arc::clone(&card);
            std::thread::spawn(move || {
                for i in 0..20u8 {
                    if t % 2 == 0 {
                        let r = cfq(&card, &["STATAES"]);
                        assert_eq!(codes(&r), (0, 0));
                        assert_eq!(r.rule_array.len(), 3);
                    } else {
                        let part = pattern(t.wrapping_mul(31).wrapping_add(i), 32);
                        assert_eq!(mkp(&card, "APKA-MK", "FIRST", &part), (0, 0));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(query(&card, "STATAPKA"), regs(2, 1, 1));
}
