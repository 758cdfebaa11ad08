//! What user space adds to an event after decoding: the kernel's own view of
//! an exec joined into its syscall, the container a process runs in, and what
//! its runtime says of it.

pub mod containers;
pub mod exec;
pub mod runtime;

pub use containers::Containers;
pub use exec::ExecJoin;
pub use runtime::{Metadata, RuntimeSocket};
