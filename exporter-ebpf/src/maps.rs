//! Every map the programs share with user space. Sizes here are defaults; user
//! space overrides the ring buffer size at load time.

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    macros::map,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
};
use exporter_common::{
    config::{KernelError, PENDING_SLOTS, SYSCALL_CONF_LEN},
    events::EVENT_ID_LIMIT,
    records::{
        BprmCheckBuf, ExecBuf, ExecMismatchBuf, FileOpenBuf, LsmHookBuf, LsmPathsBuf, SyscallBuf,
    },
    scope::{SCOPE_MAP_ENTRIES, ScopeId},
};

/// Records to user space.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(16 << 20, 0);

/// Per-CPU count of records that found the ring buffer full, by event id.
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(EVENT_ID_LIMIT, 0);

/// Per-CPU count of records written to the ring buffer, by event id.
#[map]
pub static SUBMITTED: PerCpuArray<u64> = PerCpuArray::with_max_entries(EVENT_ID_LIMIT, 0);

/// `SyscallConf` bits per syscall number, filled by user space from the syscall table.
#[map]
pub static SYSCALL_CONF: Array<u32> = Array::with_max_entries(SYSCALL_CONF_LEN, 0);

/// Thread-group ids marked at fork (`TRACED_NEW`: created after start-up;
/// `TRACED_FOLLOWED`: a descendant of a traced process), removed when the
/// last thread exits.
#[map]
pub static TRACED: HashMap<u32, u8> = HashMap::with_max_entries(65536, 0);

/// Per traced thread: the syscall in flight, captured at entry and sent from
/// here at exit. One entry per thread for its whole life (no insert/delete per
/// syscall), allocated on the thread's first syscall, freed at its exit.
#[map]
pub static PENDING: HashMap<u32, SyscallBuf> =
    HashMap::with_max_entries(PENDING_SLOTS, BPF_F_NO_PREALLOC);

/// Zeroed source for a thread's first `PENDING` insert (the stack is too small).
#[map]
pub static SYSCALL_INIT: PerCpuArray<SyscallBuf> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU space where an exec record is built before it is copied out.
#[map]
pub static EXEC_SCRATCH: PerCpuArray<ExecBuf> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU space where an exec-mismatch record is built.
#[map]
pub static MISMATCH_SCRATCH: PerCpuArray<ExecMismatchBuf> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU space where an LSM file-open record is built.
#[map]
pub static FILE_OPEN_SCRATCH: PerCpuArray<FileOpenBuf> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU space where an LSM exec-check record is built.
#[map]
pub static BPRM_SCRATCH: PerCpuArray<BprmCheckBuf> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU space where an LSM hook record of numbers and an address is built.
#[map]
pub static LSM_HOOK_SCRATCH: PerCpuArray<LsmHookBuf> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU space where an LSM hook record of paths is built.
#[map]
pub static LSM_PATHS_SCRATCH: PerCpuArray<LsmPathsBuf> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU count per `KernelError`.
#[map]
pub static ERRORS: PerCpuArray<u64> = PerCpuArray::with_max_entries(KernelError::COUNT, 0);

/// Exact pid / ppid / mount namespace terms of the scope.
#[map]
pub static SCOPE_IDS: HashMap<ScopeId, u8> = HashMap::with_max_entries(SCOPE_MAP_ENTRIES, 0);
