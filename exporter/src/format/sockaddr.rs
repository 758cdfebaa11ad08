//! `struct sockaddr` bytes -> a readable address.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A decoded socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// AF_INET / AF_INET6: address and port.
    Ip { addr: std::net::IpAddr, port: u16 },
    /// AF_UNIX with a path; `abstract_` when the name lives in the abstract
    /// namespace (first byte NUL), shown with a leading `@`.
    Unix { path: String, abstract_: bool },
    /// AF_UNIX with no name (an unbound socket).
    UnixUnnamed,
    /// Any other family: its number and the raw bytes after it.
    Other { family: u16, bytes: Vec<u8> },
}

impl SockAddr {
    /// Decodes the bytes the kernel read; `None` when there are fewer than the
    /// two bytes of `sa_family`.
    pub fn parse(b: &[u8]) -> Option<SockAddr> {
        let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
        let port = || b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
        Some(match family as i32 {
            libc::AF_INET if b.len() >= 8 => SockAddr::Ip {
                addr: Ipv4Addr::new(b[4], b[5], b[6], b[7]).into(),
                port: port()?,
            },
            libc::AF_INET6 if b.len() >= 24 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&b[8..24]);
                SockAddr::Ip {
                    addr: Ipv6Addr::from(a).into(),
                    port: port()?,
                }
            }
            libc::AF_UNIX => {
                let path = &b[2..];
                match path.first() {
                    None => SockAddr::UnixUnnamed,
                    Some(0) => SockAddr::Unix {
                        // Abstract names are length-delimited; NULs are part of them.
                        path: crate::event::text(&path[1..]),
                        abstract_: true,
                    },
                    Some(_) => SockAddr::Unix {
                        path: crate::event::c_text(path),
                        abstract_: false,
                    },
                }
            }
            _ => SockAddr::Other {
                family,
                bytes: b[2..].to_vec(),
            },
        })
    }

    /// `127.0.0.1:5432`, `[::1]:443`, `/run/x.sock`, `@abstract`,
    /// `AF_NETLINK 0000…`.
    pub fn text(&self) -> String {
        match self {
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
                format!("{} {hex}", super::flags::socket_domain(*family as i64))
            }
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
                .map(|a| a.text())
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
            SockAddr::parse(&v6).map(|a| a.text()).as_deref(),
            Some("[::1]:443")
        );
        let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/x.sock\0\0\0");
        assert_eq!(
            SockAddr::parse(&unix).map(|a| a.text()).as_deref(),
            Some("/run/x.sock")
        );
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0name");
        assert_eq!(
            SockAddr::parse(&abs).map(|a| a.text()).as_deref(),
            Some("@name")
        );
        let nl = [16u8, 0, 0, 0, 1, 2];
        assert_eq!(
            SockAddr::parse(&nl).map(|a| a.text()).as_deref(),
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
