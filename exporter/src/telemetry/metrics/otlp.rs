//! `--metrics-otlp-endpoint URL`: the snapshot's counters as OpenTelemetry
//! metrics, with the OpenTelemetry metrics SDK and its OTLP/HTTP exporter.
//! Observable instruments read the shared snapshot each time the SDK's
//! periodic reader collects (every `OTEL_METRIC_EXPORT_INTERVAL`, default
//! 60s, or `--metrics-interval`); a final collection runs at shutdown.

use std::time::Duration;

use opentelemetry::{KeyValue, metrics::MeterProvider as _};
use opentelemetry_otlp::{MetricExporter, Protocol, WithExportConfig as _};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use super::{Shared, read};
use crate::otel::Resource;
use crate::sinks::SinkCounts;

/// The running metrics pipeline; `shutdown` exports once more and stops it.
pub struct OtlpMetrics {
    provider: SdkMeterProvider,
}

/// Starts the pipeline. `interval`: None leaves it to `OTEL_METRIC_EXPORT_INTERVAL`.
pub fn start(
    endpoint: &str,
    interval: Option<Duration>,
    resource: &Resource,
    shared: Shared,
) -> Result<OtlpMetrics, String> {
    let exporter = MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("--metrics-otlp-endpoint {endpoint}: {e}"))?;
    let mut reader = PeriodicReader::builder(exporter);
    if let Some(i) = interval {
        reader = reader.with_interval(i);
    }
    let sdk_resource = opentelemetry_sdk::Resource::builder_empty()
        .with_attributes(
            resource
                .attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build();
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.build())
        .with_resource(sdk_resource)
        .build();
    register(&provider, shared);
    Ok(OtlpMetrics { provider })
}

impl OtlpMetrics {
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            crate::warn!("sysotel: exporting the last metrics failed: {e}");
        }
    }
}

fn output_kv(name: &str) -> KeyValue {
    KeyValue::new("sysotel.output", name.to_string())
}

fn register(provider: &SdkMeterProvider, shared: Shared) {
    let meter = provider.meter("sysotel");
    let s = shared.clone();
    meter
        .u64_observable_counter("sysotel.events.received")
        .with_description("Events read from the kernel and passed to the outputs, by event")
        .with_callback(move |o| {
            for (name, n) in &read(&s).received {
                o.observe(*n, &[KeyValue::new("sysotel.event.name", *name)]);
            }
        })
        .build();
    let s = shared.clone();
    meter
        .u64_observable_counter("sysotel.events.lost")
        .with_description("Records lost in the kernel because the ring buffer was full, by event")
        .with_callback(move |o| {
            for (name, n) in &read(&s).lost {
                o.observe(*n, &[KeyValue::new("sysotel.event.name", *name)]);
            }
        })
        .build();
    let s = shared.clone();
    meter
        .u64_observable_counter("sysotel.decode.errors")
        .with_description("Records that failed to decode")
        .with_callback(move |o| o.observe(read(&s).decode_errors, &[]))
        .build();
    let s = shared.clone();
    meter
        .u64_observable_counter("sysotel.events.filtered")
        .with_description("Events left out in user space (exe scope terms and --filter)")
        .with_callback(move |o| o.observe(read(&s).filtered, &[]))
        .build();
    type Get = fn(&SinkCounts) -> u64;
    let counters: [(&'static str, &'static str, Get); 4] = [
        (
            "sysotel.output.produced",
            "Records handed to the output",
            |o| o.produced,
        ),
        (
            "sysotel.output.exported",
            "Records the output wrote or delivered",
            |o| o.exported,
        ),
        (
            "sysotel.output.rejected",
            "Records the receiver refused for good",
            |o| o.rejected,
        ),
        ("sysotel.output.retries", "Requests retried", |o| o.retries),
    ];
    for (name, description, get) in counters {
        let s = shared.clone();
        meter
            .u64_observable_counter(name)
            .with_description(description)
            .with_callback(move |o| {
                for out in &read(&s).outputs {
                    o.observe(get(&out.counts), &[output_kv(&out.name)]);
                }
            })
            .build();
    }
    let s = shared.clone();
    meter
        .u64_observable_counter("sysotel.output.dropped")
        .with_description("Records dropped by an output, by reason")
        .with_callback(move |o| {
            for out in &read(&s).outputs {
                for (reason, n) in out.counts.dropped_by_reason() {
                    o.observe(
                        n,
                        &[
                            output_kv(&out.name),
                            KeyValue::new("sysotel.reason", reason),
                        ],
                    );
                }
            }
        })
        .build();
    let s = shared.clone();
    meter
        .u64_observable_counter("sysotel.output.batches")
        .with_description("Batches (requests, messages) a batching output finished")
        .with_callback(move |o| {
            for out in read(&s).outputs.iter().filter(|o| o.counts.batches > 0) {
                o.observe(out.counts.batches, &[output_kv(&out.name)]);
            }
        })
        .build();
    let s = shared.clone();
    meter
        .f64_observable_counter("sysotel.output.batch.latency")
        .with_unit("s")
        .with_description("Summed batch latency (otlp: first record to response; kafka: hand-off to delivery report)")
        .with_callback(move |o| {
            for out in read(&s).outputs.iter().filter(|o| o.counts.batches > 0) {
                o.observe(
                    out.counts.batch_latency_ns as f64 / 1e9,
                    &[output_kv(&out.name)],
                );
            }
        })
        .build();
    let s = shared.clone();
    meter
        .u64_observable_gauge("sysotel.output.queued")
        .with_description("Records handed to the output and not yet finished")
        .with_callback(move |o| {
            for out in &read(&s).outputs {
                o.observe(out.counts.queued, &[output_kv(&out.name)]);
            }
        })
        .build();
    let s = shared.clone();
    meter
        .u64_observable_gauge("sysotel.ring_buffer.used")
        .with_unit("By")
        .with_description("Bytes in the kernel ring buffer not read yet")
        .with_callback(move |o| o.observe(read(&s).ring_used_bytes, &[]))
        .build();
    let s = shared.clone();
    meter
        .u64_observable_gauge("sysotel.ring_buffer.size")
        .with_unit("By")
        .with_description("Size of the kernel ring buffer")
        .with_callback(move |o| o.observe(read(&s).ring_size_bytes, &[]))
        .build();
    let s = shared.clone();
    meter
        .u64_observable_gauge("sysotel.programs.attached")
        .with_description("eBPF programs attached")
        .with_callback(move |o| o.observe(read(&s).programs_attached as u64, &[]))
        .build();
    let s = shared.clone();
    meter
        .f64_observable_counter("process.cpu.time")
        .with_unit("s")
        .with_description("CPU time of sysotel (user + system)")
        .with_callback(move |o| o.observe(read(&s).cpu_seconds, &[]))
        .build();
    let s = shared;
    meter
        .u64_observable_gauge("process.memory.usage")
        .with_unit("By")
        .with_description("Resident memory of sysotel")
        .with_callback(move |o| o.observe(read(&s).rss_bytes, &[]))
        .build();
}
