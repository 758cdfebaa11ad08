//! Golden tests of the event -> log record mapping, one file per category,
//! no network: a regression net (the files were written by this code; the
//! values are checked independently end to end in tests/tests/otlp_mapping.rs).
//! `UPDATE_GOLDEN=1 cargo test -p exporter golden` rewrites the files, by
//! hand only (a test fails if it is set with `CI`); review the diff like code.

use exporter_common::events::EventKind;
use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, any_value},
    logs::v1::LogRecord,
};

use super::LogMapper;
use crate::{
    base::clock::BootClock,
    event::{Context, Event, SockAddr, Value, testing},
};

fn render_value(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => format!("str {s:?}"),
        Some(any_value::Value::IntValue(i)) => format!("int {i}"),
        Some(any_value::Value::BoolValue(b)) => format!("bool {b}"),
        Some(any_value::Value::DoubleValue(d)) => format!("double {d}"),
        Some(any_value::Value::ArrayValue(a)) => format!(
            "array [{}]",
            a.values
                .iter()
                .map(|v| render_value(&Some(v.clone())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{other:?}"),
    }
}

fn render(r: &LogRecord) -> String {
    let mut out = format!(
        "Timestamp: {}\nObservedTimestamp: {}\nSeverityNumber: {}\nSeverityText: {}\nEventName: {}\nBody: {}\nAttributes:\n",
        r.time_unix_nano,
        r.observed_time_unix_nano,
        r.severity_number,
        r.severity_text,
        r.event_name,
        render_value(&r.body)
    );
    for a in &r.attributes {
        out.push_str(&format!("  {} = {}\n", a.key, render_value(&a.value)));
    }
    out
}

fn ctx(comm: &str) -> Context {
    Context {
        ts_boot_ns: 1_000_000_000,
        cgroup_id: 7,
        pid: 4242,
        tid: 4243,
        ppid: 1,
        vpid: 12,
        uid: 1000,
        gid: 1001,
        euid: 0,
        suid: 0,
        mnt_ns: 4026531841,
        pid_ns: 4026531836,
        sid: 4200,
        pgid: 4240,
        interactive: true,
        start_boot_ns: 500_000_000,
        start_unix_ns: 1_700_000_000_500_000_000,
        user_name: Some("root".into()),
        real_user_name: Some("alice".into()),
        comm: comm.into(),
        uts_name: "web-1".into(),
        container_id: None,
        container: None,
    }
}

/// Observed a moment after the events (which happened 1 s after boot).
const OBSERVED: u64 = 1_700_000_001_500_000_000;

fn syscall(name: &str, ret: i64, args: Vec<(&'static str, Value)>) -> Event {
    let mut e = testing::syscall(name, ctx("app"), ret, args);
    e.observed_unix_ns = OBSERVED;
    e
}

fn declared(kind: EventKind, args: Vec<(&'static str, Value)>) -> Event {
    let mut e = testing::declared(kind, ctx("app"), args);
    e.observed_unix_ns = OBSERVED;
    e
}

fn s(v: &str) -> Value {
    Value::Str {
        value: v.into(),
        truncated: false,
    }
}

fn check(name: &str, events: &[Event]) {
    let mapper = LogMapper::new(BootClock::with_offset(1_700_000_000_000_000_000));
    let text: String = events
        .iter()
        .map(|e| render(&mapper.record(e)))
        .collect::<Vec<_>>()
        .join("---\n");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/otel/golden")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        // Rewriting makes the comparison pass by construction: never in CI.
        assert!(
            std::env::var_os("CI").is_none(),
            "UPDATE_GOLDEN is set in CI: the golden files are compared there, never rewritten"
        );
        std::fs::write(&path, &text).expect("write golden file");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        text,
        want,
        "mapping of {name} differs from {}",
        path.display()
    );
}

#[test]
fn golden_syscalls() {
    let open = syscall(
        "openat",
        3,
        vec![
            ("dfd", Value::Fd(-100)),
            ("filename", s("/etc/passwd")),
            (
                "flags",
                Value::Sym {
                    raw: 0o2000000,
                    text: "O_RDONLY|O_CLOEXEC".into(),
                },
            ),
            ("mode", Value::Octal(0)),
        ],
    );
    let mut failed = open.clone();
    failed.ret = -2;
    failed.args[1].value = s("/etc/shadow-missing");
    let connect = syscall(
        "connect",
        -111,
        vec![
            ("fd", Value::Fd(3)),
            (
                "uservaddr",
                Value::SockAddr(SockAddr::Ip {
                    addr: "127.0.0.1".parse().expect("ip"),
                    port: 5432,
                }),
            ),
            ("addrlen", Value::Int(16)),
        ],
    );
    let execve = syscall(
        "execve",
        0,
        vec![
            ("filename", s("/usr/bin/curl")),
            (
                "argv",
                Value::StrList {
                    values: vec!["curl".into(), "-s".into(), "http://x".into()],
                    truncated: false,
                    count: 3,
                },
            ),
            ("envp", Value::Unreadable(0x7ffd_0000)),
        ],
    );
    check("syscall", &[open, failed, connect, execve]);
}

#[test]
fn golden_sched() {
    let fork = declared(
        EventKind::ProcessFork,
        vec![
            ("child_pid", Value::Int(4300)),
            ("child_tid", Value::Int(4300)),
        ],
    );
    let exec = declared(
        EventKind::ProcessExec,
        vec![
            ("filename", s("/bin/sh")),
            (
                "argv",
                Value::StrList {
                    values: vec!["sh".into(), "-c".into()],
                    truncated: true,
                    count: 40,
                },
            ),
            ("argc", Value::Int(40)),
            (
                "envp",
                Value::StrList {
                    values: vec!["PATH=/bin".into()],
                    truncated: false,
                    count: 1,
                },
            ),
            ("envc", Value::Int(1)),
            ("old_tid", Value::Int(4243)),
        ],
    );
    let exit = declared(
        EventKind::ProcessExit,
        vec![
            ("exit_code", Value::Int(3)),
            ("signal", Value::Int(0)),
            ("core_dumped", Value::Bool(false)),
            ("group_dead", Value::Bool(true)),
        ],
    );
    check("sched", &[fork, exec, exit]);
}

#[test]
fn golden_detection() {
    let mismatch = declared(
        EventKind::ExecMismatch,
        vec![
            ("syscall", s("execve")),
            ("reason", s("changed")),
            ("syscall_path", s("/bin/ls")),
            ("kernel_path", s("/bin/bash")),
            ("dirfd", Value::Fd(-100)),
        ],
    );
    check("detection", &[mismatch]);
}

#[test]
fn golden_lsm_sockets() {
    let sym = |raw: u64, text: &str| Value::Sym {
        raw,
        text: text.into(),
    };
    let ip = |a: [u8; 4], port| {
        Value::SockAddr(SockAddr::Ip {
            addr: std::net::Ipv4Addr::from(a).into(),
            port,
        })
    };
    let listen = declared(
        EventKind::SocketListen,
        vec![
            ("family", sym(2, "AF_INET")),
            ("type", sym(1, "SOCK_STREAM")),
            ("protocol", sym(6, "IPPROTO_TCP")),
            ("backlog", Value::Int(7)),
            ("local_addr", ip([127, 0, 0, 1], 8080)),
        ],
    );
    let connect = declared(
        EventKind::SocketConnect,
        vec![
            ("family", sym(2, "AF_INET")),
            ("type", sym(1, "SOCK_STREAM")),
            ("protocol", sym(6, "IPPROTO_TCP")),
            ("addr", ip([10, 0, 0, 2], 443)),
        ],
    );
    check("lsm_sockets", &[listen, connect]);
}
