//! The host library's DES/AES key-token and key-transport verbs: Key_Token_Build,
//! Key_Token_Parse, Key_Generate, Key_Import, Key_Export, Key_Translate. Each method marshals
//! IBM's parameters into the parameter block written beside the verb in `softcca_card`
//! (`verbs/keytoken.rs`, `verbs/keygen.rs`, `verbs/transport.rs`) and returns Rust values.
//! Key identifiers may be key labels where the label table says so (`labels.rs`).

use softcca_card::{Codes, Failure};
use softcca_wire::{Param, VerbResponse};

use crate::{Cca, CcaError};

/// What Key_Token_Parse (CSNBKTP) reports about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTokenParts {
    /// The key type keyword, blanks removed (`DATA` for every fixed-length AES token; empty
    /// when the control vector names no known type, with codes 4/2039).
    pub key_type: String,
    /// The rule-array keywords describing the token (INTERNAL/EXTERNAL, KEY/NO-KEY, the
    /// length, the CV keywords, the wrap method; AES and KEYLNnn for AES tokens).
    pub keywords: Vec<String>,
    /// The key field: the enciphered DES parts, the enciphered 32-byte AES field, the clear
    /// AES key, or empty when the token holds no key.
    pub key_value: Vec<u8>,
    /// The master-key verification pattern (zero when there is none).
    pub master_key_verification_pattern: Vec<u8>,
    /// The control vector, left then right half (16 bytes; zero for AES).
    pub control_vector: Vec<u8>,
    /// The token-validation value (bytes 60–63).
    pub token_validation_value: Vec<u8>,
    /// The return and reason codes (0/0, or 4/2039).
    pub codes: Codes,
}

/// The rule-array capacity the library offers Key_Token_Parse.
const PARSE_CAPACITY: i32 = 32;

/// An 8-byte keyword-valued parameter, blank-padded; eight blanks for an empty keyword.
fn keyword8(word: &str) -> Result<Vec<u8>, CcaError> {
    softcca_card::rules::element(word)
        .map(|e| e.to_vec())
        .ok_or(CcaError::from_failure(Failure::Keyword))
}

fn bytes_outputs(r: VerbResponse) -> Result<(Vec<Vec<u8>>, Codes), CcaError> {
    let codes = Codes::new(r.return_code, r.reason_code);
    let mut out = Vec::new();
    for p in r.outputs {
        match p {
            Param::Bytes(b) => out.push(b),
            Param::Int(_) => return Err(CcaError::from_failure(Failure::CardUnavailable)),
        }
    }
    Ok((out, codes))
}

fn first(r: VerbResponse) -> Result<(Vec<u8>, Codes), CcaError> {
    let (mut out, codes) = bytes_outputs(r)?;
    if out.is_empty() {
        return Err(CcaError::from_failure(Failure::CardUnavailable));
    }
    Ok((out.swap_remove(0), codes))
}

impl Cca {
    /// Key_Token_Build (CSNBKTB): assembles a 64-byte DES token (internal or external) or an
    /// internal fixed-length AES token from the rule array (`INTERNAL`/`EXTERNAL`, `KEY`/
    /// `NO-KEY`, `DES`/`AES`, a length, CV keywords such as `NO-XPORT`, `OPIM`, `IMPORT`,
    /// `XLATE`), the key type (`DATA`, `CIPHER`, …, `USE-CV`, `AESTOKEN`, `CLRAES`), and, as
    /// the keywords ask, the key value, the 16-byte control vector and the 8-byte MKVP (pass
    /// empty slices otherwise). Returns the token and the codes (4/166 for a supplied CV
    /// without even parity).
    pub fn key_token_build(
        &self,
        rule_array: &[&str],
        key_type: &str,
        key_value: &[u8],
        control_vector: &[u8],
        master_key_verification_pattern: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBKTB",
            rule_array,
            vec![
                Param::Bytes(vec![0; 64]),
                Param::Bytes(keyword8(key_type)?),
                Param::Bytes(key_value.to_vec()),
                Param::Bytes(control_vector.to_vec()),
                Param::Bytes(master_key_verification_pattern.to_vec()),
            ],
        )?;
        first(r)
    }

    /// Key_Token_Parse (CSNBKTP): disassembles a DES or fixed-length AES token (or the token
    /// of a key label) into its key type, keywords and fields.
    pub fn key_token_parse(&self, key_token: &[u8]) -> Result<KeyTokenParts, CcaError> {
        let r = self.verb(
            "CSNBKTP",
            &[],
            vec![Param::Bytes(key_token.to_vec()), Param::Int(PARSE_CAPACITY)],
        )?;
        let keywords = r
            .rule_array
            .iter()
            .map(|e| String::from_utf8_lossy(e).trim_end().to_string())
            .collect();
        let (out, codes) = bytes_outputs(r)?;
        let [key_type, key_value, mkvp, control_vector, tvv]: [Vec<u8>; 5] = out
            .try_into()
            .map_err(|_| CcaError::from_failure(Failure::CardUnavailable))?;
        Ok(KeyTokenParts {
            key_type: String::from_utf8_lossy(&key_type).trim_end().to_string(),
            keywords,
            key_value,
            master_key_verification_pattern: mkvp,
            control_vector,
            token_validation_value: tvv,
            codes,
        })
    }

    /// Key_Generate (CSNBKGN): a random key, once or twice. `key_form` is `OP`, `IM`, `EX`,
    /// `OPIM`, `OPEX`, `IMEX`, `EXEX`, `OPOP` or `IMIM`; `key_length` a keyword (`SINGLE`,
    /// `SINGLE-R`, `DOUBLE`, `DOUBLE-O`, `TRIPLE`, `TRIPLE-O`, `KEYLN16`/`24`/`32`) or empty
    /// for the default; `key_types` the two key types (`TOKEN` to take the CV from
    /// `generated`; `AESTOKEN`/`AESDATA` for AES; the second empty for one-copy forms);
    /// `keks` the importer/exporter for IM/EX copies (null tokens otherwise); `generated` the
    /// 64-byte identifiers to fill. Returns both identifiers (the second unchanged for a
    /// one-copy form) and the codes.
    pub fn key_generate(
        &self,
        key_form: &str,
        key_length: &str,
        key_types: [&str; 2],
        keks: [&[u8]; 2],
        generated: [&[u8]; 2],
    ) -> Result<(Vec<u8>, Vec<u8>, Codes), CcaError> {
        if key_form.len() > 4 {
            return Err(CcaError::from_failure(Failure::KeyForm));
        }
        let mut form = key_form.as_bytes().to_vec();
        form.resize(4, b' ');
        let length = if key_length.is_empty() {
            vec![b' '; 8]
        } else {
            keyword8(key_length).map_err(|_| CcaError::from_failure(Failure::KeyLength))?
        };
        let r = self.verb(
            "CSNBKGN",
            &[],
            vec![
                Param::Bytes(form),
                Param::Bytes(length),
                Param::Bytes(keyword8(key_types[0])?),
                Param::Bytes(keyword8(key_types[1])?),
                Param::Bytes(keks[0].to_vec()),
                Param::Bytes(keks[1].to_vec()),
                Param::Bytes(generated[0].to_vec()),
                Param::Bytes(generated[1].to_vec()),
            ],
        )?;
        let (out, codes) = bytes_outputs(r)?;
        let [a, b]: [Vec<u8>; 2] = out
            .try_into()
            .map_err(|_| CcaError::from_failure(Failure::CardUnavailable))?;
        Ok((a, b, codes))
    }

    /// Key_Import (CSNBKIM): re-enciphers an external DES token (under an IMPORTER) under the
    /// master key. `key_type` is `TOKEN` or the key type of the token's control vector.
    /// Returns the internal token and the codes.
    pub fn key_import(
        &self,
        key_type: &str,
        source_key_token: &[u8],
        importer_key_identifier: &[u8],
        target_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBKIM",
            &[],
            vec![
                Param::Bytes(keyword8(key_type)?),
                Param::Bytes(source_key_token.to_vec()),
                Param::Bytes(importer_key_identifier.to_vec()),
                Param::Bytes(target_key_identifier.to_vec()),
            ],
        )?;
        first(r)
    }

    /// Key_Export (CSNBKEX): re-enciphers an internal DES key under an EXPORTER into an
    /// external token. `key_type` is `TOKEN` or the key type of the key's control vector.
    /// Returns the external token and the codes.
    pub fn key_export(
        &self,
        key_type: &str,
        source_key_identifier: &[u8],
        exporter_key_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBKEX",
            &[],
            vec![
                Param::Bytes(keyword8(key_type)?),
                Param::Bytes(source_key_identifier.to_vec()),
                Param::Bytes(exporter_key_identifier.to_vec()),
                Param::Bytes(vec![0; 64]),
            ],
        )?;
        first(r)
    }

    /// Key_Translate (CSNBKTR): re-enciphers an external DES token from one transport key
    /// (importer class, XLATE) to another (exporter class, XLATE). Returns the new external
    /// token and the codes.
    pub fn key_translate(
        &self,
        input_key_token: &[u8],
        input_kek_identifier: &[u8],
        output_kek_identifier: &[u8],
    ) -> Result<(Vec<u8>, Codes), CcaError> {
        let r = self.verb(
            "CSNBKTR",
            &[],
            vec![
                Param::Bytes(input_key_token.to_vec()),
                Param::Bytes(input_kek_identifier.to_vec()),
                Param::Bytes(output_kek_identifier.to_vec()),
            ],
        )?;
        first(r)
    }
}
