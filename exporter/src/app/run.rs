//! The run: load and attach, read until a signal, then stop in order and
//! report.

use std::{
    future::Future,
    net::SocketAddr,
    time::{Duration, Instant},
};

use exporter_common::scope::ScopeKey;
use thiserror::Error;
use tokio::signal::unix::{SignalKind, signal};

use super::{
    pipeline::{Reader, Stop, UserFilter},
    plan::Plan,
    summary::{SinkTotals, Summary, stats_line},
};
use crate::{
    base::{clock::BootClock, notify},
    config::cli::Output,
    enrich::{
        Metadata,
        runtime::{ScopeMap, Workloads},
    },
    kernel::{
        KernelCounts,
        host::cgroup2_root,
        loader::{self, LoadError, LoadOptions, Tracer},
        ring::Ring,
    },
    otel::wire::Encoder,
    sinks::{
        SinkHandle,
        console::{self, ConsoleConfig, ConsoleFormat},
        disk::Opened,
        kafka::{self, StartError},
        otlp::{self, transport::SetupError, transport::Transport},
    },
    telemetry::{
        loss::{self, LossMonitor, Report},
        metrics,
        stats::ReaderStats,
    },
};

/// Why a run could not start or go on (exit 1).
#[derive(Debug, Error)]
pub enum RunError {
    #[error("installing the {signal} handler")]
    Signal {
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("watching the ring buffer")]
    Ring(#[source] std::io::Error),
    #[error("reading the ring buffer")]
    Read(#[source] std::io::Error),
    #[error("starting the {output} output")]
    Output {
        output: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    OtlpSetup(#[from] SetupError),
    #[error("starting the Kafka output")]
    Kafka(#[source] StartError),
    /// The disk queue cannot be used (exit 2: a setting to change).
    #[error("--queue-dir: the {output} output's disk queue")]
    Queue {
        output: &'static str,
        #[source]
        source: crate::sinks::disk::OpenError,
    },
    #[error("{0} settings were not resolved")]
    Unresolved(&'static str),
    #[error("--metrics-listen {addr}: cannot listen")]
    MetricsListen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    MetricsExport(String),
}

/// The kernel wakes the reader each time this many more bytes wait unread: a
/// quarter of the ring, at most 256 KiB (about a thousand syscall records per
/// wake-up). A power of two, as the ring's size is (the kernel masks with it).
fn wakeup_bytes(ring: u32) -> u64 {
    let w = (ring as u64 / 4).clamp(1, 256 << 10);
    1 << w.ilog2()
}

/// How often the metrics snapshot is refreshed when metrics are on.
const METRICS_REFRESH: Duration = Duration::from_secs(1);

/// At shutdown the network outputs flush within this share of the shutdown
/// timeout; the rest is the console outputs', which write the last loss
/// report (the network outputs' own shutdown drops) after them. Without it, a
/// network output that used the whole timeout left the console none, and
/// records the console had all but written counted as dropped.
const NETWORK_SHARE: f64 = 0.8;

/// How long an output that flushes by itself (Kafka) may take at shutdown:
/// most of the network outputs' share, so it can count what it purges
/// before that share runs out.
fn flush_budget(shutdown_timeout: Duration) -> Duration {
    shutdown_timeout.mul_f64(NETWORK_SHARE * 0.8)
}

impl RunError {
    /// A setting the user has to change (exit 2), not a failure of the host.
    pub fn is_usage(&self) -> bool {
        match self {
            RunError::Load(l) => l.is_usage(),
            RunError::Queue { .. } => true,
            _ => false,
        }
    }
}

/// Completes at the first SIGINT or SIGTERM.
fn stop_signal() -> Result<impl Future<Output = ()>, RunError> {
    let install = |kind, signal_name| {
        signal(kind).map_err(|source| RunError::Signal {
            signal: signal_name,
            source,
        })
    };
    let mut int = install(SignalKind::interrupt(), "SIGINT")?;
    let mut term = install(SignalKind::terminate(), "SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// The programs loaded and attached, and the reader on their ring buffer.
fn load(plan: &Plan, clock: BootClock) -> Result<(Tracer, Reader), RunError> {
    let cli = &plan.cli;
    let mut tracer = loader::load(LoadOptions {
        selection: plan.selection.clone(),
        scope: plan.scope.kernel.conf,
        scope_ids: plan.scope.kernel.id_entries(),
        lifecycle_records: !plan.scope.exe.is_empty(),
        bpf_stats: cli.bpf_stats,
        btf: cli.btf.clone(),
        ring_bytes: cli.ring_buffer_size,
        wakeup_bytes: wakeup_bytes(cli.ring_buffer_size),
        lsm_required: lsm_named(&cli.events),
    })?;
    let ring = Ring::new(tracer.take_ring()?).map_err(RunError::Ring)?;
    let workloads = if plan.scope.workload.is_empty() {
        None
    } else {
        Some(Workloads::new(
            plan.scope.workload.clone(),
            Box::new(WorkloadMap(tracer.take_scope_ids()?)),
            cgroup2_root(),
        ))
    };
    let reader = Reader::new(
        ring,
        plan.selection.clone(),
        UserFilter::new(&plan.scope, &plan.filters),
        Metadata::start(plan.runtimes.clone(), workloads),
        clock,
    );
    Ok((tracer, reader))
}

/// The workload cgroups' entries of the kernel's scope map.
struct WorkloadMap(loader::ScopeIds);

impl ScopeMap for WorkloadMap {
    fn set(&mut self, cgroup: u64, verdict: u8) -> Result<(), String> {
        self.0.set(ScopeKey::Workload, cgroup, verdict)
    }

    fn remove(&mut self, cgroup: u64) -> Result<(), String> {
        self.0.remove(ScopeKey::Workload, cgroup)
    }
}

/// The network outputs' disk queues, opened (locked, recovered) before
/// anything is loaded: a queue dir another sysotel holds or that cannot be
/// written stops the start at once.
#[derive(Default)]
struct Queues {
    otlp: Option<Opened>,
    kafka: Option<Opened>,
}

fn open_queues(plan: &Plan) -> Result<Queues, RunError> {
    let mut queues = Queues::default();
    let Some(settings) = &plan.queue else {
        return Ok(queues);
    };
    for output in &plan.cli.outputs {
        let (slot, name, label) = match output {
            Output::Otlp => (&mut queues.otlp, otlp::NAME, "OTLP"),
            Output::Kafka => (&mut queues.kafka, kafka::NAME, "Kafka"),
            Output::Table | Output::Json => continue,
        };
        if slot.is_none() {
            *slot = Some(settings.open_sink(name).map_err(|source| RunError::Queue {
                output: label,
                source,
            })?);
        }
    }
    Ok(queues)
}

fn start_sinks(
    plan: &Plan,
    clock: BootClock,
    mut queues: Queues,
) -> Result<Vec<SinkHandle>, RunError> {
    let mut sinks = Vec::new();
    let mut seen = Vec::new();
    for output in &plan.cli.outputs {
        // `-o json -o json` is one output, not two copies of every line.
        if seen.contains(output) {
            continue;
        }
        seen.push(*output);
        sinks.push(start_sink(plan, *output, clock, &mut queues)?);
    }
    Ok(sinks)
}

fn start_sink(
    plan: &Plan,
    output: Output,
    clock: BootClock,
    queues: &mut Queues,
) -> Result<SinkHandle, RunError> {
    let console = |format| {
        console::spawn(ConsoleConfig::new(format), clock, std::io::stdout()).map_err(|source| {
            RunError::Output {
                output: "console",
                source,
            }
        })
    };
    match output {
        Output::Table => console(ConsoleFormat::Table),
        Output::Json => console(ConsoleFormat::Json),
        Output::Otlp => {
            let (Some(cfg), Some(resource)) = (plan.otlp.clone(), plan.resource.as_ref()) else {
                return Err(RunError::Unresolved("OTLP"));
            };
            let transport = Transport::new(&cfg)?;
            let budget = flush_budget(plan.cli.shutdown_timeout);
            otlp::spawn(
                cfg,
                transport,
                Encoder::new(clock, resource),
                queues.otlp.take(),
                budget,
            )
            .map_err(|source| RunError::Output {
                output: "OTLP",
                source,
            })
        }
        Output::Kafka => {
            let (Some(cfg), Some(resource)) = (plan.kafka.clone(), plan.resource.as_ref()) else {
                return Err(RunError::Unresolved("Kafka"));
            };
            let budget = flush_budget(plan.cli.shutdown_timeout);
            kafka::spawn(cfg, clock, resource, queues.kafka.take(), budget).map_err(RunError::Kafka)
        }
    }
}

/// A periodic task's interval and when it last ran.
struct Every {
    interval: Duration,
    last: Instant,
}

impl Every {
    fn new(interval: Duration) -> Every {
        Every {
            interval,
            last: Instant::now(),
        }
    }

    /// Due within `slack` of its interval (the check runs on a coarser tick).
    fn due(&self, slack: Duration) -> bool {
        self.last.elapsed() + slack >= self.interval
    }

    fn ran(&mut self) {
        self.last = Instant::now();
    }
}

/// What the periodic check does: loss reports every `--loss-interval`, the
/// stats line every `--stats-interval`, the metrics snapshot every second.
struct Checks {
    monitor: LossMonitor,
    /// The check's own tick.
    every: Duration,
    loss: Every,
    stats: Option<Every>,
    metrics: Option<(Every, metrics::Shared)>,
    started: Instant,
    attached: usize,
    ring_size: u64,
}

impl Checks {
    fn new(
        plan: &Plan,
        clock: BootClock,
        sinks: usize,
        attached: usize,
        started: Instant,
    ) -> Checks {
        let cli = &plan.cli;
        let metrics_on = cli.metrics_listen.is_some() || cli.metrics_otlp_endpoint.is_some();
        let mut every = cli
            .stats_interval
            .map_or(cli.loss_interval, |s| s.min(cli.loss_interval));
        if metrics_on {
            every = every.min(METRICS_REFRESH);
        }
        Checks {
            monitor: LossMonitor::new(clock, sinks),
            every,
            loss: Every::new(cli.loss_interval),
            stats: cli.stats_interval.map(Every::new),
            metrics: metrics_on.then(|| (Every::new(METRICS_REFRESH), Default::default())),
            started,
            attached,
            ring_size: u64::from(cli.ring_buffer_size),
        }
    }

    /// Refreshes the metrics snapshot.
    fn snapshot(&self, stats: &ReaderStats, k: &KernelCounts, sinks: &[SinkHandle]) {
        if let Some((_, shared)) = &self.metrics {
            metrics::update(shared, |previous| {
                metrics::Snapshot::take(stats, k, sinks, self.attached, self.ring_size, previous)
            });
        }
    }

    /// One check: what is due runs; returns the loss reports to deliver.
    fn run(&mut self, tracer: &Tracer, sinks: &[SinkHandle], stats: &ReaderStats) -> Vec<Report> {
        let slack = self.every / 4;
        let mut reports = Vec::new();
        let loss_due = self.loss.due(slack);
        let metrics_due = self.metrics.as_ref().is_some_and(|(e, _)| e.due(slack));
        // The kernel's loss counters, read once for whichever is due.
        if loss_due || metrics_due {
            match tracer.lost() {
                Ok(k) => {
                    if loss_due {
                        self.loss.ran();
                        reports = self.monitor.check(&k, sinks);
                    }
                    if metrics_due {
                        self.snapshot(stats, &k, sinks);
                        if let Some((e, _)) = &mut self.metrics {
                            e.ran();
                        }
                    }
                }
                Err(e) => crate::warn!("sysotel: reading the kernel loss counters failed: {e}"),
            }
        }
        if let Some(s) = &mut self.stats
            && s.due(slack)
        {
            s.ran();
            stats_line(self.started, stats, sinks);
        }
        reports
    }
}

/// Serves and exports the metrics, when asked to.
async fn start_metrics(
    plan: &Plan,
    checks: &Checks,
) -> Result<Option<metrics::otlp::OtlpMetrics>, RunError> {
    let cli = &plan.cli;
    let Some((_, shared)) = &checks.metrics else {
        return Ok(None);
    };
    if let Some(addr) = cli.metrics_listen {
        let listener = metrics::prometheus::bind(addr)
            .await
            .map_err(|source| RunError::MetricsListen { addr, source })?;
        tokio::spawn(metrics::prometheus::serve(listener, shared.clone()));
    }
    match (&cli.metrics_otlp_endpoint, plan.resource.as_ref()) {
        (Some(url), Some(resource)) => {
            metrics::otlp::start(url, cli.metrics_interval, resource, shared.clone())
                .map(Some)
                .map_err(RunError::MetricsExport)
        }
        _ => Ok(None),
    }
}

/// Whether the `-e` terms ask for events by name, set or pattern (not only
/// exclusions from the default selection, nor `default`/`all`): LSM events
/// chosen that way must attach or sysotel stops.
fn lsm_named(events: &[String]) -> bool {
    events
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .any(|t| !t.is_empty() && !t.starts_with('-') && t != "default" && t != "all")
}

fn ready_line(plan: &Plan, tracer: &Tracer, sinks: &[SinkHandle]) {
    crate::info!(
        "sysotel: ready: {} programs attached, {} events selected, {}, scope {}, outputs {}",
        tracer.attached(),
        plan.selection.len(),
        tracer.lsm.describe(),
        plan.scope.describe().join(" "),
        sinks
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
}

/// Closes the outputs in order: a loss report for the last interval goes to
/// every output; then the outputs that can drop at shutdown (network ones)
/// close side by side within their share of the timeout, and a final report
/// of their last drops goes to the console outputs, which close last.
async fn close_outputs(
    sinks: &mut [SinkHandle],
    monitor: &mut LossMonitor,
    kernel: &KernelCounts,
    timeout: Duration,
    sequence: &mut u64,
) {
    let deadline = Instant::now() + timeout;
    let network_deadline = Instant::now() + timeout.mul_f64(NETWORK_SHARE);
    let close = |s: &mut SinkHandle, deadline: Instant| {
        let left = deadline.saturating_duration_since(Instant::now());
        if !s.close(left) {
            crate::warn!(
                "sysotel: output {} did not finish within the shutdown timeout",
                s.name
            );
        }
    };
    loss::deliver(monitor.check(kernel, sinks), sinks, sequence).await;
    for s in sinks.iter_mut().filter(|s| !s.blocks()) {
        s.begin_close();
    }
    for s in sinks.iter_mut().filter(|s| !s.blocks()) {
        close(s, network_deadline);
    }
    loss::deliver(monitor.check(kernel, sinks), sinks, sequence).await;
    for s in sinks.iter_mut().filter(|s| s.blocks()) {
        close(s, deadline);
    }
}

/// Traces until SIGINT/SIGTERM (or until every output has failed).
pub async fn run(plan: Plan) -> Result<Summary, RunError> {
    let started = Instant::now();
    let stop = stop_signal()?;
    // One boot-to-wall-clock offset for every output, report and start time.
    let clock = BootClock::new();
    let queues = open_queues(&plan)?;
    let (mut tracer, mut reader) = load(&plan, clock)?;
    let mut sinks = start_sinks(&plan, clock, queues)?;
    let mut checks = Checks::new(&plan, clock, sinks.len(), tracer.attached(), started);
    checks.snapshot(&ReaderStats::default(), &KernelCounts::default(), &sinks);
    let otlp_metrics = start_metrics(&plan, &checks).await?;
    ready_line(&plan, &tracer, &sinks);
    notify::notify(&format!(
        "READY=1\nSTATUS=tracing: {} programs attached",
        tracer.attached()
    ));

    let every = checks.every;
    let why = reader
        .run(&sinks, stop, every, &mut |s, st| checks.run(&tracer, s, st))
        .await
        .map_err(RunError::Read)?;
    if why == Stop::SinksFailed {
        crate::warn!("sysotel: every output has failed; stopping");
    }
    notify::notify("STOPPING=1\nSTATUS=stopping: flushing the outputs");

    // Stop in order: no new records, then what is already in the ring, then the
    // counters (final now), then the outputs.
    tracer.detach();
    reader.drain(&sinks).await;
    let kernel = tracer.counts()?;
    let costs = tracer.program_costs();
    close_outputs(
        &mut sinks,
        &mut checks.monitor,
        &kernel,
        plan.cli.shutdown_timeout,
        reader.sequence(),
    )
    .await;
    let totals = sinks
        .iter()
        .map(|s| {
            let totals = SinkTotals {
                counts: s.stats.counts(),
                errors: s.stats.errors(),
            };
            (s.name.clone(), totals)
        })
        .collect();
    let reader = reader.into_stats();
    // The last snapshot holds the final counters: the summary's numbers.
    checks.snapshot(&reader, &kernel, &sinks);
    if let Some(m) = otlp_metrics {
        m.shutdown();
    }
    Ok(Summary {
        elapsed: started.elapsed(),
        reader,
        kernel,
        costs,
        sinks: totals,
    })
}

#[cfg(test)]
mod tests {
    use super::wakeup_bytes;

    #[test]
    fn wakeup_bytes_is_a_power_of_two_within_the_ring() {
        for shift in 12..=30 {
            let ring = 1u32 << shift;
            let w = wakeup_bytes(ring);
            assert!(w.is_power_of_two(), "{ring}: {w}");
            assert!(
                w <= (ring as u64 / 4).max(1) && w <= 256 << 10,
                "{ring}: {w}"
            );
        }
        assert_eq!(wakeup_bytes(32 << 20), 256 << 10);
        assert_eq!(wakeup_bytes(4096), 1024);
    }
}
