//! The kernel side, from user space: the running kernel's BTF and the struct
//! offsets read from it, loading and attaching the eBPF programs, the host
//! facts they are given, the ring buffer they write to and the counters they
//! keep.

pub mod btf;
pub mod counters;
pub mod host;
pub mod loader;
pub mod object;
pub mod offsets;
pub mod ring;

pub use counters::KernelCounts;
