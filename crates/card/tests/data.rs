//! API tests of Encipher/Decipher (CSNBENC/CSNBDEC), MAC_Generate/MAC_Verify
//! (CSNBMGN/CSNBMVR) and Symmetric_Algorithm_Encipher/Decipher (CSNBSAE/CSNBSAD) through
//! [`Card::execute`]: round trips, chaining across calls, key separation by control vector,
//! and IBM's code for every refusal (written as literals). Known-answer vectors are in
//! `data_kat.rs`.

mod data_common;

use data_common::*;
use softcca_card::Card;

const ZERO8: [u8; 8] = [0; 8];
const CHAIN: [u8; 18] = [0; 18];
const IV16: [u8; 16] = [7; 16];
const CHAIN32: [u8; 32] = [0; 32];

fn des_keys(card: &Card) -> Vec<(Vec<u8>, Vec<u8>)> {
    [8, 16, 24]
        .into_iter()
        .map(|n| {
            let clear = with_odd_parity(pattern(n as u8, n));
            (import_des(card, &clear), clear)
        })
        .collect()
}

#[test]
fn encipher_decipher_round_trip_every_length_and_rule() {
    let card = new_card(1);
    load_sym(&card);
    let iv = pattern(9, 8);
    for (token, _) in des_keys(&card) {
        for len in [0usize, 1, 7, 8, 9, 16, 23, 64] {
            let text = pattern(len as u8, len);
            for rule in ["CBC", "X9.23"] {
                let r = enc(&card, &[rule], &token, &text, &iv, &CHAIN);
                if rule == "CBC" && (len == 0 || !len.is_multiple_of(8)) {
                    assert_refused(&r, (8, 25), "CBC needs a multiple of 8");
                    continue;
                }
                assert_eq!(codes(&r), (0, 0), "{rule} {len}");
                let out = outputs(&r);
                let expected_len = if rule == "X9.23" {
                    len / 8 * 8 + 8
                } else {
                    len
                };
                assert_eq!(out[0].len(), expected_len);
                assert_eq!(out[1].len(), 18);
                assert_eq!(
                    &out[1][..8],
                    &out[0][out[0].len() - 8..],
                    "OCV = last block"
                );
                assert!(out[1][8..].iter().all(|&b| b == 0));
                let r = dec(&card, &[rule, "INITIAL"], &token, &out[0], &iv, &CHAIN);
                assert_eq!(codes(&r), (0, 0));
                let back = outputs(&r);
                assert_eq!(back[0], text, "{rule} {len}");
                assert_eq!(
                    back[1], out[1],
                    "the decipher OCV is the last ciphertext block"
                );
            }
        }
    }
}

#[test]
fn continue_chains_like_one_call() {
    let card = new_card(2);
    load_sym(&card);
    let (token, _) = des_keys(&card).remove(1);
    let iv = pattern(3, 8);
    let text = pattern(4, 48);
    let whole = outputs(&enc(&card, &[], &token, &text, &iv, &CHAIN));
    let first = outputs(&enc(&card, &["INITIAL"], &token, &text[..16], &iv, &CHAIN));
    // CONTINUE ignores the IV and takes the OCV from the chaining vector.
    let second = outputs(&enc(
        &card,
        &["CONTINUE", "CBC"],
        &token,
        &text[16..],
        &ZERO8,
        &first[1],
    ));
    assert_eq!([first[0].clone(), second[0].clone()].concat(), whole[0]);
    assert_eq!(second[1], whole[1]);
    let d1 = outputs(&dec(&card, &[], &token, &whole[0][..24], &iv, &CHAIN));
    let d2 = outputs(&dec(
        &card,
        &["CONTINUE"],
        &token,
        &whole[0][24..],
        &ZERO8,
        &d1[1],
    ));
    assert_eq!([d1[0].clone(), d2[0].clone()].concat(), text);
}

#[test]
fn encipher_keys_by_control_vector() {
    let card = new_card(3);
    let mk = load_sym(&card);
    let text = pattern(1, 16);
    for clear in [
        with_odd_parity(pattern(5, 8)),
        with_odd_parity(pattern(6, 16)),
    ] {
        let token = |t: &str| des_token(&mk, &clear, t);
        for (key_type, can_enc, can_dec) in [
            ("DATA", true, true),
            ("CIPHER", true, true),
            ("ENCIPHER", true, false),
            ("DECIPHER", false, true),
            ("MAC", false, false),
            ("MACVER", false, false),
        ] {
            let k = token(key_type);
            let r = enc(&card, &[], &k, &text, &ZERO8, &CHAIN);
            if can_enc {
                assert_eq!(codes(&r), (0, 0), "{key_type} enciphers");
            } else {
                assert_refused(&r, (8, 39), key_type);
            }
            let r = dec(&card, &[], &k, &text, &ZERO8, &CHAIN);
            if can_dec {
                assert_eq!(codes(&r), (0, 0), "{key_type} deciphers");
            } else {
                assert_refused(&r, (8, 39), key_type);
            }
        }
        if clear.len() == 16 {
            // A key-encrypting key has the cipher bits in byte 2 but is not of the data class.
            let k = token("EXPORTER");
            assert_refused(
                &enc(&card, &[], &k, &text, &ZERO8, &CHAIN),
                (8, 39),
                "EXPORTER",
            );
            assert_refused(
                &dec(&card, &[], &k, &text, &ZERO8, &CHAIN),
                (8, 39),
                "EXPORTER",
            );
        }
    }
}

#[test]
fn encipher_refusals() {
    let card = new_card(4);
    load_sym(&card);
    let aes_mk_loaded = load_aes(&card);
    drop(aes_mk_loaded);
    let (token, _) = des_keys(&card).remove(0);
    let text = pattern(2, 16);
    let e = |rules: &[&str], key: &[u8], text: &[u8], iv: &[u8], chain: &[u8]| {
        enc(&card, rules, key, text, iv, chain)
    };
    assert_refused(
        &e(&["CBC", "INITIAL", "CBC"], &token, &text, &ZERO8, &CHAIN),
        (8, 35),
        "count",
    );
    assert_refused(
        &e(&["ECB"], &token, &text, &ZERO8, &CHAIN),
        (8, 33),
        "keyword",
    );
    assert_refused(
        &e(&["CBC", "X9.23"], &token, &text, &ZERO8, &CHAIN),
        (8, 34),
        "two rules",
    );
    assert_refused(
        &e(&["INITIAL", "CONTINUE"], &token, &text, &ZERO8, &CHAIN),
        (8, 34),
        "two ICVs",
    );
    assert_refused(
        &e(&["CUSP"], &token, &[], &ZERO8, &CHAIN),
        (8, 25),
        "CUSP, empty",
    );
    assert_refused(&e(&["IPS"], &token, &text, &ZERO8, &CHAIN), (8, 2), "IPS");
    assert_refused(
        &e(&[], &token, &text[..7], &ZERO8, &CHAIN),
        (8, 25),
        "text length",
    );
    assert_refused(&e(&[], &token, &[], &ZERO8, &CHAIN), (8, 25), "empty text");
    assert_refused(
        &e(&[], &token, &text, &[0; 7], &CHAIN),
        (8, 72),
        "IV length",
    );
    assert_refused(
        &e(&[], &token, &text, &ZERO8, &[0; 17]),
        (8, 72),
        "chain length",
    );
    let r = call(
        &card,
        "CSNBENC",
        &[],
        vec![
            softcca_wire::Param::Bytes(token.clone()),
            softcca_wire::Param::Bytes(text.clone()),
            softcca_wire::Param::Bytes(ZERO8.to_vec()),
            softcca_wire::Param::Int(256),
            softcca_wire::Param::Bytes(CHAIN.to_vec()),
        ],
    );
    assert_refused(&r, (8, 72), "pad character");
    // Wrong token types and corrupted tokens.
    let aes = import_aes(&card, &pattern(3, 16));
    assert_refused(&e(&[], &aes, &text, &ZERO8, &CHAIN), (8, 49), "AES token");
    assert_refused(
        &e(&[], &[0; 64], &text, &ZERO8, &CHAIN),
        (8, 47),
        "null token",
    );
    assert_refused(
        &e(&[], &token[..63], &text, &ZERO8, &CHAIN),
        (8, 43),
        "63-byte token",
    );
    let mut label = vec![b' '; 64];
    label[..8].copy_from_slice(b"MY.LABEL");
    assert_refused(
        &e(&[], &label, &text, &ZERO8, &CHAIN),
        (8, 47),
        "a label at the card",
    );
    let mut bad = token.clone();
    bad[63] ^= 1;
    assert_refused(&e(&[], &bad, &text, &ZERO8, &CHAIN), (8, 29), "TVV");
    let mut bad = token.clone();
    bad[4] = 2;
    reseal(&mut bad);
    assert_refused(&e(&[], &bad, &text, &ZERO8, &CHAIN), (8, 49), "version");
    let mut bad = token.clone();
    bad[8] ^= 0xFF;
    reseal(&mut bad);
    assert_refused(
        &e(&[], &bad, &text, &ZERO8, &CHAIN),
        (8, 24),
        "MKVP unknown",
    );
    let mut bad = token.clone();
    bad[6] = 0;
    reseal(&mut bad);
    assert_refused(
        &e(&[], &bad, &text, &ZERO8, &CHAIN),
        (8, 47),
        "no key-present flag",
    );
    let mut bad = token.clone();
    bad[0] = 2;
    bad[8..16].fill(0);
    reseal(&mut bad);
    assert_refused(
        &e(&[], &bad, &text, &ZERO8, &CHAIN),
        (8, 47),
        "external token",
    );
}

#[test]
fn decipher_refusals() {
    let card = new_card(5);
    load_sym(&card);
    let (token, _) = des_keys(&card).remove(2);
    let ct = outputs(&enc(&card, &[], &token, &pattern(1, 16), &ZERO8, &CHAIN)).remove(0);
    assert_refused(
        &dec(&card, &[], &token, &ct[..15], &ZERO8, &CHAIN),
        (8, 25),
        "length",
    );
    assert_refused(
        &dec(&card, &["X9.23"], &token, &[], &ZERO8, &CHAIN),
        (8, 25),
        "empty",
    );
    assert_refused(
        &dec(&card, &["PKCS-PAD"], &token, &ct, &ZERO8, &CHAIN),
        (8, 33),
        "keyword",
    );
    assert_refused(
        &dec(&card, &[], &token, &ct, &ZERO8, &[0; 19]),
        (8, 72),
        "chain length",
    );
    // A last byte that is not a count of 1–8 is not X9.23 padding: refused, no text.
    let mut text = pattern(2, 16);
    text[15] = 9;
    let ct = outputs(&enc(&card, &[], &token, &text, &ZERO8, &CHAIN)).remove(0);
    assert_refused(
        &dec(&card, &["X9.23"], &token, &ct, &ZERO8, &CHAIN),
        (8, 72),
        "padding",
    );
    text[15] = 0;
    let ct = outputs(&enc(&card, &[], &token, &text, &ZERO8, &CHAIN)).remove(0);
    assert_refused(
        &dec(&card, &["X9.23"], &token, &ct, &ZERO8, &CHAIN),
        (8, 72),
        "padding 0",
    );
}

#[test]
fn old_master_key_gives_10001() {
    let card = new_card(6);
    load_sym(&card);
    let (token, _) = des_keys(&card).remove(0);
    let text = pattern(1, 8);
    let before = outputs(&enc(&card, &[], &token, &text, &ZERO8, &CHAIN));
    load_sym_seeded(&card, 77);
    let r = enc(&card, &[], &token, &text, &ZERO8, &CHAIN);
    assert_eq!(codes(&r), (0, 10001));
    assert_eq!(outputs(&r), before);
    let r = mgn(&card, &[], &token, &text, &CHAIN);
    assert_eq!(codes(&r), (0, 10001));
    // A third master key: the token's MKVP is neither current nor old.
    load_sym_seeded(&card, 91);
    assert_refused(
        &enc(&card, &[], &token, &text, &ZERO8, &CHAIN),
        (8, 24),
        "MKVP",
    );
}

#[test]
fn mac_generate_and_verify() {
    let card = new_card(7);
    let mk = load_sym(&card);
    let text = pattern(3, 37);
    for clear in [
        with_odd_parity(pattern(1, 8)),
        with_odd_parity(pattern(2, 16)),
        with_odd_parity(pattern(3, 24)),
    ] {
        let key = des_token(&mk, &clear, "MAC");
        for len in ["MACLEN4", "MACLEN6", "MACLEN8"] {
            let r = mgn(&card, &[len], &key, &text, &CHAIN);
            assert_eq!(codes(&r), (0, 0));
            let out = outputs(&r);
            let n: usize = len[6..].parse().expect("digit");
            assert_eq!(out[0].len(), n);
            assert_eq!(out[1], CHAIN.to_vec(), "ONLY leaves no chain");
            let r = mvr(&card, &[len, "ONLY"], &key, &text, &CHAIN, &out[0]);
            assert_eq!(codes(&r), (0, 0), "verifies");
            let mut wrong = out[0].clone();
            wrong[0] ^= 1;
            let r = mvr(&card, &[len], &key, &text, &CHAIN, &wrong);
            assert_eq!(codes(&r), (4, 1), "a wrong MAC");
            let r = mvr(&card, &[len], &key, &text[1..], &CHAIN, &out[0]);
            assert_eq!(codes(&r), (4, 1), "other text");
        }
        // FIRST, MIDDLE, LAST give the ONLY MAC.
        let only = outputs(&mgn(&card, &["MACLEN8"], &key, &text, &CHAIN)).remove(0);
        let f = outputs(&mgn(
            &card,
            &["FIRST", "MACLEN8"],
            &key,
            &text[..16],
            &CHAIN,
        ));
        assert!(f[0].is_empty(), "no MAC before LAST");
        let m = outputs(&mgn(
            &card,
            &["MIDDLE", "MACLEN8"],
            &key,
            &text[16..24],
            &f[1],
        ));
        let l = outputs(&mgn(&card, &["LAST", "MACLEN8"], &key, &text[24..], &m[1]));
        assert_eq!(l[0], only);
        let r = mvr(&card, &["FIRST", "MACLEN8"], &key, &text[..24], &CHAIN, &[]);
        assert_eq!(codes(&r), (0, 0));
        let c = outputs(&r).remove(0);
        let r = mvr(&card, &["LAST", "MACLEN8"], &key, &text[24..], &c, &only);
        assert_eq!(codes(&r), (0, 0));
    }
}

#[test]
fn mac_keys_by_control_vector() {
    let card = new_card(8);
    let mk = load_sym(&card);
    load_aes(&card);
    let text = pattern(1, 16);
    let clear = with_odd_parity(pattern(4, 8));
    for (key_type, can_gen, can_ver) in [
        ("MAC", true, true),
        ("MACVER", false, true),
        ("DATA", true, true),
        ("CIPHER", false, false),
        ("ENCIPHER", false, false),
        ("DECIPHER", false, false),
    ] {
        let key = des_token(&mk, &clear, key_type);
        let r = mgn(&card, &[], &key, &text, &CHAIN);
        let mac = if can_gen {
            assert_eq!(codes(&r), (0, 0), "{key_type} generates");
            outputs(&r).remove(0)
        } else {
            assert_refused(&r, (8, 39), key_type);
            vec![0; 4]
        };
        let r = mvr(&card, &[], &key, &text, &CHAIN, &mac);
        if can_ver {
            assert!(r.return_code < 8, "{key_type} verifies");
        } else {
            assert_refused(&r, (8, 39), key_type);
        }
    }
    // The imported DATA key (CSNBCKM) MACs: IBM's DATA CV has the MAC bits.
    let data = import_des(&card, &clear);
    assert_eq!(codes(&mgn(&card, &[], &data, &text, &CHAIN)), (0, 0));
    // DATAM (double length) MACs.
    let datam = des_token(&mk, &with_odd_parity(pattern(5, 16)), "DATAM");
    assert_eq!(codes(&mgn(&card, &[], &datam, &text, &CHAIN)), (0, 0));
    // An AES DATA key cannot be used by MAC_Generate.
    let aes = import_aes(&card, &pattern(6, 16));
    assert_refused(&mgn(&card, &[], &aes, &text, &CHAIN), (8, 49), "AES key");
}

#[test]
fn mac_refusals() {
    let card = new_card(9);
    let mk = load_sym(&card);
    let single = des_token(&mk, &with_odd_parity(pattern(1, 8)), "MAC");
    let double = des_token(&mk, &with_odd_parity(pattern(2, 16)), "MAC");
    let triple = des_token(&mk, &with_odd_parity(pattern(3, 24)), "MAC");
    let text = pattern(4, 16);
    let g =
        |rules: &[&str], key: &[u8], text: &[u8], chain: &[u8]| mgn(&card, rules, key, text, chain);
    assert_refused(
        &g(
            &["ONLY", "MACLEN4", "X9.9-1", "ONLY"],
            &single,
            &text,
            &CHAIN,
        ),
        (8, 35),
        "count",
    );
    assert_refused(&g(&["MACLEN5"], &single, &text, &CHAIN), (8, 33), "keyword");
    assert_refused(
        &g(&["FIRST", "LAST"], &single, &text, &CHAIN),
        (8, 34),
        "two segments",
    );
    assert_refused(
        &g(&["X9.19OPT"], &single, &text, &CHAIN),
        (8, 34),
        "X9.19OPT single",
    );
    assert_refused(
        &g(&["X9.9-1"], &double, &text, &CHAIN),
        (8, 34),
        "X9.9-1 double",
    );
    assert_refused(
        &g(&["EMVMACD"], &triple, &text, &CHAIN),
        (8, 34),
        "EMVMACD triple",
    );
    assert_refused(
        &g(&["TDES-MAC"], &single, &text, &CHAIN),
        (8, 34),
        "TDES-MAC single",
    );
    assert_refused(
        &g(&["FIRST"], &single, &text[..7], &CHAIN),
        (8, 25),
        "FIRST not 8n",
    );
    assert_refused(&g(&[], &single, &[], &CHAIN), (8, 25), "nothing to MAC");
    assert_refused(&g(&[], &single, &text, &[0; 8]), (8, 72), "chain length");
    assert_refused(
        &g(&["MIDDLE"], &single, &text, &CHAIN),
        (8, 72),
        "a chain FIRST did not write",
    );
    assert_refused(
        &g(&["LAST"], &single, &text, &CHAIN),
        (8, 72),
        "LAST without FIRST",
    );
    // Empty ONLY text is fine with EMV padding, which always adds a block.
    assert_eq!(codes(&g(&["EMVMAC"], &single, &[], &CHAIN)), (0, 0));
    let r = mvr(&card, &["MACLEN6"], &single, &text, &CHAIN, &[0; 4]);
    assert_refused(&r, (8, 72), "MAC shorter than MACLEN6");
    let mut bad = single.clone();
    bad[63] ^= 1;
    assert_refused(&g(&[], &bad, &text, &CHAIN), (8, 29), "TVV");
    let mut bad = single.clone();
    bad[9] ^= 1;
    reseal(&mut bad);
    assert_refused(
        &mvr(&card, &[], &bad, &text, &CHAIN, &[0; 4]),
        (8, 24),
        "MKVP",
    );
}

fn aes_out(r: &softcca_wire::VerbResponse, what: &str) -> Vec<Vec<u8>> {
    assert_eq!(codes(r), (0, 0), "{what}");
    outputs(r)
}

#[test]
fn sae_sad_round_trips() {
    let card = new_card(10);
    load_aes(&card);
    for n in [16, 24, 32] {
        let clear = pattern(n as u8, n);
        let token = import_aes(&card, &clear);
        for (rule, key) in [("KEY-CLR", &clear), ("KEYIDENT", &token)] {
            for mode in ["ECB", "CBC", "PKCS-PAD", "GCM"] {
                for len in [0usize, 5, 16, 33, 64] {
                    let text = pattern(len as u8, len);
                    let needs_blocks = matches!(mode, "ECB" | "CBC");
                    let tag_len = if mode == "GCM" { 16 } else { 0 };
                    let iv = if mode == "GCM" {
                        &IV16[..12]
                    } else {
                        &IV16[..]
                    };
                    let r = sae(
                        &card,
                        &["AES", mode, rule],
                        key,
                        tag_len,
                        iv,
                        &CHAIN32,
                        &text,
                        b"aad",
                    );
                    if needs_blocks && (len == 0 || !len.is_multiple_of(16)) {
                        assert_refused(&r, (8, 25), "ECB/CBC need whole blocks");
                        continue;
                    }
                    let out = aes_out(&r, mode);
                    let (tag, chain, ct) = (&out[0], &out[1], &out[2]);
                    match mode {
                        "GCM" => assert_eq!(tag.len(), 16),
                        _ => assert!(tag.is_empty()),
                    }
                    if matches!(mode, "CBC" | "PKCS-PAD") {
                        assert_eq!(chain.len(), 32);
                        assert_eq!(&chain[..16], &ct[ct.len() - 16..]);
                    }
                    let r = sad(
                        &card,
                        &[rule, mode, "AES"],
                        key,
                        tag,
                        iv,
                        &CHAIN32,
                        ct,
                        b"aad",
                    );
                    let back = aes_out(&r, mode);
                    assert_eq!(back[1], text, "{mode} {len}");
                    if mode == "GCM" {
                        let r = sad(
                            &card,
                            &["AES", mode, rule],
                            key,
                            tag,
                            iv,
                            &CHAIN32,
                            ct,
                            b"aaD",
                        );
                        assert_refused(&r, (8, 72), "GCM: other AAD");
                    }
                }
            }
        }
    }
}

#[test]
fn sae_cbc_continue_and_truncated_gcm_tags() {
    let card = new_card(11);
    let key = pattern(1, 16);
    let text = pattern(2, 64);
    let whole = aes_out(
        &sae(&card, &["AES"], &key, 0, &IV16, &CHAIN32, &text, &[]),
        "one call",
    );
    let a = aes_out(
        &sae(
            &card,
            &["AES", "INITIAL"],
            &key,
            0,
            &IV16,
            &CHAIN32,
            &text[..32],
            &[],
        ),
        "a",
    );
    let b = aes_out(
        &sae(
            &card,
            &["AES", "CONTINUE"],
            &key,
            0,
            &[],
            &a[1],
            &text[32..],
            &[],
        ),
        "b",
    );
    assert_eq!([a[2].clone(), b[2].clone()].concat(), whole[2]);
    let c = aes_out(
        &sad(
            &card,
            &["AES"],
            &key,
            &[],
            &IV16,
            &CHAIN32,
            &whole[2][..16],
            &[],
        ),
        "c",
    );
    let d = aes_out(
        &sad(
            &card,
            &["AES", "CONTINUE"],
            &key,
            &[],
            &[],
            &c[0],
            &whole[2][16..],
            &[],
        ),
        "d",
    );
    assert_eq!([c[1].clone(), d[1].clone()].concat(), text);
    // GCM tags of every allowed length verify; a changed one does not.
    let full = aes_out(
        &sae(
            &card,
            &["AES", "GCM"],
            &key,
            16,
            &IV16[..12],
            &[],
            &text,
            b"x",
        ),
        "gcm",
    );
    for t in [4usize, 8, 12, 13, 14, 15, 16] {
        let out = aes_out(
            &sae(
                &card,
                &["AES", "GCM", "ONLY"],
                &key,
                t as i32,
                &IV16[..12],
                &[],
                &text,
                b"x",
            ),
            "gcm",
        );
        assert_eq!(out[0], full[0][..t].to_vec(), "a truncated tag is a prefix");
        assert_eq!(out[2], full[2]);
        let back = aes_out(
            &sad(
                &card,
                &["AES", "GCM"],
                &key,
                &out[0],
                &IV16[..12],
                &[],
                &out[2],
                b"x",
            ),
            "open",
        );
        assert_eq!(back[1], text);
        let mut bad = out[0].clone();
        bad[t - 1] ^= 0x80;
        let r = sad(
            &card,
            &["AES", "GCM"],
            &key,
            &bad,
            &IV16[..12],
            &[],
            &out[2],
            b"x",
        );
        assert_refused(&r, (8, 72), "a tag that does not verify");
        let mut ct = out[2].clone();
        ct[0] ^= 1;
        let r = sad(
            &card,
            &["AES", "GCM"],
            &key,
            &out[0],
            &IV16[..12],
            &[],
            &ct,
            b"x",
        );
        assert_refused(&r, (8, 72), "altered ciphertext");
    }
}

#[test]
fn sae_sad_refusals() {
    let card = new_card(12);
    let mk = load_sym(&card);
    load_aes(&card);
    let key = pattern(1, 16);
    let text = pattern(2, 32);
    let s = |rules: &[&str], key: &[u8], tag: i32, iv: &[u8], chain: &[u8], text: &[u8]| {
        sae(&card, rules, key, tag, iv, chain, text, &[])
    };
    assert_refused(
        &s(&[], &key, 0, &IV16, &CHAIN32, &text),
        (8, 35),
        "no rule array",
    );
    assert_refused(
        &s(
            &["AES", "CBC", "KEY-CLR", "INITIAL", "ONLY", "AES"],
            &key,
            0,
            &IV16,
            &CHAIN32,
            &text,
        ),
        (8, 35),
        "six elements",
    );
    assert_refused(
        &s(&["CBC"], &key, 0, &IV16, &CHAIN32, &text),
        (8, 34),
        "no algorithm",
    );
    assert_refused(
        &s(&["AES", "CFB"], &key, 0, &IV16, &CHAIN32, &text),
        (8, 33),
        "keyword",
    );
    assert_refused(
        &s(&["DES", "CBC"], &key, 0, &IV16, &CHAIN32, &text),
        (8, 34),
        "DES",
    );
    assert_refused(
        &s(&["AES", "ECB", "CBC"], &key, 0, &IV16, &CHAIN32, &text),
        (8, 34),
        "two modes",
    );
    assert_refused(
        &s(
            &["AES", "GCM", "INITIAL"],
            &key,
            16,
            &IV16[..12],
            &[],
            &text,
        ),
        (8, 34),
        "GCM ICV",
    );
    assert_refused(
        &s(&["AES", "CBC", "ONLY"], &key, 0, &IV16, &CHAIN32, &text),
        (8, 34),
        "CBC ONLY",
    );
    assert_refused(
        &s(&["AES", "GCM", "FIRST"], &key, 16, &IV16[..12], &[], &text),
        (8, 2),
        "GCM FIRST",
    );
    assert_refused(
        &s(&["AES"], &key[..15], 0, &IV16, &CHAIN32, &text),
        (8, 43),
        "clear key length",
    );
    assert_refused(
        &s(&["AES"], &key, 0, &IV16[..8], &CHAIN32, &text),
        (8, 72),
        "IV length",
    );
    assert_refused(
        &s(&["AES"], &key, 0, &IV16, &CHAIN32[..31], &text),
        (8, 72),
        "chain length",
    );
    assert_refused(
        &s(&["AES", "GCM"], &key, 16, &IV16, &[], &text),
        (8, 72),
        "GCM IV",
    );
    assert_refused(
        &s(&["AES", "GCM"], &key, 10, &IV16[..12], &[], &text),
        (8, 72),
        "tag length",
    );
    assert_refused(
        &s(&["AES", "ECB"], &key, 0, &[], &[], &text[..17]),
        (8, 25),
        "ECB length",
    );
    let r = call(
        &card,
        "CSNBSAE",
        &["AES"],
        vec![
            softcca_wire::Param::Bytes(key.clone()),
            softcca_wire::Param::Int(0),
            softcca_wire::Param::Int(8),
            softcca_wire::Param::Bytes(IV16.to_vec()),
            softcca_wire::Param::Bytes(CHAIN32.to_vec()),
            softcca_wire::Param::Bytes(text.clone()),
            softcca_wire::Param::Int(32),
            softcca_wire::Param::Bytes(vec![]),
        ],
    );
    assert_refused(&r, (8, 72), "block size 8");
    let r = call(
        &card,
        "CSNBSAE",
        &["AES", "PKCS-PAD"],
        vec![
            softcca_wire::Param::Bytes(key.clone()),
            softcca_wire::Param::Int(0),
            softcca_wire::Param::Int(16),
            softcca_wire::Param::Bytes(IV16.to_vec()),
            softcca_wire::Param::Bytes(CHAIN32.to_vec()),
            softcca_wire::Param::Bytes(text.clone()),
            softcca_wire::Param::Int(32),
            softcca_wire::Param::Bytes(vec![]),
        ],
    );
    assert_refused(&r, (8, 72), "output buffer too small for the padding");
    // Key tokens.
    let token = import_aes(&card, &key);
    let k = |t: &[u8]| s(&["AES", "KEYIDENT"], t, 0, &IV16, &CHAIN32, &text);
    assert_eq!(codes(&k(&token)), (0, 0));
    let mut variable = vec![0u8; 136];
    variable[0] = 0x01;
    variable[2..4].copy_from_slice(&136u16.to_be_bytes());
    variable[4] = 0x05;
    // A variable-length token is read as one; this one has no valid fields.
    assert_refused(
        &k(&variable),
        (8, 47),
        "a malformed variable-length X'05' token",
    );
    assert_refused(
        &k(&des_token(&mk, &with_odd_parity(pattern(3, 16)), "DATA")),
        (8, 49),
        "DES token",
    );
    assert_refused(&k(&[0; 64]), (8, 47), "null token");
    assert_refused(&k(&token[..32]), (8, 43), "short token");
    let mut bad = token.clone();
    bad[62] ^= 1;
    assert_refused(&k(&bad), (8, 29), "TVV");
    let mut bad = token.clone();
    bad[10] ^= 1;
    reseal(&mut bad);
    assert_refused(&k(&bad), (8, 24), "MKVP");
    let mut bad = token.clone();
    bad[4] = 0x03;
    reseal(&mut bad);
    assert_refused(&k(&bad), (8, 49), "version");
    let mut bad = token.clone();
    bad[6] |= 0x01;
    reseal(&mut bad);
    assert_refused(&k(&bad), (8, 47), "reserved flag bit");
    // Bad PKCS padding: refused with no text.
    let ct = aes_out(&s(&["AES", "CBC"], &key, 0, &IV16, &CHAIN32, &text), "ct").remove(2);
    let r = sad(
        &card,
        &["AES", "PKCS-PAD"],
        &key,
        &[],
        &IV16,
        &CHAIN32,
        &ct,
        &[],
    );
    assert_refused(&r, (8, 72), "not PKCS padded");
    // The old AES master key still works, with 0/10001.
    load_aes_seeded(&card, 55);
    let r = s(&["AES", "KEYIDENT"], &token, 0, &IV16, &CHAIN32, &text);
    assert_eq!(codes(&r), (0, 10001));
}

#[test]
fn sae_with_a_clear_key_token_needs_no_master_key() {
    use softcca_card::tokens::aes::{AesToken, InternalAes};
    let card = new_card(13);
    let key = pattern(9, 24);
    let token = AesToken::Internal(InternalAes::clear(&key).expect("clear token")).to_bytes();
    let text = pattern(3, 48);
    let by_token = sae(
        &card,
        &["AES", "KEYIDENT"],
        &token,
        0,
        &IV16,
        &CHAIN32,
        &text,
        &[],
    );
    assert_eq!(codes(&by_token), (0, 0), "no AES master key is needed");
    let by_bytes = sae(
        &card,
        &["AES", "KEY-CLR"],
        &key,
        0,
        &IV16,
        &CHAIN32,
        &text,
        &[],
    );
    assert_eq!(outputs(&by_token), outputs(&by_bytes));
    // An encrypted token needs the AES master key: 12/764 without one.
    let mk_card = new_card(14);
    load_aes(&mk_card);
    let enciphered = import_aes(&mk_card, &key);
    let r = sae(
        &card,
        &["AES", "KEYIDENT"],
        &enciphered,
        0,
        &IV16,
        &CHAIN32,
        &text,
        &[],
    );
    assert_refused(&r, (12, 764), "no AES master key");
}

/// CUSP as ICSF describes it, checked against CBC calls of the same card: whole blocks are
/// CBC; the OCV is the last ciphertext block (or the ICV) enciphered again; a short tail is
/// XORed with that block.
#[test]
fn cusp_matches_ibms_description() {
    let card = new_card(15);
    load_sym(&card);
    let iv = pattern(7, 8);
    for (token, _) in des_keys(&card) {
        for len in [1usize, 7, 8, 15, 16, 20, 33] {
            let text = pattern(len as u8, len);
            let r = enc(&card, &["CUSP"], &token, &text, &iv, &CHAIN);
            assert_eq!(codes(&r), (0, 0), "CUSP {len}");
            let out = outputs(&r);
            assert_eq!(out[0].len(), len, "as long as the plaintext");
            let whole = len / 8 * 8;
            let last = if whole > 0 {
                let cbc = outputs(&enc(&card, &[], &token, &text[..whole], &iv, &CHAIN));
                assert_eq!(&out[0][..whole], &cbc[0][..], "whole blocks are CBC");
                cbc[1][..8].to_vec()
            } else {
                iv.clone()
            };
            // e(last): a one-block CBC of zeros with the last block as the IV.
            let d = outputs(&enc(&card, &[], &token, &[0; 8], &last, &CHAIN)).remove(0);
            assert_eq!(&out[1][..8], &d[..], "the OCV");
            let tail: Vec<u8> = text[whole..].iter().zip(&d).map(|(p, k)| p ^ k).collect();
            assert_eq!(&out[0][whole..], &tail[..], "the short block");
            let back = outputs(&dec(&card, &["CUSP"], &token, &out[0], &iv, &CHAIN));
            assert_eq!(back[0], text);
            assert_eq!(back[1], out[1], "decipher gives the same OCV");
        }
    }
}

/// Every DES data verb meets the same token checks, and Symmetric_Algorithm_Decipher the AES
/// ones: wrong token type, TVV, version, unknown MKVP, flags, length.
#[test]
fn every_verb_checks_its_key_token() {
    let card = new_card(16);
    let mk = load_sym(&card);
    load_aes(&card);
    let des = des_token(&mk, &with_odd_parity(pattern(1, 16)), "DATA");
    let aes = import_aes(&card, &pattern(2, 16));
    let text = pattern(3, 16);
    type Verb<'a> = Box<dyn Fn(&[u8]) -> softcca_wire::VerbResponse + 'a>;
    let des_verbs: [(&str, Verb); 4] = [
        (
            "ENC",
            Box::new(|k: &[u8]| enc(&card, &[], k, &text, &ZERO8, &CHAIN)),
        ),
        (
            "DEC",
            Box::new(|k: &[u8]| dec(&card, &[], k, &text, &ZERO8, &CHAIN)),
        ),
        (
            "MGN",
            Box::new(|k: &[u8]| mgn(&card, &[], k, &text, &CHAIN)),
        ),
        (
            "MVR",
            Box::new(|k: &[u8]| mvr(&card, &[], k, &text, &CHAIN, &[0; 4])),
        ),
    ];
    let corrupt = |token: &[u8], at: usize, value: u8, seal: bool| {
        let mut t = token.to_vec();
        t[at] = value;
        if seal {
            reseal(&mut t);
        }
        t
    };
    for (name, verb) in &des_verbs {
        assert!(
            verb(&des).return_code < 8,
            "{name} works with the good token"
        );
        for (token, code, what) in [
            (aes.clone(), (8, 49), "an AES token"),
            (corrupt(&des, 61, des[61] ^ 1, false), (8, 29), "TVV"),
            (corrupt(&des, 4, 2, true), (8, 49), "version"),
            (corrupt(&des, 12, des[12] ^ 1, true), (8, 24), "MKVP"),
            (corrupt(&des, 6, 0x00, true), (8, 47), "flags: no key"),
            (corrupt(&des, 7, 0x20, true), (8, 2), "flags: WRAP-ENH"),
            (des[..60].to_vec(), (8, 43), "length"),
        ] {
            assert_refused(&verb(&token), code, &format!("{name}: {what}"));
        }
    }
    let sad_k = |k: &[u8]| {
        sad(
            &card,
            &["AES", "KEYIDENT"],
            k,
            &[],
            &IV16,
            &CHAIN32,
            &text,
            &[],
        )
    };
    assert_eq!(codes(&sad_k(&aes)), (0, 0));
    for (token, code, what) in [
        (des.clone(), (8, 49), "a DES token"),
        (corrupt(&aes, 60, aes[60] ^ 1, false), (8, 29), "TVV"),
        (
            corrupt(&aes, 4, 5, true),
            (8, 47),
            "version X'05' in a 64-byte token (read as a malformed X'05' token)",
        ),
        (corrupt(&aes, 8, aes[8] ^ 1, true), (8, 24), "MKVP"),
        (corrupt(&aes, 6, 0x81, true), (8, 47), "reserved flag bit"),
        (aes[..48].to_vec(), (8, 43), "length"),
    ] {
        assert_refused(&sad_k(&token), code, &format!("SAD: {what}"));
    }
}
