//! LSM `socket_connect`: `int security_socket_connect(struct socket *sock, struct
//! sockaddr *address, int addrlen)` (security/security.c): the address is
//! the kernel's copy of the caller's.

use exporter_common::events::EventKind;

use crate::lsm_hook::{HookArgs, begin, copy_addr, lsm_programs, send, socket};

lsm_programs!(
    lsm_socket_connect,
    fentry_socket_connect,
    "socket_connect",
    "security_socket_connect",
    record
);

#[inline(always)]
fn record<C: HookArgs>(ctx: &C) {
    let e = EventKind::SocketConnect;
    let Some(buf) = begin(e) else { return };
    socket(ctx.ptr(0), &mut buf.rec.data.ints);
    copy_addr(ctx.ptr(1), ctx.int(2), buf);
    send(e, buf);
}
