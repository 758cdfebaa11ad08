//! Names and layouts of the maps and globals both sides refer to.

use crate::records::MAX_STR_ARGS;

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
/// Threads with a syscall slot in `PENDING` (allocated as threads need them;
/// user space lowers it where the kernel needs them preallocated).
pub const PENDING_SLOTS: u32 = 65536;

/// Global: sysotel's own tgid, never traced.
pub const GLOBAL_SELF_TGID: &str = "SELF_TGID";
/// Global: unread bytes in the ring buffer above which a submit wakes the reader.
pub const GLOBAL_WAKEUP_BYTES: &str = "WAKEUP_BYTES";
/// Global: `[u8; KERNEL_EVENT_SLOTS]`, byte `selected_slot(e)` non-zero for
/// each kernel event (other than syscalls) to write.
pub const GLOBAL_SELECTED: &str = "SELECTED";
/// Global: the [`crate::offsets::KernelOffsets`].
pub const GLOBAL_OFFSETS: &str = "OFFSETS";

/// Entries of `SYSCALL_CONF` (syscall numbers are below this).
pub const SYSCALL_CONF_LEN: u32 = crate::events::SYSCALL_ID_LIMIT;

/// How a slot's value is read from user memory.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// A NUL-terminated string, at entry.
    CStr = 0,
    /// Bytes at entry; the length is the value of argument `len`.
    BytesLenArg = 1,
    /// Bytes at exit, when the call succeeded; the length is the `int` that
    /// argument `len` points to (the kernel updates it).
    BytesAtExit = 2,
    /// A NULL-terminated array of strings (argv, envp), at entry.
    StrArray = 3,
}

/// One slot's capture: which argument, how, and (for byte captures) which
/// argument holds the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotConf {
    pub arg: u8,
    pub capture: Capture,
    pub len_arg: u8,
}

/// What the kernel captures for one syscall, packed in a u32.
///
/// Slot `i` uses bits `9*i .. 9*i+9`: argument index (4 bits, `0xf` = unused),
/// [`Capture`] (2 bits), length argument index (3 bits). Bit 27: selected;
/// bit 28: the syscall never returns, emit the record at entry; bit 29: a
/// successful call replaces the caller's memory (exec), so nothing of it is
/// read again at exit; bit 30: captured at entry for the exec check only,
/// never sent (the syscall itself is not selected).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallConf(pub u32);

impl SyscallConf {
    pub const NONE: u32 = 0xf;
    const SELECTED: u32 = 1 << 27;
    const NO_RETURN: u32 = 1 << 28;
    const REPLACES_MEMORY: u32 = 1 << 29;
    const CHECK_ONLY: u32 = 1 << 30;
    const SLOT_BITS: u32 = 9;

    pub const fn new(
        selected: bool,
        no_return: bool,
        replaces_memory: bool,
        slots: [Option<SlotConf>; MAX_STR_ARGS],
    ) -> SyscallConf {
        let mut v = 0u32;
        let mut i = 0;
        while i < MAX_STR_ARGS {
            let bits = match slots[i] {
                Some(s) => {
                    (s.arg as u32 & 0xf)
                        | ((s.capture as u32) << 4)
                        | ((s.len_arg as u32 & 0x7) << 6)
                }
                None => Self::NONE,
            };
            v |= bits << (i as u32 * Self::SLOT_BITS);
            i += 1;
        }
        if selected {
            v |= Self::SELECTED;
        }
        if no_return {
            v |= Self::NO_RETURN;
        }
        if replaces_memory {
            v |= Self::REPLACES_MEMORY;
        }
        SyscallConf(v)
    }

    pub const fn replaces_memory(self) -> bool {
        self.0 & Self::REPLACES_MEMORY != 0
    }

    pub const fn selected(self) -> bool {
        self.0 & Self::SELECTED != 0
    }

    pub const fn no_return(self) -> bool {
        self.0 & Self::NO_RETURN != 0
    }

    /// Captured at entry for the exec check, not sent.
    pub const fn check_only(self) -> bool {
        self.0 & Self::CHECK_ONLY != 0
    }

    /// `self`, captured at entry (for the exec check) even if not selected.
    pub const fn with_check(self) -> SyscallConf {
        if self.selected() {
            self
        } else {
            SyscallConf(self.0 | Self::SELECTED | Self::CHECK_ONLY)
        }
    }

    /// Slot `slot`'s capture, if it is used.
    #[inline(always)]
    pub const fn slot(self, slot: usize) -> Option<SlotConf> {
        let bits = (self.0 >> (slot as u32 * Self::SLOT_BITS)) & 0x1ff;
        let arg = bits & 0xf;
        if arg >= 6 {
            return None;
        }
        let capture = match (bits >> 4) & 0x3 {
            0 => Capture::CStr,
            1 => Capture::BytesLenArg,
            2 => Capture::BytesAtExit,
            _ => Capture::StrArray,
        };
        Some(SlotConf {
            arg: arg as u8,
            capture,
            len_arg: ((bits >> 6) & 0x7) as u8,
        })
    }
}

/// Per-CPU u64 per [`KernelError`]: things the kernel side could not do.
pub const MAP_ERRORS: &str = "ERRORS";

/// Slots of the `ERRORS` map: everything the kernel side could not do that
/// loses a record or a process's tracking, counted where it happens.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelError {
    /// A new process could not join `TRACED` (map full): it is not traced.
    TracedFull = 0,
    /// A thread's syscall state could not be allocated in `PENDING`: its
    /// syscalls are not traced until an entry frees up.
    PendingFull = 1,
    /// A new task could not be read at fork: its fork event is lost and, for
    /// the default scope, the new process is not traced.
    ForkChildUnreadable = 2,
    /// A lookup that cannot fail did (a per-CPU scratch buffer or a syscall's
    /// configuration): the record being built is lost.
    LookupFailed = 3,
}

impl KernelError {
    pub const ALL: [KernelError; 4] = [
        KernelError::TracedFull,
        KernelError::PendingFull,
        KernelError::ForkChildUnreadable,
        KernelError::LookupFailed,
    ];
    pub const COUNT: u32 = Self::ALL.len() as u32;

    pub const fn describe(self) -> &'static str {
        match self {
            KernelError::TracedFull => "processes not traced (scope map full)",
            KernelError::PendingFull => "syscalls not traced (per-thread state map full)",
            KernelError::ForkChildUnreadable => {
                "fork events lost, new processes not tracked (the new task could not be read)"
            }
            KernelError::LookupFailed => "records lost (a map lookup that cannot fail did)",
        }
    }
}
