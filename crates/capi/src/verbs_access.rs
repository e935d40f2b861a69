//! Access_Control_Maintenance (CSUAACM): the role and profile queries opencryptoki 3.25+
//! issues at start (LSTROLES, then GET-ROLE of each role until it finds the default role).
//!
//! The export reads IBM's parameters (see [`crate::ffi`]) into the card's parameter block
//! (`softcca_card::verbs::acm`: `[Bytes name, Int output_data_length]` → `[Bytes
//! output_data]`) and writes the output back: `name` is read at IBM's 8 bytes (NULL: no
//! name, which the list and count keywords do not use; GET-ROLE and GET-PROF then answer
//! 8/72); `output_data_length` is the capacity on entry (IBM: a multiple of four, else the
//! card answers 8/72) and the output's length on return.

use std::ffi::{c_long, c_uchar};

use softcca_wire::Param;

use crate::ffi::{self, Dest};

/// IBM's size of a role or profile name.
const NAME: usize = 8;

/// Access_Control_Maintenance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn CSUAACM(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    exit_data_length: *mut c_long,
    exit_data: *mut c_uchar,
    rule_array_count: *mut c_long,
    rule_array: *mut c_uchar,
    name: *mut c_uchar,
    output_data_length: *mut c_long,
    output_data: *mut c_uchar,
) {
    let _ = (exit_data_length, exit_data);
    // SAFETY: IBM's parameters, each NULL or valid for what the prototype says (the ABI
    // conventions of the crate); every access goes through the checked readers.
    unsafe {
        ffi::run(return_code, reason_code, || {
            ffi::verb("CSUAACM", || {
                let rules = ffi::read_rules(rule_array_count, rule_array)?;
                let name = if name.is_null() {
                    Vec::new()
                } else {
                    ffi::read_fixed(name, NAME)?
                };
                let out = Dest::var(output_data_length, output_data)?;
                let Dest::Var { cap, .. } = out else {
                    return Err(ffi::BAD_LENGTH);
                };
                let cap = Param::Int(i32::try_from(cap).unwrap_or(i32::MAX));
                Ok((rules, vec![Param::Bytes(name), cap], vec![out]))
            })
        })
    }
}
