//! Retained keys through the card's public interface: CSNDPKB RSA-CRT skeletons, CSNDPKG
//! RETAIN, use by label in CSNDDSG / CSNDPKX / CSNDPKD, CSNDRKL, CSNDRKD, and the keys'
//! life (a restart keeps them, zeroization destroys them). Every refusal with IBM's code and
//! nothing changed.

mod rsa_support;

use std::sync::Arc;

use rsa_support::*;
use softcca_card::platform::{FixedClock, Flash, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::sensors::Sensor;
use softcca_card::{Card, Model, PowerOn};
use softcca_wire::{Param, VerbResponse};

const BLOB: &str = "retained.keys";

fn label(text: &str) -> Vec<u8> {
    let mut l = vec![b' '; 64];
    l[..text.len()].copy_from_slice(text.as_bytes());
    l
}

/// An RSA-CRT skeleton of `bits` with e = 65537, `usage` and the name `name` (none when
/// empty).
fn crt_skeleton(card: &Card, bits: usize, usage: &str, name: &str) -> Vec<u8> {
    let name = if name.is_empty() { vec![] } else { label(name) };
    bytes_out(
        &pkb(
            card,
            &["RSA-CRT", usage],
            skeleton_kvs(bits, &[1, 0, 1]),
            name,
        ),
        "PKB RSA-CRT skeleton",
    )
}

fn pkg_with(card: &Card, rules: &[&str], regen: &[u8], skeleton: &[u8], cap: i32) -> VerbResponse {
    call(
        card,
        "CSNDPKG",
        rules,
        vec![
            Param::Bytes(regen.to_vec()),
            Param::Bytes(skeleton.to_vec()),
            Param::Bytes(vec![0, 0, 0, 8, 0, 0, 0, 0]),
            Param::Int(cap),
        ],
    )
}

fn retain(card: &Card, name: &str) -> Vec<u8> {
    let skel = crt_skeleton(card, 2048, "SIG-ONLY", name);
    bytes_out(&pkg(card, &["RETAIN"], &skel), "PKG RETAIN")
}

fn rkl(card: &Card, mask: &str, room: i32) -> VerbResponse {
    call(
        card,
        "CSNDRKL",
        &[],
        vec![Param::Bytes(label(mask)), Param::Int(room)],
    )
}

/// (retained_keys_count, key_labels_count, labels as text).
fn listed(card: &Card, mask: &str, room: i32) -> (i32, i32, Vec<String>) {
    let r = rkl(card, mask, room);
    assert_eq!(codes(&r), (0, 0), "RKL {mask}");
    let (Param::Int(total), Param::Int(returned), Param::Bytes(list)) =
        (&r.outputs[0], &r.outputs[1], &r.outputs[2])
    else {
        panic!("RKL outputs {:?}", r.outputs);
    };
    let labels = list
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).trim_end().to_string())
        .collect();
    (*total, *returned, labels)
}

fn rkd(card: &Card, name: &[u8]) -> VerbResponse {
    call(card, "CSNDRKD", &[], vec![Param::Bytes(name.to_vec())])
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn sign_by_label(card: &Card, name: &str, hash: &[u8]) -> VerbResponse {
    dsg(card, &["PKCS-1.1", "HASH", "SHA-256"], &label(name), hash)
}

fn signature_verifies(public: &[u8], hash: &[u8], r: &VerbResponse) {
    let sig = bytes_out(r, "DSG by label");
    let (n, e) = public_parts(public);
    let digest = aws_lc_rs::digest::Digest::import_less_safe(hash, &aws_lc_rs::digest::SHA256)
        .expect("a SHA-256 digest");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        spki(&n, &e),
    )
    .verify_digest(&digest, &sig)
    .expect("the retained key's signature verifies with aws-lc-rs");
}

#[test]
fn a_retained_key_signs_by_label_and_only_its_public_part_leaves() {
    // No master key is loaded: retained keys do not depend on one.
    let card = new_card(1);
    let public = retain(&card, "SIGN.KEY1");
    // The public key token with the label in its name section.
    assert_eq!(public[0], 0x1E);
    assert_eq!(public[8], 0x04);
    assert!(public.ends_with(&label("SIGN.KEY1")));
    // PKX on the label gives the public part alone, the same key.
    let extracted = pkx(&card, &label("SIGN.KEY1"));
    assert_eq!(public_parts(&extracted), public_parts(&public));
    // DSG by label signs; the signature verifies outside the card and through CSNDDSV.
    let hash = sha256(b"retained");
    let r = sign_by_label(&card, "sign.key1", &hash);
    signature_verifies(&public, &hash, &r);
    let sig = bytes_out(&r, "DSG");
    assert_eq!(
        dsv(
            &card,
            &["PKCS-1.1", "HASH", "SHA-256"],
            &extracted,
            &hash,
            &sig
        ),
        (0, 0)
    );
    // A retained key is a signature key: PKD refuses it (8/39).
    let ct = bytes_out(&pke(&card, &["PKCS-1.2"], &extracted, b"k"), "PKE");
    assert_refused(
        &pkd(&card, &["PKCS-1.2"], &label("SIGN.KEY1"), &ct),
        (8, 39),
        "PKD with a retained signature key",
    );
    // An unknown label: 8/30; a malformed one: 8/32.
    assert_refused(
        &sign_by_label(&card, "NO.SUCH", &hash),
        (8, 30),
        "unknown label",
    );
    assert_refused(&sign_by_label(&card, "1BAD", &hash), (8, 32), "bad label");
    assert_refused(
        &call(
            &card,
            "CSNDPKX",
            &[],
            vec![Param::Bytes(label("NO.SUCH")), Param::Int(8000)],
        ),
        (8, 30),
        "PKX of an unknown label",
    );
}

#[test]
fn list_and_delete() {
    let card = new_card(2);
    assert_eq!(listed(&card, "*", 10), (0, 0, vec![]));
    for name in ["B.SIG", "A.SIG", "OTHER"] {
        retain(&card, name);
    }
    assert_eq!(
        listed(&card, "*", 10),
        (3, 3, vec!["A.SIG".into(), "B.SIG".into(), "OTHER".into()])
    );
    assert_eq!(
        listed(&card, "*.SIG", 10),
        (2, 2, vec!["A.SIG".into(), "B.SIG".into()])
    );
    assert_eq!(listed(&card, "*.SIG", 1), (2, 1, vec!["A.SIG".into()]));
    assert_eq!(listed(&card, "OTH*", 0), (1, 0, vec![]));
    assert_eq!(listed(&card, "NONE*", 5), (0, 0, vec![]));
    // Refusals.
    assert_refused(&rkl(&card, "A**", 5), (8, 32), "bad mask");
    assert_refused(&rkl(&card, "*", -1), (8, 72), "negative count");
    assert_refused(
        &call(
            &card,
            "CSNDRKL",
            &["PKA"],
            vec![Param::Bytes(label("*")), Param::Int(5)],
        ),
        (8, 35),
        "RKL takes no keyword",
    );
    assert_refused(
        &call(&card, "CSNDRKL", &[], vec![Param::Bytes(label("*"))]),
        (8, 72),
        "RKL block of the wrong shape",
    );
    assert_refused(&rkd(&card, &label("NO.SUCH")), (8, 1026), "delete unknown");
    assert_refused(&rkd(&card, &label("*")), (8, 32), "delete takes no mask");
    assert_refused(&rkd(&card, &[0x1E; 64]), (8, 32), "a token is no label");
    assert_refused(
        &call(
            &card,
            "CSNDRKD",
            &["PKA"],
            vec![Param::Bytes(label("A.SIG"))],
        ),
        (8, 35),
        "RKD takes no keyword",
    );
    assert_eq!(listed(&card, "*", 10).0, 3, "nothing changed");
    // Delete.
    let r = rkd(&card, &label("a.sig"));
    assert_eq!(codes(&r), (0, 0));
    assert!(r.outputs.is_empty());
    assert_eq!(
        listed(&card, "*", 10),
        (2, 2, vec!["B.SIG".into(), "OTHER".into()])
    );
    assert_refused(
        &sign_by_label(&card, "A.SIG", &sha256(b"x")),
        (8, 30),
        "a deleted key signs nothing",
    );
    assert_refused(&rkd(&card, &label("A.SIG")), (8, 1026), "deleted twice");
    // Its label may be used again.
    retain(&card, "A.SIG");
    assert_eq!(listed(&card, "*", 10).0, 3);
}

#[test]
fn retain_refusals_change_nothing() {
    let card = new_card(3);
    retain(&card, "TAKEN");
    let refused = |rules: &[&str], regen: &[u8], skel: &[u8], cap: i32, code, what: &str| {
        assert_refused(&pkg_with(&card, rules, regen, skel, cap), code, what);
    };
    let good = crt_skeleton(&card, 2048, "SIG-ONLY", "NEW.KEY");
    refused(&["RETAIN", "CLONE"], &[], &good, 8000, (8, 2), "CLONE");
    refused(
        &["RETAIN", "MASTER"],
        &[],
        &good,
        8000,
        (8, 34),
        "two forms",
    );
    refused(
        &["RETAIN", "BOGUS"],
        &[],
        &good,
        8000,
        (8, 33),
        "bad keyword",
    );
    refused(
        &["RETAIN"],
        &[7; 8],
        &good,
        8000,
        (8, 2),
        "regeneration data",
    );
    refused(
        &["RETAIN"],
        &[7; 4],
        &good,
        8000,
        (8, 72),
        "regeneration data length",
    );
    refused(
        &["RETAIN"],
        &[],
        &good,
        100,
        (8, 43),
        "public token too long",
    );
    let km = crt_skeleton(&card, 2048, "KEY-MGMT", "NEW.KEY");
    refused(&["RETAIN"], &[], &km, 8000, (12, 3046), "KEY-MGMT");
    let kmo = crt_skeleton(&card, 2048, "KM-ONLY", "NEW.KEY");
    refused(&["RETAIN"], &[], &kmo, 8000, (12, 3046), "KM-ONLY");
    let big = crt_skeleton(&card, 3072, "SIG-ONLY", "NEW.KEY");
    refused(&["RETAIN"], &[], &big, 8000, (8, 770), "above 2048 bits");
    let unnamed = crt_skeleton(&card, 2048, "SIG-ONLY", "");
    refused(&["RETAIN"], &[], &unnamed, 8000, (8, 32), "no label");
    let badname = crt_skeleton(&card, 2048, "SIG-ONLY", "9LIVES");
    refused(&["RETAIN"], &[], &badname, 8000, (8, 32), "bad label");
    let taken = crt_skeleton(&card, 2048, "SIG-ONLY", "TAKEN");
    refused(&["RETAIN"], &[], &taken, 8000, (8, 1025), "label exists");
    let aesc = bytes_out(
        &pkb(
            &card,
            &["RSA-AESC", "SIG-ONLY"],
            skeleton_kvs(2048, &[1, 0, 1]),
            label("NEW.KEY"),
        ),
        "AESC skeleton",
    );
    refused(&["RETAIN"], &[], &aesc, 8000, (8, 34), "X'31' skeleton");
    let ecc = bytes_out(
        &pkb(&card, &["ECC-PAIR"], vec![0, 0, 1, 0, 0, 0, 0, 0], vec![]),
        "ECC skeleton",
    );
    refused(&["RETAIN"], &[], &ecc, 8000, (8, 34), "ECC skeleton");
    refused(
        &["RETAIN"],
        &[],
        &[0, 0, 0, 8, 0, 0, 0, 0],
        8000,
        (8, 47),
        "null token",
    );
    // A public token.
    let public = pkx(&card, &label("TAKEN"));
    refused(&["RETAIN"], &[], &public, 8000, (8, 47), "public token");
    // A corrupted skeleton.
    let mut bad = good.clone();
    bad[8 + 50] = 0x40;
    refused(&["RETAIN"], &[], &bad, 8000, (8, 770), "bad usage byte");
    refused(
        &["RETAIN"],
        &[],
        &good[..good.len() - 1],
        8000,
        (8, 770),
        "cut",
    );
    assert_eq!(listed(&card, "*", 10), (1, 1, vec!["TAKEN".into()]));
    // The good one works afterwards.
    let r = pkg_with(&card, &["RETAIN"], &[], &good, 8000);
    assert_eq!(codes(&r), (0, 0));
    assert_eq!(listed(&card, "*", 10).0, 2);
}

#[test]
fn rsa_crt_skeletons_are_ibms_x08_layout() {
    let card = new_card(4);
    let skel = crt_skeleton(&card, 2048, "SIG-ONLY", "A");
    // Header, X'08' section of 132 bytes (no key values), X'04' with e, X'10' name.
    assert_eq!(&skel[..2], &[0x1E, 0x00]);
    assert_eq!(skel[8], 0x08);
    assert_eq!(u16::from_be_bytes([skel[10], skel[11]]), 132);
    assert_eq!(skel[8 + 28], 0x40, "clear external");
    assert_eq!(skel[140], 0x04);
    assert!(skel.ends_with(&label("A")));
    assert_refused(
        &call(
            &card,
            "CSNDPKB",
            &["RSA-CRT"],
            vec![
                Param::Bytes(skeleton_kvs(2048, &[1, 0, 1])),
                Param::Bytes(vec![]),
                Param::Bytes(vec![]),
                Param::Bytes(vec![]),
                Param::Bytes(vec![]),
                Param::Bytes(vec![]),
                Param::Bytes(vec![]),
                Param::Int(100),
            ],
        ),
        (8, 43),
        "skeleton longer than the buffer",
    );
}

fn platform(flash: &Arc<MemoryFlash>, bbram: &Arc<MemoryBatteryRam>, seed: u64) -> Platform {
    Platform {
        entropy: Box::new(CountingSource::new(seed)),
        clock: Box::new(FixedClock(NOW)),
        flash: Box::new(Arc::clone(flash)),
        bbram: Box::new(Arc::clone(bbram)),
    }
}

#[test]
fn retained_keys_survive_a_restart_and_die_with_zeroization() {
    let flash = Arc::new(MemoryFlash::default());
    let bbram = Arc::new(MemoryBatteryRam::default());
    let (card, how) =
        Card::power_on(platform(&flash, &bbram, 5), Some(Model::Ibm4767)).expect("powers on");
    assert_eq!(how, PowerOn::Manufactured);
    let public = retain(&card, "KEEP.ME");
    let blob = flash
        .read(BLOB)
        .expect("reads")
        .expect("the keys are in flash");
    let (n, _) = public_parts(&public);
    assert!(
        !blob.windows(32).any(|w| w == &n[..32]),
        "the blob is sealed"
    );
    drop(card);
    let (card, how) =
        Card::power_on(platform(&flash, &bbram, 6), Some(Model::Ibm4767)).expect("powers on again");
    assert_eq!(how, PowerOn::Resumed);
    assert_eq!(listed(&card, "*", 5), (1, 1, vec!["KEEP.ME".into()]));
    let hash = sha256(b"after restart");
    signature_verifies(&public, &hash, &sign_by_label(&card, "KEEP.ME", &hash));
    // Zeroization: the blob is removed and the storage key destroyed.
    let (code, _) = card.sense(Sensor::Mesh);
    assert_ne!(code, 0);
    assert_eq!(flash.read(BLOB).expect("reads"), None);
    assert_refused(
        &sign_by_label(&card, "KEEP.ME", &hash),
        (12, 338),
        "a zeroized card",
    );
}

#[test]
fn an_altered_blob_is_8_1031() {
    let flash = Arc::new(MemoryFlash::default());
    let bbram = Arc::new(MemoryBatteryRam::default());
    let (card, _) =
        Card::power_on(platform(&flash, &bbram, 7), Some(Model::Ibm4767)).expect("powers on");
    retain(&card, "K");
    drop(card);
    let mut blob = flash.read(BLOB).expect("reads").expect("present");
    let last = blob.len() - 1;
    blob[last] ^= 1;
    flash.write(BLOB, &blob).expect("writes");
    let (card, _) =
        Card::power_on(platform(&flash, &bbram, 8), Some(Model::Ibm4767)).expect("powers on");
    assert_refused(&rkl(&card, "*", 5), (8, 1031), "list");
    assert_refused(&sign_by_label(&card, "K", &sha256(b"x")), (8, 1031), "sign");
}

#[test]
fn the_card_retains_at_most_its_capacity() {
    let card = new_card(9);
    let skel = crt_skeleton(&card, 2048, "SIG-ONLY", "SPARE");
    let mut made = 0;
    loop {
        let name = format!("K{made}");
        let s = crt_skeleton(&card, 2048, "SIG-ONLY", &name);
        let r = pkg(&card, &["RETAIN"], &s);
        if codes(&r) != (0, 0) {
            assert_refused(&r, (8, 1031), "full");
            break;
        }
        made += 1;
        assert!(made <= 1000, "a capacity exists");
    }
    assert_eq!(made, 128);
    assert_refused(&pkg(&card, &["RETAIN"], &skel), (8, 1031), "still full");
    assert_eq!(codes(&rkd(&card, &label("K0"))), (0, 0));
    assert_eq!(codes(&pkg(&card, &["RETAIN"], &skel)), (0, 0), "room again");
}

#[test]
fn surrendering_segment_3_takes_the_retained_keys() {
    use softcca_card::factory::Factory;
    use softcca_card::firmware::Image;
    let flash = Arc::new(MemoryFlash::default());
    let bbram = Arc::new(MemoryBatteryRam::default());
    let (card, _) =
        Card::power_on(platform(&flash, &bbram, 11), Some(Model::Ibm4767)).expect("powers on");
    retain(&card, "GOES");
    assert!(flash.read(BLOB).expect("reads").is_some());
    let factory = Factory::development(Model::Ibm4767).expect("the development factory");
    let signed = |owner: u16, surrender: bool, name: &str| {
        let mut image = Image {
            segment: 3,
            owner,
            version: (1, 0, 0),
            allow_rollback: false,
            surrender,
            name: name.to_string(),
            payload: name.as_bytes().to_vec(),
            signature: Vec::new(),
        };
        factory
            .code_signer
            .sign_image(&mut image)
            .expect("the image signs");
        image.to_bytes().expect("the image encodes")
    };
    card.load(&signed(2, true, "SURRENDER"))
        .expect("CCA surrenders segment 3");
    assert_eq!(flash.read(BLOB).expect("reads"), None, "the keys are gone");
    card.load(&signed(2, false, "CCA AGAIN"))
        .expect("CCA owns segment 3 again");
    assert_eq!(listed(&card, "*", 5), (0, 0, vec![]));
}
