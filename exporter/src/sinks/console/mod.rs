//! The console sink: the classic tracer table or one JSON object per line, on stdout.

pub mod config;
pub mod encode;
pub mod sink;

pub use config::{ConsoleConfig, ConsoleFormat};
pub use sink::spawn;
