//! Copies between the caller's memory and the library's through the kernel
//! (`process_vm_readv`/`process_vm_writev` on this very process): an address the caller got
//! wrong — unmapped, read-only, a rule array or token buffer shorter than its count or
//! length field, ending at a guard page — becomes an error the verb reports with IBM's code,
//! never a crash of the application.
//!
//! Where the kernel refuses the calls (a seccomp profile without them: ENOSYS or EPERM),
//! the library falls back to ordinary loads and stores, trusting the caller as IBM's library
//! does.

use std::ffi::c_long;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the kernel refused the process_vm calls.
static DIRECT: AtomicBool = AtomicBool::new(false);

enum Copy {
    Done,
    Fault,
    Unavailable,
}

/// One kernel copy of `len` bytes; `write` chooses the direction (remote = caller memory).
fn kernel_copy(local: *mut u8, remote: *mut u8, len: usize, write: bool) -> Copy {
    let mut done = 0usize;
    while done < len {
        let local_iov = libc::iovec {
            iov_base: local.wrapping_add(done).cast(),
            iov_len: len - done,
        };
        let remote_iov = libc::iovec {
            iov_base: remote.wrapping_add(done).cast(),
            iov_len: len - done,
        };
        // SAFETY: the kernel checks the remote range and reports a fault instead of touching
        // an unmapped or protected page; the local range is this library's own buffer of
        // `len` bytes (the callers below pass a Vec or slice of that length).
        let n = unsafe {
            if write {
                libc::process_vm_writev(libc::getpid(), &local_iov, 1, &remote_iov, 1, 0)
            } else {
                libc::process_vm_readv(libc::getpid(), &local_iov, 1, &remote_iov, 1, 0)
            }
        };
        match usize::try_from(n) {
            Ok(0) => return Copy::Fault,
            Ok(k) => done += k,
            Err(_) => {
                let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
                return match errno {
                    libc::ENOSYS | libc::EPERM => Copy::Unavailable,
                    libc::EINTR => continue,
                    _ => Copy::Fault,
                };
            }
        }
    }
    Copy::Done
}

/// Reads `n` bytes at `src`; `None` when they are not all readable.
///
/// # Safety
/// Only when the kernel copy is unavailable: `src` is readable for `n` bytes.
pub(crate) unsafe fn read(src: *const u8, n: usize) -> Option<Vec<u8>> {
    if n == 0 {
        return Some(Vec::new());
    }
    if src.is_null() {
        return None;
    }
    let mut buf = vec![0u8; n];
    if !DIRECT.load(Ordering::Relaxed) {
        match kernel_copy(buf.as_mut_ptr(), src.cast_mut(), n, false) {
            Copy::Done => return Some(buf),
            Copy::Fault => return None,
            Copy::Unavailable => DIRECT.store(true, Ordering::Relaxed),
        }
    }
    // SAFETY: the caller's contract for the fallback: src is readable for n bytes.
    Some(unsafe { std::slice::from_raw_parts(src, n) }.to_vec())
}

/// Writes `bytes` at `dst`; false (and nothing written) when the range is not writable.
///
/// The range is probed first through the kernel — its current bytes read and written back
/// unchanged — and then written with ordinary stores, so that tools that follow the
/// program's memory (valgrind) see the outputs as written.
///
/// # Safety
/// Only when the kernel copy is unavailable: `dst` is writable for `bytes.len()` bytes.
pub(crate) unsafe fn write(dst: *mut u8, bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return true;
    }
    if dst.is_null() {
        return false;
    }
    if !DIRECT.load(Ordering::Relaxed) {
        let mut current = vec![0u8; bytes.len()];
        let probe = match kernel_copy(current.as_mut_ptr(), dst, bytes.len(), false) {
            Copy::Done => kernel_copy(current.as_mut_ptr(), dst, bytes.len(), true),
            other => other,
        };
        match probe {
            Copy::Done => {}
            Copy::Fault => return false,
            Copy::Unavailable => DIRECT.store(true, Ordering::Relaxed),
        }
    }
    // SAFETY: the kernel just read and wrote this whole range (or, where it refuses to,
    // the caller's contract says dst is writable for the bytes).
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
    true
}

/// Reads a `long` at any alignment.
///
/// # Safety
/// As [`read`] for the long's bytes.
pub(crate) unsafe fn read_long(p: *const c_long) -> Option<c_long> {
    // SAFETY: the caller's contract is read's.
    let b = unsafe { read(p.cast(), size_of::<c_long>()) }?;
    Some(c_long::from_ne_bytes(b.try_into().ok()?))
}

/// Writes a `long` at any alignment.
///
/// # Safety
/// As [`write`] for the long's bytes.
pub(crate) unsafe fn write_long(p: *mut c_long, v: c_long) -> bool {
    // SAFETY: the caller's contract is write's.
    unsafe { write(p.cast(), &v.to_ne_bytes()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_and_unwritable_memory_is_an_error() {
        // SAFETY: address 8 is never mapped; the kernel reports the fault.
        unsafe {
            assert_eq!(read(8 as *const u8, 4), None);
            assert!(!write(8 as *mut u8, b"abcd"));
            let x: c_long = 42;
            assert_eq!(read_long(&x), Some(42));
        }
    }
}
