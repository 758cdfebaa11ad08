//! LSM `task_kill`: `int security_task_kill(struct task_struct *p, struct
//! kernel_siginfo *info, int sig, const struct cred *cred)`
//! (security/security.c): a signal is about to be sent to `p`.

use exporter_common::events::EventKind;

use crate::{
    globals::off,
    kernel::read_or_zero,
    lsm_hook::{HookArgs, begin, lsm_programs, send},
};

lsm_programs!(
    lsm_task_kill,
    fentry_task_kill,
    "task_kill",
    "security_task_kill",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::TaskKill;
    let Some(buf) = begin(e) else { return };
    let p = ctx.ptr(0);
    let d = &mut buf.rec.data;
    d.ints[0] = read_or_zero::<i32>(p, off!(task_tgid)) as i64 as u64;
    d.ints[1] = read_or_zero::<i32>(p, off!(task_pid)) as i64 as u64;
    d.ints[2] = ctx.int(2) as u32 as i32 as i64 as u64;
    send(e, buf);
}
