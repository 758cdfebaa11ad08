//! Every event sysotel can emit, as the outputs see it: the generated syscall
//! table and the events declared in `exporter_common::events`, indexed by id
//! once. The decoder, the filters, `sysotel list`, the `-e` sets and every
//! output read this; nothing about an event is written down twice.

use std::sync::OnceLock;

use exporter_common::{
    EventId,
    events::{EVENT_ID_LIMIT, EventDef, FieldKind, Source},
    syscalls::{self, ArgKind, SYSCALLS, SyscallDef},
};

pub use exporter_common::events::{Category, Ecs, EventKind, Role, Severity};

use super::sets;

/// The syscalls whose events are execs (their `filename` and `argv` are the
/// new program's): the syscall table's counterpart of a declared [`Role`].
const EXEC_SYSCALLS: [&str; 2] = ["execve", "execveat"];

/// Where an event's fields are described.
#[derive(Clone, Copy, Debug)]
pub enum Fields {
    Syscall(&'static SyscallDef),
    Declared(&'static EventDef),
}

/// One event, with everything the outputs need to know of it.
#[derive(Clone, Copy, Debug)]
pub struct EventInfo {
    pub id: EventId,
    /// The short name the table shows (`openat`, `sched_process_exec`).
    pub name: &'static str,
    pub category: Category,
    pub fields: Fields,
    pub severity: Severity,
    pub role: Role,
    pub ecs: Ecs,
    /// Bit `i` set when field `i` is a path: the first one read is the
    /// event's `file.path`.
    pub path_fields: u32,
}

impl EventInfo {
    fn syscall(s: &'static SyscallDef) -> EventInfo {
        EventInfo {
            id: s.nr,
            name: s.name,
            category: Category::Syscall,
            fields: Fields::Syscall(s),
            severity: Severity::Info,
            role: if EXEC_SYSCALLS.contains(&s.name) {
                Role::Exec
            } else {
                Role::Plain
            },
            ecs: sets::syscall_ecs(s.name),
            path_fields: mask(s.args.iter().map(|a| a.kind == ArgKind::Path)),
        }
    }

    fn declared(d: &'static EventDef) -> EventInfo {
        EventInfo {
            id: d.id,
            name: d.name,
            category: d.category,
            fields: Fields::Declared(d),
            severity: d.severity,
            role: d.role,
            ecs: d.ecs,
            path_fields: mask(d.fields.iter().map(|f| f.kind == FieldKind::Path)),
        }
    }

    /// The index of the first field that is a path.
    pub fn first_path(&self) -> Option<usize> {
        (self.path_fields != 0).then(|| self.path_fields.trailing_zeros() as usize)
    }

    /// Whether field `i` is a path.
    pub fn is_path(&self, i: usize) -> bool {
        i < 32 && self.path_fields & (1 << i) != 0
    }

    /// The field names, in the order the decoder emits them.
    pub fn field_names(&self) -> Vec<&'static str> {
        match self.fields {
            Fields::Syscall(s) => s.args.iter().map(|a| a.name).collect(),
            Fields::Declared(d) => d.fields.iter().map(|f| f.name).collect(),
        }
    }

    /// Whether a field holds a socket address.
    pub fn has_sockaddr(&self) -> bool {
        match self.fields {
            Fields::Syscall(s) => s
                .args
                .iter()
                .any(|a| matches!(a.kind, ArgKind::SockAddrIn(_) | ArgKind::SockAddrOut(_))),
            Fields::Declared(d) => d.fields.iter().any(|f| f.kind == FieldKind::SockAddr),
        }
    }

    /// The `-e` sets the event belongs to (besides `default`).
    pub fn in_set(&self, set: &str) -> bool {
        match self.fields {
            Fields::Syscall(s) => sets::syscall_in(set, s.name),
            Fields::Declared(d) => d.sets.contains(&set),
        }
    }

    /// Whether the kernel writes it (every event but sysotel's own).
    pub fn from_kernel(&self) -> bool {
        match self.fields {
            Fields::Syscall(_) => true,
            Fields::Declared(d) => matches!(d.source, Source::Kernel { .. }),
        }
    }

    /// The argument list `sysotel list` prints.
    pub fn signature(&self) -> String {
        match self.fields {
            Fields::Syscall(s) if !s.described => "(arguments not described by the kernel)".into(),
            Fields::Syscall(s) => {
                let args: Vec<String> = s
                    .args
                    .iter()
                    .map(|a| {
                        let note = if a.kind == ArgKind::Path {
                            " [read at entry]"
                        } else {
                            ""
                        };
                        format!("{} {}{note}", a.ctype, a.name)
                    })
                    .collect();
                format!("({})", args.join(", "))
            }
            Fields::Declared(d) => {
                let names: Vec<&str> = d.fields.iter().map(|f| f.name).collect();
                format!("({})", names.join(", "))
            }
        }
    }
}

/// Bit `i` set where `flags` yields true.
fn mask(flags: impl Iterator<Item = bool>) -> u32 {
    flags
        .enumerate()
        .filter(|(i, f)| *f && *i < 32)
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// Every event by id, built once.
fn index() -> &'static [Option<EventInfo>] {
    static INDEX: OnceLock<Vec<Option<EventInfo>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut v = vec![None; EVENT_ID_LIMIT as usize];
        let declared = EventKind::ALL.iter().map(|k| EventInfo::declared(k.def()));
        for e in SYSCALLS.iter().map(EventInfo::syscall).chain(declared) {
            if let Some(slot) = v.get_mut(e.id as usize) {
                *slot = Some(e);
            }
        }
        v
    })
}

/// Event `id`, if sysotel knows it.
pub fn info(id: EventId) -> Option<&'static EventInfo> {
    index().get(id as usize).and_then(Option::as_ref)
}

/// The name of event `id` (`unknown` for an id sysotel does not know).
pub fn name(id: EventId) -> &'static str {
    info(id).map_or("unknown", |e| e.name)
}

/// Every event the kernel writes (what `-e` selects from), by category then id.
pub fn all() -> impl Iterator<Item = &'static EventInfo> {
    index().iter().flatten().filter(|e| e.from_kernel())
}

/// sysotel's own events (loss reports), which every output receives.
pub fn internal() -> impl Iterator<Item = &'static EventInfo> {
    index().iter().flatten().filter(|e| !e.from_kernel())
}

/// The syscall table's entry of event `id`, when it is a syscall.
pub fn syscall(id: EventId) -> Option<&'static SyscallDef> {
    syscalls::by_nr(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_resolve_back() {
        let mut seen = std::collections::HashSet::new();
        for e in all().chain(internal()) {
            assert!(seen.insert(e.id), "duplicate id {}", e.id);
            assert_eq!(info(e.id).map(|i| i.name), Some(e.name));
        }
        let table = exporter_common::syscalls::SYSCALLS;
        assert!(
            table.iter().all(|s| seen.contains(&s.nr)),
            "expected the whole syscall table"
        );
        assert!(seen.len() > table.len());
        assert_eq!(name(EventKind::Loss.id()), "sysotel.loss");
        assert!(internal().all(|e| e.category == Category::Internal));
    }

    #[test]
    fn roles_and_paths() {
        let by = |n: &str| all().find(|e| e.name == n).expect(n);
        assert_eq!(by("execve").role, Role::Exec);
        assert_eq!(by("sched_process_exec").role, Role::Exec);
        assert_eq!(by("sched_process_exit").role, Role::Exit);
        assert_eq!(by("openat").first_path(), Some(1));
        assert_eq!(by("sched_process_exec").first_path(), None);
        assert!(by("renameat2").is_path(1) && by("renameat2").is_path(3));
        assert!(by("connect").has_sockaddr());
    }
}
