//! Reads of kernel memory through the offsets user space resolved from BTF.
//!
//! `bpf_probe_read_kernel` accepts any address and fails cleanly on a bad
//! one, so these wrappers are safe to call with whatever pointer was read.

use aya_ebpf::helpers::{bpf_get_current_task, bpf_probe_read_kernel};

/// Reads a `T` at `base + offset` in kernel memory; `None` on a null base or
/// a failed read.
#[inline(always)]
pub fn read<T: Copy>(base: *const u8, offset: usize) -> Option<T> {
    if base.is_null() {
        return None;
    }
    // SAFETY: the helper checks the address itself and returns an error for a
    // bad one; `wrapping_add` computes an address without dereferencing it.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(offset) as *const T).ok() }
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
