//! API tests of RSA key generation beyond aws-lc-rs's own (issue 4): e = 3 and IBM's random
//! exponent (RustCrypto generation, aws-lc-rs use), and the sizes that stay refused (below
//! 2048 bits: aws-lc-rs will not load them). Expected codes are IBM's values, as literals.

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
