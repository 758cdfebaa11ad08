//! The process life-cycle records: fork, exec, exit.

use std::mem::size_of;

use exporter_common::{
    events::EventKind,
    records::{
        EXEC_ARGV_FAULT, EXEC_ARGV_MAX, EXEC_ARGV_TRUNCATED, EXEC_ENV_FAULT, EXEC_ENV_MAX,
        EXEC_ENV_TRUNCATED, EXEC_FILENAME_MAX, EXEC_FILENAME_TRUNCATED, ExecRecord, ExitRecord,
        ForkRecord,
    },
};

use super::{DecodeError, declared, read, split_nul};
use crate::event::{Event, Value, text};

pub(super) fn decode_fork(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: ForkRecord = read(bytes)?;
    declared(
        EventKind::ProcessFork,
        &r.header,
        &r.ctx,
        vec![
            Value::Int(r.data.child_pid as i64),
            Value::Int(r.data.child_tid as i64),
        ],
    )
}

pub(super) fn decode_exec(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: ExecRecord = read(bytes)?;
    let d = &r.data;
    let fixed = size_of::<ExecRecord>();
    let flen = d.filename_len as usize;
    let alen = d.argv_len as usize;
    let elen = d.env_len as usize;
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
        if d.flags & fault != 0 {
            Value::Unreadable(0)
        } else {
            let values = split_nul(block);
            Value::StrList {
                truncated: d.flags & truncated != 0 || (values.len() as u32) < count,
                count: count.max(values.len() as u32),
                values,
            }
        }
    };
    declared(
        EventKind::ProcessExec,
        &r.header,
        &r.ctx,
        vec![
            Value::Str {
                value: text(filename),
                truncated: d.flags & EXEC_FILENAME_TRUNCATED != 0,
            },
            list(argv, d.argc, EXEC_ARGV_TRUNCATED, EXEC_ARGV_FAULT),
            Value::Int(d.argc as i64),
            list(env, d.envc, EXEC_ENV_TRUNCATED, EXEC_ENV_FAULT),
            Value::Int(d.envc as i64),
            Value::Int(d.old_tid as i64),
        ],
    )
}

pub(super) fn decode_exit(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: ExitRecord = read(bytes)?;
    let code = r.data.exit_code;
    declared(
        EventKind::ProcessExit,
        &r.header,
        &r.ctx,
        vec![
            Value::Int(((code >> 8) & 0xff) as i64),
            Value::Int((code & 0x7f) as i64),
            Value::Bool(code & 0x80 != 0),
            Value::Bool(r.data.group_dead != 0),
        ],
    )
}
