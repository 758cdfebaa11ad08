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

#[cfg(test)]
mod tests {
    use super::*;

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
