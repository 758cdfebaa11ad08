//! LSM `sb_mount`: `int security_sb_mount(const char *dev_name, const struct
//! path *path, const char *type, unsigned long flags, void *data)`
//! (security/security.c): the strings are the kernel's copies.

use exporter_common::events::EventKind;

use crate::{
    globals::off,
    kernel::read_ptr,
    lsm_hook::{HookArgs, begin_paths, lsm_programs, path_at, send_paths, str_at},
};

lsm_programs!(
    lsm_sb_mount,
    fentry_sb_mount,
    "sb_mount",
    "security_sb_mount",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::SbMount;
    let Some(buf) = begin_paths(e) else { return };
    str_at::<0>(buf, ctx.ptr(0));
    let path = ctx.ptr(1);
    path_at::<0>(
        buf,
        read_ptr(path, off!(path_dentry)),
        read_ptr(path, off!(path_mnt)),
    );
    str_at::<1>(buf, ctx.ptr(2));
    buf.rec.data.ints[0] = ctx.int(3);
    send_paths(e, buf);
}
