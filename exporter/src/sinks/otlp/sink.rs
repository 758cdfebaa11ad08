//! The OTLP sink's runtime, on its own thread and runtime so that mapping,
//! encoding and slow collectors never stall the ring reader or another sink.
//!
//! Records wait in a bounded queue (records and encoded bytes); when it is full
//! the policy is [`FullPolicy::DropNewest`] and every dropped record is
//! counted. Batches close on size or age and go out with up to
//! `max_in_flight` requests at once; retryable failures back off
//! exponentially with jitter (honouring Retry-After / RetryInfo) until the
//! retry budget is spent. Accounting: every record handed to the sink ends as
//! exported, rejected, or dropped (queue full, failed, shutdown).
//!
//! With a disk queue (`--queue-dir`), every closed batch is appended to it
//! and sent from it; a batch leaves it once the collector answered. A
//! retryable failure is retried without a budget (the disk holds the
//! batch), a full disk or queue drops the batch (`disk_full`,
//! `queue_full`), and at shutdown what was not delivered within the budget
//! stays on disk for the next run (`kept`).

use std::{
    collections::VecDeque,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use tokio::task::JoinSet;

use super::{
    config::OtlpConfig,
    transport::{Request, SendError, Transport},
};
use crate::{
    otel::wire::Encoder,
    sinks::{
        CHANNEL_BATCHES, FullPolicy, SinkHandle, SinkInput, SinkStats,
        batch::{Batch, LogOnce},
        disk::{DiskQueue, Frame, FrameId, Opened, QueueSettings},
        queue,
        ranges::{self, Ranges},
        spawn_on_runtime, stage, tick,
    },
};

/// A closed batch: the whole request, encoded.
struct Ready {
    request: Request,
    count: usize,
    /// When the batch's first record reached the sink.
    since: Instant,
    /// Its records' sequence numbers, and what loss reports of this output
    /// among them name: remembered again if the batch is lost.
    sequences: Ranges,
    carried: Ranges,
    /// Where it sits in the disk queue.
    frame: Option<FrameId>,
}

/// Logs a failure of `kind` once.
fn log_once(logged: &LogOnce, endpoint: &str, e: &SendError, what: &str) {
    logged.warn(&format!("{what}/{}", e.kind), || {
        format!("sysotel: otlp {endpoint}: {what}: {e}")
    });
}

struct Outcome {
    records: usize,
    since: Instant,
    exported: usize,
    rejected: usize,
    failed: usize,
    sequences: Ranges,
    carried: Ranges,
    frame: Option<FrameId>,
}

/// The output's name: its counters, its loss reports' stage, its folder in
/// the queue dir.
pub const NAME: &str = "otlp";

/// The disk queue of a run with `--queue-dir`.
struct Durable {
    queue: DiskQueue,
    settings: QueueSettings,
}

/// Starts the sink. Its counters say what happened to every record.
/// `durable`: the disk queue, opened by [`QueueSettings::open_sink`]; `shutdown_budget`:
/// how long it may still deliver at shutdown before it keeps the rest on
/// disk.
pub fn spawn(
    mut cfg: OtlpConfig,
    transport: Transport,
    encoder: Encoder,
    durable: Option<Opened>,
    shutdown_budget: Duration,
) -> std::io::Result<SinkHandle> {
    let max_records = cfg.queue_records + cfg.max_in_flight * cfg.batch_records;
    let (handle, input, durable) = match durable {
        Some(Opened {
            settings,
            stats,
            queue,
        }) => {
            cfg.batch_age = settings.batch_age(cfg.batch_age);
            let (handle, input) = crate::sinks::queue_with(
                NAME,
                FullPolicy::DropNewest { max_records },
                CHANNEL_BATCHES,
                stats,
            );
            (handle, input, Some(Durable { queue, settings }))
        }
        None => {
            let (handle, input) = queue(
                NAME,
                FullPolicy::DropNewest { max_records },
                CHANNEL_BATCHES,
            );
            (handle, input, None)
        }
    };
    spawn_on_runtime(NAME, input, move |input| {
        run(
            cfg,
            Arc::new(transport),
            encoder,
            input,
            durable,
            shutdown_budget,
        )
    })?;
    Ok(handle)
}

/// Where closed batches wait for a request slot.
enum Store {
    Memory(VecDeque<Ready>),
    Disk(Box<Durable>),
}

/// Records waiting for a request: the batch being filled and the closed
/// ones, bounded in records and bytes (what is in flight or on disk is not
/// counted).
struct Waiting {
    /// Its records start after `room` bytes, where the request's head goes.
    current: Batch,
    room: usize,
    /// The last closed batch's length: the next one reserves as much.
    last_len: usize,
    /// The current batch's sequence numbers and what its loss reports name.
    sequences: Ranges,
    carried: Ranges,
    store: Store,
    records: usize,
    bytes: usize,
    stage: String,
    logged: Arc<LogOnce>,
    stats: Arc<SinkStats>,
}

impl Waiting {
    /// Encodes `events` into the current batch; drops (and counts) those
    /// that find the queue full.
    fn take(
        &mut self,
        events: &[crate::event::Event],
        cfg: &OtlpConfig,
        encoder: &mut Encoder,
        transport: &Transport,
        input: &SinkInput,
    ) {
        let limits = cfg.batch_limits();
        let mut dropped = 0;
        let mut lost = Ranges::default();
        for e in events {
            if self.records >= cfg.queue_records || self.bytes >= cfg.queue_bytes {
                dropped += 1;
                lost.push(e.sequence);
                if let Some(c) = ranges::carried_by(e, &self.stage) {
                    lost.extend(&c);
                }
                continue;
            }
            self.sequences.push(e.sequence);
            if let Some(c) = ranges::carried_by(e, &self.stage) {
                self.carried.extend(&c);
            }
            if self.current.records.is_empty() {
                self.room = encoder.head_room();
                self.current.records.reserve(self.last_len.max(self.room));
                self.current.records.resize(self.room, 0);
            }
            let size = self.current.push(|out| {
                encoder.append(e, out);
            });
            self.records += 1;
            self.bytes += size;
            if self.current.is_full(&limits) {
                self.close(encoder, transport, input);
            }
        }
        if dropped > 0 {
            SinkStats::add(&input.stats.dropped_full, dropped);
            input.stats.lose(&lost);
            input.processed(dropped);
        }
    }

    /// Closes the current batch into a request: queued in memory, or
    /// appended to the disk queue (and then no longer counted in memory).
    fn close(&mut self, encoder: &Encoder, transport: &Transport, input: &SinkInput) {
        let batch = self.current.take();
        self.last_len = batch.records.len();
        let proto = encoder.request_in_place(batch.records, self.room);
        let request = match &self.store {
            Store::Memory(_) => Request::Proto(proto),
            Store::Disk(_) => transport.stored(proto),
        };
        let ready = Ready {
            since: batch.since,
            request,
            count: batch.count,
            sequences: std::mem::take(&mut self.sequences),
            carried: std::mem::take(&mut self.carried),
            frame: None,
        };
        let durable = match &mut self.store {
            Store::Memory(ready_q) => {
                ready_q.push_back(ready);
                return;
            }
            Store::Disk(d) => d,
        };
        self.records -= ready.count;
        self.bytes = if self.records == 0 {
            0
        } else {
            self.bytes.saturating_sub(ready.request.len())
        };
        let frame = Frame {
            records: ready.count as u32,
            sequences: ready.sequences,
            carried: ready.carried,
            payload: ready.request.to_frame(),
        };
        durable
            .queue
            .append_or_drop(&frame, &input.stats, &self.logged, NAME);
        input.processed(ready.count);
    }

    /// The next request to send, no longer counted as waiting.
    fn next(&mut self, transport: &Transport) -> Option<Ready> {
        match &mut self.store {
            Store::Memory(ready_q) => {
                let batch = ready_q.pop_front()?;
                self.records -= batch.count;
                // The request adds a few header bytes to what the records took.
                self.bytes = self.bytes.saturating_sub(batch.request.len());
                if self.records == 0 {
                    self.bytes = 0;
                }
                Some(batch)
            }
            Store::Disk(d) => loop {
                match d.queue.read_next() {
                    Ok(Some((id, f))) => {
                        let count = f.records as usize;
                        let read = Request::from_frame(f.payload);
                        let Some(request) = read.and_then(|r| transport.sendable(r)) else {
                            // The checksum held: written so by another version
                            // (or a gzipped body that does not decompress).
                            self.logged.warn("disk/layout", || {
                                "sysotel: otlp: a disk queue frame could not be read; dropped"
                                    .into()
                            });
                            let stats = &self.stats;
                            stats.count_error("disk queue frame", count);
                            SinkStats::add(&stats.dropped_error, count);
                            let mut lost = f.sequences;
                            lost.extend(&f.carried);
                            stats.lose(&lost);
                            d.queue.ack(id);
                            continue;
                        };
                        return Some(Ready {
                            request,
                            count,
                            since: Instant::now(),
                            sequences: f.sequences,
                            carried: f.carried,
                            frame: Some(id),
                        });
                    }
                    Ok(None) => return None,
                    Err(e) => {
                        self.logged.warn("disk/read", || {
                            format!("sysotel: otlp: reading the disk queue failed: {e}")
                        });
                        return None;
                    }
                }
            },
        }
    }

    /// Nothing waits to be sent (the current batch, closed batches, the
    /// disk queue's unsent frames).
    fn is_empty(&self) -> bool {
        self.current.is_empty()
            && match &self.store {
                Store::Memory(q) => q.is_empty(),
                Store::Disk(d) => d.queue.caught_up(),
            }
    }
}

async fn run(
    cfg: OtlpConfig,
    transport: Arc<Transport>,
    mut encoder: Encoder,
    mut input: SinkInput,
    durable: Option<Durable>,
    shutdown_budget: Duration,
) {
    let stats = input.stats.clone();
    let logged = Arc::new(LogOnce::default());
    // Without a disk queue there is nothing to sync: the tick idles.
    let mut sync = durable.as_ref().map_or_else(
        || tokio::time::interval(Duration::from_secs(3600)),
        |d| d.settings.sync_tick(),
    );
    let mut waiting = Waiting {
        current: Batch::default(),
        room: 0,
        last_len: 0,
        sequences: Ranges::default(),
        carried: Ranges::default(),
        store: match durable {
            Some(d) => Store::Disk(Box::new(d)),
            None => Store::Memory(VecDeque::new()),
        },
        records: 0,
        bytes: 0,
        stage: stage(NAME),
        logged: logged.clone(),
        stats: stats.clone(),
    };
    // With a disk queue, a failing batch is retried until shutdown.
    let budget = match waiting.store {
        Store::Disk(_) => None,
        Store::Memory(_) => Some(cfg.retry_max_elapsed),
    };
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let mut tick = tick(cfg.batch_age);
    let mut open = true;
    let mut deadline = None;
    while open || !waiting.is_empty() || !in_flight.is_empty() {
        tokio::select! {
            batch = input.rx.recv(), if open => match batch {
                Some(events) => waiting.take(&events, &cfg, &mut encoder, &transport, &input),
                // Shutdown: what is queued still goes out (the caller bounds
                // the wait; with a disk queue, the budget does).
                None => {
                    open = false;
                    deadline = Some(Instant::now() + shutdown_budget);
                }
            },
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(o) = done {
                    finish(&o, &mut waiting, &input);
                }
            }
            _ = sync.tick() => {
                if let Store::Disk(d) = &mut waiting.store
                    && let Err(e) = d.queue.sync()
                {
                    logged.warn("disk/sync", || format!("sysotel: otlp: syncing the disk queue failed: {e}"));
                }
            }
            _ = tick.tick() => {}
        }
        let current = &waiting.current;
        if current.is_due(cfg.batch_age) || (!open && !current.is_empty()) {
            waiting.close(&encoder, &transport, &input);
        }
        if let (Store::Disk(_), Some(d)) = (&waiting.store, deadline)
            && Instant::now() >= d
        {
            break;
        }
        while in_flight.len() < cfg.max_in_flight {
            let Some(batch) = waiting.next(&transport) else {
                break;
            };
            let (t, c, l) = (transport.clone(), cfg.clone(), logged.clone());
            in_flight.spawn(export(t, c, l, stats.clone(), batch, budget));
        }
    }
    if let Store::Disk(d) = &mut waiting.store {
        // What was not delivered stays on disk for the next run.
        in_flight.abort_all();
        while let Some(done) = in_flight.join_next().await {
            if let Ok(o) = done
                && let Some(id) = o.frame
            {
                count_outcome(&o, &stats);
                d.queue.ack(id);
            }
        }
        if let Err(e) = d.queue.sync() {
            crate::warn!("sysotel: otlp: syncing the disk queue failed: {e}");
        }
        SinkStats::add(&stats.kept, d.queue.records() as usize);
        if d.queue.records() > 0 {
            crate::info!(
                "sysotel: otlp: {} records stay in the disk queue {} for the next run",
                d.queue.records(),
                d.queue.dir().display()
            );
        }
    }
    input.finish();
}

/// Counts a finished batch.
fn count_outcome(o: &Outcome, stats: &SinkStats) {
    SinkStats::add(&stats.exported, o.exported);
    SinkStats::add(&stats.rejected, o.rejected);
    SinkStats::add(&stats.dropped_error, o.failed);
    stats.batch_done(o.since.elapsed());
    // A batch lost whole: its numbers are named by the next loss report.
    if o.failed == o.records || (o.rejected == o.records && o.records > 0) {
        let mut lost = o.sequences.clone();
        lost.extend(&o.carried);
        stats.lose(&lost);
    }
}

/// A batch is done: counted, and gone from memory or from the disk queue.
fn finish(o: &Outcome, waiting: &mut Waiting, input: &SinkInput) {
    count_outcome(o, &input.stats);
    match (&mut waiting.store, o.frame) {
        (Store::Disk(d), Some(id)) => d.queue.ack(id),
        _ => input.processed(o.records),
    }
}

/// Exports one batch, retrying what is worth retrying within the budget
/// (without one: until it is delivered, refused, or the sink stops).
async fn export(
    transport: Arc<Transport>,
    cfg: OtlpConfig,
    logged: Arc<LogOnce>,
    stats: Arc<SinkStats>,
    batch: Ready,
    budget: Option<Duration>,
) -> Outcome {
    let records = batch.count;
    let since = batch.since;
    let (sequences, carried, frame) = (batch.sequences.clone(), batch.carried.clone(), batch.frame);
    let outcome = |exported, rejected, failed| Outcome {
        records,
        since,
        exported,
        rejected,
        failed,
        sequences: sequences.clone(),
        carried: carried.clone(),
        frame,
    };
    let started = Instant::now();
    let mut delay = cfg.retry_initial;
    let mut seed = (records as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ 0x2545_f491_4f6c_dd1d
        ^ (batch.request.len() as u64);
    loop {
        match transport.send(&batch.request).await {
            Ok(rejected) => {
                let rejected = (rejected as usize).min(records);
                if rejected > 0 {
                    crate::warn!(
                        "sysotel: otlp {}: the collector rejected {rejected} of {records} records",
                        cfg.endpoint
                    );
                }
                return outcome(records - rejected, rejected, 0);
            }
            Err(e) if !e.retryable => {
                log_once(
                    &logged,
                    &cfg.endpoint,
                    &e,
                    "permanent failure, batch dropped",
                );
                return outcome(0, records, 0);
            }
            Err(e) => {
                // Full jitter on the exponential delay, unless the server said when.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let jittered = delay.mul_f64(0.5 + (seed % 1000) as f64 / 2000.0);
                let wait = e.retry_after.unwrap_or(jittered);
                if budget.is_some_and(|b| started.elapsed() + wait > b) {
                    log_once(
                        &logged,
                        &cfg.endpoint,
                        &e,
                        "retry budget spent, batch dropped",
                    );
                    return outcome(0, 0, records);
                }
                log_once(&logged, &cfg.endpoint, &e, "retrying");
                stats.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(cfg.retry_max_delay);
            }
        }
    }
}
