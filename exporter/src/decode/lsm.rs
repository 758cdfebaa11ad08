//! The LSM hook records: files and execs as the kernel holds them.

use std::mem::size_of;

use exporter_common::{
    events::{EventKind, FieldKind, Source},
    records::{
        BPRM_FILENAME_TRUNCATED, BPRM_INTERP_TRUNCATED, BPRM_SETGID, BPRM_SETUID, BprmCheckRecord,
        EXEC_FILENAME_MAX, FileOpenRecord, LSM_PATHS, LSM_STR_CUT, LSM_STR_MAX, LSM_STR_NONE,
        LSM_STRS, LsmFile, LsmHookRecord, LsmPathsRecord, PATH_BLOCK, PATH_CUT, PATH_ELEM_MAX,
        PATH_FAULT, PATH_NAME_CUT, RecordKind, SOCKADDR_MAX,
    },
};

use super::{DecodeError, declared, read, slot_str};
use crate::{
    event::{SockAddr, Value, text},
    format::flags::{open_flags, symbolic},
};

/// The path from its slots of components (leaf first): root first, joined
/// with `/`. A walk cut at its bound keeps the last components, without the
/// leading `/`, marked truncated (as is a path with a component cut at its
/// slot); a failed walk is unreadable.
pub(crate) fn path_value(path_flags: u8, block: &[u8]) -> Value {
    if path_flags & PATH_FAULT != 0 {
        return Value::Unreadable(0);
    }
    let mut parts: Vec<String> = block
        .chunks(PATH_ELEM_MAX)
        .map(|slot| text(slot.split(|&b| b == 0).next().unwrap_or_default()))
        .collect();
    parts.reverse();
    let cut = path_flags & PATH_CUT != 0;
    let joined = parts.join("/");
    Value::Str {
        value: if cut { joined } else { format!("/{joined}") },
        truncated: cut || path_flags & PATH_NAME_CUT != 0,
    }
}

/// The fields every LSM file record starts with, in their declared order.
fn file_values(f: &LsmFile, block: &[u8]) -> Vec<Value> {
    vec![
        path_value(f.path_flags, block),
        Value::Int(i64::from(f.dev)),
        Value::UInt(f.ino),
        Value::Sym {
            raw: u64::from(f.flags),
            text: open_flags(u64::from(f.flags)),
        },
        Value::Hex(u64::from(f.mode)),
    ]
}

/// The path block after the fixed part, bounds-checked.
fn block(bytes: &[u8], start: usize, len: usize) -> Result<&[u8], DecodeError> {
    if len > PATH_BLOCK {
        return Err(DecodeError::BadString { slot: 0, len });
    }
    bytes
        .get(start..start + len)
        .ok_or(DecodeError::BadString { slot: 0, len })
}

pub(super) fn decode_file_open(bytes: &[u8]) -> Result<crate::event::Event, DecodeError> {
    let r: FileOpenRecord = read(bytes)?;
    let f = &r.data;
    let path = block(bytes, size_of::<FileOpenRecord>(), f.path_len as usize)?;
    declared(EventKind::FileOpen, &r.header, &r.ctx, file_values(f, path))
}

/// An LSM hook record of numbers and at most one socket address: each
/// declared field of its event, in order, from the next number (or the
/// address).
pub(super) fn decode_lsm_hook(bytes: &[u8]) -> Result<crate::event::Event, DecodeError> {
    let r: LsmHookRecord = read(bytes)?;
    let e = hook_event(r.header.event_id, RecordKind::LsmHook)?;
    let def = e.def();
    let d = &r.data;
    let len = d.addr_len as usize;
    if len > SOCKADDR_MAX {
        return Err(DecodeError::BadString { slot: 0, len });
    }
    let fixed = size_of::<LsmHookRecord>();
    let addr = bytes
        .get(fixed..fixed + len)
        .ok_or(DecodeError::BadString { slot: 0, len })?;
    let mut ints = d.ints.iter().copied();
    let mut values = Vec::with_capacity(def.fields.len());
    for f in def.fields {
        let v = match f.kind {
            FieldKind::SockAddr => match SockAddr::parse(addr) {
                Some(a) => Value::SockAddr(a),
                // No address (a family without one here): empty.
                None => Value::Str {
                    value: String::new(),
                    truncated: false,
                },
            },
            // The declaration test keeps these within LSM_INTS.
            kind => number(kind, ints.next().unwrap_or(0)),
        };
        values.push(v);
    }
    declared(e, &r.header, &r.ctx, values)
}

/// A number field of an LSM hook record as its declared kind says.
fn number(kind: FieldKind, raw: u64) -> Value {
    match kind {
        FieldKind::Hex => Value::Hex(raw),
        FieldKind::Bool => Value::Bool(raw != 0),
        FieldKind::Sym(k) => Value::Sym {
            raw,
            text: symbolic(k, raw).unwrap_or_else(|| raw.to_string()),
        },
        _ => Value::Int(raw as i64),
    }
}

/// The declared event of an LSM record of `kind`, checked.
fn hook_event(id: u32, kind: RecordKind) -> Result<EventKind, DecodeError> {
    let e = EventKind::from_id(id).ok_or(DecodeError::UnknownEvent(id))?;
    match e.def().source {
        Source::Kernel { record, .. } if record == kind => Ok(e),
        _ => Err(DecodeError::KindMismatch { id, kind }),
    }
}

/// An LSM hook record of paths, kernel strings and numbers: each declared
/// field of its event, in order, from the next path, string or number.
pub(super) fn decode_lsm_paths(bytes: &[u8]) -> Result<crate::event::Event, DecodeError> {
    let r: LsmPathsRecord = read(bytes)?;
    let e = hook_event(r.header.event_id, RecordKind::LsmPaths)?;
    let d = &r.data;
    let fixed = size_of::<LsmPathsRecord>();
    let paths_at = fixed + LSM_STRS * LSM_STR_MAX;
    let (mut next_int, mut next_str, mut next_path) = (0, 0, 0);
    let mut values = Vec::with_capacity(e.def().fields.len());
    for f in e.def().fields {
        let v = match f.kind {
            FieldKind::Path => {
                let i = next_path;
                next_path += 1;
                if i >= LSM_PATHS || i >= d.paths as usize {
                    return Err(DecodeError::BadString { slot: i, len: 0 });
                }
                let start = paths_at + i * PATH_BLOCK;
                path_value(
                    d.path_flags[i],
                    block(bytes, start, d.path_len[i] as usize)?,
                )
            }
            FieldKind::Str => {
                let i = next_str;
                next_str += 1;
                if i >= LSM_STRS {
                    return Err(DecodeError::BadString { slot: i, len: 0 });
                }
                let len = if d.str_flags[i] & LSM_STR_NONE != 0 {
                    0
                } else {
                    d.str_len[i] as usize
                };
                let start = fixed + i * LSM_STR_MAX;
                slot_str(
                    bytes,
                    i,
                    start,
                    LSM_STR_MAX,
                    len,
                    d.str_flags[i] & LSM_STR_CUT != 0,
                )?
            }
            kind => {
                let raw = d.ints.get(next_int).copied().unwrap_or(0);
                next_int += 1;
                number(kind, raw)
            }
        };
        values.push(v);
    }
    declared(e, &r.header, &r.ctx, values)
}

pub(super) fn decode_bprm_check(bytes: &[u8]) -> Result<crate::event::Event, DecodeError> {
    let r: BprmCheckRecord = read(bytes)?;
    let d = &r.data;
    let fixed = size_of::<BprmCheckRecord>();
    let path = block(bytes, fixed, d.file.path_len as usize)?;
    let name = |slot: usize, start: usize, len: usize, truncated: u32| {
        slot_str(
            bytes,
            slot,
            start,
            EXEC_FILENAME_MAX,
            len,
            d.flags & truncated != 0,
        )
    };
    let filename_at = fixed + PATH_BLOCK;
    let filename = name(
        1,
        filename_at,
        d.filename_len as usize,
        BPRM_FILENAME_TRUNCATED,
    )?;
    // The interpreter only when it is another name than the file name.
    let interp = match d.interp_len {
        0 => Value::Str {
            value: String::new(),
            truncated: false,
        },
        n => name(
            2,
            filename_at + EXEC_FILENAME_MAX,
            n as usize,
            BPRM_INTERP_TRUNCATED,
        )?,
    };
    let interp = if interp == filename {
        Value::Str {
            value: String::new(),
            truncated: false,
        }
    } else {
        interp
    };
    let mut values = file_values(&d.file, path);
    values.extend([
        filename,
        interp,
        Value::Int(i64::from(d.argc)),
        Value::Bool(d.flags & BPRM_SETUID != 0),
        Value::Bool(d.flags & BPRM_SETGID != 0),
    ]);
    declared(EventKind::BprmCheck, &r.header, &r.ctx, values)
}

#[cfg(test)]
pub(super) mod tests {
    use exporter_common::records::LSM_INTS;

    use super::*;

    /// A path block: `names` leaf first, one per slot.
    fn block(names: &[&str]) -> Vec<u8> {
        let mut b = vec![0u8; names.len() * PATH_ELEM_MAX];
        for (i, n) in names.iter().enumerate() {
            b[i * PATH_ELEM_MAX..i * PATH_ELEM_MAX + n.len()].copy_from_slice(n.as_bytes());
        }
        b
    }

    fn file(flags: u8, count: usize) -> LsmFile {
        LsmFile {
            path_flags: flags,
            path_count: count as u8,
            path_len: (count * PATH_ELEM_MAX) as u16,
            ..LsmFile::default()
        }
    }

    #[test]
    fn components_join_root_first() {
        let b = block(&["f", "d", "tmp"]);
        assert_eq!(
            path_value(0, &b),
            Value::Str {
                value: "/tmp/d/f".into(),
                truncated: false
            }
        );
        // The root itself: no component.
        assert_eq!(
            path_value(0, &[]),
            Value::Str {
                value: "/".into(),
                truncated: false
            }
        );
    }

    #[test]
    fn a_cut_walk_keeps_the_tail_marked_and_a_fault_is_unreadable() {
        let b = block(&["f", "d"]);
        assert_eq!(
            path_value(PATH_CUT, &b),
            Value::Str {
                value: "d/f".into(),
                truncated: true
            }
        );
        assert_eq!(
            path_value(PATH_NAME_CUT, &b),
            Value::Str {
                value: "/d/f".into(),
                truncated: true
            }
        );
        assert_eq!(path_value(PATH_FAULT, &[]), Value::Unreadable(0));
    }

    #[test]
    fn a_record_shorter_than_its_path_is_an_error() {
        let r = FileOpenRecord {
            header: exporter_common::records::RecordHeader::new(
                exporter_common::records::RecordKind::FileOpen,
                EventKind::FileOpen.id(),
                size_of::<FileOpenRecord>(),
            ),
            ctx: exporter_common::records::TaskContext::zeroed(),
            data: file(0, 3),
        };
        // SAFETY: a plain-data record viewed as its bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                &r as *const FileOpenRecord as *const u8,
                size_of::<FileOpenRecord>(),
            )
        };
        assert!(matches!(
            super::super::decode(bytes),
            Err(DecodeError::BadString { .. })
        ));
    }

    pub(in crate::decode) fn hook_record(
        e: EventKind,
        ints: [u64; LSM_INTS],
        addr: &[u8],
    ) -> Vec<u8> {
        let mut buf = exporter_common::records::LsmHookBuf {
            rec: LsmHookRecord {
                header: exporter_common::records::RecordHeader::new(
                    RecordKind::LsmHook,
                    e.id(),
                    size_of::<LsmHookRecord>() + addr.len(),
                ),
                ctx: exporter_common::records::TaskContext::zeroed(),
                data: exporter_common::records::LsmHook {
                    ints,
                    addr_len: addr.len() as u16,
                    _pad: [0; 6],
                },
            },
            addr: [0; SOCKADDR_MAX],
        };
        buf.addr[..addr.len()].copy_from_slice(addr);
        // SAFETY: a plain-data record viewed as its bytes.
        unsafe {
            std::slice::from_raw_parts(
                &buf as *const _ as *const u8,
                size_of::<LsmHookRecord>() + addr.len(),
            )
        }
        .to_vec()
    }

    #[test]
    fn hook_fields_follow_their_declaration() {
        let mut sin = [0u8; 16];
        sin[..2].copy_from_slice(&2u16.to_ne_bytes());
        sin[2..4].copy_from_slice(&8080u16.to_be_bytes());
        sin[4..8].copy_from_slice(&[127, 0, 0, 1]);
        let e = super::super::decode(&hook_record(
            EventKind::SocketListen,
            [2, 1, 6, 7, 0, 0],
            &sin,
        ))
        .unwrap();
        let values: Vec<_> = e.args.iter().map(|a| (a.name, a.value.clone())).collect();
        let sym = |raw, text: &str| Value::Sym {
            raw,
            text: text.into(),
        };
        assert_eq!(
            values,
            vec![
                ("family", sym(2, "AF_INET")),
                ("type", sym(1, "SOCK_STREAM")),
                ("protocol", sym(6, "IPPROTO_TCP")),
                ("backlog", Value::Int(7)),
                (
                    "local_addr",
                    Value::SockAddr(crate::event::SockAddr::Ip {
                        addr: std::net::Ipv4Addr::new(127, 0, 0, 1).into(),
                        port: 8080
                    })
                ),
            ]
        );
        let e = super::super::decode(&hook_record(
            EventKind::FileMprotect,
            [0x7000, 0x9000, 5, 5, 1, 0],
            &[],
        ))
        .unwrap();
        assert_eq!(e.arg("start"), Some(&Value::Hex(0x7000)));
        assert_eq!(e.arg("reqprot"), Some(&sym(5, "PROT_READ|PROT_EXEC")));
        assert_eq!(e.arg("anonymous"), Some(&Value::Bool(true)));
    }

    #[test]
    fn a_hook_record_for_another_kind_of_event_or_a_long_address_is_an_error() {
        let r = hook_record(EventKind::FileOpen, [0; LSM_INTS], &[]);
        assert!(matches!(
            super::super::decode(&r),
            Err(DecodeError::KindMismatch { .. })
        ));
        let mut r = hook_record(EventKind::SocketConnect, [0; LSM_INTS], &[0; 16]);
        let at = size_of::<exporter_common::records::RecordHeader>()
            + size_of::<exporter_common::records::TaskContext>()
            + 8 * LSM_INTS;
        r[at..at + 2].copy_from_slice(&((SOCKADDR_MAX + 1) as u16).to_ne_bytes());
        assert!(matches!(
            super::super::decode(&r),
            Err(DecodeError::BadString { .. })
        ));
    }

    /// A mount record: `/tmp/src` bind-mounted on `/tmp/dst`, its path
    /// count `paths`.
    pub(in crate::decode) fn mount_record(paths: u8) -> Vec<u8> {
        use exporter_common::records::{LsmPaths, LsmPathsBuf};
        let mut buf = LsmPathsBuf {
            rec: LsmPathsRecord {
                header: exporter_common::records::RecordHeader::new(
                    RecordKind::LsmPaths,
                    EventKind::SbMount.id(),
                    0,
                ),
                ctx: exporter_common::records::TaskContext::zeroed(),
                data: LsmPaths {
                    ints: [0x1000, 0],
                    path_len: [(2 * PATH_ELEM_MAX) as u16, 0],
                    path_flags: [0, 0],
                    path_count: [2, 0],
                    str_len: [8, 0],
                    str_flags: [0, LSM_STR_NONE],
                    paths,
                    _pad: 0,
                },
            },
            strs: [[0; LSM_STR_MAX]; LSM_STRS],
            paths: [[0; PATH_BLOCK]; LSM_PATHS],
        };
        buf.strs[0][..8].copy_from_slice(b"/tmp/src");
        let b = block(&["dst", "tmp"]);
        buf.paths[0][..b.len()].copy_from_slice(&b);
        let len = size_of::<LsmPathsRecord>() + LSM_STRS * LSM_STR_MAX + b.len();
        buf.rec.header.len = len as u32;
        // SAFETY: a plain-data record viewed as its bytes.
        unsafe { std::slice::from_raw_parts(&buf as *const LsmPathsBuf as *const u8, len) }.to_vec()
    }

    #[test]
    fn path_records_take_paths_strings_and_numbers_in_order() {
        let bytes = &mount_record(1)[..];
        let e = super::super::decode(bytes).unwrap();
        let s = |v: &str| Value::Str {
            value: v.into(),
            truncated: false,
        };
        assert_eq!(e.arg("dev_name"), Some(&s("/tmp/src")));
        assert_eq!(e.arg("path"), Some(&s("/tmp/dst")));
        assert_eq!(e.arg("type"), Some(&s("")));
        assert_eq!(e.arg("flags"), Some(&Value::Hex(0x1000)));
        // A record that says it holds no path for an event with one.
        assert!(matches!(
            super::super::decode(&mount_record(0)),
            Err(DecodeError::BadString { .. })
        ));
    }
}
