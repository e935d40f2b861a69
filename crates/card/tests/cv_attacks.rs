//! The published attacks on CCA's control vectors, run against softcca. Each test states the
//! attack, what IBM's CCA does about it, and what softcca does.
//!
//! Background: a DES key in a CCA token is enciphered under the master key exclusive-ORed
//! with the key's control vector (WRAP-ECB). Nothing authenticates the token beyond its TVV,
//! a plain checksum anyone can recompute, so an attacker who holds tokens can edit every
//! field. What protects the key type is that the CV is *bound into the encipherment*: a token
//! whose CV was changed deciphers, under the changed CV, to a different key nobody knows.
//! References: M. Bond, "Attacks on Cryptoprocessor Transaction Sets" (CHES 2001); M. Bond
//! and R. Anderson, "API-Level Attacks on Embedded Systems" (IEEE Computer, 2001); IBM's
//! CCA254 App. C (control vectors, p=427: key-part bit; p=428–429: MK variants).

mod support;

use softcca_card::tokens::KeyLength;
use softcca_card::tokens::cv;
use softcca_wire::Param;
use support::*;

/// Attack: Bond's key-part import attack. Key_Part_Import XORs a clear part into a partial
/// key held in a token. If an attacker could change the token's CV between parts (say from a
/// DATA key part to an IMPORTER key part), the accumulated key would be a KEK whose value the
/// attacker partly chose, or the CV change itself could be used to move a known difference
/// into the key.
///
/// CCA: the partial key is enciphered under MK ⊕ CV, so a changed CV does not decipher to
/// the same partial key; IBM also requires the key-part bit in the CV and separates the
/// ADD-PART and COMPLETE commands (dual control).
///
/// softcca: the same. The test edits the CV (TVV recomputed) between FIRST and ADD-PART; the
/// card does not notice (there is nothing to notice it by), but the completed key is not
/// part1 ⊕ part2 and nobody knows what it is. The operators' Key_Test before COMPLETE shows
/// the mismatch.
#[test]
fn key_part_cv_changed_between_parts_gives_an_unknown_key() {
    let card = new_card(21);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let p1 = with_odd_parity(pattern(1, 16));
    let p2 = with_even_parity(pattern(2, 16));
    let t = token_of(&kpi(
        &card,
        "FIRST",
        &p1,
        &skeleton("DATA", KeyLength::Double),
    ));

    let mut attacked = t.clone();
    let (l, r) = cv_of("IMPORTER", KeyLength::Double, true);
    attacked[32..40].copy_from_slice(&l);
    attacked[40..48].copy_from_slice(&r);
    reseal(&mut attacked);

    let r = kpi(&card, "ADD-PART", &p2, &attacked);
    assert!(r.return_code < 8, "the card cannot detect the edit");
    let t2 = token_of(&r);
    let r = kpi(&card, "COMPLETE", &[], &t2);
    assert!(r.return_code < 8);
    let done = token_of(&r);
    let intended = xor(&p1, &p2);
    assert_ne!(clear_of(&mk, &done), intended, "not the key the parts make");
    assert_ne!(
        enc_zero(&card, "KEY-ENCD", &done),
        enc_zero_clear(&intended),
        "Key_Test before COMPLETE would have told the operators"
    );

    // The same attack with only the key-part bit removed by hand (to skip COMPLETE's
    // control): the key deciphers to garbage too.
    let mut no_kp = t.clone();
    let l: [u8; 8] = t[32..40].try_into().expect("8");
    let r: [u8; 8] = t[40..48].try_into().expect("8");
    no_kp[32..40].copy_from_slice(&cv::with_key_part(&l, false));
    no_kp[40..48].copy_from_slice(&cv::with_key_part(&r, false));
    reseal(&mut no_kp);
    assert_ne!(clear_of(&mk, &no_kp), p1);
}

/// Attack: retyping a key by editing its CV. Take a DATA key token and write a MAC, or an
/// EXPORTER, control vector into it (TVV recomputed), hoping to use the same key as another
/// type (a DATA key the attacker can use to decipher, turned into a KEK).
///
/// CCA: the key is deciphered under MK ⊕ (new CV) and comes out different.
///
/// softcca: the same; Key_Test of the edited token shows another key, and Key_Token_Change
/// of it re-enciphers that other key.
#[test]
fn changing_a_tokens_cv_does_not_keep_its_key() {
    let card = new_card(22);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let key = with_odd_parity(pattern(3, 16));
    let data = des_token(&mk, &key, cv_of("DATA", KeyLength::Double, false));
    assert_eq!(enc_zero(&card, "KEY-ENCD", &data), enc_zero_clear(&key));
    for new_type in ["MAC", "EXPORTER", "IMPORTER", "PINGEN"] {
        let (l, r) = cv_of(new_type, KeyLength::Double, false);
        let mut t = data.clone();
        t[32..40].copy_from_slice(&l);
        t[40..48].copy_from_slice(&r);
        reseal(&mut t);
        assert_ne!(clear_of(&mk, &t), key, "{new_type}");
        assert_ne!(
            enc_zero(&card, "KEY-ENCD", &t),
            enc_zero_clear(&key),
            "{new_type}"
        );
        let r = call(&card, "CSNBKTC", &["RTCMK"], vec![Param::Bytes(t.clone())]);
        assert_eq!(codes(&r), (0, 0));
    }
    // Changing only the right CV half changes only the right key half: each half is bound
    // to its own CV half.
    let (_, r) = cv_of("MAC", KeyLength::Double, false);
    let mut t = data.clone();
    t[40..48].copy_from_slice(&r);
    reseal(&mut t);
    let got = clear_of(&mk, &t);
    assert_eq!(got[..8], key[..8]);
    assert_ne!(got[8..], key[8..]);
}

/// Attack: swapping the halves of a double-length key, or building a key whose halves are
/// equal. Swapping the enciphered halves would give the key K_R ‖ K_L; equal halves make a
/// double-length key act as single DES (and in old CCA, with a known half, let an attacker
/// attack the key 56 bits at a time).
///
/// CCA: each half is enciphered under its own CV half (left form bits 010, right 001), so a
/// swapped half deciphers to something else; Key_Part_Import refuses replicated halves
/// unless the "Unrestricted" command is enabled.
///
/// softcca: the swapped token deciphers to neither K nor K_R ‖ K_L; Key_Part_Import refuses
/// to complete a replicated-halves key with 8/39.
#[test]
fn swapped_and_replicated_halves() {
    let card = new_card(23);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let key = with_odd_parity(pattern(4, 16));
    let t = des_token(&mk, &key, cv_of("CIPHER", KeyLength::Double, false));
    let mut swapped = t.clone();
    let (a, b) = (t[16..24].to_vec(), t[24..32].to_vec());
    swapped[16..24].copy_from_slice(&b);
    swapped[24..32].copy_from_slice(&a);
    reseal(&mut swapped);
    let got = clear_of(&mk, &swapped);
    assert_ne!(got, key);
    assert_ne!(got, [&key[8..], &key[..8]].concat(), "not K_R ‖ K_L");
    assert_ne!(enc_zero(&card, "KEY-ENCD", &swapped), enc_zero_clear(&key));

    let half = with_odd_parity(pattern(5, 8));
    let replicated = [half.clone(), half].concat();
    let part = token_of(&kpi(
        &card,
        "FIRST",
        &replicated,
        &skeleton("IMPORTER", KeyLength::Double),
    ));
    assert_refused(
        &kpi(&card, "COMPLETE", &[], &part),
        (8, 39),
        "replicated halves",
    );
}

/// Attack: using a partial key. A token still holding a key part (key-part bit on) is a key
/// whose final value some key-part holders do not yet control; using it as a working key
/// would let one holder act alone.
///
/// CCA: "Only when the combined key parts have been marked as complete can the key token be
/// used in any cryptographic operation" (IBM Docs "CCA for Linux", Key Part Import). IBM
/// names no reason code for it; the CV violation 8/39 is the general one.
///
/// softcca: every verb that uses a DES key goes through `Card::des_key`, which refuses a
/// key-part CV with 8/39 (Key_Test_Extended's KEK here); Key_Test, Key_Token_Change and
/// Key_Part_Import accept partial keys as IBM says. Clear_Key_Import's target token must be a
/// complete DATA token: a partial one is 8/31 (its CV is no DATA CV).
#[test]
fn a_partial_key_is_not_operational() {
    let card = new_card(24);
    let mk = set_master_key(&card, "SYM-MK", 31);
    let kek = with_odd_parity(pattern(6, 16));
    let partial_kek = des_token(&mk, &kek, cv_of("EXPORTER", KeyLength::Double, true));
    let external = {
        // Any external token: the KEK is refused before it is used.
        let mut t = des_token(
            &mk,
            &with_odd_parity(pattern(7, 16)),
            cv_of("DATA", KeyLength::Double, false),
        );
        t[0] = 0x02;
        t[8..16].fill(0);
        reseal(&mut t);
        t
    };
    let r = call(
        &card,
        "CSNBKYTX",
        &["GENERATE", "KEY-ENCD", "ENC-ZERO"],
        vec![
            Param::Bytes(external),
            Param::Bytes(vec![0; 8]),
            Param::Bytes(vec![0; 8]),
            Param::Bytes(partial_kek.clone()),
        ],
    );
    assert_refused(&r, (8, 39), "a partial KEK");
    // The verbs IBM lets see partial keys.
    assert_eq!(
        enc_zero(&card, "KEY-ENCD", &partial_kek),
        enc_zero_clear(&kek)
    );
    let r = call(
        &card,
        "CSNBKTC",
        &["RTCMK"],
        vec![Param::Bytes(partial_kek.clone())],
    );
    assert_eq!(codes(&r), (0, 0));
    // A partial DATA token as Clear_Key_Import's target.
    let partial_data = des_token(
        &mk,
        &with_odd_parity(pattern(8, 8)),
        cv_of("DATA", KeyLength::Single, true),
    );
    let r = call(
        &card,
        "CSNBCKI",
        &[],
        vec![
            Param::Bytes(with_odd_parity(pattern(9, 8))),
            Param::Bytes(partial_data),
        ],
    );
    assert_refused(&r, (8, 31), "partial DATA target");
}
