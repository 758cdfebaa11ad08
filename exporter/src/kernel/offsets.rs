//! Resolves [`KernelOffsets`] from the running kernel's BTF at start-up.
//!
//! Each field is checked for its expected size (a pointer where a pointer is
//! read, a 4-byte int where one is read): a kernel that changed a type fails at
//! start-up naming the field, instead of producing silently wrong values.

use std::path::{Path, PathBuf};

use exporter_common::offsets::{KernelOffsets, REGS_WINDOW_LEN, SYSCALL_ARGS};
use thiserror::Error;

use super::btf::{Btf, BtfError};

pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Where `struct pt_regs` holds a syscall's six arguments, in order.
// A build uses its architecture's variant (its unit tests both).
#[allow(dead_code)]
enum ArgRegs {
    /// One member per argument.
    Named([&'static str; SYSCALL_ARGS]),
    /// The first six elements of a `u64` array member.
    Array(&'static str),
}

/// x86_64's syscall calling convention (arch/x86/entry/entry_64.S).
#[cfg(any(test, not(target_arch = "aarch64")))]
const X86_64_ARG_REGS: ArgRegs = ArgRegs::Named(["di", "si", "dx", "r10", "r8", "r9"]);
/// arm64's: x0–x5, `regs[0..6]` (arch/arm64/include/asm/ptrace.h; inside an
/// anonymous union with `user_regs`). At sys_enter x0 still holds the first
/// argument (it becomes the return value only at exit).
#[cfg(any(test, target_arch = "aarch64"))]
const AARCH64_ARG_REGS: ArgRegs = ArgRegs::Array("regs");

/// This build's architecture's.
#[cfg(not(target_arch = "aarch64"))]
const SYSCALL_ARG_REGS: ArgRegs = X86_64_ARG_REGS;
#[cfg(target_arch = "aarch64")]
const SYSCALL_ARG_REGS: ArgRegs = AARCH64_ARG_REGS;

/// The `pt_regs` offsets of the six argument registers of `regs`.
fn arg_regs(btf: &Btf, regs: &ArgRegs) -> Result<[u32; SYSCALL_ARGS], OffsetsError> {
    let mut out = [0u32; SYSCALL_ARGS];
    match regs {
        ArgRegs::Named(names) => {
            for (off, name) in out.iter_mut().zip(names) {
                *off = field(btf, "pt_regs", name, Want::Bytes(8))?;
            }
        }
        ArgRegs::Array(name) => {
            let m = btf.member("pt_regs", name)?;
            let elem = btf.array_elem(m.type_id).and_then(|e| btf.size_of(e));
            let total = btf.size_of(m.type_id);
            if elem != Some(8) || total.is_none_or(|t| t < 8 * SYSCALL_ARGS as u32) {
                return Err(OffsetsError::Layout(format!(
                    "pt_regs.{name} is not an array of at least {SYSCALL_ARGS} 8-byte registers \
                     (element {elem:?} bytes, {total:?} in all)"
                )));
            }
            for (i, off) in out.iter_mut().enumerate() {
                *off = m.offset + 8 * i as u32;
            }
        }
    }
    Ok(out)
}

/// What to tell the user whose kernel BTF could not be read.
fn btf_hint(given: &bool) -> &'static str {
    if *given {
        ""
    } else {
        "; a kernel built without BTF (CONFIG_DEBUG_INFO_BTF) needs its type information \
         from a file: --btf FILE (BTFHub has files for such kernels)"
    }
}

#[derive(Debug, Error)]
pub enum OffsetsError {
    // The cause is part of the message (not a `source`): the hint follows it.
    #[error("cannot read kernel BTF at {}: {error}{}", path.display(), btf_hint(given))]
    Read {
        path: PathBuf,
        error: std::io::Error,
        /// The path came from `--btf`.
        given: bool,
    },
    #[error("kernel BTF at {} does not parse: {error}{}", path.display(), btf_hint(given))]
    Parse {
        path: PathBuf,
        error: BtfError,
        given: bool,
    },
    #[error(transparent)]
    Btf(#[from] BtfError),
    #[error("kernel field {field} has size {got:?}, sysotel reads {want} bytes there")]
    Size {
        field: String,
        want: u32,
        got: Option<u32>,
    },
    #[error("kernel field {0} is not a pointer")]
    NotPointer(String),
    #[error("unexpected kernel layout: {0}")]
    Layout(String),
}

enum Want {
    Ptr,
    Bytes(u32),
    /// An embedded structure: its offset only.
    Any,
}

fn field(btf: &Btf, strukt: &str, path: &str, want: Want) -> Result<u32, OffsetsError> {
    let m = btf.member(strukt, path)?;
    let name = format!("{strukt}.{path}");
    match want {
        Want::Ptr if !btf.is_ptr(m.type_id) => return Err(OffsetsError::NotPointer(name)),
        Want::Ptr | Want::Any => {}
        Want::Bytes(n) => {
            let got = btf.size_of(m.type_id);
            if got != Some(n) {
                return Err(OffsetsError::Size {
                    field: name,
                    want: n,
                    got,
                });
            }
        }
    }
    Ok(m.offset)
}

/// Reads and parses the running kernel's BTF: from `file` (`--btf`), else
/// from the kernel's own [`VMLINUX_BTF`]. Also returns the raw bytes.
pub fn load_kernel_btf(file: Option<&Path>) -> Result<(Btf, Vec<u8>), OffsetsError> {
    let given = file.is_some();
    let path = file.unwrap_or(Path::new(VMLINUX_BTF)).to_path_buf();
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(error) => return Err(OffsetsError::Read { path, error, given }),
    };
    match Btf::parse(&data) {
        Ok(btf) => Ok((btf, data)),
        Err(error) => Err(OffsetsError::Parse { path, error, given }),
    }
}

/// `enum pid_type` (include/linux/pid_types.h): PIDTYPE_PID, PIDTYPE_TGID,
/// PIDTYPE_PGID, PIDTYPE_SID, PIDTYPE_MAX, in this order since 4.19.
const PIDTYPE_PGID: u32 = 2;
const PIDTYPE_SID: u32 = 3;

/// `signal_struct.pids[PIDTYPE_PGID]`: an array of `struct pid *` with room
/// for the session's after it (the programs read both at once).
fn signal_pids_pgid(btf: &Btf) -> Result<u32, OffsetsError> {
    let pids = btf.member("signal_struct", "pids")?;
    let elem = btf.array_elem(pids.type_id);
    let (elem_size, total) = (elem.and_then(|e| btf.size_of(e)), btf.size_of(pids.type_id));
    if elem_size != Some(8) || total.is_none_or(|t| t < 8 * (PIDTYPE_SID + 1)) {
        return Err(OffsetsError::Layout(format!(
            "signal_struct.pids is not an array of at least {} pointers (element {elem_size:?} bytes, {total:?} in all)",
            PIDTYPE_SID + 1
        )));
    }
    Ok(pids.offset + 8 * PIDTYPE_PGID)
}

/// Every offset the eBPF programs use.
pub fn resolve(btf: &Btf) -> Result<KernelOffsets, OffsetsError> {
    resolve_with(btf, &SYSCALL_ARG_REGS)
}

/// [`resolve`], with the argument registers of `arg_regs`' architecture.
fn resolve_with(btf: &Btf, arg_regs_of: &ArgRegs) -> Result<KernelOffsets, OffsetsError> {
    use Want::{Any, Bytes, Ptr};
    let numbers = btf.member("pid", "numbers")?;
    let upid = btf
        .array_elem(numbers.type_id)
        .ok_or_else(|| OffsetsError::NotPointer("pid.numbers (expected an array)".into()))?;
    let upid_size = btf.size_of(upid).ok_or(OffsetsError::Size {
        field: "struct upid".into(),
        want: 16,
        got: None,
    })?;
    // 3 parameters (void *__data, struct task_struct *p, bool group_dead) since
    // the tracepoint grew `group_dead`; 2 before.
    let exit_params = btf.typedef_proto_params("btf_trace_sched_process_exit")?;
    let regs = arg_regs(btf, arg_regs_of)?;
    let regs_window = regs.iter().copied().min().unwrap_or(0);
    if regs
        .iter()
        .any(|&o| o - regs_window >= REGS_WINDOW_LEN as u32 || o % 8 != 0)
    {
        return Err(OffsetsError::Layout(format!(
            "pt_regs argument registers at {regs:?} do not fit one {REGS_WINDOW_LEN}-byte window"
        )));
    }
    let cgroup = cgroup_ancestors(btf)?;
    let signal_pids_pgid = signal_pids_pgid(btf)?;
    Ok(KernelOffsets {
        task_real_parent: field(btf, "task_struct", "real_parent", Ptr)?,
        task_tgid: field(btf, "task_struct", "tgid", Bytes(4))?,
        task_pid: field(btf, "task_struct", "pid", Bytes(4))?,
        task_group_leader: field(btf, "task_struct", "group_leader", Ptr)?,
        task_nsproxy: field(btf, "task_struct", "nsproxy", Ptr)?,
        task_thread_pid: field(btf, "task_struct", "thread_pid", Ptr)?,
        task_mm: field(btf, "task_struct", "mm", Ptr)?,
        task_exit_code: field(btf, "task_struct", "exit_code", Bytes(4))?,
        task_signal: field(btf, "task_struct", "signal", Ptr)?,
        nsproxy_uts_ns: field(btf, "nsproxy", "uts_ns", Ptr)?,
        nsproxy_mnt_ns: field(btf, "nsproxy", "mnt_ns", Ptr)?,
        uts_ns_nodename: field(btf, "uts_namespace", "name.nodename", Bytes(65))?,
        mnt_ns_inum: field(btf, "mnt_namespace", "ns.inum", Bytes(4))?,
        pid_level: field(btf, "pid", "level", Bytes(4))?,
        pid_numbers: numbers.offset,
        upid_size,
        upid_nr: field(btf, "upid", "nr", Bytes(4))?,
        upid_ns: field(btf, "upid", "ns", Ptr)?,
        pid_ns_inum: field(btf, "pid_namespace", "ns.inum", Bytes(4))?,
        mm_arg_start: field(btf, "mm_struct", "arg_start", Bytes(8))?,
        mm_arg_end: field(btf, "mm_struct", "arg_end", Bytes(8))?,
        mm_env_start: field(btf, "mm_struct", "env_start", Bytes(8))?,
        mm_env_end: field(btf, "mm_struct", "env_end", Bytes(8))?,
        bprm_filename: field(btf, "linux_binprm", "filename", Ptr)?,
        bprm_argc: field(btf, "linux_binprm", "argc", Bytes(4))?,
        bprm_envc: field(btf, "linux_binprm", "envc", Bytes(4))?,
        signal_live: field(btf, "signal_struct", "live", Bytes(4))?,
        signal_pids_pgid,
        signal_tty: field(btf, "signal_struct", "tty", Ptr)?,
        task_start_boottime: field(btf, "task_struct", "start_boottime", Bytes(8))?,
        cred_suid: field(btf, "cred", "suid", Bytes(4))?,
        regs_args: regs,
        exit_has_group_dead: u32::from(exit_params >= 3),
        regs_window,
        task_cgroups: cgroup.task_cgroups,
        css_set_dfl_cgrp: cgroup.css_set_dfl_cgrp,
        cgroup_level: cgroup.cgroup_level,
        cgroup_ancestor_ids: cgroup.cgroup_ancestor_ids,
        file_f_path: field(btf, "file", "f_path", Any)?,
        file_f_flags: field(btf, "file", "f_flags", Bytes(4))?,
        file_f_mode: field(btf, "file", "f_mode", Bytes(4))?,
        file_f_inode: field(btf, "file", "f_inode", Ptr)?,
        path_mnt: field(btf, "path", "mnt", Ptr)?,
        path_dentry: field(btf, "path", "dentry", Ptr)?,
        dentry_d_parent: field(btf, "dentry", "d_parent", Ptr)?,
        dentry_d_name_name: field(btf, "dentry", "d_name.name", Ptr)?,
        inode_i_ino: field(btf, "inode", "i_ino", Bytes(8))?,
        inode_i_sb: field(btf, "inode", "i_sb", Ptr)?,
        sb_s_dev: field(btf, "super_block", "s_dev", Bytes(4))?,
        mount_mnt: field(btf, "mount", "mnt", Any)?,
        mount_mnt_parent: field(btf, "mount", "mnt_parent", Ptr)?,
        mount_mnt_mountpoint: field(btf, "mount", "mnt_mountpoint", Ptr)?,
        vfsmount_mnt_root: field(btf, "vfsmount", "mnt_root", Ptr)?,
        bprm_file: field(btf, "linux_binprm", "file", Ptr)?,
        bprm_interp: field(btf, "linux_binprm", "interp", Ptr)?,
        inode_i_mode: field(btf, "inode", "i_mode", Bytes(2))?,
        inode_i_uid: field(btf, "inode", "i_uid", Bytes(4))?,
        inode_i_gid: field(btf, "inode", "i_gid", Bytes(4))?,
        vfsmount_mnt_flags: field(btf, "vfsmount", "mnt_flags", Bytes(4))?,
        task_fs: field(btf, "task_struct", "fs", Ptr)?,
        fs_struct_root: field(btf, "fs_struct", "root", Any)?,
        task_cred: field(btf, "task_struct", "cred", Ptr)?,
        cred_euid: field(btf, "cred", "euid", Bytes(4))?,
        cred_egid: field(btf, "cred", "egid", Bytes(4))?,
        vma_vm_start: field(btf, "vm_area_struct", "vm_start", Bytes(8))?,
        vma_vm_end: field(btf, "vm_area_struct", "vm_end", Bytes(8))?,
        vma_vm_flags: field(btf, "vm_area_struct", "vm_flags", Bytes(8))?,
        vma_vm_file: field(btf, "vm_area_struct", "vm_file", Ptr)?,
        socket_type: field(btf, "socket", "type", Bytes(2))?,
        socket_sk: field(btf, "socket", "sk", Ptr)?,
        sk_family: field(btf, "sock", "__sk_common.skc_family", Bytes(2))?,
        sk_num: field(btf, "sock", "__sk_common.skc_num", Bytes(2))?,
        sk_rcv_saddr: field(btf, "sock", "__sk_common.skc_rcv_saddr", Bytes(4))?,
        sk_v6_rcv_saddr: field(btf, "sock", "__sk_common.skc_v6_rcv_saddr", Bytes(16))?,
        sk_protocol: field(btf, "sock", "sk_protocol", Bytes(2))?,
    })
}

/// Where a cgroup keeps its ancestors' ids, on kernels that have
/// `cgroup.ancestor_ids` (up to 5.19); all zero on the others.
fn cgroup_ancestors(btf: &Btf) -> Result<KernelOffsets, OffsetsError> {
    use Want::{Bytes, Ptr};
    let Ok(ids) = btf.member("cgroup", "ancestor_ids") else {
        return Ok(KernelOffsets::ZERO);
    };
    let elem = btf.array_elem(ids.type_id).and_then(|e| btf.size_of(e));
    if elem != Some(8) {
        return Err(OffsetsError::Size {
            field: "cgroup.ancestor_ids[]".into(),
            want: 8,
            got: elem,
        });
    }
    Ok(KernelOffsets {
        task_cgroups: field(btf, "task_struct", "cgroups", Ptr)?,
        css_set_dfl_cgrp: field(btf, "css_set", "dfl_cgrp", Ptr)?,
        cgroup_level: field(btf, "cgroup", "level", Bytes(4))?,
        cgroup_ancestor_ids: ids.offset,
        ..KernelOffsets::ZERO
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_on_the_running_kernel() {
        // sysotel runs only on kernels with BTF, and so do its tests. The
        // running kernel is this build's architecture, except for an aarch64
        // build's unit tests under qemu-user on an x86_64 host: the kernel's
        // own registers are checked then, through the same code.
        let (btf, _) = load_kernel_btf(None).expect("the running kernel's BTF");
        let x86 = btf.member("pt_regs", "di").is_ok();
        let regs = if x86 {
            X86_64_ARG_REGS
        } else {
            AARCH64_ARG_REGS
        };
        if x86 == cfg!(target_arch = "x86_64") {
            resolve(&btf).expect("every field sysotel reads exists");
        }
        let o = resolve_with(&btf, &regs).expect("every field sysotel reads exists");
        // pt_regs has been stable for a decade on both: anchors for the parser.
        let (args, window) = if x86 {
            ([112, 104, 96, 56, 72, 64], 56)
        } else {
            ([0, 8, 16, 24, 32, 40], 0)
        };
        assert_eq!((o.regs_args, o.regs_window), (args, window));
        assert_eq!(o.upid_size, 16);
        assert!(o.task_tgid > 0 && o.task_pid + 4 == o.task_tgid);
    }
}
