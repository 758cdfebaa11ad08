//! LSM `bprm_check_security`: `int security_bprm_check(struct linux_binprm
//! *bprm)` (security/security.c), called by exec for each binary handler
//! tried (a `#!` script, then its interpreter): a BPF LSM program where the
//! kernel runs them, else fentry on `security_bprm_check`. Observation
//! only: it always allows.
//!
//! The file and names are the kernel's own: `bprm->file` (opened by exec),
//! `bprm->filename` (copied from the caller's memory by exec itself). From
//! 5.8 on the new credentials are computed after this hook
//! (`begin_new_exec`), so set-user-id and set-group-id are read from the
//! file as the kernel will apply them.

use aya_ebpf::{
    macros::{fentry, lsm},
    programs::{FEntryContext, LsmContext},
};
use exporter_common::{
    events::EventKind,
    records::{
        BPRM_FILENAME_TRUNCATED, BPRM_INTERP_TRUNCATED, BPRM_SETGID, BPRM_SETUID, BprmCheckRecord,
        EXEC_FILENAME_MAX, PATH_BLOCK, RecordHeader, RecordKind,
    },
};

use crate::{
    context,
    emit::{output, scratch},
    globals::off,
    kernel::{current_task, read_or_zero, read_ptr, read_str},
    maps::BPRM_SCRATCH,
    path,
};

/// `S_ISUID`, `S_ISGID`, `S_IXGRP` (include/uapi/linux/stat.h).
const S_ISUID: u16 = 0o4000;
const S_ISGID: u16 = 0o2000;
const S_IXGRP: u16 = 0o0010;
/// `MNT_NOSUID` (include/linux/mount.h).
const MNT_NOSUID: u32 = 0x02;

// Inlined into the entry point the macro wraps around it: as a
// subprogram taking the context by value, 5.10 and 6.1 refuse it ("reg
// type unsupported for arg#0").
#[lsm(hook = "bprm_check_security")]
#[inline(always)]
pub fn lsm_bprm_check(ctx: LsmContext) -> i32 {
    record(ctx.arg(0));
    0
}

#[fentry(function = "security_bprm_check")]
#[inline(always)]
pub fn fentry_bprm_check(ctx: FEntryContext) -> i32 {
    record(ctx.arg(0));
    0
}

#[inline(always)]
fn record(bprm: *const u8) {
    let e = EventKind::BprmCheck;
    let Some(buf) = scratch(e, &BPRM_SCRATCH) else {
        return;
    };
    context::fill(&mut buf.rec.ctx);
    let file = read_ptr(bprm, off!(bprm_file));
    path::file(file, &mut buf.rec.data.file, &mut buf.path);
    let mut flags = 0;
    let filename = read_ptr(bprm, off!(bprm_filename));
    let (flen, cut, _) = read_str(filename, &mut buf.filename);
    if cut {
        flags |= BPRM_FILENAME_TRUNCATED;
    }
    let interp = read_ptr(bprm, off!(bprm_interp));
    let mut ilen = 0;
    if interp != filename {
        let (l, cut, _) = read_str(interp, &mut buf.interp);
        ilen = l;
        if cut {
            flags |= BPRM_INTERP_TRUNCATED;
        }
    }
    // Set-id as exec will apply it (bprm_fill_uid): the file's mode and
    // owner, unless its mount is nosuid.
    let inode = read_ptr(file, off!(file_f_inode));
    let mode = read_or_zero::<u16>(inode, off!(inode_i_mode));
    let vfsmnt = read_ptr(file.wrapping_add(off!(file_f_path)), off!(path_mnt));
    let nosuid = read_or_zero::<u32>(vfsmnt, off!(vfsmount_mnt_flags)) & MNT_NOSUID != 0;
    let cred = read_ptr(current_task(), off!(task_cred));
    if !nosuid && mode & S_ISUID != 0 {
        let owner = read_or_zero::<u32>(inode, off!(inode_i_uid));
        if !cred.is_null() && read_or_zero::<u32>(cred, off!(cred_euid)) != owner {
            flags |= BPRM_SETUID;
        }
    }
    if !nosuid && mode & S_ISGID != 0 && mode & S_IXGRP != 0 {
        let group = read_or_zero::<u32>(inode, off!(inode_i_gid));
        if !cred.is_null() && read_or_zero::<u32>(cred, off!(cred_egid)) != group {
            flags |= BPRM_SETGID;
        }
    }
    let d = &mut buf.rec.data;
    d.argc = read_or_zero::<u32>(bprm, off!(bprm_argc));
    d.flags = flags;
    d.filename_len = flen;
    d.interp_len = ilen;
    // Path block, file name and interpreter slots whole (fixed places).
    let len = core::mem::size_of::<BprmCheckRecord>() + PATH_BLOCK + 2 * EXEC_FILENAME_MAX;
    buf.rec.header = RecordHeader::new(RecordKind::BprmCheck, e.id(), len);
    output(e.id(), buf, len);
}
