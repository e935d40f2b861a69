//! What the card needs from the world outside its boundary, as small traits.
//!
//! The card core does no I/O: its clock, its entropy, its flash memory and its battery-backed
//! RAM come in through these traits. `softcca-platform` implements them over the operating
//! system and a state directory; the in-memory versions here serve tests and throw-away cards.

use std::io;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::rng::EntropySource;

/// The card's real-time clock.
pub trait Clock: Send + Sync {
    /// Seconds since 1970-01-01 00:00:00 UTC.
    fn now_unix(&self) -> u64;
    /// Time elapsed on a clock that never goes back (for the self-test's duration).
    fn monotonic(&self) -> Duration;
}

/// The card's flash memory: named blobs (the card's state, its firmware segment images).
///
/// `write` must be atomic: after a crash at any instant, `read` returns either the bytes of
/// the last completed `write` of that name or those of the one before, never a mixture.
/// Names are short, of `a-z`, `0-9`, `-` and `.` only.
pub trait Flash: Send + Sync {
    /// The blob last written under `name`, or `None`.
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Replaces the blob atomically and durably; returns only once it would survive a crash.
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Removes a blob (absent is not an error).
    fn remove(&self, name: &str) -> io::Result<()>;
    /// The names of every blob, sorted.
    fn names(&self) -> io::Result<Vec<String>>;
}

/// Whether `name` is a valid flash blob name.
pub fn valid_blob_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// The card's battery-backed RAM: it holds the storage key that enciphers every secret the
/// card keeps in flash. Kept apart from flash so that destroying it (zeroization) makes the
/// flash contents useless.
pub trait BatteryRam: Send + Sync {
    /// The stored key material, or `None` if the battery-backed RAM is empty.
    fn read(&self) -> io::Result<Option<Zeroizing<Vec<u8>>>>;
    /// Stores key material atomically and durably.
    fn write(&self, bytes: &[u8]) -> io::Result<()>;
    /// Destroys the contents beyond recovery.
    fn zeroize(&self) -> io::Result<()>;
}

impl<T: Flash + ?Sized> Flash for std::sync::Arc<T> {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        (**self).read(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        (**self).write(name, bytes)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        (**self).remove(name)
    }

    fn names(&self) -> io::Result<Vec<String>> {
        (**self).names()
    }
}

impl<T: BatteryRam + ?Sized> BatteryRam for std::sync::Arc<T> {
    fn read(&self) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
        (**self).read()
    }

    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        (**self).write(bytes)
    }

    fn zeroize(&self) -> io::Result<()> {
        (**self).zeroize()
    }
}

/// Everything the card is built from.
pub struct Platform {
    /// The raw noise source that seeds the card's DRBG (through the health tests).
    pub entropy: Box<dyn EntropySource>,
    /// The card's clock.
    pub clock: Box<dyn Clock>,
    /// Flash memory for the card's state.
    pub flash: Box<dyn Flash>,
    /// Battery-backed RAM for the storage key.
    pub bbram: Box<dyn BatteryRam>,
}

impl Platform {
    /// A throw-away card's platform: the given entropy and clock, flash and battery-backed RAM
    /// in memory (lost with the process). For tests and single-use embedded cards.
    pub fn in_memory(entropy: Box<dyn EntropySource>, clock: Box<dyn Clock>) -> Platform {
        Platform {
            entropy,
            clock,
            flash: Box::new(MemoryFlash::default()),
            bbram: Box::new(MemoryBatteryRam::default()),
        }
    }
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").finish_non_exhaustive()
    }
}

/// The host's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn monotonic(&self) -> Duration {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that always reads the same instant (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now_unix(&self) -> u64 {
        self.0
    }

    /// Never advances: a card on this clock is ready as soon as its self-test has run, and
    /// only with a zero self-test duration.
    fn monotonic(&self) -> Duration {
        Duration::ZERO
    }
}

/// Flash that lives in memory and is lost with the process.
#[derive(Debug, Default)]
pub struct MemoryFlash(Mutex<std::collections::BTreeMap<String, Vec<u8>>>);

impl Flash for MemoryFlash {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.0.lock().map_err(|_| poisoned())?.get(name).cloned())
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        if !valid_blob_name(name) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        self.0
            .lock()
            .map_err(|_| poisoned())?
            .insert(name.to_string(), bytes.to_vec());
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.0.lock().map_err(|_| poisoned())?.remove(name);
        Ok(())
    }

    fn names(&self) -> io::Result<Vec<String>> {
        Ok(self
            .0
            .lock()
            .map_err(|_| poisoned())?
            .keys()
            .cloned()
            .collect())
    }
}

/// Battery-backed RAM that lives in memory and is lost with the process.
#[derive(Default)]
pub struct MemoryBatteryRam(Mutex<Option<Zeroizing<Vec<u8>>>>);

impl std::fmt::Debug for MemoryBatteryRam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryBatteryRam(..)")
    }
}

impl BatteryRam for MemoryBatteryRam {
    fn read(&self) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
        Ok(self.0.lock().map_err(|_| poisoned())?.clone())
    }

    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        *self.0.lock().map_err(|_| poisoned())? = Some(Zeroizing::new(bytes.to_vec()));
        Ok(())
    }

    fn zeroize(&self) -> io::Result<()> {
        *self.0.lock().map_err(|_| poisoned())? = None;
        Ok(())
    }
}

fn poisoned() -> io::Error {
    io::Error::other("lock poisoned")
}
