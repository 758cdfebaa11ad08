//! Which processes are traced, decided on the current task before anything
//! is reserved (see `exporter_common::scope` for the rules).
//!
//! The scope is a read-only global frozen before the programs are verified:
//! the verifier reads the actual keys and term counts, so the keys not used
//! are dead code and each loop runs exactly as many times as there are terms.
//! Every field is read with `sc!` (a volatile read), never through a
//! reference, so the compiler cannot fold in the zeros it was built with.

use aya_ebpf::bindings::bpf_pidns_info;
use aya_ebpf::helpers::{
    bpf_get_current_uid_gid,
    generated::{
        bpf_get_current_ancestor_cgroup_id, bpf_get_current_cgroup_id, bpf_get_current_comm,
        bpf_get_ns_current_pid_tgid, bpf_probe_read_kernel as raw_read_kernel,
    },
};
use exporter_common::{
    config::KernelError,
    records::COMM_LEN,
    scope::{
        MAX_CGROUPS, MAX_COMMS, MAX_PIDNS, MAX_RANGES, MAX_UTS, SCOPE_ALL, SCOPE_CONTAINER,
        SCOPE_FOLLOW, SCOPE_HOST, SCOPE_NEW, SCOPE_NOT_NEW, ScopeId, ScopeKey, TERM_EXCLUDE,
        TERM_INCLUDE, TRACED_FOLLOWED, TRACED_NEW, UTS_MATCH_LEN,
    },
};

use crate::{
    emit::count_error,
    globals::{self, off, sc},
    kernel::{current_task, read, read_ptr},
    maps::{SCOPE_IDS, TRACED},
};

/// True when the current task, of thread group `tgid`, is traced.
#[inline(always)]
pub fn in_scope(tgid: u32) -> bool {
    if tgid == globals::self_tgid() {
        return false;
    }
    let flags = sc!(flags);
    if flags & SCOPE_ALL != 0 {
        return true;
    }
    let traced = if flags & (SCOPE_FOLLOW | SCOPE_NEW | SCOPE_NOT_NEW) != 0 {
        // SAFETY: a value copied out of the map right away.
        unsafe { TRACED.get(tgid).copied().unwrap_or(0) }
    } else {
        0
    };
    if traced & TRACED_FOLLOWED != 0 {
        return true;
    }
    matches(tgid, traced)
}

/// Every key of the scope, evaluated on the current task.
#[inline(always)]
fn matches(tgid: u32, traced: u8) -> bool {
    let keys = sc!(keys);
    let has = |k: ScopeKey| keys & k.bit() != 0;
    let flags = sc!(flags);
    // Cheapest first: each key that fails ends the evaluation.
    if has(ScopeKey::Pid) {
        let new = traced & TRACED_NEW != 0;
        let inc = new && flags & SCOPE_NEW != 0;
        let exc = new && flags & SCOPE_NOT_NEW != 0;
        if !decide(ScopeKey::Pid, tgid as u64, inc, exc) {
            return false;
        }
    }
    if has(ScopeKey::Uid) || has(ScopeKey::Gid) {
        let uid_gid = bpf_get_current_uid_gid();
        if has(ScopeKey::Uid) {
            let v = uid_gid as u32;
            let (inc, exc) = scan::<MAX_RANGES>(sc!(uid.count), |i| {
                (
                    sc!(uid.ranges[i].lo) <= v && v <= sc!(uid.ranges[i].hi),
                    sc!(uid.ranges[i].exclude) != 0,
                )
            });
            if !verdict(ScopeKey::Uid, inc, exc) {
                return false;
            }
        }
        if has(ScopeKey::Gid) {
            let v = (uid_gid >> 32) as u32;
            let (inc, exc) = scan::<MAX_RANGES>(sc!(gid.count), |i| {
                (
                    sc!(gid.ranges[i].lo) <= v && v <= sc!(gid.ranges[i].hi),
                    sc!(gid.ranges[i].exclude) != 0,
                )
            });
            if !verdict(ScopeKey::Gid, inc, exc) {
                return false;
            }
        }
    }
    if has(ScopeKey::Comm) && !comm_matches() {
        return false;
    }
    if has(ScopeKey::Cgroup) && !cgroup_matches() {
        return false;
    }
    if has(ScopeKey::Workload) {
        // SAFETY: a helper with no arguments.
        let cgroup = unsafe { bpf_get_current_cgroup_id() };
        if !decide(ScopeKey::Workload, cgroup, false, false) {
            return false;
        }
    }
    let task = current_task();
    if has(ScopeKey::Ppid) {
        let parent = read_ptr(task, off!(task_real_parent));
        let ppid = read::<u32>(parent, off!(task_tgid)).unwrap_or(0);
        if !decide(ScopeKey::Ppid, ppid as u64, false, false) {
            return false;
        }
    }
    if has(ScopeKey::Container) {
        let host = in_pid_ns(sc!(host_pidns));
        if (flags & SCOPE_CONTAINER != 0 && host) || (flags & SCOPE_HOST != 0 && !host) {
            return false;
        }
    }
    if has(ScopeKey::Pidns) {
        let (inc, exc) = scan::<MAX_PIDNS>(sc!(pidns_count), |i| {
            (in_pid_ns(sc!(pidns[i].inum)), sc!(pidns[i].exclude) != 0)
        });
        if !verdict(ScopeKey::Pidns, inc, exc) {
            return false;
        }
    }
    if has(ScopeKey::Mntns) || has(ScopeKey::Uts) {
        let nsproxy = read_ptr(task, off!(task_nsproxy));
        if has(ScopeKey::Mntns) {
            let mnt = read_ptr(nsproxy, off!(nsproxy_mnt_ns));
            let ns = read::<u32>(mnt, off!(mnt_ns_inum)).unwrap_or(0);
            if !decide(ScopeKey::Mntns, ns as u64, false, false) {
                return false;
            }
        }
        if has(ScopeKey::Uts) {
            let uts = read_ptr(nsproxy, off!(nsproxy_uts_ns));
            if !uts_matches(uts) {
                return false;
            }
        }
    }
    true
}

/// One key's verdict from its exact terms in `SCOPE_IDS` plus the terms the
/// caller already evaluated (`inc`, `exc`).
#[inline(always)]
fn decide(key: ScopeKey, value: u64, inc: bool, exc: bool) -> bool {
    let mut inc = inc;
    let mut exc = exc;
    if sc!(in_maps) & key.bit() != 0 {
        let id = ScopeId {
            key: key as u32,
            _pad: 0,
            value,
        };
        // SAFETY: a value copied out of the map right away.
        let v = unsafe { SCOPE_IDS.get(id).copied().unwrap_or(0) };
        inc |= v & TERM_INCLUDE != 0;
        exc |= v & TERM_EXCLUDE != 0;
    }
    verdict(key, inc, exc)
}

#[inline(always)]
fn verdict(key: ScopeKey, inc: bool, exc: bool) -> bool {
    !exc && (inc || sc!(includes) & key.bit() == 0)
}

/// Over the first `count` of at most `N` terms, `term(i)` giving (it matched,
/// it is a `!=` term): whether an `=` term matched, and whether a `!=` one did.
#[inline(always)]
fn scan<const N: usize>(count: u32, term: impl Fn(usize) -> (bool, bool)) -> (bool, bool) {
    let mut inc = false;
    let mut exc = false;
    for i in 0..N {
        if i as u32 >= count {
            break;
        }
        let (hit, exclude) = term(i);
        if exclude {
            exc |= hit;
        } else {
            inc |= hit;
        }
    }
    (inc, exc)
}

#[inline(always)]
fn comm_matches() -> bool {
    let mut comm = [0u64; 2];
    // SAFETY: writes COMM_LEN (16) bytes into the 16-byte array.
    unsafe { bpf_get_current_comm(comm.as_mut_ptr() as *mut _, COMM_LEN as u32) };
    let (inc, exc) = scan::<MAX_COMMS>(sc!(comm_count), |i| {
        (
            comm[0] & sc!(comms[i].mask[0]) == sc!(comms[i].value[0])
                && comm[1] & sc!(comms[i].mask[1]) == sc!(comms[i].value[1]),
            sc!(comms[i].exclude) != 0,
        )
    });
    verdict(ScopeKey::Comm, inc, exc)
}

/// Whether the current task lives in pid namespace `inum` (one helper call:
/// the kernel compares the task's active namespace).
#[inline(always)]
fn in_pid_ns(inum: u32) -> bool {
    let mut info = bpf_pidns_info { pid: 0, tgid: 0 };
    // SAFETY: `info` is a local of the size passed; the helper only writes it.
    unsafe {
        bpf_get_ns_current_pid_tgid(
            sc!(nsfs_dev),
            inum as u64,
            &mut info,
            core::mem::size_of::<bpf_pidns_info>() as u32,
        ) == 0
    }
}

/// The id of the current task's cgroup v2 ancestor at `level` (the root is
/// level 0); 0 past the task's depth.
#[inline(always)]
fn ancestor_cgroup_id(level: u32) -> u64 {
    // A constant of the read-only offsets: the verifier sees one branch only,
    // so 5.10, whose tracing programs lack the helper, never meets its call.
    if off!(cgroup_ancestor_ids) == 0 {
        // SAFETY: the helper takes any level and answers 0 past the task's depth.
        return unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) };
    }
    let css_set = read_ptr(current_task(), off!(task_cgroups));
    let cgroup = read_ptr(css_set, off!(css_set_dfl_cgrp));
    let depth = read::<i32>(cgroup, off!(cgroup_level)).unwrap_or(-1);
    if depth < 0 || level > depth as u32 {
        return 0;
    }
    read::<u64>(cgroup, off!(cgroup_ancestor_ids) + 8 * level as usize).unwrap_or(0)
}

#[inline(always)]
fn cgroup_matches() -> bool {
    let (inc, exc) = scan::<MAX_CGROUPS>(sc!(cgroup_count), |i| {
        (
            ancestor_cgroup_id(sc!(cgroups[i].level) as u32) == sc!(cgroups[i].id),
            sc!(cgroups[i].exclude) != 0,
        )
    });
    verdict(ScopeKey::Cgroup, inc, exc)
}

#[inline(always)]
fn uts_matches(uts: *const u8) -> bool {
    let mut name = [0u8; UTS_MATCH_LEN + 1];
    if uts.is_null()
        // SAFETY: writes at most UTS_MATCH_LEN bytes into the larger `name`;
        // the helper checks the kernel address.
        || unsafe {
            raw_read_kernel(
                name.as_mut_ptr() as *mut _,
                UTS_MATCH_LEN as u32,
                uts.wrapping_add(off!(uts_ns_nodename)) as *const _,
            )
        } < 0
    {
        name[0] = 0;
    }
    let (inc, exc) = scan::<MAX_UTS>(sc!(uts_count), |i| {
        let len = sc!(uts[i].len) as usize;
        let mut hit = true;
        for (j, b) in name.iter().enumerate().take(UTS_MATCH_LEN) {
            if j >= len {
                break;
            }
            if *b != sc!(uts[i].bytes[j]) {
                hit = false;
                break;
            }
        }
        // An exact term also needs the name to end where the term does.
        if sc!(uts[i].prefix) == 0 && name.get(len).copied().unwrap_or(0) != 0 {
            hit = false;
        }
        (hit, sc!(uts[i].exclude) != 0)
    });
    verdict(ScopeKey::Uts, inc, exc)
}

/// A new process was created (runs in the parent): it is marked new when the
/// scope uses `pid=new`, and followed when the scope follows and the parent
/// is traced. Nothing sysotel itself starts is traced.
#[inline(always)]
pub fn on_new_process(parent_tgid: u32, child_tgid: u32) {
    let flags = sc!(flags);
    if parent_tgid == globals::self_tgid() || flags & SCOPE_ALL != 0 {
        return;
    }
    let mut bits = 0u8;
    if flags & (SCOPE_NEW | SCOPE_NOT_NEW) != 0 {
        bits |= TRACED_NEW;
    }
    if flags & SCOPE_FOLLOW != 0 && in_scope(parent_tgid) {
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
