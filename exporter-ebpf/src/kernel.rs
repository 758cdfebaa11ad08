//! Reads of kernel memory through the offsets user space resolved from BTF,
//! and the per-event task context.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_get_current_task,
    bpf_get_current_uid_gid, bpf_ktime_get_boot_ns, bpf_probe_read_kernel,
    generated::{bpf_get_current_comm, bpf_probe_read_kernel as raw_read_kernel},
};
use exporter_common::records::{COMM_LEN, TaskContext, UTS_LEN};

use crate::globals::off;

/// `MAX_PID_NS_LEVEL` (include/linux/pid_namespace.h).
const MAX_PID_NS_LEVEL: u32 = 32;

/// Reads a `T` at `base + offset` in kernel memory; zero/None on a bad pointer.
#[inline(always)]
pub unsafe fn read<T: Copy>(base: *const u8, offset: usize) -> Option<T> {
    if base.is_null() {
        return None;
    }
    unsafe { bpf_probe_read_kernel(base.add(offset) as *const T).ok() }
}

#[inline(always)]
pub unsafe fn read_ptr(base: *const u8, offset: usize) -> *const u8 {
    unsafe { read::<*const u8>(base, offset).unwrap_or(core::ptr::null()) }
}

#[inline(always)]
pub fn current_task() -> *const u8 {
    unsafe { bpf_get_current_task() as *const u8 }
}

/// Fills `c` from the current task.
#[inline(always)]
pub unsafe fn fill_context(c: &mut TaskContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    c.ts_boot_ns = unsafe { bpf_ktime_get_boot_ns() };
    c.cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    c.pid = (pid_tgid >> 32) as u32;
    c.tid = pid_tgid as u32;
    c.uid = uid_gid as u32;
    c.gid = (uid_gid >> 32) as u32;
    unsafe {
        bpf_get_current_comm(c.comm.as_mut_ptr() as *mut _, COMM_LEN as u32);
    }

    let task = current_task();
    unsafe {
        let parent = read_ptr(task, off!(task_real_parent));
        c.ppid = read::<u32>(parent, off!(task_tgid)).unwrap_or(0);

        let nsproxy = read_ptr(task, off!(task_nsproxy));
        let uts = read_ptr(nsproxy, off!(nsproxy_uts_ns));
        if uts.is_null()
            || raw_read_kernel(
                c.uts_name.as_mut_ptr() as *mut _,
                UTS_LEN as u32,
                uts.add(off!(uts_ns_nodename)) as *const _,
            ) < 0
        {
            c.uts_name[0] = 0;
        }
        let mnt = read_ptr(nsproxy, off!(nsproxy_mnt_ns));
        c.mnt_ns = read::<u32>(mnt, off!(mnt_ns_inum)).unwrap_or(0);

        // The thread group's pid as its own (active) pid namespace sees it:
        // group_leader->thread_pid->numbers[level], and that level's namespace.
        let leader = read_ptr(task, off!(task_group_leader));
        let pid = read_ptr(leader, off!(task_thread_pid));
        let level = read::<u32>(pid, off!(pid_level)).unwrap_or(0);
        c.vpid = 0;
        c.pid_ns = 0;
        if level <= MAX_PID_NS_LEVEL && !pid.is_null() {
            let upid = pid.add(off!(pid_numbers) + level as usize * off!(upid_size));
            c.vpid = read::<u32>(upid, off!(upid_nr)).unwrap_or(0);
            let ns = read_ptr(upid, off!(upid_ns));
            c.pid_ns = read::<u32>(ns, off!(pid_ns_inum)).unwrap_or(0);
        }
    }
}
