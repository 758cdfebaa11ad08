//! `raw_syscalls:sys_exit`:
//! `TRACE_EVENT_FN(sys_exit, TP_PROTO(struct pt_regs *regs, long ret), ...)`
//! (include/trace/events/syscalls.h).
//!
//! Completes the syscall captured at entry: one event per completed syscall.
//! A thread with no active slot (not in scope at entry, or a fork child returning
//! from a clone it never entered) is skipped.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use exporter_common::{
    config::SyscallConf,
    records::{
        MAX_STR_ARGS, NO_ARG, RecordKind, STR_AT_EXIT, STR_BYTES, STR_MAX, STR_NOT_FILLED,
        SyscallBuf, SyscallRecord,
    },
};

use crate::{
    emit::output,
    kernel::fill_context_cached,
    maps::{PENDING, SYSCALL_CONF},
    probes::sys_enter::read_user_bytes,
};

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    match try_sys_exit(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sys_exit(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let tid = bpf_get_current_pid_tgid() as u32;
    let buf = unsafe { &mut *PENDING.get_ptr_mut(tid).ok_or(0)? };
    if buf.rec.header.kind != RecordKind::Syscall as u16 {
        return Ok(0);
    }
    let ret: i64 = ctx.arg(1);
    fill_at_exit(buf, ret);
    send_syscall(buf, ret, 0);
    Ok(0)
}

/// Slots the kernel filled during the call (accept's peer address): read now,
/// if the call succeeded, with the length the kernel wrote back.
#[inline(always)]
fn fill_at_exit(buf: &mut SyscallBuf, ret: i64) {
    let rec = &mut buf.rec;
    let pending = (0..MAX_STR_ARGS).any(|s| rec.str_flags[s] & STR_AT_EXIT != 0);
    if !pending {
        return;
    }
    let Some(conf) = SYSCALL_CONF.get(rec.nr).map(|c| SyscallConf(*c)) else {
        return;
    };
    for slot in 0..MAX_STR_ARGS {
        if rec.str_flags[slot] & STR_AT_EXIT == 0 {
            continue;
        }
        let Some(sc) = conf.slot(slot) else { continue };
        let ptr = rec.args.get(sc.arg as usize).copied().unwrap_or(0) as *const u8;
        let len_ptr = rec.args.get(sc.len_arg as usize).copied().unwrap_or(0) as *const i32;
        if ret < 0 || ptr.is_null() || len_ptr.is_null() {
            rec.str_flags[slot] = STR_BYTES | STR_NOT_FILLED;
            continue;
        }
        let n = unsafe { bpf_probe_read_user(len_ptr) }.unwrap_or(0);
        let (len, flags) = read_user_bytes(ptr, n, &mut buf.strs[slot]);
        rec.str_len[slot] = len;
        rec.str_flags[slot] = flags;
    }
}

/// Fills the context and return value of the captured syscall, sends it from
/// the slot itself (no copy to a scratch buffer) and marks the slot idle.
#[inline(always)]
pub fn send_syscall(buf: &mut SyscallBuf, ret: i64, flags: u16) {
    unsafe { fill_context_cached(&mut buf.rec.ctx, &mut buf.cache) };
    let rec = &mut buf.rec;
    rec.ret = ret;
    rec.header.flags = flags;
    rec.header.event_id = rec.nr;
    // Only the used part of the slots travels: every slot before the last
    // used one whole, then the last one's bytes.
    let mut len = core::mem::size_of::<SyscallRecord>();
    if rec.str_arg[2] != NO_ARG {
        len += 2 * STR_MAX + (rec.str_len[2] as usize & (STR_MAX - 1));
    } else if rec.str_arg[1] != NO_ARG {
        len += STR_MAX + (rec.str_len[1] as usize & (STR_MAX - 1));
    } else if rec.str_arg[0] != NO_ARG {
        len += rec.str_len[0] as usize & (STR_MAX - 1);
    }
    rec.header.len = len as u32;
    let id = rec.nr;
    output(id, buf as *const SyscallBuf as *const u8, len);
    buf.rec.header.kind = 0;
}
