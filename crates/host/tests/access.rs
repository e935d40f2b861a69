//! The host library's facility queries that answer in verb data (STATICSB, DOM-NUMS,
//! DOM-USAG) and its Access_Control_Maintenance methods, against an embedded card and a
//! card in a state directory (the role table is there again after a restart).

use std::sync::Arc;

use softcca_card::mk::Class;
use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Codes, Model};
use softcca_host::Cca;

fn memory_card(seed: u64, model: Model) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(Card::power_on(platform, Some(model)).expect("power on").0)
}

#[test]
fn staticsb_through_the_host_matches_the_card_and_a_token() {
    let card = memory_card(1, Model::Ibm4769);
    let cca = Cca::with_card(Arc::clone(&card));
    let empty = cca.master_key_verification_patterns().expect("STATICSB");
    assert_eq!(empty.raw.len(), 240);
    assert_eq!(empty.aes.current, [0; 8]);
    for class in ["AES-MK", "APKA-MK"] {
        cca.master_key_process(&[class, "FIRST"], &[0x11; 32])
            .expect("FIRST");
        cca.master_key_process(&[class, "LAST"], &[0x22; 32])
            .expect("LAST");
        cca.master_key_process(&[class, "SET"], &[]).expect("SET");
    }
    let s = cca.master_key_verification_patterns().expect("STATICSB");
    assert_eq!(
        Some(s.aes.current),
        card.verification_patterns(Class::Aes)[1]
    );
    assert_eq!(
        Some(s.apka.current),
        card.verification_patterns(Class::Apka)[1]
    );
    assert_eq!(s.sym, Default::default(), "SYM not loaded");
    // An AES token carries the same pattern at offset 8.
    let (token, _) = cca
        .multiple_clear_key_import(&["AES"], &[7; 32], &[0; 64])
        .expect("CSNBCKM AES");
    assert_eq!(&token[8..16], &s.aes.current);
    // Too small a buffer: IBM's 8/72.
    let e = cca
        .cryptographic_facility_query_data(&["STATICSB"], 239)
        .expect_err("too small");
    assert_eq!(e.codes, Codes::new(8, 72));
}

#[test]
fn domains() {
    let cca = Cca::with_card(memory_card(2, Model::Ibm4767));
    assert_eq!(cca.domain_count().expect("DOM-NUMS"), 1);
    assert_eq!(cca.usage_domains().expect("DOM-USAG"), vec![0]);
}

#[test]
fn roles_through_the_host_and_after_a_restart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for round in 0..2 {
        let cca = Cca::embedded(dir.path(), Some(Model::Ibm4769)).expect("embedded card");
        assert_eq!(
            cca.list_roles().expect("LSTROLES"),
            vec![*b"DEFAULT "],
            "round {round}"
        );
        let role = cca.get_role("DEFAULT").expect("GET-ROLE");
        assert_eq!(&role[..2], &[1, 1]);
        assert_eq!(role[28], 0xFE, "every day");
        assert_eq!(
            cca.get_role("ADMIN").expect_err("no such role").codes,
            Codes::new(8, 772)
        );
        assert_eq!(
            cca.get_role("DEFAULTXX").expect_err("too long").codes,
            Codes::new(8, 772)
        );
        let counts = cca
            .access_control_maintenance("Q-NUM-RP", &[], 8)
            .expect("Q-NUM-RP");
        assert_eq!(counts, [0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(
            cca.access_control_maintenance("GET-ROLE", b"DEFAULT ", 6)
                .expect_err("not a multiple of 4")
                .codes,
            Codes::new(8, 72)
        );
    }
}
