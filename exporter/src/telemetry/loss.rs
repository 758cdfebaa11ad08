//! Loss reports in the event stream: whenever records were lost in the kernel
//! (ring buffer full) or dropped at an output, every output receives a
//! `sysotel.loss` record (WARN) with the interval it covers, the count by event
//! name or by reason, the total so far and, for an output, the sequence
//! numbers it dropped. One report per stage per interval: the reports
//! themselves cannot flood anything.
//!
//! A report goes to the output it is about as well: when that output drops
//! it, the numbers it named are remembered again (see
//! [`crate::sinks::ranges::carried`]) and the next report names them, so the
//! numbers an output delivered and the numbers its delivered reports name
//! account for every sequence number.

use std::sync::Arc;

use exporter_common::events::EventKind;

use crate::{
    base::clock::BootClock,
    event::{Context, Event, Value, catalog},
    kernel::KernelCounts,
    sinks::{SinkCounts, SinkHandle},
};

/// Sequence ranges one report names at most; more wait for the next report.
const RANGES_PER_REPORT: usize = 1000;

/// A report, for every output.
pub struct Report {
    pub event: Event,
}

/// What an output lost: dropped (any reason) or rejected.
fn output_lost(c: &SinkCounts) -> u64 {
    c.dropped() + c.rejected
}

pub struct LossMonitor {
    clock: BootClock,
    /// Kernel losses by event id at the last check.
    kernel: Vec<u64>,
    /// Each output's counters at the last check.
    sinks: Vec<SinkCounts>,
    since_unix_ns: u64,
    me: Context,
}

impl LossMonitor {
    pub fn new(clock: BootClock, sinks: usize) -> LossMonitor {
        let pid = std::process::id();
        LossMonitor {
            clock,
            kernel: vec![0; exporter_common::events::EVENT_ID_LIMIT as usize],
            sinks: vec![SinkCounts::default(); sinks],
            since_unix_ns: BootClock::now_unix_ns(),
            me: Context {
                pid,
                tid: pid,
                vpid: pid,
                comm: "sysotel".into(),
                uts_name: std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().into())
                    .unwrap_or_default(),
                ..Context::default()
            },
        }
    }

    fn report(
        &self,
        now_boot: u64,
        stage: String,
        lost: u64,
        total: u64,
        by: Vec<String>,
        sequences: Vec<String>,
    ) -> Event {
        let values = [
            Value::Str {
                value: stage,
                truncated: false,
            },
            Value::Int(self.since_unix_ns as i64),
            Value::Int(self.clock.unix_ns(now_boot) as i64),
            Value::Int(lost as i64),
            Value::Int(total as i64),
            Value::StrList {
                count: by.len() as u32,
                values: by,
                truncated: false,
            },
            Value::StrList {
                count: sequences.len() as u32,
                values: sequences,
                truncated: false,
            },
        ];
        let mut e = Event::declared(
            EventKind::Loss,
            Context {
                ts_boot_ns: now_boot,
                ..self.me.clone()
            },
            values.into(),
        );
        e.observed_unix_ns = BootClock::now_unix_ns();
        e
    }

    /// Compares the counters with the last check; a report per stage that lost
    /// something (or has dropped sequence numbers still to name).
    pub fn check(&mut self, kernel: &KernelCounts, sinks: &[SinkHandle]) -> Vec<Report> {
        let now_boot = BootClock::now_boot_ns();
        let now = self.clock.unix_ns(now_boot);
        let mut events = Vec::new();

        let mut kernel_now = vec![0u64; self.kernel.len()];
        for (id, n) in &kernel.lost {
            if let Some(slot) = kernel_now.get_mut(*id as usize) {
                *slot = *n;
            }
        }
        let mut by = Vec::new();
        let mut lost = 0;
        for (id, (now_n, before)) in kernel_now.iter().zip(&self.kernel).enumerate() {
            let d = now_n.saturating_sub(*before);
            if d > 0 {
                lost += d;
                by.push(format!("{}={d}", catalog::name(id as u32)));
            }
        }
        if lost > 0 {
            events.push(self.report(
                now_boot,
                "kernel".into(),
                lost,
                kernel.lost_total(),
                by,
                Vec::new(),
            ));
        }
        self.kernel = kernel_now;

        for (i, s) in sinks.iter().enumerate() {
            let now_c = s.stats.counts();
            let before = self.sinks.get(i).copied().unwrap_or_default();
            let d = output_lost(&now_c).saturating_sub(output_lost(&before));
            let sequences = s.stats.take_lost(RANGES_PER_REPORT);
            if d > 0 || !sequences.is_empty() {
                let by = [
                    ("queue_full", now_c.dropped_full - before.dropped_full),
                    (
                        "disk_full",
                        now_c.dropped_disk_full - before.dropped_disk_full,
                    ),
                    ("failed", now_c.dropped_error - before.dropped_error),
                    (
                        "shutdown_timeout",
                        now_c.dropped_shutdown - before.dropped_shutdown,
                    ),
                    ("rejected", now_c.rejected - before.rejected),
                ]
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
                events.push(self.report(
                    now_boot,
                    s.stage(),
                    d,
                    output_lost(&now_c),
                    by,
                    sequences.text(),
                ));
            }
            if let Some(slot) = self.sinks.get_mut(i) {
                *slot = now_c;
            }
        }
        self.since_unix_ns = now;
        events.into_iter().map(|event| Report { event }).collect()
    }
}

/// Hands each report, numbered from `sequence` on, to every output that
/// still takes records.
pub async fn deliver(reports: Vec<Report>, sinks: &[SinkHandle], sequence: &mut u64) {
    for mut r in reports {
        r.event.sequence = *sequence;
        *sequence += 1;
        let batch = Arc::new(vec![r.event]);
        for s in sinks.iter().filter(|s| s.is_open()) {
            s.send(batch.clone()).await;
        }
    }
}
