//! Process life-cycle events (`sched:*` tracepoints) and their fields.

use exporter_common::events::SchedEvent;

use super::FieldDef;

const FORK: &[FieldDef] = &[
    FieldDef {
        name: "child_pid",
        description: "thread-group id of the new task (the parent's for a new thread)",
    },
    FieldDef {
        name: "child_tid",
        description: "thread id of the new task",
    },
];

const EXEC: &[FieldDef] = &[
    FieldDef {
        name: "filename",
        description: "the file the kernel executed (linux_binprm)",
    },
    FieldDef {
        name: "argv",
        description: "arguments as the new process sees them",
    },
    FieldDef {
        name: "argc",
        description: "argument count (linux_binprm)",
    },
    FieldDef {
        name: "envp",
        description: "environment as the new process sees it",
    },
    FieldDef {
        name: "envc",
        description: "environment count (linux_binprm)",
    },
    FieldDef {
        name: "old_tid",
        description: "thread id before exec, when a non-leader thread exec'd",
    },
];

const EXIT: &[FieldDef] = &[
    FieldDef {
        name: "exit_code",
        description: "exit status (0-255), when the task exited normally",
    },
    FieldDef {
        name: "signal",
        description: "the signal that terminated the task, 0 if none",
    },
    FieldDef {
        name: "core_dumped",
        description: "a core dump was written",
    },
    FieldDef {
        name: "group_dead",
        description: "this was the process's last thread",
    },
];

/// The fields of a scheduler event, in the order the decoder emits them.
pub const fn fields(e: SchedEvent) -> &'static [FieldDef] {
    match e {
        SchedEvent::ProcessFork => FORK,
        SchedEvent::ProcessExec => EXEC,
        SchedEvent::ProcessExit => EXIT,
    }
}
