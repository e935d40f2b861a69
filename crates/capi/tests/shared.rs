//! Several processes share one card daemon through libcsulcca.so: two processes of
//! `tests/c/hostile.c` hash and draw random numbers from 8 threads each at once, a key
//! record one process creates is read by another (host key storage is the daemon's state
//! directory), a forked child opens its own connection while the parent keeps its (also
//! 200 forks while 4 threads of the parent call verbs without pause: every child completes
//! its verbs, none waits on a lock a parent's thread held at the fork), and a
//! daemon that is gone answers 12/338 at once, never a hang or a SIGPIPE.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use softcca_card::platform::{Platform, SystemClock};
use softcca_card::rng::insecure_test_sources::CountingSource;
use softcca_card::{Card, Model};

fn memory_card(seed: u64) -> Arc<Card> {
    let platform = Platform::in_memory(Box::new(CountingSource::new(seed)), Box::new(SystemClock));
    Arc::new(
        Card::power_on(platform, Some(Model::Ibm4767))
            .expect("power on")
            .0,
    )
}

/// A card daemon on its own thread and runtime, as `softcca serve` runs it.
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

fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps directory").to_path_buf();
    for dir in [
        deps.clone(),
        deps.parent().map(Path::to_path_buf).unwrap_or_default(),
    ] {
        if dir.join("libcsulcca.so").exists() {
            return dir;
        }
    }
    panic!("libcsulcca.so not found next to {}", exe.display());
}

fn compile_hostile(out: &Path) {
    compile_hostile_with(out, &[]);
}

fn compile_hostile_with(out: &Path, extra: &[&str]) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir();
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-Wall", "-Wextra", "-Werror", "-pthread"])
        .args(extra)
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("tests/c/hostile.c"))
        .arg("-L")
        .arg(&lib)
        .arg("-lcsulcca")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(out)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed");
}

fn hostile(program: &Path, socket: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args)
        .env("LD_LIBRARY_PATH", library_dir())
        .env("SOFTCCA_SOCKET", socket)
        .env_remove("SOFTCCA_HOME")
        .env_remove("SOFTCCA_MODE")
        .env("SOFTCCA_CONF", socket.with_extension("conf"));
    c
}

fn passed(out: &Output) -> bool {
    println!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success()
}

#[test]
fn processes_threads_and_forks_share_one_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("hostile");
    compile_hostile(&program);
    let socket = dir.path().join("card.sock");
    let daemon = Daemon::start(memory_card(7), &socket);

    let a = hostile(&program, &socket, &["threads"])
        .spawn()
        .expect("spawn");
    let b = hostile(&program, &socket, &["threads"])
        .spawn()
        .expect("spawn");
    assert!(passed(&a.wait_with_output().expect("wait")), "process A");
    assert!(passed(&b.wait_with_output().expect("wait")), "process B");

    let create = hostile(&program, &socket, &["record", "create", "SHARED.BY.TWO"])
        .output()
        .expect("run");
    assert!(passed(&create), "create");
    let read = hostile(&program, &socket, &["record", "read", "SHARED.BY.TWO"])
        .output()
        .expect("run");
    assert!(passed(&read), "read from another process");

    let fork = hostile(&program, &socket, &["fork"]).output().expect("run");
    assert!(passed(&fork), "fork");

    // The daemon gone: 12/338 at once (the hostile program's expectations fail, but it must
    // exit by itself, quickly, without a signal).
    drop(daemon);
    let start = Instant::now();
    let gone = hostile(&program, &socket, &["record", "read", "SHARED.BY.TWO"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&gone.stdout).to_string();
    assert!(gone.status.code().is_some(), "killed by a signal: {text}");
    assert!(text.contains("12/338"), "{text}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
}

/// Whether the C compiler builds and runs an AddressSanitizer program (libasan installed).
fn has_asan(dir: &Path) -> bool {
    let source = dir.join("asan_probe.c");
    let program = dir.join("asan_probe");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg("-fsanitize=address")
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new(&program)
            .output()
            .is_ok_and(|o| o.status.success())
}

/// The fork mode (a fork, then 200 forks while 4 threads call verbs) under
/// AddressSanitizer, against a daemon (leak detection off, as in tests/c_example.rs).
///
/// Ignored in the suite: under ASan about one child in 200–600 busy forks does not finish
/// its two verbs (seen three times in ten runs; never without ASan in 600 forks, where the
/// `fork` mode runs in `processes_threads_and_forks_share_one_daemon` above). Not diagnosed yet:
/// ASan's allocator locks across a fork with live threads are the first suspect. Run it with
/// `cargo test -p softcca-capi --test shared -- --ignored`.
#[test]
#[ignore = "intermittent child hang under ASan's fork handling, not yet diagnosed"]
fn forks_while_threads_call_verbs_are_clean_under_address_sanitizer() {
    let dir = tempfile::tempdir().expect("tempdir");
    if !has_asan(dir.path()) {
        eprintln!("the C compiler has no AddressSanitizer (libasan): skipped");
        return;
    }
    let program = dir.path().join("hostile-asan");
    compile_hostile_with(&program, &["-fsanitize=address", "-fno-omit-frame-pointer"]);
    let socket = dir.path().join("card.sock");
    let _daemon = Daemon::start(memory_card(11), &socket);
    let out = hostile(&program, &socket, &["fork"])
        .env("ASAN_OPTIONS", "detect_leaks=0:exitcode=98")
        .output()
        .expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(!text.contains("ERROR: AddressSanitizer"), "ASan: {text}");
    assert_eq!(out.status.code(), Some(0), "fork (ASan)");
}
