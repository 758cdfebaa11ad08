//! Event -> OpenTelemetry log record, and batches of them as
//! `ExportLogsServiceRequest` (opentelemetry-proto / prost): the same bytes
//! serve OTLP/gRPC, OTLP/HTTP and Kafka.

pub mod attributes;
pub mod json;
pub mod record;
pub mod resource;
pub mod wire;

pub use record::{LogMapper, request};
pub use resource::{Resource, ResourceError};

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod golden;
