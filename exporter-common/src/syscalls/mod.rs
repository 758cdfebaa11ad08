//! The syscall tables of x86_64 and aarch64: number, name and each argument's
//! name, C type and kind. Generated from each architecture's own kernel
//! tracefs description by `scripts/gen_syscalls.py`; the eBPF side learns from
//! the build's table (through the `SYSCALL_CONF` map) which arguments to read
//! at entry, user space how to print and type each one.
//!
//! A build uses its target's table ([`SYSCALLS`]); the other one is kept for
//! its names only ([`OTHER_ARCH`]), so that naming a syscall that exists only
//! there is an error that says so.

// Generated; kept exactly as scripts/gen_syscalls.py writes them.
#[rustfmt::skip]
mod aarch64;
#[rustfmt::skip]
mod x86_64;

/// This build's architecture and its syscall table.
#[cfg(target_arch = "aarch64")]
pub use aarch64::SYSCALLS;
#[cfg(target_arch = "aarch64")]
pub const ARCH: &str = "aarch64";
/// The other architecture and its table (names only are used).
#[cfg(target_arch = "aarch64")]
pub const OTHER_ARCH: (&str, &[SyscallDef]) = ("x86_64", x86_64::SYSCALLS);

#[cfg(not(target_arch = "aarch64"))]
pub use x86_64::SYSCALLS;
#[cfg(not(target_arch = "aarch64"))]
pub const ARCH: &str = "x86_64";
#[cfg(not(target_arch = "aarch64"))]
pub const OTHER_ARCH: (&str, &[SyscallDef]) = ("aarch64", aarch64::SYSCALLS);

use crate::config::{Capture, SlotConf, SyscallConf};
use crate::records::MAX_STR_ARGS;

/// How an argument register is read and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A C `int`-sized signed value: the low 32 bits, sign-extended.
    I32,
    /// A 32-bit unsigned value (uids, gids, `unsigned int` flags).
    U32,
    /// A 64-bit signed value (`long`, `off_t`).
    I64,
    /// A 64-bit unsigned value (`size_t`, `unsigned long`).
    U64,
    /// A file mode (`umode_t`), shown in octal.
    Mode,
    /// A user-space address, shown in hex.
    Ptr,
    /// A file descriptor; `AT_FDCWD` by name.
    Fd,
    /// A path string read from user memory at entry.
    Path,
    /// Another string read from user memory at entry (xattr names, hostnames).
    Str,
    /// `O_*` open flags (access mode and flags).
    OpenFlags,
    /// `F_OK` or `R_OK|W_OK|X_OK`.
    AccessMode,
    /// `AT_*` flags of the `*at` family.
    AtFlags,
    /// `RENAME_*` flags.
    RenameFlags,
    /// `PROT_*`.
    MmapProt,
    /// `MAP_*`.
    MmapFlags,
    /// `CLONE_*` (clone, unshare, setns).
    CloneFlags,
    /// `AF_*`.
    SocketDomain,
    /// `SOCK_*` type and flags.
    SocketType,
    /// `IPPROTO_*`.
    SocketProtocol,
    /// A signal number (`SIGUSR1`).
    Signal,
    /// `PTRACE_*` request.
    PtraceRequest,
    /// `PR_*` prctl option.
    PrctlOption,
    /// `F_*` fcntl command.
    FcntlCmd,
    /// `SEEK_*`.
    Whence,
    /// `PTRACE_MODE_*` (the LSM ptrace hook).
    PtraceMode,
    /// A `bpf()` command (`BPF_PROG_LOAD`).
    BpfCmd,
    /// What the kernel reads a file for (`READING_MODULE`).
    KernelReadFileId,
    /// What the kernel loads from memory (`LOADING_MODULE`).
    KernelLoadDataId,
    /// A `struct sockaddr` read at entry; the length is argument `.0`.
    SockAddrIn(u8),
    /// A `struct sockaddr` the kernel fills, read at exit; the length is the
    /// `int` argument `.0` points to.
    SockAddrOut(u8),
    /// A NULL-terminated string array (argv, envp) read at entry.
    StrArray,
}

impl ArgKind {
    /// How the kernel captures this argument, if it reads user memory for it.
    pub const fn capture(self) -> Option<(Capture, u8)> {
        match self {
            ArgKind::Path | ArgKind::Str => Some((Capture::CStr, 0)),
            ArgKind::SockAddrIn(len) => Some((Capture::BytesLenArg, len)),
            ArgKind::SockAddrOut(len) => Some((Capture::BytesAtExit, len)),
            ArgKind::StrArray => Some((Capture::StrArray, 0)),
            _ => None,
        }
    }
}

/// What a syscall's return value is, when it succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetKind {
    Int,
    /// A new file descriptor.
    Fd,
    /// An address (mmap, brk), shown in hex.
    Ptr,
}

#[derive(Clone, Copy, Debug)]
pub struct ArgDef {
    pub name: &'static str,
    /// The C type as the kernel declares it.
    pub ctype: &'static str,
    pub kind: ArgKind,
}

#[derive(Clone, Copy, Debug)]
pub struct SyscallDef {
    pub nr: u32,
    pub name: &'static str,
    /// Never returns to user space (exit, exit_group): emitted at entry.
    pub no_return: bool,
    /// The kernel describes its arguments (it has a `sys_enter_*` tracepoint);
    /// false for the few that have none, whose arguments are not decoded.
    pub described: bool,
    pub ret: RetKind,
    pub args: &'static [ArgDef],
}

impl SyscallDef {
    /// The kernel capture configuration for this syscall: the first
    /// `MAX_STR_ARGS` arguments that need user memory get a slot each.
    /// What the kernel captures of this syscall: all it reads when
    /// `selected`; with `exec_check`, an exec's file name is captured at
    /// entry (without sending the record if not selected) for the kernel to
    /// compare with the name it executes.
    pub fn conf(&self, selected: bool, exec_check: bool) -> SyscallConf {
        let mut slots: [Option<SlotConf>; MAX_STR_ARGS] = [None; MAX_STR_ARGS];
        let mut n = 0;
        for (i, a) in self.args.iter().enumerate() {
            if let Some((capture, len_arg)) = a.kind.capture()
                && n < MAX_STR_ARGS
            {
                slots[n] = Some(SlotConf {
                    arg: i as u8,
                    capture,
                    len_arg,
                });
                n += 1;
            }
        }
        // A successful exec leaves nothing of the caller's memory to read.
        let replaces_memory = matches!(self.name, "execve" | "execveat");
        let conf = SyscallConf::new(selected, self.no_return, replaces_memory, slots);
        if exec_check && replaces_memory {
            conf.with_check()
        } else {
            conf
        }
    }
}

/// The syscall with number `nr`, if the table has it.
pub fn by_nr(nr: u32) -> Option<&'static SyscallDef> {
    // The table is sorted by number: a binary search keeps this cheap per event.
    SYSCALLS
        .binary_search_by_key(&nr, |s| s.nr)
        .ok()
        .map(|i| &SYSCALLS[i])
}

/// The syscall called `name`, if the table has it.
pub fn by_name(name: &str) -> Option<&'static SyscallDef> {
    SYSCALLS.iter().find(|s| s.name == name)
}

/// The other architecture, when `name` is a syscall there and not here
/// (`open` or `fork` on aarch64).
pub fn only_on_other_arch(name: &str) -> Option<&'static str> {
    let (arch, table) = OTHER_ARCH;
    (by_name(name).is_none() && table.iter().any(|s| s.name == name)).then_some(arch)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in SYSCALLS.windows(2) {
            assert!(
                w[0].nr < w[1].nr,
                "{} and {} out of order",
                w[0].name,
                w[1].name
            );
        }
        assert!(
            SYSCALLS
                .iter()
                .all(|s| s.nr < crate::events::SYSCALL_ID_LIMIT)
        );
        assert!(SYSCALLS.iter().all(|s| s.args.len() <= 6));
    }

    /// Numbers that identify each architecture's table: (openat, getppid, execve).
    #[cfg(not(target_arch = "aarch64"))]
    const ANCHORS: (u32, u32, u32) = (257, 110, 59);
    #[cfg(target_arch = "aarch64")]
    const ANCHORS: (u32, u32, u32) = (56, 173, 221);

    #[test]
    fn both_tables_are_sorted_and_each_is_its_architectures() {
        for table in [x86_64::SYSCALLS, aarch64::SYSCALLS] {
            assert!(table.windows(2).all(|w| w[0].nr < w[1].nr));
        }
        let nr = |t: &[SyscallDef], n: &str| t.iter().find(|s| s.name == n).map(|s| s.nr);
        assert_eq!(nr(x86_64::SYSCALLS, "openat"), Some(257));
        assert_eq!(nr(aarch64::SYSCALLS, "openat"), Some(56));
        assert_eq!(nr(aarch64::SYSCALLS, "exit_group"), Some(94));
        // arm64 has no open, fork or access: the generic table left them out.
        for name in ["open", "fork", "access", "stat", "pipe", "arch_prctl"] {
            assert_eq!(nr(aarch64::SYSCALLS, name), None, "{name}");
            assert!(nr(x86_64::SYSCALLS, name).is_some(), "{name}");
        }
        // arm64's clone passes tls before child_tidptr (the formats say so).
        let clone = |t: &[SyscallDef]| {
            let c = t.iter().find(|s| s.name == "clone").expect("clone");
            c.args.iter().map(|a| a.name).collect::<std::vec::Vec<_>>()
        };
        assert_eq!(clone(aarch64::SYSCALLS)[3..], ["tls", "child_tidptr"]);
        assert_eq!(clone(x86_64::SYSCALLS)[3..], ["child_tidptr", "tls"]);
    }

    #[test]
    fn a_name_of_the_other_architecture_is_told_apart() {
        // Every arm64 syscall exists on x86_64; 58 x86_64 ones do not on arm64.
        assert_eq!(only_on_other_arch("openat"), None);
        assert_eq!(only_on_other_arch("no_such_call"), None);
        let expected = if ARCH == "aarch64" {
            Some("x86_64")
        } else {
            None
        };
        assert_eq!(only_on_other_arch("open"), expected);
        assert_eq!(only_on_other_arch("fork"), expected);
    }

    #[test]
    fn known_syscalls() {
        let (openat, getppid, execve) = ANCHORS;
        assert_eq!(by_nr(openat).map(|s| s.name), Some("openat"));
        assert_eq!(by_name("getppid").map(|s| s.nr), Some(getppid));
        assert_eq!(by_name("execve").map(|s| s.nr), Some(execve));
        let rename = by_name("renameat2").expect("renameat2");
        let conf = rename.conf(true, false);
        assert_eq!(conf.slot(0).map(|s| s.arg), Some(1));
        assert_eq!(conf.slot(1).map(|s| s.arg), Some(3));
        assert_eq!(conf.slot(2), None);
        assert!(conf.selected());
        assert!(!rename.conf(false, false).selected());
        assert!(
            by_name("exit_group")
                .expect("exit_group")
                .conf(true, false)
                .no_return()
        );
        assert_eq!(
            by_name("getppid")
                .expect("getppid")
                .conf(true, false)
                .slot(0),
            None
        );
        let connect = by_name("connect").expect("connect").conf(true, false);
        assert_eq!(
            connect.slot(0),
            Some(SlotConf {
                arg: 1,
                capture: Capture::BytesLenArg,
                len_arg: 2
            })
        );
        let accept = by_name("accept4").expect("accept4").conf(true, false);
        assert_eq!(
            accept.slot(0).map(|s| (s.capture, s.len_arg)),
            Some((Capture::BytesAtExit, 2))
        );
        let execve = by_name("execve").expect("execve").conf(true, false);
        assert_eq!(
            execve.slot(1).map(|s| (s.arg, s.capture)),
            Some((1, Capture::StrArray))
        );
        assert_eq!(
            execve.slot(2).map(|s| (s.arg, s.capture)),
            Some((2, Capture::StrArray))
        );
    }

    #[test]
    fn exec_check_captures_the_file_name_in_slot_zero() {
        // The kernel's exec check compares slot 0 with bprm->filename, and
        // takes execveat's directory fd from argument 0.
        for (name, arg) in [("execve", 0), ("execveat", 1)] {
            let s = by_name(name).expect(name);
            let quiet = s.conf(false, true);
            assert_eq!(
                quiet.slot(0).map(|s| (s.arg, s.capture)),
                Some((arg, Capture::CStr)),
                "{name}"
            );
            assert!(quiet.selected() && quiet.check_only(), "{name}");
            let loud = s.conf(true, true);
            assert!(loud.selected() && !loud.check_only(), "{name}");
            assert!(!s.conf(false, false).selected(), "{name}");
        }
        let open = by_name("openat").expect("openat").conf(false, true);
        assert!(!open.selected() && !open.check_only());
    }
}
