//! The host library's Clear_Key_Import and Multiple_Clear_Key_Import methods against an
//! embedded card: the parameter blocks they build are the ones the card expects.

use std::sync::Arc;

use softcca_card::mk::Class;
use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::aes::AesToken;
use softcca_card::tokens::des::DesToken;
use softcca_card::{Card, Codes, Model};
use softcca_host::Cca;

fn memory_card(seed: u64) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    )
}

#[test]
fn clear_key_imports_through_the_host_library() {
    let card = memory_card(7);
    let cca = Cca::with_card(Arc::clone(&card));
    let null = [0u8; 64];
    let err = cca
        .clear_key_import(&[0x01; 8], &null)
        .expect_err("no master key yet");
    assert_eq!(err.codes, Codes::new(12, 764));

    for class in ["SYM-MK", "AES-MK"] {
        let len = if class == "SYM-MK" { 24 } else { 32 };
        cca.master_key_process(&[class, "RANDOM"], &[])
            .or_else(|_| {
                cca.master_key_process(&[class, "FIRST"], &vec![0x5B; len])?;
                cca.master_key_process(&[class, "LAST"], &vec![0xC4; len])
            })
            .expect("a new master key");
        cca.master_key_process(&[class, "SET"], &[]).expect("SET");
    }

    let (token, codes) = cca.clear_key_import(&[0x01; 8], &null).expect("CSNBCKI");
    assert_eq!(codes, Codes::new(0, 0));
    let DesToken::Internal(t) = DesToken::parse(&token).expect("parses") else {
        panic!("internal DES token expected");
    };
    assert_eq!(Some(t.mkvp), card.verification_patterns(Class::Sym)[1]);

    let (_, codes) = cca
        .multiple_clear_key_import(&["DES"], &[0x03; 16], &null)
        .expect("CSNBCKM DES");
    assert_eq!(codes, Codes::new(0, 2), "0x03 bytes lack odd parity");

    let (token, codes) = cca
        .multiple_clear_key_import(&["AES"], &[0x02; 32], &null)
        .expect("CSNBCKM AES");
    assert_eq!(codes, Codes::new(0, 0));
    assert!(matches!(
        AesToken::parse(&token).expect("parses"),
        AesToken::Internal(_)
    ));
}

/// A key label in place of the target token: the host library reads the record, the card
/// fills the token, and the library writes it back to the record.
#[test]
fn clear_key_import_into_a_labelled_record() {
    let card = memory_card(9);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    for (class, len) in [("SYM-MK", 24), ("AES-MK", 32)] {
        cca.master_key_process(&[class, "FIRST"], &vec![0x5B; len])
            .expect("FIRST");
        cca.master_key_process(&[class, "LAST"], &vec![0xC4; len])
            .expect("LAST");
        cca.master_key_process(&[class, "SET"], &[]).expect("SET");
    }
    let mut label = [b' '; 64];
    label[..12].copy_from_slice(b"APP.DATA.KEY");

    // No record yet: 8/30, and nothing is created.
    let err = cca
        .clear_key_import(&[0x01; 8], &label)
        .expect_err("no record");
    assert_eq!(err.codes, Codes::new(8, 30));

    use softcca_host::Family;
    cca.key_record_create(Family::Des, &label, &[])
        .expect("CSNBKRC");
    let (token, _) = cca.clear_key_import(&[0x01; 8], &label).expect("CSNBCKI");
    assert_eq!(
        cca.key_record_read(Family::Des, &label).expect("read"),
        token,
        "the record holds the new token"
    );

    // AES goes to AES key storage.
    cca.key_record_create(Family::Aes, &label, &[])
        .expect("CSNBAKRC");
    let (token, _) = cca
        .multiple_clear_key_import(&["AES"], &[0x02; 16], &label)
        .expect("CSNBCKM AES");
    assert_eq!(
        cca.key_record_read(Family::Aes, &label).expect("read"),
        token
    );

    // A badly formed label: 8/32, nothing reaches the card.
    let mut bad = [b' '; 64];
    bad[..9].copy_from_slice(b"9BAD.NAME");
    let err = cca
        .clear_key_import(&[0x01; 8], &bad)
        .expect_err("bad label");
    assert_eq!(err.codes, Codes::new(8, 32));
}

/// A verb that fails leaves the labelled record as it was: the write-back happens only after
/// the card completed the verb.
#[test]
fn a_failed_verb_does_not_touch_the_record() {
    use softcca_host::Family;
    let card = memory_card(10);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    cca.master_key_process(&["SYM-MK", "FIRST"], &[0x5B; 24])
        .expect("FIRST");
    cca.master_key_process(&["SYM-MK", "LAST"], &[0xC4; 24])
        .expect("LAST");
    cca.master_key_process(&["SYM-MK", "SET"], &[])
        .expect("SET");
    let mut label = [b' '; 64];
    label[..8].copy_from_slice(b"APP.KEY1");
    let (mut token, _) = cca.clear_key_import(&[0x01; 8], &[0; 64]).expect("CSNBCKI");
    token[20] ^= 0x01; // the TVV no longer matches
    cca.key_record_create(Family::Des, &label, &token)
        .expect("CSNBKRC");
    let err = cca
        .clear_key_import(&[0x01; 8], &label)
        .expect_err("damaged token in the record");
    assert_eq!(err.codes, Codes::new(8, 29));
    assert_eq!(
        cca.key_record_read(Family::Des, &label).expect("read"),
        token,
        "the record is unchanged"
    );
}
