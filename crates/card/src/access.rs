//! The card's access-control tables: roles and (later) user profiles.
//!
//! IBM 4758 CCA Basic Services Reference 2.54, appendix B "Access-Control Data Structures"
//! (figures B-31 role structure, B-33 access-control-point list, B-43/B-45 examples) and
//! chapter 2 "Access_Control_Maintenance"; IBM Docs "CCA for Linux", "Access Control
//! Maintenance (CSUAACM)" (lxcc/wskc_r_acm.html) and "CSUAACM parameters".
//!
//! A [`Role`] holds what IBM's role structure holds: role ID, comment, required
//! authentication strength, the time window and days of the week it may be used, and its
//! access-control points (ACPs) as IBM's segmented bitmap. [`RoleTable`] is the card's list of
//! roles; a fresh card holds one, [`RoleTable::factory`]'s DEFAULT role. There is no profile
//! yet (no user can log on), so the profile list is empty.
//!
//! Nothing changes the table yet: Access_Control_Initialization (CSUAACI), which loads and
//! replaces roles, is later work. Because every card starts from the same factory table and
//! nothing can change it, the table is rebuilt at power-on rather than kept in the sealed
//! state; [`Role::structure`] and [`Role::from_structure`] give IBM's byte form for the day
//! CSUAACI makes roles changeable and the table joins the persisted state.
//!
//! The DEFAULT role (softcca's choices, IBM's fresh-card DEFAULT role as far as documented):
//! - ID `DEFAULT `, comment `DEFAULT ROLE` (IBM's factory comment was not retrieved),
//!   authentication strength 0, lower time = upper time = 00:00 ("if lower equals upper the
//!   role is valid all day", and opencryptoki accepts upper 0 or 23:59), days X'FE' (Sunday to
//!   Saturday, the unused low bit 0), role-structure version X'0101' (IBM's figure B-45 and
//!   opencryptoki's `struct cca_role_data`).
//! - ACPs: one segment, X'0000'–X'03FF' (128 bytes). Enabled:
//!   - IBM's documented initial DEFAULT-role points: X'0107' (One-Way Hash SHA-1) and
//!     X'0110'–X'011A' (Set Clock, Reinitialize Device, Initialize Access-Control System,
//!     Change User Profile Expiration Date, Change User Profile Authentication Data, Reset User
//!     Profile Logon-Attempt-Failure Count, Read Public Access-Control Information, Delete User
//!     Profile, Delete Role, Load Function-Control Vector, Clear Function-Control Vector).
//!   - The points of the public-key verbs softcca implements, as the CCA for Linux pages
//!     name them (`/work/shared/docs/CCA-FACTS-pka-access-clu.md` §8): X'0100' Digital
//!     Signature Generate, X'0101' Digital Signature Verify, X'0103' PKA Key Generate,
//!     X'0104' PKA Key Import, X'0105'/X'023E' Symmetric Key Export DES, X'0106'/X'023D'
//!     Symmetric Key Import DES, X'011E' PKA Encrypt, X'011F' PKA Decrypt, X'012E'/X'012F'
//!     Symmetric Key Import AES, X'0130'/X'0131' Symmetric Key Export AES, X'0203' Retained
//!     Key Delete, X'0204' PKA Key Generate CLONE, X'0205' PKA Key Generate clear RSA,
//!     X'0230' Retained Key List, X'0326' PKA Key Generate clear ECC, X'035F' ECDH DERIV02,
//!     X'0360' ECC Diffie-Hellman.
//!   - Not enabled: X'03B8' (Symmetric Key Export AES CKM-RAKW) and X'03CD' (import of an AES
//!     key from a PKCS #11 CKM_RSA_AES_KEY_WRAP object) — opencryptoki reads exactly these two
//!     and notes they are "DISABLED by default" on IBM's cards; softcca implements no RAKW, so
//!     opencryptoki must not offer CKM_RSA_AES_KEY_WRAP. Nor X'03CB'/X'03CC' (PKA Key Import
//!     RAKW), nor the restricting points ("disallow" X'0206'–X'020C', X'030C', X'033B'),
//!     which IBM ships off.
//!   - The points of the symmetric verbs are left for the access-control work that enforces
//!     ACPs: softcca checks no ACP yet, and IBM's list of them was not at hand.

use crate::error::Failure;

/// The 8-byte role ID of IBM's default role.
pub const DEFAULT_ROLE_ID: [u8; 8] = *b"DEFAULT ";

/// The role-structure version softcca writes.
pub const ROLE_VERSION: u16 = 0x0101;

/// One segment of an access-control-point list: the points `first..=last`, bit *n* of the
/// segment being `0x80 >> (n % 8)` of byte `n / 8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcpSegment {
    /// The first point the segment covers.
    pub first: u16,
    /// The last point the segment covers.
    pub last: u16,
    /// The bitmap, `(last - first) / 8 + 1` bytes.
    pub bits: Vec<u8>,
}

impl AcpSegment {
    /// A segment covering `first..=last` with no point enabled.
    pub fn empty(first: u16, last: u16) -> AcpSegment {
        let bytes = usize::from(last.saturating_sub(first)) / 8 + 1;
        AcpSegment {
            first,
            last,
            bits: vec![0; bytes],
        }
    }

    /// Enables `acp` if the segment covers it.
    pub fn enable(&mut self, acp: u16) {
        if let Some((byte, mask)) = self.position(acp)
            && let Some(b) = self.bits.get_mut(byte)
        {
            *b |= mask;
        }
    }

    fn position(&self, acp: u16) -> Option<(usize, u8)> {
        if acp < self.first || acp > self.last {
            return None;
        }
        let n = usize::from(acp - self.first);
        Some((n / 8, 0x80 >> (n % 8)))
    }

    /// Whether the segment covers `acp` and enables it.
    pub fn permits(&self, acp: u16) -> bool {
        self.position(acp)
            .and_then(|(byte, mask)| self.bits.get(byte).map(|b| b & mask != 0))
            .unwrap_or(false)
    }
}

/// A role, with the fields of IBM's role structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role ID, 8 characters, space-padded.
    pub id: [u8; 8],
    /// Role-structure version (major, minor).
    pub version: u16,
    /// A 20-character comment, space-padded, not NUL-terminated.
    pub comment: [u8; 20],
    /// The authentication strength a user needs to log on with this role.
    pub auth_strength: u16,
    /// The earliest time of day (hour, minute; UTC) the role may be used.
    pub lower_time: (u8, u8),
    /// The latest time of day. Equal to `lower_time`: valid all day.
    pub upper_time: (u8, u8),
    /// Days of the week: X'80' Sunday … X'02' Saturday, X'01' unused.
    pub days: u8,
    /// The access-control points.
    pub acps: Vec<AcpSegment>,
}

/// The ACPs the DEFAULT role enables (the list and its sources are in the module doc).
pub const DEFAULT_ACPS: &[u16] = &[
    0x0100, 0x0101, 0x0103, 0x0104, 0x0105, 0x0106, 0x0107, 0x0110, 0x0111, 0x0112, 0x0113, 0x0114,
    0x0115, 0x0116, 0x0117, 0x0118, 0x0119, 0x011A, 0x011E, 0x011F, 0x012E, 0x012F, 0x0130, 0x0131,
    0x0203, 0x0204, 0x0205, 0x0230, 0x023D, 0x023E, 0x0326, 0x035F, 0x0360,
];

fn padded<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [b' '; N];
    for (o, b) in out.iter_mut().zip(text.bytes()) {
        *o = b;
    }
    out
}

fn be16(b: &[u8], at: usize) -> Result<u16, Failure> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(Failure::RoleData),
    }
}

impl Role {
    /// IBM's default role as a fresh softcca card holds it.
    pub fn factory_default() -> Role {
        let mut segment = AcpSegment::empty(0x0000, 0x03FF);
        for &acp in DEFAULT_ACPS {
            segment.enable(acp);
        }
        Role {
            id: DEFAULT_ROLE_ID,
            version: ROLE_VERSION,
            comment: padded("DEFAULT ROLE"),
            auth_strength: 0,
            lower_time: (0, 0),
            upper_time: (0, 0),
            days: 0xFE,
            acps: vec![segment],
        }
    }

    /// Whether the role enables `acp`.
    pub fn permits(&self, acp: u16) -> bool {
        self.acps.iter().any(|s| s.permits(acp))
    }

    /// IBM's access-control-point list: segment count, reserved, then each segment's first
    /// point, last point, byte count, reserved and bitmap, all big-endian.
    fn acp_list(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let count = u16::try_from(self.acps.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        for s in &self.acps {
            let n = u16::try_from(s.bits.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&s.first.to_be_bytes());
            out.extend_from_slice(&s.last.to_be_bytes());
            out.extend_from_slice(&n.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&s.bits);
        }
        out
    }

    /// The non-secret part of the role as CSUAACM GET-ROLE returns it: version, comment,
    /// authentication strength, lower and upper time, days, then the ACP list (IBM CCA 2.54,
    /// "Access_Control_Maintenance", contents of output_data for GET-ROLE).
    pub fn get_role_data(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.comment);
        out.extend_from_slice(&self.auth_strength.to_be_bytes());
        out.extend_from_slice(&[self.lower_time.0, self.lower_time.1]);
        out.extend_from_slice(&[self.upper_time.0, self.upper_time.1]);
        out.push(self.days);
        out.extend_from_slice(&self.acp_list());
        out
    }

    /// IBM's role structure (CSUAACI's input form, figure B-31): version, length, comment,
    /// checksum (0, unused), reserved, role ID, authentication strength, lower and upper time,
    /// days, reserved, ACP list.
    pub fn structure(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.comment);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.auth_strength.to_be_bytes());
        out.extend_from_slice(&[self.lower_time.0, self.lower_time.1]);
        out.extend_from_slice(&[self.upper_time.0, self.upper_time.1]);
        out.push(self.days);
        out.push(0);
        out.extend_from_slice(&self.acp_list());
        let len = u16::try_from(out.len()).unwrap_or(u16::MAX);
        out[2..4].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// Parses IBM's role structure. Anything that does not add up (length field, segment
    /// sizes, times, reserved bytes) is 8/781, "There is an error in the role data".
    pub fn from_structure(b: &[u8]) -> Result<Role, Failure> {
        let len = usize::from(be16(b, 2)?);
        if len != b.len() || len < 48 {
            return Err(Failure::RoleData);
        }
        let mut comment = [0u8; 20];
        comment.copy_from_slice(&b[4..24]);
        let mut id = [0u8; 8];
        id.copy_from_slice(&b[28..36]);
        let time = |at: usize| -> Result<(u8, u8), Failure> {
            let (h, m) = (b[at], b[at + 1]);
            if h > 23 || m > 59 {
                return Err(Failure::RoleData);
            }
            Ok((h, m))
        };
        if b[43] != 0 || be16(b, 46)? != 0 || id[0] == b' ' {
            return Err(Failure::RoleData);
        }
        let count = usize::from(be16(b, 44)?);
        let mut at = 48;
        let mut acps = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let first = be16(b, at)?;
            let last = be16(b, at + 2)?;
            let n = usize::from(be16(b, at + 4)?);
            if last < first || n != usize::from(last - first) / 8 + 1 || be16(b, at + 6)? != 0 {
                return Err(Failure::RoleData);
            }
            let bits = b.get(at + 8..at + 8 + n).ok_or(Failure::RoleData)?.to_vec();
            acps.push(AcpSegment { first, last, bits });
            at += 8 + n;
        }
        if at != b.len() {
            return Err(Failure::RoleData);
        }
        Ok(Role {
            id,
            version: be16(b, 0)?,
            comment,
            auth_strength: be16(b, 36)?,
            lower_time: time(38)?,
            upper_time: time(40)?,
            days: b[42],
            acps,
        })
    }
}

/// The card's roles, in the order they were loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTable {
    roles: Vec<Role>,
}

impl RoleTable {
    /// A fresh card's table: the DEFAULT role only.
    pub fn factory() -> RoleTable {
        RoleTable {
            roles: vec![Role::factory_default()],
        }
    }

    /// The roles, in order.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The role with this 8-byte ID.
    pub fn get(&self, id: &[u8]) -> Option<&Role> {
        self.roles.iter().find(|r| r.id.as_slice() == id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_role_get_role_layout() {
        let d = Role::factory_default().get_role_data();
        assert_eq!(d.len(), 29 + 4 + 8 + 128);
        assert_eq!(&d[..2], &[0x01, 0x01]);
        assert_eq!(&d[2..22], b"DEFAULT ROLE        ");
        assert_eq!(&d[22..29], &[0, 0, 0, 0, 0, 0, 0xFE]);
        assert_eq!(&d[29..33], &[0, 1, 0, 0], "one segment");
        assert_eq!(&d[33..41], &[0x00, 0x00, 0x03, 0xFF, 0x00, 0x80, 0, 0]);
        // X'0100' is bit 0x80 of byte 32 of the bitmap; X'0107' bit 0x01.
        assert_eq!(d[41 + 32] & 0x81, 0x81);
    }

    #[test]
    fn default_role_points() {
        let r = Role::factory_default();
        for &acp in DEFAULT_ACPS {
            assert!(r.permits(acp), "{acp:04X}");
        }
        for acp in [
            0x03B8, 0x03CD, 0x03CB, 0x03CC, 0x0206, 0x020C, 0x0000, 0x03FF, 0x0400,
        ] {
            assert!(!r.permits(acp), "{acp:04X}");
        }
    }

    #[test]
    fn structure_round_trips_and_refuses_damage() {
        let r = Role::factory_default();
        let s = r.structure();
        assert_eq!(usize::from(u16::from_be_bytes([s[2], s[3]])), s.len());
        assert_eq!(&s[28..36], b"DEFAULT ");
        assert_eq!(Role::from_structure(&s).unwrap(), r);
        for i in [2usize, 3, 38, 40, 43, 45, 47, 49, 52, 54] {
            let mut bad = s.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                Role::from_structure(&bad),
                Err(Failure::RoleData),
                "byte {i}"
            );
        }
        assert_eq!(
            Role::from_structure(&s[..s.len() - 1]),
            Err(Failure::RoleData)
        );
        assert_eq!(Role::from_structure(&[]), Err(Failure::RoleData));
    }

    #[test]
    fn table_has_only_default() {
        let t = RoleTable::factory();
        assert_eq!(t.roles().len(), 1);
        assert!(t.get(b"DEFAULT ").is_some());
        assert!(t.get(b"DEFAULT").is_none());
        assert!(t.get(b"ADMIN   ").is_none());
    }
}
