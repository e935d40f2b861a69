//! The host library's variable-length token and HMAC methods against an embedded card: the
//! parameter blocks they build are the ones the card expects, and key labels of AES key
//! storage work wherever the verbs take a key identifier.

use std::sync::Arc;

use softcca_card::mk::Class;
use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::var::{KeyState, VarToken};
use softcca_card::{Card, Codes, Model};
use softcca_host::{Cca, Family};

fn memory_card(seed: u64) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    )
}

fn set_aes_master_key(cca: &Cca, fill: u8) {
    cca.master_key_process(&["AES-MK", "FIRST"], &[fill; 32])
        .expect("FIRST");
    cca.master_key_process(&["AES-MK", "LAST"], &[0xC4; 32])
        .expect("LAST");
    cca.master_key_process(&["AES-MK", "SET"], &[])
        .expect("SET");
}

fn state(token: &[u8]) -> KeyState {
    match VarToken::parse(token).expect("parses") {
        VarToken::Key(k) => k.wrapping.state,
        VarToken::Null => panic!("null token"),
    }
}

#[test]
fn hmac_keys_as_opencryptoki_makes_and_uses_them() {
    let card = memory_card(3);
    let cca = Cca::with_card(Arc::clone(&card));
    set_aes_master_key(&cca, 0x5B);

    // CSNBKTB2 + CSNBKGN2 TOKEN.
    let skeleton = cca
        .key_token_build2(&["INTERNAL", "HMAC", "MAC", "GENERATE"], &[], &[], &[], 725)
        .expect("CSNBKTB2");
    assert_eq!(skeleton.len(), 56);
    let (token, codes) = cca
        .key_generate2(&["HMAC", "OP"], 256, "TOKEN", &skeleton)
        .expect("CSNBKGN2");
    assert_eq!(codes, Codes::new(0, 0));
    assert_eq!(state(&token), KeyState::UnderMk);
    assert_eq!(
        &token[10..18],
        &card.verification_patterns(Class::Aes)[1].unwrap()
    );

    // Sign in one call and in segments, verify both ways.
    let text = vec![0x61u8; 200];
    let mut cv = [0u8; 128];
    let (mac, codes) = cca
        .hmac_generate(&["HMAC", "SHA-256"], &token, &text, &mut cv, 32)
        .expect("CSNBHMG");
    assert_eq!((mac.len(), codes), (32, Codes::new(0, 0)));
    let mut cv = [0u8; 128];
    cca.hmac_generate(
        &["HMAC", "SHA-256", "FIRST"],
        &token,
        &text[..128],
        &mut cv,
        32,
    )
    .expect("FIRST");
    let (chained, _) = cca
        .hmac_generate(
            &["HMAC", "SHA-256", "LAST"],
            &token,
            &text[128..],
            &mut cv,
            32,
        )
        .expect("LAST");
    assert_eq!(chained, mac);
    let mut cv = [0u8; 128];
    let codes = cca
        .hmac_verify(&["HMAC", "SHA-256"], &token, &text, &mut cv, &mac)
        .expect("CSNBHMV");
    assert_eq!(codes, Codes::new(0, 0));
    let codes = cca
        .hmac_verify(&["HMAC", "SHA-256"], &token, &text[1..], &mut cv, &mac)
        .expect("CSNBHMV completes with a warning");
    assert_eq!(codes, Codes::new(4, 1));

    // CSNBKTB2 NO-KEY + CSNBKPI2 FIRST MIN1PART / COMPLETE with a clear key value.
    let key = [0x0bu8; 20];
    let skeleton = cca
        .key_token_build2(
            &["INTERNAL", "NO-KEY", "HMAC", "MAC", "GENERATE"],
            &[],
            &[],
            &[],
            725,
        )
        .expect("CSNBKTB2");
    let (partial, _) = cca
        .key_part_import2(&["HMAC", "FIRST", "MIN1PART"], &key, &skeleton)
        .expect("FIRST");
    let (token, _) = cca
        .key_part_import2(&["HMAC", "COMPLETE"], &[], &partial)
        .expect("COMPLETE");
    let mut cv = [0u8; 128];
    let (mac, _) = cca
        .hmac_generate(&["HMAC", "SHA-256"], &token, b"Hi There", &mut cv, 32)
        .expect("CSNBHMG");
    let expected: [u8; 32] = [
        0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53, 0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1,
        0x2b, 0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7, 0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32,
        0xcf, 0xf7,
    ];
    assert_eq!(mac, expected, "RFC 4231 test case 1");

    // OPOP: a generating and a verifying copy of one key.
    let verify_skeleton = cca
        .key_token_build2(&["INTERNAL", "HMAC", "MAC", "VERIFY"], &[], &[], &[], 725)
        .expect("CSNBKTB2 VERIFY");
    let (generating, verifying) = cca
        .key_generate2_pair(
            &["HMAC", "OPOP"],
            256,
            ("MAC", &[]),
            ("TOKEN", &verify_skeleton),
        )
        .expect("CSNBKGN2 OPOP");
    let mut cv = [0u8; 128];
    let (mac, _) = cca
        .hmac_generate(&["HMAC", "SHA-256"], &generating, b"pair", &mut cv, 32)
        .expect("CSNBHMG");
    let codes = cca
        .hmac_verify(&["HMAC", "SHA-256"], &verifying, b"pair", &mut cv, &mac)
        .expect("CSNBHMV");
    assert_eq!(codes, Codes::new(0, 0));
    let err = cca
        .hmac_generate(&["HMAC", "SHA-256"], &verifying, b"pair", &mut cv, 32)
        .expect_err("a VERIFY copy cannot generate");
    assert_eq!(err.codes, Codes::new(8, 39));

    // A clear-key token from KEY-CLR MACs alike.
    let clear = cca
        .key_token_build2(&["INTERNAL", "KEY-CLR", "HMAC", "MAC"], &key, &[], &[], 725)
        .expect("KEY-CLR");
    assert_eq!(state(&clear), KeyState::Clear);
    let err = cca
        .key_token_build2(&["INTERNAL", "HMAC", "MAC"], &[], &[], &[], 10)
        .expect_err("buffer too small");
    assert_eq!(err.codes, Codes::new(8, 72));
}

#[test]
fn labels_of_aes_key_storage() {
    let card = memory_card(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    set_aes_master_key(&cca, 0x11);
    let mut label = [b' '; 64];
    label[..13].copy_from_slice(b"APP.HMAC.KEY1");

    // No record: 8/30 before the card is asked.
    let err = cca
        .key_generate2(&["HMAC", "OP"], 256, "TOKEN", &label)
        .expect_err("no record");
    assert_eq!(err.codes, Codes::new(8, 30));

    // Store a skeleton, generate into the record, MAC by label.
    let skeleton = cca
        .key_token_build2(&["INTERNAL", "HMAC", "MAC"], &[], &[], &[], 725)
        .expect("CSNBKTB2");
    cca.key_record_create(Family::Aes, &label, &skeleton)
        .expect("CSNBAKRC");
    let (token, _) = cca
        .key_generate2(&["HMAC", "OP"], 256, "TOKEN", &label)
        .expect("CSNBKGN2 by label");
    assert_eq!(
        cca.key_record_read(Family::Aes, &label).expect("read"),
        token
    );
    let mut cv = [0u8; 128];
    let (by_label, _) = cca
        .hmac_generate(&["HMAC", "SHA-512"], &label, b"msg", &mut cv, 64)
        .expect("CSNBHMG by label");
    let (by_token, _) = cca
        .hmac_generate(&["HMAC", "SHA-512"], &token, b"msg", &mut cv, 64)
        .expect("CSNBHMG by token");
    assert_eq!(by_label, by_token);
    let codes = cca
        .hmac_verify(&["HMAC", "SHA-512"], &label, b"msg", &mut cv, &by_label)
        .expect("CSNBHMV by label");
    assert_eq!(codes, Codes::new(0, 0));

    // A new master key: the record's token works with 0/10001 until CSNBKTC2 rewrites it.
    set_aes_master_key(&cca, 0x22);
    let (_, codes) = cca
        .hmac_generate(&["HMAC", "SHA-512"], &label, b"msg", &mut cv, 64)
        .expect("old master key");
    assert_eq!(codes, Codes::new(0, 10001));
    let changed = cca
        .key_token_change2(&["RTCMK"], &label)
        .expect("CSNBKTC2 by label");
    assert_ne!(changed, token);
    assert_eq!(
        cca.key_record_read(Family::Aes, &label).expect("read"),
        changed
    );
    let (mac, codes) = cca
        .hmac_generate(&["HMAC", "SHA-512"], &label, b"msg", &mut cv, 64)
        .expect("current master key");
    assert_eq!((mac, codes), (by_label, Codes::new(0, 0)));

    // Key parts into a labelled record.
    let mut label2 = [b' '; 64];
    label2[..12].copy_from_slice(b"APP.AES.KEY2");
    let aes = cca
        .key_token_build2(&["INTERNAL", "AES", "CIPHER"], &[], &[], &[], 725)
        .expect("CSNBKTB2 AES");
    cca.key_record_create(Family::Aes, &label2, &aes)
        .expect("CSNBAKRC");
    cca.key_part_import2(&["AES", "FIRST", "MIN1PART"], &[7; 16], &label2)
        .expect("FIRST by label");
    let (done, _) = cca
        .key_part_import2(&["AES", "COMPLETE"], &[], &label2)
        .expect("COMPLETE by label");
    assert_eq!(
        cca.key_record_read(Family::Aes, &label2).expect("read"),
        done
    );
    assert_eq!(state(&done), KeyState::UnderMk);
}
