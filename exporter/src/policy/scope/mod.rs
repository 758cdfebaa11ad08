//! The scope language: which processes are traced.
//!
//! A scope is a list of terms (`--scope`, repeatable, or `[scope]` in the
//! config file). Terms of different keys must all match; `=` terms of the same
//! key are alternatives; `!=` terms (or `!key=`) exclude. Every key except
//! `exe` is decided in the kernel, before anything is reserved in the ring
//! buffer (`lower`); `exe` is decided in user space from `/proc/PID/exe`
//! (`exe`); the workload keys (`k8s.namespace`, `k8s.pod`, `container.name`,
//! `container.image`) in the kernel, from the cgroups user space resolves
//! them to (`workload`).

mod exe;
mod grammar;
mod lower;
mod workload;

pub use exe::ExeFilter;
pub use grammar::{KEYS, Op, Term, TermError, split_term};
pub use lower::KernelScope;
pub use workload::{WorkloadKey, WorkloadTerm, verdict as workload_verdict};

use exporter_common::scope::{SCOPE_ALL, SCOPE_FOLLOW};

use crate::{
    base::words::{nearest, suggest},
    kernel::host,
};

/// A parsed, validated scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub terms: Vec<Term>,
    pub kernel: KernelScope,
    /// `exe` terms (glob, exclude), decided in user space.
    pub exe: Vec<(String, bool)>,
    /// Workload terms, resolved by user space to cgroups for the kernel.
    pub workload: Vec<WorkloadTerm>,
}

/// What the scope needs from the host while it is parsed.
pub trait Host {
    /// The nsfs device and the host's pid namespace inode.
    fn host_pidns(&self) -> Result<(u64, u32), String>;
    /// A cgroup directory's id (its inode) and level, from its path.
    fn cgroup(&self, path: &str) -> Result<(u64, u32), String>;
}

/// The machine itself.
pub struct LiveHost;

impl Host for LiveHost {
    fn host_pidns(&self) -> Result<(u64, u32), String> {
        host::host_pidns()
    }

    fn cgroup(&self, path: &str) -> Result<(u64, u32), String> {
        host::cgroup(path)
    }
}

/// One term, split and checked against its key: what it is, and its values.
fn check_term(raw: &str) -> Result<(Term, Vec<String>), TermError> {
    let fail = |key: Option<&str>, message: String| TermError {
        term: raw.to_string(),
        key: key.map(str::to_string),
        message,
    };
    let term = split_term(raw).map_err(|m| fail(None, m))?;
    let key = term.key.as_str();
    let bad = |m: String| fail(Some(key), m);
    let Some((_, takes)) = KEYS.iter().find(|(k, _)| *k == key) else {
        let near = nearest(key, KEYS.iter().map(|(k, _)| *k));
        return Err(fail(
            None,
            format!("unknown scope key `{key}`{}", suggest(&near)),
        ));
    };
    let flag_key = grammar::is_flag_key(key);
    match (flag_key, term.op) {
        (true, Some(_)) => return Err(bad(format!("`{key}` takes no value"))),
        (false, None) => return Err(bad(format!("`{key}` needs a value: {takes}"))),
        _ => {}
    }
    if term.negated && matches!(key, "follow" | "all") {
        return Err(bad(format!("`{key}` cannot be negated")));
    }
    let op = term.op.unwrap_or(Op::Eq);
    if !matches!(key, "uid" | "gid") && !matches!(op, Op::Eq | Op::Ne) {
        return Err(bad(format!("`{key}` takes = or !=, not {}", op.text())));
    }
    let values: Vec<String> = if flag_key {
        Vec::new()
    } else {
        term.value
            .split(',')
            .map(|v| v.trim().to_string())
            .collect()
    };
    if values.iter().any(|v| v.is_empty()) {
        return Err(bad("empty value".into()));
    }
    Ok((term, values))
}

impl Scope {
    /// Parses terms; an empty list is the default scope.
    pub fn parse<S: AsRef<str>>(terms: &[S], host: &dyn Host) -> Result<Scope, TermError> {
        if terms.is_empty() {
            return Scope::parse(&["pid=new"], host);
        }
        let mut scope = Scope::default();
        for raw in terms {
            // `new` is the older spelling of `pid=new`.
            let raw = match raw.as_ref().trim() {
                "new" => "pid=new",
                other => other,
            };
            let (term, values) = check_term(raw)?;
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let at = |message: String| TermError {
                term: raw.to_string(),
                key: Some(term.key.clone()),
                message,
            };
            if term.key == "exe" {
                scope
                    .add_exe(&values, term.op == Some(Op::Ne))
                    .map_err(at)?;
            } else if let Some(key) = WorkloadKey::of(&term.key) {
                let exclude = term.op == Some(Op::Ne);
                scope.workload.extend(values.iter().map(|v| WorkloadTerm {
                    key,
                    glob: v.to_string(),
                    exclude,
                }));
                scope.kernel.workload(exclude);
            } else {
                scope.kernel.lower(&term, &values, host).map_err(at)?;
            }
            scope.terms.push(term);
        }
        scope.check_combinations()?;
        Ok(scope)
    }

    fn add_exe(&mut self, values: &[&str], exclude: bool) -> Result<(), String> {
        for v in values {
            if !v.starts_with('/') && !v.starts_with('*') {
                return Err(format!(
                    "`{v}` is not an absolute path or a glob starting with `*`"
                ));
            }
            self.exe.push((v.to_string(), exclude));
        }
        Ok(())
    }

    /// Terms that cannot go together.
    fn check_combinations(&self) -> Result<(), TermError> {
        let conf = &self.kernel.conf;
        let fail = |key: &str, message: &str| TermError {
            term: key.into(),
            key: Some(key.into()),
            message: message.into(),
        };
        let follow = conf.flags & SCOPE_FOLLOW != 0;
        if conf.flags & SCOPE_ALL != 0 && self.terms.len() > 1 {
            return Err(fail(
                "all",
                "`all` cannot be combined with other scope terms",
            ));
        }
        if follow && conf.keys == 0 && self.exe.is_empty() {
            return Err(fail(
                "follow",
                "`follow` needs something to follow (for example pid=1234 or comm=sshd)",
            ));
        }
        if follow && !self.exe.is_empty() {
            return Err(fail(
                "follow",
                "`follow` cannot be combined with `exe` (exe is decided in user space, after the kernel has let the descendants go)",
            ));
        }
        Ok(())
    }

    /// The terms as flags would write them.
    pub fn describe(&self) -> Vec<String> {
        self.terms.iter().map(Term::to_string).collect()
    }

    /// The terms as a `[scope]` table of the configuration file.
    pub fn to_toml(&self) -> String {
        let mut keys: Vec<&str> = Vec::new();
        for t in &self.terms {
            if !keys.contains(&t.key.as_str()) {
                keys.push(&t.key);
            }
        }
        let mut out = String::new();
        for k in keys {
            let terms: Vec<&Term> = self.terms.iter().filter(|t| t.key == k).collect();
            if terms[0].op.is_none() {
                out.push_str(&format!("{k} = {}\n", !terms[0].negated));
                continue;
            }
            let values: Vec<String> = terms
                .iter()
                .map(|t| {
                    let op = match t.op {
                        Some(Op::Eq) | None => "",
                        Some(op) => op.text(),
                    };
                    toml::Value::String(format!("{op}{}", t.value)).to_string()
                })
                .collect();
            out.push_str(&format!("{k} = [{}]\n", values.join(", ")));
        }
        out
    }

    /// Whether an executable path is in scope (the `exe` terms; true without any).
    pub fn exe_matches(&self, exe: Option<&str>) -> bool {
        exe::exe_matches(&self.exe, exe)
    }
}

#[cfg(test)]
mod tests {
    use exporter_common::scope::{
        CgroupTerm, SCOPE_HOST, SCOPE_NEW, ScopeKey, TERM_EXCLUDE, TERM_INCLUDE,
    };

    use super::*;

    struct FakeHost;
    impl Host for FakeHost {
        fn host_pidns(&self) -> Result<(u64, u32), String> {
            Ok((4, 4026531836))
        }
        fn cgroup(&self, path: &str) -> Result<(u64, u32), String> {
            match path {
                "/a/b" => Ok((77, 2)),
                _ => Err(format!("no cgroup at /sys/fs/cgroup{path}")),
            }
        }
    }

    fn parse(terms: &[&str]) -> Result<Scope, String> {
        Scope::parse(terms, &FakeHost).map_err(|e| e.at_flag())
    }

    #[test]
    fn default_is_new_processes() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.kernel.conf.flags, SCOPE_NEW);
        assert_eq!(s.kernel.conf.keys, ScopeKey::Pid.bit());
        assert_eq!(s.describe(), vec!["pid=new"]);
    }

    #[test]
    fn terms_build_the_kernel_conf() {
        let s = parse(&[
            "uid>999",
            "uid!=1005",
            "comm=bash,zsh",
            "comm!=ssh*",
            "pid=12",
            "!pid=13",
            "cgroup=/a/b",
            "!container",
            "follow",
        ])
        .unwrap();
        let c = &s.kernel.conf;
        assert_eq!(c.uid.count, 2);
        assert_eq!((c.uid.ranges[0].lo, c.uid.ranges[0].hi), (1000, u32::MAX));
        assert_eq!(c.uid.ranges[1].exclude, 1);
        assert_eq!(c.comm_count, 3);
        assert_eq!(c.comms[0].mask, [u64::MAX, u64::MAX]);
        assert_eq!(c.comms[0].value, [u64::from_le_bytes(*b"bash\0\0\0\0"), 0]);
        assert_eq!(c.comms[2].mask, [0xff_ffff, 0]);
        assert_eq!(c.comms[2].exclude, 1);
        assert_eq!(s.kernel.ids[&(ScopeKey::Pid as u32, 12)], TERM_INCLUDE);
        assert_eq!(s.kernel.ids[&(ScopeKey::Pid as u32, 13)], TERM_EXCLUDE);
        assert_eq!(
            c.cgroups[0],
            CgroupTerm {
                id: 77,
                level: 2,
                exclude: 0
            }
        );
        assert_eq!(c.flags, SCOPE_HOST | SCOPE_FOLLOW);
        assert_eq!(c.host_pidns, 4026531836);
        assert!(c.includes & ScopeKey::Uid.bit() != 0);
        assert!(c.includes & ScopeKey::Pid.bit() != 0);
    }

    #[test]
    fn errors_name_the_term() {
        let e = |t: &[&str]| parse(t).unwrap_err();
        assert_eq!(
            e(&["uid=root"]),
            "--scope uid=root: expected an integer, got \"root\""
        );
        assert_eq!(
            e(&["ui=1"]),
            "--scope ui=1: unknown scope key `ui`; did you mean uid, gid, pid?"
        );
        assert_eq!(
            e(&["comm>bash"]),
            "--scope comm>bash: `comm` takes = or !=, not >"
        );
        assert_eq!(
            e(&["follow=1"]),
            "--scope follow=1: `follow` takes no value"
        );
        assert_eq!(
            e(&["cgroup=/x"]),
            "--scope cgroup=/x: no cgroup at /sys/fs/cgroup/x"
        );
        assert_eq!(
            e(&["all", "uid=0"]),
            "--scope all: `all` cannot be combined with other scope terms"
        );
        assert!(e(&["comm=averyveryverylongname"]).contains("longer than a command name"));
        assert!(e(&["uts=a*b"]).contains("exactly or by prefix"));
        assert!(e(&["uid<0"]).contains("nothing is below 0"));
        assert!(e(&["exe=bin/ls"]).contains("not an absolute path"));
    }

    #[test]
    fn workload_terms_are_kernel_map_keys() {
        let s = parse(&["k8s.namespace=shop", "container.name!=debug-*"]).unwrap();
        let c = &s.kernel.conf;
        let bit = ScopeKey::Workload.bit();
        assert!(c.keys & bit != 0 && c.in_maps & bit != 0 && c.includes & bit != 0);
        assert!(
            s.kernel.ids.is_empty(),
            "filled while running, not at start"
        );
        assert_eq!(
            s.workload,
            vec![
                WorkloadTerm {
                    key: WorkloadKey::Namespace,
                    glob: "shop".into(),
                    exclude: false
                },
                WorkloadTerm {
                    key: WorkloadKey::ContainerName,
                    glob: "debug-*".into(),
                    exclude: true
                },
            ]
        );
        let only_excluded = parse(&["k8s.pod!=x"]).unwrap();
        assert_eq!(only_excluded.kernel.conf.includes & bit, 0);
        assert!(parse(&["k8s.pod>x"]).unwrap_err().contains("takes = or !="));
    }

    #[test]
    fn exe_terms() {
        let s = parse(&["exe=/usr/bin/*", "exe!=/usr/bin/sshd"]).unwrap();
        assert!(s.exe_matches(Some("/usr/bin/bash")));
        assert!(!s.exe_matches(Some("/usr/bin/sshd")));
        assert!(!s.exe_matches(Some("/opt/x")));
        assert!(!s.exe_matches(None));
    }
}
