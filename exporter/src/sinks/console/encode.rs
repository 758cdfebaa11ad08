//! Event -> table row / JSON line.

use std::fmt::Write as _;

use exporter_common::syscalls::RetKind;

use crate::{
    base::{
        clock::BootClock,
        text::{push_int, push_json_str, push_uint},
    },
    event::{ContainerMeta, Event, Pod, Value, errno},
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

/// One JSON line (no newline), appended to `out`: the keys in this order,
/// written straight to bytes (the test module holds the serde rendering it
/// must equal, byte for byte).
pub fn json_line(out: &mut Vec<u8>, e: &Event, clock: &BootClock) {
    let c = &e.ctx;
    let key = |out: &mut Vec<u8>, k: &str| {
        out.push(b'"');
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\":");
    };
    out.extend_from_slice(b"{\"time_boot_ns\":");
    push_uint(out, c.ts_boot_ns);
    out.extend_from_slice(b",\"time_unix_ns\":");
    push_uint(out, clock.unix_ns(c.ts_boot_ns));
    out.extend_from_slice(b",\"sequence\":");
    push_uint(out, e.sequence);
    out.extend_from_slice(b",\"event\":");
    push_json_str(out, e.name);
    out.extend_from_slice(b",\"event_id\":");
    push_uint(out, e.id as u64);
    out.extend_from_slice(b",\"category\":");
    push_json_str(out, e.category.name());
    out.extend_from_slice(b",\"uts_name\":");
    push_json_str(out, &c.uts_name);
    for (k, v) in [
        ("mnt_ns", c.mnt_ns),
        ("pid_ns", c.pid_ns),
        ("uid", c.uid),
        ("gid", c.gid),
        ("euid", c.euid),
        ("suid", c.suid),
    ] {
        out.push(b',');
        key(out, k);
        push_uint(out, v as u64);
    }
    for (k, name) in [
        ("user_name", &c.user_name),
        ("real_user_name", &c.real_user_name),
    ] {
        if let Some(name) = name {
            out.push(b',');
            key(out, k);
            push_json_str(out, name);
        }
    }
    out.extend_from_slice(b",\"comm\":");
    push_json_str(out, &c.comm);
    for (k, v) in [
        ("pid", c.pid),
        ("tid", c.tid),
        ("ppid", c.ppid),
        ("vpid", c.vpid),
        ("sid", c.sid),
        ("pgid", c.pgid),
    ] {
        out.push(b',');
        key(out, k);
        push_uint(out, v as u64);
    }
    out.extend_from_slice(b",\"start_time_unix_ns\":");
    push_uint(out, c.start_unix_ns);
    out.extend_from_slice(if c.interactive {
        b",\"interactive\":true"
    } else {
        b",\"interactive\":false"
    });
    out.extend_from_slice(b",\"cgroup_id\":");
    push_uint(out, c.cgroup_id);
    if let Some(id) = &c.container_id {
        out.extend_from_slice(b",\"container\":{\"id\":");
        push_json_str(out, id);
        if let Some(m) = &c.container {
            container_json(out, m);
        }
        out.push(b'}');
        if let Some(pod) = c.pod() {
            k8s_json(out, pod);
        }
    }
    out.extend_from_slice(b",\"ret\":");
    push_int(out, e.ret);
    if let Some(name) = e.errno().and_then(errno::name) {
        out.extend_from_slice(b",\"error\":");
        push_json_str(out, name);
    }
    if e.no_return {
        out.extend_from_slice(b",\"no_return\":true");
    }
    out.extend_from_slice(b",\"args\":{");
    for (i, a) in e.args.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, a.name);
        out.push(b':');
        arg_json(out, &a.value);
    }
    out.push(b'}');
    let names = |out: &mut Vec<u8>, k: &str, pick: fn(&Value) -> bool| {
        let mut first = true;
        for a in e.args.iter().filter(|a| pick(&a.value)) {
            if first {
                out.push(b',');
                key(out, k);
                out.push(b'[');
                first = false;
            } else {
                out.push(b',');
            }
            push_json_str(out, a.name);
        }
        if !first {
            out.push(b']');
        }
    };
    names(out, "truncated_args", |v| {
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
    });
    names(out, "unreadable_args", |v| {
        matches!(v, Value::Unreadable(_))
    });
    // Element counts of string arrays that were not captured whole.
    let mut first = true;
    for a in &e.args {
        if let Value::StrList {
            truncated: true,
            count,
            ..
        } = &a.value
        {
            out.extend_from_slice(if first {
                b",\"array_counts\":[[" as &[u8]
            } else {
                b",["
            });
            first = false;
            push_json_str(out, a.name);
            out.push(b',');
            push_uint(out, *count as u64);
            out.push(b']');
        }
    }
    if !first {
        out.push(b']');
    }
    out.push(b'}');
}

/// One argument's JSON value.
fn arg_json(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Int(i) => push_int(out, *i),
        // Always a number, so a field keeps one type in a SIEM's mapping;
        // the table shows AT_FDCWD by name.
        Value::Fd(i) => push_int(out, *i),
        Value::UInt(u) | Value::Octal(u) => push_uint(out, *u),
        Value::Hex(h) => push_json_str(out, &format!("{h:#x}")),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" as &[u8] } else { b"false" }),
        Value::Sym { text, .. } => push_json_str(out, text),
        Value::SockAddr(addr) => push_json_str(out, &sockaddr::text(addr)),
        Value::Str { value, .. } => push_json_str(out, value),
        Value::Unreadable(_) => out.extend_from_slice(b"null"),
        Value::StrList { values, .. } => {
            out.push(b'[');
            for (i, s) in values.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json_str(out, s);
            }
            out.push(b']');
        }
    }
}

/// The members after `"id"` of a line's `container` object: `name`,
/// `image` (`name`, `tags`, `id`, those known) and `runtime`.
fn container_json(out: &mut Vec<u8>, m: &ContainerMeta) {
    out.extend_from_slice(b",\"name\":");
    push_json_str(out, &m.name);
    out.extend_from_slice(b",\"image\":{");
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, k: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(k);
    };
    if let Some(name) = &m.image_name {
        member(out, b"\"name\":");
        push_json_str(out, name);
    }
    if !m.image_tags.is_empty() {
        member(out, b"\"tags\":[");
        for (i, t) in m.image_tags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_str(out, t);
        }
        out.push(b']');
    }
    if let Some(id) = &m.image_id {
        member(out, b"\"id\":");
        push_json_str(out, id);
    }
    out.extend_from_slice(b"},\"runtime\":");
    push_json_str(out, m.runtime);
}

/// A line's `k8s` object: `{"namespace":…,"pod":{"name":…,"uid":…},
/// "container":{"name":…}}`, after its `container` object.
fn k8s_json(out: &mut Vec<u8>, pod: &Pod) {
    out.extend_from_slice(b",\"k8s\":{\"namespace\":");
    push_json_str(out, &pod.namespace);
    out.extend_from_slice(b",\"pod\":{\"name\":");
    push_json_str(out, &pod.name);
    out.extend_from_slice(b",\"uid\":");
    push_json_str(out, &pod.uid);
    out.extend_from_slice(b"},\"container\":{\"name\":");
    push_json_str(out, &pod.container_name);
    out.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Context, SockAddr, testing};
    use serde::ser::{Serialize, SerializeMap, Serializer};

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
        sequence: u64,
        event: &'a str,
        event_id: u32,
        category: &'a str,
        uts_name: &'a str,
        mnt_ns: u32,
        pid_ns: u32,
        uid: u32,
        gid: u32,
        euid: u32,
        suid: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        real_user_name: Option<&'a str>,
        comm: &'a str,
        pid: u32,
        tid: u32,
        ppid: u32,
        vpid: u32,
        sid: u32,
        pgid: u32,
        start_time_unix_ns: u64,
        interactive: bool,
        cgroup_id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        container: Option<JsonContainer<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        k8s: Option<JsonK8s<'a>>,
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

    #[derive(serde::Serialize)]
    struct JsonContainer<'a> {
        id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        image: Option<JsonImage<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        runtime: Option<&'a str>,
    }

    #[derive(serde::Serialize)]
    struct JsonK8s<'a> {
        namespace: &'a str,
        pod: JsonPod<'a>,
        container: JsonK8sContainer<'a>,
    }

    #[derive(serde::Serialize)]
    struct JsonPod<'a> {
        name: &'a str,
        uid: &'a str,
    }

    #[derive(serde::Serialize)]
    struct JsonK8sContainer<'a> {
        name: &'a str,
    }

    #[derive(serde::Serialize)]
    struct JsonImage<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        tags: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
    }

    /// The serde rendering `json_line` must equal, byte for byte.
    fn serde_line(out: &mut Vec<u8>, e: &Event, clock: &BootClock) {
        let c = &e.ctx;
        let j = JsonEvent {
            time_boot_ns: c.ts_boot_ns,
            time_unix_ns: clock.unix_ns(c.ts_boot_ns),
            sequence: e.sequence,
            event: e.name,
            event_id: e.id,
            category: e.category.name(),
            uts_name: &c.uts_name,
            mnt_ns: c.mnt_ns,
            pid_ns: c.pid_ns,
            uid: c.uid,
            gid: c.gid,
            euid: c.euid,
            suid: c.suid,
            user_name: c.user_name.as_deref(),
            real_user_name: c.real_user_name.as_deref(),
            comm: &c.comm,
            pid: c.pid,
            tid: c.tid,
            ppid: c.ppid,
            vpid: c.vpid,
            sid: c.sid,
            pgid: c.pgid,
            start_time_unix_ns: c.start_unix_ns,
            interactive: c.interactive,
            cgroup_id: c.cgroup_id,
            container: c.container_id.as_deref().map(|id| {
                let m = c.container.as_deref();
                JsonContainer {
                    id,
                    name: m.map(|m| m.name.as_str()),
                    image: m.map(|m| JsonImage {
                        name: m.image_name.as_deref(),
                        tags: &m.image_tags,
                        id: m.image_id.as_deref(),
                    }),
                    runtime: m.map(|m| m.runtime),
                }
            }),
            k8s: c.container_id.as_ref().and(c.pod()).map(|p| JsonK8s {
                namespace: &p.namespace,
                pod: JsonPod {
                    name: &p.name,
                    uid: &p.uid,
                },
                container: JsonK8sContainer {
                    name: &p.container_name,
                },
            }),
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
    fn json_line_equals_the_serde_rendering() {
        let clock = BootClock::with_offset(1_700_000_000_000_000_000);
        let mut events = vec![openat()];
        let mut all = openat();
        all.args = testing::syscall(
            "openat",
            all.ctx.clone(),
            0,
            vec![
                ("i", Value::Int(i64::MIN)),
                ("u", Value::UInt(u64::MAX)),
                ("h", Value::Hex(0xdead)),
                ("o", Value::Octal(0o755)),
                ("b", Value::Bool(false)),
                ("fd", Value::Fd(-100)),
                (
                    "s",
                    Value::Sym {
                        raw: 1,
                        text: "O_WRONLY".into(),
                    },
                ),
                (
                    "a",
                    Value::SockAddr(SockAddr::Ip {
                        addr: "10.0.0.1".parse().expect("an address"),
                        port: 80,
                    }),
                ),
                (
                    "t",
                    Value::Str {
                        value: "cut\u{1}\n\\ é".into(),
                        truncated: true,
                    },
                ),
                ("gone", Value::Unreadable(0x7f00)),
                (
                    "argv",
                    Value::StrList {
                        values: vec!["ls".into(), "-l".into()],
                        truncated: true,
                        count: 40,
                    },
                ),
                (
                    "envp",
                    Value::StrList {
                        values: vec![],
                        truncated: true,
                        count: 3,
                    },
                ),
            ],
        )
        .args;
        all.ctx.comm = "we\"ird\t".into();
        events.push(all);
        let mut ok = openat();
        ok.ret = 3;
        ok.args.clear();
        events.push(ok);
        let mut exit = openat();
        exit.no_return = true;
        events.push(exit);
        let mut named = openat();
        named.ctx.user_name = Some("root".into());
        named.ctx.real_user_name = Some("al\"ice".into());
        events.push(named);
        let mut contained = openat();
        contained.ctx.container_id = Some("4f1c2b3a\"".into());
        events.push(contained.clone());
        for meta in [
            ContainerMeta {
                name: "web\"1".into(),
                image_name: Some("org/app".into()),
                image_tags: vec!["v1".into(), "latest".into()],
                image_id: Some("sha256:ab".into()),
                runtime: "docker",
                pod: None,
            },
            ContainerMeta {
                name: "web-2".into(),
                runtime: "podman",
                ..Default::default()
            },
            ContainerMeta {
                name: "web-3".into(),
                image_id: Some("sha256:cd".into()),
                runtime: "docker",
                ..Default::default()
            },
            ContainerMeta {
                name: "app".into(),
                image_name: Some("org/app".into()),
                image_tags: vec!["v1".into()],
                runtime: "containerd",
                pod: Some(Pod {
                    name: "web-\"0".into(),
                    uid: "8d1f".into(),
                    namespace: "shop".into(),
                    container_name: "app".into(),
                }),
                ..Default::default()
            },
        ] {
            contained.ctx.container = Some(std::sync::Arc::new(meta));
            events.push(contained.clone());
        }
        for e in &events {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            json_line(&mut ours, e, &clock);
            serde_line(&mut theirs, e, &clock);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }

    #[test]
    fn json_line_has_stable_keys() {
        let mut out = Vec::new();
        let mut e = openat();
        e.sequence = 7;
        json_line(&mut out, &e, &BootClock::new());
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["event"], "openat");
        assert_eq!(v["sequence"], 7);
        assert_eq!(v["pid"], 42);
        assert_eq!(v["ret"], -2);
        assert_eq!(v["error"], "ENOENT");
        assert_eq!(v["args"]["dfd"], -100);
        assert_eq!(v["args"]["filename"], "/etc/\"x\"");
        assert_eq!(v["args"]["mode"], 0o640);
        assert_eq!(v["mnt_ns"], 4026531841u32);
        assert!(v.get("truncated_args").is_none());
        assert!(v.get("container").is_none(), "no container, no object");
        let mut e = openat();
        e.ctx.container_id = Some("4f1c".into());
        out.clear();
        json_line(&mut out, &e, &BootClock::new());
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["container"]["id"], "4f1c");
    }
}
