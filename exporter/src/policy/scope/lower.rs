//! A scope term lowered into what the kernel evaluates: the read-only
//! [`ScopeConf`] and the exact ids of the `SCOPE_IDS` map.

use std::collections::BTreeMap;

use exporter_common::{
    records::COMM_LEN,
    scope::{
        CgroupTerm, CommTerm, PidnsTerm, Range, RangeSet, SCOPE_ALL, SCOPE_CONTAINER, SCOPE_FOLLOW,
        SCOPE_HOST, SCOPE_MAP_ENTRIES, SCOPE_NEW, SCOPE_NOT_NEW, ScopeConf, ScopeId, ScopeKey,
        TERM_EXCLUDE, TERM_INCLUDE, UTS_MATCH_LEN, UtsTerm,
    },
};

use super::{
    Host,
    grammar::{Op, Term},
};

/// What the kernel is given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelScope {
    pub conf: ScopeConf,
    pub ids: BTreeMap<(u32, u64), u8>,
}

impl KernelScope {
    /// The exact ids as `SCOPE_IDS` entries.
    pub fn id_entries(&self) -> Vec<(ScopeId, u8)> {
        self.ids
            .iter()
            .map(|(&(key, value), &v)| {
                (
                    ScopeId {
                        key,
                        _pad: 0,
                        value,
                    },
                    v,
                )
            })
            .collect()
    }

    /// Lowers one checked term of `key` with its comma-separated `values`.
    pub(super) fn lower(
        &mut self,
        term: &Term,
        values: &[&str],
        host: &dyn Host,
    ) -> Result<(), String> {
        let op = term.op.unwrap_or(Op::Eq);
        let exclude = op == Op::Ne;
        let conf = &mut self.conf;
        match term.key.as_str() {
            "all" => conf.flags |= SCOPE_ALL,
            "follow" => conf.flags |= SCOPE_FOLLOW,
            "container" => {
                conf.flags |= if term.negated {
                    SCOPE_HOST
                } else {
                    SCOPE_CONTAINER
                };
                conf.keys |= ScopeKey::Container.bit();
                (conf.nsfs_dev, conf.host_pidns) = host.host_pidns()?;
            }
            "pidns" => pid_namespaces(conf, values, exclude, host)?,
            "pid" | "ppid" | "mntns" => self.exact_ids(&term.key, values, exclude)?,
            "uid" => ranges(conf, ScopeKey::Uid, values, op)?,
            "gid" => ranges(conf, ScopeKey::Gid, values, op)?,
            "comm" => comms(conf, values, exclude)?,
            "uts" => hostnames(conf, values, exclude)?,
            "cgroup" => cgroups(conf, values, exclude, host)?,
            other => unreachable!("`{other}` is decided in user space or not a key"),
        }
        Ok(())
    }

    /// A workload term (`k8s.namespace`, `k8s.pod`, `container.name`,
    /// `container.image`): its cgroups come into the map while sysotel runs
    /// (`enrich::runtime`).
    pub(super) fn workload(&mut self, exclude: bool) {
        mark(&mut self.conf, ScopeKey::Workload, exclude);
        self.conf.in_maps |= ScopeKey::Workload.bit();
    }

    /// `pid`, `ppid`, `mntns`: exact values in the map (and `pid=new`).
    fn exact_ids(&mut self, key: &str, values: &[&str], exclude: bool) -> Result<(), String> {
        let k = match key {
            "pid" => ScopeKey::Pid,
            "ppid" => ScopeKey::Ppid,
            _ => ScopeKey::Mntns,
        };
        for v in values {
            mark(&mut self.conf, k, exclude);
            if k == ScopeKey::Pid && *v == "new" {
                self.conf.flags |= if exclude { SCOPE_NOT_NEW } else { SCOPE_NEW };
                continue;
            }
            let n = integer(v)?;
            self.conf.in_maps |= k.bit();
            if self.ids.len() >= SCOPE_MAP_ENTRIES as usize {
                return Err(format!("at most {SCOPE_MAP_ENTRIES} ids"));
            }
            *self.ids.entry((k as u32, n)).or_default() |=
                if exclude { TERM_EXCLUDE } else { TERM_INCLUDE };
        }
        Ok(())
    }
}

/// The key is used, and (for `=`) has an inclusion.
fn mark(conf: &mut ScopeConf, k: ScopeKey, exclude: bool) {
    conf.keys |= k.bit();
    if !exclude {
        conf.includes |= k.bit();
    }
}

fn pid_namespaces(
    conf: &mut ScopeConf,
    values: &[&str],
    exclude: bool,
    host: &dyn Host,
) -> Result<(), String> {
    for v in values {
        mark(conf, ScopeKey::Pidns, exclude);
        let n = integer(v)?;
        let inum =
            u32::try_from(n).map_err(|_| format!("{n} is not a namespace inode (32 bits)"))?;
        let term = PidnsTerm {
            inum,
            exclude: exclude as u32,
        };
        push(
            &mut conf.pidns,
            &mut conf.pidns_count,
            term,
            "pid namespaces",
        )?;
        conf.nsfs_dev = host.host_pidns()?.0;
    }
    Ok(())
}

/// `uid` and `gid`: each value with its operator as a range.
fn ranges(conf: &mut ScopeConf, k: ScopeKey, values: &[&str], op: Op) -> Result<(), String> {
    for v in values {
        let n = integer(v)?;
        let n = u32::try_from(n).map_err(|_| format!("{n} is not a 32-bit id"))?;
        let (lo, hi) = match op {
            Op::Eq | Op::Ne => (n, n),
            Op::Lt => (
                0,
                n.checked_sub(1)
                    .ok_or_else(|| "nothing is below 0".to_string())?,
            ),
            Op::Le => (0, n),
            Op::Gt => (
                n.checked_add(1)
                    .ok_or_else(|| format!("nothing is above {n}"))?,
                u32::MAX,
            ),
            Op::Ge => (n, u32::MAX),
        };
        let set = if k == ScopeKey::Uid {
            &mut conf.uid
        } else {
            &mut conf.gid
        };
        push_range(set, lo, hi, op == Op::Ne)?;
        mark(conf, k, op == Op::Ne);
    }
    Ok(())
}

fn comms(conf: &mut ScopeConf, values: &[&str], exclude: bool) -> Result<(), String> {
    for v in values {
        mark(conf, ScopeKey::Comm, exclude);
        let (text, prefix) = exact_or_prefix(v, "a command name is matched")?;
        if text.len() >= COMM_LEN {
            return Err(format!(
                "`{v}` is longer than a command name ({} bytes at most)",
                COMM_LEN - 1
            ));
        }
        let term = comm_term(text, prefix, exclude);
        push(&mut conf.comms, &mut conf.comm_count, term, "command names")?;
    }
    Ok(())
}

fn hostnames(conf: &mut ScopeConf, values: &[&str], exclude: bool) -> Result<(), String> {
    for v in values {
        mark(conf, ScopeKey::Uts, exclude);
        let (text, prefix) = exact_or_prefix(v, "the kernel matches a hostname")?;
        if text.len() > UTS_MATCH_LEN {
            return Err(format!(
                "`{v}` is longer than a hostname ({UTS_MATCH_LEN} bytes at most)"
            ));
        }
        let mut t = UtsTerm {
            len: text.len() as u32,
            prefix: prefix as u32,
            exclude: exclude as u32,
            ..UtsTerm::default()
        };
        t.bytes[..text.len()].copy_from_slice(text.as_bytes());
        push(&mut conf.uts, &mut conf.uts_count, t, "hostnames")?;
    }
    Ok(())
}

fn cgroups(
    conf: &mut ScopeConf,
    values: &[&str],
    exclude: bool,
    host: &dyn Host,
) -> Result<(), String> {
    for v in values {
        mark(conf, ScopeKey::Cgroup, exclude);
        let (id, level) = host.cgroup(v)?;
        let term = CgroupTerm {
            id,
            level,
            exclude: exclude as u32,
        };
        push(&mut conf.cgroups, &mut conf.cgroup_count, term, "cgroups")?;
    }
    Ok(())
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
    let range = Range {
        lo,
        hi,
        exclude: exclude as u32,
        _pad: 0,
    };
    push(&mut set.ranges, &mut set.count, range, "terms")
}

/// Appends `term` to the first `count` of `terms`: the kernel's fixed-size
/// arrays bound how many terms of a kind a scope holds.
fn push<T, const N: usize>(
    terms: &mut [T; N],
    count: &mut u32,
    term: T,
    what: &str,
) -> Result<(), String> {
    let i = *count as usize;
    let slot = terms
        .get_mut(i)
        .ok_or_else(|| format!("at most {N} {what}"))?;
    *slot = term;
    *count += 1;
    Ok(())
}
