//! Read-only globals set by user space at load time (`.rodata`, frozen before
//! the programs are verified). Read them with `read_volatile` so the compiler
//! does not fold in the zero they are declared with.

use exporter_common::{offsets::KernelOffsets, scope::ScopeConf};

#[unsafe(no_mangle)]
static SELF_TGID: u32 = 0;
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 0;
#[unsafe(no_mangle)]
static SCHED_SELECTED: u32 = 0;
/// The scope; read its fields with [`sc!`].
#[unsafe(no_mangle)]
pub(crate) static SCOPE: ScopeConf = ScopeConf::ZERO;
#[unsafe(no_mangle)]
pub(crate) static OFFSETS: KernelOffsets = KernelOffsets {
    task_real_parent: 0,
    task_tgid: 0,
    task_pid: 0,
    task_group_leader: 0,
    task_nsproxy: 0,
    task_thread_pid: 0,
    task_mm: 0,
    task_exit_code: 0,
    task_signal: 0,
    nsproxy_uts_ns: 0,
    nsproxy_mnt_ns: 0,
    uts_ns_nodename: 0,
    mnt_ns_inum: 0,
    pid_level: 0,
    pid_numbers: 0,
    upid_size: 0,
    upid_nr: 0,
    upid_ns: 0,
    pid_ns_inum: 0,
    mm_arg_start: 0,
    mm_arg_end: 0,
    mm_env_start: 0,
    mm_env_end: 0,
    bprm_filename: 0,
    bprm_argc: 0,
    bprm_envc: 0,
    signal_live: 0,
    regs_di: 0,
    regs_si: 0,
    regs_dx: 0,
    regs_r10: 0,
    regs_r8: 0,
    regs_r9: 0,
    exit_has_group_dead: 0,
    regs_window: 0,
};

#[inline(always)]
pub fn self_tgid() -> u32 {
    unsafe { core::ptr::read_volatile(&raw const SELF_TGID) }
}

/// Whether scheduler event `id` is to be written (bit `id - SCHED_ID_BASE`).
#[inline(always)]
pub fn sched_selected(id: u32) -> bool {
    let mask = unsafe { core::ptr::read_volatile(&raw const SCHED_SELECTED) };
    let bit = id.wrapping_sub(exporter_common::events::SCHED_ID_BASE);
    bit < 32 && mask & (1 << bit) != 0
}

#[inline(always)]
pub fn wakeup_bytes() -> u64 {
    unsafe { core::ptr::read_volatile(&raw const WAKEUP_BYTES) }
}

/// One field of [`KernelOffsets`], as a `usize` byte offset.
macro_rules! off {
    ($field:ident) => {{
        #[allow(unused_unsafe)]
        let v = unsafe { core::ptr::read_volatile(&raw const $crate::globals::OFFSETS.$field) };
        v as usize
    }};
}
pub(crate) use off;

/// One field of [`SCOPE`] (a path such as `keys` or `comms[i].mask`).
macro_rules! sc {
    ($($path:tt)+) => {{
        #[allow(unused_unsafe)]
        let v = unsafe { core::ptr::read_volatile(&raw const $crate::globals::SCOPE.$($path)+) };
        v
    }};
}
pub(crate) use sc;
