//! LSM `file_mprotect`: `int security_file_mprotect(struct vm_area_struct
//! *vma, unsigned long reqprot, unsigned long prot)` (security/security.c).
//! Recorded when the mapping becomes executable: PROT_EXEC asked for on a
//! mapping without VM_EXEC (every other mprotect, such as the loader's
//! read-only relocations, is not written).

use exporter_common::events::EventKind;

use crate::{
    globals::off,
    kernel::{read_or_zero, read_ptr},
    lsm_hook::{HookArgs, begin, lsm_programs, send},
};

/// `PROT_EXEC` (include/uapi/asm-generic/mman-common.h), `VM_EXEC`
/// (include/linux/mm.h).
const PROT_EXEC: u64 = 0x4;
const VM_EXEC: u64 = 0x4;

lsm_programs!(
    lsm_file_mprotect,
    fentry_file_mprotect,
    "file_mprotect",
    "security_file_mprotect",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::FileMprotect;
    let vma = ctx.ptr(0);
    let (reqprot, prot) = (ctx.int(1), ctx.int(2));
    if (reqprot | prot) & PROT_EXEC == 0
        || read_or_zero::<u64>(vma, off!(vma_vm_flags)) & VM_EXEC != 0
    {
        return;
    }
    let Some(buf) = begin(e) else { return };
    let d = &mut buf.rec.data;
    d.ints[0] = read_or_zero::<u64>(vma, off!(vma_vm_start));
    d.ints[1] = read_or_zero::<u64>(vma, off!(vma_vm_end));
    d.ints[2] = reqprot;
    d.ints[3] = prot;
    d.ints[4] = u64::from(read_ptr(vma, off!(vma_vm_file)).is_null());
    send(e, buf);
}
