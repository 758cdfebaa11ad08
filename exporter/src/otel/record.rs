//! One event as one OpenTelemetry log record (see DESIGN's mapping table).
//!
//! The mapping is written once, against the [`Attrs`] trait; two writers use
//! it: [`LogMapper`] builds prost `LogRecord`s (OTLP/JSON, tests), and
//! [`super::wire::Encoder`] writes the same record straight to protobuf bytes
//! (the hot path of OTLP/gRPC, OTLP/HTTP protobuf and Kafka).

use std::fmt::Write as _;

use exporter_common::syscalls::{self, ArgKind};
use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, ArrayValue, KeyValue, any_value},
    logs::v1::LogRecord,
};

use super::attributes as attr;
use crate::{
    catalog::Category,
    clock::BootClock,
    errno,
    event::{Event, Value},
    format::sockaddr::SockAddr,
    sinks::console::encode::args_text_into,
};

/// `SEVERITY_NUMBER_INFO`: every trace event.
pub const SEVERITY_INFO: i32 = 9;
/// `SEVERITY_NUMBER_WARN`: loss records and detections.
pub const SEVERITY_WARN: i32 = 13;

/// An attribute key: `prefix` followed by `name` (`sysotel.arg.` + `flags`),
/// so argument keys need no allocation.
#[derive(Clone, Copy, Debug)]
pub struct Key<'a> {
    pub prefix: &'static str,
    pub name: &'a str,
}

impl Key<'_> {
    pub fn len(&self) -> usize {
        self.prefix.len() + self.name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A key with no prefix.
pub fn key(name: &str) -> Key<'_> {
    Key { prefix: "", name }
}

/// Where the mapping writes attributes.
pub trait Attrs {
    fn string(&mut self, key: Key, v: &str);
    fn int(&mut self, key: Key, v: i64);
    fn boolean(&mut self, key: Key, v: bool);
    fn strings(&mut self, key: Key, v: &[String]);
}

/// An argument as a typed attribute; nothing when it could not be read.
fn arg_attr(out: &mut impl Attrs, k: Key, v: &Value) {
    match v {
        Value::Int(i) | Value::Fd(i) => out.int(k, *i),
        // OTLP integers are signed 64-bit; larger unsigned values keep their bits.
        Value::UInt(u) | Value::Octal(u) => out.int(k, *u as i64),
        Value::Hex(h) => out.string(k, &format!("{h:#x}")),
        Value::Bool(b) => out.boolean(k, *b),
        Value::Sym { text, .. } => out.string(k, text),
        Value::Str { value, .. } => out.string(k, value),
        Value::SockAddr(a) => out.string(k, &a.text()),
        Value::StrList { values, .. } => out.strings(k, values),
        Value::Unreadable(_) => {}
    }
}

/// Every attribute of `e`, in a fixed order.
pub fn attributes(e: &Event, out: &mut impl Attrs) {
    let c = &e.ctx;
    out.string(key(attr::EVENT_NAME), e.name);
    out.int(key(attr::PROCESS_PID), c.pid as i64);
    out.int(key(attr::THREAD_ID), c.tid as i64);
    out.int(key(attr::PROCESS_PARENT_PID), c.ppid as i64);
    out.int(key(attr::PROCESS_VPID), c.vpid as i64);
    out.string(key(attr::THREAD_NAME), &c.comm);
    out.int(key(attr::PROCESS_REAL_USER_ID), c.uid as i64);
    out.int(key(attr::PROCESS_REAL_GROUP_ID), c.gid as i64);
    out.string(key(attr::UTS_NAME), &c.uts_name);
    out.int(key(attr::MNT_NS), c.mnt_ns as i64);
    out.int(key(attr::PID_NS), c.pid_ns as i64);
    out.int(key(attr::CGROUP_ID), c.cgroup_id as i64);
    if let Some(id) = &c.container_id {
        out.string(key(attr::CONTAINER_ID), id);
    }
    if e.category == Category::Syscall && !e.no_return {
        out.int(key(attr::RETURN_VALUE), e.ret);
        if let Some(name) = e.errno().and_then(errno::name) {
            out.string(key(attr::ERROR_TYPE), name);
        }
    }
    // The first path argument is the file the event is about. A syscall's
    // arguments are in its table's order: one lookup per event, not per argument.
    let kinds = match e.category {
        Category::Syscall => syscalls::by_nr(e.id).map_or(&[][..], |s| s.args),
        _ => &[],
    };
    if let Some(path) = e
        .args
        .iter()
        .zip(kinds)
        .find_map(|(a, def)| match &a.value {
            Value::Str { value, .. } if def.kind == ArgKind::Path => Some(value),
            _ => None,
        })
    {
        out.string(key(attr::FILE_PATH), path);
    }
    for a in &e.args {
        match &a.value {
            Value::SockAddr(SockAddr::Ip { addr, port }) => {
                out.string(key(attr::NETWORK_PEER_ADDRESS), &addr.to_string());
                out.int(key(attr::NETWORK_PEER_PORT), *port as i64);
                break;
            }
            Value::SockAddr(u @ SockAddr::Unix { .. }) => {
                out.string(key(attr::NETWORK_PEER_ADDRESS), &u.text());
                break;
            }
            _ => {}
        }
    }
    let is_exec = e.name == "sched_process_exec"
        || (e.category == Category::Syscall && matches!(e.name, "execve" | "execveat"));
    if is_exec {
        if let Some(Value::Str { value, .. }) = e.arg("filename") {
            out.string(key(attr::PROCESS_EXECUTABLE_PATH), value);
            out.string(
                key(attr::PROCESS_EXECUTABLE_NAME),
                value.rsplit('/').next().unwrap_or(value),
            );
        }
        if let Some(Value::StrList { values, count, .. }) = e.arg("argv") {
            out.strings(key(attr::PROCESS_COMMAND_ARGS), values);
            out.int(key(attr::PROCESS_ARGS_COUNT), *count as i64);
        }
    }
    if e.name == "sched_process_exit"
        && let Some(Value::Int(code)) = e.arg("exit_code")
    {
        out.int(key(attr::PROCESS_EXIT_CODE), *code);
    }
    for a in &e.args {
        arg_attr(
            out,
            Key {
                prefix: attr::ARG_PREFIX,
                name: a.name,
            },
            &a.value,
        );
    }
}

/// The display line into `out`: `openat(dfd: AT_FDCWD, filename: "/etc/passwd", flags: O_RDONLY) = 3`.
pub fn body_into(out: &mut String, e: &Event) {
    out.push_str(e.name);
    out.push('(');
    args_text_into(out, e);
    out.push(')');
    if e.category == Category::Syscall && !e.no_return {
        let _ = write!(out, " = {}", e.ret);
        if let Some(n) = e.errno() {
            out.push(' ');
            out.push_str(errno::name(n).unwrap_or("E?"));
        }
    }
}

pub fn body(e: &Event) -> String {
    let mut s = String::new();
    body_into(&mut s, e);
    s
}

/// `EventName`: `sysotel.syscall.openat`, as prefix and name
/// (`sysotel.loss` as it is).
pub fn event_name(e: &Event) -> Key<'static> {
    Key {
        prefix: match e.category {
            Category::Syscall => attr::EVENT_SYSCALL_PREFIX,
            Category::Sched => attr::EVENT_SCHED_PREFIX,
            Category::Internal => "",
        },
        name: e.name,
    }
}

/// Severity number and text: INFO for trace events, WARN for loss reports.
pub fn severity(e: &Event) -> (i32, &'static str) {
    match e.category {
        Category::Internal => (SEVERITY_WARN, "WARN"),
        Category::Syscall | Category::Sched => (SEVERITY_INFO, "INFO"),
    }
}

fn full(k: Key) -> String {
    let mut s = String::with_capacity(k.len());
    s.push_str(k.prefix);
    s.push_str(k.name);
    s
}

fn any(v: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

/// Collects attributes as prost `KeyValue`s.
struct ProstAttrs(Vec<KeyValue>);

impl ProstAttrs {
    fn push(&mut self, k: Key, v: any_value::Value) {
        self.0.push(KeyValue {
            key: full(k),
            value: any(v),
            ..Default::default()
        });
    }
}

impl Attrs for ProstAttrs {
    fn string(&mut self, k: Key, v: &str) {
        self.push(k, any_value::Value::StringValue(v.to_string()));
    }
    fn int(&mut self, k: Key, v: i64) {
        self.push(k, any_value::Value::IntValue(v));
    }
    fn boolean(&mut self, k: Key, v: bool) {
        self.push(k, any_value::Value::BoolValue(v));
    }
    fn strings(&mut self, k: Key, v: &[String]) {
        let values = v
            .iter()
            .map(|s| AnyValue {
                value: Some(any_value::Value::StringValue(s.clone())),
            })
            .collect();
        self.push(k, any_value::Value::ArrayValue(ArrayValue { values }));
    }
}

/// Maps events to prost log records; holds what is fixed for the whole run.
#[derive(Clone, Copy, Debug)]
pub struct LogMapper {
    pub clock: BootClock,
}

impl LogMapper {
    pub fn new(clock: BootClock) -> LogMapper {
        LogMapper { clock }
    }

    pub fn record(&self, e: &Event) -> LogRecord {
        let mut a = ProstAttrs(Vec::with_capacity(20 + e.args.len()));
        attributes(e, &mut a);
        let (severity_number, severity_text) = severity(e);
        LogRecord {
            time_unix_nano: self.clock.unix_ns(e.ctx.ts_boot_ns),
            observed_time_unix_nano: e.observed_unix_ns,
            severity_number,
            severity_text: severity_text.to_string(),
            body: any(any_value::Value::StringValue(body(e))),
            attributes: a.0,
            event_name: full(event_name(e)),
            ..Default::default()
        }
    }
}
