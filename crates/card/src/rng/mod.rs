//! The card's only source of randomness: raw entropy from an [`EntropySource`], checked by
//! the SP 800-90B health tests ([`health`]), conditioned into an SP 800-90A `Hash_DRBG`
//! with SHA-256 ([`hash_drbg`]).
//!
//! Any fault (health-test failure, unavailable source, DRBG error) latches [`CardRng`] into a
//! failed state in which it outputs nothing until [`CardRng::recover`] passes the start-up
//! test again.

use core::fmt;

use zeroize::{Zeroize, Zeroizing};

pub mod hash_drbg;
pub mod health;
pub mod insecure_test_sources;

use hash_drbg::{DrbgError, HashDrbg};
use health::{HealthFailure, HealthTests};

/// Bytes of health-tested entropy input for instantiate and each reseed (256 bits at H = 8).
pub const ENTROPY_LEN: usize = 32;
/// Bytes of health-tested nonce for instantiate.
pub const NONCE_LEN: usize = 16;
/// Samples drawn and tested by the start-up test.
pub const STARTUP_LEN: usize = health::STARTUP_SAMPLES as usize;
/// The card reseeds from the source after this many generate requests (our choice; below the
/// DRBG's own hard limit [`hash_drbg::RESEED_INTERVAL`]).
pub const CARD_RESEED_INTERVAL: u64 = 1 << 20;

/// The entropy source could not deliver samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntropyUnavailable;

impl fmt::Display for EntropyUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("entropy source unavailable")
    }
}

impl std::error::Error for EntropyUnavailable {}

/// A source of raw entropy samples (one byte = one sample).
pub trait EntropySource: Send + Sync {
    /// Fills all of `buf` with raw samples, or fails.
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyUnavailable>;
}

/// Why [`CardRng`] refused to produce output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RngFault {
    /// A continuous or start-up health test failed on the raw samples. Latched.
    HealthTest(HealthFailure),
    /// The entropy source reported an error. Latched.
    SourceUnavailable,
    /// The DRBG reported an error it should never report here. Latched.
    Drbg(DrbgError),
    /// A caller-supplied input (personalization or additional input) is longer than
    /// [`hash_drbg::MAX_INPUT_LEN`]. A caller error, not a fault: NOT latched.
    InputTooLong,
}

impl fmt::Display for RngFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HealthTest(h) => write!(f, "RNG health test failure: {h}"),
            Self::SourceUnavailable => f.write_str("RNG entropy source unavailable"),
            Self::Drbg(e) => write!(f, "RNG DRBG error: {e}"),
            Self::InputTooLong => f.write_str("RNG input too long"),
        }
    }
}

impl std::error::Error for RngFault {}

/// The card's only source of randomness.
pub struct CardRng {
    source: Box<dyn EntropySource>,
    health: HealthTests,
    /// `None` exactly when a fault is latched (the state is dropped, and so zeroized).
    drbg: Option<HashDrbg>,
    fault: Option<RngFault>,
    personalization: Zeroizing<Vec<u8>>,
    reseed_interval: u64,
}

impl fmt::Debug for CardRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardRng")
            .field("health", &self.health)
            .field("drbg", &self.drbg)
            .field("fault", &self.fault)
            .field("reseed_interval", &self.reseed_interval)
            .finish_non_exhaustive()
    }
}

impl CardRng {
    /// Start-up: draws 1024 bytes through the health tests (start-up test), then instantiates
    /// `Hash_DRBG` with 32 bytes of health-tested entropy + a 16-byte health-tested nonce +
    /// `personalization`.
    pub fn new(
        source: Box<dyn EntropySource>,
        personalization: &[u8],
    ) -> Result<CardRng, RngFault> {
        if personalization.len() > hash_drbg::MAX_INPUT_LEN {
            return Err(RngFault::InputTooLong);
        }
        let mut rng = CardRng {
            source,
            health: HealthTests::new(),
            drbg: None,
            fault: None,
            personalization: Zeroizing::new(personalization.to_vec()),
            reseed_interval: CARD_RESEED_INTERVAL,
        };
        rng.startup()?;
        Ok(rng)
    }

    /// Like [`CardRng::new`], but a failed start-up leaves the generator latched in its fault
    /// state instead of dropping it, so that the card can report the fault and try
    /// [`CardRng::recover`] later.
    pub fn start(source: Box<dyn EntropySource>, personalization: &[u8]) -> CardRng {
        let too_long = personalization.len() > hash_drbg::MAX_INPUT_LEN;
        let mut rng = CardRng {
            source,
            health: HealthTests::new(),
            drbg: None,
            fault: None,
            personalization: Zeroizing::new(if too_long {
                Vec::new()
            } else {
                personalization.to_vec()
            }),
            reseed_interval: CARD_RESEED_INTERVAL,
        };
        if too_long {
            rng.fault = Some(RngFault::InputTooLong);
        } else {
            // A failure is latched inside `rng`; the caller reads it with `fault()`.
            let _ = rng.startup();
        }
        rng
    }

    /// Fills `out` (any length; split internally into requests of at most
    /// [`hash_drbg::MAX_BYTES_PER_REQUEST`] bytes); reseeds from the source through the
    /// health tests when the reseed counter demands it. On any fault `self` latches into the
    /// failed state, `out` is zeroized (including partial output) and the fault is returned;
    /// from then on every call zeroizes `out` and returns the fault.
    pub fn fill(&mut self, out: &mut [u8]) -> Result<(), RngFault> {
        let result = self.fill_inner(out);
        if result.is_err() {
            out.zeroize();
        }
        result
    }

    fn fill_inner(&mut self, out: &mut [u8]) -> Result<(), RngFault> {
        self.check_fault()?;
        for chunk in out.chunks_mut(hash_drbg::MAX_BYTES_PER_REQUEST) {
            if self.drbg_mut()?.reseed_counter() > self.reseed_interval {
                self.reseed_from_source(&[])?;
            }
            match self.drbg_mut()?.generate(chunk, &[]) {
                Ok(()) => {}
                Err(DrbgError::ReseedRequired) => {
                    self.reseed_from_source(&[])?;
                    let r = self.drbg_mut()?.generate(chunk, &[]);
                    r.map_err(|e| self.latch(RngFault::Drbg(e)))?;
                }
                Err(e) => return Err(self.latch(RngFault::Drbg(e))),
            }
        }
        Ok(())
    }

    /// Reseeds the DRBG with 32 fresh health-tested bytes from the source and `additional`.
    pub fn reseed(&mut self, additional: &[u8]) -> Result<(), RngFault> {
        self.check_fault()?;
        if additional.len() > hash_drbg::MAX_INPUT_LEN {
            return Err(RngFault::InputTooLong);
        }
        self.reseed_from_source(additional)
    }

    /// The latched fault, if any.
    pub fn fault(&self) -> Option<RngFault> {
        self.fault
    }

    /// Re-runs the start-up health test on fresh samples and, if it passes, re-instantiates
    /// the DRBG and clears the latch. If it fails, the (new) fault is latched and returned.
    pub fn recover(&mut self) -> Result<(), RngFault> {
        self.drbg = None;
        self.fault = None;
        self.startup()
    }

    /// Start-up test over [`STARTUP_LEN`] fresh samples, then instantiate.
    fn startup(&mut self) -> Result<(), RngFault> {
        self.health.reset();
        let startup = self.draw(STARTUP_LEN)?;
        drop(startup); // start-up samples are tested, not used; zeroized on drop
        if !self.health.startup_passed() {
            // Unreachable with a conforming source (draw() tested all STARTUP_LEN samples).
            return Err(self.latch(RngFault::SourceUnavailable));
        }
        let entropy = self.draw(ENTROPY_LEN)?;
        let nonce = self.draw(NONCE_LEN)?;
        match HashDrbg::instantiate(&entropy, &nonce, &self.personalization) {
            Ok(d) => {
                self.drbg = Some(d);
                self.fault = None;
                Ok(())
            }
            Err(e) => Err(self.latch(RngFault::Drbg(e))),
        }
    }

    fn reseed_from_source(&mut self, additional: &[u8]) -> Result<(), RngFault> {
        let entropy = self.draw(ENTROPY_LEN)?;
        let r = self.drbg_mut()?.reseed(&entropy, additional);
        r.map_err(|e| self.latch(RngFault::Drbg(e)))
    }

    /// Draws `len` samples from the source and runs them through the health tests.
    fn draw(&mut self, len: usize) -> Result<Zeroizing<Vec<u8>>, RngFault> {
        let mut buf = Zeroizing::new(vec![0u8; len]);
        if self.source.fill(&mut buf).is_err() {
            return Err(self.latch(RngFault::SourceUnavailable));
        }
        if let Err(h) = self.health.check(&buf) {
            return Err(self.latch(RngFault::HealthTest(h)));
        }
        Ok(buf)
    }

    fn drbg_mut(&mut self) -> Result<&mut HashDrbg, RngFault> {
        match self.drbg {
            Some(ref mut d) => Ok(d),
            // No DRBG without a latched fault cannot happen; treat it as a fault anyway.
            None => Err(self.fault.unwrap_or(RngFault::SourceUnavailable)),
        }
    }

    fn check_fault(&self) -> Result<(), RngFault> {
        match self.fault {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    /// Latches `f`, destroys the DRBG state, and returns `f`.
    fn latch(&mut self, f: RngFault) -> RngFault {
        self.fault = Some(f);
        self.drbg = None;
        f
    }

    #[cfg(test)]
    fn set_reseed_interval(&mut self, interval: u64) {
        self.reseed_interval = interval;
    }
}

#[cfg(test)]
mod tests {
    use super::insecure_test_sources::{
        CountingSource, FailingSource, ScriptedSource, StuckSource,
    };
    use super::*;

    #[test]
    fn stuck_source_fails_startup_with_rct() {
        let err = CardRng::new(Box::new(StuckSource::new(0x42)), b"p").unwrap_err();
        assert_eq!(err, RngFault::HealthTest(HealthFailure::RepetitionCount));
    }

    #[test]
    fn failing_source_fails_startup() {
        let err = CardRng::new(Box::new(FailingSource), b"p").unwrap_err();
        assert_eq!(err, RngFault::SourceUnavailable);
    }

    #[test]
    fn scripted_source_fault_latches_on_reseed_and_recover_clears() {
        // new() makes 3 source calls: start-up (1024), entropy (32), nonce (16).
        let src = ScriptedSource::new(3, 1, 0x00);
        let mut rng = CardRng::new(Box::new(src.clone_handle()), b"scripted").unwrap();
        rng.set_reseed_interval(2);
        let mut out = [0u8; 64];
        rng.fill(&mut out).unwrap(); // reseed_counter 1 -> 2
        rng.fill(&mut out).unwrap(); // reseed_counter 2 -> 3
        assert!(out.iter().any(|&b| b != 0));
        // counter 3 > 2: reseed draws from the now-stuck source.
        let err = rng.fill(&mut out).unwrap_err();
        assert_eq!(err, RngFault::HealthTest(HealthFailure::RepetitionCount));
        assert_eq!(out, [0u8; 64], "output zeroized on fault");
        assert_eq!(rng.fault(), Some(err));

        // Stays failed, writes nothing, for fill and reseed alike.
        let mut out2 = [0xEEu8; 100_000];
        assert_eq!(rng.fill(&mut out2), Err(err));
        assert!(out2.iter().all(|&b| b == 0));
        assert_eq!(rng.reseed(b"x"), Err(err));

        // recover() with the source still stuck fails again.
        assert_eq!(
            rng.recover(),
            Err(RngFault::HealthTest(HealthFailure::RepetitionCount))
        );
        assert!(rng.fault().is_some());

        // Source becomes good again: recover clears the latch.
        src.set_good_calls(usize::MAX);
        rng.recover().unwrap();
        assert_eq!(rng.fault(), None);
        let mut out3 = [0u8; 64];
        rng.fill(&mut out3).unwrap();
        assert!(out3.iter().any(|&b| b != 0));
    }

    #[test]
    fn explicit_reseed_with_stuck_source_latches() {
        let src = ScriptedSource::new(3, 5, 0xFF);
        let mut rng = CardRng::new(Box::new(src), b"").unwrap();
        let err = rng.reseed(b"additional").unwrap_err();
        assert_eq!(err, RngFault::HealthTest(HealthFailure::RepetitionCount));
        let mut out = [1u8; 16];
        assert_eq!(rng.fill(&mut out), Err(err));
        assert_eq!(out, [0u8; 16]);
    }

    #[test]
    fn fill_reseeds_periodically_with_good_source() {
        let mut rng = CardRng::new(Box::new(CountingSource::new(9)), b"").unwrap();
        rng.set_reseed_interval(3);
        let mut out = [0u8; 40];
        for _ in 0..20 {
            rng.fill(&mut out).unwrap();
        }
        assert_eq!(rng.fault(), None);
    }

    #[test]
    fn large_fill_is_split_into_requests() {
        let mut rng = CardRng::new(Box::new(CountingSource::new(3)), b"").unwrap();
        let mut out = vec![0u8; 3 * hash_drbg::MAX_BYTES_PER_REQUEST + 17];
        rng.fill(&mut out).unwrap();
        // Each 64 KiB request starts a new Hashgen from a different V.
        let m = hash_drbg::MAX_BYTES_PER_REQUEST;
        assert_ne!(out[..32], out[m..m + 32]);
        assert!(out[3 * m..].iter().any(|&b| b != 0));
        rng.fill(&mut []).unwrap();
    }

    #[test]
    fn personalization_changes_output_and_is_deterministic() {
        let run = |p: &[u8]| {
            let mut rng = CardRng::new(Box::new(CountingSource::new(1234)), p).unwrap();
            let mut out = [0u8; 48];
            rng.fill(&mut out).unwrap();
            out
        };
        assert_eq!(run(b"card A"), run(b"card A"));
        assert_ne!(run(b"card A"), run(b"card B"));
        assert_ne!(run(b""), run(b"card A"));
    }

    #[test]
    fn input_too_long_is_not_latched() {
        let long = vec![0u8; hash_drbg::MAX_INPUT_LEN + 1];
        assert_eq!(
            CardRng::new(Box::new(CountingSource::new(1)), &long).unwrap_err(),
            RngFault::InputTooLong
        );
        let mut rng = CardRng::new(Box::new(CountingSource::new(1)), b"").unwrap();
        assert_eq!(rng.reseed(&long), Err(RngFault::InputTooLong));
        assert_eq!(rng.fault(), None);
        rng.reseed(b"ok").unwrap();
        rng.fill(&mut [0u8; 8]).unwrap();
    }

    #[test]
    fn debug_reveals_no_secrets() {
        let rng = CardRng::new(Box::new(CountingSource::new(1)), b"secret-perso").unwrap();
        let s = format!("{rng:?}");
        assert!(!s.contains("secret-perso") && !s.contains('['), "{s}");
    }
}
