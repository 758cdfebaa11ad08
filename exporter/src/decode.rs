//! Ring-buffer record -> [`Event`]. Table-driven (the syscall table says how to
//! read each argument), bounds-checked everywhere: a short, oversized or garbage
//! record is a [`DecodeError`], never a panic.

use std::mem::size_of;

use exporter_common::{
    events::SchedEvent,
    records::{
        EXEC_ARGV_FAULT, EXEC_ARGV_MAX, EXEC_ARGV_TRUNCATED, EXEC_FILENAME_MAX,
        EXEC_FILENAME_TRUNCATED, ExecRecord, ExitRecord, FLAG_NO_RETURN, ForkRecord, MAX_STR_ARGS,
        NO_ARG, RecordHeader, RecordKind, STR_FAULT, STR_MAX, STR_TRUNCATED, SyscallRecord,
        TaskContext,
    },
    syscalls::{self, ArgKind},
};
use thiserror::Error;

use crate::{
    catalog::{Category, sched},
    event::{Arg, Context, Event, Value, c_text, text},
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
        no_return: false,
        args,
    })
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
    // String slots: slot i starts at the fixed part + i * STR_MAX.
    let mut strings: [Option<Value>; 6] = Default::default();
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
        let value = if r.str_flags[slot] & STR_FAULT != 0 {
            Value::Unreadable(r.args[arg])
        } else {
            let s = bytes
                .get(start..start + len)
                .ok_or(DecodeError::BadString { slot, len })?;
            Value::Str {
                value: text(s),
                truncated: r.str_flags[slot] & STR_TRUNCATED != 0,
            }
        };
        strings[arg] = Some(value);
    }
    let args = def
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let raw = r.args[i];
            let value = match (a.kind, strings[i].take()) {
                (ArgKind::Path, Some(v)) => v,
                (ArgKind::I32, _) => Value::Int(raw as u32 as i32 as i64),
                (ArgKind::U32, _) => Value::UInt(raw as u32 as u64),
                (ArgKind::I64, _) => Value::Int(raw as i64),
                (ArgKind::U64, _) => Value::UInt(raw),
                (ArgKind::Mode, _) => Value::Octal(raw & 0o177777),
                (ArgKind::Ptr | ArgKind::Path, _) => Value::Hex(raw),
            };
            Arg {
                name: a.name,
                value,
            }
        })
        .collect();
    Ok(Event {
        id: r.nr,
        name: def.name,
        category: Category::Syscall,
        ctx: context(&r.ctx),
        ret: r.ret,
        no_return: r.header.flags & FLAG_NO_RETURN != 0,
        args,
    })
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
    if flen >= EXEC_FILENAME_MAX {
        return Err(DecodeError::BadString { slot: 0, len: flen });
    }
    if alen > EXEC_ARGV_MAX {
        return Err(DecodeError::BadString { slot: 1, len: alen });
    }
    let filename = bytes
        .get(fixed..fixed + flen)
        .ok_or(DecodeError::BadString { slot: 0, len: flen })?;
    let argv_start = fixed + EXEC_FILENAME_MAX;
    let argv = bytes
        .get(argv_start..argv_start + alen)
        .ok_or(DecodeError::BadString { slot: 1, len: alen })?;
    let argv_value = if r.flags & EXEC_ARGV_FAULT != 0 {
        Value::Unreadable(0)
    } else {
        Value::StrList {
            values: split_argv(argv),
            truncated: r.flags & EXEC_ARGV_TRUNCATED != 0,
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
            argv_value,
            Value::Int(r.argc as i64),
            Value::Int(r.old_tid as i64),
        ],
    )
}

/// argv as the kernel laid it out: NUL-terminated strings back to back. A block
/// cut at its bound ends in a partial string, which is kept.
fn split_argv(block: &[u8]) -> Vec<String> {
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
