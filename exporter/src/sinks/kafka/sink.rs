//! The Kafka sink: its own thread encodes events into messages and hands
//! them to librdkafka, whose own thread delivers them and reports each one.
//!
//! Accounting: every record handed to the sink ends as exported (its
//! message's delivery was acknowledged), rejected (the broker refused a
//! message of one record as too large), or dropped: queue full (librdkafka's
//! local queue or the sink's record bound), failed (delivery failed for good,
//! counted by error), or shutdown (still undelivered when the shutdown
//! timeout ran out; purged). A message the broker refuses as too large is
//! split in two and sent again, down to single records.

use std::{
    sync::{Arc, Mutex, mpsc as std_mpsc},
    time::{Duration, Instant},
};

use rdkafka::{
    ClientContext,
    config::FromClientConfigAndContext,
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, Message, OwnedHeaders},
    producer::{
        BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
    },
};

use super::{
    config::{Encoding, KafkaConfig, MessageKey},
    encode::DocEncoder,
};
use crate::{
    base::clock::BootClock,
    event::Event,
    otel::{Resource, attributes as attr, json, wire::Encoder},
    sinks::{
        CHANNEL_BATCHES, FullPolicy, SinkHandle, SinkInput, SinkStats,
        batch::{Batch, LogOnce},
        queue, spawn_on_runtime, tick,
    },
};

/// Why the Kafka output could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("creating the Kafka producer")]
    Producer(#[source] KafkaError),
    #[error(transparent)]
    Thread(#[from] std::io::Error),
}

/// A message the broker refused as too large, to be split and sent again.
struct TooLarge {
    payload: Vec<u8>,
    records: usize,
}

/// librdkafka's callbacks: delivery reports and client errors.
struct Context {
    stats: Arc<SinkStats>,
    too_large: Mutex<std_mpsc::Sender<TooLarge>>,
    batched: bool,
    logged: LogOnce,
}

impl Context {
    fn log_once(&self, kind: &str, message: &str) {
        self.logged
            .warn(kind, || format!("sysotel: kafka: {message}"));
    }

    fn failed(&self, error: &KafkaError, records: usize) {
        let code = error
            .rdkafka_error_code()
            .map_or_else(|| error.to_string(), |c| format!("{c:?}"));
        self.stats.count_error(&code, records);
        self.log_once(&code, &format!("delivery failed: {error}"));
        self.stats.finished(&self.stats.dropped_error, records);
    }
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        let kind = error
            .rdkafka_error_code()
            .map_or_else(|| "client".to_string(), |c| format!("{c:?}"));
        self.log_once(
            &format!("client/{kind}"),
            &format!("{reason} (librdkafka retries)"),
        );
    }

    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, _fac: &str, _log_message: &str) {
        // Errors arrive through `error`; librdkafka's debug log stays quiet.
    }
}

/// What each message carries to its delivery report.
pub struct Sent {
    records: usize,
    /// When it was handed to librdkafka.
    since: Instant,
}

impl ProducerContext for Context {
    type DeliveryOpaque = Box<Sent>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Sent>) {
        let (stats, records) = (&self.stats, sent.records);
        if let Err((e, msg)) = result
            && e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)
            && self.batched
            && records > 1
        {
            // Not finished: the sink splits it and sends the halves.
            let payload = msg.payload().unwrap_or_default().to_vec();
            let sent = self
                .too_large
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(TooLarge { payload, records });
            if sent.is_err() {
                self.failed(e, records);
            }
            return;
        }
        stats.batch_done(sent.since.elapsed());
        match result {
            Ok(msg) => {
                SinkStats::add(&stats.exported_bytes, msg.payload_len());
                stats.finished(&stats.exported, records)
            }
            Err((e, _)) => match e.rdkafka_error_code() {
                Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight) => {
                    stats.finished(&stats.dropped_shutdown, records)
                }
                Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
                    self.log_once("too-large", &format!("the broker refused a record: {e}"));
                    stats.finished(&stats.rejected, records);
                }
                _ => self.failed(e, records),
            },
        }
    }
}

/// The sink's side of one run.
struct Shipper {
    cfg: KafkaConfig,
    producer: ThreadedProducer<Context>,
    headers: OwnedHeaders,
    host: String,
    /// Bytes of encoded records above which an OTLP batch closes.
    batch_bytes: usize,
}

impl Shipper {
    /// Produces one message of `records` records. Returns true when
    /// librdkafka refused it as too large and it holds several records: the
    /// caller splits it.
    #[must_use]
    fn produce(
        &self,
        payload: &[u8],
        key: Option<&str>,
        records: usize,
        timestamp_ms: Option<i64>,
    ) -> bool {
        let sent = Box::new(Sent {
            records,
            since: Instant::now(),
        });
        let mut record = BaseRecord::with_opaque_to(&self.cfg.topic, sent)
            .payload(payload)
            .headers(self.headers.clone());
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(ts) = timestamp_ms {
            record = record.timestamp(ts);
        }
        let Err((e, _)) = self.producer.send(record) else {
            return false;
        };
        let ctx = self.producer.context();
        let stats = &ctx.stats;
        match e.rdkafka_error_code() {
            Some(RDKafkaErrorCode::QueueFull) => stats.finished(&stats.dropped_full, records),
            Some(RDKafkaErrorCode::MessageSizeTooLarge) if records > 1 => return true,
            Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
                ctx.log_once("too-large", &format!("a record is too large to send: {e}"));
                stats.finished(&stats.rejected, records);
            }
            _ => ctx.failed(&e, records),
        }
        false
    }

    /// Splits a message the broker refused as too large (an OTLP batch
    /// encoding) in two and produces both halves: counted as a retry.
    fn split_and_produce(&self, payload: &[u8], records: usize) {
        let stats = &self.producer.context().stats;
        stats
            .retries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let proto = match self.cfg.encoding {
            Encoding::OtlpProto => Some(payload.to_vec()),
            Encoding::OtlpJson => serde_json::from_slice::<
                opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest,
            >(payload)
            .ok()
            .map(|m| prost::Message::encode_to_vec(&m)),
            Encoding::Json | Encoding::Ecs => None,
        };
        match proto {
            Some(proto) => self.split_request(&proto, records),
            None => self.unsplittable(records),
        }
    }

    /// Splits a protobuf request in two and produces both halves.
    fn split_request(&self, proto: &[u8], records: usize) {
        match json::split(proto) {
            Some(halves) => {
                for (half, n) in halves {
                    self.produce_batch(half, n);
                }
            }
            None => self.unsplittable(records),
        }
    }

    fn unsplittable(&self, records: usize) {
        let ctx = self.producer.context();
        ctx.log_once(
            "unsplittable",
            "a message too large to send could not be split",
        );
        ctx.stats.finished(&ctx.stats.rejected, records);
    }

    /// Produces an OTLP request (protobuf) in the configured encoding.
    fn produce_batch(&self, request: Vec<u8>, records: usize) {
        let key = match self.cfg.key {
            MessageKey::None => None,
            _ => Some(self.host.as_str()),
        };
        let too_large = match self.cfg.encoding {
            Encoding::OtlpJson => match json::otlp_json(&request) {
                Ok(body) if body.len() > self.cfg.max_message_bytes && records > 1 => true,
                Ok(body) => self.produce(&body, key, records, None),
                Err(e) => {
                    let ctx = self.producer.context();
                    ctx.log_once("encoding", &format!("OTLP/JSON encoding failed: {e}"));
                    ctx.stats.finished(&ctx.stats.dropped_error, records);
                    false
                }
            },
            _ => self.produce(&request, key, records, None),
        };
        if too_large {
            self.split_request(&request, records);
        }
    }
}

/// Starts the sink: creates the producer (which connects in the background;
/// unreachable brokers are retried by librdkafka) and the sink's thread.
pub fn spawn(
    cfg: KafkaConfig,
    clock: BootClock,
    resource: &Resource,
    shutdown_budget: Duration,
) -> Result<SinkHandle, StartError> {
    let (handle, input) = queue(
        "kafka",
        FullPolicy::DropNewest {
            max_records: cfg.queue_records,
        },
        CHANNEL_BATCHES,
    );
    let (too_large_tx, too_large_rx) = std_mpsc::channel();
    let context = Context {
        stats: input.stats.clone(),
        too_large: Mutex::new(too_large_tx),
        batched: cfg.encoding.batched(),
        logged: LogOnce::default(),
    };
    let producer = ThreadedProducer::from_config_and_context(&cfg.client_config(), context)
        .map_err(StartError::Producer)?;
    let host = resource
        .get(attr::HOST_NAME)
        .map(str::to_string)
        .unwrap_or_default();
    let batch_bytes = match cfg.encoding {
        // OTLP/JSON takes about three to four times the protobuf bytes.
        Encoding::OtlpJson => cfg.max_message_bytes / 4,
        _ => cfg.max_message_bytes,
    };
    let shipper = Shipper {
        headers: OwnedHeaders::new().insert(Header {
            key: "content-type",
            value: Some(cfg.encoding.content_type()),
        }),
        cfg,
        producer,
        host,
        batch_bytes,
    };
    let encoders = Encoders {
        wire: Encoder::new(clock, resource),
        docs: DocEncoder::new(clock, resource),
        clock,
        pending: Batch::default(),
        doc: Vec::with_capacity(2048),
        pid: String::new(),
    };
    spawn_on_runtime("kafka", input, move |input| {
        run(shipper, encoders, input, too_large_rx, shutdown_budget)
    })?;
    Ok(handle)
}

/// The key of a per-event message.
fn event_key<'a>(
    key: MessageKey,
    e: &'a Event,
    host: &'a str,
    pid: &'a mut String,
) -> Option<&'a str> {
    match key {
        MessageKey::Host => Some(host),
        MessageKey::Pid => {
            pid.clear();
            use std::fmt::Write as _;
            let _ = write!(pid, "{}", e.ctx.pid);
            Some(pid.as_str())
        }
        MessageKey::Container => Some(e.ctx.container_id.as_deref().unwrap_or(host)),
        MessageKey::None => None,
    }
}

/// The encoders and the batch of one run.
struct Encoders {
    wire: Encoder,
    docs: DocEncoder,
    clock: BootClock,
    /// The OTLP records waiting to become one message (batched encodings).
    pending: Batch,
    doc: Vec<u8>,
    pid: String,
}

impl Encoders {
    /// One event: into the batch (OTLP encodings), or a message of its own.
    fn take(&mut self, shipper: &Shipper, e: &Event) {
        let cfg = &shipper.cfg;
        if !cfg.encoding.batched() {
            self.doc.clear();
            match cfg.encoding {
                Encoding::Ecs => self.docs.ecs(e, &mut self.doc),
                _ => self.docs.json(e, &mut self.doc),
            }
            let key = event_key(cfg.key, e, &shipper.host, &mut self.pid);
            let ts_ms = (self.clock.unix_ns(e.ctx.ts_boot_ns) / 1_000_000) as i64;
            // One record: never split.
            let _ = shipper.produce(&self.doc, key, 1, Some(ts_ms));
            return;
        }
        // Keep the batch under the message limit: close it before the record
        // that would cross it.
        let wire = &mut self.wire;
        if let Some(next) = self.pending.push_within(shipper.batch_bytes, |out| {
            wire.append(e, out);
        }) {
            self.close(shipper);
            self.pending = Batch::starting_with(next);
        }
        if self.pending.count >= cfg.batch_records {
            self.close(shipper);
        }
    }

    /// Sends the batch, if it holds anything.
    fn close(&mut self, shipper: &Shipper) {
        if !self.pending.is_empty() {
            let b = self.pending.take();
            shipper.produce_batch(self.wire.request(&b.records), b.count);
        }
    }
}

async fn run(
    shipper: Shipper,
    mut enc: Encoders,
    mut input: SinkInput,
    too_large: std_mpsc::Receiver<TooLarge>,
    shutdown_budget: Duration,
) {
    let cfg = &shipper.cfg;
    let mut tick = tick(cfg.batch_age);
    loop {
        tokio::select! {
            batch = input.rx.recv() => match batch {
                Some(events) => events.iter().for_each(|e| enc.take(&shipper, e)),
                None => break,
            },
            _ = tick.tick() => {}
        }
        if enc.pending.is_due(cfg.batch_age) {
            enc.close(&shipper);
        }
        while let Ok(m) = too_large.try_recv() {
            shipper.split_and_produce(&m.payload, m.records);
        }
    }
    // Shutdown: what is batched goes out, then librdkafka delivers what it
    // holds within the budget; what is left is purged and counted.
    enc.close(&shipper);
    flush(&shipper, &too_large, shutdown_budget);
    input.finish();
}

/// Delivers what librdkafka holds within `budget` (splitting what the broker
/// refuses meanwhile); purges what is left and counts it.
fn flush(shipper: &Shipper, too_large: &std_mpsc::Receiver<TooLarge>, budget: Duration) {
    let deadline = Instant::now() + budget;
    loop {
        while let Ok(m) = too_large.try_recv() {
            shipper.split_and_produce(&m.payload, m.records);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if shipper.producer.in_flight_count() == 0 || left.is_zero() {
            break;
        }
        let _ = shipper.producer.flush(left.min(Duration::from_millis(50)));
    }
    if shipper.producer.in_flight_count() > 0 {
        shipper
            .producer
            .purge(PurgeConfig::default().queue().inflight());
        // Purged messages report back (as purged) on the next poll.
        let _ = shipper.producer.flush(Duration::from_secs(1));
    }
    // Split halves that arrived during the purge were never produced.
    let stats = &shipper.producer.context().stats;
    while let Ok(m) = too_large.try_recv() {
        stats.finished(&stats.dropped_shutdown, m.records);
    }
}
