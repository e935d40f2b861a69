//! The 64-byte fixed-length DES key token: null, internal (key under the SYM master key) or
//! external (key under a transport key).
//!
//! Layout (IBM Docs "CCA for Linux", "DES internal key token" and "DES external key token",
//! <https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_appbdesextkeytok.html>; CCA254
//! Fig. B-2/B-3, p=374–375). TVV codes: CCA254 Fig. A-4,
//! <https://manualsdump.com/en/manuals/ibm-2model/120553/364> (8/12 external, 8/29 internal).
//!
//! | off | content |
//! |---|---|
//! | 0 | X'01' internal, X'02' external, X'00' null |
//! | 1–3, 5, 56–58 | zero |
//! | 4 | version: X'00' (key length from the CV's form bits) or X'01' (zero-CV double or triple DATA key, length in byte 59) |
//! | 6 | flag byte 1: 80 key (and MKVP) present, 40 CV applied, 20 NOCV, 10 ANSI KEK, 08, 04, 02, 01 |
//! | 7 | flag byte 2: top 3 bits the wrap method (000 WRAP-ECB, 001 WRAP-ENH, 010 WRAPENH2, 011 WRAPENH3); the rest zero |
//! | 8–15 | SYM MKVP (internal); zero (external) |
//! | 16–23, 24–31, 48–55 | key part A, B, C, enciphered |
//! | 32–39, 40–47 | control vector left, right |
//! | 59 | version X'01': X'10' double, X'20' triple; otherwise 0 |
//! | 60–63 | TVV ([`super::tvv`]) |
//!
//! Checks, in order: length (8/43); byte 0 (8/47); version (8/49; the legacy 4758 version
//! X'03' is not accepted); TVV (8/29 internal, 8/12 external); then every other field (8/47).
//! For WRAP-ECB tokens the parts a shorter key does not use (B and the right CV of a single
//! key, C of a single or double key) must be zero. **\[I\]** how IBM treats non-zero unused
//! parts is not documented; softcca refuses them.

use crate::error::Failure;

use super::{KeyLength, TOKEN_LEN, all_zero, cv, eight, seal, tvv_ok};

/// How the key parts were enciphered (flag byte 2, top 3 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrapMethod {
    /// 000: WRAP-ECB, the original CCA method (the only one [`super::wrap`] implements).
    Ecb,
    /// 001: WRAP-ENH (SHA-1 based).
    Enh,
    /// 010: WRAPENH2.
    Enh2,
    /// 011: WRAPENH3.
    Enh3,
}

impl WrapMethod {
    fn from_flag2(flag2: u8) -> Option<WrapMethod> {
        if flag2 & 0x1F != 0 {
            return None;
        }
        match flag2 >> 5 {
            0 => Some(WrapMethod::Ecb),
            1 => Some(WrapMethod::Enh),
            2 => Some(WrapMethod::Enh2),
            3 => Some(WrapMethod::Enh3),
            _ => None,
        }
    }

    fn flag2(self) -> u8 {
        match self {
            WrapMethod::Ecb => 0x00,
            WrapMethod::Enh => 0x20,
            WrapMethod::Enh2 => 0x40,
            WrapMethod::Enh3 => 0x60,
        }
    }
}

/// Flag byte 1: key (and, internally, MKVP) present.
pub const FLAG_KEY_PRESENT: u8 = 0x80;
/// Flag byte 1: the control vector was applied.
pub const FLAG_CV_APPLIED: u8 = 0x40;

/// The fields an internal and an external DES token share. The key parts are ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DesFields {
    /// Flag byte 1 (byte 6); every bit is defined, so any value is accepted.
    pub flags: u8,
    /// The wrap method (flag byte 2).
    pub wrap_method: WrapMethod,
    /// Key parts A, B, C (bytes 16–23, 24–31, 48–55), enciphered, in that order.
    pub key: [u8; 24],
    /// Control vector, left half (bytes 32–39).
    pub cv_left: [u8; 8],
    /// Control vector, right half (bytes 40–47); zero for a single key.
    pub cv_right: [u8; 8],
    /// The key's length.
    pub length: KeyLength,
}

impl DesFields {
    /// The token version these fields need: X'01' for a zero-CV double or triple key, else
    /// X'00'.
    pub fn version(&self) -> u8 {
        if self.cv_left == [0; 8] && self.cv_right == [0; 8] && self.length != KeyLength::Single {
            1
        } else {
            0
        }
    }

    /// Key part A, B or C (index 0, 1, 2).
    pub fn part(&self, i: usize) -> [u8; 8] {
        eight(&self.key[8 * i.min(2)..])
    }

    fn write(&self, t: &mut [u8; TOKEN_LEN]) {
        let version = self.version();
        t[4] = version;
        t[6] = self.flags;
        t[7] = self.wrap_method.flag2();
        t[16..32].copy_from_slice(&self.key[..16]);
        t[48..56].copy_from_slice(&self.key[16..]);
        t[32..40].copy_from_slice(&self.cv_left);
        t[40..48].copy_from_slice(&self.cv_right);
        if version == 1 {
            t[59] = match self.length {
                KeyLength::Triple => 0x20,
                _ => 0x10,
            };
        }
    }

    fn read(t: &[u8; TOKEN_LEN]) -> Result<DesFields, Failure> {
        if !all_zero(&t[1..4]) || t[5] != 0 || !all_zero(&t[56..59]) {
            return Err(Failure::KeyTokenInvalid);
        }
        let wrap_method = WrapMethod::from_flag2(t[7]).ok_or(Failure::KeyTokenInvalid)?;
        let cv_left = eight(&t[32..]);
        let cv_right = eight(&t[40..]);
        let length = match t[4] {
            0 => {
                if t[59] != 0 {
                    return Err(Failure::KeyTokenInvalid);
                }
                cv::length_from_form(&cv_left).ok_or(Failure::KeyTokenInvalid)?
            }
            _ => {
                if cv_left != [0; 8] || cv_right != [0; 8] {
                    return Err(Failure::KeyTokenInvalid);
                }
                match t[59] {
                    0x10 => KeyLength::Double,
                    0x20 => KeyLength::Triple,
                    _ => return Err(Failure::KeyTokenInvalid),
                }
            }
        };
        let mut key = [0u8; 24];
        key[..16].copy_from_slice(&t[16..32]);
        key[16..].copy_from_slice(&t[48..56]);
        if wrap_method == WrapMethod::Ecb {
            let unused_zero = match length {
                KeyLength::Single => all_zero(&key[8..]) && cv_right == [0; 8],
                KeyLength::Double => all_zero(&key[16..]),
                KeyLength::Triple => true,
            };
            if !unused_zero {
                return Err(Failure::KeyTokenInvalid);
            }
        }
        Ok(DesFields {
            flags: t[6],
            wrap_method,
            key,
            cv_left,
            cv_right,
            length,
        })
    }
}

/// An internal DES token: the key enciphered under the SYM master key whose verification
/// pattern it carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InternalDes {
    /// The SYM master key's verification pattern (bytes 8–15).
    pub mkvp: [u8; 8],
    /// The key and its control vector.
    pub fields: DesFields,
}

/// An external DES token: the key enciphered under a transport key; bytes 8–15 are zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalDes {
    /// The key and its control vector.
    pub fields: DesFields,
}

/// A 64-byte DES key token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DesToken {
    /// Byte 0 X'00'. Bytes 1–15, 40–47 and 56–63 must be zero; bytes 16–39 and 48–55 are
    /// ignored here (Key Import reads an enciphered single key at 16; IBM Docs "CCA for
    /// Linux", "Null key tokens"), and [`DesToken::to_bytes`] writes 64 zero bytes.
    Null,
    /// Byte 0 X'01'.
    Internal(InternalDes),
    /// Byte 0 X'02'.
    External(ExternalDes),
}

impl DesToken {
    /// Parses a token strictly; see the module documentation for the checks and codes.
    pub fn parse(bytes: &[u8]) -> Result<DesToken, Failure> {
        let t: &[u8; TOKEN_LEN] = bytes.try_into().map_err(|_| Failure::KeyTokenLength)?;
        let internal = match t[0] {
            0x00 => {
                if all_zero(&t[1..16]) && all_zero(&t[40..48]) && all_zero(&t[56..]) {
                    return Ok(DesToken::Null);
                }
                return Err(Failure::KeyTokenInvalid);
            }
            0x01 => true,
            0x02 => false,
            _ => return Err(Failure::KeyTokenInvalid),
        };
        if t[4] > 1 {
            return Err(Failure::KeyTokenVersion);
        }
        if !tvv_ok(t) {
            return Err(if internal {
                Failure::InternalTokenValidation
            } else {
                Failure::ExternalTokenValidation
            });
        }
        let fields = DesFields::read(t)?;
        let mkvp = eight(&t[8..]);
        if internal {
            // No key present: no MKVP either.
            if fields.flags & FLAG_KEY_PRESENT == 0 && mkvp != [0; 8] {
                return Err(Failure::KeyTokenInvalid);
            }
            Ok(DesToken::Internal(InternalDes { mkvp, fields }))
        } else {
            if mkvp != [0; 8] {
                return Err(Failure::KeyTokenInvalid);
            }
            Ok(DesToken::External(ExternalDes { fields }))
        }
    }

    /// The token's 64 bytes, with its version and TVV computed.
    pub fn to_bytes(&self) -> [u8; TOKEN_LEN] {
        let mut t = [0u8; TOKEN_LEN];
        match self {
            DesToken::Null => return t,
            DesToken::Internal(i) => {
                t[0] = 0x01;
                t[8..16].copy_from_slice(&i.mkvp);
                i.fields.write(&mut t);
            }
            DesToken::External(e) => {
                t[0] = 0x02;
                e.fields.write(&mut t);
            }
        }
        seal(&mut t);
        t
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tvv;
    use super::*;

    fn fields(key_type: &str, length: KeyLength) -> DesFields {
        let (cv_left, cv_right) = cv::default_cv(key_type, length).unwrap();
        let mut key = [0u8; 24];
        for (i, b) in key.iter_mut().enumerate().take(length.bytes()) {
            *b = 0x11u8.wrapping_mul(i as u8 + 1);
        }
        DesFields {
            flags: FLAG_KEY_PRESENT,
            wrap_method: WrapMethod::Ecb,
            key,
            cv_left,
            cv_right,
            length,
        }
    }

    fn internal(key_type: &str, length: KeyLength) -> DesToken {
        DesToken::Internal(InternalDes {
            mkvp: [0xA5, 1, 2, 3, 4, 5, 6, 7],
            fields: fields(key_type, length),
        })
    }

    fn zero_cv(length: KeyLength) -> DesToken {
        let mut f = fields("DATA", length);
        f.cv_left = [0; 8];
        f.cv_right = [0; 8];
        DesToken::Internal(InternalDes {
            mkvp: [9; 8],
            fields: f,
        })
    }

    fn resealed(mut b: [u8; 64], at: usize, value: u8) -> [u8; 64] {
        b[at] = value;
        seal(&mut b);
        b
    }

    #[test]
    fn round_trips() {
        let mut tokens = vec![DesToken::Null];
        for (t, len) in [
            ("DATA", KeyLength::Single),
            ("DATA", KeyLength::Double),
            ("DATA", KeyLength::Triple),
            ("EXPORTER", KeyLength::Double),
            ("IPINENC", KeyLength::Triple),
        ] {
            tokens.push(internal(t, len));
            tokens.push(DesToken::External(ExternalDes {
                fields: fields(t, len),
            }));
        }
        tokens.push(zero_cv(KeyLength::Double));
        tokens.push(zero_cv(KeyLength::Triple));
        for tok in tokens {
            let b = tok.to_bytes();
            assert_eq!(DesToken::parse(&b).unwrap(), tok);
            assert_eq!(DesToken::parse(&b).unwrap().to_bytes(), b);
        }
    }

    #[test]
    fn version_and_length_byte() {
        let b = internal("DATA", KeyLength::Triple).to_bytes();
        assert_eq!((b[4], b[59]), (0, 0));
        let b = zero_cv(KeyLength::Double).to_bytes();
        assert_eq!((b[4], b[59]), (1, 0x10));
        let b = zero_cv(KeyLength::Triple).to_bytes();
        assert_eq!((b[4], b[59]), (1, 0x20));
        // A zero-CV single key is version 0 with form bits 000.
        let b = zero_cv(KeyLength::Single).to_bytes();
        assert_eq!((b[4], b[59]), (0, 0));
        assert_eq!(DesToken::parse(&b).unwrap(), zero_cv(KeyLength::Single));
    }

    #[test]
    fn tvv_in_the_token_is_the_word_sum() {
        let b = internal("MAC", KeyLength::Double).to_bytes();
        let mut sum = 0u32;
        for i in 0..15 {
            sum = sum.wrapping_add(u32::from_be_bytes(b[4 * i..4 * i + 4].try_into().unwrap()));
        }
        assert_eq!(b[60..], sum.to_be_bytes());
        assert_eq!(tvv(&b), sum);
    }

    #[test]
    fn corrupted_fields_give_the_right_codes() {
        let good = internal("CIPHER", KeyLength::Double).to_bytes();
        let ext = DesToken::External(ExternalDes {
            fields: fields("CIPHER", KeyLength::Double),
        })
        .to_bytes();
        let err = |b: &[u8]| DesToken::parse(b).unwrap_err();

        assert_eq!(err(&good[..63]), Failure::KeyTokenLength);
        assert_eq!(
            err(&[good.as_slice(), &[0]].concat()),
            Failure::KeyTokenLength
        );
        // TVV.
        let mut b = good;
        b[63] ^= 1;
        assert_eq!(err(&b), Failure::InternalTokenValidation);
        let mut b = ext;
        b[63] ^= 1;
        assert_eq!(err(&b), Failure::ExternalTokenValidation);
        let mut b = good;
        b[20] ^= 0x80; // a key byte changed, TVV not recomputed
        assert_eq!(err(&b), Failure::InternalTokenValidation);
        // Token type.
        assert_eq!(err(&resealed(good, 0, 0x03)), Failure::KeyTokenInvalid);
        // Version.
        assert_eq!(err(&resealed(good, 4, 0x03)), Failure::KeyTokenVersion);
        assert_eq!(err(&resealed(good, 4, 0x04)), Failure::KeyTokenVersion);
        assert_eq!(err(&resealed(ext, 4, 0x02)), Failure::KeyTokenVersion);
        // Version 1 with a CV present.
        assert_eq!(err(&resealed(good, 4, 0x01)), Failure::KeyTokenInvalid);
        // Reserved bytes.
        for at in [1, 2, 3, 5, 56, 57, 58] {
            assert_eq!(
                err(&resealed(good, at, 0x01)),
                Failure::KeyTokenInvalid,
                "{at}"
            );
            assert_eq!(
                err(&resealed(ext, at, 0x01)),
                Failure::KeyTokenInvalid,
                "{at}"
            );
        }
        // Flag byte 2: reserved low bits, undefined wrap method.
        assert_eq!(err(&resealed(good, 7, 0x01)), Failure::KeyTokenInvalid);
        assert_eq!(err(&resealed(good, 7, 0x80)), Failure::KeyTokenInvalid);
        assert!(DesToken::parse(&resealed(good, 7, 0x40)).is_ok());
        // Flag byte 1: no key present but an MKVP.
        assert_eq!(err(&resealed(good, 6, 0x00)), Failure::KeyTokenInvalid);
        // External MKVP field must be zero.
        assert_eq!(err(&resealed(ext, 9, 0x01)), Failure::KeyTokenInvalid);
        // Key-length byte: non-zero in version 0; wrong in version 1.
        assert_eq!(err(&resealed(good, 59, 0x10)), Failure::KeyTokenInvalid);
        let v1 = zero_cv(KeyLength::Double).to_bytes();
        for bad in [0x00, 0x08, 0x30, 0xFF] {
            assert_eq!(
                err(&resealed(v1, 59, bad)),
                Failure::KeyTokenInvalid,
                "{bad}"
            );
        }
        // Form bits that are no left-half form (001, 100, 101).
        for form in [0x20, 0x80, 0xA0] {
            assert_eq!(err(&resealed(good, 37, form)), Failure::KeyTokenInvalid);
        }
        // Unused key part C of a double key.
        assert_eq!(err(&resealed(good, 50, 0x01)), Failure::KeyTokenInvalid);
        // Unused part B / right CV of a single key.
        let single = internal("DATA", KeyLength::Single).to_bytes();
        assert_eq!(err(&resealed(single, 25, 0x01)), Failure::KeyTokenInvalid);
        assert_eq!(err(&resealed(single, 44, 0x01)), Failure::KeyTokenInvalid);
        // Null token with a non-zero byte where zeros are required.
        let mut null = [0u8; 64];
        null[16] = 0x55; // an enciphered single key may sit here
        assert_eq!(DesToken::parse(&null).unwrap(), DesToken::Null);
        null[12] = 1;
        assert_eq!(err(&null), Failure::KeyTokenInvalid);
    }

    #[test]
    fn mutations_never_panic() {
        let seeds = [
            internal("DATA", KeyLength::Double).to_bytes(),
            internal("IMPORTER", KeyLength::Triple).to_bytes(),
            zero_cv(KeyLength::Triple).to_bytes(),
            DesToken::External(ExternalDes {
                fields: fields("DATA", KeyLength::Single),
            })
            .to_bytes(),
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut accepted = 0;
        for i in 0..20_000 {
            let r = next();
            let mut b = seeds[i % seeds.len()].to_vec();
            for _ in 0..=(r % 4) {
                let r = next();
                let at = (r % 64) as usize;
                b[at] ^= (r >> 8) as u8 | 1;
            }
            if r & 0x10 != 0 {
                let mut t: [u8; 64] = b.as_slice().try_into().unwrap();
                seal(&mut t);
                b = t.to_vec();
            }
            if r & 0x300 == 0x300 {
                b.truncate((r >> 16) as usize % 64);
            }
            if let Ok(tok) = DesToken::parse(&b) {
                accepted += 1;
                // Whatever parses re-serializes to something that parses to the same value.
                assert_eq!(DesToken::parse(&tok.to_bytes()).unwrap(), tok);
            }
        }
        assert!(accepted > 0);
    }
}
