//! API tests of the card's life: sensors and tamper, the power-on self-test, segment loads,
//! crash recovery, requests in flight, attestation. Driven only through the public interface,
//! on a memory platform. Expected codes are IBM's documented numbers (IBM 4767 FAQ, "What do
//! CLU's return codes mean?") and softcca's documented 8340xxxx / 8440xxxx codes, written as
//! literals.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use softcca_card::attest::{Certificate, SignedStatus, verify_chain};
use softcca_card::card::{Condition, PowerOnOptions, STATE_BLOB};
use softcca_card::factory::{Factory, Issuer, development_root};
use softcca_card::firmware::Image;
use softcca_card::mk::Class;
use softcca_card::platform::{
    BatteryRam, Clock, FixedClock, Flash, MemoryBatteryRam, MemoryFlash, Platform, SystemClock,
};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::selftest::Kat;
use softcca_card::sensors::Sensor;
use softcca_card::{Card, Model, PowerOn, rules};
use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};

/// 2026-11-27 00:47:05 UTC.
const NOW: u64 = 1_795_740_425;

/// IBM's "the coprocessor is not available / code not loaded".
const UNAVAILABLE: (i32, i32) = (12, 338);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A card's flash and battery-backed RAM, kept by the test across power cycles.
#[derive(Debug, Default, Clone)]
struct Store {
    flash: Arc<MemoryFlash>,
    bbram: Arc<MemoryBatteryRam>,
}

impl Store {
    fn platform_with(&self, seed: u64, clock: Box<dyn Clock>) -> Platform {
        Platform {
            entropy: Box::new(CountingSource::new(seed)),
            clock,
            flash: Box::new(Arc::clone(&self.flash)),
            bbram: Box::new(Arc::clone(&self.bbram)),
        }
    }

    fn platform(&self, seed: u64) -> Platform {
        self.platform_with(seed, Box::new(FixedClock(NOW)))
    }

    /// Powers the card in this store on (again).
    fn power_on(&self, seed: u64) -> Card {
        let (card, how) =
            Card::power_on(self.platform(seed), Some(Model::Ibm4767)).expect("the card powers on");
        assert_eq!(how, PowerOn::Resumed, "an existing card resumes");
        card
    }

    fn state_blob(&self) -> Vec<u8> {
        self.flash
            .read(STATE_BLOB)
            .expect("memory flash reads")
            .expect("the card has a state blob")
    }

    fn names(&self) -> Vec<String> {
        self.flash.names().expect("memory flash lists")
    }

    fn segment_blobs(&self, n: u8) -> Vec<String> {
        let prefix = format!("segment-{n}-");
        self.names()
            .into_iter()
            .filter(|name| name.starts_with(&prefix) && name.ends_with(".img"))
            .collect()
    }
}

/// A freshly manufactured IBM 4767 and its store.
fn fresh(seed: u64) -> (Card, Store) {
    let store = Store::default();
    let (card, how) =
        Card::power_on(store.platform(seed), Some(Model::Ibm4767)).expect("a new card powers on");
    assert_eq!(how, PowerOn::Manufactured);
    assert_eq!(card.driver_status(), 0, "a new card is well");
    (card, store)
}

fn ra(keywords: &[&str]) -> Vec<[u8; 8]> {
    keywords
        .iter()
        .map(|k| rules::element(k).expect("keyword fits in 8 bytes"))
        .collect()
}

fn call(card: &Card, verb: &str, rule_array: &[&str], params: Vec<Param>) -> VerbResponse {
    card.execute(&VerbRequest {
        verb: VerbName::new(verb).expect("valid verb name"),
        rule_array: ra(rule_array),
        params,
    })
}

fn codes(r: &VerbResponse) -> (i32, i32) {
    (r.return_code, r.reason_code)
}

fn statcca(card: &Card) -> VerbResponse {
    call(
        card,
        "CSUACFQ",
        &["STATCCA"],
        vec![Param::Int(0), Param::Bytes(Vec::new())],
    )
}

fn rngl(card: &Card, length: i32) -> VerbResponse {
    call(
        card,
        "CSNBRNGL",
        &["RANDOM"],
        vec![Param::Bytes(Vec::new()), Param::Int(length)],
    )
}

fn cfc(card: &Card, rule_array: &[&str]) -> (i32, i32) {
    let r = call(
        card,
        "CSUACFC",
        rule_array,
        vec![Param::Int(0), Param::Bytes(Vec::new())],
    );
    assert!(
        r.rule_array.is_empty() && r.outputs.is_empty(),
        "CSUACFC has no outputs"
    );
    codes(&r)
}

/// Asserts a refused request: the given codes and no output of any kind.
fn assert_refused(r: &VerbResponse, expected: (i32, i32), what: &str) {
    assert_eq!(codes(r), expected, "{what}");
    assert!(r.rule_array.is_empty(), "{what}: no rule-array output");
    assert!(r.outputs.is_empty(), "{what}: no outputs");
}

/// Every verb answers 12/338 and releases nothing.
fn assert_unavailable(card: &Card, what: &str) {
    assert_refused(&statcca(card), UNAVAILABLE, &format!("{what}: CSUACFQ"));
    assert_refused(&rngl(card, 16), UNAVAILABLE, &format!("{what}: CSNBRNGL"));
    assert_refused(
        &call(card, "CSUACFV", &[], vec![Param::Int(17)]),
        UNAVAILABLE,
        &format!("{what}: CSUACFV"),
    );
}

/// The card serves verbs.
fn assert_works(card: &Card, what: &str) {
    let r = statcca(card);
    assert_eq!(codes(&r), (0, 0), "{what}: CSUACFQ STATCCA");
    assert!(!r.rule_array.is_empty(), "{what}: STATCCA has elements");
    let r = rngl(card, 16);
    assert_eq!(codes(&r), (0, 0), "{what}: CSNBRNGL");
    match r.outputs.as_slice() {
        [Param::Bytes(b)] => assert_eq!(b.len(), 16, "{what}: 16 random bytes"),
        other => panic!("{what}: expected one byte string, got {other:?}"),
    }
}

/// Deterministic test bytes, different for each `tag`.
fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = u8::try_from(i).expect("short pattern");
            i.wrapping_mul(73).wrapping_add(tag.wrapping_mul(151)) ^ 0x5A
        })
        .collect()
}

/// Loads an AES master key from three known parts and sets it; returns the key.
fn load_aes_master_key(card: &Card) -> Vec<u8> {
    let parts = [pattern(1, 32), pattern(2, 32), pattern(3, 32)];
    for (process, part) in ["FIRST", "MIDDLE", "LAST"].iter().zip(&parts) {
        let r = call(
            card,
            "CSNBMKP",
            &["AES-MK", process],
            vec![Param::Bytes(part.clone())],
        );
        assert_eq!(codes(&r), (0, 0), "CSNBMKP AES-MK {process}");
    }
    let r = call(
        card,
        "CSNBMKP",
        &["AES-MK", "SET"],
        vec![Param::Bytes(Vec::new())],
    );
    assert_eq!(codes(&r), (0, 0), "CSNBMKP AES-MK SET");
    let key: Vec<u8> = (0..32)
        .map(|i| parts[0][i] ^ parts[1][i] ^ parts[2][i])
        .collect();
    let vps = card.verification_patterns(Class::Aes);
    assert!(vps[0].is_none() && vps[1].is_some() && vps[2].is_none());
    key
}

fn assert_no_master_keys(card: &Card, what: &str) {
    for class in Class::ALL {
        assert_eq!(
            card.verification_patterns(class),
            [None, None, None],
            "{what}: {class:?} registers are empty"
        );
    }
}

fn status_field(card: &Card, name: &str) -> Option<String> {
    card.device_status()
        .fields
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// What a test image is.
#[derive(Clone, Copy)]
struct Spec<'a> {
    segment: u8,
    owner: u16,
    version: (u16, u16, u16),
    rollback: bool,
    surrender: bool,
    name: &'a str,
}

fn spec(segment: u8, owner: u16, version: (u16, u16, u16), name: &str) -> Spec<'_> {
    Spec {
        segment,
        owner,
        version,
        rollback: false,
        surrender: false,
        name,
    }
}

/// A segment image signed by `signer` (a code-signing issuer).
fn image_signed_by(signer: &Issuer, s: Spec<'_>) -> Vec<u8> {
    let mut image = Image {
        segment: s.segment,
        owner: s.owner,
        version: s.version,
        allow_rollback: s.rollback,
        surrender: s.surrender,
        name: s.name.to_string(),
        payload: format!("life test payload for {}", s.name).into_bytes(),
        signature: Vec::new(),
    };
    signer.sign_image(&mut image).expect("the image signs");
    image.to_bytes().expect("the image encodes")
}

fn development_factory() -> Factory {
    Factory::development(Model::Ibm4767).expect("the development factory loads")
}

fn image(factory: &Factory, s: Spec<'_>) -> Vec<u8> {
    image_signed_by(&factory.code_signer, s)
}

fn surrender(factory: &Factory, segment: u8, owner: u16) -> Vec<u8> {
    image(
        factory,
        Spec {
            surrender: true,
            ..spec(segment, owner, (1, 0, 0), "SURRENDER")
        },
    )
}

// ---------------------------------------------------------------------------------------------
// 1. Zeroizing sensors
// ---------------------------------------------------------------------------------------------

#[test]
fn zeroizing_sensors_destroy_every_secret_for_good() {
    let table: [(Sensor, u32); 6] = [
        (Sensor::Mesh, 0x8040_FFF9),
        (Sensor::TemperatureHigh, 0x8040_FFEB),
        (Sensor::TemperatureLow, 0x8040_FFEB),
        (Sensor::VoltageHigh, 0x8040_FFF3),
        (Sensor::VoltageLow, 0x8040_FFF3),
        (Sensor::BatteryDead, 0x8040_FFDA),
    ];
    let factory = development_factory();
    for (i, (sensor, code)) in table.into_iter().enumerate() {
        let seed = 100 + i as u64;
        let what = format!("{sensor:?}");
        let (card, store) = fresh(seed);
        let master_key = load_aes_master_key(&card);
        assert_works(&card, &what);
        let storage_key = store
            .bbram
            .read()
            .expect("bbram reads")
            .expect("a manufactured card has a storage key")
            .to_vec();
        assert!(!storage_key.is_empty());
        let device_certificate = card
            .attest(&[0x33; 32])
            .expect("a well card attests")
            .device_certificate;
        assert!(!device_certificate.is_empty());
        let serial = card.identity().serial;

        let (returned, _) = card.sense(sensor);
        assert_eq!(returned, code, "{what}: sense returns the driver code");
        assert_eq!(card.driver_status(), code, "{what}: driver status");
        assert_eq!(card.condition(), Condition::Disabled(sensor), "{what}");
        assert_unavailable(&card, &what);
        assert_no_master_keys(&card, &what);
        assert!(card.attest(&[0x44; 32]).is_err(), "{what}: no attestation");
        assert!(
            store.bbram.read().expect("bbram reads").is_none(),
            "{what}: the battery-backed RAM is empty"
        );
        let blob = store.state_blob();
        assert!(
            !contains(&blob, &storage_key),
            "{what}: storage key in flash"
        );
        assert!(!contains(&blob, &master_key), "{what}: master key in flash");
        assert!(
            !contains(&blob, &device_certificate),
            "{what}: device certificate in flash"
        );
        // Nothing brings it back: not a reset, not another sensor, not a load.
        assert_eq!(card.reset(), code, "{what}: reset keeps it disabled");
        for other in Sensor::ALL {
            let (returned, _) = card.sense(other);
            assert_eq!(returned, code, "{what}: then {other:?}");
            assert_eq!(card.driver_status(), code, "{what}: then {other:?}");
        }
        let newer = image(&factory, spec(3, 2, (5, 6, 10), "5.6.10 CCA"));
        assert!(card.load(&newer).is_err(), "{what}: load refused");
        assert!(card.load(b"garbage").is_err(), "{what}: load refused");
        assert_eq!(card.condition(), Condition::Disabled(sensor), "{what}");
        drop(card);

        let again = store.power_on(seed + 1000);
        assert_eq!(again.condition(), Condition::Disabled(sensor), "{what}");
        assert_eq!(again.driver_status(), code, "{what}: after power-on");
        assert_eq!(again.identity().serial, serial, "{what}: same serial");
        assert_unavailable(&again, &format!("{what} after power-on"));
        assert_no_master_keys(&again, &what);
        assert!(again.attest(&[0x55; 32]).is_err(), "{what}: no attestation");
        for other in Sensor::ALL {
            assert_eq!(
                again.sense(other).0,
                code,
                "{what}: after power-on, {other:?}"
            );
        }
        assert!(again.load(&newer).is_err(), "{what}: load refused");
        assert_eq!(again.driver_status(), code);
        assert!(store.bbram.read().expect("bbram reads").is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Battery warning
// ---------------------------------------------------------------------------------------------

#[test]
fn battery_warning_keeps_the_card_and_is_persisted() {
    let (card, store) = fresh(200);
    load_aes_master_key(&card);
    let vps = card.verification_patterns(Class::Aes);

    assert_eq!(card.sense(Sensor::BatteryLow).0, 0x8040_FFFE);
    assert_eq!(card.driver_status(), 0x8040_FFFE);
    assert_eq!(status_field(&card, "Battery").as_deref(), Some("LOW"));
    assert_works(&card, "battery low");
    assert_eq!(card.verification_patterns(Class::Aes), vps);
    drop(card);

    // The warning survives power-on.
    let card = store.power_on(201);
    assert_eq!(card.driver_status(), 0x8040_FFFE, "warning persisted");
    assert_works(&card, "battery low after power-on");
    assert_eq!(card.verification_patterns(Class::Aes), vps);

    // Replacing the batteries under power keeps everything.
    assert_eq!(card.sense(Sensor::BatteryReplaced).0, 0);
    assert_eq!(card.driver_status(), 0);
    assert_eq!(status_field(&card, "Battery").as_deref(), Some("OK"));
    assert_eq!(card.verification_patterns(Class::Aes), vps);
    assert_works(&card, "batteries replaced");
    drop(card);
    let card = store.power_on(202);
    assert_eq!(card.driver_status(), 0);
    assert_eq!(card.verification_patterns(Class::Aes), vps);
    assert_works(&card, "batteries replaced, after power-on");

    // CSUACFC RESETBAT clears the indicator too.
    assert_eq!(card.sense(Sensor::BatteryLow).0, 0x8040_FFFE);
    assert_eq!(cfc(&card, &["RESETBAT"]), (0, 0));
    assert_eq!(card.driver_status(), 0);
    assert_eq!(cfc(&card, &["ADAPTER1", "RESETBAT"]), (0, 0));
    drop(card);
    let card = store.power_on(203);
    assert_eq!(card.driver_status(), 0, "RESETBAT persisted");
    assert_eq!(card.verification_patterns(Class::Aes), vps);
}

// ---------------------------------------------------------------------------------------------
// 3. Intrusion latch
// ---------------------------------------------------------------------------------------------

#[test]
fn intrusion_latch_until_reset_il() {
    let (card, store) = fresh(300);
    load_aes_master_key(&card);
    let vps = card.verification_patterns(Class::Aes);

    assert_eq!(card.sense(Sensor::Intrusion).0, 0x8040_FFBF);
    assert_eq!(card.driver_status(), 0x8040_FFBF);
    assert_eq!(
        status_field(&card, "Intrusion Latch").as_deref(),
        Some("SET")
    );
    assert_works(&card, "intrusion latch set");
    drop(card);

    let card = store.power_on(301);
    assert_eq!(card.driver_status(), 0x8040_FFBF, "latch persisted");
    assert_works(&card, "intrusion latch after power-on");

    // Refusals change nothing.
    assert_eq!(cfc(&card, &["BOGUSKW"]), (8, 33));
    assert_eq!(cfc(&card, &["RQ-TOKEN"]), (8, 2));
    assert_eq!(cfc(&card, &[]), (8, 35));
    assert_eq!(card.driver_status(), 0x8040_FFBF);

    assert_eq!(cfc(&card, &["RESET-IL"]), (0, 0));
    assert_eq!(card.driver_status(), 0);
    assert_eq!(
        status_field(&card, "Intrusion Latch").as_deref(),
        Some("CLEAR")
    );
    assert_eq!(card.verification_patterns(Class::Aes), vps);
    drop(card);
    let card = store.power_on(302);
    assert_eq!(card.driver_status(), 0, "RESET-IL persisted");
    assert_works(&card, "latch cleared, after power-on");
    assert_eq!(card.verification_patterns(Class::Aes), vps);
}

// ---------------------------------------------------------------------------------------------
// 4. X-ray
// ---------------------------------------------------------------------------------------------

#[test]
fn xray_does_not_apply_to_the_pcie_card() {
    let (card, store) = fresh(400);
    load_aes_master_key(&card);
    let vps = card.verification_patterns(Class::Aes);
    let before = store.state_blob();

    assert_eq!(card.sense(Sensor::XRay).0, 0x8040_FFDB);
    assert_eq!(card.driver_status(), 0);
    assert_eq!(card.condition(), Condition::Ready);
    assert_works(&card, "after X-ray");
    assert_eq!(card.verification_patterns(Class::Aes), vps);
    assert_eq!(store.state_blob(), before, "nothing was recorded");
    drop(card);
    let card = store.power_on(401);
    assert_eq!(card.driver_status(), 0);
    assert_works(&card, "after X-ray and power-on");
}

// ---------------------------------------------------------------------------------------------
// 5. Reset bit
// ---------------------------------------------------------------------------------------------

#[test]
fn reset_bit_stops_the_card_until_reset() {
    let (card, _store) = fresh(500);
    load_aes_master_key(&card);
    let vps = card.verification_patterns(Class::Aes);

    assert_eq!(card.sense(Sensor::ResetBit).0, 0x8040_FFFB);
    assert_eq!(card.driver_status(), 0x8040_FFFB);
    assert_eq!(card.condition(), Condition::ResetBit);
    assert_unavailable(&card, "reset bit on");
    // It stays on until a reset.
    assert_unavailable(&card, "reset bit still on");
    assert_eq!(card.driver_status(), 0x8040_FFFB);

    assert_eq!(card.reset(), 0);
    assert_eq!(card.driver_status(), 0);
    assert_works(&card, "after reset");
    assert_eq!(card.verification_patterns(Class::Aes), vps, "keys intact");
}

// ---------------------------------------------------------------------------------------------
// 6. Known-answer test failure
// ---------------------------------------------------------------------------------------------

#[test]
fn failing_known_answer_test_latches_self_test_failed() {
    let store = Store::default();
    let (card, how) = Card::power_on_with(
        store.platform(600),
        PowerOnOptions {
            model: Some(Model::Ibm4767),
            insecure_failing_kat: Some(Kat::Sha256),
            ..PowerOnOptions::default()
        },
    )
    .expect("the card powers on");
    assert_eq!(how, PowerOn::Manufactured);
    assert_eq!(card.driver_status(), 0x8340_0401);
    assert_eq!(card.condition(), Condition::SelfTestFailed(0x8340_0401));
    assert_unavailable(&card, "KAT failed");
    assert_eq!(card.reset(), 0x8340_0401, "the test fails again");
    assert_unavailable(&card, "KAT failed after reset");
    drop(card);
    // Without the forced failure the same card is well.
    let card = store.power_on(601);
    assert_eq!(card.driver_status(), 0);
    assert_works(&card, "healthy power-on");
}

// ---------------------------------------------------------------------------------------------
// 7. Segment image integrity
// ---------------------------------------------------------------------------------------------

#[test]
fn a_corrupted_segment_image_fails_the_self_test() {
    let expected: [u32; 3] = [0x8440_0A01, 0x8440_0A02, 0x8440_0A03];
    for (n, code) in (1u8..=3).zip(expected) {
        let seed = 700 + u64::from(n);
        let (card, store) = fresh(seed);
        let blobs = store.segment_blobs(n);
        assert_eq!(blobs.len(), 1, "segment {n}: one image blob");
        let blob = &blobs[0];
        // The blob is the one the status names: its name carries the first 8 bytes of the hash.
        let hash = status_field(&card, &format!("Segment-{n} Hash")).expect("hash shown");
        let short: String = hash.replace(' ', "").to_ascii_lowercase()[..16].to_string();
        assert_eq!(*blob, format!("segment-{n}-{short}.img"));
        drop(card);

        let mut bytes = store
            .flash
            .read(blob)
            .expect("flash reads")
            .expect("blob exists");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        store.flash.write(blob, &bytes).expect("flash writes");

        let card = store.power_on(seed + 1000);
        assert_eq!(card.driver_status(), code, "segment {n}");
        assert_eq!(card.condition(), Condition::SelfTestFailed(code));
        assert_unavailable(&card, &format!("segment {n} corrupted"));
        assert_eq!(card.reset(), code, "segment {n}: still corrupted");
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Loads, reloads, owners
// ---------------------------------------------------------------------------------------------

#[test]
fn loads_reloads_and_owners() {
    let factory = development_factory();
    let (card, store) = fresh(800);
    load_aes_master_key(&card);
    let vps = card.verification_patterns(Class::Aes);
    let original = status_field(&card, "Segment-3 Image").expect("segment 3 image");

    // Reload with a newer image: master keys survive.
    let message = card
        .load(&image(&factory, spec(3, 2, (5, 6, 10), "5.6.10 CCA TEST")))
        .expect("a newer image reloads");
    assert!(message.contains("reloaded"), "{message}");
    assert_eq!(
        status_field(&card, "Segment-3 Image").as_deref(),
        Some("5.6.10 CCA TEST")
    );
    assert_eq!(
        status_field(&card, "Segment-3 Revision").as_deref(),
        Some("50610")
    );
    assert_eq!(card.verification_patterns(Class::Aes), vps, "keys survive");
    assert_eq!(card.driver_status(), 0);
    assert_works(&card, "after reload");
    assert_eq!(store.segment_blobs(3).len(), 1, "the old image is removed");
    assert_ne!(Some(original), status_field(&card, "Segment-3 Image"));

    // Signed by another code signer.
    let (root, _) = Issuer::new_root("another root", NOW - 10, NOW + 86_400).expect("root");
    let (other, _) = Issuer::new_code_signer(&root, "another code signer", NOW - 10, NOW + 86_400)
        .expect("code signer");
    let refused = card
        .load(&image_signed_by(
            &other,
            spec(3, 2, (5, 7, 0), "5.7.0 FOREIGN"),
        ))
        .expect_err("a foreign signature is refused");
    assert_eq!(refused.code, 0x8440_0802);
    assert_eq!(
        status_field(&card, "Segment-3 Image").as_deref(),
        Some("5.6.10 CCA TEST")
    );
    assert_works(&card, "after a refused foreign image");

    // Not an image.
    let refused = card
        .load(b"this is not a segment image at all")
        .expect_err("garbage is refused");
    assert_eq!(refused.code, 0x8440_0801);
    assert_eq!(
        card.load(&[]).expect_err("empty is refused").code,
        0x8440_0801
    );

    // Rollback.
    let refused = card
        .load(&image(&factory, spec(3, 2, (5, 6, 9), "5.6.9 OLDER")))
        .expect_err("an older image is refused");
    assert_eq!(refused.code, 0x8440_0804);
    assert_eq!(
        status_field(&card, "Segment-3 Revision").as_deref(),
        Some("50610")
    );
    card.load(&image(
        &factory,
        Spec {
            rollback: true,
            ..spec(3, 2, (5, 6, 8), "5.6.8 ROLLBACK")
        },
    ))
    .expect("an image that allows rollback loads");
    assert_eq!(
        status_field(&card, "Segment-3 Image").as_deref(),
        Some("5.6.8 ROLLBACK")
    );
    assert_eq!(
        status_field(&card, "Segment-3 Revision").as_deref(),
        Some("50608")
    );
    assert_eq!(card.verification_patterns(Class::Aes), vps);
    assert_works(&card, "after rollback");

    // Another owner's image for an owned segment.
    let refused = card
        .load(&image(&factory, spec(3, 7, (6, 0, 0), "OWNER 7 APP")))
        .expect_err("another owner is refused");
    assert_eq!(refused.code, 0x8440_0803);
    assert_works(&card, "after a refused owner");
    assert_eq!(card.verification_patterns(Class::Aes), vps);

    // Surrender segment 3: no CCA, secrets cleared.
    card.load(&surrender(&factory, 3, 2))
        .expect("CCA surrenders segment 3");
    assert_eq!(
        status_field(&card, "Segment-3 State").as_deref(),
        Some("UNOWNED")
    );
    assert_eq!(status_field(&card, "Segment-3 Owner ID"), None);
    assert_eq!(
        status_field(&card, "Segment-3 Image").as_deref(),
        Some("(none)")
    );
    assert!(
        store.segment_blobs(3).is_empty(),
        "segment 3's image is gone"
    );
    assert_unavailable(&card, "segment 3 surrendered");
    assert_no_master_keys(&card, "segment 3 surrendered");
    let refused = card
        .load(&surrender(&factory, 3, 2))
        .expect_err("nothing to surrender");
    assert_eq!(refused.code, 0x8440_0805);

    // Establish owner 7 in segment 3: not CCA.
    card.load(&image(&factory, spec(3, 7, (1, 0, 0), "OWNER 7 APP")))
        .expect("owner 7 establishes segment 3");
    assert_eq!(
        status_field(&card, "Segment-3 Owner ID").as_deref(),
        Some("7")
    );
    assert_eq!(
        status_field(&card, "Segment-3 State").as_deref(),
        Some("RUNNABLE")
    );
    assert_unavailable(&card, "owner 7 in segment 3");

    // Owner 7 surrenders; CCA comes back without the old secrets.
    let refused = card
        .load(&surrender(&factory, 3, 2))
        .expect_err("owner 2 cannot surrender owner 7's segment");
    assert_eq!(refused.code, 0x8440_0803);
    card.load(&surrender(&factory, 3, 7))
        .expect("owner 7 surrenders");
    card.load(&image(&factory, spec(3, 2, (5, 6, 9), "5.6.9 CCA AGAIN")))
        .expect("CCA establishes segment 3 again");
    assert_eq!(
        status_field(&card, "Segment-3 Owner ID").as_deref(),
        Some("2")
    );
    assert_works(&card, "CCA again");
    assert_no_master_keys(&card, "CCA again");
    assert_eq!(card.driver_status(), 0);

    // Surrendering segment 2 empties segment 3 too.
    load_aes_master_key(&card);
    card.load(&surrender(&factory, 2, 2))
        .expect("segment 2 surrenders");
    for n in [2, 3] {
        assert_eq!(
            status_field(&card, &format!("Segment-{n} State")).as_deref(),
            Some("UNOWNED"),
            "segment {n}"
        );
        assert_eq!(
            status_field(&card, &format!("Segment-{n} Image")).as_deref(),
            Some("(none)"),
            "segment {n}"
        );
        assert!(store.segment_blobs(n).is_empty(), "segment {n} blob gone");
    }
    assert_unavailable(&card, "segment 2 surrendered");
    assert_no_master_keys(&card, "segment 2 surrendered");
    let refused = card
        .load(&image(&factory, spec(3, 2, (5, 6, 9), "5.6.9 CCA")))
        .expect_err("segment 3 needs a runnable segment 2");
    assert_eq!(refused.code, 0x8440_0805);

    // Everything back, and it survives power-on.
    card.load(&image(&factory, spec(2, 2, (5, 6, 9), "5.6.9 CCA-OS")))
        .expect("segment 2 establishes");
    card.load(&image(&factory, spec(3, 2, (5, 6, 9), "5.6.9 CCA")))
        .expect("segment 3 establishes");
    assert_works(&card, "reinstalled");
    drop(card);
    let card = store.power_on(801);
    assert_eq!(card.driver_status(), 0);
    assert_works(&card, "reinstalled, after power-on");
    assert_eq!(
        status_field(&card, "Segment-3 Image").as_deref(),
        Some("5.6.9 CCA")
    );
}

// ---------------------------------------------------------------------------------------------
// 9. A crash in the middle of a load
// ---------------------------------------------------------------------------------------------

#[test]
fn a_load_that_never_committed_leaves_the_old_image() {
    let factory = development_factory();
    let (card, store) = fresh(900);
    load_aes_master_key(&card);
    let vps = card.verification_patterns(Class::Aes);
    let image_name = status_field(&card, "Segment-3 Image").expect("segment 3 image");
    let names_before = store.names();
    drop(card);

    let orphan = "segment-3-deadbeefdeadbeef.img";
    let bytes = image(&factory, spec(3, 2, (5, 6, 10), "5.6.10 NEVER COMMITTED"));
    store.flash.write(orphan, &bytes).expect("flash writes");

    let card = store.power_on(901);
    assert_eq!(card.driver_status(), 0);
    assert_works(&card, "after the crash");
    assert_eq!(
        status_field(&card, "Segment-3 Image").as_deref(),
        Some(image_name.as_str())
    );
    assert_eq!(card.verification_patterns(Class::Aes), vps);
    let names = store.names();
    assert!(
        !names.iter().any(|n| n == orphan),
        "orphan removed: {names:?}"
    );
    assert_eq!(names, names_before);
}

// ---------------------------------------------------------------------------------------------
// 10. Power-on self-test polling
// ---------------------------------------------------------------------------------------------

#[test]
fn post_polling_sees_only_unavailable_then_only_success() {
    let store = Store::default();
    let (card, _) = Card::power_on_with(
        store.platform_with(1000, Box::new(SystemClock)),
        PowerOnOptions {
            model: Some(Model::Ibm4767),
            self_test: Duration::from_millis(1500),
            ..PowerOnOptions::default()
        },
    )
    .expect("the card powers on");
    assert_refused(&statcca(&card), UNAVAILABLE, "CSUACFQ during self-test");
    let state = status_field(&card, "Card State").expect("card state shown");
    assert!(state.starts_with("POWER-ON SELF-TEST"), "{state}");
    assert!(matches!(card.condition(), Condition::SelfTest { .. }));

    let polls = thread::scope(|s| {
        s.spawn(|| {
            let mut seen = Vec::new();
            let mut successes = 0;
            while seen.len() < 200 && successes < 5 {
                let r = statcca(&card);
                let ok = codes(&r) == (0, 0);
                seen.push((codes(&r), r.rule_array.is_empty() && r.outputs.is_empty()));
                if ok || successes > 0 {
                    successes += 1;
                }
                thread::sleep(Duration::from_millis(50));
            }
            seen
        })
        .join()
        .expect("the polling thread does not panic")
    });
    let first = polls
        .iter()
        .position(|(c, _)| *c == (0, 0))
        .expect("the card became ready within 200 polls");
    for (i, (c, empty)) in polls[..first].iter().enumerate() {
        assert_eq!(*c, UNAVAILABLE, "poll {i} before ready");
        assert!(*empty, "poll {i}: no output before ready");
    }
    for (i, (c, _)) in polls[first..].iter().enumerate() {
        assert_eq!(*c, (0, 0), "poll {} after ready", first + i);
    }
    assert_eq!(card.condition(), Condition::Ready);
    assert_eq!(status_field(&card, "Card State").as_deref(), Some("READY"));
}

// ---------------------------------------------------------------------------------------------
// 11. Requests in flight during a tamper
// ---------------------------------------------------------------------------------------------

#[test]
fn requests_after_a_tamper_release_nothing() {
    let (card, _store) = fresh(1100);
    let tampered = AtomicBool::new(false);
    let started = AtomicUsize::new(0);
    let violations = thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let mut bad = Vec::new();
                    let mut after = 0;
                    let mut calls = 0usize;
                    while after < 200 && calls < 1_000_000 {
                        let was_tampered = tampered.load(Ordering::Acquire);
                        let r = rngl(&card, 32);
                        calls += 1;
                        if calls == 1 {
                            started.fetch_add(1, Ordering::AcqRel);
                        }
                        let shape_ok = match codes(&r) {
                            (0, 0) => {
                                matches!(r.outputs.as_slice(), [Param::Bytes(b)] if b.len() == 32)
                            }
                            (12, 338) => r.outputs.is_empty() && r.rule_array.is_empty(),
                            _ => false,
                        };
                        if !shape_ok {
                            bad.push(format!("unexpected response {r:?}"));
                        }
                        if was_tampered {
                            after += 1;
                            if codes(&r) != UNAVAILABLE || !r.outputs.is_empty() {
                                bad.push(format!("after the tamper: {r:?}"));
                            }
                        }
                    }
                    bad
                })
            })
            .collect();
        while started.load(Ordering::Acquire) < 8 {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(20));
        let (code, _) = card.sense(Sensor::Mesh);
        tampered.store(true, Ordering::Release);
        assert_eq!(code, 0x8040_FFF9);
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("no worker panics"))
            .collect::<Vec<_>>()
    });
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(card.driver_status(), 0x8040_FFF9);
    assert_unavailable(&card, "after the tamper");
}

// ---------------------------------------------------------------------------------------------
// 12. Attestation
// ---------------------------------------------------------------------------------------------

#[test]
fn attestation_verifies_against_the_development_root() {
    let (card, _store) = fresh(1200);
    let nonce = [0x42u8; 32];
    let attestation = card.attest(&nonce).expect("the card attests");
    let class = Certificate::from_bytes(&attestation.class_certificate).expect("class cert");
    let device = Certificate::from_bytes(&attestation.device_certificate).expect("device cert");
    let root = development_root().expect("development root");
    verify_chain(&root.public_key, &class, &device, NOW).expect("the chain verifies");
    let serial = card.identity().serial_str().to_string();
    assert_eq!(
        device.serial,
        serial.as_bytes(),
        "the device cert names the serial"
    );

    let status = SignedStatus::from_bytes(&attestation.signed_status).expect("signed status");
    status
        .verify(&device.public_key, &nonce)
        .expect("the status verifies");
    assert!(
        status.verify(&device.public_key, &[0x43u8; 32]).is_err(),
        "another nonce does not verify"
    );
    assert!(
        status
            .fields
            .iter()
            .any(|(n, v)| n == "Serial Number" && *v == serial),
        "{:?}",
        status.fields
    );
    assert!(
        status
            .fields
            .iter()
            .any(|(n, v)| n == "Driver Status" && v == "00000000"),
        "{:?}",
        status.fields
    );

    // Another root does not vouch for it.
    let (other_root, _) = Issuer::new_root("other root", NOW - 10, NOW + 86_400).expect("root");
    assert!(verify_chain(&other_root.public_key(), &class, &device, NOW).is_err());

    assert!(
        card.attest(&[0u8; 8]).is_err(),
        "an 8-byte nonce is refused"
    );
    assert!(card.attest(&[1u8; 16]).is_ok(), "a 16-byte nonce is fine");
}

// ---------------------------------------------------------------------------------------------
// 11b. A reset running while the card is tampered with
// ---------------------------------------------------------------------------------------------

#[test]
fn a_reset_racing_a_tamper_does_not_revive_the_card() {
    for round in 0..5u64 {
        let (card, _store) = fresh(1300 + round);
        let stop = AtomicBool::new(false);
        let resets = AtomicUsize::new(0);
        let sensed = thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Acquire) {
                    card.reset();
                    resets.fetch_add(1, Ordering::AcqRel);
                }
            });
            while resets.load(Ordering::Acquire) < 3 {
                thread::yield_now();
            }
            let (code, _) = card.sense(Sensor::Mesh);
            // Let a few more resets run after the tamper, then stop the resetting thread.
            let after = resets.load(Ordering::Acquire);
            while resets.load(Ordering::Acquire) < after + 3 {
                thread::yield_now();
            }
            stop.store(true, Ordering::Release);
            code
        });
        assert_eq!(sensed, 0x8040_FFF9, "round {round}: sense");
        assert_eq!(
            card.condition(),
            Condition::Disabled(Sensor::Mesh),
            "round {round}"
        );
        assert_eq!(card.driver_status(), 0x8040_FFF9, "round {round}");
        assert_unavailable(&card, &format!("round {round}: after tamper and resets"));
    }
}
