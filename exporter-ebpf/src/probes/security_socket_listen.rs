//! LSM `socket_listen`: `int security_socket_listen(struct socket *sock,
//! int backlog)` (security/security.c); the address is the socket's local
//! one (IPv4 and IPv6).

use exporter_common::events::EventKind;

use crate::lsm_hook::{HookArgs, begin, local_addr, lsm_programs, send, socket};

lsm_programs!(
    lsm_socket_listen,
    fentry_socket_listen,
    "socket_listen",
    "security_socket_listen",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::SocketListen;
    let Some(buf) = begin(e) else { return };
    let sk = socket(ctx.ptr(0), &mut buf.rec.data.ints);
    buf.rec.data.ints[3] = ctx.int(1) as u32 as i32 as i64 as u64;
    local_addr(sk, buf);
    send(e, buf);
}
