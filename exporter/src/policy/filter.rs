//! Event filters, decided in user space where the kernel cannot: on argument
//! values and return values.
//!
//! `[EVENT.]FIELD OP VALUE`: EVENT is an event or set name (without it, every
//! event that has FIELD), FIELD an argument name, `addr` (the event's socket
//! address) or `retval`. Filters on the same target and field are
//! alternatives; different ones must all match. An event a filter does not
//! name passes it.

use std::net::IpAddr;

use exporter_common::{EventId, events::EVENT_ID_LIMIT, syscalls::ArgKind};

use super::scope::{Op, split_term};
use crate::{
    base::words::{glob, nearest, suggest},
    event::{Category, Event, SockAddr, Value, catalog, select::Selection},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Field {
    Retval,
    /// Whichever argument of the event is a socket address.
    Addr,
    /// `pathname`: the event's first path argument (`filename`, `pathname`, `oldname`...).
    Path,
    Arg(String),
    /// Who did it: a field of every event's context.
    Context(Ctx),
}

/// The context fields a filter can name, whatever the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    ContainerId,
    ContainerName,
    ContainerImage,
    Namespace,
    Pod,
    UserName,
    UserId,
}

/// Their names in `--filter`, as the OTLP attributes name them (less the
/// `process.` of the user's).
const CONTEXT_FIELDS: [(&str, Ctx); 7] = [
    ("container.id", Ctx::ContainerId),
    ("container.name", Ctx::ContainerName),
    ("container.image", Ctx::ContainerImage),
    ("k8s.namespace.name", Ctx::Namespace),
    ("k8s.pod.name", Ctx::Pod),
    ("user.name", Ctx::UserName),
    ("user.id", Ctx::UserId),
];

impl Ctx {
    /// The event's value of this field; None when it has none (a process in
    /// no container, a container its runtime has not described, a user the
    /// passwd file does not name).
    fn value(self, c: &crate::event::Context) -> Option<Value> {
        let text = |s: Option<&str>| {
            s.map(|v| Value::Str {
                value: v.to_string(),
                truncated: false,
            })
        };
        match self {
            Ctx::ContainerId => text(c.container_id.as_deref()),
            Ctx::ContainerName => text(c.container.as_ref().map(|m| m.name.as_str())),
            Ctx::ContainerImage => text(c.container.as_ref().and_then(|m| m.image_name.as_deref())),
            Ctx::Namespace => text(c.pod().map(|p| p.namespace.as_str())),
            Ctx::Pod => text(c.pod().map(|p| p.name.as_str())),
            Ctx::UserName => text(c.user_name.as_deref()),
            Ctx::UserId => Some(Value::UInt(u64::from(c.euid))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Want {
    Int(i64),
    Text(String),
    Net {
        addr: Option<(IpAddr, u8)>,
        port: Option<u16>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cond {
    op: Op,
    want: Want,
}

/// Where one event's value of a group's field is, decided per event id when
/// the filter is parsed (nothing about the event's kind is looked up per event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lookup {
    Retval,
    Addr,
    Arg(&'static str),
    Context(Ctx),
    /// The filter names the event but the event has no such field: dropped.
    Missing,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    /// The written target (`openat`, `fs`, or empty for every event).
    target_name: String,
    field: Field,
    /// By event id; `None`: the filter does not apply, the event passes.
    lookup: Vec<Option<Lookup>>,
    alternatives: Vec<Cond>,
}

/// The parsed filters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    groups: Vec<Group>,
    written: Vec<String>,
}

/// One parsed `--filter`: its target, field and condition, and the events
/// it looks at.
struct Spec {
    target_name: String,
    field: Field,
    ids: Vec<EventId>,
    cond: Cond,
}

/// `[EVENT.]FIELD`: the events named (every event without EVENT), and the field.
fn target_and_field(key: &str) -> Result<(String, Vec<EventId>, Field), String> {
    // A context field (`container.name`, `openat.container.name`) holds a
    // dot of its own.
    let context = CONTEXT_FIELDS.iter().find_map(|&(name, ctx)| {
        if key == name {
            Some((String::new(), ctx))
        } else {
            let t = key.strip_suffix(name)?.strip_suffix('.')?;
            Some((t.trim().to_string(), ctx))
        }
    });
    if let Some((target_name, ctx)) = context {
        let ids = target_ids(&target_name)?;
        return Ok((target_name, ids, Field::Context(ctx)));
    }
    let (target_name, field_name) = match key.split_once('.') {
        Some((t, fld)) => (t.trim().to_string(), fld.trim().to_string()),
        None => (String::new(), key.to_string()),
    };
    let ids = target_ids(&target_name)?;
    let field = match field_name.as_str() {
        "retval" => Field::Retval,
        "addr" => Field::Addr,
        "pathname" => Field::Path,
        other => Field::Arg(other.to_string()),
    };
    if !ids.iter().any(|&id| has_field(id, &field)) {
        let names: Vec<&str> = ids.iter().flat_map(|&id| field_names(id)).collect();
        let near = nearest(&field_name, names.iter().copied());
        let whose = if target_name.is_empty() {
            "no event".to_string()
        } else {
            format!("`{target_name}`")
        };
        return Err(format!(
            "{whose} has no field `{field_name}`{}",
            suggest(&near)
        ));
    }
    Ok((target_name, ids, field))
}

/// The events `target_name` names: every event when it is empty.
fn target_ids(target_name: &str) -> Result<Vec<EventId>, String> {
    Ok(if target_name.is_empty() {
        catalog::all().map(|e| e.id).collect()
    } else {
        Selection::parse(&[target_name])
            .map_err(|e| e.to_string().trim_start_matches("--events: ").to_string())?
            .ids()
            .collect()
    })
}

/// The value a filter compares with, as the field's kind reads it.
fn want(field: &Field, ids: &[EventId], value: &str) -> Result<Want, String> {
    Ok(match field {
        Field::Retval => Want::Int(retval(value)?),
        Field::Addr => net(value)?,
        Field::Path => Want::Text(value.to_string()),
        Field::Context(Ctx::UserId) => Want::Int(
            value
                .parse()
                .map_err(|_| format!("`{value}` is not a user id"))?,
        ),
        Field::Context(_) => Want::Text(value.to_string()),
        Field::Arg(name) => {
            let kinds: Vec<ArgKind> = ids.iter().filter_map(|&id| arg_kind(id, name)).collect();
            let sockaddr =
                |k: &ArgKind| matches!(k, ArgKind::SockAddrIn(_) | ArgKind::SockAddrOut(_));
            if !kinds.is_empty() && kinds.iter().all(sockaddr) {
                net(value)?
            } else if let Ok(n) = value.parse::<i64>() {
                Want::Int(n)
            } else if let Some(n) = value
                .strip_prefix("0x")
                .and_then(|h| i64::from_str_radix(h, 16).ok())
            {
                Want::Int(n)
            } else {
                Want::Text(value.to_string())
            }
        }
    })
}

impl Spec {
    fn parse(spec: &str) -> Result<Spec, String> {
        let term = split_term(spec)?;
        let Some(op) = term.op else {
            return Err("expected [EVENT.]FIELD OP VALUE (e.g. openat.retval<0)".into());
        };
        let (target_name, ids, field) = target_and_field(&term.key)?;
        let value = term.value.as_str();
        if value.is_empty() {
            return Err("empty value".into());
        }
        let want = want(&field, &ids, value)?;
        if matches!(want, Want::Text(_) | Want::Net { .. }) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(format!(
                "`{value}` is not a number: only = and != apply to it"
            ));
        }
        Ok(Spec {
            target_name,
            field,
            ids,
            cond: Cond { op, want },
        })
    }
}

impl Filters {
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Filters, FilterError> {
        let mut f = Filters::default();
        for spec in specs {
            let spec = spec.as_ref().trim();
            let s = Spec::parse(spec).map_err(|m| FilterError {
                message: format!("--filter {spec}: {m}"),
            })?;
            f.add(s);
            f.written.push(spec.to_string());
        }
        Ok(f)
    }

    /// Filters on the same target and field are alternatives of one group.
    fn add(&mut self, s: Spec) {
        if let Some(g) = self
            .groups
            .iter_mut()
            .find(|g| g.target_name == s.target_name && g.field == s.field)
        {
            g.alternatives.push(s.cond);
            return;
        }
        let targeted = !s.target_name.is_empty();
        let mut lookup = vec![None; EVENT_ID_LIMIT as usize];
        for &id in &s.ids {
            if let Some(slot) = lookup.get_mut(id as usize) {
                *slot = lookup_for(id, &s.field, targeted);
            }
        }
        self.groups.push(Group {
            target_name: s.target_name,
            field: s.field,
            lookup,
            alternatives: vec![s.cond],
        });
    }

    pub fn written(&self) -> &[String] {
        &self.written
    }

    /// Whether `e` passes every filter that names it.
    pub fn keep(&self, e: &Event) -> bool {
        self.groups.iter().all(|g| g.keep(e))
    }
}

impl Group {
    fn keep(&self, e: &Event) -> bool {
        let Some(Some(lookup)) = self.lookup.get(e.id as usize) else {
            return true;
        };
        let ret;
        let value = match *lookup {
            Lookup::Retval => {
                ret = Value::Int(e.ret);
                Some(&ret)
            }
            Lookup::Context(ctx) => {
                let Some(v) = ctx.value(&e.ctx) else {
                    // No value equals anything, and differs from everything.
                    return self.alternatives.iter().all(|c| c.op == Op::Ne);
                };
                ret = v;
                Some(&ret)
            }
            Lookup::Addr => e
                .args
                .iter()
                .map(|a| &a.value)
                .find(|v| matches!(v, Value::SockAddr(_))),
            Lookup::Arg(name) => e.arg(name),
            Lookup::Missing => None,
        };
        let Some(value) = value else {
            return false;
        };
        // `!=` alternatives all have to hold; `=` ones are alternatives.
        let mut any_eq = false;
        let mut eq_hit = false;
        for c in &self.alternatives {
            let hit = c.matches(value);
            match c.op {
                Op::Eq => {
                    any_eq = true;
                    eq_hit |= hit;
                }
                _ => {
                    if !hit {
                        return false;
                    }
                }
            }
        }
        !any_eq || eq_hit
    }
}

impl Cond {
    /// Whether the value satisfies this condition (for `!=`, that it differs).
    fn matches(&self, v: &Value) -> bool {
        let eq = match self.op {
            Op::Eq | Op::Ne => self.equals(v),
            _ => {
                let (Some(n), Want::Int(w)) = (number(v), &self.want) else {
                    return false;
                };
                return match self.op {
                    Op::Lt => n < *w as i128,
                    Op::Gt => n > *w as i128,
                    Op::Le => n <= *w as i128,
                    _ => n >= *w as i128,
                };
            }
        };
        if self.op == Op::Ne { !eq } else { eq }
    }

    fn equals(&self, v: &Value) -> bool {
        match (&self.want, v) {
            (Want::Int(w), Value::Sym { raw, .. }) => *raw as i128 == *w as i128,
            (Want::Int(w), v) => number(v) == Some(*w as i128),
            (Want::Text(w), Value::Str { value, .. }) => glob(w, value),
            (Want::Text(w), Value::StrList { values, .. }) => values.iter().any(|x| glob(w, x)),
            (Want::Text(w), Value::Sym { text, .. }) => {
                glob(w, text) || text.split('|').any(|part| part == w)
            }
            (Want::Text(w), Value::Bool(b)) => w == if *b { "true" } else { "false" },
            (Want::Text(w), Value::SockAddr(SockAddr::Unix { path, .. })) => glob(w, path),
            (Want::Net { addr, port }, Value::SockAddr(SockAddr::Ip { addr: a, port: p })) => {
                port.is_none_or(|want| want == *p)
                    && addr.is_none_or(|(net, bits)| in_cidr(*a, net, bits))
            }
            _ => false,
        }
    }
}

fn number(v: &Value) -> Option<i128> {
    match v {
        Value::Int(n) | Value::Fd(n) => Some(*n as i128),
        Value::UInt(n) | Value::Hex(n) | Value::Octal(n) => Some(*n as i128),
        Value::Sym { raw, .. } => Some(*raw as i128),
        _ => None,
    }
}

fn in_cidr(a: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits as u32)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits as u32)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a4| in_cidr(IpAddr::V4(a4), net, bits)),
        _ => false,
    }
}

/// `-ENOENT`, `ENOENT` (both -2), `-2`, `0`.
fn retval(v: &str) -> Result<i64, String> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    let name = v.trim_start_matches('-');
    (1..4096)
        .find(|&e| crate::event::errno::name(e) == Some(name))
        .map(|e| -(e as i64))
        .ok_or_else(|| {
            let names: Vec<&str> = (1..4096).filter_map(crate::event::errno::name).collect();
            format!(
                "`{v}` is not a number or an errno name{}",
                suggest(&nearest(name, names.into_iter()))
            )
        })
}

/// `10.0.0.0/8`, `192.168.1.5`, `10.0.0.1:443`, `[::1]:443`, `fd00::/8`, `:443`.
fn net(v: &str) -> Result<Want, String> {
    let bad = || {
        format!(
            "`{v}` is not an address, a CIDR or ADDR:PORT (examples: 10.0.0.0/8, 10.0.0.1:443, [::1]:443, :443)"
        )
    };
    if let Some(p) = v.strip_prefix(':') {
        let port = p.parse().map_err(|_| bad())?;
        return Ok(Want::Net {
            addr: None,
            port: Some(port),
        });
    }
    if let Ok(sa) = v.parse::<std::net::SocketAddr>() {
        return Ok(Want::Net {
            addr: Some((sa.ip(), if sa.is_ipv4() { 32 } else { 128 })),
            port: Some(sa.port()),
        });
    }
    let (ip, bits) = match v.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (v, None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => match b.parse::<u8>() {
            Ok(b) if b <= max => b,
            _ => return Err(format!("`{v}`: the prefix length must be 0 to {max}")),
        },
        None => max,
    };
    Ok(Want::Net {
        addr: Some((ip, bits)),
        port: None,
    })
}

fn field_names(id: EventId) -> Vec<&'static str> {
    let Some(e) = catalog::info(id) else {
        return Vec::new();
    };
    let mut v = e.field_names();
    if e.category == Category::Syscall {
        v.push("retval");
    }
    if e.has_sockaddr() {
        v.push("addr");
    }
    if e.first_path().is_some() && !v.contains(&"pathname") {
        v.push("pathname");
    }
    v
}

fn has_field(id: EventId, field: &Field) -> bool {
    let name = match field {
        Field::Retval => "retval",
        Field::Addr => "addr",
        Field::Path => "pathname",
        Field::Arg(n) => n.as_str(),
        Field::Context(_) => return true,
    };
    field_names(id).contains(&name)
}

/// How a group finds its field in events of `id`: `None` when the group does
/// not apply (an event it does not name, or one without the field when no
/// event was named), `Missing` when it names the event but the event has no
/// such field.
fn lookup_for(id: EventId, field: &Field, targeted: bool) -> Option<Lookup> {
    let found = match field {
        Field::Retval => catalog::syscall(id)
            .filter(|s| !s.no_return)
            .map(|_| Lookup::Retval),
        Field::Addr => has_field(id, field).then_some(Lookup::Addr),
        Field::Path => first_path_arg(id).map(Lookup::Arg),
        Field::Arg(name) => field_names(id)
            .into_iter()
            .find(|n| n == name)
            .map(Lookup::Arg),
        Field::Context(ctx) => Some(Lookup::Context(*ctx)),
    };
    found.or(targeted.then_some(Lookup::Missing))
}

fn first_path_arg(id: EventId) -> Option<&'static str> {
    let e = catalog::info(id)?;
    e.first_path().and_then(|i| e.field_names().get(i).copied())
}

fn arg_kind(id: EventId, name: &str) -> Option<ArgKind> {
    catalog::syscall(id)?
        .args
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Arg, Context, testing};

    fn ev(name: &str, ret: i64, args: Vec<Arg>) -> Event {
        let mut e = testing::syscall(name, Context::default(), ret, Vec::new());
        e.args = args;
        e
    }

    fn path(p: &str) -> Arg {
        Arg {
            name: "filename",
            value: Value::Str {
                value: p.into(),
                truncated: false,
            },
        }
    }

    fn parse(specs: &[&str]) -> Filters {
        Filters::parse(specs).unwrap()
    }

    #[test]
    fn paths_retvals_and_other_events() {
        let f = parse(&["openat.pathname=/etc/*", "openat.retval=-ENOENT"]);
        assert!(f.keep(&ev("openat", -2, vec![path("/etc/shadow")])));
        assert!(!f.keep(&ev("openat", 3, vec![path("/etc/shadow")])));
        assert!(!f.keep(&ev("openat", -2, vec![path("/tmp/x")])));
        // Another event is not named by either filter.
        assert!(f.keep(&ev("getppid", 1, vec![])));
        let f = parse(&["retval<0"]);
        assert!(f.keep(&ev("getppid", -1, vec![])));
        assert!(!f.keep(&ev("getppid", 1, vec![])));
        // = alternatives, != exclusions.
        let f = parse(&[
            "openat.filename=/etc/*",
            "openat.filename=/usr/*",
            "openat.filename!=/etc/ld*",
        ]);
        assert!(f.keep(&ev("openat", 3, vec![path("/usr/lib/x")])));
        assert!(!f.keep(&ev("openat", 3, vec![path("/etc/ld.so.cache")])));
        assert!(!f.keep(&ev("openat", 3, vec![path("/var/x")])));
    }

    #[test]
    fn addresses() {
        let f = parse(&["connect.addr=10.0.0.0/8"]);
        let conn = |a: &str, port| {
            ev(
                "connect",
                0,
                vec![Arg {
                    name: "uservaddr",
                    value: Value::SockAddr(SockAddr::Ip {
                        addr: a.parse().unwrap(),
                        port,
                    }),
                }],
            )
        };
        assert!(f.keep(&conn("10.1.2.3", 80)));
        assert!(!f.keep(&conn("192.168.1.1", 80)));
        let f = parse(&["connect.addr=:443"]);
        assert!(f.keep(&conn("1.1.1.1", 443)));
        assert!(!f.keep(&conn("1.1.1.1", 80)));
        let f = parse(&["connect.uservaddr!=127.0.0.1"]);
        assert!(!f.keep(&conn("127.0.0.1", 9)));
    }

    #[test]
    fn context_fields_of_every_event() {
        let f = parse(&["container.name=web-*"]);
        let mut e = ev("getppid", 1, vec![]);
        assert!(!f.keep(&e), "no container: no name to match");
        e.ctx.container_id = Some("4f1c".into());
        assert!(!f.keep(&e), "a container its runtime has not described");
        e.ctx.container = Some(std::sync::Arc::new(crate::event::ContainerMeta {
            name: "web-1".into(),
            image_name: Some("org/app".into()),
            ..Default::default()
        }));
        assert!(f.keep(&e));
        assert!(!parse(&["container.name!=web-*"]).keep(&e));
        assert!(parse(&["container.image=org/*"]).keep(&e));
        assert!(parse(&["container.id=4f1c"]).keep(&e));
        assert!(
            !parse(&["k8s.pod.name=web-*"]).keep(&e),
            "a container in no pod"
        );
        e.ctx.container = Some(std::sync::Arc::new(crate::event::ContainerMeta {
            name: "app".into(),
            pod: Some(crate::event::Pod {
                name: "web-0".into(),
                namespace: "shop".into(),
                ..Default::default()
            }),
            ..Default::default()
        }));
        assert!(parse(&["k8s.pod.name=web-*"]).keep(&e));
        assert!(parse(&["k8s.namespace.name=shop"]).keep(&e));
        assert!(!parse(&["k8s.namespace.name!=shop"]).keep(&e));
        // Targeted: only openat is looked at.
        let f = parse(&["openat.container.name=db"]);
        assert!(f.keep(&e), "getppid is not named");
        assert!(!f.keep(&ev("openat", 3, vec![path("/x")])));
        // A process in no container differs from every name.
        assert!(parse(&["container.name!=web-*"]).keep(&ev("getppid", 1, vec![])));
        let mut e = ev("getppid", 1, vec![]);
        e.ctx.euid = 0;
        e.ctx.user_name = Some("root".into());
        assert!(parse(&["user.name=root"]).keep(&e));
        assert!(parse(&["user.id=0"]).keep(&e));
        assert!(!parse(&["user.id>999"]).keep(&e));
        assert!(Filters::parse(&["user.id=root"]).is_err());
    }

    #[test]
    fn errors() {
        let e = |s: &str| Filters::parse(&[s]).unwrap_err().message;
        assert_eq!(
            e("openat.pathnme=/etc/*"),
            "--filter openat.pathnme=/etc/*: `openat` has no field `pathnme`; did you mean pathname?"
        );
        assert_eq!(
            e("opnat.retval<0"),
            "--filter opnat.retval<0: unknown event or set `opnat`; did you mean openat, openat2?"
        );
        assert_eq!(
            e("connect.addr=10.0.0.0/33"),
            "--filter connect.addr=10.0.0.0/33: `10.0.0.0/33`: the prefix length must be 0 to 32"
        );
        assert!(e("connect.addr=nonsense").contains("is not an address"));
        assert!(e("retval=-ENOENTT").contains("did you mean ENOENT"));
        assert!(e("openat.filename>abc").contains("only = and != apply"));
        assert!(e("retval").contains("expected [EVENT.]FIELD OP VALUE"));
    }
}
