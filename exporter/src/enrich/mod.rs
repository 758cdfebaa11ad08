//! What user space adds to an event after decoding: the kernel's own view of
//! an exec joined into its syscall, and the container a process runs in.

pub mod containers;
pub mod exec;

pub use containers::Containers;
pub use exec::ExecJoin;
