//! One event as one OpenTelemetry log record (see DESIGN's mapping table).

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
    sinks::console::encode::args_text,
};

/// `SEVERITY_NUMBER_INFO`: every trace event.
pub const SEVERITY_INFO: i32 = 9;
/// `SEVERITY_NUMBER_WARN`: loss records and detections.
pub const SEVERITY_WARN: i32 = 13;

fn string(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    }
}

fn int(i: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(i)),
    }
}

fn kv(key: impl Into<String>, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

/// An argument as a typed attribute value; `None` when it could not be read.
fn arg_value(v: &Value) -> Option<AnyValue> {
    Some(match v {
        Value::Int(i) | Value::Fd(i) => int(*i),
        // OTLP integers are signed 64-bit; larger unsigned values keep their bits.
        Value::UInt(u) | Value::Octal(u) => int(*u as i64),
        Value::Hex(h) => string(format!("{h:#x}")),
        Value::Bool(b) => AnyValue {
            value: Some(any_value::Value::BoolValue(*b)),
        },
        Value::Sym { text, .. } => string(text.clone()),
        Value::Str { value, .. } => string(value.clone()),
        Value::SockAddr(a) => string(a.text()),
        Value::StrList { values, .. } => AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: values.iter().map(|s| string(s.clone())).collect(),
            })),
        },
        Value::Unreadable(_) => return None,
    })
}

/// The display line: `openat(dfd: AT_FDCWD, filename: "/etc/passwd", flags: O_RDONLY) = 3`.
pub fn body(e: &Event) -> String {
    let args = args_text(e);
    match e.category {
        Category::Syscall if e.no_return => format!("{}({args})", e.name),
        Category::Syscall => match e.errno() {
            Some(n) => format!(
                "{}({args}) = {} {}",
                e.name,
                e.ret,
                errno::name(n).unwrap_or("E?")
            ),
            None => format!("{}({args}) = {}", e.name, e.ret),
        },
        Category::Sched => format!("{}({args})", e.name),
    }
}

/// Maps events to log records; holds what is fixed for the whole run.
#[derive(Clone, Copy, Debug)]
pub struct LogMapper {
    clock: BootClock,
}

impl LogMapper {
    pub fn new(clock: BootClock) -> LogMapper {
        LogMapper { clock }
    }

    pub fn record(&self, e: &Event) -> LogRecord {
        let c = &e.ctx;
        let mut a = Vec::with_capacity(16 + e.args.len());
        a.push(kv(attr::EVENT_NAME, string(e.name)));
        a.push(kv(attr::PROCESS_PID, int(c.pid as i64)));
        a.push(kv(attr::THREAD_ID, int(c.tid as i64)));
        a.push(kv(attr::PROCESS_PARENT_PID, int(c.ppid as i64)));
        a.push(kv(attr::PROCESS_VPID, int(c.vpid as i64)));
        a.push(kv(attr::THREAD_NAME, string(c.comm.clone())));
        a.push(kv(attr::PROCESS_REAL_USER_ID, int(c.uid as i64)));
        a.push(kv(attr::PROCESS_REAL_GROUP_ID, int(c.gid as i64)));
        a.push(kv(attr::UTS_NAME, string(c.uts_name.clone())));
        a.push(kv(attr::MNT_NS, int(c.mnt_ns as i64)));
        a.push(kv(attr::PID_NS, int(c.pid_ns as i64)));
        a.push(kv(attr::CGROUP_ID, int(c.cgroup_id as i64)));
        if e.category == Category::Syscall && !e.no_return {
            a.push(kv(attr::RETURN_VALUE, int(e.ret)));
            if let Some(name) = e.errno().and_then(errno::name) {
                a.push(kv(attr::ERROR_TYPE, string(name)));
            }
        }
        self.semantic(e, &mut a);
        for arg in &e.args {
            if let Some(v) = arg_value(&arg.value) {
                a.push(kv(format!("{}{}", attr::ARG_PREFIX, arg.name), v));
            }
        }
        let prefix = match e.category {
            Category::Syscall => attr::EVENT_SYSCALL_PREFIX,
            Category::Sched => attr::EVENT_SCHED_PREFIX,
        };
        LogRecord {
            time_unix_nano: self.clock.unix_ns(c.ts_boot_ns),
            observed_time_unix_nano: e.observed_unix_ns,
            severity_number: SEVERITY_INFO,
            severity_text: "INFO".to_string(),
            body: Some(string(body(e))),
            attributes: a,
            event_name: format!("{prefix}{}", e.name),
            ..Default::default()
        }
    }

    /// Semantic-convention attributes derived from arguments.
    fn semantic(&self, e: &Event, a: &mut Vec<KeyValue>) {
        // The first path argument is the file the event is about.
        if let Some(path) = e.args.iter().find_map(|arg| match &arg.value {
            Value::Str { value, .. } if is_path(e, arg.name) => Some(value),
            _ => None,
        }) {
            a.push(kv(attr::FILE_PATH, string(path.clone())));
        }
        if let Some((addr, port)) = e.args.iter().find_map(|arg| match &arg.value {
            Value::SockAddr(SockAddr::Ip { addr, port }) => Some((addr.to_string(), *port)),
            Value::SockAddr(SockAddr::Unix { path, abstract_ }) => Some((
                if *abstract_ {
                    format!("@{path}")
                } else {
                    path.clone()
                },
                0,
            )),
            _ => None,
        }) {
            a.push(kv(attr::NETWORK_PEER_ADDRESS, string(addr)));
            if port != 0 {
                a.push(kv(attr::NETWORK_PEER_PORT, int(port as i64)));
            }
        }
        let is_exec = e.name == "sched_process_exec"
            || (e.category == Category::Syscall && matches!(e.name, "execve" | "execveat"));
        if is_exec {
            if let Some(Value::Str { value, .. }) = e.arg("filename") {
                a.push(kv(attr::PROCESS_EXECUTABLE_PATH, string(value.clone())));
                let name = value.rsplit('/').next().unwrap_or(value);
                a.push(kv(attr::PROCESS_EXECUTABLE_NAME, string(name)));
            }
            if let Some(Value::StrList { values, count, .. }) = e.arg("argv") {
                a.push(kv(
                    attr::PROCESS_COMMAND_ARGS,
                    AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: values.iter().map(|s| string(s.clone())).collect(),
                        })),
                    },
                ));
                a.push(kv(attr::PROCESS_ARGS_COUNT, int(*count as i64)));
            }
        }
        if e.name == "sched_process_exit"
            && let Some(Value::Int(code)) = e.arg("exit_code")
        {
            a.push(kv(attr::PROCESS_EXIT_CODE, int(*code)));
        }
    }
}

/// Whether argument `name` of `e` is a path (as the syscall table says).
fn is_path(e: &Event, name: &str) -> bool {
    use exporter_common::syscalls::{self, ArgKind};
    match e.category {
        Category::Syscall => syscalls::by_nr(e.id)
            .and_then(|s| s.args.iter().find(|a| a.name == name))
            .is_some_and(|a| a.kind == ArgKind::Path),
        Category::Sched => false,
    }
}
