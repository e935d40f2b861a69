//! CSNDPKG XPORT and CSNDPKI IKEK-DES through the host library, the key-encrypting keys
//! named by labels in DES key storage.

use softcca_card::Codes;
use softcca_host::{Cca, Family, PkaBuildExtras};

const NULL: [u8; 64] = [0; 64];

fn label(text: &str) -> [u8; 64] {
    let mut l = [b' '; 64];
    l[..text.len()].copy_from_slice(text.as_bytes());
    l
}

fn odd_parity(b: u8) -> u8 {
    if b.count_ones() % 2 == 1 { b } else { b ^ 1 }
}

#[test]
fn an_rsa_key_exported_under_an_exporter_label_imports_under_its_importer_label() {
    let home = tempfile::tempdir().expect("tempdir");
    let cca = Cca::embedded(home.path(), None).expect("embedded card");
    let sym1: Vec<u8> = (0..24u8)
        .map(|i| odd_parity(i.wrapping_mul(37) ^ 0x5B))
        .collect();
    let sym2: Vec<u8> = (0..24u8)
        .map(|i| odd_parity(i.wrapping_mul(91) ^ 0xC4))
        .collect();
    for (class, p1, p2) in [
        ("SYM-MK", sym1, sym2),
        ("APKA-MK", vec![0x3C; 32], vec![0xC4; 32]),
    ] {
        cca.master_key_process(&[class, "FIRST"], &p1)
            .expect("FIRST");
        cca.master_key_process(&[class, "LAST"], &p2).expect("LAST");
        cca.master_key_process(&[class, "SET"], &[]).expect("SET");
    }
    let (importer, exporter, _) = cca
        .key_generate(
            "OPOP",
            "",
            ["IMPORTER", "EXPORTER"],
            [&NULL, &NULL],
            [&NULL, &NULL],
        )
        .expect("KEK pair");
    cca.key_record_create(Family::Des, &label("NODE.IMP"), &importer)
        .expect("importer record");
    cca.key_record_create(Family::Des, &label("NODE.EXP"), &exporter)
        .expect("exporter record");
    let mut kvs = vec![0u8; 18];
    kvs[0..2].copy_from_slice(&2048u16.to_be_bytes());
    kvs[4..6].copy_from_slice(&3u16.to_be_bytes());
    kvs.extend_from_slice(&[1, 0, 1]);
    let skeleton = cca
        .pka_key_token_build(&["RSA-AESC", "SIG-ONLY"], &kvs, PkaBuildExtras::default())
        .expect("CSNDPKB");
    let (exported, codes) = cca
        .pka_key_generate(&["XPORT"], &[], &skeleton, &label("NODE.EXP"))
        .expect("CSNDPKG XPORT by label");
    assert_eq!(codes, Codes::new(0, 0));
    assert_eq!((exported[8], exported[8 + 11]), (0x31, 0x42));
    let (internal, codes) = cca
        .pka_key_import(&["RSA", "IKEK-DES"], &exported, &label("NODE.IMP"))
        .expect("CSNDPKI by label");
    assert_eq!(codes, Codes::new(0, 0));
    let hash = [0x77u8; 32];
    let (sig, _, _) = cca
        .digital_signature_generate(&["PKCS-1.1"], &internal, &hash, 512)
        .expect("CSNDDSG");
    let public = cca.pka_public_key_extract(&[], &internal).expect("CSNDPKX");
    assert_eq!(
        cca.digital_signature_verify(&["PKCS-1.1"], &public, &hash, &sig)
            .expect("CSNDDSV"),
        Codes::new(0, 0)
    );
    let err = cca
        .pka_key_import(&[], &exported, &label("NODE.EXP"))
        .expect_err("an EXPORTER imports nothing");
    assert_eq!(err.codes, Codes::new(8, 39));
    let err = cca
        .pka_key_import(&[], &exported, &label("NO.SUCH"))
        .expect_err("unknown importer label");
    assert_eq!(err.codes, Codes::new(8, 30));
}
