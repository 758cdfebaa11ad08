//! Which processes are traced, decided on the current task before anything
//! is reserved (see `exporter_common::scope` for the rules).

use aya_ebpf::bindings::bpf_pidns_info;
use aya_ebpf::helpers::{
    bpf_get_current_uid_gid,
    generated::{
        bpf_get_current_ancestor_cgroup_id, bpf_get_current_comm, bpf_get_ns_current_pid_tgid,
        bpf_probe_read_kernel as raw_read_kernel,
    },
};
use exporter_common::{
    config::KernelError,
    records::COMM_LEN,
    scope::{
        RangeSet, SCOPE_CONTAINER, SCOPE_FOLLOW, SCOPE_HOST, SCOPE_NEW, SCOPE_NOT_NEW, ScopeConf,
        ScopeId, ScopeKey, TERM_EXCLUDE, TERM_INCLUDE, TRACED_FOLLOWED, TRACED_NEW, UTS_MATCH_LEN,
    },
};

use crate::{
    emit::count_error,
    globals::{self, off},
    kernel::{current_task, read, read_ptr},
    maps::{SCOPE_CONF, SCOPE_IDS, TRACED},
};

/// True when the current task, of thread group `tgid`, is traced.
#[inline(always)]
pub fn in_scope(tgid: u32) -> bool {
    if tgid == globals::self_tgid() {
        return false;
    }
    if globals::scope_all() {
        return true;
    }
    let Some(conf) = SCOPE_CONF.get(0) else {
        return false;
    };
    let traced = if conf.flags & (SCOPE_FOLLOW | SCOPE_NEW | SCOPE_NOT_NEW) != 0 {
        unsafe { TRACED.get(tgid).copied().unwrap_or(0) }
    } else {
        0
    };
    if traced & TRACED_FOLLOWED != 0 {
        return true;
    }
    matches(conf, tgid, traced)
}

/// Every key of the scope, evaluated on the current task.
#[inline(always)]
fn matches(conf: &ScopeConf, tgid: u32, traced: u8) -> bool {
    let keys = conf.keys;
    let has = |k: ScopeKey| keys & k.bit() != 0;
    // Cheapest first: each key that fails ends the evaluation.
    if has(ScopeKey::Pid) {
        let new = traced & TRACED_NEW != 0;
        let inc = new && conf.flags & SCOPE_NEW != 0;
        let exc = new && conf.flags & SCOPE_NOT_NEW != 0;
        if !decide(conf, ScopeKey::Pid, tgid as u64, inc, exc) {
            return false;
        }
    }
    if has(ScopeKey::Uid) || has(ScopeKey::Gid) {
        let uid_gid = bpf_get_current_uid_gid();
        if has(ScopeKey::Uid) && !in_ranges(conf, ScopeKey::Uid, &conf.uid, uid_gid as u32) {
            return false;
        }
        if has(ScopeKey::Gid) && !in_ranges(conf, ScopeKey::Gid, &conf.gid, (uid_gid >> 32) as u32)
        {
            return false;
        }
    }
    if has(ScopeKey::Comm) && !comm_matches(conf) {
        return false;
    }
    if has(ScopeKey::Cgroup) && !cgroup_matches(conf) {
        return false;
    }
    let task = current_task();
    if has(ScopeKey::Ppid) {
        let parent = unsafe { read_ptr(task, off!(task_real_parent)) };
        let ppid = unsafe { read::<u32>(parent, off!(task_tgid)) }.unwrap_or(0);
        if !decide(conf, ScopeKey::Ppid, ppid as u64, false, false) {
            return false;
        }
    }
    if has(ScopeKey::Container) {
        let host = in_pid_ns(conf, conf.host_pidns);
        if (conf.flags & SCOPE_CONTAINER != 0 && host) || (conf.flags & SCOPE_HOST != 0 && !host) {
            return false;
        }
    }
    if has(ScopeKey::Pidns) && !pidns_matches(conf) {
        return false;
    }
    if has(ScopeKey::Mntns) || has(ScopeKey::Uts) {
        let nsproxy = unsafe { read_ptr(task, off!(task_nsproxy)) };
        if has(ScopeKey::Mntns) {
            let mnt = unsafe { read_ptr(nsproxy, off!(nsproxy_mnt_ns)) };
            let ns = unsafe { read::<u32>(mnt, off!(mnt_ns_inum)) }.unwrap_or(0);
            if !decide(conf, ScopeKey::Mntns, ns as u64, false, false) {
                return false;
            }
        }
        if has(ScopeKey::Uts) {
            let uts = unsafe { read_ptr(nsproxy, off!(nsproxy_uts_ns)) };
            if !uts_matches(conf, uts) {
                return false;
            }
        }
    }
    true
}

/// One key's verdict from its exact terms in `SCOPE_IDS` plus the terms the
/// caller already evaluated (`inc`, `exc`).
#[inline(always)]
fn decide(conf: &ScopeConf, key: ScopeKey, value: u64, inc: bool, exc: bool) -> bool {
    let mut inc = inc;
    let mut exc = exc;
    if conf.in_maps & key.bit() != 0 {
        let id = ScopeId {
            key: key as u32,
            _pad: 0,
            value,
        };
        let v = unsafe { SCOPE_IDS.get(id).copied().unwrap_or(0) };
        inc |= v & TERM_INCLUDE != 0;
        exc |= v & TERM_EXCLUDE != 0;
    }
    verdict(conf, key, inc, exc)
}

#[inline(always)]
fn verdict(conf: &ScopeConf, key: ScopeKey, inc: bool, exc: bool) -> bool {
    !exc && (inc || conf.includes & key.bit() == 0)
}

/// Over the first `count` terms: whether an `=` term matched, and whether a
/// `!=` term did.
#[inline(always)]
fn scan<T, const N: usize>(
    terms: &[T; N],
    count: u32,
    hit: impl Fn(&T) -> bool,
    exclude: impl Fn(&T) -> bool,
) -> (bool, bool) {
    let mut inc = false;
    let mut exc = false;
    for (i, t) in terms.iter().enumerate() {
        if i as u32 >= count {
            break;
        }
        let h = hit(t);
        if exclude(t) {
            exc |= h;
        } else {
            inc |= h;
        }
    }
    (inc, exc)
}

#[inline(always)]
fn in_ranges(conf: &ScopeConf, key: ScopeKey, set: &RangeSet, v: u32) -> bool {
    let (inc, exc) = scan(
        &set.ranges,
        set.count,
        |r| r.lo <= v && v <= r.hi,
        |r| r.exclude != 0,
    );
    verdict(conf, key, inc, exc)
}

#[inline(always)]
fn comm_matches(conf: &ScopeConf) -> bool {
    let mut comm = [0u64; 2];
    unsafe { bpf_get_current_comm(comm.as_mut_ptr() as *mut _, COMM_LEN as u32) };
    let (inc, exc) = scan(
        &conf.comms,
        conf.comm_count,
        |t| comm[0] & t.mask[0] == t.value[0] && comm[1] & t.mask[1] == t.value[1],
        |t| t.exclude != 0,
    );
    verdict(conf, ScopeKey::Comm, inc, exc)
}

/// Whether the current task lives in pid namespace `inum` (one helper call:
/// the kernel compares the task's active namespace).
#[inline(always)]
fn in_pid_ns(conf: &ScopeConf, inum: u32) -> bool {
    let mut info = bpf_pidns_info { pid: 0, tgid: 0 };
    unsafe {
        bpf_get_ns_current_pid_tgid(
            conf.nsfs_dev,
            inum as u64,
            &mut info,
            core::mem::size_of::<bpf_pidns_info>() as u32,
        ) == 0
    }
}

#[inline(always)]
fn pidns_matches(conf: &ScopeConf) -> bool {
    let (inc, exc) = scan(
        &conf.pidns,
        conf.pidns_count,
        |t| in_pid_ns(conf, t.inum),
        |t| t.exclude != 0,
    );
    verdict(conf, ScopeKey::Pidns, inc, exc)
}

/// The first `len` bytes of `a` and `b` are equal.
#[inline(always)]
fn prefix_eq(a: &[u8], b: &[u8], len: u32) -> bool {
    a.iter()
        .zip(b.iter())
        .take(len as usize)
        .all(|(x, y)| x == y)
}

#[inline(always)]
fn cgroup_matches(conf: &ScopeConf) -> bool {
    let (inc, exc) = scan(
        &conf.cgroups,
        conf.cgroup_count,
        |t| unsafe { bpf_get_current_ancestor_cgroup_id(t.level as i32) } == t.id,
        |t| t.exclude != 0,
    );
    verdict(conf, ScopeKey::Cgroup, inc, exc)
}

#[inline(always)]
fn uts_matches(conf: &ScopeConf, uts: *const u8) -> bool {
    let mut name = [0u8; UTS_MATCH_LEN + 1];
    if uts.is_null()
        || unsafe {
            raw_read_kernel(
                name.as_mut_ptr() as *mut _,
                UTS_MATCH_LEN as u32,
                uts.add(off!(uts_ns_nodename)) as *const _,
            )
        } < 0
    {
        name[0] = 0;
    }
    // An exact term also needs the name to end where the term does.
    let (inc, exc) = scan(
        &conf.uts,
        conf.uts_count,
        |t| {
            prefix_eq(&name, &t.bytes, t.len)
                && (t.prefix != 0 || name.get(t.len as usize).copied().unwrap_or(0) == 0)
        },
        |t| t.exclude != 0,
    );
    verdict(conf, ScopeKey::Uts, inc, exc)
}

/// A new process was created (runs in the parent): it is marked new when the
/// scope uses `pid=new`, and followed when the scope follows and the parent
/// is traced. Nothing sysotel itself starts is traced.
#[inline(always)]
pub fn on_new_process(parent_tgid: u32, child_tgid: u32) {
    if parent_tgid == globals::self_tgid() || globals::scope_all() {
        return;
    }
    let Some(conf) = SCOPE_CONF.get(0) else {
        return;
    };
    let mut bits = 0u8;
    if conf.flags & (SCOPE_NEW | SCOPE_NOT_NEW) != 0 {
        bits |= TRACED_NEW;
    }
    if conf.flags & SCOPE_FOLLOW != 0 && in_scope(parent_tgid) {
        bits |= TRACED_FOLLOWED;
    }
    if bits == 0 {
        return;
    }
    // A full map leaves the process untraced: counted, and reported by user space.
    if TRACED.insert(child_tgid, bits, 0).is_err() {
        count_error(KernelError::TracedFull);
    }
}

/// The last thread of `tgid` is gone.
#[inline(always)]
pub fn on_process_gone(tgid: u32) {
    let _ = TRACED.remove(tgid);
}
