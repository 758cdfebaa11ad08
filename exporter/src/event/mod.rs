//! The event model: the owned, decoded event every sink receives, what its
//! values are, and the catalog of every event sysotel can emit (with the `-e`
//! selection over it).

pub mod catalog;
pub mod errno;
pub mod select;
pub mod sets;
pub mod sockaddr;
#[doc(hidden)]
pub mod testing;
pub mod text;

use exporter_common::{EventId, events::EventKind, records::is_errno, syscalls::RetKind};

pub use catalog::Category;
pub use sockaddr::SockAddr;
pub use text::{c_text, text};

/// Who did it (see `exporter_common::records::TaskContext`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    pub ts_boot_ns: u64,
    pub cgroup_id: u64,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub vpid: u32,
    /// Real user and group ids.
    pub uid: u32,
    pub gid: u32,
    /// Effective and saved user ids.
    pub euid: u32,
    pub suid: u32,
    pub mnt_ns: u32,
    pub pid_ns: u32,
    /// Host pids of the session leader and of the process group leader.
    pub sid: u32,
    pub pgid: u32,
    /// The process has a controlling terminal.
    pub interactive: bool,
    /// When the process started: nanoseconds since boot (the kernel's), and
    /// Unix nanoseconds (set by the reader; 0 until then).
    pub start_boot_ns: u64,
    pub start_unix_ns: u64,
    /// The names of `euid` and `uid` in the host's passwd (user space).
    pub user_name: Option<std::sync::Arc<str>>,
    pub real_user_name: Option<std::sync::Arc<str>>,
    /// Shared between the events of a task: one allocation per distinct
    /// name, not per event (see `decode`).
    pub comm: std::sync::Arc<str>,
    pub uts_name: std::sync::Arc<str>,
    /// The container the process runs in, from its cgroup (user space).
    pub container_id: Option<std::sync::Arc<str>>,
    /// What the container's runtime says of it, once it has answered.
    pub container: Option<std::sync::Arc<ContainerMeta>>,
}

impl Context {
    /// The Kubernetes pod of the process's container, once its runtime has
    /// described it.
    pub fn pod(&self) -> Option<&Pod> {
        self.container.as_ref().and_then(|m| m.pod.as_ref())
    }
}

/// A container as its runtime describes it (the semantic conventions'
/// `container.*` attributes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    /// `container.name`.
    pub name: String,
    /// `container.image.name`: the image reference without its tag or digest.
    pub image_name: Option<String>,
    /// `container.image.tags`.
    pub image_tags: Vec<String>,
    /// `container.image.id`: the runtime's image id (`sha256:…`).
    pub image_id: Option<String>,
    /// `container.runtime.name`: `docker`, `podman`, `containerd`, `cri-o`.
    pub runtime: &'static str,
    /// The Kubernetes pod the container belongs to (CRI runtimes).
    pub pod: Option<Pod>,
}

/// A Kubernetes pod, as its runtime's sandbox describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pod {
    /// `k8s.pod.name`.
    pub name: String,
    /// `k8s.pod.uid`.
    pub uid: String,
    /// `k8s.namespace.name`.
    pub namespace: String,
    /// `k8s.container.name`: the container's name in the pod's spec.
    pub container_name: String,
}

impl ContainerMeta {
    /// Splits an image reference (`registry:5000/org/app:1.2@sha256:…`) into
    /// its name and its tag, if any: a `:` after the last `/` starts the tag.
    pub fn split_image_ref(reference: &str) -> (&str, Option<&str>) {
        let reference = reference.split_once('@').map_or(reference, |(r, _)| r);
        let last = reference.rfind('/').map_or(0, |i| i + 1);
        match reference[last..].rfind(':') {
            Some(i) => (&reference[..last + i], Some(&reference[last + i + 1..])),
            None => (reference, None),
        }
    }
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
    /// The record's place in the order the reader passed records on (after
    /// the filters), consecutive per run: `sysotel.sequence`. Gaps in what an
    /// output delivers are the numbers its `sysotel.loss` records name.
    pub sequence: u64,
}

impl Event {
    /// Declared event `kind` of `ctx` with `values`, in the order of its
    /// declared fields.
    pub fn declared(kind: EventKind, ctx: Context, values: Vec<Value>) -> Event {
        let def = kind.def();
        Event {
            id: def.id,
            name: def.name,
            category: def.category,
            ctx,
            ret: 0,
            ret_kind: RetKind::Int,
            no_return: false,
            args: def
                .fields
                .iter()
                .zip(values)
                .map(|(f, value)| Arg {
                    name: f.name,
                    value,
                })
                .collect(),
            observed_unix_ns: 0,
            sequence: 0,
        }
    }

    /// The errno a failed syscall returned (`-MAX_ERRNO..=-1`), if any.
    pub fn errno(&self) -> Option<i32> {
        (self.category == Category::Syscall && !self.no_return && is_errno(self.ret))
            .then(|| -self.ret as i32)
    }

    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|a| a.name == name).map(|a| &a.value)
    }
}
