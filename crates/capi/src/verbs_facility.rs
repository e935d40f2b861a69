//! Facility and random-number verbs: Cryptographic_Facility_Version (CSUACFV),
//! Cryptographic_Facility_Query (CSUACFQ), Random_Number_Generate (CSNBRNG) and
//! Random_Number_Generate_Long (CSNBRNGL).
//!
//! Each export reads IBM's parameters (see [`crate::ffi`]) into the parameter block of the
//! card's verb (`softcca_card::verbs::facility` and `verbs::random` document them) and
//! writes the outputs back.

use std::ffi::{c_long, c_uchar};

use crate::ffi::{self, Dest};

/// Cryptographic_Facility_Version: `version_data` receives the 8-character version, the
/// 8-character build date and a NUL (17 bytes; `version_data_length` at least 17, set to
/// 17).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSUACFV(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    version_data_length: *mut c_long,
    version_data: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: IBM's parameters, each NULL or valid for what the prototype says (the ABI
    // conventions of the crate); ffi checks NULLs and lengths before any access.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSUACFV", || {
                let out = Dest::var(version_data_length, version_data)?;
                let Dest::Var { cap, .. } = out else {
                    return Err(ffi::BAD_LENGTH);
                };
                let cap = i32::try_from(cap).unwrap_or(i32::MAX);
                Ok((vec![], vec![softcca_wire::Param::Int(cap)], vec![out]))
            })
        })
    }
}

/// Random_Number_Generate: 8 random bytes with the parity `form` names (RANDOM, ODD, EVEN;
/// 8 bytes read).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBRNG(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    form: *mut c_uchar,
    random_number: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSUACFV.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNBRNG", || {
                let form = ffi::read_fixed(form, 8).map_err(|_| ffi::BAD_KEYWORD)?;
                Ok((
                    vec![],
                    vec![softcca_wire::Param::Bytes(form)],
                    vec![Dest::Fixed {
                        buf: random_number,
                        n: 8,
                    }],
                ))
            })
        })
    }
}

/// Random_Number_Generate_Long: `random_number_length` (1–8192) random bytes; the length
/// is set to the number written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBRNGL(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_identifier_length: *mut c_long,
    key_identifier: *mut c_uchar,
    random_number_length: *mut c_long,
    random_number: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSUACFV.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSNBRNGL", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let key = ffi::read_bytes(key_identifier_length, key_identifier)?;
                let length = ffi::read_int(random_number_length)?;
                let out = Dest::var(random_number_length, random_number)?;
                Ok((
                    rules,
                    vec![softcca_wire::Param::Bytes(key), length],
                    vec![out],
                ))
            })
        })
    }
}
