//! The AES internal fixed-length key token, version X'04' (64 bytes).
//!
//! Layout (IBM Docs "CCA for Linux", "AES internal fixed-length key token",
//! <https://www.ibm.com/docs/en/linux-on-systems?topic=tokens-aes-internal-fixed-length-key-token>,
//! and its flag byte,
//! <https://www.ibm.com/docs/en/linux-on-systems?topic=aiflkt-aes-internal-fixed-length-key-token-flag-byte>;
//! ICSF "AES internal fixed-length key token",
//! <https://www.ibm.com/support/knowledgecenter/en/SSLTBW_2.3.0/com.ibm.zos.v2r3.csfb200/aeskt.htm>,
//! which also gives the whole-field AES-CBC with a zero IV):
//!
//! | off | content |
//! |---|---|
//! | 0 / 1–3 / 4 / 5 | X'01' / zero / X'04' / zero |
//! | 6 | flag: 80 encrypted under the AES MK (0: clear; ignored with no key), 40 CV present, 20 no key and no MKVP; other bits reserved, zero |
//! | 7 | LRC: XOR of the clear key bytes |
//! | 8–15 | AES MKVP (zero for a clear key) |
//! | 16–47 | the key, left-aligned, zero-padded to 32 bytes; if encrypted, the whole 32 bytes AES-CBC under the AES MK with a zero IV |
//! | 48–55 | CV, always zero ("If the flag byte indicates a CV is present, it must be all binary zeros") |
//! | 56–57 | clear key length in bits: 0, 128, 192, 256 |
//! | 58–59 | encrypted key length in bytes: 0 or 32 |
//! | 60–63 | TVV ([`super::tvv`]) |
//!
//! The null AES token is 64 zero bytes (IBM Docs "Null key tokens").
//!
//! Checks: length (8/43); byte 0 (8/47); version (8/49); TVV (8/29); every other field (8/47).
//! **\[I\]** which code IBM gives for a bad LRC, bit length or reserved flag bit is not
//! documented; softcca answers 8/47 (source token unusable). The LRC of an encrypted key is
//! checked when it is deciphered ([`super::wrap::unwrap_aes`]).

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::Failure;

use super::{ClearKey, TOKEN_LEN, all_zero, eight, seal, tvv_ok};

/// Flag: the key is encrypted under the AES master key.
pub const FLAG_ENCRYPTED: u8 = 0x80;
/// Flag: a control vector (all zero) is present.
pub const FLAG_CV: u8 = 0x40;
/// Flag: no key and no MKVP.
pub const FLAG_NO_KEY: u8 = 0x20;

/// The XOR of all bytes of a clear key.
pub fn lrc(key: &[u8]) -> u8 {
    key.iter().fold(0, |a, b| a ^ b)
}

/// What an AES token holds.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub enum AesMaterial {
    /// No key (flag X'20'); the encrypted bit is kept as it was, since IBM ignores it.
    NoKey {
        /// Whether flag bit X'80' was set.
        encrypted_flag: bool,
    },
    /// A clear key of `bits` bits, left-aligned in `field`, zero-padded.
    Clear {
        /// The 32-byte key field.
        field: [u8; 32],
        /// 128, 192 or 256.
        bits: u16,
    },
    /// A key encrypted under the AES MK whose verification pattern is `mkvp`.
    Encrypted {
        /// The AES master key's verification pattern.
        mkvp: [u8; 8],
        /// The 32-byte ciphertext.
        field: [u8; 32],
        /// The clear key's length: 128, 192 or 256.
        bits: u16,
        /// The LRC of the clear key, checked when it is deciphered.
        lrc: u8,
    },
}

impl fmt::Debug for AesMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AesMaterial::NoKey { encrypted_flag } => write!(f, "NoKey({encrypted_flag})"),
            AesMaterial::Clear { bits, .. } => write!(f, "Clear({bits} bits)"),
            AesMaterial::Encrypted { mkvp, bits, .. } => {
                write!(f, "Encrypted({bits} bits, mkvp ")?;
                for b in mkvp {
                    write!(f, "{b:02X}")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// An AES internal fixed-length token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalAes {
    /// Flag bit X'40': a (zero) control vector is present.
    pub cv_present: bool,
    /// The key.
    pub material: AesMaterial,
}

impl InternalAes {
    /// A token holding a clear key of 16, 24 or 32 bytes.
    pub fn clear(key: &[u8]) -> Result<InternalAes, Failure> {
        let bits = key_bits(key.len()).ok_or(Failure::KeyLength)?;
        let mut field = [0u8; 32];
        field[..key.len()].copy_from_slice(key);
        Ok(InternalAes {
            cv_present: false,
            material: AesMaterial::Clear { field, bits },
        })
    }

    /// The clear key of a clear-key token.
    pub fn clear_key(&self) -> Option<ClearKey> {
        match &self.material {
            AesMaterial::Clear { field, bits } => Some(ClearKey::new(&field[..bytes_of(*bits)])),
            _ => None,
        }
    }
}

/// A 64-byte AES fixed-length token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AesToken {
    /// 64 zero bytes.
    Null,
    /// Byte 0 X'01', version X'04'.
    Internal(InternalAes),
}

/// The bit length of a 16-, 24- or 32-byte AES key.
pub fn key_bits(len: usize) -> Option<u16> {
    match len {
        16 => Some(128),
        24 => Some(192),
        32 => Some(256),
        _ => None,
    }
}

fn bytes_of(bits: u16) -> usize {
    usize::from(bits / 8).min(32)
}

impl AesToken {
    /// Parses a token strictly; see the module documentation for the checks and codes.
    pub fn parse(bytes: &[u8]) -> Result<AesToken, Failure> {
        let t: &[u8; TOKEN_LEN] = bytes.try_into().map_err(|_| Failure::KeyTokenLength)?;
        match t[0] {
            0x00 if all_zero(t) => return Ok(AesToken::Null),
            0x01 => {}
            _ => return Err(Failure::KeyTokenInvalid),
        }
        if t[4] != 0x04 {
            return Err(Failure::KeyTokenVersion);
        }
        if !tvv_ok(t) {
            return Err(Failure::InternalTokenValidation);
        }
        let flag = t[6];
        if !all_zero(&t[1..4]) || t[5] != 0 || flag & 0x1F != 0 || !all_zero(&t[48..56]) {
            return Err(Failure::KeyTokenInvalid);
        }
        let lrc_byte = t[7];
        let mkvp = eight(&t[8..]);
        let mut field = [0u8; 32];
        field.copy_from_slice(&t[16..48]);
        let bits = u16::from_be_bytes([t[56], t[57]]);
        let enc_len = u16::from_be_bytes([t[58], t[59]]);
        let material = if flag & FLAG_NO_KEY != 0 {
            if lrc_byte != 0 || mkvp != [0; 8] || !all_zero(&field) || bits != 0 || enc_len != 0 {
                return Err(Failure::KeyTokenInvalid);
            }
            AesMaterial::NoKey {
                encrypted_flag: flag & FLAG_ENCRYPTED != 0,
            }
        } else {
            if !matches!(bits, 128 | 192 | 256) {
                return Err(Failure::KeyTokenInvalid);
            }
            if flag & FLAG_ENCRYPTED != 0 {
                if enc_len != 32 {
                    return Err(Failure::KeyTokenInvalid);
                }
                AesMaterial::Encrypted {
                    mkvp,
                    field,
                    bits,
                    lrc: lrc_byte,
                }
            } else {
                let n = bytes_of(bits);
                if enc_len != 0
                    || mkvp != [0; 8]
                    || !all_zero(&field[n..])
                    || lrc(&field[..n]) != lrc_byte
                {
                    return Err(Failure::KeyTokenInvalid);
                }
                AesMaterial::Clear { field, bits }
            }
        };
        Ok(AesToken::Internal(InternalAes {
            cv_present: flag & FLAG_CV != 0,
            material,
        }))
    }

    /// The token's 64 bytes, with its LRC (for a clear key) and TVV computed.
    pub fn to_bytes(&self) -> [u8; TOKEN_LEN] {
        let mut t = [0u8; TOKEN_LEN];
        let AesToken::Internal(tok) = self else {
            return t;
        };
        t[0] = 0x01;
        t[4] = 0x04;
        let mut flag = if tok.cv_present { FLAG_CV } else { 0 };
        match &tok.material {
            AesMaterial::NoKey { encrypted_flag } => {
                flag |= FLAG_NO_KEY;
                if *encrypted_flag {
                    flag |= FLAG_ENCRYPTED;
                }
            }
            AesMaterial::Clear { field, bits } => {
                t[7] = lrc(&field[..bytes_of(*bits)]);
                t[16..48].copy_from_slice(field);
                t[56..58].copy_from_slice(&bits.to_be_bytes());
            }
            AesMaterial::Encrypted {
                mkvp,
                field,
                bits,
                lrc,
            } => {
                flag |= FLAG_ENCRYPTED;
                t[7] = *lrc;
                t[8..16].copy_from_slice(mkvp);
                t[16..48].copy_from_slice(field);
                t[56..58].copy_from_slice(&bits.to_be_bytes());
                t[58..60].copy_from_slice(&32u16.to_be_bytes());
            }
        }
        t[6] = flag;
        seal(&mut t);
        t
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn resealed(mut b: [u8; 64], at: usize, value: u8) -> [u8; 64] {
        b[at] = value;
        seal(&mut b);
        b
    }

    fn encrypted() -> AesToken {
        AesToken::Internal(InternalAes {
            cv_present: true,
            material: AesMaterial::Encrypted {
                mkvp: [7; 8],
                field: [0x3C; 32],
                bits: 192,
                lrc: 0x5A,
            },
        })
    }

    #[test]
    fn round_trips() {
        let mut tokens = vec![AesToken::Null, encrypted()];
        for len in [16, 24, 32] {
            let key: Vec<u8> = (1..=len as u8).collect();
            tokens.push(AesToken::Internal(InternalAes::clear(&key).unwrap()));
        }
        for encrypted_flag in [false, true] {
            tokens.push(AesToken::Internal(InternalAes {
                cv_present: false,
                material: AesMaterial::NoKey { encrypted_flag },
            }));
        }
        for tok in tokens {
            let b = tok.to_bytes();
            assert_eq!(AesToken::parse(&b).unwrap(), tok);
            assert_eq!(AesToken::parse(&b).unwrap().to_bytes(), b);
        }
    }

    #[test]
    fn clear_token_fields() {
        let key: Vec<u8> = (1..=16).collect();
        let tok = InternalAes::clear(&key).unwrap();
        assert_eq!(tok.clear_key().unwrap().expose(), key.as_slice());
        let b = AesToken::Internal(tok).to_bytes();
        assert_eq!(b[..8], [1, 0, 0, 0, 4, 0, 0, lrc(&key)]);
        assert_eq!(lrc(&key), (1..=16u8).fold(0, |a, x| a ^ x));
        assert_eq!(b[56..60], [0, 128, 0, 0]);
        assert!(InternalAes::clear(&[0; 17]).is_err());
        // No key bytes in Debug output.
        let s = format!("{:?}", AesToken::parse(&b).unwrap());
        assert!(s.contains("Clear(128 bits)"), "{s}");
    }

    #[test]
    fn corrupted_fields_give_the_right_codes() {
        let enc = encrypted().to_bytes();
        let clear = AesToken::Internal(InternalAes::clear(&[0x11; 32]).unwrap()).to_bytes();
        let err = |b: &[u8]| AesToken::parse(b).unwrap_err();
        assert_eq!(err(&enc[..32]), Failure::KeyTokenLength);
        let mut b = enc;
        b[62] ^= 4;
        assert_eq!(err(&b), Failure::InternalTokenValidation);
        assert_eq!(err(&resealed(enc, 0, 0x02)), Failure::KeyTokenInvalid);
        assert_eq!(err(&resealed(enc, 4, 0x00)), Failure::KeyTokenVersion);
        assert_eq!(err(&resealed(enc, 4, 0x05)), Failure::KeyTokenVersion);
        for at in [1, 2, 3, 5, 48, 55] {
            assert_eq!(err(&resealed(enc, at, 1)), Failure::KeyTokenInvalid, "{at}");
        }
        // Reserved flag bits.
        assert_eq!(err(&resealed(enc, 6, 0x81)), Failure::KeyTokenInvalid);
        // Bit length and encrypted length.
        assert_eq!(err(&resealed(enc, 57, 0x40)), Failure::KeyTokenInvalid);
        assert_eq!(err(&resealed(enc, 59, 16)), Failure::KeyTokenInvalid);
        assert_eq!(err(&resealed(clear, 59, 32)), Failure::KeyTokenInvalid);
        // Clear key: LRC, MKVP, padding beyond the key.
        assert_eq!(err(&resealed(clear, 7, 0x01)), Failure::KeyTokenInvalid);
        assert_eq!(err(&resealed(clear, 8, 0x01)), Failure::KeyTokenInvalid);
        let c128 = AesToken::Internal(InternalAes::clear(&[0x11; 16]).unwrap()).to_bytes();
        assert_eq!(err(&resealed(c128, 40, 0x01)), Failure::KeyTokenInvalid);
        // No-key token with something in it.
        let none = AesToken::Internal(InternalAes {
            cv_present: false,
            material: AesMaterial::NoKey {
                encrypted_flag: false,
            },
        })
        .to_bytes();
        assert_eq!(err(&resealed(none, 20, 1)), Failure::KeyTokenInvalid);
        assert_eq!(err(&resealed(none, 57, 128)), Failure::KeyTokenInvalid);
        // A null token with a stray byte.
        let mut null = [0u8; 64];
        null[30] = 1;
        assert_eq!(err(&null), Failure::KeyTokenInvalid);
    }

    #[test]
    fn mutations_never_panic() {
        let seeds = [
            encrypted().to_bytes(),
            AesToken::Internal(InternalAes::clear(&[0x42; 24]).unwrap()).to_bytes(),
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let r = next();
            let mut b = seeds[i % seeds.len()];
            for _ in 0..=(r % 4) {
                let r = next();
                b[(r % 64) as usize] ^= (r >> 8) as u8 | 1;
            }
            if r & 0x10 != 0 {
                seal(&mut b);
            }
            let len = if r & 0x300 == 0x300 {
                (r >> 16) as usize % 64
            } else {
                64
            };
            if let Ok(tok) = AesToken::parse(&b[..len]) {
                assert_eq!(AesToken::parse(&tok.to_bytes()).unwrap(), tok);
            }
        }
    }
}
