//! Starting and stopping a real `softcca serve` process for the tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `softcca serve` child process; killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub home: PathBuf,
}

impl Daemon {
    /// Starts the daemon on `home` and waits until its socket answers a ping.
    pub fn start(home: &Path, extra: &[&str]) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_softcca"))
            .arg("serve")
            .arg("--home")
            .arg(home)
            .args(["--post-seconds", "0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn softcca serve");
        let daemon = Daemon {
            child,
            home: home.to_path_buf(),
        };
        daemon.wait_ready();
        daemon
    }

    pub fn socket(&self) -> PathBuf {
        self.home.join("card.sock")
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(cca) = softcca_host::Cca::connect(&self.socket())
                && cca.ping(b"ready").is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "daemon did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as `kill -9`.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small deterministic generator for test choices (not for keys).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The value of one `name : value` field of the device status.
pub fn status_field(cca: &softcca_host::Cca, name: &str) -> String {
    cca.device_status()
        .expect("device status")
        .fields
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {name}"))
}
