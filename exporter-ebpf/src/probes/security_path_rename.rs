//! LSM `path_rename`: `int security_path_rename(const struct path *old_dir,
//! struct dentry *old_dentry, const struct path *new_dir, struct dentry
//! *new_dentry, unsigned int flags)` (security/security.c): a file is about
//! to be renamed or moved.

use exporter_common::events::EventKind;

use crate::{
    globals::off,
    kernel::read_ptr,
    lsm_hook::{HookArgs, begin_paths, lsm_programs, path_at, send_paths},
};

lsm_programs!(
    lsm_path_rename,
    fentry_path_rename,
    "path_rename",
    "security_path_rename",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::PathRename;
    let Some(buf) = begin_paths(e) else { return };
    path_at::<0>(buf, ctx.ptr(1), read_ptr(ctx.ptr(0), off!(path_mnt)));
    path_at::<1>(buf, ctx.ptr(3), read_ptr(ctx.ptr(2), off!(path_mnt)));
    buf.rec.data.ints[0] = ctx.int(4) as u32 as u64;
    send_paths(e, buf);
}
