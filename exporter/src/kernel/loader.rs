//! Loading and attaching the eBPF programs, and reading the kernel's counters.

use std::path::Path;

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, Map, MapData, PerCpuArray},
    programs::{
        FEntry, Lsm, RawTracePoint, fentry::FEntryLinkId, lsm::LsmLinkId,
        raw_trace_point::RawTracePointLinkId,
    },
};
use exporter_common::{
    EventId,
    config::{
        GLOBAL_OFFSETS, GLOBAL_SELECTED, GLOBAL_SELF_TGID, GLOBAL_WAKEUP_BYTES, KernelError,
        MAP_ERRORS, MAP_EVENTS, MAP_LOST, MAP_PENDING, MAP_SUBMITTED, MAP_SYSCALL_CONF,
        PENDING_SLOTS, SYSCALL_CONF_LEN,
    },
    events::{
        Attach, EVENT_ID_LIMIT, EventKind, KERNEL_EVENT_SLOTS, Program, SYSCALL_PROGRAMS, Source,
        selected_slot,
    },
    scope::{GLOBAL_SCOPE, MAP_SCOPE_IDS, ScopeConf, ScopeId, ScopeKey},
    syscalls::SYSCALLS,
};
use thiserror::Error;

use super::{
    counters::KernelCounts,
    host,
    offsets::{self, OffsetsError},
};
use crate::event::select::Selection;

/// The eBPF object built by build.rs.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sysotel"));

/// Every program, once: the syscall programs, then each declared kernel
/// event's.
pub fn programs() -> Vec<Program> {
    let mut all: Vec<Program> = SYSCALL_PROGRAMS.to_vec();
    for e in EventKind::ALL {
        if let Source::Kernel { program, .. } = e.def().source
            && !all.contains(&program)
        {
            all.push(program);
        }
    }
    all
}

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(
        "sysotel needs root, or the capabilities CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); run it with sudo"
    )]
    Privileges,
    // The kernel follows the whole message, so the cause is not a `source`.
    #[error("{error} (Linux {release})")]
    Offsets {
        release: String,
        error: OffsetsError,
    },
    #[error("--btf {path}: {message}")]
    AyaBtf { path: String, message: String },
    #[error(transparent)]
    EbpfObject(#[from] super::object::ObjectError),
    #[error("loading the eBPF object failed: {0}")]
    Object(#[source] aya::EbpfError),
    #[error("eBPF program {program} failed to {action}: {source}")]
    Program {
        program: &'static str,
        action: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("eBPF map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("the eBPF object has no {0}")]
    Missing(&'static str),
    #[error("enabling kernel BPF run-time statistics failed (--bpf-stats): {0}")]
    Stats(String),
    #[error("-e {event}: not available on this kernel: {reason}")]
    LsmUnavailable { event: &'static str, reason: String },
}

impl LoadError {
    /// A request this kernel cannot meet as asked (exit 2, like bad usage).
    pub fn is_usage(&self) -> bool {
        matches!(self, LoadError::LsmUnavailable { .. })
    }
}

/// How the LSM hook events were attached, event by event: as BPF LSM
/// programs where the kernel runs them, else as fentry programs on the
/// `security_*` functions, else not (and why). A kernel that lacks one hook
/// (the path hooks need `CONFIG_SECURITY_PATH`) loses that event only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LsmAttach {
    pub bpf_lsm: Vec<&'static str>,
    pub fentry: Vec<&'static str>,
    /// Events attached by neither mechanism, and why.
    pub unavailable: Vec<(&'static str, String)>,
}

impl LsmAttach {
    /// Why the unavailable events are: one reason when they share it.
    fn reasons(&self) -> String {
        let first = self.unavailable.first().map(|(_, r)| r.as_str());
        if self
            .unavailable
            .iter()
            .all(|(_, r)| Some(r.as_str()) == first)
        {
            return first.unwrap_or_default().to_string();
        }
        self.unavailable
            .iter()
            .map(|(e, r)| format!("{e}: {r}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The event's reason if it is unavailable.
    pub fn why_unavailable(&self, event: &str) -> Option<&str> {
        self.unavailable
            .iter()
            .find(|(e, _)| *e == event)
            .map(|(_, r)| r.as_str())
    }

    /// For the ready line: `lsm events via bpf-lsm`, `via fentry`, `via
    /// bpf-lsm (N) and fentry (M)`, `off (why)` or `not selected`, and the
    /// events left out.
    pub fn describe(&self) -> String {
        let attached = match (self.bpf_lsm.len(), self.fentry.len()) {
            (0, 0) if self.unavailable.is_empty() => return "lsm events not selected".into(),
            (0, 0) => return format!("lsm events off ({})", self.reasons()),
            (_, 0) => "lsm events via bpf-lsm".to_string(),
            (0, _) => "lsm events via fentry".to_string(),
            (b, f) => format!("lsm events via bpf-lsm ({b}) and fentry ({f})"),
        };
        if self.unavailable.is_empty() {
            return attached;
        }
        let names: Vec<_> = self.unavailable.iter().map(|(e, _)| *e).collect();
        format!(
            "{attached}, unavailable: {} ({})",
            names.join(" "),
            self.reasons()
        )
    }
}

/// How the LSM events would attach on this kernel, found by loading and
/// attaching their programs for a moment (what `sysotel list` shows). As
/// root only: without the privileges every event is unavailable, saying so.
pub fn probe_lsm() -> LsmAttach {
    let lsm_events = || {
        EventKind::ALL
            .iter()
            .filter(|e| e.def().category == exporter_common::events::Category::Lsm)
            .map(|e| e.def().name)
    };
    let Ok(selection) = Selection::parse(&["lsm"]) else {
        return LsmAttach::default();
    };
    let opts = LoadOptions {
        selection,
        // Attached for a moment, writing into a small ring nobody reads.
        scope: exporter_common::scope::ScopeConf::ZERO,
        scope_ids: Vec::new(),
        btf: None,
        lifecycle_records: false,
        bpf_stats: false,
        ring_bytes: 4096,
        wakeup_bytes: 1024,
        lsm_required: false,
    };
    match load(opts) {
        Ok(mut t) => {
            t.detach();
            t.lsm
        }
        Err(e) => LsmAttach {
            unavailable: lsm_events().map(|n| (n, e.to_string())).collect(),
            ..LsmAttach::default()
        },
    }
}

/// The active LSMs, `/sys/kernel/security/lsm` (securityfs).
const ACTIVE_LSMS: &str = "/sys/kernel/security/lsm";

/// Whether BPF LSM programs run on this kernel; why not when they do not.
pub fn bpf_lsm_active() -> Result<(), String> {
    if !Path::new(ACTIVE_LSMS).exists() {
        mount_securityfs();
    }
    match std::fs::read_to_string(ACTIVE_LSMS) {
        Ok(list) if list.trim().split(',').any(|l| l == "bpf") => Ok(()),
        Ok(list) => Err(format!(
            "bpf is not in the active LSM list ({}); boot with lsm={},bpf",
            list.trim(),
            list.trim()
        )),
        Err(e) => Err(format!(
            "{ACTIVE_LSMS} cannot be read ({e}): securityfs not mounted?"
        )),
    }
}

/// Mounts securityfs where it is not (a minimal init, a container with its
/// own /sys): the active LSM list is read from it. Failing is fine: the
/// read that follows says what is missing.
fn mount_securityfs() {
    let (Ok(src), Ok(target)) = (
        std::ffi::CString::new("securityfs"),
        std::ffi::CString::new("/sys/kernel/security"),
    ) else {
        return;
    };
    // SAFETY: valid C strings; no data argument.
    unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            src.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
}

/// An attached program's link, by kind.
enum Link {
    Raw(RawTracePointLinkId),
    Lsm(LsmLinkId),
    FEntry(FEntryLinkId),
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The events the kernel writes.
    pub selection: Selection,
    /// Which processes the kernel traces: the scope's terms, and its exact
    /// ids for the `SCOPE_IDS` map.
    pub scope: ScopeConf,
    pub scope_ids: Vec<(ScopeId, u8)>,
    /// The kernel's BTF from this file (`--btf`) instead of sysfs.
    pub btf: Option<std::path::PathBuf>,
    /// Write every fork, exec and exit record whether selected or not (user
    /// space follows executables with them).
    pub lifecycle_records: bool,
    /// Have the kernel time every program run (BPF_ENABLE_STATS; costs two
    /// clock reads per run while on).
    pub bpf_stats: bool,
    /// Ring buffer size in bytes (a power of two, a multiple of the page size).
    pub ring_bytes: u32,
    /// Unread bytes above which a write wakes the reader.
    pub wakeup_bytes: u64,
    /// The user asked for LSM events by name: if they cannot be attached,
    /// that is an error, not a note in the ready line.
    pub lsm_required: bool,
}

/// Loaded and attached programs.
pub struct Tracer {
    ebpf: Ebpf,
    links: Vec<(&'static str, Link)>,
    /// How the LSM hook events are attached.
    pub lsm: LsmAttach,
    /// The programs, in the order they were attached.
    programs: Vec<&'static str>,
    /// Keeps kernel run-time statistics on while open.
    stats_fd: Option<std::os::fd::OwnedFd>,
}

/// Kernel-measured cost of one program (with `--bpf-stats`).
#[derive(Clone, Debug)]
pub struct ProgramCost {
    pub name: &'static str,
    pub runs: u64,
    pub total: std::time::Duration,
}

/// CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF (include/uapi/linux/capability.h).
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn has_privileges() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |c: u32| caps & (1u64 << c) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

/// Loads the programs with the running kernel's offsets and attaches them all.
pub fn load(opts: LoadOptions) -> Result<Tracer, LoadError> {
    if !has_privileges() {
        return Err(LoadError::Privileges);
    }
    let release = host::kernel_release();
    let located = |error| LoadError::Offsets {
        release: release.clone(),
        error,
    };
    let (btf, btf_bytes) = offsets::load_kernel_btf(opts.btf.as_deref()).map_err(located)?;
    let offsets = offsets::resolve(&btf).map_err(located)?;
    // aya reads the kernel's BTF itself unless given a file.
    let aya_btf = match &opts.btf {
        Some(path) => Some(
            aya::Btf::parse(&btf_bytes, aya::Endianness::default()).map_err(|e| {
                LoadError::AyaBtf {
                    path: path.display().to_string(),
                    message: e.to_string(),
                }
            })?,
        ),
        None => None,
    };
    raise_memlock();
    let object = object_for(&release)?;

    let self_tgid = std::process::id();
    let mut selected = [0u8; KERNEL_EVENT_SLOTS];
    for &e in EventKind::ALL {
        let wanted = opts.lifecycle_records
            && e.def().category == exporter_common::events::Category::Sched
            || opts.selection.contains(e.id())
            || (e == EventKind::ProcessExec && opts.selection.needs_exec_records());
        if wanted && matches!(e.def().source, Source::Kernel { .. }) {
            selected[selected_slot(e)] = 1;
        }
    }
    let mut ebpf = EbpfLoader::new()
        .override_global(GLOBAL_SELF_TGID, &self_tgid, true)
        .override_global(GLOBAL_WAKEUP_BYTES, &opts.wakeup_bytes, true)
        .override_global(GLOBAL_SELECTED, &selected, true)
        .override_global(GLOBAL_OFFSETS, &offsets, true)
        .override_global(GLOBAL_SCOPE, &opts.scope, true)
        .map_max_entries(MAP_EVENTS, opts.ring_bytes)
        .map_max_entries(MAP_PENDING, object.pending_slots)
        .btf(aya_btf.as_ref())
        .load(&object.elf)
        .map_err(LoadError::Object)?;

    {
        let map = ebpf
            .map_mut(MAP_SYSCALL_CONF)
            .ok_or(LoadError::Missing(MAP_SYSCALL_CONF))?;
        let mut conf: Array<_, u32> = Array::try_from(map).map_err(|source| LoadError::Map {
            map: MAP_SYSCALL_CONF,
            source,
        })?;
        // The exec check compares the exec syscalls' names captured at entry.
        let exec_check = opts.selection.contains(EventKind::ExecMismatch.id());
        for s in SYSCALLS.iter().filter(|s| s.nr < SYSCALL_CONF_LEN) {
            conf.set(s.nr, s.conf(opts.selection.contains(s.nr), exec_check).0, 0)
                .map_err(|source| LoadError::Map {
                    map: MAP_SYSCALL_CONF,
                    source,
                })?;
        }
    }

    write_scope(&mut ebpf, &opts.scope_ids)?;

    let stats_fd = if opts.bpf_stats {
        Some(
            aya::sys::enable_stats(aya::sys::Stats::RunTime)
                .map_err(|e| LoadError::Stats(e.to_string()))?,
        )
    } else {
        None
    };
    let mut tracer = Tracer {
        ebpf,
        links: Vec::new(),
        lsm: LsmAttach::default(),
        programs: Vec::new(),
        stats_fd,
    };
    let mut lsm_events = Vec::new();
    for p in programs() {
        match p.attach {
            Attach::RawTracepoint(tracepoint) => {
                let link = tracer.attach_raw(p.name, tracepoint)?;
                tracer.links.push((p.name, link));
                tracer.programs.push(p.name);
            }
            Attach::Lsm { .. } => {
                let events = EventKind::ALL.iter().filter(
                    |e| matches!(e.def().source, Source::Kernel { program, .. } if program == p),
                );
                let selected: Vec<_> = events.filter(|e| opts.selection.contains(e.id())).collect();
                if let Some(e) = selected.first() {
                    lsm_events.push((p, e.def().name));
                }
            }
        }
    }
    if !lsm_events.is_empty() {
        tracer.lsm = tracer.attach_lsm(&lsm_events, aya_btf.as_ref());
        if let (Some((event, reason)), true) = (tracer.lsm.unavailable.first(), opts.lsm_required) {
            return Err(LoadError::LsmUnavailable {
                event,
                reason: reason.clone(),
            });
        }
    }
    Ok(tracer)
}

impl Tracer {
    /// Loads raw tracepoint program `name` and attaches it to `tracepoint`.
    fn attach_raw(&mut self, name: &'static str, tracepoint: &str) -> Result<Link, LoadError> {
        let err = |action| {
            move |source| LoadError::Program {
                program: name,
                action,
                source,
            }
        };
        let prog: &mut RawTracePoint = self
            .ebpf
            .program_mut(name)
            .ok_or(LoadError::Missing(name))?
            .try_into()
            .map_err(err("load"))?;
        prog.load().map_err(err("load"))?;
        prog.attach(tracepoint)
            .map(Link::Raw)
            .map_err(err("attach"))
    }

    /// Attaches the LSM programs of the selected LSM events: as BPF LSM
    /// programs where the kernel runs them, else as fentry programs; the
    /// mechanism used, or why neither worked. All or none: a kernel that
    /// takes some hooks and refuses others leaves them all off.
    fn attach_lsm(
        &mut self,
        events: &[(Program, &'static str)],
        btf: Option<&aya::Btf>,
    ) -> LsmAttach {
        let mut out = LsmAttach::default();
        let owned;
        let btf = match btf {
            Some(b) => b,
            None => match aya::Btf::from_sys_fs() {
                Ok(b) => {
                    owned = b;
                    &owned
                }
                Err(e) => {
                    out.unavailable = events
                        .iter()
                        .map(|(_, name)| (*name, format!("no kernel BTF: {e}")))
                        .collect();
                    return out;
                }
            },
        };
        // A mechanism the kernel denies (EPERM: a lockdown, a policy) denies
        // every program: tried once, not once per event (on this host 2
        // attempts instead of one per event and mechanism, 30).
        let mut lsm_denied = bpf_lsm_active().err();
        let mut fentry_denied: Option<String> = None;
        for &(p, event) in events {
            let as_lsm = match self.attach_with(p, btf, true, &mut lsm_denied) {
                Ok(()) => {
                    out.bpf_lsm.push(event);
                    continue;
                }
                Err(why) => why,
            };
            let as_fentry = match self.attach_with(p, btf, false, &mut fentry_denied) {
                Ok(()) => {
                    out.fentry.push(event);
                    continue;
                }
                Err(why) => why,
            };
            out.unavailable
                .push((event, format!("{as_lsm}; {as_fentry}")));
        }
        out
    }

    /// [`Self::attach_one`] unless the mechanism was `denied` before; a
    /// denial (EPERM) is remembered for the programs after this one. Why
    /// not, as the ready line says it.
    fn attach_with(
        &mut self,
        p: Program,
        btf: &aya::Btf,
        lsm: bool,
        denied: &mut Option<String>,
    ) -> Result<(), String> {
        if let Some(why) = denied {
            return Err(why.clone());
        }
        let (e, is_denial) = match self.attach_one(p, btf, lsm) {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        let why = format!("{} refused: {e}", if lsm { "bpf-lsm" } else { "fentry" });
        if is_denial {
            *denied = Some(why.clone());
        }
        Err(why)
    }

    /// Loads and attaches program `p` as a BPF LSM program (`lsm`) or as
    /// its fentry program; why not when it cannot, and whether the kernel
    /// denied it (EPERM) rather than found fault with this program.
    fn attach_one(&mut self, p: Program, btf: &aya::Btf, lsm: bool) -> Result<(), (String, bool)> {
        let Attach::Lsm {
            hook,
            function,
            fentry,
        } = p.attach
        else {
            return Err((format!("{} is not an LSM program", p.name), false));
        };
        let fail = |e: aya::programs::ProgramError| (describe(&e), denied(&e));
        let other = |e: String| (e, false);
        let (name, link) = if lsm {
            let prog = self
                .ebpf
                .program_mut(p.name)
                .ok_or_else(|| other(format!("no program {}", p.name)))?;
            let prog = <&mut Lsm>::try_from(prog).map_err(|e| other(e.to_string()))?;
            prog.load(hook, btf).map_err(fail)?;
            (p.name, prog.attach().map(Link::Lsm).map_err(fail)?)
        } else {
            let prog = self
                .ebpf
                .program_mut(fentry)
                .ok_or_else(|| other(format!("no program {fentry}")))?;
            let prog = <&mut FEntry>::try_from(prog).map_err(|e| other(e.to_string()))?;
            prog.load(function, btf).map_err(fail)?;
            (fentry, prog.attach().map(Link::FEntry).map_err(fail)?)
        };
        self.links.push((name, link));
        self.programs.push(name);
        Ok(())
    }

    fn detach_one(&mut self, name: &str, link: Link) {
        let Some(p) = self.ebpf.program_mut(name) else {
            return;
        };
        match link {
            Link::Raw(l) => {
                if let Ok(p) = <&mut RawTracePoint>::try_from(p) {
                    let _ = p.detach(l);
                }
            }
            Link::Lsm(l) => {
                if let Ok(p) = <&mut Lsm>::try_from(p) {
                    let _ = p.detach(l);
                }
            }
            Link::FEntry(l) => {
                if let Ok(p) = <&mut FEntry>::try_from(p) {
                    let _ = p.detach(l);
                }
            }
        }
    }
}

/// A program error as one line: the kernel's answer, and the verifier's
/// last words when it said any.
/// The kernel refused the program with EPERM: not this program's fault
/// (a lockdown or a policy), and so the same for every program of its kind.
fn denied(e: &aya::programs::ProgramError) -> bool {
    use aya::programs::ProgramError as E;
    let io = match e {
        E::LoadError { io_error, .. } => io_error,
        E::SyscallError(s) => &s.io_error,
        _ => return false,
    };
    io.raw_os_error() == Some(libc::EPERM)
}

fn describe(e: &aya::programs::ProgramError) -> String {
    let text = e.to_string();
    let text = text.trim_end();
    let text = text
        .strip_suffix("Verifier output:")
        .unwrap_or(text)
        .trim_end();
    let text = text.strip_suffix('.').unwrap_or(text);
    // A refused program's log can run to thousands of lines: its end says why.
    match text.char_indices().rev().nth(400) {
        Some((i, _)) => format!("...{}", &text[i..]),
        None => text.to_string(),
    }
}

/// The `SCOPE_IDS` map, once the programs run: the workload cgroups' entries
/// ([`ScopeKey::Workload`](exporter_common::scope::ScopeKey)) change while
/// sysotel traces.
pub struct ScopeIds(HashMap<MapData, ScopeId, u8>);

impl ScopeIds {
    /// Sets the entry of cgroup `cgroup` of `key` to `verdict`.
    pub fn set(&mut self, key: ScopeKey, cgroup: u64, verdict: u8) -> Result<(), String> {
        self.0
            .insert(scope_id(key, cgroup), verdict, 0)
            .map_err(|e| e.to_string())
    }

    /// Removes the entry of `value` of `key`.
    pub fn remove(&mut self, key: ScopeKey, value: u64) -> Result<(), String> {
        self.0
            .remove(&scope_id(key, value))
            .map_err(|e| e.to_string())
    }
}

fn scope_id(key: ScopeKey, value: u64) -> ScopeId {
    ScopeId {
        key: key as u32,
        _pad: 0,
        value,
    }
}

/// The scope's exact terms, before any program is attached.
fn write_scope(ebpf: &mut Ebpf, ids: &[(ScopeId, u8)]) -> Result<(), LoadError> {
    fn map<'a>(
        ebpf: &'a mut Ebpf,
        name: &'static str,
    ) -> Result<&'a mut aya::maps::Map, LoadError> {
        ebpf.map_mut(name).ok_or(LoadError::Missing(name))
    }
    let err = |map: &'static str| move |source| LoadError::Map { map, source };
    let mut map: HashMap<_, ScopeId, u8> =
        HashMap::try_from(map(ebpf, MAP_SCOPE_IDS)?).map_err(err(MAP_SCOPE_IDS))?;
    for (k, v) in ids {
        map.insert(k, v, 0).map_err(err(MAP_SCOPE_IDS))?;
    }
    Ok(())
}

/// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; newer ones ignore it.
/// Threads with a syscall slot, on kernels where the slots are preallocated.
pub const PREALLOCATED_PENDING_SLOTS: u32 = 16384;

/// The eBPF object as the running kernel takes it.
struct KernelObject {
    elf: std::borrow::Cow<'static, [u8]>,
    pending_slots: u32,
}

/// Before 6.1, a hash map allocated at run time is unsafe in a tracing
/// program: 5.10 to 6.0 load it with a kernel WARNING (and an RT kernel
/// refuses it). There the per-thread syscall slots are preallocated, for
/// [`PREALLOCATED_PENDING_SLOTS`] threads (a thread beyond that is counted
/// as `pending slots full`); from 6.1 on they are allocated as threads need them.
fn object_for(release: &str) -> Result<KernelObject, LoadError> {
    let old = host::kernel_version(release).is_some_and(|v| v < (6, 1));
    if !old {
        return Ok(KernelObject {
            elf: std::borrow::Cow::Borrowed(EBPF_OBJECT),
            pending_slots: PENDING_SLOTS,
        });
    }
    let elf = super::object::with_map_flags(EBPF_OBJECT, MAP_PENDING, 0)?;
    Ok(KernelObject {
        elf: std::borrow::Cow::Owned(elf),
        pending_slots: PREALLOCATED_PENDING_SLOTS,
    })
}

fn raise_memlock() {
    let rlim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a valid rlimit struct; failure only matters on old kernels, where
    // loading then reports the real error.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rlim) };
}

impl Tracer {
    /// The ring-buffer losses only (the periodic loss check).
    pub fn lost(&self) -> Result<KernelCounts, LoadError> {
        let lost = sum_per_cpu(&self.ebpf, MAP_LOST, EVENT_ID_LIMIT)?;
        Ok(KernelCounts {
            lost: non_zero(&lost),
            ..KernelCounts::default()
        })
    }

    /// Hands the ring buffer to the reader.
    pub fn take_ring(&mut self) -> Result<MapData, LoadError> {
        match self.ebpf.take_map(MAP_EVENTS) {
            Some(Map::RingBuf(map)) => Ok(map),
            _ => Err(LoadError::Missing(MAP_EVENTS)),
        }
    }

    /// Hands the scope's id map to what keeps the workload cgroups current.
    pub fn take_scope_ids(&mut self) -> Result<ScopeIds, LoadError> {
        let map = self
            .ebpf
            .take_map(MAP_SCOPE_IDS)
            .ok_or(LoadError::Missing(MAP_SCOPE_IDS))?;
        HashMap::try_from(map)
            .map(ScopeIds)
            .map_err(|source| LoadError::Map {
                map: MAP_SCOPE_IDS,
                source,
            })
    }

    /// How many programs are attached.
    pub fn attached(&self) -> usize {
        self.links.len()
    }

    /// Runs and run time of every program, when `--bpf-stats` is on.
    pub fn program_costs(&self) -> Vec<ProgramCost> {
        if self.stats_fd.is_none() {
            return Vec::new();
        }
        self.programs
            .iter()
            .filter_map(|&name| {
                let info = self.ebpf.program(name)?.info().ok()?;
                Some(ProgramCost {
                    name,
                    runs: info.run_count(),
                    total: info.run_time(),
                })
            })
            .collect()
    }

    /// Detaches every program: no new records after this returns.
    pub fn detach(&mut self) {
        for (name, link) in std::mem::take(&mut self.links) {
            self.detach_one(name, link);
        }
    }

    /// Every kernel counter (at shutdown).
    pub fn counts(&self) -> Result<KernelCounts, LoadError> {
        let submitted = sum_per_cpu(&self.ebpf, MAP_SUBMITTED, EVENT_ID_LIMIT)?;
        let errors = sum_per_cpu(&self.ebpf, MAP_ERRORS, KernelError::COUNT)?;
        Ok(KernelCounts {
            lost: self.lost()?.lost,
            submitted: non_zero(&submitted),
            errors: KernelError::ALL
                .iter()
                .zip(errors)
                .filter(|(_, n)| *n > 0)
                .map(|(e, n)| (*e, n))
                .collect(),
        })
    }
}

/// Each slot of per-CPU map `name`, summed over CPUs.
fn sum_per_cpu(ebpf: &Ebpf, name: &'static str, len: u32) -> Result<Vec<u64>, LoadError> {
    let map = ebpf.map(name).ok_or(LoadError::Missing(name))?;
    let arr: PerCpuArray<_, u64> =
        PerCpuArray::try_from(map).map_err(|source| LoadError::Map { map: name, source })?;
    (0..len)
        .map(|i| {
            arr.get(&i, 0)
                .map(|v| v.iter().sum())
                .map_err(|source| LoadError::Map { map: name, source })
        })
        .collect()
}

/// (index, count) of the slots that are not zero.
fn non_zero(v: &[u64]) -> Vec<(EventId, u64)> {
    v.iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(id, n)| (id as EventId, *n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::LsmAttach;

    #[test]
    fn the_ready_line_says_how_each_lsm_event_attached() {
        let none = LsmAttach::default();
        assert_eq!(none.describe(), "lsm events not selected");
        let all = LsmAttach {
            bpf_lsm: vec!["security_file_open", "security_bpf"],
            ..LsmAttach::default()
        };
        assert_eq!(all.describe(), "lsm events via bpf-lsm");
        let fentry = LsmAttach {
            fentry: vec!["security_file_open"],
            ..LsmAttach::default()
        };
        assert_eq!(fentry.describe(), "lsm events via fentry");
        // A kernel without the path hooks loses those events only.
        let some = LsmAttach {
            bpf_lsm: vec!["security_file_open"],
            fentry: vec!["security_bpf"],
            unavailable: vec![
                ("security_path_unlink", "no hook".into()),
                ("security_path_rename", "no hook".into()),
            ],
        };
        assert_eq!(
            some.describe(),
            "lsm events via bpf-lsm (1) and fentry (1), unavailable: security_path_unlink security_path_rename (no hook)"
        );
        assert_eq!(
            some.why_unavailable("security_path_rename"),
            Some("no hook")
        );
        assert_eq!(some.why_unavailable("security_file_open"), None);
        let off = LsmAttach {
            unavailable: vec![("a", "x".into()), ("b", "y".into())],
            ..LsmAttach::default()
        };
        assert_eq!(off.describe(), "lsm events off (a: x; b: y)");
    }
}
