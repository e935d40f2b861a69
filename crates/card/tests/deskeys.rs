//! API tests of Key_Token_Build, Key_Token_Parse, Key_Generate, Key_Import, Key_Export and
//! Key_Translate through [`Card::execute`]: DES tokens and the fixed-length AES token. Master
//! keys come from known parts (CSNBMKP) so that the test can decipher what the card returns.
//! Expected codes are IBM's values, written as literals.

use std::sync::Arc;

use softcca_card::mk::{Class, MasterKey};
use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::tokens::aes::{AesMaterial, AesToken};
use softcca_card::tokens::des::ExternalDes;
use softcca_card::tokens::des::{DesToken, InternalDes};
use softcca_card::tokens::{ClearKey, cv};
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

fn kw(word: &str) -> Vec<u8> {
    rules::element(word).expect("keyword fits").to_vec()
}

fn form(f: &str) -> Vec<u8> {
    let mut v = f.as_bytes().to_vec();
    v.resize(4, b' ');
    v
}

const BLANKS: &str = "";

fn blank8() -> Vec<u8> {
    vec![b' '; 8]
}

fn kw_or_blank(word: &str) -> Vec<u8> {
    if word.is_empty() { blank8() } else { kw(word) }
}

const NULL: [u8; 64] = [0; 64];

fn ktb(
    card: &Card,
    rule_array: &[&str],
    key_type: &str,
    key_value: &[u8],
    control_vector: &[u8],
    mkvp: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBKTB",
        rule_array,
        vec![
            Param::Bytes(NULL.to_vec()),
            Param::Bytes(kw(key_type)),
            Param::Bytes(key_value.to_vec()),
            Param::Bytes(control_vector.to_vec()),
            Param::Bytes(mkvp.to_vec()),
        ],
    )
}

fn ktp(card: &Card, token: &[u8], capacity: i32) -> VerbResponse {
    call(
        card,
        "CSNBKTP",
        &[],
        vec![Param::Bytes(token.to_vec()), Param::Int(capacity)],
    )
}

#[allow(clippy::too_many_arguments)]
fn kgn(
    card: &Card,
    key_form: &str,
    key_length: &str,
    kt1: &str,
    kt2: &str,
    kek1: &[u8],
    kek2: &[u8],
    gen1: &[u8],
    gen2: &[u8],
) -> VerbResponse {
    call(
        card,
        "CSNBKGN",
        &[],
        vec![
            Param::Bytes(form(key_form)),
            Param::Bytes(kw_or_blank(key_length)),
            Param::Bytes(kw_or_blank(kt1)),
            Param::Bytes(kw_or_blank(kt2)),
            Param::Bytes(kek1.to_vec()),
            Param::Bytes(kek2.to_vec()),
            Param::Bytes(gen1.to_vec()),
            Param::Bytes(gen2.to_vec()),
        ],
    )
}

fn kgn_op(card: &Card, key_length: &str, kt: &str) -> Vec<u8> {
    let r = kgn(card, "OP", key_length, kt, "", &NULL, &NULL, &NULL, &NULL);
    assert_eq!(codes(&r), (0, 0), "KGN OP {key_length} {kt}");
    outputs(&r)[0].clone()
}

/// An IMPORTER and an EXPORTER holding the same key (KGN OPOP), as two nodes share them.
fn kek_pair(card: &Card, first: &str, second: &str) -> (Vec<u8>, Vec<u8>) {
    let r = kgn(card, "OPOP", "", first, second, &NULL, &NULL, &NULL, &NULL);
    assert_eq!(codes(&r), (0, 0), "KGN OPOP {first} {second}");
    let o = outputs(&r);
    (o[0].clone(), o[1].clone())
}

fn kim(card: &Card, key_type: &str, source: &[u8], importer: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNBKIM",
        &[],
        vec![
            Param::Bytes(kw(key_type)),
            Param::Bytes(source.to_vec()),
            Param::Bytes(importer.to_vec()),
            Param::Bytes(NULL.to_vec()),
        ],
    )
}

fn kex(card: &Card, key_type: &str, source: &[u8], exporter: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNBKEX",
        &[],
        vec![
            Param::Bytes(kw(key_type)),
            Param::Bytes(source.to_vec()),
            Param::Bytes(exporter.to_vec()),
            Param::Bytes(NULL.to_vec()),
        ],
    )
}

fn ktr(card: &Card, input: &[u8], in_kek: &[u8], out_kek: &[u8]) -> VerbResponse {
    call(
        card,
        "CSNBKTR",
        &[],
        vec![
            Param::Bytes(input.to_vec()),
            Param::Bytes(in_kek.to_vec()),
            Param::Bytes(out_kek.to_vec()),
        ],
    )
}

fn outputs(r: &VerbResponse) -> Vec<Vec<u8>> {
    r.outputs
        .iter()
        .map(|p| match p {
            Param::Bytes(b) => b.clone(),
            Param::Int(i) => panic!("bytes expected, got {i}"),
        })
        .collect()
}

fn internal_des(token: &[u8]) -> InternalDes {
    match DesToken::parse(token).expect("the token parses") {
        DesToken::Internal(t) => t,
        other => panic!("internal DES token expected, got {other:?}"),
    }
}

fn external_des(token: &[u8]) -> ExternalDes {
    match DesToken::parse(token).expect("the token parses") {
        DesToken::External(t) => t,
        other => panic!("external DES token expected, got {other:?}"),
    }
}

/// The clear key of an internal token, deciphered with the test's copy of the master key.
fn clear_of(mk: &MasterKey, token: &[u8]) -> Vec<u8> {
    let (k, _) = wrap::unwrap_des(&internal_des(token), Some(mk), None).expect("unwraps");
    k.expose().to_vec()
}

/// The clear key of an external token under a KEK given by its internal token.
fn clear_under(mk: &MasterKey, kek_token: &[u8], token: &[u8]) -> Vec<u8> {
    let kek = ClearKey::new(&clear_of(mk, kek_token));
    wrap::unwrap_under_kek(&external_des(token), &kek)
        .expect("unwraps")
        .expose()
        .to_vec()
}

fn odd(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| b.count_ones() % 2 == 1)
}

fn words(r: &VerbResponse) -> Vec<String> {
    r.rule_array
        .iter()
        .map(|e| String::from_utf8_lossy(e).trim_end().to_string())
        .collect()
}

fn resealed(token: &[u8], at: usize, value: u8) -> Vec<u8> {
    let mut t: [u8; 64] = token.try_into().expect("64 bytes");
    t[at] = value;
    let v = softcca_card::tokens::tvv(&t);
    t[60..].copy_from_slice(&v.to_be_bytes());
    t.to_vec()
}

const LENGTHS: [(KeyLength, &str); 3] = [
    (KeyLength::Single, "SINGLE"),
    (KeyLength::Double, "DOUBLE"),
    (KeyLength::Triple, "TRIPLE"),
];

const TYPES: [&str; 14] = [
    "DATA", "CIPHER", "ENCIPHER", "DECIPHER", "MAC", "MACVER", "DATAM", "DATAMV", "EXPORTER",
    "IMPORTER", "PINGEN", "PINVER", "IPINENC", "OPINENC",
];

// ---------------------------------------------------------------------------------------
// Key_Token_Build and Key_Token_Parse

#[test]
fn ktb_ktp_round_trip_every_type_and_length() {
    let card = new_card(1);
    let mut built = 0;
    for t in TYPES {
        for (len, word) in LENGTHS {
            let Some((l, r)) = cv::default_cv(t, len) else {
                let res = ktb(&card, &["INTERNAL", word], t, &[], &[], &[]);
                assert_refused(&res, (8, 34), &format!("{t} {word}"));
                continue;
            };
            for (token_type, internal) in [("INTERNAL", true), ("EXTERNAL", false)] {
                let res = ktb(&card, &[token_type, word, "NO-KEY"], t, &[], &[], &[]);
                assert_eq!(codes(&res), (0, 0), "{t} {word}");
                let token = outputs(&res)[0].clone();
                let parsed = DesToken::parse(&token).expect("the token parser accepts it");
                let fields = match parsed {
                    DesToken::Internal(i) => {
                        assert!(internal);
                        assert_eq!(i.mkvp, [0; 8]);
                        i.fields
                    }
                    DesToken::External(e) => {
                        assert!(!internal);
                        e.fields
                    }
                    DesToken::Null => panic!("null"),
                };
                assert_eq!((fields.cv_left, fields.cv_right), (l, r), "{t} {word}");
                assert_eq!(fields.flags, 0);
                let p = ktp(&card, &token, 20);
                assert_eq!(codes(&p), (0, 0), "KTP {t} {word}");
                let o = outputs(&p);
                assert_eq!(o[0], kw(t));
                assert!(o[1].is_empty(), "no key value");
                assert_eq!(o[3], [l, r].concat());
                assert_eq!(o[4], token[60..].to_vec());
                let w = words(&p);
                assert_eq!(w[0], token_type);
                assert_eq!(w[1], "NO-KEY");
                assert_eq!(w[2], word);
                assert!(w.contains(&"XPORT-OK".to_string()), "{t}: {w:?}");
                built += 1;
            }
        }
    }
    assert_eq!(built, 2 * (6 * 3 + 2 + 6 * 2));
    // The default length is the shortest one IBM defines.
    let res = ktb(&card, &["INTERNAL"], "EXPORTER", &[], &[], &[]);
    assert_eq!(
        internal_des(&outputs(&res)[0]).fields.length,
        KeyLength::Double
    );
    let res = ktb(&card, &["INTERNAL"], "MAC", &[], &[], &[]);
    assert_eq!(
        internal_des(&outputs(&res)[0]).fields.length,
        KeyLength::Single
    );
}

#[test]
fn ktb_with_key_values_and_cv_keywords() {
    let card = new_card(2);
    let value = pattern(5, 24);
    let mkvp = pattern(6, 8);
    // Internal with a key: the parts and the MKVP come back from KTP.
    let res = ktb(
        &card,
        &["INTERNAL", "KEY", "TRIPLE"],
        "CIPHER",
        &value,
        &[],
        &mkvp,
    );
    assert_eq!(codes(&res), (0, 0));
    let token = outputs(&res)[0].clone();
    let t = internal_des(&token);
    assert_eq!(t.mkvp.to_vec(), mkvp);
    assert_eq!(t.fields.flags, 0x80);
    let p = ktp(&card, &token, 10);
    let o = outputs(&p);
    assert_eq!(o[1], value);
    assert_eq!(o[2], mkvp);
    assert_eq!(words(&p)[..3], ["INTERNAL", "KEY", "TRIPLE"]);
    // External with a key: no MKVP.
    let res = ktb(
        &card,
        &["EXTERNAL", "KEY", "KEYLN16"],
        "MAC",
        &value,
        &[],
        &[],
    );
    let token = outputs(&res)[0].clone();
    assert_eq!(external_des(&token).fields.key[..16], value[..16]);
    assert_eq!(outputs(&ktp(&card, &token, 10))[2], vec![0; 8]);

    // NO-XPORT clears bit 17 and keeps even parity.
    let res = ktb(
        &card,
        &["INTERNAL", "DOUBLE", "NO-XPORT"],
        "CIPHER",
        &[],
        &[],
        &[],
    );
    let f = internal_des(&outputs(&res)[0]).fields;
    assert_eq!(f.cv_left[2] & 0x40, 0);
    assert_eq!(f.cv_right[2] & 0x40, 0);
    assert!(cv::has_even_parity(&f.cv_left) && cv::has_even_parity(&f.cv_right));
    let p = ktp(&card, &outputs(&res)[0], 10);
    assert_eq!(outputs(&p)[0], kw("CIPHER"));
    assert!(words(&p).contains(&"NO-XPORT".to_string()));

    // KEK usage keywords set exactly the named bits.
    let res = ktb(
        &card,
        &["INTERNAL", "OPIM", "IMPORT", "XLATE"],
        "IMPORTER",
        &[],
        &[],
        &[],
    );
    assert_eq!(codes(&res), (0, 0));
    let f = internal_des(&outputs(&res)[0]).fields;
    assert_eq!(f.cv_left[2] & 0x3E, 0x20 | 0x04 | 0x02);
    assert!(cv::has_even_parity(&f.cv_left) && cv::has_even_parity(&f.cv_right));
    let w = words(&ktp(&card, &outputs(&res)[0], 12));
    for k in ["OPIM", "IMPORT", "XLATE"] {
        assert!(w.contains(&k.to_string()), "{w:?}");
    }
    assert!(!w.contains(&"IMEX".to_string()));

    // DOUBLE-O and TRIPLE-O: the unique forms.
    let res = ktb(&card, &["INTERNAL", "DOUBLE-O"], "EXPORTER", &[], &[], &[]);
    let f = internal_des(&outputs(&res)[0]).fields;
    assert_eq!(
        (cv::form_bits(&f.cv_left), cv::form_bits(&f.cv_right)),
        (6, 5)
    );
    assert!(cv::has_even_parity(&f.cv_left) && cv::has_even_parity(&f.cv_right));
    assert_eq!(words(&ktp(&card, &outputs(&res)[0], 10))[2], "DOUBLE-O");
    let res = ktb(&card, &["INTERNAL", "TRIPLE-O"], "DATA", &[], &[], &[]);
    let f = internal_des(&outputs(&res)[0]).fields;
    assert_eq!(cv::form_bits(&f.cv_left), 7);
    assert_eq!(words(&ktp(&card, &outputs(&res)[0], 10))[2], "TRIPLE-O");

    // KEY-PART sets bit 44 in both halves, for Key_Part_Import's skeletons.
    let res = ktb(
        &card,
        &["INTERNAL", "DOUBLE", "KEY-PART"],
        "CIPHER",
        &[],
        &[],
        &[],
    );
    assert_eq!(codes(&res), (0, 0));
    let f = internal_des(&outputs(&res)[0]).fields;
    assert_eq!((f.cv_left[5] & 0x08, f.cv_right[5] & 0x08), (0x08, 0x08));
    assert!(cv::has_even_parity(&f.cv_left) && cv::has_even_parity(&f.cv_right));
    assert_eq!(f.length, KeyLength::Double);
    let p = ktp(&card, &outputs(&res)[0], 10);
    assert_eq!(outputs(&p)[0], kw("CIPHER"));
    assert!(words(&p).contains(&"KEY-PART".to_string()));

    // USE-CV and the CV keyword take the CV as given; bad parity warns 4/166.
    let (l, r) = cv::default_cv("PINGEN", KeyLength::Double).expect("default");
    let res = ktb(&card, &["INTERNAL"], "USE-CV", &[], &[l, r].concat(), &[]);
    assert_eq!(codes(&res), (0, 0));
    assert_eq!(outputs(&ktp(&card, &outputs(&res)[0], 10))[0], kw("PINGEN"));
    let mut bad = l;
    bad[0] ^= 0x01;
    let res = ktb(
        &card,
        &["INTERNAL", "CV"],
        "DATA",
        &[],
        &[bad, r].concat(),
        &[],
    );
    assert_eq!(codes(&res), (4, 166));
    assert_eq!(internal_des(&outputs(&res)[0]).fields.cv_left, bad);

    // AES: the opencryptoki skeleton and a clear key.
    let res = ktb(
        &card,
        &["INTERNAL", "AES", "NO-KEY", "KEYLN32"],
        "AESTOKEN",
        &[],
        &[],
        &[],
    );
    assert_eq!(codes(&res), (0, 0));
    let skeleton = outputs(&res)[0].clone();
    assert!(matches!(
        AesToken::parse(&skeleton),
        Ok(AesToken::Internal(t)) if matches!(t.material, AesMaterial::NoKey { .. })
    ));
    let p = ktp(&card, &skeleton, 4);
    assert_eq!(codes(&p), (0, 0));
    assert_eq!(outputs(&p)[0], kw("DATA"));
    assert_eq!(words(&p), ["INTERNAL", "NO-KEY", "AES"]);
    let key = pattern(7, 16);
    let res = ktb(&card, &["INTERNAL", "KEYLN16"], "CLRAES", &key, &[], &[]);
    assert_eq!(codes(&res), (0, 0));
    let p = ktp(&card, &outputs(&res)[0], 4);
    assert_eq!(words(&p), ["INTERNAL", "KEY", "AES", "KEYLN16"]);
    assert_eq!(outputs(&p)[1], key);
    // "DATA" with AES builds the AES token too.
    let res = ktb(&card, &["INTERNAL", "AES"], "DATA", &[], &[], &[]);
    assert_eq!(outputs(&res)[0][4], 0x04);
}

/// Rule array, key type, expected codes, what the case is.
type KtbCase = (
    &'static [&'static str],
    &'static str,
    (i32, i32),
    &'static str,
);

#[test]
fn ktb_refusals() {
    let card = new_card(3);
    let cases: &[KtbCase] = &[
        (&[], "DATA", (8, 35), "no rule array"),
        (&["INTERNAL", "BOGUS"], "DATA", (8, 33), "unknown keyword"),
        (
            &["INTERNAL", "EXTERNAL"],
            "DATA",
            (8, 34),
            "two token types",
        ),
        (&["KEY"], "DATA", (8, 34), "no token type"),
        (
            &["INTERNAL", "SINGLE"],
            "EXPORTER",
            (8, 34),
            "no single EXPORTER",
        ),
        (
            &["INTERNAL", "OPIM"],
            "DATA",
            (8, 34),
            "KEK keyword on a DATA key",
        ),
        (
            &["INTERNAL", "OPEX"],
            "IMPORTER",
            (8, 34),
            "exporter keyword on an IMPORTER",
        ),
        (
            &["INTERNAL", "IMPORT"],
            "EXPORTER",
            (8, 34),
            "IMPORT on an EXPORTER",
        ),
        (&["EXTERNAL", "AES"], "DATA", (8, 34), "external AES"),
        (&["INTERNAL", "KEYLN32"], "DATA", (8, 34), "KEYLN32 for DES"),
        (
            &["INTERNAL", "AES", "DOUBLE"],
            "DATA",
            (8, 34),
            "DES length for AES",
        ),
        (
            &["INTERNAL", "AES", "NO-XPORT"],
            "DATA",
            (8, 34),
            "CV keyword for AES",
        ),
        (
            &["INTERNAL", "AES", "KEY", "KEYLN16"],
            "DATA",
            (8, 34),
            "enciphered AES key",
        ),
        (
            &["INTERNAL", "DES"],
            "AESTOKEN",
            (8, 34),
            "AES type with DES",
        ),
        (&["INTERNAL"], "CLRAES", (8, 34), "CLRAES without a length"),
        (
            &["INTERNAL", "TRIPLE", "WRAPENH2"],
            "DATA",
            (8, 2),
            "enhanced wrapping",
        ),
        (&["INTERNAL", "ENH-ONLY"], "DATA", (8, 2), "ENH-ONLY"),
        (&["INTERNAL"], "NOSUCH", (8, 33), "unknown key type"),
        (&["INTERNAL"], "CLRDES", (8, 2), "clear DES token"),
        (
            &["INTERNAL", "KEY", "DOUBLE"],
            "DATA",
            (8, 72),
            "KEY without MKVP",
        ),
    ];
    for (ra, t, expect, what) in cases {
        let r = ktb(&card, ra, t, &pattern(1, 8), &[], &[]);
        assert_refused(&r, *expect, what);
    }
    // Too short a key value, a malformed key_type, bad CV form bits.
    let r = ktb(
        &card,
        &["EXTERNAL", "KEY", "DOUBLE"],
        "DATA",
        &[1; 8],
        &[],
        &[],
    );
    assert_refused(&r, (8, 72), "short key value");
    let r = call(
        &card,
        "CSNBKTB",
        &["INTERNAL"],
        vec![
            Param::Bytes(NULL.to_vec()),
            Param::Bytes(b"DA TA   ".to_vec()),
            Param::Bytes(vec![]),
            Param::Bytes(vec![]),
            Param::Bytes(vec![]),
        ],
    );
    assert_refused(&r, (8, 33), "malformed key type");
    let mut cvb = [
        cv::default_cv("MAC", KeyLength::Double).expect("MAC").0,
        [0; 8],
    ]
    .concat();
    cvb[5] = 0x80; // form 100
    let r = ktb(&card, &["INTERNAL"], "USE-CV", &[], &cvb, &[]);
    assert_refused(&r, (8, 39), "form bits 100");
    let r = ktb(&card, &["INTERNAL"], "USE-CV", &[], &[0; 8], &[]);
    assert_refused(&r, (8, 72), "CV of 8 bytes");
    let r = ktb(
        &card,
        &["INTERNAL", "SINGLE", "CV"],
        "DATA",
        &[],
        &[
            cv::default_cv("DATA", KeyLength::Double).expect("DATA").0,
            [0; 8],
        ]
        .concat(),
        &[],
    );
    assert_refused(&r, (8, 34), "length keyword disagrees with the CV");
}

#[test]
fn ktp_refusals() {
    let card = new_card(4);
    let good = outputs(&ktb(&card, &["INTERNAL", "DOUBLE"], "MAC", &[], &[], &[]))[0].clone();
    let ext = outputs(&ktb(&card, &["EXTERNAL", "DOUBLE"], "MAC", &[], &[], &[]))[0].clone();
    assert_refused(&ktp(&card, &good, 3), (8, 35), "capacity 3");
    assert_refused(&ktp(&card, &good, -1), (8, 35), "negative capacity");
    let r = call(
        &card,
        "CSNBKTP",
        &["INTERNAL"],
        vec![Param::Bytes(good.clone()), Param::Int(10)],
    );
    assert_refused(&r, (8, 35), "rule array given");
    assert_refused(&ktp(&card, &NULL, 10), (8, 47), "null token");
    assert_refused(&ktp(&card, &good[..63], 10), (8, 43), "63 bytes");
    let mut b = good.clone();
    b[63] ^= 1;
    assert_refused(&ktp(&card, &b, 10), (8, 29), "internal TVV");
    let mut b = ext.clone();
    b[63] ^= 1;
    assert_refused(&ktp(&card, &b, 10), (8, 12), "external TVV");
    assert_refused(
        &ktp(&card, &resealed(&good, 4, 0x05), 10),
        (8, 49),
        "version X'05'",
    );
    assert_refused(
        &ktp(&card, &resealed(&good, 7, 0x01), 10),
        (8, 47),
        "flag byte 2",
    );
    assert_refused(
        &ktp(&card, &resealed(&good, 0, 0x07), 10),
        (8, 47),
        "token type",
    );
    // A CV of no known type: the fields, blanks for the key type, and 4/2039.
    let odd_cv = resealed(&good, 33, 0x7E);
    let r = ktp(&card, &odd_cv, 10);
    assert_eq!(codes(&r), (4, 2039));
    assert_eq!(outputs(&r)[0], blank8());
    assert_eq!(outputs(&r)[3][..8], odd_cv[32..40]);
    // Too many keywords for the capacity.
    let kek = outputs(&ktb(&card, &["INTERNAL"], "IMPORTER", &[], &[], &[]))[0].clone();
    assert_refused(&ktp(&card, &kek, 5), (8, 35), "capacity below the keywords");
    assert_eq!(codes(&ktp(&card, &kek, 10)), (0, 0));
}

// ---------------------------------------------------------------------------------------
// Key_Generate

#[test]
fn kgn_op_every_type_and_length() {
    let card = new_card(5);
    let mk = load_sym(&card);
    for t in TYPES {
        for (len, word) in LENGTHS {
            let r = kgn(&card, "OP", word, t, "", &NULL, &NULL, &NULL, &NULL);
            let Some((l, rr)) = cv::default_cv(t, len) else {
                assert_refused(&r, (8, 43), &format!("{t} {word}"));
                continue;
            };
            assert_eq!(codes(&r), (0, 0), "{t} {word}");
            let o = outputs(&r);
            assert_eq!(
                o[1],
                NULL.to_vec(),
                "the second identifier comes back unchanged"
            );
            let tok = internal_des(&o[0]);
            assert_eq!((tok.fields.cv_left, tok.fields.cv_right), (l, rr));
            assert_eq!(tok.fields.flags & 0x80, 0x80);
            let key = clear_of(&mk, &o[0]);
            assert_eq!(key.len(), len.bytes());
            assert!(odd(&key), "{t} {word}: odd parity");
        }
    }
    // Blanks: the type's default length.
    assert_eq!(clear_of(&mk, &kgn_op(&card, BLANKS, "DATA")).len(), 8);
    assert_eq!(clear_of(&mk, &kgn_op(&card, BLANKS, "IMPORTER")).len(), 16);
    // SINGLE-R: replicated halves. DOUBLE-O / TRIPLE-O: unique parts, unique forms.
    let k = clear_of(&mk, &kgn_op(&card, "SINGLE-R", "EXPORTER"));
    assert_eq!(k[..8], k[8..]);
    for _ in 0..8 {
        let tok = kgn_op(&card, "DOUBLE-O", "CIPHER");
        let k = clear_of(&mk, &tok);
        assert_ne!(k[..8], k[8..]);
        assert_eq!(cv::form_bits(&internal_des(&tok).fields.cv_left), 6);
        let tok = kgn_op(&card, "TRIPLE-O", "DATA");
        let k = clear_of(&mk, &tok);
        assert!(k[..8] != k[8..16] && k[8..16] != k[16..] && k[..8] != k[16..]);
        assert_eq!(cv::form_bits(&internal_des(&tok).fields.cv_left), 7);
    }
    // Keys differ from call to call.
    assert_ne!(
        clear_of(&mk, &kgn_op(&card, "DOUBLE", "DATA")),
        clear_of(&mk, &kgn_op(&card, "DOUBLE", "DATA"))
    );
}

#[test]
fn kgn_token_takes_the_cv_from_a_skeleton() {
    let card = new_card(6);
    let mk = load_sym(&card);
    let skel = outputs(&ktb(
        &card,
        &["INTERNAL", "DOUBLE", "NO-XPORT"],
        "MAC",
        &[],
        &[],
        &[],
    ))[0]
        .clone();
    let r = kgn(&card, "OP", "", "TOKEN", "", &NULL, &NULL, &skel, &NULL);
    assert_eq!(codes(&r), (0, 0));
    let tok = internal_des(&outputs(&r)[0]);
    assert_eq!(tok.fields.cv_left, internal_des(&skel).fields.cv_left);
    assert_eq!(clear_of(&mk, &outputs(&r)[0]).len(), 16);
    // A length keyword that disagrees with the token.
    let r = kgn(
        &card, "OP", "TRIPLE", "TOKEN", "", &NULL, &NULL, &skel, &NULL,
    );
    assert_refused(&r, (8, 43), "TRIPLE for a double skeleton");
    // TOKEN with a null token.
    let r = kgn(&card, "OP", "", "TOKEN", "", &NULL, &NULL, &NULL, &NULL);
    assert_refused(&r, (8, 47), "TOKEN with a null token");
}

#[test]
fn kgn_two_copy_forms_and_pairs() {
    let card = new_card(7);
    let mk = load_sym(&card);
    let (imp, exp) = kek_pair(&card, "IMPORTER", "EXPORTER");
    assert_eq!(clear_of(&mk, &imp), clear_of(&mk, &exp));
    let pairs = [
        ("DATA", "DATA"),
        ("CIPHER", "CIPHER"),
        ("CIPHER", "DECIPHER"),
        ("ENCIPHER", "DECIPHER"),
        ("DECIPHER", "ENCIPHER"),
        ("MAC", "MAC"),
        ("MAC", "MACVER"),
        ("DATAM", "DATAMV"),
        ("IMPORTER", "EXPORTER"),
        ("EXPORTER", "IMPORTER"),
        ("PINGEN", "PINVER"),
        ("IPINENC", "OPINENC"),
        ("OPINENC", "IPINENC"),
    ];
    // (form, KEK for copy 1, KEK for copy 2)
    let forms: [(&str, &[u8], &[u8]); 6] = [
        ("OPOP", &NULL, &NULL),
        ("OPIM", &NULL, &imp),
        ("OPEX", &NULL, &exp),
        ("IMEX", &imp, &exp),
        ("EXEX", &exp, &exp),
        ("IMIM", &imp, &imp),
    ];
    for (t1, t2) in pairs {
        for (f, k1, k2) in forms {
            let r = kgn(&card, f, "DOUBLE", t1, t2, k1, k2, &NULL, &NULL);
            assert_eq!(codes(&r), (0, 0), "{f} {t1} {t2}");
            let o = outputs(&r);
            let copy = |i: usize, dest: &str, kek: &[u8]| {
                if dest == "OP" {
                    clear_of(&mk, &o[i])
                } else {
                    clear_under(&mk, kek, &o[i])
                }
            };
            let a = copy(0, &f[..2], k1);
            let b = copy(1, &f[2..], k2);
            assert_eq!(a, b, "{f} {t1} {t2}: one key, two copies");
            assert!(odd(&a));
            // The external copies carry the key type's CV (zero for a default DATA CV).
            if &f[2..] != "OP" {
                let e = external_des(&o[1]);
                if t2 == "DATA" {
                    assert_eq!(e.fields.cv_left, [0; 8]);
                } else {
                    assert_eq!(
                        Some((e.fields.cv_left, e.fields.cv_right)),
                        cv::default_cv(t2, KeyLength::Double)
                    );
                }
            }
        }
    }
    // One-copy IM and EX forms.
    let r = kgn(&card, "IM", "", "CIPHER", "", &imp, &NULL, &NULL, &NULL);
    assert_eq!(codes(&r), (0, 0));
    assert_eq!(clear_under(&mk, &imp, &outputs(&r)[0]).len(), 8);
    let r = kgn(&card, "EX", "DOUBLE", "MAC", "", &exp, &NULL, &NULL, &NULL);
    assert_eq!(codes(&r), (0, 0));
    assert_eq!(clear_under(&mk, &exp, &outputs(&r)[0]).len(), 16);

    // Refused pairs, forms, lengths and KEKs.
    for (t1, t2) in [
        ("DATA", "MAC"),
        ("IMPORTER", "IMPORTER"),
        ("EXPORTER", "EXPORTER"),
        ("MACVER", "MAC"),
        ("PINVER", "PINGEN"),
        ("CIPHER", "DATA"),
    ] {
        let r = kgn(&card, "OPOP", "DOUBLE", t1, t2, &NULL, &NULL, &NULL, &NULL);
        assert_refused(&r, (8, 34), &format!("{t1} {t2}"));
    }
    for f in ["XX", "OPXX", "EXOP", "IMOP", "EXIM", "O P "] {
        let r = kgn(&card, f, "", "DATA", "DATA", &imp, &exp, &NULL, &NULL);
        assert_refused(&r, (8, 41), f);
    }
    let r = call(
        &card,
        "CSNBKGN",
        &[],
        vec![
            Param::Bytes(b"OP".to_vec()),
            Param::Bytes(blank8()),
            Param::Bytes(kw("DATA")),
            Param::Bytes(blank8()),
            Param::Bytes(NULL.to_vec()),
            Param::Bytes(NULL.to_vec()),
            Param::Bytes(NULL.to_vec()),
            Param::Bytes(NULL.to_vec()),
        ],
    );
    assert_refused(&r, (8, 72), "a 2-byte key_form");
    let r = kgn(&card, "OP", "BOGUS", "DATA", "", &NULL, &NULL, &NULL, &NULL);
    assert_refused(&r, (8, 43), "bad key_length");
    let r = kgn(
        &card, "OP", "KEYLN32", "DATA", "", &NULL, &NULL, &NULL, &NULL,
    );
    assert_refused(&r, (8, 43), "KEYLN32 for DES");
    let r = kgn(
        &card, "OP", "SINGLE", "EXPORTER", "", &NULL, &NULL, &NULL, &NULL,
    );
    assert_refused(&r, (8, 43), "single EXPORTER");
    let r = kgn(&card, "OP", "", "NOSUCH", "", &NULL, &NULL, &NULL, &NULL);
    assert_refused(&r, (8, 33), "unknown key type");
    let r = kgn(
        &card, "OPEX", "", "DATA", "NOSUCH", &NULL, &exp, &NULL, &NULL,
    );
    assert_refused(&r, (8, 33), "unknown second key type");
    let r = call(&card, "CSNBKGN", &["OP"], vec![Param::Bytes(form("OP"))]);
    assert_refused(&r, (8, 35), "a rule array");
    let r = call(&card, "CSNBKGN", &[], vec![Param::Bytes(form("OP"))]);
    assert_refused(&r, (8, 72), "one parameter");
    // Key separation: the wrong KEK class, or a KEK without the form's usage bit.
    let r = kgn(&card, "IM", "", "DATA", "", &exp, &NULL, &NULL, &NULL);
    assert_refused(&r, (8, 39), "IM under an EXPORTER");
    let r = kgn(&card, "OPEX", "", "DATA", "DATA", &NULL, &imp, &NULL, &NULL);
    assert_refused(&r, (8, 39), "OPEX under an IMPORTER");
    let data = kgn_op(&card, "DOUBLE", "DATA");
    let r = kgn(&card, "EX", "", "DATA", "", &data, &NULL, &NULL, &NULL);
    assert_refused(&r, (8, 39), "EX under a DATA key");
    let skel = outputs(&ktb(
        &card,
        &["INTERNAL", "OPIM", "IMPORT"],
        "IMPORTER",
        &[],
        &[],
        &[],
    ))[0]
        .clone();
    let opim_only = outputs(&kgn(
        &card, "OP", "", "TOKEN", "", &NULL, &NULL, &skel, &NULL,
    ))[0]
        .clone();
    let r = kgn(&card, "IM", "", "DATA", "", &opim_only, &NULL, &NULL, &NULL);
    assert_refused(&r, (8, 39), "IM needs the IMEX bit");
    let r = kgn(
        &card, "IMIM", "", "DATA", "DATA", &opim_only, &imp, &NULL, &NULL,
    );
    assert_refused(&r, (8, 39), "IMIM needs the IMIM bit");
    let r = kgn(
        &card, "OPIM", "", "DATA", "DATA", &NULL, &opim_only, &NULL, &NULL,
    );
    assert_eq!(codes(&r), (0, 0), "OPIM has its bit");
    // A corrupted KEK: TVV, unknown MKVP.
    let mut bad = imp.clone();
    bad[63] ^= 1;
    let r = kgn(&card, "IM", "", "DATA", "", &bad, &NULL, &NULL, &NULL);
    assert_refused(&r, (8, 29), "KEK TVV");
    let r = kgn(
        &card,
        "IM",
        "",
        "DATA",
        "",
        &resealed(&imp, 9, imp[9] ^ 0x10),
        &NULL,
        &NULL,
        &NULL,
    );
    assert_refused(&r, (8, 24), "KEK MKVP unknown");
}

#[test]
fn kgn_aes_the_opencryptoki_sequence() {
    let card = new_card(8);
    load_sym(&card);
    let aes_mk = load_aes(&card);
    for (keyln, length, bits) in [
        ("KEYLN32", "", 256u16),
        ("KEYLN16", "KEYLN16", 128),
        ("KEYLN24", "KEYLN24", 192),
    ] {
        let skel = outputs(&ktb(
            &card,
            &["INTERNAL", "AES", "NO-KEY", keyln],
            "AESTOKEN",
            &[],
            &[],
            &[],
        ))[0]
            .clone();
        let r = kgn(
            &card, "OP", length, "AESTOKEN", "", &NULL, &NULL, &skel, &NULL,
        );
        assert_eq!(codes(&r), (0, 0), "{keyln}");
        let AesToken::Internal(t) = AesToken::parse(&outputs(&r)[0]).expect("parses") else {
            panic!("internal AES token expected");
        };
        let (k, _) = wrap::unwrap_aes(&t, Some(&aes_mk), None).expect("unwraps");
        assert_eq!(k.expose().len() * 8, usize::from(bits));
    }
    let r = kgn(
        &card, "OP", "KEYLN24", "AESDATA", "", &NULL, &NULL, &NULL, &NULL,
    );
    assert_eq!(codes(&r), (0, 0));
    let r = kgn(
        &card, "OPEX", "", "AESDATA", "AESDATA", &NULL, &NULL, &NULL, &NULL,
    );
    assert_refused(&r, (8, 41), "AES OPEX");
    let r = kgn(&card, "OP", "", "AESTOKEN", "", &NULL, &NULL, &NULL, &NULL);
    assert_refused(&r, (8, 47), "AESTOKEN with a null token");
    let r = kgn(
        &card, "OP", "DOUBLE", "AESDATA", "", &NULL, &NULL, &NULL, &NULL,
    );
    assert_refused(&r, (8, 43), "DES length for AES");
    let des = kgn_op(&card, "", "DATA");
    let r = kgn(&card, "OP", "", "AESTOKEN", "", &NULL, &NULL, &des, &NULL);
    assert_refused(&r, (8, 49), "AESTOKEN with a DES token");
}

#[test]
fn kgn_without_master_key() {
    let card = new_card(9);
    let r = kgn(&card, "OP", "", "DATA", "", &NULL, &NULL, &NULL, &NULL);
    assert_refused(&r, (12, 764), "no SYM master key");
    let r = kgn(&card, "OP", "", "AESDATA", "", &NULL, &NULL, &NULL, &NULL);
    assert_refused(&r, (12, 764), "no AES master key");
}

// ---------------------------------------------------------------------------------------
// Key_Import, Key_Export, Key_Translate

#[test]
fn export_then_import_returns_the_same_key() {
    let card = new_card(10);
    let mk = load_sym(&card);
    let (imp, exp) = kek_pair(&card, "IMPORTER", "EXPORTER");
    for (t, len) in [
        ("CIPHER", "DOUBLE"),
        ("MAC", "SINGLE"),
        ("PINGEN", "TRIPLE"),
        ("DATA", "DOUBLE"),
        ("DATA", "SINGLE"),
        ("DATA", "TRIPLE"),
        ("EXPORTER", "DOUBLE"),
    ] {
        let op = kgn_op(&card, len, t);
        for key_type in [t, "TOKEN"] {
            let r = kex(&card, key_type, &op, &exp);
            assert_eq!(codes(&r), (0, 0), "KEX {t} {len} {key_type}");
            let ext = outputs(&r)[0].clone();
            let e = external_des(&ext);
            if t == "DATA" {
                assert_eq!(
                    e.fields.cv_left, [0; 8],
                    "a default DATA CV travels as zero"
                );
            } else {
                assert_eq!(e.fields.cv_left, internal_des(&op).fields.cv_left);
            }
            assert_eq!(clear_under(&mk, &exp, &ext), clear_of(&mk, &op));
            let r = kim(&card, key_type, &ext, &imp);
            assert_eq!(codes(&r), (0, 0), "KIM {t} {len} {key_type}");
            let back = outputs(&r)[0].clone();
            assert_eq!(clear_of(&mk, &back), clear_of(&mk, &op), "{t} {len}");
            let b = internal_des(&back);
            let o = internal_des(&op);
            assert_eq!(
                (b.fields.cv_left, b.fields.cv_right),
                (o.fields.cv_left, o.fields.cv_right)
            );
        }
    }
    // A CV altered in transit (TVV recomputed): the key imports, as a different key.
    let op = kgn_op(&card, "DOUBLE", "CIPHER");
    let ext = outputs(&kex(&card, "TOKEN", &op, &exp))[0].clone();
    let mut e = external_des(&ext);
    let (l, r) = cv::default_cv("ENCIPHER", KeyLength::Double).expect("ENCIPHER");
    e.fields.cv_left = l;
    e.fields.cv_right = r;
    let altered = DesToken::External(e).to_bytes();
    let res = kim(&card, "TOKEN", &altered, &imp);
    assert_eq!(codes(&res), (0, 0));
    assert_ne!(clear_of(&mk, &outputs(&res)[0]), clear_of(&mk, &op));

    // The null-token form: a single enciphered key at offset 16.
    let single = kgn_op(&card, "SINGLE", "DATA");
    let ext = outputs(&kex(&card, "DATA", &single, &exp))[0].clone();
    let mut null = NULL;
    null[16..24].copy_from_slice(&ext[16..24]);
    let res = kim(&card, "DATA", &null, &imp);
    assert_eq!(codes(&res), (0, 0));
    assert_eq!(clear_of(&mk, &outputs(&res)[0]), clear_of(&mk, &single));
    assert_refused(
        &kim(&card, "TOKEN", &null, &imp),
        (8, 47),
        "TOKEN with a null token",
    );
    assert_refused(
        &kim(&card, "EXPORTER", &null, &imp),
        (8, 39),
        "no single EXPORTER",
    );
}

#[test]
fn import_and_export_refusals() {
    let card = new_card(11);
    let mk = load_sym(&card);
    let (imp, exp) = kek_pair(&card, "IMPORTER", "EXPORTER");
    let op = kgn_op(&card, "DOUBLE", "CIPHER");
    let ext = outputs(&kex(&card, "TOKEN", &op, &exp))[0].clone();

    // Key separation.
    assert_refused(
        &kim(&card, "TOKEN", &ext, &exp),
        (8, 39),
        "EXPORTER cannot import",
    );
    assert_refused(
        &kex(&card, "TOKEN", &op, &imp),
        (8, 39),
        "IMPORTER cannot export",
    );
    assert_refused(
        &kim(&card, "TOKEN", &ext, &op),
        (8, 39),
        "CIPHER key as importer",
    );
    assert_refused(
        &kim(&card, "MAC", &ext, &imp),
        (8, 39),
        "key type is not the CV's",
    );
    assert_refused(
        &kex(&card, "MAC", &op, &exp),
        (8, 39),
        "key type is not the CV's",
    );
    assert_refused(
        &kim(&card, "NOSUCH", &ext, &imp),
        (8, 33),
        "unknown key type",
    );
    assert_refused(
        &kex(&card, "NOSUCH", &op, &exp),
        (8, 33),
        "unknown key type",
    );
    // Export prohibited.
    let skel = outputs(&ktb(
        &card,
        &["INTERNAL", "DOUBLE", "NO-XPORT"],
        "CIPHER",
        &[],
        &[],
        &[],
    ))[0]
        .clone();
    let no_export = outputs(&kgn(
        &card, "OP", "", "TOKEN", "", &NULL, &NULL, &skel, &NULL,
    ))[0]
        .clone();
    assert_refused(&kex(&card, "TOKEN", &no_export, &exp), (8, 39), "NO-XPORT");
    // An EXPORTER without the EXPORT bit, an IMPORTER without IMPORT.
    let skel = outputs(&ktb(
        &card,
        &["INTERNAL", "OPEX"],
        "EXPORTER",
        &[],
        &[],
        &[],
    ))[0]
        .clone();
    let exp_no_export = outputs(&kgn(
        &card, "OP", "", "TOKEN", "", &NULL, &NULL, &skel, &NULL,
    ))[0]
        .clone();
    assert_refused(
        &kex(&card, "TOKEN", &op, &exp_no_export),
        (8, 39),
        "no EXPORT bit",
    );
    let skel = outputs(&ktb(
        &card,
        &["INTERNAL", "OPIM"],
        "IMPORTER",
        &[],
        &[],
        &[],
    ))[0]
        .clone();
    let imp_no_import = outputs(&kgn(
        &card, "OP", "", "TOKEN", "", &NULL, &NULL, &skel, &NULL,
    ))[0]
        .clone();
    assert_refused(
        &kim(&card, "TOKEN", &ext, &imp_no_import),
        (8, 39),
        "no IMPORT bit",
    );

    // Wrong token types and corrupted fields.
    assert_refused(
        &kim(&card, "TOKEN", &op, &imp),
        (8, 47),
        "internal source to import",
    );
    assert_refused(
        &kex(&card, "TOKEN", &ext, &exp),
        (8, 47),
        "external source to export",
    );
    assert_refused(
        &kex(&card, "TOKEN", &NULL, &exp),
        (8, 47),
        "null source to export",
    );
    let mut b = ext.clone();
    b[40] ^= 0x02;
    assert_refused(&kim(&card, "TOKEN", &b, &imp), (8, 12), "external TVV");
    let mut b = op.clone();
    b[20] ^= 0x02;
    assert_refused(&kex(&card, "TOKEN", &b, &exp), (8, 29), "internal TVV");
    assert_refused(
        &kim(&card, "TOKEN", &resealed(&ext, 4, 3), &imp),
        (8, 49),
        "version X'03'",
    );
    assert_refused(
        &kim(&card, "TOKEN", &resealed(&ext, 7, 0x01), &imp),
        (8, 47),
        "flag byte 2",
    );
    assert_refused(
        &kim(&card, "TOKEN", &resealed(&ext, 9, 0x01), &imp),
        (8, 47),
        "MKVP in an external token",
    );
    assert_refused(
        &kim(&card, "TOKEN", &ext, &resealed(&imp, 8, imp[8] ^ 0x40)),
        (8, 24),
        "importer MKVP unknown",
    );
    assert_refused(
        &kex(&card, "TOKEN", &resealed(&op, 8, op[8] ^ 0x40), &exp),
        (8, 24),
        "source MKVP unknown",
    );
    assert_refused(
        &kim(&card, "TOKEN", &ext[..63], &imp),
        (8, 43),
        "63-byte source",
    );
    assert_refused(
        &kim(&card, "TOKEN", &ext, &imp[..63]),
        (8, 43),
        "63-byte importer",
    );
    let mut label = [b' '; 64];
    label[..8].copy_from_slice(b"MY.LABEL");
    assert_refused(
        &kim(&card, "TOKEN", &ext, &label),
        (8, 47),
        "a label reaching the card",
    );
    let r = call(&card, "CSNBKIM", &["TOKEN"], vec![]);
    assert_refused(&r, (8, 35), "rule array");
    let r = call(&card, "CSNBKEX", &[], vec![Param::Bytes(kw("TOKEN"))]);
    assert_refused(&r, (8, 72), "short parameter block");
    let r = call(
        &card,
        "CSNBKEX",
        &["TOKEN"],
        vec![
            Param::Bytes(kw("TOKEN")),
            Param::Bytes(op.clone()),
            Param::Bytes(exp.clone()),
            Param::Bytes(NULL.to_vec()),
        ],
    );
    assert_refused(&r, (8, 35), "KEX rule array");
    let r = call(
        &card,
        "CSNBKIM",
        &[],
        vec![
            Param::Bytes(kw("TOKEN")),
            Param::Bytes(ext.clone()),
            Param::Bytes(imp.clone()),
            Param::Int(64),
        ],
    );
    assert_refused(&r, (8, 72), "an integer where the target token goes");

    // A unique-halves CV whose halves are equal.
    let (l, r) = cv::default_cv("CIPHER", KeyLength::Double).expect("CIPHER");
    let (mut l, mut r) = (l, r);
    l[5] = 0xC0;
    r[5] = 0xA0;
    let kek = ClearKey::new(&clear_of(&mk, &imp));
    let same_halves = [0x13u8; 16];
    let forged = wrap::wrap_under_kek(&kek, &same_halves, l, r, KeyLength::Double).expect("wraps");
    let forged = DesToken::External(forged).to_bytes();
    assert_refused(
        &kim(&card, "TOKEN", &forged, &imp),
        (8, 39),
        "DOUBLE-O with equal halves",
    );
    let mut halves = [0x13u8; 16];
    halves[8] = 0x15;
    let fine = wrap::wrap_under_kek(&kek, &halves, l, r, KeyLength::Double).expect("wraps");
    let r2 = kim(&card, "TOKEN", &DesToken::External(fine).to_bytes(), &imp);
    assert_eq!(codes(&r2), (0, 0));
}

#[test]
fn old_master_key_gives_10001() {
    let card = new_card(12);
    load_sym(&card);
    let (imp, exp) = kek_pair(&card, "IMPORTER", "EXPORTER");
    let op = kgn_op(&card, "DOUBLE", "MAC");
    let ext = outputs(&kex(&card, "TOKEN", &op, &exp))[0].clone();
    // A new SYM master key: the KEKs are now under OLD.
    let p = with_odd_parity(pattern(77, 24));
    mkp(&card, "SYM-MK", "FIRST", &p);
    mkp(&card, "SYM-MK", "LAST", &with_odd_parity(pattern(78, 24)));
    mkp(&card, "SYM-MK", "SET", &[]);
    let r = kim(&card, "TOKEN", &ext, &imp);
    assert_eq!(codes(&r), (0, 10001));
    let r = kex(&card, "TOKEN", &op, &exp);
    assert_eq!(codes(&r), (0, 10001));
    let r = kgn(&card, "OPIM", "", "DATA", "DATA", &NULL, &imp, &NULL, &NULL);
    assert_eq!(codes(&r), (0, 10001));
}

#[test]
fn translate_moves_a_key_between_keks() {
    let card = new_card(13);
    let mk = load_sym(&card);
    // Pair A: this node's IKEYXLAT, the sender's OKEYXLAT. Pair B: the reverse.
    let (ik_a, _ok_a) = kek_pair(&card, "IKEYXLAT", "OKEYXLAT");
    let (ok_b, ik_b) = kek_pair(&card, "OKEYXLAT", "IKEYXLAT");
    let key = with_odd_parity(pattern(9, 16));
    let (l, r) = cv::default_cv("MAC", KeyLength::Double).expect("MAC");
    let ka = ClearKey::new(&clear_of(&mk, &ik_a));
    let input = DesToken::External(
        wrap::wrap_under_kek(&ka, &key, l, r, KeyLength::Double).expect("wraps"),
    )
    .to_bytes();
    let res = ktr(&card, &input, &ik_a, &ok_b);
    assert_eq!(codes(&res), (0, 0));
    let out = outputs(&res)[0].clone();
    assert_eq!(clear_under(&mk, &ik_b, &out), key);
    assert_eq!(external_des(&out).fields.cv_left, l);

    // Default IMPORTER/EXPORTER lack XLATE; classes are checked.
    let (imp, exp) = kek_pair(&card, "IMPORTER", "EXPORTER");
    assert_refused(
        &ktr(&card, &input, &imp, &ok_b),
        (8, 39),
        "IMPORTER without XLATE",
    );
    assert_refused(
        &ktr(&card, &input, &ik_a, &exp),
        (8, 39),
        "EXPORTER without XLATE",
    );
    assert_refused(&ktr(&card, &input, &ok_b, &ik_a), (8, 39), "KEKs swapped");
    let skel = outputs(&ktb(
        &card,
        &["INTERNAL", "IMPORT", "XLATE"],
        "IMPORTER",
        &[],
        &[],
        &[],
    ))[0]
        .clone();
    let imp_x = outputs(&kgn(
        &card, "OP", "", "TOKEN", "", &NULL, &NULL, &skel, &NULL,
    ))[0]
        .clone();
    assert_eq!(
        codes(&ktr(&card, &input, &imp_x, &ok_b)),
        (0, 0),
        "IMPORTER with XLATE"
    );
    // Export prohibited, wrong token types, corruption.
    let mut nx = external_des(&input);
    nx.fields.cv_left[2] &= !0x40;
    nx.fields.cv_right[2] &= !0x40;
    let mut nxl = nx.fields.cv_left;
    let mut nxr = nx.fields.cv_right;
    for c in [&mut nxl, &mut nxr] {
        c[2] ^= 0x01;
    }
    let nx_tok = DesToken::External(
        wrap::wrap_under_kek(&ka, &key, nxl, nxr, KeyLength::Double).expect("wraps"),
    )
    .to_bytes();
    assert_refused(&ktr(&card, &nx_tok, &ik_a, &ok_b), (8, 39), "NO-XPORT");
    let op = kgn_op(&card, "DOUBLE", "MAC");
    assert_refused(&ktr(&card, &op, &ik_a, &ok_b), (8, 47), "internal input");
    assert_refused(&ktr(&card, &NULL, &ik_a, &ok_b), (8, 47), "null input");
    let mut b = input.to_vec();
    b[62] ^= 1;
    assert_refused(&ktr(&card, &b, &ik_a, &ok_b), (8, 12), "external TVV");
    assert_refused(&ktr(&card, &input, &ik_a[..8], &ok_b), (8, 43), "short KEK");
    let r = call(&card, "CSNBKTR", &["TOKEN"], vec![]);
    assert_refused(&r, (8, 35), "rule array");
}

#[test]
fn export_prohibited_flag_is_honoured() {
    let card = new_card(14);
    let mk = load_sym(&card);
    let (_, exp) = kek_pair(&card, "IMPORTER", "EXPORTER");
    let op = kgn_op(&card, "DOUBLE", "CIPHER");
    // Flag byte 1 X'01' set on an otherwise exportable key (the key itself unchanged).
    let flagged = resealed(&op, 6, op[6] | 0x01);
    assert_eq!(clear_of(&mk, &flagged), clear_of(&mk, &op));
    assert_refused(
        &kex(&card, "TOKEN", &flagged, &exp),
        (8, 39),
        "export-prohibited flag",
    );
}

/// Random parameter blocks for the six verbs: the card answers every one without panicking,
/// and a failure carries no outputs.
#[test]
fn random_parameter_blocks_never_panic() {
    let card = new_card(15);
    load_sym(&card);
    load_aes(&card);
    let (imp, exp) = kek_pair(&card, "IMPORTER", "EXPORTER");
    let op = kgn_op(&card, "DOUBLE", "CIPHER");
    let ext = outputs(&kex(&card, "TOKEN", &op, &exp))[0].clone();
    let aes = outputs(&ktb(
        &card,
        &["INTERNAL", "AES", "NO-KEY"],
        "AESTOKEN",
        &[],
        &[],
        &[],
    ))[0]
        .clone();
    let seeds: Vec<Vec<u8>> = vec![
        imp.clone(),
        exp.clone(),
        op.clone(),
        ext.clone(),
        aes,
        NULL.to_vec(),
        kw("TOKEN"),
        kw("DOUBLE"),
        form("OPEX"),
        vec![],
    ];
    let verbs = [
        "CSNBKTB", "CSNBKTP", "CSNBKGN", "CSNBKIM", "CSNBKEX", "CSNBKTR",
    ];
    let words = [
        "INTERNAL", "EXTERNAL", "KEY", "NO-KEY", "AES", "DES", "DOUBLE", "CV", "OPIM", "XLATE",
    ];
    let mut x: u64 = 0x0DDB_1A5E_5BAD_5EED;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..3000 {
        let verb = verbs[i % verbs.len()];
        let n_params = (next() % 10) as usize;
        let params: Vec<Param> = (0..n_params)
            .map(|_| {
                let r = next();
                if r % 7 == 0 {
                    Param::Int((r >> 8) as i32)
                } else {
                    let mut b = seeds[(r >> 4) as usize % seeds.len()].clone();
                    if !b.is_empty() && r & 0x100 != 0 {
                        let at = (r >> 12) as usize % b.len();
                        b[at] ^= (r >> 24) as u8 | 1;
                    }
                    if r & 0x600 == 0x600 {
                        b.truncate((r >> 32) as usize % 70);
                    }
                    Param::Bytes(b)
                }
            })
            .collect();
        let n_rules = (next() % 4) as usize;
        let rules: Vec<&str> = (0..n_rules)
            .map(|_| words[(next() % words.len() as u64) as usize])
            .collect();
        let r = call(&card, verb, &rules, params);
        if r.return_code >= 8 {
            assert!(r.outputs.is_empty(), "{verb}: a failure returns nothing");
        }
    }
}

#[test]
fn variable_length_tokens_are_8_49() {
    let card = new_card(16);
    load_sym(&card);
    load_aes(&card);
    let (imp, exp) = kek_pair(&card, "IKEYXLAT", "OKEYXLAT");
    // A variable-length token header (byte 0 X'01', version X'05' at byte 4), longer than 64.
    let mut var = vec![0u8; 122];
    var[0] = 0x01;
    var[2..4].copy_from_slice(&122u16.to_be_bytes());
    var[4] = 0x05;
    assert_refused(&ktp(&card, &var, 10), (8, 49), "KTP");
    assert_refused(&kim(&card, "TOKEN", &var, &imp), (8, 49), "KIM");
    assert_refused(&ktr(&card, &var, &imp, &exp), (8, 49), "KTR");
    let r = kgn(&card, "OP", "", "AESTOKEN", "", &NULL, &NULL, &var, &NULL);
    assert_refused(&r, (8, 49), "KGN AESTOKEN");
    let r = kgn(&card, "OP", "", "TOKEN", "", &NULL, &NULL, &var, &NULL);
    assert_refused(&r, (8, 49), "KGN TOKEN");
}
