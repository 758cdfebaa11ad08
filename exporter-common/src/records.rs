//! The records the eBPF programs write into the ring buffer.
//!
//! Every record is a [`Record`]: a [`RecordHeader`], a [`TaskContext`], then
//! the data of its [`RecordKind`]. Variable-length data (strings read from user memory)
//! sits in fixed slots after the fixed part, and `RecordHeader::len` says how many
//! bytes of the record were actually sent. User space must bounds-check every
//! length against `len` before reading: the kernel side is trusted to be correct,
//! but a decoder that panics on a bad record would take the whole tracer down.

/// `TASK_COMM_LEN` in the kernel.
pub const COMM_LEN: usize = 16;
/// `__NEW_UTS_LEN + 1`: the nodename buffer including its NUL.
pub const UTS_LEN: usize = 65;
/// Upper bound of one string argument read from user memory at syscall entry,
/// including its NUL. Longer strings are cut and flagged [`STR_TRUNCATED`].
pub const STR_MAX: usize = 512;
/// How many arguments of one syscall are read from user memory (execve's
/// filename, argv and envp; rename's two paths; mount's three strings).
pub const MAX_STR_ARGS: usize = 3;
/// String arrays (argv, envp) read at entry: at most this many elements...
pub const ARRAY_MAX_ELEMS: u32 = 16;
/// ...each cut at this many bytes (with its NUL), packed into the slot until
/// an element would start past `STR_MAX - ARRAY_ELEM_MAX`.
pub const ARRAY_ELEM_MAX: usize = 256;
/// `struct sockaddr` arguments: at most `sizeof(struct sockaddr_storage)` bytes.
pub const SOCKADDR_MAX: usize = 128;
/// Upper bound of the exec'd file name (`linux_binprm::filename`), with its NUL.
pub const EXEC_FILENAME_MAX: usize = 1024;
/// Upper bound of the argv block read from the new process (NUL-separated
/// strings between `mm->arg_start` and `mm->arg_end`).
pub const EXEC_ARGV_MAX: usize = 4096;
/// Upper bound of the environment block read from the new process.
pub const EXEC_ENV_MAX: usize = 4096;

// The eBPF side bounds every length it computes with `& (BOUND - 1)`, which
// the verifier can follow: each bound must be a power of two.
const _: () = assert!(STR_MAX.is_power_of_two());
const _: () = assert!(ARRAY_ELEM_MAX.is_power_of_two());
const _: () = assert!(EXEC_FILENAME_MAX.is_power_of_two());
const _: () = assert!(EXEC_ARGV_MAX.is_power_of_two());
const _: () = assert!(EXEC_ENV_MAX.is_power_of_two());
/// `len & STR_MASK` keeps a string slot's length below [`STR_MAX`].
pub const STR_MASK: usize = STR_MAX - 1;
/// `len & EXEC_FILENAME_MASK` keeps the exec file name below [`EXEC_FILENAME_MAX`].
pub const EXEC_FILENAME_MASK: usize = EXEC_FILENAME_MAX - 1;
/// Where the next array element may start: below `STR_MAX - ARRAY_ELEM_MAX`.
pub const ARRAY_START_MASK: usize = STR_MAX - ARRAY_ELEM_MAX - 1;
const _: () = assert!((STR_MAX - ARRAY_ELEM_MAX).is_power_of_two());
/// `n & ARRAY_ELEM_LEN_MASK` bounds an element's copied length (at most
/// twice [`ARRAY_ELEM_MAX`] before the final `min`).
pub const ARRAY_ELEM_LEN_MASK: usize = ARRAY_ELEM_MAX * 2 - 1;

/// `MAX_ERRNO` (include/linux/err.h): a syscall failed when it returned a
/// value in `-MAX_ERRNO..=-1`.
pub const MAX_ERRNO: i64 = 4095;

/// Whether a syscall's return value is a failure (a negative errno).
pub const fn is_errno(ret: i64) -> bool {
    -MAX_ERRNO <= ret && ret < 0
}

/// `RecordHeader::kind`.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Syscall = 1,
    Fork = 2,
    Exec = 3,
    Exit = 4,
    /// An LSM file hook (`security_file_open`): [`FileOpenRecord`].
    FileOpen = 5,
    /// `security_bprm_check`: [`BprmCheckRecord`].
    BprmCheck = 6,
    /// `sysotel.exec.mismatch`: [`ExecMismatchRecord`].
    ExecMismatch = 7,
    /// An LSM hook of numbers and at most one socket address: [`LsmHookRecord`].
    LsmHook = 8,
    /// An LSM hook of paths, strings and numbers: [`LsmPathsRecord`].
    LsmPaths = 9,
}

impl RecordKind {
    pub const fn from_u16(v: u16) -> Option<RecordKind> {
        match v {
            1 => Some(RecordKind::Syscall),
            2 => Some(RecordKind::Fork),
            3 => Some(RecordKind::Exec),
            4 => Some(RecordKind::Exit),
            5 => Some(RecordKind::FileOpen),
            6 => Some(RecordKind::BprmCheck),
            7 => Some(RecordKind::ExecMismatch),
            8 => Some(RecordKind::LsmHook),
            9 => Some(RecordKind::LsmPaths),
            _ => None,
        }
    }
}

/// The syscall never returns (`exit`, `exit_group`): the record was emitted at
/// entry and its `ret` is meaningless.
pub const FLAG_NO_RETURN: u16 = 1 << 0;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordHeader {
    /// A [`RecordKind`].
    pub kind: u16,
    /// `FLAG_*` bits.
    pub flags: u16,
    /// The event id (syscall number or a category id, see `events`).
    pub event_id: u32,
    /// Bytes of this record that were written to the ring buffer.
    pub len: u32,
    pub _pad: u32,
}

impl RecordHeader {
    /// The header of a record of `kind` for event `event_id`, `len` bytes sent.
    pub const fn new(kind: RecordKind, event_id: u32, len: usize) -> RecordHeader {
        RecordHeader {
            kind: kind as u16,
            flags: 0,
            event_id,
            len: len as u32,
            _pad: 0,
        }
    }
}
const _: () = assert!(core::mem::size_of::<RecordHeader>() == 16);

/// Who did it: captured for every event from the current task.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskContext {
    /// `bpf_ktime_get_boot_ns()`: nanoseconds since boot, suspend included.
    pub ts_boot_ns: u64,
    /// `bpf_get_current_cgroup_id()` (cgroup v2 id of the task).
    pub cgroup_id: u64,
    /// `group_leader->start_boottime`: when the process started, in the
    /// clock of `ts_boot_ns`.
    pub start_boot_ns: u64,
    /// Host thread-group id.
    pub pid: u32,
    /// Host thread id.
    pub tid: u32,
    /// `real_parent->tgid`.
    pub ppid: u32,
    /// Thread-group id inside the task's own pid namespace.
    pub vpid: u32,
    /// Real user and group ids.
    pub uid: u32,
    pub gid: u32,
    /// `cred->euid`, `cred->suid`: the effective and saved user ids.
    pub euid: u32,
    pub suid: u32,
    /// Inode of the task's mount namespace.
    pub mnt_ns: u32,
    /// Inode of the task's active pid namespace (not `pid_ns_for_children`).
    pub pid_ns: u32,
    /// Host pids of the session leader and of the process group leader
    /// (`signal->pids[PIDTYPE_SID]`, `[PIDTYPE_PGID]`).
    pub sid: u32,
    pub pgid: u32,
    pub comm: [u8; COMM_LEN],
    /// `nsproxy->uts_ns->name.nodename`.
    pub uts_name: [u8; UTS_LEN],
    /// 1 when the process has a controlling terminal (`signal->tty`).
    pub interactive: u8,
    pub _pad: [u8; 6],
}
const _: () = assert!(core::mem::size_of::<TaskContext>() == 160);

impl TaskContext {
    pub const fn zeroed() -> TaskContext {
        TaskContext {
            ts_boot_ns: 0,
            cgroup_id: 0,
            start_boot_ns: 0,
            pid: 0,
            tid: 0,
            ppid: 0,
            vpid: 0,
            uid: 0,
            gid: 0,
            euid: 0,
            suid: 0,
            mnt_ns: 0,
            pid_ns: 0,
            sid: 0,
            pgid: 0,
            comm: [0; COMM_LEN],
            uts_name: [0; UTS_LEN],
            interactive: 0,
            _pad: [0; 6],
        }
    }
}

/// String slot flag: the string filled its slot and was cut.
pub const STR_TRUNCATED: u8 = 1 << 0;
/// String slot flag: reading user memory failed (bad pointer or page not present).
pub const STR_FAULT: u8 = 1 << 1;
/// String slot flag: the slot holds raw bytes (a sockaddr), not a string.
pub const STR_BYTES: u8 = 1 << 2;
/// String slot flag: the slot holds a string array, NUL-separated.
pub const STR_ARRAY: u8 = 1 << 3;
/// String slot flag: the slot is filled at exit (the kernel writes the value,
/// like accept's peer address); still pending while the call runs.
pub const STR_AT_EXIT: u8 = 1 << 4;
/// String slot flag: the call failed, so the at-exit value was not read.
pub const STR_NOT_FILLED: u8 = 1 << 5;
/// String slot flag: unreadable at entry (its page not yet faulted in), read
/// at exit, after the kernel itself read it.
pub const STR_REREAD: u8 = 1 << 6;
/// `SyscallRecord::str_arg` value of an unused slot.
pub const NO_ARG: u8 = 0xff;

/// The envelope of every record the kernel writes: the header, who did it,
/// then what is the event's own.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<T> {
    pub header: RecordHeader,
    pub ctx: TaskContext,
    pub data: T,
}

/// One completed syscall. Slot `i` (if `str_arg[i] != NO_ARG`) holds
/// `str_len[i]` bytes at `size_of::<SyscallRecord>() + i * STR_MAX`: a string
/// (no NUL), raw bytes ([`STR_BYTES`]) or NUL-separated strings ([`STR_ARRAY`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// Return value (`regs->ax` at exit).
    pub ret: i64,
    /// The six argument registers at entry.
    pub args: [u64; 6],
    pub nr: u32,
    pub str_len: [u16; MAX_STR_ARGS],
    pub str_arg: [u8; MAX_STR_ARGS],
    pub str_flags: [u8; MAX_STR_ARGS],
    /// Elements of the string array in the slot flagged [`STR_ARRAY`] (all of
    /// them, up to [`ARRAY_MAX_ELEMS`] + 1 meaning "more").
    pub array_count: [u8; MAX_STR_ARGS],
    pub _pad: [u8; 5],
}
pub type SyscallRecord = Record<Syscall>;
const _: () = assert!(core::mem::size_of::<SyscallRecord>() == 256);

/// Kernel pointers the context in a thread's slot was last read through. When
/// they are unchanged, so is what was read behind them (see the eBPF
/// `context::fill_cached`). Never sent to user space.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextCache {
    pub real_parent: u64,
    pub nsproxy: u64,
    pub uts_ns: u64,
    pub group_leader: u64,
    /// The thread group's `signal_struct` (the group's for its whole life).
    pub signal: u64,
    pub cred: u64,
    /// The `struct pid`s of the process group and the session.
    pub pgrp: u64,
    pub session: u64,
}

/// A [`SyscallRecord`] with room for its strings: the per-thread state kept
/// from sys_enter to sys_exit, sent from the map value itself (only the record
/// and the used part of the string slots travel).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SyscallBuf {
    pub rec: SyscallRecord,
    pub strs: [[u8; STR_MAX]; MAX_STR_ARGS],
    pub cache: ContextCache,
}
const _: () = assert!(core::mem::size_of::<SyscallBuf>() == 256 + STR_MAX * MAX_STR_ARGS + 64);

/// `sched_process_fork`: `ctx` is the parent (the current task).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fork {
    /// The child's thread-group id (equal to the parent's for a new thread).
    pub child_pid: u32,
    pub child_tid: u32,
}
pub type ForkRecord = Record<Fork>;
const _: () = assert!(core::mem::size_of::<ForkRecord>() == 184);

/// Exec file name was cut at [`EXEC_FILENAME_MAX`].
pub const EXEC_FILENAME_TRUNCATED: u32 = 1 << 0;
/// argv was longer than [`EXEC_ARGV_MAX`] and was cut.
pub const EXEC_ARGV_TRUNCATED: u32 = 1 << 1;
/// argv could not be read from the new process's memory.
pub const EXEC_ARGV_FAULT: u32 = 1 << 2;
/// The file name could not be read from `linux_binprm`.
pub const EXEC_FILENAME_FAULT: u32 = 1 << 3;
/// The environment was longer than [`EXEC_ENV_MAX`] and was cut.
pub const EXEC_ENV_TRUNCATED: u32 = 1 << 4;
/// The environment could not be read from the new process's memory.
pub const EXEC_ENV_FAULT: u32 = 1 << 5;

/// `sched_process_exec`: `ctx` is the task after exec (new comm). The file name
/// sits at `size_of::<ExecRecord>()` (`filename_len` bytes, slot of
/// [`EXEC_FILENAME_MAX`]); argv follows in a slot of [`EXEC_ARGV_MAX`]
/// (`argv_len` bytes, NUL-separated), then the environment (`env_len` bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exec {
    /// The thread id before exec (differs from `ctx.tid` when a non-leader thread exec'd).
    pub old_tid: u32,
    /// `linux_binprm::argc`.
    pub argc: u32,
    pub filename_len: u16,
    pub argv_len: u16,
    /// `EXEC_*` bits.
    pub flags: u32,
    /// `linux_binprm::envc`.
    pub envc: u32,
    pub env_len: u16,
    pub _pad: u16,
}
pub type ExecRecord = Record<Exec>;
const _: () = assert!(core::mem::size_of::<ExecRecord>() == 200);

/// The fixed part and both slots of an exec record (the per-CPU build buffer).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecBuf {
    pub rec: ExecRecord,
    pub filename: [u8; EXEC_FILENAME_MAX],
    pub argv: [u8; EXEC_ARGV_MAX],
    pub env: [u8; EXEC_ENV_MAX],
}

/// `sched_process_exit`: one per exiting thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// `task->exit_code`: exit status in bits 8..16, terminating signal in bits 0..7,
    /// core dump in bit 7.
    pub exit_code: u32,
    /// 1 when this was the last thread of its group (the process is gone).
    pub group_dead: u32,
}
pub type ExitRecord = Record<Exit>;
const _: () = assert!(core::mem::size_of::<ExitRecord>() == 184);

#[cfg(feature = "user")]
mod pod {
    use super::*;
    unsafe impl aya::Pod for RecordHeader {}
    unsafe impl aya::Pod for TaskContext {}
    unsafe impl aya::Pod for Record<Syscall> {}
    unsafe impl aya::Pod for Record<Fork> {}
    unsafe impl aya::Pod for Record<Exec> {}
    unsafe impl aya::Pod for Record<Exit> {}
}

/// A path as the kernel resolved it, walked from the file's dentry up to the
/// task's root directory, across mounts: its components leaf first, one per
/// [`PATH_ELEM_MAX`]-byte slot, each NUL-terminated (a longer name is cut:
/// [`PATH_NAME_CUT`]). User space joins them root first. At most
/// [`PATH_COMPONENTS_MAX`] components: a deeper path is cut ([`PATH_CUT`]).
/// Fixed slots keep every write at a constant offset, which keeps the
/// kernel's verification of the walk short.
pub const PATH_ELEM_MAX: usize = 128;
/// Components walked before the path is cut.
pub const PATH_COMPONENTS_MAX: usize = 32;
/// The path block's size.
pub const PATH_BLOCK: usize = PATH_ELEM_MAX * PATH_COMPONENTS_MAX;
/// The walk stopped before the root (the component or byte bound): the
/// components are the path's last ones.
pub const PATH_CUT: u8 = 1 << 0;
/// A kernel read failed during the walk.
pub const PATH_FAULT: u8 = 1 << 1;
/// A component longer than its slot was cut.
pub const PATH_NAME_CUT: u8 = 1 << 2;
const _: () = assert!(PATH_ELEM_MAX.is_power_of_two());

/// The file an LSM hook is about: `struct file` as the kernel holds it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LsmFile {
    /// `inode->i_ino`.
    pub ino: u64,
    /// `inode->i_sb->s_dev` (the kernel's `dev_t`: major << 20 | minor).
    pub dev: u32,
    /// `file->f_flags` (`O_*`).
    pub flags: u32,
    /// `file->f_mode` (`FMODE_*`).
    pub mode: u32,
    /// Bytes of the path block used (`path_count` slots).
    pub path_len: u16,
    /// `PATH_*` bits.
    pub path_flags: u8,
    /// Components in the path block.
    pub path_count: u8,
}

/// `security_file_open`.
pub type FileOpenRecord = Record<LsmFile>;
const _: () = assert!(core::mem::size_of::<FileOpenRecord>() == 200);

/// A [`FileOpenRecord`] with room for its path.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FileOpenBuf {
    pub rec: FileOpenRecord,
    pub path: [u8; PATH_BLOCK],
}

/// The exec gives the new program another effective user id.
pub const BPRM_SETUID: u32 = 1 << 0;
/// ...another effective group id.
pub const BPRM_SETGID: u32 = 1 << 1;
/// `bprm->filename` was cut at [`EXEC_FILENAME_MAX`].
pub const BPRM_FILENAME_TRUNCATED: u32 = 1 << 3;
/// `bprm->interp` was cut at [`EXEC_FILENAME_MAX`].
pub const BPRM_INTERP_TRUNCATED: u32 = 1 << 4;

/// `security_bprm_check`: the file about to be executed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BprmCheck {
    pub file: LsmFile,
    /// `bprm->argc`.
    pub argc: u32,
    /// `BPRM_*` bits.
    pub flags: u32,
    /// `bprm->filename`: the name exec was called with, as the kernel copied it.
    pub filename_len: u16,
    /// `bprm->interp`: the file name the binary handler runs (differs from
    /// `filename` for `#!` scripts and binfmt_misc).
    pub interp_len: u16,
    pub _pad: u32,
}

pub type BprmCheckRecord = Record<BprmCheck>;
const _: () = assert!(core::mem::size_of::<BprmCheckRecord>() == 216);

/// A [`BprmCheckRecord`] with room for its path and names.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BprmCheckBuf {
    pub rec: BprmCheckRecord,
    pub path: [u8; PATH_BLOCK],
    pub filename: [u8; EXEC_FILENAME_MAX],
    pub interp: [u8; EXEC_FILENAME_MAX],
}

/// `RecordHeader::kind` of a syscall slot captured at entry only for the
/// exec check (the syscall itself is not selected): never sent.
pub const KIND_CAPTURED_FOR_CHECK: u16 = 0x100;

/// `ExecMismatch::reason`: the names differ.
pub const MISMATCH_CHANGED: u32 = 1;
/// `ExecMismatch::reason`: the syscall's name could not be read at entry.
pub const MISMATCH_UNREADABLE: u32 = 2;

/// `sysotel.exec.mismatch`: what an exec's syscall named at entry against
/// what the kernel executed. The syscall's name (slot of [`STR_MAX`]) and
/// the kernel's (slot of [`EXEC_FILENAME_MAX`]) follow the fixed part.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecMismatch {
    /// The syscall number (execve or execveat).
    pub nr: u32,
    /// `MISMATCH_*`.
    pub reason: u32,
    /// execveat's directory fd; `AT_FDCWD` for execve.
    pub dirfd: i32,
    /// Length of the syscall's name (without its NUL).
    pub syscall_len: u16,
    /// Length of the kernel's name (without its NUL).
    pub kernel_len: u16,
    /// `STR_*` flags of the syscall's name as read at entry.
    pub syscall_flags: u8,
    /// The kernel's name was cut at [`EXEC_FILENAME_MAX`].
    pub kernel_cut: u8,
    pub _pad: [u8; 6],
    /// Where the syscall's name was in the caller's memory.
    pub addr: u64,
}

pub type ExecMismatchRecord = Record<ExecMismatch>;
const _: () = assert!(core::mem::size_of::<ExecMismatchRecord>() == 208);

/// An [`ExecMismatchRecord`] with its two names.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecMismatchBuf {
    pub rec: ExecMismatchRecord,
    pub syscall_path: [u8; STR_MAX],
    pub kernel_path: [u8; EXEC_FILENAME_MAX],
}

/// Numbers an [`LsmHook`] record carries.
pub const LSM_INTS: usize = 6;

/// An LSM hook whose fields are numbers and at most one socket address
/// (signals, ptrace, mprotect, bpf, sockets): `ints` hold its event's
/// numeric fields in their declared order; the socket address, if any,
/// follows the fixed part (`addr_len` bytes, slot of [`SOCKADDR_MAX`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LsmHook {
    pub ints: [u64; LSM_INTS],
    /// Bytes of the socket address (0: none).
    pub addr_len: u16,
    pub _pad: [u8; 6],
}

pub type LsmHookRecord = Record<LsmHook>;
const _: () = assert!(core::mem::size_of::<LsmHookRecord>() == 232);

/// An [`LsmHookRecord`] with room for its socket address.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LsmHookBuf {
    pub rec: LsmHookRecord,
    pub addr: [u8; SOCKADDR_MAX],
}

/// Paths an [`LsmPaths`] record carries at most (rename's two).
pub const LSM_PATHS: usize = 2;
/// Kernel strings it carries at most (mount's device and type)...
pub const LSM_STRS: usize = 2;
/// ...each cut at this many bytes with its NUL.
pub const LSM_STR_MAX: usize = 256;
/// Numbers it carries at most.
pub const LSM_PATH_INTS: usize = 2;
const _: () = assert!(LSM_STR_MAX.is_power_of_two());

/// An LSM hook of paths (unlink, rename, mount, module files), kernel
/// strings and numbers: its event's fields in their declared order take the
/// next path, string or number. After the fixed part: the string slots
/// ([`LSM_STRS`] of [`LSM_STR_MAX`]), the first path block whole, then the
/// used part of the second (or of the first, when there is one).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LsmPaths {
    pub ints: [u64; LSM_PATH_INTS],
    /// Per path: bytes of its block used, `PATH_*` bits, components.
    pub path_len: [u16; LSM_PATHS],
    pub path_flags: [u8; LSM_PATHS],
    pub path_count: [u8; LSM_PATHS],
    /// Per string: its length without the NUL, cut at its slot (1) or
    /// absent (2: a NULL pointer).
    pub str_len: [u16; LSM_STRS],
    pub str_flags: [u8; LSM_STRS],
    /// Paths used.
    pub paths: u8,
    pub _pad: u8,
}

/// [`LsmPaths::str_flags`]: cut at [`LSM_STR_MAX`].
pub const LSM_STR_CUT: u8 = 1;
/// [`LsmPaths::str_flags`]: no string (a NULL pointer).
pub const LSM_STR_NONE: u8 = 2;

pub type LsmPathsRecord = Record<LsmPaths>;
const _: () = assert!(core::mem::size_of::<LsmPathsRecord>() == 208);

/// An [`LsmPathsRecord`] with room for its strings and paths.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LsmPathsBuf {
    pub rec: LsmPathsRecord,
    pub strs: [[u8; LSM_STR_MAX]; LSM_STRS],
    pub paths: [[u8; PATH_BLOCK]; LSM_PATHS],
}
