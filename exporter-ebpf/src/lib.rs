//! Empty library target: it lets `exporter` depend on this crate at build time,
//! so cargo rebuilds the eBPF object when its sources change.
#![no_std]
