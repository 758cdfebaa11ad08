//! The owned, decoded event every sink receives.

use exporter_common::EventId;

use exporter_common::syscalls::RetKind;

use crate::{catalog::Category, format::sockaddr::SockAddr};

/// Who did it (see `exporter_common::records::TaskContext`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    pub ts_boot_ns: u64,
    pub cgroup_id: u64,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub vpid: u32,
    pub uid: u32,
    pub gid: u32,
    pub mnt_ns: u32,
    pub pid_ns: u32,
    pub comm: String,
    pub uts_name: String,
    /// The container the process runs in, from its cgroup (user space).
    pub container_id: Option<std::sync::Arc<str>>,
}

/// One argument value, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    UInt(u64),
    /// Shown in hex (addresses).
    Hex(u64),
    /// Shown in octal (file modes).
    Octal(u64),
    Bool(bool),
    /// A file descriptor (`AT_FDCWD` by name in the table).
    Fd(i64),
    /// A flag set or enumeration: its symbolic text and the raw value.
    Sym {
        raw: u64,
        text: String,
    },
    /// A string read from memory; `truncated` when it hit its bound.
    Str {
        value: String,
        truncated: bool,
    },
    /// Memory that could not be read: the pointer it was at.
    Unreadable(u64),
    /// A string array (argv, envp): the elements captured, whether some were
    /// cut or left out, and how many the array had (at least `values.len()`).
    StrList {
        values: Vec<String>,
        truncated: bool,
        count: u32,
    },
    /// A socket address.
    SockAddr(SockAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub name: &'static str,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    /// The short name the table shows (`openat`, `sched_process_exec`).
    pub name: &'static str,
    pub category: Category,
    pub ctx: Context,
    /// The syscall's return value; 0 for events that have none.
    pub ret: i64,
    /// What a successful return value is (a number, an fd, an address).
    pub ret_kind: RetKind,
    /// The syscall never returned (exit, exit_group): `ret` is meaningless.
    pub no_return: bool,
    pub args: Vec<Arg>,
    /// Unix nanoseconds when user space read the record (0 until then).
    pub observed_unix_ns: u64,
}

impl Event {
    /// The errno a failed syscall returned (`-4095..=-1`), if any.
    pub fn errno(&self) -> Option<i32> {
        (self.category == Category::Syscall && !self.no_return && (-4095..0).contains(&self.ret))
            .then(|| -self.ret as i32)
    }

    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|a| a.name == name).map(|a| &a.value)
    }
}

/// Bytes from the kernel as text: valid UTF-8 is kept, every other byte is
/// escaped as `\xNN` so nothing is lost or silently replaced.
pub fn text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A NUL-terminated buffer as text (up to the first NUL).
pub fn c_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    text(&buf[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_invalid_utf8_only() {
        assert_eq!(text(b"caf\xc3\xa9"), "café");
        assert_eq!(text(b"a\xffb"), "a\\xffb");
        assert_eq!(c_text(b"bash\0\0junk"), "bash");
    }
}
