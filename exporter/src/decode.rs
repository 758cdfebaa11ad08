//! Ring-buffer record -> [`Event`]. Table-driven (the syscall table says how to
//! read each argument), bounds-checked everywhere: a short, oversized or garbage
//! record is a [`DecodeError`], never a panic.

use std::mem::size_of;

use exporter_common::{
    events::SchedEvent,
    records::{
        EXEC_ARGV_FAULT, EXEC_ARGV_MAX, EXEC_ARGV_TRUNCATED, EXEC_ENV_FAULT, EXEC_ENV_MAX,
        EXEC_ENV_TRUNCATED, EXEC_FILENAME_MAX, EXEC_FILENAME_TRUNCATED, ExecRecord, ExitRecord,
        FLAG_NO_RETURN, ForkRecord, MAX_STR_ARGS, NO_ARG, RecordHeader, RecordKind, STR_ARRAY,
        STR_BYTES, STR_FAULT, STR_MAX, STR_NOT_FILLED, STR_TRUNCATED, SyscallRecord, TaskContext,
    },
    syscalls::{self, ArgKind, RetKind},
};
use thiserror::Error;

use crate::{
    catalog::{Category, sched},
    event::{Arg, Context, Event, Value, c_text, text},
    format::{flags, sockaddr::SockAddr},
};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {got} bytes is shorter than its {want}-byte fixed part")]
    Short { want: usize, got: usize },
    #[error("record says it is {claimed} bytes but {got} arrived")]
    BadLength { claimed: usize, got: usize },
    #[error("unknown record kind {0}")]
    UnknownKind(u16),
    #[error("unknown event id {0}")]
    UnknownEvent(u32),
    #[error("event id {id} does not match record kind {kind:?}")]
    KindMismatch { id: u32, kind: RecordKind },
    #[error("string slot {slot} of {len} bytes does not fit the record")]
    BadString { slot: usize, len: usize },
}

/// Reads a `T` from the start of `bytes` if it is long enough.
fn read<T: Copy>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() < size_of::<T>() {
        return Err(DecodeError::Short {
            want: size_of::<T>(),
            got: bytes.len(),
        });
    }
    // SAFETY: the length is checked above, `T` is a plain-data record type
    // (repr(C), no invalid bit patterns) and the read is unaligned.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const T) })
}

/// Decodes one record as it came out of the ring buffer.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let header: RecordHeader = read(bytes)?;
    let claimed = header.len as usize;
    if claimed > bytes.len() {
        return Err(DecodeError::BadLength {
            claimed,
            got: bytes.len(),
        });
    }
    let bytes = &bytes[..claimed];
    let kind = RecordKind::from_u16(header.kind).ok_or(DecodeError::UnknownKind(header.kind))?;
    match kind {
        RecordKind::Syscall => decode_syscall(bytes),
        RecordKind::Fork => decode_fork(bytes),
        RecordKind::Exec => decode_exec(bytes),
        RecordKind::Exit => decode_exit(bytes),
    }
}

fn context(c: &TaskContext) -> Context {
    Context {
        ts_boot_ns: c.ts_boot_ns,
        cgroup_id: c.cgroup_id,
        pid: c.pid,
        tid: c.tid,
        ppid: c.ppid,
        vpid: c.vpid,
        uid: c.uid,
        gid: c.gid,
        mnt_ns: c.mnt_ns,
        pid_ns: c.pid_ns,
        comm: c_text(&c.comm),
        uts_name: c_text(&c.uts_name),
        container_id: None,
    }
}

fn sched_event(
    e: SchedEvent,
    header: &RecordHeader,
    ctx: &TaskContext,
    values: Vec<Value>,
) -> Result<Event, DecodeError> {
    if header.event_id != e.id() {
        return Err(DecodeError::UnknownEvent(header.event_id));
    }
    let args = sched::fields(e)
        .iter()
        .zip(values)
        .map(|(f, value)| Arg {
            name: f.name,
            value,
        })
        .collect();
    Ok(Event {
        id: e.id(),
        name: e.name(),
        category: Category::Sched,
        ctx: context(ctx),
        ret: 0,
        ret_kind: RetKind::Int,
        no_return: false,
        args,
        observed_unix_ns: 0,
    })
}

/// A slot's bytes as the value they hold.
fn slot_value(r: &SyscallRecord, slot: usize, data: &[u8], raw: u64) -> Value {
    let flags = r.str_flags[slot];
    if flags & STR_NOT_FILLED != 0 {
        // The call failed (or passed no buffer): the kernel wrote nothing.
        return Value::Hex(raw);
    }
    if flags & STR_FAULT != 0 && data.is_empty() {
        return Value::Unreadable(raw);
    }
    if flags & STR_ARRAY != 0 {
        let values = split_nul(data);
        let count = (r.array_count[slot] as u32).max(values.len() as u32);
        return Value::StrList {
            truncated: flags & (STR_TRUNCATED | STR_FAULT) != 0 || count > values.len() as u32,
            values,
            count,
        };
    }
    if flags & STR_BYTES != 0 {
        return SockAddr::parse(data).map_or(Value::Unreadable(raw), Value::SockAddr);
    }
    Value::Str {
        value: text(data),
        truncated: flags & STR_TRUNCATED != 0,
    }
}

/// A register as the value its kind says it is.
fn register_value(kind: ArgKind, raw: u64) -> Value {
    if let Some(text) = flags::symbolic(kind, raw) {
        return Value::Sym { raw, text };
    }
    match kind {
        ArgKind::I32 => Value::Int(raw as u32 as i32 as i64),
        ArgKind::Fd => Value::Fd(raw as u32 as i32 as i64),
        ArgKind::U32 => Value::UInt(raw as u32 as u64),
        ArgKind::I64 => Value::Int(raw as i64),
        ArgKind::U64 => Value::UInt(raw),
        ArgKind::Mode => Value::Octal(raw & 0o177777),
        // Pointers, and user-memory kinds whose slot was not captured.
        _ => Value::Hex(raw),
    }
}

fn decode_syscall(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: SyscallRecord = read(bytes)?;
    let def = syscalls::by_nr(r.nr).ok_or(DecodeError::UnknownEvent(r.nr))?;
    if r.header.event_id != r.nr {
        return Err(DecodeError::KindMismatch {
            id: r.header.event_id,
            kind: RecordKind::Syscall,
        });
    }
    // Slot i starts at the fixed part + i * STR_MAX.
    let mut captured: [Option<Value>; 6] = Default::default();
    for slot in 0..MAX_STR_ARGS {
        let arg = r.str_arg[slot];
        if arg == NO_ARG {
            continue;
        }
        let arg = arg as usize;
        let len = r.str_len[slot] as usize;
        if arg >= 6 || len >= STR_MAX {
            return Err(DecodeError::BadString { slot, len });
        }
        let start = size_of::<SyscallRecord>() + slot * STR_MAX;
        let data = bytes
            .get(start..start + len)
            .ok_or(DecodeError::BadString { slot, len })?;
        captured[arg] = Some(slot_value(&r, slot, data, r.args[arg]));
    }
    let mut args: Vec<Arg> = def
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| Arg {
            name: a.name,
            value: captured[i]
                .take()
                .unwrap_or_else(|| register_value(a.kind, r.args[i])),
        })
        .collect();
    refine(def.name, &mut args);
    Ok(Event {
        id: r.nr,
        name: def.name,
        category: Category::Syscall,
        ctx: context(&r.ctx),
        ret: r.ret,
        ret_kind: def.ret,
        no_return: r.header.flags & FLAG_NO_RETURN != 0,
        args,
        observed_unix_ns: 0,
    })
}

/// Arguments whose meaning depends on another argument.
fn refine(syscall: &str, args: &mut [Arg]) {
    if syscall == "socket" || syscall == "socketpair" {
        // IPPROTO_* names only mean something for IP sockets.
        let ip = matches!(
            args.first().map(|a| &a.value),
            Some(Value::Sym { raw, .. }) if matches!(*raw as i32, libc::AF_INET | libc::AF_INET6)
        );
        if !ip
            && let Some(a) = args.get_mut(2)
            && let Value::Sym { raw, .. } = a.value
        {
            a.value = Value::Int(raw as u32 as i32 as i64);
        }
        return;
    }
    if syscall == "prctl" {
        // prctl(PR_CAPBSET_READ/DROP, cap) and prctl(PR_CAP_AMBIENT, op, cap).
        let option = match args.first().map(|a| &a.value) {
            Some(Value::Sym { raw, .. }) => *raw as u32 as i32,
            _ => return,
        };
        let cap_arg = match option {
            libc::PR_CAPBSET_READ | libc::PR_CAPBSET_DROP => 1,
            libc::PR_CAP_AMBIENT => 2,
            _ => return,
        };
        if let Some(a) = args.get_mut(cap_arg)
            && let Value::UInt(raw) = a.value
        {
            a.value = Value::Sym {
                raw,
                text: flags::capability(raw as i64),
            };
        }
    }
}

fn decode_fork(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: ForkRecord = read(bytes)?;
    sched_event(
        SchedEvent::ProcessFork,
        &r.header,
        &r.ctx,
        vec![
            Value::Int(r.child_pid as i64),
            Value::Int(r.child_tid as i64),
        ],
    )
}

fn decode_exec(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: ExecRecord = read(bytes)?;
    let fixed = size_of::<ExecRecord>();
    let flen = r.filename_len as usize;
    let alen = r.argv_len as usize;
    let elen = r.env_len as usize;
    if flen >= EXEC_FILENAME_MAX {
        return Err(DecodeError::BadString { slot: 0, len: flen });
    }
    if alen > EXEC_ARGV_MAX {
        return Err(DecodeError::BadString { slot: 1, len: alen });
    }
    if elen > EXEC_ENV_MAX {
        return Err(DecodeError::BadString { slot: 2, len: elen });
    }
    let filename = bytes
        .get(fixed..fixed + flen)
        .ok_or(DecodeError::BadString { slot: 0, len: flen })?;
    let argv_start = fixed + EXEC_FILENAME_MAX;
    let argv = bytes
        .get(argv_start..argv_start + alen)
        .ok_or(DecodeError::BadString { slot: 1, len: alen })?;
    let env_start = argv_start + EXEC_ARGV_MAX;
    let env = bytes
        .get(env_start..env_start + elen)
        .ok_or(DecodeError::BadString { slot: 2, len: elen })?;
    let list = |block: &[u8], count: u32, truncated: u32, fault: u32| {
        if r.flags & fault != 0 {
            Value::Unreadable(0)
        } else {
            let values = split_nul(block);
            Value::StrList {
                truncated: r.flags & truncated != 0 || (values.len() as u32) < count,
                count: count.max(values.len() as u32),
                values,
            }
        }
    };
    sched_event(
        SchedEvent::ProcessExec,
        &r.header,
        &r.ctx,
        vec![
            Value::Str {
                value: text(filename),
                truncated: r.flags & EXEC_FILENAME_TRUNCATED != 0,
            },
            list(argv, r.argc, EXEC_ARGV_TRUNCATED, EXEC_ARGV_FAULT),
            Value::Int(r.argc as i64),
            list(env, r.envc, EXEC_ENV_TRUNCATED, EXEC_ENV_FAULT),
            Value::Int(r.envc as i64),
            Value::Int(r.old_tid as i64),
        ],
    )
}

/// NUL-terminated strings back to back (argv blocks, captured arrays). A block
/// cut at its bound ends in a partial string, which is kept.
fn split_nul(block: &[u8]) -> Vec<String> {
    let block = block.strip_suffix(&[0]).unwrap_or(block);
    if block.is_empty() {
        return Vec::new();
    }
    block.split(|&b| b == 0).map(text).collect()
}

fn decode_exit(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: ExitRecord = read(bytes)?;
    let code = r.exit_code;
    sched_event(
        SchedEvent::ProcessExit,
        &r.header,
        &r.ctx,
        vec![
            Value::Int(((code >> 8) & 0xff) as i64),
            Value::Int((code & 0x7f) as i64),
            Value::Bool(code & 0x80 != 0),
            Value::Bool(r.group_dead != 0),
        ],
    )
}

#[cfg(test)]
mod tests;
