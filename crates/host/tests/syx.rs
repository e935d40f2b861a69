//! The host library's Symmetric_Key_Export/Import methods (verbs_syx.rs) against an embedded
//! card: DES and AES keys exported under an RSA key and imported again, with the symmetric
//! keys and the RSA key named by labels in DES, AES and PKA key storage.

use std::sync::Arc;

use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Codes, Model};
use softcca_host::{Cca, Family, PkaBuildExtras};

fn memory_card(seed: u64) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    )
}

fn load_master_keys(cca: &Cca) {
    for (class, len) in [("SYM-MK", 24), ("AES-MK", 32), ("APKA-MK", 32)] {
        cca.master_key_process(&[class, "FIRST"], &vec![0x5B; len])
            .expect("FIRST");
        cca.master_key_process(&[class, "LAST"], &vec![0xC4; len])
            .expect("LAST");
        cca.master_key_process(&[class, "SET"], &[]).expect("SET");
    }
}

fn skeleton_kvs() -> Vec<u8> {
    let mut k = vec![0u8; 18];
    k[0..2].copy_from_slice(&2048u16.to_be_bytes());
    k[4..6].copy_from_slice(&3u16.to_be_bytes());
    k.extend_from_slice(&[1, 0, 1]);
    k
}

fn label(name: &[u8]) -> [u8; 64] {
    let mut l = [b' '; 64];
    l[..name.len()].copy_from_slice(name);
    l
}

#[test]
fn symmetric_keys_under_an_rsa_key_by_label() {
    let card = memory_card(21);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    load_master_keys(&cca);
    let skeleton = cca
        .pka_key_token_build(
            &["RSA-AESC", "KEY-MGMT"],
            &skeleton_kvs(),
            PkaBuildExtras::default(),
        )
        .expect("CSNDPKB");
    let (rsa, _) = cca
        .pka_key_generate(&["MASTER"], &[], &skeleton, &[0u8; 64])
        .expect("CSNDPKG");
    let public = cca.pka_public_key_extract(&[], &rsa).expect("CSNDPKX");
    let rsa_label = label(b"APP.RSA.KEK");
    cca.key_record_create(Family::Pka, &rsa_label, &rsa)
        .expect("PKA record");

    // DES: the source by label in DES key storage, the target a label whose record is filled.
    let des_label = label(b"APP.DES.KEY");
    cca.key_record_create(Family::Des, &des_label, &[])
        .expect("DES record");
    let (des, _) = cca
        .multiple_clear_key_import(&["DES"], &[0x01; 16], &des_label)
        .expect("CSNBCKM DES");
    let (ct, codes) = cca
        .symmetric_key_export(&["DES", "PKCSOAEP", "SHA-256"], &des_label, &public)
        .expect("CSNDSYX DES");
    assert_eq!((ct.len(), codes), (256, Codes::new(0, 0)));
    let imported_label = label(b"APP.DES.IMPORTED");
    cca.key_record_create(Family::Des, &imported_label, &[])
        .expect("DES record");
    let (token, _) = cca
        .symmetric_key_import(
            &["DES", "PKCSOAEP", "SHA-256"],
            &ct,
            &rsa_label,
            &imported_label,
        )
        .expect("CSNDSYI DES");
    assert_eq!(token, des, "the same key comes back");
    assert_eq!(
        cca.key_record_read(Family::Des, &imported_label)
            .expect("read"),
        des,
        "the record holds the imported token"
    );

    // AES: the labels live in AES key storage when the rule array names AES.
    let aes_label = label(b"APP.AES.KEY");
    cca.key_record_create(Family::Aes, &aes_label, &[])
        .expect("AES record");
    let (aes, _) = cca
        .multiple_clear_key_import(&["AES"], &[0x02; 32], &aes_label)
        .expect("CSNBCKM AES");
    let (ct, _) = cca
        .symmetric_key_export(&["AES", "PKCS-1.2"], &aes_label, &rsa_label)
        .expect("CSNDSYX AES");
    let (token, _) = cca
        .symmetric_key_import(&["AES", "PKCS-1.2"], &ct, &rsa, &[0u8; 64])
        .expect("CSNDSYI AES");
    assert_eq!(token, aes);

    // The one opaque code when the key does not decrypt.
    let mut bad = ct.clone();
    bad[7] ^= 1;
    // PKCS-1.2 has implicit rejection: the one opaque code, or 0/0 with a key that is not
    // the one enciphered (a synthetic value of an AES key's length).
    match cca.symmetric_key_import(&["AES", "PKCS-1.2"], &bad, &rsa_label, &[0u8; 64]) {
        Ok((token, _)) => assert_ne!(token, aes),
        Err(err) => assert_eq!(err.codes, Codes::new(8, 2054)),
    }
    // CSNDSYG: a new AES key into a labelled record and under the RSA key by label.
    let generated_label = label(b"APP.AES.NEWKEY");
    cca.key_record_create(Family::Aes, &generated_label, &[])
        .expect("AES record");
    let (token, ct, codes) = cca
        .symmetric_key_generate(&["AES", "PKCSOAEP"], &[], &rsa_label, &generated_label)
        .expect("CSNDSYG");
    assert_eq!(codes, Codes::new(0, 0));
    assert_eq!(
        cca.key_record_read(Family::Aes, &generated_label)
            .expect("read"),
        token
    );
    let (imported, _) = cca
        .symmetric_key_import(&["AES", "PKCSOAEP"], &ct, &rsa_label, &[0u8; 64])
        .expect("CSNDSYI of the generated key");
    assert_eq!(imported, token);

    // A label with no record: 8/30.
    let err = cca
        .symmetric_key_export(&["AES", "PKCSOAEP"], &label(b"APP.NONE"), &rsa)
        .expect_err("no record");
    assert_eq!(err.codes, Codes::new(8, 30));
}

#[test]
fn variable_length_keys_under_an_rsa_key_by_label() {
    let card = memory_card(22);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    load_master_keys(&cca);
    let skeleton = cca
        .pka_key_token_build(
            &["RSA-AESC", "KEY-MGMT"],
            &skeleton_kvs(),
            PkaBuildExtras::default(),
        )
        .expect("CSNDPKB");
    let (rsa, _) = cca
        .pka_key_generate(&["MASTER"], &[], &skeleton, &[0u8; 64])
        .expect("CSNDPKG");
    let rsa_label = label(b"APP.RSA.UNWRAP");
    cca.key_record_create(Family::Pka, &rsa_label, &rsa)
        .expect("PKA record");
    let cipher_skeleton = cca
        .key_token_build2(&["INTERNAL", "NO-KEY", "AES", "CIPHER"], &[], &[], &[], 725)
        .expect("CSNBKTB2");
    let (cipher, _) = cca
        .key_generate2(&["AES", "OP"], 256, "TOKEN", &cipher_skeleton)
        .expect("CSNBKGN2");

    // CKM-RAKW: export, then import by labels into an AES key-storage record.
    let (blob, codes) = cca
        .symmetric_key_export(&["AES", "CKM-RAKW"], &cipher, &rsa_label)
        .expect("CSNDSYX CKM-RAKW");
    assert_eq!((blob.len(), codes), (256 + 40, Codes::new(0, 0)));
    let target = label(b"APP.AES.UNWRAP");
    cca.key_record_create(Family::Aes, &target, &cipher_skeleton)
        .expect("AES record");
    let (imported, _) = cca
        .symmetric_key_import2(&["AES", "CKM-RAKW"], &blob, &rsa_label, &[], &target)
        .expect("CSNDSYI2 CKM-RAKW");
    assert_eq!(
        cca.key_record_read(Family::Aes, &target).expect("read"),
        imported,
        "the record holds the imported token"
    );

    // PKOAEP2: the external token carries the associated data; the same token comes back.
    let (external, _) = cca
        .symmetric_key_export(&["AES", "PKOAEP2"], &cipher, &rsa_label)
        .expect("CSNDSYX PKOAEP2");
    assert_eq!(external[0], 0x02, "an external variable-length token");
    let (again, _) = cca
        .symmetric_key_import2(&["AES", "PKOAEP2"], &external, &rsa, &[], &[])
        .expect("CSNDSYI2 PKOAEP2");
    assert_eq!(again, cipher, "the same key under the same master key");
    // The CKM-RAKW import took the skeleton's associated data (key-management field 3, the
    // pedigree, is the skeleton's), so it is the same key in a token of the same size.
    assert_eq!(imported.len(), cipher.len());
    let err = cca
        .symmetric_key_import2(&["AES", "AESKW"], &external, &rsa, &[], &[])
        .expect_err("AESKW is not implemented");
    assert_eq!(err.codes, Codes::new(8, 2));
}
