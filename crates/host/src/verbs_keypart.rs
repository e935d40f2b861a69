//! Host methods of the key-part, key-test and key-token-change verbs: Key_Part_Import
//! (CSNBKPI), Key_Test (CSNBKYT), Key_Test_Extended (CSNBKYTX) and Key_Token_Change
//! (CSNBKTC). Each marshals IBM's parameters in the card's parameter-block convention (see
//! `softcca_card`'s `verbs::keypart`, `verbs::keytest` and `verbs::ktc`) and returns Rust
//! values. Key identifiers may be key labels: [`crate::labels`] resolves them, and writes
//! the updated token of CSNBKPI and CSNBKTC back to the record.

use softcca_card::{Codes, Failure};
use softcca_wire::{Param, VerbResponse};

use crate::{Cca, CcaError, codes_of, single_bytes};

/// What Key_Test GENERATE returns: IBM's `value_1` (formerly `random_number`) and `value_2`
/// (formerly `verification_pattern`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTestValues {
    /// `value_1`: the random number of the default method; zeros with ENC-ZERO.
    pub value_1: [u8; 8],
    /// `value_2`: the verification pattern (ENC-ZERO: in the high-order four bytes).
    pub value_2: [u8; 8],
}

fn two_values(r: VerbResponse) -> Result<KeyTestValues, CcaError> {
    let eight = |p: Option<&Param>| -> Result<[u8; 8], CcaError> {
        match p {
            Some(Param::Bytes(b)) => b
                .as_slice()
                .try_into()
                .map_err(|_| CcaError::from_failure(Failure::CardUnavailable)),
            _ => Err(CcaError::from_failure(Failure::CardUnavailable)),
        }
    };
    Ok(KeyTestValues {
        value_1: eight(r.outputs.first())?,
        value_2: eight(r.outputs.get(1))?,
    })
}

impl Cca {
    /// Key_Part_Import (CSNBKPI): combines a clear key part into the DES key accumulated in
    /// `key_identifier` (an internal token whose control vector has the key-part bit, or the
    /// label of its record). `rule_array`: FIRST, MIDDLE, LAST, ADD-PART or COMPLETE, and
    /// optionally a wrapping keyword. `key_part` is IBM's key-part field (8, 16 or 24 bytes;
    /// ignored by COMPLETE). Returns the updated token (also written back to the record for
    /// a label) and the codes: 0/2 when the accumulated key lacks odd parity, 0/10001 when
    /// the token was under the old master key.
    pub fn key_part_import(
        &self,
        rule_array: &[&str],
        key_part: &[u8],
        key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBKPI",
            rule_array,
            vec![
                Param::Bytes(key_part.to_vec()),
                Param::Bytes(key_identifier.to_vec()),
            ],
        )?;
        let codes = codes_of(&r);
        Ok((single_bytes(r)?, codes))
    }

    /// Key_Test (CSNBKYT) with GENERATE: the verification values of a DES key or key part.
    /// `rule_array` holds GENERATE, a key rule (KEY-CLR, KEY-CLRD, KEY-CLRT for a clear key
    /// given in `key_identifier`; KEY-ENC, KEY-ENCD, KEY-ENCT for an internal token or a
    /// label) and optionally ADJUST and ENC-ZERO. Returns the values and the codes (4/195
    /// when the key rule's length is not the token's, 0/10001 for the old master key).
    pub fn key_test_generate(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
    ) -> Result<(KeyTestValues, Codes), CcaError> {
        let r = self.verb(
            "CSNBKYT",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(vec![0; 8]),
                Param::Bytes(vec![0; 8]),
            ],
        )?;
        let codes = codes_of(&r);
        Ok((two_values(r)?, codes))
    }

    /// Key_Test (CSNBKYT) with VERIFY: checks `values` against the key. `Ok(true)` when they
    /// verify (0/0 or 0/10001), `Ok(false)` for IBM's 4/1.
    pub fn key_test_verify(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
        values: &KeyTestValues,
    ) -> Result<bool, CcaError> {
        let r = self.verb(
            "CSNBKYT",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(values.value_1.to_vec()),
                Param::Bytes(values.value_2.to_vec()),
            ],
        )?;
        Ok(!(r.return_code == 4 && r.reason_code == 1))
    }

    /// Key_Test_Extended (CSNBKYTX) with GENERATE: as [`Cca::key_test_generate`], for an
    /// internal token or an external one enciphered under `kek_key_identifier` (an internal
    /// key-encrypting-key token or label; any 64 bytes for an internal key). No clear keys.
    pub fn key_test_extended_generate(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
        kek_key_identifier: &[u8],
    ) -> Result<(KeyTestValues, Codes), CcaError> {
        let r = self.verb(
            "CSNBKYTX",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(vec![0; 8]),
                Param::Bytes(vec![0; 8]),
                Param::Bytes(kek_key_identifier.to_vec()),
            ],
        )?;
        let codes = codes_of(&r);
        Ok((two_values(r)?, codes))
    }

    /// Key_Test_Extended (CSNBKYTX) with VERIFY: `Ok(false)` for IBM's 4/1.
    pub fn key_test_extended_verify(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
        values: &KeyTestValues,
        kek_key_identifier: &[u8],
    ) -> Result<bool, CcaError> {
        let r = self.verb(
            "CSNBKYTX",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(values.value_1.to_vec()),
                Param::Bytes(values.value_2.to_vec()),
                Param::Bytes(kek_key_identifier.to_vec()),
            ],
        )?;
        Ok(!(r.return_code == 4 && r.reason_code == 1))
    }

    /// Key_Token_Change (CSNBKTC): re-enciphers an internal DES or fixed-length AES token
    /// (or the token of a labelled record, which is then updated) to the current master key
    /// (`RTCMK`) or the full new one (`RTNMK`); optionally DES or AES and a wrapping keyword.
    /// A token already under the current master key comes back unchanged. Returns the token.
    pub fn key_token_change(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
    ) -> Result<Vec<u8>, CcaError> {
        let r = self.verb(
            "CSNBKTC",
            rule_array,
            vec![Param::Bytes(key_identifier.to_vec())],
        )?;
        single_bytes(r)
    }
}
