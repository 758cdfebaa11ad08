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
        if !crate::base::log::enabled(crate::base::log::Level::Info) {
            return;
        }
        let k = &self.kernel;
        eprintln!("sysotel: stopped after {:.1}s", self.elapsed.as_secs_f64());
        eprintln!("  events received: {}", self.reader.received);
        let by_name: Vec<String> = self
            .reader
            .top_events(usize::MAX)
            .iter()
            .map(|(id, n)| format!("{}={n}", catalog::name(*id)))
            .collect();
        if !by_name.is_empty() {
            eprintln!("  events by name: {}", by_name.join(" "));
        }
        eprintln!("  events lost in kernel: {}", k.lost_total());
        for (id, n) in &k.lost {
            eprintln!("    {}: {n}", catalog::name(*id));
        }
        eprintln!("  decode errors: {}", self.reader.decode_errors);
        eprintln!(
            "  events filtered out: {} (exe scope terms and --filter, in user space)",
            self.reader.filtered
        );
        for (e, n) in &k.errors {
            eprintln!("  kernel: {}: {n}", e.describe());
        }
        let written: Vec<String> = k
            .submitted
            .iter()
            .map(|(id, n)| format!("{}={n}", catalog::name(*id)))
            .collect();
        eprintln!("  records written by the kernel: {}", k.submitted_total());
        if !written.is_empty() {
            eprintln!("    by name: {}", written.join(" "));
        }
        for c in &self.costs {
            let avg = if c.runs > 0 {
                c.total.as_nanos() / c.runs as u128
            } else {
                0
            };
            eprintln!(
                "  program {}: {} runs, {:.1} ms in total, {avg} ns per run",
                c.name,
                c.runs,
                c.total.as_secs_f64() * 1e3
            );
        }
        for (name, t) in &self.sinks {
            let c = &t.counts;
            eprintln!(
                "  output {name}: produced {}, exported {}, rejected {}, dropped {} (queue full {}, failed {}, shutdown timeout {}), retries {}",
                c.produced,
                c.exported,
                c.rejected,
                c.dropped(),
                c.dropped_full,
                c.dropped_error,
                c.dropped_shutdown,
                c.retries
            );
            if c.exported_bytes > 0 {
                eprintln!("    exported bytes: {}", c.exported_bytes);
            }
            if !t.errors.is_empty() {
                let errors: Vec<String> =
                    t.errors.iter().map(|(e, n)| format!("{e}={n}")).collect();
                eprintln!("    failed by error: {}", errors.join(" "));
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
