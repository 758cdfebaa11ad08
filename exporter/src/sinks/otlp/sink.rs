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

use opentelemetry_proto::tonic::{
    collector::logs::v1::ExportLogsServiceRequest,
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
};
use prost::Message;
use tokio::task::JoinSet;

use super::{
    config::OtlpConfig,
    transport::{SendError, Transport},
};
use crate::{
    otel::{LogMapper, Resource},
    sinks::{FullPolicy, SinkHandle, SinkInput, SinkStats, queue},
};

/// Pipeline batches the channel in front of the sink holds; the real bound
/// is the record/byte queue inside.
const CHANNEL_BATCHES: usize = 16;

struct Batch {
    records: Vec<LogRecord>,
    bytes: usize,
}

/// Builds the request for one batch: one resource and one scope.
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
            eprintln!("sysotel: otlp {endpoint}: {what}: {e} (logged once per kind)");
        }
    }
}

struct Outcome {
    records: usize,
    exported: usize,
    rejected: usize,
    failed: usize,
}

/// Starts the sink. Its counters say what happened to every record.
pub fn spawn(
    cfg: OtlpConfig,
    transport: Transport,
    mapper: LogMapper,
    resource: Resource,
) -> std::io::Result<SinkHandle> {
    let (handle, input) = queue("otlp", FullPolicy::DropNewest, CHANNEL_BATCHES);
    std::thread::Builder::new()
        .name("sink-otlp".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("sysotel: otlp output cannot start its runtime: {e}");
                    input.stats.failed.store(true, Ordering::Relaxed);
                    input.finish();
                    return;
                }
            };
            rt.block_on(run(
                cfg,
                Arc::new(transport),
                mapper,
                Arc::new(resource),
                input,
            ));
        })?;
    Ok(handle)
}

async fn run(
    cfg: OtlpConfig,
    transport: Arc<Transport>,
    mapper: LogMapper,
    resource: Arc<Resource>,
    mut input: SinkInput,
) {
    let stats = input.stats.clone();
    let logged = Arc::new(Logged::default());
    let mut current = Batch {
        records: Vec::new(),
        bytes: 0,
    };
    let mut current_since = Instant::now();
    let mut ready: VecDeque<Batch> = VecDeque::new();
    // Records and bytes waiting in `current` and `ready` (not in flight).
    let (mut queued_records, mut queued_bytes) = (0usize, 0usize);
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let mut tick = tokio::time::interval(cfg.batch_age / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;

    while open || !ready.is_empty() || !current.records.is_empty() || !in_flight.is_empty() {
        tokio::select! {
            batch = input.rx.recv(), if open => match batch {
                Some(events) => {
                    let mut dropped = 0;
                    for e in events.iter() {
                        let rec = mapper.record(e);
                        let size = rec.encoded_len();
                        if queued_records >= cfg.queue_records || queued_bytes + size > cfg.queue_bytes {
                            dropped += 1;
                            continue;
                        }
                        if current.records.is_empty() {
                            current_since = Instant::now();
                        }
                        queued_records += 1;
                        queued_bytes += size;
                        current.bytes += size;
                        current.records.push(rec);
                        if current.records.len() >= cfg.batch_records || current.bytes >= cfg.batch_bytes {
                            ready.push_back(std::mem::replace(&mut current, Batch { records: Vec::new(), bytes: 0 }));
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
                    input.processed(o.records);
                }
            }
            _ = tick.tick() => {}
        }
        let aged = current_since.elapsed() >= cfg.batch_age || !open;
        if !current.records.is_empty() && aged {
            ready.push_back(std::mem::replace(
                &mut current,
                Batch {
                    records: Vec::new(),
                    bytes: 0,
                },
            ));
        }
        while in_flight.len() < cfg.max_in_flight {
            let Some(batch) = ready.pop_front() else {
                break;
            };
            queued_records -= batch.records.len();
            queued_bytes -= batch.bytes;
            let (t, r, c, l) = (
                transport.clone(),
                resource.clone(),
                cfg.clone(),
                logged.clone(),
            );
            let stats = stats.clone();
            in_flight.spawn(export(t, r, c, l, stats, batch));
        }
    }
    input.finish();
}

/// Exports one batch, retrying what is worth retrying within the budget.
async fn export(
    transport: Arc<Transport>,
    resource: Arc<Resource>,
    cfg: OtlpConfig,
    logged: Arc<Logged>,
    stats: Arc<SinkStats>,
    batch: Batch,
) -> Outcome {
    let records = batch.records.len();
    let req = request(&resource, batch.records);
    let started = Instant::now();
    let mut delay = cfg.retry_initial;
    let mut seed = started.elapsed().as_nanos() as u64
        ^ (records as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ 0x2545_f491_4f6c_dd1d;
    loop {
        match transport.send(&req).await {
            Ok(rejected) => {
                let rejected = (rejected as usize).min(records);
                if rejected > 0 {
                    eprintln!(
                        "sysotel: otlp {}: the collector rejected {rejected} of {records} records",
                        cfg.endpoint
                    );
                }
                return Outcome {
                    records,
                    exported: records - rejected,
                    rejected,
                    failed: 0,
                };
            }
            Err(e) if !e.retryable => {
                logged.once(&cfg.endpoint, &e, "permanent failure, batch dropped");
                return Outcome {
                    records,
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
