//! `sched:sched_process_exit`:
//! `TRACE_EVENT(sched_process_exit, TP_PROTO(struct task_struct *p, bool group_dead), ...)`
//! (include/trace/events/sched.h; kernels before 6.16 pass only `p`, and
//! `signal->live` is read instead). Fires once per exiting thread, in it.
//!
//! Also frees the thread's syscall slot and, when the group is dead, its scope entry.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::raw_tracepoint, programs::RawTracePointContext,
};
use exporter_common::{
    events::SchedEvent,
    records::{ExitRecord, RecordHeader, RecordKind, TaskContext},
};

use crate::{
    emit::emit_fixed,
    globals::{self, off},
    kernel::{current_task, fill_context, read, read_ptr},
    maps::PENDING,
    scope::{in_scope, on_process_gone},
};

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit(ctx: RawTracePointContext) -> i32 {
    match try_sched_process_exit(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sched_process_exit(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    let tid = pid_tgid as u32;
    let task = current_task();
    let group_dead = if off!(exit_has_group_dead) != 0 {
        (ctx.arg::<u64>(1) & 1) as u32
    } else {
        let signal = unsafe { read_ptr(task, off!(task_signal)) };
        (unsafe { read::<i32>(signal, off!(signal_live)) } == Some(0)) as u32
    };
    let _ = PENDING.remove(tid);

    if globals::sched_selected(SchedEvent::ProcessExit.id()) && in_scope(tgid) {
        let exit_code = unsafe { read::<u32>(task, off!(task_exit_code)) }.unwrap_or(0);
        let id = SchedEvent::ProcessExit.id();
        emit_fixed::<ExitRecord>(id, |r| {
            r.header = RecordHeader {
                kind: RecordKind::Exit as u16,
                flags: 0,
                event_id: id,
                len: core::mem::size_of::<ExitRecord>() as u32,
                _pad: 0,
            };
            r.ctx = TaskContext::zeroed();
            unsafe { fill_context(&mut r.ctx) };
            r.exit_code = exit_code;
            r.group_dead = group_dead;
        });
    }
    if group_dead != 0 {
        on_process_gone(tgid);
    }
    Ok(0)
}
