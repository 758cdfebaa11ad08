//! The `exe` scope terms, decided in user space: the kernel cannot read a
//! path here.

use std::collections::HashMap;

use exporter_common::events::EventKind;

use super::Scope;
use crate::{
    base::words::glob,
    event::{Event, Value},
};

/// Whether an executable is in scope of `exe` terms (true without any).
pub(super) fn exe_matches(terms: &[(String, bool)], exe: Option<&str>) -> bool {
    if terms.is_empty() {
        return true;
    }
    let Some(exe) = exe else { return false };
    let mut has_inc = false;
    let mut inc = false;
    for (pattern, exclude) in terms {
        let hit = glob(pattern, exe);
        if *exclude {
            if hit {
                return false;
            }
        } else {
            has_inc = true;
            inc |= hit;
        }
    }
    inc || !has_inc
}

/// The `exe` terms, decided in user space. Each process's executable is
/// known from the start for every running process (`/proc/PID/exe`), then
/// kept by following the kernel's records: a new process has its parent's
/// executable, an exec sets the file the kernel executed, an exit forgets it.
/// A process's events are often read after it is gone, so the executable
/// cannot be looked up then.
pub struct ExeFilter {
    terms: Vec<(String, bool)>,
    by_pid: HashMap<u32, Option<String>>,
}

/// Processes remembered; past this the cache starts over.
const EXE_CACHE_MAX: usize = 65_536;

fn proc_exe(pid: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

impl ExeFilter {
    /// None when the scope has no `exe` terms.
    pub fn new(scope: &Scope) -> Option<ExeFilter> {
        if scope.exe.is_empty() {
            return None;
        }
        let mut f = ExeFilter {
            terms: scope.exe.clone(),
            by_pid: Default::default(),
        };
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for pid in dir
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
            {
                f.by_pid.insert(pid, proc_exe(pid));
            }
        }
        Some(f)
    }

    /// Follows a record (every record, selected or not: with `exe` terms the
    /// kernel writes every process life-cycle record) and tells whether its
    /// process is in scope.
    pub fn keep(&mut self, e: &Event) -> bool {
        if self.by_pid.len() >= EXE_CACHE_MAX {
            self.by_pid.clear();
        }
        let pid = e.ctx.pid;
        if e.id == EventKind::ProcessExec.id() {
            // The kernel's file name; a relative one is asked of the process.
            let exe = match e.arg("filename") {
                Some(Value::Str { value, .. }) if value.starts_with('/') => Some(value.clone()),
                _ => proc_exe(pid),
            };
            self.by_pid.insert(pid, exe);
        } else if e.id == EventKind::ProcessFork.id()
            && let Some(Value::Int(child)) = e.arg("child_pid")
            && *child as u32 != pid
        {
            let exe = exe_of(&mut self.by_pid, pid).map(str::to_string);
            self.by_pid.insert(*child as u32, exe);
        }
        let keep = exe_matches(&self.terms, exe_of(&mut self.by_pid, pid));
        if e.id == EventKind::ProcessExit.id() && e.ctx.tid == pid {
            self.by_pid.remove(&pid);
        }
        keep
    }
}

/// The cached executable of `pid`, read from /proc the first time.
fn exe_of(by_pid: &mut HashMap<u32, Option<String>>, pid: u32) -> Option<&str> {
    by_pid
        .entry(pid)
        .or_insert_with(|| proc_exe(pid))
        .as_deref()
}
