//! Boot-time nanoseconds (what the kernel stamps) to wall-clock time.

fn now(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; both clocks exist on every supported kernel.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

/// `CLOCK_REALTIME - CLOCK_BOOTTIME`, measured once: add it to a boot-time stamp
/// to get Unix nanoseconds. (A wall-clock step after start-up is not followed;
/// the kernel offers no atomic pair of both clocks to do better.)
#[derive(Clone, Copy, Debug)]
pub struct BootClock {
    offset_ns: i128,
}

impl BootClock {
    pub fn new() -> BootClock {
        BootClock {
            offset_ns: now(libc::CLOCK_REALTIME) - now(libc::CLOCK_BOOTTIME),
        }
    }

    /// A clock with a given offset (for tests and replay).
    pub fn with_offset(offset_ns: i128) -> BootClock {
        BootClock { offset_ns }
    }

    pub fn unix_ns(&self, boot_ns: u64) -> u64 {
        (boot_ns as i128 + self.offset_ns).clamp(0, u64::MAX as i128) as u64
    }

    /// Boot-time nanoseconds now (the kernel's clock for records).
    pub fn now_boot_ns() -> u64 {
        now(libc::CLOCK_BOOTTIME).clamp(0, u64::MAX as i128) as u64
    }

    /// Unix nanoseconds now (the observed time of a record).
    pub fn now_unix_ns() -> u64 {
        now(libc::CLOCK_REALTIME).clamp(0, u64::MAX as i128) as u64
    }
}

impl Default for BootClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Unix nanoseconds as RFC 3339 UTC with nanoseconds:
/// `2026-11-28T21:48:06.123456789Z`.
pub fn rfc3339_ns(unix_ns: u64, out: &mut String) {
    let secs = unix_ns / 1_000_000_000;
    let nanos = unix_ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    use super::text::push_digits;
    // Years before 0 or past 9999 are not timestamps sysotel meets.
    push_digits(out, year.clamp(0, 9999) as u64, 4);
    out.push('-');
    push_digits(out, month as u64, 2);
    out.push('-');
    push_digits(out, day as u64, 2);
    out.push('T');
    push_digits(out, rem / 3600, 2);
    out.push(':');
    push_digits(out, rem / 60 % 60, 2);
    out.push(':');
    push_digits(out, rem % 60, 2);
    out.push('.');
    push_digits(out, nanos, 9);
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        let f = |ns| {
            let mut s = String::new();
            rfc3339_ns(ns, &mut s);
            s
        };
        assert_eq!(f(0), "1970-01-01T00:00:00.000000000Z");
        // date -u -d @1795902486 +%FT%T => 2026-11-28T21:48:06
        assert_eq!(
            f(1_795_902_486_123_456_789),
            "2026-11-28T21:48:06.123456789Z"
        );
        // 2024-02-29T23:59:59Z (leap day) and 2000-03-01T00:00:00Z.
        assert_eq!(
            f(1_709_251_199_000_000_001),
            "2024-02-29T23:59:59.000000001Z"
        );
        assert_eq!(f(951_868_800_000_000_000), "2000-03-01T00:00:00.000000000Z");
    }

    #[test]
    fn boot_now_maps_to_wall_now() {
        let c = BootClock::new();
        let boot = now(libc::CLOCK_BOOTTIME) as u64;
        let wall = BootClock::now_unix_ns();
        let diff = c.unix_ns(boot).abs_diff(wall);
        assert!(
            diff < 1_000_000_000,
            "boot->unix conversion off by {diff} ns"
        );
    }
}
