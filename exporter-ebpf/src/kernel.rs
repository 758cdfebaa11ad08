//! Reads of kernel memory through the offsets user space resolved from BTF.
//!
//! `bpf_probe_read_kernel` accepts any address and fails cleanly on a bad
//! one, so these wrappers are safe to call with whatever pointer was read.

use core::mem::MaybeUninit;

use aya_ebpf::helpers::{bpf_get_current_task, generated::bpf_probe_read_kernel};

/// Reads a `T` (plain data: any bit pattern is a value) at `base + offset`
/// in kernel memory; `None` on a null base or a failed read. The destination
/// is zeroed first: the 5.10 verifier rejects a read of stack it never saw
/// written, which the compiler may emit on the failure path.
#[inline(always)]
pub fn read<T: Copy>(base: *const u8, offset: usize) -> Option<T> {
    if base.is_null() {
        return None;
    }
    let mut v = MaybeUninit::<T>::zeroed();
    // SAFETY: the helper checks the address itself and returns an error for a
    // bad one; it writes at most size_of::<T>() bytes into `v`;
    // `wrapping_add` computes an address without dereferencing it.
    let r = unsafe {
        bpf_probe_read_kernel(
            v.as_mut_ptr() as *mut _,
            core::mem::size_of::<T>() as u32,
            base.wrapping_add(offset) as *const _,
        )
    };
    // SAFETY: `v` was zeroed and `T` is plain data; on success the helper
    // wrote all of it.
    (r == 0).then(|| unsafe { v.assume_init() })
}

/// Reads a pointer at `base + offset`; null when it cannot be read.
#[inline(always)]
pub fn read_ptr(base: *const u8, offset: usize) -> *const u8 {
    read::<*const u8>(base, offset).unwrap_or(core::ptr::null())
}

/// The current `task_struct`.
#[inline(always)]
pub fn current_task() -> *const u8 {
    // SAFETY: the helper has no preconditions; the address is only ever read
    // through `read`.
    unsafe { bpf_get_current_task() as *const u8 }
}
