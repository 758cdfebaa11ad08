//! Telling the service manager how the run goes (`sd_notify`): `READY=1` once
//! every program is attached, `STOPPING=1` when the flush begins. The unit of
//! the package is `Type=notify`, so `systemctl start` returns when sysotel
//! traces, not when the process exists. Without `NOTIFY_SOCKET` (not run by a
//! service manager) nothing is sent.

use std::{io, os::unix::net::UnixDatagram};

/// Sends `state` to the socket `NOTIFY_SOCKET` names: a path, or an abstract
/// socket written `@name`.
pub fn send_to(socket: &str, state: &str) -> io::Result<()> {
    let addr = if let Some(name) = socket.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?
    } else if socket.starts_with('/') {
        std::os::unix::net::SocketAddr::from_pathname(socket)?
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "neither a path nor an abstract socket (@name)",
        ));
    };
    // One datagram: sent whole or not at all.
    UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// Sends `state` to the service manager if there is one; a failure is a
/// warning (the run goes on: readiness is the manager's concern, events are
/// ours).
pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let socket = socket.to_string_lossy();
    if let Err(e) = send_to(&socket, state) {
        crate::warn!(
            "sysotel: telling the service manager (NOTIFY_SOCKET={socket}) {:?} failed: {e}",
            state.lines().next().unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_to_a_path() {
        let dir = std::env::temp_dir().join(format!("sysotel-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        send_to(path.to_str().unwrap(), "READY=1\nSTATUS=tracing").unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=tracing");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("sysotel-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        send_to(&format!("@{name}"), "STOPPING=1").unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }

    #[test]
    fn a_socket_that_is_neither_is_an_error_not_a_panic() {
        let e = send_to("relative/path", "READY=1").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = send_to("/nonexistent/sysotel/notify.sock", "READY=1").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
