//! `sched:sched_process_fork`:
//! `TRACE_EVENT(sched_process_fork, TP_PROTO(struct task_struct *parent,
//! struct task_struct *child), ...)` (include/trace/events/sched.h).
//!
//! Fires in the parent for every new task, thread or process. A new process
//! joins the default scope here; the event is emitted when either side is traced.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::raw_tracepoint, programs::RawTracePointContext,
};
use exporter_common::{
    config::KernelError,
    events::EventKind,
    records::{Fork, RecordKind},
};

use crate::{
    emit::{count_error, emit_record},
    globals::{self, off},
    kernel::read,
    scope::{in_scope, on_new_process},
};

#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn sched_process_fork(ctx: RawTracePointContext) -> i32 {
    match try_sched_process_fork(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sched_process_fork(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let child: *const u8 = ctx.arg(1);
    let parent_tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let (Some(child_tgid), Some(child_tid)) = (
        read::<u32>(child, off!(task_tgid)),
        read::<u32>(child, off!(task_pid)),
    ) else {
        count_error(KernelError::ForkChildUnreadable);
        return Ok(0);
    };
    if child_tgid == child_tid {
        on_new_process(parent_tgid, child_tgid);
    }
    // Scope is kept up to date above whether or not the event is selected.
    let e = EventKind::ProcessFork;
    if !globals::selected(e) || (!in_scope(parent_tgid) && !in_scope(child_tgid)) {
        return Ok(0);
    }
    emit_record(
        e.id(),
        RecordKind::Fork,
        Fork {
            child_pid: child_tgid,
            child_tid,
        },
    );
    Ok(0)
}
