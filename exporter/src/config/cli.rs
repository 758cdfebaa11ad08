//! The command line. Bad flags exit with code 2 (clap's usage error code) and a
//! message that names the flag.

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::base::units::{parse_duration, parse_ring_size, parse_size};

#[derive(Debug, Parser)]
#[command(
    name = "sysotel",
    version,
    about = "Trace what processes do with eBPF and ship every event as an OpenTelemetry log record",
    long_about = "Trace system calls and the process life cycle with eBPF.\n\nWith no arguments, sysotel traces every process created after it starts (and their descendants) and prints the classic tracer table on stdout. It logs a line containing `ready` on stderr once every program is attached; SIGINT/SIGTERM stops it, flushes every output and prints the totals on stderr."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Where events go; repeat for several outputs at once.
    #[arg(short = 'o', long = "output", value_enum, default_values_t = [Output::Table], value_delimiter = ',')]
    pub outputs: Vec<Output>,

    /// Events to trace: names (openat), globs (open*), sets (fs, net, proc,
    /// ipc, mem, default) and exclusions (-read), comma-separated or repeated.
    /// Default: every event. Selection happens in the kernel.
    #[arg(short = 'e', long = "events", value_name = "SPEC")]
    pub events: Vec<String>,

    /// Configuration file (TOML; see config/sysotel.toml). Flags and
    /// environment variables override what it sets.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    /// Which processes to trace; repeatable. Terms of different keys must all
    /// match, `=` terms of one key are alternatives, `!=` (or `!key`) excludes:
    /// pid=N|new, ppid=N, uid=N (also != < > <= >=), gid=N, comm=NAME|PREFIX*,
    /// exe=PATH|GLOB, mntns=INODE, pidns=INODE, uts=HOST|PREFIX*, container,
    /// !container, cgroup=PATH, follow (also trace descendants), all. Values
    /// may be comma-separated (uid=0,1000); `;` separates terms. Default:
    /// pid=new (processes created after start-up). Everything but exe is
    /// decided in the kernel. sysotel never traces itself.
    #[arg(long, value_name = "TERM", value_delimiter = ';')]
    pub scope: Vec<String>,

    /// Keep only matching events (user space); repeatable. [EVENT.]FIELD OP
    /// VALUE, where EVENT is an event or set name, FIELD an argument name,
    /// `addr` (the event's socket address), `retval`, or of every event
    /// container.id, container.name, container.image, user.name or user.id
    /// (effective), and OP =, !=, <, >,
    /// <=, >=. Strings take globs (openat.pathname=/etc/*), addresses a CIDR
    /// or ADDR[:PORT] (connect.addr=10.0.0.0/8), retval a number or -ERRNO
    /// (openat.retval=-ENOENT). Filters on one field are alternatives,
    /// different fields must all match; an event the filter does not name
    /// passes it. `;` separates filters.
    #[arg(long = "filter", value_name = "FILTER", value_delimiter = ';')]
    pub filters: Vec<String>,

    /// Container runtimes asked for a container's name, image and pod, by
    /// API socket: docker=SOCKET (Docker Engine, or Podman's
    /// Docker-compatible service) or cri=SOCKET (Kubernetes' CRI: containerd,
    /// CRI-O); repeatable, `;` separates. `none` asks none. Default:
    /// docker=/var/run/docker.sock, docker=/run/podman/podman.sock,
    /// cri=/run/containerd/containerd.sock, cri=/var/run/crio/crio.sock.
    #[arg(
        long = "container-runtime",
        value_name = "KIND=SOCKET",
        value_delimiter = ';'
    )]
    pub container_runtimes: Vec<String>,

    /// sysotel's own messages on stderr: info (the ready line, stats and the
    /// final summary), warn (only warnings and errors) or error.
    #[arg(long, value_enum, default_value_t = crate::base::log::Level::Info, value_name = "LEVEL")]
    pub log_level: crate::base::log::Level,

    /// Size of the kernel ring buffer: a power of two of at least 4K (suffixes K, M, G).
    #[arg(long, default_value = "32M", value_parser = parse_ring_size)]
    pub ring_buffer_size: u32,

    /// The kernel's type information (BTF) from this file instead of
    /// /sys/kernel/btf/vmlinux, for a kernel built without it (BTFHub has
    /// files for such kernels). It must describe the running kernel.
    #[arg(long, value_name = "FILE")]
    pub btf: Option<std::path::PathBuf>,

    /// Have the kernel time every eBPF program run and print runs and average
    /// cost per program in the summary (adds two clock reads per run).
    #[arg(long)]
    pub bpf_stats: bool,

    /// How often losses are checked; each stage that lost records (the kernel
    /// ring buffer, an output's queue or delivery) sends one `sysotel.loss`
    /// record to every healthy output per interval.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub loss_interval: Duration,

    /// Print a stats line on stderr this often (off by default).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub stats_interval: Option<Duration>,

    /// How long SIGINT/SIGTERM waits for the outputs to flush (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Keep each network output's records in a disk queue under DIR
    /// (DIR/otlp, DIR/kafka) until the receiver acknowledged them: they
    /// survive outages and restarts, and a restart sends what is left first.
    /// Off by default (records wait in memory only).
    #[arg(long, value_name = "DIR")]
    pub queue_dir: Option<std::path::PathBuf>,

    /// The disk queue's bound per output (e.g. 1G, 512M); above it new
    /// records are dropped and counted as queue_full.
    #[arg(long, default_value = "1G", value_parser = parse_size, value_name = "SIZE")]
    pub queue_max_bytes: u64,

    /// How often the disk queue is synced to the disk (fdatasync); at most
    /// 1s. A record is written to the queue within this interval of being
    /// read, and synced within it again.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub queue_sync: Duration,

    /// Serve Prometheus metrics on http://ADDR/metrics and health on
    /// http://ADDR/healthz (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Export sysotel's own metrics with the OpenTelemetry SDK over OTLP/HTTP
    /// protobuf to this URL (e.g. http://collector:4318/v1/metrics).
    #[arg(long, value_name = "URL")]
    pub metrics_otlp_endpoint: Option<String>,

    /// How often metrics are exported over OTLP (default:
    /// OTEL_METRIC_EXPORT_INTERVAL in ms, else 60s).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub metrics_interval: Option<Duration>,

    #[command(flatten)]
    pub otlp: OtlpArgs,

    #[command(flatten)]
    pub kafka: KafkaArgs,
}

/// `-o kafka` settings.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Kafka output (-o kafka)")]
pub struct KafkaArgs {
    /// Bootstrap brokers, HOST:PORT[,HOST:PORT...] (default localhost:9092).
    #[arg(long = "kafka-brokers", value_name = "HOST:PORT,...")]
    pub brokers: Option<String>,
    /// Topic (default otlp_logs for the OTLP encodings, sysotel_events for json and ecs).
    #[arg(long = "kafka-topic", value_name = "TOPIC")]
    pub topic: Option<String>,
    /// otlp_proto (default: one ExportLogsServiceRequest per batch, what the
    /// OpenTelemetry Collector's kafkareceiver reads), otlp_json, json (one
    /// flat object per event) or ecs (one Elastic Common Schema document per event).
    #[arg(long = "kafka-encoding", value_name = "ENCODING")]
    pub encoding: Option<String>,
    /// Message key: host (default; a host's events stay in order on one
    /// partition), pid or container (json and ecs only), or none.
    #[arg(long = "kafka-key", value_name = "KEY")]
    pub key: Option<String>,
    /// Any librdkafka producer property, key=value; repeatable. How SASL and
    /// TLS are set (security.protocol, sasl.*, ssl.*). Defaults:
    /// enable.idempotence=true, acks=all, compression.type=zstd, linger.ms=50,
    /// queue.buffering.max.kbytes=65536. Passwords and secrets are never
    /// printed.
    #[arg(
        long = "kafka-property",
        value_name = "KEY=VALUE",
        hide_env_values = true
    )]
    pub properties: Vec<String>,
    /// An OTLP batch closes at this many records (default 2048), or below the
    /// message size limit (message.max.bytes)...
    #[arg(
        id = "kafka-batch-records",
        long = "kafka-batch-records",
        value_name = "N"
    )]
    pub batch_records: Option<usize>,
    /// ...or when its oldest record is this old (default 200ms).
    #[arg(id = "kafka-batch-age", long = "kafka-batch-age", value_parser = parse_duration, value_name = "DURATION")]
    pub batch_age: Option<Duration>,
    /// Records handed to the output and not yet delivered above which new
    /// ones are dropped and counted (default 100000).
    #[arg(
        id = "kafka-queue-records",
        long = "kafka-queue-records",
        value_name = "N"
    )]
    pub queue_records: Option<usize>,
}

impl KafkaArgs {
    pub fn flags(&self) -> crate::sinks::kafka::KafkaFlags {
        crate::sinks::kafka::KafkaFlags {
            brokers: self.brokers.clone(),
            topic: self.topic.clone(),
            encoding: self.encoding.clone(),
            key: self.key.clone(),
            properties: self.properties.clone(),
            batch_records: self.batch_records,
            batch_age: self.batch_age,
            queue_records: self.queue_records,
        }
    }
}

/// `-o otlp` settings. Each falls back to the standard
/// `OTEL_EXPORTER_OTLP_LOGS_*` / `OTEL_EXPORTER_OTLP_*` variable, then its default.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "OTLP output (-o otlp)")]
pub struct OtlpArgs {
    /// Collector URL (default http://localhost:4318, or :4317 for grpc). For
    /// HTTP, `/v1/logs` is appended when the URL has no path.
    #[arg(long = "otlp-endpoint", value_name = "URL")]
    pub endpoint: Option<String>,
    /// grpc, http/protobuf (default) or http/json.
    #[arg(long = "otlp-protocol", value_name = "PROTOCOL")]
    pub protocol: Option<String>,
    /// A header sent with every request, key=value; repeatable. Its value
    /// is never printed.
    #[arg(long = "otlp-header", value_name = "KEY=VALUE", hide_env_values = true)]
    pub headers: Vec<String>,
    /// gzip (default) or none.
    #[arg(long = "otlp-compression", value_name = "gzip|none")]
    pub compression: Option<String>,
    /// Per-request timeout (default 10s).
    #[arg(long = "otlp-timeout", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,
    /// PEM file of the CA that signed the collector's certificate.
    #[arg(long = "otlp-ca-file", value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate, for mutual TLS (with --otlp-client-key).
    #[arg(long = "otlp-client-cert", value_name = "FILE")]
    pub client_cert: Option<std::path::PathBuf>,
    /// PEM client key, for mutual TLS.
    #[arg(long = "otlp-client-key", value_name = "FILE")]
    pub client_key: Option<std::path::PathBuf>,
    /// For a gRPC endpoint given without a scheme: plaintext instead of TLS.
    #[arg(long = "otlp-insecure")]
    pub insecure: bool,
    /// A batch closes at this many records (default 2048)...
    #[arg(
        id = "otlp-batch-records",
        long = "otlp-batch-records",
        value_name = "N"
    )]
    pub batch_records: Option<usize>,
    /// ...or this many encoded bytes (default 1M)...
    #[arg(long = "otlp-batch-bytes", value_name = "SIZE")]
    pub batch_bytes: Option<String>,
    /// ...or when its oldest record is this old (default 200ms).
    #[arg(id = "otlp-batch-age", long = "otlp-batch-age", value_parser = parse_duration, value_name = "DURATION")]
    pub batch_age: Option<Duration>,
    /// Records waiting to be sent above which new ones are dropped and counted (default 32768).
    #[arg(
        id = "otlp-queue-records",
        long = "otlp-queue-records",
        value_name = "N"
    )]
    pub queue_records: Option<usize>,
    /// Encoded bytes waiting above which new records are dropped and counted (default 32M).
    #[arg(long = "otlp-queue-bytes", value_name = "SIZE")]
    pub queue_bytes: Option<String>,
    /// Requests in flight at once (default 4).
    #[arg(long = "otlp-max-in-flight", value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// How long a failing batch is retried before it is dropped and counted (default 60s).
    #[arg(long = "otlp-retry-max-elapsed", value_parser = parse_duration, value_name = "DURATION")]
    pub retry_max_elapsed: Option<Duration>,
}

impl OtlpArgs {
    pub fn flags(&self) -> crate::sinks::otlp::OtlpFlags {
        crate::sinks::otlp::OtlpFlags {
            endpoint: self.endpoint.clone(),
            protocol: self.protocol.clone(),
            headers: self.headers.clone(),
            compression: self.compression.clone(),
            timeout: self.timeout,
            ca_file: self.ca_file.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            insecure: self.insecure,
            batch_records: self.batch_records,
            batch_bytes: self.batch_bytes.clone(),
            batch_age: self.batch_age,
            queue_records: self.queue_records,
            queue_bytes: self.queue_bytes.clone(),
            max_in_flight: self.max_in_flight,
            retry_max_elapsed: self.retry_max_elapsed,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every event sysotel can emit, by category.
    List,
    /// Work with the configuration file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration (file, environment and flags) without
    /// loading anything, and print the effective configuration.
    Check {
        /// The file to check (default: --config, or SYSOTEL_CONFIG).
        file: Option<std::path::PathBuf>,
        /// Print OTLP header values and librdkafka passwords and secrets
        /// instead of [REDACTED].
        #[arg(long = "show-secrets")]
        show_secrets: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The classic tracer table on stdout.
    Table,
    /// One JSON object per event per line on stdout.
    Json,
    /// OpenTelemetry log records to an OTLP endpoint (see the OTLP options).
    Otlp,
    /// Messages to a Kafka topic (see the Kafka options).
    Kafka,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flattened option groups must not share an argument id: clap would fill
    /// both fields from either flag.
    #[test]
    fn argument_ids_are_unique() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let mut ids: Vec<&str> = cmd.get_arguments().map(|a| a.get_id().as_str()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate argument ids");
        let cli = Cli::try_parse_from(["sysotel", "--kafka-batch-age", "1s"]).unwrap();
        assert_eq!(cli.kafka.batch_age, Some(Duration::from_secs(1)));
        assert_eq!(cli.otlp.batch_age, None);
    }

    #[test]
    fn defaults_and_bad_flags() {
        let cli = Cli::try_parse_from(["sysotel"]).expect("no arguments is valid");
        assert_eq!(cli.outputs, vec![Output::Table]);
        assert!(cli.scope.is_empty());
        let cli = Cli::try_parse_from([
            "sysotel",
            "-o",
            "json",
            "-o",
            "table",
            "--scope",
            "all",
            "--scope",
            "uid=1;comm=x",
        ])
        .expect("valid");
        assert_eq!(cli.outputs, vec![Output::Json, Output::Table]);
        assert_eq!(cli.scope, vec!["all", "uid=1", "comm=x"]);
        let err = Cli::try_parse_from(["sysotel", "-o", "nowhere"]).expect_err("bad output");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--output"), "{err}");
    }
}
