//! The public-key exports (CSND*), called as a C program calls them, against an embedded
//! 4769 card in a temporary state directory: for each verb a happy path and a buffer too
//! small (IBM's code, nothing written, the length left as it was). Every test of this file
//! shares the process's one card.

#![allow(unsafe_code)] // Calling the C ABI is what this file tests.
#![allow(clippy::undocumented_unsafe_blocks)] // Every call passes live locals of the sizes IBM's prototype says.

use std::ffi::c_long;
use std::ptr::{null, null_mut};
use std::sync::Once;

use csulcca::*;

static SETUP: Once = Once::new();

fn card() {
    SETUP.call_once(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        // SAFETY: set before any thread of this process reads the environment (Once).
        unsafe {
            std::env::set_var("SOFTCCA_HOME", &dir);
            std::env::set_var("SOFTCCA_MODE", "embedded");
            std::env::set_var("SOFTCCA_MODEL", "4769");
            std::env::remove_var("SOFTCCA_SOCKET");
            std::env::set_var("SOFTCCA_CONF", dir.join("none.conf"));
        }
        for (class, len) in [("SYM-MK", 24usize), ("AES-MK", 32), ("APKA-MK", 32)] {
            for (step, byte) in [("FIRST", 0x5Bu8), ("LAST", 0xC4)] {
                let rules = ra(&[class, step]);
                let part: Vec<u8> = (0..len)
                    .map(|i| byte ^ (i as u8).wrapping_mul(37))
                    .collect();
                let (rc, _) = mkp(&rules, part.as_ptr());
                assert_eq!(rc, 0, "{class} {step}");
            }
            assert_eq!(mkp(&ra(&[class, "SET"]), null()), (0, 0), "{class} SET");
        }
    });
}

fn ra(words: &[&str]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|w| format!("{w:<8}").into_bytes())
        .collect()
}

fn n(rules: &[u8]) -> c_long {
    (rules.len() / 8) as c_long
}

fn len(b: &[u8]) -> c_long {
    b.len() as c_long
}

fn mkp(rules: &[u8], part: *const u8) -> (c_long, c_long) {
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(rules);
    unsafe {
        CSNBMKP(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            part.cast_mut(),
        )
    };
    (rc, rs)
}

/// CSNDPKB as opencryptoki calls it: NULL length pointers for the reserved parameters.
fn pkb(rules: &[&str], kvs: &[u8], cap: usize) -> ((c_long, c_long), Vec<u8>, c_long) {
    let rules = ra(rules);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut kvs_len = len(kvs);
    let mut name_len: c_long = 0;
    let mut token = vec![0xEEu8; cap];
    let mut token_len = cap as c_long;
    unsafe {
        CSNDPKB(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut kvs_len,
            kvs.as_ptr().cast_mut(),
            &mut name_len,
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            &mut token_len,
            token.as_mut_ptr(),
        )
    };
    ((rc, rs), token, token_len)
}

fn pkg(skeleton: &[u8], cap: usize) -> ((c_long, c_long), Vec<u8>, c_long) {
    let rules = ra(&["MASTER"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut regen_len: c_long = 0;
    let mut skel_len = len(skeleton);
    let mut transport = [0u8; 64];
    let mut out = vec![0xEEu8; cap];
    let mut out_len = cap as c_long;
    unsafe {
        CSNDPKG(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut regen_len,
            null_mut(),
            &mut skel_len,
            skeleton.as_ptr().cast_mut(),
            transport.as_mut_ptr(),
            &mut out_len,
            out.as_mut_ptr(),
        )
    };
    ((rc, rs), out, out_len)
}

fn pkx(token: &[u8], cap: usize) -> ((c_long, c_long), Vec<u8>, c_long) {
    let (mut rc, mut rs) = (-1, -1);
    let mut count = 0;
    // opencryptoki passes its buffer's capacity as the input length.
    let mut source = token.to_vec();
    source.resize(8000, 0);
    let mut source_len = len(&source);
    let mut out = vec![0xEEu8; cap];
    let mut out_len = cap as c_long;
    unsafe {
        CSNDPKX(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            null_mut(),
            &mut source_len,
            source.as_mut_ptr(),
            &mut out_len,
            out.as_mut_ptr(),
        )
    };
    ((rc, rs), out, out_len)
}

fn dsg(
    rules: &[&str],
    key: &[u8],
    hash: &[u8],
    cap: usize,
) -> ((c_long, c_long), Vec<u8>, c_long, c_long) {
    let rules = ra(rules);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut key_len = len(key);
    let mut hash_len = len(hash);
    let mut sig = vec![0xEEu8; cap];
    let mut sig_len = cap as c_long;
    let mut bits: c_long = -1;
    unsafe {
        CSNDDSG(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut hash_len,
            hash.as_ptr().cast_mut(),
            &mut sig_len,
            &mut bits,
            sig.as_mut_ptr(),
        )
    };
    ((rc, rs), sig, sig_len, bits)
}

fn dsv(rules: &[&str], key: &[u8], hash: &[u8], sig: &[u8]) -> (c_long, c_long) {
    let rules = ra(rules);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut key_len = len(key);
    let mut hash_len = len(hash);
    let mut sig_len = len(sig);
    unsafe {
        CSNDDSV(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut hash_len,
            hash.as_ptr().cast_mut(),
            &mut sig_len,
            sig.as_ptr().cast_mut(),
        )
    };
    (rc, rs)
}

type PkFn = unsafe extern "C" fn(
    *mut c_long,
    *mut c_long,
    *mut c_long,
    *mut u8,
    *mut c_long,
    *mut u8,
    *mut c_long,
    *mut u8,
    *mut c_long,
    *mut u8,
    *mut c_long,
    *mut u8,
    *mut c_long,
    *mut u8,
);

/// CSNDPKE / CSNDPKD: data structure of length 0 with a NULL pointer, as opencryptoki.
fn pk(
    f: PkFn,
    rules: &[&str],
    input: &[u8],
    key: &[u8],
    cap: usize,
) -> ((c_long, c_long), Vec<u8>, c_long) {
    let rules = ra(rules);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut in_len = len(input);
    let mut ds_len: c_long = 0;
    let mut key_len = len(key);
    let mut out = vec![0xEEu8; cap];
    let mut out_len = cap as c_long;
    unsafe {
        f(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut in_len,
            input.as_ptr().cast_mut(),
            &mut ds_len,
            null_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut out_len,
            out.as_mut_ptr(),
        )
    };
    ((rc, rs), out, out_len)
}

fn untouched(out: &[u8], out_len: c_long, cap: usize, what: &str) {
    assert_eq!(out_len, cap as c_long, "{what}: length left as it was");
    assert!(out.iter().all(|&b| b == 0xEE), "{what}: nothing written");
}

fn ok(codes: (c_long, c_long), what: &str) {
    assert!(codes.0 == 0, "{what}: {codes:?}");
}

fn rsa_kvs() -> Vec<u8> {
    let mut k = vec![0u8; 18];
    k[0..2].copy_from_slice(&2048u16.to_be_bytes());
    k[4..6].copy_from_slice(&3u16.to_be_bytes());
    k.extend_from_slice(&[1, 0, 1]);
    k
}

fn rsa_key() -> Vec<u8> {
    let (codes, skel, skel_len) = pkb(&["RSA-AESC", "KEY-MGMT"], &rsa_kvs(), 8000);
    ok(codes, "PKB");
    let (codes, key, key_len) = pkg(&skel[..skel_len as usize], 8000);
    ok(codes, "PKG");
    key[..key_len as usize].to_vec()
}

fn sha256_digest_info(hash: &[u8; 32]) -> Vec<u8> {
    let mut d = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    d.extend_from_slice(hash);
    d
}

#[test]
fn rsa_build_generate_extract() {
    card();
    let (codes, skel, skel_len) = pkb(&["RSA-AESC", "KEY-MGMT"], &rsa_kvs(), 8000);
    ok(codes, "PKB");
    assert_eq!(skel[0], 0x1E, "an external skeleton");
    let skel = skel[..skel_len as usize].to_vec();
    let (codes, out, out_len) = pkb(&["RSA-AESC", "KEY-MGMT"], &rsa_kvs(), 8);
    assert_eq!(codes.0, 8, "PKB into 8 bytes: {codes:?}");
    untouched(&out, out_len, 8, "PKB");

    let (codes, key, key_len) = pkg(&skel, 8000);
    ok(codes, "PKG");
    assert_eq!((key[0], key[8]), (0x1F, 0x31));
    assert!(usize::from(u16::from_be_bytes([key[2], key[3]])) <= key_len as usize);
    let (codes, out, out_len) = pkg(&skel, 100);
    assert_eq!(codes.0, 8, "PKG into 100 bytes: {codes:?}");
    untouched(&out, out_len, 100, "PKG");

    let key = key[..key_len as usize].to_vec();
    let (codes, public, public_len) = pkx(&key, 2500);
    ok(codes, "PKX");
    assert_eq!((public[0], public[8]), (0x1E, 0x04));
    assert!(public_len < 2500);
    let (codes, out, out_len) = pkx(&key, 16);
    assert_eq!(codes.0, 8, "PKX into 16 bytes: {codes:?}");
    untouched(&out, out_len, 16, "PKX");
}

#[test]
fn rsa_sign_verify_encrypt_decrypt() {
    card();
    let key = rsa_key();
    let (_, public, public_len) = pkx(&key, 2500);
    let public = public[..public_len as usize].to_vec();
    let hash = sha256_digest_info(&[0x42; 32]);

    let (codes, sig, sig_len, bits) = dsg(&["PKCS-1.1"], &key, &hash, 512);
    ok(codes, "DSG");
    assert_eq!((sig_len, bits), (256, 2048));
    let sig = sig[..256].to_vec();
    let (codes, out, out_len, bits) = dsg(&["PKCS-1.1"], &key, &hash, 100);
    assert_eq!(codes, (8, 72), "DSG into 100 bytes");
    untouched(&out, out_len, 100, "DSG");
    assert_eq!(bits, -1, "DSG: the bit length is not written");

    assert_eq!(dsv(&["PKCS-1.1"], &public, &hash, &sig), (0, 0));
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert_eq!(dsv(&["PKCS-1.1"], &public, &hash, &bad), (4, 429));

    let value = [0x17u8; 32];
    let (codes, ct, ct_len) = pk(CSNDPKE, &["PKCS-1.2"], &value, &public, 512);
    ok(codes, "PKE");
    assert_eq!(ct_len, 256);
    let (codes, out, out_len) = pk(CSNDPKE, &["PKCS-1.2"], &value, &public, 255);
    assert_eq!(codes.0, 8, "PKE into 255 bytes: {codes:?}");
    untouched(&out, out_len, 255, "PKE");

    let ct = ct[..256].to_vec();
    let (codes, pt, pt_len) = pk(CSNDPKD, &["PKCS-1.2"], &ct, &key, 512);
    ok(codes, "PKD");
    assert_eq!(&pt[..pt_len as usize], &value);
    let (codes, out, out_len) = pk(CSNDPKD, &["PKCS-1.2"], &ct, &key, 32);
    assert_eq!(codes, (8, 72), "PKD into 32 bytes (k - 11 needed)");
    untouched(&out, out_len, 32, "PKD");
}

#[test]
fn rsa_key_token_change_in_place() {
    card();
    let mut key = rsa_key();
    let before = key.clone();
    let rules = ra(&["RTCMK"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut key_len = len(&key);
    unsafe {
        CSNDKTC(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut key_len,
            key.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "KTC: {rs}");
    assert_eq!(key_len, len(&before));
    assert_eq!(
        key, before,
        "a token under the current master key comes back as it was"
    );
    // A NULL length: 8/72, the token untouched.
    let (mut rc, mut rs) = (-1, -1);
    unsafe {
        CSNDKTC(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            null_mut(),
            key.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (8, 72));
}

fn aes_key() -> Vec<u8> {
    let rules = ra(&["AES"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let clear = [0x33u8; 32];
    let mut clear_len = len(&clear);
    let mut token = [0u8; 64];
    unsafe {
        CSNBCKM(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut clear_len,
            clear.as_ptr().cast_mut(),
            token.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "CSNBCKM AES: {rs}");
    token.to_vec()
}

fn syx(source: &[u8], rsa: &[u8], cap: usize) -> ((c_long, c_long), Vec<u8>, c_long) {
    let rules = ra(&["AES", "PKCSOAEP", "SHA-256"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut source_len = len(source);
    let mut rsa_len = len(rsa);
    let mut out = vec![0xEEu8; cap];
    let mut out_len = cap as c_long;
    unsafe {
        CSNDSYX(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut source_len,
            source.as_ptr().cast_mut(),
            &mut rsa_len,
            rsa.as_ptr().cast_mut(),
            &mut out_len,
            out.as_mut_ptr(),
        )
    };
    ((rc, rs), out, out_len)
}

fn syi(enciphered: &[u8], key: &[u8], cap: usize) -> ((c_long, c_long), Vec<u8>, c_long) {
    let rules = ra(&["AES", "PKCSOAEP", "SHA-256"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut enc_len = len(enciphered);
    let mut key_len = len(key);
    // opencryptoki: a zeroed 3500-byte buffer, its size as the length.
    let mut out = vec![0u8; cap];
    let mut out_len = cap as c_long;
    unsafe {
        CSNDSYI(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut enc_len,
            enciphered.as_ptr().cast_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut out_len,
            out.as_mut_ptr(),
        )
    };
    ((rc, rs), out, out_len)
}

#[test]
fn symmetric_key_export_import_generate() {
    card();
    let key = rsa_key();
    let aes = aes_key();
    let (codes, enc, enc_len) = syx(&aes, &key, 512);
    ok(codes, "SYX");
    assert_eq!(enc_len, 256);
    let (codes, out, out_len) = syx(&aes, &key, 128);
    assert_eq!(codes.0, 8, "SYX into 128 bytes: {codes:?}");
    untouched(&out, out_len, 128, "SYX");

    let enc = enc[..256].to_vec();
    let (codes, target, target_len) = syi(&enc, &key, 3500);
    ok(codes, "SYI");
    assert_eq!(target_len, 64);
    assert_eq!(&target[..64], &aes[..], "the same token back");
    let (codes, out, out_len) = syi(&enc, &key, 32);
    assert_eq!(codes.0, 8, "SYI into 32 bytes: {codes:?}");
    assert_eq!((out_len, out), (32, vec![0u8; 32]), "SYI: nothing written");

    // CSNDSYG: an AES-256 DATA key under the master key and under the RSA key.
    let (_, public, public_len) = pkx(&key, 2500);
    let public = public[..public_len as usize].to_vec();
    let rules = ra(&["AES", "PKCSOAEP", "SHA-256"]);
    for (cap, expect_ok) in [(512usize, true), (100, false)] {
        let (mut rc, mut rs) = (-1, -1);
        let mut count = n(&rules);
        let mut public_len = len(&public);
        let mut local = vec![0u8; 3500];
        let mut local_len: c_long = 3500;
        let mut out = vec![0xEEu8; cap];
        let mut out_len = cap as c_long;
        unsafe {
            CSNDSYG(
                &mut rc,
                &mut rs,
                null_mut(),
                null_mut(),
                &mut count,
                rules.as_ptr().cast_mut(),
                null_mut(),
                &mut public_len,
                public.as_ptr().cast_mut(),
                &mut local_len,
                local.as_mut_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
            )
        };
        if expect_ok {
            assert_eq!(rc, 0, "SYG: {rs}");
            assert_eq!((local_len, out_len), (64, 256));
            assert_eq!((local[0], local[4]), (0x01, 0x04), "an internal AES token");
            // The RSA-enciphered copy imports to the same key.
            let (codes, target, _) = syi(&out[..256], &key, 64);
            ok(codes, "SYI of SYG's key");
            assert_eq!(&target[..], &local[..64]);
        } else {
            assert_eq!(rc, 8, "SYG into {cap}: {rs}");
            assert_eq!(local_len, 3500, "SYG: the local key's length untouched");
            assert!(local.iter().all(|&b| b == 0), "SYG: nothing written");
            untouched(&out, out_len, cap, "SYG");
        }
    }
}

fn ecc_key() -> Vec<u8> {
    // Prime curve, 256 bits, no key values: a skeleton.
    let kvs = [0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00];
    let (codes, skel, skel_len) = pkb(&["ECC-PAIR", "KEY-MGMT"], &kvs, 8000);
    ok(codes, "PKB ECC");
    let (codes, key, key_len) = pkg(&skel[..skel_len as usize], 8000);
    ok(codes, "PKG ECC");
    key[..key_len as usize].to_vec()
}

#[test]
fn ecc_sign_verify_and_diffie_hellman() {
    card();
    let key = ecc_key();
    assert_eq!(key[8], 0x20);
    let (codes, public, public_len) = pkx(&key, 2500);
    ok(codes, "PKX ECC");
    let public = public[..public_len as usize].to_vec();
    let hash = [0x61u8; 32];
    let (codes, sig, sig_len, bits) = dsg(&["ECDSA"], &key, &hash, 132);
    ok(codes, "DSG ECDSA");
    assert_eq!((sig_len, bits), (64, 512));
    assert_eq!(dsv(&["ECDSA"], &public, &hash, &sig[..64]), (0, 0));
    let (codes, out, out_len, _) = dsg(&["ECDSA"], &key, &hash, 63);
    assert_eq!(codes, (8, 72), "DSG ECDSA into 63 bytes");
    untouched(&out, out_len, 63, "DSG ECDSA");

    // CSNDEDH PASSTHRU between two keys agrees both ways; NULL optional strings as
    // opencryptoki passes zero lengths with NULL buffers.
    let other = ecc_key();
    let (_, other_public, other_len) = pkx(&other, 2500);
    let other_public = other_public[..other_len as usize].to_vec();
    let edh = |private: &[u8], peer: &[u8], cap: usize| {
        let rules = ra(&["PASSTHRU"]);
        let (mut rc, mut rs) = (-1, -1);
        let mut count = n(&rules);
        let mut private_len = len(private);
        let mut peer_len = len(peer);
        let mut zero: c_long = 0;
        let mut bits: c_long = 0;
        let mut out = vec![0xEEu8; cap];
        let mut out_len = cap as c_long;
        unsafe {
            CSNDEDH(
                &mut rc,
                &mut rs,
                null_mut(),
                null_mut(),
                &mut count,
                rules.as_ptr().cast_mut(),
                &mut private_len,
                private.as_ptr().cast_mut(),
                &mut zero,
                null_mut(),
                &mut peer_len,
                peer.as_ptr().cast_mut(),
                null_mut(),
                null_mut(),
                &mut zero,
                null_mut(),
                &mut bits,
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut(),
                &mut zero,
                null_mut(),
                &mut out_len,
                out.as_mut_ptr(),
            )
        };
        ((rc, rs), out, out_len)
    };
    let (codes, z1, z1_len) = edh(&key, &other_public, 3500);
    ok(codes, "EDH");
    assert_eq!(z1_len, 32);
    let (codes, z2, _) = edh(&other, &public, 3500);
    ok(codes, "EDH the other way");
    assert_eq!(&z1[..32], &z2[..32]);
    let (codes, out, out_len) = edh(&key, &other_public, 16);
    assert_eq!(codes, (8, 72), "EDH into 16 bytes");
    untouched(&out, out_len, 16, "EDH");
}

#[test]
fn retained_keys_and_import2_are_marshalled() {
    card();
    // CSNDRKL: a 64-byte mask, room for 4 labels.
    let mut mask = [b' '; 64];
    mask[0] = b'*';
    let (mut rc, mut rs) = (-1, -1);
    let mut count: c_long = 0;
    let mut retained: c_long = -1;
    let mut labels_count: c_long = 4;
    let mut labels = vec![0xEEu8; 4 * 64];
    unsafe {
        CSNDRKL(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            null_mut(),
            mask.as_mut_ptr(),
            &mut retained,
            &mut labels_count,
            labels.as_mut_ptr(),
        )
    };
    if rc == 0 {
        assert!(labels_count <= 4 && retained >= labels_count);
    } else {
        assert_eq!((rc, rs), (8, 2), "no card implementation yet");
        assert_eq!((retained, labels_count), (-1, 4));
        assert!(labels.iter().all(|&b| b == 0xEE));
    }
    // A NULL mask: 8/72 before the card.
    let (mut rc, mut rs) = (-1, -1);
    unsafe {
        CSNDRKL(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            null_mut(),
            null_mut(),
            &mut retained,
            &mut labels_count,
            labels.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (8, 72));

    // CSNDRKD of a label nobody retained: refused, whatever the card's state.
    let mut label = [b' '; 64];
    label[..7].copy_from_slice(b"NOT.HER");
    let (mut rc, mut rs) = (-1, -1);
    unsafe {
        CSNDRKD(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            null_mut(),
            label.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 8, "RKD: {rs}");

    // CSNDSYI2: the card answers 8/2; nothing is written.
    let rules = ra(&["AES", "PKOAEP2"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let enc = [1u8; 256];
    let mut enc_len = len(&enc);
    let key = [0u8; 64];
    let mut key_len = len(&key);
    let mut name_len: c_long = 0;
    let mut target = vec![0xEEu8; 725];
    let mut target_len: c_long = 725;
    unsafe {
        CSNDSYI2(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut enc_len,
            enc.as_ptr().cast_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut name_len,
            null_mut(),
            &mut target_len,
            target.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 8, "SYI2: {rs}");
    untouched(&target, target_len, 725, "SYI2");
}

#[test]
fn null_and_negative_parameters_are_refused_before_the_card() {
    card();
    let key = rsa_key();
    let hash = sha256_digest_info(&[1; 32]);
    // NULL signature_bit_length: 8/72, nothing signed.
    let rules = ra(&["PKCS-1.1"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut key_len = len(&key);
    let mut hash_len = len(&hash);
    let mut sig = vec![0xEEu8; 256];
    let mut sig_len: c_long = 256;
    unsafe {
        CSNDDSG(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut hash_len,
            hash.as_ptr().cast_mut(),
            &mut sig_len,
            null_mut(),
            sig.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (8, 72));
    untouched(&sig, sig_len, 256, "DSG");
    // A negative capacity, a rule-array count above 64, a NULL return code.
    let (codes, out, _) = pk(CSNDPKE, &["PKCS-1.2"], &[1; 16], &key, 0);
    assert_eq!(codes.0, 8);
    assert!(out.is_empty());
    let mut negative: c_long = -5;
    let mut big: c_long = 65;
    let (mut rc, mut rs) = (-1, -1);
    unsafe {
        CSNDPKX(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut big,
            null_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut negative,
            sig.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (8, 35));
    let mut zero: c_long = 0;
    let (mut rc, mut rs) = (-1, -1);
    unsafe {
        CSNDPKX(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut zero,
            null_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut negative,
            sig.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (8, 72));
    let mut rs = -1;
    unsafe {
        CSNDPKX(
            null_mut(),
            &mut rs,
            null_mut(),
            null_mut(),
            &mut zero,
            null_mut(),
            &mut key_len,
            key.as_ptr().cast_mut(),
            &mut sig_len,
            sig.as_mut_ptr(),
        )
    };
    assert_eq!(rs, -1, "a NULL return code: nothing touched");
    let _ = null::<u8>();
}

/// CSUAACM as opencryptoki 3.27's `cca_get_acp_info_handler` calls it: LSTROLES into 4000
/// bytes, then GET-ROLE of each name; the default role is there with IBM's header.
#[test]
fn access_control_maintenance_finds_the_default_role() {
    card();
    let acm = |keyword: &str, name: &mut [u8; 8], cap: usize| {
        let rules = ra(&[keyword]);
        let (mut rc, mut rs) = (-1, -1);
        let mut count = n(&rules);
        let mut out = vec![0xEEu8; cap];
        let mut out_len = cap as c_long;
        unsafe {
            CSUAACM(
                &mut rc,
                &mut rs,
                null_mut(),
                null_mut(),
                &mut count,
                rules.as_ptr().cast_mut(),
                name.as_mut_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
            )
        };
        ((rc, rs), out, out_len)
    };
    let (codes, list, list_len) = acm("LSTROLES", &mut [0; 8], 4000);
    ok(codes, "LSTROLES");
    assert_eq!(&list[..list_len as usize], b"DEFAULT ");
    let mut name = *b"DEFAULT ";
    let (codes, role, role_len) = acm("GET-ROLE", &mut name, 4000);
    ok(codes, "GET-ROLE");
    assert!(role_len >= 33);
    assert_eq!(&role[..2], &[1, 1]);
    assert_eq!(&role[24..29], &[0, 0, 0, 0, 0xFE]);
    let (codes, out, out_len) = acm("GET-ROLE", &mut name, 8);
    assert_eq!(codes, (8, 72), "GET-ROLE into 8 bytes");
    untouched(&out, out_len, 8, "GET-ROLE");
    let mut nobody = *b"NOBODY  ";
    let (codes, _, _) = acm("GET-ROLE", &mut nobody, 4000);
    assert_eq!(codes, (8, 772));
}

/// What opencryptoki 3.23/3.27 asks at start, through the exported CSUACFV and CSUACFQ:
/// the version (≥ 7.1 on the 4769), STATICSB's MKVPs at its offsets (the APKA one equal to
/// the MKVP in a generated ECC token), DOM-NUMS as a 4-byte big-endian count.
#[test]
fn opencryptoki_start_queries_through_the_exports() {
    card();
    let (mut rc, mut rs) = (-1, -1);
    let mut version = [0u8; 20];
    let mut version_len: c_long = 20;
    unsafe {
        CSUACFV(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut version_len,
            version.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs, version_len), (0, 0, 17));
    assert!(version.starts_with(b"7.5."), "{:?}", &version[..8]);

    let query = |keyword: &str, cap: usize| {
        let (mut rc, mut rs) = (-1, -1);
        let mut rules = [0u8; 256];
        rules[..8].copy_from_slice(format!("{keyword:<8}").as_bytes());
        let mut count: c_long = 1;
        let mut data = vec![0u8; cap];
        let mut data_len = cap as c_long;
        unsafe {
            CSUACFQ(
                &mut rc,
                &mut rs,
                null_mut(),
                null_mut(),
                &mut count,
                rules.as_mut_ptr(),
                &mut data_len,
                data.as_mut_ptr(),
            )
        };
        ((rc, rs), data, data_len)
    };
    let (codes, data, data_len) = query("STATICSB", 256);
    ok(codes, "STATICSB");
    assert_eq!(data_len, 240);
    let id = |at: usize| u16::from_be_bytes([data[at], data[at + 1]]);
    for (at, expected) in [
        (134, 0x0F07),
        (146, 0x0F06),
        (182, 0x0F0B),
        (194, 0x0F0A),
        (218, 0x0F0E),
        (230, 0x0F0D),
    ] {
        assert_eq!(id(at), expected, "ID at {at}");
    }
    let ecc = ecc_key();
    assert_eq!(
        &ecc[24..32],
        &data[220..228],
        "APKA MKVP in the token = STATICSB's"
    );
    let aes = aes_key();
    assert_eq!(
        &aes[8..16],
        &data[184..192],
        "AES MKVP in the token = STATICSB's"
    );
    let (codes, nums, nums_len) = query("DOM-NUMS", 4);
    ok(codes, "DOM-NUMS");
    assert_eq!((nums_len, &nums[..4]), (4, &[0, 0, 0, 1][..]));
}
