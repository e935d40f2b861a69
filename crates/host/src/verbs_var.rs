//! The host library's verbs of the variable-length (X'05') symmetric key token: Key Token
//! Build2, Key Generate2, Key Part Import2, Key Token Change2, HMAC Generate and HMAC Verify.
//! Each marshals IBM's parameters into the block `softcca_card::verbs::var` and
//! `softcca_card::verbs::hmac` document; key identifiers may be labels of AES key storage
//! (see `labels::TABLE`).

use softcca_card::{Codes, Failure};
use softcca_wire::{Param, VerbResponse};

use crate::{Cca, CcaError, codes_of, single_bytes};

/// The largest variable-length token, used as the output buffer size IBM's callers pass.
const MAX_VAR_TOKEN: usize = 725;

fn int(n: usize) -> Result<i32, CcaError> {
    i32::try_from(n).map_err(|_| CcaError::from_failure(Failure::Length))
}

fn two_bytes(r: VerbResponse) -> Result<(Vec<u8>, Vec<u8>), CcaError> {
    let mut outputs = r.outputs.into_iter();
    match (outputs.next(), outputs.next()) {
        (Some(Param::Bytes(a)), Some(Param::Bytes(b))) => Ok((a, b)),
        _ => Err(CcaError::from_failure(Failure::CardUnavailable)),
    }
}

fn key_type_field(key_type: &str) -> Result<Vec<u8>, CcaError> {
    if key_type.is_empty() {
        return Ok(vec![b' '; 8]);
    }
    softcca_card::rules::element(key_type)
        .map(|e| e.to_vec())
        .ok_or(CcaError::from_failure(Failure::Keyword))
}

impl Cca {
    /// Key_Token_Build2 (CSNBKTB2): a skeleton (NO-KEY, the default) or clear-key (KEY-CLR)
    /// AES or HMAC token from the rule array (INTERNAL | EXTERNAL, AES | HMAC, the key type
    /// CIPHER | MAC, key-usage and key-management keywords). `clear_key` is the key for
    /// KEY-CLR (its bit length is `clear_key.len() * 8`) and empty for NO-KEY; `key_name` is
    /// empty or a 64-byte label; `user_data` at most 255 bytes. `token_length` is the size of
    /// the caller's buffer (IBM's `target_key_token_length`; 725 holds any token).
    pub fn key_token_build2(
        &self,
        rule_array: &[&str],
        clear_key: &[u8],
        key_name: &[u8],
        user_data: &[u8],
        token_length: usize,
    ) -> Result<Vec<u8>, CcaError> {
        let r = self.verb(
            "CSNBKTB2",
            rule_array,
            vec![
                Param::Int(int(clear_key.len() * 8)?),
                Param::Bytes(clear_key.to_vec()),
                Param::Bytes(key_name.to_vec()),
                Param::Bytes(user_data.to_vec()),
                Param::Bytes(Vec::new()),
                Param::Bytes(Vec::new()),
                Param::Int(int(token_length)?),
            ],
        )?;
        single_bytes(r)
    }

    /// Key_Generate2 (CSNBKGN2) with key form OP (the rule array: AES | HMAC, OP): a random
    /// key of `key_bits` bits under the current AES master key. `key_type` is `TOKEN` to
    /// complete (or re-key) the skeleton in `key_identifier`, or CIPHER / MAC for IBM's
    /// default token (then `key_identifier` may be empty). `key_identifier` may be a label of
    /// AES key storage, whose record then receives the token. Returns the token and the codes
    /// (0/0).
    pub fn key_generate2(
        &self,
        rule_array: &[&str],
        key_bits: usize,
        key_type: &str,
        key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let mut params = vec![
            Param::Int(int(key_bits)?),
            Param::Bytes(key_type_field(key_type)?),
            Param::Bytes(vec![b' '; 8]),
        ];
        params.extend((0..6).map(|_| Param::Bytes(Vec::new())));
        params.extend([
            Param::Int(int(MAX_VAR_TOKEN)?),
            Param::Bytes(key_identifier.to_vec()),
            Param::Int(0),
            Param::Bytes(Vec::new()),
        ]);
        let r = self.verb("CSNBKGN2", rule_array, params)?;
        let codes = codes_of(&r);
        Ok((two_bytes(r)?.0, codes))
    }

    /// Key_Generate2 (CSNBKGN2) with key form OPOP (the rule array: AES | HMAC, OPOP): one
    /// random key of `key_bits` bits in two operational tokens, each built as for
    /// [`Cca::key_generate2`] from its key type (TOKEN, CIPHER, MAC) and identifier (a
    /// token, a label of AES key storage, or empty). The two must be of one key type.
    pub fn key_generate2_pair(
        &self,
        rule_array: &[&str],
        key_bits: usize,
        first: (&str, &[u8]),
        second: (&str, &[u8]),
    ) -> Result<(Vec<u8>, Vec<u8>), CcaError> {
        let mut params = vec![
            Param::Int(int(key_bits)?),
            Param::Bytes(key_type_field(first.0)?),
            Param::Bytes(key_type_field(second.0)?),
        ];
        params.extend((0..6).map(|_| Param::Bytes(Vec::new())));
        params.extend([
            Param::Int(int(MAX_VAR_TOKEN)?),
            Param::Bytes(first.1.to_vec()),
            Param::Int(int(MAX_VAR_TOKEN)?),
            Param::Bytes(second.1.to_vec()),
        ]);
        let r = self.verb("CSNBKGN2", rule_array, params)?;
        two_bytes(r)
    }

    /// Key_Part_Import2 (CSNBKPI2): the rule array names the algorithm (AES | HMAC) and the
    /// process (FIRST with MIN3PART | MIN2PART | MIN1PART, ADD-PART, COMPLETE, MIDDLE, LAST).
    /// `key_part` is the clear part (empty for COMPLETE); `key_identifier` the skeleton or
    /// the partial token (or an AES key-storage label, whose record is updated). Returns the
    /// new token and the codes (0/10001 when the partial key was under the old master key).
    pub fn key_part_import2(
        &self,
        rule_array: &[&str],
        key_part: &[u8],
        key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBKPI2",
            rule_array,
            vec![
                Param::Int(int(key_part.len() * 8)?),
                Param::Bytes(key_part.to_vec()),
                Param::Int(int(MAX_VAR_TOKEN)?),
                Param::Bytes(key_identifier.to_vec()),
            ],
        )?;
        let codes = codes_of(&r);
        Ok((single_bytes(r)?, codes))
    }

    /// Key_Token_Change2 (CSNBKTC2) RTCMK: the token re-wrapped under the current AES master
    /// key (unchanged when it already is). A label's record is rewritten.
    pub fn key_token_change2(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
    ) -> Result<Vec<u8>, CcaError> {
        let r = self.verb(
            "CSNBKTC2",
            rule_array,
            vec![Param::Bytes(key_identifier.to_vec())],
        )?;
        single_bytes(r)
    }

    /// HMAC_Generate (CSNBHMG): the rule array is HMAC, the hash method (SHA-1, SHA-224,
    /// SHA-256, SHA-384, SHA-512) and optionally FIRST | MIDDLE | LAST | ONLY (the default).
    /// `chaining_vector` is IBM's 128-byte work area, passed unchanged between segments.
    /// `mac_length` (4 or more) truncates the MAC when smaller than the digest. Returns the MAC
    /// (empty for FIRST and MIDDLE) and the codes (0/10001 for a key under the old master key).
    pub fn hmac_generate(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
        text: &[u8],
        chaining_vector: &mut [u8; 128],
        mac_length: usize,
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBHMG",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(text.to_vec()),
                Param::Bytes(chaining_vector.to_vec()),
                Param::Int(int(mac_length)?),
            ],
        )?;
        let codes = codes_of(&r);
        let (cv, mac) = two_bytes(r)?;
        if cv.len() != chaining_vector.len() {
            return Err(CcaError::from_failure(Failure::CardUnavailable));
        }
        chaining_vector.copy_from_slice(&cv);
        Ok((mac, codes))
    }

    /// HMAC_Verify (CSNBHMV): the rule array as for [`Cca::hmac_generate`]; `mac` is the MAC
    /// to check (4 bytes up to the digest) on ONLY and LAST. Returns the codes: 0/0 (or
    /// 0/10001) when it verifies, 4/1 when it does not.
    pub fn hmac_verify(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
        text: &[u8],
        chaining_vector: &mut [u8; 128],
        mac: &[u8],
    ) -> Result<Codes, CcaError> {
        let r = self.verb(
            "CSNBHMV",
            rule_array,
            vec![
                Param::Bytes(key_identifier.to_vec()),
                Param::Bytes(text.to_vec()),
                Param::Bytes(chaining_vector.to_vec()),
                Param::Bytes(mac.to_vec()),
            ],
        )?;
        let codes = codes_of(&r);
        let cv = single_bytes(r)?;
        if cv.len() != chaining_vector.len() {
            return Err(CcaError::from_failure(Failure::CardUnavailable));
        }
        chaining_vector.copy_from_slice(&cv);
        Ok(codes)
    }
}
