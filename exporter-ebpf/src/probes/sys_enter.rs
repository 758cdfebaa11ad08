//! `raw_syscalls:sys_enter`:
//! `TRACE_EVENT_FN(sys_enter, TP_PROTO(struct pt_regs *regs, long id), ...)`
//! (include/trace/events/syscalls.h).
//!
//! Captures the six argument registers and the path strings into the thread's
//! `PENDING` slot; the record is sent at sys_exit with the return value.

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user, generated::bpf_probe_read_user_str},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use exporter_common::{
    config::{KernelError, SYSCALL_CONF_LEN, SyscallConf},
    offsets::REGS_WINDOW_LEN,
    records::{
        FLAG_NO_RETURN, MAX_STR_ARGS, NO_ARG, RecordKind, STR_FAULT, STR_MAX, STR_TRUNCATED,
        SyscallBuf,
    },
};

use crate::{
    emit::count_error,
    globals::off,
    kernel::read,
    maps::{PENDING, SYSCALL_CONF, SYSCALL_INIT},
    probes::sys_exit::send_syscall,
    scope::in_scope,
};

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    match try_sys_enter(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sys_enter(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let id: i64 = ctx.arg(1);
    if !(0..SYSCALL_CONF_LEN as i64).contains(&id) {
        return Ok(0);
    }
    let nr = id as u32;
    // Selection first: an unselected syscall costs this lookup and nothing else.
    let conf = SyscallConf(*SYSCALL_CONF.get(nr).ok_or(0)?);
    if !conf.selected() {
        return Ok(0);
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    if !in_scope((pid_tgid >> 32) as u32) {
        return Ok(0);
    }
    let buf = pending_slot(pid_tgid as u32).ok_or(0)?;

    let regs: *const u8 = ctx.arg(0);
    let rec = &mut buf.rec;
    rec.nr = nr;
    // One helper call for all six registers: user space checked that they
    // lie in this window, 8-byte aligned.
    let base = off!(regs_window);
    let window = unsafe { read::<[u64; REGS_WINDOW_LEN / 8]>(regs, base) }.unwrap_or_default();
    let reg = |off: usize| window[(off.wrapping_sub(base) / 8) & (REGS_WINDOW_LEN / 8 - 1)];
    rec.args = [
        reg(off!(regs_di)),
        reg(off!(regs_si)),
        reg(off!(regs_dx)),
        reg(off!(regs_r10)),
        reg(off!(regs_r8)),
        reg(off!(regs_r9)),
    ];
    for slot in 0..MAX_STR_ARGS {
        rec.str_arg[slot] = NO_ARG;
        rec.str_len[slot] = 0;
        rec.str_flags[slot] = 0;
        if let Some(arg) = conf.str_arg(slot) {
            let ptr = rec.args[arg] as *const u8;
            let (len, flags) = read_user_str(ptr, &mut buf.strs[slot]);
            rec.str_arg[slot] = arg as u8;
            rec.str_len[slot] = len;
            rec.str_flags[slot] = flags;
        }
    }
    rec.header.kind = RecordKind::Syscall as u16;
    if conf.no_return() {
        send_syscall(buf, 0, FLAG_NO_RETURN);
    }
    Ok(0)
}

/// The thread's slot, allocated on its first traced syscall.
#[inline(always)]
fn pending_slot(tid: u32) -> Option<&'static mut SyscallBuf> {
    if let Some(p) = PENDING.get_ptr_mut(tid) {
        return Some(unsafe { &mut *p });
    }
    let init = SYSCALL_INIT.get_ptr(0)?;
    // By reference: the slot is larger than the 512-byte BPF stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let inserted = PENDING.insert(tid, unsafe { &*init }, BPF_NOEXIST as u64);
    if inserted.is_err() {
        count_error(KernelError::PendingFull);
        return None;
    }
    PENDING.get_ptr_mut(tid).map(|p| unsafe { &mut *p })
}

/// Reads a NUL-terminated user string into `dst`; returns its length without
/// the NUL and the `STR_*` flags.
#[inline(always)]
fn read_user_str(ptr: *const u8, dst: &mut [u8; STR_MAX]) -> (u16, u8) {
    if ptr.is_null() {
        return (0, STR_FAULT);
    }
    let n = unsafe {
        bpf_probe_read_user_str(dst.as_mut_ptr() as *mut _, STR_MAX as u32, ptr as *const _)
    };
    if n <= 0 {
        return (0, STR_FAULT);
    }
    let len = (n as usize - 1) & (STR_MAX - 1);
    // A full slot is ambiguous: look at the byte after the copied part.
    let flags = if n as usize >= STR_MAX {
        match unsafe { bpf_probe_read_user::<u8>(ptr.add(STR_MAX - 1)) } {
            Ok(0) => 0,
            _ => STR_TRUNCATED,
        }
    } else {
        0
    };
    (len as u16, flags)
}
