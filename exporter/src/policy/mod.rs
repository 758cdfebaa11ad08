//! Which processes and which events: the scope (mostly decided in the
//! kernel) and the event filters (decided in user space, on values).

pub mod filter;
pub mod scope;

pub use filter::Filters;
pub use scope::{LiveHost, Scope};
