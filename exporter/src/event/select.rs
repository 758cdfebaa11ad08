//! `-e/--events`: which events are traced.
//!
//! A spec is a comma-separated list (the flag can also be repeated) of event
//! names (`openat`), globs (`open*`), set names (`fs`, `net`, `proc`, `ipc`,
//! `mem`, `default`) and exclusions of any of those (`-read`). Terms apply in
//! order; a spec that starts with an exclusion, or has no inclusion at all,
//! starts from every event. Unknown names are an error naming the closest
//! matches.

use std::collections::BTreeSet;

use exporter_common::{EventId, events::EventKind, syscalls};
use thiserror::Error;

use super::{
    catalog,
    sets::{DEFAULT_SET, SETS},
};
use crate::base::words::{glob, nearest, suggest};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SelectError {
    #[error("--events: unknown event or set `{name}`{}", suggest(.closest))]
    Unknown { name: String, closest: Vec<String> },
    #[error(
        "--events: `{name}` is a syscall of {arch} only; this sysotel is built for {} and its kernel has no such call (`sysotel list` shows its syscalls){}",
        syscalls::ARCH,
        suggest(.closest)
    )]
    OtherArch {
        name: String,
        arch: &'static str,
        closest: Vec<String>,
    },
    #[error("--events: the glob `{0}` matches no event")]
    NoMatch(String),
    #[error("--events: an empty term in `{0}`")]
    Empty(String),
    #[error("--events: `{0}` selects no event")]
    Nothing(String),
}

/// The selected events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    ids: BTreeSet<EventId>,
}

impl Default for Selection {
    /// Every event.
    fn default() -> Self {
        Selection {
            ids: catalog::all().map(|e| e.id).collect(),
        }
    }
}

impl Selection {
    pub fn contains(&self, id: EventId) -> bool {
        self.ids.contains(&id)
    }

    pub fn ids(&self) -> impl Iterator<Item = EventId> + '_ {
        self.ids.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether the kernel must write `sched_process_exec` records: when they
    /// are selected, or when execve/execveat are (their events take the
    /// kernel's view of the exec from those records).
    pub fn needs_exec_records(&self) -> bool {
        let by = |n| syscalls::by_name(n).is_some_and(|s| self.contains(s.nr));
        self.contains(EventKind::ProcessExec.id()) || by("execve") || by("execveat")
    }

    /// Parses the terms of every `-e` flag.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Selection, SelectError> {
        let terms: Vec<&str> = specs
            .iter()
            .flat_map(|s| s.as_ref().split(','))
            .map(str::trim)
            .collect();
        if terms.is_empty() {
            return Ok(Selection::default());
        }
        let joined = specs
            .iter()
            .map(|s| s.as_ref())
            .collect::<Vec<_>>()
            .join(",");
        let starts_empty = terms.first().is_some_and(|t| !t.starts_with('-'))
            && terms.iter().any(|t| !t.starts_with('-'));
        let mut ids: BTreeSet<EventId> = if starts_empty {
            BTreeSet::new()
        } else {
            Selection::default().ids
        };
        for term in terms {
            let (exclude, name) = match term.strip_prefix('-') {
                Some(rest) => (true, rest.trim()),
                None => (false, term),
            };
            if name.is_empty() {
                return Err(SelectError::Empty(joined.clone()));
            }
            let matched = resolve(name)?;
            for id in matched {
                if exclude {
                    ids.remove(&id);
                } else {
                    ids.insert(id);
                }
            }
        }
        if ids.is_empty() {
            return Err(SelectError::Nothing(joined));
        }
        Ok(Selection { ids })
    }
}

/// The ids one term names.
fn resolve(name: &str) -> Result<Vec<EventId>, SelectError> {
    if name == DEFAULT_SET || name == "all" {
        return Ok(Selection::default().ids.into_iter().collect());
    }
    if SETS.iter().any(|(n, _, _)| *n == name) {
        return Ok(catalog::all()
            .filter(|e| e.in_set(name))
            .map(|e| e.id)
            .collect());
    }
    if name.contains(['*', '?']) {
        let ids: Vec<EventId> = catalog::all()
            .filter(|e| glob(name, e.name))
            .map(|e| e.id)
            .collect();
        return if ids.is_empty() {
            Err(SelectError::NoMatch(name.to_string()))
        } else {
            Ok(ids)
        };
    }
    if let Some(id) = id_of(name) {
        return Ok(vec![id]);
    }
    Err(match syscalls::only_on_other_arch(name) {
        Some(arch) => SelectError::OtherArch {
            name: name.to_string(),
            arch,
            closest: closest(name),
        },
        None => SelectError::Unknown {
            name: name.to_string(),
            closest: closest(name),
        },
    })
}

fn id_of(name: &str) -> Option<EventId> {
    catalog::all().find(|e| e.name == name).map(|e| e.id)
}

/// Up to three known names nearest to `name`.
pub fn closest(name: &str) -> Vec<String> {
    nearest(
        name,
        catalog::all()
            .map(|e| e.name)
            .chain(SETS.iter().map(|(n, _, _)| *n))
            .chain([DEFAULT_SET]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> BTreeSet<EventId> {
        names.iter().map(|n| id_of(n).expect(n)).collect()
    }

    #[test]
    fn every_set_member_is_an_event() {
        // A set lists the syscalls of both architectures; it selects those
        // of the build's.
        for (set, _, members) in SETS {
            for m in *members {
                assert!(
                    id_of(m).is_some() || syscalls::only_on_other_arch(m).is_some(),
                    "set {set}: unknown event {m}"
                );
                if let Some(id) = id_of(m) {
                    assert!(
                        Selection::parse(&[*set]).unwrap().contains(id),
                        "{set}: {m}"
                    );
                }
            }
        }
        let proc = Selection::parse(&["proc"]).unwrap();
        for e in EventKind::ALL
            .iter()
            .filter(|e| e.def().sets.contains(&"proc"))
        {
            assert!(
                proc.contains(e.id()),
                "{} is declared in proc",
                e.def().name
            );
        }
    }

    #[test]
    fn a_syscall_of_the_other_architecture_is_an_error_that_says_so() {
        let other = if syscalls::ARCH == "aarch64" {
            "open"
        } else {
            ""
        };
        if other.is_empty() {
            // Every aarch64 syscall exists on x86_64.
            assert!(Selection::parse(&["open,fork"]).is_ok());
            return;
        }
        let err = Selection::parse(&["openat", other]).unwrap_err();
        assert!(
            matches!(err, SelectError::OtherArch { arch: "x86_64", .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("`open` is a syscall of x86_64 only"),
            "{err}"
        );
    }

    #[test]
    fn names_globs_sets_exclusions() {
        assert_eq!(Selection::parse::<&str>(&[]).unwrap(), Selection::default());
        assert_eq!(Selection::parse(&["openat"]).unwrap().ids, ids(&["openat"]));
        assert_eq!(
            Selection::parse(&["openat,connect", "sched_process_exec"])
                .unwrap()
                .ids,
            ids(&["openat", "connect", "sched_process_exec"])
        );
        let open = Selection::parse(&["open*"]).unwrap();
        assert!(
            open.contains(id_of("openat").unwrap()) && open.contains(id_of("open_tree").unwrap())
        );
        assert!(!open.contains(id_of("read").unwrap()));
        let no_read = Selection::parse(&["-read"]).unwrap();
        assert!(!no_read.contains(id_of("read").unwrap()));
        assert_eq!(no_read.len(), Selection::default().len() - 1);
        let net = Selection::parse(&["net,-accept*"]).unwrap();
        assert!(
            net.contains(id_of("connect").unwrap()) && !net.contains(id_of("accept4").unwrap())
        );
        assert!(Selection::parse(&["proc"]).unwrap().needs_exec_records());
        assert!(Selection::parse(&["execve"]).unwrap().needs_exec_records());
        assert!(!Selection::parse(&["openat"]).unwrap().needs_exec_records());
    }

    #[test]
    fn errors_name_the_closest_matches() {
        let err = Selection::parse(&["opnat"]).unwrap_err();
        assert!(
            matches!(&err, SelectError::Unknown { closest, .. } if closest.contains(&"openat".to_string())),
            "{err}"
        );
        assert!(err.to_string().contains("did you mean"), "{err}");
        assert_eq!(
            Selection::parse(&["zz*"]),
            Err(SelectError::NoMatch("zz*".into()))
        );
        assert!(matches!(
            Selection::parse(&["openat,,read"]),
            Err(SelectError::Empty(_))
        ));
        assert!(matches!(
            Selection::parse(&["openat,-openat"]),
            Err(SelectError::Nothing(_))
        ));
    }
}
