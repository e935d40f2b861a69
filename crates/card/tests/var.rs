//! API tests of the variable-length (X'05') token verbs through [`Card::execute`]:
//! Key_Token_Build2, Key_Generate2, Key_Part_Import2, Key_Token_Change2, and the token checks
//! every verb taking such a token makes. Expected codes are IBM's values, written as literals.

#![allow(clippy::unwrap_used, clippy::type_complexity)] // Tests: a panic is the report; case tables.

mod var_support;

use softcca_card::tokens::MasterKeyUsed;
use softcca_card::tokens::var::{KeyState, unwrap_var};
use var_support::*;

fn be16(t: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([t[at], t[at + 1]])
}

#[test]
fn ktb2_hmac_skeleton_as_opencryptoki_builds_it() {
    let card = new_card(1);
    let t = build(&card, &["INTERNAL", "HMAC", "MAC", "GENERATE"], 0, &[]);
    assert_eq!(t.len(), 56, "IBM: 46 + 2·2 + 2·3");
    assert_eq!(&t[..5], &[0x01, 0x00, 0x00, 56, 0x05]);
    assert_eq!(t[8], 0x00, "skeleton");
    assert_eq!(t[41], 0x03, "HMAC");
    assert_eq!(be16(&t, 42), 0x0002, "MAC");
    assert_eq!(t[44], 2);
    assert_eq!(be16(&t, 45), 0xC000, "GENERATE: generate and verify");
    assert_eq!(be16(&t, 47), 0xF800, "all five hash methods by default");
    assert_eq!(t[49], 3);
    assert_eq!(
        be16(&t, 50),
        0xF000,
        "XPRT-SYM, XPRTUASY, XPRTAASY, XPRT-RAW"
    );
    // NO-KEY given explicitly, and the non-exportable form opencryptoki adds.
    let t = build(
        &card,
        &[
            "INTERNAL", "NO-KEY", "HMAC", "MAC", "GENERATE", "NOEX-SYM", "NOEXUASY", "NOEXAASY",
            "NOEX-DES", "NOEX-AES", "NOEX-RSA",
        ],
        0,
        &[],
    );
    assert_eq!(be16(&t, 50), 0x10C8);
    let t = build(
        &card,
        &["EXTERNAL", "HMAC", "MAC", "VERIFY", "SHA-256"],
        0,
        &[],
    );
    assert_eq!(t[0], 0x02);
    assert_eq!((be16(&t, 45), be16(&t, 47)), (0x4000, 0x2000));
}

/// The Linux kernel (`drivers/s390/crypto/zcrypt_ccamisc.c`) keeps an AES CIPHER skeleton
/// that a real card's CSNBKTB2 built from this rule array; softcca builds the same 56 bytes.
#[test]
fn ktb2_matches_a_skeleton_ibm_built() {
    let card = new_card(12);
    let t = build(
        &card,
        &[
            "INTERNAL", "NO-KEY", "AES", "CIPHER", "ANY-MODE", "NOEX-SYM", "NOEXAASY", "NOEXUASY",
            "XPRTCPAC", "NOEX-RAW", "NOEX-DES", "NOEX-AES", "NOEX-RSA",
        ],
        0,
        &[],
    );
    let ibm = concat!(
        "0100003805000000",
        "0000000000000000",
        "0000000000000000",
        "0000000000000100",
        "001a000000000000",
        "000200010",
        "2c000ff",
        "000308c800000000",
    );
    assert_eq!(hex::encode(t), ibm);
}

#[test]
fn ktb2_aes_cipher_usage_and_modes() {
    let card = new_card(2);
    let t = build(&card, &["INTERNAL", "AES", "CIPHER"], 0, &[]);
    assert_eq!((t[41], be16(&t, 42)), (0x02, 0x0001));
    assert_eq!(be16(&t, 45), 0xC000, "ENCRYPT and DECRYPT by default");
    assert_eq!(be16(&t, 47), 0xFF00, "ANY-MODE by default");
    let t = build(
        &card,
        &["INTERNAL", "AES", "CIPHER", "ENCRYPT", "CBC", "XPRTCPAC"],
        0,
        &[],
    );
    assert_eq!((be16(&t, 45), be16(&t, 47)), (0x8000, 0x0000));
    assert_eq!(be16(&t, 50) & 0x0800, 0x0800);
    let k = var_key(&t);
    assert!(k.may_encrypt() && !k.may_decrypt());
    assert!(k.allows_mode("CBC") && !k.allows_mode("ECB"));
    let t = build(
        &card,
        &["INTERNAL", "AES", "CIPHER", "DECRYPT", "GCM"],
        0,
        &[],
    );
    let k = var_key(&t);
    assert!(!k.may_encrypt() && k.may_decrypt() && k.allows_mode("GCM"));
    // AES MAC (CMAC) skeleton.
    let t = build(&card, &["INTERNAL", "AES", "MAC", "GENONLY"], 0, &[]);
    assert_eq!(
        (be16(&t, 42), be16(&t, 45), be16(&t, 47)),
        (2, 0x8000, 0x0100)
    );
}

#[test]
fn ktb2_key_clear_tokens_name_and_user_data() {
    let card = new_card(3);
    let key = pattern(1, 10);
    let name = {
        let mut n = b"HMAC.KEY.ONE".to_vec();
        n.resize(64, b' ');
        n
    };
    let r = ktb2(
        &card,
        &["INTERNAL", "KEY-CLR", "HMAC", "MAC"],
        80,
        &key,
        &name,
        b"user data",
    );
    assert_eq!(codes(&r), (0, 0));
    let t = bytes_out(&r, 0);
    assert_eq!(
        t.len(),
        66 + 64 + 9,
        "IBM: a clear 80-bit HMAC token is 66 bytes"
    );
    assert_eq!(t[8], 0x01, "clear key");
    assert_eq!((t[34], t[36]), (64, 9));
    assert_eq!(be16(&t, 38), 80);
    assert_eq!(&t[t.len() - 10..], key.as_slice());
    let k = var_key(&t);
    assert_eq!(k.ad.key_name, name);
    assert_eq!(k.ad.uad, b"user data");
    let t = build(
        &card,
        &["EXTERNAL", "KEY-CLR", "AES", "CIPHER"],
        256,
        &pattern(2, 32),
    );
    assert_eq!((t[0], t[8], be16(&t, 38)), (0x02, 0x01, 256));
}

#[test]
fn ktb2_refusals() {
    let card = new_card(4);
    let cases: &[(&[&str], i32, usize, (i32, i32), &str)] = &[
        (&["INTERNAL", "HMAC"], 0, 0, (8, 35), "count 2"),
        (
            &["INTERNAL", "HMAC", "MAC", "BOGUS"],
            0,
            0,
            (8, 33),
            "unknown keyword",
        ),
        (
            &["INTERNAL", "EXTERNAL", "HMAC", "MAC"],
            0,
            0,
            (8, 34),
            "two token ids",
        ),
        (
            &["INTERNAL", "MAC", "GENERATE"],
            0,
            0,
            (8, 34),
            "no algorithm",
        ),
        (
            &["INTERNAL", "HMAC", "CIPHER"],
            0,
            0,
            (8, 34),
            "HMAC CIPHER",
        ),
        (
            &["INTERNAL", "HMAC", "MAC", "ENCRYPT"],
            0,
            0,
            (8, 34),
            "ENCRYPT on a MAC key",
        ),
        (
            &["INTERNAL", "AES", "CIPHER", "SHA-256"],
            0,
            0,
            (8, 34),
            "hash on AES",
        ),
        (
            &["INTERNAL", "AES", "CIPHER", "GENERATE"],
            0,
            0,
            (8, 34),
            "GENERATE on CIPHER",
        ),
        (
            &["INTERNAL", "HMAC", "MAC", "XPRTCPAC"],
            0,
            0,
            (8, 34),
            "XPRTCPAC on HMAC",
        ),
        (
            &["INTERNAL", "AES", "CIPHER", "CBC", "ECB"],
            0,
            0,
            (8, 34),
            "two modes",
        ),
        (
            &["INTERNAL", "AES", "EXPORTER"],
            0,
            0,
            (8, 2),
            "EXPORTER not yet",
        ),
        (
            &["INTERNAL", "AES", "CIPHER", "V1PYLD"],
            0,
            0,
            (8, 2),
            "V1 payload not yet",
        ),
        (
            &["INTERNAL", "KEY-CLR", "AES", "MAC"],
            128,
            16,
            (8, 34),
            "KEY-CLR AES MAC",
        ),
        (
            &["INTERNAL", "KEY-CLR", "AES", "CIPHER"],
            100,
            13,
            (8, 43),
            "AES 100 bits",
        ),
        (
            &["INTERNAL", "KEY-CLR", "HMAC", "MAC"],
            72,
            9,
            (8, 43),
            "HMAC 72 bits",
        ),
        (
            &["INTERNAL", "KEY-CLR", "HMAC", "MAC"],
            2056,
            257,
            (8, 43),
            "HMAC 2056 bits",
        ),
        (
            &["INTERNAL", "KEY-CLR", "HMAC", "MAC"],
            84,
            11,
            (8, 43),
            "HMAC 84 bits",
        ),
        (
            &["INTERNAL", "KEY-CLR", "HMAC", "MAC"],
            80,
            11,
            (8, 72),
            "value length",
        ),
        (
            &["INTERNAL", "HMAC", "MAC"],
            80,
            0,
            (8, 43),
            "NO-KEY with a bit length",
        ),
    ];
    for (rules, bits, n, expected, what) in cases {
        let r = ktb2(&card, rules, *bits, &pattern(5, *n), &[], &[]);
        assert_refused(&r, *expected, what);
    }
    let rules = ["INTERNAL", "HMAC", "MAC"];
    assert_refused(
        &ktb2(&card, &rules, 0, &[], &[b'A'; 10], &[]),
        (8, 72),
        "key name 10",
    );
    assert_refused(
        &ktb2(&card, &rules, 0, &[], &[], &[0; 256]),
        (8, 72),
        "uad 256",
    );
    let mut p = vec![
        Param::Int(0),
        Param::Bytes(Vec::new()),
        Param::Bytes(Vec::new()),
        Param::Bytes(Vec::new()),
        Param::Bytes(vec![1]),
        Param::Bytes(Vec::new()),
        Param::Int(725),
    ];
    assert_refused(
        &call(&card, "CSNBKTB2", &rules, p.clone()),
        (8, 72),
        "token_data",
    );
    p[4] = Param::Bytes(Vec::new());
    p[6] = Param::Int(55);
    assert_refused(
        &call(&card, "CSNBKTB2", &rules, p.clone()),
        (8, 72),
        "buffer 55 < 56",
    );
    p[6] = Param::Int(56);
    assert_eq!(codes(&call(&card, "CSNBKTB2", &rules, p.clone())), (0, 0));
    p.pop();
    assert_refused(
        &call(&card, "CSNBKTB2", &rules, p),
        (8, 72),
        "parameter block",
    );
}

#[test]
fn kgn2_completes_skeletons_under_the_current_aes_master_key() {
    let card = new_card(5);
    let mk = load_aes(&card, 41);
    let skeleton = build(&card, &["INTERNAL", "HMAC", "MAC", "GENERATE"], 0, &[]);
    for (bits, pl) in [(80, 448), (256, 640), (2048, 2432)] {
        let r = kgn2(&card, &["HMAC", "OP"], bits, "TOKEN", &skeleton);
        assert_eq!(codes(&r), (0, 0), "{bits}");
        let t = bytes_out(&r, 0);
        assert_eq!(bytes_out(&r, 1), Vec::<u8>::new());
        // opencryptoki's acceptance checks.
        assert_eq!(
            (t[0], t[4], t[8], t[26], t[27], t[28], t[41]),
            (1, 5, 3, 2, 2, 0, 3)
        );
        assert_eq!(be16(&t, 38), pl);
        assert_eq!(
            Some(<[u8; 8]>::try_from(&t[10..18]).unwrap()),
            card.verification_patterns(Class::Aes)[1]
        );
        let k = var_key(&t);
        assert_eq!(k.ad.kmf[2], 0x0202, "pedigree: random");
        let (key, used) = unwrap_var(&k, Some(&mk), None).expect("unwraps");
        assert_eq!(key.expose().len() * 8, bits as usize);
        assert_eq!(used, Some(MasterKeyUsed::Current));
    }
    // A key type instead of TOKEN builds IBM's default token.
    let r = kgn2(&card, &["AES", "OP"], 256, "CIPHER", &[]);
    assert_eq!(codes(&r), (0, 0));
    let t = bytes_out(&r, 0);
    assert_eq!(
        (be16(&t, 38), be16(&t, 45), be16(&t, 47)),
        (640, 0xC000, 0xFF00)
    );
    let r = kgn2(&card, &["HMAC", "OP"], 128, "MAC", &[]);
    assert_eq!(codes(&r), (0, 0));
    assert!(var_key(&bytes_out(&r, 0)).may_generate());
    // Two generated keys differ.
    let a = bytes_out(&kgn2(&card, &["AES", "OP"], 128, "CIPHER", &[]), 0);
    let b = bytes_out(&kgn2(&card, &["AES", "OP"], 128, "CIPHER", &[]), 0);
    assert_ne!(
        unwrap_var(&var_key(&a), Some(&mk), None).unwrap().0,
        unwrap_var(&var_key(&b), Some(&mk), None).unwrap().0
    );
}

#[test]
fn kgn2_refusals() {
    let card = new_card(6);
    let hmac = build(&card, &["INTERNAL", "HMAC", "MAC"], 0, &[]);
    let aes = build(&card, &["INTERNAL", "AES", "CIPHER"], 0, &[]);
    assert_refused(
        &kgn2(&card, &["HMAC", "OP"], 128, "TOKEN", &hmac),
        (12, 764),
        "no AES MK",
    );
    load_aes(&card, 51);
    let ext = build(&card, &["EXTERNAL", "HMAC", "MAC"], 0, &[]);
    let cases: &[(&[&str], i32, &str, &[u8], (i32, i32), &str)] = &[
        (&["HMAC"], 128, "TOKEN", &hmac, (8, 35), "count 1"),
        (&["HMAC", "OPEX"], 128, "TOKEN", &hmac, (8, 41), "OPEX"),
        (
            &["HMAC", "OPOP"],
            128,
            "TOKEN",
            &hmac,
            (8, 33),
            "OPOP with one key type",
        ),
        (&["AES", "EX"], 128, "TOKEN", &aes, (8, 41), "EX"),
        (&["HMAC", "OP"], 64, "TOKEN", &hmac, (8, 43), "HMAC 64 bits"),
        (&["AES", "OP"], 100, "TOKEN", &aes, (8, 43), "AES 100 bits"),
        (
            &["HMAC", "OP"],
            128,
            "TOKEN",
            &aes,
            (8, 47),
            "AES skeleton for HMAC",
        ),
        (
            &["HMAC", "OP"],
            128,
            "TOKEN",
            &ext,
            (8, 47),
            "external skeleton",
        ),
        (&["HMAC", "OP"], 128, "CIPHER", &[], (8, 33), "HMAC CIPHER"),
        (
            &["HMAC", "OP"],
            128,
            "BOGUS",
            &[],
            (8, 33),
            "unknown key type",
        ),
        (
            &["HMAC", "OP"],
            128,
            "TOKEN",
            &[1, 2, 3],
            (8, 43),
            "token too short",
        ),
    ];
    for (rules, bits, kt, token, expected, what) in cases {
        assert_refused(&kgn2(&card, rules, *bits, kt, token), *expected, what);
    }
    let mut p = vec![
        Param::Int(128),
        Param::Bytes(b"TOKEN   ".to_vec()),
        Param::Bytes(b"TOKEN   ".to_vec()),
    ];
    p.extend((0..6).map(|_| Param::Bytes(Vec::new())));
    p.extend([
        Param::Int(725),
        Param::Bytes(hmac.clone()),
        Param::Int(0),
        Param::Bytes(Vec::new()),
    ]);
    assert_refused(
        &call(&card, "CSNBKGN2", &["HMAC", "OP"], p.clone()),
        (8, 33),
        "key_type_2",
    );
    p[2] = Param::Bytes(vec![b' '; 8]);
    p[9] = Param::Int(100);
    assert_refused(
        &call(&card, "CSNBKGN2", &["HMAC", "OP"], p),
        (8, 72),
        "buffer too small",
    );
}

#[test]
fn kgn2_opop_gives_two_copies_of_one_key() {
    let card = new_card(10);
    let mk = load_aes(&card, 71);
    let skeleton = build(&card, &["INTERNAL", "HMAC", "MAC", "VERIFY"], 0, &[]);
    let opop = |t1: &str, t2: &str, token_2: &[u8]| {
        let field = |t: &str| rules::element(t).expect("fits").to_vec();
        let mut p = vec![
            Param::Int(256),
            Param::Bytes(field(t1)),
            Param::Bytes(field(t2)),
        ];
        p.extend((0..6).map(|_| Param::Bytes(Vec::new())));
        p.extend([
            Param::Int(725),
            Param::Bytes(Vec::new()),
            Param::Int(725),
            Param::Bytes(token_2.to_vec()),
        ]);
        call(&card, "CSNBKGN2", &["HMAC", "OPOP"], p)
    };
    let r = opop("MAC", "TOKEN", &skeleton);
    assert_eq!(codes(&r), (0, 0));
    let (a, b) = (var_key(&bytes_out(&r, 0)), var_key(&bytes_out(&r, 1)));
    assert!(a.may_generate() && !b.may_generate() && b.may_verify());
    assert_eq!(
        unwrap_var(&a, Some(&mk), None).unwrap().0,
        unwrap_var(&b, Some(&mk), None).unwrap().0,
        "one key, two tokens"
    );
    let aes = build(&card, &["INTERNAL", "AES", "CIPHER"], 0, &[]);
    assert_refused(
        &opop("MAC", "TOKEN", &aes),
        (8, 47),
        "second token of another algorithm",
    );
    let r = call(
        &card,
        "CSNBKGN2",
        &["AES", "OPOP"],
        [
            vec![
                Param::Int(128),
                Param::Bytes(b"CIPHER  ".to_vec()),
                Param::Bytes(b"MAC     ".to_vec()),
            ],
            (0..6).map(|_| Param::Bytes(Vec::new())).collect(),
            vec![
                Param::Int(725),
                Param::Bytes(Vec::new()),
                Param::Int(725),
                Param::Bytes(Vec::new()),
            ],
        ]
        .concat(),
    );
    assert_refused(&r, (8, 34), "CIPHER and MAC copies");
}

#[test]
fn kpi2_combines_parts_first_add_part_complete() {
    let card = new_card(7);
    let mk = load_aes(&card, 61);
    let skeleton = build(
        &card,
        &["INTERNAL", "NO-KEY", "HMAC", "MAC", "GENERATE"],
        0,
        &[],
    );
    let parts: Vec<Vec<u8>> = (0..3).map(|i| pattern(70 + i, 32)).collect();
    let r = kpi2(
        &card,
        &["HMAC", "FIRST", "MIN3PART"],
        256,
        &parts[0],
        &skeleton,
    );
    assert_eq!(codes(&r), (0, 0));
    let t1 = bytes_out(&r, 0);
    assert_eq!(t1[8], 3);
    let k1 = var_key(&t1);
    assert!(!k1.complete());
    assert_eq!(k1.ad.kmf[2], 0x0404, "pedigree: key parts");
    // Too early to complete; an incomplete key cannot MAC.
    assert_refused(
        &kpi2(&card, &["HMAC", "COMPLETE"], 0, &[], &t1),
        (8, 34),
        "COMPLETE after 1 of 3",
    );
    assert_refused(
        &hmg(&card, &["HMAC", "SHA-256"], &t1, b"abc", &CV0, 32),
        (8, 47),
        "an incomplete key",
    );
    let r = kpi2(&card, &["HMAC", "ADD-PART"], 256, &parts[1], &t1);
    assert_eq!(codes(&r), (0, 0));
    let t2 = bytes_out(&r, 0);
    assert_refused(
        &kpi2(&card, &["HMAC", "COMPLETE"], 0, &[], &t2),
        (8, 34),
        "COMPLETE after 2 of 3",
    );
    assert_refused(
        &kpi2(&card, &["HMAC", "ADD-PART"], 128, &parts[2][..16], &t2),
        (8, 43),
        "part length",
    );
    assert_refused(
        &kpi2(
            &card,
            &["HMAC", "ADD-PART", "MIN2PART"],
            256,
            &parts[2],
            &t2,
        ),
        (8, 34),
        "MINnPART with ADD-PART",
    );
    assert_refused(
        &kpi2(&card, &["HMAC", "FIRST"], 256, &parts[2], &t2),
        (8, 34),
        "FIRST on a key",
    );
    assert_refused(
        &kpi2(&card, &["AES", "ADD-PART"], 256, &parts[2], &t2),
        (8, 47),
        "other algorithm",
    );
    let t3 = bytes_out(&kpi2(&card, &["HMAC", "ADD-PART"], 256, &parts[2], &t2), 0);
    let r = kpi2(&card, &["HMAC", "COMPLETE"], 0, &[], &t3);
    assert_eq!(codes(&r), (0, 0));
    let done = bytes_out(&r, 0);
    let k = var_key(&done);
    assert!(k.complete());
    let (key, _) = unwrap_var(&k, Some(&mk), None).unwrap();
    assert_eq!(
        key.expose(),
        xor(&xor(&parts[0], &parts[1]), &parts[2]).as_slice()
    );
    assert_refused(
        &kpi2(&card, &["HMAC", "ADD-PART"], 256, &parts[0], &done),
        (8, 34),
        "ADD-PART on a complete key",
    );
    // The completed key MACs.
    assert_eq!(
        codes(&hmg(&card, &["HMAC", "SHA-256"], &done, b"abc", &CV0, 32)),
        (0, 0)
    );

    // opencryptoki's path: FIRST MIN1PART with the whole key, then COMPLETE; and LAST.
    let aes = build(&card, &["INTERNAL", "AES", "CIPHER"], 0, &[]);
    let t = bytes_out(
        &kpi2(
            &card,
            &["AES", "FIRST", "MIN1PART"],
            128,
            &parts[0][..16],
            &aes,
        ),
        0,
    );
    let t = bytes_out(&kpi2(&card, &["AES", "COMPLETE"], 0, &[], &t), 0);
    let (key, _) = unwrap_var(&var_key(&t), Some(&mk), None).unwrap();
    assert_eq!(key.expose(), &parts[0][..16]);
    let t = bytes_out(
        &kpi2(&card, &["AES", "FIRST"], 128, &parts[0][..16], &aes),
        0,
    );
    let t = bytes_out(&kpi2(&card, &["AES", "LAST"], 128, &parts[1][..16], &t), 0);
    assert!(var_key(&t).complete());
    let (key, _) = unwrap_var(&var_key(&t), Some(&mk), None).unwrap();
    assert_eq!(
        key.expose(),
        xor(&parts[0][..16], &parts[1][..16]).as_slice()
    );
    assert_refused(
        &kpi2(&card, &["AES", "FIRST"], 64, &parts[0][..8], &aes),
        (8, 43),
        "AES 64 bits",
    );
    assert_refused(
        &kpi2(&card, &["AES"], 128, &parts[0][..16], &aes),
        (8, 35),
        "count 1",
    );
    assert_refused(
        &kpi2(&card, &["AES", "FIRST", "LAST"], 128, &parts[0][..16], &aes),
        (8, 34),
        "two process keywords",
    );
}

#[test]
fn ktc2_rewraps_under_the_current_master_key() {
    let card = new_card(8);
    let mk1 = load_aes(&card, 81);
    let skeleton = build(&card, &["INTERNAL", "HMAC", "MAC"], 0, &[]);
    let t = bytes_out(&kgn2(&card, &["HMAC", "OP"], 256, "TOKEN", &skeleton), 0);
    let (key, _) = unwrap_var(&var_key(&t), Some(&mk1), None).unwrap();
    let ktc2 = |rules: &[&str], token: &[u8]| {
        call(&card, "CSNBKTC2", rules, vec![Param::Bytes(token.to_vec())])
    };
    let r = ktc2(&["RTCMK"], &t);
    assert_eq!(codes(&r), (0, 0));
    assert_eq!(bytes_out(&r, 0), t, "already under the current master key");
    let mk2 = load_aes(&card, 91);
    // The old token still MACs, with 0/10001.
    assert_eq!(
        codes(&hmg(&card, &["HMAC", "SHA-256"], &t, b"x", &CV0, 32)).1,
        10001
    );
    let r = ktc2(&["RTCMK"], &t);
    assert_eq!(codes(&r), (0, 0));
    let t2 = bytes_out(&r, 0);
    assert_ne!(t2, t);
    assert_eq!(t2.len(), t.len());
    let (k2, used) = unwrap_var(&var_key(&t2), Some(&mk2), None).unwrap();
    assert_eq!((k2, used), (key, Some(MasterKeyUsed::Current)));
    assert_eq!(
        codes(&hmg(&card, &["HMAC", "SHA-256"], &t2, b"x", &CV0, 32)),
        (0, 0)
    );
    // Skeletons pass unchanged; a third master key makes the first token unknown.
    assert_eq!(bytes_out(&ktc2(&["RTCMK"], &skeleton), 0), skeleton);
    load_aes(&card, 101);
    assert_refused(&ktc2(&["RTCMK"], &t), (8, 24), "MKVP unknown");
    assert_refused(&ktc2(&["RTNMK"], &t2), (8, 2), "RTNMK");
    assert_refused(&ktc2(&["BOGUS"], &t2), (8, 33), "keyword");
    assert_refused(&ktc2(&[], &t2), (8, 35), "count 0");
    let ext = build(&card, &["EXTERNAL", "HMAC", "MAC"], 0, &[]);
    assert_refused(&ktc2(&["RTCMK"], &ext), (8, 47), "external");
    let mut label = b"MY.KEY".to_vec();
    label.resize(64, b' ');
    assert_refused(
        &ktc2(&["RTCMK"], &label),
        (8, 47),
        "a label reaching the card",
    );
}

#[test]
fn corrupted_tokens_get_ibms_codes() {
    let card = new_card(9);
    load_aes(&card, 111);
    let skeleton = build(&card, &["INTERNAL", "HMAC", "MAC"], 0, &[]);
    let good = bytes_out(&kgn2(&card, &["HMAC", "OP"], 256, "TOKEN", &skeleton), 0);
    let mac = |t: &[u8]| hmg(&card, &["HMAC", "SHA-256"], t, b"text", &CV0, 32);
    assert_eq!(codes(&mac(&good)), (0, 0));
    let cases: &[(usize, u8, (i32, i32), &str)] = &[
        (4, 0x04, (8, 49), "version"),
        (3, 0x01, (8, 47), "length field"),
        (30, 0x02, (8, 47), "AD version"),
        (8, 0x01, (8, 47), "key-material state"),
        (10, 0xFF, (8, 24), "MKVP unknown"),
        (45, 0x80, (8, 47), "key usage (AD hash)"),
        (50, 0x01, (8, 47), "key management (AD hash)"),
        (70, 0x01, (8, 47), "payload"),
        (0, 0x03, (8, 47), "token identifier"),
        (26, 0x01, (8, 47), "wrapping method"),
        (41, 0x01, (8, 47), "algorithm"),
    ];
    for (at, flip, expected, what) in cases {
        let mut t = good.clone();
        t[*at] ^= flip;
        assert_refused(&mac(&t), *expected, what);
    }
    assert_refused(&mac(&good[..good.len() - 1]), (8, 47), "truncated");
    assert_refused(&mac(&[1, 0, 0]), (8, 43), "three bytes");
    assert_refused(&mac(&[0, 0, 0, 8, 0, 0, 0, 0]), (8, 47), "null token");
    assert_refused(&mac(&skeleton), (8, 47), "skeleton");
    // An AES CIPHER key cannot HMAC: 8/39.
    let aes = bytes_out(&kgn2(&card, &["AES", "OP"], 256, "CIPHER", &[]), 0);
    assert_refused(&mac(&aes), (8, 39), "AES CIPHER key");
    // A token whose key-usage bits were changed and re-sealed by a forger: the AD hash
    // inside the wrap no longer matches.
    let mut k = var_key(&good);
    k.ad.kuf[0] = 0x4000;
    assert_refused(&mac(&k.to_bytes()), (8, 47), "re-encoded with other usage");
    assert_eq!(var_key(&good).wrapping.state, KeyState::UnderMk);
}
