//! RSA private-key sections with an AES-wrapped payload: X'31' (RSA-AESC, CRT) and X'30'
//! (RSA-AESM, modulus-exponent).
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "RSA private key token, 4096-bit Modulus-Exponent with AES
//!   encrypted OPK section (X'30')" (lxcc/wskc_rsopk1_intext.html) and "… CRT … (X'31')"
//!   (lxcc/wskc_rropk1_intext.html): associated-data length at 4, payload length at 6, the
//!   associated-data version at 10, the key format at 11 (X'40' clear external, X'08'
//!   internal for X'31'; X'00' / X'02' for X'30'), the key source at 12, the hash type at 14
//!   (X'00' clear, X'02' SHA-256) and a 32-byte hash at 15.
//! - opencryptoki 3.27 `cca_stdll.h` (`CCA_RSA_INTTOK_PRIVKEY_*`): what a real client reads —
//!   X'31': n length at 62, MKVP at 116, n at 134; X'30': n length at 52, MKVP at 104, n at 122.
//!
//! IBM's inner layout (the OPK, the payload's format, where the usage byte sits in these
//! sections) is not public. softcca keeps the offsets opencryptoki reads and IBM's header
//! fields, and chooses the rest:
//! - the key-usage byte is at offset 50, as in the X'02'–X'09' sections (SIG-ONLY X'00',
//!   KEY-MGMT X'80', KM-ONLY X'C0', optionally with XLATE-OK X'02');
//! - the AD length at 4 is the offset of n (134 or 122), the AD version at 10 is X'03';
//! - the MKVP field is 16 bytes: the APKA master key's 8-byte verification pattern, then 8
//!   zero bytes;
//! - the payload is the private key as PKCS #8 DER (the full CRT key, also for X'30'); in an
//!   internal section it is AES key-wrapped with padding (RFC 5649) under the APKA master
//!   key, after a SHA-256 hash that binds the section's fixed fields, n and the public
//!   exponent (the hash at 15 holds the same value). A clear external section holds the DER
//!   in the clear and hash type X'00';
//! - every other byte of the fixed part is zero and checked as such.
//!
//! Every length that disagrees with the section, an unknown format, version or usage byte is
//! 8/770 ([`Failure::PkaTokenField`], CCA254 Fig. A-4, p=368). A payload that does not unwrap
//! under the master key its MKVP names, or whose hash differs, is 8/770 too (IBM is silent;
//! the token's fields are what is wrong).

use aws_lc_rs::digest;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::mk::{Class, MasterKey, verification_pattern};
use crate::tokens::pka::id;

fn invalid() -> Failure {
    Failure::PkaTokenField
}

fn be16(b: &[u8], at: usize) -> Result<usize, Failure> {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(usize::from(u16::from_be_bytes([hi, lo]))),
        _ => Err(invalid()),
    }
}

fn put16(out: &mut [u8], at: usize, v: usize) -> Result<(), Failure> {
    let v = u16::try_from(v).map_err(|_| invalid())?;
    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
    Ok(())
}

/// Key-usage bytes.
pub mod usage {
    /// SIG-ONLY: signatures only.
    pub const SIG_ONLY: u8 = 0x00;
    /// KEY-MGMT: signatures and key management.
    pub const KEY_MGMT: u8 = 0x80;
    /// KM-ONLY: key management only.
    pub const KM_ONLY: u8 = 0xC0;
    /// XLATE-OK.
    pub const XLATE_OK: u8 = 0x02;
    /// The two usage bits.
    pub const MASK: u8 = 0xC0;
}

/// Key formats (byte 11).
pub mod format {
    /// Clear external X'31'.
    pub const CRT_CLEAR: u8 = 0x40;
    /// Internal X'31'.
    pub const CRT_INTERNAL: u8 = 0x08;
    /// Clear external X'30'.
    pub const ME_CLEAR: u8 = 0x00;
    /// Internal X'30'.
    pub const ME_INTERNAL: u8 = 0x02;
}

/// Key source flags (byte 12).
pub mod source {
    /// Imported from clear.
    pub const CLEAR_IMPORT: u8 = 0x21;
    /// Generated at random.
    pub const RANDOM: u8 = 0x24;
}

const HASH_AT: usize = 15;
const USAGE_AT: usize = 50;

/// Offsets of the fields opencryptoki reads: (n length, MKVP, n).
const fn layout(crt: bool) -> (usize, usize, usize) {
    if crt { (62, 116, 134) } else { (52, 104, 122) }
}

/// An X'30' or X'31' section.
#[derive(Clone, PartialEq, Eq)]
pub struct AesRsa {
    /// X'31' (CRT) or X'30' (ME).
    pub crt: bool,
    /// Whether the payload is wrapped under the APKA master key (internal form).
    pub internal: bool,
    /// The key source flag.
    pub source: u8,
    /// The key-usage byte.
    pub usage: u8,
    /// The 16-byte MKVP field (internal).
    pub mkvp: [u8; 16],
    /// The 32-byte hash field.
    pub hash: [u8; 32],
    /// The modulus; empty in a skeleton.
    pub n: Vec<u8>,
    /// The payload: PKCS #8 DER in the clear, or wrapped; empty in a skeleton.
    pub payload: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for AesRsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AesRsa")
            .field("crt", &self.crt)
            .field("internal", &self.internal)
            .field("usage", &self.usage)
            .field("n_len", &self.n.len())
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

impl AesRsa {
    /// A skeleton (no key yet) for key generation.
    pub fn skeleton(crt: bool, usage: u8) -> AesRsa {
        AesRsa {
            crt,
            internal: false,
            source: 0,
            usage,
            mkvp: [0; 16],
            hash: [0; 32],
            n: Vec::new(),
            payload: Zeroizing::new(Vec::new()),
        }
    }

    /// Whether the section holds no key.
    pub fn is_skeleton(&self) -> bool {
        self.n.is_empty() && self.payload.is_empty()
    }

    fn format_byte(&self) -> u8 {
        match (self.crt, self.internal) {
            (true, false) => format::CRT_CLEAR,
            (true, true) => format::CRT_INTERNAL,
            (false, false) => format::ME_CLEAR,
            (false, true) => format::ME_INTERNAL,
        }
    }

    /// The fixed part (up to n), with the hash field as given.
    fn fixed(&self, payload_len: usize) -> Result<Vec<u8>, Failure> {
        let (n_len_at, mkvp_at, n_at) = layout(self.crt);
        let mut out = vec![0u8; n_at];
        out[0] = if self.crt { id::RSA_AESC } else { id::RSA_AESM };
        put16(&mut out, 2, n_at + self.n.len() + payload_len)?;
        put16(&mut out, 4, n_at)?;
        put16(&mut out, 6, payload_len)?;
        out[10] = 0x03;
        out[11] = self.format_byte();
        out[12] = self.source;
        out[14] = if self.internal { 0x02 } else { 0x00 };
        out[HASH_AT..HASH_AT + 32].copy_from_slice(&self.hash);
        out[USAGE_AT] = self.usage;
        put16(&mut out, n_len_at, self.n.len())?;
        out[mkvp_at..mkvp_at + 16].copy_from_slice(&self.mkvp);
        Ok(out)
    }

    /// The section's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        let mut out = self.fixed(self.payload.len())?;
        out.extend_from_slice(&self.n);
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Parses an X'30' or X'31' section (its header included).
    pub fn parse(s: &[u8]) -> Result<AesRsa, Failure> {
        let crt = match s.first() {
            Some(&id::RSA_AESC) => true,
            Some(&id::RSA_AESM) => false,
            _ => return Err(invalid()),
        };
        let (n_len_at, mkvp_at, n_at) = layout(crt);
        if s.len() < n_at || s[1] != 0 || be16(s, 4)? != n_at || s[10] != 0x03 || s[13] != 0 {
            return Err(invalid());
        }
        let payload_len = be16(s, 6)?;
        let n_len = be16(s, n_len_at)?;
        if be16(s, 2)? != s.len() || n_at + n_len + payload_len != s.len() {
            return Err(invalid());
        }
        let internal = match (crt, s[11]) {
            (true, format::CRT_CLEAR) | (false, format::ME_CLEAR) => false,
            (true, format::CRT_INTERNAL) | (false, format::ME_INTERNAL) => true,
            _ => return Err(invalid()),
        };
        if s[14] != if internal { 0x02 } else { 0x00 } {
            return Err(invalid());
        }
        let usage = s[USAGE_AT];
        if usage & !(usage::MASK | usage::XLATE_OK) != 0 || usage & usage::MASK == 0x40 {
            return Err(invalid());
        }
        if !matches!(s[12], 0 | 0x21..=0x24) {
            return Err(invalid());
        }
        // Every byte softcca does not define is zero.
        let defined = |i: usize| {
            (2..8).contains(&i)
                || (10..=14).contains(&i)
                || (HASH_AT..HASH_AT + 32).contains(&i)
                || i == USAGE_AT
                || (n_len_at..n_len_at + 2).contains(&i)
                || (mkvp_at..mkvp_at + 16).contains(&i)
        };
        if (4..n_at).any(|i| !defined(i) && s[i] != 0) {
            return Err(invalid());
        }
        let mut mkvp = [0u8; 16];
        mkvp.copy_from_slice(&s[mkvp_at..mkvp_at + 16]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&s[HASH_AT..HASH_AT + 32]);
        let n = s[n_at..n_at + n_len].to_vec();
        if n.first() == Some(&0) || (n.is_empty() != (payload_len == 0)) {
            return Err(invalid());
        }
        if !internal && (mkvp != [0; 16] || hash != [0; 32]) {
            return Err(invalid());
        }
        if internal && n.is_empty() {
            return Err(invalid());
        }
        Ok(AesRsa {
            crt,
            internal,
            source: s[12],
            usage,
            mkvp,
            hash,
            n,
            payload: Zeroizing::new(s[n_at + n_len..].to_vec()),
        })
    }

    /// The hash that binds the section's fixed fields (hash field zero, payload length as
    /// given), n and the public exponent `e`.
    fn binding(&self, payload_len: usize, e: &[u8]) -> Result<[u8; 32], Failure> {
        let mut unhashed = self.clone();
        unhashed.hash = [0; 32];
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&unhashed.fixed(payload_len)?);
        ctx.update(&self.n);
        ctx.update(&(e.len() as u32).to_be_bytes());
        ctx.update(e);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Ok(out)
    }

    /// This section with `der` (PKCS #8) wrapped under `mk`: internal form.
    pub fn wrap(&self, mk: &MasterKey, e: &[u8], der: &[u8]) -> Result<AesRsa, Failure> {
        let wrapped_len = (32 + der.len()).div_ceil(8) * 8 + 8;
        let mut out = AesRsa {
            internal: true,
            hash: [0; 32],
            payload: Zeroizing::new(Vec::new()),
            ..self.clone()
        };
        out.mkvp = [0; 16];
        out.mkvp[..8].copy_from_slice(&verification_pattern(Class::Apka, mk));
        let hash = out.binding(wrapped_len, e)?;
        out.hash = hash;
        let mut data = Zeroizing::new(Vec::with_capacity(32 + der.len()));
        data.extend_from_slice(&hash);
        data.extend_from_slice(der);
        let mut buf = Zeroizing::new(vec![0u8; wrapped_len]);
        let kek = AesKek::new(&AES_256, mk.expose()).map_err(|_| Failure::KeyLength)?;
        let n = kek
            .wrap_with_padding(&data, &mut buf)
            .map_err(|_| invalid())?
            .len();
        buf.truncate(n);
        if n != wrapped_len {
            return Err(invalid());
        }
        out.payload = buf;
        Ok(out)
    }

    /// The PKCS #8 DER of an internal section, unwrapped under `mk`.
    pub fn unwrap(&self, mk: &MasterKey, e: &[u8]) -> Result<Zeroizing<Vec<u8>>, Failure> {
        if !self.internal {
            return Err(invalid());
        }
        let kek = AesKek::new(&AES_256, mk.expose()).map_err(|_| Failure::KeyLength)?;
        let mut buf = Zeroizing::new(vec![0u8; self.payload.len()]);
        let n = kek
            .unwrap_with_padding(&self.payload, &mut buf)
            .map_err(|_| invalid())?
            .len();
        buf.truncate(n);
        let expect = self.binding(self.payload.len(), e)?;
        if buf.len() < 32 || buf[..32] != expect || self.hash != expect {
            return Err(invalid());
        }
        Ok(Zeroizing::new(buf[32..].to_vec()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mk(b: u8) -> MasterKey {
        MasterKey::from_bytes(&[b; 32])
    }

    fn clear(crt: bool) -> AesRsa {
        AesRsa {
            crt,
            internal: false,
            source: source::CLEAR_IMPORT,
            usage: usage::KEY_MGMT,
            mkvp: [0; 16],
            hash: [0; 32],
            n: vec![0xC3; 256],
            payload: Zeroizing::new(vec![0x30, 0x82, 1, 2, 3]),
        }
    }

    #[test]
    fn opencryptoki_offsets_hold() {
        for (crt, n_len_at, mkvp_at, n_at) in [(true, 62, 116, 134), (false, 52, 104, 122)] {
            let s = clear(crt).wrap(&mk(7), &[1, 0, 1], b"secret der").unwrap();
            let b = s.to_bytes().unwrap();
            assert_eq!(be16(&b, n_len_at).unwrap(), 256);
            assert_eq!(
                &b[mkvp_at..mkvp_at + 8],
                &verification_pattern(Class::Apka, &mk(7))
            );
            assert_eq!(&b[n_at..n_at + 256], &[0xC3; 256][..]);
            assert_eq!(b[11], if crt { 0x08 } else { 0x02 });
            let back = AesRsa::parse(&b).unwrap();
            assert_eq!(back, s);
            assert_eq!(&back.unwrap(&mk(7), &[1, 0, 1]).unwrap()[..], b"secret der");
            // The wrong master key, another e, a flipped usage byte: refused.
            assert_eq!(back.unwrap(&mk(8), &[1, 0, 1]), Err(Failure::PkaTokenField));
            assert_eq!(back.unwrap(&mk(7), &[3]), Err(Failure::PkaTokenField));
            let mut other = back.clone();
            other.usage = usage::SIG_ONLY;
            assert_eq!(
                other.unwrap(&mk(7), &[1, 0, 1]),
                Err(Failure::PkaTokenField)
            );
        }
    }

    #[test]
    fn every_length_and_flag_is_checked() {
        for crt in [true, false] {
            let b = clear(crt).to_bytes().unwrap();
            assert_eq!(AesRsa::parse(&b).unwrap(), clear(crt));
            let (n_len_at, mkvp_at, _) = layout(crt);
            for at in [
                1usize,
                2,
                3,
                4,
                5,
                6,
                7,
                8,
                10,
                11,
                13,
                14,
                20,
                50,
                51,
                n_len_at,
                n_len_at + 1,
                mkvp_at,
            ] {
                let mut bad = b.clone();
                bad[at] ^= 0x01;
                assert_eq!(
                    AesRsa::parse(&bad),
                    Err(Failure::PkaTokenField),
                    "crt {crt} byte {at}"
                );
            }
            let mut km = b.clone();
            km[50] = 0x40;
            assert_eq!(AesRsa::parse(&km), Err(Failure::PkaTokenField));
            for cut in 0..b.len() {
                assert!(AesRsa::parse(&b[..cut]).is_err());
            }
        }
        let sk = AesRsa::skeleton(true, usage::SIG_ONLY);
        let b = sk.to_bytes().unwrap();
        assert_eq!(b.len(), 134);
        assert!(AesRsa::parse(&b).unwrap().is_skeleton());
    }
}

/// The external clear CRT section X'08' (key format X'40'), in IBM's layout (CCA 2.54
/// Fig. B-12, p=387; IBM Docs "CCA for Linux", wskc_rsapkt_crt_intext.html): 4 SHA-1 hash
/// (zero here), 28 key format, 29 source flag, 30 name-section hash (zero here), 50 usage,
/// 54–64 lengths of p, q, dp, dq, U, n, 70 pad length, 76 MKVP and 92 OPK data (zero in an
/// external section), 124 an 8-byte confounder, 132 p ‖ q ‖ dp ‖ dq ‖ U ‖ pad, then n; the
/// length from 124 to the end of the pad is a multiple of 8. softcca neither builds nor
/// reads the internal X'08' (its private key is under a DES OPK under the ASYM master key)
/// or the encrypted external form (X'42'): both are 8/2.
#[derive(Clone, PartialEq, Eq)]
pub struct ClearCrt {
    /// The key-usage byte.
    pub usage: u8,
    /// The modulus.
    pub n: Vec<u8>,
    /// p, q, dp, dq, U.
    pub parts: [Zeroizing<Vec<u8>>; 5],
}

impl std::fmt::Debug for ClearCrt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClearCrt")
            .field("usage", &self.usage)
            .field("n_len", &self.n.len())
            .finish_non_exhaustive()
    }
}

const CRT_FIXED: usize = 132;

impl ClearCrt {
    /// The section's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        let parts_len: usize = self.parts.iter().map(|p| p.len()).sum();
        let pad = (8 - (8 + parts_len) % 8) % 8;
        let len = CRT_FIXED + parts_len + pad + self.n.len();
        let mut out = vec![0u8; CRT_FIXED];
        out[0] = id::RSA_CRT_OPK;
        put16(&mut out, 2, len)?;
        out[28] = format::CRT_CLEAR;
        out[USAGE_AT] = self.usage;
        for (i, p) in self.parts.iter().enumerate() {
            put16(&mut out, 54 + 2 * i, p.len())?;
        }
        put16(&mut out, 64, self.n.len())?;
        put16(&mut out, 70, pad)?;
        for p in &self.parts {
            out.extend_from_slice(p);
        }
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(&self.n);
        Ok(out)
    }

    /// Parses an X'08' section: the external clear form only (8/2 for the others).
    pub fn parse(s: &[u8]) -> Result<ClearCrt, Failure> {
        if s.first() != Some(&id::RSA_CRT_OPK) || s.len() < CRT_FIXED || s[1] != 0 {
            return Err(invalid());
        }
        match s[28] {
            format::CRT_CLEAR => {}
            0x42 | 0x08 => return Err(Failure::NotSupported),
            _ => return Err(invalid()),
        }
        if be16(s, 2)? != s.len() {
            return Err(invalid());
        }
        let usage = s[USAGE_AT];
        if usage & !(usage::MASK | usage::XLATE_OK) != 0 || usage & usage::MASK == 0x40 {
            return Err(invalid());
        }
        let mut lens = [0usize; 5];
        for (i, l) in lens.iter_mut().enumerate() {
            *l = be16(s, 54 + 2 * i)?;
        }
        let n_len = be16(s, 64)?;
        let pad = be16(s, 70)?;
        let parts_len: usize = lens.iter().sum();
        if CRT_FIXED + parts_len + pad + n_len != s.len()
            || !(8 + parts_len + pad).is_multiple_of(8)
            || lens.contains(&0)
            || n_len == 0
        {
            return Err(invalid());
        }
        let mut at = CRT_FIXED;
        let parts = lens.map(|l| {
            let p = Zeroizing::new(s[at..at + l].to_vec());
            at += l;
            p
        });
        let n = s[at + pad..].to_vec();
        if n[0] == 0 {
            return Err(invalid());
        }
        Ok(ClearCrt { usage, n, parts })
    }
}

/// The external clear variable-length modulus-exponent section X'09' (RSAMEVAR), in IBM's
/// layout (IBM Docs "CCA for Linux", "RSA variable Modulus-Exponent token",
/// wskc_r_varmetf.html): 4 SHA-1 hash (zero here, as in [`ClearCrt`]), 24 encrypted-section
/// length (8 + d + pad), 28 key format (X'00' clear external), 29 pedigree, 30 name-section
/// hash (zero here), 50 usage, 52 OPK (48) and 100 MKVP (16) zero in an external section,
/// 116/118/120 the lengths of d, n and the pad that makes d a multiple of 8, 124 an 8-byte
/// confounder, 132 d ‖ pad ‖ n. IBM: "Currently, only the external form of the token will be
/// used"; the encrypted external (X'82') and internal (X'02') forms are 8/2.
#[derive(Clone, PartialEq, Eq)]
pub struct ClearMe {
    /// The key-usage byte.
    pub usage: u8,
    /// The modulus.
    pub n: Vec<u8>,
    /// The private exponent.
    pub d: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ClearMe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClearMe")
            .field("usage", &self.usage)
            .field("n_len", &self.n.len())
            .finish_non_exhaustive()
    }
}

const ME_VAR_FIXED: usize = 132;

impl ClearMe {
    /// The section's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        let pad = (8 - self.d.len() % 8) % 8;
        let len = ME_VAR_FIXED + self.d.len() + pad + self.n.len();
        let mut out = vec![0u8; ME_VAR_FIXED];
        out[0] = id::RSA_ME_VAR;
        put16(&mut out, 2, len)?;
        put16(&mut out, 24, 8 + self.d.len() + pad)?;
        out[USAGE_AT] = self.usage;
        put16(&mut out, 116, self.d.len())?;
        put16(&mut out, 118, self.n.len())?;
        put16(&mut out, 120, pad)?;
        out.extend_from_slice(&self.d);
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(&self.n);
        Ok(out)
    }

    /// Parses an X'09' section: the external clear form only (8/2 for the others).
    pub fn parse(s: &[u8]) -> Result<ClearMe, Failure> {
        if s.first() != Some(&id::RSA_ME_VAR) || s.len() < ME_VAR_FIXED || s[1] != 0 {
            return Err(invalid());
        }
        match s[28] {
            0x00 => {}
            0x82 | 0x02 => return Err(Failure::NotSupported),
            _ => return Err(invalid()),
        }
        if be16(s, 2)? != s.len() {
            return Err(invalid());
        }
        let usage = s[USAGE_AT];
        if usage & !(usage::MASK | usage::XLATE_OK) != 0 || usage & usage::MASK == 0x40 {
            return Err(invalid());
        }
        let d_len = be16(s, 116)?;
        let n_len = be16(s, 118)?;
        let pad = be16(s, 120)?;
        if ME_VAR_FIXED + d_len + pad + n_len != s.len()
            || !(d_len + pad).is_multiple_of(8)
            || pad >= 8
            || be16(s, 24)? != 8 + d_len + pad
            || d_len == 0
            || n_len == 0
            || s[ME_VAR_FIXED + d_len..ME_VAR_FIXED + d_len + pad]
                .iter()
                .any(|&b| b != 0)
        {
            return Err(invalid());
        }
        let d = Zeroizing::new(s[ME_VAR_FIXED..ME_VAR_FIXED + d_len].to_vec());
        let n = s[ME_VAR_FIXED + d_len + pad..].to_vec();
        if n[0] == 0 {
            return Err(invalid());
        }
        Ok(ClearMe { usage, n, d })
    }
}

/// The fixed length of the 1024-bit modulus-exponent section X'02'.
pub const ME_1024_LEN: usize = 364;
/// The width of the d and n fields of an X'02' section (1024 bits).
const ME_1024_FIELD: usize = 128;
/// Where d's field starts in an X'02' section (n's follows at 236).
const ME_1024_D_AT: usize = 108;

impl ClearMe {
    /// The external clear 1024-bit modulus-exponent section X'02' (RSA-PRIV), in IBM's
    /// layout (IBM Docs "CCA for Linux", "RSA private key token, 1024-bit Modulus-Exponent",
    /// lxcc/wskc_r_rsamee_intext.html): length X'016C' (364) at 2; at 4 the SHA-1 hash of
    /// the section from offset 28 to its end (computed here); 24–27 reserved; 28 key format
    /// (X'00' clear external); 29 reserved; 30 the name-section hash (zero here, as in the
    /// other sections softcca builds); 50 usage; 51–83 reserved; 84 a 24-byte confounder
    /// (zero here: the key is in the clear, IBM is silent on its value then); 108 d and 236
    /// n, each in a 128-byte field right-aligned in zeros. n at most 128 bytes, d at most 128
    /// bytes (8/770 otherwise).
    pub fn to_x02_bytes(&self) -> Result<Vec<u8>, Failure> {
        if self.n.is_empty()
            || self.n.len() > ME_1024_FIELD
            || self.d.is_empty()
            || self.d.len() > ME_1024_FIELD
        {
            return Err(invalid());
        }
        let mut out = vec![0u8; ME_1024_LEN];
        out[0] = id::RSA_ME;
        put16(&mut out, 2, ME_1024_LEN)?;
        out[USAGE_AT] = self.usage;
        let n_at = ME_1024_D_AT + ME_1024_FIELD;
        out[n_at - self.d.len()..n_at].copy_from_slice(&self.d);
        out[ME_1024_LEN - self.n.len()..].copy_from_slice(&self.n);
        let h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &out[28..]);
        out[4..24].copy_from_slice(h.as_ref());
        Ok(out)
    }

    /// An X'02' skeleton for CSNDPKG: the d and n fields zero (IBM: the key-value
    /// structure's n length "should be zero when preparing a skeleton key token"; the
    /// section of such a skeleton is not shown, so softcca keeps IBM's fixed layout with
    /// empty key fields), the hash computed as for a key.
    pub fn x02_skeleton(usage: u8) -> Result<Vec<u8>, Failure> {
        let mut out = vec![0u8; ME_1024_LEN];
        out[0] = id::RSA_ME;
        put16(&mut out, 2, ME_1024_LEN)?;
        out[USAGE_AT] = usage;
        let h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &out[28..]);
        out[4..24].copy_from_slice(h.as_ref());
        Ok(out)
    }

    /// Parses an X'02' section: the external clear form only (X'82', encrypted, is 8/2).
    /// Zero d and n fields are a skeleton (n and d empty); one without the other is 8/770.
    /// Every reserved byte must be zero, and the SHA-1 hash at 4 must be the section's or
    /// all zeros (IBM checks the hash after deciphering an encrypted key; softcca also
    /// accepts a clear section whose hash field was left zero, as its other clear sections
    /// have it): 8/770 otherwise.
    pub fn parse_x02(s: &[u8]) -> Result<ClearMe, Failure> {
        if s.first() != Some(&id::RSA_ME) || s.len() != ME_1024_LEN || s[1] != 0 {
            return Err(invalid());
        }
        match s[28] {
            0x00 => {}
            0x82 => return Err(Failure::NotSupported),
            _ => return Err(invalid()),
        }
        if be16(s, 2)? != ME_1024_LEN {
            return Err(invalid());
        }
        let usage = s[USAGE_AT];
        if usage & !(usage::MASK | usage::XLATE_OK) != 0 || usage & usage::MASK == 0x40 {
            return Err(invalid());
        }
        if s[24..28]
            .iter()
            .chain(&s[29..30])
            .chain(&s[51..84])
            .any(|&b| b != 0)
        {
            return Err(invalid());
        }
        let h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &s[28..]);
        if s[4..24] != *h.as_ref() && s[4..24].iter().any(|&b| b != 0) {
            return Err(invalid());
        }
        let n_at = ME_1024_D_AT + ME_1024_FIELD;
        let strip = |b: &[u8]| {
            let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
            b[i..].to_vec()
        };
        let d = Zeroizing::new(strip(&s[ME_1024_D_AT..n_at]));
        let n = strip(&s[n_at..]);
        if d.is_empty() != n.is_empty() {
            return Err(invalid());
        }
        Ok(ClearMe { usage, n, d })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod clear_me_1024_tests {
    use super::*;

    #[test]
    fn x02_round_trips_in_ibms_layout_and_checks_every_field() {
        let c = ClearMe {
            usage: usage::SIG_ONLY | usage::XLATE_OK,
            n: vec![0xC1; 128],
            d: Zeroizing::new(vec![0x21; 125]),
        };
        let b = c.to_x02_bytes().unwrap();
        assert_eq!(b.len(), 364);
        assert_eq!(&b[..4], &[0x02, 0x00, 0x01, 0x6C]);
        assert_eq!(b[28], 0x00);
        assert_eq!(b[50], usage::SIG_ONLY | usage::XLATE_OK);
        assert_eq!(&b[108..111], &[0, 0, 0]);
        assert_eq!(&b[111..236], &[0x21; 125][..]);
        assert_eq!(&b[236..], &[0xC1; 128][..]);
        let h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &b[28..]);
        assert_eq!(&b[4..24], h.as_ref());
        assert_eq!(ClearMe::parse_x02(&b).unwrap(), c);
        // A zero hash field is accepted; any other wrong hash is not.
        let mut zero_hash = b.clone();
        zero_hash[4..24].fill(0);
        assert_eq!(ClearMe::parse_x02(&zero_hash).unwrap(), c);
        // Every fixed field, reserved byte and the hash-covered key bytes are checked.
        for at in [
            0usize, 1, 2, 3, 4, 23, 24, 27, 28, 29, 50, 51, 59, 60, 83, 200, 300,
        ] {
            let mut bad = b.clone();
            bad[at] ^= 0x01;
            assert!(ClearMe::parse_x02(&bad).is_err(), "byte {at}");
        }
        let mut encrypted = b.clone();
        encrypted[28] = 0x82;
        assert_eq!(ClearMe::parse_x02(&encrypted), Err(Failure::NotSupported));
        for cut in 0..b.len() {
            assert!(ClearMe::parse_x02(&b[..cut]).is_err());
        }
        let mut long = b.clone();
        long.push(0);
        assert!(ClearMe::parse_x02(&long).is_err());
        // Fields longer than 1024 bits do not fit.
        let big = ClearMe {
            n: vec![0xC1; 129],
            ..c.clone()
        };
        assert!(big.to_x02_bytes().is_err());
        // A skeleton: both key fields zero.
        let sk = ClearMe::x02_skeleton(usage::KEY_MGMT).unwrap();
        assert_eq!(sk.len(), 364);
        let parsed = ClearMe::parse_x02(&sk).unwrap();
        assert!(parsed.n.is_empty() && parsed.d.is_empty());
        let mut half = b.clone();
        half[108..236].fill(0);
        let h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &half[28..]);
        half[4..24].copy_from_slice(h.as_ref());
        assert!(ClearMe::parse_x02(&half).is_err(), "n without d");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod clear_me_tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let c = ClearMe {
            usage: usage::SIG_ONLY,
            n: vec![0xC1; 128],
            d: Zeroizing::new(vec![0x21; 125]),
        };
        let b = c.to_bytes().unwrap();
        assert_eq!(b.len(), 132 + 125 + 3 + 128);
        assert_eq!(ClearMe::parse(&b).unwrap(), c);
        for at in [1usize, 2, 3, 24, 25, 28, 50, 117, 119, 121, 257] {
            let mut bad = b.clone();
            bad[at] ^= 0x01;
            assert!(ClearMe::parse(&bad).is_err(), "byte {at}");
        }
        let mut internal = b.clone();
        internal[28] = 0x02;
        assert_eq!(ClearMe::parse(&internal), Err(Failure::NotSupported));
        for cut in 0..b.len() {
            assert!(ClearMe::parse(&b[..cut]).is_err());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod clear_crt_tests {
    use super::*;

    #[test]
    fn clear_crt_round_trips_and_checks_its_lengths() {
        let c = ClearCrt {
            usage: usage::SIG_ONLY,
            n: vec![0xC1; 128],
            parts: [
                Zeroizing::new(vec![0xE1; 64]),
                Zeroizing::new(vec![0xE3; 64]),
                Zeroizing::new(vec![1; 63]),
                Zeroizing::new(vec![2; 64]),
                Zeroizing::new(vec![3; 64]),
            ],
        };
        let b = c.to_bytes().unwrap();
        assert_eq!(b.len(), 132 + 319 + 1 + 128);
        assert_eq!(
            be16(&b, 70).unwrap(),
            1,
            "pad to a multiple of 8 from offset 124"
        );
        assert_eq!(ClearCrt::parse(&b).unwrap(), c);
        for at in [1usize, 2, 3, 28, 50, 54, 55, 63, 65, 71] {
            let mut bad = b.clone();
            bad[at] ^= 0x01;
            assert!(ClearCrt::parse(&bad).is_err(), "byte {at}");
        }
        let mut internal = b.clone();
        internal[28] = 0x08;
        assert_eq!(ClearCrt::parse(&internal), Err(Failure::NotSupported));
    }
}
