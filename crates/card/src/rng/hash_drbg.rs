//! NIST SP 800-90A Rev. 1 `Hash_DRBG` instantiated with SHA-256.
//!
//! * seedlen = 440 bits (55 bytes), outlen = 256 bits, security strength = 256 bits.
//! * Every hash is computed by `aws_lc_rs::digest` (SHA-256).
//! * Limits: at most [`MAX_BYTES_PER_REQUEST`] bytes per generate request (2^19 bits),
//!   at most [`RESEED_INTERVAL`] generate requests between reseeds, every input string at
//!   most [`MAX_INPUT_LEN`] bytes, entropy input at least [`MIN_ENTROPY_LEN`] bytes and nonce
//!   at least [`MIN_NONCE_LEN`] bytes.
//!
//! Prediction resistance is provided by the caller: reseed with fresh entropy immediately
//! before a generate request (SP 800-90A 9.3.1 step 7), which is exactly what a request with
//! prediction resistance does internally.

use core::fmt;

use aws_lc_rs::digest;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// seedlen for SHA-256 in bytes (440 bits).
pub const SEED_LEN: usize = 55;
/// outlen of SHA-256 in bytes.
pub const OUT_LEN: usize = 32;
/// Security strength in bytes (256 bits).
pub const SECURITY_STRENGTH: usize = 32;
/// Minimum entropy input length in bytes (= security strength).
pub const MIN_ENTROPY_LEN: usize = SECURITY_STRENGTH;
/// Minimum nonce length in bytes (half the security strength).
pub const MIN_NONCE_LEN: usize = SECURITY_STRENGTH / 2;
/// Maximum length in bytes of any single input string (entropy input, nonce,
/// personalization string, additional input). Our own bound, far below SP 800-90A's 2^35 bits.
pub const MAX_INPUT_LEN: usize = 1 << 16;
/// Maximum number of bytes per generate request (2^19 bits).
pub const MAX_BYTES_PER_REQUEST: usize = 1 << 16;
/// Maximum number of generate requests between reseeds (our own limit; SP 800-90A allows 2^48).
pub const RESEED_INTERVAL: u64 = 1 << 24;

/// `seedlen` in bits, as the 32-bit big-endian `no_of_bits_to_return` of `Hash_df`.
const SEED_LEN_BITS: u32 = (SEED_LEN * 8) as u32;

/// Errors returned by [`HashDrbg`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrbgError {
    /// The entropy input is shorter than [`MIN_ENTROPY_LEN`].
    EntropyTooShort,
    /// The nonce is shorter than [`MIN_NONCE_LEN`].
    NonceTooShort,
    /// An input string is longer than [`MAX_INPUT_LEN`].
    InputTooLong,
    /// A generate request asked for more than [`MAX_BYTES_PER_REQUEST`] bytes.
    RequestTooLarge,
    /// The reseed counter exceeded [`RESEED_INTERVAL`]; reseed before generating again.
    ReseedRequired,
}

impl fmt::Display for DrbgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::EntropyTooShort => "entropy input too short",
            Self::NonceTooShort => "nonce too short",
            Self::InputTooLong => "input string too long",
            Self::RequestTooLarge => "generate request too large",
            Self::ReseedRequired => "reseed required",
        };
        f.write_str(s)
    }
}

impl std::error::Error for DrbgError {}

/// `Hash_DRBG` (SHA-256) working state. Zeroized on drop; deliberately not `Clone`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct HashDrbg {
    v: [u8; SEED_LEN],
    c: [u8; SEED_LEN],
    reseed_counter: u64,
}

impl fmt::Debug for HashDrbg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashDrbg")
            .field("v", &"<secret>")
            .field("c", &"<secret>")
            .field("reseed_counter", &self.reseed_counter)
            .finish()
    }
}

fn check_len(input: &[u8]) -> Result<(), DrbgError> {
    if input.len() > MAX_INPUT_LEN {
        Err(DrbgError::InputTooLong)
    } else {
        Ok(())
    }
}

/// SHA-256 over the concatenation of `parts`.
fn hash(parts: &[&[u8]]) -> [u8; OUT_LEN] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let d = ctx.finish();
    let mut out = [0u8; OUT_LEN];
    out.copy_from_slice(d.as_ref());
    out
}

/// `Hash_df` (SP 800-90A 10.3.1) returning exactly seedlen bits; the input string is the
/// concatenation of `parts`.
fn hash_df(parts: &[&[u8]]) -> [u8; SEED_LEN] {
    let mut out = [0u8; SEED_LEN];
    let bits = SEED_LEN_BITS.to_be_bytes();
    for (i, chunk) in out.chunks_mut(OUT_LEN).enumerate() {
        // len = ceil(440 / 256) = 2, so the counter is 1 or 2 and never overflows a byte.
        let counter = [(i + 1) as u8];
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&counter);
        ctx.update(&bits);
        for p in parts {
            ctx.update(p);
        }
        let d = ctx.finish();
        chunk.copy_from_slice(&d.as_ref()[..chunk.len()]);
    }
    out
}

/// `acc = (acc + x) mod 2^440`, both big-endian; `x` is right-aligned and at most 55 bytes.
fn add_mod(acc: &mut [u8; SEED_LEN], x: &[u8]) {
    debug_assert!(x.len() <= SEED_LEN);
    let mut carry = 0u16;
    let mut xi = x.iter().rev();
    for a in acc.iter_mut().rev() {
        let b = xi.next().copied().unwrap_or(0);
        let s = u16::from(*a) + u16::from(b) + carry;
        *a = s as u8; // low byte; truncation intended
        carry = s >> 8;
    }
}

impl HashDrbg {
    /// Instantiate (SP 800-90A 10.1.1.2).
    pub fn instantiate(
        entropy_input: &[u8],
        nonce: &[u8],
        personalization: &[u8],
    ) -> Result<Self, DrbgError> {
        if entropy_input.len() < MIN_ENTROPY_LEN {
            return Err(DrbgError::EntropyTooShort);
        }
        if nonce.len() < MIN_NONCE_LEN {
            return Err(DrbgError::NonceTooShort);
        }
        check_len(entropy_input)?;
        check_len(nonce)?;
        check_len(personalization)?;
        let v = hash_df(&[entropy_input, nonce, personalization]);
        let c = hash_df(&[&[0x00], &v]);
        Ok(Self {
            v,
            c,
            reseed_counter: 1,
        })
    }

    /// Reseed (SP 800-90A 10.1.1.3).
    pub fn reseed(
        &mut self,
        entropy_input: &[u8],
        additional_input: &[u8],
    ) -> Result<(), DrbgError> {
        if entropy_input.len() < MIN_ENTROPY_LEN {
            return Err(DrbgError::EntropyTooShort);
        }
        check_len(entropy_input)?;
        check_len(additional_input)?;
        let mut seed = hash_df(&[&[0x01], &self.v, entropy_input, additional_input]);
        self.v.copy_from_slice(&seed);
        seed.zeroize();
        let mut c = hash_df(&[&[0x00], &self.v]);
        self.c.copy_from_slice(&c);
        c.zeroize();
        self.reseed_counter = 1;
        Ok(())
    }

    /// Generate (SP 800-90A 10.1.1.4): fills all of `out` (at most
    /// [`MAX_BYTES_PER_REQUEST`] bytes). On error `out` is left untouched and the state is
    /// unchanged.
    pub fn generate(&mut self, out: &mut [u8], additional_input: &[u8]) -> Result<(), DrbgError> {
        if out.len() > MAX_BYTES_PER_REQUEST {
            return Err(DrbgError::RequestTooLarge);
        }
        check_len(additional_input)?;
        if self.reseed_counter > RESEED_INTERVAL {
            return Err(DrbgError::ReseedRequired);
        }
        if !additional_input.is_empty() {
            let mut w = hash(&[&[0x02], &self.v, additional_input]);
            add_mod(&mut self.v, &w);
            w.zeroize();
        }
        self.hashgen(out);
        let mut h = hash(&[&[0x03], &self.v]);
        add_mod(&mut self.v, &h);
        h.zeroize();
        add_mod(&mut self.v, &self.c);
        add_mod(&mut self.v, &self.reseed_counter.to_be_bytes());
        self.reseed_counter += 1;
        Ok(())
    }

    /// `Hashgen` (SP 800-90A 10.1.1.4): output blocks Hash(data), data = V, V+1, ...
    fn hashgen(&self, out: &mut [u8]) {
        let mut data = self.v;
        for chunk in out.chunks_mut(OUT_LEN) {
            let mut w = hash(&[&data]);
            chunk.copy_from_slice(&w[..chunk.len()]);
            w.zeroize();
            add_mod(&mut data, &[1]);
        }
        data.zeroize();
    }

    /// Number of generate requests since the last (re)instantiation plus one, as in SP 800-90A.
    pub fn reseed_counter(&self) -> u64 {
        self.reseed_counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drbg() -> HashDrbg {
        HashDrbg::instantiate(&[7u8; 32], &[9u8; 16], b"test").unwrap()
    }

    #[test]
    fn add_mod_carries_and_wraps() {
        let mut a = [0xffu8; SEED_LEN];
        add_mod(&mut a, &[1]);
        assert_eq!(a, [0u8; SEED_LEN]);
        let mut b = [0u8; SEED_LEN];
        b[SEED_LEN - 1] = 0xff;
        b[SEED_LEN - 2] = 0xff;
        add_mod(&mut b, &[0x00, 0x01]);
        assert_eq!(b[SEED_LEN - 3..], [1, 0, 0]);
    }

    #[test]
    fn request_over_limit_rejected() {
        let mut d = drbg();
        let mut big = vec![0u8; MAX_BYTES_PER_REQUEST + 1];
        assert_eq!(d.generate(&mut big, &[]), Err(DrbgError::RequestTooLarge));
        assert!(big.iter().all(|&b| b == 0));
        assert_eq!(d.reseed_counter(), 1);
        let mut ok = vec![0u8; MAX_BYTES_PER_REQUEST];
        d.generate(&mut ok, &[]).unwrap();
        assert_eq!(d.reseed_counter(), 2);
    }

    #[test]
    fn input_limits() {
        assert_eq!(
            HashDrbg::instantiate(&[0; 31], &[0; 16], &[]).unwrap_err(),
            DrbgError::EntropyTooShort
        );
        assert_eq!(
            HashDrbg::instantiate(&[0; 32], &[0; 15], &[]).unwrap_err(),
            DrbgError::NonceTooShort
        );
        let long = vec![0u8; MAX_INPUT_LEN + 1];
        assert_eq!(
            HashDrbg::instantiate(&[0; 32], &[0; 16], &long).unwrap_err(),
            DrbgError::InputTooLong
        );
        let mut d = drbg();
        assert_eq!(d.reseed(&[0; 32], &long), Err(DrbgError::InputTooLong));
        assert_eq!(d.reseed(&[0; 31], &[]), Err(DrbgError::EntropyTooShort));
        assert_eq!(d.generate(&mut [0; 8], &long), Err(DrbgError::InputTooLong));
    }

    #[test]
    fn reseed_required_after_interval() {
        let mut d = drbg();
        d.reseed_counter = RESEED_INTERVAL;
        d.generate(&mut [0; 4], &[]).unwrap();
        assert_eq!(d.generate(&mut [0; 4], &[]), Err(DrbgError::ReseedRequired));
        d.reseed(&[1; 32], &[]).unwrap();
        d.generate(&mut [0; 4], &[]).unwrap();
    }

    #[test]
    fn debug_hides_state() {
        let d = drbg();
        let s = format!("{d:?}");
        assert!(s.contains("<secret>"));
        assert!(!s.contains('['), "no byte arrays in Debug: {s}");
    }
}
