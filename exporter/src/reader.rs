//! The ring-buffer reader: drains records, decodes them and hands batches to
//! every sink.
//!
//! The kernel wakes the reader only once enough data waits (see the eBPF
//! `emit` module), so the reader also drains on a short tick: a quiet trickle of
//! events shows up within [`TICK`].

use std::{future::Future, sync::Arc, time::Duration};

use aya::maps::{MapData, RingBuf};
use exporter_common::events::EVENT_ID_LIMIT;
use tokio::io::unix::AsyncFd;

use crate::{
    clock::BootClock,
    decode,
    enrich::{Containers, ExecJoin},
    event::Event,
    filter::Filters,
    loss::{self, Report},
    scope::{ExeFilter, Scope, cgroup2_root},
    select::Selection,
    sinks::SinkHandle,
};

/// The longest an event waits in the ring buffer when little is happening.
pub const TICK: Duration = Duration::from_millis(50);
/// Events per batch handed to the sinks.
pub const BATCH_MAX: usize = 1024;
/// Decode errors printed in full; later ones are only counted.
const ERRORS_SHOWN: u64 = 5;

#[derive(Clone, Debug)]
pub struct ReaderStats {
    /// Records decoded into events.
    pub received: u64,
    /// Records that failed to decode (each one is also printed, up to a few).
    pub decode_errors: u64,
    /// Decoded events by event id (those passed on to the outputs).
    pub by_event: Vec<u64>,
    /// Events left out in user space: outside an `exe` scope term, or not
    /// matching `--filter`.
    pub filtered: u64,
    /// Bytes in the ring buffer not read yet, as of the last periodic check.
    pub ring_used: Option<u64>,
}

impl Default for ReaderStats {
    fn default() -> Self {
        ReaderStats {
            received: 0,
            decode_errors: 0,
            by_event: vec![0; EVENT_ID_LIMIT as usize],
            filtered: 0,
            ring_used: None,
        }
    }
}

impl ReaderStats {
    /// The `n` most frequent events: (id, count), most frequent first.
    pub fn top_events(&self, n: usize) -> Vec<(u32, u64)> {
        let mut v: Vec<(u32, u64)> = self
            .by_event
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(id, c)| (id as u32, *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// What user space decides after the kernel: the scope's `exe` terms and the
/// event filters.
pub struct UserFilter {
    exe: Option<ExeFilter>,
    filters: Filters,
}

impl UserFilter {
    pub fn new(scope: &Scope, filters: &Filters) -> UserFilter {
        UserFilter {
            exe: ExeFilter::new(scope),
            filters: filters.clone(),
        }
    }

    /// Whether a record is passed on: only a selected one, in the `exe`
    /// scope and through the filters. Sees every record, so the executable
    /// of each process stays known.
    fn pass(&mut self, e: &Event, selected: bool) -> bool {
        let in_exe = self.exe.as_mut().is_none_or(|x| x.keep(e));
        selected && in_exe && self.filters.keep(e)
    }
}

pub struct Reader {
    ring: AsyncFd<RingBuf<MapData>>,
    state: State,
    fill: Option<RingFill>,
}

/// A read-only view of the ring buffer's consumer and producer positions
/// (the first two pages of the map), to see how full it is.
struct RingFill {
    base: *mut libc::c_void,
    len: usize,
    page: usize,
}

impl RingFill {
    fn new(fd: std::os::fd::RawFd) -> Option<RingFill> {
        // SAFETY: sysconf has no memory effects.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        let len = 2 * page;
        // SAFETY: a shared read-only mapping of the ring map's position pages;
        // the kernel allows mapping them read-only, and the map outlives it
        // (the Reader owns both).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        (base != libc::MAP_FAILED).then_some(RingFill { base, len, page })
    }

    /// Bytes written by the kernel and not yet consumed.
    fn used(&self) -> u64 {
        // SAFETY: both positions are naturally aligned u64s at the start of
        // the two mapped pages, updated atomically by the kernel and the reader.
        unsafe {
            let consumer = &*(self.base as *const std::sync::atomic::AtomicU64);
            let producer =
                &*((self.base as *const u8).add(self.page) as *const std::sync::atomic::AtomicU64);
            let p = producer.load(std::sync::atomic::Ordering::Acquire);
            let c = consumer.load(std::sync::atomic::Ordering::Acquire);
            p.saturating_sub(c)
        }
    }
}

impl Drop for RingFill {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// What draining updates, apart from the ring itself.
struct State {
    stats: ReaderStats,
    join: ExecJoin,
    containers: Containers,
    selection: Selection,
    user: UserFilter,
}

/// Why the reader stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The stop future completed (a signal).
    Requested,
    /// Every sink has failed: nothing can be written any more.
    SinksFailed,
}

impl Reader {
    /// `selection`: events written by the kernel only to complete others
    /// (exec records for execve) are not passed on unless selected.
    pub fn new(
        ring: RingBuf<MapData>,
        selection: Selection,
        user: UserFilter,
    ) -> std::io::Result<Reader> {
        let fill = RingFill::new(std::os::fd::AsRawFd::as_raw_fd(&ring));
        // SAFETY: the RingBuf owns its map fd and keeps it open, unchanged, for
        // as long as the AsyncFd that owns the RingBuf exists.
        Ok(Reader {
            fill,
            ring: unsafe { AsyncFd::register(ring)? },
            state: State {
                stats: ReaderStats::default(),
                join: ExecJoin::default(),
                containers: Containers::new(cgroup2_root()),
                selection,
                user,
            },
        })
    }

    /// Reads until `stop` completes or every sink has failed. Every `every`,
    /// `periodic` runs and the reports it returns go to their outputs.
    pub async fn run(
        &mut self,
        sinks: &[SinkHandle],
        stop: impl Future<Output = ()>,
        every: Duration,
        periodic: &mut dyn FnMut(&[SinkHandle], &ReaderStats) -> Vec<Report>,
    ) -> std::io::Result<Stop> {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut slow = tokio::time::interval(every);
        slow.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        slow.tick().await;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => return Ok(Stop::Requested),
                _ = slow.tick() => {
                    self.state.stats.ring_used = self.fill.as_ref().map(RingFill::used);
                    let reports = periodic(sinks, &self.state.stats);
                    loss::deliver(reports, sinks).await;
                }
                guard = self.ring.readable_mut() => {
                    let mut guard = guard?;
                    guard.clear_ready();
                    drain(guard.get_inner_mut(), &mut self.state, sinks).await;
                }
                _ = tick.tick() => {
                    drain(self.ring.get_mut(), &mut self.state, sinks).await;
                }
            }
            if !sinks.is_empty() && sinks.iter().all(|s| s.failed()) {
                return Ok(Stop::SinksFailed);
            }
        }
    }

    pub fn into_stats(self) -> ReaderStats {
        self.state.stats
    }

    /// Drains what is left (after the programs were detached).
    pub async fn drain(&mut self, sinks: &[SinkHandle]) {
        drain(self.ring.get_mut(), &mut self.state, sinks).await;
    }
}

async fn dispatch(batch: Vec<Event>, sinks: &[SinkHandle]) {
    let batch = Arc::new(batch);
    for s in sinks {
        s.send(batch.clone()).await;
    }
}

async fn drain(ring: &mut RingBuf<MapData>, state: &mut State, sinks: &[SinkHandle]) {
    let stats = &mut state.stats;
    loop {
        let mut batch = Vec::with_capacity(BATCH_MAX);
        let mut read = 0;
        while read < BATCH_MAX {
            let Some(item) = ring.next() else { break };
            read += 1;
            match decode::decode(&item) {
                Ok(mut e) => {
                    state.join.apply(&mut e);
                    // Records the kernel wrote only to complete execve events
                    // or to follow executables are not selected.
                    let selected = state.selection.contains(e.id);
                    if !state.user.pass(&e, selected) {
                        stats.filtered += u64::from(selected);
                        continue;
                    }
                    // Ids are below EVENT_ID_LIMIT by construction of the decoder.
                    if let Some(c) = stats.by_event.get_mut(e.id as usize) {
                        *c += 1;
                    }
                    e.ctx.container_id = state.containers.resolve(e.ctx.cgroup_id);
                    batch.push(e)
                }
                Err(e) => {
                    stats.decode_errors += 1;
                    if stats.decode_errors <= ERRORS_SHOWN {
                        crate::warn!(
                            "sysotel: dropped an undecodable record ({} bytes): {e}",
                            item.len()
                        );
                    }
                }
            }
        }
        if read == 0 {
            return;
        }
        // One clock read per batch, once all of it has been read: every record
        // was written before this moment, so none is observed before it happened.
        let observed = BootClock::now_unix_ns();
        for e in batch.iter_mut() {
            e.observed_unix_ns = observed;
        }
        stats.received += batch.len() as u64;
        if !batch.is_empty() {
            dispatch(batch, sinks).await;
        }
        if read < BATCH_MAX {
            return;
        }
    }
}
