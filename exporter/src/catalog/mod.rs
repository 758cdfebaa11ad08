//! Every event sysotel can emit, declared once: id, name, category and typed
//! arguments. The decoder, the console formats and `sysotel list` read this.
//! Syscalls come from the generated table in `exporter_common::syscalls`; the
//! other categories are declared in their own files.

pub mod internal;
pub mod sched;
pub mod sets;

use exporter_common::{
    EventId,
    events::{LOSS_EVENT_ID, SchedEvent},
    syscalls::{self, ArgKind, SYSCALLS},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    Syscall,
    Sched,
    /// sysotel's own reports (`sysotel.loss`), made in user space.
    Internal,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Syscall => "syscall",
            Category::Sched => "sched",
            Category::Internal => "internal",
        }
    }
}

/// The name of the loss report (table EVENT column and OTLP EventName).
pub const LOSS_EVENT_NAME: &str = "sysotel.loss";

/// An argument of a non-syscall event.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub description: &'static str,
}

/// One event as `sysotel list` shows it.
#[derive(Clone, Copy, Debug)]
pub struct EventInfo {
    pub id: EventId,
    pub name: &'static str,
    pub category: Category,
}

/// Name and category of event `id`, if sysotel knows it.
pub fn info(id: EventId) -> Option<EventInfo> {
    if let Some(s) = syscalls::by_nr(id) {
        return Some(EventInfo {
            id,
            name: s.name,
            category: Category::Syscall,
        });
    }
    if id == LOSS_EVENT_ID {
        return Some(EventInfo {
            id,
            name: LOSS_EVENT_NAME,
            category: Category::Internal,
        });
    }
    SchedEvent::from_id(id).map(|e| EventInfo {
        id,
        name: e.name(),
        category: Category::Sched,
    })
}

/// Every event, by category then id.
pub fn all() -> impl Iterator<Item = EventInfo> {
    SYSCALLS
        .iter()
        .map(|s| EventInfo {
            id: s.nr,
            name: s.name,
            category: Category::Syscall,
        })
        .chain(SchedEvent::ALL.iter().map(|e| EventInfo {
            id: e.id(),
            name: e.name(),
            category: Category::Sched,
        }))
}

/// The argument list `sysotel list` prints for event `id`.
pub fn signature(id: EventId) -> String {
    if let Some(s) = syscalls::by_nr(id) {
        if !s.described {
            return "(arguments not described by the kernel)".into();
        }
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
        return format!("({})", args.join(", "));
    }
    match SchedEvent::from_id(id) {
        Some(e) => {
            let args: Vec<&str> = sched::fields(e).iter().map(|f| f.name).collect();
            format!("({})", args.join(", "))
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_resolve_back() {
        let mut seen = std::collections::HashSet::new();
        for e in all() {
            assert!(seen.insert(e.id), "duplicate id {}", e.id);
            assert_eq!(info(e.id).map(|i| i.name), Some(e.name));
        }
        assert!(
            seen.len() > 350,
            "expected the whole syscall table, got {}",
            seen.len()
        );
    }
}
