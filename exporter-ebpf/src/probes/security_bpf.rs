//! LSM `bpf`: `int security_bpf(int cmd, union bpf_attr *attr, unsigned int
//! size, ...)` (security/security.c; later kernels add arguments after
//! these): a bpf() command, after its attributes were copied in.

use exporter_common::events::EventKind;

use crate::lsm_hook::{HookArgs, begin, lsm_programs, send};

lsm_programs!(lsm_bpf, fentry_bpf, "bpf", "security_bpf", record);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::Bpf;
    let Some(buf) = begin(e) else { return };
    let d = &mut buf.rec.data;
    d.ints[0] = ctx.int(0) as u32 as i32 as i64 as u64;
    d.ints[1] = ctx.int(2) as u32 as u64;
    send(e, buf);
}
