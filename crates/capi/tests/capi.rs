//! The exported C functions, called as a C program calls them, against an embedded card in
//! a temporary state directory: IBM's by-reference parameters in, outputs and codes back.
//! Every test of this file shares the process's one card (one state directory).

#![allow(unsafe_code)] // Calling the C ABI is what this file tests.
#![allow(clippy::undocumented_unsafe_blocks)] // Every call passes live locals of the sizes IBM's prototype says.

use std::ffi::c_long;
use std::ptr::{null, null_mut};
use std::sync::Once;

use csulcca::*;

static SETUP: Once = Once::new();

/// Points the library at an embedded card in a temporary directory and loads its master
/// keys (once per process).
fn card() {
    SETUP.call_once(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        // SAFETY: set before any thread of this process reads the environment (Once).
        unsafe {
            std::env::set_var("SOFTCCA_HOME", &dir);
            std::env::set_var("SOFTCCA_MODE", "embedded");
            std::env::remove_var("SOFTCCA_SOCKET");
            std::env::set_var("SOFTCCA_CONF", dir.join("none.conf"));
        }
        for (class, len) in [("SYM-MK", 24usize), ("AES-MK", 32)] {
            for (step, byte) in [("FIRST", 0x5Bu8), ("LAST", 0xC4)] {
                let rules = rule_array(&[class, step]);
                let part: Vec<u8> = (0..len)
                    .map(|i| byte ^ (i as u8).wrapping_mul(37))
                    .collect();
                assert_eq!(mkp(&rules, part.as_ptr()).0, 0, "{class} {step}");
            }
            let rules = rule_array(&[class, "SET"]);
            assert_eq!(mkp(&rules, null()), (0, 0), "{class} SET");
        }
    });
}

fn rule_array(words: &[&str]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|w| format!("{w:<8}").into_bytes())
        .collect()
}

fn count(rules: &[u8]) -> c_long {
    (rules.len() / 8) as c_long
}

fn mkp(rules: &[u8], part: *const u8) -> (c_long, c_long) {
    let (mut rc, mut rs) = (-1, -1);
    let mut n = count(rules);
    unsafe {
        CSNBMKP(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut n,
            rules.as_ptr().cast_mut(),
            part.cast_mut(),
        )
    };
    (rc, rs)
}

/// An AES-256 key as opencryptoki makes one: CSNBKTB INTERNAL AES NO-KEY KEYLN32, then
/// CSNBKGN OP AESTOKEN with eight blanks as the length.
pub fn aes_key() -> [u8; 64] {
    let (mut rc, mut rs) = (-1, -1);
    let mut token = [0u8; 64];
    let rules = rule_array(&["INTERNAL", "AES", "NO-KEY", "KEYLN32"]);
    let mut n = count(&rules);
    let mut key_type = *b"AESTOKEN";
    let mut mkvp = [0u8; 8];
    unsafe {
        CSNBKTB(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            token.as_mut_ptr(),
            key_type.as_mut_ptr(),
            &mut n,
            rules.as_ptr().cast_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            mkvp.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (0, 0), "CSNBKTB");
    let mut form = *b"OP  ";
    let mut length = *b"        ";
    let mut type1 = *b"AESTOKEN";
    let mut type2 = *b"        ";
    let mut kek = [0u8; 64];
    let mut kek2 = [0u8; 64];
    let mut second = [0u8; 64];
    unsafe {
        CSNBKGN(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            form.as_mut_ptr(),
            length.as_mut_ptr(),
            type1.as_mut_ptr(),
            type2.as_mut_ptr(),
            kek.as_mut_ptr(),
            kek2.as_mut_ptr(),
            token.as_mut_ptr(),
            second.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (0, 0), "CSNBKGN");
    token
}

#[test]
fn version_random_and_query() {
    card();
    let (mut rc, mut rs) = (-1, -1);
    let mut version = [0u8; 17];
    let mut len: c_long = 17;
    unsafe {
        CSUACFV(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut len,
            version.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs, len), (0, 0, 17));
    assert_eq!(version[16], 0);
    assert!(version[0].is_ascii_digit());

    // Too small a version buffer: 8/72, nothing written.
    let mut small = [0xEEu8; 16];
    let mut len: c_long = 16;
    unsafe {
        CSUACFV(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut len,
            small.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs, len), (8, 72, 16));
    assert_eq!(small, [0xEE; 16]);

    let rules = rule_array(&["RANDOM"]);
    let mut n = 1;
    let mut key_len: c_long = 0;
    let mut out = [0u8; 40];
    let mut out_len: c_long = 32;
    unsafe {
        CSNBRNGL(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut n,
            rules.as_ptr().cast_mut(),
            &mut key_len,
            null_mut(),
            &mut out_len,
            out.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs, out_len), (0, 0, 32));
    assert_ne!(out[..32], [0; 32]);
    assert_eq!(out[32..], [0; 8], "nothing past the length");

    let mut form = *b"ODD     ";
    let mut random = [0u8; 8];
    unsafe {
        CSNBRNG(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            form.as_mut_ptr(),
            random.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (0, 0));
    assert!(random.iter().all(|b| b.count_ones() % 2 == 1));

    // STATAES: element 2 (current master key) is '2' once AES-MK is set.
    let mut query = [0u8; 256];
    query[..8].copy_from_slice(b"STATAES ");
    let mut n = 1;
    let mut vlen: c_long = 0;
    unsafe {
        CSUACFQ(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut n,
            query.as_mut_ptr(),
            &mut vlen,
            null_mut(),
        )
    };
    assert_eq!((rc, rs), (0, 0));
    assert!(n >= 3, "{n} elements");
    assert_eq!(
        query[8],
        b'2',
        "{:?}",
        String::from_utf8_lossy(&query[..24])
    );
}

#[test]
fn aes_encipher_decipher_and_hash() {
    card();
    let mut key = aes_key();
    let (mut rc, mut rs) = (-1, -1);
    let rules = rule_array(&["AES", "CBC", "KEYIDENT", "INITIAL"]);
    let mut n = count(&rules);
    let mut key_len: c_long = 64;
    let mut parms_len: c_long = 0;
    let mut block: c_long = 16;
    let mut iv = [7u8; 16];
    let mut iv_len: c_long = 16;
    let mut chain = [0u8; 32];
    let mut chain_len: c_long = 32;
    let mut text = *b"sixteen byte msgsixteen byte msg";
    let mut text_len: c_long = 32;
    let mut cipher = [0u8; 32];
    let mut cipher_len: c_long = 32;
    let mut opt_len: c_long = 0;
    unsafe {
        CSNBSAE(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut n,
            rules.as_ptr().cast_mut(),
            &mut key_len,
            key.as_mut_ptr(),
            &mut parms_len,
            null_mut(),
            &mut block,
            &mut iv_len,
            iv.as_mut_ptr(),
            &mut chain_len,
            chain.as_mut_ptr(),
            &mut text_len,
            text.as_mut_ptr(),
            &mut cipher_len,
            cipher.as_mut_ptr(),
            &mut opt_len,
            null_mut(),
        )
    };
    assert_eq!((rc, rs, cipher_len), (0, 0, 32));
    assert_ne!(&cipher[..], &text[..]);

    let mut clear = [0u8; 32];
    let mut clear_len: c_long = 32;
    let mut chain_len: c_long = 32;
    unsafe {
        CSNBSAD(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut n,
            rules.as_ptr().cast_mut(),
            &mut key_len,
            key.as_mut_ptr(),
            &mut parms_len,
            null_mut(),
            &mut block,
            &mut iv_len,
            iv.as_mut_ptr(),
            &mut chain_len,
            chain.as_mut_ptr(),
            &mut cipher_len,
            cipher.as_mut_ptr(),
            &mut clear_len,
            clear.as_mut_ptr(),
            &mut opt_len,
            null_mut(),
        )
    };
    assert_eq!((rc, rs, clear_len), (0, 0, 32));
    assert_eq!(clear, text);

    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    let rules = rule_array(&["SHA-256", "ONLY"]);
    let mut n = 2;
    let mut msg = *b"abc";
    let mut msg_len: c_long = 3;
    let mut cv = [0u8; 128];
    let mut cv_len: c_long = 128;
    let mut hash = [0u8; 32];
    let mut hash_len: c_long = 32;
    unsafe {
        CSNBOWH(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut n,
            rules.as_ptr().cast_mut(),
            &mut msg_len,
            msg.as_mut_ptr(),
            &mut cv_len,
            cv.as_mut_ptr(),
            &mut hash_len,
            hash.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs, hash_len), (0, 0, 32));
    assert_eq!(
        hash[..4],
        [0xba, 0x78, 0x16, 0xbf],
        "SHA-256(abc) starts ba7816bf"
    );
}

fn resource(allocate: bool, words: &[&str], name: &[u8]) -> (c_long, c_long) {
    let (mut rc, mut rs) = (-1, -1);
    let rules = rule_array(words);
    let mut n = count(&rules);
    let mut len = name.len() as c_long;
    let mut name = name.to_vec();
    unsafe {
        if allocate {
            CSUACRA(
                &mut rc,
                &mut rs,
                null_mut(),
                null_mut(),
                &mut n,
                rules.as_ptr().cast_mut(),
                &mut len,
                name.as_mut_ptr(),
            )
        } else {
            CSUACRD(
                &mut rc,
                &mut rs,
                null_mut(),
                null_mut(),
                &mut n,
                rules.as_ptr().cast_mut(),
                &mut len,
                name.as_mut_ptr(),
            )
        }
    };
    (rc, rs)
}

#[test]
fn resource_allocation_as_opencryptoki_3_23_asks_for_it() {
    card();
    assert_eq!(resource(true, &["DEVICE"], b"CRP01"), (0, 0));
    assert_eq!(resource(true, &["DEVICE", "DOMN0003"], b"CRP01"), (0, 0));
    assert_eq!(resource(false, &["DEVICE", "DOMN-DEF"], b"CRP01"), (0, 0));
    assert_eq!(resource(true, &["DEVICE"], b"DEV-ANY"), (0, 0));
    assert_eq!(resource(false, &["DEVICE"], b"CRP01   "), (0, 0));
    assert_eq!(resource(true, &["DEVICE"], b"CRP02"), (12, 338));
    assert_eq!(
        resource(true, &["DEVICE", "DOMN0001", "DOMN0002"], b"CRP01"),
        (8, 35)
    );
    assert_eq!(resource(true, &[], b"CRP01"), (8, 35));
    assert_eq!(resource(true, &["ADAPTER"], b"CRP01"), (8, 33));
    assert_eq!(resource(true, &["DEVICE", "SERIAL"], b"CRP01"), (8, 34));
    assert_eq!(resource(true, &["DEVICE"], b""), (8, 72));

    // SERIAL names the card by STATCRD2's serial number (element 15, offset 112).
    let (mut rc, mut rs) = (-1, -1);
    let mut query = [0u8; 256];
    query[..8].copy_from_slice(b"STATCRD2");
    let mut n = 1;
    let mut vlen: c_long = 0;
    unsafe {
        CSUACFQ(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut n,
            query.as_mut_ptr(),
            &mut vlen,
            null_mut(),
        )
    };
    assert_eq!((rc, rs), (0, 0));
    let serial = &query[112..120];
    assert_eq!(resource(true, &["SERIAL", "DOMN0000"], serial), (0, 0));
    assert_eq!(resource(false, &["SERIAL", "DOMN-DEF"], serial), (0, 0));
    assert_eq!(resource(true, &["SERIAL"], b"00000000"), (12, 338));
}
