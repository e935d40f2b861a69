//! The same token everywhere (issue 5): key tokens made through the C ABI against a card
//! daemon are IBM's formats byte for byte, work through the Rust API (softcca_host::Cca) with
//! results that agree with the C ABI's, and work again through the C ABI after the daemon is
//! stopped and started again on the same state directory. A key-storage record written
//! through the C ABI is read back through the Rust API after the restart.
//!
//! The keys, made as opencryptoki's CCA token makes them: AES X'04' (CSNBKTB + CSNBKGN
//! AESTOKEN), DES DATA (CSNBKGN OP), HMAC X'05' (CSNBKTB2 + CSNBKGN2), RSA-2048 X'31'
//! (CSNDPKB RSA-AESC + CSNDPKG MASTER), ECC P-256 X'20' (CSNDPKB ECC-PAIR + CSNDPKG).
//!
//! The daemon is restarted under the running program: the library's next verb connects
//! again by itself. One test: the library's card is a per-process setting (the environment).
//!
//! CSNBKGN2 is called as opencryptoki calls it, the generated-key length being its buffer's
//! size (725) with the CSNBKTB2 skeleton at the buffer's start (see `verbs_sym`).

#![allow(unsafe_code)] // Calling the C ABI is what this file tests.
#![allow(clippy::undocumented_unsafe_blocks)] // Every call passes live locals of the sizes IBM's prototype says.

use std::ffi::c_long;
use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::time::Duration;

use csulcca::*;
use softcca_card::tokens::aes::AesToken;
use softcca_card::tokens::des::DesToken;
use softcca_card::tokens::pka::{Framed, Kind, frame};
use softcca_card::tokens::var::VarToken;
use softcca_card::{Card, Codes, Model};
use softcca_host::{Cca, Family, SymmetricRequest};
use softcca_platform::StateDir;

/// A card daemon on its own thread, as `softcca serve` runs it: the card of a state
/// directory (locked while the daemon runs, released when it stops).
struct Daemon {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    _dir: StateDir,
}

impl Daemon {
    fn start(home: &Path) -> Daemon {
        let dir = StateDir::open(home).expect("state directory");
        let card = Arc::new(
            Card::power_on(dir.platform(), Some(Model::Ibm4767))
                .expect("power on")
                .0,
        );
        let socket = softcca_platform::socket_path(home);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let path = socket.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(softcca_daemon::serve(card, &path, async {
                let _ = stopped.await;
            }))
        });
        for _ in 0..2000 {
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return Daemon {
                    stop: Some(stop),
                    thread: Some(thread),
                    _dir: dir,
                };
            }
            assert!(
                !thread.is_finished(),
                "the daemon stopped before it listened"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the daemon's socket {} never appeared", socket.display());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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

fn ok(codes: (c_long, c_long), what: &str) {
    assert_eq!(codes.0, 0, "{what}: {codes:?}");
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

fn load_master_keys() {
    for (class, size) in [("SYM-MK", 24usize), ("AES-MK", 32), ("APKA-MK", 32)] {
        for (step, byte) in [("FIRST", 0x5Bu8), ("LAST", 0xC4)] {
            let part: Vec<u8> = (0..size)
                .map(|i| byte ^ (i as u8).wrapping_mul(37))
                .collect();
            ok(mkp(&ra(&[class, step]), part.as_ptr()), "CSNBMKP");
        }
        assert_eq!(mkp(&ra(&[class, "SET"]), null()), (0, 0), "{class} SET");
    }
}

// ---- symmetric keys through the C ABI ----

fn kgn(form: &[u8; 4], length: &[u8; 8], key_type: &[u8; 8], token: &mut [u8; 64]) {
    let (mut rc, mut rs) = (-1, -1);
    let (mut form, mut length, mut type1) = (*form, *length, *key_type);
    let mut type2 = *b"        ";
    let (mut kek1, mut kek2, mut second) = ([0u8; 64], [0u8; 64], [0u8; 64]);
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
            kek1.as_mut_ptr(),
            kek2.as_mut_ptr(),
            token.as_mut_ptr(),
            second.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (0, 0), "CSNBKGN");
}

/// AES-256 as opencryptoki makes it: CSNBKTB INTERNAL AES NO-KEY KEYLN32, CSNBKGN OP
/// AESTOKEN.
fn aes_key() -> [u8; 64] {
    let (mut rc, mut rs) = (-1, -1);
    let mut token = [0u8; 64];
    let rules = ra(&["INTERNAL", "AES", "NO-KEY", "KEYLN32"]);
    let mut count = n(&rules);
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
            &mut count,
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
    kgn(b"OP  ", b"        ", b"AESTOKEN", &mut token);
    token
}

/// A double-length DES DATA key: CSNBKGN OP KEYLN16 DATA.
fn des_key() -> [u8; 64] {
    let mut token = [0u8; 64];
    kgn(b"OP  ", b"KEYLN16 ", b"DATA    ", &mut token);
    token
}

/// HMAC-SHA-256 as opencryptoki makes it: CSNBKTB2 INTERNAL HMAC MAC GENERATE (generate and
/// verify),
/// CSNBKGN2 HMAC OP TOKEN 256 bits.
fn hmac_key() -> Vec<u8> {
    let rules = ra(&["INTERNAL", "HMAC", "MAC", "GENERATE"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let (mut zero1, mut zero2, mut zero3, mut zero4, mut zero5) = (0, 0, 0, 0, 0);
    let mut skeleton = vec![0u8; 725];
    let mut skel_len: c_long = 725;
    unsafe {
        CSNBKTB2(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut zero1,
            null_mut(),
            &mut zero2,
            null_mut(),
            &mut zero3,
            null_mut(),
            &mut zero4,
            null_mut(),
            &mut zero5,
            null_mut(),
            &mut skel_len,
            skeleton.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (0, 0), "CSNBKTB2");
    skeleton.truncate(skel_len as usize);

    let rules = ra(&["HMAC", "OP"]);
    let mut count = n(&rules);
    let mut bits: c_long = 256;
    let mut type1 = *b"TOKEN   ";
    let mut type2 = *b"        ";
    let (mut z1, mut z2, mut z3, mut z4, mut z5, mut z6) = (0, 0, 0, 0, 0, 0);
    let mut token = skeleton.clone();
    token.resize(725, 0);
    // As opencryptoki: the skeleton in the whole buffer, its length the buffer's size.
    let mut token_len = len(&token);
    let mut second_len: c_long = 0;
    unsafe {
        CSNBKGN2(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut bits,
            type1.as_mut_ptr(),
            type2.as_mut_ptr(),
            &mut z1,
            null_mut(),
            &mut z2,
            null_mut(),
            &mut z3,
            null_mut(),
            &mut z4,
            null_mut(),
            &mut z5,
            null_mut(),
            &mut z6,
            null_mut(),
            &mut token_len,
            token.as_mut_ptr(),
            &mut second_len,
            null_mut(),
        )
    };
    assert_eq!((rc, rs), (0, 0), "CSNBKGN2");
    token.truncate(token_len as usize);
    token
}

/// CSNBENC / CSNBDEC CBC with an 8-byte IV (text a multiple of 8).
fn des_crypt(encipher: bool, key: &[u8; 64], text: &[u8], iv: &[u8; 8]) -> (Codes, Vec<u8>) {
    let rules = ra(&["CBC"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut key = *key;
    let mut input = text.to_vec();
    let mut text_len = len(text);
    let mut iv = *iv;
    let mut chain = [0u8; 18];
    let mut out = vec![0u8; text.len()];
    let mut pad: c_long = 0;
    unsafe {
        if encipher {
            CSNBENC(
                &mut rc,
                &mut rs,
                null_mut(),
                null_mut(),
                key.as_mut_ptr(),
                &mut text_len,
                input.as_mut_ptr(),
                iv.as_mut_ptr(),
                &mut count,
                rules.as_ptr().cast_mut(),
                &mut pad,
                chain.as_mut_ptr(),
                out.as_mut_ptr(),
            )
        } else {
            CSNBDEC(
                &mut rc,
                &mut rs,
                null_mut(),
                null_mut(),
                key.as_mut_ptr(),
                &mut text_len,
                input.as_mut_ptr(),
                iv.as_mut_ptr(),
                &mut count,
                rules.as_ptr().cast_mut(),
                chain.as_mut_ptr(),
                out.as_mut_ptr(),
            )
        }
    };
    out.truncate(text_len.max(0) as usize);
    (codes(rc, rs), out)
}

/// CSNBSAE / CSNBSAD AES CBC KEYIDENT INITIAL.
fn aes_crypt(encipher: bool, key: &[u8; 64], text: &[u8], iv: &[u8; 16]) -> (Codes, Vec<u8>) {
    let rules = ra(&["AES", "CBC", "KEYIDENT", "INITIAL"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut key = *key;
    let mut key_len: c_long = 64;
    let mut parms_len: c_long = 0;
    let mut block: c_long = 16;
    let mut iv = *iv;
    let mut iv_len: c_long = 16;
    let mut chain = [0u8; 32];
    let mut chain_len: c_long = 32;
    let mut input = text.to_vec();
    let mut in_len = len(text);
    let mut out = vec![0u8; text.len()];
    let mut out_len = len(&out);
    let mut opt_len: c_long = 0;
    let f = if encipher { CSNBSAE } else { CSNBSAD };
    unsafe {
        f(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
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
            &mut in_len,
            input.as_mut_ptr(),
            &mut out_len,
            out.as_mut_ptr(),
            &mut opt_len,
            null_mut(),
        )
    };
    out.truncate(out_len.max(0) as usize);
    (codes(rc, rs), out)
}

/// CSNBHMG (generate) or CSNBHMV (verify `mac`) HMAC SHA-256 ONLY.
fn hmac(key: &[u8], text: &[u8], verify: Option<&[u8]>) -> (Codes, Vec<u8>) {
    let rules = ra(&["HMAC", "SHA-256"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut key = key.to_vec();
    let mut key_len = len(&key);
    let mut text = text.to_vec();
    let mut text_len = len(&text);
    let mut chain = [0u8; 128];
    let mut chain_len: c_long = 128;
    let mut mac = verify.map_or(vec![0u8; 32], <[u8]>::to_vec);
    let mut mac_len = len(&mac);
    let f = if verify.is_some() { CSNBHMV } else { CSNBHMG };
    unsafe {
        f(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut count,
            rules.as_ptr().cast_mut(),
            &mut key_len,
            key.as_mut_ptr(),
            &mut text_len,
            text.as_mut_ptr(),
            &mut chain_len,
            chain.as_mut_ptr(),
            &mut mac_len,
            mac.as_mut_ptr(),
        )
    };
    mac.truncate(mac_len.max(0) as usize);
    (codes(rc, rs), mac)
}

// ---- public-key verbs through the C ABI ----

fn pkb(rules: &[&str], kvs: &[u8]) -> Vec<u8> {
    let rules = ra(rules);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut kvs_len = len(kvs);
    let mut name_len: c_long = 0;
    let mut token = vec![0u8; 8000];
    let mut token_len: c_long = 8000;
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
    assert_eq!(rc, 0, "CSNDPKB: {rc}/{rs}");
    token.truncate(token_len as usize);
    token
}

fn pkg(skeleton: &[u8]) -> Vec<u8> {
    let rules = ra(&["MASTER"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut regen_len: c_long = 0;
    let mut skel_len = len(skeleton);
    let mut transport = [0u8; 64];
    let mut out = vec![0u8; 8000];
    let mut out_len: c_long = 8000;
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
    assert_eq!(rc, 0, "CSNDPKG: {rc}/{rs}");
    out.truncate(out_len as usize);
    out
}

fn pkx(token: &[u8]) -> Vec<u8> {
    let (mut rc, mut rs) = (-1, -1);
    let mut count = 0;
    let mut source = token.to_vec();
    let mut source_len = len(&source);
    let mut out = vec![0u8; 2500];
    let mut out_len: c_long = 2500;
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
    assert_eq!((rc, rs), (0, 0), "CSNDPKX");
    out.truncate(out_len as usize);
    out
}

fn dsg(rules: &[&str], key: &[u8], hash: &[u8]) -> (Codes, Vec<u8>) {
    let rules = ra(rules);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut key_len = len(key);
    let mut hash_len = len(hash);
    let mut sig = vec![0u8; 512];
    let mut sig_len: c_long = 512;
    let mut bits: c_long = 0;
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
    sig.truncate(sig_len.max(0) as usize);
    (codes(rc, rs), sig)
}

fn dsv(rules: &[&str], key: &[u8], hash: &[u8], sig: &[u8]) -> Codes {
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
    codes(rc, rs)
}

/// CSNDPKE (encrypt) or CSNDPKD (decrypt) PKCS-1.2.
fn pk(encrypt: bool, input: &[u8], key: &[u8]) -> (Codes, Vec<u8>) {
    let rules = ra(&["PKCS-1.2"]);
    let (mut rc, mut rs) = (-1, -1);
    let mut count = n(&rules);
    let mut in_len = len(input);
    let mut ds_len: c_long = 0;
    let mut key_len = len(key);
    let mut out = vec![0u8; 512];
    let mut out_len: c_long = 512;
    let f = if encrypt { CSNDPKE } else { CSNDPKD };
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
    out.truncate(out_len.max(0) as usize);
    (codes(rc, rs), out)
}

fn codes(rc: c_long, rs: c_long) -> Codes {
    Codes {
        return_code: i32::try_from(rc).unwrap_or(i32::MAX),
        reason_code: i32::try_from(rs).unwrap_or(i32::MAX),
    }
}

fn rsa_key() -> Vec<u8> {
    // 2048 bits, public exponent 65537.
    let mut kvs = vec![0u8; 18];
    kvs[0..2].copy_from_slice(&2048u16.to_be_bytes());
    kvs[4..6].copy_from_slice(&3u16.to_be_bytes());
    kvs.extend_from_slice(&[1, 0, 1]);
    pkg(&pkb(&["RSA-AESC", "KEY-MGMT"], &kvs))
}

fn ecc_key() -> Vec<u8> {
    // Prime curve, 256 bits, no key values: a skeleton.
    pkg(&pkb(
        &["ECC-PAIR", "KEY-MGMT"],
        &[0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00],
    ))
}

fn sha256_digest_info(hash: &[u8; 32]) -> Vec<u8> {
    let mut d = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    d.extend_from_slice(hash);
    d
}

fn label(name: &str) -> [u8; 64] {
    let mut l = [b' '; 64];
    l[..name.len()].copy_from_slice(name.as_bytes());
    l
}

// ---- IBM's headers ----

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn check_aes_header(t: &[u8; 64]) {
    assert_eq!((t[0], t[4]), (0x01, 0x04), "AES: internal, version X'04'");
    assert_eq!(t[6] & 0x80, 0x80, "AES: the key is under the master key");
    assert_eq!(be16(t, 56), 256, "AES: clear key bits at 56, big-endian");
    assert_eq!(
        be16(t, 58),
        32,
        "AES: enciphered key bytes at 58, big-endian"
    );
    assert!(matches!(AesToken::parse(t), Ok(AesToken::Internal(_))));
}

fn check_des_header(t: &[u8; 64]) {
    assert_eq!(t[0], 0x01, "DES: internal");
    assert!(t[4] <= 1, "DES: version X'00' or X'01'");
    assert!(matches!(DesToken::parse(t), Ok(DesToken::Internal(_))));
}

fn check_hmac_header(t: &[u8]) {
    assert_eq!((t[0], t[4]), (0x01, 0x05), "HMAC: internal, version X'05'");
    assert_eq!(be16(t, 2), t.len(), "HMAC: token length at 2, big-endian");
    match VarToken::parse(t) {
        Ok(VarToken::Key(k)) => assert!(k.is_hmac_mac() && k.internal),
        other => panic!("HMAC token: {other:?}"),
    }
}

/// An internal PKA token: X'1F', its length at 2 big-endian, and its sections in order.
fn check_pka_header(t: &[u8], sections: &[u8]) {
    assert_eq!((t[0], t[1]), (0x1F, 0x00), "PKA internal header");
    assert_eq!(be16(t, 2), t.len(), "PKA: token length at 2, big-endian");
    match frame(t) {
        Ok(Framed::Token {
            kind: Kind::Internal,
            sections: found,
            ..
        }) => {
            let ids: Vec<u8> = found.iter().map(|s| s.id).collect();
            assert_eq!(ids, sections, "PKA sections");
            for s in &found {
                assert_eq!(
                    be16(s.bytes, 2),
                    s.bytes.len(),
                    "section length, big-endian"
                );
            }
        }
        other => panic!("PKA token: {other:?}"),
    }
}

/// Everything one token does through the C ABI, the answers kept to compare after the
/// restart (deterministic ones only: CBC with a fixed IV, HMAC, PKCS-1.1 signatures).
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    des: Vec<u8>,
    aes: Vec<u8>,
    hmac: Vec<u8>,
    rsa_signature: Vec<u8>,
}

const TEXT: &[u8; 32] = b"the same token works everywhere!";

fn c_answers(des: &[u8; 64], aes: &[u8; 64], hmac_token: &[u8], rsa: &[u8]) -> Answers {
    let (c, des_ct) = des_crypt(true, des, TEXT, &[0x11; 8]);
    assert_eq!(c, Codes::OK, "CSNBENC");
    let (c, aes_ct) = aes_crypt(true, aes, TEXT, &[0x22; 16]);
    assert_eq!(c, Codes::OK, "CSNBSAE");
    let (c, mac) = hmac(hmac_token, TEXT, None);
    assert_eq!(c, Codes::OK, "CSNBHMG");
    let (c, sig) = dsg(&["PKCS-1.1"], rsa, &sha256_digest_info(&[0x42; 32]));
    assert_eq!(c, Codes::OK, "CSNDDSG RSA");
    Answers {
        des: des_ct,
        aes: aes_ct,
        hmac: mac,
        rsa_signature: sig,
    }
}

#[test]
fn tokens_made_through_the_c_abi_work_through_the_rust_api_and_after_a_restart() {
    let home: PathBuf = tempfile::tempdir().expect("tempdir").keep();
    let socket = softcca_platform::socket_path(&home);
    // SAFETY: the only test of this binary; set before the library reads the environment.
    unsafe {
        std::env::set_var("SOFTCCA_SOCKET", &socket);
        std::env::remove_var("SOFTCCA_HOME");
        std::env::remove_var("SOFTCCA_MODE");
        std::env::set_var("SOFTCCA_CONF", home.join("none.conf"));
    }
    let daemon = Daemon::start(&home);
    load_master_keys();

    // Made through the C ABI.
    let aes = aes_key();
    let des = des_key();
    let hmac_token = hmac_key();
    let rsa = rsa_key();
    let ecc = ecc_key();
    check_aes_header(&aes);
    check_des_header(&des);
    check_hmac_header(&hmac_token);
    check_pka_header(&rsa, &[0x31, 0x04]);
    check_pka_header(&ecc, &[0x20, 0x21]);
    let rsa_public = pkx(&rsa);
    let ecc_public = pkx(&ecc);
    assert_eq!(rsa_public[0], 0x1E, "an external public token");
    assert_eq!(ecc_public[0], 0x1E, "an external public token");

    let before = c_answers(&des, &aes, &hmac_token, &rsa);

    // Key storage through the C ABI: a PKA record holding the RSA token, a DES record.
    let rsa_label = label("CROSS.RSA.KEY");
    let des_label = label("CROSS.DES.KEY");
    let (mut rc, mut rs) = (-1, -1);
    let mut zero: c_long = 0;
    let mut rsa_len = len(&rsa);
    let mut l = rsa_label;
    let mut t = rsa.clone();
    unsafe {
        CSNDKRC(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            &mut zero,
            null_mut(),
            l.as_mut_ptr(),
            &mut rsa_len,
            t.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (0, 0), "CSNDKRC");
    let mut l = des_label;
    unsafe { CSNBKRC(&mut rc, &mut rs, null_mut(), null_mut(), l.as_mut_ptr()) };
    assert_eq!((rc, rs), (0, 0), "CSNBKRC");
    let mut d = des;
    unsafe {
        CSNBKRW(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            d.as_mut_ptr(),
            l.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs), (0, 0), "CSNBKRW");

    // The same tokens through the Rust API, against the same daemon.
    {
        let cca = Cca::connect(&socket).expect("connect");
        let e = cca
            .encipher(&des, TEXT, &[0x11; 8], &["CBC"], 0, &[0; 18])
            .expect("Cca::encipher");
        assert_eq!(e.text, before.des, "DES: the same cipher text both ways");
        let d = cca
            .decipher(&des, &before.des, &[0x11; 8], &["CBC"], &[0; 18])
            .expect("Cca::decipher");
        assert_eq!(&d.text[..], TEXT);

        let req = SymmetricRequest {
            rule_array: &["AES", "CBC", "KEYIDENT", "INITIAL"],
            key_identifier: &aes,
            key_parms: &[],
            key_parms_length: 0,
            block_size: 16,
            initialization_vector: &[0x22; 16],
            chain_data: &[0; 32],
            text: TEXT,
            output_length: 32,
            optional_data: &[],
        };
        let e = cca
            .symmetric_algorithm_encipher(&req)
            .expect("Cca::symmetric_algorithm_encipher");
        assert_eq!(e.text, before.aes, "AES: the same cipher text both ways");
        let d = cca
            .symmetric_algorithm_decipher(&SymmetricRequest {
                text: &before.aes,
                ..req
            })
            .expect("Cca::symmetric_algorithm_decipher");
        assert_eq!(&d.text[..], TEXT);

        let (mac, _) = cca
            .hmac_generate(&["HMAC", "SHA-256"], &hmac_token, TEXT, &mut [0; 128], 32)
            .expect("Cca::hmac_generate");
        assert_eq!(mac, before.hmac, "HMAC: the same MAC both ways");
        assert_eq!(
            cca.hmac_verify(&["HMAC", "SHA-256"], &hmac_token, TEXT, &mut [0; 128], &mac)
                .expect("Cca::hmac_verify"),
            Codes::OK
        );

        // RSA: PKCS-1.1 signatures are deterministic; each side verifies the other's.
        let digest_info = sha256_digest_info(&[0x42; 32]);
        let (sig, bits, _) = cca
            .digital_signature_generate(&["PKCS-1.1"], &rsa, &digest_info, 512)
            .expect("Cca::digital_signature_generate");
        assert_eq!((sig.clone(), bits), (before.rsa_signature.clone(), 2048));
        assert_eq!(
            cca.digital_signature_verify(
                &["PKCS-1.1"],
                &rsa_public,
                &digest_info,
                &before.rsa_signature
            )
            .expect("Cca::digital_signature_verify"),
            Codes::OK
        );
        assert_eq!(
            dsv(&["PKCS-1.1"], &rsa_public, &digest_info, &sig),
            Codes::OK
        );
        // RSA PKCS-1.2: enciphered by one side, deciphered by the other.
        let value = [0x17u8; 32];
        let ct = cca
            .pka_encrypt(&["PKCS-1.2"], &value, &[], &rsa_public)
            .expect("Cca::pka_encrypt");
        let (c, pt) = pk(false, &ct, &rsa);
        assert_eq!((c, &pt[..]), (Codes::OK, &value[..]), "CSNDPKD of Rust's");
        let (c, ct) = pk(true, &value, &rsa_public);
        assert_eq!(c, Codes::OK, "CSNDPKE");
        let (pt, _) = cca
            .pka_decrypt(&["PKCS-1.2"], &ct, &[], &rsa)
            .expect("Cca::pka_decrypt");
        assert_eq!(pt, value);

        // ECDSA (randomized): each side verifies the other's signature.
        let hash = [0x61u8; 32];
        let (c, c_sig) = dsg(&["ECDSA"], &ecc, &hash);
        assert_eq!(c, Codes::OK, "CSNDDSG ECDSA");
        assert_eq!(
            cca.digital_signature_verify(&["ECDSA"], &ecc_public, &hash, &c_sig)
                .expect("Cca::digital_signature_verify ECDSA"),
            Codes::OK
        );
        let (r_sig, _, _) = cca
            .digital_signature_generate(&["ECDSA"], &ecc, &hash, 132)
            .expect("Cca::digital_signature_generate ECDSA");
        assert_eq!(dsv(&["ECDSA"], &ecc_public, &hash, &r_sig), Codes::OK);
        assert_eq!(dsv(&["ECDSA"], &ecc, &hash, &r_sig), Codes::OK);
    }

    // A corrupted token is refused the same way by both: IBM's code, nothing out.
    {
        let cca = Cca::connect(&socket).expect("connect");
        let mut bad_tvv = aes;
        bad_tvv[63] ^= 1;
        let mut bad_version = des;
        bad_version[4] = 0x07;
        let mut bad_length = hmac_token.clone();
        bad_length[3] ^= 0x08;
        let (c_aes, out) = aes_crypt(true, &bad_tvv, TEXT, &[0x22; 16]);
        assert_eq!(
            (c_aes, out.iter().all(|&b| b == 0)),
            (
                Codes {
                    return_code: 8,
                    reason_code: 29
                },
                true
            )
        );
        let req = SymmetricRequest {
            rule_array: &["AES", "CBC", "KEYIDENT", "INITIAL"],
            key_identifier: &bad_tvv,
            key_parms: &[],
            key_parms_length: 0,
            block_size: 16,
            initialization_vector: &[0x22; 16],
            chain_data: &[0; 32],
            text: TEXT,
            output_length: 32,
            optional_data: &[],
        };
        let rust = cca
            .symmetric_algorithm_encipher(&req)
            .map(|_| ())
            .map_err(|e| e.codes);
        assert_eq!(rust, Err(c_aes), "AES TVV: the same code both ways");

        let (c_des, _) = des_crypt(true, &bad_version, TEXT, &[0x11; 8]);
        assert_eq!(c_des.return_code, 8, "DES version: {c_des:?}");
        let rust = cca
            .encipher(&bad_version, TEXT, &[0x11; 8], &["CBC"], 0, &[0; 18])
            .map(|_| ())
            .map_err(|e| e.codes);
        assert_eq!(rust, Err(c_des), "DES version: the same code both ways");

        let (c_hmac, _) = hmac(&bad_length, TEXT, None);
        assert_eq!(c_hmac.return_code, 8, "HMAC length: {c_hmac:?}");
        let rust = cca
            .hmac_generate(&["HMAC", "SHA-256"], &bad_length, TEXT, &mut [0; 128], 32)
            .map(|_| ())
            .map_err(|e| e.codes);
        assert_eq!(rust, Err(c_hmac), "HMAC length: the same code both ways");

        let mut bad_rsa = rsa.clone();
        bad_rsa[0] = 0x1D;
        let digest_info = sha256_digest_info(&[0x42; 32]);
        let (c_rsa, sig) = dsg(&["PKCS-1.1"], &bad_rsa, &digest_info);
        assert_eq!(c_rsa.return_code, 8, "RSA identifier: {c_rsa:?}");
        assert!(sig.iter().all(|&b| b == 0), "nothing written");
        let rust = cca
            .digital_signature_generate(&["PKCS-1.1"], &bad_rsa, &digest_info, 512)
            .map(|_| ())
            .map_err(|e| e.codes);
        assert_eq!(rust, Err(c_rsa), "RSA identifier: the same code both ways");
    }

    // Stop the daemon; start it again on the same state directory.
    drop(daemon);
    let daemon = Daemon::start(&home);
    // Nothing is reset: the library's connection was to the daemon that stopped, and its
    // next verb connects again by itself (as a long-running opencryptoki needs).

    let after = c_answers(&des, &aes, &hmac_token, &rsa);
    assert_eq!(after, before, "the same answers after the restart");
    let (c, pt) = des_crypt(false, &des, &after.des, &[0x11; 8]);
    assert_eq!((c, &pt[..]), (Codes::OK, &TEXT[..]), "CSNBDEC after");
    let (c, pt) = aes_crypt(false, &aes, &after.aes, &[0x22; 16]);
    assert_eq!((c, &pt[..]), (Codes::OK, &TEXT[..]), "CSNBSAD after");
    assert_eq!(hmac(&hmac_token, TEXT, Some(&after.hmac)).0, Codes::OK);
    let digest_info = sha256_digest_info(&[0x42; 32]);
    assert_eq!(
        dsv(
            &["PKCS-1.1"],
            &rsa_public,
            &digest_info,
            &after.rsa_signature
        ),
        Codes::OK
    );
    let (c, ct) = pk(true, &[0x17; 32], &rsa_public);
    assert_eq!(c, Codes::OK, "CSNDPKE after");
    let (c, pt) = pk(false, &ct, &rsa);
    assert_eq!(
        (c, &pt[..]),
        (Codes::OK, &[0x17u8; 32][..]),
        "CSNDPKD after"
    );
    let hash = [0x61u8; 32];
    let (c, sig) = dsg(&["ECDSA"], &ecc, &hash);
    assert_eq!(c, Codes::OK, "CSNDDSG ECDSA after");
    assert_eq!(dsv(&["ECDSA"], &ecc_public, &hash, &sig), Codes::OK);
    assert_eq!(pkx(&rsa), rsa_public, "the same public key after");
    assert_eq!(pkx(&ecc), ecc_public, "the same public key after");

    // The records written through the C ABI, read through the Rust API after the restart.
    let cca = Cca::connect(&socket).expect("connect after the restart");
    assert_eq!(
        cca.key_record_read(Family::Pka, &rsa_label)
            .expect("Cca::key_record_read PKA"),
        rsa
    );
    let stored_des = cca
        .key_record_read(Family::Des, &des_label)
        .expect("Cca::key_record_read DES");
    assert_eq!(stored_des, des.to_vec());
    let e = cca
        .encipher(&stored_des, TEXT, &[0x11; 8], &["CBC"], 0, &[0; 18])
        .expect("Cca::encipher with the stored token");
    assert_eq!(e.text, before.des);
    // By label through the C ABI too.
    let mut l = des_label;
    let mut token = [0u8; 64];
    unsafe {
        CSNBKRR(
            &mut rc,
            &mut rs,
            null_mut(),
            null_mut(),
            l.as_mut_ptr(),
            token.as_mut_ptr(),
        )
    };
    assert_eq!((rc, rs, token), (0, 0, des), "CSNBKRR after");
    let (c, ct) = des_crypt(true, &des_label, TEXT, &[0x11; 8]);
    assert_eq!((c, ct), (Codes::OK, before.des), "CSNBENC by label after");
    drop(daemon);
}
