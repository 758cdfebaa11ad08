//! `raw_syscalls:sys_exit`:
//! `TRACE_EVENT_FN(sys_exit, TP_PROTO(struct pt_regs *regs, long ret), ...)`
//! (include/trace/events/syscalls.h).
//!
//! Completes the syscall captured at entry: one event per completed syscall.
//! A thread with no active slot (not in scope at entry, or a fork child
//! returning from a clone it never entered) has nothing to complete.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::raw_tracepoint, programs::RawTracePointContext,
};
use exporter_common::records::{KIND_CAPTURED_FOR_CHECK, RecordKind};

use crate::{maps::PENDING, syscall};

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    match try_sys_exit(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sys_exit(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(p) = PENDING.get_ptr_mut(tid) else {
        return Ok(0);
    };
    // SAFETY: a value of this map, alive while the program runs; only this
    // thread's programs use its slot, one at a time.
    let buf = unsafe { &mut *p };
    if buf.rec.header.kind != RecordKind::Syscall as u16 {
        // An exec captured for the check only: done with it.
        if buf.rec.header.kind == KIND_CAPTURED_FOR_CHECK {
            buf.rec.header.kind = 0;
        }
        return Ok(0);
    }
    let ret: i64 = ctx.arg(1);
    syscall::fill_at_exit(buf, ret);
    syscall::send(buf, ret, 0);
    Ok(0)
}
