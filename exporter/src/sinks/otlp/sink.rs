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

use std::{
    collections::VecDeque,
    sync::{Arc, atomic::Ordering},
    time::Instant,
};

use bytes::Bytes;
use tokio::task::JoinSet;

use super::{
    config::OtlpConfig,
    transport::{SendError, Transport},
};
use crate::{
    otel::wire::Encoder,
    sinks::{
        CHANNEL_BATCHES, FullPolicy, SinkHandle, SinkInput, SinkStats,
        batch::{Batch, LogOnce},
        queue, spawn_on_runtime, tick,
    },
};

/// A closed batch: the whole request, encoded.
struct Ready {
    request: Bytes,
    count: usize,
    /// When the batch's first record reached the sink.
    since: Instant,
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
}

/// Starts the sink. Its counters say what happened to every record.
pub fn spawn(
    cfg: OtlpConfig,
    transport: Transport,
    encoder: Encoder,
) -> std::io::Result<SinkHandle> {
    let max_records = cfg.queue_records + cfg.max_in_flight * cfg.batch_records;
    let (handle, input) = queue(
        "otlp",
        FullPolicy::DropNewest { max_records },
        CHANNEL_BATCHES,
    );
    spawn_on_runtime("otlp", input, move |input| {
        run(cfg, Arc::new(transport), encoder, input)
    })?;
    Ok(handle)
}

/// Records waiting for a request: the batch being filled and the closed
/// ones, bounded in records and bytes (what is in flight is not counted).
struct Waiting {
    /// Its records start after `room` bytes, where the request's head goes.
    current: Batch,
    room: usize,
    /// The last closed batch's length: the next one reserves as much.
    last_len: usize,
    ready: VecDeque<Ready>,
    records: usize,
    bytes: usize,
}

impl Waiting {
    /// Encodes `events` into the current batch; returns how many found the
    /// queue full (dropped).
    fn take(
        &mut self,
        events: &[crate::event::Event],
        cfg: &OtlpConfig,
        encoder: &mut Encoder,
    ) -> usize {
        let limits = cfg.batch_limits();
        let mut dropped = 0;
        for e in events {
            if self.records >= cfg.queue_records || self.bytes >= cfg.queue_bytes {
                dropped += 1;
                continue;
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
                self.close(encoder);
            }
        }
        dropped
    }

    /// Closes the current batch into a request.
    fn close(&mut self, encoder: &Encoder) {
        let batch = self.current.take();
        self.last_len = batch.records.len();
        self.ready.push_back(Ready {
            since: batch.since,
            request: encoder.request_in_place(batch.records, self.room),
            count: batch.count,
        });
    }

    /// The next request to send, no longer counted as waiting.
    fn next(&mut self) -> Option<Ready> {
        let batch = self.ready.pop_front()?;
        self.records -= batch.count;
        // The request adds a few header bytes to what the records took.
        self.bytes = self.bytes.saturating_sub(batch.request.len());
        if self.records == 0 {
            self.bytes = 0;
        }
        Some(batch)
    }

    fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.current.is_empty()
    }
}

async fn run(
    cfg: OtlpConfig,
    transport: Arc<Transport>,
    mut encoder: Encoder,
    mut input: SinkInput,
) {
    let stats = input.stats.clone();
    let logged = Arc::new(LogOnce::default());
    let mut waiting = Waiting {
        current: Batch::default(),
        room: 0,
        last_len: 0,
        ready: VecDeque::new(),
        records: 0,
        bytes: 0,
    };
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let mut tick = tick(cfg.batch_age);
    let mut open = true;
    while open || !waiting.is_empty() || !in_flight.is_empty() {
        tokio::select! {
            batch = input.rx.recv(), if open => match batch {
                Some(events) => {
                    let dropped = waiting.take(&events, &cfg, &mut encoder);
                    if dropped > 0 {
                        SinkStats::add(&stats.dropped_full, dropped);
                        input.processed(dropped);
                    }
                }
                // Shutdown: what is queued still goes out (the caller bounds the wait).
                None => open = false,
            },
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(o) = done {
                    SinkStats::add(&stats.exported, o.exported);
                    SinkStats::add(&stats.rejected, o.rejected);
                    SinkStats::add(&stats.dropped_error, o.failed);
                    stats.batch_done(o.since.elapsed());
                    input.processed(o.records);
                }
            }
            _ = tick.tick() => {}
        }
        let current = &waiting.current;
        if current.is_due(cfg.batch_age) || (!open && !current.is_empty()) {
            waiting.close(&encoder);
        }
        while in_flight.len() < cfg.max_in_flight {
            let Some(batch) = waiting.next() else { break };
            let (t, c, l) = (transport.clone(), cfg.clone(), logged.clone());
            in_flight.spawn(export(t, c, l, stats.clone(), batch));
        }
    }
    input.finish();
}

/// Exports one batch, retrying what is worth retrying within the budget.
async fn export(
    transport: Arc<Transport>,
    cfg: OtlpConfig,
    logged: Arc<LogOnce>,
    stats: Arc<SinkStats>,
    batch: Ready,
) -> Outcome {
    let records = batch.count;
    let since = batch.since;
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
                return Outcome {
                    records,
                    since,
                    exported: records - rejected,
                    rejected,
                    failed: 0,
                };
            }
            Err(e) if !e.retryable => {
                log_once(
                    &logged,
                    &cfg.endpoint,
                    &e,
                    "permanent failure, batch dropped",
                );
                return Outcome {
                    records,
                    since,
                    exported: 0,
                    rejected: records,
                    failed: 0,
                };
            }
            Err(e) => {
                // Full jitter on the exponential delay, unless the server said when.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let jittered = delay.mul_f64(0.5 + (seed % 1000) as f64 / 2000.0);
                let wait = e.retry_after.unwrap_or(jittered);
                if started.elapsed() + wait > cfg.retry_max_elapsed {
                    log_once(
                        &logged,
                        &cfg.endpoint,
                        &e,
                        "retry budget spent, batch dropped",
                    );
                    return Outcome {
                        records,
                        since,
                        exported: 0,
                        rejected: 0,
                        failed: records,
                    };
                }
                log_once(&logged, &cfg.endpoint, &e, "retrying");
                stats.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(cfg.retry_max_delay);
            }
        }
    }
}
