//! The ECC private-key section (X'20') of a PKA token: parse and build (pure), and the wrap of
//! the private value d under the APKA master key.
//!
//! Layout (z/OS ICSF "ECC key token format", SSLTBW_2.2.0 csfb200/ecctf.htm, with its
//! associated-data table ecctf_f1.htm; `/work/shared/docs/CCA-FACTS-pka-access-clu.md` §6;
//! all integers big-endian, offsets from the section start):
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 1 | X'20' |
//! | 1 | 1 | version X'00' |
//! | 2 | 2 | section length = 76 + aa + bb |
//! | 4 | 1 | wrap method: X'00' clear, X'01' AESKW |
//! | 5 | 1 | hash: X'00' none (clear), X'02' SHA-256 |
//! | 6 | 2 | reserved, zero |
//! | 8 | 1 | key usage: X'00' SIG-ONLY, X'80' KEY-MGMT, X'C0' KM-ONLY; bit X'02' translation allowed, X'01' XPRTCPAC (kept, not interpreted; other bits 8/770) |
//! | 9 | 1 | curve type |
//! | 10 | 1 | key format: X'40' clear external, X'08' internal (X'42' encrypted external is refused) |
//! | 11 | 1 | source flag (IBM's "reserved" in ICSF; CCA for Linux sets it) |
//! | 12 | 2 | length of p in bits |
//! | 14 | 2 | IBM associated-data length (16 + label length + extended AD length) |
//! | 16 | 8 | MKVP of the APKA master key (internal; zero otherwise) |
//! | 24 | 48 | OPK: the object protection key, wrapped under the APKA master key (internal) |
//! | 72 | 2 | associated-data length aa |
//! | 74 | 2 | formatted-section length bb |
//! | 76 | aa | associated data |
//! | 76+aa | bb | d (clear, ⌈p/8⌉ bytes) or the wrapped payload (internal); empty in a skeleton |
//!
//! Associated data (ICSF ecctf_f1.htm): 0 AD version X'00'; 1 key-label length (0 or 64);
//! 2–3 IBM AD length; 4–5 IBM extended AD length; 6–7 user-definable AD length; 8 curve type;
//! 9–10 p bits; 11 usage; 12 key format; 13 AD header version X'00'; 14–15 reserved; 16 the
//! label; then the IBM extended AD; then the user-definable AD. The curve, p bits, usage and
//! format repeat the section's header; a disagreement is 8/770.
//!
//! **The internal wrap (softcca's, not IBM's bytes).** IBM wraps a random AES-256 OPK under
//! the APKA master key with AESKW (the 48 bytes at 24: ICV, confounder, key) and d under the
//! OPK with AESKW, the payload beginning with a hash of the associated data. aws-lc-rs fixes
//! the key-wrap integrity block (as [`crate::tokens::var`] explains), so softcca uses AES-KWP
//! (RFC 5649) for both: the OPK field is KWP(MK, 8-byte random confounder ‖ 32-byte OPK) —
//! exactly 48 bytes, as IBM's — and the payload is KWP(OPK, SHA-256(section bytes 8–15 ‖
//! associated data) ‖ d). The hash binds the usage, curve, format, label and user data to d:
//! a section altered anywhere in those unwraps to a hash that differs, 8/770. Re-enciphering
//! under a new master key (CSNDKTC RTCMK) rewraps only the OPK, as IBM's design allows. IBM
//! tokens therefore do not unwrap here (they could not anyway: the master keys differ).
//!
//! Every field is checked: identifier, version, the three lengths against each other and the
//! section's real length, reserved bytes, wrap method against hash and format, curve (known
//! pair of type and p bits), a clear d that is not exactly ⌈p/8⌉ bytes, a payload of a length
//! no d could give: 8/770 ([`Failure::PkaTokenField`]).

use aws_lc_rs::digest;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::mk::{Class, MasterKey, verification_pattern};
use crate::tokens::pka::{Curve, id};
use crate::tokens::{ClearKey, MasterKeyUsed};

/// Length of the fixed part of the section.
pub const FIXED_LEN: usize = 76;
/// Length of the fixed part of the associated data.
pub const AD_FIXED_LEN: usize = 16;
/// The largest user-definable associated data (ICSF: "up to 100 bytes").
pub const MAX_USER_AD: usize = 100;

/// Key-usage byte values.
pub mod usage {
    /// Signature only.
    pub const SIG_ONLY: u8 = 0x00;
    /// Signature and key agreement.
    pub const KEY_MGMT: u8 = 0x80;
    /// Key agreement only.
    pub const KM_ONLY: u8 = 0xC0;
    /// Whether the usage byte allows signing.
    pub const fn may_sign(u: u8) -> bool {
        u & 0xC0 != KM_ONLY
    }
    /// Whether the usage byte allows key agreement.
    pub const fn may_agree(u: u8) -> bool {
        u & 0x80 != 0
    }
}

/// Key-format byte values.
pub mod format {
    /// Clear external key.
    pub const CLEAR: u8 = 0x40;
    /// Encrypted external key (under a transport key): not produced here.
    pub const ENCRYPTED_EXTERNAL: u8 = 0x42;
    /// Internal key (under the APKA master key).
    pub const INTERNAL: u8 = 0x08;
}

/// Source-flag values (CCA for Linux, RSA-AES sections' byte 12, used alike here).
pub mod source {
    /// Imported from a clear key.
    pub const CLEAR_IMPORT: u8 = 0x21;
    /// Generated at random.
    pub const RANDOM: u8 = 0x24;
}

fn invalid() -> Failure {
    Failure::PkaTokenField
}

fn be16(b: &[u8], at: usize) -> Result<usize, Failure> {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(usize::from(u16::from_be_bytes([hi, lo]))),
        _ => Err(invalid()),
    }
}

fn u16_of(n: usize) -> Result<[u8; 2], Failure> {
    u16::try_from(n)
        .map(u16::to_be_bytes)
        .map_err(|_| invalid())
}

/// The private value as the section carries it. Its `Debug` never prints d.
#[derive(Clone, PartialEq, Eq)]
pub enum Material {
    /// No d: a key-generation skeleton.
    Skeleton,
    /// A clear d (external token, key format X'40').
    Clear(Zeroizing<Vec<u8>>),
    /// d wrapped under an OPK that is wrapped under the APKA master key (internal token).
    Wrapped {
        /// The APKA master key's verification pattern.
        mkvp: [u8; 8],
        /// The wrapped OPK.
        opk: [u8; 48],
        /// The wrapped d.
        payload: Vec<u8>,
    },
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Material::Skeleton => write!(f, "Skeleton"),
            Material::Clear(d) => write!(f, "Clear({} bytes)", d.len()),
            Material::Wrapped { mkvp, payload, .. } => {
                write!(
                    f,
                    "Wrapped {{ mkvp: {mkvp:02X?}, payload: {} bytes }}",
                    payload.len()
                )
            }
        }
    }
}

/// An ECC private-key section (X'20').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EccPrivate {
    /// The key-usage byte ([`usage`]).
    pub usage: u8,
    /// The curve.
    pub curve: Curve,
    /// The source flag (byte 11).
    pub source: u8,
    /// A 64-byte key label bound in the associated data, if any.
    pub label: Option<[u8; 64]>,
    /// IBM extended associated data (softcca keeps CSNDPKB's ECC-VER1 key-derivation data
    /// here).
    pub extended_ad: Vec<u8>,
    /// User-definable associated data (at most 100 bytes).
    pub user_ad: Vec<u8>,
    /// d, clear or wrapped, or nothing.
    pub material: Material,
}

/// The byte length of a private value on `curve`.
pub const fn d_len(curve: Curve) -> usize {
    match curve {
        Curve::Prime(b) | Curve::Brainpool(b) => (b as usize).div_ceil(8),
        Curve::Edwards(255) => 32,
        Curve::Edwards(_) => 57,
    }
}

impl EccPrivate {
    /// The key-format byte ([`format`]).
    pub fn key_format(&self) -> u8 {
        match self.material {
            Material::Wrapped { .. } => format::INTERNAL,
            Material::Skeleton | Material::Clear(_) => format::CLEAR,
        }
    }

    /// Section bytes 8–15 (usage, curve type, format, source, p bits, IBM AD length).
    fn header_8_16(&self) -> Result<[u8; 8], Failure> {
        let p = self.curve.p_bits().to_be_bytes();
        let ibm = u16_of(self.ibm_ad_len())?;
        Ok([
            self.usage,
            self.curve.curve_type(),
            self.key_format(),
            self.source,
            p[0],
            p[1],
            ibm[0],
            ibm[1],
        ])
    }

    fn ibm_ad_len(&self) -> usize {
        AD_FIXED_LEN + self.label.map_or(0, |_| 64) + self.extended_ad.len()
    }

    /// The associated data (at section offset 76).
    pub fn ad_bytes(&self) -> Result<Vec<u8>, Failure> {
        let mut ad = Vec::with_capacity(self.ibm_ad_len() + self.user_ad.len());
        ad.push(0);
        ad.push(if self.label.is_some() { 64 } else { 0 });
        ad.extend_from_slice(&u16_of(self.ibm_ad_len())?);
        ad.extend_from_slice(&u16_of(self.extended_ad.len())?);
        ad.extend_from_slice(&u16_of(self.user_ad.len())?);
        ad.push(self.curve.curve_type());
        ad.extend_from_slice(&self.curve.p_bits().to_be_bytes());
        ad.push(self.usage);
        ad.push(self.key_format());
        ad.extend_from_slice(&[0, 0, 0]);
        if let Some(label) = &self.label {
            ad.extend_from_slice(label);
        }
        ad.extend_from_slice(&self.extended_ad);
        ad.extend_from_slice(&self.user_ad);
        Ok(ad)
    }

    /// The section's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        if self.user_ad.len() > MAX_USER_AD {
            return Err(invalid());
        }
        let ad = self.ad_bytes()?;
        let (wrap, hash, mkvp, opk, body): (u8, u8, [u8; 8], [u8; 48], &[u8]) = match &self.material
        {
            Material::Skeleton => (0, 0, [0; 8], [0; 48], &[]),
            Material::Clear(d) => (0, 0, [0; 8], [0; 48], d),
            Material::Wrapped { mkvp, opk, payload } => (1, 2, *mkvp, *opk, payload),
        };
        let len = FIXED_LEN + ad.len() + body.len();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&[id::ECC_PRIVATE, 0]);
        out.extend_from_slice(&u16_of(len)?);
        out.extend_from_slice(&[wrap, hash, 0, 0]);
        out.extend_from_slice(&self.header_8_16()?);
        out.extend_from_slice(&mkvp);
        out.extend_from_slice(&opk);
        out.extend_from_slice(&u16_of(ad.len())?);
        out.extend_from_slice(&u16_of(body.len())?);
        out.extend_from_slice(&ad);
        out.extend_from_slice(body);
        Ok(out)
    }

    /// Parses an X'20' section (its 4-byte header included), checking every field.
    pub fn parse(s: &[u8]) -> Result<EccPrivate, Failure> {
        if s.len() < FIXED_LEN || s[0] != id::ECC_PRIVATE || s[1] != 0 {
            return Err(invalid());
        }
        let aa = be16(s, 72)?;
        let bb = be16(s, 74)?;
        if be16(s, 2)? != s.len() || s.len() != FIXED_LEN + aa + bb || s[6..8] != [0, 0] {
            return Err(invalid());
        }
        let (wrap, hash, usage, curve_type, key_format, source) =
            (s[4], s[5], s[8], s[9], s[10], s[11]);
        let p_bits = u16::try_from(be16(s, 12)?).map_err(|_| invalid())?;
        let curve = Curve::from_fields(curve_type, p_bits).ok_or_else(invalid)?;
        if !matches!(
            usage & 0xC0,
            usage::SIG_ONLY | usage::KEY_MGMT | usage::KM_ONLY
        ) || usage & 0x3C != 0
        {
            return Err(invalid());
        }
        let ad = &s[FIXED_LEN..FIXED_LEN + aa];
        let body = &s[FIXED_LEN + aa..];
        // The associated data.
        if ad.len() < AD_FIXED_LEN || ad[0] != 0 || ad[13..16] != [0, 0, 0] {
            return Err(invalid());
        }
        let label_len = usize::from(ad[1]);
        let ibm_len = be16(ad, 2)?;
        let ext_len = be16(ad, 4)?;
        let user_len = be16(ad, 6)?;
        if !matches!(label_len, 0 | 64)
            || ibm_len != AD_FIXED_LEN + label_len + ext_len
            || be16(s, 14)? != ibm_len
            || aa != ibm_len + user_len
            || user_len > MAX_USER_AD
            || ad[8] != curve_type
            || be16(ad, 9)? != usize::from(p_bits)
            || ad[11] != usage
            || ad[12] != key_format
        {
            return Err(invalid());
        }
        let label = if label_len == 64 {
            let mut l = [0u8; 64];
            l.copy_from_slice(&ad[16..80]);
            Some(l)
        } else {
            None
        };
        let ext_at = AD_FIXED_LEN + label_len;
        let extended_ad = ad[ext_at..ext_at + ext_len].to_vec();
        let user_ad = ad[ext_at + ext_len..].to_vec();
        let zero_mk = s[16..72].iter().all(|&b| b == 0);
        let material = match (wrap, hash, key_format) {
            (0, 0, format::CLEAR) if zero_mk => match body.len() {
                0 => Material::Skeleton,
                n if n == d_len(curve) => Material::Clear(Zeroizing::new(body.to_vec())),
                _ => return Err(invalid()),
            },
            (1, 2, format::INTERNAL) => {
                if body.len() != wrapped_len(d_len(curve)) {
                    return Err(invalid());
                }
                let mut mkvp = [0u8; 8];
                mkvp.copy_from_slice(&s[16..24]);
                let mut opk = [0u8; 48];
                opk.copy_from_slice(&s[24..72]);
                Material::Wrapped {
                    mkvp,
                    opk,
                    payload: body.to_vec(),
                }
            }
            _ => return Err(invalid()),
        };
        Ok(EccPrivate {
            usage,
            curve,
            source,
            label,
            extended_ad,
            user_ad,
            material,
        })
    }

    fn ad_hash(&self) -> Result<digest::Digest, Failure> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&self.header_8_16()?);
        ctx.update(&self.ad_bytes()?);
        Ok(ctx.finish())
    }

    /// This section with its clear d (or a skeleton about to receive `d`) wrapped under `mk`:
    /// the result is internal. `confounder_and_opk` is 40 random bytes from the card's DRBG.
    pub fn wrap(
        &self,
        d: &[u8],
        mk: &MasterKey,
        confounder_and_opk: &[u8; 40],
    ) -> Result<EccPrivate, Failure> {
        if d.len() != d_len(self.curve) {
            return Err(invalid());
        }
        let mut out = EccPrivate {
            material: Material::Wrapped {
                mkvp: verification_pattern(Class::Apka, mk),
                opk: [0; 48],
                payload: Vec::new(),
            },
            ..self.clone()
        };
        let mut opk = [0u8; 48];
        let n = kek(mk.expose())?
            .wrap_with_padding(confounder_and_opk, &mut opk)
            .map_err(|_| invalid())?
            .len();
        if n != 48 {
            return Err(invalid());
        }
        let mut data = Zeroizing::new(Vec::with_capacity(32 + d.len()));
        data.extend_from_slice(out.ad_hash()?.as_ref());
        data.extend_from_slice(d);
        let mut payload = vec![0u8; wrapped_len(d.len())];
        let n = kek(&confounder_and_opk[8..])?
            .wrap_with_padding(&data, &mut payload)
            .map_err(|_| invalid())?
            .len();
        payload.truncate(n);
        if let Material::Wrapped {
            opk: o, payload: p, ..
        } = &mut out.material
        {
            *o = opk;
            *p = payload;
        }
        Ok(out)
    }

    /// d: the clear value, or the payload unwrapped under the current or old APKA master key
    /// (and which). A skeleton is 8/770; no current APKA master key 12/764; an MKVP of
    /// neither 8/24; an integrity or hash failure 8/770.
    pub fn private_value(
        &self,
        current: Option<&MasterKey>,
        old: Option<&MasterKey>,
    ) -> Result<(ClearKey, Option<MasterKeyUsed>), Failure> {
        let (mkvp, opk, payload) = match &self.material {
            Material::Skeleton => return Err(invalid()),
            Material::Clear(d) => return Ok((ClearKey::new(d), None)),
            Material::Wrapped { mkvp, opk, payload } => (mkvp, opk, payload),
        };
        let current = current.ok_or(Failure::MasterKeyNotLoaded)?;
        let (mk, used) = if verification_pattern(Class::Apka, current) == *mkvp {
            (current, MasterKeyUsed::Current)
        } else {
            match old {
                Some(o) if verification_pattern(Class::Apka, o) == *mkvp => (o, MasterKeyUsed::Old),
                _ => return Err(Failure::MasterKeyPatternUnknown),
            }
        };
        let opk_key = unwrap_opk(mk, opk)?;
        let mut buf = Zeroizing::new(vec![0u8; payload.len()]);
        let data = kek(&opk_key[8..])?
            .unwrap_with_padding(payload, &mut buf[..])
            .map_err(|_| invalid())?;
        let hash = self.ad_hash()?;
        if data.len() != 32 + d_len(self.curve) || data[..32] != *hash.as_ref() {
            return Err(invalid());
        }
        Ok((ClearKey::new(&data[32..]), Some(used)))
    }

    /// This internal section re-enciphered from `from` to `to` (CSNDKTC RTCMK): only the OPK
    /// is rewrapped.
    pub fn rewrap(&self, from: &MasterKey, to: &MasterKey) -> Result<EccPrivate, Failure> {
        let Material::Wrapped { opk, payload, .. } = &self.material else {
            return Err(invalid());
        };
        let opk_key = unwrap_opk(from, opk)?;
        let mut new_opk = [0u8; 48];
        let n = kek(to.expose())?
            .wrap_with_padding(&opk_key[..], &mut new_opk)
            .map_err(|_| invalid())?
            .len();
        if n != 48 {
            return Err(invalid());
        }
        Ok(EccPrivate {
            material: Material::Wrapped {
                mkvp: verification_pattern(Class::Apka, to),
                opk: new_opk,
                payload: payload.clone(),
            },
            ..self.clone()
        })
    }

    /// The MKVP of an internal section.
    pub fn mkvp(&self) -> Option<[u8; 8]> {
        match &self.material {
            Material::Wrapped { mkvp, .. } => Some(*mkvp),
            _ => None,
        }
    }
}

fn unwrap_opk(mk: &MasterKey, opk: &[u8; 48]) -> Result<Zeroizing<[u8; 40]>, Failure> {
    let mut buf = Zeroizing::new([0u8; 48]);
    let data = kek(mk.expose())?
        .unwrap_with_padding(opk, &mut buf[..])
        .map_err(|_| invalid())?;
    let mut out = Zeroizing::new([0u8; 40]);
    if data.len() != 40 {
        return Err(invalid());
    }
    out.copy_from_slice(data);
    Ok(out)
}

/// The payload length for a d of `d_len` bytes: KWP of 32 + d_len bytes.
pub const fn wrapped_len(d_len: usize) -> usize {
    8 + (32 + d_len).div_ceil(8) * 8
}

fn kek(key: &[u8]) -> Result<AesKek, Failure> {
    AesKek::new(&AES_256, key).map_err(|_| invalid())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mk(seed: u8) -> MasterKey {
        MasterKey::from_bytes(&(0..32u8).map(|i| i ^ seed).collect::<Vec<_>>())
    }

    fn clear() -> EccPrivate {
        EccPrivate {
            usage: usage::KEY_MGMT,
            curve: Curve::Prime(521),
            source: source::CLEAR_IMPORT,
            label: Some([b'L'; 64]),
            extended_ad: vec![0x01, 0x01, 0x00, 0x80],
            user_ad: b"user".to_vec(),
            material: Material::Clear(Zeroizing::new(vec![0x01; 66])),
        }
    }

    #[test]
    fn clear_section_round_trips_and_every_structural_byte_is_checked() {
        let c = clear();
        let s = c.to_bytes().unwrap();
        assert_eq!(s.len(), 76 + 16 + 64 + 4 + 4 + 66);
        assert_eq!(EccPrivate::parse(&s).unwrap(), c);
        for at in (0..76).chain(76..92) {
            if at == 11 {
                continue; // the source flag is free
            }
            let mut bad = s.clone();
            bad[at] ^= 0x04;
            assert_eq!(
                EccPrivate::parse(&bad),
                Err(Failure::PkaTokenField),
                "byte {at}"
            );
        }
        for cut in 0..s.len() {
            assert_eq!(EccPrivate::parse(&s[..cut]), Err(Failure::PkaTokenField));
        }
        let skeleton = EccPrivate {
            material: Material::Skeleton,
            ..c
        };
        let s = skeleton.to_bytes().unwrap();
        assert_eq!(EccPrivate::parse(&s).unwrap(), skeleton);
    }

    #[test]
    fn debug_does_not_print_d() {
        let s = format!("{:?}", clear());
        assert!(s.contains("Clear(66 bytes)"), "{s}");
        assert!(!s.contains("1, 1, 1"), "{s}");
    }

    #[test]
    fn wrap_unwrap_rewrap_and_binding() {
        let (a, b) = (mk(1), mk(2));
        let c = clear();
        let w = c.wrap(&[0x01; 66], &a, &[7; 40]).unwrap();
        let s = w.to_bytes().unwrap();
        assert_eq!(s[10], format::INTERNAL);
        let parsed = EccPrivate::parse(&s).unwrap();
        assert_eq!(parsed, w);
        let (d, used) = parsed.private_value(Some(&a), None).unwrap();
        assert_eq!(d.expose(), &[0x01; 66]);
        assert_eq!(used, Some(MasterKeyUsed::Current));
        assert_eq!(
            parsed.private_value(Some(&b), None),
            Err(Failure::MasterKeyPatternUnknown)
        );
        assert_eq!(
            parsed.private_value(Some(&b), Some(&a)).unwrap().1,
            Some(MasterKeyUsed::Old)
        );
        let moved = parsed.rewrap(&a, &b).unwrap();
        assert_eq!(
            moved.private_value(Some(&b), None).unwrap().0.expose(),
            &[1; 66]
        );
        // Usage changed (both copies, so it still parses): the hash no longer matches.
        let mut bad = s.clone();
        bad[8] = usage::SIG_ONLY;
        bad[76 + 11] = usage::SIG_ONLY;
        let bad = EccPrivate::parse(&bad).unwrap();
        assert_eq!(
            bad.private_value(Some(&a), None),
            Err(Failure::PkaTokenField)
        );
        // Payload altered.
        let mut bad = s.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let bad = EccPrivate::parse(&bad).unwrap();
        assert_eq!(
            bad.private_value(Some(&a), None),
            Err(Failure::PkaTokenField)
        );
    }
}
