//! Writing records to the ring buffer, and the counters that make every loss visible.

use aya_ebpf::maps::PerCpuArray;
use exporter_common::{config::KernelError, events::EventId};

use crate::{
    globals,
    maps::{ERRORS, EVENTS, LOST, SUBMITTED},
};

/// `bpf_ringbuf_query` flag: bytes written but not yet consumed.
const BPF_RB_AVAIL_DATA: u64 = 0;
/// `bpf_ringbuf_output` flags (include/uapi/linux/bpf.h).
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;

#[inline(always)]
fn bump(map: &PerCpuArray<u64>, index: u32) {
    if let Some(p) = map.get_ptr_mut(index) {
        // Per-CPU slot: no other writer, a plain add is enough.
        unsafe { *p += 1 };
    }
}

#[inline(always)]
pub fn count_error(e: KernelError) {
    bump(&ERRORS, e as u32);
}

/// Wake the reader only once enough data is waiting: a wake-up per record costs
/// the traced process several microseconds. User space also drains on a short
/// timer, so a quiet trickle of events is never left behind.
#[inline(always)]
fn wakeup_flags() -> u64 {
    if EVENTS.query(BPF_RB_AVAIL_DATA) >= globals::wakeup_bytes() {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    }
}

/// Copies `len` bytes at `data` (a map value or per-CPU buffer) into the ring
/// buffer as one record, counting it as submitted or lost under `id`.
#[inline(always)]
pub fn output(id: EventId, data: *const u8, len: usize) {
    let bytes = unsafe { core::slice::from_raw_parts(data, len) };
    match EVENTS.output::<[u8]>(bytes, wakeup_flags()) {
        Ok(()) => bump(&SUBMITTED, id),
        Err(_) => bump(&LOST, id),
    }
}

/// Reserves a fixed-size `T` in the ring buffer, lets `fill` write all of it and
/// submits it, counting it as submitted or lost under `id`.
#[inline(always)]
pub fn emit_fixed<T: 'static>(id: EventId, fill: impl FnOnce(&mut T)) {
    match EVENTS.reserve::<T>(0) {
        Some(mut entry) => {
            fill(unsafe { &mut *entry.as_mut_ptr() });
            entry.submit(wakeup_flags());
            bump(&SUBMITTED, id);
        }
        None => bump(&LOST, id),
    }
}
