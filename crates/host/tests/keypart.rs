//! The host library's Key_Part_Import, Key_Test, Key_Test_Extended and Key_Token_Change
//! methods, and the re-enciphering of key storage, against an embedded card: the parameter
//! blocks they build are the ones the card expects, and key labels are read and written back.

use std::sync::Arc;

use softcca_card::mk::{Class, MasterKey, verification_pattern};
use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::aes::AesToken;
use softcca_card::tokens::des::{DesFields, DesToken, FLAG_CV_APPLIED, InternalDes, WrapMethod};
use softcca_card::tokens::{KeyLength, cv, wrap};
use softcca_card::{Card, Codes, Model};
use softcca_host::{Cca, Family, KeyTestValues};

fn memory_card(seed: u64) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    )
}

/// Loads and sets a master key from two parts of `a` and `b` bytes; returns it.
fn set_mk(cca: &Cca, class: &str, a: u8, b: u8) -> MasterKey {
    let len = if class == "SYM-MK" { 24 } else { 32 };
    cca.master_key_process(&[class, "FIRST"], &vec![a; len])
        .expect("FIRST");
    cca.master_key_process(&[class, "LAST"], &vec![b; len])
        .expect("LAST");
    cca.master_key_process(&[class, "SET"], &[]).expect("SET");
    let mut k = vec![a ^ b; len];
    if class == "SYM-MK" {
        for x in &mut k {
            if x.count_ones() % 2 == 0 {
                *x ^= 1;
            }
        }
    }
    MasterKey::from_bytes(&k)
}

fn label(text: &str) -> [u8; 64] {
    let mut l = [b' '; 64];
    l[..text.len()].copy_from_slice(text.as_bytes());
    l
}

fn skeleton(key_type: &str, length: KeyLength) -> Vec<u8> {
    let (l, r) = cv::default_cv(key_type, length).expect("cv");
    DesToken::Internal(InternalDes {
        mkvp: [0; 8],
        fields: DesFields {
            flags: FLAG_CV_APPLIED,
            wrap_method: WrapMethod::Ecb,
            key: [0; 24],
            cv_left: cv::with_key_part(&l, true),
            cv_right: cv::with_key_part(&r, true),
            length,
        },
    })
    .to_bytes()
    .to_vec()
}

fn clear_of(mk: &MasterKey, token: &[u8]) -> Vec<u8> {
    let DesToken::Internal(t) = DesToken::parse(token).expect("parses") else {
        panic!("internal DES token expected");
    };
    wrap::unwrap_des(&t, Some(mk), None)
        .expect("unwraps")
        .0
        .expose()
        .to_vec()
}

#[test]
fn key_parts_into_a_labelled_record_then_key_test() {
    let card = memory_card(3);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    let mk = set_mk(&cca, "SYM-MK", 0x5B, 0xC4);

    let l = label("BANK.ZMK.PART");
    cca.key_record_create(Family::Des, &l, &skeleton("IMPORTER", KeyLength::Double))
        .expect("CSNBKRC");
    let p1 = [0x01u8; 16];
    let p2: Vec<u8> = (0..16u8)
        .map(|i| (i * 6) & 0xFE)
        .map(|b| if b.count_ones() % 2 == 1 { b ^ 0x80 } else { b })
        .collect();
    let (_, codes) = cca.key_part_import(&["FIRST"], &p1, &l).expect("FIRST");
    assert_eq!(codes, Codes::new(0, 0));
    let (_, codes) = cca
        .key_part_import(&["ADD-PART"], &p2, &l)
        .expect("ADD-PART");
    assert_eq!(codes, Codes::new(0, 0));
    let (token, _) = cca
        .key_part_import(&["COMPLETE"], &[], &l)
        .expect("COMPLETE");
    assert_eq!(
        cca.key_record_read(Family::Des, &l).expect("read"),
        token,
        "the record holds the completed key"
    );
    let expected: Vec<u8> = p1.iter().zip(&p2).map(|(a, b)| a ^ b).collect();
    assert_eq!(clear_of(&mk, &token), expected);

    // Key_Test by label and by clear key agree.
    let (values, codes) = cca
        .key_test_generate(&["GENERATE", "KEY-ENCD"], &l)
        .expect("KYT GENERATE");
    assert_eq!(codes, Codes::new(0, 0));
    assert!(
        cca.key_test_verify(&["VERIFY", "KEY-CLRD"], &expected, &values)
            .expect("KYT VERIFY")
    );
    let wrong = KeyTestValues {
        value_1: values.value_1,
        value_2: [0; 8],
    };
    assert!(
        !cca.key_test_verify(&["VERIFY", "KEY-ENCD"], &l, &wrong)
            .expect("4/1 is not an error")
    );
    let (zero, _) = cca
        .key_test_extended_generate(&["GENERATE", "KEY-ENCD", "ENC-ZERO"], &l, &[0; 64])
        .expect("KYTX");
    let (clear, _) = cca
        .key_test_generate(&["GENERATE", "KEY-CLRD", "ENC-ZERO"], &expected)
        .expect("KYT clear");
    assert_eq!(zero, clear);
    assert!(
        cca.key_test_extended_verify(&["VERIFY", "KEY-ENCD", "ENC-ZERO"], &l, &zero, &[0; 64])
            .expect("KYTX VERIFY")
    );

    // Errors come back as IBM's codes.
    let err = cca
        .key_part_import(&["COMPLETE"], &[], &l)
        .expect_err("already complete");
    assert_eq!(err.codes, Codes::new(8, 39));
    let err = cca
        .key_part_import(&["FIRST"], &p1, &label("NO.SUCH.KEY"))
        .expect_err("no record");
    assert_eq!(err.codes, Codes::new(8, 30));
}

#[test]
fn key_token_change_updates_a_labelled_record() {
    let card = memory_card(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    set_mk(&cca, "SYM-MK", 0x5B, 0xC4);
    let l = label("APP.DATA");
    cca.key_record_create(Family::Des, &l, &[]).expect("create");
    let (old, _) = cca.clear_key_import(&[0x01; 8], &l).expect("CKI");
    let mk2 = set_mk(&cca, "SYM-MK", 0x3D, 0x86);
    let new = cca.key_token_change(&["RTCMK"], &l).expect("KTC");
    assert_ne!(new, old);
    assert_eq!(cca.key_record_read(Family::Des, &l).expect("read"), new);
    assert_eq!(clear_of(&mk2, &new), vec![0x01; 8]);
    let err = cca.key_token_change(&["RTXMK"], &l).expect_err("keyword");
    assert_eq!(err.codes, Codes::new(8, 33));
}

/// The master keys change; `reencipher_key_storage` moves every record to the new ones, a
/// second run finds them all current, and every key is still the same key.
#[test]
fn reencipher_key_storage_after_a_master_key_change() {
    let card = memory_card(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    set_mk(&cca, "SYM-MK", 0x5B, 0xC4);
    set_mk(&cca, "AES-MK", 0x11, 0x22);
    let null = [0u8; 64];
    let mut des_keys = Vec::new();
    for (i, name) in ["DES.ONE", "DES.TWO", "DES.THREE"].iter().enumerate() {
        let clear = vec![0x10 + 2 * i as u8 + 1; 16];
        let (t, _) = cca
            .multiple_clear_key_import(&["DES"], &clear, &null)
            .expect("CKM");
        cca.key_record_create(Family::Des, &label(name), &t)
            .expect("create");
        des_keys.push((label(name), clear));
    }
    let (aes, _) = cca
        .multiple_clear_key_import(&["AES"], &[0x42; 32], &null)
        .expect("CKM AES");
    cca.key_record_create(Family::Aes, &label("AES.ONE"), &aes)
        .expect("create");
    cca.key_record_create(Family::Des, &label("DES.EMPTY"), &[])
        .expect("create");
    // A variable-length HMAC key (Key_Token_Change2 re-wraps it).
    let skeleton = cca
        .key_token_build2(&["INTERNAL", "HMAC", "MAC", "GENERATE"], &[], &[], &[], 725)
        .expect("CSNBKTB2");
    let (hmac_key, _) = cca
        .key_generate2(&["HMAC", "OP"], 256, "TOKEN", &skeleton)
        .expect("CSNBKGN2");
    cca.key_record_create(Family::Aes, &label("HMAC.ONE"), &hmac_key)
        .expect("create");
    let mac_before = cca
        .hmac_generate(&["HMAC", "SHA-256"], &hmac_key, b"text", &mut [0; 128], 32)
        .expect("CSNBHMG")
        .0;

    let mk2 = set_mk(&cca, "SYM-MK", 0x3D, 0x86);
    let amk2 = set_mk(&cca, "AES-MK", 0x33, 0x44);
    // One record already re-enciphered, as after an interrupted run.
    cca.key_token_change(&["RTCMK"], &label("DES.TWO"))
        .expect("KTC");

    let report = cca.reencipher_key_storage().expect("reencipher");
    assert_eq!(
        report.changed,
        [
            "DES:DES.ONE",
            "DES:DES.THREE",
            "AES:AES.ONE",
            "AES:HMAC.ONE"
        ]
    );
    assert_eq!(report.already_current, ["DES:DES.TWO"]);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].0, "DES:DES.EMPTY");
    assert!(report.failed.is_empty());

    for (l, clear) in &des_keys {
        let t = cca.key_record_read(Family::Des, l).expect("read");
        let DesToken::Internal(it) = DesToken::parse(&t).expect("parses") else {
            panic!("internal");
        };
        assert_eq!(it.mkvp, verification_pattern(Class::Sym, &mk2));
        assert_eq!(&clear_of(&mk2, &t), clear);
    }
    let t = cca
        .key_record_read(Family::Aes, &label("AES.ONE"))
        .expect("read");
    let AesToken::Internal(at) = AesToken::parse(&t).expect("parses") else {
        panic!("internal");
    };
    let (k, _) = wrap::unwrap_aes(&at, Some(&amk2), None).expect("under the new AES MK");
    assert_eq!(k.expose(), &[0x42; 32]);

    let hmac_key = cca
        .key_record_read(Family::Aes, &label("HMAC.ONE"))
        .expect("read");
    assert_eq!(
        &hmac_key[10..18],
        &verification_pattern(Class::Aes, &amk2),
        "the HMAC token carries the new AES MKVP"
    );
    let (mac_after, codes) = cca
        .hmac_generate(&["HMAC", "SHA-256"], &hmac_key, b"text", &mut [0; 128], 32)
        .expect("CSNBHMG after");
    assert_eq!(
        (mac_after, codes),
        (mac_before, Codes::new(0, 0)),
        "same key, current MK"
    );

    let again = cca.reencipher_key_storage().expect("second run");
    assert!(again.changed.is_empty());
    assert_eq!(again.already_current.len(), 5);

    // Two more SETs without re-enciphering: the DES records are under neither CURRENT nor
    // OLD any more, and each is reported with 8/24 (the AES record is still current).
    set_mk(&cca, "SYM-MK", 0x17, 0x28);
    set_mk(&cca, "SYM-MK", 0x71, 0x82);
    let lost = cca.reencipher_key_storage().expect("third run");
    assert_eq!(lost.failed.len(), 3);
    assert!(lost.failed.iter().all(|(_, c)| *c == Codes::new(8, 24)));
}

/// Key_Test's clear-key rules put a clear key in `key_identifier`: a 64-byte field that
/// starts with a printable byte is then a key, not a label, and no key storage is needed.
#[test]
fn a_clear_key_in_a_64_byte_field_is_not_a_label() {
    let card = memory_card(6);
    let cca = Cca::with_card(Arc::clone(&card));
    let mut field = [0u8; 64];
    field[..8].copy_from_slice(&hex_key());
    field[0] = 0x43; // 'C': a label's first character
    let (v, codes) = cca
        .key_test_generate(&["GENERATE", "KEY-CLR", "ENC-ZERO"], &field)
        .expect("a clear key");
    assert_eq!(codes, Codes::new(0, 0));
    let (w, _) = cca
        .key_test_generate(&["GENERATE", "KEY-CLR", "ENC-ZERO"], &field[..8])
        .expect("the same key, 8 bytes");
    assert_eq!(v, w);
    // With a token rule, the same field is a label, and this handle has no key storage.
    let err = cca
        .key_test_generate(&["GENERATE", "KEY-ENC"], &field)
        .expect_err("a label needs key storage");
    assert_eq!(err.codes, Codes::new(12, 338));
}

fn hex_key() -> [u8; 8] {
    [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]
}
