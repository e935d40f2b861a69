//! API tests of what opencryptoki's CCA token asks the card at start (issue 5, item 3):
//! CSUACFQ STATICSB, DOM-NUMS, DOM-USAG, the version CSUACFV and STATCCA report for the
//! 4769 model, and the CSUAACM role queries. The parsers here follow the structure of
//! opencryptoki 3.23/3.27 `cca_specific.c` (`cca_get_mkvps`, `analyse_cca_key_token`,
//! `cca_get_version`, `cca_get_adapter_version`, `cca_get_acp_info_handler`, `cca_get_acp`):
//! the same offsets, the same checks, written anew.

use std::sync::Arc;

use softcca_card::mk::{Class, verification_pattern};
use softcca_card::platform::{FixedClock, MemoryBatteryRam, MemoryFlash, Platform};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Model, PowerOn, rules};
use softcca_wire::{Param, VerbName, VerbRequest, VerbResponse};

mod var_support;

const NOW: u64 = 1_795_740_425;

fn card_of(model: Model, seed: u64) -> Card {
    let platform = Platform {
        entropy: Box::new(CountingSource::new(seed)),
        clock: Box::new(FixedClock(NOW)),
        flash: Box::new(Arc::new(MemoryFlash::default())),
        bbram: Box::new(Arc::new(MemoryBatteryRam::default())),
    };
    let (card, how) = Card::power_on(platform, Some(model)).expect("powers on");
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

fn only_bytes(r: &VerbResponse, what: &str) -> Vec<u8> {
    assert_eq!(codes(r), (0, 0), "{what}");
    match r.outputs.as_slice() {
        [Param::Bytes(b)] => b.clone(),
        other => panic!("{what}: one byte string expected, got {other:?}"),
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn cfq_data(card: &Card, keyword: &str, verb_data_length: i32) -> VerbResponse {
    call(
        card,
        "CSUACFQ",
        &[keyword],
        vec![Param::Int(verb_data_length), Param::Bytes(Vec::new())],
    )
}

// ---------------------------------------------------------------------------------------------
// STATICSB
// ---------------------------------------------------------------------------------------------

/// The six MKVPs opencryptoki takes from STATICSB: (SYM, AES, APKA) × (current, new). Each
/// ID is checked first, as `cca_get_mkvps` does; a missing ID is a panic here.
struct Mkvps {
    cur_sym: [u8; 8],
    new_sym: [u8; 8],
    cur_aes: [u8; 8],
    new_aes: [u8; 8],
    cur_apka: [u8; 8],
    new_apka: [u8; 8],
}

fn ock_mkvps(verb_data: &[u8]) -> Mkvps {
    // opencryptoki passes a 256-byte buffer and reads without looking at the returned length.
    let mut buf = [0u8; 256];
    buf[..verb_data.len()].copy_from_slice(verb_data);
    let take = |id_at: usize, id: u16| -> [u8; 8] {
        assert_eq!(be16(&buf, id_at), id, "ID at {id_at}");
        let mut v = [0u8; 8];
        v.copy_from_slice(&buf[id_at + 2..id_at + 10]);
        v
    };
    Mkvps {
        cur_sym: take(134, 0x0F07),
        new_sym: take(146, 0x0F06),
        cur_aes: take(182, 0x0F0B),
        new_aes: take(194, 0x0F0A),
        cur_apka: take(218, 0x0F0E),
        new_apka: take(230, 0x0F0D),
    }
}

fn staticsb(card: &Card) -> Vec<u8> {
    only_bytes(&cfq_data(card, "STATICSB", 256), "CSUACFQ STATICSB")
}

#[test]
fn staticsb_fresh_card_has_every_block_and_zero_patterns() {
    let card = card_of(Model::Ibm4767, 1);
    let r = cfq_data(&card, "STATICSB", 256);
    assert!(
        r.rule_array.is_empty(),
        "STATICSB answers in verb data only"
    );
    let data = only_bytes(&r, "STATICSB");
    assert_eq!(data.len(), softcca_card::STATICSB_LEN);
    let m = ock_mkvps(&data);
    for v in [
        m.cur_sym, m.new_sym, m.cur_aes, m.new_aes, m.cur_apka, m.new_apka,
    ] {
        assert_eq!(v, [0; 8], "an empty register reports zeros");
    }
    // The blocks chain by their LEN fields from 0 to the end.
    let mut at = 0;
    let mut ids = Vec::new();
    while at < data.len() {
        let len = usize::from(be16(&data, at));
        assert!(len == 20 || len == 12, "block at {at} has LEN {len}");
        ids.push(be16(&data, at + 2));
        at += len;
    }
    assert_eq!(at, data.len());
    assert_eq!(
        ids,
        [
            0, 0, 0, 0, 0, 0, 0x0F08, 0x0F07, 0x0F06, 0, 0x0F0C, 0x0F0B, 0x0F0A, 0x0F0F, 0x0F0E,
            0x0F0D
        ]
    );
}

#[test]
fn staticsb_buffer_too_small_or_negative_is_8_72() {
    let card = card_of(Model::Ibm4767, 2);
    for len in [0, 1, 239, -1, i32::MIN] {
        assert_refused(
            &cfq_data(&card, "STATICSB", len),
            (8, 72),
            &format!("STATICSB with verb_data_length {len}"),
        );
    }
    assert_eq!(
        only_bytes(&cfq_data(&card, "STATICSB", 240), "exactly 240").len(),
        240
    );
    // A verb_data longer than verb_data_length says: 8/72 as for every keyword.
    let r = call(
        &card,
        "CSUACFQ",
        &["STATICSB"],
        vec![Param::Int(240), Param::Bytes(vec![0; 241])],
    );
    assert_refused(&r, (8, 72), "verb_data longer than its length");
    // ADAPTER1 first is accepted, as for the other keywords.
    let r = call(
        &card,
        "CSUACFQ",
        &["ADAPTER1", "STATICSB"],
        vec![Param::Int(256), Param::Bytes(Vec::new())],
    );
    assert_eq!(only_bytes(&r, "ADAPTER1 STATICSB").len(), 240);
}

fn mkp(card: &Card, class: &str, process: &str, part: &[u8]) {
    let r = call(
        card,
        "CSNBMKP",
        &[class, process],
        vec![Param::Bytes(part.to_vec())],
    );
    assert_eq!(
        r.return_code,
        0,
        "CSNBMKP {class} {process}: {:?}",
        codes(&r)
    );
}

fn odd(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        if b.count_ones() % 2 == 0 {
            *b ^= 1;
        }
    }
    bytes
}

fn even(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        if b.count_ones() % 2 == 1 {
            *b ^= 1;
        }
    }
    bytes
}

fn load_all(card: &Card, tag: u8) {
    let p = |t: u8, len: usize| var_support::pattern(t, len);
    mkp(card, "SYM-MK", "FIRST", &odd(p(tag, 24)));
    mkp(card, "SYM-MK", "LAST", &even(p(tag ^ 0x40, 24)));
    mkp(card, "SYM-MK", "SET", &[]);
    for class in ["AES-MK", "APKA-MK"] {
        mkp(card, class, "FIRST", &p(tag.wrapping_add(1), 32));
        mkp(card, class, "LAST", &p(tag.wrapping_add(2), 32));
        mkp(card, class, "SET", &[]);
    }
}

fn pkb(card: &Card, rules: &[&str], kvs: Vec<u8>) -> Vec<u8> {
    let mut params = vec![Param::Bytes(kvs), Param::Bytes(Vec::new())];
    params.extend((0..5).map(|_| Param::Bytes(Vec::new())));
    params.push(Param::Int(8000));
    only_bytes(&call(card, "CSNDPKB", rules, params), "CSNDPKB")
}

fn pkg_master(card: &Card, skeleton: Vec<u8>) -> Vec<u8> {
    let r = call(
        card,
        "CSNDPKG",
        &["MASTER"],
        vec![
            Param::Bytes(Vec::new()),
            Param::Bytes(skeleton),
            Param::Bytes(Vec::new()),
            Param::Int(8000),
        ],
    );
    only_bytes(&r, "CSNDPKG MASTER")
}

fn rsa_token(card: &Card, form: &str) -> Vec<u8> {
    // IBM's key-value structures: 18-byte CRT header, 8-byte ME header.
    let mut kvs = vec![0u8; if form == "RSA-AESC" { 18 } else { 8 }];
    kvs[0..2].copy_from_slice(&2048u16.to_be_bytes());
    kvs[4..6].copy_from_slice(&3u16.to_be_bytes());
    kvs.extend_from_slice(&[1, 0, 1]);
    pkg_master(card, pkb(card, &[form, "KEY-MGMT"], kvs))
}

fn ecc_token(card: &Card) -> Vec<u8> {
    // Prime curve, 256 bits, no key values: a skeleton.
    let kvs = vec![0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00];
    pkg_master(card, pkb(card, &["ECC-PAIR", "KEY-MGMT"], kvs))
}

/// The MKVP opencryptoki's `analyse_cca_key_token` finds in a token, and the register class
/// its `check_expected_mkvp` compares it with.
fn ock_token_mkvp(t: &[u8]) -> (Class, [u8; 8]) {
    let eight = |at: usize| -> [u8; 8] {
        let mut v = [0u8; 8];
        v.copy_from_slice(&t[at..at + 8]);
        v
    };
    if t[0] == 0x01 && (t[4] == 0x00 || t[4] == 0x01) {
        assert_eq!(t.len(), 64);
        return (Class::Sym, eight(8));
    }
    if t[0] == 0x01 && t[4] == 0x04 {
        assert_eq!(t.len(), 64);
        let bits = be16(t, 56);
        assert!([128, 192, 256].contains(&bits), "AES key bits {bits}");
        return (Class::Aes, eight(8));
    }
    if t[0] == 0x01 && t[4] == 0x05 && t[41] == 0x03 {
        assert_eq!(be16(t, 42), 0x0002, "HMAC MAC");
        assert_eq!((t[8], t[26], t[27], t[28]), (0x03, 0x02, 0x02, 0x00));
        return (Class::Aes, eight(10));
    }
    if t[0] == 0x1F && (t[8] == 0x30 || t[8] == 0x31) {
        let section = usize::from(be16(t, 10));
        assert!(8 + section < t.len(), "private section length");
        assert_eq!(t[8 + section], 0x04, "public section follows");
        let at = if t[8] == 0x30 { 8 + 104 } else { 8 + 116 };
        return (Class::Apka, eight(at));
    }
    if t[0] == 0x1F && t[8] == 0x20 {
        assert_eq!(t[8 + 4], 0x01, "wrapping method");
        assert_eq!(t[8 + 10], 0x08, "key format");
        return (Class::Apka, eight(8 + 16));
    }
    panic!("a token opencryptoki does not know: {:02X?}", &t[..12]);
}

#[test]
fn staticsb_current_mkvps_are_the_ones_in_every_token_kind() {
    let card = card_of(Model::Ibm4769, 3);
    load_all(&card, 7);
    let m = ock_mkvps(&staticsb(&card));
    for (class, expected) in [
        (Class::Sym, m.cur_sym),
        (Class::Aes, m.cur_aes),
        (Class::Apka, m.cur_apka),
    ] {
        assert_ne!(expected, [0; 8]);
        assert_eq!(card.verification_patterns(class)[1], Some(expected));
    }
    assert_eq!((m.new_sym, m.new_aes, m.new_apka), ([0; 8], [0; 8], [0; 8]));

    let des = only_bytes(
        &call(
            &card,
            "CSNBCKM",
            &["DES"],
            vec![
                Param::Bytes(odd(var_support::pattern(9, 16))),
                Param::Bytes(vec![0; 64]),
            ],
        ),
        "CSNBCKM DES",
    );
    let aes = only_bytes(
        &call(
            &card,
            "CSNBCKM",
            &["AES"],
            vec![
                Param::Bytes(var_support::pattern(10, 32)),
                Param::Bytes(vec![0; 64]),
            ],
        ),
        "CSNBCKM AES",
    );
    let skeleton = var_support::build(&card, &["INTERNAL", "HMAC", "MAC", "GENERATE"], 0, &[]);
    let hmac = var_support::bytes_out(
        &var_support::kgn2(&card, &["HMAC", "OP"], 256, "TOKEN", &skeleton),
        0,
    );
    let rsa_me = rsa_token(&card, "RSA-AESM");
    let rsa_crt = rsa_token(&card, "RSA-AESC");
    assert_eq!(rsa_me[8], 0x30);
    assert_eq!(rsa_crt[8], 0x31);
    let ecc = ecc_token(&card);

    for (what, token) in [
        ("DES X'00'", &des),
        ("AES X'04'", &aes),
        ("HMAC X'05'", &hmac),
        ("RSA X'30'", &rsa_me),
        ("RSA X'31'", &rsa_crt),
        ("ECC X'20'", &ecc),
    ] {
        let (class, mkvp) = ock_token_mkvp(token);
        let reported = match class {
            Class::Sym => m.cur_sym,
            Class::Aes => m.cur_aes,
            _ => m.cur_apka,
        };
        assert_eq!(mkvp, reported, "{what}: token MKVP = STATICSB current MKVP");
    }
}

#[test]
fn staticsb_reports_new_and_old_registers() {
    let card = card_of(Model::Ibm4769, 4);
    load_all(&card, 11);
    let before = ock_mkvps(&staticsb(&card));
    // A full NEW AES key: reported at 194; a partial one is still zeros.
    let q1 = var_support::pattern(40, 32);
    mkp(&card, "AES-MK", "FIRST", &q1);
    assert_eq!(ock_mkvps(&staticsb(&card)).new_aes, [0; 8], "partial NEW");
    let q2 = var_support::pattern(41, 32);
    mkp(&card, "AES-MK", "LAST", &q2);
    let nmk: Vec<u8> = q1.iter().zip(&q2).map(|(a, b)| a ^ b).collect();
    let expected = verification_pattern(Class::Aes, &softcca_card::mk::MasterKey::from_bytes(&nmk));
    let m = ock_mkvps(&staticsb(&card));
    assert_eq!(m.new_aes, expected);
    assert_eq!(m.cur_aes, before.cur_aes);
    mkp(&card, "AES-MK", "SET", &[]);
    let data = staticsb(&card);
    let m = ock_mkvps(&data);
    assert_eq!(m.cur_aes, expected, "SET: NEW became CURRENT");
    assert_eq!(m.new_aes, [0; 8]);
    assert_eq!(be16(&data, 170), 0x0F0C);
    assert_eq!(&data[172..180], &before.cur_aes, "the old CURRENT is OLD");
    assert_eq!(m.cur_sym, before.cur_sym);
    assert_eq!(m.cur_apka, before.cur_apka);
}

// ---------------------------------------------------------------------------------------------
// DOM-NUMS, DOM-USAG
// ---------------------------------------------------------------------------------------------

#[test]
fn dom_nums_and_dom_usag_report_one_domain_zero() {
    let card = card_of(Model::Ibm4767, 5);
    // opencryptoki 3.23: a 4-byte unsigned int, be32toh.
    let nums = only_bytes(&cfq_data(&card, "DOM-NUMS", 4), "DOM-NUMS");
    assert_eq!(nums.len(), 4);
    assert_eq!(be32(&nums, 0), 1);
    // 3.23 passes its 512-byte array; 3.27 (s390) a 4-byte-per-domain array.
    let usage = only_bytes(&cfq_data(&card, "DOM-USAG", 512), "DOM-USAG");
    assert_eq!(usage, [0, 0, 0, 0]);
    for (keyword, short) in [("DOM-NUMS", 3), ("DOM-USAG", 0)] {
        assert_refused(
            &cfq_data(&card, keyword, short),
            (8, 72),
            &format!("{keyword} with {short}"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The version opencryptoki parses
// ---------------------------------------------------------------------------------------------

/// `%u.%u.%u` at the start of a string, as sscanf reads it.
fn scan_version(text: &[u8]) -> Option<(u32, u32, u32)> {
    let s = std::str::from_utf8(text).ok()?;
    let s = s.split(['\0', ' ']).next()?;
    let mut parts = s.splitn(3, '.');
    let a = parts.next()?.parse().ok()?;
    let b = parts.next()?.parse().ok()?;
    let digits: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((a, b, digits.parse().ok()?))
}

#[test]
fn model_4769_version_is_one_opencryptoki_3_23_and_3_27_accept() {
    let card = card_of(Model::Ibm4769, 6);
    // cca_get_version: a 20-byte buffer, the NUL-terminated string parsed as %u.%u.%u.
    let raw = only_bytes(
        &call(&card, "CSUACFV", &[], vec![Param::Int(20)]),
        "CSUACFV",
    );
    assert_eq!(raw.len(), 17);
    assert_eq!(raw[16], 0);
    let (v, r, m) = scan_version(&raw).expect("CSUACFV parses");
    assert!(v > 7 || (v == 7 && r >= 1), "≥ 7.1: {v}.{r}.{m}");
    // cca_get_adapter_version: STATCCA bytes 24..32.
    let rc = call(
        &card,
        "CSUACFQ",
        &["STATCCA"],
        vec![Param::Int(0), Param::Bytes(Vec::new())],
    );
    assert_eq!(codes(&rc), (0, 0));
    let flat: Vec<u8> = rc.rule_array.concat();
    assert_eq!(scan_version(&flat[24..32]), Some((v, r, m)));
    // cca_get_mk_state: character 0 NMK and 8 CMK, '2' once loaded.
    load_all(&card, 1);
    for keyword in ["STATCCAE", "STATAES", "STATAPKA"] {
        let rc = call(
            &card,
            "CSUACFQ",
            &[keyword],
            vec![Param::Int(0), Param::Bytes(Vec::new())],
        );
        let flat: Vec<u8> = rc.rule_array.concat();
        assert_eq!(flat[8], b'2', "{keyword}: CMK loaded");
        assert_eq!(flat[0], b'1', "{keyword}: NMK clear");
    }
    // STATCRD2: "%u" in element 1, the serial at offset 112.
    let rc = call(
        &card,
        "CSUACFQ",
        &["STATCRD2"],
        vec![Param::Int(0), Param::Bytes(Vec::new())],
    );
    let flat: Vec<u8> = rc.rule_array.concat();
    assert_eq!(&flat[..8], b"1       ");
    assert_eq!(&flat[112..120], card.identity().serial.as_slice());
}

#[test]
fn model_4767_reports_a_level_opencryptoki_refuses() {
    let card = card_of(Model::Ibm4767, 7);
    let raw = only_bytes(
        &call(&card, "CSUACFV", &[], vec![Param::Int(20)]),
        "CSUACFV",
    );
    let (v, _, _) = scan_version(&raw).expect("parses");
    assert!(v < 7, "the 4767's last CCA release is 5.x");
}

// ---------------------------------------------------------------------------------------------
// CSUAACM
// ---------------------------------------------------------------------------------------------

fn acm(card: &Card, keyword: &str, name: &[u8], capacity: i32) -> VerbResponse {
    call(
        card,
        "CSUAACM",
        &[keyword],
        vec![Param::Bytes(name.to_vec()), Param::Int(capacity)],
    )
}

/// `cca_get_acp`: walk the segments after the 33-byte header (version, comment, auth, lower,
/// upper, days, segment count, reserved); `None` where opencryptoki gives up.
fn ock_acp(role: &[u8], acp: u16) -> Option<bool> {
    let header = 2 + 20 + 2 + 2 + 2 + 1 + 2 + 2;
    if role.len() < header {
        return None;
    }
    let segments = be16(role, 29);
    let mut at = header;
    for _ in 0..segments {
        if at >= role.len() || at + 8 > role.len() {
            return None;
        }
        let (first, last, n) = (
            be16(role, at),
            be16(role, at + 2),
            usize::from(be16(role, at + 4)),
        );
        at += 8;
        if acp >= first && acp <= last {
            if at + n > role.len() {
                return None;
            }
            let bit = usize::from(acp - first);
            if bit / 8 > n {
                return None;
            }
            return Some(role[at + bit / 8] & (0x80 >> (bit % 8)) != 0);
        }
        at += n;
    }
    Some(false)
}

#[test]
fn csuaacm_default_role_found_the_way_opencryptoki_3_27_looks() {
    let card = card_of(Model::Ibm4769, 8);
    // cca_get_acp_info_handler: LSTROLES into 4000 bytes, then GET-ROLE of each 8-byte name.
    let list = only_bytes(&acm(&card, "LSTROLES", &[0; 8], 4000), "LSTROLES");
    assert_eq!(list, b"DEFAULT ");
    let mut found = None;
    for name in list.chunks_exact(8) {
        let role = only_bytes(&acm(&card, "GET-ROLE", name, 4000), "GET-ROLE");
        assert!(role.len() >= 33, "role data");
        let is_default = (name.starts_with(b"DFLT") || name.starts_with(b"DEFAULT"))
            && be16(&role, 24) == 0x0000
            && (be16(&role, 26) == 0x0000 || be16(&role, 26) == 0x173B)
            && role[28] == 0xFE;
        if is_default {
            found = Some(role);
            break;
        }
    }
    let role = found.expect("opencryptoki finds a default role");
    assert_eq!(be16(&role, 0), 0x0101, "version");
    assert_eq!(&role[2..22], b"DEFAULT ROLE        ");
    assert_eq!(be16(&role, 22), 0, "authentication strength");
    // The two ACPs opencryptoki reads: off (IBM ships them off; softcca has no RAKW).
    assert_eq!(ock_acp(&role, 0x03B8), Some(false));
    assert_eq!(ock_acp(&role, 0x03CD), Some(false));
    // Points of implemented verbs are on; IBM's initial DEFAULT-role points are on.
    for acp in [
        0x0100, 0x0101, 0x0103, 0x0104, 0x0107, 0x0110, 0x0116, 0x011A, 0x0360,
    ] {
        assert_eq!(ock_acp(&role, acp), Some(true), "{acp:04X}");
    }
    assert_eq!(
        ock_acp(&role, 0x0206),
        Some(false),
        "a disallow point stays off"
    );
}

#[test]
fn csuaacm_other_keywords() {
    let card = card_of(Model::Ibm4767, 9);
    let rp = only_bytes(&acm(&card, "Q-NUM-RP", &[], 8), "Q-NUM-RP");
    assert_eq!(rp, [0, 0, 0, 1, 0, 0, 0, 0]);
    let ur = only_bytes(&acm(&card, "Q-NUM-UR", &[], 4), "Q-NUM-UR");
    assert_eq!(ur, [0, 0, 0, 0]);
    for keyword in ["LSTPROFS", "LSTUSERS"] {
        assert_eq!(only_bytes(&acm(&card, keyword, &[], 0), keyword), b"");
    }
    assert_refused(
        &acm(&card, "GET-PROF", b"ADMIN   ", 400),
        (8, 773),
        "GET-PROF",
    );
    assert_refused(
        &acm(&card, "DEL-PROF", b"ADMIN   ", 400),
        (8, 773),
        "DEL-PROF",
    );
    assert_refused(
        &acm(&card, "GET-ROLE", b"ADMIN   ", 400),
        (8, 772),
        "unknown role",
    );
    assert_refused(
        &acm(&card, "GET-ROLE", b" DEFAULT", 400),
        (8, 772),
        "leading space",
    );
    assert_refused(
        &acm(&card, "GET-ROLE", b"default ", 400),
        (8, 772),
        "case matters",
    );
    assert_refused(
        &acm(&card, "DEL-ROLE", b"ADMIN   ", 400),
        (8, 772),
        "DEL-ROLE unknown",
    );
    assert_refused(
        &acm(&card, "DEL-ROLE", b"DEFAULT ", 400),
        (8, 2),
        "DEL-ROLE not yet",
    );
    // The role survives: still listed.
    assert_eq!(
        only_bytes(&acm(&card, "LSTROLES", &[], 8), "LSTROLES"),
        b"DEFAULT "
    );
}

#[test]
fn csuaacm_lengths_and_rule_arrays() {
    let card = card_of(Model::Ibm4767, 10);
    let role_len = only_bytes(&acm(&card, "GET-ROLE", b"DEFAULT ", 400), "GET-ROLE").len();
    let fits = i32::try_from(role_len.div_ceil(4) * 4).expect("small");
    assert_eq!(
        only_bytes(&acm(&card, "GET-ROLE", b"DEFAULT ", fits), "fits").len(),
        role_len
    );
    for (keyword, capacity) in [
        ("GET-ROLE", fits - 4),
        ("GET-ROLE", fits + 1),
        ("LSTROLES", 4),
        ("LSTROLES", 9),
        ("LSTROLES", -8),
        ("Q-NUM-RP", 4),
        ("Q-NUM-UR", 0),
        ("LSTPROFS", 2),
    ] {
        assert_refused(
            &acm(&card, keyword, b"DEFAULT ", capacity),
            (8, 72),
            &format!("{keyword} into {capacity}"),
        );
    }
    for name in [&b"DEFAULT"[..], b"DEFAULT  ", b""] {
        assert_refused(
            &acm(&card, "GET-ROLE", name, 400),
            (8, 72),
            "name not 8 bytes",
        );
    }
    assert_refused(
        &acm(&card, "SETROLE ", b"DEFAULT ", 400),
        (8, 33),
        "keyword",
    );
    let r = call(
        &card,
        "CSUAACM",
        &["LSTROLES", "GET-ROLE"],
        vec![Param::Bytes(b"DEFAULT ".to_vec()), Param::Int(400)],
    );
    assert_refused(&r, (8, 35), "two keywords");
    let r = call(
        &card,
        "CSUAACM",
        &[],
        vec![Param::Bytes(b"DEFAULT ".to_vec()), Param::Int(400)],
    );
    assert_refused(&r, (8, 35), "no keyword");
    let r = call(&card, "CSUAACM", &["LSTROLES"], vec![Param::Int(400)]);
    assert_refused(&r, (8, 72), "parameter block of the wrong shape");
}
