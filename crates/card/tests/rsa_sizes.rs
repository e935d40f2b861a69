//! API tests of RSA key generation beyond aws-lc-rs's own (issue 4): e = 3 and IBM's random
//! exponent (RustCrypto generation, aws-lc-rs use), and the sizes that stay refused (below
//! 2048 bits: aws-lc-rs will not load them). Expected codes are IBM's values, as literals.

use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Model, PowerOn, rules};
use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};

const NOW: u64 = 1_795_740_425;

fn new_card(seed: u64) -> Card {
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

fn call(card: &Card, verb: &str, rule_array: &[&str], params: Vec<Param>) -> VerbResponse {
    card.execute(&VerbRequest {
        verb: VerbName::new(verb).expect("valid verb name"),
        rule_array: rule_array
            .iter()
            .map(|k| rules::element(k).expect("keyword fits"))
            .collect(),
        params,
    })
}

fn codes(r: &VerbResponse) -> (i32, i32) {
    (r.return_code, r.reason_code)
}

fn assert_refused(r: &VerbResponse, expected: (i32, i32), what: &str) {
    assert_eq!(codes(r), expected, "{what}");
    assert!(r.outputs.is_empty(), "{what}: no outputs");
}

fn bytes_out(r: &VerbResponse, what: &str) -> Vec<u8> {
    assert_eq!(codes(r), (0, 0), "{what}");
    match r.outputs.last() {
        Some(Param::Bytes(b)) => b.clone(),
        other => panic!("{what}: bytes expected, got {other:?}"),
    }
}

fn load_apka(card: &Card, tag: u8) {
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

fn be16(v: usize) -> [u8; 2] {
    u16::try_from(v).expect("fits").to_be_bytes()
}

fn pkb(card: &Card, rules: &[&str], kvs: Vec<u8>, name: Vec<u8>) -> VerbResponse {
    let mut params = vec![Param::Bytes(kvs), Param::Bytes(name)];
    params.extend((0..5).map(|_| Param::Bytes(vec![])));
    params.push(Param::Int(8000));
    call(card, "CSNDPKB", rules, params)
}

fn skeleton_kvs(bits: usize, e: &[u8]) -> Vec<u8> {
    let mut k = vec![0u8; 18];
    k[0..2].copy_from_slice(&be16(bits));
    k[4..6].copy_from_slice(&be16(e.len()));
    k.extend_from_slice(e);
    k
}

fn pkg(card: &Card, rules: &[&str], skeleton: &[u8]) -> VerbResponse {
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

/// n and e of an external public token (X'04' with n).
fn public_parts(token: &[u8]) -> (Vec<u8>, Vec<u8>) {
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

fn pkx(card: &Card, token: &[u8]) -> Vec<u8> {
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

fn spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer;
    aws_lc_rs::rsa::PublicKeyComponents { n, e }
        .as_der()
        .expect("encodes")
        .as_ref()
        .to_vec()
}

fn dsg(card: &Card, rules: &[&str], key: &[u8], hash: &[u8]) -> VerbResponse {
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

fn dsv(card: &Card, rules: &[&str], key: &[u8], hash: &[u8], sig: &[u8]) -> (i32, i32) {
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

fn pke(card: &Card, rules: &[&str], key: &[u8], value: &[u8]) -> VerbResponse {
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

fn pkd(card: &Card, rules: &[&str], key: &[u8], ct: &[u8]) -> VerbResponse {
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

fn skeleton(card: &Card, bits: usize, e: &[u8]) -> Vec<u8> {
    bytes_out(
        &pkb(
            card,
            &["RSA-AESC", "KEY-MGMT"],
            skeleton_kvs(bits, e),
            vec![],
        ),
        "PKB skeleton",
    )
}

/// Generates, checks e, and uses the key: PKCS-1.1 signature (aws-lc-rs verifies), PKE/PKD.
fn generate_and_use(card: &Card, form: &str, bits: usize, e_in: &[u8]) -> Vec<u8> {
    let key = bytes_out(&pkg(card, &[form], &skeleton(card, bits, e_in)), "PKG");
    let (n, e) = public_parts(&pkx(card, &key));
    assert_eq!(n.len() * 8, bits);
    let hash = digest::digest(&digest::SHA256, b"sizes");
    let sig = bytes_out(&dsg(card, &["PKCS-1.1"], &key, hash.as_ref()), "DSG");
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &spki(&n, &e))
        .verify(b"sizes", &sig)
        .expect("the oracle verifies");
    assert_eq!(dsv(card, &["PKCS-1.1"], &key, hash.as_ref(), &sig), (0, 0));
    let value = [0x42u8; 32];
    for rules in [&["PKCS-1.2"][..], &["PKCSOAEP", "SHA-256"][..]] {
        let ct = bytes_out(&pke(card, rules, &pkx(card, &key), &value), "PKE");
        assert_eq!(bytes_out(&pkd(card, rules, &key, &ct), "PKD"), value);
    }
    e
}

#[test]
fn exponent_three_and_random_generate_and_work() {
    let card = new_card(5);
    load_apka(&card, 0x55);
    assert_eq!(generate_and_use(&card, "MASTER", 2048, &[3]), vec![3]);
    assert_eq!(generate_and_use(&card, "CLEAR", 3072, &[0, 3]), vec![3]);
    // IBM: a null-length exponent, or zero, asks for a random one.
    let mut seen = Vec::new();
    for e_in in [&[][..], &[0][..]] {
        let e = generate_and_use(&card, "MASTER", 2048, e_in);
        assert_eq!(e.len(), 4, "a 32-bit exponent");
        assert!(e[0] & 0x80 != 0 && e[3] & 1 == 1, "odd, top bit set: {e:?}");
        seen.push(e);
    }
    assert_ne!(seen[0], seen[1], "random exponents differ");
    // 65537 is still aws-lc-rs's own generation.
    assert_eq!(
        generate_and_use(&card, "MASTER", 2048, &[1, 0, 1]),
        vec![1, 0, 1]
    );
}

#[test]
fn sizes_and_exponents_outside_what_is_generated_are_refused() {
    let card = new_card(6);
    load_apka(&card, 0x66);
    for bits in [512, 1024, 1536, 2047] {
        for e in [&[1, 0, 1][..], &[3][..], &[][..]] {
            let skel = skeleton(&card, bits, e);
            assert_refused(&pkg(&card, &["MASTER"], &skel), (8, 2), "below 2048 bits");
        }
    }
    for e in [&[5][..], &[1, 0, 3][..], &[1, 0, 0, 1][..]] {
        let skel = skeleton(&card, 2048, e);
        assert_refused(
            &pkg(&card, &["MASTER"], &skel),
            (8, 2),
            "an exponent IBM does not list",
        );
    }
    for e in [&[3][..], &[][..]] {
        let skel = skeleton(&card, 8192, e);
        assert_refused(
            &pkg(&card, &["MASTER"], &skel),
            (8, 2),
            "8192 bits without e = 65537",
        );
    }
}
