//! The host library's shared PKA calls with the curves the card computes on with RustCrypto
//! (P-224, Brainpool P-384r1 here), keys held in PKA key storage under labels.

use std::sync::Arc;

use aws_lc_rs::digest;
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

#[test]
fn p224_and_brainpool_keys_by_label() {
    let card = memory_card(21);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    load_apka(&cca, 0x7D);
    let hash = digest::digest(&digest::SHA384, b"host-level curves");
    // (curve type, p bits, scalar bytes)
    for (curve_type, bits, n) in [(0u8, 224u16, 28usize), (1, 384, 48)] {
        let mut kvs = vec![curve_type, 0];
        kvs.extend_from_slice(&bits.to_be_bytes());
        kvs.extend_from_slice(&[0, 0, 0, 0]);
        let skeleton = cca
            .pka_key_token_build(&["ECC-PAIR", "KEY-MGMT"], &kvs, PkaBuildExtras::default())
            .expect("CSNDPKB");
        let (alice, _) = cca
            .pka_key_generate(&["MASTER"], &[], &skeleton, &[])
            .expect("CSNDPKG");
        let (bob, _) = cca
            .pka_key_generate(&["MASTER"], &[], &skeleton, &[])
            .expect("CSNDPKG");
        let a = label(format!("APP.CURVE{bits}.ALICE").as_bytes());
        let b = label(format!("APP.CURVE{bits}.BOB").as_bytes());
        cca.key_record_create(Family::Pka, &a, &alice).expect("KRC");
        cca.key_record_create(Family::Pka, &b, &bob).expect("KRC");

        let (sig, sig_bits, codes) = cca
            .digital_signature_generate(&["ECDSA"], &a, hash.as_ref(), 200)
            .expect("CSNDDSG");
        assert_eq!((sig.len(), codes), (2 * n, Codes::new(0, 0)));
        assert_eq!(sig_bits as usize, 16 * n);
        let public = cca.pka_public_key_extract(&[], &a).expect("CSNDPKX");
        for key in [&a[..], &public[..]] {
            assert_eq!(
                cca.digital_signature_verify(&["ECDSA"], key, hash.as_ref(), &sig)
                    .expect("CSNDDSV"),
                Codes::new(0, 0)
            );
        }
        let mut bad = sig.clone();
        bad[n] ^= 1;
        assert_eq!(
            cca.digital_signature_verify(&["ECDSA"], &public, hash.as_ref(), &bad)
                .expect("CSNDDSV"),
            Codes::new(4, 429)
        );
        let (z1, _) = cca
            .ecc_diffie_hellman(&["PASSTHRU"], &a, &b, &[], 0)
            .expect("CSNDEDH");
        let (z2, _) = cca
            .ecc_diffie_hellman(&["PASSTHRU"], &b, &a, &[], 0)
            .expect("CSNDEDH");
        assert_eq!(z1, z2);
        assert_eq!(z1.len(), n);
    }
    // Curves differ (P-224 against Brainpool P-384): 8/2158.
    let err = cca
        .ecc_diffie_hellman(
            &["PASSTHRU"],
            &label(b"APP.CURVE224.ALICE"),
            &label(b"APP.CURVE384.BOB"),
            &[],
            0,
        )
        .expect_err("curve mismatch");
    assert_eq!(err.codes, Codes::new(8, 2158));
}
