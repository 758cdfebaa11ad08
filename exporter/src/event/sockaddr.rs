//! `struct sockaddr` bytes -> a socket address (rendered by `format::sockaddr`).

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
                        path: crate::event::text::text(&path[1..]),
                        abstract_: true,
                    },
                    Some(_) => SockAddr::Unix {
                        path: crate::event::text::c_text(path),
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
}
