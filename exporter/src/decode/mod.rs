//! Ring-buffer record -> [`Event`]. Table-driven (the syscall table and the
//! event declarations say how to read each field), bounds-checked everywhere:
//! a short, oversized or garbage record is a [`DecodeError`], never a panic.

mod detection;
mod lsm;
mod sched;
mod syscall;

use std::{cell::RefCell, mem::size_of, sync::Arc};

use exporter_common::{
    events::EventKind,
    records::{COMM_LEN, RecordHeader, RecordKind, TaskContext, UTS_LEN},
};
use thiserror::Error;

use crate::event::{Context, Event, Value, c_text, text};

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
        RecordKind::Syscall => syscall::decode(bytes),
        RecordKind::Fork => sched::decode_fork(bytes),
        RecordKind::Exec => sched::decode_exec(bytes),
        RecordKind::Exit => sched::decode_exit(bytes),
        RecordKind::FileOpen => lsm::decode_file_open(bytes),
        RecordKind::BprmCheck => lsm::decode_bprm_check(bytes),
        RecordKind::ExecMismatch => detection::decode_exec_mismatch(bytes),
        RecordKind::LsmHook => lsm::decode_lsm_hook(bytes),
        RecordKind::LsmPaths => lsm::decode_lsm_paths(bytes),
    }
}

/// The last comm and nodename decoded on this thread, as their raw bytes
/// and the shared text: a run of records from one task makes one of each.
#[derive(Default)]
struct Names {
    comm: Option<([u8; COMM_LEN], Arc<str>)>,
    uts: Option<([u8; UTS_LEN], Arc<str>)>,
}

thread_local! {
    static NAMES: RefCell<Names> = RefCell::new(Names::default());
}

/// `raw` as text, shared with the previous record's when the bytes are the same.
fn shared<const N: usize>(last: &mut Option<([u8; N], Arc<str>)>, raw: &[u8; N]) -> Arc<str> {
    if let Some((bytes, text)) = last
        && bytes == raw
    {
        return text.clone();
    }
    let text: Arc<str> = c_text(raw).into();
    *last = Some((*raw, text.clone()));
    text
}

fn context(c: &TaskContext) -> Context {
    let (comm, uts_name) = NAMES.with_borrow_mut(|n| {
        (
            shared(&mut n.comm, &c.comm),
            shared(&mut n.uts, &c.uts_name),
        )
    });
    Context {
        ts_boot_ns: c.ts_boot_ns,
        cgroup_id: c.cgroup_id,
        pid: c.pid,
        tid: c.tid,
        ppid: c.ppid,
        vpid: c.vpid,
        uid: c.uid,
        gid: c.gid,
        euid: c.euid,
        suid: c.suid,
        mnt_ns: c.mnt_ns,
        pid_ns: c.pid_ns,
        sid: c.sid,
        pgid: c.pgid,
        interactive: c.interactive != 0,
        start_boot_ns: c.start_boot_ns,
        start_unix_ns: 0,
        user_name: None,
        real_user_name: None,
        comm,
        uts_name,
        container_id: None,
        container: None,
    }
}

/// A declared kernel event from its record: `values` in the order of its
/// declared fields. The record's event id must be `e`.
fn declared(
    e: EventKind,
    header: &RecordHeader,
    ctx: &TaskContext,
    values: Vec<Value>,
) -> Result<Event, DecodeError> {
    if header.event_id != e.id() {
        return Err(DecodeError::UnknownEvent(header.event_id));
    }
    Ok(Event::declared(e, context(ctx), values))
}

/// The string of `len` bytes at `start` in its slot of `max` bytes (`slot`
/// names it in errors), bounds-checked against the slot and the record.
fn slot_str(
    bytes: &[u8],
    slot: usize,
    start: usize,
    max: usize,
    len: usize,
    truncated: bool,
) -> Result<Value, DecodeError> {
    if len >= max {
        return Err(DecodeError::BadString { slot, len });
    }
    let raw = bytes
        .get(start..start + len)
        .ok_or(DecodeError::BadString { slot, len })?;
    Ok(Value::Str {
        value: text(raw),
        truncated,
    })
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

#[cfg(test)]
mod tests;
