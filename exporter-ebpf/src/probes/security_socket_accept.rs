//! LSM `socket_accept`: `int security_socket_accept(struct socket *sock,
//! struct socket *newsock)` (security/security.c), before a connection is
//! taken from `sock`'s queue: the address is the listening socket's local
//! one (IPv4 and IPv6); the peer is not known yet.

use exporter_common::events::EventKind;

use crate::lsm_hook::{HookArgs, begin, local_addr, lsm_programs, send, socket};

lsm_programs!(
    lsm_socket_accept,
    fentry_socket_accept,
    "socket_accept",
    "security_socket_accept",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::SocketAccept;
    let Some(buf) = begin(e) else { return };
    let sk = socket(ctx.ptr(0), &mut buf.rec.data.ints);
    local_addr(sk, buf);
    send(e, buf);
}
