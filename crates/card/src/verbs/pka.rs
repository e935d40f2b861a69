//! The PKA verbs' entry points: each decides whether the call is about an RSA or an ECC key
//! and hands it to [`super::rsa`] or [`super::ecc`], which own everything else (tokens'
//! private sections, key generation, signatures, encryption, key agreement).
//!
//! How a call is told apart (IBM's verbs take both algorithms through one parameter list):
//! - Key_Token_Build (CSNDPKB): the rule array names ECC-PAIR or ECC-PUBL for ECC.
//! - Key_Import (CSNDPKI): the rule array names ECC (RSA is IBM's default).
//! - Key_Generate (CSNDPKG), Public_Key_Extract (CSNDPKX), Key_Token_Change (CSNDKTC),
//!   Digital_Signature_Generate/Verify (CSNDDSG, CSNDDSV): the key token's sections (an ECC
//!   token has a section X'20' or X'21').
//! - PKA_Encrypt/Decrypt (CSNDPKE, CSNDPKD) are RSA only; ECC_Diffie-Hellman (CSNDEDH) ECC only.
//! - Retained keys ([`super::retained`]): CSNDPKG with RETAIN, and a key label (not a token)
//!   given to CSNDDSG, CSNDPKX or CSNDPKD as the key identifier.
//! - RSA keys under a transport key ([`super::pka_xport`]): CSNDPKG XPORT with an RSA
//!   skeleton, and CSNDPKI of an encrypted external RSA token.
//!
//! Parameter blocks (IBM's order; a length parameter that only gives a byte string's length
//! is folded into the string; an output buffer's size travels as `Int`):
//! - CSNDPKB `[Bytes key_value_structure, Bytes private_key_name, Bytes user_definable_associated_data,
//!   Bytes key_derivation_data, Bytes reserved_3, Bytes reserved_4, Bytes reserved_5, Int key_token_length]`
//!   → `[Bytes key_token]`.
//! - CSNDPKG `[Bytes regeneration_data, Bytes skeleton_key_identifier, Bytes transport_key_identifier,
//!   Int generated_key_identifier_length]` → `[Bytes generated_key_identifier]`.
//! - CSNDPKI `[Bytes source_key_identifier, Bytes importer_key_identifier, Int target_key_identifier_length]`
//!   → `[Bytes target_key_identifier]`.
//! - CSNDPKX `[Bytes source_key_identifier, Int target_public_key_token_length]` → `[Bytes target_public_key_token]`.
//! - CSNDKTC `[Bytes key_identifier]` → `[Bytes key_identifier]`.
//! - CSNDDSG `[Bytes PKA_private_key_identifier, Bytes hash, Int signature_field_length]`
//!   → `[Int signature_bit_length, Bytes signature_field]`.
//! - CSNDDSV `[Bytes PKA_public_key_identifier, Bytes hash, Bytes signature_field]` → `[]`
//!   (4/429 when the signature does not verify).
//! - CSNDPKE `[Bytes keyvalue, Bytes data_structure, Bytes PKA_key_identifier, Int PKA_enciphered_keyvalue_length]`
//!   → `[Bytes PKA_enciphered_keyvalue]`.
//! - CSNDPKD `[Bytes PKA_enciphered_keyvalue, Bytes data_structure, Bytes PKA_key_identifier, Int target_keyvalue_length]`
//!   → `[Bytes target_keyvalue]`.
//! - CSNDEDH: the ECC module documents its block.

use crate::card::Card;
use crate::error::Failure;
use crate::rules::{self, Element};
use crate::tokens::pka::{self, Framed, id};
use crate::verbs::{Params, Reply, ecc, pka_xport, retained, rsa};

/// The algorithm of a PKA key token, as its sections say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// An RSA token (section X'04' or an RSA private section).
    Rsa,
    /// An ECC token (section X'20' or X'21').
    Ecc,
}

/// The algorithm of `token`; `None` when it does not frame as a PKA token (the RSA module
/// then answers with the token's code).
pub(crate) fn algorithm_of(token: &[u8]) -> Option<Algorithm> {
    match pka::frame(token).ok()? {
        Framed::Null => None,
        Framed::Token { sections, .. } => {
            if sections
                .iter()
                .any(|s| matches!(s.id, id::ECC_PRIVATE | id::ECC_PUBLIC))
            {
                Some(Algorithm::Ecc)
            } else {
                Some(Algorithm::Rsa)
            }
        }
    }
}

fn names(rule_array: &[Element], keywords: &[&str]) -> bool {
    rule_array.iter().any(|e| {
        rules::keyword(e)
            .map(|k| keywords.contains(&k))
            .unwrap_or(false)
    })
}

fn by_token(p: Params, index: usize) -> Algorithm {
    p.bytes(index)
        .ok()
        .and_then(algorithm_of)
        .unwrap_or(Algorithm::Rsa)
}

pub(crate) fn csndpkb(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if names(rule_array, &["ECC-PAIR", "ECC-PUBL"]) {
        ecc::csndpkb(card, rule_array, p)
    } else {
        rsa::csndpkb(card, rule_array, p)
    }
}

pub(crate) fn csndpkg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if names(rule_array, &["RETAIN"]) {
        return retained::csndpkg(card, rule_array, p);
    }
    if retained::holds_crt_skeleton(p, 1) {
        // MASTER, CLEAR and XPORT from an X'08' skeleton (softcca builds no internal X'08').
        return Err(Failure::NotSupported);
    }
    if names(rule_array, &["XPORT"]) && by_token(p, 1) == Algorithm::Rsa {
        return pka_xport::csndpkg(card, rule_array, p);
    }
    match by_token(p, 1) {
        Algorithm::Ecc => ecc::csndpkg(card, rule_array, p),
        Algorithm::Rsa => rsa::csndpkg(card, rule_array, p),
    }
}

pub(crate) fn csndpki(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if names(rule_array, &["ECC"]) {
        ecc::csndpki(card, rule_array, p)
    } else if p.bytes(0).is_ok_and(pka_xport::is_encrypted_external) {
        pka_xport::csndpki(card, rule_array, p)
    } else {
        rsa::csndpki(card, rule_array, p)
    }
}

pub(crate) fn csndpkx(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if retained::names_label(p, 0) {
        return retained::with_key(card, p, 0, |p| rsa::csndpkx(card, rule_array, p));
    }
    if p.bytes(0).is_ok_and(pka_xport::is_encrypted_external) {
        return pka_xport::csndpkx(rule_array, p);
    }
    match by_token(p, 0) {
        Algorithm::Ecc => ecc::csndpkx(card, rule_array, p),
        Algorithm::Rsa => rsa::csndpkx(card, rule_array, p),
    }
}

pub(crate) fn csndktc(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    match by_token(p, 0) {
        Algorithm::Ecc => ecc::csndktc(card, rule_array, p),
        Algorithm::Rsa => rsa::csndktc(card, rule_array, p),
    }
}

pub(crate) fn csnddsg(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if retained::names_label(p, 0) {
        return retained::with_key(card, p, 0, |p| rsa::csnddsg(card, rule_array, p));
    }
    match by_token(p, 0) {
        Algorithm::Ecc => ecc::csnddsg(card, rule_array, p),
        Algorithm::Rsa => rsa::csnddsg(card, rule_array, p),
    }
}

pub(crate) fn csndpkd(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    if retained::names_label(p, 2) {
        return retained::with_key(card, p, 2, |p| rsa::csndpkd(card, rule_array, p));
    }
    rsa::csndpkd(card, rule_array, p)
}

pub(crate) fn csnddsv(card: &Card, rule_array: &[Element], p: Params) -> Result<Reply, Failure> {
    match by_token(p, 0) {
        Algorithm::Ecc => ecc::csnddsv(card, rule_array, p),
        Algorithm::Rsa => rsa::csnddsv(card, rule_array, p),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tokens::pka::{Curve, EccPublic, Kind, RsaPublic, assemble};

    #[test]
    fn tokens_are_told_apart_by_their_sections() {
        let rsa = RsaPublic {
            e: vec![3],
            n_bits: 512,
            n: {
                let mut n = vec![0xC1u8; 64];
                n[63] |= 1;
                n
            },
        }
        .to_bytes()
        .unwrap();
        let ecc = EccPublic {
            curve: Curve::Prime(256),
            q: Vec::new(),
        }
        .to_bytes()
        .unwrap();
        assert_eq!(
            algorithm_of(&assemble(Kind::External, &[&rsa]).unwrap()),
            Some(Algorithm::Rsa)
        );
        assert_eq!(
            algorithm_of(&assemble(Kind::External, &[&ecc]).unwrap()),
            Some(Algorithm::Ecc)
        );
        assert_eq!(algorithm_of(&pka::NULL_TOKEN), None);
        assert_eq!(algorithm_of(&[0x1F, 0, 0, 4]), None);
    }
}
