//! LSM `socket_bind`: `int security_socket_bind(struct socket *sock, struct
//! sockaddr *address, int addrlen)` (security/security.c): the address is
//! the kernel's copy of the caller's.

use exporter_common::events::EventKind;

use crate::lsm_hook::{HookArgs, begin, copy_addr, lsm_programs, send, socket};

lsm_programs!(
    lsm_socket_bind,
    fentry_socket_bind,
    "socket_bind",
    "security_socket_bind",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::SocketBind;
    let Some(buf) = begin(e) else { return };
    socket(ctx.ptr(0), &mut buf.rec.data.ints);
    copy_addr(ctx.ptr(1), ctx.int(2), buf);
    send(e, buf);
}
