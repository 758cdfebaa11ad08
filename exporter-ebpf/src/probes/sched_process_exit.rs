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
    events::EventKind,
    records::{Exit, RecordKind},
};

use crate::{
    emit::emit_record,
    globals::{self, off},
    kernel::{current_task, read, read_ptr},
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
        let signal = read_ptr(task, off!(task_signal));
        (read::<i32>(signal, off!(signal_live)) == Some(0)) as u32
    };
    let _ = PENDING.remove(tid);

    let e = EventKind::ProcessExit;
    if globals::selected(e) && in_scope(tgid) {
        let exit_code = read::<u32>(task, off!(task_exit_code)).unwrap_or(0);
        emit_record(
            e.id(),
            RecordKind::Exit,
            Exit {
                exit_code,
                group_dead,
            },
        );
    }
    if group_dead != 0 {
        on_process_gone(tgid);
    }
    Ok(0)
}
