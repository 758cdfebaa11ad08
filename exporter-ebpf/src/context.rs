//! The task context every record carries: who did it.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
    bpf_ktime_get_boot_ns,
    generated::{bpf_get_current_comm, bpf_probe_read_kernel as raw_read_kernel},
};
use exporter_common::records::{COMM_LEN, ContextCache, TaskContext, UTS_LEN};

use crate::{
    globals::off,
    kernel::{current_task, read, read_ptr},
};

/// `MAX_PID_NS_LEVEL` (include/linux/pid_namespace.h).
const MAX_PID_NS_LEVEL: u32 = 32;

/// The fields every event re-reads: ids, credentials, time, cgroup, comm.
#[inline(always)]
fn fill_cheap(c: &mut TaskContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    // SAFETY: these helpers have no preconditions.
    c.ts_boot_ns = unsafe { bpf_ktime_get_boot_ns() };
    // SAFETY: as above.
    c.cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    c.pid = (pid_tgid >> 32) as u32;
    c.tid = pid_tgid as u32;
    c.uid = uid_gid as u32;
    c.gid = (uid_gid >> 32) as u32;
    // SAFETY: writes at most COMM_LEN bytes into the COMM_LEN-byte array.
    unsafe {
        bpf_get_current_comm(c.comm.as_mut_ptr() as *mut _, COMM_LEN as u32);
    }
}

/// `uts_ns->name.nodename` into `c.uts_name`.
#[inline(always)]
fn read_nodename(c: &mut TaskContext, uts: *const u8) {
    if uts.is_null() {
        c.uts_name[0] = 0;
        return;
    }
    // SAFETY: writes at most UTS_LEN bytes into the UTS_LEN-byte array; the
    // helper checks the source address.
    let r = unsafe {
        raw_read_kernel(
            c.uts_name.as_mut_ptr() as *mut _,
            UTS_LEN as u32,
            uts.wrapping_add(off!(uts_ns_nodename)) as *const _,
        )
    };
    if r < 0 {
        c.uts_name[0] = 0;
    }
}

/// The thread group's pid as its own (active) pid namespace sees it, and that
/// namespace: `group_leader->thread_pid->numbers[level]`.
#[inline(always)]
fn read_pid_ns(c: &mut TaskContext, leader: *const u8) {
    c.vpid = 0;
    c.pid_ns = 0;
    let pid = read_ptr(leader, off!(task_thread_pid));
    let level = read::<u32>(pid, off!(pid_level)).unwrap_or(0);
    if level <= MAX_PID_NS_LEVEL && !pid.is_null() {
        let upid = pid.wrapping_add(off!(pid_numbers) + level as usize * off!(upid_size));
        c.vpid = read::<u32>(upid, off!(upid_nr)).unwrap_or(0);
        let ns = read_ptr(upid, off!(upid_ns));
        c.pid_ns = read::<u32>(ns, off!(pid_ns_inum)).unwrap_or(0);
    }
}

/// The effective and saved user ids of `cred` (a `struct cred *`).
#[inline(always)]
fn read_cred(c: &mut TaskContext, cred: *const u8) {
    c.euid = read::<u32>(cred, off!(cred_euid)).unwrap_or(0);
    c.suid = read::<u32>(cred, off!(cred_suid)).unwrap_or(0);
}

/// The host pid of `pid` (a `struct pid *`): `numbers[0].nr`.
#[inline(always)]
fn host_nr(pid: *const u8) -> u32 {
    read::<u32>(pid, off!(pid_numbers) + off!(upid_nr)).unwrap_or(0)
}

/// The process group's and the session's `struct pid *` of `signal`.
#[inline(always)]
fn group_and_session(signal: *const u8) -> [u64; 2] {
    read::<[u64; 2]>(signal, off!(signal_pids_pgid)).unwrap_or_default()
}

/// Whether `signal`'s process has a controlling terminal.
#[inline(always)]
fn interactive(signal: *const u8) -> u8 {
    u8::from(!read_ptr(signal, off!(signal_tty)).is_null())
}

/// Fills `c` from the current task, reading everything.
#[inline(always)]
pub fn fill(c: &mut TaskContext) {
    fill_cheap(c);
    let task = current_task();
    let parent = read_ptr(task, off!(task_real_parent));
    c.ppid = read::<u32>(parent, off!(task_tgid)).unwrap_or(0);
    let nsproxy = read_ptr(task, off!(task_nsproxy));
    read_nodename(c, read_ptr(nsproxy, off!(nsproxy_uts_ns)));
    let mnt = read_ptr(nsproxy, off!(nsproxy_mnt_ns));
    c.mnt_ns = read::<u32>(mnt, off!(mnt_ns_inum)).unwrap_or(0);
    let leader = read_ptr(task, off!(task_group_leader));
    read_pid_ns(c, leader);
    c.start_boot_ns = read::<u64>(leader, off!(task_start_boottime)).unwrap_or(0);
    read_cred(c, read_ptr(task, off!(task_cred)));
    let signal = read_ptr(task, off!(task_signal));
    let [pgrp, session] = group_and_session(signal);
    c.pgid = host_nr(pgrp as *const u8);
    c.sid = host_nr(session as *const u8);
    c.interactive = interactive(signal);
}

/// The current task's context, read whole.
#[inline(always)]
pub fn current() -> TaskContext {
    let mut c = TaskContext::zeroed();
    fill(&mut c);
    c
}

/// Fills `c` — which holds the thread's previous context — from the current
/// task, re-reading only what may have changed since.
///
/// What sits behind an unchanged pointer is unchanged: a task's tgid never
/// changes (so neither does the ppid behind the same `real_parent`); an
/// `nsproxy` is never modified, a namespace change installs a new one (see
/// `switch_task_namespaces` in kernel/nsproxy.c), so the same `nsproxy` means
/// the same uts and mount namespaces; a mount namespace's inode and a `struct
/// pid`'s numbers are fixed for their life, and exec by a non-leader thread
/// changes `group_leader` (whose start time is fixed, as is its thread
/// group's `signal_struct`). Credentials are never modified once installed
/// (`commit_creds` installs a new `struct cred`), so the same `cred` means
/// the same effective and saved ids. setpgid and setsid point
/// `signal->pids` at other `struct pid`s. The thread holds references to all
/// of them, so an unchanged address cannot be a recycled object. The
/// nodename can change in place (sethostname), and the controlling terminal
/// (`signal->tty`) with TIOCSCTTY, so they are read every time.
#[inline(always)]
pub fn fill_cached(c: &mut TaskContext, cache: &mut ContextCache) {
    fill_cheap(c);
    let task = current_task();
    let parent = read_ptr(task, off!(task_real_parent));
    if parent as u64 != cache.real_parent {
        c.ppid = read::<u32>(parent, off!(task_tgid)).unwrap_or(0);
        cache.real_parent = parent as u64;
    }
    let nsproxy = read_ptr(task, off!(task_nsproxy));
    if nsproxy as u64 != cache.nsproxy {
        cache.uts_ns = read_ptr(nsproxy, off!(nsproxy_uts_ns)) as u64;
        let mnt = read_ptr(nsproxy, off!(nsproxy_mnt_ns));
        c.mnt_ns = read::<u32>(mnt, off!(mnt_ns_inum)).unwrap_or(0);
        cache.nsproxy = nsproxy as u64;
    }
    read_nodename(c, cache.uts_ns as *const u8);
    let leader = read_ptr(task, off!(task_group_leader));
    if leader as u64 != cache.group_leader {
        read_pid_ns(c, leader);
        c.start_boot_ns = read::<u64>(leader, off!(task_start_boottime)).unwrap_or(0);
        cache.signal = read_ptr(task, off!(task_signal)) as u64;
        cache.group_leader = leader as u64;
    }
    let cred = read_ptr(task, off!(task_cred));
    if cred as u64 != cache.cred {
        read_cred(c, cred);
        cache.cred = cred as u64;
    }
    let signal = cache.signal as *const u8;
    let [pgrp, session] = group_and_session(signal);
    if pgrp != cache.pgrp {
        c.pgid = host_nr(pgrp as *const u8);
        cache.pgrp = pgrp;
    }
    if session != cache.session {
        c.sid = host_nr(session as *const u8);
        cache.session = session;
    }
    c.interactive = interactive(signal);
}
