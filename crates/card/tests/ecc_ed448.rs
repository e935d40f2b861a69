//! API tests of Ed448 (curve type X'02', 448 bits) through [`Card::execute`]: RFC 8032 §7.4's
//! test vectors (the blank and one-octet messages, written here; OpenSSL 3.0 gives the same
//! public keys and signatures) through CSNDPKB, CSNDPKI, CSNDDSG and CSNDDSV with EDDSA,
//! generated keys, and the refusals, each with IBM's code.

use softcca_wire::Param;

mod ecc_support;
use ecc_support::*;

const ED448: (u8, u16) = (2, 448);

/// (secret key, public key, message, signature) of RFC 8032 §7.4.
const VECTORS: [(&str, &str, &str, &str); 2] = [
    (
        "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
        "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
        "",
        "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4dbb61149f05a7363268c71d95808ff2e652600",
    ),
    (
        "c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463afbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
        "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c0866aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
        "03",
        "26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd0087810f4352541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e0dbcc0aae1cbcee1afb2e027df36bc04dcecbf154336c19f0af7e0a6472905e799f1953d2a0ff3348ab21aa4adafd1d234441cf807c03a00",
    ),
];

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

#[test]
fn rfc8032_vectors_sign_and_verify() {
    let card = new_card(31);
    load_apka(&card, 0x31);
    for (sk, pk, msg, sig) in VECTORS {
        let (d, q, m, s) = (h(sk), h(pk), h(msg), h(sig));
        // The card derives q from d (and checks a given q against d).
        let derived = pkb(&card, &["ECC-PAIR", "SIG-ONLY"], &kvs_pair(ED448, &d, &[]));
        assert_eq!(q_of(&pkx(&card, &derived)), q);
        let clear = pkb(&card, &["ECC-PAIR"], &kvs_pair(ED448, &d, &q));
        let internal = the_bytes(
            &call(
                &card,
                "CSNDPKI",
                &["ECC"],
                vec![b(&clear), b(&[]), Param::Int(8000)],
            ),
            "CSNDPKI",
        );
        for key in [&clear, &internal] {
            assert_eq!(
                signature(&dsg(&card, &["EDDSA"], key, &m)),
                s,
                "RFC 8032 signature"
            );
        }
        let public = pkb(&card, &["ECC-PUBL"], &kvs_publ(ED448, &q));
        assert_eq!(codes(&dsv(&card, &["EDDSA"], &public, &m, &s)), (0, 0));
        let mut bad = s.clone();
        bad[3] ^= 1;
        assert_eq!(codes(&dsv(&card, &["EDDSA"], &public, &m, &bad)), (4, 429));
        assert_eq!(
            codes(&dsv(&card, &["EDDSA"], &public, b"another message", &s)),
            (4, 429)
        );
        assert_refused(
            &dsv(&card, &["EDDSA"], &public, &m, &s[..113]),
            (8, 72),
            "113-byte signature",
        );
    }
}

#[test]
fn generated_ed448_keys_and_refusals() {
    let card = new_card(32);
    load_apka(&card, 0x32);
    let key = generate(&card, ED448, "SIG-ONLY");
    assert_eq!(key[0], 0x1F);
    let public = pkx(&card, &key);
    assert_eq!(q_of(&public).len(), 57);
    let message = vec![0xA5; 1000];
    let s = signature(&dsg(&card, &["EDDSA"], &key, &message));
    assert_eq!(s.len(), 114);
    assert_eq!(
        codes(&dsv(&card, &["EDDSA"], &public, &message, &s)),
        (0, 0)
    );
    // EdDSA is deterministic: the same signature again.
    assert_eq!(signature(&dsg(&card, &["EDDSA"], &key, &message)), s);
    // Keywords: ECDSA, a SHA-512 hash keyword (Ed448 hashes with SHAKE256), no scheme.
    assert_refused(
        &dsg(&card, &["ECDSA"], &key, &message),
        (8, 34),
        "ECDSA with Ed448",
    );
    assert_refused(
        &dsg(&card, &["EDDSA", "SHA-512"], &key, &message),
        (8, 34),
        "SHA-512 with Ed448",
    );
    assert_refused(&dsg(&card, &[], &key, &message), (8, 34), "no scheme");
    // Usage: an Edwards key is SIG-ONLY; it does not agree.
    let kvs = kvs_pair(ED448, &[], &[]);
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR", "KEY-MGMT"], &kvs, &[]),
        (8, 34),
        "KEY-MGMT",
    );
    assert_refused(
        &edh(&card, &["PASSTHRU"], &key, &public),
        (8, 39),
        "EDH with Ed448",
    );
    // Lengths: a d that is not 57 bytes, a q that is not a point.
    assert_refused(
        &pkb_call(&card, &["ECC-PAIR"], &kvs_pair(ED448, &[1; 58], &[]), &[]),
        (8, 72),
        "58-byte d",
    );
    let mut q = q_of(&public);
    q[56] ^= 0x7F;
    let r = pkb_call(&card, &["ECC-PUBL"], &kvs_publ(ED448, &q), &[]);
    // (Flipping bits of the last byte gives an x sign bit and y value that decode to no
    // point, or to another one; either way the card does not take it as this key.)
    if codes(&r) == (0, 0) {
        let other = the_bytes(&r, "ECC-PUBL");
        assert_eq!(
            codes(&dsv(&card, &["EDDSA"], &other, &message, &s)),
            (4, 429)
        );
    } else {
        assert_refused(&r, (8, 72), "q not a point");
    }
    assert_refused(
        &pkb_call(&card, &["ECC-PUBL"], &kvs_publ(ED448, &[0xFF; 57]), &[]),
        (8, 72),
        "q of all ones",
    );
}
