//! Joins the kernel's own view of an exec into the `execve`/`execveat` event.
//!
//! At entry the syscall's filename and argv are read from the caller's memory:
//! pages may not be faulted in yet, and the caller can still change them. The
//! `sched_process_exec` record, written just before the same thread's
//! `sys_exit`, holds what the kernel actually executed, read from the new
//! process. A successful execve takes its filename, argv and envp from there; a
//! failed one keeps what could be read at entry.

use std::collections::HashMap;

use exporter_common::events::EventKind;

use crate::event::{
    Category, Event, Value,
    catalog::{self, Role},
};

/// Execs waiting for their syscall's exit; more than this many means their
/// exits are not traced (execve not selected), so the oldest are forgotten.
const PENDING_MAX: usize = 4096;

#[derive(Default)]
pub struct ExecJoin {
    pending: HashMap<u32, [Value; 3]>,
}

impl ExecJoin {
    /// Remembers an exec's kernel view, or fills an execve event from it.
    pub fn apply(&mut self, e: &mut Event) {
        if e.id == EventKind::ProcessExec.id() {
            let field = |name| e.arg(name).cloned().unwrap_or(Value::Unreadable(0));
            if self.pending.len() >= PENDING_MAX {
                self.pending.clear();
            }
            self.pending
                .insert(e.ctx.tid, [field("filename"), field("argv"), field("envp")]);
            return;
        }
        let exec_syscall = e.category == Category::Syscall
            && catalog::info(e.id).is_some_and(|i| i.role == Role::Exec);
        if !exec_syscall {
            return;
        }
        // Only a successful exec has a kernel view; a failed one drops nothing
        // here because no exec record was written for it.
        if e.ret != 0 {
            return;
        }
        let Some([filename, argv, envp]) = self.pending.remove(&e.ctx.tid) else {
            return;
        };
        for a in e.args.iter_mut() {
            match a.name {
                "filename" => a.value = filename.clone(),
                "argv" => a.value = argv.clone(),
                "envp" => a.value = envp.clone(),
                _ => {}
            }
        }
    }
}
