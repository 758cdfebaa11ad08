//! LSM `kernel_load_data`: `int security_kernel_load_data(enum
//! kernel_load_data_id id, bool contents)` (security/security.c): the kernel
//! is about to load something from memory (init_module's buffer).

use exporter_common::events::EventKind;

use crate::lsm_hook::{HookArgs, begin, lsm_programs, send};

lsm_programs!(
    lsm_kernel_load_data,
    fentry_kernel_load_data,
    "kernel_load_data",
    "security_kernel_load_data",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::KernelLoadData;
    let Some(buf) = begin(e) else { return };
    buf.rec.data.ints[0] = ctx.int(0) as u32 as u64;
    send(e, buf);
}
