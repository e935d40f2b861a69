//! Helpers the RSA-side API tests share (rsa.rs, rsa2.rs, rsa_sizes.rs, iso.rs, syx.rs …),
//! among them the independent public operation the raw-format tests check signatures with.
#![allow(dead_code)] // Each test file uses a part of them.

use rsa::BoxedUint;
use rsa::traits::PublicKeyParts;
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
    assert!(r.outputs.is_empty(), "{what}: no outputs");
}

pub fn bytes_out(r: &VerbResponse, what: &str) -> Vec<u8> {
    assert_eq!(codes(r), (0, 0), "{what}");
    match r.outputs.last() {
        Some(Param::Bytes(b)) => b.clone(),
        other => panic!("{what}: bytes expected, got {other:?}"),
    }
}

pub fn load_apka(card: &Card, tag: u8) {
    let second: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(1))
        .collect();
    for (process, part) in [("FIRST", vec![tag; 32]), ("LAST", second)] {
        let r = call(
            card,
            "CSNBMKP",
            &["APKA-MK", process],
            vec![Param::Bytes(part.to_vec())],
        );
        assert_eq!(codes(&r), (0, 0), "APKA {process}");
    }
    let r = call(
        card,
        "CSNBMKP",
        &["APKA-MK", "SET"],
        vec![Param::Bytes(vec![])],
    );
    assert_eq!(codes(&r), (0, 0), "APKA SET");
}

pub fn be16(v: usize) -> [u8; 2] {
    u16::try_from(v).expect("fits").to_be_bytes()
}

pub fn pkb(card: &Card, rules: &[&str], kvs: Vec<u8>, name: Vec<u8>) -> VerbResponse {
    let mut params = vec![Param::Bytes(kvs), Param::Bytes(name)];
    params.extend((0..5).map(|_| Param::Bytes(vec![])));
    params.push(Param::Int(8000));
    call(card, "CSNDPKB", rules, params)
}

pub fn skeleton_kvs(bits: usize, e: &[u8]) -> Vec<u8> {
    let mut k = vec![0u8; 18];
    k[0..2].copy_from_slice(&be16(bits));
    k[4..6].copy_from_slice(&be16(e.len()));
    k.extend_from_slice(e);
    k
}

pub fn pkg(card: &Card, rules: &[&str], skeleton: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDPKG",
        rules,
        vec![
            Param::Bytes(vec![]),
            Param::Bytes(skeleton.to_vec()),
            Param::Bytes(vec![]),
            Param::Int(8000),
        ],
    )
}

pub fn generate(card: &Card, usage: &str) -> Vec<u8> {
    let skel = bytes_out(
        &pkb(
            card,
            &["RSA-AESC", usage],
            skeleton_kvs(2048, &[1, 0, 1]),
            vec![],
        ),
        "PKB skeleton",
    );
    bytes_out(&pkg(card, &["MASTER"], &skel), "PKG MASTER")
}

/// n and e of an external public token (X'04' with n).
pub fn public_parts(token: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(token[0], 0x1E);
    let s = &token[8..];
    assert_eq!(s[0], 0x04);
    let e_len = usize::from(u16::from_be_bytes([s[6], s[7]]));
    let n_len = usize::from(u16::from_be_bytes([s[10], s[11]]));
    (
        s[12 + e_len..12 + e_len + n_len].to_vec(),
        s[12..12 + e_len].to_vec(),
    )
}

pub fn pkx(card: &Card, token: &[u8]) -> Vec<u8> {
    bytes_out(
        &call(
            card,
            "CSNDPKX",
            &[],
            vec![Param::Bytes(token.to_vec()), Param::Int(8000)],
        ),
        "PKX",
    )
}

pub fn spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer;
    aws_lc_rs::rsa::PublicKeyComponents { n, e }
        .as_der()
        .expect("encodes")
        .as_ref()
        .to_vec()
}

pub fn dsg(card: &Card, rules: &[&str], key: &[u8], hash: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDDSG",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(hash.to_vec()),
            Param::Int(1024),
        ],
    )
}

pub fn dsv(card: &Card, rules: &[&str], key: &[u8], hash: &[u8], sig: &[u8]) -> (i32, i32) {
    codes(&call(
        card,
        "CSNDDSV",
        rules,
        vec![
            Param::Bytes(key.to_vec()),
            Param::Bytes(hash.to_vec()),
            Param::Bytes(sig.to_vec()),
        ],
    ))
}

pub fn pke(card: &Card, rules: &[&str], key: &[u8], value: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDPKE",
        rules,
        vec![
            Param::Bytes(value.to_vec()),
            Param::Bytes(vec![]),
            Param::Bytes(key.to_vec()),
            Param::Int(1024),
        ],
    )
}

pub fn pkd(card: &Card, rules: &[&str], key: &[u8], ct: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDPKD",
        rules,
        vec![
            Param::Bytes(ct.to_vec()),
            Param::Bytes(vec![]),
            Param::Bytes(key.to_vec()),
            Param::Int(1024),
        ],
    )
}

/// s^e mod n (the oracle's public operation).
pub fn public_op(n: &[u8], e: &[u8], s: &[u8]) -> Vec<u8> {
    let bits = (n.len() * 8) as u32;
    let key = rsa::PublicKey::new_with_size_limits(
        BoxedUint::from_be_slice(n, bits).expect("n"),
        BoxedUint::from_be_slice(e, (e.len() * 8) as u32).expect("e"),
        512..=8192,
    )
    .expect("public key");
    let m = rsa::hazmat::rsa_encrypt(
        &key,
        &BoxedUint::from_be_slice(s, key.n_bits_precision()).expect("s"),
    )
    .expect("public op");
    let b = m.to_be_bytes();
    b[b.len() - n.len()..].to_vec()
}

/// n − x for big-endian values of n's length (x < n): the oracle's X9.31 / ISO-9796 check.
pub fn sub(n: &[u8], x: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; n.len()];
    let mut borrow = 0i32;
    for i in (0..n.len()).rev() {
        let d = i32::from(n[i]) - i32::from(x[i]) - borrow;
        borrow = i32::from(d < 0);
        out[i] = d.rem_euclid(256) as u8;
    }
    out
}
