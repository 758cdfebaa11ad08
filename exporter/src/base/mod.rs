//! What every layer shares and nothing in sysotel is below: the boot clock,
//! sysotel's own log on stderr, the service manager's notifications, the
//! secrets it never prints, units of size and time, name matching, and
//! numbers and JSON strings written fast.

pub mod clock;
pub mod log;
pub mod notify;
pub mod secret;
pub mod text;
pub mod units;
pub mod words;
