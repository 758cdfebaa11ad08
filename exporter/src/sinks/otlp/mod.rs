//! The OTLP sink: log records to an OpenTelemetry Collector, Loki's OTLP
//! endpoint or anything that speaks OTLP/gRPC or OTLP/HTTP (protobuf or JSON).

pub mod config;
pub mod sink;
pub mod transport;

pub use config::{OtlpConfig, OtlpFlags, Protocol};
pub use sink::{NAME, spawn};
