//! Writing records to the ring buffer, and the counters that make every loss
//! visible.

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, maps::PerCpuArray};
use exporter_common::{
    config::KernelError,
    events::{EventId, EventKind},
    records::{Record, RecordHeader, RecordKind},
};

use crate::{
    context, globals,
    maps::{ERRORS, EVENTS, LOST, SUBMITTED},
    scope::in_scope,
};

/// `bpf_ringbuf_query` flag: the producer position (bytes ever reserved).
const BPF_RB_PROD_POS: u64 = 3;
/// `bpf_ringbuf_output` flags (include/uapi/linux/bpf.h).
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;

#[inline(always)]
fn bump(map: &PerCpuArray<u64>, index: u32) {
    if let Some(p) = map.get_ptr_mut(index) {
        // SAFETY: a per-CPU slot of this map, valid for the program's run; no
        // other writer touches it while the program runs on this CPU.
        unsafe { *p += 1 };
    }
}

/// Counts something the kernel side could not do (see [`KernelError`]).
#[inline(always)]
pub fn count_error(e: KernelError) {
    bump(&ERRORS, e as u32);
}

/// `BPF_RINGBUF_HDR_SZ`: the header the kernel puts before every record.
const RINGBUF_HDR: u64 = 8;

/// Wake the reader once per `wakeup_bytes` of data written: when this record
/// (`len` bytes) takes the producer position past a multiple of it. A
/// wake-up per record costs the traced process an interrupt (an MSR write, a
/// VM exit under a hypervisor), and waking whenever the unread data stayed
/// past a threshold woke it on every record while it was behind. The
/// producer position is written by the producers only; the unread count
/// would also read the consumer position, a cache line the reader writes on
/// another CPU (5% of a traced getppid). Should two CPUs cross a multiple
/// together unseen, the next multiple wakes the reader, and user space
/// drains on a short timer besides: nothing is left behind.
#[inline(always)]
fn wakeup_flags(len: usize) -> u64 {
    let every = globals::wakeup_bytes();
    if every == 0 {
        return BPF_RB_FORCE_WAKEUP;
    }
    // A power of two (see `wakeup_bytes` in user space): a mask, not a division.
    let multiple = !(every - 1);
    let before = EVENTS.query(BPF_RB_PROD_POS);
    let after = before + ((len as u64 + RINGBUF_HDR + 7) & !7);
    if after & multiple != before & multiple {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    }
}

/// Copies the first `len` bytes of `data` (a map value or a per-CPU buffer)
/// into the ring buffer as one record, counting it as submitted or lost under
/// `id`. `len` is at most `size_of::<T>()`.
#[inline(always)]
pub fn output<T>(id: EventId, data: &T, len: usize) {
    let len = len.min(core::mem::size_of::<T>());
    // SAFETY: `data` is a live reference to at least `size_of::<T>()` bytes
    // of plain data, and `len` does not exceed that.
    let bytes = unsafe { core::slice::from_raw_parts(data as *const T as *const u8, len) };
    match EVENTS.output::<[u8]>(bytes, wakeup_flags(len)) {
        Ok(()) => bump(&SUBMITTED, id),
        Err(_) => bump(&LOST, id),
    }
}

/// This CPU's buffer in `map` to build a record of `e` in, when `e` is
/// selected and the current task in scope.
#[inline(always)]
pub fn scratch<T>(e: EventKind, map: &PerCpuArray<T>) -> Option<&'static mut T> {
    if !globals::selected(e) {
        return None;
    }
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    if !in_scope(tgid) {
        return None;
    }
    let Some(p) = map.get_ptr_mut(0) else {
        count_error(KernelError::LookupFailed);
        return None;
    };
    // SAFETY: this CPU's buffer, alive while the program runs and used by
    // one program at a time on this CPU.
    Some(unsafe { &mut *p })
}

/// Writes a fixed-size record of the current task: the header, its context
/// and `data`, reserved in the ring buffer and written whole, counted as
/// submitted or lost under `id`.
#[inline(always)]
pub fn emit_record<T: 'static>(id: EventId, kind: RecordKind, data: T) {
    let Some(mut entry) = EVENTS.reserve::<Record<T>>(0) else {
        bump(&LOST, id);
        return;
    };
    entry.write(Record {
        header: RecordHeader::new(kind, id, core::mem::size_of::<Record<T>>()),
        ctx: context::current(),
        data,
    });
    entry.submit(wakeup_flags(core::mem::size_of::<Record<T>>()));
    bump(&SUBMITTED, id);
}
