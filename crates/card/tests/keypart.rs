//! API tests of Key_Part_Import (CSNBKPI), Key_Test (CSNBKYT), Key_Test_Extended (CSNBKYTX)
//! and Key_Token_Change (CSNBKTC) through [`Card::execute`]. Master keys come from known
//! parts, so the tests build their own tokens and decipher the card's. Expected codes are
//! IBM's values, written as literals.

mod support;

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use softcca_card::mk::{Class, verification_pattern};
use softcca_card::tokens::aes::{AesToken, InternalAes};
use softcca_card::tokens::des::{DesFields, DesToken, ExternalDes, FLAG_KEY_PRESENT, WrapMethod};
use softcca_card::tokens::{KeyLength, cv, wrap};
use softcca_wire::Param;
use support::*;

const NULL: [u8; 64] = [0; 64];

// ---------------------------------------------------------------- Key_Part_Import

#[test]
fn first_add_part_complete_builds_the_xor_of_the_parts() {
    let card = new_card(1);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let p1 = with_odd_parity(pattern(1, 16));
    let p2 = with_even_parity(pattern(2, 16));
    let p3 = with_even_parity(pattern(3, 16));

    let r = kpi(&card, "FIRST", &p1, &skeleton("MAC", KeyLength::Double));
    assert_eq!(codes(&r), (0, 0));
    let t = token_of(&r);
    let parsed = internal_des(&t);
    assert_eq!(parsed.fields.flags & FLAG_KEY_PRESENT, FLAG_KEY_PRESENT);
    assert!(cv::is_key_part(&parsed.fields.cv_left));
    assert!(cv::is_key_part(&parsed.fields.cv_right));
    assert_eq!(clear_of(&mk, &t), p1);

    let r = kpi(&card, "ADD-PART", &p2, &t);
    assert_eq!(codes(&r), (0, 0));
    let t = token_of(&r);
    assert!(cv::is_key_part(&internal_des(&t).fields.cv_left));
    assert_eq!(clear_of(&mk, &t), xor(&p1, &p2));

    let r = kpi(&card, "ADD-PART", &p3, &t);
    let t = token_of(&r);
    let expected = xor(&xor(&p1, &p2), &p3);
    assert_eq!(clear_of(&mk, &t), expected);
    // Key_Test works on the partial key, as IBM says.
    assert_eq!(enc_zero(&card, "KEY-ENCD", &t), enc_zero_clear(&expected));

    // COMPLETE ignores the key_part field (here empty) and clears the key-part bit.
    let r = kpi(&card, "COMPLETE", &[], &t);
    assert_eq!(codes(&r), (0, 0));
    let t = token_of(&r);
    let parsed = internal_des(&t);
    assert_eq!(
        (parsed.fields.cv_left, parsed.fields.cv_right),
        cv::default_cv("MAC", KeyLength::Double).expect("MAC"),
        "the default MAC CV, even parity kept"
    );
    assert_eq!(clear_of(&mk, &t), expected);
    assert_eq!(enc_zero(&card, "KEY-ENCD", &t), enc_zero_clear(&expected));
}

#[test]
fn first_middle_last_for_single_and_triple_keys() {
    let card = new_card(2);
    let mk = set_master_key(&card, "SYM-MK", 31);
    for (length, key_type) in [(KeyLength::Single, "DATA"), (KeyLength::Triple, "EXPORTER")] {
        let n = length.bytes();
        let p1 = with_odd_parity(pattern(4, n));
        let p2 = with_even_parity(pattern(5, n));
        let p3 = with_even_parity(pattern(6, n));
        // An 8-byte key's part may come in a 16-byte field (CCA254: high-order bytes).
        let field = |p: &[u8]| {
            let mut f = p.to_vec();
            if n == 8 {
                f.extend_from_slice(&[0xEE; 8]);
            }
            f
        };
        let t = token_of(&kpi(
            &card,
            "FIRST",
            &field(&p1),
            &skeleton(key_type, length),
        ));
        let t = token_of(&kpi(&card, "MIDDLE", &field(&p2), &t));
        let r = kpi(&card, "LAST", &field(&p3), &t);
        assert_eq!(codes(&r), (0, 0), "{key_type}");
        let t = token_of(&r);
        let parsed = internal_des(&t);
        assert_eq!(
            (parsed.fields.cv_left, parsed.fields.cv_right),
            cv::default_cv(key_type, length).expect("cv"),
        );
        assert_eq!(clear_of(&mk, &t), xor(&xor(&p1, &p2), &p3), "{key_type}");
    }
}

#[test]
fn parity_is_not_adjusted_but_reported() {
    let card = new_card(3);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let mut p1 = with_odd_parity(pattern(7, 16));
    p1[5] ^= 1;
    let r = kpi(&card, "FIRST", &p1, &skeleton("DATA", KeyLength::Double));
    assert_eq!(codes(&r), (0, 2));
    let t = token_of(&r);
    assert_eq!(clear_of(&mk, &t), p1);
    // A part that restores odd parity: 0/0.
    let mut p2 = vec![0u8; 16];
    p2[5] = 1;
    let r = kpi(&card, "ADD-PART", &p2, &t);
    assert_eq!(codes(&r), (0, 0));
    // An odd-parity byte in an ADD-PART part spoils it again.
    let mut p3 = vec![0u8; 16];
    p3[0] = 0x80;
    let t = token_of(&r);
    assert_eq!(codes(&kpi(&card, "ADD-PART", &p3, &t)), (0, 2));
}

#[test]
fn first_ignores_a_partial_key_already_in_the_token() {
    let card = new_card(4);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let p1 = with_odd_parity(pattern(8, 16));
    let p2 = with_odd_parity(pattern(9, 16));
    let t = token_of(&kpi(
        &card,
        "FIRST",
        &p1,
        &skeleton("DATA", KeyLength::Double),
    ));
    let t = token_of(&kpi(&card, "FIRST", &p2, &t));
    assert_eq!(
        clear_of(&mk, &t),
        p2,
        "CCA254: FIRST ignores the key in the token"
    );
}

#[test]
fn a_part_added_after_a_master_key_change() {
    let card = new_card(5);
    let mk1 = set_master_key(&card, "SYM-MK", 31);
    let p1 = with_odd_parity(pattern(10, 16));
    let p2 = with_even_parity(pattern(11, 16));
    let t = token_of(&kpi(
        &card,
        "FIRST",
        &p1,
        &skeleton("DATA", KeyLength::Double),
    ));
    assert_eq!(clear_of(&mk1, &t), p1);
    let mk2 = set_master_key(&card, "SYM-MK", 51);
    let r = kpi(&card, "ADD-PART", &p2, &t);
    assert_eq!(codes(&r), (0, 10001), "deciphered under OLD");
    let t = token_of(&r);
    assert_eq!(
        internal_des(&t).mkvp,
        verification_pattern(Class::Sym, &mk2)
    );
    assert_eq!(clear_of(&mk2, &t), xor(&p1, &p2));
}

#[test]
fn key_part_import_refusals() {
    let card = new_card(6);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let part = with_odd_parity(pattern(12, 16));
    let skel = skeleton("DATA", KeyLength::Double);
    let partial = token_of(&kpi(&card, "FIRST", &part, &skel));
    let complete = des_token(&mk, &part, cv_of("DATA", KeyLength::Double, false));
    let two = |rules: &[&str], part: &[u8], t: &[u8]| {
        call(
            &card,
            "CSNBKPI",
            rules,
            vec![Param::Bytes(part.to_vec()), Param::Bytes(t.to_vec())],
        )
    };

    // Rule array.
    assert_refused(&two(&[], &part, &skel), (8, 35), "no keyword");
    assert_refused(
        &two(&["FIRST", "WRAP-ECB", "WRAP-ECB"], &part, &skel),
        (8, 35),
        "three keywords",
    );
    assert_refused(&two(&["SECOND"], &part, &skel), (8, 33), "unknown");
    assert_refused(
        &two(&["FIRST", "LAST"], &part, &skel),
        (8, 34),
        "two processes",
    );
    assert_refused(&two(&["WRAP-ECB"], &part, &skel), (8, 34), "no process");
    assert_refused(
        &two(&["FIRST", "WRAP-ENH"], &part, &skel),
        (8, 2),
        "WRAP-ENH",
    );
    assert_eq!(codes(&two(&["FIRST", "WRAP-ECB"], &part, &skel)), (0, 0));

    // The control vector must carry the key-part bit.
    assert_refused(
        &kpi(&card, "FIRST", &part, &complete),
        (8, 39),
        "FIRST, no KP bit",
    );
    assert_refused(
        &kpi(&card, "ADD-PART", &part, &complete),
        (8, 39),
        "ADD, no KP bit",
    );
    assert_refused(
        &kpi(&card, "COMPLETE", &[], &complete),
        (8, 39),
        "COMPLETE twice",
    );
    let zero_cv = des_token(&mk, &part, ([0; 8], [0; 8]));
    assert_refused(&kpi(&card, "FIRST", &part, &zero_cv), (8, 39), "zero CV");

    // Parts after FIRST need a key in the token.
    for p in ["MIDDLE", "ADD-PART", "LAST", "COMPLETE"] {
        assert_refused(&kpi(&card, p, &part, &skel), (8, 47), p);
    }
    // Wrong tokens.
    assert_refused(&kpi(&card, "FIRST", &part, &NULL), (8, 47), "null token");
    let ext = DesToken::External(ExternalDes {
        fields: internal_des(&partial).fields,
    })
    .to_bytes();
    assert_refused(&kpi(&card, "ADD-PART", &part, &ext), (8, 47), "external");
    assert_refused(&kpi(&card, "FIRST", &part, &[b'A'; 64]), (8, 47), "label");
    assert_refused(
        &kpi(&card, "FIRST", &part, &partial[..63]),
        (8, 43),
        "63 bytes",
    );
    let mut bad = partial.clone();
    bad[63] ^= 1;
    assert_refused(&kpi(&card, "ADD-PART", &part, &bad), (8, 29), "TVV");
    let mut bad = partial.clone();
    bad[4] = 3;
    reseal(&mut bad);
    assert_refused(&kpi(&card, "ADD-PART", &part, &bad), (8, 49), "version");
    let mut bad = partial.clone();
    bad[7] = 0x01;
    reseal(&mut bad);
    assert_refused(&kpi(&card, "ADD-PART", &part, &bad), (8, 47), "flag byte 2");
    let mut bad = partial.clone();
    bad[9] ^= 0x10;
    reseal(&mut bad);
    assert_refused(
        &kpi(&card, "ADD-PART", &part, &bad),
        (8, 24),
        "MKVP unknown",
    );

    // Lengths.
    assert_refused(
        &kpi(&card, "FIRST", &part[..8], &skel),
        (8, 72),
        "short part",
    );
    assert_refused(&kpi(&card, "FIRST", &[0; 12], &skel), (8, 72), "12 bytes");
    assert_refused(
        &kpi(&card, "COMPLETE", &[0; 25], &partial),
        (8, 72),
        "25 bytes",
    );
    assert_refused(
        &call(
            &card,
            "CSNBKPI",
            &["FIRST"],
            vec![Param::Bytes(part.clone())],
        ),
        (8, 72),
        "one parameter",
    );
    assert_refused(
        &call(
            &card,
            "CSNBKPI",
            &["FIRST"],
            vec![Param::Int(16), Param::Bytes(skel.clone())],
        ),
        (8, 72),
        "an integer for the part",
    );
}

#[test]
fn replicated_halves_are_refused_when_the_key_completes() {
    let card = new_card(7);
    set_master_key(&card, "SYM-MK", 31);
    let half = with_odd_parity(pattern(13, 8));
    let replicated = [half.clone(), half.clone()].concat();
    let t = token_of(&kpi(
        &card,
        "FIRST",
        &replicated,
        &skeleton("DATA", KeyLength::Double),
    ));
    // Still partial: allowed.
    assert_refused(&kpi(&card, "COMPLETE", &[], &t), (8, 39), "COMPLETE");
    assert_refused(
        &kpi(&card, "LAST", &[0; 16], &t),
        (8, 39),
        "LAST with a zero part",
    );
    // Parity bits do not count.
    let mut p = vec![0u8; 16];
    p[15] = 1;
    assert_refused(
        &kpi(&card, "LAST", &p, &t),
        (8, 39),
        "halves equal but for parity",
    );
    p[14] = 2;
    assert_eq!(kpi(&card, "LAST", &p, &t).return_code, 0);
}

// ---------------------------------------------------------------- Key_Test

fn kyt(
    card: &softcca_card::Card,
    rules: &[&str],
    id: &[u8],
    v1: &[u8],
    v2: &[u8],
) -> softcca_wire::VerbResponse {
    call(
        card,
        "CSNBKYT",
        rules,
        vec![
            Param::Bytes(id.to_vec()),
            Param::Bytes(v1.to_vec()),
            Param::Bytes(v2.to_vec()),
        ],
    )
}

fn two_outputs(r: &softcca_wire::VerbResponse) -> (Vec<u8>, Vec<u8>) {
    match r.outputs.as_slice() {
        [Param::Bytes(a), Param::Bytes(b)] => (a.clone(), b.clone()),
        other => panic!("two outputs expected, got {other:?} {:?}", codes(r)),
    }
}

#[test]
fn enc_zero_known_answer_clear_and_enciphered() {
    let card = new_card(8);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let k = hex::decode("0123456789ABCDEF").expect("hex");
    // DES_K(0) = D5D44FF720683D0D.
    let r = kyt(
        &card,
        &["GENERATE", "KEY-CLR", "ENC-ZERO"],
        &k,
        &[0; 8],
        &[0; 8],
    );
    assert_eq!(codes(&r), (0, 0));
    let (v1, v2) = two_outputs(&r);
    assert_eq!(v1, vec![0; 8]);
    assert_eq!(hex::encode(&v2), "d5d44ff700000000");
    let token = des_token(&mk, &k, cv_of("DATA", KeyLength::Single, false));
    let r = kyt(
        &card,
        &["GENERATE", "KEY-ENC", "ENC-ZERO"],
        &token,
        &[0; 8],
        &[0; 8],
    );
    assert_eq!(two_outputs(&r).1, v2);
    // VERIFY compares the high-order four bytes only.
    let mut vp = v2.clone();
    vp[6] = 0x99;
    assert_refused(
        &kyt(
            &card,
            &["VERIFY", "KEY-ENC", "ENC-ZERO"],
            &token,
            &[0; 8],
            &vp,
        ),
        (0, 0),
        "verified",
    );
    vp[0] ^= 1;
    assert_refused(
        &kyt(
            &card,
            &["VERIFY", "KEY-ENC", "ENC-ZERO"],
            &token,
            &[0; 8],
            &vp,
        ),
        (4, 1),
        "not verified",
    );
    // Double and triple clear keys.
    let kk = hex::decode("0123456789ABCDEFFEDCBA9876543210").expect("hex");
    let r = kyt(
        &card,
        &["GENERATE", "KEY-CLRD", "ENC-ZERO"],
        &kk,
        &[0; 8],
        &[0; 8],
    );
    assert_eq!(two_outputs(&r).1[..4], enc_zero_clear(&kk)[..]);
    let kkk = [kk.clone(), k.clone()].concat();
    let r = kyt(
        &card,
        &["GENERATE", "KEY-CLRT", "ENC-ZERO"],
        &kkk,
        &[0; 8],
        &[0; 8],
    );
    assert_eq!(two_outputs(&r).1[..4], enc_zero_clear(&kkk)[..]);
    // ADJUST: a key with a parity-less byte tests as its odd-parity twin.
    let mut even = k.clone();
    even[0] ^= 1;
    let r = kyt(
        &card,
        &["GENERATE", "KEY-CLR", "ENC-ZERO", "ADJUST"],
        &even,
        &[0; 8],
        &[0; 8],
    );
    assert_eq!(two_outputs(&r).1, v2);
}

/// IBM's DES key-verification algorithm, computed here by hand.
fn ibm_pattern(key: &[u8], rn: &[u8]) -> Vec<u8> {
    let e = |k: &[u8], b: &[u8]| {
        let mut x = GenericArray::clone_from_slice(b);
        des::Des::new(GenericArray::from_slice(k)).encrypt_block(&mut x);
        x.to_vec()
    };
    let kkr = if key.len() == 16 {
        &key[8..]
    } else {
        &[0u8; 8][..]
    };
    let kkr1 = xor(kkr, rn);
    let k2 = xor(&e(&[0x45; 8], &key[..8]), &key[..8]);
    xor(&e(&k2, &kkr1), &kkr1)
}

#[test]
fn default_method_generate_and_verify() {
    let card = new_card(9);
    let mk = set_master_key(&card, "SYM-MK", 31);
    for key in [
        with_odd_parity(pattern(14, 8)),
        with_odd_parity(pattern(15, 16)),
    ] {
        let rule = if key.len() == 8 {
            "KEY-ENC"
        } else {
            "KEY-ENCD"
        };
        let length = if key.len() == 8 {
            KeyLength::Single
        } else {
            KeyLength::Double
        };
        let token = des_token(&mk, &key, cv_of("MAC", length, false));
        let r = kyt(&card, &["GENERATE", rule], &token, &[0; 8], &[0; 8]);
        assert_eq!(codes(&r), (0, 0));
        let (rn, vp) = two_outputs(&r);
        assert_ne!(rn, vec![0; 8], "a random number from the DRBG");
        assert_eq!(vp, ibm_pattern(&key, &rn));
        let r = kyt(&card, &["VERIFY", rule], &token, &rn, &vp);
        assert_refused(&r, (0, 0), "verified");
        let clear_rule = if key.len() == 8 {
            "KEY-CLR"
        } else {
            "KEY-CLRD"
        };
        assert_refused(
            &kyt(&card, &["VERIFY", clear_rule], &key, &rn, &vp),
            (0, 0),
            "clear",
        );
        let mut bad = vp.clone();
        bad[7] ^= 1;
        assert_refused(
            &kyt(&card, &["VERIFY", rule], &token, &rn, &bad),
            (4, 1),
            "bad VP",
        );
        let mut bad_rn = rn.clone();
        bad_rn[0] ^= 1;
        assert_refused(
            &kyt(&card, &["VERIFY", rule], &token, &bad_rn, &vp),
            (4, 1),
            "bad RN",
        );
    }
}

#[test]
fn key_test_codes() {
    let card = new_card(10);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let key = with_odd_parity(pattern(16, 16));
    let token = des_token(&mk, &key, cv_of("DATA", KeyLength::Double, false));
    let z = [0u8; 8];
    // Length mismatch: 4/195, computed on the named length.
    let r = kyt(&card, &["GENERATE", "KEY-ENC", "ENC-ZERO"], &token, &z, &z);
    assert_eq!(codes(&r), (4, 195));
    assert_eq!(two_outputs(&r).1[..4], enc_zero_clear(&key[..8])[..]);
    // Old master key: 0/10001.
    set_master_key(&card, "SYM-MK", 51);
    let r = kyt(&card, &["GENERATE", "KEY-ENCD", "ENC-ZERO"], &token, &z, &z);
    assert_eq!(codes(&r), (0, 10001));
    assert_eq!(two_outputs(&r).1[..4], enc_zero_clear(&key)[..]);
    let foreign = des_token(
        &softcca_card::mk::MasterKey::from_bytes(&pattern(99, 24)),
        &key,
        cv_of("DATA", KeyLength::Double, false),
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-ENCD"], &foreign, &z, &z),
        (8, 24),
        "MKVP",
    );

    // Rule arrays.
    assert_refused(
        &kyt(&card, &["GENERATE"], &token, &z, &z),
        (8, 35),
        "one keyword",
    );
    assert_refused(
        &kyt(
            &card,
            &["GENERATE", "KEY-ENCD", "ENC-ZERO", "ADJUST", "SYM-MK", "X"],
            &token,
            &z,
            &z,
        ),
        (8, 35),
        "six keywords",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-XYZ"], &token, &z, &z),
        (8, 33),
        "unknown",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "VERIFY", "KEY-ENC"], &token, &z, &z),
        (8, 34),
        "both",
    );
    assert_refused(
        &kyt(&card, &["KEY-ENC", "ENC-ZERO"], &token, &z, &z),
        (8, 34),
        "no process",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-ENCD", "MDC-4"], &token, &z, &z),
        (8, 34),
        "MDC-4",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-ENCD", "SYM-MK"], &token, &z, &z),
        (8, 34),
        "selector",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-CLRT"], &[0; 24], &z, &z),
        (8, 34),
        "triple default",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-ENCD", "MDC-4"], &token, &z, &z),
        (8, 34),
        "MDC-4 with a DES key",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "TOKEN"], &NULL, &z, &z),
        (8, 2),
        "AES",
    );
    // Lengths and tokens.
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-ENCD"], &token, &z[..7], &z),
        (8, 72),
        "value_1",
    );
    assert_refused(
        &kyt(&card, &["VERIFY", "KEY-ENCD"], &token, &z, &[0; 9]),
        (8, 72),
        "value_2",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-CLRD"], &key[..8], &z, &z),
        (8, 72),
        "short clear",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-ENCD"], &token[..60], &z, &z),
        (8, 43),
        "60 bytes",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-ENCD"], &NULL, &z, &z),
        (8, 47),
        "null token",
    );
    let mut bad = token.clone();
    bad[40] ^= 0x02;
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-ENCD"], &bad, &z, &z),
        (8, 29),
        "TVV",
    );
    assert_refused(
        &call(
            &card,
            "CSNBKYT",
            &["GENERATE", "KEY-ENCD"],
            vec![Param::Bytes(token.clone())],
        ),
        (8, 72),
        "one parameter",
    );
}

// ---------------------------------------------------------------- Key_Test_Extended

/// An external token of `clear` under `kek` (double length) with `cvs`, built by hand:
/// each part TDES-EDE under KEK_L ⊕ CV, KEK_R ⊕ CV, KEK_L ⊕ CV.
fn external_token(kek: &[u8], clear: &[u8], cvs: ([u8; 8], [u8; 8]), length: KeyLength) -> Vec<u8> {
    let mut key = [0u8; 24];
    for (i, chunk) in clear.chunks_exact(8).enumerate() {
        let cvh = if i == 0 { cvs.0 } else { cvs.1 };
        let k: Vec<u8> = [&kek[..8], &kek[8..16], &kek[..8]]
            .concat()
            .iter()
            .enumerate()
            .map(|(j, b)| b ^ cvh[j % 8])
            .collect();
        let mut b = GenericArray::clone_from_slice(chunk);
        des::TdesEde3::new(GenericArray::from_slice(&k)).encrypt_block(&mut b);
        key[8 * i..8 * i + 8].copy_from_slice(&b);
    }
    DesToken::External(ExternalDes {
        fields: DesFields {
            flags: FLAG_KEY_PRESENT,
            wrap_method: WrapMethod::Ecb,
            key,
            cv_left: cvs.0,
            cv_right: cvs.1,
            length,
        },
    })
    .to_bytes()
    .to_vec()
}

fn kytx(
    card: &softcca_card::Card,
    rules: &[&str],
    id: &[u8],
    kek: &[u8],
) -> softcca_wire::VerbResponse {
    call(
        card,
        "CSNBKYTX",
        rules,
        vec![
            Param::Bytes(id.to_vec()),
            Param::Bytes(vec![0; 8]),
            Param::Bytes(vec![0; 8]),
            Param::Bytes(kek.to_vec()),
        ],
    )
}

#[test]
fn key_test_extended_on_internal_and_external_keys() {
    let card = new_card(11);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let kek_clear = with_odd_parity(pattern(17, 16));
    let kek = des_token(&mk, &kek_clear, cv_of("EXPORTER", KeyLength::Double, false));
    let key = with_odd_parity(pattern(18, 16));
    let cvs = cv_of("CIPHER", KeyLength::Double, false);
    let ext = external_token(&kek_clear, &key, cvs, KeyLength::Double);
    let r = kytx(&card, &["GENERATE", "KEY-ENCD", "ENC-ZERO"], &ext, &kek);
    assert_eq!(codes(&r), (0, 0));
    assert_eq!(two_outputs(&r).1[..4], enc_zero_clear(&key)[..]);
    // An internal token: the KEK parameter is not used.
    let int = des_token(&mk, &key, cvs);
    let r = kytx(&card, &["GENERATE", "KEY-ENCD", "ENC-ZERO"], &int, &NULL);
    assert_eq!(two_outputs(&r).1[..4], enc_zero_clear(&key)[..]);
    // The default method through KYTX, verified through KYT.
    let r = kytx(&card, &["GENERATE", "KEY-ENCD"], &ext, &kek);
    let (rn, vp) = two_outputs(&r);
    assert_refused(
        &kyt(&card, &["VERIFY", "KEY-ENCD"], &int, &rn, &vp),
        (0, 0),
        "same key",
    );

    // Refusals.
    assert_refused(
        &kytx(&card, &["GENERATE", "KEY-CLR"], &key, &kek),
        (8, 33),
        "clear key",
    );
    assert_refused(
        &kytx(&card, &["GENERATE", "CLR-A128"], &key, &kek),
        (8, 33),
        "clear AES",
    );
    let not_kek = des_token(&mk, &kek_clear, cv_of("MAC", KeyLength::Double, false));
    assert_refused(
        &kytx(&card, &["GENERATE", "KEY-ENCD"], &ext, &not_kek),
        (8, 39),
        "MAC as KEK",
    );
    let partial_kek = des_token(&mk, &kek_clear, cv_of("IMPORTER", KeyLength::Double, true));
    assert_refused(
        &kytx(&card, &["GENERATE", "KEY-ENCD"], &ext, &partial_kek),
        (8, 39),
        "partial KEK",
    );
    assert_refused(
        &kytx(&card, &["GENERATE", "KEY-ENCD"], &ext, &NULL),
        (8, 47),
        "no KEK",
    );
    let mut bad = ext.clone();
    bad[63] ^= 1;
    assert_refused(
        &kytx(&card, &["GENERATE", "KEY-ENCD"], &bad, &kek),
        (8, 12),
        "external TVV",
    );
    assert_refused(
        &call(
            &card,
            "CSNBKYTX",
            &["GENERATE", "KEY-ENCD"],
            vec![Param::Bytes(ext.clone())],
        ),
        (8, 72),
        "one parameter",
    );
    // A wrong KEK gives another key, not an error (WRAP-ECB has no integrity check).
    let other_kek = des_token(
        &mk,
        &with_odd_parity(pattern(19, 16)),
        cv_of("IMPORTER", KeyLength::Double, false),
    );
    let r = kytx(
        &card,
        &["GENERATE", "KEY-ENCD", "ENC-ZERO"],
        &ext,
        &other_kek,
    );
    assert_ne!(two_outputs(&r).1[..4], enc_zero_clear(&key)[..]);
}

// ---------------------------------------------------------------- Key_Token_Change

fn ktc(card: &softcca_card::Card, rules: &[&str], token: &[u8]) -> softcca_wire::VerbResponse {
    call(card, "CSNBKTC", rules, vec![Param::Bytes(token.to_vec())])
}

#[test]
fn rtcmk_moves_des_and_aes_tokens_from_old_to_current() {
    let card = new_card(12);
    let mk1 = set_master_key(&card, "SYM-MK", 31);
    let amk1 = set_master_key(&card, "AES-MK", 41);
    let key = with_odd_parity(pattern(20, 16));
    let des_old = des_token(&mk1, &key, cv_of("MAC", KeyLength::Double, false));
    let partial_old = des_token(&mk1, &key, cv_of("DATA", KeyLength::Double, true));
    let aes_key = pattern(21, 32);
    let aes_old = AesToken::Internal(wrap::wrap_aes(&amk1, &aes_key).expect("wraps")).to_bytes();

    // Already current: 0/0 and the same token.
    let r = ktc(&card, &["RTCMK"], &des_old);
    assert_eq!((codes(&r), token_of(&r)), ((0, 0), des_old.clone()));
    let r = ktc(&card, &["RTCMK"], &aes_old);
    assert_eq!((codes(&r), token_of(&r)), ((0, 0), aes_old.to_vec()));

    let mk2 = set_master_key(&card, "SYM-MK", 51);
    let amk2 = set_master_key(&card, "AES-MK", 61);
    for (t, what) in [(&des_old, "DES"), (&partial_old, "partial")] {
        let r = ktc(&card, &["RTCMK"], t);
        assert_eq!(codes(&r), (0, 0), "{what}");
        let new = token_of(&r);
        let parsed = internal_des(&new);
        assert_eq!(
            parsed.mkvp,
            verification_pattern(Class::Sym, &mk2),
            "{what}"
        );
        assert_eq!(parsed.fields.cv_left, internal_des(t).fields.cv_left);
        assert_eq!(parsed.fields.flags, internal_des(t).fields.flags);
        assert_eq!(clear_of(&mk2, &new), key, "{what}");
    }
    for rules in [
        &["RTCMK"][..],
        &["RTCMK", "AES"][..],
        &["AES", "RTCMK", "USECONFG"][..],
    ] {
        let r = ktc(&card, rules, &aes_old);
        assert_eq!(codes(&r), (0, 0));
        let AesToken::Internal(t) = AesToken::parse(&token_of(&r)).expect("parses") else {
            panic!("internal AES token expected");
        };
        let (k, _) = wrap::unwrap_aes(&t, Some(&amk2), None).expect("under the new AES MK");
        assert_eq!(k.expose(), aes_key.as_slice());
    }
    // A clear AES token has nothing to re-encipher.
    let clear_aes = AesToken::Internal(InternalAes::clear(&aes_key).expect("clear")).to_bytes();
    let r = ktc(&card, &["RTCMK"], &clear_aes);
    assert_eq!((codes(&r), token_of(&r)), ((0, 0), clear_aes.to_vec()));

    // A third SET: the first tokens' master key is gone.
    set_master_key(&card, "SYM-MK", 71);
    assert_refused(&ktc(&card, &["RTCMK"], &des_old), (8, 24), "MKVP unknown");
}

#[test]
fn rtnmk_enciphers_under_a_full_new_register() {
    let card = new_card(13);
    let mk1 = set_master_key(&card, "SYM-MK", 31);
    let key = with_odd_parity(pattern(22, 8));
    let t = des_token(&mk1, &key, cv_of("DATA", KeyLength::Single, false));
    assert_refused(&ktc(&card, &["RTNMK"], &t), (8, 34), "NEW empty");
    mkp(&card, "SYM-MK", "FIRST", &with_odd_parity(pattern(80, 24)));
    assert_refused(&ktc(&card, &["RTNMK"], &t), (8, 34), "NEW partial");
    mkp(&card, "SYM-MK", "CLEAR", &[]);
    let nmk = load_new(&card, "SYM-MK", 81);
    let r = ktc(&card, &["RTNMK"], &t);
    assert_eq!(codes(&r), (0, 0));
    let new = token_of(&r);
    assert_eq!(
        internal_des(&new).mkvp,
        verification_pattern(Class::Sym, &nmk)
    );
    assert_eq!(clear_of(&nmk, &new), key);
    // Not usable before SET; usable after.
    assert_refused(&ktc(&card, &["RTCMK"], &new), (8, 24), "under NEW");
    mkp(&card, "SYM-MK", "SET", &[]);
    assert_eq!(enc_zero(&card, "KEY-ENC", &new), enc_zero_clear(&key));
}

#[test]
fn key_token_change_refusals() {
    let card = new_card(14);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let t = des_token(
        &mk,
        &with_odd_parity(pattern(23, 16)),
        cv_of("DATA", KeyLength::Double, false),
    );
    assert_refused(&ktc(&card, &[], &t), (8, 35), "no keyword");
    assert_refused(
        &ktc(&card, &["RTCMK", "DES", "WRAP-ECB", "RTCMK", "X"], &t),
        (8, 35),
        "five",
    );
    assert_refused(&ktc(&card, &["RTXMK"], &t), (8, 33), "unknown");
    assert_refused(&ktc(&card, &["RTCMK", "RTNMK"], &t), (8, 34), "two methods");
    assert_refused(&ktc(&card, &["DES"], &t), (8, 34), "no method");
    assert_refused(
        &ktc(&card, &["RTCMK", "WRAPENH2"], &t),
        (8, 2),
        "enhanced wrapping",
    );
    assert_refused(&ktc(&card, &["RTCMK"], &NULL), (8, 47), "null DES");
    assert_refused(&ktc(&card, &["RTCMK", "AES"], &NULL), (8, 47), "null AES");
    assert_refused(
        &ktc(&card, &["RTCMK", "AES"], &t),
        (8, 49),
        "DES token as AES",
    );
    assert_refused(&ktc(&card, &["RTCMK"], &[b'K'; 64]), (8, 47), "label");
    assert_refused(&ktc(&card, &["RTCMK"], &t[..32]), (8, 43), "32 bytes");
    let ext = DesToken::External(ExternalDes {
        fields: internal_des(&t).fields,
    })
    .to_bytes();
    assert_refused(&ktc(&card, &["RTCMK"], &ext), (8, 47), "external");
    let mut bad = t.clone();
    bad[20] ^= 1;
    assert_refused(&ktc(&card, &["RTCMK"], &bad), (8, 29), "TVV");
    reseal(&mut bad);
    bad[10] ^= 1;
    reseal(&mut bad);
    assert_refused(&ktc(&card, &["RTCMK"], &bad), (8, 24), "MKVP");
    assert_refused(
        &call(
            &card,
            "CSNBKTC",
            &["RTCMK"],
            vec![Param::Bytes(t.clone()), Param::Int(0)],
        ),
        (8, 72),
        "two parameters",
    );
    // No AES master key: 12/764.
    let aes = AesToken::Internal(
        wrap::wrap_aes(
            &softcca_card::mk::MasterKey::from_bytes(&pattern(5, 32)),
            &pattern(6, 16),
        )
        .expect("wraps"),
    )
    .to_bytes();
    assert_refused(&ktc(&card, &["RTCMK"], &aes), (12, 764), "no AES MK");
}

// ---------------------------------------------------------------- Key_Test of master keys

fn sha(sha1: bool, mk: &softcca_card::mk::MasterKey) -> Vec<u8> {
    use sha2::Digest;
    let mut data = vec![0x01];
    data.extend_from_slice(mk.expose());
    if sha1 {
        sha1::Sha1::digest(&data).to_vec()
    } else {
        sha2::Sha256::digest(&data).to_vec()
    }
}

#[test]
fn master_key_registers_sha1_and_sha256() {
    let card = new_card(15);
    let z = [0u8; 8];
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-KM", "SYM-MK"], &NULL, &z, &z),
        (12, 764),
        "empty CURRENT",
    );
    let mk1 = set_master_key(&card, "SYM-MK", 31);
    let mk2 = set_master_key(&card, "SYM-MK", 51);
    let new = load_new(&card, "SYM-MK", 71);
    for (rule, mk) in [("KEY-KM", &mk2), ("KEY-OKM", &mk1), ("KEY-NKM", &new)] {
        let r = kyt(&card, &["GENERATE", rule, "SYM-MK"], &NULL, &z, &z);
        assert_eq!(codes(&r), (0, 0), "{rule}");
        let (v1, v2) = two_outputs(&r);
        let h = sha(true, mk);
        assert_eq!(
            (v1.as_slice(), v2.as_slice()),
            (&h[..8], &h[8..16]),
            "{rule}"
        );
        let r = kyt(&card, &["VERIFY", rule, "SYM-MK", "SHA-1"], &NULL, &v1, &v2);
        assert_refused(&r, (0, 0), rule);
        let r = kyt(&card, &["VERIFY", rule, "SYM-MK"], &NULL, &v2, &v1);
        assert_refused(&r, (4, 1), rule);
    }
    // A partial NEW register can be tested too.
    mkp(&card, "SYM-MK", "CLEAR", &[]);
    let part = with_odd_parity(pattern(90, 24));
    mkp(&card, "SYM-MK", "FIRST", &part);
    let r = kyt(&card, &["GENERATE", "KEY-NKM", "SYM-MK"], &NULL, &z, &z);
    let h = sha(true, &softcca_card::mk::MasterKey::from_bytes(&part));
    assert_eq!(two_outputs(&r).1, h[8..16].to_vec());

    // AES: SHA-256, value_2 only.
    let amk = set_master_key(&card, "AES-MK", 41);
    let r = kyt(&card, &["GENERATE", "KEY-KM", "AES-MK"], &NULL, &z, &z);
    let (v1, v2) = two_outputs(&r);
    assert_eq!(v1, vec![0; 8]);
    assert_eq!(v2, sha(false, &amk)[..8].to_vec());
    assert_eq!(v2, verification_pattern(Class::Aes, &amk).to_vec());
    let r = kyt(
        &card,
        &["VERIFY", "KEY-KM", "AES-MK", "SHA-256"],
        &NULL,
        &[7; 8],
        &v2,
    );
    assert_refused(&r, (0, 0), "AES value_1 is not compared");

    // Refusals.
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-OKM", "AES-MK"], &NULL, &z, &z),
        (12, 764),
        "no AES OLD",
    );
    assert_refused(
        &kyt(
            &card,
            &["GENERATE", "KEY-KM", "AES-MK", "SHA-1"],
            &NULL,
            &z,
            &z,
        ),
        (8, 34),
        "AES SHA-1",
    );
    assert_refused(
        &kyt(
            &card,
            &["GENERATE", "KEY-KM", "SYM-MK", "ENC-ZERO"],
            &NULL,
            &z,
            &z,
        ),
        (8, 34),
        "ENC-ZERO",
    );
    assert_refused(
        &kyt(
            &card,
            &["GENERATE", "KEY-KM", "SYM-MK", "ADJUST"],
            &NULL,
            &z,
            &z,
        ),
        (8, 34),
        "ADJUST",
    );
    assert_refused(
        &kyt(
            &card,
            &["GENERATE", "KEY-KM", "SYM-MK", "MDC-4"],
            &NULL,
            &z,
            &z,
        ),
        (8, 2),
        "MDC-4",
    );
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-KM", "SYM-MK"], &NULL, &z[..4], &z),
        (8, 72),
        "value_1",
    );
    // No selector: SYM-MK and ASYM-MK must be equal; here ASYM is empty.
    assert_refused(
        &kyt(&card, &["GENERATE", "KEY-KM"], &NULL, &z, &z),
        (12, 764),
        "no ASYM",
    );
}

/// No input panics the card: every byte of valid tokens flipped (TVV kept and recomputed),
/// through each verb of this file; every answer is one of IBM's return codes, and a failure
/// returns nothing.
#[test]
fn flipped_tokens_never_panic() {
    let card = new_card(16);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let amk = set_master_key(&card, "AES-MK", 41);
    let partial = des_token(
        &mk,
        &with_odd_parity(pattern(30, 16)),
        cv_of("DATA", KeyLength::Double, true),
    );
    let kek = des_token(
        &mk,
        &with_odd_parity(pattern(31, 24)),
        cv_of("IMPORTER", KeyLength::Triple, false),
    );
    let aes = AesToken::Internal(wrap::wrap_aes(&amk, &pattern(32, 24)).expect("wraps"))
        .to_bytes()
        .to_vec();
    let z = vec![0u8; 8];
    for base in [&partial, &kek, &aes] {
        for at in 0..64 {
            for flip in [0x01u8, 0x10, 0x80, 0xFF] {
                for reseal_it in [false, true] {
                    let mut t = base.clone();
                    t[at] ^= flip;
                    if reseal_it {
                        reseal(&mut t);
                    }
                    let responses = [
                        kpi(&card, "ADD-PART", &[0; 16], &t),
                        kpi(&card, "COMPLETE", &[], &t),
                        kyt(&card, &["GENERATE", "KEY-ENCD"], &t, &z, &z),
                        kyt(&card, &["VERIFY", "KEY-ENCT", "ENC-ZERO"], &t, &z, &z),
                        call(
                            &card,
                            "CSNBKYTX",
                            &["GENERATE", "KEY-ENC"],
                            vec![
                                Param::Bytes(t.clone()),
                                Param::Bytes(z.clone()),
                                Param::Bytes(z.clone()),
                                Param::Bytes(kek.clone()),
                            ],
                        ),
                        ktc(&card, &["RTCMK"], &t),
                    ];
                    for r in responses {
                        assert!(matches!(r.return_code, 0 | 4 | 8 | 12), "{at} {flip}");
                        if r.return_code >= 8 {
                            assert!(r.outputs.is_empty());
                        }
                    }
                }
            }
        }
    }
}
