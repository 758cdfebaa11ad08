//! The exec check, a second program on `sched:sched_process_exec` (see
//! `sched_process_exec` for the prototype): the file name an exec's syscall
//! carried, read from the caller's memory at entry (what a tracer reports),
//! against the name the kernel copied for itself and executed
//! (`bprm->filename`). The caller can change its memory between the two
//! reads (another thread rewrites the buffer: a tracer reports one program,
//! the kernel runs another), or make it unreadable to the tracer at entry (a
//! page not yet faulted in, which the kernel's own copy faults in). Either
//! writes a `sysotel.exec.mismatch` record.
//!
//! Names are compared as strings, so a relative name or a symlink is no
//! mismatch: the kernel keeps the name it was given. The one name the kernel
//! makes itself is execveat's relative to a directory fd, `/dev/fd/N/name`
//! (`/dev/fd/N` for an empty name with AT_EMPTY_PATH): its prefix comes from
//! the fd register, which the caller cannot race, and the rest is compared.
//!
//! A program of its own, verified on its own: inside the exec program, the
//! compare loop was verified once per path leading to it, and 5.10 and 6.1
//! took more than a minute to load sysotel in a guest.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_probe_read_kernel},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use exporter_common::{
    config::{KernelError, SyscallConf},
    events::EventKind,
    records::{
        EXEC_FILENAME_MAX, ExecMismatchBuf, ExecMismatchRecord, KIND_CAPTURED_FOR_CHECK,
        MISMATCH_CHANGED, MISMATCH_UNREADABLE, RecordHeader, RecordKind, STR_FAULT, STR_MASK,
        STR_MAX, STR_TRUNCATED, SyscallBuf,
    },
};

use crate::{
    context,
    emit::{count_error, output},
    globals::{self, off},
    kernel::{read_ptr, read_str},
    maps::{MISMATCH_SCRATCH, PENDING, SYSCALL_CONF},
    scope::in_scope,
};

/// `AT_FDCWD` (include/uapi/linux/fcntl.h).
const AT_FDCWD: i32 = -100;
/// `"/dev/fd/"`: the start of a name the kernel makes for execveat.
const DEV_FD_LEN: usize = 8;

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn exec_check(ctx: RawTracePointContext) -> i32 {
    match try_exec_check(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

#[inline(always)]
fn try_exec_check(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let e = EventKind::ExecMismatch;
    if !globals::selected(e) {
        return Ok(0);
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    if !in_scope((pid_tgid >> 32) as u32) {
        return Ok(0);
    }
    // The exec in flight: its syscall slot, under the thread's new id or,
    // if the exec program has not moved it there yet (a non-leader thread
    // that exec'd), its old one.
    let old_tid = ctx.arg::<u64>(1) as u32;
    let Some(p) = PENDING
        .get_ptr_mut(pid_tgid as u32)
        .or_else(|| PENDING.get_ptr_mut(old_tid))
    else {
        // No syscall captured: an exec the kernel started itself.
        return Ok(0);
    };
    // SAFETY: a value of this map, alive while the program runs; only this
    // thread's programs use its slot, one at a time.
    let slot: &mut SyscallBuf = unsafe { &mut *p };
    let kind = slot.rec.header.kind;
    if kind != RecordKind::Syscall as u16 && kind != KIND_CAPTURED_FOR_CHECK {
        return Ok(0);
    }
    let Some(conf) = SYSCALL_CONF.get(slot.rec.data.nr).map(|c| SyscallConf(*c)) else {
        return Ok(0);
    };
    let Some(name) = conf.slot(0) else {
        return Ok(0);
    };
    if !conf.replaces_memory() {
        return Ok(0);
    }
    if kind == KIND_CAPTURED_FOR_CHECK {
        slot.rec.header.kind = 0;
    }
    let Some(b) = MISMATCH_SCRATCH.get_ptr_mut(0) else {
        count_error(KernelError::LookupFailed);
        return Ok(0);
    };
    // SAFETY: this CPU's buffer, alive while the program runs and used by
    // one program at a time on this CPU.
    let buf: &mut ExecMismatchBuf = unsafe { &mut *b };
    let bprm: *const u8 = ctx.arg(2);
    let (klen, kcut, fault) = read_str(read_ptr(bprm, off!(bprm_filename)), &mut buf.kernel_path);
    if fault {
        return Ok(0);
    }
    let d = &slot.rec.data;
    let eflags = d.str_flags[0];
    let elen = d.str_len[0] as usize & STR_MASK;
    // execveat names its file in argument 1, after the directory fd.
    let (dirfd, addr) = if name.arg == 1 {
        (d.args[0] as i32, d.args[1])
    } else {
        (AT_FDCWD, d.args[0])
    };
    let entry = &slot.strs[0];
    let reason = if eflags & STR_FAULT != 0 {
        MISMATCH_UNREADABLE
    } else if same(
        entry,
        elen,
        eflags & STR_TRUNCATED != 0,
        dirfd,
        &buf.kernel_path,
        klen as usize,
        kcut,
    ) {
        return Ok(0);
    } else {
        MISMATCH_CHANGED
    };
    context::fill(&mut buf.rec.ctx);
    // SAFETY: a whole slot, from the map value into this buffer's slot of
    // the same size.
    unsafe {
        bpf_probe_read_kernel(
            buf.syscall_path.as_mut_ptr() as *mut _,
            STR_MAX as u32,
            entry.as_ptr() as *const _,
        )
    };
    let m = &mut buf.rec.data;
    m.nr = d.nr;
    m.reason = reason;
    m.dirfd = dirfd;
    m.syscall_len = elen as u16;
    m.syscall_flags = eflags;
    m.kernel_len = klen;
    m.kernel_cut = kcut as u8;
    m.addr = addr;
    let len = core::mem::size_of::<ExecMismatchRecord>() + STR_MAX + EXEC_FILENAME_MAX;
    buf.rec.header = RecordHeader::new(RecordKind::ExecMismatch, e.id(), len);
    output(e.id(), buf, len);
    Ok(0)
}

/// Whether the kernel's name is the syscall's (`entry`, `elen` bytes, cut
/// when `ecut`), given execveat's `dirfd`.
#[inline(always)]
fn same(
    entry: &[u8; STR_MAX],
    elen: usize,
    ecut: bool,
    dirfd: i32,
    kernel: &[u8; EXEC_FILENAME_MAX],
    klen: usize,
    kcut: bool,
) -> bool {
    let relative = elen == 0 || entry[0] != b'/';
    let start = if dirfd != AT_FDCWD && relative {
        DEV_FD_LEN + digits(dirfd as u32) + (elen > 0) as usize
    } else {
        0
    };
    if ecut || kcut {
        // Only the part both hold can be compared.
        if klen < start + elen {
            return false;
        }
    } else if klen != start + elen {
        return false;
    }
    // Eight bytes at a time (little-endian: the first byte is the lowest),
    // the last word masked to the name's length. The bytes after a name in
    // its slot are whatever an earlier name left there.
    let words = elen.div_ceil(8);
    for w in 0..STR_MAX / 8 {
        if w >= words {
            break;
        }
        // Masked as used, on a value the compiler cannot see through: it
        // would walk pointers instead, which 5.10 and 6.1 cannot bound.
        // SAFETY: a read of a local.
        let i = (unsafe { core::ptr::read_volatile(&w) } * 8) & (STR_MAX - 8);
        let k = (start + i) & (EXEC_FILENAME_MAX - 1);
        if k > EXEC_FILENAME_MAX - 8 {
            return false;
        }
        let rem = elen - i;
        let mask = if rem >= 8 {
            u64::MAX
        } else {
            (1u64 << (rem * 8)) - 1
        };
        // SAFETY: eight bytes inside each slot (checked above).
        let (a, b) = unsafe {
            (
                core::ptr::read_unaligned(kernel.as_ptr().add(k) as *const u64),
                core::ptr::read_unaligned(entry.as_ptr().add(i) as *const u64),
            )
        };
        if (a ^ b) & mask != 0 {
            return false;
        }
    }
    true
}

/// Decimal digits of `n`.
#[inline(always)]
fn digits(mut n: u32) -> usize {
    let mut d = 1;
    for _ in 0..9 {
        if n < 10 {
            break;
        }
        n /= 10;
        d += 1;
    }
    d
}
