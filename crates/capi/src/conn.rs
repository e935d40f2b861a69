//! The process's one card: found from the environment or the configuration file, opened on
//! the first verb, shared by every thread, opened again in a child after `fork`.
//!
//! How the library finds the card (the first that names it wins):
//! 1. `SOFTCCA_SOCKET`: the card daemon's Unix socket.
//! 2. `SOFTCCA_MODE=embedded` with `SOFTCCA_HOME`: the card runs inside this process, from
//!    that state directory (locked: one process at a time).
//! 3. `SOFTCCA_HOME`: the daemon listening in that state directory (`<home>/card.sock`).
//! 4. The configuration file, `SOFTCCA_CONF` or else `/etc/softcca/csulcca.conf`, lines
//!    `key = value` (`#` starts a comment): `socket = PATH`, `home = PATH`,
//!    `mode = daemon|embedded`, `model = 4767|4769` (embedded only, for a new card),
//!    `timeout = SECONDS` (how long a verb waits for the daemon, default 120;
//!    `SOFTCCA_TIMEOUT` overrides it). `SOFTCCA_MODE` and `SOFTCCA_MODEL` override `mode`
//!    and `model`.
//! 5. The default: the daemon `softcca serve` starts without options, at
//!    `./softcca-data/card.sock` (relative to the process's working directory).
//!
//! Host key storage (key labels, the CSNBKR*/CSNDKR* verbs) is `keystore.db` in the card's
//! state directory: the socket's directory for a daemon, `home` for an embedded card. Every
//! process reaching one card therefore sees the same records.
//!
//! No card reachable: the verb answers 12/338 and the next verb tries again; a missing
//! socket fails at once, never hangs.
//!
//! After `fork` the child opens its own connection on its first verb (the parent's stays
//! the parent's). An embedded card belongs to one process: its state directory is locked,
//! so a forked child (or a second program) answers 12/338 — use a daemon for more than one
//! process.
//!
//! Fork safety: a fork copies every lock as it was, and a lock that another thread of the
//! parent held at that moment stays held in the child for ever (that thread does not exist
//! there). The child therefore never waits on a lock the parent may have held: the card
//! lives in a `Slot` that names the process that made it, and a process whose pid is not
//! the slot's makes a fresh slot (with a fresh, unlocked lock) and leaves the inherited one
//! — lock, connection and all — untouched for ever (closing the inherited socket would shut
//! the parent's connection down). A `pthread_atfork` child handler, registered on the first
//! verb, also forgets the slot at once (an atomic store, async-signal-safe), so even a pid
//! that happens to equal an ancestor's never reaches the parent's slot. What remains outside
//! this library's reach: a Rust program of its own that is inside `std::env::set_var` on
//! another thread at the instant of the fork (the child's first verb reads the environment).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use softcca_card::{Codes, Failure, Model};
use softcca_host::Cca;

/// How long a verb waits for a daemon's answer unless `SOFTCCA_TIMEOUT` or the file's
/// `timeout` says otherwise (seconds): long enough for an RSA-4096 key generation on a busy
/// machine, short enough that a hung daemon is noticed.
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;

/// The configuration file when `SOFTCCA_CONF` names none.
pub const DEFAULT_CONF: &str = "/etc/softcca/csulcca.conf";

/// Where the card is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A card daemon's socket, and how long a verb waits for its answer.
    Daemon(PathBuf, Duration),
    /// A card run in this process from a state directory.
    Embedded(PathBuf, Option<Model>),
}

/// The settings of the configuration file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct FileConfig {
    socket: Option<PathBuf>,
    home: Option<PathBuf>,
    embedded: bool,
    model: Option<Model>,
    timeout: Option<u64>,
}

fn parse_conf(text: &str) -> FileConfig {
    let mut c = FileConfig::default();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "socket" if !v.is_empty() => c.socket = Some(PathBuf::from(v)),
            "home" if !v.is_empty() => c.home = Some(PathBuf::from(v)),
            "mode" => c.embedded = v.eq_ignore_ascii_case("embedded"),
            "model" => c.model = v.parse().ok().and_then(Model::from_number),
            "timeout" => c.timeout = v.parse().ok(),
            _ => {}
        }
    }
    c
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where this process's card is, by the rules of the module documentation.
pub fn target() -> Target {
    let conf_path = env("SOFTCCA_CONF").unwrap_or_else(|| DEFAULT_CONF.to_string());
    let file = std::fs::read_to_string(&conf_path)
        .map(|t| parse_conf(&t))
        .unwrap_or_default();
    let timeout = Duration::from_secs(
        env("SOFTCCA_TIMEOUT")
            .and_then(|t| t.parse().ok())
            .or(file.timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECS)
            .max(1),
    );
    if let Some(s) = env("SOFTCCA_SOCKET") {
        return Target::Daemon(PathBuf::from(s), timeout);
    }
    let env_embedded = env("SOFTCCA_MODE").map(|m| m.eq_ignore_ascii_case("embedded"));
    let model = env("SOFTCCA_MODEL")
        .and_then(|m| m.parse().ok())
        .and_then(Model::from_number)
        .or(file.model);
    if let Some(home) = env(softcca_platform::HOME_ENV) {
        let home = PathBuf::from(home);
        return if env_embedded.unwrap_or(file.embedded) {
            Target::Embedded(home, model)
        } else {
            Target::Daemon(softcca_platform::socket_path(&home), timeout)
        };
    }
    let home = file
        .home
        .clone()
        .unwrap_or_else(|| PathBuf::from(softcca_platform::DEFAULT_HOME));
    if env_embedded.unwrap_or(file.embedded) {
        return Target::Embedded(home, model);
    }
    Target::Daemon(
        file.socket
            .unwrap_or_else(|| softcca_platform::socket_path(&home)),
        timeout,
    )
}

/// One process's card: the pid of the process that made the slot and its connection,
/// opened on the first verb. Slots are made by [`slot`] and never freed (one per process
/// that calls a verb, a few dozen bytes), so a `&'static Slot` is sound.
struct Slot {
    pid: u32,
    card: Mutex<Option<Arc<Cca>>>,
}

/// This process's slot, or NULL before the first verb and in a child the fork handler has
/// run in. Holds only pointers from `Box::into_raw` in [`slot`], never freed.
static SLOT: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());

/// Whether the `pthread_atfork` child handler is registered.
static ATFORK: AtomicBool = AtomicBool::new(false);

/// Runs in the child of every `fork`, before `fork` returns there: forgets the parent's
/// slot (its lock may be held by a thread that does not exist in the child). Only an
/// atomic store: async-signal-safe, as POSIX asks of a child handler.
extern "C" fn forget_parent_slot() {
    SLOT.store(std::ptr::null_mut(), Ordering::SeqCst);
}

/// This process's slot, made now if there is none or it is an ancestor's.
fn slot() -> &'static Slot {
    if !ATFORK.swap(true, Ordering::AcqRel) {
        // SAFETY: registers a child handler that only stores to an atomic; the library is
        // linked `-z nodelete`, so the handler's code stays mapped for the process's life.
        // A failure (ENOMEM) leaves the pid check below as the only guard.
        let _ = unsafe { libc::pthread_atfork(None, None, Some(forget_parent_slot)) };
    }
    let pid = std::process::id();
    loop {
        let current = SLOT.load(Ordering::Acquire);
        // SAFETY: SLOT holds NULL or a pointer from `Box::into_raw` below, never freed.
        if let Some(s) = unsafe { current.as_ref() }
            && s.pid == pid
        {
            return s;
        }
        // No slot, or an ancestor's (its lock may be held for ever here): a fresh one. The
        // ancestor's is left as it is — its connection is the parent's.
        let fresh = Box::into_raw(Box::new(Slot {
            pid,
            card: Mutex::new(None),
        }));
        match SLOT.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: just installed; never freed from now on.
            Ok(_) => return unsafe { &*fresh },
            // Another thread installed one first: ours was never shared, free it and look
            // again.
            // SAFETY: `fresh` came from `Box::into_raw` above and no one else has seen it.
            Err(_) => drop(unsafe { Box::from_raw(fresh) }),
        }
    }
}

fn open(target: &Target) -> Option<Cca> {
    match target {
        Target::Daemon(socket, timeout) => Cca::connect_with_timeout(socket, *timeout).ok(),
        Target::Embedded(home, model) => Cca::embedded(home, *model).ok(),
    }
}

/// This process's card, opened now if it is not open yet (or was opened by the parent of a
/// `fork`: see the module documentation). 12/338 when it cannot be reached.
pub(crate) fn cca() -> Result<Arc<Cca>, Codes> {
    let mut card = slot().card.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cca) = card.as_ref() {
        return Ok(Arc::clone(cca));
    }
    let cca = Arc::new(open(&target()).ok_or(Failure::CardUnavailable.codes())?);
    *card = Some(Arc::clone(&cca));
    Ok(cca)
}

/// Closes this process's card (the next verb opens it again). Used by tests that switch
/// cards; an application never needs it.
pub fn reset() {
    slot()
        .card
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_file_is_read_line_by_line() {
        let c = parse_conf(
            "# softcca\nsocket = /run/softcca/card.sock\nhome=/var/lib/softcca # state\n\
             mode = embedded\nmodel = 4769\nnonsense\n",
        );
        assert_eq!(c.socket, Some(PathBuf::from("/run/softcca/card.sock")));
        assert_eq!(c.home, Some(PathBuf::from("/var/lib/softcca")));
        assert!(c.embedded);
        assert_eq!(c.model, Some(Model::Ibm4769));
        assert_eq!(parse_conf("timeout = 7").timeout, Some(7));
    }

    /// The deterministic form of the hazard: the card's lock is held (here by the forking
    /// thread itself, as another thread of the parent might hold it) at the instant of the
    /// fork. The child's first verb must not wait on it: it reaches for its own card (a
    /// socket that does not exist: 12/338 at once) and exits. Before slots, the child hung.
    #[test]
    fn a_child_never_waits_on_the_lock_held_at_the_fork() {
        let guard = slot().card.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: fork; the child runs only the closure below and `_exit`s, never returning
        // into the test harness.
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork failed");
        if child == 0 {
            let code = std::panic::catch_unwind(|| {
                // SAFETY: the child has one thread; nothing else reads the environment.
                unsafe { std::env::set_var("SOFTCCA_SOCKET", "/nonexistent/softcca/card.sock") };
                match cca() {
                    Err(c) if c == Failure::CardUnavailable.codes() => 0,
                    _ => 1,
                }
            })
            .unwrap_or(2);
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) };
        }
        drop(guard);
        let mut status = 0;
        let mut exited = false;
        for _ in 0..20_000 {
            // SAFETY: waits for our own child; `status` is a live local.
            if unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) } == child {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !exited {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, &mut status, 0);
            }
        }
        assert!(
            exited,
            "the child hung on the lock its parent held at the fork"
        );
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child's verb: status {status}"
        );
    }
}
