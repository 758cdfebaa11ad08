//! LSM `file_open`: `int security_file_open(struct file *file)`
//! (security/security.c), as a BPF LSM program where the kernel runs them,
//! else as fentry on `security_file_open`. Observation only: it always
//! allows.

use aya_ebpf::{
    macros::{fentry, lsm},
    programs::{FEntryContext, LsmContext},
};
use exporter_common::{
    events::EventKind,
    records::{FileOpenRecord, PATH_BLOCK, RecordHeader, RecordKind},
};

use crate::{
    context,
    emit::{output, scratch},
    maps::FILE_OPEN_SCRATCH,
    path,
};

// Inlined into the entry point the macro wraps around it: as a
// subprogram taking the context by value, 5.10 and 6.1 refuse it ("reg
// type unsupported for arg#0").
#[lsm(hook = "file_open")]
#[inline(always)]
pub fn lsm_file_open(ctx: LsmContext) -> i32 {
    record(ctx.arg(0));
    0
}

#[fentry(function = "security_file_open")]
#[inline(always)]
pub fn fentry_file_open(ctx: FEntryContext) -> i32 {
    record(ctx.arg(0));
    0
}

#[inline(always)]
fn record(file: *const u8) {
    let e = EventKind::FileOpen;
    let Some(buf) = scratch(e, &FILE_OPEN_SCRATCH) else {
        return;
    };
    context::fill(&mut buf.rec.ctx);
    path::file(file, &mut buf.rec.data, &mut buf.path);
    // Read back from the record, not taken from the walk: a length the
    // verifier must bound for the ring-buffer write would make it track the
    // walk's every step precisely (no state pruning: the program was
    // refused after a million instructions).
    // SAFETY: a field of this CPU's scratch buffer, just written.
    let used = unsafe { core::ptr::read_volatile(&raw const buf.rec.data.path_len) } as usize;
    let len = core::mem::size_of::<FileOpenRecord>() + used.min(PATH_BLOCK);
    buf.rec.header = RecordHeader::new(RecordKind::FileOpen, e.id(), len);
    output(e.id(), buf, len);
}
