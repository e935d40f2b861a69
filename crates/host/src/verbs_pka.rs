//! The PKA verbs (issue 4) as `Cca` methods, one per IBM verb, marshalled as the card's
//! `verbs::pka` module documents. Output buffer sizes are IBM's `…_length` inputs: a caller's
//! capacity (opencryptoki passes 2500 or 8000 for PKA tokens), checked by the card.

use softcca_card::Codes;
use softcca_wire::Param;

use crate::{Cca, CcaError, codes_of, single_bytes};

/// The largest PKA token (IBM Docs "CCA for Linux", "PKA key tokens"): the default output
/// capacity the methods below offer the card.
pub const MAX_PKA_TOKEN: i32 = 8000;

fn bytes(b: &[u8]) -> Param {
    Param::Bytes(b.to_vec())
}

/// What PKA_Key_Token_Build's optional byte-string parameters carry (all empty by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct PkaBuildExtras<'a> {
    /// `private_key_name`: a 64-byte name (RSA: the X'10' section; RETAIN's label).
    pub private_key_name: &'a [u8],
    /// `user_definable_associated_data` (ECC).
    pub user_associated_data: &'a [u8],
    /// `key_derivation_data` (IBM's `reserved_2` slot: ECC-VER1 derivation data).
    pub key_derivation_data: &'a [u8],
}

impl Cca {
    /// PKA_Key_Token_Build (CSNDPKB): a skeleton, public or clear key token from IBM's
    /// key-value structure. Returns the token.
    pub fn pka_key_token_build(
        &self,
        rule_array: &[&str],
        key_value_structure: &[u8],
        extras: PkaBuildExtras<'_>,
    ) -> Result<Vec<u8>, CcaError> {
        let r = self.verb(
            "CSNDPKB",
            rule_array,
            vec![
                bytes(key_value_structure),
                bytes(extras.private_key_name),
                bytes(extras.user_associated_data),
                bytes(extras.key_derivation_data),
                bytes(&[]),
                bytes(&[]),
                bytes(&[]),
                Param::Int(MAX_PKA_TOKEN),
            ],
        )?;
        single_bytes(r)
    }

    /// PKA_Key_Generate (CSNDPKG): a key pair from a skeleton token (MASTER, RETAIN, CLEAR or
    /// XPORT). `transport_key_identifier` is 64 bytes (an IMPORTER/EXPORTER for XPORT, else
    /// ignored). Returns the generated key token and the codes.
    pub fn pka_key_generate(
        &self,
        rule_array: &[&str],
        regeneration_data: &[u8],
        skeleton_key_identifier: &[u8],
        transport_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNDPKG",
            rule_array,
            vec![
                bytes(regeneration_data),
                bytes(skeleton_key_identifier),
                bytes(transport_key_identifier),
                Param::Int(MAX_PKA_TOKEN),
            ],
        )?;
        let c = codes_of(&r);
        Ok((single_bytes(r)?, c))
    }

    /// PKA_Key_Import (CSNDPKI): an external key token (clear, or its private key under
    /// `importer_key_identifier`) into an internal token under the master key.
    pub fn pka_key_import(
        &self,
        rule_array: &[&str],
        source_key_identifier: &[u8],
        importer_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNDPKI",
            rule_array,
            vec![
                bytes(source_key_identifier),
                bytes(importer_key_identifier),
                Param::Int(MAX_PKA_TOKEN),
            ],
        )?;
        let c = codes_of(&r);
        Ok((single_bytes(r)?, c))
    }

    /// PKA_Public_Key_Extract (CSNDPKX): the public-key token of a private key token.
    pub fn pka_public_key_extract(
        &self,
        rule_array: &[&str],
        source_key_identifier: &[u8],
    ) -> Result<Vec<u8>, CcaError> {
        let r = self.verb(
            "CSNDPKX",
            rule_array,
            vec![bytes(source_key_identifier), Param::Int(MAX_PKA_TOKEN)],
        )?;
        single_bytes(r)
    }

    /// PKA_Key_Token_Change (CSNDKTC) RTCMK: the token re-enciphered under the current master
    /// key (a label's record is rewritten).
    pub fn pka_key_token_change(
        &self,
        rule_array: &[&str],
        key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb("CSNDKTC", rule_array, vec![bytes(key_identifier)])?;
        let c = codes_of(&r);
        Ok((single_bytes(r)?, c))
    }

    /// Digital_Signature_Generate (CSNDDSG): signs `hash` (or the message, with MESSAGE) with
    /// a private key; `signature_field_length` is the caller's buffer. Returns the signature,
    /// its length in bits, and the codes.
    pub fn digital_signature_generate(
        &self,
        rule_array: &[&str],
        private_key_identifier: &[u8],
        hash: &[u8],
        signature_field_length: usize,
    ) -> Result<(Vec<u8>, i32, Codes), CcaError> {
        let r = self.verb(
            "CSNDDSG",
            rule_array,
            vec![
                bytes(private_key_identifier),
                bytes(hash),
                Param::Int(i32::try_from(signature_field_length).unwrap_or(i32::MAX)),
            ],
        )?;
        let c = codes_of(&r);
        let mut out = r.outputs.into_iter();
        match (out.next(), out.next()) {
            (Some(Param::Int(bits)), Some(Param::Bytes(sig))) => Ok((sig, bits, c)),
            _ => Err(CcaError::from_failure(
                softcca_card::Failure::CardUnavailable,
            )),
        }
    }

    /// Digital_Signature_Verify (CSNDDSV): 0/0 when the signature verifies, 4/429 when it does
    /// not (IBM: "the verb completed its processing normally").
    pub fn digital_signature_verify(
        &self,
        rule_array: &[&str],
        public_key_identifier: &[u8],
        hash: &[u8],
        signature: &[u8],
    ) -> Result<Codes, CcaError> {
        let r = self.verb(
            "CSNDDSV",
            rule_array,
            vec![bytes(public_key_identifier), bytes(hash), bytes(signature)],
        )?;
        Ok(codes_of(&r))
    }

    /// PKA_Encrypt (CSNDPKE): `keyvalue` enciphered under an RSA public key (PKCS-1.2,
    /// PKCSOAEP, ZERO-PAD, MRP).
    pub fn pka_encrypt(
        &self,
        rule_array: &[&str],
        keyvalue: &[u8],
        data_structure: &[u8],
        public_key_identifier: &[u8],
    ) -> Result<Vec<u8>, CcaError> {
        let r = self.verb(
            "CSNDPKE",
            rule_array,
            vec![
                bytes(keyvalue),
                bytes(data_structure),
                bytes(public_key_identifier),
                Param::Int(1024),
            ],
        )?;
        single_bytes(r)
    }

    /// PKA_Decrypt (CSNDPKD): the value enciphered under an RSA private key (PKCS-1.2,
    /// PKCSOAEP, ZERO-PAD). Bad padding and a wrong key give the same code.
    pub fn pka_decrypt(
        &self,
        rule_array: &[&str],
        enciphered_keyvalue: &[u8],
        data_structure: &[u8],
        private_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNDPKD",
            rule_array,
            vec![
                bytes(enciphered_keyvalue),
                bytes(data_structure),
                bytes(private_key_identifier),
                Param::Int(1024),
            ],
        )?;
        let c = codes_of(&r);
        Ok((single_bytes(r)?, c))
    }
}
