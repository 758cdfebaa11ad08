//! The Kafka sink: OTLP batches for collectors (`otlp_proto`, `otlp_json`),
//! one document per event for SIEMs (`json`, `ecs`), every message's delivery
//! report counted.

pub mod config;
pub mod encode;
pub mod sink;

pub use config::{Encoding, KafkaConfig, KafkaFlags, MessageKey};
pub use sink::{NAME, StartError, spawn};
