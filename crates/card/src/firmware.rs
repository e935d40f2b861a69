//! Signed firmware images and the load policy for the card's three segments
//! (1 = Miniboot/POST, 2 = operating system, 3 = CCA application).
//!
//! Pure: no I/O. All integers are big-endian; the parser is strict (bounded
//! lengths, reserved flag bits zero, printable-ASCII name, no trailing bytes)
//! and never panics.
//!
//! # Image encoding
//!
//! | size | field                                                          |
//! |------|----------------------------------------------------------------|
//! | 8    | magic `b"SCCAFW01"`                                            |
//! | 1    | segment (1..=3)                                                |
//! | 1    | flags: bit 0 = allow rollback; bit 1 = surrender; bits 2..=7 must be 0 |
//! | 2    | owner ID (2 = CCA)                                             |
//! | 6    | version: major, minor, patch (3 × u16)                         |
//! | 2    | name length (1..=32)                                           |
//! | *n*  | name, printable ASCII (e.g. `"5.6.9 CCA"`)                     |
//! | 4    | payload length (0..=1 MiB)                                     |
//! | *n*  | payload                                                        |
//! | 2    | signature length (1..=139)                                     |
//! | *n*  | signature: ECDSA P-521 / SHA-512, ASN.1 DER, by a code-signing key |
//!
//! The signature covers every byte before the signature length
//! ([`Image::signed_bytes`]).

use std::fmt;

use aws_lc_rs::digest;

use crate::attest::{
    AttestError, MAX_EC_SIGNATURE_LEN, PublicKey, Reader, is_printable, put_final_signature,
    put_u16_len,
};

/// Image magic.
pub const IMAGE_MAGIC: &[u8; 8] = b"SCCAFW01";
/// Largest payload.
pub const MAX_PAYLOAD_LEN: usize = 1 << 20;
/// Longest image name.
pub const MAX_IMAGE_NAME_LEN: usize = 32;
/// Segment 1: Miniboot / POST.
pub const SEGMENT_MINIBOOT: u8 = 1;
/// Segment 2: operating system.
pub const SEGMENT_OS: u8 = 2;
/// Segment 3: CCA application.
pub const SEGMENT_APPLICATION: u8 = 3;
/// Owner ID of CCA.
pub const OWNER_CCA: u16 = 2;

const FLAG_ALLOW_ROLLBACK: u8 = 0x01;
const FLAG_SURRENDER: u8 = 0x02;

/// Every failure of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmwareError {
    /// The encoding (or a value to be encoded) breaks the format.
    Malformed(&'static str),
    /// The signature does not verify.
    BadSignature,
    /// The signer is not an EC P-521 key.
    WrongKeyType,
    /// Segment number outside 1..=3.
    BadSegment(u8),
    /// The image is for another segment than the one it replaces.
    SegmentMismatch {
        /// Segment of the loaded image.
        current: u8,
        /// Segment of the new image.
        new: u8,
    },
    /// The image's owner is not the segment's owner.
    OwnerMismatch {
        /// Owner the segment belongs to.
        expected: u16,
        /// Owner named by the new image.
        found: u16,
    },
    /// The new version is older than the loaded one and rollback is not allowed.
    Rollback {
        /// Loaded version.
        current: (u16, u16, u16),
        /// Offered version.
        new: (u16, u16, u16),
    },
}

impl fmt::Display for FirmwareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = |(a, b, c): &(u16, u16, u16)| format!("{a}.{b}.{c}");
        match self {
            Self::Malformed(what) => write!(f, "malformed firmware image: {what}"),
            Self::BadSignature => f.write_str("firmware image signature does not verify"),
            Self::WrongKeyType => f.write_str("firmware signer is not an EC P-521 key"),
            Self::BadSegment(s) => write!(f, "invalid firmware segment {s}"),
            Self::SegmentMismatch { current, new } => {
                write!(
                    f,
                    "image for segment {new} cannot replace segment {current}"
                )
            }
            Self::OwnerMismatch { expected, found } => {
                write!(
                    f,
                    "image owner {found} does not match segment owner {expected}"
                )
            }
            Self::Rollback { current, new } => write!(
                f,
                "rollback from {} to {} not allowed by the image",
                v(current),
                v(new)
            ),
        }
    }
}

impl std::error::Error for FirmwareError {}

/// A signed firmware image for one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Target segment, 1..=3.
    pub segment: u8,
    /// Owner ID (2 = CCA).
    pub owner: u16,
    /// (major, minor, patch).
    pub version: (u16, u16, u16),
    /// The image may replace a newer version.
    pub allow_rollback: bool,
    /// A Surrender Owner command rather than code: the segment (and every segment above it)
    /// gives up its owner, its code and its secrets. IBM ships these as `.clu` files that
    /// CLU's PL command processes, like code loads.
    pub surrender: bool,
    /// Printable ASCII, 1..=32 characters.
    pub name: String,
    /// Image contents, at most 1 MiB.
    pub payload: Vec<u8>,
    /// ECDSA P-521/SHA-512 ASN.1 signature over [`Image::signed_bytes`].
    pub signature: Vec<u8>,
}

fn check_segment(segment: u8) -> Result<(), FirmwareError> {
    if (SEGMENT_MINIBOOT..=SEGMENT_APPLICATION).contains(&segment) {
        Ok(())
    } else {
        Err(FirmwareError::BadSegment(segment))
    }
}

fn malformed(what: &'static str) -> impl Fn() -> FirmwareError {
    move || FirmwareError::Malformed(what)
}

impl Image {
    /// The bytes the signature covers: everything before the signature length.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, FirmwareError> {
        check_segment(self.segment)?;
        if self.name.is_empty() || !is_printable(self.name.as_bytes()) {
            return Err(FirmwareError::Malformed("image name"));
        }
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(FirmwareError::Malformed("payload too large"));
        }
        let payload_len = u32::try_from(self.payload.len())
            .map_err(|_| FirmwareError::Malformed("payload too large"))?;
        let mut out = Vec::with_capacity(32 + self.name.len() + self.payload.len());
        out.extend_from_slice(IMAGE_MAGIC);
        out.push(self.segment);
        out.push(
            (if self.allow_rollback {
                FLAG_ALLOW_ROLLBACK
            } else {
                0
            }) | (if self.surrender { FLAG_SURRENDER } else { 0 }),
        );
        out.extend_from_slice(&self.owner.to_be_bytes());
        let (a, b, c) = self.version;
        for part in [a, b, c] {
            out.extend_from_slice(&part.to_be_bytes());
        }
        put_u16_len(&mut out, self.name.len(), MAX_IMAGE_NAME_LEN)
            .map_err(|_| FirmwareError::Malformed("image name"))?;
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&payload_len.to_be_bytes());
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Full encoding; fails if any field breaks the format (including an
    /// empty signature).
    pub fn to_bytes(&self) -> Result<Vec<u8>, FirmwareError> {
        let mut out = self.signed_bytes()?;
        put_final_signature(&mut out, &self.signature, MAX_EC_SIGNATURE_LEN)
            .ok_or(FirmwareError::Malformed("signature length"))?;
        Ok(out)
    }

    /// Strict inverse of [`Image::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FirmwareError> {
        let mut r = Reader::new(bytes);
        if r.take(IMAGE_MAGIC.len()) != Some(IMAGE_MAGIC.as_slice()) {
            return Err(FirmwareError::Malformed("bad image magic"));
        }
        let segment = r.u8().ok_or_else(malformed("truncated segment"))?;
        check_segment(segment)?;
        let flags = r.u8().ok_or_else(malformed("truncated flags"))?;
        if flags & !(FLAG_ALLOW_ROLLBACK | FLAG_SURRENDER) != 0 {
            return Err(FirmwareError::Malformed("reserved flag bits set"));
        }
        let owner = r.u16().ok_or_else(malformed("truncated owner"))?;
        let major = r.u16().ok_or_else(malformed("truncated version"))?;
        let minor = r.u16().ok_or_else(malformed("truncated version"))?;
        let patch = r.u16().ok_or_else(malformed("truncated version"))?;
        let name_len = usize::from(r.u16().ok_or_else(malformed("truncated name"))?);
        if name_len == 0 || name_len > MAX_IMAGE_NAME_LEN {
            return Err(FirmwareError::Malformed("image name"));
        }
        let name = r.take(name_len).ok_or_else(malformed("truncated name"))?;
        if !is_printable(name) {
            return Err(FirmwareError::Malformed("image name"));
        }
        let name =
            String::from_utf8(name.to_vec()).map_err(|_| FirmwareError::Malformed("image name"))?;
        let payload_len = r.u32().ok_or_else(malformed("truncated payload length"))?;
        let payload_len = usize::try_from(payload_len)
            .map_err(|_| FirmwareError::Malformed("payload too large"))?;
        if payload_len > MAX_PAYLOAD_LEN {
            return Err(FirmwareError::Malformed("payload too large"));
        }
        let payload = r
            .take(payload_len)
            .ok_or_else(malformed("truncated payload"))?
            .to_vec();
        let signature = r
            .final_signature(MAX_EC_SIGNATURE_LEN)
            .ok_or(FirmwareError::Malformed("image signature"))?;
        Ok(Self {
            segment,
            owner,
            version: (major, minor, patch),
            allow_rollback: flags & FLAG_ALLOW_ROLLBACK != 0,
            surrender: flags & FLAG_SURRENDER != 0,
            name,
            payload,
            signature,
        })
    }

    /// Verifies the signature with a code-signing key (EC P-521 only). The
    /// caller is responsible for having validated `signer`'s certificate.
    pub fn verify(&self, signer: &PublicKey) -> Result<(), FirmwareError> {
        if !matches!(signer, PublicKey::EcP521(_)) {
            return Err(FirmwareError::WrongKeyType);
        }
        let msg = self.signed_bytes()?;
        signer.verify(&msg, &self.signature).map_err(|e| match e {
            AttestError::WrongKeyType => FirmwareError::WrongKeyType,
            _ => FirmwareError::BadSignature,
        })
    }

    /// SHA-256 of [`Image::to_bytes`].
    pub fn hash(&self) -> Result<[u8; 32], FirmwareError> {
        let enc = self.to_bytes()?;
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, &enc).as_ref());
        Ok(out)
    }

    /// `"major.minor.patch"`, e.g. `"5.6.9"`.
    pub fn version_string(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }
}

/// Load policy for replacing `current` (the image now in `new.segment`, if
/// any) with `new`:
/// - `new.segment` must be 1..=3 and equal `current.segment`;
/// - when the segment has an owner (`expected_owner`), `new.owner` must equal it;
/// - `new.version` may be lower than `current.version` only if
///   `new.allow_rollback` is set (an equal version may be reloaded).
///
/// Signatures are not checked here; call [`Image::verify`] first.
pub fn check_load(
    current: Option<&Image>,
    new: &Image,
    expected_owner: Option<u16>,
) -> Result<(), FirmwareError> {
    check_segment(new.segment)?;
    if let Some(cur) = current
        && cur.segment != new.segment
    {
        return Err(FirmwareError::SegmentMismatch {
            current: cur.segment,
            new: new.segment,
        });
    }
    if let Some(expected) = expected_owner
        && new.owner != expected
    {
        return Err(FirmwareError::OwnerMismatch {
            expected,
            found: new.owner,
        });
    }
    if let Some(cur) = current
        && new.version < cur.version
        && !new.allow_rollback
    {
        return Err(FirmwareError::Rollback {
            current: cur.version,
            new: new.version,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::tests::{ec_key, ec_sign, mutation_loop};

    fn image(signer: &aws_lc_rs::signature::EcdsaKeyPair, version: (u16, u16, u16)) -> Image {
        let mut img = Image {
            segment: SEGMENT_APPLICATION,
            owner: OWNER_CCA,
            version,
            allow_rollback: false,
            surrender: false,
            name: format!("{}.{}.{} CCA", version.0, version.1, version.2),
            payload: (0..300u32).map(|i| (i * 7) as u8).collect(),
            signature: Vec::new(),
        };
        img.signature = ec_sign(signer, &img.signed_bytes().unwrap());
        img
    }

    #[test]
    fn round_trip_and_verify() {
        let k = ec_key();
        let img = image(&k.key, (5, 6, 9));
        img.verify(&k.public).unwrap();
        let enc = img.to_bytes().unwrap();
        let back = Image::from_bytes(&enc).unwrap();
        assert_eq!(back, img);
        assert_eq!(img.version_string(), "5.6.9");
        assert_eq!(
            img.signed_bytes().unwrap(),
            enc[..enc.len() - 2 - img.signature.len()]
        );
        let h = img.hash().unwrap();
        assert_eq!(h.as_slice(), digest::digest(&digest::SHA256, &enc).as_ref());
        // Other signer / RSA signer.
        assert_eq!(
            img.verify(&ec_key().public),
            Err(FirmwareError::BadSignature)
        );
        assert_eq!(
            img.verify(&PublicKey::Rsa(vec![1, 2])),
            Err(FirmwareError::WrongKeyType)
        );
        // Flag change after signing.
        let mut rb = img.clone();
        rb.allow_rollback = true;
        assert_eq!(rb.verify(&k.public), Err(FirmwareError::BadSignature));
        // Empty payload and max payload encode.
        let mut e = img.clone();
        e.payload.clear();
        Image::from_bytes(&e.to_bytes().unwrap()).unwrap();
        e.payload = vec![0; MAX_PAYLOAD_LEN];
        Image::from_bytes(&e.to_bytes().unwrap()).unwrap();
        e.payload.push(0);
        assert!(e.to_bytes().is_err());
    }

    #[test]
    fn strict_parse() {
        let k = ec_key();
        let enc = image(&k.key, (1, 2, 3)).to_bytes().unwrap();
        let mut bad = enc.clone();
        bad.push(0);
        assert!(Image::from_bytes(&bad).is_err());
        for i in 0..enc.len() {
            assert!(Image::from_bytes(&enc[..i]).is_err(), "truncated at {i}");
        }
        for (pos, val) in [(0, b'x'), (8, 0), (8, 4), (9, 4), (9, 0x81)] {
            let mut bad = enc.clone();
            bad[pos] = val;
            assert!(Image::from_bytes(&bad).is_err(), "pos {pos}");
        }
        let mut bad = enc.clone();
        bad[9] = 1; // rollback flag: parses, signature then fails.
        let parsed = Image::from_bytes(&bad).unwrap();
        assert!(parsed.allow_rollback);
        assert!(parsed.verify(&k.public).is_err());
        // Name: empty, too long, non-printable.
        let mut img = image(&k.key, (1, 2, 3));
        img.name = String::new();
        assert!(img.to_bytes().is_err());
        img.name = "x".repeat(33);
        assert!(img.to_bytes().is_err());
        img.name = "bad\nname".into();
        assert!(img.to_bytes().is_err());
        img.name = "ok".into();
        img.segment = 4;
        assert_eq!(img.to_bytes(), Err(FirmwareError::BadSegment(4)));
        img.segment = 3;
        img.signature = vec![0; MAX_EC_SIGNATURE_LEN + 1];
        assert!(img.to_bytes().is_err());
        img.signature.clear();
        assert!(img.to_bytes().is_err());
        // Oversized payload length field.
        let mut img = image(&k.key, (1, 2, 3));
        img.payload.clear();
        let mut enc = img.to_bytes().unwrap();
        let off = 20 + img.name.len();
        enc[off..off + 4].copy_from_slice(&(MAX_PAYLOAD_LEN as u32 + 1).to_be_bytes());
        assert_eq!(
            Image::from_bytes(&enc),
            Err(FirmwareError::Malformed("payload too large"))
        );
    }

    #[test]
    fn every_byte_tamper_fails() {
        let k = ec_key();
        let img = image(&k.key, (5, 6, 9));
        let enc = img.to_bytes().unwrap();
        for i in 0..enc.len() {
            for mask in [0x01u8, 0x80] {
                let mut bad = enc.clone();
                bad[i] ^= mask;
                if let Ok(parsed) = Image::from_bytes(&bad) {
                    assert!(
                        parsed.verify(&k.public).is_err(),
                        "byte {i} mask {mask:#x} accepted"
                    );
                }
            }
        }
    }

    #[test]
    fn load_policy() {
        let k = ec_key();
        let cur = image(&k.key, (5, 6, 9));
        // First load, any owner when none is set.
        check_load(None, &cur, None).unwrap();
        check_load(None, &cur, Some(OWNER_CCA)).unwrap();
        // Upgrade and same-version reload.
        check_load(Some(&cur), &image(&k.key, (5, 7, 0)), Some(2)).unwrap();
        check_load(Some(&cur), &image(&k.key, (5, 6, 9)), Some(2)).unwrap();
        check_load(Some(&cur), &image(&k.key, (6, 0, 0)), Some(2)).unwrap();
        // Rollback refused, unless flagged.
        let mut old = image(&k.key, (5, 6, 8));
        assert_eq!(
            check_load(Some(&cur), &old, Some(2)),
            Err(FirmwareError::Rollback {
                current: (5, 6, 9),
                new: (5, 6, 8)
            })
        );
        assert!(check_load(Some(&cur), &image(&k.key, (4, 99, 99)), Some(2)).is_err());
        old.allow_rollback = true;
        check_load(Some(&cur), &old, Some(2)).unwrap();
        // Owner.
        let mut other = image(&k.key, (5, 7, 0));
        other.owner = 7;
        assert_eq!(
            check_load(Some(&cur), &other, Some(OWNER_CCA)),
            Err(FirmwareError::OwnerMismatch {
                expected: 2,
                found: 7
            })
        );
        check_load(Some(&cur), &other, None).unwrap();
        // Segment.
        let mut os = image(&k.key, (5, 7, 0));
        os.segment = SEGMENT_OS;
        assert_eq!(
            check_load(Some(&cur), &os, Some(2)),
            Err(FirmwareError::SegmentMismatch { current: 3, new: 2 })
        );
        check_load(None, &os, Some(2)).unwrap();
        os.segment = 0;
        assert_eq!(
            check_load(None, &os, None),
            Err(FirmwareError::BadSegment(0))
        );
        assert!(
            FirmwareError::Rollback {
                current: (5, 6, 9),
                new: (5, 6, 8)
            }
            .to_string()
            .contains("5.6.9")
        );
    }

    #[test]
    fn mutation_no_panic() {
        let k = ec_key();
        let img = image(&k.key, (5, 6, 9));
        let public = k.public.clone();
        mutation_loop(
            &img.to_bytes().unwrap(),
            20_000,
            0xdead_beef_cafe_f00d,
            |b| {
                if let Ok(parsed) = Image::from_bytes(b) {
                    let _ = parsed.to_bytes();
                    let _ = parsed.verify(&public);
                    let _ = check_load(Some(&img), &parsed, Some(OWNER_CCA));
                }
            },
        );
    }
}
