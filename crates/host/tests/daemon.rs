//! The host library against a real card daemon: the same card through the bus and embedded,
//! one `Cca` shared by many threads, a master-key ceremony, the library's own refusals, and a
//! daemon that goes away and comes back.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Codes, Model};
use softcca_host::{Cca, CcaError, OpenError, TransportError};

/// A call through the bus that has not answered after this long is taken to hang (the
/// library's own timeout is minutes); no test expects anything near it.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn memory_card(seed: u64) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    )
}

/// A card daemon on its own thread and tokio runtime, as `softcca serve` runs it: stopping it
/// completes its shutdown future, waits for `serve` to return and drops the runtime, as the
/// daemon process does when it exits.
struct Daemon {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Daemon {
    fn start(card: Arc<Card>, socket: &Path) -> Daemon {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let path = socket.to_path_buf();
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
            // Listening, not just bound: the socket file appears at bind(), a moment before
            // listen(), and a connect in between is refused (a flake seen under load).
            if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                return Daemon {
                    stop: Some(stop),
                    thread: Some(thread),
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

    /// Stops the daemon and waits until it is gone; `serve`'s result.
    fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the daemon thread did not panic")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn socket_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("card.sock")
}

/// Runs `f` on a thread of its own and fails the test if it has not returned after
/// [`HANG_GUARD`] (a hang, not a slow answer).
fn guarded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG_GUARD)
        .unwrap_or_else(|e| panic!("{what}: no answer ({e}): the call hangs"))
}

fn codes(err: CcaError) -> (i32, i32) {
    (err.codes.return_code, err.codes.reason_code)
}

fn parity_ok(bytes: &[u8], odd: bool) -> bool {
    bytes.iter().all(|b| (b.count_ones() % 2 == 1) == odd)
}

#[test]
fn daemon_and_embedded_are_the_same_card() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_in(&dir);
    let card = memory_card(11);
    let _daemon = Daemon::start(Arc::clone(&card), &socket);
    let remote = Cca::connect(&socket).unwrap();
    let local = Cca::with_card(Arc::clone(&card));

    let v_remote = remote.cryptographic_facility_version().unwrap();
    let v_local = local.cryptographic_facility_version().unwrap();
    assert_eq!(v_remote, v_local);
    assert_eq!(v_remote.version, "5.6.9");
    assert_eq!(v_remote.raw.len(), softcca_card::VERSION_DATA_LEN);

    let crd2_remote = remote.cryptographic_facility_query(&["STATCRD2"]).unwrap();
    let crd2_local = local.cryptographic_facility_query(&["STATCRD2"]).unwrap();
    assert_eq!(crd2_remote.len(), 16);
    assert_eq!(
        crd2_remote[14], crd2_local[14],
        "serial number (element 15)"
    );
    assert_eq!(crd2_remote[14], card.identity().serial);
    assert_eq!(crd2_remote, crd2_local);

    assert_eq!(remote.ping(b"x").unwrap().card_model, 4767);
    assert_eq!(local.ping(b"x").unwrap().card_model, 4767);

    let a = remote.random_number_generate_long(&["RANDOM"], 64).unwrap();
    let b = local.random_number_generate_long(&["RANDOM"], 64).unwrap();
    assert_eq!((a.len(), b.len()), (64, 64));
    assert_ne!(a, b);
    assert!(parity_ok(
        &remote.random_number_generate("ODD").unwrap(),
        true
    ));
    assert!(parity_ok(
        &local.random_number_generate("EVEN").unwrap(),
        false
    ));

    // A register change through one door is seen through the other.
    remote
        .master_key_process(&["AES-MK", "FIRST"], &[0x21; 32])
        .unwrap();
    let aes = local.cryptographic_facility_query(&["STATAES"]).unwrap();
    assert_eq!(&aes[0], b"2       ");
}

#[test]
fn sixteen_threads_share_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_in(&dir);
    let _daemon = Daemon::start(memory_card(12), &socket);
    let cca = Cca::connect(&socket).unwrap();
    let outputs: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

    std::thread::scope(|scope| {
        for t in 0..16 {
            let cca = &cca;
            let outputs = &outputs;
            scope.spawn(move || {
                let mut mine = Vec::new();
                for i in 0..300 {
                    match (t + i) % 3 {
                        0 => {
                            let r = cca.random_number_generate_long(&["ODD"], 32).unwrap();
                            assert_eq!(r.len(), 32);
                            assert!(parity_ok(&r, true), "odd parity: {r:02x?}");
                            mine.push(r);
                        }
                        1 => {
                            let e = cca.cryptographic_facility_query(&["STATCCA"]).unwrap();
                            assert_eq!(e.len(), 6);
                            assert_eq!(&e[3], b"5.6.9   ");
                        }
                        _ => {
                            let r = cca.random_number_generate("EVEN").unwrap();
                            assert!(parity_ok(&r, false), "even parity: {r:02x?}");
                            mine.push(r.to_vec());
                        }
                    }
                }
                outputs.lock().unwrap().extend(mine);
            });
        }
    });

    let outputs = outputs.into_inner().unwrap();
    assert_eq!(outputs.len(), 16 * 200);
    let distinct: HashSet<&Vec<u8>> = outputs.iter().collect();
    assert_eq!(distinct.len(), outputs.len(), "a random output came twice");
}

#[test]
fn master_key_ceremony_and_verb_errors_through_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_in(&dir);
    let _daemon = Daemon::start(memory_card(13), &socket);
    let cca = Cca::connect(&socket).unwrap();

    let before = cca.cryptographic_facility_query(&["STATAES"]).unwrap();
    assert_eq!(before, vec![*b"1       ", *b"1       ", *b"1       "]);
    let first: Vec<u8> = (0u8..32).collect();
    let last: Vec<u8> = (0u8..32).map(|b| b.wrapping_mul(37) ^ 0xA5).collect();
    assert_eq!(
        cca.master_key_process(&["AES-MK", "FIRST"], &first)
            .unwrap(),
        Codes::OK
    );
    assert_eq!(
        cca.cryptographic_facility_query(&["STATAES"]).unwrap()[0],
        *b"2       "
    );
    assert_eq!(
        cca.master_key_process(&["AES-MK", "LAST"], &last).unwrap(),
        Codes::OK
    );
    assert_eq!(
        cca.cryptographic_facility_query(&["STATAES"]).unwrap()[0],
        *b"3       "
    );
    assert_eq!(
        cca.master_key_process(&["AES-MK", "SET"], &[]).unwrap(),
        Codes::OK
    );
    let after = cca.cryptographic_facility_query(&["STATAES"]).unwrap();
    assert_eq!(after[1], *b"2       ", "CMK loaded");
    assert_eq!(after, vec![*b"1       ", *b"2       ", *b"1       "]);

    // Verb errors: from the card, and from the library itself.
    let e = cca.random_number_generate_long(&["RANDOM"], 0).unwrap_err();
    assert_eq!(codes(e), (8, 72));
    let e = cca
        .random_number_generate_long(&["RANDOM"], 8193)
        .unwrap_err();
    assert_eq!(codes(e), (8, 72));
    let e = cca
        .random_number_generate_long(&["NINECHARS"], 16)
        .unwrap_err();
    assert_eq!(codes(e), (8, 33));
    let e = cca
        .master_key_process(&["AES-MK", "TOOLONGKW"], &[0; 32])
        .unwrap_err();
    assert_eq!(codes(e), (8, 33));
    let many = vec!["RANDOM"; 65];
    let e = cca.random_number_generate_long(&many, 16).unwrap_err();
    assert_eq!(codes(e), (8, 35));
    // 64 keywords is a rule array the bus carries; the card refuses it for this verb.
    let e = cca
        .random_number_generate_long(&many[..64], 16)
        .unwrap_err();
    assert_eq!(codes(e), (8, 35));
    // None of that disturbed the registers.
    assert_eq!(
        cca.cryptographic_facility_query(&["STATAES"]).unwrap(),
        after
    );
}

#[test]
fn daemon_gone_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_in(&dir);
    let card = memory_card(14);
    let daemon = Daemon::start(Arc::clone(&card), &socket);
    let cca = Arc::new(Cca::connect(&socket).unwrap());
    assert_eq!(
        cca.random_number_generate_long(&["RANDOM"], 16)
            .unwrap()
            .len(),
        16
    );

    daemon.stop().unwrap();
    assert!(!socket.exists(), "serve removes its socket on return");

    // The old handle notices the closed connection: an error, not a hang.
    let c = Arc::clone(&cca);
    let r = guarded("verb with the daemon gone", move || {
        c.random_number_generate_long(&["RANDOM"], 16)
    });
    assert_eq!(codes(r.unwrap_err()), (12, 338));
    // And again (now through a reconnection attempt to the missing socket).
    let c = Arc::clone(&cca);
    let r = guarded("second verb with the daemon gone", move || {
        c.cryptographic_facility_query(&["STATCCA"])
    });
    assert_eq!(codes(r.unwrap_err()), (12, 338));
    let c = Arc::clone(&cca);
    let p = guarded("ping with the daemon gone", move || c.ping(b"anyone?"));
    assert!(p.is_err(), "ping answered by nobody: {p:?}");

    // The library's own refusals never reach the bus: they answer the same with no daemon.
    let e = cca
        .random_number_generate_long(&["NINECHARS"], 16)
        .unwrap_err();
    assert_eq!(codes(e), (8, 33));
    let e = cca
        .random_number_generate_long(&["RANDOM"; 65], 16)
        .unwrap_err();
    assert_eq!(codes(e), (8, 35));

    match Cca::connect(&socket) {
        Err(OpenError::Transport(TransportError::Connect(path, _))) => assert_eq!(path, socket),
        other => panic!("connect with no daemon: {other:?}"),
    }

    // A new daemon on the same socket (the same card): the old handle reconnects.
    let _daemon = Daemon::start(Arc::clone(&card), &socket);
    let c = Arc::clone(&cca);
    let r = guarded("verb after the daemon came back", move || {
        c.random_number_generate_long(&["RANDOM"], 24)
    });
    assert_eq!(r.unwrap().len(), 24);
    let crd2 = cca.cryptographic_facility_query(&["STATCRD2"]).unwrap();
    assert_eq!(crd2[14], card.identity().serial);
    assert_eq!(cca.ping(b"back").unwrap().echo, b"back");
    assert!(Cca::connect(&socket).is_ok());
}

#[test]
fn one_way_hash_chains_across_both_doors() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_in(&dir);
    let card = memory_card(12);
    let _daemon = Daemon::start(Arc::clone(&card), &socket);
    let remote = Cca::connect(&socket).unwrap();
    let local = Cca::with_card(Arc::clone(&card));

    let mut cv = [0u8; 128];
    let only = remote
        .one_way_hash(&["SHA-256"], b"abc", &mut cv, 32)
        .unwrap();
    assert_eq!(
        only,
        [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
            0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
            0xf2, 0x00, 0x15, 0xad
        ]
    );
    let text = [0x61u8; 200];
    let first = remote
        .one_way_hash(&["SHA-256", "FIRST"], &text[..128], &mut cv, 32)
        .unwrap();
    assert_eq!(first.len(), 32);
    let last = local
        .one_way_hash(&["SHA-256", "LAST"], &text[128..], &mut cv, 32)
        .unwrap();
    let mut cv2 = [0u8; 128];
    assert_eq!(
        last,
        local
            .one_way_hash(&["SHA-256"], &text, &mut cv2, 32)
            .unwrap()
    );
    assert_eq!(cv, [0u8; 128], "LAST clears the vector");
    let err = remote
        .one_way_hash(&["SHA-256", "MIDDLE"], &text[..64], &mut cv, 32)
        .unwrap_err();
    assert_eq!(codes(err), (8, 72));
    let err = remote
        .one_way_hash(&["SHA-256", "FIRST"], &text[..65], &mut cv, 32)
        .unwrap_err();
    assert_eq!(codes(err), (8, 25));
}
