//! The syscall in flight: captured into the thread's `PENDING` slot at entry,
//! completed and sent from the slot at exit (or at entry for the calls that
//! never return).

use aya_ebpf::bindings::BPF_NOEXIST;
use exporter_common::{
    config::{Capture, KernelError, SlotConf, SyscallConf},
    offsets::{REGS_WINDOW_WORDS, SYSCALL_ARGS},
    records::{
        KIND_CAPTURED_FOR_CHECK, MAX_STR_ARGS, NO_ARG, RecordKind, STR_AT_EXIT, STR_BYTES,
        STR_FAULT, STR_MASK, STR_MAX, STR_NOT_FILLED, STR_REREAD, SyscallBuf, SyscallRecord,
        is_errno,
    },
};

use crate::{
    context,
    emit::{count_error, output},
    globals::off,
    kernel::read,
    maps::{PENDING, SYSCALL_CONF, SYSCALL_INIT},
    user,
};

/// The thread's slot, allocated on its first traced syscall.
#[inline(always)]
pub fn pending_slot(tid: u32) -> Option<&'static mut SyscallBuf> {
    if let Some(p) = PENDING.get_ptr_mut(tid) {
        // SAFETY: a value of this map, alive while the program runs; only this
        // thread's programs use its slot, one at a time.
        return Some(unsafe { &mut *p });
    }
    let Some(init) = SYSCALL_INIT.get_ptr(0) else {
        count_error(KernelError::LookupFailed);
        return None;
    };
    // SAFETY: the per-CPU zeroed source, valid while the program runs. By
    // reference: the slot is larger than the 512-byte BPF stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let inserted = PENDING.insert(tid, unsafe { &*init }, BPF_NOEXIST as u64);
    if inserted.is_err() {
        count_error(KernelError::PendingFull);
        return None;
    }
    // SAFETY: as for the first lookup.
    PENDING.get_ptr_mut(tid).map(|p| unsafe { &mut *p })
}

/// The six argument registers of `regs` (a `struct pt_regs *`), in argument
/// order: one helper call reads the window user space checked they lie in.
#[inline(always)]
pub fn arguments(regs: *const u8) -> [u64; SYSCALL_ARGS] {
    let base = off!(regs_window);
    let window = read::<[u64; REGS_WINDOW_WORDS]>(regs, base).unwrap_or_default();
    let mut args = [0u64; SYSCALL_ARGS];
    for (i, a) in args.iter_mut().enumerate() {
        *a = window[(off!(regs_args[i]).wrapping_sub(base) / 8) & (REGS_WINDOW_WORDS - 1)];
    }
    args
}

/// Argument `i` of `args`, 0 past the sixth, for an index read from the
/// syscall table at run time. One branch per index gives every read a
/// constant offset: the 5.10 verifier loses a bound checked on one register
/// once the compiler indexes with a copy of it, and rejects the program.
#[inline(always)]
fn arg_at(args: &[u64; SYSCALL_ARGS], i: u8) -> u64 {
    match i {
        0 => args[0],
        1 => args[1],
        2 => args[2],
        3 => args[3],
        4 => args[4],
        5 => args[5],
        _ => 0,
    }
}

/// Reads the user memory slot `sc` names into `dst`: the length, the
/// `STR_*` flags and the element count of an array.
#[inline(always)]
fn read_slot(sc: SlotConf, args: &[u64; SYSCALL_ARGS], dst: &mut [u8; STR_MAX]) -> (u16, u8, u8) {
    let ptr = arg_at(args, sc.arg) as *const u8;
    match sc.capture {
        Capture::CStr => {
            let (len, flags) = user::read_str(ptr, dst);
            (len, flags, 0)
        }
        Capture::BytesLenArg => {
            // An `int` length (addrlen).
            let (len, flags) = user::read_bytes(ptr, arg_at(args, sc.len_arg) as u32 as i32, dst);
            (len, flags, 0)
        }
        Capture::BytesAtExit => (0, STR_BYTES | STR_AT_EXIT, 0),
        Capture::StrArray => user::read_str_array(ptr, dst),
    }
}

/// Captures syscall `nr` at entry: its arguments and the user memory its
/// configuration names, into `buf`.
#[inline(always)]
pub fn capture(buf: &mut SyscallBuf, nr: u32, conf: SyscallConf, args: [u64; SYSCALL_ARGS]) {
    let rec = &mut buf.rec.data;
    rec.nr = nr;
    rec.args = args;
    for slot in 0..MAX_STR_ARGS {
        rec.str_arg[slot] = NO_ARG;
        rec.str_len[slot] = 0;
        rec.str_flags[slot] = 0;
        rec.array_count[slot] = 0;
        let Some(sc) = conf.slot(slot) else { continue };
        let (len, flags, count) = read_slot(sc, &rec.args, &mut buf.strs[slot]);
        rec.str_arg[slot] = sc.arg;
        rec.str_len[slot] = len;
        rec.str_flags[slot] = flags;
        rec.array_count[slot] = count;
    }
    buf.rec.header.kind = if conf.check_only() {
        KIND_CAPTURED_FOR_CHECK
    } else {
        RecordKind::Syscall as u16
    };
}

/// At exit: the slots the kernel filled during the call (accept's peer
/// address), read now if the call succeeded, with the length the kernel
/// wrote back; and the slots unreadable at entry, read again: a path whose
/// page was not yet faulted in is readable once the kernel has copied it
/// (not after a successful exec, which replaced the memory).
#[inline(always)]
pub fn fill_at_exit(buf: &mut SyscallBuf, ret: i64) {
    let rec = &mut buf.rec.data;
    let pending = (0..MAX_STR_ARGS).any(|s| rec.str_flags[s] & (STR_AT_EXIT | STR_FAULT) != 0);
    if !pending {
        return;
    }
    let Some(conf) = SYSCALL_CONF.get(rec.nr).map(|c| SyscallConf(*c)) else {
        count_error(KernelError::LookupFailed);
        return;
    };
    for slot in 0..MAX_STR_ARGS {
        let flags = rec.str_flags[slot];
        if flags & (STR_AT_EXIT | STR_FAULT) == 0 {
            continue;
        }
        let Some(sc) = conf.slot(slot) else { continue };
        let ptr = arg_at(&rec.args, sc.arg) as *const u8;
        if flags & STR_AT_EXIT == 0 {
            // Paths and addresses only: string arrays are exec's argv and
            // envp, gone after a successful exec (and a bounded loop here
            // more than the older verifiers follow).
            if ptr.is_null()
                || (conf.replaces_memory() && !is_errno(ret))
                || !matches!(sc.capture, Capture::CStr | Capture::BytesLenArg)
            {
                continue;
            }
            let (len, flags, _) = read_slot(sc, &rec.args, &mut buf.strs[slot]);
            if flags & STR_FAULT == 0 {
                rec.str_len[slot] = len;
                rec.str_flags[slot] = flags | STR_REREAD;
            }
            continue;
        }
        let len_ptr = arg_at(&rec.args, sc.len_arg) as *const i32;
        if is_errno(ret) || ptr.is_null() || len_ptr.is_null() {
            rec.str_flags[slot] = STR_BYTES | STR_NOT_FILLED;
            continue;
        }
        let n = user::read(len_ptr).unwrap_or(0);
        let (len, flags) = user::read_bytes(ptr, n, &mut buf.strs[slot]);
        rec.str_len[slot] = len;
        rec.str_flags[slot] = flags;
    }
}

/// Fills the context and return value of the captured syscall, sends it from
/// the slot itself (no copy to a scratch buffer) and marks the slot idle.
#[inline(always)]
pub fn send(buf: &mut SyscallBuf, ret: i64, flags: u16) {
    context::fill_cached(&mut buf.rec.ctx, &mut buf.cache);
    let rec = &mut buf.rec;
    rec.data.ret = ret;
    rec.header.flags = flags;
    rec.header.event_id = rec.data.nr;
    // Only the used part of the slots travels: every slot before the last
    // used one whole, then the last one's bytes.
    let d = &rec.data;
    let mut len = core::mem::size_of::<SyscallRecord>();
    if d.str_arg[2] != NO_ARG {
        len += 2 * STR_MAX + (d.str_len[2] as usize & STR_MASK);
    } else if d.str_arg[1] != NO_ARG {
        len += STR_MAX + (d.str_len[1] as usize & STR_MASK);
    } else if d.str_arg[0] != NO_ARG {
        len += d.str_len[0] as usize & STR_MASK;
    }
    rec.header.len = len as u32;
    output(rec.data.nr, buf, len);
    buf.rec.header.kind = 0;
}
