//! The in-kernel scope: which processes are traced, as the eBPF programs
//! evaluate it on the current task before anything is reserved.
//!
//! Each key in [`ScopeConf::keys`] must match (different keys AND). A key
//! matches when none of its `!=` terms does and, if it has `=` terms, one of
//! them does (the same key repeated is OR). Exact values of pid, ppid,
//! mntns and the workload cgroups sit in the `SCOPE_IDS` hash map; everything else sits in the conf
//! (a read-only global), in the form cheapest to test (comms as masked 64-bit words, pid
//! namespaces for `bpf_get_ns_current_pid_tgid`).

/// Global: the [`ScopeConf`] (read-only data, frozen before the programs are
/// verified, so the verifier sees the actual terms and prunes the keys not used).
pub const GLOBAL_SCOPE: &str = "SCOPE";
/// Map: [`ScopeId`] -> [`TERM_INCLUDE`] / [`TERM_EXCLUDE`] bits.
pub const MAP_SCOPE_IDS: &str = "SCOPE_IDS";
/// Entries `SCOPE_IDS` holds.
pub const SCOPE_MAP_ENTRIES: u32 = 4096;

/// The value of a `SCOPE_IDS` / `SCOPE_COMM` entry.
pub const TERM_INCLUDE: u8 = 1;
pub const TERM_EXCLUDE: u8 = 2;

/// Terms of one range key (uid, gid).
pub const MAX_RANGES: usize = 8;
/// Terms of `comm=` (exact names and prefixes).
pub const MAX_COMMS: usize = 16;
/// Terms of `pidns=`.
pub const MAX_PIDNS: usize = 8;
/// Terms of `uts=`.
pub const MAX_UTS: usize = 4;
/// Hostname bytes compared (`__NEW_UTS_LEN`).
pub const UTS_MATCH_LEN: usize = 64;
/// Terms of `cgroup=`.
pub const MAX_CGROUPS: usize = 4;

/// The keys the kernel decides; bit `1 << key` in [`ScopeConf::keys`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKey {
    Pid = 0,
    Ppid = 1,
    Uid = 2,
    Gid = 3,
    Comm = 4,
    Mntns = 5,
    Pidns = 6,
    Uts = 7,
    Container = 8,
    Cgroup = 9,
    /// The task's own cgroup id, exactly, in `SCOPE_IDS`: the cgroups of the
    /// containers that workload terms (`k8s.namespace`, `k8s.pod`,
    /// `container.name`, `container.image`) admit or exclude, kept current
    /// by user space as containers start and stop.
    Workload = 10,
}

impl ScopeKey {
    pub const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// [`ScopeConf::flags`]: every process is traced (no key is evaluated).
pub const SCOPE_ALL: u32 = 1;
/// Descendants of a traced process are traced too.
pub const SCOPE_FOLLOW: u32 = 2;
/// `pid=new`: processes created after start-up match `pid`.
pub const SCOPE_NEW: u32 = 4;
/// `pid!=new`: processes created after start-up do not match `pid`.
pub const SCOPE_NOT_NEW: u32 = 8;
/// `container`: processes outside the host's pid namespace match.
pub const SCOPE_CONTAINER: u32 = 16;
/// `!container`: processes in the host's pid namespace match.
pub const SCOPE_HOST: u32 = 32;

/// `TRACED` value bits: created after start-up / descendant of a traced process.
pub const TRACED_NEW: u8 = 1;
pub const TRACED_FOLLOWED: u8 = 2;

/// A key of the `SCOPE_IDS` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScopeId {
    /// A [`ScopeKey`].
    pub key: u32,
    pub _pad: u32,
    pub value: u64,
}

/// `lo..=hi`; `exclude` 1 for a `!=` / negated term.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    pub lo: u32,
    pub hi: u32,
    pub exclude: u32,
    pub _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    pub ranges: [Range; MAX_RANGES],
    pub count: u32,
    pub _pad: u32,
}

/// A comm term: `comm & mask == value`, the comm read as two 64-bit words
/// (NUL-padded). An exact name masks all 16 bytes, a prefix its own bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommTerm {
    pub value: [u64; 2],
    pub mask: [u64; 2],
    pub exclude: u32,
    pub _pad: u32,
}

/// A pid namespace term (its nsfs inode).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PidnsTerm {
    pub inum: u32,
    pub exclude: u32,
}

/// A hostname: equal, or (`prefix` 1) its first `len` bytes equal.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtsTerm {
    pub bytes: [u8; UTS_MATCH_LEN],
    pub len: u32,
    pub prefix: u32,
    pub exclude: u32,
    pub _pad: u32,
}

impl Default for UtsTerm {
    fn default() -> Self {
        UtsTerm {
            bytes: [0; UTS_MATCH_LEN],
            len: 0,
            prefix: 0,
            exclude: 0,
            _pad: 0,
        }
    }
}

/// A cgroup v2 directory and everything below it: the task's ancestor at
/// `level` (the root is level 0) has cgroup id `id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupTerm {
    pub id: u64,
    pub level: u32,
    pub exclude: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScopeConf {
    /// `SCOPE_*` flags.
    pub flags: u32,
    /// [`ScopeKey`] bits: the keys to evaluate.
    pub keys: u32,
    /// [`ScopeKey`] bits: the keys that have `=` terms (one must match).
    pub includes: u32,
    /// [`ScopeKey`] bits: the keys with entries in `SCOPE_IDS` / `SCOPE_COMM`.
    pub in_maps: u32,
    /// The host's pid namespace inode (`container`).
    pub host_pidns: u32,
    pub comm_count: u32,
    pub uts_count: u32,
    pub cgroup_count: u32,
    pub pidns_count: u32,
    pub _pad: u32,
    /// The nsfs device (`st_dev` of /proc/self/ns/pid), for namespace tests.
    pub nsfs_dev: u64,
    pub uid: RangeSet,
    pub gid: RangeSet,
    pub comms: [CommTerm; MAX_COMMS],
    pub pidns: [PidnsTerm; MAX_PIDNS],
    pub uts: [UtsTerm; MAX_UTS],
    pub cgroups: [CgroupTerm; MAX_CGROUPS],
}

impl ScopeConf {
    /// Every field zero (what the eBPF object is built with).
    pub const ZERO: ScopeConf = ScopeConf {
        flags: 0,
        keys: 0,
        includes: 0,
        in_maps: 0,
        host_pidns: 0,
        comm_count: 0,
        uts_count: 0,
        cgroup_count: 0,
        pidns_count: 0,
        _pad: 0,
        nsfs_dev: 0,
        uid: RangeSet::ZERO,
        gid: RangeSet::ZERO,
        comms: [CommTerm {
            value: [0; 2],
            mask: [0; 2],
            exclude: 0,
            _pad: 0,
        }; MAX_COMMS],
        pidns: [PidnsTerm {
            inum: 0,
            exclude: 0,
        }; MAX_PIDNS],
        uts: [UtsTerm {
            bytes: [0; UTS_MATCH_LEN],
            len: 0,
            prefix: 0,
            exclude: 0,
            _pad: 0,
        }; MAX_UTS],
        cgroups: [CgroupTerm {
            id: 0,
            level: 0,
            exclude: 0,
        }; MAX_CGROUPS],
    };
}

impl RangeSet {
    pub const ZERO: RangeSet = RangeSet {
        ranges: [Range {
            lo: 0,
            hi: 0,
            exclude: 0,
            _pad: 0,
        }; MAX_RANGES],
        count: 0,
        _pad: 0,
    };
}

#[cfg(feature = "user")]
mod pod {
    unsafe impl aya::Pod for super::ScopeId {}
    unsafe impl aya::Pod for super::ScopeConf {}
}

const _: () = assert!(core::mem::size_of::<ScopeId>() == 16);
const _: () = assert!(core::mem::size_of::<RangeSet>() == 136);
const _: () = assert!(core::mem::size_of::<CommTerm>() == 40);
const _: () = assert!(core::mem::size_of::<UtsTerm>() == 80);
const _: () = assert!(
    core::mem::size_of::<ScopeConf>()
        == 48 + 2 * 136 + MAX_COMMS * 40 + MAX_PIDNS * 8 + MAX_UTS * 80 + MAX_CGROUPS * 16
);
