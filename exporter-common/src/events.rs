//! Every event sysotel emits, declared once.
//!
//! Syscall events are the generated table in [`crate::syscalls`] (their id is
//! the syscall number). Every other event is declared below, in one place: its
//! stable id, name, category, where it comes from (the record type and the
//! eBPF program that writes it, or sysotel itself), its fields, severity,
//! Elastic Common Schema classification, role in the OpenTelemetry mapping and
//! `-e` sets. The [`EventKind`] enum, its `ALL` list and `from_id` are made from
//! that declaration; user space reads everything else from [`EventKind::def`]
//! (decode dispatch, `sysotel list`, sets, filters, OTLP and ECS, the loader's
//! program list), or matches on [`EventKind`] exhaustively so that an event
//! not wired everywhere stops the build.
//!
//! Ids never change once released: dashboards and SIEM rules key on the names
//! derived from them. Each category has its own range, so a new syscall can
//! never collide with another event.

use crate::{records::RecordKind, syscalls::ArgKind};

/// An event id as it crosses the ring buffer.
pub type EventId = u32;

/// Syscall numbers occupy `0..SYSCALL_ID_LIMIT`.
pub const SYSCALL_ID_LIMIT: u32 = 512;
/// First id of the process life-cycle (scheduler) events.
pub const SCHED_ID_BASE: u32 = 1000;
/// First id of the LSM hook events.
pub const LSM_ID_BASE: u32 = 1100;
/// First id of the detections: records the kernel writes when what it saw
/// contradicts what a program claimed.
pub const DETECTION_ID_BASE: u32 = 1180;
/// sysotel's own records (loss reports), never written by the kernel.
pub const INTERNAL_ID_BASE: u32 = 1190;
/// Size of every per-event-id counter array in the kernel.
pub const EVENT_ID_LIMIT: u32 = 1200;
/// Kernel events other than syscalls have ids in
/// `SCHED_ID_BASE..INTERNAL_ID_BASE`: one selection byte each.
pub const KERNEL_EVENT_SLOTS: usize = (INTERNAL_ID_BASE - SCHED_ID_BASE) as usize;

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// A completed system call.
    Syscall,
    /// The process life cycle (`sched:*` tracepoints).
    Sched,
    /// Linux Security Module hooks: the kernel's own view of what is done.
    Lsm,
    /// A contradiction between two views of one action (`sysotel.exec.mismatch`).
    Detection,
    /// sysotel's own reports (`sysotel.loss`), made in user space.
    Internal,
}

impl Category {
    pub const fn name(self) -> &'static str {
        match self {
            Category::Syscall => "syscall",
            Category::Sched => "sched",
            Category::Lsm => "lsm",
            Category::Detection => "detection",
            Category::Internal => "internal",
        }
    }

    /// The OpenTelemetry `EventName` prefix of the category's events (the
    /// name of a detection or an internal event is complete as it is:
    /// `sysotel.exec.mismatch`, `sysotel.loss`).
    pub const fn event_prefix(self) -> &'static str {
        match self {
            Category::Syscall => "sysotel.syscall.",
            Category::Sched => "sysotel.sched.",
            Category::Lsm => "sysotel.lsm.",
            Category::Detection | Category::Internal => "",
        }
    }
}

/// The OpenTelemetry severity of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Trace events.
    Info,
    /// Loss reports and detections.
    Warn,
}

impl Severity {
    /// `SeverityNumber`.
    pub const fn number(self) -> i32 {
        match self {
            Severity::Info => 9,
            Severity::Warn => 13,
        }
    }

    /// `SeverityText`.
    pub const fn text(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
        }
    }
}

/// The Elastic Common Schema classification of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ecs {
    /// `event.kind`.
    pub kind: &'static str,
    /// `event.category`.
    pub category: &'static [&'static str],
    /// `event.type`.
    pub types: &'static [&'static str],
}

/// How a declared field's value reads, for the outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A signed integer.
    Int,
    /// An address, shown in hex.
    Hex,
    /// A flag set or enumeration, named as the syscall argument of this
    /// kind is (`SIGUSR1`, `PROT_READ|PROT_EXEC`).
    Sym(ArgKind),
    Bool,
    /// Text (the kernel's copy of a string).
    Str,
    /// The path of the file the event is about (OpenTelemetry `file.path`).
    Path,
    /// Strings (argv, envp).
    StrList,
    /// A socket address (OpenTelemetry `network.peer.*`).
    SockAddr,
}

/// One field of a declared event, in the order its decoder emits it.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    pub description: &'static str,
}

/// The part an event plays in the OpenTelemetry mapping beyond its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Plain,
    /// A program was executed: its `filename` and `argv` are the process's
    /// executable and command line (`process.executable.*`,
    /// `process.command_args`, `process.args_count`).
    Exec,
    /// A process ended: its `exit_code` is `process.exit.code`.
    Exit,
    /// A detection: the rule it comes from is `security_rule.*`.
    Detection(Rule),
}

/// The rule behind a detection (OpenTelemetry `security_rule.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `security_rule.name`.
    pub name: &'static str,
    /// `security_rule.category`.
    pub category: &'static str,
    /// `security_rule.description`.
    pub description: &'static str,
}

/// Where an eBPF program attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// A raw (BTF-typed) tracepoint, by name: needs no tracefs.
    RawTracepoint(&'static str),
    /// An LSM hook: the BPF LSM program `name` on `hook` where the kernel
    /// runs BPF LSM programs, else the fentry program `fentry` on the
    /// kernel function `function` that calls the hook (same arguments).
    Lsm {
        hook: &'static str,
        function: &'static str,
        fentry: &'static str,
    },
}

/// One eBPF program: its name in the object and where it attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Program {
    pub name: &'static str,
    pub attach: Attach,
}

/// The two programs every syscall event comes from: entry captures the
/// arguments, exit writes the record with the return value.
pub const SYSCALL_PROGRAMS: [Program; 2] = [
    Program {
        name: "sys_enter",
        attach: Attach::RawTracepoint("sys_enter"),
    },
    Program {
        name: "sys_exit",
        attach: Attach::RawTracepoint("sys_exit"),
    },
];

/// Where an event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Written by an eBPF program into the ring buffer as a record of `record`'s kind.
    Kernel {
        record: RecordKind,
        program: Program,
    },
    /// Made by sysotel in user space.
    User,
}

/// One declared event.
#[derive(Clone, Copy, Debug)]
pub struct EventDef {
    pub id: EventId,
    /// The short name the table shows (`sysotel.event.name`).
    pub name: &'static str,
    pub category: Category,
    pub source: Source,
    pub fields: &'static [FieldDef],
    pub severity: Severity,
    pub ecs: Ecs,
    pub role: Role,
    /// The `-e` sets it belongs to (besides `default`).
    pub sets: &'static [&'static str],
}

const fn field(name: &'static str, kind: FieldKind, description: &'static str) -> FieldDef {
    FieldDef {
        name,
        kind,
        description,
    }
}

const fn raw_tracepoint(name: &'static str, record: RecordKind) -> Source {
    Source::Kernel {
        record,
        program: Program {
            name,
            attach: Attach::RawTracepoint(name),
        },
    }
}

/// Makes [`EventKind`] from the declarations: one variant per event with its
/// id as discriminant, `ALL`, `from_id` and `def`.
macro_rules! declare_events {
    ($( $(#[$doc:meta])* $variant:ident = $id:expr => { $($def:tt)* } )*) => {
        /// Every declared event (syscalls aside).
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $( $(#[$doc])* $variant = $id, )*
        }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            pub const fn id(self) -> EventId {
                self as u32
            }

            pub const fn from_id(id: EventId) -> Option<EventKind> {
                match id {
                    $( x if x == $id => Some(EventKind::$variant), )*
                    _ => None,
                }
            }

            /// The declaration.
            pub const fn def(self) -> &'static EventDef {
                match self {
                    $( EventKind::$variant => {
                        const DEF: EventDef = EventDef { id: $id, $($def)* };
                        &DEF
                    } )*
                }
            }
        }
    };
}

/// An LSM hook event: program `lsm_<hook>` on `hook`, or `fentry_<hook>`
/// on `function`.
const fn lsm(
    name: &'static str,
    hook: &'static str,
    function: &'static str,
    fentry: &'static str,
    record: RecordKind,
) -> Source {
    Source::Kernel {
        record,
        program: Program {
            name,
            attach: Attach::Lsm {
                hook,
                function,
                fentry,
            },
        },
    }
}

/// The fields an LSM file hook reads from `struct file`.
macro_rules! lsm_file_fields {
    () => {
        [
            field(
                "path",
                FieldKind::Path,
                "the file's path as the kernel resolved it, from the root of its mount namespace",
            ),
            field(
                "dev",
                FieldKind::Int,
                "the file system's device (the kernel's dev_t: major << 20 | minor)",
            ),
            field("ino", FieldKind::Int, "the file's inode number"),
            field("flags", FieldKind::Int, "file->f_flags (O_*)"),
            field("mode", FieldKind::Int, "file->f_mode (FMODE_*)"),
        ]
    };
}

/// The fields of an LSM socket hook: the socket's family, type and
/// protocol, and an address (`addr` describes which).
macro_rules! lsm_socket_fields {
    ($name:literal, $addr:literal) => {
        [
            field(
                "family",
                FieldKind::Sym(ArgKind::SocketDomain),
                "the socket's address family",
            ),
            field(
                "type",
                FieldKind::Sym(ArgKind::SocketType),
                "the socket's type",
            ),
            field(
                "protocol",
                FieldKind::Sym(ArgKind::SocketProtocol),
                "the socket's protocol",
            ),
            field($name, FieldKind::SockAddr, $addr),
        ]
    };
}

const PROCESS_START: Ecs = Ecs {
    kind: "event",
    category: &["process"],
    types: &["start"],
};

declare_events! {
    /// `sched:sched_process_fork`: a new task, process or thread.
    ProcessFork = SCHED_ID_BASE => {
        name: "sched_process_fork",
        category: Category::Sched,
        source: raw_tracepoint("sched_process_fork", RecordKind::Fork),
        fields: &[
            field("child_pid", FieldKind::Int, "thread-group id of the new task (the parent's for a new thread)"),
            field("child_tid", FieldKind::Int, "thread id of the new task"),
        ],
        severity: Severity::Info,
        ecs: PROCESS_START,
        role: Role::Plain,
        sets: &["proc"],
    }
    /// `sched:sched_process_exec`: a successful exec, in the new image.
    ProcessExec = SCHED_ID_BASE + 1 => {
        name: "sched_process_exec",
        category: Category::Sched,
        source: raw_tracepoint("sched_process_exec", RecordKind::Exec),
        fields: &[
            field("filename", FieldKind::Str, "the file the kernel executed (linux_binprm)"),
            field("argv", FieldKind::StrList, "arguments as the new process sees them"),
            field("argc", FieldKind::Int, "argument count (linux_binprm)"),
            field("envp", FieldKind::StrList, "environment as the new process sees it"),
            field("envc", FieldKind::Int, "environment count (linux_binprm)"),
            field("old_tid", FieldKind::Int, "thread id before exec, when a non-leader thread exec'd"),
        ],
        severity: Severity::Info,
        ecs: PROCESS_START,
        role: Role::Exec,
        sets: &["proc"],
    }
    /// `sched:sched_process_exit`: a thread exits.
    ProcessExit = SCHED_ID_BASE + 2 => {
        name: "sched_process_exit",
        category: Category::Sched,
        source: raw_tracepoint("sched_process_exit", RecordKind::Exit),
        fields: &[
            field("exit_code", FieldKind::Int, "exit status (0-255), when the task exited normally"),
            field("signal", FieldKind::Int, "the signal that terminated the task, 0 if none"),
            field("core_dumped", FieldKind::Bool, "a core dump was written"),
            field("group_dead", FieldKind::Bool, "this was the process's last thread"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["process"], types: &["end"] },
        role: Role::Exit,
        sets: &["proc"],
    }
    /// `security_bprm_check`: a file is about to be executed (once per
    /// binary handler: a `#!` script, then its interpreter).
    BprmCheck = LSM_ID_BASE => {
        name: "security_bprm_check",
        category: Category::Lsm,
        source: lsm("lsm_bprm_check", "bprm_check_security", "security_bprm_check", "fentry_bprm_check", RecordKind::BprmCheck),
        fields: &{
            let f = lsm_file_fields!();
            [
                f[0], f[1], f[2], f[3], f[4],
                field("filename", FieldKind::Str, "the name exec was called with, as the kernel copied it (linux_binprm)"),
                field("interp", FieldKind::Str, "the file the binary handler runs, when it differs from filename (#! scripts, binfmt_misc)"),
                field("argc", FieldKind::Int, "argument count (linux_binprm)"),
                field("setuid", FieldKind::Bool, "the file is set-user-id to another user than the caller's effective one, on a mount that honours it"),
                field("setgid", FieldKind::Bool, "the file is set-group-id (and group-executable) to another group than the caller's effective one, on a mount that honours it"),
            ]
        },
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["process"], types: &["start"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_file_open`: a file is opened.
    FileOpen = LSM_ID_BASE + 1 => {
        name: "security_file_open",
        category: Category::Lsm,
        source: lsm("lsm_file_open", "file_open", "security_file_open", "fentry_file_open", RecordKind::FileOpen),
        fields: &lsm_file_fields!(),
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["file"], types: &["access"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_task_kill`: a signal is sent to a task.
    TaskKill = LSM_ID_BASE + 2 => {
        name: "security_task_kill",
        category: Category::Lsm,
        source: lsm("lsm_task_kill", "task_kill", "security_task_kill", "fentry_task_kill", RecordKind::LsmHook),
        fields: &[
            field("target_pid", FieldKind::Int, "the process the signal is sent to (its thread-group id)"),
            field("target_tid", FieldKind::Int, "the thread the signal is sent to"),
            field("signal", FieldKind::Sym(ArgKind::Signal), "the signal (0: a check that the target exists)"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["process"], types: &["info"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_ptrace_access_check`: a task asks to trace or inspect another.
    PtraceAccessCheck = LSM_ID_BASE + 3 => {
        name: "security_ptrace_access_check",
        category: Category::Lsm,
        source: lsm("lsm_ptrace_access_check", "ptrace_access_check", "security_ptrace_access_check", "fentry_ptrace_access_check", RecordKind::LsmHook),
        fields: &[
            field("target_pid", FieldKind::Int, "the process to be traced or inspected (its thread-group id)"),
            field("target_tid", FieldKind::Int, "the thread to be traced or inspected"),
            field("mode", FieldKind::Sym(ArgKind::PtraceMode), "PTRACE_MODE_* (ATTACH for ptrace, READ for /proc inspection)"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["process"], types: &["access"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_file_mprotect`: a mapping becomes executable.
    FileMprotect = LSM_ID_BASE + 4 => {
        name: "security_file_mprotect",
        category: Category::Lsm,
        source: lsm("lsm_file_mprotect", "file_mprotect", "security_file_mprotect", "fentry_file_mprotect", RecordKind::LsmHook),
        fields: &[
            field("start", FieldKind::Hex, "the mapping's first address (vm_start)"),
            field("end", FieldKind::Hex, "the address after the mapping (vm_end)"),
            field("reqprot", FieldKind::Sym(ArgKind::MmapProt), "the protection asked for"),
            field("prot", FieldKind::Sym(ArgKind::MmapProt), "the protection the kernel will apply"),
            field("anonymous", FieldKind::Bool, "the mapping has no file (heap, stack, anonymous memory)"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["process"], types: &["change"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_bpf`: a bpf() command.
    Bpf = LSM_ID_BASE + 5 => {
        name: "security_bpf",
        category: Category::Lsm,
        source: lsm("lsm_bpf", "bpf", "security_bpf", "fentry_bpf", RecordKind::LsmHook),
        fields: &[
            field("cmd", FieldKind::Sym(ArgKind::BpfCmd), "the bpf() command"),
            field("size", FieldKind::Int, "the size of its attributes"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["driver"], types: &["info"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_socket_connect`: a socket connects.
    SocketConnect = LSM_ID_BASE + 6 => {
        name: "security_socket_connect",
        category: Category::Lsm,
        source: lsm("lsm_socket_connect", "socket_connect", "security_socket_connect", "fentry_socket_connect", RecordKind::LsmHook),
        fields: &lsm_socket_fields!("addr", "the address connected to (the kernel's copy; OpenTelemetry network.peer.*)"),
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["network"], types: &["connection", "start"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_socket_bind`: a socket is bound to an address.
    SocketBind = LSM_ID_BASE + 7 => {
        name: "security_socket_bind",
        category: Category::Lsm,
        source: lsm("lsm_socket_bind", "socket_bind", "security_socket_bind", "fentry_socket_bind", RecordKind::LsmHook),
        fields: &lsm_socket_fields!("local_addr", "the address bound (the kernel's copy; OpenTelemetry network.local.*)"),
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["network"], types: &["info"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_socket_listen`: a socket starts listening.
    SocketListen = LSM_ID_BASE + 8 => {
        name: "security_socket_listen",
        category: Category::Lsm,
        source: lsm("lsm_socket_listen", "socket_listen", "security_socket_listen", "fentry_socket_listen", RecordKind::LsmHook),
        fields: &{
            let f = lsm_socket_fields!("local_addr", "the address it listens on (IPv4 and IPv6: the socket's local address; OpenTelemetry network.local.*)");
            [f[0], f[1], f[2], field("backlog", FieldKind::Int, "the backlog asked for"), f[3]]
        },
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["network"], types: &["start"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_socket_accept`: a listening socket accepts a connection.
    SocketAccept = LSM_ID_BASE + 9 => {
        name: "security_socket_accept",
        category: Category::Lsm,
        source: lsm("lsm_socket_accept", "socket_accept", "security_socket_accept", "fentry_socket_accept", RecordKind::LsmHook),
        fields: &lsm_socket_fields!("local_addr", "the listening socket's local address (IPv4 and IPv6; the peer is not known yet when the hook runs; OpenTelemetry network.local.*)"),
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["network"], types: &["connection", "start"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_path_unlink`: a file is removed.
    PathUnlink = LSM_ID_BASE + 10 => {
        name: "security_path_unlink",
        category: Category::Lsm,
        source: lsm("lsm_path_unlink", "path_unlink", "security_path_unlink", "fentry_path_unlink", RecordKind::LsmPaths),
        fields: &[
            field("path", FieldKind::Path, "the file removed, as the kernel resolved it"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["file"], types: &["deletion"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_path_rename`: a file is renamed or moved.
    PathRename = LSM_ID_BASE + 11 => {
        name: "security_path_rename",
        category: Category::Lsm,
        source: lsm("lsm_path_rename", "path_rename", "security_path_rename", "fentry_path_rename", RecordKind::LsmPaths),
        fields: &[
            field("old_path", FieldKind::Path, "the file's path before"),
            field("new_path", FieldKind::Path, "its path after"),
            field("flags", FieldKind::Sym(ArgKind::RenameFlags), "RENAME_* (renameat2)"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["file"], types: &["change"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_sb_mount`: a file system is mounted (or a mount changed).
    SbMount = LSM_ID_BASE + 12 => {
        name: "security_sb_mount",
        category: Category::Lsm,
        source: lsm("lsm_sb_mount", "sb_mount", "security_sb_mount", "fentry_sb_mount", RecordKind::LsmPaths),
        fields: &[
            field("dev_name", FieldKind::Str, "what is mounted (a device, a source directory for a bind mount), as the kernel copied it"),
            field("path", FieldKind::Path, "where: the mount point, as the kernel resolved it"),
            field("type", FieldKind::Str, "the file system type (empty for a bind mount or a remount)"),
            field("flags", FieldKind::Hex, "MS_* mount flags"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["file"], types: &["change"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_kernel_read_file`: the kernel reads a file to load it (a
    /// module, firmware, a kexec image, a policy).
    KernelReadFile = LSM_ID_BASE + 13 => {
        name: "security_kernel_read_file",
        category: Category::Lsm,
        source: lsm("lsm_kernel_read_file", "kernel_read_file", "security_kernel_read_file", "fentry_kernel_read_file", RecordKind::LsmPaths),
        fields: &[
            field("path", FieldKind::Path, "the file, as the kernel resolved it"),
            field("id", FieldKind::Sym(ArgKind::KernelReadFileId), "what it is read for (READING_MODULE, READING_FIRMWARE, ...)"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["driver"], types: &["start"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `security_kernel_load_data`: the kernel loads something from memory
    /// (init_module's buffer, firmware fallback).
    KernelLoadData = LSM_ID_BASE + 14 => {
        name: "security_kernel_load_data",
        category: Category::Lsm,
        source: lsm("lsm_kernel_load_data", "kernel_load_data", "security_kernel_load_data", "fentry_kernel_load_data", RecordKind::LsmHook),
        fields: &[
            field("id", FieldKind::Sym(ArgKind::KernelLoadDataId), "what is loaded (LOADING_MODULE, LOADING_FIRMWARE, ...)"),
        ],
        severity: Severity::Info,
        ecs: Ecs { kind: "event", category: &["driver"], types: &["start"] },
        role: Role::Plain,
        sets: &["lsm"],
    }
    /// `sysotel.exec.mismatch`: the file name an exec's syscall carried, as
    /// read from the caller's memory at entry, is not the one the kernel
    /// copied and executed (`bprm->filename`), or could not be read at entry.
    ExecMismatch = DETECTION_ID_BASE => {
        name: "sysotel.exec.mismatch",
        category: Category::Detection,
        source: Source::Kernel {
            record: RecordKind::ExecMismatch,
            program: Program { name: "exec_check", attach: Attach::RawTracepoint("sched_process_exec") },
        },
        fields: &[
            field("syscall", FieldKind::Str, "the exec syscall (execve, execveat)"),
            field("reason", FieldKind::Str, "`changed`: the names differ; `unreadable`: the syscall's name could not be read at entry"),
            field("syscall_path", FieldKind::Str, "the file name the syscall carried, read from the caller's memory at entry"),
            field("kernel_path", FieldKind::Str, "the file name the kernel copied and executed (linux_binprm filename; /dev/fd/N/... for execveat relative to a directory fd)"),
            field("dirfd", FieldKind::Int, "execveat's directory fd (AT_FDCWD, -100, for execve)"),
        ],
        severity: Severity::Warn,
        ecs: Ecs { kind: "alert", category: &["intrusion_detection", "process"], types: &["info", "start"] },
        role: Role::Detection(Rule {
            name: "exec-path-mismatch",
            category: "tampering",
            description: "the file an exec ran is not the one its syscall named when it entered the kernel: the name was changed in the caller's memory after the tracer read it (a time-of-check/time-of-use race), or could not be read at all",
        }),
        sets: &["proc"],
    }
    /// `sysotel.loss`: records lost in the kernel or dropped at an output.
    Loss = INTERNAL_ID_BASE => {
        name: "sysotel.loss",
        category: Category::Internal,
        source: Source::User,
        fields: &[
            field("stage", FieldKind::Str, "where records were lost: `kernel` (ring buffer full) or `output:<name>`"),
            field("interval_start_unix_ns", FieldKind::Int, "start of the interval this report covers"),
            field("interval_end_unix_ns", FieldKind::Int, "end of the interval this report covers"),
            field("lost", FieldKind::Int, "records lost at this stage during the interval"),
            field("lost_total", FieldKind::Int, "records lost at this stage since sysotel started"),
            field("by", FieldKind::StrList, "the interval's count by event name (kernel) or by reason (outputs), `name=count`"),
            field("sequences", FieldKind::StrList, "outputs: the `sysotel.sequence` numbers dropped (`first-last` or `n`) that no report delivered by this output named yet; with the numbers it delivered they account for every number"),
        ],
        severity: Severity::Warn,
        ecs: Ecs { kind: "pipeline_error", category: &[], types: &["info"] },
        role: Role::Plain,
        sets: &[],
    }
}

/// The selection byte of kernel event `e` in the eBPF `SELECTED` global.
pub const fn selected_slot(e: EventKind) -> usize {
    (e.id() - SCHED_ID_BASE) as usize
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn lsm_hook_records_hold_their_fields() {
        for &e in EventKind::ALL {
            let d = e.def();
            let Source::Kernel {
                record: RecordKind::LsmHook,
                ..
            } = d.source
            else {
                continue;
            };
            let numbers = d
                .fields
                .iter()
                .filter(|f| {
                    matches!(
                        f.kind,
                        FieldKind::Int | FieldKind::Hex | FieldKind::Bool | FieldKind::Sym(_)
                    )
                })
                .count();
            let addrs = d
                .fields
                .iter()
                .filter(|f| f.kind == FieldKind::SockAddr)
                .count();
            assert!(numbers <= crate::records::LSM_INTS, "{}", d.name);
            assert!(addrs <= 1, "{}", d.name);
            assert_eq!(
                numbers + addrs,
                d.fields.len(),
                "{}: only numbers and one address",
                d.name
            );
        }
    }

    #[test]
    fn lsm_paths_records_hold_their_fields() {
        use crate::records::{LSM_PATH_INTS, LSM_PATHS, LSM_STRS};
        for &e in EventKind::ALL {
            let d = e.def();
            let Source::Kernel {
                record: RecordKind::LsmPaths,
                ..
            } = d.source
            else {
                continue;
            };
            let count =
                |pred: fn(FieldKind) -> bool| d.fields.iter().filter(|f| pred(f.kind)).count();
            let paths = count(|k| k == FieldKind::Path);
            let strs = count(|k| k == FieldKind::Str);
            let numbers = count(|k| {
                matches!(
                    k,
                    FieldKind::Int | FieldKind::Hex | FieldKind::Bool | FieldKind::Sym(_)
                )
            });
            assert!((1..=LSM_PATHS).contains(&paths), "{}", d.name);
            assert!(strs <= LSM_STRS, "{}", d.name);
            assert!(numbers <= LSM_PATH_INTS, "{}", d.name);
            assert_eq!(paths + strs + numbers, d.fields.len(), "{}", d.name);
        }
    }

    #[test]
    fn ids_resolve_and_sit_in_their_category_range() {
        for &e in EventKind::ALL {
            let d = e.def();
            assert_eq!(d.id, e.id(), "{}", d.name);
            assert_eq!(EventKind::from_id(d.id), Some(e), "{}", d.name);
            let range = match d.category {
                Category::Syscall => 0..SYSCALL_ID_LIMIT,
                Category::Sched => SCHED_ID_BASE..LSM_ID_BASE,
                Category::Lsm => LSM_ID_BASE..DETECTION_ID_BASE,
                Category::Detection => DETECTION_ID_BASE..INTERNAL_ID_BASE,
                Category::Internal => INTERNAL_ID_BASE..EVENT_ID_LIMIT,
            };
            assert!(range.contains(&d.id), "{} id {} out of range", d.name, d.id);
            if let Source::Kernel { .. } = d.source {
                assert!(selected_slot(e) < KERNEL_EVENT_SLOTS, "{}", d.name);
            }
        }
    }
}
