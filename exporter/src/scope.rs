//! The scope language: which processes are traced.
//!
//! A scope is a list of terms (`--scope`, repeatable, or `[scope]` in the
//! config file). Terms of different keys must all match; `=` terms of the same
//! key are alternatives; `!=` terms (or `!key=`) exclude. Every key except
//! `exe` is decided in the kernel, before anything is reserved in the ring
//! buffer; `exe` is decided in user space from `/proc/PID/exe`.

use std::{collections::BTreeMap, path::Path};

use exporter_common::{
    records::COMM_LEN,
    scope::{
        CgroupTerm, CommTerm, MAX_CGROUPS, MAX_COMMS, MAX_PIDNS, MAX_RANGES, MAX_UTS, PidnsTerm,
        Range, RangeSet, SCOPE_ALL, SCOPE_CONTAINER, SCOPE_FOLLOW, SCOPE_HOST, SCOPE_MAP_ENTRIES,
        SCOPE_NEW, SCOPE_NOT_NEW, ScopeConf, ScopeId, ScopeKey, TERM_EXCLUDE, TERM_INCLUDE,
        UTS_MATCH_LEN, UtsTerm,
    },
};

use crate::select::{glob, nearest, suggest};

/// Where cgroup v2 is mounted: `/sys/fs/cgroup`, or on a hybrid hierarchy
/// `/sys/fs/cgroup/unified` (the first `cgroup2` mount in /proc/self/mounts).
pub fn cgroup2_root() -> std::path::PathBuf {
    std::fs::read_to_string("/proc/self/mounts")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                let (_, dir, kind) = (f.next()?, f.next()?, f.next()?);
                (kind == "cgroup2").then(|| std::path::PathBuf::from(dir))
            })
        })
        .unwrap_or_else(|| "/sys/fs/cgroup".into())
}

/// Every key, with what it takes (shown in errors and `--help`).
pub const KEYS: &[(&str, &str)] = &[
    ("pid", "a pid, or `new` (processes created after start-up)"),
    ("ppid", "a parent pid"),
    ("uid", "a user id; =, !=, <, >, <=, >="),
    ("gid", "a group id; =, !=, <, >, <=, >="),
    ("comm", "a command name, exact or `prefix*`"),
    ("exe", "an executable path, or a glob (`/usr/bin/*`)"),
    ("mntns", "a mount namespace inode"),
    ("pidns", "a pid namespace inode"),
    ("uts", "a hostname, exact or `prefix*`"),
    (
        "container",
        "no value: processes outside the host's pid namespace (sysotel's own)",
    ),
    (
        "cgroup",
        "a cgroup v2 path, relative to its mount (and every cgroup below it)",
    ),
    (
        "follow",
        "no value: also trace the descendants of what matched",
    ),
    ("all", "no value: every process"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
        }
    }
}

/// One parsed term, as written (for `config check`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub key: String,
    /// None for keys without a value (`container`, `follow`, `all`).
    pub op: Option<Op>,
    pub value: String,
    /// `!key` / `!container`.
    pub negated: bool,
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.op {
            None if self.negated => write!(f, "!{}", self.key),
            None => write!(f, "{}", self.key),
            Some(op) => write!(f, "{}{}{}", self.key, op.text(), self.value),
        }
    }
}

/// Splits `key`, `!key`, `key OP value`, `!key=value`.
pub fn split_term(s: &str) -> Result<Term, String> {
    let t = s.trim();
    let (negated, t) = match t.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, t),
    };
    let at = t.find(['=', '!', '<', '>']);
    let Some(at) = at else {
        return Ok(Term {
            key: t.to_string(),
            op: None,
            value: String::new(),
            negated,
        });
    };
    let (key, rest) = t.split_at(at);
    let (op, value) = if let Some(v) = rest.strip_prefix("!=") {
        (Op::Ne, v)
    } else if let Some(v) = rest.strip_prefix("<=") {
        (Op::Le, v)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (Op::Ge, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (Op::Eq, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Op::Lt, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Op::Gt, v)
    } else {
        return Err(format!(
            "`{s}`: expected key=value, key!=value, key<value or key>value"
        ));
    };
    // `!key=v` is `key!=v`; `!key!=v` would be a double negation.
    let op = match (negated, op) {
        (false, op) => op,
        (true, Op::Eq) => Op::Ne,
        (true, _) => return Err(format!("`{s}`: `!` goes with `=` only (write key!=value)")),
    };
    Ok(Term {
        key: key.trim().to_string(),
        op: Some(op),
        value: value.trim().to_string(),
        negated: false,
    })
}

/// A parsed, validated scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub terms: Vec<Term>,
    pub kernel: KernelScope,
    /// `exe` terms (glob, exclude), decided in user space.
    pub exe: Vec<(String, bool)>,
}

/// What the kernel is given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelScope {
    pub conf: ScopeConf,
    pub ids: BTreeMap<(u32, u64), u8>,
}

impl KernelScope {
    pub fn id_entries(&self) -> impl Iterator<Item = (ScopeId, u8)> + '_ {
        self.ids.iter().map(|(&(key, value), &v)| {
            (
                ScopeId {
                    key,
                    _pad: 0,
                    value,
                },
                v,
            )
        })
    }
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
    /// sysotel's own pid namespace: sysotel runs in the host's (the compose
    /// file gives it `pid: host`), and pid 1's link may not be readable.
    fn host_pidns(&self) -> Result<(u64, u32), String> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata("/proc/self/ns/pid")
            .map_err(|e| format!("cannot read /proc/self/ns/pid: {e}"))?;
        let inum = u32::try_from(m.ino())
            .map_err(|_| format!("pid namespace inode {} is not 32-bit", m.ino()))?;
        Ok((m.dev(), inum))
    }

    fn cgroup(&self, path: &str) -> Result<(u64, u32), String> {
        use std::os::unix::fs::MetadataExt;
        let root = cgroup2_root();
        let rel = Path::new(path)
            .strip_prefix(&root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string());
        let rel = rel.trim_matches('/');
        let full = root.join(rel);
        let meta = std::fs::metadata(&full)
            .map_err(|e| format!("no cgroup at {}: {e}", full.display()))?;
        if !meta.is_dir() || !full.join("cgroup.procs").exists() {
            return Err(format!("{} is not a cgroup v2 directory", full.display()));
        }
        let level = rel.split('/').filter(|c| !c.is_empty()).count() as u32;
        Ok((meta.ino(), level))
    }
}

/// An error in one term: the key (or the whole term) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermError {
    pub term: String,
    pub key: Option<String>,
    pub message: String,
}

impl TermError {
    /// `--scope uid=root: expected an integer, got "root"`.
    pub fn at_flag(&self) -> String {
        format!("--scope {}: {}", self.term, self.message)
    }
}

impl Scope {
    /// Parses terms; an empty list is the default scope.
    pub fn parse<S: AsRef<str>>(terms: &[S], host: &dyn Host) -> Result<Scope, TermError> {
        if terms.is_empty() {
            return Scope::parse(&["pid=new"], host);
        }
        let mut scope = Scope::default();
        let Scope {
            terms: parsed,
            kernel: KernelScope { conf, ids },
            exe,
        } = &mut scope;
        for raw in terms {
            // `new` is the older spelling of `pid=new`.
            let raw = match raw.as_ref().trim() {
                "new" => "pid=new",
                other => other,
            };
            let fail = |key: Option<&str>, message: String| TermError {
                term: raw.trim().to_string(),
                key: key.map(str::to_string),
                message,
            };
            let term = split_term(raw).map_err(|m| fail(None, m))?;
            let key = term.key.as_str();
            let bad = |m: String| fail(Some(key), m);
            let Some(_) = KEYS.iter().find(|(k, _)| *k == key) else {
                let near = nearest(key, KEYS.iter().map(|(k, _)| *k));
                return Err(fail(
                    None,
                    format!("unknown scope key `{key}`{}", suggest(&near)),
                ));
            };
            let flag_key = matches!(key, "container" | "follow" | "all");
            match (flag_key, term.op) {
                (true, Some(_)) => return Err(bad(format!("`{key}` takes no value"))),
                (false, None) => {
                    return Err(bad(format!(
                        "`{key}` needs a value: {}",
                        KEYS.iter().find(|(k, _)| *k == key).map_or("", |(_, d)| d)
                    )));
                }
                _ => {}
            }
            if term.negated && matches!(key, "follow" | "all") {
                return Err(bad(format!("`{key}` cannot be negated")));
            }
            let op = term.op.unwrap_or(Op::Eq);
            let exclude = op == Op::Ne;
            let only_eq = || -> Result<(), TermError> {
                if matches!(op, Op::Eq | Op::Ne) {
                    Ok(())
                } else {
                    Err(bad(format!("`{key}` takes = or !=, not {}", op.text())))
                }
            };
            let values: Vec<&str> = if flag_key {
                vec![]
            } else {
                term.value.split(',').map(str::trim).collect()
            };
            if values.iter().any(|v| v.is_empty()) {
                return Err(bad("empty value".into()));
            }
            let mark = |conf: &mut ScopeConf, k: ScopeKey, exclude: bool| {
                conf.keys |= k.bit();
                if !exclude {
                    conf.includes |= k.bit();
                }
            };
            match key {
                "all" => conf.flags |= SCOPE_ALL,
                "follow" => conf.flags |= SCOPE_FOLLOW,
                "container" => {
                    conf.flags |= if term.negated {
                        SCOPE_HOST
                    } else {
                        SCOPE_CONTAINER
                    };
                    conf.keys |= ScopeKey::Container.bit();
                    (conf.nsfs_dev, conf.host_pidns) = host.host_pidns().map_err(&bad)?;
                }
                "pidns" => {
                    only_eq()?;
                    for v in values {
                        mark(conf, ScopeKey::Pidns, exclude);
                        let n = integer(v).map_err(&bad)?;
                        let inum = u32::try_from(n)
                            .map_err(|_| bad(format!("{n} is not a namespace inode (32 bits)")))?;
                        let i = conf.pidns_count as usize;
                        if i >= MAX_PIDNS {
                            return Err(bad(format!("at most {MAX_PIDNS} pid namespaces")));
                        }
                        conf.pidns[i] = PidnsTerm {
                            inum,
                            exclude: exclude as u32,
                        };
                        conf.pidns_count += 1;
                        conf.nsfs_dev = host.host_pidns().map_err(&bad)?.0;
                    }
                }
                "pid" | "ppid" | "mntns" => {
                    only_eq()?;
                    let k = match key {
                        "pid" => ScopeKey::Pid,
                        "ppid" => ScopeKey::Ppid,
                        _ => ScopeKey::Mntns,
                    };
                    for v in values {
                        mark(conf, k, exclude);
                        if k == ScopeKey::Pid && v == "new" {
                            conf.flags |= if exclude { SCOPE_NOT_NEW } else { SCOPE_NEW };
                            continue;
                        }
                        let n = integer(v).map_err(&bad)?;
                        conf.in_maps |= k.bit();
                        if ids.len() >= SCOPE_MAP_ENTRIES as usize {
                            return Err(bad(format!("at most {SCOPE_MAP_ENTRIES} ids")));
                        }
                        *ids.entry((k as u32, n)).or_default() |=
                            if exclude { TERM_EXCLUDE } else { TERM_INCLUDE };
                    }
                }
                "uid" | "gid" => {
                    let (k, set) = if key == "uid" {
                        (ScopeKey::Uid, &mut conf.uid)
                    } else {
                        (ScopeKey::Gid, &mut conf.gid)
                    };
                    for v in values {
                        let n = integer(v).map_err(&bad)?;
                        let n =
                            u32::try_from(n).map_err(|_| bad(format!("{n} is not a 32-bit id")))?;
                        let (lo, hi) = match op {
                            Op::Eq | Op::Ne => (n, n),
                            Op::Lt => (
                                0,
                                n.checked_sub(1)
                                    .ok_or_else(|| bad("nothing is below 0".into()))?,
                            ),
                            Op::Le => (0, n),
                            Op::Gt => (
                                n.checked_add(1)
                                    .ok_or_else(|| bad(format!("nothing is above {n}")))?,
                                u32::MAX,
                            ),
                            Op::Ge => (n, u32::MAX),
                        };
                        push_range(set, lo, hi, exclude).map_err(&bad)?;
                        conf.keys |= k.bit();
                        if !exclude {
                            conf.includes |= k.bit();
                        }
                    }
                }
                "comm" => {
                    only_eq()?;
                    for v in values {
                        mark(conf, ScopeKey::Comm, exclude);
                        let (text, prefix) =
                            exact_or_prefix(v, "a command name is matched").map_err(&bad)?;
                        if text.len() >= COMM_LEN {
                            return Err(bad(format!(
                                "`{v}` is longer than a command name ({} bytes at most)",
                                COMM_LEN - 1
                            )));
                        }
                        let i = conf.comm_count as usize;
                        if i >= MAX_COMMS {
                            return Err(bad(format!("at most {MAX_COMMS} command names")));
                        }
                        conf.comms[i] = comm_term(text, prefix, exclude);
                        conf.comm_count += 1;
                    }
                }
                "uts" => {
                    only_eq()?;
                    for v in values {
                        mark(conf, ScopeKey::Uts, exclude);
                        let (text, prefix) =
                            exact_or_prefix(v, "the kernel matches a hostname").map_err(&bad)?;
                        if text.len() > UTS_MATCH_LEN {
                            return Err(bad(format!(
                                "`{v}` is longer than a hostname ({UTS_MATCH_LEN} bytes at most)"
                            )));
                        }
                        let i = conf.uts_count as usize;
                        if i >= MAX_UTS {
                            return Err(bad(format!("at most {MAX_UTS} hostnames")));
                        }
                        let mut t = UtsTerm {
                            len: text.len() as u32,
                            prefix: prefix as u32,
                            exclude: exclude as u32,
                            ..UtsTerm::default()
                        };
                        t.bytes[..text.len()].copy_from_slice(text.as_bytes());
                        conf.uts[i] = t;
                        conf.uts_count += 1;
                    }
                }
                "cgroup" => {
                    only_eq()?;
                    for v in values {
                        mark(conf, ScopeKey::Cgroup, exclude);
                        let (id, level) = host.cgroup(v).map_err(&bad)?;
                        let i = conf.cgroup_count as usize;
                        if i >= MAX_CGROUPS {
                            return Err(bad(format!("at most {MAX_CGROUPS} cgroups")));
                        }
                        conf.cgroups[i] = CgroupTerm {
                            id,
                            level,
                            exclude: exclude as u32,
                        };
                        conf.cgroup_count += 1;
                    }
                }
                "exe" => {
                    only_eq()?;
                    for v in values {
                        if !v.starts_with('/') && !v.starts_with('*') {
                            return Err(bad(format!(
                                "`{v}` is not an absolute path or a glob starting with `*`"
                            )));
                        }
                        exe.push((v.to_string(), exclude));
                    }
                }
                _ => unreachable!("every key in KEYS is handled"),
            }
            parsed.push(term);
        }
        let conf = &scope.kernel.conf;
        if conf.flags & SCOPE_ALL != 0 && scope.terms.len() > 1 {
            return Err(TermError {
                term: "all".into(),
                key: Some("all".into()),
                message: "`all` cannot be combined with other scope terms".into(),
            });
        }
        if conf.flags & SCOPE_FOLLOW != 0 && conf.keys == 0 && scope.exe.is_empty() {
            return Err(TermError {
                term: "follow".into(),
                key: Some("follow".into()),
                message: "`follow` needs something to follow (for example pid=1234 or comm=sshd)"
                    .into(),
            });
        }
        if !scope.exe.is_empty() && conf.flags & SCOPE_FOLLOW != 0 {
            return Err(TermError {
                term: "follow".into(),
                key: Some("follow".into()),
                message: "`follow` cannot be combined with `exe` (exe is decided in user space, after the kernel has let the descendants go)".into(),
            });
        }
        Ok(scope)
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
        exe_matches(&self.exe, exe)
    }
}

/// Whether an executable is in scope of `exe` terms (true without any).
fn exe_matches(terms: &[(String, bool)], exe: Option<&str>) -> bool {
    if terms.is_empty() {
        return true;
    }
    let Some(exe) = exe else { return false };
    let mut has_inc = false;
    let mut inc = false;
    for (pattern, exclude) in terms {
        let hit = glob(pattern, exe);
        if *exclude {
            if hit {
                return false;
            }
        } else {
            has_inc = true;
            inc |= hit;
        }
    }
    inc || !has_inc
}

/// `comm & mask == value` over the comm as two little-endian words,
/// NUL-padded: an exact name also matches the NULs after it.
fn comm_term(text: &str, prefix: bool, exclude: bool) -> CommTerm {
    let mut value = [0u8; COMM_LEN];
    value[..text.len()].copy_from_slice(text.as_bytes());
    let mut mask = [0u8; COMM_LEN];
    let n = if prefix { text.len() } else { COMM_LEN };
    mask[..n].fill(0xff);
    let words = |b: [u8; COMM_LEN]| {
        [
            u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(b[8..].try_into().expect("8 bytes")),
        ]
    };
    CommTerm {
        value: words(value),
        mask: words(mask),
        exclude: exclude as u32,
        _pad: 0,
    }
}

/// `name` or `prefix*` (the kernel compares bytes, it has no globs).
fn exact_or_prefix<'a>(v: &'a str, what: &str) -> Result<(&'a str, bool), String> {
    let (text, prefix) = match v.strip_suffix('*') {
        Some(p) => (p, true),
        None => (v, false),
    };
    if text.contains(['*', '?', '[']) {
        return Err(format!("`{v}`: {what} exactly or by prefix (`name*`)"));
    }
    Ok((text, prefix))
}

fn integer(v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .map_err(|_| format!("expected an integer, got \"{v}\""))
}

fn push_range(set: &mut RangeSet, lo: u32, hi: u32, exclude: bool) -> Result<(), String> {
    let i = set.count as usize;
    if i >= MAX_RANGES {
        return Err(format!("at most {MAX_RANGES} terms"));
    }
    set.ranges[i] = Range {
        lo,
        hi,
        exclude: exclude as u32,
        _pad: 0,
    };
    set.count += 1;
    Ok(())
}

/// The `exe` terms, decided in user space. Each process's executable is
/// known from the start for every running process (`/proc/PID/exe`), then
/// kept by following the kernel's records: a new process has its parent's
/// executable, an exec sets the file the kernel executed, an exit forgets it.
/// A process's events are often read after it is gone, so the executable
/// cannot be looked up then.
pub struct ExeFilter {
    terms: Vec<(String, bool)>,
    by_pid: std::collections::HashMap<u32, Option<String>>,
}

/// Processes remembered; past this the cache starts over.
const EXE_CACHE_MAX: usize = 65_536;

fn proc_exe(pid: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

impl ExeFilter {
    /// None when the scope has no `exe` terms.
    pub fn new(scope: &Scope) -> Option<ExeFilter> {
        if scope.exe.is_empty() {
            return None;
        }
        let mut f = ExeFilter {
            terms: scope.exe.clone(),
            by_pid: Default::default(),
        };
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for pid in dir
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
            {
                f.by_pid.insert(pid, proc_exe(pid));
            }
        }
        Some(f)
    }

    /// Follows a record (every record, selected or not: with `exe` terms the
    /// kernel writes every process life-cycle record) and tells whether its
    /// process is in scope.
    pub fn keep(&mut self, e: &crate::event::Event) -> bool {
        use crate::event::Value;
        use exporter_common::events::SchedEvent;
        if self.by_pid.len() >= EXE_CACHE_MAX {
            self.by_pid.clear();
        }
        let pid = e.ctx.pid;
        if e.id == SchedEvent::ProcessExec.id() {
            // The kernel's file name; a relative one is asked of the process.
            let exe = match e.arg("filename") {
                Some(Value::Str { value, .. }) if value.starts_with('/') => Some(value.clone()),
                _ => proc_exe(pid),
            };
            self.by_pid.insert(pid, exe);
        } else if e.id == SchedEvent::ProcessFork.id()
            && let Some(Value::Int(child)) = e.arg("child_pid")
            && *child as u32 != pid
        {
            let exe = exe_of(&mut self.by_pid, pid).map(str::to_string);
            self.by_pid.insert(*child as u32, exe);
        }
        let keep = exe_matches(&self.terms, exe_of(&mut self.by_pid, pid));
        if e.id == SchedEvent::ProcessExit.id() && e.ctx.tid == pid {
            self.by_pid.remove(&pid);
        }
        keep
    }
}

/// The cached executable of `pid`, read from /proc the first time.
fn exe_of(by_pid: &mut std::collections::HashMap<u32, Option<String>>, pid: u32) -> Option<&str> {
    by_pid
        .entry(pid)
        .or_insert_with(|| proc_exe(pid))
        .as_deref()
}

#[cfg(test)]
mod tests {
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
    fn exe_terms() {
        let s = parse(&["exe=/usr/bin/*", "exe!=/usr/bin/sshd"]).unwrap();
        assert!(s.exe_matches(Some("/usr/bin/bash")));
        assert!(!s.exe_matches(Some("/usr/bin/sshd")));
        assert!(!s.exe_matches(Some("/opt/x")));
        assert!(!s.exe_matches(None));
    }
}
