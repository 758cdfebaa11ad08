//! sysotel's kernel side: raw tracepoints on the syscall entry/exit and on the
//! process life cycle, writing [`exporter_common::records`] into one ring buffer.
//!
//! Entry points are thin (`match try_x(ctx) { Ok(r) | Err(r) => r }`); each hook
//! lives in its own file under `probes/`.
#![no_std]
#![no_main]

mod context;
mod emit;
mod globals;
mod kernel;
mod lsm_hook;
mod maps;
mod path;
mod probes;
mod scope;
mod syscall;
mod user;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any program that could reach this; it exists so the
    // crate links.
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
