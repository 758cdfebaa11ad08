//! What sysotel reports on stderr: the final summary and the stats line.

use std::time::{Duration, Instant};

use crate::{
    event::catalog,
    kernel::{KernelCounts, loader::ProgramCost},
    sinks::{SinkCounts, SinkHandle},
    telemetry::stats::ReaderStats,
};

/// Everything the final summary reports.
pub struct Summary {
    pub elapsed: Duration,
    pub reader: ReaderStats,
    pub kernel: KernelCounts,
    pub costs: Vec<ProgramCost>,
    pub sinks: Vec<(String, SinkTotals)>,
}

pub struct SinkTotals {
    pub counts: SinkCounts,
    /// Records that failed delivery, by error.
    pub errors: std::collections::BTreeMap<String, u64>,
}

impl Summary {
    /// The final report (log level `info`).
    pub fn print(&self) {
        let k = &self.kernel;
        crate::info!("sysotel: stopped after {:.1}s", self.elapsed.as_secs_f64());
        crate::info!("  events received: {}", self.reader.received);
        let by_name: Vec<String> = self
            .reader
            .top_events(usize::MAX)
            .iter()
            .map(|(id, n)| format!("{}={n}", catalog::name(*id)))
            .collect();
        if !by_name.is_empty() {
            crate::info!("  events by name: {}", by_name.join(" "));
        }
        crate::info!("  events lost in kernel: {}", k.lost_total());
        for (id, n) in &k.lost {
            crate::info!("    {}: {n}", catalog::name(*id));
        }
        crate::info!("  decode errors: {}", self.reader.decode_errors);
        crate::info!(
            "  events filtered out: {} (exe scope terms and --filter, in user space)",
            self.reader.filtered
        );
        for (e, n) in &k.errors {
            crate::info!("  kernel: {}: {n}", e.describe());
        }
        let written: Vec<String> = k
            .submitted
            .iter()
            .map(|(id, n)| format!("{}={n}", catalog::name(*id)))
            .collect();
        crate::info!("  records written by the kernel: {}", k.submitted_total());
        if !written.is_empty() {
            crate::info!("    by name: {}", written.join(" "));
        }
        for c in &self.costs {
            let avg = if c.runs > 0 {
                c.total.as_nanos() / c.runs as u128
            } else {
                0
            };
            crate::info!(
                "  program {}: {} runs, {:.1} ms in total, {avg} ns per run",
                c.name,
                c.runs,
                c.total.as_secs_f64() * 1e3
            );
        }
        for (name, t) in &self.sinks {
            let c = &t.counts;
            crate::info!(
                "  output {name}: produced {}, exported {}, rejected {}, dropped {} (queue full {}, disk full {}, failed {}, shutdown timeout {}), kept {}, retries {}",
                c.produced,
                c.exported,
                c.rejected,
                c.dropped(),
                c.dropped_full,
                c.dropped_disk_full,
                c.dropped_error,
                c.dropped_shutdown,
                c.kept,
                c.retries
            );
            if c.recovered > 0 || c.kept > 0 || c.discarded_bytes > 0 {
                crate::info!(
                    "    disk queue: {} records recovered from an earlier run (counted in produced), {} kept for the next run, {} bytes of a torn write discarded",
                    c.recovered,
                    c.kept,
                    c.discarded_bytes
                );
            }
            if c.exported_bytes > 0 {
                crate::info!("    exported bytes: {}", c.exported_bytes);
            }
            if !t.errors.is_empty() {
                let errors: Vec<String> =
                    t.errors.iter().map(|(e, n)| format!("{e}={n}")).collect();
                crate::info!("    failed by error: {}", errors.join(" "));
            }
        }
    }
}

/// The periodic stats line (`--stats-interval`).
pub fn stats_line(started: Instant, stats: &ReaderStats, sinks: &[SinkHandle]) {
    let outputs: Vec<String> = sinks
        .iter()
        .map(|s| {
            let c = s.stats.counts();
            format!(
                "{} exported {} dropped {} rejected {} queued {}",
                s.name,
                c.exported,
                c.dropped(),
                c.rejected,
                c.queued
            )
        })
        .collect();
    crate::info!(
        "sysotel: stats: {:.0}s received {} decode errors {}; {}",
        started.elapsed().as_secs_f64(),
        stats.received,
        stats.decode_errors,
        outputs.join("; ")
    );
}
