//! Host key storage: IBM's label syntax and wildcards, the key-record verbs and their codes,
//! several processes at once, and records that survive `kill -9`.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use softcca_card::{Codes, Failure, Notice};
use softcca_host::keystore::{Mask, NULL_VARIABLE_TOKEN};
use softcca_host::{Cca, DeleteMode, Family, KeyStore, Label, WriteMode};

const CHILD_DB: &str = "SOFTCCA_TEST_KEYSTORE_DB";
const CHILD_TAG: &str = "SOFTCCA_TEST_KEYSTORE_TAG";

fn store() -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ks = KeyStore::open(dir.path()).expect("key storage opens");
    (dir, ks)
}

/// A PKA-shaped token of `len` bytes (length at bytes 2–3) whose content names `seed`.
fn pka_token(seed: u64, len: usize) -> Vec<u8> {
    let mut t = vec![0u8; len];
    t[0] = 0x1F;
    t[2..4].copy_from_slice(
        &u16::try_from(len)
            .expect("a token length fits 16 bits")
            .to_be_bytes(),
    );
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in t.iter_mut().skip(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    t
}

fn des_token(seed: u8) -> Vec<u8> {
    let mut t = vec![seed; 64];
    t[0] = 0x01;
    t
}

#[test]
fn label_syntax() {
    for good in [
        "A",
        "ABCDEFGH",
        "A.B.C.D.E.F.G",
        "#$@.X1.Y2345678",
        "MY.KEY.LABEL",
        "lower.case",
        "PAYROLL.KEY   trailing ignored after the first blank",
    ] {
        assert!(Label::parse(good.as_bytes()).is_ok(), "{good}");
    }
    let padded = Label::parse(b"MY.KEY").unwrap().field();
    assert_eq!(&padded[..6], b"MY.KEY");
    assert!(padded[6..].iter().all(|&b| b == b' '));
    assert_eq!(Label::parse(&padded).unwrap().as_str(), "MY.KEY");
    assert_eq!(Label::parse(b"my.key").unwrap().as_str(), "MY.KEY");

    let long_field = [b'A'; 65];
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("all blanks", vec![b' '; 64]),
        ("leading blank", b" ABC".to_vec()),
        ("token byte", b"\x01ABC".to_vec()),
        ("X'FF'", b"\xFFABC".to_vec()),
        ("longer than 64", long_field.to_vec()),
        ("nine characters", b"ABCDEFGHI".to_vec()),
        ("numeric first", b"1ABC".to_vec()),
        ("numeric first later", b"A.2B".to_vec()),
        ("bad character", b"AB-C".to_vec()),
        ("underscore", b"AB_C".to_vec()),
        ("eight tokens", b"A.B.C.D.E.F.G.H".to_vec()),
        ("trailing period", b"ABC.".to_vec()),
        ("leading period", b".ABC".to_vec()),
        ("empty token", b"A..B".to_vec()),
        ("wildcard in a label", b"A.*".to_vec()),
        ("non-ASCII", "ÄBC".as_bytes().to_vec()),
    ];
    for (what, field) in bad {
        assert_eq!(Label::parse(&field), Err(Failure::LabelFormat), "{what}");
        assert_eq!(Failure::LabelFormat.codes(), Codes::new(8, 32));
    }
}

#[test]
fn wildcard_table() {
    let table: &[(&str, &str, bool)] = &[
        ("*", "A", true),
        ("*", "A.B.C", true),
        ("A.*", "A.B", true),
        ("A.*", "A", false),
        ("A.*", "A.B.C", false),
        ("A.B*", "A.BCD", true),
        ("A.B*", "A.B", true),
        ("A.B*", "A.XB", false),
        ("A.*D", "A.BCD", true),
        ("A.*D", "A.D", true),
        ("A.*D", "A.DX", false),
        ("*.KEY", "PAY.KEY", true),
        ("*.KEY", "PAY.KEYS", false),
        ("P*.K*", "PAY.KEY", true),
        ("P*.K*", "XPAY.KEY", false),
        ("A.B", "A.B", true),
        ("A.B", "A.BC", false),
        ("a.b*", "A.BC", true),
    ];
    for &(mask, label, expected) in table {
        let m = Mask::parse(mask.as_bytes()).unwrap();
        let l = Label::parse(label.as_bytes()).unwrap();
        assert_eq!(m.matches(&l), expected, "{mask} ~ {label}");
    }
    for bad in [
        "A**",
        "*A*",
        "A*B",
        "**",
        "A.B*C",
        "1*",
        "ABCDEFGHI*",
        "A.*.",
        "-*",
    ] {
        assert_eq!(
            Mask::parse(bad.as_bytes()),
            Err(Failure::LabelFormat),
            "{bad}"
        );
    }
    assert!(Mask::parse(b"*1").is_ok());
    assert!(Mask::parse(b"ABCDEFGH*").is_ok());
    assert!(!Mask::parse(b"A.B").unwrap().is_wildcard());
    assert!(Mask::parse(b"A.*").unwrap().is_wildcard());
}

#[test]
fn create_read_write_delete_and_codes() {
    let (_dir, ks) = store();
    // Create: the family's null token.
    ks.create(Family::Des, b"DES.ONE", b"").unwrap();
    ks.create(Family::Aes, b"AES.ONE", b"").unwrap();
    ks.create(Family::Pka, b"PKA.ONE", b"").unwrap();
    assert_eq!(ks.read(Family::Des, b"DES.ONE").unwrap(), vec![0; 64]);
    assert_eq!(ks.read(Family::Aes, b"AES.ONE").unwrap(), vec![0; 64]);
    assert_eq!(
        ks.read(Family::Pka, b"PKA.ONE").unwrap(),
        NULL_VARIABLE_TOKEN
    );
    // Families are separate storages: same label, different records.
    ks.create(Family::Pka, b"DES.ONE", b"").unwrap();
    assert_eq!(
        ks.read(Family::Pka, b"DES.ONE").unwrap(),
        NULL_VARIABLE_TOKEN
    );

    // Duplicate: 8/44, record unchanged.
    assert_eq!(
        ks.create(Family::Des, b"DES.ONE", &des_token(7)),
        Err(Failure::LabelExists)
    );
    assert_eq!(Failure::LabelExists.codes(), Codes::new(8, 44));
    assert_eq!(ks.read(Family::Des, b"DES.ONE").unwrap(), vec![0; 64]);

    // Create with a token (CSNBAKRC, CSNDKRC).
    let pka = pka_token(1, 300);
    ks.create(Family::Pka, b"PKA.TWO", &pka).unwrap();
    assert_eq!(ks.read(Family::Pka, b"PKA.TWO").unwrap(), pka);

    // Missing record: 8/30.
    assert_eq!(ks.read(Family::Des, b"NOPE"), Err(Failure::LabelNotFound));
    assert_eq!(Failure::LabelNotFound.codes(), Codes::new(8, 30));
    assert_eq!(
        ks.write(Family::Des, b"NOPE", &des_token(1), WriteMode::Overlay),
        Err(Failure::LabelNotFound)
    );
    // Bad label: 8/32 on every operation.
    assert_eq!(
        ks.create(Family::Des, b"1BAD", b""),
        Err(Failure::LabelFormat)
    );
    assert_eq!(ks.read(Family::Des, b"1BAD"), Err(Failure::LabelFormat));
    assert_eq!(
        ks.delete(Family::Des, b"A**", DeleteMode::Token),
        Err(Failure::LabelFormat)
    );
    assert_eq!(ks.list(Family::Des, b"A.B-"), Err(Failure::LabelFormat));

    // Bad token lengths: 8/43, nothing created.
    assert_eq!(
        ks.create(Family::Des, b"DES.SHORT", &[1; 63]),
        Err(Failure::KeyLength)
    );
    assert_eq!(
        ks.create(Family::Pka, b"PKA.BADLEN", &[0x1F, 0, 0, 99, 0, 0, 0, 0, 0]),
        Err(Failure::KeyLength)
    );
    assert_eq!(
        ks.create(Family::Pka, b"PKA.HUGE", &pka_token(2, 8001)),
        Err(Failure::KeyLength)
    );
    assert_eq!(
        ks.read(Family::Des, b"DES.SHORT"),
        Err(Failure::LabelNotFound)
    );
    ks.create(Family::Pka, b"PKA.MAX", &pka_token(3, 8000))
        .unwrap();

    // Write CHECK over a null token, then CHECK refused (8/44) and the record unchanged;
    // OVERLAY always.
    let t1 = des_token(0x11);
    let t2 = des_token(0x22);
    ks.write(Family::Des, b"DES.ONE", &t1, WriteMode::Check)
        .unwrap();
    assert_eq!(ks.read(Family::Des, b"DES.ONE").unwrap(), t1);
    assert_eq!(
        ks.write(Family::Des, b"DES.ONE", &t2, WriteMode::Check),
        Err(Failure::RecordNotNull)
    );
    assert_eq!(Failure::RecordNotNull.codes(), Codes::new(8, 44));
    assert_eq!(ks.read(Family::Des, b"DES.ONE").unwrap(), t1);
    ks.write(Family::Des, b"DES.ONE", &t2, WriteMode::Overlay)
        .unwrap();
    assert_eq!(ks.read(Family::Des, b"DES.ONE").unwrap(), t2);
    assert_eq!(
        ks.write(Family::Des, b"DES.ONE", &[0; 10], WriteMode::Overlay),
        Err(Failure::KeyLength)
    );
    assert_eq!(ks.read(Family::Des, b"DES.ONE").unwrap(), t2);
    // A variable-length AES token, then CHECK over it is refused.
    let mut aes_var = pka_token(9, 120);
    aes_var[0] = 0x01;
    ks.write(Family::Aes, b"AES.ONE", &aes_var, WriteMode::Check)
        .unwrap();
    assert_eq!(ks.read(Family::Aes, b"AES.ONE").unwrap(), aes_var);
    assert_eq!(
        ks.write(Family::Aes, b"AES.ONE", &[0x01; 64], WriteMode::Check),
        Err(Failure::RecordNotNull)
    );

    // Delete TOKEN-DL: the record stays with the null token; CHECK may write again.
    assert_eq!(
        ks.delete(Family::Des, b"DES.ONE", DeleteMode::Token)
            .unwrap(),
        (1, None)
    );
    assert_eq!(ks.read(Family::Des, b"DES.ONE").unwrap(), vec![0; 64]);
    ks.write(Family::Des, b"DES.ONE", &t1, WriteMode::Check)
        .unwrap();
    // LABEL-DL: the record is gone.
    assert_eq!(
        ks.delete(Family::Des, b"DES.ONE", DeleteMode::Label)
            .unwrap(),
        (1, None)
    );
    assert_eq!(
        ks.read(Family::Des, b"DES.ONE"),
        Err(Failure::LabelNotFound)
    );
    assert_eq!(
        ks.delete(Family::Des, b"DES.ONE", DeleteMode::Label),
        Err(Failure::LabelNotFound)
    );
    // The PKA record of the same label is untouched.
    assert_eq!(
        ks.read(Family::Pka, b"DES.ONE").unwrap(),
        NULL_VARIABLE_TOKEN
    );
}

#[test]
fn null_tokens() {
    assert!(Family::Des.is_null(&[0; 64]));
    // Key Import may leave an encrypted single key at 16–31 of a null DES token.
    let mut des = [0u8; 64];
    des[16..24].copy_from_slice(&[0xA5; 8]);
    assert!(Family::Des.is_null(&des));
    des[40] = 1;
    assert!(!Family::Des.is_null(&des));
    assert!(!Family::Des.is_null(&des_token(0)));
    assert!(Family::Aes.is_null(&[0; 64]));
    assert!(Family::Aes.is_null(&NULL_VARIABLE_TOKEN));
    assert!(!Family::Aes.is_null(&[1; 64]));
    assert!(Family::Pka.is_null(&NULL_VARIABLE_TOKEN));
    assert!(!Family::Pka.is_null(&[0; 64]));
    assert_eq!(Family::Pka.null_token(), NULL_VARIABLE_TOKEN);

    // CHECK writes over such a DES null token.
    let (_dir, ks) = store();
    let mut imported = [0u8; 64];
    imported[16..24].copy_from_slice(&[0x5A; 8]);
    ks.create(Family::Des, b"IMPORTED", &imported).unwrap();
    ks.write(Family::Des, b"IMPORTED", &des_token(3), WriteMode::Check)
        .unwrap();
    assert_eq!(ks.read(Family::Des, b"IMPORTED").unwrap(), des_token(3));
}

#[test]
fn wildcard_delete_and_list() {
    let (dir, ks) = store();
    for l in ["PAY.K1", "PAY.K2", "PAY.X1", "HR.K1", "PAY.K3.OLD"] {
        ks.create(Family::Pka, l.as_bytes(), &pka_token(l.len() as u64, 64))
            .unwrap();
    }
    let names = |v: Vec<Label>| v.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(ks.list(Family::Pka, b"PAY.K*").unwrap()),
        ["PAY.K1", "PAY.K2"]
    );
    assert_eq!(
        names(ks.list(Family::Pka, b"*.K1").unwrap()),
        ["HR.K1", "PAY.K1"]
    );
    assert_eq!(ks.list(Family::Pka, b"*").unwrap().len(), 5);
    assert!(ks.list(Family::Des, b"*").unwrap().is_empty());
    assert!(ks.list(Family::Pka, b"NONE.*").unwrap().is_empty());

    // TOKEN-DL by mask.
    assert_eq!(
        ks.delete(Family::Pka, b"PAY.K*", DeleteMode::Token)
            .unwrap(),
        (2, None)
    );
    assert_eq!(
        ks.read(Family::Pka, b"PAY.K1").unwrap(),
        NULL_VARIABLE_TOKEN
    );
    assert_eq!(
        ks.read(Family::Pka, b"PAY.K2").unwrap(),
        NULL_VARIABLE_TOKEN
    );
    assert_ne!(
        ks.read(Family::Pka, b"PAY.X1").unwrap(),
        NULL_VARIABLE_TOKEN
    );
    // LABEL-DL by mask.
    assert_eq!(
        ks.delete(Family::Pka, b"*.K1", DeleteMode::Label).unwrap(),
        (2, None)
    );
    assert_eq!(
        names(ks.list(Family::Pka, b"*").unwrap()),
        ["PAY.K2", "PAY.K3.OLD", "PAY.X1"]
    );
    // A mask that matches nothing: 4/158, nothing changed.
    assert_eq!(
        ks.delete(Family::Pka, b"ZZ*", DeleteMode::Label).unwrap(),
        (0, Some(Notice::NoRecordsProcessed))
    );
    assert_eq!(Notice::NoRecordsProcessed.codes(), Codes::new(4, 158));
    assert_eq!(ks.list(Family::Pka, b"*").unwrap().len(), 3);

    // The list file, IBM's layout.
    let path = ks.list_to_file(Family::Pka, b"PAY.*").unwrap();
    assert_eq!(path, dir.path().join("KYRLT001.LST"));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 154 * 3);
    assert_eq!(&bytes[..19], b"PKA KEY-RECORD-LIST");
    assert_eq!(&bytes[50..52], b"2 ");
    assert_eq!(&bytes[58..62], b"154 ");
    assert_eq!(&bytes[62..66], b"154 ");
    assert_eq!(&bytes[75..77], b"\r\n");
    assert_eq!(&bytes[77..82], b"PAY.*");
    assert_eq!(&bytes[152..154], b"\r\n");
    let d1 = &bytes[154..308];
    assert_eq!(&d1[3..9], b"PAY.K2");
    assert_eq!(&d1[67..73], b"NO-KEY");
    assert_eq!(&d1[133..139], b"NO-KEY");
    assert_eq!(&d1[92..94], b"20");
    let d2 = &bytes[308..];
    assert_eq!(&d2[3..9], b"PAY.X1");
    assert_eq!(&d2[133..141], b"INTERNAL");
    assert_eq!(
        ks.list_to_file(Family::Pka, b"*").unwrap(),
        dir.path().join("KYRLT002.LST")
    );
}

#[test]
fn cca_verbs_share_the_state_directory() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("card");
    let cca = Cca::embedded(&home, None).unwrap();
    cca.key_record_create(Family::Des, b"APP.KEY", b"").unwrap();
    cca.key_record_write(Family::Des, &[], b"APP.KEY", &des_token(5))
        .unwrap();
    let e = cca
        .key_record_write(Family::Des, &["CHECK"], b"APP.KEY", &des_token(6))
        .unwrap_err();
    assert_eq!(e.codes, Codes::new(8, 44));
    cca.key_record_write(Family::Des, &["OVERLAY"], b"APP.KEY", &des_token(6))
        .unwrap();
    let e = cca
        .key_record_write(Family::Des, &["REPLACE"], b"APP.KEY", &des_token(6))
        .unwrap_err();
    assert_eq!(e.codes, Codes::new(8, 33));
    let e = cca
        .key_record_delete(Family::Des, &["TOKEN-DL", "LABEL-DL"], b"APP.KEY")
        .unwrap_err();
    assert_eq!(e.codes, Codes::new(8, 35));
    assert_eq!(
        cca.key_record_read(Family::Des, b"APP.KEY").unwrap(),
        des_token(6)
    );
    let e = cca
        .key_record_create(Family::Des, b"APP.KEY", b"")
        .unwrap_err();
    assert_eq!(e.codes, Codes::new(8, 44));
    let e = cca.key_record_read(Family::Des, b"NONE").unwrap_err();
    assert_eq!(e.codes, Codes::new(8, 30));
    let e = cca.key_record_read(Family::Des, b"9NONE").unwrap_err();
    assert_eq!(e.codes, Codes::new(8, 32));
    let (file, labels) = cca.key_record_list(Family::Des, b"APP.*").unwrap();
    assert_eq!(file, home.join("KYRLT001.LST"));
    assert_eq!(labels, [Label::parse(b"APP.KEY").unwrap()]);
    assert_eq!(
        cca.key_record_delete(Family::Des, &["LABEL-DL"], b"NO*")
            .unwrap(),
        Codes::new(4, 158)
    );
    // Another handle on the same directory (as a daemon's client would be) sees the record.
    let other = KeyStore::open(&home).unwrap();
    assert_eq!(other.read(Family::Des, b"APP.KEY").unwrap(), des_token(6));
    assert_eq!(
        cca.key_record_delete(Family::Des, &["LABEL-DL"], b"APP.KEY")
            .unwrap(),
        Codes::OK
    );
    assert_eq!(
        other.read(Family::Des, b"APP.KEY"),
        Err(Failure::LabelNotFound)
    );
}

/// What follows `marker` in a child's output line (libtest may print its "test … " header
/// on the same line as the child's first output).
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.split_once(marker).map(|(_, rest)| rest.trim())
}

fn spawn_child(test: &str, db: &Path, tag: &str) -> std::process::Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            test,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, db)
        .env(CHILD_TAG, tag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child")
}

const SHARED: u64 = 150;

#[test]
fn two_processes_write_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keystore.db");
    KeyStore::open_file(&db).unwrap();
    let children: Vec<_> = ["A", "B"]
        .iter()
        .map(|tag| spawn_child("child_writer", &db, tag))
        .collect();
    let mut won: HashMap<String, usize> = HashMap::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for l in stdout.lines().filter_map(|l| after(l, "WON ")) {
            *won.entry(l.to_string()).or_default() += 1;
        }
    }
    // Each shared label was created by exactly one process; the other got 8/44.
    assert_eq!(won.len(), SHARED as usize);
    assert!(won.values().all(|&n| n == 1));
    let ks = KeyStore::open_file(&db).unwrap();
    assert_eq!(
        ks.list(Family::Pka, b"SHARED.*").unwrap().len(),
        SHARED as usize
    );
    for tag in ["A", "B"] {
        let own = ks.list(Family::Pka, format!("{tag}.*").as_bytes()).unwrap();
        assert_eq!(own.len(), SHARED as usize);
        for l in &own {
            let n: u64 = l.as_str()[3..].parse().unwrap();
            assert_eq!(
                ks.read(Family::Pka, l.field().as_slice()).unwrap(),
                pka_token(n + if tag == "A" { 0 } else { 1_000_000 }, 64 + n as usize)
            );
        }
    }
}

/// The child's work in `two_processes_write_at_once`.
#[test]
#[ignore = "runs as a child process of two_processes_write_at_once"]
fn child_writer() {
    let db = std::env::var_os(CHILD_DB).expect("started by the parent test");
    let tag = std::env::var(CHILD_TAG).unwrap();
    let ks = KeyStore::open_file(db.as_ref()).unwrap();
    let offset = if tag == "A" { 0 } else { 1_000_000 };
    let mut out = std::io::stdout().lock();
    for n in 0..SHARED {
        let own = format!("{tag}.K{n}");
        ks.create(
            Family::Pka,
            own.as_bytes(),
            &pka_token(n + offset, 64 + n as usize),
        )
        .unwrap();
        let shared = format!("SHARED.K{n}");
        match ks.create(Family::Pka, shared.as_bytes(), b"") {
            Ok(()) => writeln!(out, "WON {shared}").unwrap(),
            Err(f) => assert_eq!(f, Failure::LabelExists),
        }
        ks.write(
            Family::Pka,
            shared.as_bytes(),
            &pka_token(n, 100),
            WriteMode::Overlay,
        )
        .unwrap();
    }
    out.flush().unwrap();
}

fn random_below(n: u64) -> u64 {
    RandomState::new().build_hasher().finish() % n
}

/// The token the crash child writes for record `i` of round `round`.
fn crash_token(round: u64, i: u64) -> Vec<u8> {
    let seed = round * 1_000_003 + i;
    pka_token(seed, 8 + (seed as usize * 997) % 7000)
}

#[test]
fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keystore.db");
    KeyStore::open_file(&db).unwrap();
    let mut acknowledged: Vec<(u64, u64)> = Vec::new();
    for round in 0..10u64 {
        let mut child = spawn_child("child_crash_writer", &db, &round.to_string());
        // The record the child overwrites: only this round's acknowledgement counts.
        let mut hot_acked: Option<(u64, u64)> = None;
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let stop_after = 1 + random_below(400);
        let mut seen = 0;
        let mut handle = |line: &str| {
            if let Some(i) = after(line, "ACK ") {
                acknowledged.push((round, i.parse().unwrap()));
            } else if let Some(i) = after(line, "HOT ") {
                hot_acked = Some((round, i.parse().unwrap()));
            }
        };
        while seen < stop_after {
            match lines.next() {
                Some(Ok(line)) => {
                    handle(&line);
                    seen += 1;
                }
                _ => break,
            }
        }
        child.kill().unwrap(); // SIGKILL
        // Lines printed before the kill were acknowledged too.
        for line in lines.map_while(Result::ok) {
            handle(&line);
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child ran to completion?");

        // Every acknowledged record is present and intact; no record is torn.
        let ks = KeyStore::open_file(&db).unwrap();
        assert!(
            ks.integrity_ok().unwrap(),
            "database damaged after round {round}"
        );
        eprintln!(
            "round {round}: killed after {seen} lines; {} records acknowledged so far",
            acknowledged.len()
        );
        for &(r, i) in &acknowledged {
            let label = format!("R{r}.K{i}");
            assert_eq!(
                ks.read(Family::Pka, label.as_bytes()).unwrap(),
                crash_token(r, i),
                "{label}"
            );
        }
        for label in ks.list(Family::Pka, b"*").unwrap() {
            let token = ks.read(Family::Pka, label.field().as_slice()).unwrap();
            if label.as_str() == "HOT" {
                continue;
            }
            let (r, i) = label.as_str().split_once(".K").unwrap();
            let (r, i): (u64, u64) = (r[1..].parse().unwrap(), i.parse().unwrap());
            assert_eq!(token, crash_token(r, i), "torn record {label}");
        }
        // The overwritten record holds the last acknowledged write or a later one.
        if let Some((r, i)) = hot_acked {
            let token = ks.read(Family::Pka, b"HOT").unwrap();
            let later = (i..i + 3).any(|j| token == crash_token(r, j + 500_000));
            assert!(later, "HOT lost its acknowledged write");
        }
    }
    assert!(!acknowledged.is_empty());
}

/// The child's work in `acknowledged_records_survive_kill_9`: writes until killed.
#[test]
#[ignore = "runs as a child process of acknowledged_records_survive_kill_9"]
fn child_crash_writer() {
    let db = std::env::var_os(CHILD_DB).expect("started by the parent test");
    let round: u64 = std::env::var(CHILD_TAG).unwrap().parse().unwrap();
    let ks = KeyStore::open_file(db.as_ref()).unwrap();
    match ks.create(Family::Pka, b"HOT", b"") {
        Ok(()) | Err(Failure::LabelExists) => {}
        Err(f) => panic!("{f}"),
    }
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        ks.create(
            Family::Pka,
            format!("R{round}.K{i}").as_bytes(),
            &crash_token(round, i),
        )
        .unwrap();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
        ks.write(
            Family::Pka,
            b"HOT",
            &crash_token(round, i + 500_000),
            WriteMode::Overlay,
        )
        .unwrap();
        writeln!(out, "HOT {i}").unwrap();
        out.flush().unwrap();
    }
}
