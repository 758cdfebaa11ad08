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
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex, atomic::Ordering},
    time::Instant,
};

use bytes::Bytes;
use opentelemetry_proto::tonic::{
    collector::logs::v1::ExportLogsServiceRequest,
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
};
use tokio::task::JoinSet;

use super::{
    config::OtlpConfig,
    transport::{SendError, Transport},
};
use crate::{
    otel::{Resource, wire::Encoder},
    sinks::{FullPolicy, SinkHandle, SinkInput, SinkStats, queue, spawn_on_runtime},
};

/// Batch slots of the channel in front of the sink. The bound that matters
/// is in records: the queue inside plus what may be in flight.
const CHANNEL_BATCHES: usize = 4096;

/// Encoded `log_records` fields waiting to become one request.
struct Batch {
    records: Vec<u8>,
    count: usize,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            records: Vec::new(),
            count: 0,
        }
    }
}

/// A closed batch: the whole request, encoded.
struct Ready {
    request: Bytes,
    count: usize,
    /// When the batch's first record reached the sink.
    since: Instant,
}

/// Builds the prost request for one batch (one resource, one scope): what
/// the direct encoder must produce byte for byte.
pub fn request(resource: &Resource, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.proto()),
            scope_logs: vec![ScopeLogs {
                scope: Some(Resource::scope()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Failure kinds already logged: each is logged once.
#[derive(Default)]
struct Logged(Mutex<HashSet<String>>);

impl Logged {
    fn once(&self, endpoint: &str, e: &SendError, what: &str) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.insert(format!("{what}/{}", e.kind)) {
            crate::warn!("sysotel: otlp {endpoint}: {what}: {e} (logged once per kind)");
        }
    }
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

async fn run(
    cfg: OtlpConfig,
    transport: Arc<Transport>,
    mut encoder: Encoder,
    mut input: SinkInput,
) {
    let stats = input.stats.clone();
    let logged = Arc::new(Logged::default());
    let mut current = Batch::new();
    let mut current_since = Instant::now();
    let mut ready: VecDeque<Ready> = VecDeque::new();
    // Records and bytes waiting in `current` and `ready` (not in flight).
    let (mut queued_records, mut queued_bytes) = (0usize, 0usize);
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let mut tick = tokio::time::interval(cfg.batch_age / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;

    let close =
        |current: &mut Batch, ready: &mut VecDeque<Ready>, encoder: &Encoder, since: Instant| {
            let batch = std::mem::replace(current, Batch::new());
            ready.push_back(Ready {
                since,
                request: Bytes::from(encoder.request(&batch.records)),
                count: batch.count,
            });
        };

    while open || !ready.is_empty() || current.count > 0 || !in_flight.is_empty() {
        tokio::select! {
            batch = input.rx.recv(), if open => match batch {
                Some(events) => {
                    let mut dropped = 0;
                    for e in events.iter() {
                        if queued_records >= cfg.queue_records || queued_bytes >= cfg.queue_bytes {
                            dropped += 1;
                            continue;
                        }
                        if current.count == 0 {
                            current_since = Instant::now();
                        }
                        let size = encoder.append(e, &mut current.records);
                        current.count += 1;
                        queued_records += 1;
                        queued_bytes += size;
                        if current.count >= cfg.batch_records || current.records.len() >= cfg.batch_bytes {
                            close(&mut current, &mut ready, &encoder, current_since);
                        }
                    }
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
        if current.count > 0 && (current_since.elapsed() >= cfg.batch_age || !open) {
            close(&mut current, &mut ready, &encoder, current_since);
        }
        while in_flight.len() < cfg.max_in_flight {
            let Some(batch) = ready.pop_front() else {
                break;
            };
            queued_records -= batch.count;
            // The request adds a few header bytes to what the records took.
            queued_bytes = queued_bytes.saturating_sub(batch.request.len());
            if queued_records == 0 {
                queued_bytes = 0;
            }
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
    logged: Arc<Logged>,
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
                logged.once(&cfg.endpoint, &e, "permanent failure, batch dropped");
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
                    logged.once(&cfg.endpoint, &e, "retry budget spent, batch dropped");
                    return Outcome {
                        records,
                        since,
                        exported: 0,
                        rejected: 0,
                        failed: records,
                    };
                }
                logged.once(&cfg.endpoint, &e, "retrying");
                stats.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(cfg.retry_max_delay);
            }
        }
    }
}
