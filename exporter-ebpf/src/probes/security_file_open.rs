//! LSM `file_open`: `int security_file_open(struct file *file)`
//! (security/security.c), as a BPF LSM program where the kernel runs them,
//! else as fentry on `security_file_open`. Observation only: it always
//! allows.

use aya_ebpf::{
    macros::{fentry, lsm},
    programs::{FEntryContext, LsmContext},
};
use exporter_common::{
    config::KernelError,
    events::EventKind,
    records::{FileOpenBuf, FileOpenRecord, PATH_BLOCK, RecordHeader, RecordKind},
};

use crate::{
    context,
    emit::{count_error, output},
    globals,
    maps::FILE_OPEN_SCRATCH,
    path,
    scope::in_scope,
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
    if !globals::selected(e) {
        return;
    }
    let pid_tgid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    if !in_scope((pid_tgid >> 32) as u32) {
        return;
    }
    let Some(scratch) = FILE_OPEN_SCRATCH.get_ptr_mut(0) else {
        count_error(KernelError::LookupFailed);
        return;
    };
    // SAFETY: this CPU's scratch buffer, alive while the program runs.
    let buf: &mut FileOpenBuf = unsafe { &mut *scratch };
    context::fill(&mut buf.rec.ctx);
    path::file(file, &mut buf.rec.data, &mut buf.path);
    // Read back from the record, not taken from the walk: a length the
    // verifier must bound for the ring-buffer write would make it track the
    // walk's every step precisely (no state pruning: the program was
    // refused after a million instructions).
    // SAFETY: a field of this CPU's scratch buffer, just written.
    let used = unsafe { core::ptr::read_volatile(&raw const buf.rec.data.path_len) } as usize;
    let used = used.min(PATH_BLOCK);
    let len = core::mem::size_of::<FileOpenRecord>() + used;
    buf.rec.header = RecordHeader {
        kind: RecordKind::FileOpen as u16,
        flags: 0,
        event_id: e.id(),
        len: len as u32,
        _pad: 0,
    };
    output(e.id(), buf, len);
}
