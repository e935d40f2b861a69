//! Facility and random-number verbs: Cryptographic_Facility_Version (CSUACFV),
//! Cryptographic_Facility_Query (CSUACFQ), Random_Number_Generate (CSNBRNG) and
//! Random_Number_Generate_Long (CSNBRNGL).
//!
//! Each export reads IBM's parameters (see [`crate::ffi`]) into the parameter block of the
//! card's verb (`softcca_card::verbs::facility` and `verbs::random` document them) and
//! writes the outputs back.

use std::ffi::{c_long, c_uchar};

use softcca_wire::Param;

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
                Ok((vec![], vec![Param::Int(cap)], vec![out]))
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
                    vec![Param::Bytes(form)],
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
                Ok((rules, vec![Param::Bytes(key), length], vec![out]))
            })
        })
    }
}

/// Cryptographic_Facility_Query: the rule array receives the elements of the information
/// keyword (IBM's interface gives the rule array no size: the caller provides room for what
/// IBM documents for the keyword) and `rule_array_count` their number; `verb_data` receives
/// the keyword's verb data, if it has any.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSUACFQ(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    verb_data_length: *mut c_long,
    verb_data: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSUACFV; the rule array is written only after the card answered.
    unsafe {
        ffi::run(return_code, reason_code, || {
            let prepared = (|| {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                if verb_data_length.is_null() {
                    return Ok((rules, 0, vec![], Dest::Ignore));
                }
                let data = ffi::read_bytes(verb_data_length, verb_data)?;
                let out = Dest::var(verb_data_length, verb_data)?;
                Ok((rules, data.len(), data, out))
            })();
            let (rules, len, data, out) = match prepared {
                Ok(p) => p,
                Err(codes) => return codes,
            };
            let len = i32::try_from(len).unwrap_or(i32::MAX);
            let response = ffi::call("CSUACFQ", rules, vec![Param::Int(len), Param::Bytes(data)]);
            let dests: &[Dest] = if response.outputs.is_empty() {
                &[]
            } else {
                &[out]
            };
            let codes = ffi::deliver(&response, dests);
            if codes.return_code < 8 {
                ffi::write_rules(rule_array_count, rule_array, &response.rule_array);
            }
            codes
        })
    }
}

/// Cryptographic_Facility_Control.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSUACFC(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    verb_data_length: *mut c_long,
    verb_data: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSUACFV.
    unsafe {
        ffi::export(return_code, reason_code, "CSUACFC", || {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let (len, data) = if verb_data_length.is_null() {
                (0, vec![])
            } else {
                let d = ffi::read_bytes(verb_data_length, verb_data)?;
                (i32::try_from(d.len()).unwrap_or(i32::MAX), d)
            };
            Ok((rules, vec![Param::Int(len), Param::Bytes(data)], vec![]))
        })
    }
}

/// Master_Key_Process: `key_part` is read (24 bytes for SYM-MK and ASYM-MK, 32 for AES-MK
/// and APKA-MK) only with FIRST, MIDDLE and LAST.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSNBMKP(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    key_part: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSUACFV.
    unsafe {
        ffi::export(return_code, reason_code, "CSNBMKP", || {
            let rules = ffi::read_rules(rule_array_count, rule_array)?;
            let has = |k: &str| softcca_card::rules::element(k).is_some_and(|e| rules.contains(&e));
            let part = if ["FIRST", "MIDDLE", "LAST"].iter().any(|k| has(k)) {
                let n = if has("AES-MK") || has("APKA-MK") {
                    32
                } else {
                    24
                };
                ffi::read_fixed(key_part, n)?
            } else {
                vec![]
            };
            Ok((rules, vec![Param::Bytes(part)], vec![]))
        })
    }
}

thread_local! {
    /// The device this thread allocated with CSUACRA (IBM scopes allocation to a thread).
    static ALLOCATED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The one device softcca's library reaches, and IBM's "any device" name.
const DEVICE_NAMES: [&str; 2] = ["CRP01", "DEV-ANY"];

/// Reads CSUACRA/CSUACRD's parameters, as opencryptoki 3.23 sends them: a rule array of 1–2
/// elements (8/35 otherwise), `DEVICE` with a device name (`CRP01`, the one card, or
/// `DEV-ANY`) or `SERIAL` with the card's serial number (STATCRD2's), and optionally a domain
/// `DOMNnnnn` or `DOMN-DEF` (any other keyword 8/33); a resource name of 1–64 bytes
/// (trailing blanks and NULs ignored; 8/72 otherwise).
///
/// **IBM is silent** in the pages at hand on two codes, so softcca chooses: a device name or
/// serial number of no card this library reaches is 12/338 ("the coprocessor is not
/// available", what the caller must act upon); softcca's card has no usage domains of its
/// own, so every domain number selects the same card.
///
/// # Safety
/// IBM's parameters of CSUACRA/CSUACRD.
unsafe fn resource(
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    resource_name_length: *mut c_long,
    resource_name: *mut c_uchar,
) -> Result<(), softcca_card::Codes> {
    use softcca_card::Failure;
    // SAFETY: the caller's contract: IBM's parameters.
    let (rules, name) = unsafe {
        (
            ffi::read_rules(rule_array_count, rule_array)?,
            ffi::read_bytes(resource_name_length, resource_name)?,
        )
    };
    if rules.is_empty() || rules.len() > 2 {
        return Err(ffi::BAD_COUNT);
    }
    let is = |e: &[u8; 8], k: &str| softcca_card::rules::element(k).as_ref() == Some(e);
    let is_domain = |e: &[u8; 8]| {
        is(e, "DOMN-DEF") || (e.starts_with(b"DOMN") && e[4..].iter().all(u8::is_ascii_digit))
    };
    let mut by_serial = None;
    let mut domains = 0;
    for e in &rules {
        if is(e, "DEVICE") || is(e, "SERIAL") {
            if by_serial.is_some() {
                return Err(Failure::KeywordCombination.codes());
            }
            by_serial = Some(is(e, "SERIAL"));
        } else if is_domain(e) {
            domains += 1;
        } else {
            return Err(Failure::Keyword.codes());
        }
    }
    let (Some(by_serial), 0 | 1) = (by_serial, domains) else {
        return Err(Failure::KeywordCombination.codes());
    };
    if name.is_empty() || name.len() > 64 {
        return Err(ffi::BAD_LENGTH);
    }
    let text = String::from_utf8_lossy(&name);
    let text = text.trim_end_matches([' ', '\0']);
    let known = if by_serial {
        card_serial()? == text
    } else {
        DEVICE_NAMES.contains(&text)
    };
    if known {
        Ok(())
    } else {
        Err(Failure::CardUnavailable.codes())
    }
}

/// The card's serial number: element 15 of CSUACFQ STATCRD2 (rule-array offset 112).
fn card_serial() -> Result<String, softcca_card::Codes> {
    let keyword = softcca_card::rules::element("STATCRD2").ok_or(ffi::INTERNAL)?;
    let r = ffi::call(
        "CSUACFQ",
        vec![keyword],
        vec![Param::Int(0), Param::Bytes(vec![])],
    );
    if r.return_code >= 8 {
        return Err(softcca_card::Codes::new(r.return_code, r.reason_code));
    }
    let serial = r.rule_array.get(14).ok_or(ffi::INTERNAL)?;
    Ok(String::from_utf8_lossy(serial).trim_end().to_string())
}

/// Cryptographic_Resource_Allocate: `DEVICE` with `CRP01` (the one card) or `DEV-ANY`, or
/// `SERIAL` with the card's serial number, optionally a domain (see `resource`). Allocation is per thread, as IBM scopes it; with one card it changes
/// which card nothing uses, so it only records the allocation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSUACRA(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    resource_name_length: *mut c_long,
    resource_name: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSUACFV.
    unsafe {
        ffi::run(return_code, reason_code, || {
            match resource(
                rule_array_count,
                rule_array,
                resource_name_length,
                resource_name,
            ) {
                Ok(()) => {
                    ALLOCATED.with(|a| a.set(true));
                    softcca_card::Codes::OK
                }
                Err(codes) => codes,
            }
        })
    }
}

/// Cryptographic_Resource_Deallocate: the same parameters; the thread goes back to the
/// default device (the same card).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSUACRD(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    resource_name_length: *mut c_long,
    resource_name: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: as CSUACFV.
    unsafe {
        ffi::run(return_code, reason_code, || {
            match resource(
                rule_array_count,
                rule_array,
                resource_name_length,
                resource_name,
            ) {
                Ok(()) => {
                    ALLOCATED.with(|a| a.set(false));
                    softcca_card::Codes::OK
                }
                Err(codes) => codes,
            }
        })
    }
}
