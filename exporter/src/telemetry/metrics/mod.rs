//! sysotel's own metrics: one snapshot of every counter, refreshed by the
//! reader's periodic check, read by the Prometheus endpoint
//! (`--metrics-listen`) and by the OpenTelemetry metrics SDK
//! (`--metrics-otlp-endpoint`). The final summary reads the same counters.

pub mod otlp;
pub mod prometheus;

use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::{
    event::catalog,
    kernel::KernelCounts,
    sinks::{SinkCounts, SinkHandle},
    telemetry::stats::ReaderStats,
};

/// One output's counters and health.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputSnapshot {
    pub name: String,
    pub counts: SinkCounts,
    pub failed: bool,
    /// Deliveries have failed for good since the last one that succeeded.
    pub failing: bool,
}

impl OutputSnapshot {
    pub fn of(s: &SinkHandle) -> OutputSnapshot {
        OutputSnapshot {
            name: s.name.clone(),
            counts: s.stats.counts(),
            failed: s.failed(),
            failing: false,
        }
    }
}

/// Failing from a delivery that failed for good (its retry budget spent)
/// until one succeeds again.
fn failing(now: &OutputSnapshot, before: Option<&OutputSnapshot>) -> bool {
    match before {
        Some(b) if now.counts.exported > b.counts.exported => false,
        Some(b) if now.counts.dropped_error > b.counts.dropped_error => true,
        Some(b) => b.failing,
        None => false,
    }
}

/// Every counter at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Events passed to the outputs, by event name (non-zero only).
    pub received: Vec<(&'static str, u64)>,
    /// Records lost in the kernel (ring buffer full), by event name.
    pub lost: Vec<(&'static str, u64)>,
    pub decode_errors: u64,
    /// Events left out in user space (`exe` scope terms, `--filter`).
    pub filtered: u64,
    pub outputs: Vec<OutputSnapshot>,
    pub programs_attached: usize,
    /// Bytes in the kernel ring buffer not read yet, and its size.
    pub ring_used_bytes: u64,
    pub ring_size_bytes: u64,
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// Why sysotel is not healthy (programs attached and every output
    /// delivering or still retrying), when it is not.
    pub unhealthy_reason: Option<String>,
}

fn name_of(id: u32) -> &'static str {
    catalog::name(id)
}

/// CPU seconds (user + system) and resident bytes of this process.
pub fn process_usage() -> (f64, u64) {
    let ticks = {
        // SAFETY: sysconf has no memory effects.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t > 0 { t as f64 } else { 100.0 }
    };
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(0.0);
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    (cpu, rss)
}

impl Snapshot {
    /// Takes a snapshot; `previous` decides health: an output is unhealthy
    /// once it has failed, or from a delivery that failed for good (retry
    /// budget spent) until one succeeds again.
    pub fn take(
        stats: &ReaderStats,
        kernel: &KernelCounts,
        sinks: &[SinkHandle],
        programs_attached: usize,
        ring_size_bytes: u64,
        previous: &Snapshot,
    ) -> Snapshot {
        let received = stats
            .top_events(usize::MAX)
            .into_iter()
            .map(|(id, n)| (name_of(id), n))
            .collect();
        let lost = kernel
            .lost
            .iter()
            .map(|(id, n)| (name_of(*id), *n))
            .collect();
        let mut outputs: Vec<OutputSnapshot> = sinks.iter().map(OutputSnapshot::of).collect();
        let mut unhealthy_reason = (programs_attached == 0).then(|| "no program attached".into());
        for o in &mut outputs {
            let before = previous.outputs.iter().find(|p| p.name == o.name);
            o.failing = failing(o, before);
            if o.failed {
                unhealthy_reason = Some(format!("output {} has failed", o.name));
            } else if o.failing {
                unhealthy_reason = Some(format!(
                    "output {}: deliveries fail and none has succeeded since",
                    o.name
                ));
            }
        }
        let (cpu_seconds, rss_bytes) = process_usage();
        Snapshot {
            received,
            lost,
            decode_errors: stats.decode_errors,
            filtered: stats.filtered,
            outputs,
            programs_attached,
            ring_used_bytes: stats.ring_used.unwrap_or(0),
            ring_size_bytes,
            cpu_seconds,
            rss_bytes,
            unhealthy_reason,
        }
    }

    pub fn healthy(&self) -> bool {
        self.unhealthy_reason.is_none()
    }
}

/// The snapshot shared by the endpoints; written by the reader's periodic check.
pub type Shared = Arc<RwLock<Snapshot>>;

pub fn read(shared: &Shared) -> RwLockReadGuard<'_, Snapshot> {
    shared.read().unwrap_or_else(|p| p.into_inner())
}

/// Replaces the snapshot with `next(previous)`.
pub fn update(shared: &Shared, next: impl FnOnce(&Snapshot) -> Snapshot) {
    let mut s = shared.write().unwrap_or_else(|p| p.into_inner());
    *s = next(&s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(exported: u64, dropped_error: u64, failing: bool) -> OutputSnapshot {
        OutputSnapshot {
            name: "otlp".into(),
            counts: SinkCounts {
                exported,
                dropped_error,
                ..Default::default()
            },
            failing,
            ..Default::default()
        }
    }

    #[test]
    fn failing_until_a_delivery_succeeds() {
        let healthy = out(10, 0, false);
        assert!(
            failing(&out(10, 5, false), Some(&healthy)),
            "a failed delivery"
        );
        let down = out(10, 5, true);
        assert!(
            failing(&out(10, 5, false), Some(&down)),
            "no news keeps it failing"
        );
        assert!(
            !failing(&out(11, 6, false), Some(&down)),
            "a success clears it"
        );
        assert!(!failing(&out(10, 0, false), Some(&healthy)));
        assert!(!failing(&out(0, 3, false), None), "the first snapshot");
    }
}
