//! API tests of ISO-9796 signatures (CSNDDSG/CSNDDSV with `ISO-9796`, IBM's default
//! formatting keyword) through [`Card::execute`].
//!
//! Known answer: ISO/IEC 9796-1 Annex example 2 (e = 3, a 513-bit modulus, the 32-byte
//! message FEDCBA9876543210 × 4, no pad bits), as reproduced in Bouncy Castle's
//! `ISO9796Test` (`mod1`, `pri1`, `msg2`, `sig2`); the primes below were factored here from
//! that n, e and d (CSNDPKB checks that the CRT parts form the key). Examples 1 and 3 carry 4 pad bits, which the verbs
//! cannot express (IBM: data is whole bytes); they are unit tests of the formatting in
//! `verbs/rsa.rs`. Every other signature is opened here by a message recovery written from
//! the standard's description (not from the card's formatting). Expected codes are IBM's
//! values, as literals.

use std::sync::OnceLock;

use aws_lc_rs::digest;
use softcca_card::Card;
use softcca_wire::Param;

mod rsa_support;
use rsa_support::*;

const N1: &str = "0100000000000000000000000000000000bba2d15dbb303c8a21c5ebbcbae52b7125087920dd7cdf358ea119fd66fb064012ec8ce692f0a0b8e8321b041acd40b7";
const P1: &str = "016046eb39e03beab621d03c08b8ae6b66cff955b64b4f48b7ee152a326bf8cb25";
const Q1: &str = "ba09106c754eb6febbc214799ff1b8de1b4cbb7a7a782b157c1bc15290a1a3ab";
const DP1: &str = "ead9f226957d4724168ad2b07b1ef2448aa639243234db2549637176f2a5dcc3";
const DQ1: &str = "7c060af2f8df24a9d28162fbbff67b3ebcddd251a6fac763a81280e1b5c117c7";
const U1: &str = "057b659c47ffcc8910f8d3a9dee5863de6b64569e2cec11216a8ab1a8da9dd76";
const MSG2: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const SIG2: &str = "319bb9becb49f3ed1bca26d0fcf09b0b0a508e4d0bd43b350f959b72cd25b3af47d608fdcd248eada74fbe19990dbeb9bf0da4b4e1200243a14e5cab3f7e610c";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

/// IBM's RSA-CRT key-value structure (CSNDPKB) of n, e, p, q, dp, dq, U.
fn crt_kvs(n: &[u8], e: &[u8], parts: [&[u8]; 5]) -> Vec<u8> {
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    let mut out = Vec::new();
    out.extend_from_slice(&be16(bits));
    out.extend_from_slice(&be16(n.len()));
    out.extend_from_slice(&be16(e.len()));
    out.extend_from_slice(&be16(0));
    for p in parts {
        out.extend_from_slice(&be16(p.len()));
    }
    out.extend_from_slice(n);
    out.extend_from_slice(e);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// A card with the APKA master key, a 2048-bit internal SIG-ONLY key, a KM-ONLY key and a
/// 1030-bit key (a size where the standard's 2t-byte redundancy string is longer than the
/// modulus).
/// The card and its tokens: 2048-bit SIG-ONLY, 2048-bit KM-ONLY, 1030-bit SIG-ONLY.
type Shared = (Card, Vec<u8>, Vec<u8>, Vec<u8>);

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let card = new_card(96);
        load_apka(&card, 0x96);
        let key = generate(&card, "SIG-ONLY");
        let km = generate(&card, "KM-ONLY");
        let skel = bytes_out(
            &pkb(
                &card,
                &["RSA-AESC", "SIG-ONLY"],
                skeleton_kvs(1030, &[1, 0, 1]),
                vec![],
            ),
            "1030-bit skeleton",
        );
        let odd = bytes_out(&pkg(&card, &["MASTER"], &skel), "PKG 1030");
        (card, key, km, odd)
    })
}

const PI: [u8; 16] = [
    0xe, 0x3, 0x5, 0x8, 0x9, 0x4, 0x2, 0xf, 0x0, 0xd, 0xb, 0x6, 0x7, 0xa, 0xc, 0x1,
];

fn shadow(b: u8) -> u8 {
    (PI[usize::from(b >> 4)] << 4) | PI[usize::from(b & 15)]
}

fn pi_inverse(v: u8) -> u8 {
    PI.iter().position(|&x| x == v).expect("a permutation") as u8
}

/// ISO/IEC 9796-1 signature opening with message recovery: IR' = Σ^e mod n, or n − IR'
/// when that is the one ≡ 6 (mod 16); IR' must have exactly k_s = n_bits − 1 bits; the
/// least significant byte gives back m_1 (its low nibble, the high one through Π⁻¹ of its
/// shadow); walking the byte pairs (shadow, byte) from the right, the first pair whose
/// shadow differs from S(byte) marks the message's most significant byte and its XOR is r
/// (1 here: whole bytes); every complete pair after it is S(b) ‖ b with b repeating the
/// message cyclically. Returns the message, or None.
fn recover(n: &[u8], e: &[u8], n_bits: usize, sig: &[u8]) -> Option<Vec<u8>> {
    if sig.len() != n.len() {
        return None;
    }
    let m = public_op(n, e, sig);
    let mut ir = if m[m.len() - 1] & 15 == 6 {
        m
    } else {
        sub(n, &m)
    };
    let k = ir.len();
    if ir[k - 1] & 15 != 6 {
        return None;
    }
    let lead = ir.iter().position(|&b| b != 0)?;
    if (k - lead) * 8 - ir[lead].leading_zeros() as usize != n_bits - 1 {
        return None;
    }
    ir[k - 1] = (pi_inverse(ir[k - 2] >> 4) << 4) | (ir[k - 1] >> 4);
    // Complete pairs: the 16 bits of pair i lie below bit k_s − 1.
    let pairs = (n_bits - 2) / 16;
    let pair = |i: usize| (ir[k - 2 - 2 * i], ir[k - 1 - 2 * i]);
    let marked = (0..pairs).find(|&i| {
        let (s, b) = pair(i);
        s != shadow(b)
    });
    let z = match marked {
        Some(i) => {
            let (s, b) = pair(i);
            if s ^ shadow(b) != 1 {
                return None;
            }
            i + 1
        }
        // The longest message: its pair is the truncated top one; the bits of its shadow
        // below IR's forced top bit must carry r = 1 (the standard's bound 16z ≤ k_s + 3
        // keeps at least 12 bits of the pair).
        None => {
            let kept = n_bits - 2 - 16 * pairs;
            if kept < 12 {
                return None;
            }
            let (s, b) = pair(pairs);
            let mask = (1u8 << (kept - 8)) - 1;
            if (s ^ shadow(b)) & mask != 1 {
                return None;
            }
            pairs + 1
        }
    };
    let message: Vec<u8> = (0..z).rev().map(|i| pair(i).1).collect();
    for i in z..pairs {
        let (s, b) = pair(i);
        if s != shadow(b) || b != message[z - 1 - i % z] {
            return None;
        }
    }
    Some(message)
}

#[test]
fn annex_example_2_through_the_verbs() {
    let card = new_card(97);
    load_apka(&card, 0x97);
    let (n, p, q) = (h(N1), h(P1), h(Q1));
    // The primes factored from the annex's n, e = 3, d (CSNDPKB checks the parts form a key).
    let kvs = crt_kvs(&n, &[3], [&p, &q, &h(DP1), &h(DQ1), &h(U1)]);
    let x08 = bytes_out(&pkb(&card, &["RSA-CRT"], kvs, vec![]), "RSA-CRT");
    let public = pkx(&card, &x08);
    let internal = bytes_out(
        &call(
            &card,
            "CSNDPKI",
            &[],
            vec![
                Param::Bytes(x08.clone()),
                Param::Bytes(vec![]),
                Param::Int(8000),
            ],
        ),
        "PKI",
    );
    let mut want = vec![0u8];
    want.extend_from_slice(&h(SIG2));
    let msg = h(MSG2);
    for (key, what) in [(&x08, "external X'08'"), (&internal, "imported")] {
        for rules in [
            &[][..],
            &["ISO-9796"][..],
            &["RSA", "ISO-9796", "HASH"][..],
            &["ISO-9796", "SHA-256"][..],
        ] {
            let r = dsg(&card, rules, key, &msg);
            assert_eq!(bytes_out(&r, what), want, "{what} {rules:?}");
            assert_eq!(r.outputs[0], Param::Int(513), "signature_bit_length");
            assert_eq!(dsv(&card, rules, &public, &msg, &want), (0, 0));
        }
    }
    assert_eq!(recover(&n, &[3], 513, &want), Some(msg.clone()));
    // n − Σ opens to the same block (the standard's verifier tries both).
    assert_eq!(dsv(&card, &[], &public, &msg, &sub(&n, &want)), (0, 0));
    let mut other = msg.clone();
    other[31] ^= 1;
    assert_eq!(dsv(&card, &[], &public, &other, &want), (4, 429));
    // 33 bytes exceed half of the 65 modulus bytes (and the standard's 16z ≤ k_s + 3).
    assert_refused(&dsg(&card, &[], &x08, &[7; 33]), (8, 72), "33 of 65");
    assert_eq!(codes(&dsg(&card, &[], &x08, &[7; 32])), (0, 0));
}

#[test]
fn round_trips_with_every_length_and_method() {
    let (card, key, _, odd) = shared();
    for (token, bits) in [(key, 2048usize), (odd, 1030)] {
        let public = pkx(card, token);
        let (n, e) = public_parts(&public);
        let k = n.len();
        let longest = (k / 2).min((bits + 2) / 16);
        for len in [1, 2, 16, 20, 28, 32, 48, 64, longest] {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let sig = bytes_out(&dsg(card, &[], token, &data), "sign");
            assert_eq!(sig.len(), k);
            assert!(
                sig < sub(&n, &sig),
                "{bits}/{len}: the smaller of s and n − s"
            );
            assert_eq!(
                recover(&n, &e, bits, &sig),
                Some(data.clone()),
                "{bits}/{len}"
            );
            assert_eq!(dsv(card, &["ISO-9796"], &public, &data, &sig), (0, 0));
            // Deterministic: the same data, the same signature.
            assert_eq!(
                bytes_out(&dsg(card, &["ISO-9796"], token, &data), "again"),
                sig
            );
        }
        for (method, alg) in [
            ("SHA-1", &digest::SHA1_FOR_LEGACY_USE_ONLY),
            ("SHA-224", &digest::SHA224),
            ("SHA-256", &digest::SHA256),
            ("SHA-384", &digest::SHA384),
            ("SHA-512", &digest::SHA512),
        ] {
            let message = b"ISO/IEC 9796-1 through CSNDDSG";
            let hash = digest::digest(alg, message);
            let rules = ["ISO-9796", "MESSAGE", method];
            let sig = bytes_out(&dsg(card, &rules, token, message), method);
            assert_eq!(recover(&n, &e, bits, &sig).as_deref(), Some(hash.as_ref()));
            assert_eq!(dsv(card, &rules, &public, message, &sig), (0, 0));
            assert_eq!(dsv(card, &[], &public, hash.as_ref(), &sig), (0, 0));
            assert_eq!(
                dsv(
                    card,
                    &["ISO-9796", "HASH", method],
                    token,
                    hash.as_ref(),
                    &sig
                ),
                (0, 0),
                "the private token verifies too"
            );
        }
    }
}

#[test]
fn refusals_carry_ibms_codes() {
    let (card, key, km, _) = shared();
    let public = pkx(card, key);
    let (n, _) = public_parts(&public);
    let hash = [0x42u8; 32];
    let sig = bytes_out(&dsg(card, &[], key, &hash), "sign");

    // Lengths: at most half the 256 modulus bytes; nothing is not a hash.
    assert_eq!(codes(&dsg(card, &[], key, &[1; 128])), (0, 0));
    assert_refused(&dsg(card, &[], key, &[1; 129]), (8, 72), "129 of 256");
    assert_refused(&dsg(card, &["ISO-9796"], key, &[]), (8, 72), "empty");
    assert_eq!(dsv(card, &[], &public, &[1; 129], &sig), (8, 72));
    assert_eq!(dsv(card, &[], &public, &[], &sig), (8, 72));
    assert_refused(
        &dsg(card, &["ISO-9796", "SHA-256"], key, &[1; 20]),
        (8, 72),
        "hash length against the method",
    );
    assert_refused(
        &dsg(card, &["ISO-9796", "HASH", "SHA-1"], key, &hash),
        (8, 72),
        "method against the hash length",
    );
    let short = call(
        card,
        "CSNDDSG",
        &[],
        vec![
            Param::Bytes(key.clone()),
            Param::Bytes(hash.to_vec()),
            Param::Int(255),
        ],
    );
    assert_refused(&short, (8, 72), "signature field shorter than the modulus");

    // Rule arrays.
    assert_refused(
        &dsg(card, &["ISO-9796", "X9.31"], key, &hash),
        (8, 34),
        "two formats",
    );
    assert_refused(&dsg(card, &["ISO-9797"], key, &hash), (8, 33), "unknown");
    assert_refused(
        &dsg(card, &["ISO-9796", "MESSAGE"], key, &hash),
        (8, 34),
        "MESSAGE without a hash method",
    );

    // Keys.
    assert_refused(&dsg(card, &[], km, &hash), (8, 39), "KM-ONLY");
    assert_refused(&dsg(card, &[], &public, &hash), (8, 47), "public token");
    let mut bad = key.clone();
    bad[0] = 0x1D;
    assert_refused(&dsg(card, &[], &bad, &hash), (8, 770), "not a PKA token");
    let mut bad = key.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_refused(
        &dsg(card, &[], &bad, &hash),
        (8, 770),
        "the token's last byte",
    );

    // Signatures that do not verify.
    let mut flipped = sig.clone();
    flipped[100] ^= 1;
    assert_eq!(dsv(card, &[], &public, &hash, &flipped), (4, 429));
    assert_eq!(dsv(card, &[], &public, &[0x43; 32], &sig), (4, 429));
    assert_eq!(dsv(card, &[], &public, &hash[..31], &sig), (4, 429));
    assert_eq!(dsv(card, &[], &public, &hash, &sig[1..]), (4, 429));
    assert_eq!(dsv(card, &[], &public, &hash, &n), (4, 429), "Σ = n");
    let other = pkx(card, km);
    assert_eq!(dsv(card, &[], &other, &hash, &sig), (4, 429), "another key");
    // Another format's signature of the same hash.
    let x931 = bytes_out(&dsg(card, &["X9.31"], key, &hash), "X9.31");
    assert_eq!(dsv(card, &[], &public, &hash, &x931), (4, 429));
    assert_eq!(dsv(card, &["X9.31"], &public, &hash, &sig), (4, 429));
}
