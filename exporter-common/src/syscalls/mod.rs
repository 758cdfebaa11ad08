//! The x86_64 syscall table: number, name and each argument's name, C type and
//! kind. Generated from the kernel's own tracefs description by
//! `scripts/gen_syscalls.py`; the eBPF side learns from it (through the
//! `SYSCALL_CONF` map) which arguments to read at entry, user space how to
//! print and type each one.

mod x86_64;

pub use x86_64::SYSCALLS;

use crate::config::SyscallConf;
use crate::records::MAX_STR_ARGS;

/// How an argument register is read and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A C `int`-sized signed value (fds, pids, flags): the low 32 bits, sign-extended.
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
    /// A path string read from user memory at entry.
    Path,
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
    pub args: &'static [ArgDef],
}

impl SyscallDef {
    /// The kernel capture configuration for this syscall.
    pub fn conf(&self, selected: bool) -> SyscallConf {
        let mut slots: [Option<u8>; MAX_STR_ARGS] = [None; MAX_STR_ARGS];
        let mut n = 0;
        for (i, a) in self.args.iter().enumerate() {
            if a.kind == ArgKind::Path && n < MAX_STR_ARGS {
                slots[n] = Some(i as u8);
                n += 1;
            }
        }
        SyscallConf::new(selected, self.no_return, slots)
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

    #[test]
    fn known_syscalls() {
        assert_eq!(by_nr(257).map(|s| s.name), Some("openat"));
        assert_eq!(by_name("getppid").map(|s| s.nr), Some(110));
        let rename = by_name("renameat2").expect("renameat2");
        let conf = rename.conf(true);
        assert_eq!(conf.str_arg(0), Some(1));
        assert_eq!(conf.str_arg(1), Some(3));
        assert!(conf.selected());
        assert!(
            by_name("exit_group")
                .expect("exit_group")
                .conf(true)
                .no_return()
        );
        assert_eq!(
            by_name("getppid").expect("getppid").conf(true).str_arg(0),
            None
        );
    }
}
