//! The symmetric-key verbs, marshalled: key tokens (CSNBKTB, CSNBKTB2, CSNBKTP), key
//! generation (CSNBKGN, CSNBKGN2), clear and part import (CSNBCKI, CSNBCKM, CSNBKPI,
//! CSNBKPI2), key transport (CSNBKIM, CSNBKEX, CSNBKTR), re-encipherment (CSNBKTC,
//! CSNBKTC2), key test (CSNBKYT, CSNBKYTX), data (CSNBENC, CSNBDEC, CSNBSAE, CSNBSAD),
//! MACs (CSNBMGN, CSNBMVR, CSNBHMG, CSNBHMV) and hashing (CSNBOWH).
//!
//! Each export reads IBM's parameters into the parameter block the card's verb documents
//! ("Parameter blocks:" in `softcca_card`'s `verbs::keytoken`, `keygen`, `var`, `import`,
//! `keypart`, `transport`, `ktc`, `keytest`, `cipher`, `sae`, `mac`, `hmac`, `hash`) and
//! writes the outputs back (see [`crate::ffi`] for the checks). Parameters IBM gives no
//! length are read at IBM's fixed size: 64 bytes for a DES/AES key identifier (or label), 8
//! for a keyword-valued parameter, 18 for the DES chaining vector, 128 for the hash and HMAC
//! chaining vectors.
//!
//! Choices where IBM is silent (the sizes C gives no length for):
//! - CSNBKTB `key_value` is read only with KEY or CLRAES: 8, 16 or 24 bytes (DES) by the
//!   length keyword (single by default), 16/24/32 (AES) by KEYLNnn (16 by default);
//!   `control_vector` (16 bytes) only with CV or USE-CV; the MKVP (8 bytes) only for an
//!   internal DES token with KEY. A NULL optional pointer is an absent parameter.
//! - CSNBKPI `key_part` is read at the length of the key the token's control vector names
//!   (8, 16 or 24 bytes); for a key label or an unreadable CV, 16 bytes; not read with
//!   COMPLETE.
//! - CSNBKTB2 `clear_key_value` is read at ⌈clear_key_bit_length / 8⌉ bytes.
//! - CSNBKTP writes `key_value` (at most 24 bytes), the MKVP into
//!   `master_key_verification_pattern_v00` (and `_v03` for an AES token), the CV (16 bytes);
//!   `rule_array_count` is the rule array's capacity on input.
//! - A NULL optional output (the second generated key of a one-copy CSNBKGN form) is not
//!   written; a NULL KEK identifier is a null token (64 zero bytes).
//! - CSNBKGN2 `generated_key_identifier_n_length` is the size of the caller's buffer (IBM:
//!   the buffer's length on input, the token's on output), and the buffer may hold a
//!   skeleton shorter than that: opencryptoki passes `sizeof` its 725-byte buffer with the
//!   CSNBKTB2 skeleton at its start. A buffer that starts with a variable-length token
//!   (X'01' or X'02', version X'05') whose own length (bytes 2–3, big-endian) is shorter
//!   than the buffer is sent to the card at the token's length; anything else as it is.

use std::ffi::{c_long, c_uchar};

use softcca_wire::Param;

use crate::ffi::{self, BAD_KEYWORD, BAD_LENGTH, Dest, Fail};

const BLANKS: [u8; 8] = *b"        ";

fn has(rules: &[[u8; 8]], keyword: &str) -> bool {
    softcca_card::rules::element(keyword).is_some_and(|k| rules.contains(&k))
}

/// A fixed-size input that may be NULL (then `default`).
///
/// # Safety
/// `buf` is NULL or readable for `n` bytes.
unsafe fn optional(buf: *const c_uchar, n: usize, default: &[u8]) -> Result<Param, Fail> {
    if buf.is_null() {
        return Ok(Param::Bytes(default.to_vec()));
    }
    // SAFETY: non-NULL and readable for n bytes by the caller's contract.
    unsafe { ffi::fixed(buf, n, BAD_LENGTH) }
}

/// The bytes of a variable-length token at the start of an IBM in/out buffer, when the
/// buffer is longer than the token says it is (see the module documentation, CSNBKGN2);
/// any other content unchanged.
fn var_token_in_buffer(p: Param) -> Param {
    match p {
        Param::Bytes(mut b)
            if b.len() > 8 && matches!(b[0], 0x01 | 0x02) && b[1] == 0 && b[4] == 0x05 =>
        {
            let declared = usize::from(u16::from_be_bytes([b[2], b[3]]));
            if declared >= 8 && declared < b.len() {
                b.truncate(declared);
            }
            Param::Bytes(b)
        }
        other => other,
    }
}

/// A fixed-size output that may be NULL (then not written).
fn out_optional(buf: *mut c_uchar, n: usize) -> Dest {
    if buf.is_null() {
        Dest::Ignore
    } else {
        Dest::Fixed { buf, n }
    }
}

fn out64(buf: *mut c_uchar) -> Dest {
    Dest::Fixed { buf, n: 64 }
}

/// The capacity of a variable-length output as the `Int` the card takes, with its
/// destination.
///
/// # Safety
/// As [`Dest::var`].
unsafe fn out_var(len: *mut c_long, buf: *mut c_uchar) -> Result<(Param, Dest), Fail> {
    // SAFETY: the caller's contract is Dest::var's.
    let d = unsafe { Dest::var(len, buf) }?;
    let cap = match d {
        Dest::Var { cap, .. } => i32::try_from(cap).unwrap_or(i32::MAX),
        _ => 0,
    };
    Ok((Param::Int(cap), d))
}

type Prepared = Result<(Vec<[u8; 8]>, Vec<Param>, Vec<Dest>), Fail>;

/// Key_Token_Build.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKTB(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_token: *mut c_uchar,
    key_type: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_value: *mut c_uchar,
    reserved_field_1: *mut std::ffi::c_void,
    reserved_field_2: *mut c_long,
    reserved_field_3: *mut c_uchar,
    control_vector: *mut c_uchar,
    reserved_field_4: *mut c_uchar,
    reserved_field_5: *mut c_long,
    reserved_field_6: *mut c_uchar,
    master_key_verification_number: *mut c_uchar,
) {
    let _ = (
        exit_data_length,
        exit_data,
        reserved_field_1,
        reserved_field_2,
    );
    let _ = (
        reserved_field_3,
        reserved_field_4,
        reserved_field_5,
        reserved_field_6,
    );
    // SAFETY: IBM's parameters, each NULL or valid for what the prototype says (the ABI
    // conventions); ffi checks NULLs and lengths before any access.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKTB", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let key_type = ffi::fixed(key_type, 8, BAD_KEYWORD)?;
            let aes = ["AES", "CLRAES", "AESDATA", "AESTOKEN"]
                .iter()
                .any(|k| has(&rules, k))
                || matches!(&key_type, Param::Bytes(b) if b.starts_with(b"AES"));
            let value_len = if !(has(&rules, "KEY") || has(&rules, "CLRAES")) {
                0
            } else if has(&rules, "KEYLN32") {
                32
            } else if ["TRIPLE", "TRIPLE-O", "KEYLN24"]
                .iter()
                .any(|k| has(&rules, k))
            {
                24
            } else if ["DOUBLE", "KEYLN16", "MIXED", "DOUBLE-O"]
                .iter()
                .any(|k| has(&rules, k))
                || aes
            {
                16
            } else {
                8
            };
            let value = optional(key_value, value_len, &[])?;
            let cv_len = if has(&rules, "CV") || has(&rules, "USE-CV") {
                16
            } else {
                0
            };
            let cv = optional(control_vector, cv_len, &[])?;
            let mkvp_len = if has(&rules, "INTERNAL") && has(&rules, "KEY") && !aes {
                8
            } else {
                0
            };
            let mkvp = optional(master_key_verification_number, mkvp_len, &[])?;
            let token = optional(key_token, 64, &[0; 64])?;
            Ok((
                rules,
                vec![token, key_type, value, cv, mkvp],
                vec![out64(key_token)],
            ))
        })
    }
}

/// Key_Token_Build2.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKTB2(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    clear_key_bit_length: *mut c_long,
    clear_key_value: *mut c_uchar,
    key_name_length: *mut c_long,
    key_name: *mut c_uchar,
    user_associated_data_length: *mut c_long,
    user_associated_data: *mut c_uchar,
    token_data_length: *mut c_long,
    token_data: *mut c_uchar,
    reserved_length: *mut c_long,
    reserved: *mut c_uchar,
    target_key_token_length: *mut c_long,
    target_key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKTB2", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let bits = ffi::read_length(clear_key_bit_length)?;
            let value = ffi::read_fixed(clear_key_value, bits.div_ceil(8))?;
            let name = ffi::bytes(key_name_length, key_name)?;
            let uad = ffi::bytes(user_associated_data_length, user_associated_data)?;
            let token_data = ffi::bytes(token_data_length, token_data)?;
            let verb_data = ffi::bytes(reserved_length, reserved)?;
            let (cap, out) = out_var(target_key_token_length, target_key_token)?;
            let bits = i32::try_from(bits).map_err(|_| BAD_LENGTH)?;
            Ok((
                rules,
                vec![
                    Param::Int(bits),
                    Param::Bytes(value),
                    name,
                    uad,
                    token_data,
                    verb_data,
                    cap,
                ],
                vec![out],
            ))
        })
    }
}

/// Key_Token_Parse.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKTP(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_token: *mut c_uchar,
    key_type: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_value: *mut c_uchar,
    master_key_verification_pattern_v03: *mut std::ffi::c_void,
    reserved_field_1: *mut c_long,
    reserved_field_2: *mut c_uchar,
    control_vector: *mut c_uchar,
    reserved_field_3: *mut c_uchar,
    reserved_field_4: *mut c_long,
    reserved_field_5: *mut c_uchar,
    master_key_verification_pattern_v00: *mut c_uchar,
) {
    let _ = (
        exit_data_length,
        exit_data,
        reserved_field_1,
        reserved_field_2,
    );
    let _ = (reserved_field_3, reserved_field_4, reserved_field_5);
    // SAFETY: as CSNBKTB; the rule array is written only after the card answered with at
    // most `*rule_array_count` elements (the capacity sent).
    unsafe {
        ffi::run(return_code, reason_code, || {
            let prepared = (|| {
                let token = ffi::read_fixed(key_token, 64)?;
                let cap = ffi::read_capacity(rule_array_count)?;
                if cap > 0 && rule_array.is_null() {
                    return Err(ffi::BAD_COUNT);
                }
                Ok((token, cap))
            })();
            let (token, cap) = match prepared {
                Ok(p) => p,
                Err(codes) => return codes,
            };
            let aes = token.get(4) == Some(&4);
            let response = ffi::call(
                "CSNBKTP",
                vec![],
                vec![
                    Param::Bytes(token),
                    Param::Int(i32::try_from(cap).unwrap_or(i32::MAX)),
                ],
            );
            if response.return_code >= 8 {
                return softcca_card::Codes::new(response.return_code, response.reason_code);
            }
            if response.rule_array.len() > cap {
                return BAD_LENGTH;
            }
            let mkvp_v03 = if aes {
                out_optional(master_key_verification_pattern_v03.cast(), 8)
            } else {
                Dest::Ignore
            };
            // key_type, key_value, MKVP, CV, TVV: the MKVP goes to _v00 and (AES) _v03.
            let dests = [
                Dest::Fixed {
                    buf: key_type,
                    n: 8,
                },
                out_optional(key_value, 24),
                out_optional(master_key_verification_pattern_v00, 8),
                out_optional(control_vector, 16),
                Dest::Ignore,
            ];
            let codes = ffi::deliver(&response, &dests);
            if codes.return_code < 8 {
                if let (Some(Param::Bytes(mkvp)), Dest::Fixed { .. }) =
                    (response.outputs.get(2), mkvp_v03)
                {
                    let _ = ffi::deliver_one(mkvp_v03, &Param::Bytes(mkvp.clone()));
                }
                ffi::write_rules(rule_array_count, rule_array, &response.rule_array);
            }
            codes
        })
    }
}

/// Key_Generate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKGN(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_form: *mut c_uchar,
    key_length: *mut c_uchar,
    key_type_1: *mut c_uchar,
    key_type_2: *mut c_uchar,
    kek_key_identifier_1: *mut c_uchar,
    kek_key_identifier_2: *mut c_uchar,
    generated_key_identifier_1: *mut c_uchar,
    generated_key_identifier_2: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKGN", || -> Prepared {
            Ok((
                vec![],
                vec![
                    ffi::fixed(key_form, 4, BAD_KEYWORD)?,
                    optional(key_length, 8, &BLANKS)?,
                    ffi::fixed(key_type_1, 8, BAD_KEYWORD)?,
                    optional(key_type_2, 8, &BLANKS)?,
                    optional(kek_key_identifier_1, 64, &[0; 64])?,
                    optional(kek_key_identifier_2, 64, &[0; 64])?,
                    optional(generated_key_identifier_1, 64, &[0; 64])?,
                    optional(generated_key_identifier_2, 64, &[0; 64])?,
                ],
                vec![
                    out64(generated_key_identifier_1),
                    out_optional(generated_key_identifier_2, 64),
                ],
            ))
        })
    }
}

/// Key_Generate2.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKGN2(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    clear_key_bit_length: *mut c_long,
    key_type_1: *mut c_uchar,
    key_type_2: *mut c_uchar,
    key_name_1_length: *mut c_long,
    key_name_1: *mut c_uchar,
    key_name_2_length: *mut c_long,
    key_name_2: *mut c_uchar,
    user_associated_data_1_length: *mut c_long,
    user_associated_data_1: *mut c_uchar,
    user_associated_data_2_length: *mut c_long,
    user_associated_data_2: *mut c_uchar,
    key_encrypting_key_identifier_1_length: *mut c_long,
    key_encrypting_key_identifier_1: *mut c_uchar,
    key_encrypting_key_identifier_2_length: *mut c_long,
    key_encrypting_key_identifier_2: *mut c_uchar,
    generated_key_identifier_1_length: *mut c_long,
    generated_key_identifier_1: *mut c_uchar,
    generated_key_identifier_2_length: *mut c_long,
    generated_key_identifier_2: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKGN2", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let bits = ffi::read_int(clear_key_bit_length)?;
            let (cap1, out1) = out_var(
                generated_key_identifier_1_length,
                generated_key_identifier_1,
            )?;
            let gen1 = var_token_in_buffer(ffi::bytes(
                generated_key_identifier_1_length,
                generated_key_identifier_1,
            )?);
            // The second key is optional (OP forms): a NULL length is an empty identifier.
            let (cap2, gen2, out2) = if generated_key_identifier_2_length.is_null() {
                (Param::Int(0), Param::Bytes(vec![]), Dest::Ignore)
            } else {
                let (cap2, out2) = out_var(
                    generated_key_identifier_2_length,
                    generated_key_identifier_2,
                )?;
                let gen2 = var_token_in_buffer(ffi::bytes(
                    generated_key_identifier_2_length,
                    generated_key_identifier_2,
                )?);
                (cap2, gen2, out2)
            };
            Ok((
                rules,
                vec![
                    bits,
                    ffi::fixed(key_type_1, 8, BAD_KEYWORD)?,
                    optional(key_type_2, 8, &BLANKS)?,
                    ffi::bytes(key_name_1_length, key_name_1)?,
                    ffi::bytes(key_name_2_length, key_name_2)?,
                    ffi::bytes(user_associated_data_1_length, user_associated_data_1)?,
                    ffi::bytes(user_associated_data_2_length, user_associated_data_2)?,
                    ffi::bytes(
                        key_encrypting_key_identifier_1_length,
                        key_encrypting_key_identifier_1,
                    )?,
                    ffi::bytes(
                        key_encrypting_key_identifier_2_length,
                        key_encrypting_key_identifier_2,
                    )?,
                    cap1,
                    gen1,
                    cap2,
                    gen2,
                ],
                vec![out1, out2],
            ))
        })
    }
}

/// Clear_Key_Import.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBCKI(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    clear_key: *mut c_uchar,
    target_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBCKI", || -> Prepared {
            Ok((
                vec![],
                vec![
                    ffi::fixed(clear_key, 8, BAD_LENGTH)?,
                    ffi::key64(target_key_identifier)?,
                ],
                vec![out64(target_key_identifier)],
            ))
        })
    }
}

/// Multiple_Clear_Key_Import.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBCKM(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    clear_key_length: *mut c_long,
    clear_key: *mut c_uchar,
    target_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBCKM", || -> Prepared {
            Ok((
                ffi::read_rules(rule_array_count, rule_array)?,
                vec![
                    ffi::bytes(clear_key_length, clear_key)?,
                    ffi::key64(target_key_identifier)?,
                ],
                vec![out64(target_key_identifier)],
            ))
        })
    }
}

/// The length of the key a 64-byte DES token's left control vector names (16 when the
/// identifier is not an internal DES token, e.g. a key label).
fn key_part_length(token: &[u8]) -> usize {
    let internal_des = token.first() == Some(&0x01) && token.get(4).is_some_and(|v| *v <= 1);
    match token
        .get(32..40)
        .and_then(|cv| <[u8; 8]>::try_from(cv).ok())
    {
        Some(cv) if internal_des => softcca_card::tokens::cv::length_from_form(&cv)
            .map_or(16, softcca_card::tokens::KeyLength::bytes),
        _ => 16,
    }
}

/// Key_Part_Import.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKPI(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_part: *mut c_uchar,
    key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKPI", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let token = ffi::read_fixed(key_identifier, 64)?;
            let part = if has(&rules, "COMPLETE") {
                Param::Bytes(vec![])
            } else {
                ffi::fixed(key_part, key_part_length(&token), BAD_LENGTH)?
            };
            Ok((
                rules,
                vec![part, Param::Bytes(token)],
                vec![out64(key_identifier)],
            ))
        })
    }
}

/// Key_Part_Import2.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKPI2(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    clear_key_part_length: *mut c_long,
    clear_key_part: *mut c_uchar,
    key_identifier_length: *mut c_long,
    key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKPI2", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            // IBM's clear_key_part_length is in bits.
            let bits = ffi::read_length(clear_key_part_length)?;
            let part = ffi::read_fixed(clear_key_part, bits.div_ceil(8))?;
            let (cap, out) = out_var(key_identifier_length, key_identifier)?;
            let token = ffi::bytes(key_identifier_length, key_identifier)?;
            Ok((
                rules,
                vec![
                    Param::Int(i32::try_from(bits).map_err(|_| BAD_LENGTH)?),
                    Param::Bytes(part),
                    cap,
                    token,
                ],
                vec![out],
            ))
        })
    }
}

/// Key_Import.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKIM(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_type: *mut c_uchar,
    source_key_token: *mut c_uchar,
    importer_key_identifier: *mut c_uchar,
    target_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKIM", || -> Prepared {
            Ok((
                vec![],
                vec![
                    ffi::fixed(key_type, 8, BAD_KEYWORD)?,
                    ffi::key64(source_key_token)?,
                    ffi::key64(importer_key_identifier)?,
                    optional(target_key_identifier, 64, &[0; 64])?,
                ],
                vec![out64(target_key_identifier)],
            ))
        })
    }
}

/// Key_Export.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKEX(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_type: *mut c_uchar,
    source_key_identifier: *mut c_uchar,
    exporter_key_identifier: *mut c_uchar,
    target_key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKEX", || -> Prepared {
            Ok((
                vec![],
                vec![
                    ffi::fixed(key_type, 8, BAD_KEYWORD)?,
                    ffi::key64(source_key_identifier)?,
                    ffi::key64(exporter_key_identifier)?,
                    optional(target_key_token, 64, &[0; 64])?,
                ],
                vec![out64(target_key_token)],
            ))
        })
    }
}

/// Key_Translate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKTR(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    input_key_token: *mut c_uchar,
    input_kek_key_identifier: *mut c_uchar,
    output_kek_key_identifier: *mut c_uchar,
    output_key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKTR", || -> Prepared {
            Ok((
                vec![],
                vec![
                    ffi::key64(input_key_token)?,
                    ffi::key64(input_kek_key_identifier)?,
                    ffi::key64(output_kek_key_identifier)?,
                ],
                vec![out64(output_key_token)],
            ))
        })
    }
}

/// Key_Token_Change.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKTC(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKTC", || -> Prepared {
            Ok((
                ffi::read_rules(rule_array_count, rule_array)?,
                vec![ffi::key64(key_identifier)?],
                vec![out64(key_identifier)],
            ))
        })
    }
}

/// Key_Token_Change2: the token is re-enciphered in place; `key_identifier_length` is the
/// buffer's size on input and the token's length on output.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKTC2(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier_length: *mut c_long,
    key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBKTC2", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let token = ffi::bytes(key_identifier_length, key_identifier)?;
            let out = Dest::var(key_identifier_length, key_identifier)?;
            Ok((rules, vec![token], vec![out]))
        })
    }
}

/// Key_Test and Key_Test_Extended share their shape: GENERATE returns the two values,
/// VERIFY returns nothing.
///
/// # Safety
/// IBM's parameters of CSNBKYT/CSNBKYTX.
unsafe fn key_test(
    name: &str,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier: *mut c_uchar,
    random_number: *mut c_uchar,
    verification_pattern: *mut c_uchar,
    kek_key_identifier: Option<*mut c_uchar>,
) -> softcca_card::Codes {
    // SAFETY: the caller's contract: IBM's parameters.
    unsafe {
        ffi::verb(name, || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            // A clear key (KEY-CLR, KEY-CLRD, KEY-CLRT) is 8, 16 or 24 bytes; a token 64.
            let key_len = if has(&rules, "KEY-CLR") {
                8
            } else if has(&rules, "KEY-CLRD") {
                16
            } else if has(&rules, "KEY-CLRT") {
                24
            } else if ["KEY-KM", "KEY-NKM", "KEY-OKM"]
                .iter()
                .any(|k| has(&rules, k))
            {
                0
            } else {
                64
            };
            let key = optional(key_identifier, key_len, &[])?;
            let generate = has(&rules, "GENERATE");
            let mut params = vec![
                key,
                optional(random_number, 8, &[0; 8])?,
                optional(verification_pattern, 8, &[0; 8])?,
            ];
            if let Some(kek) = kek_key_identifier {
                params.push(optional(kek, 64, &[0; 64])?);
            }
            let dests = if generate {
                vec![
                    Dest::Fixed {
                        buf: random_number,
                        n: 8,
                    },
                    Dest::Fixed {
                        buf: verification_pattern,
                        n: 8,
                    },
                ]
            } else {
                vec![]
            };
            Ok((rules, params, dests))
        })
    }
}

/// Key_Test.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKYT(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier: *mut c_uchar,
    random_number: *mut c_uchar,
    verification_pattern: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            key_test(
                "CSNBKYT",
                rule_array_count,
                rule_array,
                key_identifier,
                random_number,
                verification_pattern,
                None,
            )
        })
    }
}

/// Key_Test_Extended.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKYTX(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier: *mut c_uchar,
    random_number: *mut c_uchar,
    verification_pattern: *mut c_uchar,
    kek_key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::run(return_code, reason_code, || {
            key_test(
                "CSNBKYTX",
                rule_array_count,
                rule_array,
                key_identifier,
                random_number,
                verification_pattern,
                Some(kek_key_identifier),
            )
        })
    }
}

/// Encipher: `text_length` is the clear text's length on input and the cipher text's on
/// output; `ciphertext` must hold the padded length (IBM: text_length rounded up to 8, plus
/// 8 with X9.23).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBENC(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_identifier: *mut c_uchar,
    text_length: *mut c_long,
    plaintext: *mut c_uchar,
    initialization_vector: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    pad_character: *mut c_long,
    chaining_vector: *mut c_uchar,
    ciphertext: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB; the cipher text is written only after the card answered, at the
    // length IBM tells the caller to provide (the clear text's, rounded up for padding).
    unsafe {
        ffi::export(return_code, reason_code, "CSNBENC", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let text = ffi::read_bytes(text_length, plaintext)?;
            // IBM: the output field is the input's length rounded up to a block, one block
            // more with X9.23 padding.
            let cap = if has(&rules, "X9.23") {
                (text.len() / 8 + 1) * 8
            } else {
                text.len().div_ceil(8) * 8
            };
            let pad = optional_long(pad_character)?;
            Ok((
                rules,
                vec![
                    ffi::key64(key_identifier)?,
                    Param::Bytes(text),
                    optional(initialization_vector, 8, &[0; 8])?,
                    pad,
                    optional(chaining_vector, 18, &[0; 18])?,
                ],
                vec![
                    Dest::Var {
                        len: text_length,
                        buf: ciphertext,
                        cap,
                    },
                    out_optional(chaining_vector, 18),
                ],
            ))
        })
    }
}

/// Decipher: `text_length` is the cipher text's length on input and the clear text's on
/// output.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBDEC(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_identifier: *mut c_uchar,
    text_length: *mut c_long,
    ciphertext: *mut c_uchar,
    initialization_vector: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    chaining_vector: *mut c_uchar,
    plaintext: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBENC; the clear text is never longer than the cipher text.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBDEC", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let text = ffi::read_bytes(text_length, ciphertext)?;
            let cap = text.len();
            Ok((
                rules,
                vec![
                    ffi::key64(key_identifier)?,
                    Param::Bytes(text),
                    optional(initialization_vector, 8, &[0; 8])?,
                    optional(chaining_vector, 18, &[0; 18])?,
                ],
                vec![
                    Dest::Var {
                        len: text_length,
                        buf: plaintext,
                        cap,
                    },
                    out_optional(chaining_vector, 18),
                ],
            ))
        })
    }
}

/// A `long` input that may be NULL (0).
///
/// # Safety
/// As [`ffi::read_int`].
unsafe fn optional_long(p: *const c_long) -> Result<Param, Fail> {
    if p.is_null() {
        return Ok(Param::Int(0));
    }
    // SAFETY: the caller's contract is read_int's.
    unsafe { ffi::read_int(p) }
}

/// Symmetric_Algorithm_Encipher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBSAE(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier_length: *mut c_long,
    key_identifier: *mut c_uchar,
    key_params_length: *mut c_long,
    key_params: *mut c_uchar,
    block_size: *mut c_long,
    initialization_vector_length: *mut c_long,
    initialization_vector: *mut c_uchar,
    chaining_vector_length: *mut c_long,
    chaining_vector: *mut c_uchar,
    text_length: *mut c_long,
    text: *mut c_uchar,
    ciphertext_length: *mut c_long,
    ciphertext: *mut c_uchar,
    optional_data_length: *mut c_long,
    optional_data: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBSAE", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let tag_len = optional_long(key_params_length)?;
            let tag_out = if key_params_length.is_null() {
                Dest::Ignore
            } else {
                Dest::var(key_params_length, key_params)?
            };
            let chain = ffi::bytes(chaining_vector_length, chaining_vector)?;
            let chain_out = Dest::var(chaining_vector_length, chaining_vector)?;
            let (cap, out) = out_var(ciphertext_length, ciphertext)?;
            Ok((
                rules,
                vec![
                    ffi::bytes(key_identifier_length, key_identifier)?,
                    tag_len,
                    ffi::read_int(block_size)?,
                    ffi::bytes(initialization_vector_length, initialization_vector)?,
                    chain,
                    ffi::bytes(text_length, text)?,
                    cap,
                    optional_bytes(optional_data_length, optional_data)?,
                ],
                vec![tag_out, chain_out, out],
            ))
        })
    }
}

/// A byte string with its length by reference, both possibly NULL (empty).
///
/// # Safety
/// As [`ffi::read_bytes`].
unsafe fn optional_bytes(len: *const c_long, buf: *const c_uchar) -> Result<Param, Fail> {
    if len.is_null() {
        return Ok(Param::Bytes(vec![]));
    }
    // SAFETY: the caller's contract is read_bytes's.
    unsafe { ffi::bytes(len, buf) }
}

/// Symmetric_Algorithm_Decipher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBSAD(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier_length: *mut c_long,
    key_identifier: *mut c_uchar,
    key_params_length: *mut c_long,
    key_params: *mut c_uchar,
    block_size: *mut c_long,
    initialization_vector_length: *mut c_long,
    initialization_vector: *mut c_uchar,
    chaining_vector_length: *mut c_long,
    chaining_vector: *mut c_uchar,
    ciphertext_length: *mut c_long,
    ciphertext: *mut c_uchar,
    text_length: *mut c_long,
    text: *mut c_uchar,
    optional_data_length: *mut c_long,
    optional_data: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBSAD", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let chain = ffi::bytes(chaining_vector_length, chaining_vector)?;
            let chain_out = Dest::var(chaining_vector_length, chaining_vector)?;
            let (cap, out) = out_var(text_length, text)?;
            Ok((
                rules,
                vec![
                    ffi::bytes(key_identifier_length, key_identifier)?,
                    optional_bytes(key_params_length, key_params)?,
                    ffi::read_int(block_size)?,
                    ffi::bytes(initialization_vector_length, initialization_vector)?,
                    chain,
                    ffi::bytes(ciphertext_length, ciphertext)?,
                    cap,
                    optional_bytes(optional_data_length, optional_data)?,
                ],
                vec![chain_out, out],
            ))
        })
    }
}

/// MAC_Generate: `mac` receives 4, 6 or 8 bytes (ONLY, LAST), nothing for FIRST and MIDDLE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBMGN(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_identifier: *mut c_uchar,
    text_length: *mut c_long,
    text: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    chaining_vector: *mut c_uchar,
    mac: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBMGN", || -> Prepared {
            Ok((
                ffi::read_rules(rule_array_count, rule_array)?,
                vec![
                    ffi::key64(key_identifier)?,
                    ffi::bytes(text_length, text)?,
                    optional(chaining_vector, 18, &[0; 18])?,
                ],
                vec![
                    Dest::Fixed { buf: mac, n: 8 },
                    out_optional(chaining_vector, 18),
                ],
            ))
        })
    }
}

/// MAC_Verify: `mac` is read at the length the MAC-length keyword names (4 by default).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBMVR(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_identifier: *mut c_uchar,
    text_length: *mut c_long,
    text: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    chaining_vector: *mut c_uchar,
    mac: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBMVR", || -> Prepared {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let mac_len = if has(&rules, "MACLEN8") {
                8
            } else if has(&rules, "MACLEN6") {
                6
            } else {
                4
            };
            let segment_only = !(has(&rules, "FIRST") || has(&rules, "MIDDLE"));
            let mac = if segment_only {
                ffi::fixed(mac, mac_len, BAD_LENGTH)?
            } else {
                Param::Bytes(vec![])
            };
            Ok((
                rules,
                vec![
                    ffi::key64(key_identifier)?,
                    ffi::bytes(text_length, text)?,
                    optional(chaining_vector, 18, &[0; 18])?,
                    mac,
                ],
                vec![out_optional(chaining_vector, 18)],
            ))
        })
    }
}

/// HMAC_Generate: `mac_length` is the MAC field's size on input and the MAC's length on
/// output.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBHMG(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier_length: *mut c_long,
    key_identifier: *mut c_uchar,
    message_text_length: *mut c_long,
    message_text: *mut c_uchar,
    chaining_vector_length: *mut c_long,
    chaining_vector: *mut c_uchar,
    mac_length: *mut c_long,
    mac_text: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBHMG", || -> Prepared {
            let chain = ffi::bytes(chaining_vector_length, chaining_vector)?;
            let chain_out = Dest::var(chaining_vector_length, chaining_vector)?;
            let (cap, out) = out_var(mac_length, mac_text)?;
            Ok((
                ffi::read_rules(rule_array_count, rule_array)?,
                vec![
                    ffi::bytes(key_identifier_length, key_identifier)?,
                    ffi::bytes(message_text_length, message_text)?,
                    chain,
                    cap,
                ],
                vec![chain_out, out],
            ))
        })
    }
}

/// HMAC_Verify: 0/0 when the MAC verifies, 4/1 when it does not.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBHMV(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier_length: *mut c_long,
    key_identifier: *mut c_uchar,
    message_text_length: *mut c_long,
    message_text: *mut c_uchar,
    chaining_vector_length: *mut c_long,
    chaining_vector: *mut c_uchar,
    mac_length: *mut c_long,
    mac_text: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBHMV", || -> Prepared {
            let chain = ffi::bytes(chaining_vector_length, chaining_vector)?;
            let chain_out = Dest::var(chaining_vector_length, chaining_vector)?;
            Ok((
                ffi::read_rules(rule_array_count, rule_array)?,
                vec![
                    ffi::bytes(key_identifier_length, key_identifier)?,
                    ffi::bytes(message_text_length, message_text)?,
                    chain,
                    ffi::bytes(mac_length, mac_text)?,
                ],
                vec![chain_out],
            ))
        })
    }
}

/// One_Way_Hash: `hash_length` is the hash field's size on input and the result's length
/// on output; the 128-byte chaining vector is IBM's work area.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBOWH(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    text_length: *mut c_long,
    text: *mut c_uchar,
    chaining_vector_length: *mut c_long,
    chaining_vector: *mut c_uchar,
    hash_length: *mut c_long,
    hash: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKTB.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBOWH", || -> Prepared {
            let chain = ffi::bytes(chaining_vector_length, chaining_vector)?;
            let chain_out = Dest::var(chaining_vector_length, chaining_vector)?;
            let (cap, out) = out_var(hash_length, hash)?;
            Ok((
                ffi::read_rules(rule_array_count, rule_array)?,
                vec![ffi::bytes(text_length, text)?, chain, cap],
                vec![chain_out, out],
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trimmed(b: &[u8]) -> Vec<u8> {
        match var_token_in_buffer(Param::Bytes(b.to_vec())) {
            Param::Bytes(b) => b,
            Param::Int(_) => unreachable!(),
        }
    }

    #[test]
    fn a_variable_length_token_is_cut_to_its_own_length_only() {
        let mut buffer = vec![0u8; 725];
        buffer[..5].copy_from_slice(&[0x01, 0x00, 0x00, 0x2C, 0x05]);
        assert_eq!(trimmed(&buffer).len(), 0x2C);
        buffer[0] = 0x02;
        assert_eq!(trimmed(&buffer).len(), 0x2C);
        // Not a variable-length token, or a length the buffer cannot hold: unchanged (the
        // card answers its code).
        for (at, byte) in [(0, 0x1F), (4, 0x04), (1, 0x01), (2, 0x03)] {
            let mut other = buffer.clone();
            other[at] = byte;
            assert_eq!(trimmed(&other).len(), 725, "byte {at} = {byte:02X}");
        }
        assert_eq!(trimmed(&buffer[..0x2C]).len(), 0x2C);
        assert_eq!(trimmed(&[0x01, 0, 0, 4, 5]), [0x01, 0, 0, 4, 5]);
        assert_eq!(trimmed(&[]), Vec::<u8>::new());
    }
}
