//! The host library's key-token and key-transport methods against an embedded card: the
//! parameter blocks they build are the ones the card expects, the opencryptoki AES sequence
//! works, and key labels are resolved (and written back) where IBM accepts them.

use std::sync::Arc;

use softcca_card::mk::{Class, MasterKey, verification_pattern};
use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::aes::{AesMaterial, AesToken};
use softcca_card::tokens::des::DesToken;
use softcca_card::tokens::wrap;
use softcca_card::{Card, Codes, Model};
use softcca_host::{Cca, Family};

const NULL: [u8; 64] = [0; 64];

fn memory_card(seed: u64) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    )
}

fn odd_parity(v: u8) -> u8 {
    if v.count_ones() % 2 == 1 { v } else { v ^ 1 }
}

/// Loads SYM and AES master keys from known parts; returns them as the card holds them.
fn load_master_keys(card: &Arc<Card>, cca: &Cca) -> (MasterKey, MasterKey) {
    let sym1: Vec<u8> = (0..24u8)
        .map(|i| odd_parity(i.wrapping_mul(37) ^ 0x5B))
        .collect();
    let sym2: Vec<u8> = (0..24u8)
        .map(|i| odd_parity(i.wrapping_mul(91) ^ 0xC4))
        .collect();
    let aes1: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(13) ^ 0x21).collect();
    let aes2: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(71) ^ 0x9A).collect();
    for (class, p1, p2) in [("SYM-MK", &sym1, &sym2), ("AES-MK", &aes1, &aes2)] {
        cca.master_key_process(&[class, "FIRST"], p1)
            .expect("FIRST");
        cca.master_key_process(&[class, "LAST"], p2).expect("LAST");
        cca.master_key_process(&[class, "SET"], &[]).expect("SET");
    }
    let sym = MasterKey::from_bytes(
        &sym1
            .iter()
            .zip(&sym2)
            .map(|(a, b)| odd_parity(a ^ b))
            .collect::<Vec<_>>(),
    );
    let aes = MasterKey::from_bytes(
        &aes1
            .iter()
            .zip(&aes2)
            .map(|(a, b)| a ^ b)
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        card.verification_patterns(Class::Sym)[1],
        Some(verification_pattern(Class::Sym, &sym))
    );
    assert_eq!(
        card.verification_patterns(Class::Aes)[1],
        Some(verification_pattern(Class::Aes, &aes))
    );
    (sym, aes)
}

fn des_clear(mk: &MasterKey, token: &[u8]) -> Vec<u8> {
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
fn opencryptoki_aes_key_generation() {
    let card = memory_card(21);
    let cca = Cca::with_card(Arc::clone(&card));
    let (_, aes_mk) = load_master_keys(&card, &cca);
    for (keyln, length, bytes) in [("KEYLN32", "", 32), ("KEYLN16", "KEYLN16", 16)] {
        let (skeleton, codes) = cca
            .key_token_build(
                &["INTERNAL", "AES", "NO-KEY", keyln],
                "AESTOKEN",
                &[],
                &[],
                &[],
            )
            .expect("CSNBKTB");
        assert_eq!(codes, Codes::new(0, 0));
        let (token, _, codes) = cca
            .key_generate(
                "OP",
                length,
                ["AESTOKEN", ""],
                [&NULL, &NULL],
                [&skeleton, &NULL],
            )
            .expect("CSNBKGN");
        assert_eq!(codes, Codes::new(0, 0));
        let AesToken::Internal(t) = AesToken::parse(&token).expect("parses") else {
            panic!("internal AES token expected");
        };
        assert!(matches!(t.material, AesMaterial::Encrypted { .. }));
        let (key, _) =
            wrap::unwrap_aes(&t, Some(&aes_mk), None).expect("the card's AES MK deciphers it");
        assert_eq!(key.expose().len(), bytes);
        let parts = cca.key_token_parse(&token).expect("CSNBKTP");
        assert_eq!(parts.key_type, "DATA");
        assert_eq!(parts.keywords, ["INTERNAL", "KEY", "AES", keyln]);
    }
}

#[test]
fn des_keys_generated_exported_imported_and_parsed() {
    let card = memory_card(22);
    let cca = Cca::with_card(Arc::clone(&card));
    let (mk, _) = load_master_keys(&card, &cca);
    let (importer, exporter, _) = cca
        .key_generate(
            "OPOP",
            "",
            ["IMPORTER", "EXPORTER"],
            [&NULL, &NULL],
            [&NULL, &NULL],
        )
        .expect("KEK pair");
    let (op, ex, codes) = cca
        .key_generate(
            "OPEX",
            "DOUBLE",
            ["CIPHER", "CIPHER"],
            [&NULL, &exporter],
            [&NULL, &NULL],
        )
        .expect("OPEX");
    assert_eq!(codes, Codes::new(0, 0));
    let (imported, _) = cca
        .key_import("TOKEN", &ex, &importer, &NULL)
        .expect("CSNBKIM");
    assert_eq!(des_clear(&mk, &imported), des_clear(&mk, &op));
    let (exported, _) = cca.key_export("CIPHER", &op, &exporter).expect("CSNBKEX");
    let (again, _) = cca
        .key_import("CIPHER", &exported, &importer, &NULL)
        .expect("CSNBKIM");
    assert_eq!(des_clear(&mk, &again), des_clear(&mk, &op));

    let parts = cca.key_token_parse(&op).expect("CSNBKTP");
    assert_eq!(parts.key_type, "CIPHER");
    assert_eq!(parts.keywords[..3], ["INTERNAL", "KEY", "DOUBLE"]);
    assert_eq!(parts.control_vector, op[32..48].to_vec());
    assert_eq!(parts.master_key_verification_pattern, op[8..16].to_vec());
    assert_eq!(parts.token_validation_value, op[60..].to_vec());

    // Key separation shows through the library as IBM's codes.
    let err = cca
        .key_import("TOKEN", &ex, &exporter, &NULL)
        .expect_err("EXPORTER cannot import");
    assert_eq!(err.codes, Codes::new(8, 39));
    let err = cca
        .key_translate(&ex, &importer, &exporter)
        .expect_err("no XLATE bit");
    assert_eq!(err.codes, Codes::new(8, 39));
    let err = cca
        .key_generate(
            "OPEX",
            "",
            ["DATA", "MAC"],
            [&NULL, &exporter],
            [&NULL, &NULL],
        )
        .expect_err("a pair IBM refuses");
    assert_eq!(err.codes, Codes::new(8, 34));
    let err = cca
        .key_token_build(&["INTERNAL"], "NINECHARS", &[], &[], &[])
        .expect_err("long keyword");
    assert_eq!(err.codes, Codes::new(8, 33));

    // Translate between XLATE transport keys.
    let (ik, _ok, _) = cca
        .key_generate(
            "OPOP",
            "",
            ["IKEYXLAT", "OKEYXLAT"],
            [&NULL, &NULL],
            [&NULL, &NULL],
        )
        .expect("XLATE pair");
    let err = cca
        .key_generate("OPIM", "", ["MAC", "MAC"], [&NULL, &ik], [&NULL, &NULL])
        .expect_err("IKEYXLAT has no OPIM bit");
    assert_eq!(err.codes, Codes::new(8, 39));
    let (_, ok2, _) = cca
        .key_generate(
            "OPOP",
            "",
            ["IKEYXLAT", "OKEYXLAT"],
            [&NULL, &NULL],
            [&NULL, &NULL],
        )
        .expect("second XLATE pair");
    // A partner node sent a MAC key under the key this node holds as IKEYXLAT `ik`.
    let kek_in = softcca_card::tokens::ClearKey::new(&des_clear(&mk, &ik));
    let (l, r) =
        softcca_card::tokens::cv::default_cv("MAC", softcca_card::tokens::KeyLength::Double)
            .expect("MAC CV");
    let mac_key = [0x2Au8; 16];
    let sent = DesToken::External(
        wrap::wrap_under_kek(
            &kek_in,
            &mac_key,
            l,
            r,
            softcca_card::tokens::KeyLength::Double,
        )
        .expect("wraps"),
    )
    .to_bytes();
    let (moved, codes) = cca.key_translate(&sent, &ik, &ok2).expect("CSNBKTR");
    assert_eq!(codes, Codes::new(0, 0));
    let DesToken::External(e) = DesToken::parse(&moved).expect("parses") else {
        panic!("external token expected");
    };
    let kek_out = softcca_card::tokens::ClearKey::new(&des_clear(&mk, &ok2));
    assert_eq!(
        wrap::unwrap_under_kek(&e, &kek_out)
            .expect("unwraps")
            .expose(),
        mac_key
    );
}

#[test]
fn key_labels_in_generate_export_import_and_parse() {
    let card = memory_card(23);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    let (mk, _) = load_master_keys(&card, &cca);
    let label = |name: &str| {
        let mut l = [b' '; 64];
        l[..name.len()].copy_from_slice(name.as_bytes());
        l
    };
    let (imp_l, exp_l, key_l, back_l) = (
        label("APP.IMPORTER"),
        label("APP.EXPORTER"),
        label("APP.CIPHER"),
        label("APP.BACK"),
    );
    for l in [&imp_l, &exp_l, &key_l, &back_l] {
        cca.key_record_create(Family::Des, l, &[]).expect("CSNBKRC");
    }
    // Generated keys land in the labelled records.
    let (imp, exp, _) = cca
        .key_generate(
            "OPOP",
            "",
            ["IMPORTER", "EXPORTER"],
            [&NULL, &NULL],
            [&imp_l, &exp_l],
        )
        .expect("KGN into records");
    assert_eq!(cca.key_record_read(Family::Des, &imp_l).expect("read"), imp);
    assert_eq!(cca.key_record_read(Family::Des, &exp_l).expect("read"), exp);
    let (op, _, _) = cca
        .key_generate(
            "OP",
            "DOUBLE",
            ["CIPHER", ""],
            [&NULL, &NULL],
            [&key_l, &NULL],
        )
        .expect("KGN OP into a record");
    // Export by labels, import into a labelled record.
    let (ext, _) = cca
        .key_export("TOKEN", &key_l, &exp_l)
        .expect("KEX by labels");
    let (back, _) = cca
        .key_import("TOKEN", &ext, &imp_l, &back_l)
        .expect("KIM by labels");
    assert_eq!(
        cca.key_record_read(Family::Des, &back_l).expect("read"),
        back
    );
    assert_eq!(des_clear(&mk, &back), des_clear(&mk, &op));
    // External tokens through Key_Generate's KEK labels.
    let (_, ex_copy, _) = cca
        .key_generate(
            "OPEX",
            "",
            ["DATA", "DATA"],
            [&NULL, &exp_l],
            [&NULL, &NULL],
        )
        .expect("OPEX with a KEK label");
    assert_eq!(ex_copy[0], 0x02);
    // Key_Token_Parse takes no label (IBM: "You cannot use a key label for a key-token record
    // in key storage"): the label reaches the card as it is and is no token. The record's
    // token, read first, parses.
    let err = cca.key_token_parse(&key_l).expect_err("KTP by label");
    assert_eq!(err.codes, Codes::new(8, 47));
    let parts = cca
        .key_token_parse(&cca.key_record_read(Family::Des, &key_l).expect("CSNBKRR"))
        .expect("KTP of the record's token");
    assert_eq!(parts.key_type, "CIPHER");
    // A label with no record: 8/30; a malformed one: 8/32.
    let err = cca
        .key_export("TOKEN", &label("APP.NONE"), &exp_l)
        .expect_err("no record");
    assert_eq!(err.codes, Codes::new(8, 30));
    let err = cca
        .key_import("TOKEN", &ext, &label("9BAD"), &NULL)
        .expect_err("bad label");
    assert_eq!(err.codes, Codes::new(8, 32));
}
