//! API tests of Clear_Key_Import (CSNBCKI) and Multiple_Clear_Key_Import (CSNBCKM) through
//! [`Card::execute`]. Master keys are loaded from known parts with CSNBMKP so that the test
//! can rebuild them and unwrap the tokens the card returns. Expected codes are IBM's values,
//! written as literals.

use std::sync::Arc;

use softcca_card::mk::{Class, MasterKey};
use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::aes::{AesMaterial, AesToken};
use softcca_card::tokens::des::{DesToken, InternalDes};
use softcca_card::tokens::{KeyLength, wrap};
use softcca_card::{Card, Model, PowerOn, rules};
use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};

const NOW: u64 = 1_795_740_425;

fn new_card(seed: u64) -> Card {
    let platform = Platform {
        entropy: Box::new(CountingSource::new(seed)),
        clock: Box::new(FixedClock(NOW)),
        flash: Box::new(Arc::new(MemoryFlash::default())),
        bbram: Box::new(Arc::new(MemoryBatteryRam::default())),
    };
    let (card, how) = Card::power_on(platform, Some(Model::Ibm4767)).expect("powers on");
    assert_eq!(how, PowerOn::Manufactured);
    card
}

fn call(card: &Card, verb: &str, rule_array: &[&str], params: Vec<Param>) -> VerbResponse {
    card.execute(&VerbRequest {
        verb: VerbName::new(verb).expect("valid verb name"),
        rule_array: rule_array
            .iter()
            .map(|k| rules::element(k).expect("keyword fits"))
            .collect(),
        params,
    })
}

fn codes(r: &VerbResponse) -> (i32, i32) {
    (r.return_code, r.reason_code)
}

fn assert_refused(r: &VerbResponse, expected: (i32, i32), what: &str) {
    assert_eq!(codes(r), expected, "{what}");
    assert!(r.rule_array.is_empty(), "{what}: no rule-array output");
    assert!(r.outputs.is_empty(), "{what}: no outputs");
}

fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = u8::try_from(i).expect("short pattern");
            i.wrapping_mul(73).wrapping_add(tag.wrapping_mul(151)) ^ 0x5A
        })
        .collect()
}

fn with_odd_parity(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        if b.count_ones() % 2 == 0 {
            *b ^= 1;
        }
    }
    bytes
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn mkp(card: &Card, class: &str, process: &str, part: &[u8]) {
    let r = call(
        card,
        "CSNBMKP",
        &[class, process],
        vec![Param::Bytes(part.to_vec())],
    );
    assert_eq!(codes(&r), (0, 0), "CSNBMKP {class} {process}");
}

/// Loads a SYM master key from two known odd-parity parts and sets it; returns the key the
/// card now holds (LAST adjusts the combined key to odd parity).
fn load_sym(card: &Card) -> MasterKey {
    let p1 = with_odd_parity(pattern(31, 24));
    let p2 = with_odd_parity(pattern(32, 24));
    mkp(card, "SYM-MK", "FIRST", &p1);
    mkp(card, "SYM-MK", "LAST", &p2);
    mkp(card, "SYM-MK", "SET", &[]);
    let mk = MasterKey::from_bytes(&with_odd_parity(xor(&p1, &p2)));
    assert_eq!(
        card.verification_patterns(Class::Sym)[1],
        Some(softcca_card::mk::verification_pattern(Class::Sym, &mk)),
        "the test rebuilt the card's SYM master key"
    );
    mk
}

fn load_aes(card: &Card) -> MasterKey {
    let q1 = pattern(41, 32);
    let q2 = pattern(42, 32);
    mkp(card, "AES-MK", "FIRST", &q1);
    mkp(card, "AES-MK", "LAST", &q2);
    mkp(card, "AES-MK", "SET", &[]);
    let mk = MasterKey::from_bytes(&xor(&q1, &q2));
    assert_eq!(
        card.verification_patterns(Class::Aes)[1],
        Some(softcca_card::mk::verification_pattern(Class::Aes, &mk)),
        "the test rebuilt the card's AES master key"
    );
    mk
}

fn token_of(r: &VerbResponse) -> Vec<u8> {
    assert!(r.rule_array.is_empty());
    match r.outputs.as_slice() {
        [Param::Bytes(t)] => {
            assert_eq!(t.len(), 64);
            t.clone()
        }
        other => panic!("one 64-byte token expected, got {other:?}"),
    }
}

fn internal_des(token: &[u8]) -> InternalDes {
    match DesToken::parse(token).expect("the token parses") {
        DesToken::Internal(t) => t,
        other => panic!("internal DES token expected, got {other:?}"),
    }
}

fn hex8(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// IBM's default DATA control vectors (left, right) by key length.
fn data_cv(length: KeyLength) -> ([u8; 8], [u8; 8]) {
    match length {
        KeyLength::Single => (hex8(0x00007D0003000000), [0; 8]),
        KeyLength::Double => (hex8(0x00007D0003410000), hex8(0x00007D0003210000)),
        KeyLength::Triple => (hex8(0x00007D0003600081), hex8(0x00007D0003600081)),
    }
}

fn check_des(card: &Card, mk: &MasterKey, token: &[u8], clear: &[u8], length: KeyLength) {
    let t = internal_des(token);
    assert_eq!(Some(t.mkvp), card.verification_patterns(Class::Sym)[1]);
    assert_eq!(t.fields.length, length);
    assert_eq!((t.fields.cv_left, t.fields.cv_right), data_cv(length));
    assert_eq!(token[4], 0x00, "version X'00': the DATA CV is present");
    let (key, _) = wrap::unwrap_des(&t, Some(mk), None).expect("unwraps");
    assert_eq!(
        key.expose(),
        clear,
        "the key as given: IBM does not adjust parity"
    );
}

const NULL: [u8; 64] = [0; 64];

#[test]
fn csnbcki_imports_a_single_length_data_key() {
    let card = new_card(1);
    let mk = load_sym(&card);
    let clear = with_odd_parity(pattern(1, 8));
    let r = call(
        &card,
        "CSNBCKI",
        &[],
        vec![Param::Bytes(clear.clone()), Param::Bytes(NULL.to_vec())],
    );
    assert_eq!(codes(&r), (0, 0));
    let token = token_of(&r);
    check_des(&card, &mk, &token, &clear, KeyLength::Single);

    // The returned token may be given back as the target: it is a DATA token.
    let clear2 = with_odd_parity(pattern(2, 8));
    let r = call(
        &card,
        "CSNBCKI",
        &[],
        vec![Param::Bytes(clear2.clone()), Param::Bytes(token)],
    );
    assert_eq!(codes(&r), (0, 0));
    check_des(&card, &mk, &token_of(&r), &clear2, KeyLength::Single);
}

#[test]
fn csnbcki_warns_without_adjusting_parity() {
    let card = new_card(2);
    let mk = load_sym(&card);
    let mut clear = with_odd_parity(pattern(3, 8));
    clear[3] ^= 0x01;
    let r = call(
        &card,
        "CSNBCKI",
        &[],
        vec![Param::Bytes(clear.clone()), Param::Bytes(NULL.to_vec())],
    );
    assert_eq!(codes(&r), (0, 2));
    check_des(&card, &mk, &token_of(&r), &clear, KeyLength::Single);
}

#[test]
fn csnbcki_refusals() {
    let card = new_card(3);
    let clear = with_odd_parity(pattern(4, 8));
    let params =
        |key: &[u8], target: &[u8]| vec![Param::Bytes(key.to_vec()), Param::Bytes(target.to_vec())];
    assert_refused(
        &call(&card, "CSNBCKI", &[], params(&clear, &NULL)),
        (12, 764),
        "no SYM master key",
    );
    load_sym(&card);
    assert_refused(
        &call(&card, "CSNBCKI", &["DES"], params(&clear, &NULL)),
        (8, 35),
        "CSNBCKI takes no rule array",
    );
    assert_refused(
        &call(&card, "CSNBCKI", &[], params(&clear[..7], &NULL)),
        (8, 72),
        "7-byte key",
    );
    assert_refused(
        &call(&card, "CSNBCKI", &[], params(&pattern(5, 16), &NULL)),
        (8, 72),
        "CSNBCKI imports only single-length keys",
    );
    assert_refused(
        &call(&card, "CSNBCKI", &[], params(&clear, &NULL[..63])),
        (8, 43),
        "63-byte target",
    );
    // An internal token of another key type: build a single-length CIPHER token by hand.
    let r = call(&card, "CSNBCKI", &[], params(&clear, &NULL));
    let mut t = internal_des(&token_of(&r));
    t.fields.cv_left = hex8(0x0003710003000000);
    let cipher = DesToken::Internal(t).to_bytes();
    assert_refused(
        &call(&card, "CSNBCKI", &[], params(&clear, &cipher)),
        (8, 31),
        "CIPHER target",
    );
    let mut label = [b' '; 64];
    label[..10].copy_from_slice(b"MY.DATAKEY");
    assert_refused(
        &call(&card, "CSNBCKI", &[], params(&clear, &label)),
        (8, 47),
        "labels are resolved by the host library; one reaching the card is no token",
    );
}

#[test]
fn csnbckm_des_every_length() {
    let card = new_card(4);
    let mk = load_sym(&card);
    for (length, rule_array) in [
        (KeyLength::Single, &[][..]),
        (KeyLength::Double, &["DES"][..]),
        (KeyLength::Triple, &["DES", "USECONFG"][..]),
        (KeyLength::Double, &["WRAP-ECB"][..]),
    ] {
        let clear = with_odd_parity(pattern(6, length.bytes()));
        let r = call(
            &card,
            "CSNBCKM",
            rule_array,
            vec![Param::Bytes(clear.clone()), Param::Bytes(NULL.to_vec())],
        );
        assert_eq!(codes(&r), (0, 0), "{length:?} {rule_array:?}");
        check_des(&card, &mk, &token_of(&r), &clear, length);
    }
    let mut clear = with_odd_parity(pattern(7, 24));
    clear[20] ^= 0x01;
    let r = call(
        &card,
        "CSNBCKM",
        &[],
        vec![Param::Bytes(clear.clone()), Param::Bytes(NULL.to_vec())],
    );
    assert_eq!(codes(&r), (0, 2), "out-of-parity triple key");
    check_des(&card, &mk, &token_of(&r), &clear, KeyLength::Triple);

    // A double-length DATA token as input gives a triple-length token: the input's CV is
    // not used.
    let clear16 = with_odd_parity(pattern(8, 16));
    let r = call(
        &card,
        "CSNBCKM",
        &[],
        vec![Param::Bytes(clear16), Param::Bytes(NULL.to_vec())],
    );
    let double = token_of(&r);
    let clear24 = with_odd_parity(pattern(9, 24));
    let r = call(
        &card,
        "CSNBCKM",
        &["DES"],
        vec![Param::Bytes(clear24.clone()), Param::Bytes(double)],
    );
    assert_eq!(codes(&r), (0, 0));
    check_des(&card, &mk, &token_of(&r), &clear24, KeyLength::Triple);
}

#[test]
fn csnbckm_aes_every_length() {
    let card = new_card(5);
    let mk = load_aes(&card);
    for (len, rule_array) in [
        (16, &["AES"][..]),
        (24, &["AES", "USECONFG"][..]),
        (32, &["WRAP-ENH", "AES"][..]),
    ] {
        // Even-parity bytes are no concern for AES.
        let clear = vec![0x03u8; len];
        let r = call(
            &card,
            "CSNBCKM",
            rule_array,
            vec![Param::Bytes(clear.clone()), Param::Bytes(NULL.to_vec())],
        );
        assert_eq!(codes(&r), (0, 0), "AES {len}");
        let token = token_of(&r);
        let AesToken::Internal(t) = AesToken::parse(&token).expect("parses") else {
            panic!("internal AES token expected");
        };
        match &t.material {
            AesMaterial::Encrypted { mkvp, bits, .. } => {
                assert_eq!(Some(*mkvp), card.verification_patterns(Class::Aes)[1]);
                assert_eq!(usize::from(*bits), len * 8);
            }
            _ => panic!("an encrypted key expected"),
        }
        let (key, _) = wrap::unwrap_aes(&t, Some(&mk), None).expect("unwraps");
        assert_eq!(key.expose(), clear.as_slice());

        // The token is accepted back as the target.
        let r = call(
            &card,
            "CSNBCKM",
            &["AES"],
            vec![Param::Bytes(vec![0x11; 16]), Param::Bytes(token)],
        );
        assert_eq!(codes(&r), (0, 0));
    }
}

/// A refused request: rule array, clear key, expected codes, what it shows.
type Refusal<'a> = (&'a [&'a str], &'a [u8], (i32, i32), &'a str);

#[test]
fn csnbckm_refusals() {
    let card = new_card(6);
    let k16 = pattern(10, 16);
    let params =
        |key: &[u8], target: &[u8]| vec![Param::Bytes(key.to_vec()), Param::Bytes(target.to_vec())];
    assert_refused(
        &call(&card, "CSNBCKM", &[], params(&k16, &NULL)),
        (12, 764),
        "no SYM master key",
    );
    load_sym(&card);
    assert_refused(
        &call(&card, "CSNBCKM", &["AES"], params(&k16, &NULL)),
        (12, 764),
        "no AES master key (the SYM one does not count)",
    );
    load_aes(&card);
    let cases: &[Refusal] = &[
        (&["BOGUS"], &k16, (8, 33), "unknown keyword"),
        (&["des"], &k16, (8, 33), "lower case"),
        (&["DES", "AES"], &k16, (8, 34), "two algorithms"),
        (
            &["DES", "USECONFG", "ENH-ONLY", "WRAP-ECB"],
            &k16,
            (8, 35),
            "four elements",
        ),
        (&["WRAP-ECB", "WRAP-ENH"], &k16, (8, 34), "two methods"),
        (&["AES", "WRAP-ECB"], &k16, (8, 34), "WRAP-ECB is DES only"),
        (&["AES", "ENH-ONLY"], &k16, (8, 34), "ENH-ONLY with AES"),
        (&["WRAP-ENH"], &k16, (8, 2), "enhanced wrapping not yet"),
        (&["WRAPENH2"], &k16, (8, 2), "WRAPENH2 not yet"),
        (&["ENH-ONLY"], &k16, (8, 2), "ENH-ONLY not yet"),
        (&[], &k16[..12], (8, 72), "12-byte DES key"),
        (&[], &[], (8, 72), "empty key"),
        (&[], &pattern(11, 32), (8, 72), "32-byte DES key"),
        (&["AES"], &k16[..8], (8, 72), "8-byte AES key"),
        (&["AES"], &pattern(12, 40), (8, 72), "40-byte AES key"),
    ];
    for (rule_array, key, expected, what) in cases {
        assert_refused(
            &call(&card, "CSNBCKM", rule_array, params(key, &NULL)),
            *expected,
            what,
        );
    }
    assert_refused(
        &call(&card, "CSNBCKM", &[], params(&k16, &NULL[..32])),
        (8, 43),
        "short key identifier",
    );
    // A DES token given with AES, and an AES token given with DES.
    let r = call(&card, "CSNBCKM", &[], params(&k16, &NULL));
    let des = token_of(&r);
    assert_refused(
        &call(&card, "CSNBCKM", &["AES"], params(&k16, &des)),
        (8, 49),
        "DES token for AES",
    );
    let r = call(&card, "CSNBCKM", &["AES"], params(&k16, &NULL));
    let aes = token_of(&r);
    assert_refused(
        &call(&card, "CSNBCKM", &[], params(&k16, &aes)),
        (8, 49),
        "AES token for DES",
    );
    let mut bad = des.clone();
    bad[63] ^= 1;
    assert_refused(
        &call(&card, "CSNBCKM", &[], params(&k16, &bad)),
        (8, 29),
        "bad TVV",
    );
    assert_refused(
        &call(&card, "CSNBCKM", &[], vec![Param::Bytes(k16.clone())]),
        (8, 72),
        "parameter block of the wrong shape",
    );
}
