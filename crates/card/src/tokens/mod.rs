//! Fixed-length symmetric key tokens: the 64-byte DES token, the 64-byte AES token (version
//! X'04'), DES control vectors, and the enciphering of keys under the master keys.
//!
//! Everything here is pure: bytes in, values or [`Failure`](crate::error::Failure)s out; no card state, no I/O. The
//! verbs look the master keys up in the registers and pass them in.
//!
//! - [`des`]: the DES internal/external/null token (IBM Docs "CCA for Linux", "DES internal
//!   key token", "DES external key token", lxcc/wskc_r_appbdesextkeytok.html; CCA254
//!   Fig. B-2/B-3).
//! - [`cv`]: default control vectors, the right-half rule and the parity check.
//! - [`aes`]: the AES internal fixed-length token (IBM Docs "CCA for Linux", topic
//!   tokens-aes-internal-fixed-length-key-token and
//!   aiflkt-aes-internal-fixed-length-key-token-flag-byte).
//! - [`var`]: the variable-length symmetric key token (version X'05') for AES and HMAC keys,
//!   and its AES-KWP wrap under the AES master key.
//! - [`wrap`]: WRAP-ECB of a DES key under the SYM master key and its control vector; AES-CBC
//!   of an AES key under the AES master key.
//!
//! All integers in tokens are big-endian.

pub mod aes;
pub mod cv;
pub mod des;
pub mod pka;
pub mod pka_ecc;
pub mod pka_rsa;
pub mod var;
pub mod wrap;

use std::fmt;

use zeroize::Zeroizing;

/// The length of every fixed-length key token.
pub const TOKEN_LEN: usize = 64;

/// The token-validation value: the sum, modulo 2^32, of the fifteen big-endian 32-bit words
/// at bytes 0–59. It is stored big-endian at bytes 60–63 of DES and AES fixed-length tokens.
///
/// IBM Docs "CCA for Linux", "Token validation value and record-validation value" (topic
/// information-key-token-formats): a non-cryptographic check that a token was not altered.
pub fn tvv(token: &[u8; TOKEN_LEN]) -> u32 {
    token[..60]
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .fold(0u32, u32::wrapping_add)
}

/// Writes the TVV of bytes 0–59 into bytes 60–63.
fn seal(token: &mut [u8; TOKEN_LEN]) {
    let v = tvv(token);
    token[60..].copy_from_slice(&v.to_be_bytes());
}

/// Whether bytes 60–63 hold the TVV of bytes 0–59.
fn tvv_ok(token: &[u8; TOKEN_LEN]) -> bool {
    token[60..] == tvv(token).to_be_bytes()
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

fn eight(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

/// The length of a DES key: one, two or three 8-byte parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyLength {
    /// 8 bytes.
    Single,
    /// 16 bytes.
    Double,
    /// 24 bytes.
    Triple,
}

impl KeyLength {
    /// The key's length in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            KeyLength::Single => 8,
            KeyLength::Double => 16,
            KeyLength::Triple => 24,
        }
    }
}

/// A clear key inside the card. Zeroized on drop; its Debug prints only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct ClearKey(Zeroizing<Vec<u8>>);

impl ClearKey {
    /// Wraps clear key bytes.
    pub fn new(bytes: &[u8]) -> ClearKey {
        ClearKey(Zeroizing::new(bytes.to_vec()))
    }

    /// The key bytes; only the card's engines may call this.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ClearKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClearKey({} bytes)", self.0.len())
    }
}

/// Which master-key register deciphered a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MasterKeyUsed {
    /// The current master key.
    Current,
    /// The old master key: a verb that used it reports 0/10001 ("A key encrypted under the
    /// old master key was used", IBM Docs "CCA for Linux", reason codes for return code 0).
    Old,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tvv_is_the_wrapping_sum_of_fifteen_words() {
        let mut t = [0u8; TOKEN_LEN];
        t[0] = 0x01; // word 0 = 0x01000000
        t[4] = 0x00;
        t[6] = 0x80; // word 1 = 0x00008000
        t[56..60].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]); // word 14 = 0xFFFFFFFF
        assert_eq!(tvv(&t), 0x0100_8000u32.wrapping_add(0xFFFF_FFFF));
        assert_eq!(tvv(&t), 0x0100_7FFF);
        t[60..].copy_from_slice(&[1, 2, 3, 4]); // the TVV field itself is not summed
        assert_eq!(tvv(&t), 0x0100_7FFF);
        seal(&mut t);
        assert_eq!(t[60..], [0x01, 0x00, 0x7F, 0xFF]);
        assert!(tvv_ok(&t));
    }

    #[test]
    fn clear_key_debug_prints_no_bytes() {
        let k = ClearKey::new(&[0xAB; 16]);
        let s = format!("{k:?}");
        assert_eq!(s, "ClearKey(16 bytes)");
    }
}
