//! Kafka settings: flags, then defaults. Every error names the setting it is
//! about; librdkafka properties are checked by librdkafka itself (its own
//! message), before anything is loaded.

use std::time::Duration;

use rdkafka::ClientConfig;
use thiserror::Error;

use crate::base::secret::{Holder, REDACTED, is_secret_property};

/// How events become Kafka messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// One `ExportLogsServiceRequest` (protobuf) per batch: what the
    /// OpenTelemetry Collector's kafkareceiver reads by default.
    OtlpProto,
    /// The same batch as OTLP/JSON.
    OtlpJson,
    /// One flat JSON object per event, keyed by the OTLP attribute names.
    Json,
    /// One Elastic Common Schema document per event.
    Ecs,
}

impl Encoding {
    pub const NAMES: &'static str = "otlp_proto, otlp_json, json, ecs";

    pub fn parse(s: &str) -> Option<Encoding> {
        match s.trim() {
            "otlp_proto" => Some(Encoding::OtlpProto),
            "otlp_json" => Some(Encoding::OtlpJson),
            "json" => Some(Encoding::Json),
            "ecs" => Some(Encoding::Ecs),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::OtlpProto => "otlp_proto",
            Encoding::OtlpJson => "otlp_json",
            Encoding::Json => "json",
            Encoding::Ecs => "ecs",
        }
    }

    /// One message per batch (OTLP) rather than one per event.
    pub fn batched(self) -> bool {
        matches!(self, Encoding::OtlpProto | Encoding::OtlpJson)
    }

    /// The `content-type` header of every message.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::OtlpProto => "application/x-protobuf",
            Encoding::OtlpJson | Encoding::Json | Encoding::Ecs => "application/json",
        }
    }

    /// The topic used when none is given.
    pub fn default_topic(self) -> &'static str {
        match self {
            Encoding::OtlpProto | Encoding::OtlpJson => "otlp_logs",
            Encoding::Json | Encoding::Ecs => "sysotel_events",
        }
    }
}

/// What each message is keyed by (which partition it lands on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKey {
    /// The host name: one host's events stay in order on one partition.
    Host,
    /// The process id (per-event encodings only).
    Pid,
    /// The container id, or the host name for processes in no container
    /// (per-event encodings only).
    Container,
    /// No key: librdkafka spreads messages over partitions.
    None,
}

impl MessageKey {
    pub fn parse(s: &str) -> Option<MessageKey> {
        match s.trim() {
            "host" => Some(MessageKey::Host),
            "pid" => Some(MessageKey::Pid),
            "container" => Some(MessageKey::Container),
            "none" => Some(MessageKey::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MessageKey::Host => "host",
            MessageKey::Pid => "pid",
            MessageKey::Container => "container",
            MessageKey::None => "none",
        }
    }
}

/// The Kafka flags as given (all optional).
#[derive(Clone, Debug, Default)]
pub struct KafkaFlags {
    pub brokers: Option<String>,
    pub topic: Option<String>,
    pub encoding: Option<String>,
    pub key: Option<String>,
    pub properties: Vec<String>,
    pub batch_records: Option<usize>,
    pub batch_age: Option<Duration>,
    pub queue_records: Option<usize>,
}

/// Resolved, validated Kafka settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaConfig {
    pub topic: String,
    pub encoding: Encoding,
    pub key: MessageKey,
    /// Every librdkafka property, sysotel's defaults first, then the user's
    /// (which win).
    pub properties: Vec<(String, String)>,
    /// An OTLP batch closes at this many records...
    pub batch_records: usize,
    /// ...or when its oldest record is this old.
    pub batch_age: Duration,
    /// Records handed to the output and not yet delivered or dropped, above
    /// which new ones are dropped and counted.
    pub queue_records: usize,
    /// The largest message produced: librdkafka's `message.max.bytes`, less
    /// room for the record's own framing. Larger batches are split.
    pub max_message_bytes: usize,
}

pub const DEFAULT_BROKERS: &str = "localhost:9092";
pub const DEFAULT_BATCH_RECORDS: usize = 2048;
pub const DEFAULT_BATCH_AGE: Duration = Duration::from_millis(200);
pub const DEFAULT_QUEUE_RECORDS: usize = 100_000;
/// librdkafka's default `message.max.bytes`.
const LIBRDKAFKA_MESSAGE_MAX_BYTES: usize = 1_000_000;
/// Room left in a message for the record batch framing, key and headers.
const MESSAGE_OVERHEAD: usize = 1024;

/// Producer defaults chosen for no loss and throughput; any of them can be
/// overridden with `--kafka-property`.
pub const DEFAULT_PROPERTIES: &[(&str, &str)] = &[
    // Every message acknowledged by all in-sync replicas, written once.
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("compression.type", "zstd"),
    // Messages wait up to 50 ms to fill a batch per partition.
    ("linger.ms", "50"),
    ("client.id", "sysotel"),
    // librdkafka's buffer is bounded in bytes too (64 MiB instead of 1 GiB).
    ("queue.buffering.max.kbytes", "65536"),
];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KafkaConfigError {
    #[error("--kafka-brokers: the broker list is empty (expected HOST:PORT[,HOST:PORT...])")]
    EmptyBrokers,
    #[error("--kafka-brokers: `{0}` is not HOST:PORT")]
    BadBroker(String),
    #[error("--kafka-encoding: unknown encoding `{0}` (expected one of {names})", names = Encoding::NAMES)]
    UnknownEncoding(String),
    #[error("--kafka-key: unknown key `{0}` (expected host, pid, container or none)")]
    UnknownKey(String),
    #[error(
        "--kafka-key: `{key}` keys each event, but `{encoding}` puts many events in one message; use host or none, or a per-event encoding (json, ecs)"
    )]
    KeyNeedsPerEvent {
        key: &'static str,
        encoding: &'static str,
    },
    #[error(
        "--kafka-topic: `{0}` is not a valid topic name (1 to 249 characters of a-z, A-Z, 0-9, `.`, `_`, `-`)"
    )]
    BadTopic(String),
    #[error("--kafka-property: `{0}` is not key=value")]
    PropertyNotKeyValue(String),
    #[error("--kafka-property {key}={value}: {message}")]
    BadProperty {
        key: String,
        value: String,
        message: String,
    },
    #[error("--kafka-{0}: must be more than zero")]
    Zero(&'static str),
    #[error("--kafka-property message.max.bytes={0}: too small to hold a message")]
    MessageMaxTooSmall(String),
}

fn valid_topic(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 249
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_broker(b: &str) -> bool {
    // HOST:PORT, [v6]:PORT, or a bare host (librdkafka adds 9092); an
    // optional scheme such as `PLAINTEXT://` or `SSL://` is allowed.
    let b = b.split_once("://").map_or(b, |(_, rest)| rest);
    let (host, port) = match b.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') || h.starts_with('[') => (h, Some(p)),
        _ => (b, None),
    };
    !host.is_empty()
        && !host.contains(char::is_whitespace)
        && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

impl KafkaConfig {
    pub fn resolve(f: &KafkaFlags) -> Result<KafkaConfig, KafkaConfigError> {
        let encoding = match &f.encoding {
            Some(s) => {
                Encoding::parse(s).ok_or_else(|| KafkaConfigError::UnknownEncoding(s.clone()))?
            }
            None => Encoding::OtlpProto,
        };
        let key = match &f.key {
            Some(s) => {
                MessageKey::parse(s).ok_or_else(|| KafkaConfigError::UnknownKey(s.clone()))?
            }
            None => MessageKey::Host,
        };
        if encoding.batched() && matches!(key, MessageKey::Pid | MessageKey::Container) {
            return Err(KafkaConfigError::KeyNeedsPerEvent {
                key: key.name(),
                encoding: encoding.name(),
            });
        }
        let brokers = f.brokers.as_deref().unwrap_or(DEFAULT_BROKERS);
        let list: Vec<&str> = brokers
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .collect();
        if list.is_empty() {
            return Err(KafkaConfigError::EmptyBrokers);
        }
        if let Some(bad) = list.iter().find(|b| !valid_broker(b)) {
            return Err(KafkaConfigError::BadBroker(bad.to_string()));
        }
        let topic = f
            .topic
            .clone()
            .unwrap_or_else(|| encoding.default_topic().to_string());
        if !valid_topic(&topic) {
            return Err(KafkaConfigError::BadTopic(topic));
        }
        let mut properties: Vec<(String, String)> = DEFAULT_PROPERTIES
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        properties.push(("bootstrap.servers".into(), list.join(",")));
        for p in &f.properties {
            let (k, v) = p
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| {
                    KafkaConfigError::PropertyNotKeyValue(
                        Holder::KafkaProperty.redact(p).into_owned(),
                    )
                })?;
            let (k, v) = (k.trim().to_string(), v.trim().to_string());
            properties.retain(|(have, _)| *have != k);
            properties.push((k, v));
        }
        check_properties(&properties)?;
        let max_message_bytes = match properties.iter().find(|(k, _)| k == "message.max.bytes") {
            Some((_, v)) => {
                let n: usize = v.parse().unwrap_or(LIBRDKAFKA_MESSAGE_MAX_BYTES);
                n.checked_sub(MESSAGE_OVERHEAD)
                    .filter(|n| *n >= 1024)
                    .ok_or_else(|| KafkaConfigError::MessageMaxTooSmall(v.clone()))?
            }
            None => LIBRDKAFKA_MESSAGE_MAX_BYTES - MESSAGE_OVERHEAD,
        };
        let nonzero = |v: Option<usize>, default: usize, name| match v {
            Some(0) => Err(KafkaConfigError::Zero(name)),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let batch_age = f.batch_age.unwrap_or(DEFAULT_BATCH_AGE);
        if batch_age.is_zero() {
            return Err(KafkaConfigError::Zero("batch-age"));
        }
        Ok(KafkaConfig {
            topic,
            encoding,
            key,
            properties,
            batch_records: nonzero(f.batch_records, DEFAULT_BATCH_RECORDS, "batch-records")?,
            batch_age,
            queue_records: nonzero(f.queue_records, DEFAULT_QUEUE_RECORDS, "queue-records")?,
            max_message_bytes,
        })
    }

    /// The librdkafka client configuration.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

/// Sets every property on a librdkafka configuration, without connecting:
/// an unknown property or a bad value fails with librdkafka's own message.
fn check_properties(properties: &[(String, String)]) -> Result<(), KafkaConfigError> {
    let mut c = ClientConfig::new();
    for (k, v) in properties {
        c.set(k, v);
    }
    match c.create_native_config() {
        Ok(_) => Ok(()),
        Err(rdkafka::error::KafkaError::ClientConfig(_, message, key, value)) => {
            // librdkafka's message may quote the value: a secret one is
            // never repeated.
            let (value, message) = if is_secret_property(&key) && !value.is_empty() {
                (REDACTED.to_string(), message.replace(&value, REDACTED))
            } else {
                (value, message)
            };
            Err(KafkaConfigError::BadProperty {
                key,
                value,
                message,
            })
        }
        Err(other) => Err(KafkaConfigError::BadProperty {
            key: String::new(),
            value: String::new(),
            message: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> KafkaFlags {
        KafkaFlags::default()
    }

    #[test]
    fn defaults() {
        let c = KafkaConfig::resolve(&flags()).expect("defaults are valid");
        let get = |k: &str| {
            c.properties
                .iter()
                .find(|(p, _)| p == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("bootstrap.servers"), Some("localhost:9092"));
        assert_eq!(c.topic, "otlp_logs");
        assert_eq!(c.encoding, Encoding::OtlpProto);
        assert_eq!(c.key, MessageKey::Host);
        assert_eq!(get("enable.idempotence"), Some("true"));
        assert_eq!(get("acks"), Some("all"));
        assert_eq!(get("compression.type"), Some("zstd"));
        assert_eq!(get("linger.ms"), Some("50"));
        assert_eq!(c.max_message_bytes, 1_000_000 - 1024);
        let json = KafkaConfig::resolve(&KafkaFlags {
            encoding: Some("json".into()),
            ..flags()
        })
        .expect("valid");
        assert_eq!(json.topic, "sysotel_events");
    }

    #[test]
    fn user_properties_win_and_set_the_message_limit() {
        let c = KafkaConfig::resolve(&KafkaFlags {
            properties: vec!["linger.ms=5".into(), "message.max.bytes=20000".into()],
            ..flags()
        })
        .expect("valid");
        let lingers: Vec<_> = c
            .properties
            .iter()
            .filter(|(k, _)| k == "linger.ms")
            .collect();
        assert_eq!(lingers, vec![&("linger.ms".to_string(), "5".to_string())]);
        assert_eq!(c.max_message_bytes, 20000 - 1024);
    }

    #[test]
    fn errors_name_the_setting() {
        let err = |f: KafkaFlags| KafkaConfig::resolve(&f).expect_err("invalid").to_string();
        assert_eq!(
            err(KafkaFlags {
                encoding: Some("avro".into()),
                ..flags()
            }),
            "--kafka-encoding: unknown encoding `avro` (expected one of otlp_proto, otlp_json, json, ecs)"
        );
        assert!(
            err(KafkaFlags {
                brokers: Some(" , ".into()),
                ..flags()
            })
            .starts_with("--kafka-brokers: the broker list is empty")
        );
        assert!(
            err(KafkaFlags {
                brokers: Some("host:port".into()),
                ..flags()
            })
            .starts_with("--kafka-brokers: `host:port`")
        );
        let e = err(KafkaFlags {
            properties: vec!["no.such.property=1".into()],
            ..flags()
        });
        assert!(
            e.starts_with("--kafka-property no.such.property=1: ")
                && e.contains("No such configuration property"),
            "{e}"
        );
        let e = err(KafkaFlags {
            properties: vec!["acks=sometimes".into()],
            ..flags()
        });
        assert!(e.starts_with("--kafka-property acks=sometimes: "), "{e}");
        assert!(
            err(KafkaFlags {
                properties: vec!["acks".into()],
                ..flags()
            })
            .starts_with("--kafka-property: `acks` is not key=value")
        );
        // A secret property's value is never quoted, nor a text that names one.
        for p in [
            "sasl.password:quoted-secret",
            "ssl.key.password quoted-secret",
        ] {
            let e = err(KafkaFlags {
                properties: vec![p.into()],
                ..flags()
            });
            assert!(e.starts_with("--kafka-property: `[REDACTED]`"), "{e}");
        }
        let e = err(KafkaFlags {
            properties: vec!["sasl.oauthbearer.client.secret=quoted-secret".into()],
            ..flags()
        });
        assert!(
            e.starts_with("--kafka-property sasl.oauthbearer.client.secret=[REDACTED]: ")
                && !e.contains("quoted-secret"),
            "{e}"
        );
        assert!(
            err(KafkaFlags {
                key: Some("pid".into()),
                ..flags()
            })
            .starts_with("--kafka-key: `pid` keys each event")
        );
        assert!(
            err(KafkaFlags {
                topic: Some("bad topic".into()),
                ..flags()
            })
            .starts_with("--kafka-topic: `bad topic`")
        );
        for ok in ["a:1", "[::1]:9092", "kafka", "SSL://b:9093"] {
            assert!(valid_broker(ok), "{ok}");
        }
        for bad in ["a:", "a:0", "a:x", ":9092"] {
            assert!(!valid_broker(bad), "{bad}");
        }
    }
}
