//! `libcsulcca.so`: IBM's CCA host library interface for C, over the softcca host library.
//!
//! Every CCA verb IBM's Linux library exports is here under its IBM name with IBM's
//! prototype (`include/csulcca.h`): every parameter by reference, rule arrays of 8-byte
//! space-padded keywords, return and reason codes as IBM documents them. The verbs softcca
//! implements are marshalled into the card's parameter blocks and sent to the card; every
//! other name answers IBM's "not supported" code (8/2) and touches nothing, so a program
//! (opencryptoki's CCA token resolves 97 names at load) always loads.
//!
//! # ABI conventions
//! - `return_code` or `reason_code` NULL: the call returns at once and touches nothing.
//! - Every other pointer is checked for NULL before use. A NULL or invalid rule-array count
//!   (negative, above 64) is 8/35; a NULL, negative or oversized length, or a NULL buffer
//!   that a non-zero length sizes, is 8/72. Exactly `rule_array_count` × 8 bytes of the rule
//!   array and exactly `*x_length` bytes of a buffer are read; a parameter without a length
//!   is read at IBM's fixed size (64 bytes for a DES/AES key identifier or label).
//! - Outputs are written only when the verb succeeds (return code 0 or 4), never beyond the
//!   caller's length; an output that does not fit is 8/72 and nothing is written.
//!   `exit_data_length`/`exit_data` are never read or written (IBM: not used).
//! - The caller's memory is read and written through the kernel (`process_vm_readv`/
//!   `process_vm_writev` on this process, see `mem`): a buffer shorter than its length, a
//!   rule array shorter than its count, an unmapped or read-only address gives IBM's code
//!   for that parameter (8/35 for the rule array, 8/72 otherwise), never a crash. (Where a
//!   seccomp profile forbids those calls the library trusts the caller, as IBM's does.)
//! - A panic never crosses into C: the call answers 12/338.
//! - Thread-safe: any number of threads may call at once; one connection serves them all.
//!
//! # Finding the card
//! See [`conn`]: `SOFTCCA_SOCKET`, `SOFTCCA_HOME` (+ `SOFTCCA_MODE=embedded`),
//! `SOFTCCA_CONF` (default `/etc/softcca/csulcca.conf`), default `./softcca-data/card.sock`.
//!
//! # Building and using
//! ```text
//! cargo build --release -p softcca-capi      # target/release/libcsulcca.so
//! softcca serve &                            # the card daemon, ./softcca-data/card.sock
//! cc -I crates/capi/include prog.c -L target/release -lcsulcca
//! LD_LIBRARY_PATH=target/release ./a.out     # or SOFTCCA_SOCKET=/path/card.sock ./a.out
//! ```
//! Programs that `dlopen("libcsulcca.so")` (opencryptoki's CCA token) find it on the loader
//! path: install it as `/usr/lib/libcsulcca.so` or point `LD_LIBRARY_PATH` at it.
//!
//! The library is linked with `-z nodelete`: `dlclose` leaves it mapped, so a program that
//! unloads and reloads it (opencryptoki on every `C_Finalize`/`C_Initialize`) keeps its one
//! connection and never runs code that was unmapped.

#![allow(non_snake_case)]
#![allow(clippy::missing_safety_doc)] // The ABI conventions above are the safety contract.

pub mod conn;
mod ffi;
mod mem;
pub mod pka;
pub mod unsupported;
pub mod verbs_access;
pub mod verbs_facility;
pub mod verbs_keys;
pub mod verbs_sym;

// Every export at the crate root too, as C sees them (Rust tests call them through the rlib).
pub use pka::*;
pub use unsupported::*;
pub use verbs_access::*;
pub use verbs_facility::*;
pub use verbs_keys::*;
pub use verbs_sym::*;

/// Declares exports that answer IBM's "not supported" code (8/2) and touch nothing but the
/// return and reason codes.
macro_rules! not_supported {
    ($($name:ident($rc:ident: $rct:ty, $rs:ident: $rst:ty $(, $p:ident: $t:ty)* $(,)?);)*) => {$(
        #[doc = concat!("IBM's `", stringify!($name), "`: not supported by softcca (8/2).")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($rc: $rct, $rs: $rst $(, $p: $t)*) {
            $(let _ = $p;)*
            // SAFETY: the return and reason code pointers are NULL or writable longs (the ABI
            // conventions); nothing else is touched.
            unsafe { $crate::ffi::not_supported($rc, $rs) }
        }
    )*};
}
pub(crate) use not_supported;
