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

use std::path::PathBuf;
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

struct Open {
    pid: u32,
    cca: Arc<Cca>,
}

static CARD: Mutex<Option<Open>> = Mutex::new(None);

fn open(target: &Target) -> Option<Cca> {
    match target {
        Target::Daemon(socket, timeout) => Cca::connect_with_timeout(socket, *timeout).ok(),
        Target::Embedded(home, model) => Cca::embedded(home, *model).ok(),
    }
}

/// This process's card, opened now if it is not open yet (or was opened by the parent of a
/// `fork`). 12/338 when it cannot be reached.
pub(crate) fn cca() -> Result<Arc<Cca>, Codes> {
    let pid = std::process::id();
    let mut card = CARD.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(open) = card.as_ref() {
        if open.pid == pid {
            return Ok(Arc::clone(&open.cca));
        }
        // Opened by the parent before a fork: the socket is the parent's (closing it would
        // shut the parent's connection down, since shutdown acts on the shared socket) and
        // its reader thread did not survive the fork. Leave it be; open our own.
        if let Some(inherited) = card.take() {
            std::mem::forget(inherited);
        }
    }
    let cca = Arc::new(open(&target()).ok_or(Failure::CardUnavailable.codes())?);
    *card = Some(Open {
        pid,
        cca: Arc::clone(&cca),
    });
    Ok(cca)
}

/// Closes this process's card (the next verb opens it again). Used by tests that switch
/// cards; an application never needs it.
pub fn reset() {
    let mut card = CARD.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(open) = card.take()
        && open.pid != std::process::id()
    {
        std::mem::forget(open);
    }
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
}
