//! Which processes are traced, decided before anything is reserved.

use exporter_common::config::KernelError;

use crate::{emit::count_error, globals, maps::TRACED};

/// True when thread group `tgid` is traced.
#[inline(always)]
pub fn in_scope(tgid: u32) -> bool {
    if tgid == globals::self_tgid() {
        return false;
    }
    if globals::scope_all() {
        return true;
    }
    unsafe { TRACED.get(tgid).is_some() }
}

/// A new process was created: in the default scope every process created after
/// start-up is traced, so it joins unless its parent is sysotel itself.
#[inline(always)]
pub fn on_new_process(parent_tgid: u32, child_tgid: u32) {
    if parent_tgid == globals::self_tgid() || globals::scope_all() {
        return;
    }
    // A full map leaves the process untraced: counted, and reported by user space.
    if TRACED.insert(child_tgid, 1, 0).is_err() {
        count_error(KernelError::TracedFull);
    }
}

/// The last thread of `tgid` is gone.
#[inline(always)]
pub fn on_process_gone(tgid: u32) {
    let _ = TRACED.remove(tgid);
}
