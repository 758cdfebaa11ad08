//! What user space adds to an event after decoding: the kernel's own view of
//! an exec joined into its syscall, the container a process runs in, what
//! its runtime says of it, and user names.

pub mod containers;
pub mod exec;
pub mod runtime;
pub mod users;

pub use containers::Containers;
pub use exec::ExecJoin;
pub use runtime::{Metadata, RuntimeSocket};
pub use users::Users;
