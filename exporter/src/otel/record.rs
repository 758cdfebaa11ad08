//! One event as one OpenTelemetry log record (see DESIGN's mapping table).
//!
//! The mapping is written once, against the [`Attrs`] trait; two writers use
//! it: [`LogMapper`] builds prost `LogRecord`s (OTLP/JSON, tests), and
//! [`super::wire::Encoder`] writes the same record straight to protobuf bytes
//! (the hot path of OTLP/gRPC, OTLP/HTTP protobuf and Kafka).

use opentelemetry_proto::tonic::{
    collector::logs::v1::ExportLogsServiceRequest,
    common::v1::{AnyValue, ArrayValue, KeyValue, any_value},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
};

use super::{Resource, attributes as attr};
use crate::{
    base::clock::{BootClock, rfc3339_ns},
    event::{
        Category, Context, Event, SockAddr, Value,
        catalog::{self, EventInfo, Role, Severity},
        errno,
    },
    format::{args::call_text, sockaddr},
};

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

    /// The task's attributes ([`task_attributes`]). A byte writer overrides
    /// it to reuse what it wrote for the previous event of the same task
    /// ([`TaskBytes`]).
    fn task(&mut self, c: &Context)
    where
        Self: Sized,
    {
        task_attributes(c, self);
    }
}

/// A byte writer's encoding of the last task's attributes: a storm of events
/// comes from few tasks, and these are two thirds of a record's attributes.
#[derive(Default)]
pub struct TaskBytes {
    task: Option<Context>,
    bytes: Vec<u8>,
}

impl TaskBytes {
    /// The attributes of `c`'s task as `write` encodes them, written again
    /// only when the task differs from the last one's.
    pub fn get(&mut self, c: &Context, write: impl FnOnce(&Context, &mut Vec<u8>)) -> &[u8] {
        if !self.task.as_ref().is_some_and(|t| same_task(t, c)) {
            self.bytes.clear();
            write(c, &mut self.bytes);
            self.task = Some(c.clone());
        }
        &self.bytes
    }
}

/// A byte writer `out` whose task attributes come from `task`: encoded by
/// `encode` for a task other than the last one, copied otherwise.
pub struct TaskReuse<'a, A> {
    pub out: A,
    pub task: &'a mut TaskBytes,
    pub encode: fn(&Context, &mut Vec<u8>),
}

impl<A: Attrs + AsMut<Vec<u8>>> Attrs for TaskReuse<'_, A> {
    fn string(&mut self, k: Key, v: &str) {
        self.out.string(k, v);
    }
    fn int(&mut self, k: Key, v: i64) {
        self.out.int(k, v);
    }
    fn boolean(&mut self, k: Key, v: bool) {
        self.out.boolean(k, v);
    }
    fn strings(&mut self, k: Key, v: &[String]) {
        self.out.strings(k, v);
    }
    fn task(&mut self, c: &Context) {
        let bytes = self.task.get(c, self.encode);
        self.out.as_mut().extend_from_slice(bytes);
    }
}

/// Whether `a` and `b` give the same task attributes: every field but the
/// time (a field added to `Context` must be placed here to build).
fn same_task(a: &Context, b: &Context) -> bool {
    let Context {
        ts_boot_ns: _,
        cgroup_id,
        pid,
        tid,
        ppid,
        vpid,
        uid,
        gid,
        euid,
        suid,
        mnt_ns,
        pid_ns,
        sid,
        pgid,
        interactive,
        start_boot_ns,
        start_unix_ns,
        user_name,
        real_user_name,
        comm,
        uts_name,
        container_id,
        container,
    } = a;
    *tid == b.tid
        && *pid == b.pid
        && *ppid == b.ppid
        && *vpid == b.vpid
        && *uid == b.uid
        && *gid == b.gid
        && *euid == b.euid
        && *suid == b.suid
        && *sid == b.sid
        && *pgid == b.pgid
        && *interactive == b.interactive
        && *start_boot_ns == b.start_boot_ns
        && *start_unix_ns == b.start_unix_ns
        && *user_name == b.user_name
        && *real_user_name == b.real_user_name
        && *mnt_ns == b.mnt_ns
        && *pid_ns == b.pid_ns
        && *cgroup_id == b.cgroup_id
        && *comm == b.comm
        && *uts_name == b.uts_name
        && *container_id == b.container_id
        && match (container, &b.container) {
            (Some(x), Some(y)) => std::sync::Arc::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        }
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
        Value::SockAddr(a) => out.string(k, &sockaddr::text(a)),
        Value::StrList { values, .. } => out.strings(k, values),
        Value::Unreadable(_) => {}
    }
}

/// Every attribute of `e`, in a fixed order.
pub fn attributes(e: &Event, out: &mut impl Attrs) {
    let info = catalog::info(e.id);
    context_attributes(e, out);
    if e.category == Category::Syscall && !e.no_return {
        out.int(key(attr::RETURN_VALUE), e.ret);
        if let Some(name) = e.errno().and_then(errno::name) {
            out.string(key(attr::ERROR_TYPE), name);
        }
    }
    // The first path field read is the file the event is about.
    if let Some(path) = info.and_then(|i| first_path(e, i)) {
        out.string(key(attr::FILE_PATH), path);
    }
    for a in &e.args {
        // The LSM hooks that bind, listen and accept name the socket's own
        // address `local_addr`; any other address is the peer's.
        let (address, port) = if a.name == LOCAL_ADDR_FIELD {
            (attr::NETWORK_LOCAL_ADDRESS, attr::NETWORK_LOCAL_PORT)
        } else {
            (attr::NETWORK_PEER_ADDRESS, attr::NETWORK_PEER_PORT)
        };
        match &a.value {
            Value::SockAddr(SockAddr::Ip { addr, port: p }) => {
                out.string(key(address), &addr.to_string());
                out.int(key(port), *p as i64);
                break;
            }
            Value::SockAddr(u @ SockAddr::Unix { .. }) => {
                out.string(key(address), &sockaddr::text(u));
                break;
            }
            _ => {}
        }
    }
    match info.map_or(Role::Plain, |i| i.role) {
        Role::Exec => exec_attributes(e, out),
        Role::Exit => {
            if let Some(Value::Int(code)) = e.arg("exit_code") {
                out.int(key(attr::PROCESS_EXIT_CODE), *code);
            }
        }
        Role::Detection(rule) => {
            out.string(key(attr::SECURITY_RULE_NAME), rule.name);
            out.string(key(attr::SECURITY_RULE_CATEGORY), rule.category);
            out.string(key(attr::SECURITY_RULE_DESCRIPTION), rule.description);
        }
        Role::Plain => {}
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

/// The declared field that holds a socket's own address.
const LOCAL_ADDR_FIELD: &str = "local_addr";

/// Who did it and where: the task's context.
fn context_attributes(e: &Event, out: &mut impl Attrs) {
    out.string(key(attr::EVENT_NAME), e.name);
    out.int(key(attr::SEQUENCE), e.sequence as i64);
    out.task(&e.ctx);
}

/// The attributes of the task an event's context names.
pub fn task_attributes(c: &Context, out: &mut impl Attrs) {
    out.int(key(attr::PROCESS_PID), c.pid as i64);
    out.int(key(attr::THREAD_ID), c.tid as i64);
    out.int(key(attr::PROCESS_PARENT_PID), c.ppid as i64);
    out.int(key(attr::PROCESS_VPID), c.vpid as i64);
    out.string(key(attr::THREAD_NAME), &c.comm);
    out.int(key(attr::PROCESS_USER_ID), c.euid as i64);
    out.int(key(attr::PROCESS_REAL_USER_ID), c.uid as i64);
    out.int(key(attr::PROCESS_SAVED_USER_ID), c.suid as i64);
    if let Some(name) = &c.user_name {
        out.string(key(attr::PROCESS_USER_NAME), name);
    }
    if let Some(name) = &c.real_user_name {
        out.string(key(attr::PROCESS_REAL_USER_NAME), name);
    }
    out.int(key(attr::PROCESS_REAL_GROUP_ID), c.gid as i64);
    out.int(key(attr::PROCESS_SESSION_LEADER_PID), c.sid as i64);
    out.int(key(attr::PROCESS_GROUP_LEADER_PID), c.pgid as i64);
    out.boolean(key(attr::PROCESS_INTERACTIVE), c.interactive);
    if c.start_unix_ns != 0 {
        let mut t = String::with_capacity(30);
        rfc3339_ns(c.start_unix_ns, &mut t);
        out.string(key(attr::PROCESS_CREATION_TIME), &t);
    }
    out.string(key(attr::UTS_NAME), &c.uts_name);
    out.int(key(attr::MNT_NS), c.mnt_ns as i64);
    out.int(key(attr::PID_NS), c.pid_ns as i64);
    out.int(key(attr::CGROUP_ID), c.cgroup_id as i64);
    if let Some(id) = &c.container_id {
        out.string(key(attr::CONTAINER_ID), id);
    }
    if let Some(m) = &c.container {
        out.string(key(attr::CONTAINER_NAME), &m.name);
        if let Some(name) = &m.image_name {
            out.string(key(attr::CONTAINER_IMAGE_NAME), name);
        }
        if !m.image_tags.is_empty() {
            out.strings(key(attr::CONTAINER_IMAGE_TAGS), &m.image_tags);
        }
        if let Some(id) = &m.image_id {
            out.string(key(attr::CONTAINER_IMAGE_ID), id);
        }
        out.string(key(attr::CONTAINER_RUNTIME_NAME), m.runtime);
        if let Some(pod) = &m.pod {
            out.string(key(attr::K8S_POD_NAME), &pod.name);
            out.string(key(attr::K8S_POD_UID), &pod.uid);
            out.string(key(attr::K8S_NAMESPACE_NAME), &pod.namespace);
            out.string(key(attr::K8S_CONTAINER_NAME), &pod.container_name);
        }
    }
}

/// The first path field of `e` that holds a string.
fn first_path<'e>(e: &'e Event, info: &EventInfo) -> Option<&'e str> {
    e.args.iter().enumerate().find_map(|(i, a)| match &a.value {
        Value::Str { value, .. } if info.is_path(i) => Some(value.as_str()),
        _ => None,
    })
}

/// An exec's executable and command line.
fn exec_attributes(e: &Event, out: &mut impl Attrs) {
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

/// `EventName`: `sysotel.syscall.openat`, as prefix and name
/// (`sysotel.loss` as it is).
pub fn event_name(e: &Event) -> Key<'static> {
    Key {
        prefix: e.category.event_prefix(),
        name: e.name,
    }
}

/// The event's severity: INFO for trace events, WARN for loss reports.
pub fn severity(e: &Event) -> Severity {
    catalog::info(e.id).map_or(Severity::Info, |i| i.severity)
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
        let severity = severity(e);
        LogRecord {
            time_unix_nano: self.clock.unix_ns(e.ctx.ts_boot_ns),
            observed_time_unix_nano: e.observed_unix_ns,
            severity_number: severity.number(),
            severity_text: severity.text().to_string(),
            body: any(any_value::Value::StringValue(call_text(e))),
            attributes: a.0,
            event_name: full(event_name(e)),
            ..Default::default()
        }
    }
}

/// The prost request for one batch (one resource, one scope): what the
/// direct encoder must produce byte for byte.
pub fn request(resource: &Resource, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.proto()),
            scope_logs: vec![ScopeLogs {
                scope: Some(Resource::scope()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
