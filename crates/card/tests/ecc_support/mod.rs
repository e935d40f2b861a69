//! Helpers the ECC API tests share (ecc.rs, ecc_curves.rs).
#![allow(dead_code)] // Each test file uses a part of them.

use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Model, PowerOn, rules};
use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};
use std::sync::Arc;

pub const NOW: u64 = 1_795_740_425;

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

pub fn b(x: &[u8]) -> Param {
    Param::Bytes(x.to_vec())
}

pub fn load_apka(card: &Card, tag: u8) {
    for (process, part) in [
        ("FIRST", vec![tag; 32]),
        ("LAST", (0..32u8).collect::<Vec<_>>()),
        ("SET", Vec::new()),
    ] {
        let r = call(
            card,
            "CSNBMKP",
            &["APKA-MK", process],
            vec![Param::Bytes(part)],
        );
        assert_eq!(codes(&r), (0, 0), "CSNBMKP APKA-MK {process}");
    }
}

pub fn the_bytes(r: &VerbResponse, what: &str) -> Vec<u8> {
    assert_eq!(codes(r), (0, 0), "{what}");
    match r.outputs.as_slice() {
        [Param::Bytes(t)] => t.clone(),
        other => panic!("{what}: one byte string expected, got {other:?}"),
    }
}

/// (curve type, p bits)
pub const P256: (u8, u16) = (0, 256);

pub fn kvs_pair(curve: (u8, u16), d: &[u8], q: &[u8]) -> Vec<u8> {
    let mut k = vec![curve.0, 0];
    k.extend_from_slice(&curve.1.to_be_bytes());
    k.extend_from_slice(&(d.len() as u16).to_be_bytes());
    k.extend_from_slice(&(q.len() as u16).to_be_bytes());
    k.extend_from_slice(d);
    k.extend_from_slice(q);
    k
}

pub fn kvs_publ(curve: (u8, u16), q: &[u8]) -> Vec<u8> {
    let mut k = vec![curve.0, 0];
    k.extend_from_slice(&curve.1.to_be_bytes());
    k.extend_from_slice(&(q.len() as u16).to_be_bytes());
    k.extend_from_slice(q);
    k
}

pub fn pkb_call(card: &Card, rules: &[&str], kvs: &[u8], derivation: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDPKB",
        rules,
        vec![
            b(kvs),
            b(&[]),
            b(&[]),
            b(derivation),
            b(&[]),
            b(&[]),
            b(&[]),
            Param::Int(8000),
        ],
    )
}

pub fn pkb(card: &Card, rules: &[&str], kvs: &[u8]) -> Vec<u8> {
    the_bytes(&pkb_call(card, rules, kvs, &[]), "CSNDPKB")
}

pub fn skeleton(card: &Card, curve: (u8, u16), usage: &str) -> Vec<u8> {
    pkb(card, &["ECC-PAIR", usage], &kvs_pair(curve, &[], &[]))
}

pub fn pkg(card: &Card, form: &str, skel: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDPKG",
        &[form],
        vec![b(&[]), b(skel), b(&[]), Param::Int(8000)],
    )
}

pub fn generate(card: &Card, curve: (u8, u16), usage: &str) -> Vec<u8> {
    let skel = skeleton(card, curve, usage);
    the_bytes(&pkg(card, "MASTER", &skel), "CSNDPKG MASTER")
}

pub fn pkx(card: &Card, token: &[u8]) -> Vec<u8> {
    the_bytes(
        &call(card, "CSNDPKX", &[], vec![b(token), Param::Int(8000)]),
        "CSNDPKX",
    )
}

/// q from an external public token (header 8, then X'21' with q at 14).
pub fn q_of(public_token: &[u8]) -> Vec<u8> {
    assert_eq!(public_token[0], 0x1E);
    assert_eq!(public_token[8], 0x21);
    let len = usize::from(u16::from_be_bytes([public_token[20], public_token[21]]));
    public_token[22..22 + len].to_vec()
}

pub fn dsg(card: &Card, rules: &[&str], key: &[u8], hash: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDDSG",
        rules,
        vec![b(key), b(hash), Param::Int(200)],
    )
}

pub fn signature(r: &VerbResponse) -> Vec<u8> {
    assert_eq!(codes(r), (0, 0), "CSNDDSG");
    match r.outputs.as_slice() {
        [Param::Int(bits), Param::Bytes(s)] => {
            assert_eq!(*bits as usize, 8 * s.len());
            s.clone()
        }
        other => panic!("bit length and signature expected, got {other:?}"),
    }
}

pub fn dsv(card: &Card, rules: &[&str], key: &[u8], hash: &[u8], s: &[u8]) -> VerbResponse {
    call(card, "CSNDDSV", rules, vec![b(key), b(hash), b(s)])
}

pub fn edh(card: &Card, rules: &[&str], private: &[u8], public: &[u8]) -> VerbResponse {
    let mut params = vec![b(private), b(&[]), b(public), b(&[]), b(&[]), Param::Int(0)];
    params.extend((0..5).map(|_| b(&[])));
    params.extend([b(&[]), b(&[]), Param::Int(200)]);
    call(card, "CSNDEDH", rules, params)
}
