//! Event -> table row / JSON line.

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeMap, Serializer};

use exporter_common::syscalls::RetKind;

use crate::{
    base::clock::BootClock,
    event::{Event, Value, errno},
    format::{args::args_text_into, sockaddr},
};

/// The column header, in the original tracer's layout.
pub fn table_header() -> String {
    format!(
        "{:<14} {:<16} {:<12} {:<12} {:<6} {:<16} {:<16} {:<6} {:<6} {:<6} {:<12} {}",
        "TIME(s)",
        "UTS_NAME",
        "MNT_NS",
        "PID_NS",
        "UID",
        "EVENT",
        "COMM",
        "PID",
        "TID",
        "PPID",
        "RET",
        "ARGS"
    )
}

/// One table row (no newline): `%-14f %-16s %-12d %-12d %-6d %-16s %-16s %-6d %-6d %-6d %-12d %s`.
pub fn table_row(out: &mut String, e: &Event) {
    let c = &e.ctx;
    let time = format!(
        "{}.{:06}",
        c.ts_boot_ns / 1_000_000_000,
        c.ts_boot_ns % 1_000_000_000 / 1000
    );
    // RET is the integer the call returned; an address (mmap, brk) reads in hex.
    let ret = if e.ret_kind == RetKind::Ptr && e.errno().is_none() {
        format!("{:#x}", e.ret)
    } else {
        e.ret.to_string()
    };
    let _ = write!(
        out,
        "{:<14} {:<16} {:<12} {:<12} {:<6} {:<16} {:<16} {:<6} {:<6} {:<6} {:<12} ",
        time, c.uts_name, c.mnt_ns, c.pid_ns, c.uid, e.name, c.comm, c.pid, c.tid, c.ppid, ret
    );
    args_text_into(out, e);
}

struct Args<'a>(&'a Event);

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.args.len()))?;
        for a in &self.0.args {
            match &a.value {
                Value::Int(i) => m.serialize_entry(a.name, i)?,
                Value::UInt(u) => m.serialize_entry(a.name, u)?,
                Value::Hex(h) => m.serialize_entry(a.name, &format!("{h:#x}"))?,
                Value::Octal(o) => m.serialize_entry(a.name, o)?,
                Value::Bool(b) => m.serialize_entry(a.name, b)?,
                // Always a number, so a field keeps one type in a SIEM's
                // mapping; the table shows AT_FDCWD by name.
                Value::Fd(fd) => m.serialize_entry(a.name, fd)?,
                Value::Sym { text, .. } => m.serialize_entry(a.name, text)?,
                Value::SockAddr(addr) => m.serialize_entry(a.name, &sockaddr::text(addr))?,
                Value::Str { value, .. } => m.serialize_entry(a.name, value)?,
                Value::Unreadable(_) => m.serialize_entry(a.name, &())?,
                Value::StrList { values, .. } => m.serialize_entry(a.name, values)?,
            }
        }
        m.end()
    }
}

/// Names of the arguments whose value hit its bound (`truncated_args`) or
/// could not be read (`unreadable_args`).
fn flagged(e: &Event, pick: impl Fn(&Value) -> bool) -> Vec<&'static str> {
    e.args
        .iter()
        .filter(|a| pick(&a.value))
        .map(|a| a.name)
        .collect()
}

#[derive(serde::Serialize)]
struct JsonEvent<'a> {
    time_boot_ns: u64,
    time_unix_ns: u64,
    event: &'a str,
    event_id: u32,
    category: &'a str,
    uts_name: &'a str,
    mnt_ns: u32,
    pid_ns: u32,
    uid: u32,
    gid: u32,
    comm: &'a str,
    pid: u32,
    tid: u32,
    ppid: u32,
    vpid: u32,
    cgroup_id: u64,
    ret: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_return: bool,
    args: Args<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    truncated_args: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unreadable_args: Vec<&'a str>,
    /// Element counts of string arrays that were not captured whole.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    array_counts: Vec<(&'a str, u32)>,
}

/// One JSON line (no newline), appended to `out`.
pub fn json_line(out: &mut Vec<u8>, e: &Event, clock: &BootClock) {
    let c = &e.ctx;
    let j = JsonEvent {
        time_boot_ns: c.ts_boot_ns,
        time_unix_ns: clock.unix_ns(c.ts_boot_ns),
        event: e.name,
        event_id: e.id,
        category: e.category.name(),
        uts_name: &c.uts_name,
        mnt_ns: c.mnt_ns,
        pid_ns: c.pid_ns,
        uid: c.uid,
        gid: c.gid,
        comm: &c.comm,
        pid: c.pid,
        tid: c.tid,
        ppid: c.ppid,
        vpid: c.vpid,
        cgroup_id: c.cgroup_id,
        ret: e.ret,
        error: e.errno().and_then(errno::name),
        no_return: e.no_return,
        args: Args(e),
        truncated_args: flagged(e, |v| {
            matches!(
                v,
                Value::Str {
                    truncated: true,
                    ..
                } | Value::StrList {
                    truncated: true,
                    ..
                }
            )
        }),
        unreadable_args: flagged(e, |v| matches!(v, Value::Unreadable(_))),
        array_counts: e
            .args
            .iter()
            .filter_map(|a| match &a.value {
                Value::StrList {
                    truncated: true,
                    count,
                    ..
                } => Some((a.name, *count)),
                _ => None,
            })
            .collect(),
    };
    // Serializing plain data into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &j);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Context, testing};

    fn openat() -> Event {
        let ctx = Context {
            ts_boot_ns: 1_234_500_000_123,
            pid: 42,
            tid: 43,
            ppid: 1,
            uid: 0,
            mnt_ns: 4026531841,
            pid_ns: 4026531836,
            comm: "cat".into(),
            uts_name: "box".into(),
            ..Context::default()
        };
        testing::syscall(
            "openat",
            ctx,
            -2,
            vec![
                ("dfd", Value::Fd(-100)),
                ("filename", testing::string("/etc/\"x\"")),
                ("mode", Value::Octal(0o640)),
            ],
        )
    }

    #[test]
    fn table_row_matches_the_original_layout() {
        let mut row = String::new();
        table_row(&mut row, &openat());
        assert_eq!(
            row,
            "1234.500000    box              4026531841   4026531836   0      openat           cat              42     43     1      -2           dfd: AT_FDCWD, filename: \"/etc/\\\"x\\\"\", mode: 0640"
        );
        assert!(table_header().starts_with("TIME(s)        UTS_NAME         MNT_NS"));
    }

    #[test]
    fn json_line_has_stable_keys() {
        let mut out = Vec::new();
        json_line(&mut out, &openat(), &BootClock::new());
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["event"], "openat");
        assert_eq!(v["pid"], 42);
        assert_eq!(v["ret"], -2);
        assert_eq!(v["error"], "ENOENT");
        assert_eq!(v["args"]["dfd"], -100);
        assert_eq!(v["args"]["filename"], "/etc/\"x\"");
        assert_eq!(v["args"]["mode"], 0o640);
        assert_eq!(v["mnt_ns"], 4026531841u32);
        assert!(v.get("truncated_args").is_none());
    }
}
