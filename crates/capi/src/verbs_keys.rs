//! Key storage, host-side as at IBM: Key_Record_Create/Delete/List/Read/Write for DES
//! (CSNBKRC, CSNBKRD, CSNBKRL, CSNBKRR, CSNBKRW), AES (CSNBAKRC) and PKA (CSNDKRC, CSNDKRD,
//! CSNDKRL, CSNDKRR, CSNDKRW) key storage, through `softcca_host`'s key-storage methods (the
//! records live in `keystore.db` of the card's state directory; see [`crate::conn`]).
//!
//! Labels are IBM's 64-byte fields. Choices where IBM is silent:
//! - CSNBKRW has no rule array in IBM's prototype: it writes as the Rust API's default,
//!   CHECK (only over a record whose token is null; 8/44 otherwise).
//! - CSNBKRL/CSNDKRL: `data_set_name` receives the list file's full path (at most 64 bytes,
//!   IBM's field; a longer path is 8/72) and `data_set_name_length` its length;
//!   `security_server_name` receives eight blanks (no security server).
//! - CSNDKR* take no rule-array keywords except CSNDKRD's (TOKEN-DL, LABEL-DL) and
//!   CSNDKRW's (CHECK, OVERLAY); a count above 0 elsewhere is 8/35.

use std::ffi::{c_long, c_uchar};
use std::os::unix::ffi::OsStrExt;

use softcca_card::{Codes, Failure};
use softcca_host::{CcaError, Family};
use softcca_wire::Param;

use crate::ffi::{self, BAD_LENGTH, Dest, Fail};

fn host<T>(r: Result<T, CcaError>) -> Result<T, Fail> {
    r.map_err(|e| e.codes)
}

/// Rule-array elements as the keywords the host API takes.
fn keywords(elements: &[[u8; 8]]) -> Result<Vec<String>, Fail> {
    elements
        .iter()
        .map(|e| {
            std::str::from_utf8(e)
                .map(|s| s.trim_end_matches(' ').to_string())
                .map_err(|_| Failure::Keyword.codes())
        })
        .collect()
}

fn no_rules(elements: &[[u8; 8]]) -> Result<(), Fail> {
    if elements.is_empty() {
        Ok(())
    } else {
        Err(ffi::BAD_COUNT)
    }
}

fn done(r: Result<Codes, Fail>) -> Codes {
    r.unwrap_or_else(|e| e)
}

/// Runs a key-storage body with the process's card handle.
fn with_cca(body: impl FnOnce(&softcca_host::Cca) -> Result<Codes, Fail>) -> Codes {
    done(crate::conn::cca().and_then(|cca| body(&cca)))
}

/// # Safety
/// `label` is NULL or readable for 64 bytes.
unsafe fn label64(label: *const c_uchar) -> Result<Vec<u8>, Fail> {
    // SAFETY: the caller's contract is read_fixed's.
    unsafe { ffi::read_fixed(label, 64) }.map_err(|_| Failure::LabelFormat.codes())
}

/// # Safety
/// IBM's parameters of a Key_Record_List.
unsafe fn list(
    family: Family,
    label: *const c_uchar,
    data_set_name_length: *mut c_long,
    data_set_name: *mut c_uchar,
    security_server_name: *mut c_uchar,
) -> Codes {
    with_cca(|cca| {
        // SAFETY: the caller's contract: IBM's parameters.
        let mask = unsafe { label64(label) }?;
        let (file, _) = host(cca.key_record_list(family, &mask))?;
        let name = Param::Bytes(file.as_os_str().as_bytes().to_vec());
        let dest = Dest::Var {
            len: data_set_name_length,
            buf: data_set_name,
            cap: 64,
        };
        // SAFETY: the caller's contract: the name field is IBM's 64 bytes, the server name 8.
        unsafe {
            if !ffi::deliver_one(dest, &name) {
                return Err(BAD_LENGTH);
            }
            if !security_server_name.is_null() {
                let _ = ffi::deliver_one(
                    Dest::Fixed {
                        buf: security_server_name,
                        n: 8,
                    },
                    &Param::Bytes(vec![b' '; 8]),
                );
            }
        }
        Ok(Codes::OK)
    })
}

/// DES_Key_Record_Create: a record holding the null DES token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKRC(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_label: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: IBM's parameters, each NULL or valid for what the prototype says (the ABI
    // conventions); ffi checks NULLs and lengths before any access.
    unsafe {
        ffi::run(return_code, reason_code, || {
            with_cca(|cca| {
                let label = label64(key_label)?;
                host(cca.key_record_create(Family::Des, &label, &[]))?;
                Ok(Codes::OK)
            })
        })
    }
}

/// AES_Key_Record_Create: a record holding `key_token` (the null token when its length is
/// 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBAKRC(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_label: *mut c_uchar,
    key_token_length: *mut c_long,
    key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            with_cca(|cca| {
                let label = label64(key_label)?;
                let token = ffi::read_bytes(key_token_length, key_token)?;
                host(cca.key_record_create(Family::Aes, &label, &token))?;
                Ok(Codes::OK)
            })
        })
    }
}

/// DES_Key_Record_Delete: TOKEN-DL (default) or LABEL-DL; 4/158 when a mask matched
/// nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKRD(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            delete(Family::Des, rule_array_count, rule_array, key_identifier)
        })
    }
}

/// # Safety
/// IBM's parameters of a Key_Record_Delete.
unsafe fn delete(
    family: Family,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier: *mut c_uchar,
) -> Codes {
    with_cca(|cca| {
        // SAFETY: the caller's contract: IBM's parameters.
        let (rules, label) = unsafe {
            (
                ffi::read_rules(rule_array_count, rule_array)?,
                label64(key_identifier)?,
            )
        };
        let words = keywords(&rules)?;
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        host(cca.key_record_delete(family, &refs, &label))
    })
}

/// DES_Key_Record_List.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKRL(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_label: *mut c_uchar,
    data_set_name_length: *mut c_long,
    data_set_name: *mut c_uchar,
    security_server_name: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            list(
                Family::Des,
                key_label,
                data_set_name_length,
                data_set_name,
                security_server_name,
            )
        })
    }
}

/// DES_Key_Record_Read: the record's 64-byte token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKRR(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_label: *mut c_uchar,
    key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            with_cca(|cca| {
                let label = label64(key_label)?;
                let token = host(cca.key_record_read(Family::Des, &label))?;
                if !ffi::deliver_one(
                    Dest::Fixed {
                        buf: key_token,
                        n: 64,
                    },
                    &Param::Bytes(token),
                ) {
                    return Err(BAD_LENGTH);
                }
                Ok(Codes::OK)
            })
        })
    }
}

/// DES_Key_Record_Write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBKRW(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    key_token: *mut c_uchar,
    key_label: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            with_cca(|cca| {
                let token = ffi::read_fixed(key_token, 64)?;
                let label = label64(key_label)?;
                host(cca.key_record_write(Family::Des, &[], &label, &token))?;
                Ok(Codes::OK)
            })
        })
    }
}

/// PKA_Key_Record_Create: a record holding `key_token` (the null PKA token when its length
/// is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDKRC(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_label: *mut c_uchar,
    key_token_length: *mut c_long,
    key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            with_cca(|cca| {
                no_rules(&ffi::read_rules(rule_array_count, rule_array)?)?;
                let label = label64(key_label)?;
                let token = ffi::read_bytes(key_token_length, key_token)?;
                host(cca.key_record_create(Family::Pka, &label, &token))?;
                Ok(Codes::OK)
            })
        })
    }
}

/// PKA_Key_Record_Delete.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDKRD(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            delete(Family::Pka, rule_array_count, rule_array, key_identifier)
        })
    }
}

/// PKA_Key_Record_List.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDKRL(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_label: *mut c_uchar,
    data_set_name_length: *mut c_long,
    data_set_name: *mut c_uchar,
    security_server_name: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            match ffi::read_rules(rule_array_count, rule_array).and_then(|r| no_rules(&r)) {
                Ok(()) => list(
                    Family::Pka,
                    key_label,
                    data_set_name_length,
                    data_set_name,
                    security_server_name,
                ),
                Err(codes) => codes,
            }
        })
    }
}

/// PKA_Key_Record_Read: `key_token_length` is the buffer's size on input and the token's
/// length on output.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDKRR(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_label: *mut c_uchar,
    key_token_length: *mut c_long,
    key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            with_cca(|cca| {
                no_rules(&ffi::read_rules(rule_array_count, rule_array)?)?;
                let label = label64(key_label)?;
                let dest = Dest::var(key_token_length, key_token)?;
                let token = host(cca.key_record_read(Family::Pka, &label))?;
                if !ffi::deliver_one(dest, &Param::Bytes(token)) {
                    return Err(BAD_LENGTH);
                }
                Ok(Codes::OK)
            })
        })
    }
}

/// PKA_Key_Record_Write: CHECK (default) or OVERLAY.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNDKRW(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_label: *mut c_uchar,
    key_token_length: *mut c_long,
    key_token: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSNBKRC.
    unsafe {
        ffi::run(return_code, reason_code, || {
            with_cca(|cca| {
                let words = keywords(&ffi::read_rules(rule_array_count, rule_array)?)?;
                let refs: Vec<&str> = words.iter().map(String::as_str).collect();
                let label = label64(key_label)?;
                let token = ffi::read_bytes(key_token_length, key_token)?;
                host(cca.key_record_write(Family::Pka, &refs, &label, &token))?;
                Ok(Codes::OK)
            })
        })
    }
}
