//! The card's life through the `softcca` command, as an operator lives it: CLU's ST, VA, PL
//! and RS, master keys loaded with the panel, sensor events played with `softcca tamper`,
//! the power-on self-test seen through a daemon, and an operator's own factory PKI.
//!
//! Every test runs real processes: a `softcca serve` daemon and `softcca` client
//! subcommands, checked by exit status and output.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{Daemon, status_field};
use softcca_host::{Cca, CcaError};
use softcca_wire::{Param, VerbName, VerbRequest};

/// A known AES master key, loaded as two clear parts; the key is `P1 XOR P2`.
const AES_P1: &str = "0123456789ABCDEFFEDCBA98765432100F1E2D3C4B5A69788796A5B4C3D2E1F0";
const AES_P2: &str = "A5C3E1F7092B4D6F8193B5D7F91B3D5F7E6C5A4B39281706F5E4D3C2B1A09F8E";

/// How many times a polling loop looks before it gives up.
const POLL_LIMIT: usize = 1200;
/// The pause between two looks of a polling loop.
const POLL_PAUSE: Duration = Duration::from_millis(50);

/// What one `softcca` subcommand did.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from_output(output: Output) -> Run {
        Run {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    fn success(self, what: &str) -> String {
        assert!(
            self.ok,
            "{what} failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts failure and returns stdout.
    fn failure(self, what: &str) -> String {
        assert!(
            !self.ok,
            "{what} succeeded but should have failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }
}

/// Runs `softcca ARGS`.
fn softcca(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_softcca"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run softcca");
    Run::from_output(output)
}

/// Runs `softcca ARGS --home HOME`.
fn softcca_on(home: &Path, args: &[&str]) -> Run {
    let home = home.to_str().expect("utf-8 temporary path");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--home", home]);
    softcca(&all)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temporary path")
}

/// `clu st`'s output (the command must succeed).
fn clu_st(home: &Path) -> String {
    softcca_on(home, &["clu", "st"]).success("clu st")
}

/// Asserts that `text` has `line` as one of its lines, exactly.
fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line {line:?} in:\n{text}"
    );
}

fn driver_status_line(code: &str) -> String {
    format!("  Driver Status      : {code}")
}

/// The hex of `p1 XOR p2`.
fn xor_hex(p1: &str, p2: &str) -> Vec<u8> {
    let a = hex::decode(p1).expect("hex");
    let b = hex::decode(p2).expect("hex");
    a.iter().zip(&b).map(|(x, y)| x ^ y).collect()
}

/// Loads AES_P1 and AES_P2 as the AES master key with `softcca panel` and makes it current.
fn load_known_aes_master_key(home: &Path) {
    let out = softcca_on(
        home,
        &[
            "panel", "load", "--class", "AES-MK", "--part", "FIRST", "--hex", AES_P1,
        ],
    )
    .success("panel load FIRST");
    assert!(out.contains("AES-MK FIRST: return/reason code"), "{out}");
    let out = softcca_on(
        home,
        &[
            "panel", "load", "--class", "AES-MK", "--part", "LAST", "--hex", AES_P2,
        ],
    )
    .success("panel load LAST");
    assert!(out.contains("AES-MK New"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("AES-MK New") && l.contains("FULL")),
        "{out}"
    );
    let out = softcca_on(home, &["panel", "set", "--class", "AES-MK"]).success("panel set");
    assert!(
        out.lines()
            .any(|l| l.starts_with("AES-MK Current") && l.contains("LOADED")),
        "{out}"
    );
}

/// The verification pattern of AES-MK Current, or "EMPTY".
fn aes_current(cca: &Cca) -> String {
    status_field(cca, "AES-MK Current")
        .split_whitespace()
        .last()
        .unwrap_or("")
        .to_string()
}

/// Asserts that a verb worked.
fn assert_verbs_work(cca: &Cca) {
    let random = cca
        .random_number_generate_long(&["RANDOM"], 32)
        .expect("CSNBRNGL works");
    assert_eq!(random.len(), 32);
    cca.cryptographic_facility_query(&["STATCCA"])
        .expect("CSUACFQ works");
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, CcaError>, what: &str) {
    match result {
        Err(e) => assert_eq!(
            (e.codes.return_code, e.codes.reason_code),
            (12, 338),
            "{what}: {e}"
        ),
        Ok(v) => panic!("{what} answered {v:?}, expected 12/338"),
    }
}

/// Asserts that verbs answer 12/338.
fn assert_verbs_unavailable(cca: &Cca) {
    assert_unavailable(cca.random_number_generate_long(&["RANDOM"], 32), "CSNBRNGL");
    assert_unavailable(cca.cryptographic_facility_query(&["STATCCA"]), "CSUACFQ");
    assert_unavailable(cca.master_key_process(&["AES-MK", "CLEAR"], &[]), "CSNBMKP");
}

/// A fresh state directory with a daemon on it.
fn fresh_card() -> (tempfile::TempDir, PathBuf, Daemon) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("card");
    let daemon = Daemon::start(&home, &[]);
    (dir, home, daemon)
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("dir entry");
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out
}

/// Every 16-byte window of `secret`.
fn windows16(secret: &[u8]) -> Vec<&[u8]> {
    secret.windows(16).collect()
}

/// The files under `dir` that hold any 16-byte window of any of `secrets`.
fn files_holding(dir: &Path, secrets: &[&[u8]]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for (index, secret) in secrets.iter().enumerate() {
            if windows16(secret)
                .iter()
                .any(|w| bytes.windows(w.len()).any(|b| b == *w))
            {
                found.push(format!("{} (secret {index})", file.display()));
            }
        }
    }
    found
}

/// A `softcca serve` started by the test itself; killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the daemon's socket answers a ping; returns a connection.
fn connect_when_up(socket: &Path) -> Cca {
    for _ in 0..POLL_LIMIT {
        if let Ok(cca) = Cca::connect(socket)
            && cca.ping(b"up").is_ok()
        {
            return cca;
        }
        std::thread::sleep(POLL_PAUSE);
    }
    panic!("the daemon never answered on {}", socket.display());
}

/// Polls CSUACFQ STATCCA every 50 ms until it succeeds, then `after` more times. Returns
/// the outcomes: `Err(codes)` or `Ok(())`, in order.
fn poll_statcca(cca: &Cca, after: usize) -> Vec<Result<(), (i32, i32)>> {
    let mut outcomes = Vec::new();
    let mut successes = 0;
    for _ in 0..POLL_LIMIT {
        let outcome = cca
            .cryptographic_facility_query(&["STATCCA"])
            .map(|_| ())
            .map_err(|e| (e.codes.return_code, e.codes.reason_code));
        if outcome.is_ok() {
            successes += 1;
        }
        outcomes.push(outcome);
        if successes > after {
            return outcomes;
        }
        std::thread::sleep(POLL_PAUSE);
    }
    panic!("STATCCA never succeeded: {outcomes:?}");
}

/// Asserts the shape of a POST as a poller saw it: one or more 12/338, then only successes.
fn assert_post_shape(outcomes: &[Result<(), (i32, i32)>], what: &str) {
    let first_ok = outcomes
        .iter()
        .position(Result::is_ok)
        .unwrap_or_else(|| panic!("{what}: never ready: {outcomes:?}"));
    assert!(
        first_ok > 0,
        "{what}: the first verb already succeeded; the POST was not seen: {outcomes:?}"
    );
    for outcome in &outcomes[..first_ok] {
        assert_eq!(
            outcome,
            &Err((12, 338)),
            "{what}: during the POST: {outcomes:?}"
        );
    }
    assert!(
        outcomes[first_ok..].iter().all(Result::is_ok),
        "{what}: a verb failed after the card was ready: {outcomes:?}"
    );
}

#[test]
fn st_layout() {
    let (_dir, home, daemon) = fresh_card();
    let cca = Cca::connect(&daemon.socket()).expect("connect");
    let serial = status_field(&cca, "Serial Number");
    let st = clu_st(&home);
    for line in [
        "ROM Status",
        "  Page 1 Certified   : YES",
        "  Segment-1 State    : INITIALIZED",
        "  Segment-2 State    : RUNNABLE",
        "  Segment-2 Owner ID : 2",
        "  Segment-3 State    : RUNNABLE",
        "  Segment-3 Owner ID : 2",
        "  Secure Part Number : 00LV498",
    ] {
        assert_line(&st, line);
    }
    assert_eq!(serial.len(), 8, "serial {serial:?}");
    assert!(serial.starts_with("93"), "serial {serial:?}");
    assert_line(&st, &format!("  Serial Number      : {serial}"));
    let hash = st
        .lines()
        .find_map(|l| l.strip_prefix("  Segment-3 Hash     : "))
        .unwrap_or_else(|| panic!("no Segment-3 Hash line in:\n{st}"));
    let groups: Vec<&str> = hash.split(' ').collect();
    assert_eq!(groups.len(), 32, "hash {hash:?}");
    for group in groups {
        assert_eq!(group.len(), 4, "hash {hash:?}");
        assert!(
            group
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
            "hash {hash:?}"
        );
    }
}

#[test]
fn va_succeeds_then_fails_after_zeroization() {
    let (_dir, home, daemon) = fresh_card();
    let out = softcca_on(&home, &["clu", "va"]).success("clu va");
    assert_line(&out, "  Validation         : SUCCESSFUL");

    load_known_aes_master_key(&home);
    let master_key = xor_hex(AES_P1, AES_P2);
    let storage_key = std::fs::read(home.join("bbram").join("storage.key")).expect("storage key");
    assert_eq!(storage_key.len(), 32);
    // The scan finds what is there: the storage key in its own file.
    let before = files_holding(&home, &[&storage_key]);
    assert_eq!(before.len(), 1, "{before:?}");

    let out = softcca_on(&home, &["tamper", "mesh"]).success("tamper mesh");
    assert!(out.contains("8040FFF9"), "{out}");
    assert!(out.contains("zeroized and permanently disabled"), "{out}");

    let st = clu_st(&home);
    assert_line(&st, &driver_status_line("8040FFF9"));
    let out = softcca_on(&home, &["clu", "va"]).failure("clu va after mesh tamper");
    assert!(!out.contains("SUCCESSFUL"), "{out}");

    let secrets: [&[u8]; 2] = [&storage_key, &master_key];
    let holding = files_holding(&home, &secrets);
    assert!(
        holding.is_empty(),
        "secrets left after zeroization: {holding:?}"
    );
    assert!(
        !home.join("bbram").join("storage.key").exists(),
        "bbram/storage.key survived zeroization"
    );

    // The disabled state survives a restart.
    daemon.kill9();
    let daemon = Daemon::start(&home, &[]);
    let st = clu_st(&home);
    assert_line(&st, &driver_status_line("8040FFF9"));
    let cca = Cca::connect(&daemon.socket()).expect("connect");
    assert_verbs_unavailable(&cca);
    let out = softcca_on(&home, &["clu", "va"]).failure("clu va after restart");
    assert!(!out.contains("SUCCESSFUL"), "{out}");
    let holding = files_holding(&home, &secrets);
    assert!(holding.is_empty(), "secrets after restart: {holding:?}");
    assert!(!home.join("bbram").join("storage.key").exists());
}

#[test]
fn dead_battery_and_battery_replacement() {
    let (_dir, home, daemon) = fresh_card();
    load_known_aes_master_key(&home);
    let cca = Cca::connect(&daemon.socket()).expect("connect");
    let pattern = aes_current(&cca);
    assert_ne!(pattern, "EMPTY");

    let out = softcca_on(&home, &["tamper", "battery-low"]).success("tamper battery-low");
    assert!(out.contains("8040FFFE"), "{out}");
    assert_line(&clu_st(&home), &driver_status_line("8040FFFE"));
    assert_verbs_work(&cca);

    let out = softcca_on(&home, &["tamper", "battery-replaced"]).success("battery-replaced");
    assert!(out.contains("00000000"), "{out}");
    assert_line(&clu_st(&home), &driver_status_line("00000000"));
    assert_eq!(aes_current(&cca), pattern, "the master key survived");
    assert_verbs_work(&cca);

    let storage_key = std::fs::read(home.join("bbram").join("storage.key")).expect("storage key");
    let out = softcca_on(&home, &["tamper", "battery-dead"]).success("tamper battery-dead");
    assert!(out.contains("8040FFDA"), "{out}");
    assert!(out.contains("zeroized"), "{out}");
    let st = clu_st(&home);
    assert_line(&st, &driver_status_line("8040FFDA"));
    assert!(st.contains("ZEROIZED"), "{st}");
    assert_eq!(aes_current(&cca), "EMPTY");
    assert_verbs_unavailable(&cca);
    assert!(!home.join("bbram").join("storage.key").exists());
    let master_key = xor_hex(AES_P1, AES_P2);
    let holding = files_holding(&home, &[&storage_key, &master_key]);
    assert!(holding.is_empty(), "{holding:?}");
}

#[test]
fn intrusion_latch_and_reset_bit() {
    let (_dir, home, daemon) = fresh_card();
    load_known_aes_master_key(&home);
    let cca = Cca::connect(&daemon.socket()).expect("connect");
    let pattern = aes_current(&cca);
    assert_ne!(pattern, "EMPTY");

    let out = softcca_on(&home, &["tamper", "intrusion"]).success("tamper intrusion");
    assert!(out.contains("8040FFBF"), "{out}");
    let st = clu_st(&home);
    assert_line(&st, &driver_status_line("8040FFBF"));
    assert_line(&st, "  Intrusion Latch    : SET");
    assert_verbs_work(&cca);

    let response = cca.call(VerbRequest {
        verb: VerbName::new("CSUACFC").expect("verb name"),
        rule_array: vec![*b"RESET-IL"],
        params: vec![Param::Int(0), Param::Bytes(Vec::new())],
    });
    assert_eq!((response.return_code, response.reason_code), (0, 0));
    let st = clu_st(&home);
    assert_line(&st, &driver_status_line("00000000"));
    assert_line(&st, "  Intrusion Latch    : CLEAR");

    let out = softcca_on(&home, &["tamper", "reset-bit"]).success("tamper reset-bit");
    assert!(out.contains("8040FFFB"), "{out}");
    assert_line(&clu_st(&home), &driver_status_line("8040FFFB"));
    assert_verbs_unavailable(&cca);

    let out = softcca_on(&home, &["clu", "rs"]).success("clu rs");
    assert_line(&out, &driver_status_line("00000000"));
    assert_verbs_work(&cca);
    assert_eq!(
        aes_current(&cca),
        pattern,
        "the master key survived the reset"
    );
    assert_line(&clu_st(&home), &driver_status_line("00000000"));
}

#[test]
fn load_reload_and_refuse() {
    let (dir, home, _daemon) = fresh_card();
    let build = |version: &str, factory: Option<&Path>, out: &Path| {
        let name = format!("{version} CCA");
        let mut args = vec![
            "firmware",
            "build",
            "--segment",
            "3",
            "--version",
            version,
            "--name",
            &name,
            "--out",
            path_str(out),
        ];
        if let Some(f) = factory {
            args.extend(["--factory", path_str(f)]);
        }
        softcca(&args).success("firmware build");
    };

    let good = dir.path().join("cca-5.6.10.clu");
    build("5.6.10", None, &good);
    let out = softcca_on(&home, &["clu", "pl", path_str(&good)]).success("clu pl 5.6.10");
    assert_line(&out, &driver_status_line("00000000"));
    let st = clu_st(&home);
    assert_line(&st, "  Segment-3 Image    : 5.6.10 CCA");
    assert_line(&st, "  Segment-3 Revision : 50610");
    assert_line(&st, "  Segment-3 State    : RUNNABLE");

    // Signed by another factory's code-signing key.
    let rogue = dir.path().join("rogue-factory");
    softcca(&["factory", "new-root", path_str(&rogue)]).success("factory new-root");
    let wrong = dir.path().join("cca-5.6.11-rogue.clu");
    build("5.6.11", Some(&rogue), &wrong);
    let out = softcca_on(&home, &["clu", "pl", path_str(&wrong)]).failure("clu pl rogue");
    assert!(out.contains("84400802"), "{out}");
    let st = clu_st(&home);
    assert_line(&st, "  Segment-3 Image    : 5.6.10 CCA");
    assert_line(&st, "  Segment-3 Revision : 50610");

    let old = dir.path().join("cca-5.6.8.clu");
    build("5.6.8", None, &old);
    let out = softcca_on(&home, &["clu", "pl", path_str(&old)]).failure("clu pl 5.6.8");
    assert!(out.contains("84400804"), "{out}");
    let st = clu_st(&home);
    assert_line(&st, "  Segment-3 Image    : 5.6.10 CCA");
    assert_line(&st, "  Segment-3 Revision : 50610");
}

#[test]
fn post_polling_through_the_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("card");
    let child = Command::new(env!("CARGO_BIN_EXE_softcca"))
        .args(["serve", "--home", path_str(&home), "--post-seconds", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn softcca serve");
    let serve = Serve(child);
    let socket = home.join("card.sock");
    connect_when_up(&socket);

    let poller = {
        let socket = socket.clone();
        std::thread::spawn(move || {
            let cca = Cca::connect(&socket).expect("connect");
            poll_statcca(&cca, 10)
        })
    };
    let outcomes = poller.join().expect("poller");
    assert_post_shape(&outcomes, "power-on");

    // CLU's RS starts a new POST.
    let out = softcca_on(&home, &["clu", "rs"]).success("clu rs");
    assert_line(&out, &driver_status_line("00000000"));
    let poller = {
        let socket = socket.clone();
        std::thread::spawn(move || {
            let cca = Cca::connect(&socket).expect("connect");
            poll_statcca(&cca, 10)
        })
    };
    let outcomes = poller.join().expect("poller");
    assert_post_shape(&outcomes, "after clu rs");
    drop(serve);
}

#[test]
fn operator_factory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let factory = dir.path().join("factory");
    softcca(&["factory", "new-root", path_str(&factory)]).success("factory new-root");
    softcca(&[
        "factory",
        "new-class",
        "--part-number",
        "00LV498",
        path_str(&factory),
    ])
    .success("factory new-class");
    for name in [
        "root.cert",
        "code-signing.key",
        "code-signing.cert",
        "class-00LV498.key",
        "class-00LV498.cert",
        "00LV498v.clu",
    ] {
        let path = factory.join(name);
        let len = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        assert!(len > 0, "{} is empty", path.display());
    }

    let home = dir.path().join("card2");
    let _daemon = Daemon::start(&home, &["--factory", path_str(&factory)]);
    let st = clu_st(&home);
    assert_line(&st, "  Segment-3 State    : RUNNABLE");
    assert_line(&st, &driver_status_line("00000000"));

    let out = softcca_on(&home, &["clu", "va"]).failure("clu va with the development root");
    assert!(out.contains("Validation         : FAILED"), "{out}");
    let root = factory.join("root.cert");
    let out = softcca_on(&home, &["clu", "va", "--root", path_str(&root)]).success("clu va --root");
    assert_line(&out, "  Validation         : SUCCESSFUL");
}
