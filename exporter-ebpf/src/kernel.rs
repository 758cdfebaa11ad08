//! Reads of kernel memory through the offsets user space resolved from BTF.
//!
//! `bpf_probe_read_kernel` accepts any address and fails cleanly on a bad
//! one, so these wrappers are safe to call with whatever pointer was read.

use core::mem::MaybeUninit;

use aya_ebpf::helpers::{bpf_get_current_task, generated::bpf_probe_read_kernel};

/// A `T` of zero bytes, written with inline stores: `MaybeUninit::zeroed`
/// of anything past a few bytes becomes a call to the eBPF `memset`
/// subprogram, which loops byte by byte (5% of a traced getppid's time went
/// to zeroing the argument registers' window that way).
/// In place: a `MaybeUninit` returned by value is copied, and the copy of
/// known zeros becomes a memset again.
#[inline(always)]
pub fn zero<T>(v: &mut MaybeUninit<T>) {
    let size = core::mem::size_of::<T>();
    let p = v.as_mut_ptr() as *mut u8;
    let mut i = 0;
    if core::mem::align_of::<T>() >= 8 {
        while i + 8 <= size {
            // SAFETY: 8 aligned bytes inside `v` (T's alignment is 8 and `i`
            // a multiple of 8). Volatile: the compiler must not merge the
            // stores back into a memset call.
            unsafe { core::ptr::write_volatile(p.add(i) as *mut u64, 0) };
            i += 8;
        }
    }
    while i < size {
        // SAFETY: one byte inside `v`.
        unsafe { core::ptr::write_volatile(p.add(i), 0) };
        i += 1;
    }
}

/// Reads a `T` (plain data: any bit pattern is a value) at `base + offset`
/// in kernel memory; `None` on a null base or a failed read. The destination
/// is zeroed first: the 5.10 verifier rejects a read of stack it never saw
/// written, which the compiler may emit on the failure path.
#[inline(always)]
pub fn read<T: Copy>(base: *const u8, offset: usize) -> Option<T> {
    if base.is_null() {
        return None;
    }
    let mut v = MaybeUninit::<T>::uninit();
    zero(&mut v);
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

/// Reads a `T` (plain data) at `base + offset`; zero when it cannot be
/// read (the helper zeroes its destination on a failure). No branch on the
/// outcome: a branch let the compiler read, on the failure path, stack the
/// older verifiers (5.10, 6.1) never saw written, and refuse the program.
#[inline(always)]
pub fn read_or_zero<T: Copy>(base: *const u8, offset: usize) -> T {
    let mut v = MaybeUninit::<T>::uninit();
    zero(&mut v);
    // SAFETY: as in `read`; a null base is an address the helper refuses
    // cleanly, leaving the zeros.
    unsafe {
        bpf_probe_read_kernel(
            v.as_mut_ptr() as *mut _,
            core::mem::size_of::<T>() as u32,
            base.wrapping_add(offset) as *const _,
        );
        v.assume_init()
    }
}

/// Reads a pointer at `base + offset`; null when it cannot be read.
#[inline(always)]
pub fn read_ptr(base: *const u8, offset: usize) -> *const u8 {
    read_or_zero::<*const u8>(base, offset)
}

/// The current `task_struct`.
#[inline(always)]
pub fn current_task() -> *const u8 {
    // SAFETY: the helper has no preconditions; the address is only ever read
    // through `read`.
    unsafe { bpf_get_current_task() as *const u8 }
}

/// Reads the NUL-terminated kernel string at `src` into `dst` (`N` a power
/// of two); its length without the NUL, whether it was cut at `N` bytes and
/// whether the read failed. A string that filled `dst` exactly is told from
/// a cut one by the byte after it.
#[inline(always)]
pub fn read_str<const N: usize>(src: *const u8, dst: &mut [u8; N]) -> (u16, bool, bool) {
    // SAFETY: writes at most N bytes into the N-byte `dst`; the helper
    // checks the kernel address.
    let n = unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_kernel_str(
            dst.as_mut_ptr() as *mut _,
            N as u32,
            src as *const _,
        )
    };
    if n <= 0 {
        return (0, false, true);
    }
    let cut = n as usize >= N && read::<u8>(src, N - 1) != Some(0);
    (((n as usize - 1) & (N - 1)) as u16, cut, false)
}
