//! The one place where C's pointers become Rust values, and Rust values go back into C's
//! buffers. Every export goes through [`run`] (panic guard, return and reason codes), reads
//! its inputs with the `read_*` functions and hands its outputs to [`deliver`].
//!
//! The conventions (the crate documentation repeats them for C programmers):
//! - `return_code` or `reason_code` NULL: the export returns at once and touches nothing.
//! - Every other pointer is checked for NULL before it is read or written; a length is
//!   checked (not negative, not beyond what the bus carries) before the buffer it sizes is
//!   read, so a read never goes past what the caller said its buffer holds.
//! - Outputs are written only when the verb succeeded (return code below 8), and only after
//!   every output of the verb has been checked to fit: either all of them are written or
//!   none.
//! - A panic inside the library never unwinds into C: the export answers 12/338-class
//!   codes ([`INTERNAL`]) instead.

use std::ffi::{c_long, c_uchar};
use std::panic::{AssertUnwindSafe, catch_unwind};

use softcca_card::{Codes, Failure};

use crate::mem;
use softcca_wire::{MAX_PARAM_LEN, MAX_RULE_ARRAY, Param, VerbName, VerbRequest, VerbResponse};

/// What an export answers when the library itself failed (a panic caught at the boundary).
/// IBM's nearest documented answer is "the cryptographic facility is not available" (12/338);
/// the application sees a card it cannot use, never a crash.
pub(crate) const INTERNAL: Codes = Failure::CardUnavailable.codes();

/// The codes of a verb that failed before or after the card: the answer for C.
pub(crate) type Fail = Codes;

/// Failure shorthands: a NULL or out-of-range rule array or count is 8/35 (rule_array_count
/// not valid); a NULL, negative or too large length, or a NULL buffer it sizes, is 8/72
/// (length not valid). IBM is silent about NULL pointers (its library crashes on them);
/// these are the codes of the parameter class, which is what a caller can act upon.
pub(crate) const BAD_COUNT: Fail = Failure::RuleArrayCount.codes();
pub(crate) const BAD_LENGTH: Fail = Failure::Length.codes();
/// A NULL keyword-valued parameter (CSNBRNG's `form`, a key type): 8/33.
pub(crate) const BAD_KEYWORD: Fail = Failure::Keyword.codes();

/// Runs one export's `body` behind the panic guard and writes the codes it returns.
/// Nothing at all happens when `return_code` or `reason_code` is NULL.
///
/// # Safety
/// `return_code` and `reason_code` are NULL or point at writable `long`s; `body` upholds
/// the contracts of the `read_*` and [`deliver`] functions it calls.
pub(crate) unsafe fn run(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    body: impl FnOnce() -> Codes,
) {
    if return_code.is_null() || reason_code.is_null() {
        return;
    }
    let codes = catch_unwind(AssertUnwindSafe(body)).unwrap_or(INTERNAL);
    // SAFETY: both pointers are non-NULL; mem copies through the kernel, so a pointer that
    // is not writable is left alone instead of crashing the caller.
    unsafe {
        mem::write_long(return_code, c_long::from(codes.return_code));
        mem::write_long(reason_code, c_long::from(codes.reason_code));
    }
}

/// [`run`] for a verb softcca does not implement: IBM's "not supported" code, nothing else
/// touched.
///
/// # Safety
/// As [`run`].
pub(crate) unsafe fn not_supported(return_code: *mut c_long, reason_code: *mut c_long) {
    // SAFETY: the caller's contract is run's.
    unsafe { run(return_code, reason_code, || Failure::NotSupported.codes()) }
}

/// Reads a `long` the caller passes by reference.
///
/// # Safety
/// `p` is NULL or points at a readable `long`.
pub(crate) unsafe fn read_long(p: *const c_long, null: Fail) -> Result<c_long, Fail> {
    if p.is_null() {
        return Err(null);
    }
    // SAFETY: non-NULL; mem reports an unreadable address instead of faulting.
    unsafe { mem::read_long(p) }.ok_or(null)
}

/// Reads a length: not NULL, not negative, at most the bus's largest parameter.
///
/// # Safety
/// As [`read_long`].
pub(crate) unsafe fn read_length(p: *const c_long) -> Result<usize, Fail> {
    // SAFETY: the caller's contract is read_long's.
    let n = unsafe { read_long(p, BAD_LENGTH) }?;
    match usize::try_from(n) {
        Ok(n) if n <= MAX_PARAM_LEN as usize => Ok(n),
        _ => Err(BAD_LENGTH),
    }
}

/// Reads an integer parameter the card takes as `Param::Int` (a length, a block size, an
/// output buffer's size). A value beyond 32 bits is 8/72; an output size beyond 32 bits is
/// clamped by [`read_capacity`] instead.
///
/// # Safety
/// As [`read_long`].
pub(crate) unsafe fn read_int(p: *const c_long) -> Result<Param, Fail> {
    // SAFETY: the caller's contract is read_long's.
    let n = unsafe { read_long(p, BAD_LENGTH) }?;
    i32::try_from(n).map(Param::Int).map_err(|_| BAD_LENGTH)
}

/// Reads the size of an output buffer: negative is 8/72; a size beyond 32 bits is as good as
/// `i32::MAX` (nothing the card returns is that long).
///
/// # Safety
/// As [`read_long`].
pub(crate) unsafe fn read_capacity(p: *const c_long) -> Result<usize, Fail> {
    // SAFETY: the caller's contract is read_long's.
    let n = unsafe { read_long(p, BAD_LENGTH) }?;
    if n < 0 {
        return Err(BAD_LENGTH);
    }
    Ok(usize::try_from(n.min(c_long::from(i32::MAX))).unwrap_or(0))
}

/// Reads `n` bytes from `buf` (NULL is allowed when `n` is 0).
///
/// # Safety
/// `buf` is NULL or readable for `n` bytes.
pub(crate) unsafe fn read_fixed(buf: *const c_uchar, n: usize) -> Result<Vec<u8>, Fail> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if buf.is_null() {
        return Err(BAD_LENGTH);
    }
    // SAFETY: non-NULL; mem reports a buffer not readable for n bytes (shorter than its
    // length) instead of faulting.
    unsafe { mem::read(buf, n) }.ok_or(BAD_LENGTH)
}

/// Reads a byte string IBM passes as (length by reference, buffer).
///
/// # Safety
/// `len` is NULL or points at a readable `long`; `buf` is NULL or readable for that many
/// bytes.
pub(crate) unsafe fn read_bytes(len: *const c_long, buf: *const c_uchar) -> Result<Vec<u8>, Fail> {
    // SAFETY: the caller's contract covers both reads.
    unsafe {
        let n = read_length(len)?;
        read_fixed(buf, n)
    }
}

/// Reads a rule array: `count` × 8 bytes. NULL count, a negative count, or more than the
/// bus's 64 elements is 8/35, as is a NULL array with a count above 0. A count of 0 never
/// reads the array.
///
/// # Safety
/// `count` is NULL or points at a readable `long`; `array` is NULL or readable for
/// `count` × 8 bytes.
pub(crate) unsafe fn read_rules(
    count: *const c_long,
    array: *const c_uchar,
) -> Result<Vec<[u8; 8]>, Fail> {
    // SAFETY: the caller's contract covers the count.
    let n = unsafe { read_long(count, BAD_COUNT) }?;
    let n = match usize::try_from(n) {
        Ok(n) if n <= usize::from(MAX_RULE_ARRAY) => n,
        _ => return Err(BAD_COUNT),
    };
    if n == 0 {
        return Ok(Vec::new());
    }
    if array.is_null() {
        return Err(BAD_COUNT);
    }
    // SAFETY: non-NULL; a rule array shorter than its count (not readable for n × 8 bytes)
    // is reported by mem, not a fault: 8/35.
    let bytes = unsafe { mem::read(array, n * 8) }.ok_or(BAD_COUNT)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let mut e = [0u8; 8];
            e.copy_from_slice(c);
            e
        })
        .collect())
}

/// Where one output of a verb goes.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // Every kind is used once all verbs are marshalled.
pub(crate) enum Dest {
    /// A byte string with its length by reference: at most the length's value on entry
    /// (`cap`, read before the call), the actual length written back.
    Var {
        len: *mut c_long,
        buf: *mut c_uchar,
        cap: usize,
    },
    /// A buffer of IBM's fixed size (a 64-byte token, an 8-byte value): at most `n` bytes
    /// written, the rest left alone.
    Fixed { buf: *mut c_uchar, n: usize },
    /// An integer output.
    Long(*mut c_long),
    /// An output the C interface does not return.
    Ignore,
}

impl Dest {
    /// A variable-length output whose capacity is read now.
    ///
    /// # Safety
    /// As [`read_capacity`] for `len`.
    pub(crate) unsafe fn var(len: *mut c_long, buf: *mut c_uchar) -> Result<Dest, Fail> {
        // SAFETY: the caller's contract is read_capacity's.
        let cap = unsafe { read_capacity(len) }?;
        Ok(Dest::Var { len, buf, cap })
    }

    /// Whether `out` can be written here, without writing.
    fn fits(&self, out: &Param) -> bool {
        match (self, out) {
            (Dest::Var { len, buf, cap }, Param::Bytes(b)) => {
                !len.is_null() && b.len() <= *cap && (b.is_empty() || !buf.is_null())
            }
            (Dest::Fixed { buf, n }, Param::Bytes(b)) => {
                b.len() <= *n && (b.is_empty() || !buf.is_null())
            }
            (Dest::Long(p), Param::Int(_)) => !p.is_null(),
            (Dest::Ignore, _) => true,
            _ => false,
        }
    }

    /// Writes `out`; [`Dest::fits`] said yes. False when the caller's memory was not
    /// writable.
    ///
    /// # Safety
    /// The pointers are writable for what [`Dest::fits`] checked.
    unsafe fn write(&self, out: &Param) -> bool {
        match (self, out) {
            (Dest::Var { len, buf, .. }, Param::Bytes(b)) => {
                let n = c_long::try_from(b.len()).unwrap_or(c_long::MAX);
                // SAFETY: buf holds cap ≥ b.len() bytes by the caller's word (fits); mem
                // reports memory that is not writable instead of faulting.
                unsafe { mem::write(*buf, b) && mem::write_long(*len, n) }
            }
            (Dest::Fixed { buf, .. }, Param::Bytes(b)) => {
                // SAFETY: as above.
                unsafe { mem::write(*buf, b) }
            }
            (Dest::Long(p), Param::Int(v)) => {
                // SAFETY: as above.
                unsafe { mem::write_long(*p, c_long::from(*v)) }
            }
            _ => true,
        }
    }
}

/// Writes one output when it fits; says whether it did.
///
/// # Safety
/// As [`deliver`] for the one destination.
pub(crate) unsafe fn deliver_one(dest: Dest, out: &Param) -> bool {
    if !dest.fits(out) {
        return false;
    }
    // SAFETY: fits() checked NULL and size; mem reports unwritable memory.
    unsafe { dest.write(out) }
}

/// Writes rule-array elements a verb returns (CSUACFQ, CSNBKTP) and their number. IBM's
/// interface gives the rule array no size: the caller provides room for what IBM documents
/// for the keyword. Nothing is written when `count` is NULL, or `array` is NULL with
/// elements to write.
///
/// # Safety
/// `count` is NULL or a writable `long`; `array` is NULL or writable for `elements.len()` × 8
/// bytes.
pub(crate) unsafe fn write_rules(count: *mut c_long, array: *mut c_uchar, elements: &[[u8; 8]]) {
    if count.is_null() || (array.is_null() && !elements.is_empty()) {
        return;
    }
    let flat = elements.concat();
    let n = c_long::try_from(elements.len()).unwrap_or(0);
    // SAFETY: mem reports memory that is not writable instead of faulting.
    unsafe {
        if mem::write(array, &flat) {
            mem::write_long(count, n);
        }
    }
}

/// Sends one verb to the card of this process (see [`crate::conn`]).
pub(crate) fn call(name: &str, rule_array: Vec<[u8; 8]>, params: Vec<Param>) -> VerbResponse {
    let Some(verb) = VerbName::new(name) else {
        return response_of(Failure::NotSupported.codes());
    };
    match crate::conn::cca() {
        Ok(cca) => cca.call(VerbRequest {
            verb,
            rule_array,
            params,
        }),
        Err(codes) => response_of(codes),
    }
}

fn response_of(codes: Codes) -> VerbResponse {
    VerbResponse {
        return_code: codes.return_code,
        reason_code: codes.reason_code,
        rule_array: Vec::new(),
        outputs: Vec::new(),
    }
}

/// Writes a verb's outputs to their destinations, in order, when the verb succeeded and
/// every output fits; returns the codes for C. An answer whose outputs do not match the
/// destinations (a card of another version) is 12/338 with nothing written; an output larger
/// than the caller's buffer is 8/72 with nothing written.
///
/// # Safety
/// Every pointer in `dests` is NULL or writable for the size the destination names.
pub(crate) unsafe fn deliver(response: &VerbResponse, dests: &[Dest]) -> Codes {
    let codes = Codes::new(response.return_code, response.reason_code);
    if response.return_code >= 8 {
        return codes;
    }
    if response.outputs.len() != dests.len() {
        return INTERNAL;
    }
    if !dests.iter().zip(&response.outputs).all(|(d, o)| d.fits(o)) {
        return BAD_LENGTH;
    }
    for (d, o) in dests.iter().zip(&response.outputs) {
        // SAFETY: fits() checked NULL and size; mem reports unwritable memory.
        if !unsafe { d.write(o) } {
            return BAD_LENGTH;
        }
    }
    codes
}

/// [`run`] around [`verb`]: the body of most exports.
///
/// # Safety
/// As [`run`] and [`verb`].
pub(crate) unsafe fn export(
    return_code: *mut c_long,
    reason_code: *mut c_long,
    name: &str,
    prepare: impl FnOnce() -> Result<(Vec<[u8; 8]>, Vec<Param>, Vec<Dest>), Fail>,
) {
    // SAFETY: the caller's contract is run's and verb's.
    unsafe { run(return_code, reason_code, || verb(name, prepare)) }
}

/// `Param::Bytes` of a byte string with its length by reference.
///
/// # Safety
/// As [`read_bytes`].
pub(crate) unsafe fn bytes(len: *const c_long, buf: *const c_uchar) -> Result<Param, Fail> {
    // SAFETY: the caller's contract is read_bytes's.
    unsafe { read_bytes(len, buf) }.map(Param::Bytes)
}

/// `Param::Bytes` of a parameter of IBM's fixed size `n` (a 64-byte key identifier, an
/// 8-byte keyword, an 18-byte chaining vector). A NULL pointer is `null`'s code.
///
/// # Safety
/// As [`read_fixed`].
pub(crate) unsafe fn fixed(buf: *const c_uchar, n: usize, null: Fail) -> Result<Param, Fail> {
    // SAFETY: the caller's contract is read_fixed's.
    unsafe { read_fixed(buf, n) }
        .map(Param::Bytes)
        .map_err(|_| null)
}

/// A key identifier of IBM's fixed 64 bytes (a DES or AES token, or a key label). NULL is
/// 8/72.
///
/// # Safety
/// As [`read_fixed`] with 64 bytes.
pub(crate) unsafe fn key64(buf: *const c_uchar) -> Result<Param, Fail> {
    // SAFETY: the caller's contract is read_fixed's.
    unsafe { fixed(buf, 64, BAD_LENGTH) }
}

/// The common shape of an export: reads inputs, sends the verb, delivers its outputs.
///
/// # Safety
/// `prepare` reads only through the `read_*` functions under their contracts, and the
/// destinations it returns satisfy [`deliver`]'s contract.
pub(crate) unsafe fn verb(
    name: &str,
    prepare: impl FnOnce() -> Result<(Vec<[u8; 8]>, Vec<Param>, Vec<Dest>), Fail>,
) -> Codes {
    let (rules, params, dests) = match prepare() {
        Ok(p) => p,
        Err(codes) => return codes,
    };
    let response = call(name, rules, params);
    // SAFETY: the destinations satisfy deliver's contract (this function's contract).
    unsafe { deliver(&response, &dests) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_arrays_are_checked_before_reading() {
        let mut count: c_long = -1;
        let array = *b"AES     ";
        // SAFETY: count and array are live locals of the sizes given.
        unsafe {
            assert_eq!(read_rules(&count, array.as_ptr()), Err(BAD_COUNT));
            count = 65;
            assert_eq!(read_rules(&count, array.as_ptr()), Err(BAD_COUNT));
            count = 1;
            assert_eq!(read_rules(&count, std::ptr::null()), Err(BAD_COUNT));
            assert_eq!(read_rules(std::ptr::null(), array.as_ptr()), Err(BAD_COUNT));
            assert_eq!(read_rules(&count, array.as_ptr()), Ok(vec![array]));
            count = 0;
            assert_eq!(read_rules(&count, std::ptr::null()), Ok(vec![]));
        }
    }

    #[test]
    fn outputs_are_all_or_nothing() {
        let mut a = [0u8; 4];
        let mut a_len: c_long = 4;
        let mut b = [0u8; 2];
        let response = VerbResponse {
            return_code: 0,
            reason_code: 0,
            rule_array: vec![],
            outputs: vec![Param::Bytes(vec![1, 2, 3]), Param::Bytes(vec![4, 5, 6])],
        };
        // SAFETY: every pointer is a live local of the size given.
        let codes = unsafe {
            let dests = [
                Dest::var(&mut a_len, a.as_mut_ptr()).unwrap_or(Dest::Ignore),
                Dest::Fixed {
                    buf: b.as_mut_ptr(),
                    n: b.len(),
                },
            ];
            deliver(&response, &dests)
        };
        assert_eq!(codes, BAD_LENGTH);
        assert_eq!((a, a_len, b), ([0; 4], 4, [0; 2]));
    }
}
