//! Per-event Kafka documents: `json` (flat, keyed by the OTLP attribute
//! names, what SIEMs ingest) and `ecs` (Elastic Common Schema). Both read the
//! OTLP mapping ([`attributes`]), so every encoding says the same thing.

use serde_json::{Map, Value as Json, json};

use crate::{
    base::clock::{BootClock, rfc3339_ns},
    event::{
        Category, Event,
        catalog::{self, Ecs},
        errno,
    },
    format::args::call_text_into,
    otel::{
        Resource, attributes as attr,
        record::{Attrs, Key, attributes, event_name, key, severity},
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
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_key(out: &mut Vec<u8>, k: Key) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(k.prefix.as_bytes());
    out.extend_from_slice(k.name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Writes attributes as `,"key":value` members of an open JSON object.
struct FlatAttrs<'a>(&'a mut Vec<u8>);

impl Attrs for FlatAttrs<'_> {
    fn string(&mut self, k: Key, v: &str) {
        push_key(self.0, k);
        push_str(self.0, v);
    }
    fn int(&mut self, k: Key, v: i64) {
        use std::io::Write as _;
        push_key(self.0, k);
        // Writing to a Vec cannot fail.
        let _ = write!(self.0, "{v}");
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

/// Collects attributes by full key, for the ECS document.
#[derive(Default)]
struct Collected(Vec<(String, Json)>);

impl Collected {
    fn put(&mut self, k: Key, v: Json) {
        let mut key = String::with_capacity(k.len());
        key.push_str(k.prefix);
        key.push_str(k.name);
        self.0.push((key, v));
    }

    fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl Attrs for Collected {
    fn string(&mut self, k: Key, v: &str) {
        self.put(k, Json::from(v));
    }
    fn int(&mut self, k: Key, v: i64) {
        self.put(k, Json::from(v));
    }
    fn boolean(&mut self, k: Key, v: bool) {
        self.put(k, Json::from(v));
    }
    fn strings(&mut self, k: Key, v: &[String]) {
        self.put(k, Json::from(v.to_vec()));
    }
}

/// What a per-event encoder keeps for the whole run.
pub struct DocEncoder {
    clock: BootClock,
    /// `,"service.name":"sysotel",...`: the resource as flat members.
    resource_members: Vec<u8>,
    /// The ECS `host` and `agent` objects: the resource, fixed for the run.
    ecs_host: Json,
    ecs_agent: Json,
    body: String,
    ts: String,
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
            ecs_host: Json::Object(host),
            ecs_agent: agent,
            body: String::with_capacity(256),
            ts: String::with_capacity(32),
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
        attributes(e, &mut FlatAttrs(out));
        out.extend_from_slice(&self.resource_members);
        out.push(b'}');
    }

    /// One Elastic Common Schema document.
    pub fn ecs(&mut self, e: &Event, out: &mut Vec<u8>) {
        let mut a = Collected::default();
        attributes(e, &mut a);
        let c = &e.ctx;
        let ecs = catalog::info(e.id).map_or(UNKNOWN, |i| i.ecs);
        let failed = e.errno().is_some();
        let outcome = match e.category {
            Category::Syscall if !e.no_return => {
                if failed {
                    "failure"
                } else {
                    "success"
                }
            }
            _ => "unknown",
        };
        self.timestamp(e);
        self.body.clear();
        call_text_into(&mut self.body, e);
        let name = event_name(e);
        let event_name = format!("{}{}", name.prefix, name.name);

        let mut process = json!({
            "pid": c.pid,
            "name": c.comm,
            "thread": {"id": c.tid, "name": c.comm},
            "parent": {"pid": c.ppid},
        });
        let p = process.as_object_mut().expect("an object");
        if let Some(v) = a.get(attr::PROCESS_EXECUTABLE_PATH) {
            p.insert("executable".into(), v.clone());
        }
        if let Some(v) = a.get(attr::PROCESS_EXECUTABLE_NAME) {
            p.insert("name".into(), v.clone());
        }
        if let Some(v) = a.get(attr::PROCESS_COMMAND_ARGS) {
            p.insert("args".into(), v.clone());
        }
        if let Some(v) = a.get(attr::PROCESS_ARGS_COUNT) {
            p.insert("args_count".into(), v.clone());
        }
        if let Some(v) = a.get(attr::PROCESS_EXIT_CODE) {
            p.insert("exit_code".into(), v.clone());
        }

        let mut args = Map::new();
        for (k, v) in &a.0 {
            if let Some(name) = k.strip_prefix(attr::ARG_PREFIX) {
                args.insert(name.to_string(), v.clone());
            }
        }
        let mut sysotel = json!({
            "event": {"name": e.name},
            "uts_name": c.uts_name,
            "mnt_ns": c.mnt_ns,
            "pid_ns": c.pid_ns,
            "cgroup_id": c.cgroup_id,
            "vpid": c.vpid,
            "args": args,
        });
        if let Some(v) = a.get(attr::RETURN_VALUE) {
            sysotel["return_value"] = v.clone();
        }

        let mut doc = json!({
            "@timestamp": self.ts,
            "message": self.body,
            "ecs": {"version": ECS_VERSION},
            "event": {
                "kind": ecs.kind,
                "category": ecs.category,
                "type": ecs.types,
                "action": e.name,
                "outcome": outcome,
                "module": "sysotel",
                "dataset": event_name,
                "severity": severity(e).number(),
            },
            "process": process,
            "user": {"id": c.uid.to_string()},
            "group": {"id": c.gid.to_string()},
            "host": self.ecs_host.clone(),
            "agent": self.ecs_agent.clone(),
            "sysotel": sysotel,
        });
        let d = doc.as_object_mut().expect("an object");
        if let Some(id) = &c.container_id {
            d.insert("container".into(), json!({"id": id.as_ref()}));
        }
        if let Some(v) = a.get(attr::FILE_PATH) {
            d.insert("file".into(), json!({"path": v}));
        }
        if let Some(Json::String(addr)) = a.get(attr::NETWORK_PEER_ADDRESS) {
            // The peer is where data went, except for calls that receive.
            let side = match e.name {
                "accept" | "accept4" | "recvfrom" | "recvmsg" | "recvmmsg" => "source",
                _ => "destination",
            };
            let mut peer = json!({"address": addr});
            if let Some(port) = a.get(attr::NETWORK_PEER_PORT) {
                peer["ip"] = Json::from(addr.as_str());
                peer["port"] = port.clone();
            }
            d.insert(side.into(), peer);
        }
        if let Some(n) = e.errno() {
            let mut error = json!({"code": errno::name(n).unwrap_or("E?")});
            error["message"] = Json::from(std::io::Error::from_raw_os_error(n).to_string());
            d.insert("error".into(), error);
        }
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &doc);
    }
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
    fn ecs_document() {
        let mut enc = DocEncoder::new(BootClock::with_offset(0), &resource());
        let mut out = Vec::new();
        enc.ecs(&openat_enoent(), &mut out);
        let doc: Json = serde_json::from_slice(&out).expect("valid JSON");
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
