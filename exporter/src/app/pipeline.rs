//! The pipeline: records out of the ring buffer, decoded, completed (exec
//! join, container), left out where user space decides (exe scope, filters),
//! and handed in batches to every output.
//!
//! The kernel wakes the reader only once enough data waits (see the eBPF
//! `emit` module), so the reader also drains on a short tick: a quiet trickle of
//! events shows up within [`TICK`].

use std::{future::Future, sync::Arc, time::Duration};

use crate::{
    base::clock::BootClock,
    decode,
    enrich::{Containers, ExecJoin, Metadata, Users},
    event::{Event, select::Selection},
    kernel::{host::cgroup2_root, ring::Ring},
    policy::{Filters, Scope, scope::ExeFilter},
    sinks::SinkHandle,
    telemetry::{
        loss::{self, Report},
        stats::ReaderStats,
    },
};

/// The longest an event waits in the ring buffer when little is happening.
pub const TICK: Duration = Duration::from_millis(50);
/// Events per batch handed to the sinks.
pub const BATCH_MAX: usize = 1024;
/// Decode errors printed in full; later ones are only counted.
const ERRORS_SHOWN: u64 = 5;

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
    ring: Ring,
    state: State,
}

/// What draining updates, apart from the ring itself.
struct State {
    stats: ReaderStats,
    join: ExecJoin,
    containers: Containers,
    metadata: Metadata,
    /// The run's clock: process start times to Unix time.
    clock: BootClock,
    users: Users,
    selection: Selection,
    user: UserFilter,
    /// The next record's `sysotel.sequence`.
    sequence: u64,
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
        ring: Ring,
        selection: Selection,
        user: UserFilter,
        metadata: Metadata,
        clock: BootClock,
    ) -> Reader {
        Reader {
            ring,
            state: State {
                stats: ReaderStats::default(),
                join: ExecJoin::default(),
                containers: Containers::new(cgroup2_root()),
                metadata,
                clock,
                users: Users::new("/etc/passwd"),
                selection,
                user,
                sequence: 0,
            },
        }
    }

    /// The next record's sequence number: the loss reports sent after the
    /// reader stopped take theirs from it.
    pub fn sequence(&mut self) -> &mut u64 {
        &mut self.state.sequence
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
                    self.state.stats.ring_used = Some(self.ring.used());
                    let reports = periodic(sinks, &self.state.stats);
                    loss::deliver(reports, sinks, &mut self.state.sequence).await;
                }
                ready = self.ring.readable() => {
                    ready?;
                    drain(&mut self.ring, &mut self.state, sinks).await;
                }
                _ = tick.tick() => {
                    drain(&mut self.ring, &mut self.state, sinks).await;
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
        drain(&mut self.ring, &mut self.state, sinks).await;
    }
}

async fn dispatch(batch: Vec<Event>, sinks: &[SinkHandle]) {
    let batch = Arc::new(batch);
    for s in sinks {
        s.send(batch.clone()).await;
    }
}

impl State {
    /// One record: decoded, completed and passed on, or counted.
    fn take(&mut self, record: &[u8], batch: &mut Vec<Event>) {
        let stats = &mut self.stats;
        match decode::decode(record) {
            Ok(mut e) => {
                self.join.apply(&mut e);
                // Who did it, before the filters that may name it.
                e.ctx.start_unix_ns = self.clock.unix_ns(e.ctx.start_boot_ns);
                (e.ctx.user_name, e.ctx.real_user_name) = self.users.names(e.ctx.euid, e.ctx.uid);
                e.ctx.container_id = self.containers.resolve(e.ctx.cgroup_id);
                if let Some(id) = &e.ctx.container_id {
                    e.ctx.container = self.metadata.get(id);
                }
                // Records the kernel wrote only to complete execve events
                // or to follow executables are not selected.
                let selected = self.selection.contains(e.id);
                if !self.user.pass(&e, selected) {
                    stats.filtered += u64::from(selected);
                    return;
                }
                // Ids are below EVENT_ID_LIMIT by construction of the decoder.
                if let Some(c) = stats.by_event.get_mut(e.id as usize) {
                    *c += 1;
                }
                batch.push(e)
            }
            Err(e) => {
                stats.decode_errors += 1;
                if stats.decode_errors <= ERRORS_SHOWN {
                    crate::warn!(
                        "sysotel: dropped an undecodable record ({} bytes): {e}",
                        record.len()
                    );
                }
            }
        }
    }
}

async fn drain(ring: &mut Ring, state: &mut State, sinks: &[SinkHandle]) {
    loop {
        state.metadata.collect();
        for (cgroup, id) in state.metadata.learned.drain(..) {
            state.containers.learn(cgroup, id);
        }
        state.users.refresh();
        let mut batch = Vec::with_capacity(BATCH_MAX);
        let mut read = 0;
        while read < BATCH_MAX {
            let Some(item) = ring.next_record() else {
                break;
            };
            read += 1;
            state.take(item, &mut batch);
        }
        ring.release();
        if read == 0 {
            return;
        }
        // One clock read per batch, once all of it has been read: every record
        // was written before this moment, so none is observed before it happened.
        let observed = BootClock::now_unix_ns();
        for e in batch.iter_mut() {
            e.observed_unix_ns = observed;
            e.sequence = state.sequence;
            state.sequence += 1;
        }
        state.stats.received += batch.len() as u64;
        if !batch.is_empty() {
            dispatch(batch, sinks).await;
        }
        if read < BATCH_MAX {
            return;
        }
    }
}
