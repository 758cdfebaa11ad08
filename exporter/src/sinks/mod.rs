//! Sinks and the bounded queue in front of each one.
//!
//! Every sink gets its own bounded queue, so one slow sink cannot starve another.
//! What happens when a queue is full is the sink's [`FullPolicy`], named where
//! the sink is built; every record that does not reach its sink is counted.

pub mod batch;
pub mod console;
pub mod disk;
pub mod kafka;
pub mod otlp;
pub mod ranges;

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::mpsc;

use crate::event::Event;
use ranges::Ranges;

/// What the pipeline hands to every sink: one allocation shared by all of them.
pub type Batch = Arc<Vec<Event>>;

/// Batch slots of the channel in front of a network output; the bound that
/// matters is the output's own, in records.
pub const CHANNEL_BATCHES: usize = 4096;
/// How often a network output looks at its batch's age (and, for Kafka, at
/// messages to split) when nothing arrives: often enough that a batch closes
/// within half its age limit of falling due.
pub fn tick(batch_age: Duration) -> tokio::time::Interval {
    let every = Duration::from_millis(50)
        .min(batch_age / 2)
        .max(Duration::from_millis(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// What to do with a batch when a sink's queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullPolicy {
    /// Wait for room: backpressure reaches the ring buffer, where the kernel
    /// counts what it cannot write. For local sinks that never fail for long.
    Block,
    /// Drop the new batch and count its records when the records handed to
    /// the sink and not yet finished would exceed `max_records`.
    DropNewest { max_records: usize },
}

/// Per-sink counters, read by the final summary.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Records handed to the sink: events and loss reports. Every one ends as
    /// exported, rejected or dropped.
    pub produced: AtomicU64,
    /// Records the sink finished writing or shipping.
    pub exported: AtomicU64,
    /// Bytes of the messages delivered (outputs that count them: Kafka).
    pub exported_bytes: AtomicU64,
    /// Records dropped because the queue was full (in memory, or the disk
    /// queue at its byte bound).
    pub dropped_full: AtomicU64,
    /// Records dropped because the disk queue's file system was full.
    pub dropped_disk_full: AtomicU64,
    /// Records dropped because the sink failed (closed stdout, write error).
    pub dropped_error: AtomicU64,
    /// Records still queued when the shutdown timeout ran out.
    pub dropped_shutdown: AtomicU64,
    /// Records left in the disk queue at exit, for the next run to send.
    pub kept: AtomicU64,
    /// Records an earlier run left in the disk queue, found at start (counted
    /// in `produced` too).
    pub recovered: AtomicU64,
    /// Bytes of a torn or corrupt tail the disk queue discarded at start.
    pub discarded_bytes: AtomicU64,
    /// Records handed to the queue and not yet finished by the sink.
    pub queued: AtomicU64,
    /// Records the receiver refused for good (HTTP 400, INVALID_ARGUMENT,
    /// partial success).
    pub rejected: AtomicU64,
    /// Requests retried.
    pub retries: AtomicU64,
    /// Batches finished (delivered, refused or dropped) by a batching output,
    /// and the sum of their latencies in ns: from the batch's first record
    /// reaching the output until its delivery report.
    pub batches: AtomicU64,
    pub batch_latency_ns: AtomicU64,
    /// The sink can no longer write (its output is gone).
    pub failed: AtomicBool,
    /// Records that failed delivery, by error.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Sequence numbers dropped and not yet named by a loss report.
    pub lost: Mutex<Ranges>,
}

impl SinkStats {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts one finished batch that took `latency`.
    pub fn batch_done(&self, latency: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batch_latency_ns
            .fetch_add(latency.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Counts `n` records that failed with `error` (the caller also counts
    /// them as dropped).
    pub fn count_error(&self, error: &str, n: usize) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        // Error names become metric labels and loss reasons: never a secret.
        *errors
            .entry(crate::base::secret::scrub(error).into_owned())
            .or_default() += n as u64;
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `n` records are done, counted in `counter` (one of these counters):
    /// no longer queued.
    pub fn finished(&self, counter: &AtomicU64, n: usize) {
        Self::add(counter, n);
        self.queued.fetch_sub(n as u64, Ordering::Relaxed);
    }

    /// Remembers dropped sequence numbers (and those that dropped loss
    /// reports of this output named) for the next loss report.
    pub fn lose(&self, sequences: &Ranges) {
        if !sequences.is_empty() {
            self.lost
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(sequences);
        }
    }

    /// Up to `max` ranges of dropped sequence numbers, no longer remembered.
    pub fn take_lost(&self, max: usize) -> Ranges {
        self.lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take_front(max)
    }

    /// Every counter at one moment: what the summary, the stats line, the
    /// loss reports and the metrics read.
    pub fn counts(&self) -> SinkCounts {
        SinkCounts {
            produced: Self::get(&self.produced),
            exported: Self::get(&self.exported),
            exported_bytes: Self::get(&self.exported_bytes),
            rejected: Self::get(&self.rejected),
            dropped_full: Self::get(&self.dropped_full),
            dropped_disk_full: Self::get(&self.dropped_disk_full),
            dropped_error: Self::get(&self.dropped_error),
            dropped_shutdown: Self::get(&self.dropped_shutdown),
            kept: Self::get(&self.kept),
            recovered: Self::get(&self.recovered),
            discarded_bytes: Self::get(&self.discarded_bytes),
            retries: Self::get(&self.retries),
            // Briefly below zero while a batch is counted in and out.
            queued: Self::get(&self.queued).min(i64::MAX as u64),
            batches: Self::get(&self.batches),
            batch_latency_ns: Self::get(&self.batch_latency_ns),
        }
    }
}

/// [`SinkStats`] read at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkCounts {
    pub produced: u64,
    pub exported: u64,
    pub exported_bytes: u64,
    pub rejected: u64,
    pub dropped_full: u64,
    pub dropped_disk_full: u64,
    pub dropped_error: u64,
    pub dropped_shutdown: u64,
    pub kept: u64,
    pub recovered: u64,
    pub discarded_bytes: u64,
    pub retries: u64,
    pub queued: u64,
    pub batches: u64,
    pub batch_latency_ns: u64,
}

impl SinkCounts {
    /// Records dropped, for any reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_full + self.dropped_disk_full + self.dropped_error + self.dropped_shutdown
    }

    /// Records dropped, by reason: `queue_full`, `disk_full`, `failed`,
    /// `shutdown`.
    pub fn dropped_by_reason(&self) -> [(&'static str, u64); 4] {
        [
            ("queue_full", self.dropped_full),
            ("disk_full", self.dropped_disk_full),
            ("failed", self.dropped_error),
            ("shutdown", self.dropped_shutdown),
        ]
    }
}

/// Runs `task` on a thread of its own with a single-threaded runtime, so that
/// a sink's encoding and network waits never stall the reader or another
/// sink. If the runtime cannot start, the sink is marked failed and finished.
pub fn spawn_on_runtime<F, Fut>(name: &str, input: SinkInput, task: F) -> std::io::Result<()>
where
    F: FnOnce(SinkInput) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let label = name.to_string();
    std::thread::Builder::new()
        .name(format!("sink-{name}"))
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(task(input)),
                Err(e) => {
                    crate::error!("sysotel: {label} output cannot start its runtime: {e}");
                    input.stats.failed.store(true, Ordering::Relaxed);
                    input.finish();
                }
            }
        })?;
    Ok(())
}

/// The `stage` loss reports name for the output `name`.
pub fn stage(name: &str) -> String {
    format!("output:{name}")
}

/// The pipeline's end of one sink.
pub struct SinkHandle {
    pub name: String,
    policy: FullPolicy,
    tx: Option<mpsc::Sender<Batch>>,
    pub stats: Arc<SinkStats>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

/// The sink's end: batches to write and the counters to keep.
pub struct SinkInput {
    pub rx: mpsc::Receiver<Batch>,
    pub stats: Arc<SinkStats>,
    done: std::sync::mpsc::Sender<()>,
}

impl SinkInput {
    /// The sink is done with `n` records (written or dropped and counted).
    pub fn processed(&self, n: usize) {
        self.stats.queued.fetch_sub(n as u64, Ordering::Relaxed);
    }

    /// Tells the pipeline this sink has written everything it will write.
    pub fn finish(self) {
        let _ = self.done.send(());
    }
}

/// A queue of `capacity` batches in front of a sink named `name`.
pub fn queue(name: &str, policy: FullPolicy, capacity: usize) -> (SinkHandle, SinkInput) {
    queue_with(name, policy, capacity, Arc::new(SinkStats::default()))
}

/// [`queue`], for a sink whose counters already exist (its disk queue
/// counted what an earlier run left).
pub fn queue_with(
    name: &str,
    policy: FullPolicy,
    capacity: usize,
    stats: Arc<SinkStats>,
) -> (SinkHandle, SinkInput) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    (
        SinkHandle {
            name: name.to_string(),
            policy,
            tx: Some(tx),
            stats: stats.clone(),
            done: Some(done_rx),
        },
        SinkInput {
            rx,
            stats,
            done: done_tx,
        },
    )
}

impl SinkHandle {
    /// Hands a batch to the sink according to its policy.
    pub async fn send(&self, batch: Batch) {
        SinkStats::add(&self.stats.produced, batch.len());
        let Some(tx) = &self.tx else {
            self.drop_batch(&self.stats.dropped_error, &batch);
            return;
        };
        let n = batch.len();
        match self.policy {
            FullPolicy::Block => {
                SinkStats::add(&self.stats.queued, n);
                if let Err(mpsc::error::SendError(batch)) = tx.send(batch).await {
                    self.stats.queued.fetch_sub(n as u64, Ordering::Relaxed);
                    self.drop_batch(&self.stats.dropped_error, &batch);
                }
            }
            FullPolicy::DropNewest { max_records } => {
                // Counted before it is sent, so the sink can never finish
                // records the counter does not hold yet.
                let before = self.stats.queued.fetch_add(n as u64, Ordering::Relaxed);
                if before as usize + n > max_records {
                    self.stats.queued.fetch_sub(n as u64, Ordering::Relaxed);
                    self.drop_batch(&self.stats.dropped_full, &batch);
                    return;
                }
                match tx.try_send(batch) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(batch)) => {
                        self.stats.queued.fetch_sub(n as u64, Ordering::Relaxed);
                        self.drop_batch(&self.stats.dropped_full, &batch)
                    }
                    Err(mpsc::error::TrySendError::Closed(batch)) => {
                        self.stats.queued.fetch_sub(n as u64, Ordering::Relaxed);
                        self.drop_batch(&self.stats.dropped_error, &batch)
                    }
                }
            }
        }
    }

    /// Counts a batch that never reached the sink in `counter` and
    /// remembers its sequence numbers.
    fn drop_batch(&self, counter: &AtomicU64, batch: &[Event]) {
        SinkStats::add(counter, batch.len());
        let mut lost = Ranges::of(batch);
        lost.extend(&ranges::carried(batch, &self.stage()));
        self.stats.lose(&lost);
    }

    /// The `stage` its loss reports name: `output:<name>`.
    pub fn stage(&self) -> String {
        stage(&self.name)
    }

    /// Whether this sink's policy is [`FullPolicy::Block`] (a local output).
    pub fn blocks(&self) -> bool {
        self.policy == FullPolicy::Block
    }

    /// Whether the queue still takes batches (not closed for shutdown).
    pub fn is_open(&self) -> bool {
        self.tx.is_some()
    }

    /// True once the sink has given up writing.
    pub fn failed(&self) -> bool {
        self.stats.failed.load(Ordering::Relaxed)
    }

    /// Closes the queue: the sink writes what it holds and finishes.
    pub fn begin_close(&mut self) {
        self.tx = None;
    }

    /// Closes the queue and waits up to `timeout` for the sink to drain it.
    /// Returns false if the sink did not finish in time.
    pub fn close(&mut self, timeout: Duration) -> bool {
        self.begin_close();
        let finished = match self.done.take() {
            Some(done) => done.recv_timeout(timeout).is_ok(),
            None => true,
        };
        if !finished {
            let left = self.stats.queued.swap(0, Ordering::Relaxed);
            self.stats
                .dropped_shutdown
                .fetch_add(left, Ordering::Relaxed);
        }
        finished
    }
}
