//! Two host processes with eight threads each share one card daemon and all get correct
//! answers.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;

use common::Daemon;
use softcca_host::Cca;

const CHILD_ENV: &str = "SOFTCCA_TEST_CHILD_SOCKET";
const THREADS: usize = 8;
const CALLS: usize = 150;

#[test]
fn two_processes_sixteen_threads_one_card() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&dir.path().join("card"), &["--dev"]);
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "child_client",
                    "--include-ignored",
                    "--nocapture",
                ])
                .env(CHILD_ENV, daemon.socket())
                .output()
                .expect("spawn child")
        })
        .collect();
    let mut seen = HashSet::new();
    for child in &children {
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(
            child.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&child.stderr)
        );
        for line in stdout.lines().filter_map(|l| l.strip_prefix("R:")) {
            assert!(seen.insert(line.to_string()), "duplicate random {line}");
        }
    }
    assert_eq!(seen.len(), 2 * THREADS * CALLS * 2);
}

/// The child process's work; runs only when the parent test starts it.
#[test]
#[ignore = "runs as a child process of two_processes_sixteen_threads_one_card"]
fn child_client() {
    let socket = std::env::var_os(CHILD_ENV).expect("started by the parent test");
    let cca = Arc::new(Cca::connect(socket.as_ref()).unwrap());
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let cca = Arc::clone(&cca);
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for i in 0..CALLS {
                    let long = cca
                        .random_number_generate_long(&["ODD"], 32 + i % 7)
                        .unwrap();
                    assert_eq!(long.len(), 32 + i % 7);
                    assert!(long.iter().all(|b| b.count_ones() % 2 == 1));
                    let short = cca.random_number_generate("EVEN").unwrap();
                    assert!(short.iter().all(|b| b.count_ones() % 2 == 0));
                    let cca_state = cca.cryptographic_facility_query(&["STATCCA"]).unwrap();
                    assert_eq!(
                        &cca_state[1], b"2       ",
                        "SYM current key loaded by --dev"
                    );
                    out.push(hex::encode(long));
                    out.push(hex::encode(short));
                }
                out
            })
        })
        .collect();
    for t in threads {
        for line in t.join().unwrap() {
            println!("R:{line}");
        }
    }
}
