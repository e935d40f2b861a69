//! PKA key tokens: the framing every RSA and ECC token shares, and the sections that carry no
//! secret (RSA public key X'04', ECC public key X'21', private-key name X'10').
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Number representation in PKA key tokens"
//!   (lxcc/wskc_c_pkatok_numrep.html): the 8-byte header — token identifier X'00' null,
//!   X'1E' external, X'1F' internal; version X'00'; the token's length, big-endian; four
//!   reserved bytes. "All binary fields … are stored with the high-order byte first".
//! - z/OS ICSF "PKA key token sections" (SSLTBW_2.4.0 csfb400/pnt.htm): a token is "the
//!   concatenation of an ordered set of sections": the header, an optional private-key
//!   section (X'02', X'05', X'06', X'08', X'09', X'20', X'30', X'31'), the public-key section
//!   (X'04' RSA, X'21' ECC), then optional sections (X'10' private-key name).
//! - IBM Docs "CCA for Linux", "RSA public key token"; ICSF rsapbe.htm: X'04' — id, version
//!   X'00', section length = 12 + e length + n length, 2 reserved bytes, e length, modulus
//!   length in bits, n length in bytes (0 when a private section holds n), e, n.
//! - ICSF "ECC key token format" (SSLTBW_2.2.0 csfb200/ecctf.htm): X'21' — id, version,
//!   section length, 4 reserved bytes, curve type (X'00' prime, X'01' Brainpool), reserved,
//!   length of p in bits, length of q in bytes, q (X'04' ‖ x ‖ y). The p lengths: prime
//!   192/224/256/384/521, Brainpool 160/192/224/256/320/384/512. Curve type X'02' (Edwards,
//!   255/448 bits, q raw) is from CCA for Linux 7.x and opencryptoki's `ec_defs.h`.
//! - CCA 2.54 p=112 and the trusted-block section X'13' by analogy: X'10' — id, version X'00',
//!   length 68, a 64-byte name.
//! - Sizes: a PKA token is at most 8000 bytes (IBM Docs "CCA for Linux", "PKA key tokens";
//!   CCA 2.54 said 2500, ICSF 3500).
//!
//! Codes: a field that is not valid — a token identifier, a version, a section length that
//! points past the token's end, sections out of order, a length field that disagrees with the
//! section, an unknown curve or size — is 8/770, "The PKA key token has an invalid field"
//! (CCA254 Fig. A-4, p=368). A token whose declared length exceeds the bytes given, or is
//! shorter than its header, is 8/770 too; a caller's buffer may be longer than the token (IBM's
//! `key_token_length` is often the buffer's capacity): the bytes after the declared length are
//! ignored.
//!
//! Everything here is pure (bytes in, values or failures out) and strict; private sections
//! are framed and kept as bytes for the verbs that decipher them.

use crate::error::Failure;

/// The largest PKA token CCA for Linux accepts.
pub const MAX_TOKEN_LEN: usize = 8000;
/// The length of the token header.
pub const HEADER_LEN: usize = 8;
/// The length of a private-key name section.
pub const NAME_SECTION_LEN: usize = 68;

/// Section identifiers.
pub mod id {
    /// RSA private key, modulus-exponent, 1024 bits or less.
    pub const RSA_ME: u8 = 0x02;
    /// RSA public key.
    pub const RSA_PUBLIC: u8 = 0x04;
    /// RSA private key, CRT, old format.
    pub const RSA_CRT_OLD: u8 = 0x05;
    /// RSA private key, modulus-exponent with a DES OPK.
    pub const RSA_ME_OPK: u8 = 0x06;
    /// RSA private key, CRT with a DES OPK.
    pub const RSA_CRT_OPK: u8 = 0x08;
    /// RSA private key, variable-length modulus-exponent.
    pub const RSA_ME_VAR: u8 = 0x09;
    /// Private-key name.
    pub const NAME: u8 = 0x10;
    /// ECC private key.
    pub const ECC_PRIVATE: u8 = 0x20;
    /// ECC public key.
    pub const ECC_PUBLIC: u8 = 0x21;
    /// RSA private key, modulus-exponent with an AES-wrapped OPK (RSA-AESM).
    pub const RSA_AESM: u8 = 0x30;
    /// RSA private key, CRT with an AES-wrapped OPK (RSA-AESC).
    pub const RSA_AESC: u8 = 0x31;
    /// ECC key-derivation information (after the public section of an ECC private-key
    /// token; opencryptoki `cca_stdll.h` `CCA_ECCDERIVEINFO_ID`).
    pub const ECC_DERIVATION: u8 = 0x23;

    /// Whether `id` is a private-key section.
    pub const fn is_private(id: u8) -> bool {
        matches!(
            id,
            RSA_ME
                | RSA_CRT_OLD
                | RSA_ME_OPK
                | RSA_CRT_OPK
                | RSA_ME_VAR
                | ECC_PRIVATE
                | RSA_AESM
                | RSA_AESC
        )
    }
}

fn invalid() -> Failure {
    Failure::PkaTokenField
}

fn be16(b: &[u8], at: usize) -> Result<u16, Failure> {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(invalid()),
    }
}

fn slice(b: &[u8], at: usize, len: usize) -> Result<&[u8], Failure> {
    at.checked_add(len)
        .and_then(|end| b.get(at..end))
        .ok_or_else(invalid)
}

/// Whether a token is external (X'1E') or internal (X'1F').
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// X'1E': the private key, if any, is clear or under a transport key.
    External,
    /// X'1F': the private key is under a master key.
    Internal,
}

impl Kind {
    /// The token identifier byte.
    pub const fn byte(self) -> u8 {
        match self {
            Kind::External => 0x1E,
            Kind::Internal => 0x1F,
        }
    }
}

/// One section of a token, framed but not interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSection<'a> {
    /// The section identifier.
    pub id: u8,
    /// The section's version byte.
    pub version: u8,
    /// The whole section, its 4-byte header included.
    pub bytes: &'a [u8],
}

/// A token split into its sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed<'a> {
    /// The null token (identifier X'00', length 8).
    Null,
    /// An external or internal token and its sections, in order.
    Token {
        /// External or internal.
        kind: Kind,
        /// The token's bytes up to its declared length.
        bytes: &'a [u8],
        /// The sections.
        sections: Vec<RawSection<'a>>,
    },
}

/// The token's declared length (bytes 2–3), checked against the bytes given.
pub fn declared_len(buffer: &[u8]) -> Result<usize, Failure> {
    let len = usize::from(be16(buffer, 2)?);
    if len < HEADER_LEN || len > buffer.len() || len > MAX_TOKEN_LEN {
        return Err(invalid());
    }
    Ok(len)
}

/// Splits a token into sections and checks their order: at most one private-key section,
/// first; exactly one public-key section (RSA or ECC, matching the private section's
/// algorithm); then at most one name section (RSA only).
pub fn frame(buffer: &[u8]) -> Result<Framed<'_>, Failure> {
    let first = *buffer.first().ok_or_else(invalid)?;
    let len = declared_len(buffer)?;
    if buffer.get(1) != Some(&0) {
        return Err(invalid());
    }
    let kind = match first {
        0x00 => {
            return if len == HEADER_LEN {
                Ok(Framed::Null)
            } else {
                Err(invalid())
            };
        }
        0x1E => Kind::External,
        0x1F => Kind::Internal,
        _ => return Err(invalid()),
    };
    let bytes = &buffer[..len];
    let mut sections = Vec::new();
    let mut at = HEADER_LEN;
    while at < len {
        let header = slice(bytes, at, 4)?;
        let section_len = usize::from(be16(header, 2)?);
        if section_len < 4 {
            return Err(invalid());
        }
        let section = slice(bytes, at, section_len)?;
        sections.push(RawSection {
            id: header[0],
            version: header[1],
            bytes: section,
        });
        at += section_len;
    }
    check_order(&sections)?;
    Ok(Framed::Token {
        kind,
        bytes,
        sections,
    })
}

fn check_order(sections: &[RawSection<'_>]) -> Result<(), Failure> {
    let mut rest = sections;
    let private = match rest.first() {
        Some(s) if id::is_private(s.id) => {
            rest = &rest[1..];
            Some(s.id)
        }
        _ => None,
    };
    let public = rest.first().map(|s| s.id).ok_or_else(invalid)?;
    let ecc = match public {
        id::RSA_PUBLIC => false,
        id::ECC_PUBLIC => true,
        _ => return Err(invalid()),
    };
    if private.is_some_and(|p| (p == id::ECC_PRIVATE) != ecc) {
        return Err(invalid());
    }
    rest = &rest[1..];
    match rest {
        [] => Ok(()),
        [name] if name.id == id::NAME && !ecc => Ok(()),
        [derivation] if derivation.id == id::ECC_DERIVATION && ecc && private.is_some() => Ok(()),
        _ => Err(invalid()),
    }
}

/// Strips the leading zero bytes IBM allows to be dropped from a variable-length integer.
fn significant(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn bit_len(b: &[u8]) -> usize {
    let s = significant(b);
    match s.first() {
        None => 0,
        Some(&top) => 8 * s.len() - top.leading_zeros() as usize,
    }
}

/// The RSA public-key section (X'04').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublic {
    /// The public exponent, big-endian, without leading zeros; empty in a key-generation
    /// skeleton that asks for a random exponent.
    pub e: Vec<u8>,
    /// The modulus length in bits.
    pub n_bits: u16,
    /// The modulus, big-endian; empty when the private section holds it.
    pub n: Vec<u8>,
}

/// The smallest and largest RSA modulus a token may describe, in bits.
pub const RSA_BITS: std::ops::RangeInclusive<u16> = 512..=8192;

impl RsaPublic {
    /// Parses an X'04' section (its 4-byte header included).
    pub fn parse(s: &[u8]) -> Result<RsaPublic, Failure> {
        if s.first() != Some(&id::RSA_PUBLIC) || s.get(1) != Some(&0) {
            return Err(invalid());
        }
        let section_len = usize::from(be16(s, 2)?);
        let e_len = usize::from(be16(s, 6)?);
        let n_bits = be16(s, 8)?;
        let n_len = usize::from(be16(s, 10)?);
        if section_len != s.len() || section_len != 12 + e_len + n_len {
            return Err(invalid());
        }
        if !RSA_BITS.contains(&n_bits) {
            return Err(invalid());
        }
        let e = significant(slice(s, 12, e_len)?).to_vec();
        let n = slice(s, 12 + e_len, n_len)?;
        if !n.is_empty() && bit_len(n) != usize::from(n_bits) {
            return Err(invalid());
        }
        // An exponent must be odd and greater than one; only a skeleton may leave it empty.
        if !e.is_empty() && (e.last().is_some_and(|b| b & 1 == 0) || e == [1]) {
            return Err(invalid());
        }
        Ok(RsaPublic {
            e,
            n_bits,
            n: significant(n).to_vec(),
        })
    }

    /// The section's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        let len = 12 + self.e.len() + self.n.len();
        let len16 = u16::try_from(len).map_err(|_| invalid())?;
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&[id::RSA_PUBLIC, 0]);
        out.extend_from_slice(&len16.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(self.e.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.n_bits.to_be_bytes());
        out.extend_from_slice(&(self.n.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.e);
        out.extend_from_slice(&self.n);
        Ok(out)
    }
}

/// An ECC curve family and size, as the curve-type byte and the length of p name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST prime curves P-192, P-224, P-256, P-384, P-521 (curve type X'00').
    Prime(u16),
    /// Brainpool P-160r1 … P-512r1 (curve type X'01').
    Brainpool(u16),
    /// Edwards curves Ed25519 (255) and Ed448 (448) (curve type X'02').
    Edwards(u16),
}

impl Curve {
    /// The curve a (type, p bits) pair names; `None` for a pair CCA does not define.
    pub fn from_fields(curve_type: u8, p_bits: u16) -> Option<Curve> {
        match (curve_type, p_bits) {
            (0x00, 192 | 224 | 256 | 384 | 521) => Some(Curve::Prime(p_bits)),
            (0x01, 160 | 192 | 224 | 256 | 320 | 384 | 512) => Some(Curve::Brainpool(p_bits)),
            (0x02, 255 | 448) => Some(Curve::Edwards(p_bits)),
            _ => None,
        }
    }

    /// The curve-type byte.
    pub const fn curve_type(self) -> u8 {
        match self {
            Curve::Prime(_) => 0x00,
            Curve::Brainpool(_) => 0x01,
            Curve::Edwards(_) => 0x02,
        }
    }

    /// The length of p in bits.
    pub const fn p_bits(self) -> u16 {
        match self {
            Curve::Prime(b) | Curve::Brainpool(b) | Curve::Edwards(b) => b,
        }
    }

    /// The length of the public point q as the token carries it: uncompressed
    /// (X'04' ‖ x ‖ y) for Weierstrass curves, the raw encoding for Edwards curves.
    pub const fn q_len(self) -> usize {
        match self {
            Curve::Prime(b) | Curve::Brainpool(b) => 1 + 2 * (b as usize).div_ceil(8),
            Curve::Edwards(255) => 32,
            Curve::Edwards(_) => 57,
        }
    }
}

/// The ECC public-key section (X'21').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EccPublic {
    /// The curve.
    pub curve: Curve,
    /// The public point; empty in a key-generation skeleton.
    pub q: Vec<u8>,
}

impl EccPublic {
    /// Parses an X'21' section (its 4-byte header included).
    pub fn parse(s: &[u8]) -> Result<EccPublic, Failure> {
        if s.first() != Some(&id::ECC_PUBLIC) || s.get(1) != Some(&0) {
            return Err(invalid());
        }
        let section_len = usize::from(be16(s, 2)?);
        let q_len = usize::from(be16(s, 12)?);
        if section_len != s.len() || section_len != 14 + q_len {
            return Err(invalid());
        }
        if slice(s, 4, 4)? != [0, 0, 0, 0] || s.get(9) != Some(&0) {
            return Err(invalid());
        }
        let curve = Curve::from_fields(s[8], be16(s, 10)?).ok_or_else(invalid)?;
        let q = slice(s, 14, q_len)?;
        if !q.is_empty() {
            let weierstrass = !matches!(curve, Curve::Edwards(_));
            if q.len() != curve.q_len() || (weierstrass && q[0] != 0x04) {
                return Err(invalid());
            }
        }
        Ok(EccPublic {
            curve,
            q: q.to_vec(),
        })
    }

    /// The section's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        let len = 14 + self.q.len();
        let len16 = u16::try_from(len).map_err(|_| invalid())?;
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&[id::ECC_PUBLIC, 0]);
        out.extend_from_slice(&len16.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, self.curve.curve_type(), 0]);
        out.extend_from_slice(&self.curve.p_bits().to_be_bytes());
        out.extend_from_slice(&(self.q.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.q);
        Ok(out)
    }
}

/// Parses a private-key name section (X'10'): its 64-byte name.
pub fn parse_name(s: &[u8]) -> Result<[u8; 64], Failure> {
    if s.len() != NAME_SECTION_LEN
        || s[0] != id::NAME
        || s[1] != 0
        || usize::from(be16(s, 2)?) != NAME_SECTION_LEN
    {
        return Err(invalid());
    }
    let mut name = [0u8; 64];
    name.copy_from_slice(&s[4..]);
    Ok(name)
}

/// A private-key name section (X'10') holding `name`.
pub fn name_section(name: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(NAME_SECTION_LEN);
    out.extend_from_slice(&[id::NAME, 0]);
    out.extend_from_slice(&(NAME_SECTION_LEN as u16).to_be_bytes());
    out.extend_from_slice(name);
    out
}

/// Assembles a token: the header for `kind`, then `sections` as given (each already whole).
pub fn assemble(kind: Kind, sections: &[&[u8]]) -> Result<Vec<u8>, Failure> {
    let len = HEADER_LEN + sections.iter().map(|s| s.len()).sum::<usize>();
    if len > MAX_TOKEN_LEN {
        return Err(invalid());
    }
    let len16 = u16::try_from(len).map_err(|_| invalid())?;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&[kind.byte(), 0]);
    out.extend_from_slice(&len16.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    for s in sections {
        out.extend_from_slice(s);
    }
    Ok(out)
}

/// The null PKA token.
pub const NULL_TOKEN: [u8; HEADER_LEN] = [0, 0, 0, 8, 0, 0, 0, 0];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rsa_public() -> RsaPublic {
        let mut n = vec![0xC5u8; 256];
        n[255] |= 1;
        RsaPublic {
            e: vec![0x01, 0x00, 0x01],
            n_bits: 2048,
            n,
        }
    }

    fn p256() -> EccPublic {
        let mut q = vec![0x04];
        q.extend_from_slice(&[0x11; 64]);
        EccPublic {
            curve: Curve::Prime(256),
            q,
        }
    }

    #[test]
    fn rsa_public_token_round_trips() {
        let section = rsa_public().to_bytes().unwrap();
        assert_eq!(section.len(), 12 + 3 + 256);
        let name = name_section(&[b'A'; 64]);
        let token = assemble(Kind::External, &[&section, &name]).unwrap();
        assert_eq!(&token[..4], &[0x1E, 0x00, 0x01, 0x5B]); // 8 + 271 + 68 = 347
        let Framed::Token { kind, sections, .. } = frame(&token).unwrap() else {
            panic!("not a token");
        };
        assert_eq!(kind, Kind::External);
        assert_eq!(sections.len(), 2);
        assert_eq!(RsaPublic::parse(sections[0].bytes).unwrap(), rsa_public());
        assert_eq!(parse_name(sections[1].bytes).unwrap(), [b'A'; 64]);
    }

    #[test]
    fn a_buffer_longer_than_the_token_is_fine_a_shorter_one_is_not() {
        let section = p256().to_bytes().unwrap();
        let token = assemble(Kind::External, &[&section]).unwrap();
        let mut long = token.clone();
        long.extend_from_slice(&[0xEE; 100]);
        assert!(matches!(frame(&long).unwrap(), Framed::Token { bytes, .. } if bytes == token));
        for cut in 0..token.len() {
            assert_eq!(
                frame(&token[..cut]),
                Err(Failure::PkaTokenField),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn ecc_public_round_trips_and_refuses_bad_fields() {
        let s = p256().to_bytes().unwrap();
        assert_eq!(EccPublic::parse(&s).unwrap(), p256());
        // Every single-byte change of a structural field is refused.
        // (Byte 8 is the curve type: X'01' turns P-256 into Brainpool P-256, which is valid.)
        for at in [0usize, 1, 2, 3, 4, 9, 10, 11, 12, 13, 14] {
            let mut bad = s.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                EccPublic::parse(&bad),
                Err(Failure::PkaTokenField),
                "byte {at}"
            );
        }
        let mut koblitz = s.clone();
        koblitz[8] = 0x03;
        assert_eq!(EccPublic::parse(&koblitz), Err(Failure::PkaTokenField));
        // P-521's p is 521 bits (X'0209') and q 133 bytes.
        assert_eq!(Curve::from_fields(0, 0x0209).unwrap().q_len(), 133);
        assert_eq!(Curve::from_fields(0, 512), None);
        assert_eq!(Curve::from_fields(1, 512).unwrap().q_len(), 129);
        assert_eq!(Curve::from_fields(2, 255).unwrap().q_len(), 32);
    }

    #[test]
    fn rsa_public_refuses_inconsistent_lengths() {
        let good = rsa_public();
        let s = good.to_bytes().unwrap();
        let mut wrong_bits = s.clone();
        wrong_bits[9] = 0x01; // 2049 bits claimed
        assert_eq!(RsaPublic::parse(&wrong_bits), Err(Failure::PkaTokenField));
        let mut long_section = s.clone();
        long_section[3] += 1;
        assert_eq!(RsaPublic::parse(&long_section), Err(Failure::PkaTokenField));
        let even_e = RsaPublic {
            e: vec![0x01, 0x00, 0x00],
            ..good.clone()
        };
        assert_eq!(
            RsaPublic::parse(&even_e.to_bytes().unwrap()),
            Err(Failure::PkaTokenField)
        );
        // A skeleton: no e, no n.
        let skeleton = RsaPublic {
            e: vec![],
            n_bits: 4096,
            n: vec![],
        };
        assert_eq!(
            RsaPublic::parse(&skeleton.to_bytes().unwrap()).unwrap(),
            skeleton
        );
        // Leading zeros in e may be dropped or kept.
        let mut padded = s.clone();
        padded.splice(12..12, [0u8]);
        padded[7] = 4;
        padded[3] += 1;
        assert_eq!(RsaPublic::parse(&padded).unwrap(), good);
    }

    #[test]
    fn section_order_is_enforced() {
        let rsa = rsa_public().to_bytes().unwrap();
        let ecc = p256().to_bytes().unwrap();
        let name = name_section(&[b'N'; 64]);
        let fake_private = [id::ECC_PRIVATE, 0, 0, 8, 0, 0, 0, 0];
        for sections in [
            vec![&name[..], &rsa[..]],
            vec![&rsa[..], &rsa[..]],
            vec![&ecc[..], &name[..]],
            vec![&fake_private[..], &rsa[..]],
            vec![&name[..]],
        ] {
            let t = assemble(Kind::Internal, &sections).unwrap();
            assert_eq!(frame(&t), Err(Failure::PkaTokenField));
        }
        let t = assemble(Kind::Internal, &[&fake_private, &ecc]).unwrap();
        assert!(frame(&t).is_ok());
        assert_eq!(frame(&NULL_TOKEN).unwrap(), Framed::Null);
    }
}
