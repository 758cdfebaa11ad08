//! sysotel's user space: loads the eBPF programs, reads their records, decodes
//! them into [`event::Event`]s and ships them to the sinks.

pub mod app;
pub mod btf;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod decode;
pub mod enrich;
pub mod errno;
pub mod event;
pub mod filter;
pub mod format;
pub mod loader;
pub mod log;
pub mod loss;
pub mod metrics;
pub mod offsets;
pub mod otel;
pub mod reader;
pub mod scope;
pub mod select;
pub mod sinks;
