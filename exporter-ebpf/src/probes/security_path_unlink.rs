//! LSM `path_unlink`: `int security_path_unlink(const struct path *dir,
//! struct dentry *dentry)` (security/security.c): a file is about to be
//! removed from `dir`. The path hooks (which the kernel calls for the same
//! operations as the inode hooks) carry the mount, so the path is whole.

use exporter_common::events::EventKind;

use crate::{
    globals::off,
    kernel::read_ptr,
    lsm_hook::{HookArgs, begin_paths, lsm_programs, path_at, send_paths},
};

lsm_programs!(
    lsm_path_unlink,
    fentry_path_unlink,
    "path_unlink",
    "security_path_unlink",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::PathUnlink;
    let Some(buf) = begin_paths(e) else { return };
    path_at::<0>(buf, ctx.ptr(1), read_ptr(ctx.ptr(0), off!(path_mnt)));
    send_paths(e, buf);
}
