//! Paths and files as the kernel holds them, for the LSM hooks: a `struct
//! path` walked dentry by dentry up to the root of its mount namespace,
//! crossing mounts, and the identity of a `struct file`.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel_str;
use exporter_common::records::{
    LsmFile, PATH_BLOCK, PATH_COMPONENTS_MAX, PATH_CUT, PATH_ELEM_MAX, PATH_FAULT, PATH_NAME_CUT,
};

use crate::{
    globals::off,
    kernel::{current_task, read_or_zero, read_ptr},
};

/// Writes the components of `path` (a `struct path *`), leaf first, each
/// NUL-terminated, into `dst`; returns the bytes used, the `PATH_*` flags
/// and the component count. The walk ends at the current task's root
/// directory (`fs->root`: the path as the task sees it, chroot and
/// container included, as `d_path` gives it), at the mount namespace's root
/// (a mount that is its own parent: a file outside the task's root), or
/// where a dentry is its own parent without being its mount's root (a
/// detached tree); it is cut after [`PATH_COMPONENTS_MAX`] components.
#[inline(always)]
pub fn resolve(path: *const u8, dst: &mut [u8; PATH_BLOCK]) -> (u16, u8, u8) {
    walk(
        read_ptr(path, off!(path_dentry)),
        read_ptr(path, off!(path_mnt)),
        dst,
    )
}

/// [`resolve`] for `dentry` on the mount `vfsmnt` (a `struct vfsmount *`):
/// a file named by a directory's `struct path` and its own dentry.
#[inline(always)]
pub fn walk(dentry: *const u8, vfsmnt: *const u8, dst: &mut [u8; PATH_BLOCK]) -> (u16, u8, u8) {
    let mut dentry = dentry;
    if dentry.is_null() || vfsmnt.is_null() {
        return (0, PATH_FAULT, 0);
    }
    let root = read_ptr(current_task(), off!(task_fs)).wrapping_add(off!(fs_struct_root));
    let root_dentry = read_ptr(root, off!(path_dentry));
    let root_mnt = read_ptr(root, off!(path_mnt));
    let mut mnt = vfsmnt.wrapping_sub(off!(mount_mnt));
    let mut mnt_root = read_ptr(vfsmnt, off!(vfsmount_mnt_root));
    let mut name_cut = false;
    let mut count = 0usize;
    let mut flags = PATH_CUT;
    // One component per step, each in its own slot: every write is at a
    // constant offset and every path through a step leaves the same state
    // behind (the mount crossings happen inside the step), so the verifier
    // follows the walk once, not once per mix of branches.
    for slot in 0..PATH_COMPONENTS_MAX {
        let mut done = false;
        // At the root of a mounted file system: go on from where it is
        // mounted (a few times: mounts stacked on one another).
        for _ in 0..MOUNTS_STACKED_MAX {
            if dentry == root_dentry && mnt.wrapping_add(off!(mount_mnt)) == root_mnt {
                done = true;
                break;
            }
            if dentry != mnt_root {
                break;
            }
            let mnt_parent = read_ptr(mnt, off!(mount_mnt_parent));
            if mnt_parent.is_null() || mnt_parent == mnt {
                // The root of the mount namespace.
                done = true;
                break;
            }
            dentry = read_ptr(mnt, off!(mount_mnt_mountpoint));
            mnt = mnt_parent;
            mnt_root = read_ptr(mnt.wrapping_add(off!(mount_mnt)), off!(vfsmount_mnt_root));
        }
        if done {
            flags = 0;
            break;
        }
        let parent = read_ptr(dentry, off!(dentry_d_parent));
        if parent.is_null() {
            flags = PATH_FAULT;
            break;
        }
        if parent == dentry {
            // A file system's root that is no mount's root here: a
            // detached tree; what was walked is all there is.
            flags = 0;
            break;
        }
        let name = read_ptr(dentry, off!(dentry_d_name_name));
        // SAFETY: slot `slot` of `dst` (PATH_COMPONENTS_MAX slots of
        // PATH_ELEM_MAX bytes); the helper checks the kernel address.
        let n = unsafe {
            bpf_probe_read_kernel_str(
                dst.as_mut_ptr().add(slot * PATH_ELEM_MAX) as *mut _,
                PATH_ELEM_MAX as u32,
                name as *const _,
            )
        };
        if n <= 0 {
            flags = PATH_FAULT;
            break;
        }
        if n as usize >= PATH_ELEM_MAX {
            name_cut = true;
        }
        count = slot + 1;
        dentry = parent;
    }
    if name_cut {
        flags |= PATH_NAME_CUT;
    }
    ((count * PATH_ELEM_MAX) as u16, flags, count as u8)
}

/// Mount crossings followed within one step of the walk.
const MOUNTS_STACKED_MAX: usize = 4;

/// What an LSM record says of `file` (a `struct file *`), its path in `dst`.
#[inline(always)]
pub fn file(file: *const u8, out: &mut LsmFile, dst: &mut [u8; PATH_BLOCK]) {
    let inode = read_ptr(file, off!(file_f_inode));
    out.ino = read_or_zero::<u64>(inode, off!(inode_i_ino));
    let sb = read_ptr(inode, off!(inode_i_sb));
    out.dev = read_or_zero::<u32>(sb, off!(sb_s_dev));
    out.flags = read_or_zero::<u32>(file, off!(file_f_flags));
    out.mode = read_or_zero::<u32>(file, off!(file_f_mode));
    let (len, flags, count) = if file.is_null() {
        (0, PATH_FAULT, 0)
    } else {
        resolve(file.wrapping_add(off!(file_f_path)), dst)
    };
    out.path_len = len;
    out.path_flags = flags;
    out.path_count = count;
}
