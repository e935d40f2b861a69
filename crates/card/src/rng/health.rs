//! NIST SP 800-90B continuous health tests (section 4.4) and start-up test (section 4.3)
//! on raw entropy samples.
//!
//! One sample is one byte. The OS source is conditioned, so the assessed min-entropy is taken
//! as H = 8 bits per sample. The false-positive probability is alpha = 2^-40, giving
//!
//! * Repetition Count Test cutoff C = 1 + ceil(40 / H) = 6 (fails on 6 identical samples in a row),
//! * Adaptive Proportion Test window W = 512 and cutoff C = 20, the smallest C with
//!   P(1 + Binomial(511, 2^-8) >= C) <= 2^-40.
//!
//! Start-up: both tests run over the first [`STARTUP_SAMPLES`] samples before any output of
//! the source is used; see [`HealthTests::startup_passed`].
//!
//! A failure is latched: every later [`HealthTests::check`] returns the same failure until
//! [`HealthTests::reset`].

use core::fmt;

use zeroize::Zeroize;

/// Assessed min-entropy per sample, in bits.
pub const MIN_ENTROPY_BITS: u32 = 8;
/// -log2(alpha): false-positive probability 2^-40.
pub const ALPHA_LOG2: u32 = 40;
/// Repetition Count Test cutoff: 1 + ceil(40 / 8).
pub const RCT_CUTOFF: u32 = 1 + ALPHA_LOG2.div_ceil(MIN_ENTROPY_BITS);
/// Adaptive Proportion Test window size (non-binary samples).
pub const APT_WINDOW: u32 = 512;
/// Adaptive Proportion Test cutoff for W = 512, H = 8, alpha = 2^-40.
pub const APT_CUTOFF: u32 = 20;
/// Number of samples the start-up test runs both tests over.
pub const STARTUP_SAMPLES: u64 = 1024;

/// Which health test failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthFailure {
    /// SP 800-90B 4.4.1 Repetition Count Test.
    RepetitionCount,
    /// SP 800-90B 4.4.2 Adaptive Proportion Test.
    AdaptiveProportion,
}

impl fmt::Display for HealthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RepetitionCount => "repetition count test failed",
            Self::AdaptiveProportion => "adaptive proportion test failed",
        })
    }
}

impl std::error::Error for HealthFailure {}

/// State of the continuous health tests. Holds the last raw sample values, so they are
/// zeroized on drop and never shown by `Debug`.
pub struct HealthTests {
    /// RCT: most recent sample (A) and its run length (B); `rct_count == 0` means no sample yet.
    rct_last: u8,
    rct_count: u32,
    /// APT: reference sample of the current window (A), its count (B) and the number of
    /// samples of the window seen so far (0 means a new window starts with the next sample).
    apt_ref: u8,
    apt_count: u32,
    apt_seen: u32,
    /// Samples tested since the last reset.
    tested: u64,
    failed: Option<HealthFailure>,
}

impl Default for HealthTests {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HealthTests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthTests")
            .field("tested", &self.tested)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Drop for HealthTests {
    fn drop(&mut self) {
        self.rct_last.zeroize();
        self.apt_ref.zeroize();
    }
}

impl HealthTests {
    /// Fresh tests: start-up not yet passed, no failure.
    pub fn new() -> Self {
        Self {
            rct_last: 0,
            rct_count: 0,
            apt_ref: 0,
            apt_count: 0,
            apt_seen: 0,
            tested: 0,
            failed: None,
        }
    }

    /// Clears the latch and all test state; the start-up test must be passed again.
    pub fn reset(&mut self) {
        self.rct_last.zeroize();
        self.apt_ref.zeroize();
        *self = Self::new();
    }

    /// The latched failure, if any.
    pub fn failure(&self) -> Option<HealthFailure> {
        self.failed
    }

    /// Number of samples tested since the last reset.
    pub fn samples_tested(&self) -> u64 {
        self.tested
    }

    /// True once at least [`STARTUP_SAMPLES`] samples passed both tests and nothing failed.
    pub fn startup_passed(&self) -> bool {
        self.failed.is_none() && self.tested >= STARTUP_SAMPLES
    }

    /// Runs both continuous tests over `samples` (continuing the windows of earlier calls).
    /// On failure the result is latched and returned by every later call until [`reset`].
    ///
    /// [`reset`]: HealthTests::reset
    pub fn check(&mut self, samples: &[u8]) -> Result<(), HealthFailure> {
        if let Some(f) = self.failed {
            return Err(f);
        }
        for &s in samples {
            if let Err(f) = self.check_one(s) {
                self.failed = Some(f);
                return Err(f);
            }
        }
        Ok(())
    }

    fn check_one(&mut self, s: u8) -> Result<(), HealthFailure> {
        self.tested = self.tested.saturating_add(1);

        // 4.4.1 Repetition Count Test.
        if self.rct_count > 0 && s == self.rct_last {
            self.rct_count += 1;
            if self.rct_count >= RCT_CUTOFF {
                return Err(HealthFailure::RepetitionCount);
            }
        } else {
            self.rct_last = s;
            self.rct_count = 1;
        }

        // 4.4.2 Adaptive Proportion Test.
        if self.apt_seen == 0 {
            self.apt_ref = s;
            self.apt_count = 1;
            self.apt_seen = 1;
        } else {
            if s == self.apt_ref {
                self.apt_count += 1;
                if self.apt_count >= APT_CUTOFF {
                    return Err(HealthFailure::AdaptiveProportion);
                }
            }
            self.apt_seen += 1;
            if self.apt_seen == APT_WINDOW {
                self.apt_seen = 0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P(X >= k) for X ~ Binomial(n, p), summed from the pmf recurrence.
    fn binomial_upper_tail(n: u32, p: f64, k: u32) -> f64 {
        let mut pmf = (1.0 - p).powi(n as i32);
        let mut tail = 0.0;
        for i in 0..=n {
            if i >= k {
                tail += pmf;
            }
            pmf *= f64::from(n - i) / f64::from(i + 1) * p / (1.0 - p);
        }
        tail
    }

    #[test]
    fn apt_cutoff_recomputed_from_binomial_tail() {
        let alpha = 2f64.powi(-(ALPHA_LOG2 as i32));
        let p = 2f64.powi(-(MIN_ENTROPY_BITS as i32));
        // Smallest C with P(1 + Binomial(W - 1, p) >= C) = P(Binomial(W - 1, p) >= C - 1) <= alpha.
        let c = (1..=APT_WINDOW)
            .find(|&c| binomial_upper_tail(APT_WINDOW - 1, p, c - 1) <= alpha)
            .unwrap();
        assert_eq!(c, 20);
        assert_eq!(c, APT_CUTOFF);
    }

    #[test]
    fn rct_cutoff_is_6() {
        assert_eq!(RCT_CUTOFF, 6);
    }

    #[test]
    fn rct_fails_on_six_in_a_row_only() {
        let mut h = HealthTests::new();
        h.check(&[1, 2, 3, 3, 3, 3, 3, 4]).unwrap();
        h.check(&[4, 4, 4]).unwrap(); // run continues across calls: 4 x4
        assert_eq!(h.check(&[4, 4]), Err(HealthFailure::RepetitionCount));
        // Latched, even for good data.
        assert_eq!(h.check(&[1, 2, 3]), Err(HealthFailure::RepetitionCount));
        assert_eq!(h.failure(), Some(HealthFailure::RepetitionCount));
        h.reset();
        assert_eq!(h.failure(), None);
        assert!(!h.startup_passed());
        h.check(&[1, 2, 3]).unwrap();
    }

    /// One byte value 25 times within a 512-sample window, never more than once in a row.
    #[test]
    fn apt_catches_frequent_value_without_runs() {
        let mut samples = Vec::with_capacity(512);
        let mut filler = 0u8;
        for i in 0..512 {
            if i % 20 == 0 && i / 20 < 25 {
                samples.push(0xAA);
            } else {
                filler = filler.wrapping_add(1);
                if filler == 0xAA {
                    filler = filler.wrapping_add(1);
                }
                samples.push(filler);
            }
        }
        assert_eq!(samples.iter().filter(|&&b| b == 0xAA).count(), 25);
        assert!(samples.windows(2).all(|w| w[0] != w[1]));
        let mut h = HealthTests::new();
        assert_eq!(h.check(&samples), Err(HealthFailure::AdaptiveProportion));
        // It fired on the 20th occurrence, at index 19 * 20.
        assert_eq!(h.samples_tested(), 19 * 20 + 1);
    }

    #[test]
    fn apt_allows_19_per_window_and_resets_per_window() {
        // 19 occurrences of the window's first value per window, over several windows.
        let mut h = HealthTests::new();
        for _ in 0..4 {
            let mut w = Vec::with_capacity(512);
            let mut filler = 1u8;
            for i in 0..512 {
                if i % 26 == 0 && i / 26 < 19 {
                    w.push(0);
                } else {
                    w.push(filler);
                    filler = if filler == 255 { 1 } else { filler + 1 };
                }
            }
            h.check(&w).unwrap();
        }
        assert!(h.startup_passed());
    }

    #[test]
    fn startup_needs_1024_samples() {
        let mut h = HealthTests::new();
        let good: Vec<u8> = (0..1023u32).map(|i| (i * 7 % 256) as u8).collect();
        h.check(&good).unwrap();
        assert!(!h.startup_passed());
        h.check(&[3]).unwrap();
        assert!(h.startup_passed());
    }

    #[test]
    fn debug_shows_no_samples() {
        let mut h = HealthTests::new();
        h.check(&[0x5A]).unwrap();
        let s = format!("{h:?}");
        assert!(
            !s.contains("90") && !s.contains("5A") && !s.contains("5a"),
            "{s}"
        );
    }
}
