//! LSM `ptrace_access_check`: `int security_ptrace_access_check(struct
//! task_struct *child, unsigned int mode)` (security/security.c): the
//! current task asks to trace `child` (PTRACE_MODE_ATTACH) or to inspect
//! it through /proc (PTRACE_MODE_READ).

use exporter_common::events::EventKind;

use crate::{
    globals::off,
    kernel::read_or_zero,
    lsm_hook::{HookArgs, begin, lsm_programs, send},
};

lsm_programs!(
    lsm_ptrace_access_check,
    fentry_ptrace_access_check,
    "ptrace_access_check",
    "security_ptrace_access_check",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::PtraceAccessCheck;
    let Some(buf) = begin(e) else { return };
    let child = ctx.ptr(0);
    let d = &mut buf.rec.data;
    d.ints[0] = read_or_zero::<i32>(child, off!(task_tgid)) as i64 as u64;
    d.ints[1] = read_or_zero::<i32>(child, off!(task_pid)) as i64 as u64;
    d.ints[2] = ctx.int(1) as u32 as u64;
    send(e, buf);
}
