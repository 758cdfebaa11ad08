//! sysotel's user space, by layer, each using only those listed before it:
//!
//! - [`base`]: the clock, sysotel's own log, units, name matching.
//! - [`event`]: the event model and the catalog of every event.
//! - [`format`]: how values read as text.
//! - [`decode`]: ring-buffer records into events.
//! - [`kernel`]: BTF, offsets, loading the programs, the ring buffer, counters.
//! - [`enrich`]: the exec join and containers.
//! - [`policy`]: the scope and the event filters.
//! - [`otel`]: events as OpenTelemetry log records.
//! - [`sinks`]: the outputs (console, OTLP, Kafka) and their queues.
//! - [`telemetry`]: loss reports, metrics, the reader's counters.
//! - [`config`]: flags, environment and the configuration file.
//! - [`app`]: the plan, the run, the summary, the commands.

pub mod app;
pub mod base;
pub mod config;
pub mod decode;
pub mod enrich;
pub mod event;
pub mod format;
pub mod kernel;
pub mod otel;
pub mod policy;
pub mod sinks;
pub mod telemetry;
