//! RSA private keys under a DES transport key: CSNDPKG XPORT and CSNDPKI IKEK-DES, through
//! the card's public interface. Round trips (IMPORTER, EXPORTER → IMPORTER of the same key,
//! X'31' and X'30'), and every refusal with IBM's code and no output.

mod rsa_support;
mod support;

use rsa_support::{
    assert_refused, bytes_out, call, codes, dsg, load_apka, new_card, pkb, pkg, public_parts,
    skeleton_kvs, spki,
};
use softcca_card::Card;
use softcca_card::mk::MasterKey;
use softcca_card::tokens::KeyLength;
use softcca_wire::{Param, VerbResponse};
use support::{cv_of, des_token, set_master_key};

fn skeleton(card: &Card, form: &str) -> Vec<u8> {
    let mut name = vec![b' '; 64];
    name[..7].copy_from_slice(b"XP.NAME");
    bytes_out(
        &pkb(
            card,
            &[form, "SIG-ONLY"],
            if form == "RSA-AESM" {
                // The modulus-exponent structure: e at offset 8.
                let mut k = vec![0x08, 0x00, 0, 0, 0, 3, 0, 0];
                k.extend_from_slice(&[1, 0, 1]);
                k
            } else {
                skeleton_kvs(2048, &[1, 0, 1])
            },
            name,
        ),
        "skeleton",
    )
}

fn xport(card: &Card, skel: &[u8], kek: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNDPKG",
        &["XPORT"],
        vec![
            Param::Bytes(vec![]),
            Param::Bytes(skel.to_vec()),
            Param::Bytes(kek.to_vec()),
            Param::Int(8000),
        ],
    )
}

fn pki(card: &Card, rules: &[&str], token: &[u8], importer: &[u8], cap: i32) -> VerbResponse {
    call(
        card,
        "CSNDPKI",
        rules,
        vec![
            Param::Bytes(token.to_vec()),
            Param::Bytes(importer.to_vec()),
            Param::Int(cap),
        ],
    )
}

fn kek(mk: &MasterKey, key_type: &str, clear: &[u8]) -> Vec<u8> {
    des_token(mk, clear, cv_of(key_type, KeyLength::Double, false))
}

/// A card with SYM and APKA master keys, and the SYM master key.
fn card(seed: u64) -> (Card, MasterKey) {
    let card = new_card(seed);
    let mk = set_master_key(&card, "SYM-MK", 0x31);
    load_apka(&card, 0x47);
    (card, mk)
}

fn signs_and_verifies(card: &Card, internal: &[u8]) {
    let hash = [0x42u8; 32];
    let sig = bytes_out(
        &dsg(card, &["PKCS-1.1", "HASH", "SHA-256"], internal, &hash),
        "DSG with the imported key",
    );
    let public = bytes_out(
        &call(
            card,
            "CSNDPKX",
            &[],
            vec![Param::Bytes(internal.to_vec()), Param::Int(8000)],
        ),
        "PKX",
    );
    let (n, e) = public_parts(&public);
    let digest = aws_lc_rs::digest::Digest::import_less_safe(&hash, &aws_lc_rs::digest::SHA256)
        .expect("a SHA-256 digest");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        spki(&n, &e),
    )
    .verify_digest(&digest, &sig)
    .expect("the imported key signs");
}

#[test]
fn xport_then_import_under_an_importer() {
    let (card, mk) = card(1);
    let clear_kek = support::with_odd_parity(support::pattern(9, 16));
    let importer = kek(&mk, "IMPORTER", &clear_kek);
    for form in ["RSA-AESC", "RSA-AESM"] {
        let skel = skeleton(&card, form);
        let exported = bytes_out(&xport(&card, &skel, &importer), "XPORT");
        // External, the private section encrypted (X'42' / X'82' at byte 11), the name kept.
        assert_eq!(exported[0], 0x1E);
        let (id, format) = (exported[8], exported[8 + 11]);
        assert_eq!(
            (id, format),
            if form == "RSA-AESC" {
                (0x31, 0x42)
            } else {
                (0x30, 0x82)
            }
        );
        assert!(
            exported.ends_with(b"XP.NAME                                                         ")
        );
        // Not usable before import.
        assert_refused(
            &dsg(&card, &["PKCS-1.1"], &exported, &[1; 32]),
            (8, 770),
            "an encrypted external token signs nothing",
        );
        let internal = bytes_out(
            &pki(&card, &["RSA", "IKEK-DES"], &exported, &importer, 8000),
            "PKI",
        );
        // CSNDPKX reads the public key of the encrypted token and of the imported one alike.
        let pkx = |t: &[u8]| {
            bytes_out(
                &call(
                    &card,
                    "CSNDPKX",
                    &[],
                    vec![Param::Bytes(t.to_vec()), Param::Int(8000)],
                ),
                "PKX",
            )
        };
        assert_eq!(pkx(&exported), pkx(&internal));
        assert_eq!(internal[0], 0x1F);
        signs_and_verifies(&card, &internal);
        // IKEK-DES is the default.
        let again = bytes_out(&pki(&card, &[], &exported, &importer, 8000), "PKI default");
        signs_and_verifies(&card, &again);
    }
}

#[test]
fn an_exporter_and_its_importer_share_the_key() {
    let (card, mk) = card(2);
    let clear_kek = support::with_odd_parity(support::pattern(3, 16));
    let exporter = kek(&mk, "EXPORTER", &clear_kek);
    let importer = kek(&mk, "IMPORTER", &clear_kek);
    let exported = bytes_out(
        &xport(&card, &skeleton(&card, "RSA-AESC"), &exporter),
        "XPORT",
    );
    // The EXPORTER cannot import (8/39); its IMPORTER partner can.
    assert_refused(
        &pki(&card, &[], &exported, &exporter, 8000),
        (8, 39),
        "an EXPORTER as importer",
    );
    let internal = bytes_out(&pki(&card, &[], &exported, &importer, 8000), "PKI");
    signs_and_verifies(&card, &internal);
}

#[test]
fn refusals() {
    let (card, mk) = card(3);
    let clear_kek = support::with_odd_parity(support::pattern(5, 16));
    let importer = kek(&mk, "IMPORTER", &clear_kek);
    let skel = skeleton(&card, "RSA-AESC");
    // Transport keys of the wrong type, under an unknown master key, not a token.
    let data = des_token(&mk, &clear_kek, cv_of("DATA", KeyLength::Double, false));
    assert_refused(
        &xport(&card, &skel, &data),
        (8, 39),
        "a DATA key as transport key",
    );
    let other_mk = MasterKey::from_bytes(&support::with_odd_parity(support::pattern(77, 24)));
    let foreign = kek(&other_mk, "IMPORTER", &clear_kek);
    assert_refused(
        &xport(&card, &skel, &foreign),
        (8, 24),
        "KEK under another SYM MK",
    );
    assert_refused(
        &xport(&card, &skel, &[0u8; 64]),
        (8, 47),
        "null transport key",
    );
    // Rule array.
    assert_refused(
        &call(
            &card,
            "CSNDPKG",
            &["XPORT", "CLONE"],
            vec![
                Param::Bytes(vec![]),
                Param::Bytes(skel.clone()),
                Param::Bytes(importer.clone()),
                Param::Int(8000),
            ],
        ),
        (8, 2),
        "CLONE",
    );
    let short = call(
        &card,
        "CSNDPKG",
        &["XPORT"],
        vec![
            Param::Bytes(vec![]),
            Param::Bytes(skel.clone()),
            Param::Bytes(importer.clone()),
            Param::Int(100),
        ],
    );
    assert_refused(&short, (8, 43), "output buffer too short");
    let exported = bytes_out(&xport(&card, &skel, &importer), "XPORT");
    // Import refusals.
    let other = kek(
        &mk,
        "IMPORTER",
        &support::with_odd_parity(support::pattern(6, 16)),
    );
    assert_refused(
        &pki(&card, &[], &exported, &other, 8000),
        (8, 770),
        "another IMPORTER",
    );
    assert_refused(
        &pki(&card, &["RSA", "IKEK-AES"], &exported, &importer, 8000),
        (8, 2),
        "IKEK-AES",
    );
    assert_refused(
        &pki(&card, &["RSA", "IKEK-PKA"], &exported, &importer, 8000),
        (8, 2),
        "IKEK-PKA",
    );
    assert_refused(
        &pki(&card, &["IKEK-DES", "IKEK-AES"], &exported, &importer, 8000),
        (8, 34),
        "two importer kinds",
    );
    assert_refused(
        &pki(&card, &[], &exported, &importer, 100),
        (8, 43),
        "short buffer",
    );
    assert_refused(
        &pki(&card, &[], &exported, &data, 8000),
        (8, 39),
        "DATA as importer",
    );
    assert_refused(
        &pki(&card, &[], &exported, &foreign, 8000),
        (8, 24),
        "importer MKVP",
    );
    // Every byte of the wrapped payload and of the fixed part is bound.
    let section_len = usize::from(u16::from_be_bytes([exported[10], exported[11]]));
    for at in [
        8 + 12,
        8 + 15,
        8 + 50,
        8 + 116,
        8 + 134,
        8 + section_len - 1,
    ] {
        let mut bad = exported.clone();
        bad[at] ^= 0x01;
        let r = pki(&card, &[], &bad, &importer, 8000);
        assert!(codes(&r).0 == 8, "byte {at}: {:?}", codes(&r));
        assert!(r.outputs.is_empty());
    }
    // No APKA master key at the importing card: 12/764.
    let card2 = new_card(4);
    let sym = set_master_key(&card2, "SYM-MK", 0x31);
    let importer2 = kek(&sym, "IMPORTER", &clear_kek);
    assert_refused(
        &pki(&card2, &[], &exported, &importer2, 8000),
        (12, 764),
        "no APKA MK",
    );
    // ECC XPORT stays 8/2.
    let ecc = bytes_out(
        &pkb(&card, &["ECC-PAIR"], vec![0, 0, 1, 0, 0, 0, 0, 0], vec![]),
        "ECC skeleton",
    );
    assert_refused(&xport(&card, &ecc, &importer), (8, 2), "ECC XPORT");
    // A MASTER token is not an encrypted external one: PKI refuses it as before.
    let master = bytes_out(&pkg(&card, &["MASTER"], &skel), "MASTER");
    assert_eq!(codes(&pki(&card, &[], &master, &importer, 8000)).0, 8);
}
