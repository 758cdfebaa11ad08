//! Syscall records: the six registers typed by the syscall table, the string
//! slots read at entry or exit.

use std::mem::size_of;

use exporter_common::{
    records::{
        FLAG_NO_RETURN, MAX_STR_ARGS, NO_ARG, RecordKind, STR_ARRAY, STR_BYTES, STR_FAULT, STR_MAX,
        STR_NOT_FILLED, STR_TRUNCATED, SyscallRecord,
    },
    syscalls::{self, ArgKind},
};

use super::{DecodeError, context, read, split_nul};
use crate::{
    event::{Arg, Category, Event, SockAddr, Value, text},
    format::flags,
};

pub(super) fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: SyscallRecord = read(bytes)?;
    let d = &r.data;
    let def = syscalls::by_nr(d.nr).ok_or(DecodeError::UnknownEvent(d.nr))?;
    if r.header.event_id != d.nr {
        return Err(DecodeError::KindMismatch {
            id: r.header.event_id,
            kind: RecordKind::Syscall,
        });
    }
    // Slot i starts at the fixed part + i * STR_MAX.
    let mut captured: [Option<Value>; 6] = Default::default();
    for slot in 0..MAX_STR_ARGS {
        let arg = d.str_arg[slot];
        if arg == NO_ARG {
            continue;
        }
        let arg = arg as usize;
        let len = d.str_len[slot] as usize;
        if arg >= 6 || len >= STR_MAX {
            return Err(DecodeError::BadString { slot, len });
        }
        let start = size_of::<SyscallRecord>() + slot * STR_MAX;
        let data = bytes
            .get(start..start + len)
            .ok_or(DecodeError::BadString { slot, len })?;
        captured[arg] = Some(slot_value(&r, slot, data, d.args[arg]));
    }
    let mut args: Vec<Arg> = def
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| Arg {
            name: a.name,
            value: captured[i]
                .take()
                .unwrap_or_else(|| register_value(a.kind, d.args[i])),
        })
        .collect();
    refine(def.name, &mut args);
    Ok(Event {
        id: d.nr,
        name: def.name,
        category: Category::Syscall,
        ctx: context(&r.ctx),
        ret: d.ret,
        ret_kind: def.ret,
        no_return: r.header.flags & FLAG_NO_RETURN != 0,
        args,
        observed_unix_ns: 0,
        sequence: 0,
    })
}

/// A slot's bytes as the value they hold.
fn slot_value(r: &SyscallRecord, slot: usize, data: &[u8], raw: u64) -> Value {
    let flags = r.data.str_flags[slot];
    if flags & STR_NOT_FILLED != 0 {
        // The call failed (or passed no buffer): the kernel wrote nothing.
        return Value::Hex(raw);
    }
    if flags & STR_FAULT != 0 && data.is_empty() {
        // NULL is a value (futimens passes no path), not memory that failed.
        return if raw == 0 {
            Value::Hex(0)
        } else {
            Value::Unreadable(raw)
        };
    }
    if flags & STR_ARRAY != 0 {
        let values = split_nul(data);
        let count = (r.data.array_count[slot] as u32).max(values.len() as u32);
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
