//! Symmetric keys under RSA keys (issue 4) as `Cca` methods, marshalled as the card's
//! `verbs::syx` module documents: Symmetric_Key_Export (CSNDSYX), Symmetric_Key_Import
//! (CSNDSYI), Symmetric_Key_Import2 (CSNDSYI2) and Symmetric_Key_Generate (CSNDSYG). Key
//! labels: the symmetric identifier is a label in DES key storage, or in AES key storage when
//! the rule array names AES (CSNDSYI2's target: always AES key storage); the RSA identifier
//! a label in PKA key storage.

use softcca_card::{Codes, Failure};
use softcca_wire::Param;

use crate::{Cca, CcaError, codes_of, single_bytes};

/// The RSA_enciphered_key capacity the export offers the card: one modulus of the largest
/// RSA key (8192 bits).
pub const MAX_RSA_ENCIPHERED_KEY: i32 = 1024;

/// The capacity the export offers the card: one modulus of the largest RSA key, plus room for
/// the AES KWP block of CKM-RAKW or the variable-length token around a PKOAEP2 key.
const EXPORT_CAPACITY: i32 = MAX_RSA_ENCIPHERED_KEY + 1024;

/// A variable-length token's largest size (CSNDSYI2's target buffer).
const VAR_TOKEN_CAPACITY: i32 = 725;

impl Cca {
    /// Symmetric_Key_Export (CSNDSYX): the key of an operational DES or AES token (or label)
    /// enciphered under an RSA public key (PKCSOAEP with SHA-1 or SHA-256, or PKCS-1.2), or
    /// of an AES or HMAC variable-length token (PKOAEP2: an external variable-length token;
    /// CKM-RAKW: PKCS #11 CKM_RSA_AES_KEY_WRAP output). Returns the enciphered key and the
    /// codes (0/10001 when a key was under the old master key).
    pub fn symmetric_key_export(
        &self,
        rule_array: &[&str],
        source_key_identifier: &[u8],
        rsa_public_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNDSYX",
            rule_array,
            vec![
                Param::Bytes(source_key_identifier.to_vec()),
                Param::Bytes(rsa_public_key_identifier.to_vec()),
                Param::Int(EXPORT_CAPACITY),
            ],
        )?;
        let c = codes_of(&r);
        Ok((single_bytes(r)?, c))
    }

    /// Symmetric_Key_Import2 (CSNDSYI2) with PKOAEP2 or CKM-RAKW: an AES or HMAC key
    /// enciphered under an RSA public key recovered with the private key (a token or a PKA
    /// label) into an internal variable-length token. `key_name` is empty or 64 bytes;
    /// `target_key_identifier` is the skeleton CKM-RAKW fills (unused with PKOAEP2, whose
    /// external token carries the associated data) or an AES key-storage label whose record
    /// receives the new token. Returns the internal token and the codes.
    pub fn symmetric_key_import2(
        &self,
        rule_array: &[&str],
        enciphered_key: &[u8],
        transport_key_identifier: &[u8],
        key_name: &[u8],
        target_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNDSYI2",
            rule_array,
            vec![
                Param::Bytes(enciphered_key.to_vec()),
                Param::Bytes(transport_key_identifier.to_vec()),
                Param::Bytes(key_name.to_vec()),
                Param::Int(VAR_TOKEN_CAPACITY),
                Param::Bytes(target_key_identifier.to_vec()),
            ],
        )?;
        let c = codes_of(&r);
        Ok((single_bytes(r)?, c))
    }

    /// Symmetric_Key_Import (CSNDSYI): a key enciphered under an RSA public key recovered with
    /// the private key into an internal token under the master key. `target_key_identifier`
    /// is a null token, an internal token of the algorithm, or a label (whose record receives
    /// the new token). Returns the internal token and the codes.
    pub fn symmetric_key_import(
        &self,
        rule_array: &[&str],
        rsa_enciphered_key: &[u8],
        rsa_private_key_identifier: &[u8],
        target_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNDSYI",
            rule_array,
            vec![
                Param::Bytes(rsa_enciphered_key.to_vec()),
                Param::Bytes(rsa_private_key_identifier.to_vec()),
                Param::Bytes(target_key_identifier.to_vec()),
            ],
        )?;
        let c = codes_of(&r);
        Ok((single_bytes(r)?, c))
    }
}

impl Cca {
    /// Symmetric_Key_Generate (CSNDSYG): a random DATA key (DES SINGLE, DOUBLE, TRIPLE; AES
    /// KEYLN16, KEYLN24, KEYLN32) returned under the master key and under an RSA public key.
    /// `key_encrypting_key_identifier` must be empty or a null token (the local key goes
    /// under the master key); `local_enciphered_key_identifier` is a null token, an internal
    /// token of the algorithm, or a label (whose record receives the token). Returns the
    /// internal token, the RSA-enciphered key and the codes.
    pub fn symmetric_key_generate(
        &self,
        rule_array: &[&str],
        key_encrypting_key_identifier: &[u8],
        rsa_public_key_identifier: &[u8],
        local_enciphered_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNDSYG",
            rule_array,
            vec![
                Param::Bytes(key_encrypting_key_identifier.to_vec()),
                Param::Bytes(rsa_public_key_identifier.to_vec()),
                Param::Bytes(local_enciphered_key_identifier.to_vec()),
                Param::Int(MAX_RSA_ENCIPHERED_KEY),
            ],
        )?;
        let c = codes_of(&r);
        match r.outputs.as_slice() {
            [Param::Bytes(token), Param::Bytes(enciphered)] => {
                Ok((token.clone(), enciphered.clone(), c))
            }
            _ => Err(CcaError::from_failure(Failure::CardUnavailable)),
        }
    }
}
