//! `raw_syscalls:sys_enter`:
//! `TRACE_EVENT_FN(sys_enter, TP_PROTO(struct pt_regs *regs, long id), ...)`
//! (include/trace/events/syscalls.h).
//!
//! Captures the six argument registers and the path strings into the thread's
//! `PENDING` slot; the record is sent at sys_exit with the return value.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::raw_tracepoint, programs::RawTracePointContext,
};
use exporter_common::{
    config::{KernelError, SYSCALL_CONF_LEN, SyscallConf},
    records::FLAG_NO_RETURN,
};

use crate::{emit::count_error, maps::SYSCALL_CONF, scope::in_scope, syscall};

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
    let Some(conf) = SYSCALL_CONF.get(nr).map(|c| SyscallConf(*c)) else {
        count_error(KernelError::LookupFailed);
        return Ok(0);
    };
    if !conf.selected() {
        return Ok(0);
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    if !in_scope((pid_tgid >> 32) as u32) {
        return Ok(0);
    }
    // Counted where it failed.
    let Some(buf) = syscall::pending_slot(pid_tgid as u32) else {
        return Ok(0);
    };
    syscall::capture(buf, nr, conf, syscall::arguments(ctx.arg(0)));
    if conf.no_return() {
        syscall::send(buf, 0, FLAG_NO_RETURN);
    }
    Ok(0)
}
