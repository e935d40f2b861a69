//! The host library's data-encipherment and MAC methods (Encipher, Decipher, MAC_Generate,
//! MAC_Verify, Symmetric_Algorithm_Encipher/Decipher) against an embedded card: the parameter
//! blocks they build are the ones the card expects, and key labels are resolved from DES or
//! AES key storage.

use std::sync::Arc;

use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Codes, Model};
use softcca_host::{Cca, Family, SymmetricRequest};

fn memory_card(seed: u64) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    )
}

fn load_master_keys(cca: &Cca) {
    for (class, len) in [("SYM-MK", 24), ("AES-MK", 32)] {
        cca.master_key_process(&[class, "FIRST"], &vec![0x5B; len])
            .expect("FIRST");
        cca.master_key_process(&[class, "LAST"], &vec![0xC4; len])
            .expect("LAST");
        cca.master_key_process(&[class, "SET"], &[]).expect("SET");
    }
}

const CHAIN: [u8; 18] = [0; 18];

#[test]
fn des_data_and_macs_through_the_host_library() {
    let cca = Cca::with_card(memory_card(3));
    load_master_keys(&cca);
    let (key, _) = cca
        .multiple_clear_key_import(&[], &[0x01; 16], &[0; 64])
        .expect("CSNBCKM");
    let text = b"sixteen byte msg and a tail";
    let iv = [0x11; 8];
    let e = cca
        .encipher(&key, text, &iv, &["X9.23"], 0, &CHAIN)
        .expect("CSNBENC");
    assert_eq!(e.codes, Codes::new(0, 0));
    assert_eq!(e.text.len(), 32);
    assert_eq!(e.chaining_vector.len(), 18);
    let d = cca
        .decipher(&key, &e.text, &iv, &["X9.23", "INITIAL"], &CHAIN)
        .expect("CSNBDEC");
    assert_eq!(d.text, text.to_vec());
    assert_eq!(d.chaining_vector, e.chaining_vector);

    let err = cca
        .encipher(&key, &text[..7], &iv, &["CBC"], 0, &CHAIN)
        .expect_err("CBC needs whole blocks");
    assert_eq!(err.codes, Codes::new(8, 25));

    let m = cca
        .mac_generate(&key, text, &["X9.19OPT", "MACLEN8"], &CHAIN)
        .expect("CSNBMGN");
    assert_eq!(m.mac.len(), 8);
    let (_, codes) = cca
        .mac_verify(&key, text, &["MACLEN8"], &CHAIN, &m.mac)
        .expect("CSNBMVR");
    assert_eq!(codes, Codes::new(0, 0));
    let (_, codes) = cca
        .mac_verify(&key, &text[1..], &["MACLEN8"], &CHAIN, &m.mac)
        .expect("CSNBMVR completes");
    assert_eq!(codes, Codes::new(4, 1), "a MAC that does not verify");
    let first = cca
        .mac_generate(&key, &text[..16], &["FIRST", "MACLEN8"], &CHAIN)
        .expect("FIRST");
    assert!(first.mac.is_empty());
    let last = cca
        .mac_generate(
            &key,
            &text[16..],
            &["LAST", "MACLEN8"],
            &first.chaining_vector,
        )
        .expect("LAST");
    assert_eq!(last.mac, m.mac);
}

#[test]
fn aes_through_the_host_library() {
    let cca = Cca::with_card(memory_card(4));
    load_master_keys(&cca);
    let (token, _) = cca
        .multiple_clear_key_import(&["AES"], &[0x02; 32], &[0; 64])
        .expect("CSNBCKM AES");
    let text = b"some text, not a multiple of sixteen";
    let req = SymmetricRequest {
        rule_array: &["AES", "GCM", "KEYIDENT", "ONLY"],
        key_identifier: &token,
        key_parms_length: 16,
        key_parms: &[],
        block_size: 16,
        initialization_vector: &[0x33; 12],
        chain_data: &[],
        text,
        output_length: 64,
        optional_data: b"header",
    };
    let sealed = cca.symmetric_algorithm_encipher(&req).expect("CSNBSAE GCM");
    assert_eq!(sealed.key_parms.len(), 16);
    assert_eq!(sealed.text.len(), text.len());
    let open = cca
        .symmetric_algorithm_decipher(&SymmetricRequest {
            key_parms: &sealed.key_parms,
            text: &sealed.text,
            ..req
        })
        .expect("CSNBSAD GCM");
    assert_eq!(open.text, text.to_vec());
    let err = cca
        .symmetric_algorithm_decipher(&SymmetricRequest {
            key_parms: &sealed.key_parms,
            text: &sealed.text,
            optional_data: b"other",
            ..req
        })
        .expect_err("another AAD");
    assert_eq!(err.codes, Codes::new(8, 72));

    // PKCS-PAD with a clear key (KEY-CLR, the default key rule).
    let chain = [0u8; 32];
    let req = SymmetricRequest {
        rule_array: &["AES", "PKCS-PAD"],
        key_identifier: &[0x04; 16],
        key_parms_length: 0,
        key_parms: &[],
        block_size: 16,
        initialization_vector: &[0x05; 16],
        chain_data: &chain,
        text,
        output_length: 48,
        optional_data: &[],
    };
    let ct = cca.symmetric_algorithm_encipher(&req).expect("CSNBSAE");
    assert_eq!(ct.text.len(), 48);
    assert_eq!(&ct.chain_data[..16], &ct.text[32..]);
    let pt = cca
        .symmetric_algorithm_decipher(&SymmetricRequest {
            text: &ct.text,
            ..req
        })
        .expect("CSNBSAD");
    assert_eq!(pt.text, text.to_vec());
}

/// Key labels in place of the key tokens: DES storage for ENC/DEC/MGN/MVR, AES storage for
/// SAE/SAD.
#[test]
fn data_verbs_with_key_labels() {
    let card = memory_card(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    load_master_keys(&cca);
    let mut label = [b' '; 64];
    label[..12].copy_from_slice(b"APP.DATA.KEY");

    let err = cca
        .encipher(&label, &[0; 8], &[0; 8], &[], 0, &CHAIN)
        .expect_err("no record");
    assert_eq!(err.codes, Codes::new(8, 30));

    let (des, _) = cca
        .multiple_clear_key_import(&[], &[0x01; 8], &[0; 64])
        .expect("CSNBCKM");
    cca.key_record_create(Family::Des, &label, &des)
        .expect("DES record");
    let by_label = cca
        .encipher(&label, &[9; 16], &[0; 8], &[], 0, &CHAIN)
        .expect("ENC by label");
    let by_token = cca
        .encipher(&des, &[9; 16], &[0; 8], &[], 0, &CHAIN)
        .expect("ENC by token");
    assert_eq!(by_label, by_token);
    let d = cca
        .decipher(&label, &by_label.text, &[0; 8], &[], &CHAIN)
        .expect("DEC by label");
    assert_eq!(d.text, vec![9; 16]);
    let m = cca
        .mac_generate(&label, &[1; 8], &[], &CHAIN)
        .expect("MGN by label");
    let (_, codes) = cca
        .mac_verify(&label, &[1; 8], &[], &CHAIN, &m.mac)
        .expect("MVR by label");
    assert_eq!(codes, Codes::new(0, 0));

    let (aes, _) = cca
        .multiple_clear_key_import(&["AES"], &[0x02; 16], &[0; 64])
        .expect("CSNBCKM AES");
    cca.key_record_create(Family::Aes, &label, &aes)
        .expect("AES record");
    let req = SymmetricRequest {
        rule_array: &["AES", "ECB", "KEYIDENT"],
        key_identifier: &label,
        key_parms_length: 0,
        key_parms: &[],
        block_size: 16,
        initialization_vector: &[],
        chain_data: &[],
        text: &[7; 32],
        output_length: 32,
        optional_data: &[],
    };
    let by_label = cca
        .symmetric_algorithm_encipher(&req)
        .expect("SAE by label");
    let by_token = cca
        .symmetric_algorithm_encipher(&SymmetricRequest {
            key_identifier: &aes,
            ..req
        })
        .expect("SAE by token");
    assert_eq!(by_label, by_token);
    let back = cca
        .symmetric_algorithm_decipher(&SymmetricRequest {
            text: &by_label.text,
            ..req
        })
        .expect("SAD by label");
    assert_eq!(back.text, vec![7; 32]);
}

/// A CBC/ECB request for `key` over `text`, chained from `chain`.
fn sae<'a>(
    key: &'a [u8],
    rules: &'a [&'a str],
    chain: &'a [u8],
    text: &'a [u8],
) -> SymmetricRequest<'a> {
    SymmetricRequest {
        rule_array: rules,
        key_identifier: key,
        key_parms_length: 0,
        key_parms: &[],
        block_size: 16,
        initialization_vector: &[0x11; 16],
        chain_data: chain,
        text,
        output_length: 64,
        optional_data: &[],
    }
}

/// Variable-length AES CIPHER keys (CSNBKTB2 + CSNBKGN2) encipher through CSNBSAE/CSNBSAD as
/// their key-usage fields allow: direction and mode are enforced (8/39), and a label of AES
/// key storage holding such a token works.
#[test]
fn variable_length_cipher_keys_in_symmetric_algorithm_verbs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cca = Cca::with_card(memory_card(11))
        .with_key_store(softcca_host::KeyStore::open(dir.path()).expect("key storage"));
    load_master_keys(&cca);
    let generate = |usage: &[&str]| {
        let mut rules = vec!["INTERNAL", "AES", "CIPHER"];
        rules.extend_from_slice(usage);
        let skeleton = cca
            .key_token_build2(&rules, &[], &[], &[], 725)
            .expect("CSNBKTB2");
        cca.key_generate2(&["AES", "OP"], 256, "TOKEN", &skeleton)
            .expect("CSNBKGN2")
            .0
    };
    let both = generate(&[]);
    let encrypt_only = generate(&["ENCRYPT"]);
    let ecb_only = generate(&["ECB"]);
    let chain = [0u8; 32];
    let text = [0x5Au8; 64];
    let cbc = &["AES", "CBC", "KEYIDENT"];

    let sealed = cca
        .symmetric_algorithm_encipher(&sae(&both, cbc, &chain, &text))
        .expect("CSNBSAE with an X'05' CIPHER key");
    let open = cca
        .symmetric_algorithm_decipher(&sae(&both, cbc, &chain, &sealed.text))
        .expect("CSNBSAD with the same key");
    assert_eq!(open.text, text.to_vec());

    // ENCRYPT only: enciphers, cannot decipher.
    let sealed = cca
        .symmetric_algorithm_encipher(&sae(&encrypt_only, cbc, &chain, &text))
        .expect("ENCRYPT key enciphers");
    let err = cca
        .symmetric_algorithm_decipher(&sae(&encrypt_only, cbc, &chain, &sealed.text))
        .expect_err("ENCRYPT-only key deciphers");
    assert_eq!(err.codes, Codes::new(8, 39));

    // ECB only: CBC is refused, ECB works.
    let err = cca
        .symmetric_algorithm_encipher(&sae(&ecb_only, cbc, &chain, &text))
        .expect_err("ECB-only key in CBC");
    assert_eq!(err.codes, Codes::new(8, 39));
    cca.symmetric_algorithm_encipher(&sae(&ecb_only, &["AES", "ECB", "KEYIDENT"], &chain, &text))
        .expect("ECB-only key in ECB");

    // From AES key storage by label.
    let mut label = [b' '; 64];
    label[..10].copy_from_slice(b"APP.CIPHER");
    cca.key_record_create(Family::Aes, &label, &both)
        .expect("CSNBAKRC");
    let by_label = cca
        .symmetric_algorithm_encipher(&sae(&label, cbc, &chain, &text))
        .expect("CSNBSAE by label");
    let by_token = cca
        .symmetric_algorithm_encipher(&sae(&both, cbc, &chain, &text))
        .expect("CSNBSAE by token");
    assert_eq!(by_label.text, by_token.text);
}
