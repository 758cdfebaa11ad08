//! `raw_syscalls:sys_enter`:
//! `TRACE_EVENT_FN(sys_enter, TP_PROTO(struct pt_regs *regs, long id), ...)`
//! (include/trace/events/syscalls.h).
//!
//! Captures the six argument registers and the path strings into the thread's
//! `PENDING` slot; the record is sent at sys_exit with the return value.

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{
        bpf_get_current_pid_tgid, bpf_probe_read_user,
        generated::{bpf_probe_read_user as bpf_probe_read_user_raw, bpf_probe_read_user_str},
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use exporter_common::{
    config::{Capture, KernelError, SYSCALL_CONF_LEN, SyscallConf},
    offsets::REGS_WINDOW_LEN,
    records::{
        ARRAY_ELEM_MAX, ARRAY_MAX_ELEMS, FLAG_NO_RETURN, MAX_STR_ARGS, NO_ARG, RecordKind,
        SOCKADDR_MAX, STR_ARRAY, STR_AT_EXIT, STR_BYTES, STR_FAULT, STR_MAX, STR_TRUNCATED,
        SyscallBuf,
    },
};

use crate::{
    emit::count_error,
    globals::off,
    kernel::read,
    maps::{PENDING, SYSCALL_CONF, SYSCALL_INIT},
    probes::sys_exit::send_syscall,
    scope::in_scope,
};

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    match try_sys_enter(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sys_enter(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let id: i64 = ctx.arg(1);
    if !(0..SYSCALL_CONF_LEN as i64).contains(&id) {
        return Ok(0);
    }
    let nr = id as u32;
    // Selection first: an unselected syscall costs this lookup and nothing else.
    let conf = SyscallConf(*SYSCALL_CONF.get(nr).ok_or(0)?);
    if !conf.selected() {
        return Ok(0);
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    if !in_scope((pid_tgid >> 32) as u32) {
        return Ok(0);
    }
    let buf = pending_slot(pid_tgid as u32).ok_or(0)?;

    let regs: *const u8 = ctx.arg(0);
    let rec = &mut buf.rec;
    rec.nr = nr;
    // One helper call for all six registers: user space checked that they
    // lie in this window, 8-byte aligned.
    let base = off!(regs_window);
    let window = unsafe { read::<[u64; REGS_WINDOW_LEN / 8]>(regs, base) }.unwrap_or_default();
    let reg = |off: usize| window[(off.wrapping_sub(base) / 8) & (REGS_WINDOW_LEN / 8 - 1)];
    rec.args = [
        reg(off!(regs_di)),
        reg(off!(regs_si)),
        reg(off!(regs_dx)),
        reg(off!(regs_r10)),
        reg(off!(regs_r8)),
        reg(off!(regs_r9)),
    ];
    for slot in 0..MAX_STR_ARGS {
        rec.str_arg[slot] = NO_ARG;
        rec.str_len[slot] = 0;
        rec.str_flags[slot] = 0;
        rec.array_count[slot] = 0;
        let Some(sc) = conf.slot(slot) else { continue };
        let ptr = rec.args.get(sc.arg as usize).copied().unwrap_or(0) as *const u8;
        let dst = &mut buf.strs[slot];
        let (len, flags, count) = match sc.capture {
            Capture::CStr => {
                let (len, flags) = read_user_str(ptr, dst);
                (len, flags, 0)
            }
            Capture::BytesLenArg => {
                // An `int` length (addrlen).
                let n = rec.args.get(sc.len_arg as usize).copied().unwrap_or(0) as u32 as i32;
                let (len, flags) = read_user_bytes(ptr, n, dst);
                (len, flags, 0)
            }
            Capture::BytesAtExit => (0, STR_BYTES | STR_AT_EXIT, 0),
            Capture::StrArray => read_user_str_array(ptr, dst),
        };
        rec.str_arg[slot] = sc.arg;
        rec.str_len[slot] = len;
        rec.str_flags[slot] = flags;
        rec.array_count[slot] = count;
    }
    rec.header.kind = RecordKind::Syscall as u16;
    if conf.no_return() {
        send_syscall(buf, 0, FLAG_NO_RETURN);
    }
    Ok(0)
}

/// The thread's slot, allocated on its first traced syscall.
#[inline(always)]
fn pending_slot(tid: u32) -> Option<&'static mut SyscallBuf> {
    if let Some(p) = PENDING.get_ptr_mut(tid) {
        return Some(unsafe { &mut *p });
    }
    let init = SYSCALL_INIT.get_ptr(0)?;
    // By reference: the slot is larger than the 512-byte BPF stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let inserted = PENDING.insert(tid, unsafe { &*init }, BPF_NOEXIST as u64);
    if inserted.is_err() {
        count_error(KernelError::PendingFull);
        return None;
    }
    PENDING.get_ptr_mut(tid).map(|p| unsafe { &mut *p })
}

/// Reads `n` bytes (at most `SOCKADDR_MAX`) of user memory into `dst`.
#[inline(always)]
pub fn read_user_bytes(ptr: *const u8, n: i32, dst: &mut [u8; STR_MAX]) -> (u16, u8) {
    if ptr.is_null() || n <= 0 {
        return (0, STR_BYTES | STR_FAULT);
    }
    let n = (n as usize).min(SOCKADDR_MAX);
    let r =
        unsafe { bpf_probe_read_user_raw(dst.as_mut_ptr() as *mut _, n as u32, ptr as *const _) };
    if r < 0 {
        return (0, STR_BYTES | STR_FAULT);
    }
    (n as u16, STR_BYTES)
}

/// Reads a NULL-terminated array of user strings (argv, envp) into `dst`, NUL
/// after each element; returns the bytes used, the flags and the element count
/// (`ARRAY_MAX_ELEMS + 1` when there were more).
#[inline(always)]
fn read_user_str_array(ptr: *const u8, dst: &mut [u8; STR_MAX]) -> (u16, u8, u8) {
    let mut flags = STR_ARRAY;
    if ptr.is_null() {
        return (0, flags | STR_FAULT, 0);
    }
    let mut pos = 0usize;
    let mut count = 0u8;
    for i in 0..=ARRAY_MAX_ELEMS as usize {
        let Ok(p) = (unsafe { bpf_probe_read_user::<u64>((ptr as *const u64).add(i)) }) else {
            flags |= STR_FAULT;
            break;
        };
        if p == 0 {
            break;
        }
        if i == ARRAY_MAX_ELEMS as usize {
            flags |= STR_TRUNCATED;
            count += 1;
            break;
        }
        count += 1;
        // An element starts only where a whole ARRAY_ELEM_MAX still fits.
        if pos >= STR_MAX - ARRAY_ELEM_MAX {
            flags |= STR_TRUNCATED;
            continue;
        }
        let off = pos & (STR_MAX - ARRAY_ELEM_MAX - 1);
        let n = unsafe {
            bpf_probe_read_user_str(
                dst.as_mut_ptr().add(off) as *mut _,
                ARRAY_ELEM_MAX as u32,
                p as *const _,
            )
        };
        if n <= 0 {
            flags |= STR_FAULT;
            break;
        }
        if n as usize >= ARRAY_ELEM_MAX {
            flags |= STR_TRUNCATED;
        }
        pos = off + (n as usize & (ARRAY_ELEM_MAX * 2 - 1)).min(ARRAY_ELEM_MAX);
    }
    (pos as u16, flags, count)
}

/// Reads a NUL-terminated user string into `dst`; returns its length without
/// the NUL and the `STR_*` flags.
#[inline(always)]
fn read_user_str(ptr: *const u8, dst: &mut [u8; STR_MAX]) -> (u16, u8) {
    if ptr.is_null() {
        return (0, STR_FAULT);
    }
    let n = unsafe {
        bpf_probe_read_user_str(dst.as_mut_ptr() as *mut _, STR_MAX as u32, ptr as *const _)
    };
    if n <= 0 {
        return (0, STR_FAULT);
    }
    let len = (n as usize - 1) & (STR_MAX - 1);
    // A full slot is ambiguous: look at the byte after the copied part.
    let flags = if n as usize >= STR_MAX {
        match unsafe { bpf_probe_read_user::<u8>(ptr.add(STR_MAX - 1)) } {
            Ok(0) => 0,
            _ => STR_TRUNCATED,
        }
    } else {
        0
    };
    (len as u16, flags)
}
