//! `raw_syscalls:sys_exit`:
//! `TRACE_EVENT_FN(sys_exit, TP_PROTO(struct pt_regs *regs, long ret), ...)`
//! (include/trace/events/syscalls.h).
//!
//! Completes the syscall captured at entry: one event per completed syscall.
//! A thread with no active slot (not in scope at entry, or a fork child returning
//! from a clone it never entered) is skipped.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::raw_tracepoint, programs::RawTracePointContext,
};
use exporter_common::records::{
    MAX_STR_ARGS, NO_ARG, RecordKind, STR_MAX, SyscallBuf, SyscallRecord,
};

use crate::{emit::output, kernel::fill_context_cached, maps::PENDING};

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    match try_sys_exit(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sys_exit(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let tid = bpf_get_current_pid_tgid() as u32;
    let buf = unsafe { &mut *PENDING.get_ptr_mut(tid).ok_or(0)? };
    if buf.rec.header.kind != RecordKind::Syscall as u16 {
        return Ok(0);
    }
    send_syscall(buf, ctx.arg(1), 0);
    Ok(0)
}

/// Fills the context and return value of the captured syscall, sends it from
/// the slot itself (no copy to a scratch buffer) and marks the slot idle.
#[inline(always)]
pub fn send_syscall(buf: &mut SyscallBuf, ret: i64, flags: u16) {
    unsafe { fill_context_cached(&mut buf.rec.ctx, &mut buf.cache) };
    let rec = &mut buf.rec;
    rec.ret = ret;
    rec.header.flags = flags;
    rec.header.event_id = rec.nr;
    // Only the used part of the string slots travels: slot 0 when it is the
    // last one used, slot 0 whole plus slot 1's string when both are.
    let mut len = core::mem::size_of::<SyscallRecord>();
    if rec.str_arg[MAX_STR_ARGS - 1] != NO_ARG {
        len += STR_MAX + (rec.str_len[1] as usize & (STR_MAX - 1));
    } else if rec.str_arg[0] != NO_ARG {
        len += rec.str_len[0] as usize & (STR_MAX - 1);
    }
    rec.header.len = len as u32;
    let id = rec.nr;
    output(id, buf as *const SyscallBuf as *const u8, len);
    buf.rec.header.kind = 0;
}
