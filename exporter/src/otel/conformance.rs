//! Every attribute key sysotel emits in OTLP, for every event kind and for
//! the resource, is either in the OpenTelemetry semantic-conventions registry
//! (the copy in `semconv/`) with the same type and not deprecated, or under
//! `sysotel.`. A new key that is neither fails here.

use std::collections::{BTreeMap, BTreeSet};

use exporter_common::{
    events::FieldKind,
    syscalls::{ArgKind, RetKind},
};

use super::{
    Resource,
    record::{Attrs, Key, attributes},
};
use crate::event::{
    Arg, ContainerMeta, Context, Event, SockAddr, Value,
    catalog::{self, Fields},
};

/// An attribute's type as the registry names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Type {
    String,
    Int,
    Boolean,
    Strings,
    Other,
}

struct Registered {
    ty: Type,
    deprecated: bool,
}

fn type_of(v: &serde_yaml_ng::Value) -> Type {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::String(s) => match s.as_str() {
            "string" => Type::String,
            "int" => Type::Int,
            "boolean" => Type::Boolean,
            "string[]" => Type::Strings,
            _ => Type::Other,
        },
        // An enum: `members` with values of one type.
        Y::Mapping(m) => {
            let members = m.get("members").and_then(Y::as_sequence);
            let all = |f: fn(&Y) -> bool| {
                members.is_some_and(|ms| ms.iter().all(|x| x.get("value").is_some_and(f)))
            };
            if all(Y::is_string) {
                Type::String
            } else if all(Y::is_i64) {
                Type::Int
            } else {
                Type::Other
            }
        }
        _ => Type::Other,
    }
}

/// Every attribute of the registry copy: `groups[].attributes[].id` (the
/// first file format) and `attributes[].key` (`definition/2`).
fn registry() -> BTreeMap<String, Registered> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../semconv/model");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    assert!(
        !files.is_empty(),
        "no registry files under {}",
        root.display()
    );
    let mut out = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("a registry file");
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut attrs: Vec<&serde_yaml_ng::Value> = Vec::new();
        if let Some(groups) = doc.get("groups").and_then(|g| g.as_sequence()) {
            for g in groups {
                if let Some(a) = g.get("attributes").and_then(|a| a.as_sequence()) {
                    attrs.extend(a);
                }
            }
        }
        if let Some(a) = doc.get("attributes").and_then(|a| a.as_sequence()) {
            attrs.extend(a);
        }
        for a in attrs {
            let Some(name) = a
                .get("id")
                .or_else(|| a.get("key"))
                .and_then(|n| n.as_str())
            else {
                continue;
            };
            let Some(ty) = a.get("type") else { continue };
            out.insert(
                name.to_string(),
                Registered {
                    ty: type_of(ty),
                    deprecated: a.get("deprecated").is_some(),
                },
            );
        }
    }
    out
}

/// The keys written and the type of each.
#[derive(Default)]
struct Keys(BTreeSet<(String, Type)>);

impl Keys {
    fn add(&mut self, k: Key, ty: Type) {
        self.0.insert((format!("{}{}", k.prefix, k.name), ty));
    }
}

impl Attrs for Keys {
    fn string(&mut self, k: Key, _: &str) {
        self.add(k, Type::String);
    }
    fn int(&mut self, k: Key, _: i64) {
        self.add(k, Type::Int);
    }
    fn boolean(&mut self, k: Key, _: bool) {
        self.add(k, Type::Boolean);
    }
    fn strings(&mut self, k: Key, _: &[String]) {
        self.add(k, Type::Strings);
    }
}

/// A value of every field, of the kind the field declares, so that every
/// attribute the mapping derives from fields appears.
fn value_of_arg(kind: ArgKind) -> Value {
    match kind {
        ArgKind::Path | ArgKind::Str => crate::event::testing::string("/etc/hosts"),
        ArgKind::SockAddrIn(_) | ArgKind::SockAddrOut(_) => Value::SockAddr(SockAddr::Ip {
            addr: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 80,
        }),
        ArgKind::StrArray => Value::StrList {
            values: vec!["/bin/true".into()],
            count: 1,
            truncated: false,
        },
        _ => Value::Int(1),
    }
}

fn value_of_field(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Str | FieldKind::Path => crate::event::testing::string("/etc/hosts"),
        FieldKind::SockAddr => value_of_arg(ArgKind::SockAddrIn(16)),
        FieldKind::StrList => value_of_arg(ArgKind::StrArray),
        FieldKind::Bool => Value::Bool(true),
        _ => Value::Int(1),
    }
}

/// One event of every kind sysotel emits, in a container whose runtime
/// answered: every attribute appears at least once.
fn every_event() -> Vec<Event> {
    let ctx = Context {
        comm: "app".into(),
        uts_name: "web-1".into(),
        start_unix_ns: 1_700_000_000_000_000_000,
        user_name: Some("root".into()),
        real_user_name: Some("alice".into()),
        container_id: Some("4f1c".into()),
        container: Some(std::sync::Arc::new(ContainerMeta {
            name: "web".into(),
            image_name: Some("org/app".into()),
            image_tags: vec!["1".into()],
            image_id: Some("sha256:ab".into()),
            runtime: "containerd",
            pod: Some(crate::event::Pod {
                name: "web-0".into(),
                uid: "8d1f".into(),
                namespace: "shop".into(),
                container_name: "web".into(),
            }),
        })),
        ..Default::default()
    };
    catalog::all()
        .chain(catalog::internal())
        .map(|info| {
            let (args, ret_kind, no_return): (Vec<(&'static str, Value)>, _, _) = match info.fields
            {
                Fields::Syscall(s) => (
                    s.args
                        .iter()
                        .map(|a| (a.name, value_of_arg(a.kind)))
                        .collect(),
                    s.ret,
                    s.no_return,
                ),
                Fields::Declared(d) => (
                    d.fields
                        .iter()
                        .map(|f| (f.name, value_of_field(f.kind)))
                        .collect(),
                    RetKind::Int,
                    false,
                ),
            };
            Event {
                id: info.id,
                name: info.name,
                category: info.category,
                ctx: ctx.clone(),
                // A failed call, so that error.type appears.
                ret: -2,
                ret_kind,
                no_return,
                args: args
                    .into_iter()
                    .map(|(name, value)| Arg { name, value })
                    .collect(),
                observed_unix_ns: 0,
                sequence: 0,
            }
        })
        .collect()
}

#[test]
fn every_attribute_key_is_in_the_registry_or_under_sysotel() {
    let registry = registry();
    let mut keys = Keys::default();
    let events = every_event();
    // Every syscall of the build's table, and the other events.
    let syscalls = exporter_common::syscalls::SYSCALLS.len();
    assert!(events.len() > syscalls, "{} event kinds", events.len());
    for e in &events {
        attributes(e, &mut keys);
    }
    let resource = Resource::detect(None, None).expect("the resource");
    for (k, _) in &resource.attributes {
        keys.0.insert((k.clone(), Type::String));
    }
    let mut wrong = Vec::new();
    for (k, ty) in &keys.0 {
        if k.starts_with("sysotel.") {
            continue;
        }
        match registry.get(k) {
            None => wrong.push(format!("{k}: not in the registry (and not under sysotel.)")),
            Some(r) if r.deprecated => wrong.push(format!("{k}: deprecated in the registry")),
            Some(r) if r.ty != *ty => wrong.push(format!(
                "{k}: emitted as {ty:?}, the registry says {:?}",
                r.ty
            )),
            Some(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "attributes off the conventions:\n{}",
        wrong.join("\n")
    );
    // The test sees what it claims to: the registry keys it must have met.
    for k in [
        "process.pid",
        "process.user.id",
        "process.user.name",
        "process.real_user.name",
        "process.interactive",
        "process.creation.time",
        "container.image.tags",
        "network.peer.port",
        "file.path",
        "host.arch",
    ] {
        assert!(
            keys.0.iter().any(|(x, _)| x == k),
            "{k} was not emitted by any event"
        );
    }
}

#[test]
fn the_registry_check_catches_a_key_off_the_conventions() {
    let registry = registry();
    assert!(
        registry
            .get("process.pid")
            .is_some_and(|r| r.ty == Type::Int && !r.deprecated)
    );
    assert!(
        registry
            .get("container.image.tags")
            .is_some_and(|r| r.ty == Type::Strings)
    );
    assert!(!registry.contains_key("process.real_group.id"));
    // A deprecated key is known as such (a rename in the registry).
    assert!(registry.values().any(|r| r.deprecated));
}
