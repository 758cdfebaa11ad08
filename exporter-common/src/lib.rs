//! Plain data shared by the eBPF programs and user space.
//!
//! Everything here is `#[repr(C)]`, `Copy`, explicitly padded and size-checked at
//! compile time, so both sides agree on every byte. The `user` feature adds the
//! `aya::Pod` impls user space needs; the eBPF build never sees aya.
#![no_std]

pub mod config;
pub mod events;
pub mod offsets;
pub mod records;
pub mod scope;
pub mod syscalls;

pub use events::EventId;
