//! How values read as text, for every output: symbolic names of flags and
//! enums, and the one rendering of an event's arguments and call line that
//! the table, the OTLP body and the ECS message share.

pub mod args;
pub mod flags;
pub mod sockaddr;
