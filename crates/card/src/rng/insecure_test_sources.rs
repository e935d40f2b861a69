//! INSECURE entropy sources — never ship; for tests and fuzzing only.
//!
//! None of these produce real entropy. They exist to drive [`CardRng`](super::CardRng)
//! deterministically and to exercise its fault paths.

use core::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{EntropySource, EntropyUnavailable};

/// Always returns the same byte (fails the Repetition Count Test).
pub struct StuckSource {
    byte: u8,
}

impl StuckSource {
    /// A source that emits `byte` forever.
    pub fn new(byte: u8) -> Self {
        Self { byte }
    }
}

impl fmt::Debug for StuckSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StuckSource")
            .field("byte", &self.byte)
            .finish()
    }
}

impl EntropySource for StuckSource {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyUnavailable> {
        buf.fill(self.byte);
        Ok(())
    }
}

/// Deterministic pseudo-random bytes (xorshift64*) from a seed. Passes the health tests.
pub struct CountingSource {
    state: Mutex<u64>,
}

impl CountingSource {
    /// A deterministic source; equal seeds give equal byte streams.
    pub fn new(seed: u64) -> Self {
        // xorshift has the all-zero fixed point; avoid it.
        let s = if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        };
        Self {
            state: Mutex::new(s),
        }
    }
}

impl fmt::Debug for CountingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingSource").finish_non_exhaustive()
    }
}

impl EntropySource for CountingSource {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyUnavailable> {
        let mut x = self.state.lock().map_err(|_| EntropyUnavailable)?;
        for b in buf.iter_mut() {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *b = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
        Ok(())
    }
}

/// Always fails with [`EntropyUnavailable`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FailingSource;

impl EntropySource for FailingSource {
    fn fill(&self, _buf: &mut [u8]) -> Result<(), EntropyUnavailable> {
        Err(EntropyUnavailable)
    }
}

struct ScriptedInner {
    calls: AtomicUsize,
    good_calls: AtomicUsize,
    good: CountingSource,
    stuck: u8,
}

/// Returns good (deterministic) bytes for the first N `fill` calls, then goes stuck on one
/// byte value. Handles made with [`ScriptedSource::clone_handle`] share the script, so a test
/// can keep one and change N with [`ScriptedSource::set_good_calls`] after handing the other
/// to a `CardRng`.
pub struct ScriptedSource {
    inner: Arc<ScriptedInner>,
}

impl ScriptedSource {
    /// Good bytes (from `CountingSource::new(seed)`) for `good_calls` calls, then `stuck_byte`.
    pub fn new(good_calls: usize, seed: u64, stuck_byte: u8) -> Self {
        Self {
            inner: Arc::new(ScriptedInner {
                calls: AtomicUsize::new(0),
                good_calls: AtomicUsize::new(good_calls),
                good: CountingSource::new(seed),
                stuck: stuck_byte,
            }),
        }
    }

    /// Another handle on the same script.
    pub fn clone_handle(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Changes N: calls with index < N (counting from 0 since creation) are good.
    pub fn set_good_calls(&self, n: usize) {
        self.inner.good_calls.store(n, Ordering::SeqCst);
    }

    /// Number of `fill` calls so far.
    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for ScriptedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedSource")
            .field("calls", &self.calls())
            .field("good_calls", &self.inner.good_calls.load(Ordering::SeqCst))
            .field("stuck", &self.inner.stuck)
            .finish_non_exhaustive()
    }
}

impl EntropySource for ScriptedSource {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyUnavailable> {
        let i = self.inner.calls.fetch_add(1, Ordering::SeqCst);
        if i < self.inner.good_calls.load(Ordering::SeqCst) {
            self.inner.good.fill(buf)
        } else {
            buf.fill(self.inner.stuck);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_is_deterministic_and_healthy() {
        let (a, b) = (CountingSource::new(5), CountingSource::new(5));
        let (mut x, mut y) = ([0u8; 4096], [0u8; 4096]);
        a.fill(&mut x).unwrap();
        b.fill(&mut y).unwrap();
        assert_eq!(x, y);
        let mut h = super::super::health::HealthTests::new();
        h.check(&x).unwrap();
    }

    #[test]
    fn scripted_goes_stuck() {
        let s = ScriptedSource::new(1, 2, 7);
        let mut b = [0u8; 8];
        s.fill(&mut b).unwrap();
        assert_ne!(b, [7; 8]);
        s.fill(&mut b).unwrap();
        assert_eq!(b, [7; 8]);
        assert_eq!(s.calls(), 2);
    }
}
