//! The Kafka sink: its own thread encodes events into messages and hands
//! them to librdkafka, whose own thread delivers them and reports each one.
//!
//! Accounting: every record handed to the sink ends as exported (its
//! message's delivery was acknowledged), rejected (the broker refused a
//! message of one record as too large), or dropped: queue full (librdkafka's
//! local queue or the sink's record bound), failed (delivery failed for good,
//! counted by error), or shutdown (still undelivered when the shutdown
//! timeout ran out; purged). A message the broker refuses as too large is
//! split in two and sent again, down to single records. Every message
//! carries its records' sequence numbers: a dropped one is named by the
//! next loss report.
//!
//! With a disk queue (`--queue-dir`), the sink writes its messages to the
//! queue in frames (an OTLP batch, or up to `batch_records` per-event
//! documents) and produces them from there; a frame leaves the disk once
//! librdkafka reported the delivery of each of its messages. librdkafka
//! then retries without a timeout (`message.timeout.ms=0`) and holds the
//! frames of at most [`IN_FLIGHT_RECORDS`] records; the rest waits on
//! disk. At shutdown, what was not delivered within the budget is purged
//! from librdkafka and stays on disk for the next run (`kept`).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc as std_mpsc,
    },
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
        disk::{DiskQueue, Frame, FrameId, Opened, QueueSettings},
        queue_with,
        ranges::{self, Ranges},
        spawn_on_runtime, stage, tick,
    },
};

/// The output's name: its counters, its loss reports' stage, its folder in
/// the queue dir.
pub const NAME: &str = "kafka";

/// With a disk queue, librdkafka holds the frames of at most this many
/// records at once (half its local queue of 100,000 messages) and at most
/// [`IN_FLIGHT_BYTES`]: what a crash between a delivery and the write of
/// its acknowledgement can send twice.
pub const IN_FLIGHT_RECORDS: usize = 50_000;
const IN_FLIGHT_BYTES: usize = 16 << 20;

/// How long a produce from the disk queue waits for room in librdkafka's
/// local queue before its message counts as dropped (queue full).
const ROOM_WAIT: Duration = Duration::from_secs(5);

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
    sent: Sent,
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

    /// Counts `sent`'s records in `counter`. Records read from the disk
    /// queue left the sink's queue when they were written to it.
    fn count(&self, counter: &AtomicU64, sent: &Sent) {
        match &sent.frame {
            Some(track) => {
                SinkStats::add(counter, sent.records);
                track.counted.fetch_add(sent.records, Ordering::Relaxed);
            }
            None => self.stats.finished(counter, sent.records),
        }
    }

    /// Counts `sent`'s records as dropped in `counter` and remembers their
    /// numbers for the next loss report.
    fn drop_sent(&self, counter: &AtomicU64, sent: &Sent) {
        self.count(counter, sent);
        self.stats.lose(&sent.lost());
    }

    fn failed(&self, error: &KafkaError, sent: &Sent) {
        let code = error
            .rdkafka_error_code()
            .map_or_else(|| error.to_string(), |c| format!("{c:?}"));
        self.stats.count_error(&code, sent.records);
        self.log_once(&code, &format!("delivery failed: {error}"));
        self.drop_sent(&self.stats.dropped_error, sent);
    }

    /// A message that will not be delivered in this run: from the disk
    /// queue, its frame stays there; otherwise it is dropped at shutdown.
    fn purged(&self, sent: &Sent) {
        match &sent.frame {
            Some(track) => track.keep.store(true, Ordering::Relaxed),
            None => self.drop_sent(&self.stats.dropped_shutdown, sent),
        }
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
    /// When its records reached the sink (or left the disk queue).
    since: Instant,
    /// Its records' sequence numbers, and what loss reports of this output
    /// among them name: remembered again if the message is dropped.
    sequences: Ranges,
    carried: Ranges,
    /// The disk queue frame it was read from.
    frame: Option<Arc<Track>>,
}

impl Sent {
    fn new(records: usize, since: Instant, sequences: Ranges, carried: Ranges) -> Sent {
        Sent {
            records,
            since,
            sequences,
            carried,
            frame: None,
        }
    }

    /// The numbers a loss report names if the message is dropped.
    fn lost(&self) -> Ranges {
        let mut lost = self.sequences.clone();
        lost.extend(&self.carried);
        lost
    }

    /// The two halves of a message split after its first `n` records. Each
    /// keeps what the loss reports among them name (which half holds a
    /// report is not known): a lost half names it again, at worst twice.
    fn split(self, n: usize) -> (Sent, Sent) {
        let (a, b) = self.sequences.split_at(n as u64);
        let first = Sent {
            records: n,
            since: self.since,
            sequences: a,
            carried: self.carried.clone(),
            frame: self.frame.clone(),
        };
        let second = Sent {
            records: self.records - n,
            sequences: b,
            ..self
        };
        (first, second)
    }
}

/// A disk queue frame whose messages are in librdkafka. When the last of
/// them reported (every [`Sent`] holding it is gone), the sink hears of it
/// and acknowledges the frame, unless one of them was purged at shutdown:
/// then the frame stays on disk.
struct Track {
    id: FrameId,
    records: usize,
    bytes: usize,
    /// Records of the frame counted as delivered or dropped in this run.
    counted: AtomicUsize,
    keep: AtomicBool,
    done: tokio::sync::mpsc::UnboundedSender<Done>,
}

/// A frame all of whose messages reported.
struct Done {
    id: FrameId,
    records: usize,
    bytes: usize,
    counted: usize,
    keep: bool,
}

impl Drop for Track {
    fn drop(&mut self) {
        let _ = self.done.send(Done {
            id: self.id,
            records: self.records,
            bytes: self.bytes,
            counted: *self.counted.get_mut(),
            keep: *self.keep.get_mut(),
        });
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = Box<Sent>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Sent>) {
        let stats = &self.stats;
        if let Err((e, msg)) = result
            && e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)
            && self.batched
            && sent.records > 1
        {
            // Not finished: the sink splits it and sends the halves.
            let payload = msg.payload().unwrap_or_default().to_vec();
            let back = self
                .too_large
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(TooLarge {
                    payload,
                    sent: *sent,
                });
            if let Err(std_mpsc::SendError(m)) = back {
                self.failed(e, &m.sent);
            }
            return;
        }
        stats.batch_done(sent.since.elapsed());
        match result {
            Ok(msg) => {
                SinkStats::add(&stats.exported_bytes, msg.payload_len());
                self.count(&stats.exported, &sent);
            }
            Err((e, _)) => match e.rdkafka_error_code() {
                Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight) => {
                    self.purged(&sent)
                }
                Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
                    self.log_once("too-large", &format!("the broker refused a record: {e}"));
                    self.drop_sent(&stats.rejected, &sent);
                }
                _ => self.failed(e, &sent),
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
    /// Produces one message. Returns its `Sent` back when librdkafka
    /// refused it as too large and it holds several records: the caller
    /// splits it.
    #[must_use]
    fn produce(
        &self,
        payload: &[u8],
        key: Option<&str>,
        sent: Sent,
        timestamp_ms: Option<i64>,
    ) -> Option<Sent> {
        let (records, from_disk) = (sent.records, sent.frame.is_some());
        let mut record = BaseRecord::with_opaque_to(&self.cfg.topic, Box::new(sent))
            .payload(payload)
            .headers(self.headers.clone());
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(ts) = timestamp_ms {
            record = record.timestamp(ts);
        }
        let started = Instant::now();
        let (e, sent) = loop {
            match self.producer.send(record) {
                Ok(()) => return None,
                // From the disk queue, a message waits for room: librdkafka
                // delivers (or purges) what it holds meanwhile.
                Err((e, back))
                    if from_disk
                        && e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull)
                        && started.elapsed() < ROOM_WAIT =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                    record = back;
                }
                Err((e, back)) => break (e, back.delivery_opaque),
            }
        };
        let ctx = self.producer.context();
        let stats = &ctx.stats;
        match e.rdkafka_error_code() {
            Some(RDKafkaErrorCode::QueueFull) => ctx.drop_sent(&stats.dropped_full, &sent),
            Some(RDKafkaErrorCode::MessageSizeTooLarge) if records > 1 => return Some(*sent),
            Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
                ctx.log_once("too-large", &format!("a record is too large to send: {e}"));
                ctx.drop_sent(&stats.rejected, &sent);
            }
            _ => ctx.failed(&e, &sent),
        }
        None
    }

    /// Splits a message the broker refused as too large (an OTLP batch
    /// encoding) in two and produces both halves: counted as a retry.
    fn split_and_produce(&self, payload: &[u8], sent: Sent) {
        let stats = &self.producer.context().stats;
        stats.retries.fetch_add(1, Ordering::Relaxed);
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
            Some(proto) => self.split_request(&proto, sent),
            None => self.unsplittable(sent),
        }
    }

    /// Splits a protobuf request in two and produces both halves.
    fn split_request(&self, proto: &[u8], sent: Sent) {
        match json::split(proto) {
            Some([(a, na), (b, _)]) => {
                let (first, second) = sent.split(na);
                self.produce_batch(a, first);
                self.produce_batch(b, second);
            }
            None => self.unsplittable(sent),
        }
    }

    fn unsplittable(&self, sent: Sent) {
        let ctx = self.producer.context();
        ctx.log_once(
            "unsplittable",
            "a message too large to send could not be split",
        );
        ctx.drop_sent(&ctx.stats.rejected, &sent);
    }

    /// Produces an OTLP request (protobuf) in the configured encoding.
    fn produce_batch(&self, request: Vec<u8>, sent: Sent) {
        let key = match self.cfg.key {
            MessageKey::None => None,
            _ => Some(self.host.as_str()),
        };
        let too_large = match self.cfg.encoding {
            Encoding::OtlpJson => match json::otlp_json(&request) {
                Ok(body) if body.len() > self.cfg.max_message_bytes && sent.records > 1 => {
                    Some(sent)
                }
                Ok(body) => self.produce(&body, key, sent, None),
                Err(e) => {
                    let ctx = self.producer.context();
                    ctx.log_once("encoding", &format!("OTLP/JSON encoding failed: {e}"));
                    ctx.drop_sent(&ctx.stats.dropped_error, &sent);
                    None
                }
            },
            _ => self.produce(&request, key, sent, None),
        };
        if let Some(sent) = too_large {
            self.split_request(&request, sent);
        }
    }
}

/// Starts the sink: creates the producer (which connects in the background;
/// unreachable brokers are retried by librdkafka) and the sink's thread.
/// `durable`: the disk queue, opened by [`QueueSettings::open_sink`].
pub fn spawn(
    cfg: KafkaConfig,
    clock: BootClock,
    resource: &Resource,
    durable: Option<Opened>,
    shutdown_budget: Duration,
) -> Result<SinkHandle, StartError> {
    let policy = FullPolicy::DropNewest {
        max_records: cfg.queue_records,
    };
    let mut client = cfg.client_config();
    let (handle, input, disk) = match durable {
        Some(Opened {
            settings,
            stats,
            queue,
        }) => {
            // The disk holds what librdkafka cannot deliver yet: it retries
            // for as long as it takes.
            client.set("message.timeout.ms", "0");
            let (handle, input) = queue_with(NAME, policy, CHANNEL_BATCHES, stats);
            let disk = Disk::new(queue, settings, input.stats.clone(), &cfg);
            (handle, input, Some(disk))
        }
        None => {
            let (handle, input) = queue_with(
                NAME,
                policy,
                CHANNEL_BATCHES,
                Arc::new(SinkStats::default()),
            );
            (handle, input, None)
        }
    };
    let (too_large_tx, too_large_rx) = std_mpsc::channel();
    let context = Context {
        stats: input.stats.clone(),
        too_large: Mutex::new(too_large_tx),
        batched: cfg.encoding.batched(),
        logged: LogOnce::default(),
    };
    let producer = ThreadedProducer::from_config_and_context(&client, context)
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
        sequences: Ranges::default(),
        carried: Ranges::default(),
        stage: stage(NAME),
        doc: Vec::with_capacity(2048),
        pid: String::new(),
        disk,
    };
    spawn_on_runtime(NAME, input, move |input| {
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

/// A frame's payload: one OTLP request (protobuf, as the batch encodings
/// send it) or per-event documents, each `sequence u64 | carried ranges |
/// key length u32 (u32::MAX: none) | key | timestamp ms i64 | length u32 |
/// document`.
const FRAME_REQUEST: u8 = 0;
const FRAME_DOCUMENTS: u8 = 1;

/// A per-event frame closes at this many bytes (or `batch_records`
/// documents, or the batch age).
const FRAME_BYTES: usize = 1 << 20;

/// One document of a per-event frame.
struct Doc<'a> {
    sequence: u64,
    carried: Ranges,
    key: Option<&'a str>,
    timestamp_ms: i64,
    body: &'a [u8],
}

impl Doc<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.sequence.to_le_bytes());
        self.carried.write(out);
        match self.key {
            Some(k) => {
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k.as_bytes());
            }
            None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        }
        out.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        out.extend_from_slice(&(self.body.len() as u32).to_le_bytes());
        out.extend_from_slice(self.body);
    }

    /// Reads one document from the front of `bytes`; returns it and the rest.
    fn read(bytes: &[u8]) -> Option<(Doc<'_>, &[u8])> {
        let u32_at = |b: &[u8]| Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?));
        let sequence = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let (carried, rest) = Ranges::read(&bytes[8..])?;
        let key_len = u32_at(rest)?;
        let (key, rest) = if key_len == u32::MAX {
            (None, &rest[4..])
        } else {
            let k = rest.get(4..4 + key_len as usize)?;
            (
                Some(std::str::from_utf8(k).ok()?),
                &rest[4 + key_len as usize..],
            )
        };
        let timestamp_ms = i64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
        let len = u32_at(&rest[8..])? as usize;
        let body = rest.get(12..12 + len)?;
        Some((
            Doc {
                sequence,
                carried,
                key,
                timestamp_ms,
                body,
            },
            &rest[12 + len..],
        ))
    }
}

/// The disk queue of a run with `--queue-dir`, the per-event frame being
/// filled, and what of it librdkafka holds.
struct Disk {
    queue: DiskQueue,
    settings: QueueSettings,
    stats: Arc<SinkStats>,
    logged: LogOnce,
    /// The per-event frame being filled (payload starts with its kind).
    frame: Frame,
    since: Instant,
    batch_records: usize,
    in_flight_records: usize,
    in_flight_bytes: usize,
    /// Records of frames that stay on disk and were counted in this run
    /// (some of their messages delivered before a purge).
    kept_counted: usize,
    done_tx: tokio::sync::mpsc::UnboundedSender<Done>,
    done_rx: tokio::sync::mpsc::UnboundedReceiver<Done>,
}

impl Disk {
    fn new(
        queue: DiskQueue,
        settings: QueueSettings,
        stats: Arc<SinkStats>,
        cfg: &KafkaConfig,
    ) -> Disk {
        let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
        Disk {
            queue,
            settings,
            stats,
            logged: LogOnce::default(),
            frame: Frame::default(),
            since: Instant::now(),
            batch_records: cfg.batch_records,
            in_flight_records: 0,
            in_flight_bytes: 0,
            kept_counted: 0,
            done_tx,
            done_rx,
        }
    }

    /// Writes a frame (or drops it, counted); its records leave the sink's
    /// queue either way.
    fn write(&mut self, frame: &Frame) {
        self.queue
            .append_or_drop(frame, &self.stats, &self.logged, NAME);
        self.stats
            .queued
            .fetch_sub(u64::from(frame.records), Ordering::Relaxed);
    }

    /// Adds a document to the per-event frame; writes the frame when full.
    fn push_doc(&mut self, doc: &Doc<'_>) {
        if self.frame.records == 0 {
            self.since = Instant::now();
            self.frame.payload.clear();
            self.frame.payload.push(FRAME_DOCUMENTS);
        }
        doc.write(&mut self.frame.payload);
        self.frame.records += 1;
        self.frame.sequences.push(doc.sequence);
        self.frame.carried.extend(&doc.carried);
        if self.frame.records as usize >= self.batch_records
            || self.frame.payload.len() >= FRAME_BYTES
        {
            self.close_docs();
        }
    }

    /// Writes the per-event frame, if it holds anything.
    fn close_docs(&mut self) {
        if self.frame.records > 0 {
            let frame = std::mem::take(&mut self.frame);
            self.write(&frame);
        }
    }

    /// Hands frames from the disk to librdkafka while it holds less than
    /// its share.
    fn pump(&mut self, shipper: &Shipper) {
        while self.in_flight_records < IN_FLIGHT_RECORDS && self.in_flight_bytes < IN_FLIGHT_BYTES {
            let (id, frame) = match self.queue.read_next() {
                Ok(Some(next)) => next,
                Ok(None) => return,
                Err(e) => {
                    self.logged.warn("disk/read", || {
                        format!("sysotel: kafka: reading the disk queue failed: {e}")
                    });
                    return;
                }
            };
            let records = frame.records as usize;
            self.in_flight_records += records;
            self.in_flight_bytes += frame.payload.len();
            let track = Arc::new(Track {
                id,
                records,
                bytes: frame.payload.len(),
                counted: AtomicUsize::new(0),
                keep: AtomicBool::new(false),
                done: self.done_tx.clone(),
            });
            let sent = Sent {
                records,
                since: Instant::now(),
                sequences: frame.sequences,
                carried: frame.carried,
                frame: Some(track.clone()),
            };
            match frame.payload.split_first() {
                Some((&FRAME_REQUEST, request)) => shipper.produce_batch(request.to_vec(), sent),
                Some((&FRAME_DOCUMENTS, mut rest)) => {
                    let mut produced = 0;
                    while let Some((doc, after)) = Doc::read(rest) {
                        let one = Sent {
                            frame: Some(track.clone()),
                            ..Sent::new(1, sent.since, single(doc.sequence), doc.carried)
                        };
                        // One record: never split.
                        let _ = shipper.produce(doc.body, doc.key, one, Some(doc.timestamp_ms));
                        produced += 1;
                        rest = after;
                    }
                    if produced < records {
                        // The checksum held: written so by a sysotel of
                        // another version.
                        let left = Sent {
                            records: records - produced,
                            sequences: sent.sequences.split_at(produced as u64).1,
                            ..sent
                        };
                        let ctx = shipper.producer.context();
                        ctx.log_once("disk/layout", "a disk queue frame could not be read");
                        ctx.stats.count_error("disk queue frame", left.records);
                        ctx.drop_sent(&ctx.stats.dropped_error, &left);
                    }
                }
                _ => {
                    let ctx = shipper.producer.context();
                    ctx.log_once("disk/layout", "a disk queue frame could not be read");
                    ctx.stats.count_error("disk queue frame", records);
                    ctx.drop_sent(&ctx.stats.dropped_error, &sent);
                }
            }
        }
    }

    /// A frame all of whose messages reported: it leaves the disk, unless
    /// some of it was purged.
    fn done(&mut self, d: Done) {
        self.in_flight_records -= d.records;
        self.in_flight_bytes -= d.bytes;
        if d.keep {
            self.kept_counted += d.counted;
        } else {
            self.queue.ack(d.id);
        }
    }

    fn sync(&mut self) {
        if let Err(e) = self.queue.sync() {
            self.logged.warn("disk/sync", || {
                format!("sysotel: kafka: syncing the disk queue failed: {e}")
            });
        }
    }
}

fn single(n: u64) -> Ranges {
    let mut r = Ranges::default();
    r.push(n);
    r
}

/// The encoders and the batch of one run.
struct Encoders {
    wire: Encoder,
    docs: DocEncoder,
    clock: BootClock,
    /// The OTLP records waiting to become one message (batched encodings),
    /// their numbers and what the loss reports among them name.
    pending: Batch,
    sequences: Ranges,
    carried: Ranges,
    /// This output's loss reports' stage.
    stage: String,
    doc: Vec<u8>,
    pid: String,
    /// With `--queue-dir`: where messages go before librdkafka.
    disk: Option<Disk>,
}

impl Encoders {
    /// One event: into the batch (OTLP encodings), or a message of its own.
    fn take(&mut self, shipper: &Shipper, e: &Event) {
        let cfg = &shipper.cfg;
        let carried = ranges::carried_by(e, &self.stage).unwrap_or_default();
        if !cfg.encoding.batched() {
            self.doc.clear();
            match cfg.encoding {
                Encoding::Ecs => self.docs.ecs(e, &mut self.doc),
                _ => self.docs.json(e, &mut self.doc),
            }
            let key = event_key(cfg.key, e, &shipper.host, &mut self.pid);
            let ts_ms = (self.clock.unix_ns(e.ctx.ts_boot_ns) / 1_000_000) as i64;
            match &mut self.disk {
                Some(disk) => disk.push_doc(&Doc {
                    sequence: e.sequence,
                    carried,
                    key,
                    timestamp_ms: ts_ms,
                    body: &self.doc,
                }),
                None => {
                    let sent = Sent::new(1, Instant::now(), single(e.sequence), carried);
                    // One record: never split.
                    let _ = shipper.produce(&self.doc, key, sent, Some(ts_ms));
                }
            }
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
        self.sequences.push(e.sequence);
        self.carried.extend(&carried);
        if self.pending.count >= cfg.batch_records {
            self.close(shipper);
        }
    }

    /// Sends (or writes to the disk queue) the batch, if it holds anything.
    fn close(&mut self, shipper: &Shipper) {
        if self.pending.is_empty() {
            return;
        }
        let b = self.pending.take();
        let request = self.wire.request(&b.records);
        let (sequences, carried) = (
            std::mem::take(&mut self.sequences),
            std::mem::take(&mut self.carried),
        );
        match &mut self.disk {
            Some(disk) => {
                let mut payload = Vec::with_capacity(request.len() + 1);
                payload.push(FRAME_REQUEST);
                payload.extend_from_slice(&request);
                disk.write(&Frame {
                    records: b.count as u32,
                    sequences,
                    carried,
                    payload,
                });
            }
            None => shipper.produce_batch(request, Sent::new(b.count, b.since, sequences, carried)),
        }
    }

    /// Closes what is due: the batch, the per-event frame.
    fn close_due(&mut self, shipper: &Shipper, age: Duration) {
        if self.pending.is_due(age) {
            self.close(shipper);
        }
        if let Some(disk) = &mut self.disk
            && disk.frame.records > 0
            && disk.since.elapsed() >= age
        {
            disk.close_docs();
        }
    }
}

/// The next frame that finished, or never without a disk queue.
async fn next_done(disk: &mut Option<Disk>) -> Option<Done> {
    match disk {
        Some(d) => d.done_rx.recv().await,
        None => std::future::pending().await,
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
    let age = match &enc.disk {
        Some(d) => d.settings.batch_age(cfg.batch_age),
        None => cfg.batch_age,
    };
    let mut tick = tick(age);
    // Without a disk queue there is nothing to sync: the tick idles.
    let mut sync = enc.disk.as_ref().map_or_else(
        || tokio::time::interval(Duration::from_secs(3600)),
        |d| d.settings.sync_tick(),
    );
    loop {
        tokio::select! {
            batch = input.rx.recv() => match batch {
                Some(events) => events.iter().for_each(|e| enc.take(&shipper, e)),
                None => break,
            },
            Some(done) = next_done(&mut enc.disk) => {
                if let Some(d) = &mut enc.disk {
                    d.done(done);
                }
            }
            _ = sync.tick() => {
                if let Some(d) = &mut enc.disk {
                    d.sync();
                }
            }
            _ = tick.tick() => {}
        }
        enc.close_due(&shipper, age);
        while let Ok(m) = too_large.try_recv() {
            shipper.split_and_produce(&m.payload, m.sent);
        }
        if let Some(d) = &mut enc.disk {
            d.pump(&shipper);
        }
    }
    // Shutdown: what is batched goes out, then librdkafka delivers what it
    // holds within the budget; what is left is purged and counted (or, with
    // a disk queue, stays there).
    enc.close(&shipper);
    match &mut enc.disk {
        Some(d) => {
            d.close_docs();
            drain(&shipper, d, &too_large, shutdown_budget);
        }
        None => flush(&shipper, &too_large, shutdown_budget),
    }
    input.finish();
}

/// Splits and produces what the broker refused as too large meanwhile.
fn split_refused(shipper: &Shipper, too_large: &std_mpsc::Receiver<TooLarge>) {
    while let Ok(m) = too_large.try_recv() {
        shipper.split_and_produce(&m.payload, m.sent);
    }
}

/// Delivers what librdkafka holds within `budget` (splitting what the broker
/// refuses meanwhile); purges what is left and counts it.
fn flush(shipper: &Shipper, too_large: &std_mpsc::Receiver<TooLarge>, budget: Duration) {
    let deadline = Instant::now() + budget;
    loop {
        split_refused(shipper, too_large);
        let left = deadline.saturating_duration_since(Instant::now());
        if shipper.producer.in_flight_count() == 0 || left.is_zero() {
            break;
        }
        let _ = shipper.producer.flush(left.min(Duration::from_millis(50)));
    }
    purge(shipper, too_large);
}

/// Purges what librdkafka still holds; its messages report back as purged.
fn purge(shipper: &Shipper, too_large: &std_mpsc::Receiver<TooLarge>) {
    if shipper.producer.in_flight_count() > 0 {
        shipper
            .producer
            .purge(PurgeConfig::default().queue().inflight());
        // Purged messages report back (as purged) on the next poll.
        let _ = shipper.producer.flush(Duration::from_secs(1));
    }
    // Split halves that arrived during the purge were never produced.
    let ctx = shipper.producer.context();
    while let Ok(m) = too_large.try_recv() {
        ctx.purged(&m.sent);
    }
}

/// With a disk queue: sends from the disk within `budget` what librdkafka
/// can deliver, then purges librdkafka; what is not delivered stays on disk
/// (`kept`).
fn drain(
    shipper: &Shipper,
    disk: &mut Disk,
    too_large: &std_mpsc::Receiver<TooLarge>,
    budget: Duration,
) {
    let deadline = Instant::now() + budget;
    let settle = |disk: &mut Disk| {
        while let Ok(done) = disk.done_rx.try_recv() {
            disk.done(done);
        }
    };
    loop {
        split_refused(shipper, too_large);
        settle(disk);
        disk.pump(shipper);
        let left = deadline.saturating_duration_since(Instant::now());
        if (disk.queue.caught_up() && disk.in_flight_records == 0) || left.is_zero() {
            break;
        }
        let _ = shipper.producer.flush(left.min(Duration::from_millis(50)));
    }
    purge(shipper, too_large);
    settle(disk);
    disk.sync();
    let kept = (disk.queue.records() as usize).saturating_sub(disk.kept_counted);
    SinkStats::add(&disk.stats.kept, kept);
    if disk.queue.records() > 0 {
        crate::info!(
            "sysotel: kafka: {} records stay in the disk queue {} for the next run",
            disk.queue.records(),
            disk.queue.dir().display()
        );
    }
}
