//! Key_Import (CSNBKIM), Key_Export (CSNBKEX) and Key_Translate (CSNBKTR): DES keys moved
//! between the master key and key-encrypting keys, their control vectors kept.
//!
//! Sources:
//! - IBM Docs "CCA for Linux", "Key Import (CSNBKIM)" and its usage notes
//!   (<https://www.ibm.com/docs/en/linux-on-systems?topic=csnbkim-usage-notes>): "The source
//!   token (key to be imported) must be a importer or exporter with the default control
//!   vector" for the NOCV case; CCA254 "Key_Import"/"Key_Export": key_type TOKEN or a key type
//!   that must match the token's CV.
//! - IBM Docs "CCA for Linux", "Key Export (CSNBKEX)" usage notes
//!   (<https://www.ibm.com/docs/en/linuxonibm/lxcc/wskc_r_kexusage.html>): "A valid key type in
//!   the key_type parameter and an internal key token … The key type must be equivalent to the
//!   control vector specified in the internal key token"; "A key_type parameter of TOKEN … The
//!   key type is extracted from the control vector".
//! - IBM Docs "Null key tokens": Key Import accepts a null token with an enciphered single key
//!   at offset 16.
//! - CCA254 App. C: p=427 (export bit 17: "you can prevent the receiver of a key from exporting
//!   or translating the key"), p=424 (KEK bit 21 "can be used in the … Key_Import, … and
//!   Key_Export verbs", bit 22 "can be used in the Key_Translate verb"), p=433 (the CV used
//!   outside the node equals the local one, except "a DATA key whose CVk contains the value of
//!   a default CV for that key type, has a CVk1 equal to binary zero"),
//!   <https://manualsdump.com/en/manuals/ibm-2model/120553/424>,
//!   <http://office.manualsonline.com/manuals/mfg/ibm/2_5.html?p=433>.
//! - Enciphering under a KEK: [`crate::tokens::wrap::wrap_under_kek`].
//! - Codes: 8/39 control-vector violation, 8/47, 8/33 (CCA254 Fig. A-4, p=364); 0/10001.
//!
//! Parameter blocks (no rule array; 8/35 otherwise):
//! - CSNBKIM: `[Bytes key_type (8), Bytes source_key_token (64), Bytes importer_key_identifier
//!   (64), Bytes target_key_identifier (64)]` → `[Bytes target_key_identifier (64)]`.
//! - CSNBKEX: `[Bytes key_type (8), Bytes source_key_identifier (64), Bytes
//!   exporter_key_identifier (64), Bytes target_key_token (64)]` → `[Bytes target_key_token
//!   (64)]`.
//! - CSNBKTR: `[Bytes input_key_token (64), Bytes input_KEK_key_identifier (64), Bytes
//!   output_KEK_key_identifier (64)]` → `[Bytes output_key_token (64)]`.
//!
//! What softcca does (choices for ARCHITECTURE.md):
//! - KEK checks: Key_Import needs an importer-class KEK (type bits 0100, subtype 001) with bit
//!   21 (IMPORT); Key_Export an exporter-class KEK with bit 21 (EXPORT); Key_Translate an
//!   importer-class input KEK and an exporter-class output KEK, each with bit 22 (XLATE; IBM's
//!   default IMPORTER and EXPORTER lack it, IKEYXLAT and OKEYXLAT have it). Anything else —
//!   an EXPORTER given to Key_Import, an IMPORTER given to Key_Export — is 8/39.
//! - Key_Export and Key_Translate refuse a key whose CV has bit 17 (XPORT-OK) off, or whose
//!   token has flag byte 1 bit X'01' (export prohibited, fact sheet §1) on, with 8/39.
//! - key_type: TOKEN, or the key type of the token's CV (a zero CV is DATA); a known key type
//!   that differs is 8/39, an unknown keyword 8/33. The null-token form of Key_Import needs
//!   a key type with a single-length default CV (8/39 otherwise) and is refused with TOKEN
//!   (8/47).
//! - A DATA key with IBM's default DATA CV travels with a zero CV (CCA254 p=433); Key_Import
//!   gives a zero-CV key IBM's default DATA CV for its length. Every other CV is kept as it is.
//! - A key whose CV says "halves guaranteed unique" (form 110 or 111) but whose deciphered
//!   parts are equal (ignoring parity) is refused with 8/39 (IBM is silent on the code).
//! - The target_key_identifier of Key_Import and the target_key_token of Key_Export are not
//!   read: the output is built fresh (IBM's NOCV rules for target tokens are not emulated).
//! - A KEK or source key under the old master key gives 0/10001. Outputs are WRAP-ECB.
//! - A variable-length (version X'05') token given as a source is 8/49, whatever its length
//!   (those keys move with the variable-length verbs).

use softcca_wire::Param;

use crate::card::Card;
use crate::error::Failure;
use crate::mk::Class;
use crate::rules;
use crate::tokens::des::{DesFields, DesToken, ExternalDes, FLAG_KEY_PRESENT, WrapMethod};
use crate::tokens::{KeyLength, TOKEN_LEN, cv, wrap};
use crate::verbs::keys::{DesKey, is_label, notice_for};
use crate::verbs::keytoken::{
    DES_TYPES, IMPORT_EXPORT, XLATE, XPORT_OK, default_cv, is_exporter_class, is_importer_class,
    key_type_of, keyword_param, refuse_variable_length,
};
use crate::verbs::{Params, Reply};

/// The CV a key carries outside the node: zero for a DATA key with the default DATA CV
/// (CCA254 p=433), else its own.
pub(crate) fn external_cv(l: [u8; 8], r: [u8; 8], length: KeyLength) -> ([u8; 8], [u8; 8]) {
    if default_cv("DATA", length) == Some((l, r)) {
        ([0; 8], [0; 8])
    } else {
        (l, r)
    }
}

/// The CV a key carries inside the node: IBM's default DATA CV for a zero CV.
fn internal_cv(l: [u8; 8], r: [u8; 8], length: KeyLength) -> Result<([u8; 8], [u8; 8]), Failure> {
    if l == [0; 8] && r == [0; 8] {
        default_cv("DATA", length).ok_or(Failure::KeyTokenInvalid)
    } else {
        Ok((l, r))
    }
}

/// An operational key-encrypting key of the importer (or exporter) class whose CV has `bit`
/// set in byte 2; 8/39 otherwise.
pub(crate) fn kek(
    card: &Card,
    identifier: &[u8],
    importer: bool,
    bit: u8,
) -> Result<DesKey, Failure> {
    let k = card.des_key(identifier)?;
    let cv_left = &k.token.fields.cv_left;
    let class = if importer {
        is_importer_class(cv_left)
    } else {
        is_exporter_class(cv_left)
    };
    if !class || cv_left[2] & bit == 0 {
        return Err(Failure::ControlVector);
    }
    Ok(k)
}

/// The key_type parameter against the key's CV: TOKEN, or the CV's type.
fn check_key_type(key_type: &str, cv_left: &[u8; 8]) -> Result<(), Failure> {
    if key_type == "TOKEN" {
        return Ok(());
    }
    if !DES_TYPES.contains(&key_type) {
        return Err(Failure::Keyword);
    }
    if key_type_of(cv_left) == Some(key_type) {
        Ok(())
    } else {
        Err(Failure::ControlVector)
    }
}

/// Refuses a key whose CV promises unique parts when they are not.
fn check_unique(fields: &DesFields, clear: &[u8]) -> Result<(), Failure> {
    if !matches!(cv::form_bits(&fields.cv_left), 6 | 7) {
        return Ok(());
    }
    let parts: Vec<Vec<u8>> = clear
        .chunks_exact(8)
        .map(|c| c.iter().map(|b| b & 0xFE).collect())
        .collect();
    let distinct = parts
        .iter()
        .enumerate()
        .all(|(i, a)| parts[i + 1..].iter().all(|b| a != b));
    if distinct {
        Ok(())
    } else {
        Err(Failure::ControlVector)
    }
}

/// Flag byte 1, X'01': export prohibited (the software bit of older releases).
const FLAG_EXPORT_PROHIBITED: u8 = 0x01;

/// Whether a key may leave the node: CV bit 17 on (a zero CV has no such bit) and the
/// token's export-prohibited flag off.
fn exportable(fields: &DesFields) -> bool {
    fields.flags & FLAG_EXPORT_PROHIBITED == 0
        && (fields.cv_left == [0; 8] || fields.cv_left[2] & XPORT_OK != 0)
}

/// The source of Key_Import: an external token, or a null token carrying a single key at 16.
fn import_source(key_type: &str, source: &[u8]) -> Result<ExternalDes, Failure> {
    if is_label(source) {
        return Err(Failure::KeyTokenInvalid);
    }
    refuse_variable_length(source)?;
    match DesToken::parse(source)? {
        DesToken::External(t) => Ok(t),
        DesToken::Internal(_) => Err(Failure::KeyTokenInvalid),
        DesToken::Null => {
            if key_type == "TOKEN" {
                return Err(Failure::KeyTokenInvalid);
            }
            if !DES_TYPES.contains(&key_type) {
                return Err(Failure::Keyword);
            }
            let (l, r) = default_cv(key_type, KeyLength::Single).ok_or(Failure::ControlVector)?;
            let mut key = [0u8; 24];
            key[..8].copy_from_slice(source.get(16..24).ok_or(Failure::KeyTokenLength)?);
            let (l, r) = external_cv(l, r, KeyLength::Single);
            Ok(ExternalDes {
                fields: DesFields {
                    flags: FLAG_KEY_PRESENT,
                    wrap_method: WrapMethod::Ecb,
                    key,
                    cv_left: l,
                    cv_right: r,
                    length: KeyLength::Single,
                },
            })
        }
    }
}

pub(crate) fn csnbkim(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(4)?;
    let key_type = keyword_param(p.bytes(0)?)?;
    let source = import_source(key_type, p.bytes(1)?)?;
    if p.bytes(3)?.len() != TOKEN_LEN {
        return Err(Failure::KeyTokenLength);
    }
    let f = &source.fields;
    check_key_type(key_type, &f.cv_left)?;
    let importer = kek(card, p.bytes(2)?, true, IMPORT_EXPORT)?;
    let clear = wrap::unwrap_under_kek(&source, &importer.key)?;
    check_unique(f, clear.expose())?;
    let (l, r) = internal_cv(f.cv_left, f.cv_right, f.length)?;
    let token = card.with_current_master_key(Class::Sym, |mk| {
        Ok(DesToken::Internal(wrap::wrap_des(mk, clear.expose(), l, r, f.length)?).to_bytes())
    })?;
    Ok(Reply {
        notice: notice_for(importer.used),
        outputs: vec![Param::Bytes(token.to_vec())],
        ..Reply::default()
    })
}

pub(crate) fn csnbkex(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(4)?;
    let key_type = keyword_param(p.bytes(0)?)?;
    if p.bytes(3)?.len() != TOKEN_LEN {
        return Err(Failure::KeyTokenLength);
    }
    let source = card.des_key(p.bytes(1)?)?;
    let f = &source.token.fields;
    check_key_type(key_type, &f.cv_left)?;
    if !exportable(f) {
        return Err(Failure::ControlVector);
    }
    let exporter = kek(card, p.bytes(2)?, false, IMPORT_EXPORT)?;
    check_unique(f, source.key.expose())?;
    let (l, r) = external_cv(f.cv_left, f.cv_right, f.length);
    let ext = wrap::wrap_under_kek(&exporter.key, source.key.expose(), l, r, f.length)?;
    Ok(Reply {
        notice: notice_for(source.used).or(notice_for(exporter.used)),
        outputs: vec![Param::Bytes(DesToken::External(ext).to_bytes().to_vec())],
        ..Reply::default()
    })
}

pub(crate) fn csnbktr(
    card: &Card,
    rule_array: &[rules::Element],
    p: Params,
) -> Result<Reply, Failure> {
    if !rule_array.is_empty() {
        return Err(Failure::RuleArrayCount);
    }
    p.expect_len(3)?;
    let input = p.bytes(0)?;
    if is_label(input) {
        return Err(Failure::KeyTokenInvalid);
    }
    refuse_variable_length(input)?;
    let source = match DesToken::parse(input)? {
        DesToken::External(t) => t,
        DesToken::Internal(_) | DesToken::Null => return Err(Failure::KeyTokenInvalid),
    };
    let f = &source.fields;
    let in_kek = kek(card, p.bytes(1)?, true, XLATE)?;
    let out_kek = kek(card, p.bytes(2)?, false, XLATE)?;
    if !exportable(f) {
        return Err(Failure::ControlVector);
    }
    let clear = wrap::unwrap_under_kek(&source, &in_kek.key)?;
    check_unique(f, clear.expose())?;
    let ext = wrap::wrap_under_kek(
        &out_kek.key,
        clear.expose(),
        f.cv_left,
        f.cv_right,
        f.length,
    )?;
    Ok(Reply {
        notice: notice_for(in_kek.used).or(notice_for(out_kek.used)),
        outputs: vec![Param::Bytes(DesToken::External(ext).to_bytes().to_vec())],
        ..Reply::default()
    })
}
