//! Loss reports in the event stream: whenever records were lost in the kernel
//! (ring buffer full) or dropped at an output, every healthy output receives a
//! `sysotel.loss` record (WARN) with the interval it covers, the count by event
//! name or by reason, and the total so far. One report per stage per interval:
//! the reports themselves cannot flood anything.

use std::sync::Arc;

use exporter_common::events::EventKind;

use crate::{
    base::clock::BootClock,
    event::{Context, Event, Value, catalog},
    kernel::KernelCounts,
    sinks::{SinkCounts, SinkHandle},
};

/// A report and the outputs it goes to (indexes into the sink list).
pub struct Report {
    pub event: Event,
    pub targets: Vec<usize>,
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
    /// something, addressed to the outputs that are healthy (not failed, and
    /// dropping nothing themselves this interval).
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
            events.push((
                None,
                self.report(now_boot, "kernel".into(), lost, kernel.lost_total(), by),
            ));
        }
        self.kernel = kernel_now;

        let mut unhealthy = vec![false; sinks.len()];
        for (i, s) in sinks.iter().enumerate() {
            let now_c = s.stats.counts();
            let before = self.sinks.get(i).copied().unwrap_or_default();
            let d = output_lost(&now_c).saturating_sub(output_lost(&before));
            unhealthy[i] = s.failed() || !s.is_open() || d > 0;
            if d > 0 {
                let by = [
                    ("queue_full", now_c.dropped_full - before.dropped_full),
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
                events.push((
                    Some(i),
                    self.report(
                        now_boot,
                        format!("output:{}", s.name),
                        d,
                        output_lost(&now_c),
                        by,
                    ),
                ));
            }
            if let Some(slot) = self.sinks.get_mut(i) {
                *slot = now_c;
            }
        }
        self.since_unix_ns = now;
        events
            .into_iter()
            .map(|(from, event)| Report {
                event,
                targets: (0..sinks.len())
                    .filter(|&i| !unhealthy[i] && Some(i) != from)
                    .collect(),
            })
            .collect()
    }
}

/// Hands each report to its outputs.
pub async fn deliver(reports: Vec<Report>, sinks: &[SinkHandle]) {
    for r in reports {
        let batch = Arc::new(vec![r.event]);
        for i in r.targets {
            if let Some(s) = sinks.get(i) {
                s.send(batch.clone()).await;
            }
        }
    }
}
