//! A socket address as text: `127.0.0.1:5432`, `[::1]:443`, `/run/x.sock`,
//! `@abstract`, other families as name and hex bytes.

use super::flags;
use crate::event::SockAddr;

/// `127.0.0.1:5432`, `[::1]:443`, `/run/x.sock`, `@abstract`,
/// `AF_NETLINK 0000…`.
pub fn text(a: &SockAddr) -> String {
    match a {
        SockAddr::Ip { addr, port } => std::net::SocketAddr::new(*addr, *port).to_string(),
        SockAddr::Unix { path, abstract_ } => {
            if *abstract_ {
                format!("@{path}")
            } else {
                path.clone()
            }
        }
        SockAddr::UnixUnnamed => "(unnamed)".to_string(),
        SockAddr::Other { family, bytes } => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{} {hex}", flags::socket_domain(*family as i64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(port: u16, ip: [u8; 4]) -> Vec<u8> {
        let mut b = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        b.extend_from_slice(&port.to_be_bytes());
        b.extend_from_slice(&ip);
        b.extend_from_slice(&[0; 8]);
        b
    }

    #[test]
    fn families() {
        assert_eq!(
            SockAddr::parse(&inet(5432, [127, 0, 0, 1]))
                .map(|a| text(&a))
                .as_deref(),
            Some("127.0.0.1:5432")
        );
        let mut v6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v6.extend_from_slice(&443u16.to_be_bytes());
        v6.extend_from_slice(&[0; 4]);
        let mut a = [0u8; 16];
        a[15] = 1;
        v6.extend_from_slice(&a);
        v6.extend_from_slice(&[0; 4]);
        assert_eq!(
            SockAddr::parse(&v6).map(|a| text(&a)).as_deref(),
            Some("[::1]:443")
        );
        let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/x.sock\0\0\0");
        assert_eq!(
            SockAddr::parse(&unix).map(|a| text(&a)).as_deref(),
            Some("/run/x.sock")
        );
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0name");
        assert_eq!(
            SockAddr::parse(&abs).map(|a| text(&a)).as_deref(),
            Some("@name")
        );
        let nl = [16u8, 0, 0, 0, 1, 2];
        assert_eq!(
            SockAddr::parse(&nl).map(|a| text(&a)).as_deref(),
            Some("AF_NETLINK 00000102")
        );
        assert_eq!(SockAddr::parse(&[2]), None);
        // A short AF_INET is shown raw, not misread.
        assert!(matches!(
            SockAddr::parse(&[2, 0, 1]),
            Some(SockAddr::Other { .. })
        ));
    }
}
