//! sysotel's own messages on stderr, by level (`--log-level`): `info` (the
//! default) prints everything — the ready line, the stats line and the final
//! summary; `warn` only warnings and errors; `error` only errors. Events never
//! go through here, and neither do usage errors (always printed, exit 2).
//! Every line is scrubbed of secrets ([`super::secret::scrub`]).

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

pub fn set(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line to stderr, scrubbed of secrets.
pub fn line(args: std::fmt::Arguments) {
    let text = args.to_string();
    eprintln!("{}", super::secret::scrub(&text));
}

/// An error: printed at every level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => {
        $crate::base::log::line(format_args!($($arg)*))
    };
}

/// A warning: something was lost, failed or refused, and sysotel goes on.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {
        if $crate::base::log::enabled($crate::base::log::Level::Warn) {
            $crate::base::log::line(format_args!($($arg)*));
        }
    };
}

/// Progress and reports: the ready line, the stats line, the summary.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        if $crate::base::log::enabled($crate::base::log::Level::Info) {
            $crate::base::log::line(format_args!($($arg)*));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_nest() {
        set(Level::Warn);
        assert!(enabled(Level::Error) && enabled(Level::Warn) && !enabled(Level::Info));
        set(Level::Info);
        assert!(enabled(Level::Info));
    }
}
