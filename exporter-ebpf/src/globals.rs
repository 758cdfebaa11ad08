//! Read-only globals set by user space at load time (`.rodata`, frozen before
//! the programs are verified). Read them with `read_volatile` so the compiler
//! does not fold in the zero they are declared with.

use exporter_common::{
    events::{EventKind, KERNEL_EVENT_SLOTS, selected_slot},
    offsets::KernelOffsets,
    scope::ScopeConf,
};

#[unsafe(no_mangle)]
static SELF_TGID: u32 = 0;
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 0;
/// Non-zero for each kernel event (other than syscalls) to write.
#[unsafe(no_mangle)]
static SELECTED: [u8; KERNEL_EVENT_SLOTS] = [0; KERNEL_EVENT_SLOTS];
/// The scope; read its fields with [`sc!`].
#[unsafe(no_mangle)]
pub(crate) static SCOPE: ScopeConf = ScopeConf::ZERO;
#[unsafe(no_mangle)]
pub(crate) static OFFSETS: KernelOffsets = KernelOffsets::ZERO;

#[inline(always)]
pub fn self_tgid() -> u32 {
    // SAFETY: a read of a static that lives for the program's life.
    unsafe { core::ptr::read_volatile(&raw const SELF_TGID) }
}

/// Whether kernel event `e` is to be written.
#[inline(always)]
pub fn selected(e: EventKind) -> bool {
    // SAFETY: as above; the index is a constant below KERNEL_EVENT_SLOTS
    // (checked by the events' unit test).
    unsafe { core::ptr::read_volatile(&raw const SELECTED[selected_slot(e)]) != 0 }
}

#[inline(always)]
pub fn wakeup_bytes() -> u64 {
    // SAFETY: as above.
    unsafe { core::ptr::read_volatile(&raw const WAKEUP_BYTES) }
}

/// One field of [`KernelOffsets`] (`task_tgid`, `regs_args[i]`), as a `usize`
/// byte offset.
macro_rules! off {
    ($($path:tt)+) => {{
        // SAFETY: a read of a static that lives for the program's life.
        #[allow(unused_unsafe)]
        let v = unsafe { core::ptr::read_volatile(&raw const $crate::globals::OFFSETS.$($path)+) };
        v as usize
    }};
}
pub(crate) use off;

/// One field of [`SCOPE`] (a path such as `keys` or `comms[i].mask`).
macro_rules! sc {
    ($($path:tt)+) => {{
        // SAFETY: a read of a static that lives for the program's life.
        #[allow(unused_unsafe)]
        let v = unsafe { core::ptr::read_volatile(&raw const $crate::globals::SCOPE.$($path)+) };
        v
    }};
}
pub(crate) use sc;
