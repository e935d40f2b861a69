//! The host library's ECC calls against an embedded card: the shared PKA methods and
//! `ecc_diffie_hellman`, with keys held in PKA key storage under labels.

use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::aes::{AesMaterial, AesToken, InternalAes};
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

fn load_apka(cca: &Cca, first: u8) {
    cca.master_key_process(&["APKA-MK", "FIRST"], &[first; 32])
        .expect("FIRST");
    cca.master_key_process(&["APKA-MK", "LAST"], &[0xC4; 32])
        .expect("LAST");
    cca.master_key_process(&["APKA-MK", "SET"], &[])
        .expect("SET");
}

fn label(name: &[u8]) -> [u8; 64] {
    let mut l = [b' '; 64];
    l[..name.len()].copy_from_slice(name);
    l
}

/// P-256 skeleton key-value structure: curve type, 0, p bits, zero lengths.
const P256_SKELETON: [u8; 8] = [0x00, 0x00, 0x01, 0x00, 0, 0, 0, 0];

#[test]
fn ecc_keys_in_pka_key_storage() {
    let card = memory_card(11);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    load_apka(&cca, 0x5B);

    let skeleton = cca
        .pka_key_token_build(
            &["ECC-PAIR", "KEY-MGMT", "ECC-VER1"],
            &P256_SKELETON,
            PkaBuildExtras {
                key_derivation_data: &[0x02, 0x01, 0x00, 0x80],
                ..PkaBuildExtras::default()
            },
        )
        .expect("CSNDPKB");
    let (alice, codes) = cca
        .pka_key_generate(&["MASTER"], &[], &skeleton, &[])
        .expect("CSNDPKG");
    assert_eq!(codes, Codes::new(0, 0));
    let (bob, _) = cca
        .pka_key_generate(&["MASTER"], &[], &skeleton, &[])
        .expect("CSNDPKG");

    let a = label(b"APP.ECC.ALICE");
    let b = label(b"APP.ECC.BOB");
    cca.key_record_create(Family::Pka, &a, &alice).expect("KRC");
    cca.key_record_create(Family::Pka, &b, &bob).expect("KRC");

    // Sign by label; verify on the card by label and with aws-lc-rs.
    let msg = b"host-level ECDSA";
    let hash = digest::digest(&digest::SHA256, msg);
    let (sig, bits, codes) = cca
        .digital_signature_generate(&["ECDSA"], &a, hash.as_ref(), 132)
        .expect("CSNDDSG");
    assert_eq!((bits, codes), (512, Codes::new(0, 0)));
    assert_eq!(
        cca.digital_signature_verify(&["ECDSA"], &a, hash.as_ref(), &sig)
            .expect("CSNDDSV"),
        Codes::new(0, 0)
    );
    let public = cca.pka_public_key_extract(&[], &a).expect("CSNDPKX");
    let q = &public[22..22 + 65];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, q)
        .verify(msg, &sig)
        .expect("aws-lc-rs verifies");
    let mut bad = sig.clone();
    bad[0] ^= 1;
    assert_eq!(
        cca.digital_signature_verify(&["ECDSA"], &public, hash.as_ref(), &bad)
            .expect("CSNDDSV"),
        Codes::new(4, 429)
    );

    // ECDH by labels, both ways.
    let (z1, _) = cca
        .ecc_diffie_hellman(&["PASSTHRU"], &a, &b, &[], 0)
        .expect("CSNDEDH");
    let (z2, _) = cca
        .ecc_diffie_hellman(&["PASSTHRU"], &b, &a, &[], 0)
        .expect("CSNDEDH");
    assert_eq!(z1, z2);
    assert_eq!(z1.len(), 32);
    // DERIV02 by labels into a fixed-length AES skeleton: both sides derive the same key
    // (the same token under the same AES master key); the keys' derivation data says AES
    // DATA, 128 bits.
    for (process, part) in [("FIRST", [0x21; 32]), ("LAST", [0x43; 32])] {
        cca.master_key_process(&["AES-MK", process], &part)
            .expect("AES-MK");
    }
    cca.master_key_process(&["AES-MK", "SET"], &[])
        .expect("AES-MK SET");
    let aes_skeleton = AesToken::Internal(InternalAes {
        cv_present: false,
        material: AesMaterial::NoKey {
            encrypted_flag: false,
        },
    })
    .to_bytes();
    let (k1, _) = cca
        .ecc_diffie_hellman_derive(&["DERIV02", "SHA-256"], &a, &b, &[7; 8], 128, &aes_skeleton)
        .expect("CSNDEDH DERIV02");
    let (k2, _) = cca
        .ecc_diffie_hellman_derive(&["DERIV02", "SHA-256"], &b, &a, &[7; 8], 128, &aes_skeleton)
        .expect("CSNDEDH DERIV02");
    assert_eq!(k1, k2);
    assert_eq!(k1.len(), 64);
    let err = cca
        .ecc_diffie_hellman_derive(&["DERIV02"], &a, &b, &[], 256, &aes_skeleton)
        .expect_err("the derivation data says 128 bits");
    assert_eq!(err.codes, Codes::new(8, 2149));

    // A new APKA master key: the labelled key works under OLD (0/10001); RTCMK rewrites
    // the record.
    load_apka(&cca, 0x6C);
    let (_, _, codes) = cca
        .digital_signature_generate(&["ECDSA"], &a, hash.as_ref(), 132)
        .expect("CSNDDSG under OLD");
    assert_eq!(codes, Codes::new(0, 10001));
    let (moved, _) = cca.pka_key_token_change(&["RTCMK"], &a).expect("CSNDKTC");
    assert_eq!(cca.key_record_read(Family::Pka, &a).expect("read"), moved);
    let (_, _, codes) = cca
        .digital_signature_generate(&["ECDSA"], &a, hash.as_ref(), 132)
        .expect("CSNDDSG");
    assert_eq!(codes, Codes::new(0, 0));

    // An unknown label: 8/30.
    let err = cca
        .digital_signature_generate(&["ECDSA"], &label(b"APP.NONE"), hash.as_ref(), 132)
        .expect_err("no record");
    assert_eq!(err.codes, Codes::new(8, 30));
}
