//! Hash chains whose state the card holds: One_Way_Hash FIRST/MIDDLE/LAST for MD5,
//! RIPEMD-160 and the SHA-3 methods.
//!
//! IBM's chaining vector is 128 bytes held by the caller. SHA-1 and SHA-2 states fit in it and
//! travel there (see [`super::hash`]); the others cannot: SHA-3's Keccak state is 200 bytes,
//! and the MD5 and RIPEMD-160 libraries softcca uses (RustCrypto `md-5`, `ripemd`) expose no
//! block function or state to carry. For those methods the card keeps the library's hasher in
//! a bounded table and the vector carries a 16-byte handle drawn from the card's random number
//! generator, with the byte count. Choices (IBM is silent, since its vector is opaque):
//!
//! - A handle is used once: MIDDLE and LAST take the state out of the table, and MIDDLE files
//!   the new state under a new handle. A copy of an older vector (a "fork" of the chain, which
//!   host-held vectors allow) is refused with 8/72, as is a handle the table no longer has.
//! - The table holds at most [`CAPACITY`] chains; a chain left unfinished longest is dropped
//!   first. A reset, a load or a tamper empties it. Chains do not survive a restart of the card.
//! - The handle is unguessable (128 random bits), so one process cannot continue or finish
//!   another's chain without its vector.

use std::collections::HashMap;
use std::sync::Mutex;

use sha3::Digest;

use super::hash::Method;

/// The most chains the card holds at once.
pub const CAPACITY: usize = 1024;

/// A library hasher in the middle of a message.
#[derive(Clone)]
pub(crate) enum Held {
    Md5(md5::Md5),
    Rmd160(ripemd::Ripemd160),
    Sha3_224(sha3::Sha3_224),
    Sha3_256(sha3::Sha3_256),
    Sha3_384(sha3::Sha3_384),
    Sha3_512(sha3::Sha3_512),
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held({:?})", self.method())
    }
}

impl Held {
    /// A fresh hasher; `None` for the methods whose state travels in the vector.
    pub(crate) fn new(method: Method) -> Option<Held> {
        Some(match method {
            Method::Md5 => Held::Md5(md5::Md5::new()),
            Method::Rmd160 => Held::Rmd160(ripemd::Ripemd160::new()),
            Method::Sha3_224 => Held::Sha3_224(sha3::Sha3_224::new()),
            Method::Sha3_256 => Held::Sha3_256(sha3::Sha3_256::new()),
            Method::Sha3_384 => Held::Sha3_384(sha3::Sha3_384::new()),
            Method::Sha3_512 => Held::Sha3_512(sha3::Sha3_512::new()),
            _ => return None,
        })
    }

    pub(crate) fn method(&self) -> Method {
        match self {
            Held::Md5(_) => Method::Md5,
            Held::Rmd160(_) => Method::Rmd160,
            Held::Sha3_224(_) => Method::Sha3_224,
            Held::Sha3_256(_) => Method::Sha3_256,
            Held::Sha3_384(_) => Method::Sha3_384,
            Held::Sha3_512(_) => Method::Sha3_512,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Held::Md5(h) => h.update(data),
            Held::Rmd160(h) => h.update(data),
            Held::Sha3_224(h) => h.update(data),
            Held::Sha3_256(h) => h.update(data),
            Held::Sha3_384(h) => h.update(data),
            Held::Sha3_512(h) => h.update(data),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Held::Md5(h) => h.finalize().to_vec(),
            Held::Rmd160(h) => h.finalize().to_vec(),
            Held::Sha3_224(h) => h.finalize().to_vec(),
            Held::Sha3_256(h) => h.finalize().to_vec(),
            Held::Sha3_384(h) => h.finalize().to_vec(),
            Held::Sha3_512(h) => h.finalize().to_vec(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    state: Held,
    processed: u128,
    last_used: u64,
}

#[derive(Debug, Default)]
struct Table {
    chains: HashMap<[u8; 16], Entry>,
    tick: u64,
}

/// The card's table of held chains.
#[derive(Debug, Default)]
pub(crate) struct HeldHashes(Mutex<Table>);

impl HeldHashes {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves whole entries only: inserts and removals are
        // single map operations.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Files `state` (having hashed `processed` bytes) under `handle`, dropping the chain
    /// used longest ago when the table is full.
    pub(crate) fn put(&self, handle: [u8; 16], state: Held, processed: u128) {
        let mut t = self.table();
        if t.chains.len() >= CAPACITY
            && let Some(oldest) = t
                .chains
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(h, _)| *h)
        {
            t.chains.remove(&oldest);
        }
        t.tick += 1;
        let last_used = t.tick;
        t.chains.insert(
            handle,
            Entry {
                state,
                processed,
                last_used,
            },
        );
    }

    /// Takes the chain filed under `handle` if it is of `method` and has hashed `processed`
    /// bytes; `None` (and the table unchanged) otherwise.
    pub(crate) fn take(&self, handle: &[u8; 16], method: Method, processed: u128) -> Option<Held> {
        let mut t = self.table();
        let matches = t
            .chains
            .get(handle)
            .is_some_and(|e| e.state.method() == method && e.processed == processed);
        if !matches {
            return None;
        }
        t.chains.remove(handle).map(|e| e.state)
    }

    /// Drops every chain (reset, load, tamper).
    pub(crate) fn clear(&self) {
        self.table().chains.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table().chains.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_taken_once_and_must_match() {
        let held = HeldHashes::default();
        let mut h = Held::new(Method::Md5).unwrap();
        h.update(&[1; 64]);
        held.put([7; 16], h, 64);
        assert!(held.take(&[7; 16], Method::Rmd160, 64).is_none());
        assert!(held.take(&[7; 16], Method::Md5, 128).is_none());
        assert!(held.take(&[8; 16], Method::Md5, 64).is_none());
        assert!(held.take(&[7; 16], Method::Md5, 64).is_some());
        assert!(held.take(&[7; 16], Method::Md5, 64).is_none(), "used once");
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_oldest() {
        let held = HeldHashes::default();
        for i in 0..=CAPACITY {
            let mut handle = [0u8; 16];
            handle[..8].copy_from_slice(&(i as u64).to_be_bytes());
            held.put(handle, Held::new(Method::Sha3_256).unwrap(), 136);
        }
        assert_eq!(held.len(), CAPACITY);
        assert!(
            held.take(&[0; 16], Method::Sha3_256, 136).is_none(),
            "oldest dropped"
        );
        held.clear();
        assert_eq!(held.len(), 0);
    }

    #[test]
    fn held_hashers_match_one_shot_digests() {
        for m in [
            Method::Md5,
            Method::Rmd160,
            Method::Sha3_224,
            Method::Sha3_256,
            Method::Sha3_384,
            Method::Sha3_512,
        ] {
            let text: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
            let mut h = Held::new(m).unwrap();
            h.update(&text[..m.block_size()]);
            h.update(&text[m.block_size()..]);
            assert_eq!(h.finish(), super::super::hash::digest(m, &text).unwrap());
        }
    }
}
