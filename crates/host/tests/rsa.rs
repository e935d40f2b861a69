//! The host library's PKA methods (verbs_pka.rs) on RSA keys against an embedded card: key
//! generation as opencryptoki does it, signatures, encryption, key-token change, and a key
//! kept in PKA key storage under a label.

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

fn load_apka(cca: &Cca, tag: u8) {
    cca.master_key_process(&["APKA-MK", "FIRST"], &[tag; 32])
        .expect("FIRST");
    cca.master_key_process(&["APKA-MK", "LAST"], &[0xC4; 32])
        .expect("LAST");
    cca.master_key_process(&["APKA-MK", "SET"], &[])
        .expect("SET");
}

fn skeleton_kvs() -> Vec<u8> {
    let mut k = vec![0u8; 18];
    k[0..2].copy_from_slice(&2048u16.to_be_bytes());
    k[4..6].copy_from_slice(&3u16.to_be_bytes());
    k.extend_from_slice(&[1, 0, 1]);
    k
}

#[test]
fn rsa_keys_through_the_host_library() {
    let card = memory_card(11);
    let cca = Cca::with_card(Arc::clone(&card));
    load_apka(&cca, 0x5B);
    let skeleton = cca
        .pka_key_token_build(
            &["RSA-AESC", "KEY-MGMT"],
            &skeleton_kvs(),
            PkaBuildExtras::default(),
        )
        .expect("CSNDPKB");
    let (key, codes) = cca
        .pka_key_generate(&["MASTER"], &[], &skeleton, &[0u8; 64])
        .expect("CSNDPKG");
    assert_eq!(codes, Codes::new(0, 0));
    let public = cca.pka_public_key_extract(&[], &key).expect("CSNDPKX");

    let hash = [0x2Au8; 32];
    let (sig, bits, codes) = cca
        .digital_signature_generate(&["PKCS-1.1"], &key, &hash, 512)
        .expect("CSNDDSG");
    assert_eq!((bits, codes), (2048, Codes::new(0, 0)));
    assert_eq!(
        cca.digital_signature_verify(&["PKCS-1.1"], &public, &hash, &sig)
            .expect("CSNDDSV"),
        Codes::new(0, 0)
    );
    let mut bad = sig.clone();
    bad[5] ^= 1;
    assert_eq!(
        cca.digital_signature_verify(&["PKCS-1.1"], &public, &hash, &bad)
            .expect("CSNDDSV"),
        Codes::new(4, 429)
    );

    let ct = cca
        .pka_encrypt(&["PKCSOAEP", "SHA-256"], &[7; 32], &[], &public)
        .expect("CSNDPKE");
    let (value, _) = cca
        .pka_decrypt(&["PKCSOAEP", "SHA-256"], &ct, &[], &key)
        .expect("CSNDPKD");
    assert_eq!(value, vec![7; 32]);
    // OAEP is not PKCS #1 v1.5: implicit rejection answers 0/0 with a synthetic value, the
    // same for the same ciphertext.
    let (synthetic, codes) = cca
        .pka_decrypt(&["PKCS-1.2"], &ct, &[], &key)
        .expect("implicit rejection");
    assert_eq!(codes, Codes::new(0, 0));
    assert_ne!(synthetic, vec![7; 32]);
    let (again, _) = cca
        .pka_decrypt(&["PKCS-1.2"], &ct, &[], &key)
        .expect("implicit rejection");
    assert_eq!(synthetic, again);

    load_apka(&cca, 0x6C);
    let (changed, codes) = cca.pka_key_token_change(&["RTCMK"], &key).expect("CSNDKTC");
    assert_eq!(codes, Codes::new(0, 0));
    let (again, _, codes) = cca
        .digital_signature_generate(&["PKCS-1.1"], &changed, &hash, 512)
        .expect("CSNDDSG");
    assert_eq!((again, codes), (sig, Codes::new(0, 0)));
}

/// A generated key kept in PKA key storage: signing and extraction name it by label, and
/// CSNDKTC rewrites the record.
#[test]
fn rsa_key_by_label() {
    let card = memory_card(12);
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = softcca_host::KeyStore::open(dir.path()).expect("key storage");
    let cca = Cca::with_card(Arc::clone(&card)).with_key_store(keys);
    load_apka(&cca, 0x11);
    let skeleton = cca
        .pka_key_token_build(&["RSA-AESC"], &skeleton_kvs(), PkaBuildExtras::default())
        .expect("CSNDPKB");
    let (key, _) = cca
        .pka_key_generate(&["MASTER"], &[], &skeleton, &[0u8; 64])
        .expect("CSNDPKG");
    let mut label = [b' '; 64];
    label[..14].copy_from_slice(b"APP.RSA.SIGNER");
    cca.key_record_create(Family::Pka, &label, &key)
        .expect("record");
    let hash = [0x3Cu8; 32];
    let (sig, _, _) = cca
        .digital_signature_generate(&["PKCS-1.1"], &label, &hash, 512)
        .expect("CSNDDSG by label");
    let public = cca
        .pka_public_key_extract(&[], &label)
        .expect("CSNDPKX by label");
    assert_eq!(
        cca.digital_signature_verify(&["PKCS-1.1"], &public, &hash, &sig)
            .expect("CSNDDSV"),
        Codes::new(0, 0)
    );
    load_apka(&cca, 0x22);
    let (_, codes) = cca
        .pka_key_token_change(&["RTCMK"], &label)
        .expect("CSNDKTC by label");
    assert_eq!(codes, Codes::new(0, 0));
    let stored = cca.key_record_read(Family::Pka, &label).expect("read");
    assert_ne!(
        stored, key,
        "the record was rewritten under the new master key"
    );
    let (_, _, codes) = cca
        .digital_signature_generate(&["PKCS-1.1"], &label, &hash, 512)
        .expect("CSNDDSG after RTCMK");
    assert_eq!(codes, Codes::new(0, 0));
}

/// A 1024-bit key (RustCrypto's engine) through the host methods: regeneration data, the
/// raw signature formats, PSS with another salt, OAEP SHA-384 and ZERO-PAD encryption,
/// PKCS-1.2 implicit rejection.
#[test]
fn small_keys_and_every_padding_through_the_host_library() {
    let card = memory_card(12);
    let cca = Cca::with_card(Arc::clone(&card));
    load_apka(&cca, 0x5C);
    let mut kvs = skeleton_kvs();
    kvs[0..2].copy_from_slice(&1024u16.to_be_bytes());
    let skeleton = cca
        .pka_key_token_build(&["RSA-AESC", "KEY-MGMT"], &kvs, PkaBuildExtras::default())
        .expect("CSNDPKB");
    let (key, codes) = cca
        .pka_key_generate(&["MASTER"], b"regenerate me", &skeleton, &[0u8; 64])
        .expect("CSNDPKG");
    assert_eq!(codes, Codes::new(0, 0));
    let (again, _) = cca
        .pka_key_generate(&["CLEAR"], b"regenerate me", &skeleton, &[0u8; 64])
        .expect("CSNDPKG");
    let public = cca.pka_public_key_extract(&[], &key).expect("CSNDPKX");
    assert_eq!(
        cca.pka_public_key_extract(&[], &again).expect("CSNDPKX"),
        public,
        "the same regeneration data, the same key"
    );

    let hash = [0x3Bu8; 32];
    let mut pss = 0u32.to_be_bytes().to_vec();
    pss.extend_from_slice(&hash);
    for (rules, data) in [
        (&["X9.31"][..], &hash[..]),
        (&["ZERO-PAD"][..], &hash[..]),
        (&["PKCS-PSS"][..], &pss[..]),
        (&["PKCS-1.1", "HASH", "SHA-256"][..], &hash[..]),
    ] {
        let (sig, bits, codes) = cca
            .digital_signature_generate(rules, &key, data, 128)
            .expect("CSNDDSG");
        assert_eq!((bits, codes, sig.len()), (1024, Codes::new(0, 0), 128));
        assert_eq!(
            cca.digital_signature_verify(rules, &public, data, &sig)
                .expect("CSNDDSV"),
            Codes::new(0, 0),
            "{rules:?}"
        );
    }

    let ct = cca
        .pka_encrypt(&["PKCSOAEP", "SHA-384"], &[5; 8], &[], &public)
        .expect("CSNDPKE");
    let (value, _) = cca
        .pka_decrypt(&["PKCSOAEP", "SHA-384"], &ct, &[], &key)
        .expect("CSNDPKD");
    assert_eq!(value, vec![5; 8]);
    // ZERO-PAD decrypts with the clear key only; the whole block comes back.
    let ct = cca
        .pka_encrypt(&["ZERO-PAD"], &[6; 8], &[], &public)
        .expect("CSNDPKE");
    let (block, _) = cca
        .pka_decrypt(&["ZERO-PAD"], &ct, &[], &again)
        .expect("CSNDPKD");
    assert_eq!(block.len(), 128);
    assert_eq!(&block[120..], &[6; 8]);
    let err = cca
        .pka_decrypt(&["ZERO-PAD"], &ct, &[], &key)
        .expect_err("an internal key");
    assert_eq!(err.codes, Codes::new(8, 47));
    // PKCS-1.2 with a bad padding: 0/0 and a synthetic value.
    let (synthetic, codes) = cca
        .pka_decrypt(&["PKCS-1.2"], &ct, &[], &key)
        .expect("implicit rejection");
    assert_eq!(codes, Codes::new(0, 0));
    assert!(synthetic.len() <= 128 - 11);
}

/// ISO-9796 (ISO/IEC 9796-1), IBM's default signature format, through the host library: the
/// empty rule array and the keyword sign alike, a hash of half the modulus signs, one byte
/// more is 8/72 at both verbs, a changed signature is 4/429.
#[test]
fn iso9796_is_the_default_signature_format() {
    let card = memory_card(13);
    let cca = Cca::with_card(Arc::clone(&card));
    load_apka(&cca, 0x5D);
    let mut kvs = skeleton_kvs();
    kvs[0..2].copy_from_slice(&1024u16.to_be_bytes());
    let skeleton = cca
        .pka_key_token_build(&["RSA-AESC", "SIG-ONLY"], &kvs, PkaBuildExtras::default())
        .expect("CSNDPKB");
    let (key, _) = cca
        .pka_key_generate(&["MASTER"], &[], &skeleton, &[0u8; 64])
        .expect("CSNDPKG");
    let public = cca.pka_public_key_extract(&[], &key).expect("CSNDPKX");

    let hash = [0x4Eu8; 20];
    let (sig, bits, codes) = cca
        .digital_signature_generate(&[], &key, &hash, 128)
        .expect("CSNDDSG");
    assert_eq!((bits, codes, sig.len()), (1024, Codes::new(0, 0), 128));
    let (same, _, _) = cca
        .digital_signature_generate(&["RSA", "ISO-9796", "HASH", "SHA-1"], &key, &hash, 128)
        .expect("CSNDDSG ISO-9796");
    assert_eq!(same, sig, "the default is ISO-9796");
    for rules in [&[][..], &["ISO-9796"][..]] {
        assert_eq!(
            cca.digital_signature_verify(rules, &public, &hash, &sig)
                .expect("CSNDDSV"),
            Codes::new(0, 0)
        );
    }
    let mut bad = sig.clone();
    bad[60] ^= 0x10;
    assert_eq!(
        cca.digital_signature_verify(&[], &public, &hash, &bad)
            .expect("CSNDDSV"),
        Codes::new(4, 429)
    );
    let (_, _, codes) = cca
        .digital_signature_generate(&[], &key, &[1; 64], 128)
        .expect("64 of 128 bytes");
    assert_eq!(codes, Codes::new(0, 0));
    let err = cca
        .digital_signature_generate(&[], &key, &[1; 65], 128)
        .expect_err("65 of 128 bytes");
    assert_eq!(err.codes, Codes::new(8, 72));
    let err = cca
        .digital_signature_verify(&[], &public, &[1; 65], &sig)
        .expect_err("65 of 128 bytes");
    assert_eq!(err.codes, Codes::new(8, 72));
}

/// RSA-PRIV (the 1024-bit modulus-exponent X'02' section) through the host library: a
/// skeleton, CSNDPKG CLEAR (the clear X'02' form) and MASTER (internal X'30'), the clear
/// token used as it is and imported by CSNDPKI; an RSA-PRIV key value rebuilt from the
/// clear token's own fields gives the same token.
#[test]
fn rsa_priv_modulus_exponent_keys_through_the_host_library() {
    let card = memory_card(14);
    let cca = Cca::with_card(Arc::clone(&card));
    load_apka(&cca, 0x5E);
    let mut kvs = vec![0u8; 8];
    kvs[0..2].copy_from_slice(&1024u16.to_be_bytes());
    kvs[4..6].copy_from_slice(&3u16.to_be_bytes());
    kvs.extend_from_slice(&[1, 0, 1]);
    let skeleton = cca
        .pka_key_token_build(&["RSA-PRIV", "KEY-MGMT"], &kvs, PkaBuildExtras::default())
        .expect("CSNDPKB skeleton");
    assert_eq!(skeleton[8], 0x02);
    let (clear, codes) = cca
        .pka_key_generate(&["CLEAR"], &[], &skeleton, &[])
        .expect("CSNDPKG CLEAR");
    assert_eq!(codes, Codes::new(0, 0));
    assert_eq!((clear[0], clear[8]), (0x1E, 0x02));
    let public = cca.pka_public_key_extract(&[], &clear).expect("CSNDPKX");

    let hash = [0x3Cu8; 32];
    let (sig, bits, codes) = cca
        .digital_signature_generate(&["PKCS-1.1"], &clear, &hash, 512)
        .expect("CSNDDSG");
    assert_eq!((bits, codes, sig.len()), (1024, Codes::new(0, 0), 128));
    assert_eq!(
        cca.digital_signature_verify(&["PKCS-1.1"], &public, &hash, &sig)
            .expect("CSNDDSV"),
        Codes::new(0, 0)
    );
    let ct = cca
        .pka_encrypt(&["PKCS-1.2"], &[5; 16], &[], &public)
        .expect("CSNDPKE");
    let (value, _) = cca
        .pka_decrypt(&["PKCS-1.2"], &ct, &[], &clear)
        .expect("CSNDPKD");
    assert_eq!(value, vec![5; 16]);

    // CSNDPKI: the internal X'30'; it signs alike (PKCS #1 v1.5 is deterministic).
    let (internal, codes) = cca.pka_key_import(&[], &clear, &[]).expect("CSNDPKI");
    assert_eq!(codes, Codes::new(0, 0));
    assert_eq!((internal[0], internal[8]), (0x1F, 0x30));
    let (again, _, _) = cca
        .digital_signature_generate(&["PKCS-1.1"], &internal, &hash, 512)
        .expect("CSNDDSG internal");
    assert_eq!(again, sig);

    // The key value rebuilt from the clear token's fields (d at 108, n at 236).
    let s = &clear[8..8 + 364];
    let strip = |b: &[u8]| b[b.iter().position(|&x| x != 0).unwrap_or(b.len())..].to_vec();
    let (d, n) = (strip(&s[108..236]), strip(&s[236..364]));
    let mut key_value = Vec::new();
    key_value.extend_from_slice(&1024u16.to_be_bytes());
    key_value.extend_from_slice(&u16::try_from(n.len()).unwrap().to_be_bytes());
    key_value.extend_from_slice(&3u16.to_be_bytes());
    key_value.extend_from_slice(&u16::try_from(d.len()).unwrap().to_be_bytes());
    key_value.extend_from_slice(&n);
    key_value.extend_from_slice(&[1, 0, 1]);
    key_value.extend_from_slice(&d);
    let rebuilt = cca
        .pka_key_token_build(
            &["RSA-PRIV", "KEY-MGMT"],
            &key_value,
            PkaBuildExtras::default(),
        )
        .expect("CSNDPKB key value");
    assert_eq!(rebuilt, clear);

    // MASTER: the internal X'30'.
    let (master, codes) = cca
        .pka_key_generate(&["MASTER"], &[], &skeleton, &[])
        .expect("CSNDPKG MASTER");
    assert_eq!(codes, Codes::new(0, 0));
    assert_eq!((master[0], master[8]), (0x1F, 0x30));

    // A modulus above 1024 bits: 8/770.
    let mut big = kvs.clone();
    big[0..2].copy_from_slice(&2048u16.to_be_bytes());
    let err = cca
        .pka_key_token_build(&["RSA-PRIV"], &big, PkaBuildExtras::default())
        .expect_err("2048 bits");
    assert_eq!(err.codes, Codes::new(8, 770));
}
