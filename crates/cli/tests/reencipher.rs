//! `softcca panel reencipher` as an operator runs it after a master-key change: a real
//! `softcca serve` daemon, key storage filled through the host library, new master keys set,
//! then the subcommand; every record must then carry the new MKVP and hold the same key.

mod common;

use std::process::{Command, Stdio};

use common::Daemon;
use softcca_card::mk::{Class, MasterKey, verification_pattern};
use softcca_card::tokens::des::DesToken;
use softcca_card::tokens::wrap;
use softcca_host::{Cca, Family};

fn label(text: &str) -> [u8; 64] {
    let mut l = [b' '; 64];
    l[..text.len()].copy_from_slice(text.as_bytes());
    l
}

/// Sets a SYM master key from two parts of bytes `a` and `b`; returns the (odd-parity) key.
fn set_sym(cca: &Cca, a: u8, b: u8) -> MasterKey {
    cca.master_key_process(&["SYM-MK", "FIRST"], &[a; 24])
        .expect("FIRST");
    cca.master_key_process(&["SYM-MK", "LAST"], &[b; 24])
        .expect("LAST");
    cca.master_key_process(&["SYM-MK", "SET"], &[])
        .expect("SET");
    let mut k = [a ^ b; 24];
    for x in &mut k {
        if x.count_ones() % 2 == 0 {
            *x ^= 1;
        }
    }
    MasterKey::from_bytes(&k)
}

fn panel_reencipher(home: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_softcca"))
        .args(["panel", "reencipher", "--home"])
        .arg(home)
        .stdin(Stdio::null())
        .output()
        .expect("run softcca");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn panel_reencipher_moves_key_storage_to_the_new_master_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(dir.path(), &[]);
    let cca = Cca::connect(&daemon.socket()).expect("connect");
    set_sym(&cca, 0x5B, 0xC4);
    let null = [0u8; 64];
    let mut keys = Vec::new();
    for (i, name) in ["PAY.ONE", "PAY.TWO"].iter().enumerate() {
        let clear = vec![0x21 + 2 * i as u8; 16];
        let (t, _) = cca
            .multiple_clear_key_import(&["DES"], &clear, &null)
            .expect("CKM");
        cca.key_record_create(Family::Des, &label(name), &t)
            .expect("create");
        keys.push((label(name), clear));
    }
    let mk2 = set_sym(&cca, 0x3D, 0x86);

    let (ok, out) = panel_reencipher(dir.path());
    assert!(ok, "{out}");
    assert!(
        out.lines().any(|l| l == "re-enciphered    DES:PAY.ONE"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l == "2 re-enciphered, 0 already current, 0 skipped, 0 failed"),
        "{out}"
    );
    for (l, clear) in &keys {
        let t = cca.key_record_read(Family::Des, l).expect("read");
        let DesToken::Internal(it) = DesToken::parse(&t).expect("parses") else {
            panic!("internal DES token expected");
        };
        assert_eq!(it.mkvp, verification_pattern(Class::Sym, &mk2));
        let (k, _) = wrap::unwrap_des(&it, Some(&mk2), None).expect("under the new MK");
        assert_eq!(k.expose(), clear.as_slice());
    }

    // Run again: nothing left to do.
    let (ok, out) = panel_reencipher(dir.path());
    assert!(ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l == "0 re-enciphered, 2 already current, 0 skipped, 0 failed"),
        "{out}"
    );
}
