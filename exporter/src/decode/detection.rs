//! Detections: records the kernel writes when two views of one action
//! disagree.

use std::mem::size_of;

use exporter_common::{
    events::EventKind,
    records::{
        EXEC_FILENAME_MAX, ExecMismatchRecord, MISMATCH_CHANGED, MISMATCH_UNREADABLE, STR_MAX,
        STR_TRUNCATED,
    },
    syscalls,
};

use super::{DecodeError, declared, read, slot_str};
use crate::event::{Event, Value};

pub(super) fn decode_exec_mismatch(bytes: &[u8]) -> Result<Event, DecodeError> {
    let r: ExecMismatchRecord = read(bytes)?;
    let d = &r.data;
    let fixed = size_of::<ExecMismatchRecord>();
    let reason = match d.reason {
        MISMATCH_CHANGED => "changed",
        MISMATCH_UNREADABLE => "unreadable",
        _ => "unknown",
    };
    let syscall_path = if d.reason == MISMATCH_UNREADABLE {
        Value::Unreadable(d.addr)
    } else {
        slot_str(
            bytes,
            0,
            fixed,
            STR_MAX,
            d.syscall_len as usize,
            d.syscall_flags & STR_TRUNCATED != 0,
        )?
    };
    let kernel_path = slot_str(
        bytes,
        1,
        fixed + STR_MAX,
        EXEC_FILENAME_MAX,
        d.kernel_len as usize,
        d.kernel_cut != 0,
    )?;
    let syscall =
        syscalls::by_nr(d.nr).map_or_else(|| format!("syscall_{}", d.nr), |s| s.name.to_string());
    declared(
        EventKind::ExecMismatch,
        &r.header,
        &r.ctx,
        vec![
            Value::Str {
                value: syscall,
                truncated: false,
            },
            Value::Str {
                value: reason.to_string(),
                truncated: false,
            },
            syscall_path,
            kernel_path,
            Value::Fd(i64::from(d.dirfd)),
        ],
    )
}

#[cfg(test)]
pub(super) mod tests {
    use exporter_common::records::{
        ExecMismatch, ExecMismatchBuf, RecordHeader, RecordKind, STR_FAULT, TaskContext,
    };

    use super::*;
    use crate::decode::decode;

    /// A whole mismatch record as the kernel writes it, as bytes.
    pub(in crate::decode) fn record(
        reason: u32,
        said: &[u8],
        kernel: &[u8],
        said_flags: u8,
    ) -> Vec<u8> {
        let len = size_of::<ExecMismatchBuf>();
        let mut buf = ExecMismatchBuf {
            rec: ExecMismatchRecord {
                header: RecordHeader::new(
                    RecordKind::ExecMismatch,
                    EventKind::ExecMismatch.id(),
                    len,
                ),
                ctx: TaskContext::zeroed(),
                data: ExecMismatch {
                    nr: exporter_common::syscalls::by_name("execveat")
                        .expect("execveat")
                        .nr,
                    reason,
                    dirfd: 3,
                    syscall_len: said.len() as u16,
                    kernel_len: kernel.len() as u16,
                    syscall_flags: said_flags,
                    addr: 0x7000,
                    ..ExecMismatch::default()
                },
            },
            syscall_path: [0; STR_MAX],
            kernel_path: [0; EXEC_FILENAME_MAX],
        };
        buf.syscall_path[..said.len()].copy_from_slice(said);
        buf.kernel_path[..kernel.len()].copy_from_slice(kernel);
        // SAFETY: a plain-data record viewed as its bytes.
        unsafe { std::slice::from_raw_parts(&buf as *const ExecMismatchBuf as *const u8, len) }
            .to_vec()
    }

    fn s(v: &str, truncated: bool) -> Value {
        Value::Str {
            value: v.into(),
            truncated,
        }
    }

    #[test]
    fn both_names_and_the_reason() {
        let e = decode(&record(
            MISMATCH_CHANGED,
            b"x",
            b"/dev/fd/3/y",
            STR_TRUNCATED,
        ))
        .unwrap();
        assert_eq!(e.name, "sysotel.exec.mismatch");
        let values: Vec<_> = e.args.iter().map(|a| (a.name, a.value.clone())).collect();
        assert_eq!(
            values,
            vec![
                ("syscall", s("execveat", false)),
                ("reason", s("changed", false)),
                ("syscall_path", s("x", true)),
                ("kernel_path", s("/dev/fd/3/y", false)),
                ("dirfd", Value::Fd(3)),
            ]
        );
        let e = decode(&record(MISMATCH_UNREADABLE, b"", b"/bin/true", STR_FAULT)).unwrap();
        assert_eq!(e.arg("syscall_path"), Some(&Value::Unreadable(0x7000)));
        assert_eq!(e.arg("reason"), Some(&s("unreadable", false)));
    }

    #[test]
    fn bad_lengths_and_short_records_are_errors() {
        let mut r = record(MISMATCH_CHANGED, b"a", b"b", 0);
        // kernel_len past its slot.
        let at = size_of::<RecordHeader>() + size_of::<TaskContext>() + 14;
        r[at..at + 2].copy_from_slice(&(EXEC_FILENAME_MAX as u16).to_ne_bytes());
        assert!(matches!(
            decode(&r),
            Err(DecodeError::BadString { slot: 1, .. })
        ));
        let r = record(MISMATCH_CHANGED, b"a", b"b", 0);
        let fixed = size_of::<ExecMismatchRecord>();
        let mut short = r[..fixed].to_vec();
        short[8..12].copy_from_slice(&(fixed as u32).to_ne_bytes());
        assert!(matches!(decode(&short), Err(DecodeError::BadString { .. })));
        assert!(matches!(
            decode(&r[..fixed - 1]),
            Err(DecodeError::Short { .. }) | Err(DecodeError::BadLength { .. })
        ));
    }
}
