//! Reads of user memory into a record's string slots. Every helper here
//! accepts any address (a bad or unmapped one fails cleanly), so the wrappers
//! are safe to call with whatever a syscall argument held.

use aya_ebpf::helpers::generated::{
    bpf_probe_read_user as bpf_probe_read_user_raw, bpf_probe_read_user_str,
};
use exporter_common::records::{
    ARRAY_ELEM_LEN_MASK, ARRAY_ELEM_MAX, ARRAY_MAX_ELEMS, ARRAY_START_MASK, SOCKADDR_MAX,
    STR_ARRAY, STR_BYTES, STR_FAULT, STR_MASK, STR_MAX, STR_TRUNCATED,
};

/// Reads `n` bytes (at most `SOCKADDR_MAX`) of user memory into `dst`;
/// returns the bytes read and the `STR_*` flags.
#[inline(always)]
pub fn read_bytes(ptr: *const u8, n: i32, dst: &mut [u8; STR_MAX]) -> (u16, u8) {
    if ptr.is_null() || n <= 0 {
        return (0, STR_BYTES | STR_FAULT);
    }
    let n = (n as usize).min(SOCKADDR_MAX);
    // SAFETY: writes at most SOCKADDR_MAX (< STR_MAX) bytes into `dst`; the
    // helper checks the user address.
    let r =
        unsafe { bpf_probe_read_user_raw(dst.as_mut_ptr() as *mut _, n as u32, ptr as *const _) };
    if r < 0 {
        return (0, STR_BYTES | STR_FAULT);
    }
    (n as u16, STR_BYTES)
}

/// Reads one `T` (plain data: any bit pattern is a value) of user memory.
/// The destination is zeroed first: the compiler may read it back on the
/// failure path, and the 5.10 verifier rejects a read of stack it never saw
/// written.
#[inline(always)]
pub fn read<T: Copy>(ptr: *const T) -> Option<T> {
    let mut v = core::mem::MaybeUninit::<T>::uninit();
    crate::kernel::zero(&mut v);
    // SAFETY: writes at most size_of::<T>() bytes into `v`; the helper checks
    // the user address.
    let r = unsafe {
        bpf_probe_read_user_raw(
            v.as_mut_ptr() as *mut _,
            core::mem::size_of::<T>() as u32,
            ptr as *const _,
        )
    };
    // SAFETY: `v` was zeroed and `T` is plain data; on success the helper
    // wrote all of it.
    (r == 0).then(|| unsafe { v.assume_init() })
}

/// Reads a NULL-terminated array of user strings (argv, envp) into `dst`, NUL
/// after each element; returns the bytes used, the flags and the element count
/// (`ARRAY_MAX_ELEMS + 1` when there were more).
#[inline(always)]
pub fn read_str_array(ptr: *const u8, dst: &mut [u8; STR_MAX]) -> (u16, u8, u8) {
    let mut flags = STR_ARRAY;
    if ptr.is_null() {
        return (0, flags | STR_FAULT, 0);
    }
    let mut pos = 0usize;
    let mut count = 0u8;
    for i in 0..=ARRAY_MAX_ELEMS as usize {
        let Some(p) = read::<u64>((ptr as *const u64).wrapping_add(i)) else {
            flags |= STR_FAULT;
            break;
        };
        if p == 0 {
            break;
        }
        if i == ARRAY_MAX_ELEMS as usize {
            flags |= STR_TRUNCATED;
            count += 1;
            break;
        }
        count += 1;
        // An element starts only where a whole ARRAY_ELEM_MAX still fits.
        if pos >= STR_MAX - ARRAY_ELEM_MAX {
            flags |= STR_TRUNCATED;
            continue;
        }
        // Masked on a value the compiler cannot see through: it knows `pos`
        // is below the bound already and would drop the mask, and the
        // verifier, which learned the bound on another register, would
        // refuse the write below (5.10 and 6.1 did).
        // SAFETY: a read of a local.
        let off = unsafe { core::ptr::read_volatile(&pos) } & ARRAY_START_MASK;
        // SAFETY: `off + ARRAY_ELEM_MAX <= STR_MAX`, so the copy stays in `dst`;
        // the helper checks the user address.
        let n = unsafe {
            bpf_probe_read_user_str(
                dst.as_mut_ptr().add(off) as *mut _,
                ARRAY_ELEM_MAX as u32,
                p as *const _,
            )
        };
        if n < 0 {
            flags |= STR_FAULT;
            break;
        }
        // An empty element: 0 on the kernels that did not count its NUL
        // (see `read_str`), which their copy wrote all the same.
        let n = n.max(1);
        if n as usize >= ARRAY_ELEM_MAX {
            flags |= STR_TRUNCATED;
        }
        pos = off + (n as usize & ARRAY_ELEM_LEN_MASK).min(ARRAY_ELEM_MAX);
    }
    (pos as u16, flags, count)
}

/// Reads a NUL-terminated user string into `dst`; returns its length without
/// the NUL and the `STR_*` flags.
#[inline(always)]
pub fn read_str(ptr: *const u8, dst: &mut [u8; STR_MAX]) -> (u16, u8) {
    if ptr.is_null() {
        return (0, STR_FAULT);
    }
    // SAFETY: writes at most STR_MAX bytes into `dst`; the helper checks the
    // user address.
    let n = unsafe {
        bpf_probe_read_user_str(dst.as_mut_ptr() as *mut _, STR_MAX as u32, ptr as *const _)
    };
    // An empty string: 1 (its NUL) from the helper, or 0 on kernels whose
    // `strncpy_from_user_nofault` did not count the NUL of an empty string
    // (6.12 and older, fixed since).
    if n == 0 {
        return (0, 0);
    }
    if n < 0 {
        return (0, STR_FAULT);
    }
    let len = (n as usize - 1) & STR_MASK;
    // A full slot is ambiguous: look at the byte after the copied part.
    let flags = if n as usize >= STR_MAX {
        // `unwrap_or`: a defined value when the read fails (a match on the
        // Option lets the compiler test an undefined payload, read from
        // stack the 5.10 verifier never saw written).
        if read::<u8>(ptr.wrapping_add(STR_MAX - 1)).unwrap_or(1) == 0 {
            0
        } else {
            STR_TRUNCATED
        }
    } else {
        0
    };
    (len as u16, flags)
}
