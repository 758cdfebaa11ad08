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
    events::SchedEvent,
    records::{ForkRecord, RecordHeader, RecordKind, TaskContext},
};

use crate::{
    emit::emit_fixed,
    globals::{self, off},
    kernel::{fill_context, read},
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
    let child_tgid = unsafe { read::<u32>(child, off!(task_tgid)) }.ok_or(0)?;
    let child_tid = unsafe { read::<u32>(child, off!(task_pid)) }.ok_or(0)?;
    if child_tgid == child_tid {
        on_new_process(parent_tgid, child_tgid);
    }
    // Scope is kept up to date above whether or not the event is selected.
    if !globals::sched_selected(SchedEvent::ProcessFork.id())
        || (!in_scope(parent_tgid) && !in_scope(child_tgid))
    {
        return Ok(0);
    }
    let id = SchedEvent::ProcessFork.id();
    emit_fixed::<ForkRecord>(id, |r| {
        r.header = RecordHeader {
            kind: RecordKind::Fork as u16,
            flags: 0,
            event_id: id,
            len: core::mem::size_of::<ForkRecord>() as u32,
            _pad: 0,
        };
        r.ctx = TaskContext::zeroed();
        unsafe { fill_context(&mut r.ctx) };
        r.child_pid = child_tgid;
        r.child_tid = child_tid;
    });
    Ok(0)
}
