//! API tests of RSA key generation beyond aws-lc-rs's own (issue 4): e = 3 and IBM's random
//! exponent, sizes below 2048 bits (RustCrypto `rsa` 0.10 generation and use), and the
//! sizes that stay refused. Expected codes are IBM's values, as literals.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use softcca_card::Card;

mod rsa_support;
use rsa_support::*;

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

/// Generates, checks e, and uses the key: PKCS-1.1 signature (aws-lc-rs verifies from 1024
/// bits, its legacy parameters below 2048), PKCS-PSS, PKE/PKD with PKCS-1.2 and OAEP.
fn generate_and_use(card: &Card, form: &str, bits: usize, e_in: &[u8]) -> Vec<u8> {
    let key = bytes_out(&pkg(card, &[form], &skeleton(card, bits, e_in)), "PKG");
    let (n, e) = public_parts(&pkx(card, &key));
    assert_eq!(n.len(), bits.div_ceil(8));
    assert_eq!(
        n.len() * 8 - n[0].leading_zeros() as usize,
        bits,
        "exactly {bits} bits"
    );
    let hash = digest::digest(&digest::SHA256, b"sizes");
    let sig = bytes_out(&dsg(card, &["PKCS-1.1"], &key, hash.as_ref()), "DSG");
    assert_eq!(sig.len(), bits.div_ceil(8));
    let params = if bits >= 2048 {
        Some(&signature::RSA_PKCS1_2048_8192_SHA256)
    } else if bits >= 1024 {
        Some(&signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY)
    } else {
        None
    };
    if let Some(params) = params {
        UnparsedPublicKey::new(params, &spki(&n, &e))
            .verify(b"sizes", &sig)
            .expect("the oracle verifies");
    }
    assert_eq!(dsv(card, &["PKCS-1.1"], &key, hash.as_ref(), &sig), (0, 0));
    let mut other = sig.clone();
    other[5] ^= 1;
    assert_eq!(
        dsv(card, &["PKCS-1.1"], &key, hash.as_ref(), &other),
        (4, 429)
    );
    let mut pss_in = 20u32.to_be_bytes().to_vec();
    pss_in.extend_from_slice(hash.as_ref());
    let pss = bytes_out(&dsg(card, &["PKCS-PSS"], &key, &pss_in), "DSG PSS");
    assert_eq!(dsv(card, &["PKCS-PSS"], &key, &pss_in, &pss), (0, 0));
    let value = [0x42u8; 16];
    let pads: &[&[&str]] = if bits >= 1024 {
        &[
            &["PKCS-1.2"],
            &["PKCSOAEP", "SHA-1"],
            &["PKCSOAEP", "SHA-256"],
        ]
    } else {
        &[&["PKCS-1.2"], &["PKCSOAEP", "SHA-1"]]
    };
    for rules in pads {
        let ct = bytes_out(&pke(card, rules, &pkx(card, &key), &value), "PKE");
        assert_eq!(ct.len(), bits.div_ceil(8));
        assert_eq!(bytes_out(&pkd(card, rules, &key, &ct), "PKD"), value);
    }
    e
}

#[test]
fn small_sizes_generate_and_work() {
    let card = new_card(7);
    load_apka(&card, 0x77);
    for bits in [512, 1024, 1536] {
        assert_eq!(
            generate_and_use(&card, "MASTER", bits, &[1, 0, 1]),
            vec![1, 0, 1]
        );
        assert_eq!(generate_and_use(&card, "CLEAR", bits, &[3]), vec![3]);
        assert_eq!(generate_and_use(&card, "MASTER", bits, &[]).len(), 4);
    }
    // A modulus that is not a multiple of eight bits.
    generate_and_use(&card, "MASTER", 2047 + 8, &[1, 0, 1]);
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
    for bits in [4104, 6144] {
        let skel = skeleton(&card, bits, &[1, 0, 1]);
        assert_refused(
            &pkg(&card, &["MASTER"], &skel),
            (8, 2),
            "above 4096 bits, not aws-lc-rs's 8192",
        );
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
