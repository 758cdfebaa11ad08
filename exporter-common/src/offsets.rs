//! Kernel structure offsets, resolved by user space from the running kernel's BTF
//! and handed to the eBPF programs as one read-only global.
//!
//! Rust eBPF has no CO-RE relocations today, so offsets compiled in from one
//! kernel's headers would be silently wrong on another (6.18 moved
//! `ns_common.inum`). Every field here is a byte offset unless its name says
//! otherwise.

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_real_parent: u32,
    pub task_tgid: u32,
    pub task_pid: u32,
    pub task_group_leader: u32,
    pub task_nsproxy: u32,
    pub task_thread_pid: u32,
    pub task_mm: u32,
    pub task_exit_code: u32,
    pub task_signal: u32,
    pub nsproxy_uts_ns: u32,
    pub nsproxy_mnt_ns: u32,
    /// `uts_namespace.name.nodename`.
    pub uts_ns_nodename: u32,
    /// `mnt_namespace.ns.inum`.
    pub mnt_ns_inum: u32,
    pub pid_level: u32,
    pub pid_numbers: u32,
    /// `sizeof(struct upid)`.
    pub upid_size: u32,
    pub upid_nr: u32,
    pub upid_ns: u32,
    /// `pid_namespace.ns.inum`.
    pub pid_ns_inum: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    pub mm_env_start: u32,
    pub mm_env_end: u32,
    pub bprm_filename: u32,
    pub bprm_argc: u32,
    pub bprm_envc: u32,
    /// `signal_struct.live.counter`.
    pub signal_live: u32,
    /// `signal_struct.pids[PIDTYPE_PGID]`, followed by `[PIDTYPE_SID]`.
    pub signal_pids_pgid: u32,
    pub signal_tty: u32,
    pub task_start_boottime: u32,
    pub cred_suid: u32,
    /// `pt_regs` offsets of the six syscall argument registers, in argument
    /// order (x86_64: di, si, dx, r10, r8, r9).
    pub regs_args: [u32; SYSCALL_ARGS],
    /// 1 when the `sched_process_exit` tracepoint passes `bool group_dead` as
    /// its second argument (newer kernels); otherwise `signal->live` is read.
    pub exit_has_group_dead: u32,
    /// Start of the 64-byte window of `pt_regs` that holds all six argument
    /// registers (read with one helper call at sys_enter); every `regs_args`
    /// offset lies inside it, 8-byte aligned.
    pub regs_window: u32,
    /// `task_struct.cgroups`, `css_set.dfl_cgrp`, `cgroup.level` and
    /// `cgroup.ancestor_ids`: up to 5.19 a cgroup keeps its ancestors' ids in
    /// itself, and the cgroup scope reads them there (tracing programs have
    /// no `bpf_get_current_ancestor_cgroup_id` on 5.10). All zero on kernels
    /// without `ancestor_ids`, which use the helper.
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_level: u32,
    pub cgroup_ancestor_ids: u32,
    /// LSM hooks: `struct file`, `struct path`, the dentry walk (`dentry`,
    /// `mount` around its `vfsmount`), the inode, and the exec's credentials.
    pub file_f_path: u32,
    pub file_f_flags: u32,
    pub file_f_mode: u32,
    pub file_f_inode: u32,
    pub path_mnt: u32,
    pub path_dentry: u32,
    pub dentry_d_parent: u32,
    pub dentry_d_name_name: u32,
    pub inode_i_ino: u32,
    pub inode_i_sb: u32,
    pub sb_s_dev: u32,
    pub mount_mnt: u32,
    pub mount_mnt_parent: u32,
    pub mount_mnt_mountpoint: u32,
    pub vfsmount_mnt_root: u32,
    pub bprm_file: u32,
    pub bprm_interp: u32,
    pub inode_i_mode: u32,
    pub task_cred: u32,
    pub cred_euid: u32,
    pub cred_egid: u32,
    pub inode_i_gid: u32,
    pub vfsmount_mnt_flags: u32,
    pub task_fs: u32,
    pub fs_struct_root: u32,
    pub inode_i_uid: u32,
    /// The LSM mprotect hook: `vm_area_struct`.
    pub vma_vm_start: u32,
    pub vma_vm_end: u32,
    pub vma_vm_flags: u32,
    pub vma_vm_file: u32,
    /// The LSM socket hooks: `socket.type`, `socket.sk`, and in `struct
    /// sock` its family, local port and addresses (`__sk_common.skc_*`) and
    /// protocol.
    pub socket_type: u32,
    pub socket_sk: u32,
    pub sk_family: u32,
    pub sk_num: u32,
    pub sk_rcv_saddr: u32,
    pub sk_v6_rcv_saddr: u32,
    pub sk_protocol: u32,
}

impl KernelOffsets {
    /// Every offset zero: what the eBPF object is built with, before user
    /// space writes the running kernel's.
    pub const ZERO: KernelOffsets = KernelOffsets {
        task_real_parent: 0,
        task_tgid: 0,
        task_pid: 0,
        task_group_leader: 0,
        task_nsproxy: 0,
        task_thread_pid: 0,
        task_mm: 0,
        task_exit_code: 0,
        task_signal: 0,
        nsproxy_uts_ns: 0,
        nsproxy_mnt_ns: 0,
        uts_ns_nodename: 0,
        mnt_ns_inum: 0,
        pid_level: 0,
        pid_numbers: 0,
        upid_size: 0,
        upid_nr: 0,
        upid_ns: 0,
        pid_ns_inum: 0,
        mm_arg_start: 0,
        mm_arg_end: 0,
        mm_env_start: 0,
        mm_env_end: 0,
        bprm_filename: 0,
        bprm_argc: 0,
        bprm_envc: 0,
        signal_live: 0,
        signal_pids_pgid: 0,
        signal_tty: 0,
        task_start_boottime: 0,
        cred_suid: 0,
        regs_args: [0; SYSCALL_ARGS],
        exit_has_group_dead: 0,
        regs_window: 0,
        task_cgroups: 0,
        css_set_dfl_cgrp: 0,
        cgroup_level: 0,
        cgroup_ancestor_ids: 0,
        file_f_path: 0,
        file_f_flags: 0,
        file_f_mode: 0,
        file_f_inode: 0,
        path_mnt: 0,
        path_dentry: 0,
        dentry_d_parent: 0,
        dentry_d_name_name: 0,
        inode_i_ino: 0,
        inode_i_sb: 0,
        sb_s_dev: 0,
        mount_mnt: 0,
        mount_mnt_parent: 0,
        mount_mnt_mountpoint: 0,
        vfsmount_mnt_root: 0,
        bprm_file: 0,
        bprm_interp: 0,
        inode_i_mode: 0,
        task_cred: 0,
        cred_euid: 0,
        cred_egid: 0,
        inode_i_gid: 0,
        vfsmount_mnt_flags: 0,
        task_fs: 0,
        fs_struct_root: 0,
        inode_i_uid: 0,
        vma_vm_start: 0,
        vma_vm_end: 0,
        vma_vm_flags: 0,
        vma_vm_file: 0,
        socket_type: 0,
        socket_sk: 0,
        sk_family: 0,
        sk_num: 0,
        sk_rcv_saddr: 0,
        sk_v6_rcv_saddr: 0,
        sk_protocol: 0,
    };
}

/// A syscall's argument registers.
pub const SYSCALL_ARGS: usize = 6;
/// Bytes of `pt_regs` read at once at sys_enter.
pub const REGS_WINDOW_LEN: usize = 64;
/// The window as 8-byte registers; a power of two, so that `i & (REGS_WINDOW_WORDS - 1)`
/// is a bound the verifier can follow.
pub const REGS_WINDOW_WORDS: usize = REGS_WINDOW_LEN / 8;
const _: () = assert!(REGS_WINDOW_WORDS.is_power_of_two());
const _: () = assert!(core::mem::size_of::<KernelOffsets>() == 80 * 4);

#[cfg(feature = "user")]
unsafe impl aya::Pod for KernelOffsets {}
