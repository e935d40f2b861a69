//! Host methods of the facility queries that answer in verb data (CSUACFQ STATICSB,
//! DOM-NUMS, DOM-USAG) and of Access_Control_Maintenance (CSUAACM). Each marshals IBM's
//! parameters in the card's parameter-block convention (see `softcca_card`'s
//! `verbs::facility` and `verbs::acm`) and returns Rust values; the raw bytes are what IBM's
//! C interface returns in `verb_data` / `output_data`.

use softcca_card::Failure;
use softcca_card::rules::Element;
use softcca_wire::Param;

use crate::{Cca, CcaError, single_bytes};

/// The verification patterns of one master-key class as STATICSB reports them (eight zero
/// bytes for an empty register or a NEW register that is not full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegisterPatterns {
    /// The OLD register.
    pub old: [u8; 8],
    /// The CURRENT register: the MKVP in key tokens enciphered now.
    pub current: [u8; 8],
    /// The NEW register.
    pub new: [u8; 8],
}

/// CSUACFQ STATICSB: the master-key verification patterns of the SYM, AES and APKA
/// registers, and IBM's verb data as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticsB {
    /// SYM (DES) registers: IDs X'0F08', X'0F07', X'0F06'.
    pub sym: RegisterPatterns,
    /// AES registers: IDs X'0F0C', X'0F0B', X'0F0A'.
    pub aes: RegisterPatterns,
    /// APKA registers: IDs X'0F0F', X'0F0E', X'0F0D'.
    pub apka: RegisterPatterns,
    /// The verb data.
    pub raw: Vec<u8>,
}

/// The verb_data buffer the host offers: what opencryptoki passes for STATICSB.
const VERB_DATA_CAPACITY: i32 = 256;

/// The output buffer the host offers CSUAACM: what opencryptoki passes.
const ACM_CAPACITY: i32 = 4000;

impl StaticsB {
    /// Walks the LEN ‖ ID ‖ pattern blocks and picks the 8-byte patterns by ID, as IBM says
    /// a reader should ("the *_ID fields should be used for verification").
    fn parse(raw: Vec<u8>) -> StaticsB {
        let mut s = StaticsB {
            sym: RegisterPatterns::default(),
            aes: RegisterPatterns::default(),
            apka: RegisterPatterns::default(),
            raw: Vec::new(),
        };
        let mut at = 0;
        while let Some(&[l0, l1, i0, i1]) = raw.get(at..at + 4) {
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if len < 4 {
                break;
            }
            if len == 12
                && let Some(bytes) = raw.get(at + 4..at + 12)
            {
                let mut v = [0u8; 8];
                v.copy_from_slice(bytes);
                match u16::from_be_bytes([i0, i1]) {
                    0x0F08 => s.sym.old = v,
                    0x0F07 => s.sym.current = v,
                    0x0F06 => s.sym.new = v,
                    0x0F0C => s.aes.old = v,
                    0x0F0B => s.aes.current = v,
                    0x0F0A => s.aes.new = v,
                    0x0F0F => s.apka.old = v,
                    0x0F0E => s.apka.current = v,
                    0x0F0D => s.apka.new = v,
                    _ => {}
                }
            }
            at += len;
        }
        s.raw = raw;
        s
    }
}

impl Cca {
    /// Cryptographic_Facility_Query (CSUACFQ) for a keyword that answers in verb data
    /// (`STATICSB`, `DOM-NUMS`, `DOM-USAG`, optionally after `ADAPTER1`), with a verb-data
    /// buffer of `capacity` bytes: the verb data the card returns. A buffer smaller than the
    /// answer is 8/72.
    pub fn cryptographic_facility_query_data(
        &self,
        rule_array: &[&str],
        capacity: i32,
    ) -> Result<Vec<u8>, CcaError> {
        let r = self.verb(
            "CSUACFQ",
            rule_array,
            vec![Param::Int(capacity), Param::Bytes(Vec::new())],
        )?;
        single_bytes(r)
    }

    /// CSUACFQ STATICSB: the master-key verification patterns, parsed.
    pub fn master_key_verification_patterns(&self) -> Result<StaticsB, CcaError> {
        let raw = self.cryptographic_facility_query_data(&["STATICSB"], VERB_DATA_CAPACITY)?;
        Ok(StaticsB::parse(raw))
    }

    /// CSUACFQ DOM-NUMS: the number of domains (a 4767 has one).
    pub fn domain_count(&self) -> Result<u32, CcaError> {
        let raw = self.cryptographic_facility_query_data(&["DOM-NUMS"], 4)?;
        Ok(raw
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0))
    }

    /// CSUACFQ DOM-USAG: the usage domains, one 4-byte big-endian number each.
    pub fn usage_domains(&self) -> Result<Vec<u32>, CcaError> {
        let raw = self.cryptographic_facility_query_data(&["DOM-USAG"], VERB_DATA_CAPACITY)?;
        Ok(raw
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// Access_Control_Maintenance (CSUAACM) as IBM's interface has it: one keyword, an
    /// 8-byte role or profile name (ignored by the list and count keywords), an output buffer
    /// of `capacity` bytes (a multiple of four). Returns the output data.
    pub fn access_control_maintenance(
        &self,
        keyword: &str,
        name: &[u8],
        capacity: i32,
    ) -> Result<Vec<u8>, CcaError> {
        let r = self.verb(
            "CSUAACM",
            &[keyword],
            vec![Param::Bytes(name.to_vec()), Param::Int(capacity)],
        )?;
        single_bytes(r)
    }

    /// CSUAACM LSTROLES: the IDs of the card's roles.
    pub fn list_roles(&self) -> Result<Vec<Element>, CcaError> {
        let raw = self.access_control_maintenance("LSTROLES", &[b' '; 8], ACM_CAPACITY)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| {
                let mut e = [0u8; 8];
                e.copy_from_slice(c);
                e
            })
            .collect())
    }

    /// CSUAACM GET-ROLE: the non-secret part of a role (version, comment, authentication
    /// strength, time window, days, access-control points), IBM's big-endian layout.
    /// `role_id` is space-padded to 8 characters; a longer one names no role (8/772).
    pub fn get_role(&self, role_id: &str) -> Result<Vec<u8>, CcaError> {
        if role_id.len() > 8 {
            return Err(CcaError::from_failure(Failure::RoleNotFound));
        }
        let mut name = [b' '; 8];
        for (o, b) in name.iter_mut().zip(role_id.bytes()) {
            *o = b;
        }
        self.access_control_maintenance("GET-ROLE", &name, ACM_CAPACITY)
    }
}
