//! Per-event Kafka documents: `json` (flat, keyed by the OTLP attribute
//! names, what SIEMs ingest) and `ecs` (Elastic Common Schema). Both read the
//! OTLP mapping ([`attributes`]), so every encoding says the same thing.

use serde_json::{Map, Value as Json, json};

use crate::{
    base::{
        clock::{BootClock, rfc3339_ns},
        text::{push_int, push_json_str},
    },
    event::{
        Category, Event,
        catalog::{self, Ecs},
        errno,
    },
    format::args::call_text_into,
    otel::{
        Resource, attributes as attr,
        record::{
            Attrs, Key, TaskBytes, TaskReuse, attributes, event_name, key, severity,
            task_attributes,
        },
    },
};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.17.0";

/// The classification of an event sysotel does not know (not seen: every
/// event a decoder makes is in the catalog).
const UNKNOWN: Ecs = Ecs {
    kind: "event",
    category: &["host"],
    types: &["info"],
};

fn push_str(out: &mut Vec<u8>, s: &str) {
    push_json_str(out, s);
}

fn push_key(out: &mut Vec<u8>, k: Key) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(k.prefix.as_bytes());
    out.extend_from_slice(k.name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Writes attributes as `,"key":value` members of an open JSON object.
struct FlatAttrs<'a>(&'a mut Vec<u8>);

impl AsMut<Vec<u8>> for FlatAttrs<'_> {
    fn as_mut(&mut self) -> &mut Vec<u8> {
        self.0
    }
}

impl Attrs for FlatAttrs<'_> {
    fn string(&mut self, k: Key, v: &str) {
        push_key(self.0, k);
        push_str(self.0, v);
    }
    fn int(&mut self, k: Key, v: i64) {
        push_key(self.0, k);
        push_int(self.0, v);
    }
    fn boolean(&mut self, k: Key, v: bool) {
        push_key(self.0, k);
        self.0
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
    }
    fn strings(&mut self, k: Key, v: &[String]) {
        push_key(self.0, k);
        self.0.push(b'[');
        for (i, s) in v.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            push_str(self.0, s);
        }
        self.0.push(b']');
    }
}

/// The attributes the ECS document places outside `sysotel.args`.
#[derive(Clone, Copy)]
enum Slot {
    ExecutablePath,
    ExecutableName,
    CommandArgs,
    ArgsCount,
    ExitCode,
    ReturnValue,
    FilePath,
    PeerAddress,
    PeerPort,
}

const SLOTS: usize = 9;

fn slot(k: Key) -> Option<Slot> {
    if !k.prefix.is_empty() {
        return None;
    }
    Some(match k.name {
        attr::PROCESS_EXECUTABLE_PATH => Slot::ExecutablePath,
        attr::PROCESS_EXECUTABLE_NAME => Slot::ExecutableName,
        attr::PROCESS_COMMAND_ARGS => Slot::CommandArgs,
        attr::PROCESS_ARGS_COUNT => Slot::ArgsCount,
        attr::PROCESS_EXIT_CODE => Slot::ExitCode,
        attr::RETURN_VALUE => Slot::ReturnValue,
        attr::FILE_PATH => Slot::FilePath,
        attr::NETWORK_PEER_ADDRESS => Slot::PeerAddress,
        attr::NETWORK_PEER_PORT => Slot::PeerPort,
        _ => return None,
    })
}

/// Collects, for the ECS document, the JSON text of the attributes it
/// places ([`Slot`]) and the arguments as `"name":value` members; nothing
/// else is kept. The buffers are reused from event to event.
#[derive(Default)]
struct EcsAttrs {
    values: Vec<u8>,
    at: [Option<(usize, usize)>; SLOTS],
    args: Vec<u8>,
}

impl EcsAttrs {
    fn clear(&mut self) {
        self.values.clear();
        self.at = [None; SLOTS];
        self.args.clear();
    }

    /// The JSON text of `s`, when the event has it.
    fn get(&self, s: Slot) -> Option<&[u8]> {
        self.at[s as usize].map(|(a, b)| &self.values[a..b])
    }

    /// Writes `k`'s value with `write` where the document takes it: into the
    /// arguments, into its slot (the first value only), or nowhere.
    fn put(&mut self, k: Key, write: impl FnOnce(&mut Vec<u8>)) {
        if k.prefix == attr::ARG_PREFIX {
            if !self.args.is_empty() {
                self.args.push(b',');
            }
            push_json_str(&mut self.args, k.name);
            self.args.push(b':');
            write(&mut self.args);
            return;
        }
        let Some(s) = slot(k) else { return };
        if self.at[s as usize].is_none() {
            let start = self.values.len();
            write(&mut self.values);
            self.at[s as usize] = Some((start, self.values.len()));
        }
    }
}

impl Attrs for EcsAttrs {
    fn string(&mut self, k: Key, v: &str) {
        self.put(k, |out| push_json_str(out, v));
    }
    fn int(&mut self, k: Key, v: i64) {
        self.put(k, |out| push_int(out, v));
    }
    fn boolean(&mut self, k: Key, v: bool) {
        self.put(k, |out| {
            out.extend_from_slice(if v { b"true" as &[u8] } else { b"false" })
        });
    }
    fn strings(&mut self, k: Key, v: &[String]) {
        self.put(k, |out| push_json_array(out, v));
    }
}

fn push_json_array(out: &mut Vec<u8>, v: &[impl AsRef<str>]) {
    out.push(b'[');
    for (i, s) in v.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, s.as_ref());
    }
    out.push(b']');
}

/// A JSON object written member by member.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Starts member `k`; its value is written next.
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, k: &str, v: &str) {
        push_json_str(self.key(k), v);
    }
    fn int(&mut self, k: &str, v: i64) {
        push_int(self.key(k), v);
    }
    /// A member whose value is JSON text already.
    fn raw(&mut self, k: &str, json: &[u8]) {
        self.key(k).extend_from_slice(json);
    }
    fn obj(&mut self, k: &str) -> Obj<'_> {
        Obj::open(self.key(k))
    }
    fn close(self) {
        self.out.push(b'}');
    }
}

/// What a per-event encoder keeps for the whole run.
pub struct DocEncoder {
    clock: BootClock,
    /// `,"service.name":"sysotel",...`: the resource as flat members.
    resource_members: Vec<u8>,
    /// The ECS `host` and `agent` objects: the resource, fixed for the run.
    ecs_host: Vec<u8>,
    ecs_agent: Vec<u8>,
    ecs_attrs: EcsAttrs,
    task: TaskBytes,
    body: String,
    ts: String,
    /// The process's start, RFC 3339 (ECS `process.start`).
    start: String,
}

impl DocEncoder {
    pub fn new(clock: BootClock, resource: &Resource) -> DocEncoder {
        let mut resource_members = Vec::new();
        for (k, v) in &resource.attributes {
            push_key(&mut resource_members, key(k));
            push_str(&mut resource_members, v);
        }
        let res = |k: &str| resource.get(k).map(Json::from);
        let mut host = Map::new();
        if let Some(v) = res(attr::HOST_NAME) {
            host.insert("name".into(), v.clone());
            host.insert("hostname".into(), v);
        }
        if let Some(v) = res(attr::HOST_ID) {
            host.insert("id".into(), v);
        }
        if let Some(v) = res(attr::HOST_ARCH) {
            host.insert("architecture".into(), v);
        }
        let mut os = Map::new();
        if let Some(v) = res(attr::OS_TYPE) {
            os.insert("type".into(), v);
        }
        if let Some(v) = res(attr::OS_VERSION) {
            os.insert("kernel".into(), v);
        }
        if !os.is_empty() {
            host.insert("os".into(), Json::Object(os));
        }
        let mut agent = json!({
            "type": "sysotel",
            "name": resource.get(attr::SERVICE_NAME).unwrap_or("sysotel"),
            "version": env!("CARGO_PKG_VERSION"),
        });
        if let Some(id) = res(attr::SERVICE_INSTANCE_ID) {
            agent["id"] = id;
        }
        DocEncoder {
            clock,
            resource_members,
            // Writing to a Vec cannot fail.
            ecs_host: serde_json::to_vec(&Json::Object(host)).unwrap_or_default(),
            ecs_agent: serde_json::to_vec(&agent).unwrap_or_default(),
            ecs_attrs: EcsAttrs::default(),
            task: TaskBytes::default(),
            body: String::with_capacity(256),
            ts: String::with_capacity(32),
            start: String::with_capacity(32),
        }
    }

    /// The event's time, RFC 3339, into `self.ts`.
    fn timestamp(&mut self, e: &Event) {
        self.ts.clear();
        rfc3339_ns(self.clock.unix_ns(e.ctx.ts_boot_ns), &mut self.ts);
    }

    /// One flat JSON object: `@timestamp`, `event.name`, `severity`, `body`,
    /// every attribute of the OTLP mapping, then the resource attributes.
    pub fn json(&mut self, e: &Event, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"@timestamp\":");
        self.timestamp(e);
        push_str(out, &self.ts);
        push_key(out, key("event.name"));
        let name = event_name(e);
        out.push(b'"');
        out.extend_from_slice(name.prefix.as_bytes());
        out.extend_from_slice(name.name.as_bytes());
        out.push(b'"');
        push_key(out, key("severity"));
        push_str(out, severity(e).text());
        self.body.clear();
        call_text_into(&mut self.body, e);
        push_key(out, key("body"));
        push_str(out, &self.body);
        attributes(
            e,
            &mut TaskReuse {
                out: FlatAttrs(out),
                task: &mut self.task,
                encode: |c, buf| task_attributes(c, &mut FlatAttrs(buf)),
            },
        );
        out.extend_from_slice(&self.resource_members);
        out.push(b'}');
    }

    /// One Elastic Common Schema document, written straight to `out`.
    pub fn ecs(&mut self, e: &Event, out: &mut Vec<u8>) {
        let mut a = std::mem::take(&mut self.ecs_attrs);
        a.clear();
        attributes(e, &mut a);
        self.timestamp(e);
        self.body.clear();
        call_text_into(&mut self.body, e);
        let c = &e.ctx;

        let mut d = Obj::open(out);
        d.str("@timestamp", &self.ts);
        d.str("message", &self.body);
        let mut v = d.obj("ecs");
        v.str("version", ECS_VERSION);
        v.close();
        ecs_event(&mut d, e);

        let mut p = d.obj("process");
        p.int("pid", c.pid as i64);
        match a.get(Slot::ExecutableName) {
            Some(v) => p.raw("name", v),
            None => p.str("name", &c.comm),
        }
        let mut t = p.obj("thread");
        t.int("id", c.tid as i64);
        t.str("name", &c.comm);
        t.close();
        let mut parent = p.obj("parent");
        parent.int("pid", c.ppid as i64);
        parent.close();
        for (k, pid) in [("session_leader", c.sid), ("group_leader", c.pgid)] {
            let mut o = p.obj(k);
            o.int("pid", pid as i64);
            o.close();
        }
        for (k, id, name) in [
            ("user", c.euid, &c.user_name),
            ("real_user", c.uid, &c.real_user_name),
            ("saved_user", c.suid, &None),
        ] {
            let mut o = p.obj(k);
            o.str("id", itoa::Buffer::new().format(id));
            if let Some(name) = name {
                o.str("name", name);
            }
            o.close();
        }
        p.raw(
            "interactive",
            if c.interactive { b"true" } else { b"false" },
        );
        if c.start_unix_ns != 0 {
            self.start.clear();
            rfc3339_ns(c.start_unix_ns, &mut self.start);
            p.str("start", &self.start);
        }
        for (k, s) in [
            ("executable", Slot::ExecutablePath),
            ("args", Slot::CommandArgs),
            ("args_count", Slot::ArgsCount),
            ("exit_code", Slot::ExitCode),
        ] {
            if let Some(v) = a.get(s) {
                p.raw(k, v);
            }
        }
        p.close();

        let mut u = d.obj("user");
        u.str("id", itoa::Buffer::new().format(c.uid));
        if let Some(name) = &c.real_user_name {
            u.str("name", name);
        }
        u.close();
        let mut g = d.obj("group");
        g.str("id", itoa::Buffer::new().format(c.gid));
        g.close();
        d.raw("host", &self.ecs_host);
        d.raw("agent", &self.ecs_agent);
        if let Some(id) = &c.container_id {
            let mut o = d.obj("container");
            o.str("id", id);
            if let Some(m) = &c.container {
                o.str("name", &m.name);
                o.str("runtime", m.runtime);
                if m.image_name.is_some() || !m.image_tags.is_empty() {
                    let mut i = o.obj("image");
                    if let Some(name) = &m.image_name {
                        i.str("name", name);
                    }
                    if !m.image_tags.is_empty() {
                        push_json_array(i.key("tag"), &m.image_tags);
                    }
                    i.close();
                }
            }
            o.close();
            if let Some(pod) = c.pod() {
                let mut o = d.obj("orchestrator");
                o.str("type", "kubernetes");
                o.str("namespace", &pod.namespace);
                let mut r = o.obj("resource");
                r.str("type", "pod");
                r.str("name", &pod.name);
                r.str("id", &pod.uid);
                r.close();
                o.close();
            }
        }
        if let Some(v) = a.get(Slot::FilePath) {
            let mut o = d.obj("file");
            o.raw("path", v);
            o.close();
        }
        if let Some(addr) = a.get(Slot::PeerAddress) {
            // The peer is where data went, except for calls that receive.
            let side = match e.name {
                "accept" | "accept4" | "recvfrom" | "recvmsg" | "recvmmsg" => "source",
                _ => "destination",
            };
            let mut o = d.obj(side);
            o.raw("address", addr);
            if let Some(port) = a.get(Slot::PeerPort) {
                o.raw("ip", addr);
                o.raw("port", port);
            }
            o.close();
        }
        if let Some(n) = e.errno() {
            let mut o = d.obj("error");
            o.str("code", errno::name(n).unwrap_or("E?"));
            o.str("message", &std::io::Error::from_raw_os_error(n).to_string());
            o.close();
        }

        let mut s = d.obj("sysotel");
        let mut ev = s.obj("event");
        ev.str("name", e.name);
        ev.close();
        s.str("uts_name", &c.uts_name);
        s.int("mnt_ns", c.mnt_ns as i64);
        s.int("pid_ns", c.pid_ns as i64);
        s.int("cgroup_id", c.cgroup_id as i64);
        s.int("vpid", c.vpid as i64);
        let args = s.key("args");
        args.push(b'{');
        args.extend_from_slice(&a.args);
        args.push(b'}');
        if let Some(v) = a.get(Slot::ReturnValue) {
            s.raw("return_value", v);
        }
        s.close();
        d.close();
        self.ecs_attrs = a;
    }
}

/// The document's `event` object: the classification from the catalog and
/// the outcome.
fn ecs_event(d: &mut Obj, e: &Event) {
    let ecs = catalog::info(e.id).map_or(UNKNOWN, |i| i.ecs);
    let outcome = match e.category {
        Category::Syscall if !e.no_return => {
            if e.errno().is_some() {
                "failure"
            } else {
                "success"
            }
        }
        _ => "unknown",
    };
    let mut o = d.obj("event");
    o.str("kind", ecs.kind);
    push_json_array(o.key("category"), ecs.category);
    push_json_array(o.key("type"), ecs.types);
    o.str("action", e.name);
    o.str("outcome", outcome);
    o.str("module", "sysotel");
    let name = event_name(e);
    let dataset = o.key("dataset");
    dataset.push(b'"');
    dataset.extend_from_slice(name.prefix.as_bytes());
    dataset.extend_from_slice(name.name.as_bytes());
    dataset.push(b'"');
    o.int("severity", severity(e).number() as i64);
    o.int("sequence", e.sequence as i64);
    o.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Context, SockAddr, Value, testing};

    fn resource() -> Resource {
        Resource {
            attributes: vec![
                ("service.name".into(), "sysotel".into()),
                ("host.name".into(), "web-1".into()),
                ("os.type".into(), "linux".into()),
            ],
        }
    }

    fn ctx() -> Context {
        Context {
            ts_boot_ns: 1_000_000_001,
            pid: 42,
            tid: 43,
            ppid: 1,
            uid: 1000,
            gid: 100,
            euid: 0,
            suid: 1000,
            user_name: Some("root".into()),
            real_user_name: Some("alice".into()),
            sid: 40,
            pgid: 42,
            interactive: true,
            start_unix_ns: 1_700_000_000_123_456_789,
            comm: "cat".into(),
            uts_name: "web-1".into(),
            container_id: Some("abc".into()),
            ..Default::default()
        }
    }

    fn openat_enoent() -> Event {
        testing::syscall(
            "openat",
            ctx(),
            -2,
            vec![
                ("dfd", Value::Fd(-100)),
                ("filename", testing::string("/etc/\"x\"")),
            ],
        )
    }

    #[test]
    fn flat_json_has_the_otlp_names() {
        let mut enc = DocEncoder::new(BootClock::with_offset(0), &resource());
        let mut out = Vec::new();
        enc.json(&openat_enoent(), &mut out);
        let doc: Json = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(doc["@timestamp"], "1970-01-01T00:00:01.000000001Z");
        assert_eq!(doc["event.name"], "sysotel.syscall.openat");
        assert_eq!(doc["sysotel.event.name"], "openat");
        assert_eq!(doc["process.pid"], 42);
        assert_eq!(doc["thread.id"], 43);
        assert_eq!(doc["error.type"], "ENOENT");
        assert_eq!(doc["sysotel.return_value"], -2);
        assert_eq!(doc["file.path"], "/etc/\"x\"");
        assert_eq!(doc["sysotel.arg.dfd"], -100);
        assert_eq!(doc["container.id"], "abc");
        assert_eq!(doc["host.name"], "web-1");
        assert_eq!(doc["severity"], "INFO");
        assert!(
            doc["body"]
                .as_str()
                .expect("a string")
                .starts_with("openat(")
        );
    }

    #[test]
    fn a_document_names_its_own_task() {
        // One encoder for a run of events from alternating tasks writes what
        // a fresh encoder writes for each event alone.
        let mut shared = DocEncoder::new(BootClock::with_offset(0), &resource());
        for i in 0..6u32 {
            let mut e = openat_enoent();
            if i % 2 == 1 {
                e.ctx.tid += i;
                e.ctx.comm = format!("cat{i}").into();
            }
            let (mut ours, mut alone) = (Vec::new(), Vec::new());
            shared.json(&e, &mut ours);
            DocEncoder::new(BootClock::with_offset(0), &resource()).json(&e, &mut alone);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&alone)
            );
        }
    }

    #[test]
    fn ecs_document() {
        let mut enc = DocEncoder::new(BootClock::with_offset(0), &resource());
        let mut out = Vec::new();
        enc.ecs(&openat_enoent(), &mut out);
        let doc: Json = serde_json::from_slice(&out).expect("valid JSON");
        // The whole document: nothing missing, nothing extra.
        let whole = json!({
            "@timestamp": "1970-01-01T00:00:01.000000001Z",
            "message": "openat(dfd: AT_FDCWD, filename: \"/etc/\\\"x\\\"\") = -2 ENOENT",
            "ecs": {"version": "8.17.0"},
            "event": {
                "kind": "event", "category": ["file"], "type": ["access"],
                "action": "openat", "outcome": "failure", "module": "sysotel",
                "dataset": "sysotel.syscall.openat", "severity": 9, "sequence": 0,
            },
            "process": {
                "pid": 42, "name": "cat",
                "thread": {"id": 43, "name": "cat"},
                "parent": {"pid": 1},
                "session_leader": {"pid": 40},
                "group_leader": {"pid": 42},
                "user": {"id": "0", "name": "root"},
                "real_user": {"id": "1000", "name": "alice"},
                "saved_user": {"id": "1000"},
                "interactive": true,
                "start": "2023-11-14T22:13:20.123456789Z",
            },
            "user": {"id": "1000", "name": "alice"},
            "group": {"id": "100"},
            "host": {"name": "web-1", "hostname": "web-1", "os": {"type": "linux"}},
            "agent": {"type": "sysotel", "name": "sysotel", "version": env!("CARGO_PKG_VERSION")},
            "container": {"id": "abc"},
            "file": {"path": "/etc/\"x\""},
            "error": {"code": "ENOENT", "message": "No such file or directory (os error 2)"},
            "sysotel": {
                "event": {"name": "openat"},
                "uts_name": "web-1", "mnt_ns": 0, "pid_ns": 0, "cgroup_id": 0, "vpid": 0,
                "args": {"dfd": -100, "filename": "/etc/\"x\""},
                "return_value": -2,
            },
        });
        assert_eq!(doc, whole, "{}", String::from_utf8_lossy(&out));
        assert_eq!(doc["@timestamp"], "1970-01-01T00:00:01.000000001Z");
        assert_eq!(doc["event"]["kind"], "event");
        assert_eq!(doc["event"]["category"], json!(["file"]));
        assert_eq!(doc["event"]["type"], json!(["access"]));
        assert_eq!(doc["event"]["action"], "openat");
        assert_eq!(doc["event"]["outcome"], "failure");
        assert_eq!(doc["process"]["pid"], 42);
        assert_eq!(doc["process"]["parent"]["pid"], 1);
        assert_eq!(doc["process"]["thread"]["id"], 43);
        assert_eq!(doc["user"]["id"], "1000");
        assert_eq!(doc["group"]["id"], "100");
        assert_eq!(doc["host"]["name"], "web-1");
        assert_eq!(doc["host"]["os"]["type"], "linux");
        assert_eq!(doc["container"]["id"], "abc");
        assert_eq!(doc["file"]["path"], "/etc/\"x\"");
        assert_eq!(doc["error"]["code"], "ENOENT");
        assert_eq!(doc["sysotel"]["return_value"], -2);
        assert_eq!(doc["sysotel"]["args"]["dfd"], -100);

        let addr = SockAddr::Ip {
            addr: "10.1.2.3".parse().expect("an address"),
            port: 443,
        };
        let connect = testing::syscall(
            "connect",
            ctx(),
            0,
            vec![("uservaddr", Value::SockAddr(addr))],
        );
        out.clear();
        enc.ecs(&connect, &mut out);
        let doc: Json = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(doc["event"]["category"], json!(["network"]));
        assert_eq!(doc["event"]["type"], json!(["connection", "start"]));
        assert_eq!(doc["event"]["outcome"], "success");
        assert_eq!(doc["destination"]["ip"], "10.1.2.3");
        assert_eq!(doc["destination"]["port"], 443);
        assert!(doc.get("error").is_none());
    }
}
