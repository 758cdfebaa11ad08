//! How argument values of each semantic kind read: symbolic flags and enums,
//! socket addresses. Pure functions, shared by every output.

pub mod flags;
pub mod sockaddr;
