//! LSM `kernel_read_file`: `int security_kernel_read_file(struct file
//! *file, enum kernel_read_file_id id, bool contents)` (security/security.c):
//! the kernel is about to read a file to load it (finit_module, firmware,
//! kexec_file_load, policies).

use exporter_common::events::EventKind;

use crate::{
    globals::off,
    kernel::read_ptr,
    lsm_hook::{HookArgs, begin_paths, lsm_programs, path_at, send_paths},
};

lsm_programs!(
    lsm_kernel_read_file,
    fentry_kernel_read_file,
    "kernel_read_file",
    "security_kernel_read_file",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::KernelReadFile;
    let Some(buf) = begin_paths(e) else { return };
    let path = ctx.ptr(0).wrapping_add(off!(file_f_path));
    path_at::<0>(
        buf,
        read_ptr(path, off!(path_dentry)),
        read_ptr(path, off!(path_mnt)),
    );
    buf.rec.data.ints[0] = ctx.int(1) as u32 as u64;
    send_paths(e, buf);
}
