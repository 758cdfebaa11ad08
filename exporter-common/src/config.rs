//! Names and layouts of the maps and globals both sides refer to.

/// The ring buffer every record goes through.
pub const MAP_EVENTS: &str = "EVENTS";
/// Per-CPU u64 per event id: records that could not be reserved (ring full).
pub const MAP_LOST: &str = "LOST";
/// Per-CPU u64 per event id: records written to the ring buffer.
pub const MAP_SUBMITTED: &str = "SUBMITTED";
/// u32 per syscall number: what to capture (see [`SyscallConf`]).
pub const MAP_SYSCALL_CONF: &str = "SYSCALL_CONF";
/// Thread-group ids in scope (`pid=new` and its descendants).
pub const MAP_TRACED: &str = "TRACED";
/// Per-thread syscall state from entry to exit.
pub const MAP_PENDING: &str = "PENDING";

/// Global: sysotel's own tgid, never traced.
pub const GLOBAL_SELF_TGID: &str = "SELF_TGID";
/// Global: 1 traces every process, 0 only those in `TRACED`.
pub const GLOBAL_SCOPE_ALL: &str = "SCOPE_ALL";
/// Global: unread bytes in the ring buffer above which a submit wakes the reader.
pub const GLOBAL_WAKEUP_BYTES: &str = "WAKEUP_BYTES";
/// Global: the [`crate::offsets::KernelOffsets`].
pub const GLOBAL_OFFSETS: &str = "OFFSETS";

/// Entries of `SYSCALL_CONF` (syscall numbers are below this).
pub const SYSCALL_CONF_LEN: u32 = crate::events::SYSCALL_ID_LIMIT;

/// What the kernel captures for one syscall, packed in a u32.
///
/// bits 0..4 and 4..8: the argument index (0..6) whose user string goes into
/// string slot 0 / 1, or `0xf` for none; bit 8: selected; bit 9: the syscall
/// never returns, emit the record at entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallConf(pub u32);

impl SyscallConf {
    pub const NONE: u32 = 0xf;
    const SELECTED: u32 = 1 << 8;
    const NO_RETURN: u32 = 1 << 9;

    pub const fn new(selected: bool, no_return: bool, str_args: [Option<u8>; 2]) -> SyscallConf {
        let s0 = match str_args[0] {
            Some(i) => i as u32 & 0xf,
            None => Self::NONE,
        };
        let s1 = match str_args[1] {
            Some(i) => i as u32 & 0xf,
            None => Self::NONE,
        };
        let mut v = s0 | (s1 << 4);
        if selected {
            v |= Self::SELECTED;
        }
        if no_return {
            v |= Self::NO_RETURN;
        }
        SyscallConf(v)
    }

    pub const fn selected(self) -> bool {
        self.0 & Self::SELECTED != 0
    }

    pub const fn no_return(self) -> bool {
        self.0 & Self::NO_RETURN != 0
    }

    /// The argument index captured into string slot `slot`, if any.
    pub const fn str_arg(self, slot: usize) -> Option<usize> {
        let v = (self.0 >> (slot as u32 * 4)) & 0xf;
        if v < 6 { Some(v as usize) } else { None }
    }
}

/// Per-CPU u64 per [`KernelError`]: things the kernel side could not do.
pub const MAP_ERRORS: &str = "ERRORS";

/// Slots of the `ERRORS` map.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelError {
    /// A new process could not join `TRACED` (map full): it is not traced.
    TracedFull = 0,
    /// A thread's syscall state could not be allocated in `PENDING`: its
    /// syscalls are not traced until an entry frees up.
    PendingFull = 1,
}

impl KernelError {
    pub const ALL: [KernelError; 2] = [KernelError::TracedFull, KernelError::PendingFull];
    pub const COUNT: u32 = 2;

    pub const fn describe(self) -> &'static str {
        match self {
            KernelError::TracedFull => "processes not traced (scope map full)",
            KernelError::PendingFull => "syscalls not traced (per-thread state map full)",
        }
    }
}
