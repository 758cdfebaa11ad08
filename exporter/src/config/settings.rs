//! Every setting the configuration file can hold, and the flag it stands for.

/// One file setting: its section (`""` for the top level), its key, the flag
/// it stands for, and the standard variables that override it.
pub struct Setting {
    pub section: &'static str,
    pub key: &'static str,
    pub flag: &'static str,
    pub otel: &'static [&'static str],
}

const fn s(section: &'static str, key: &'static str, flag: &'static str) -> Setting {
    Setting {
        section,
        key,
        flag,
        otel: &[],
    }
}

const fn o(key: &'static str, flag: &'static str, otel: &'static [&'static str]) -> Setting {
    Setting {
        section: "otlp",
        key,
        flag,
        otel,
    }
}

/// Every setting the file can hold. `[scope]` is a table of its own (see
/// [`scope_terms`]).
pub const SETTINGS: &[Setting] = &[
    s("", "output", "output"),
    s("", "events", "events"),
    s("", "filters", "filter"),
    s("", "ring_buffer_size", "ring-buffer-size"),
    s("", "btf", "btf"),
    s("", "bpf_stats", "bpf-stats"),
    s("", "loss_interval", "loss-interval"),
    s("", "stats_interval", "stats-interval"),
    s("", "shutdown_timeout", "shutdown-timeout"),
    s("", "queue_dir", "queue-dir"),
    s("", "queue_max_bytes", "queue-max-bytes"),
    s("", "queue_sync", "queue-sync"),
    s("", "log_level", "log-level"),
    s("", "container_runtimes", "container-runtime"),
    o(
        "endpoint",
        "otlp-endpoint",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ],
    ),
    o(
        "protocol",
        "otlp-protocol",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ],
    ),
    o(
        "headers",
        "otlp-header",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ],
    ),
    o(
        "compression",
        "otlp-compression",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ],
    ),
    o(
        "timeout",
        "otlp-timeout",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ],
    ),
    o(
        "ca_file",
        "otlp-ca-file",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        ],
    ),
    o(
        "client_cert",
        "otlp-client-cert",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        ],
    ),
    o(
        "client_key",
        "otlp-client-key",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        ],
    ),
    o(
        "insecure",
        "otlp-insecure",
        &[
            "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
            "OTEL_EXPORTER_OTLP_INSECURE",
        ],
    ),
    o("batch_records", "otlp-batch-records", &[]),
    o("batch_bytes", "otlp-batch-bytes", &[]),
    o("batch_age", "otlp-batch-age", &[]),
    o("queue_records", "otlp-queue-records", &[]),
    o("queue_bytes", "otlp-queue-bytes", &[]),
    o("max_in_flight", "otlp-max-in-flight", &[]),
    o("retry_max_elapsed", "otlp-retry-max-elapsed", &[]),
    s("kafka", "brokers", "kafka-brokers"),
    s("kafka", "topic", "kafka-topic"),
    s("kafka", "encoding", "kafka-encoding"),
    s("kafka", "key", "kafka-key"),
    s("kafka", "properties", "kafka-property"),
    s("kafka", "batch_records", "kafka-batch-records"),
    s("kafka", "batch_age", "kafka-batch-age"),
    s("kafka", "queue_records", "kafka-queue-records"),
    s("metrics", "listen", "metrics-listen"),
    s("metrics", "otlp_endpoint", "metrics-otlp-endpoint"),
    Setting {
        section: "metrics",
        key: "interval",
        flag: "metrics-interval",
        otel: &["OTEL_METRIC_EXPORT_INTERVAL"],
    },
];

/// The sections of the file.
pub const SECTIONS: &[&str] = &["scope", "otlp", "kafka", "metrics"];
