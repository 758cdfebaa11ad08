//! `sched:sched_process_exec`:
//! `TRACE_EVENT(sched_process_exec, TP_PROTO(struct task_struct *p, pid_t old_pid,
//! struct linux_binprm *bprm), ...)` (include/trace/events/sched.h).
//!
//! Fires in the new image after a successful exec. The file name comes from
//! `bprm->filename` and argv from the new process's own memory
//! (`mm->arg_start..arg_end`): the kernel's copy, which the caller can no
//! longer change and whose pages are present.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_probe_read_user},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use exporter_common::{
    config::KernelError,
    events::EventKind,
    records::{
        EXEC_ARGV_FAULT, EXEC_ARGV_MAX, EXEC_ARGV_TRUNCATED, EXEC_ENV_FAULT, EXEC_ENV_TRUNCATED,
        EXEC_FILENAME_FAULT, EXEC_FILENAME_MAX, EXEC_FILENAME_TRUNCATED, ExecBuf, ExecRecord,
        RecordHeader, RecordKind,
    },
};

use crate::{
    context,
    emit::{count_error, output},
    globals::{self, off},
    kernel::{current_task, read, read_ptr, read_str},
    maps::{EXEC_SCRATCH, PENDING},
    scope::in_scope,
};

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec(ctx: RawTracePointContext) -> i32 {
    match try_sched_process_exec(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sched_process_exec(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    if !in_scope((pid_tgid >> 32) as u32) {
        return Ok(0);
    }
    let old_tid = ctx.arg::<u64>(1) as u32;
    let bprm: *const u8 = ctx.arg(2);

    // A non-leader thread that execs takes over the leader's pid (de_thread), so
    // its execve completes under another tid: move its syscall slot along.
    // (Done whether or not exec records are selected.)
    if old_tid != tid
        && let Some(p) = PENDING.get_ptr(old_tid)
    {
        // SAFETY: a value of this map, alive while the program runs. By
        // reference: the slot is larger than the 512-byte BPF stack.
        #[allow(clippy::needless_borrows_for_generic_args)]
        let _ = PENDING.insert(tid, unsafe { &*p }, 0);
        let _ = PENDING.remove(old_tid);
    }

    let e = EventKind::ProcessExec;
    if !globals::selected(e) {
        return Ok(0);
    }
    let Some(scratch) = EXEC_SCRATCH.get_ptr_mut(0) else {
        count_error(KernelError::LookupFailed);
        return Ok(0);
    };
    // SAFETY: this CPU's scratch buffer, alive while the program runs and used
    // by one program at a time on this CPU.
    let buf: &mut ExecBuf = unsafe { &mut *scratch };
    context::fill(&mut buf.rec.ctx);
    let mut flags = 0;
    let filename_len = read_filename(read_ptr(bprm, off!(bprm_filename)), buf, &mut flags);
    let mm = read_ptr(current_task(), off!(task_mm));
    let (argv_len, argv_flags) = read_block(
        mm,
        off!(mm_arg_start),
        off!(mm_arg_end),
        &mut buf.argv,
        EXEC_ARGV_TRUNCATED,
        EXEC_ARGV_FAULT,
    );
    let (env_len, env_flags) = read_block(
        mm,
        off!(mm_env_start),
        off!(mm_env_end),
        &mut buf.env,
        EXEC_ENV_TRUNCATED,
        EXEC_ENV_FAULT,
    );
    let len = core::mem::size_of::<ExecRecord>() + EXEC_FILENAME_MAX + EXEC_ARGV_MAX + env_len;
    let rec = &mut buf.rec;
    rec.header = RecordHeader::new(RecordKind::Exec, e.id(), len);
    let d = &mut rec.data;
    d.old_tid = old_tid;
    d.argc = read::<u32>(bprm, off!(bprm_argc)).unwrap_or(0);
    d.envc = read::<u32>(bprm, off!(bprm_envc)).unwrap_or(0);
    d.filename_len = filename_len;
    d.argv_len = argv_len as u16;
    d.env_len = env_len as u16;
    d.flags = flags | argv_flags | env_flags;
    output(e.id(), buf, len);
    Ok(0)
}

/// `bprm->filename` into the record's file-name slot; its length (without
/// the NUL), and the truncated or fault flag in `flags`.
#[inline(always)]
fn read_filename(filename: *const u8, buf: &mut ExecBuf, flags: &mut u32) -> u16 {
    let (len, cut, fault) = read_str(filename, &mut buf.filename);
    if fault {
        *flags |= EXEC_FILENAME_FAULT;
    }
    if cut {
        *flags |= EXEC_FILENAME_TRUNCATED;
    }
    len
}

/// Reads the user block `[mm->start, mm->end)` of the current process (argv or
/// the environment, NUL-separated strings) into `dst`; returns the bytes read
/// and the truncated/fault flags.
#[inline(always)]
fn read_block<const N: usize>(
    mm: *const u8,
    start_off: usize,
    end_off: usize,
    dst: &mut [u8; N],
    truncated: u32,
    fault: u32,
) -> (usize, u32) {
    let start = read::<u64>(mm, start_off).unwrap_or(0);
    let end = read::<u64>(mm, end_off).unwrap_or(0);
    if end <= start {
        return (0, if end < start || start == 0 { fault } else { 0 });
    }
    let total = (end - start) as usize;
    let (len, flags) = if total > N {
        (N, truncated)
    } else {
        (total, 0)
    };
    // SAFETY: writes at most N bytes into the N-byte `dst`; the helper checks
    // the user address.
    let r =
        unsafe { bpf_probe_read_user(dst.as_mut_ptr() as *mut _, len as u32, start as *const _) };
    if r < 0 { (0, fault) } else { (len, flags) }
}
