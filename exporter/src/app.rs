//! Wiring: load, attach, read until a signal, then stop in order and report.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

use crate::{
    catalog,
    cli::{Cli, Output},
    clock::BootClock,
    filter::Filters,
    loader::{self, KernelCounts, LoadOptions, ProgramCost},
    loss::{self, LossMonitor, Report},
    metrics,
    otel::{Resource, wire::Encoder},
    reader::{Reader, ReaderStats, Stop, UserFilter},
    scope::{LiveHost, Scope},
    select::Selection,
    sinks::{
        SinkCounts, SinkHandle,
        console::{self, ConsoleConfig, ConsoleFormat},
        kafka::{self, KafkaConfig},
        otlp::{self, OtlpConfig, transport::Transport},
    },
};

/// Unread bytes above which the kernel wakes the reader: a quarter of the ring,
/// at most 256 KiB (about a thousand syscall records per wake-up).
fn wakeup_bytes(ring: u32) -> u64 {
    (ring as u64 / 4).min(256 << 10)
}

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
        if !crate::log::enabled(crate::log::Level::Info) {
            return;
        }
        let k = &self.kernel;
        eprintln!("sysotel: stopped after {:.1}s", self.elapsed.as_secs_f64());
        eprintln!("  events received: {}", self.reader.received);
        let by_name: Vec<String> = self
            .reader
            .top_events(usize::MAX)
            .iter()
            .map(|(id, n)| format!("{}={n}", catalog::info(*id).map_or("unknown", |i| i.name)))
            .collect();
        if !by_name.is_empty() {
            eprintln!("  events by name: {}", by_name.join(" "));
        }
        eprintln!("  events lost in kernel: {}", k.lost_total());
        for (id, n) in &k.lost {
            let name = catalog::info(*id).map_or("unknown", |i| i.name);
            eprintln!("    {name}: {n}");
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
            .map(|(id, n)| format!("{}={n}", catalog::info(*id).map_or("unknown", |i| i.name)))
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

/// Everything the command line and environment asked for, validated before
/// anything is loaded: a bad setting is a usage error (exit 2).
pub struct Plan {
    pub cli: Cli,
    pub selection: Selection,
    pub scope: Scope,
    pub filters: Filters,
    pub otlp: Option<OtlpConfig>,
    pub kafka: Option<KafkaConfig>,
    /// The OTLP resource (only detected, and only validated, for `-o otlp`
    /// and `-o kafka`).
    pub resource: Option<Resource>,
}

impl Plan {
    pub fn new(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, String> {
        let selection = Selection::parse(&cli.events).map_err(|e| e.to_string())?;
        let scope = Scope::parse(&cli.scope, &LiveHost).map_err(|e| e.at_flag())?;
        let filters = Filters::parse(&cli.filters).map_err(|e| e.to_string())?;
        if cli.loss_interval.is_zero() {
            return Err("--loss-interval: must be more than zero".into());
        }
        if cli.stats_interval.is_some_and(|d| d.is_zero()) {
            return Err("--stats-interval: must be more than zero".into());
        }
        let otlp = if cli.outputs.contains(&Output::Otlp) {
            Some(OtlpConfig::resolve(&cli.otlp.flags(), env).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let kafka = if cli.outputs.contains(&Output::Kafka) {
            Some(KafkaConfig::resolve(&cli.kafka.flags()).map_err(|e| e.to_string())?)
        } else {
            None
        };
        if let Some(url) = &cli.metrics_otlp_endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "--metrics-otlp-endpoint: `{url}` is not an http:// or https:// URL"
            ));
        }
        if cli.metrics_interval.is_some_and(|d| d.is_zero()) {
            return Err("--metrics-interval: must be more than zero".into());
        }
        let resource = if otlp.is_some() || kafka.is_some() || cli.metrics_otlp_endpoint.is_some() {
            Some(
                Resource::detect(
                    env("OTEL_RESOURCE_ATTRIBUTES").as_deref(),
                    env("OTEL_SERVICE_NAME").as_deref(),
                )
                .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        Ok(Plan {
            cli,
            selection,
            scope,
            filters,
            otlp,
            kafka,
            resource,
        })
    }
}

/// What the plan resolved to, for `sysotel config check`: the scope, the
/// filters and each output's settings after every source was applied.
pub fn describe_plan(plan: &Plan) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::from("\n# resolved\n");
    out.push_str(&format!("# filters = [{}]\n", list(plan.filters.written())));
    out.push_str(&format!("# events selected: {}\n", plan.selection.len()));
    if let Some(o) = &plan.otlp {
        out.push_str(&format!(
            "# otlp: {} {}, gzip {}, timeout {:?}\n",
            o.protocol.name(),
            o.endpoint,
            o.gzip,
            o.timeout
        ));
    }
    if let Some(k) = &plan.kafka {
        let brokers = k
            .properties
            .iter()
            .rev()
            .find(|(p, _)| p == "bootstrap.servers")
            .map_or("", |(_, v)| v.as_str());
        out.push_str(&format!(
            "# kafka: brokers {brokers}, topic {}, encoding {}, key {}\n",
            k.topic,
            k.encoding.name(),
            k.key.name()
        ));
    }
    out
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

fn start_sinks(plan: &Plan, clock: BootClock) -> anyhow::Result<Vec<SinkHandle>> {
    let mut sinks = Vec::new();
    let mut seen = Vec::new();
    for output in &plan.cli.outputs {
        // `-o json -o json` is one output, not two copies of every line.
        if seen.contains(output) {
            continue;
        }
        seen.push(*output);
        let format = match output {
            Output::Table => ConsoleFormat::Table,
            Output::Json => ConsoleFormat::Json,
            Output::Otlp => {
                let (Some(cfg), Some(resource)) = (plan.otlp.clone(), plan.resource.as_ref())
                else {
                    anyhow::bail!("OTLP settings were not resolved");
                };
                let transport = Transport::new(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
                sinks.push(
                    otlp::spawn(cfg, transport, Encoder::new(clock, resource))
                        .context("starting the OTLP output")?,
                );
                continue;
            }
            Output::Kafka => {
                let (Some(cfg), Some(resource)) = (plan.kafka.clone(), plan.resource.as_ref())
                else {
                    anyhow::bail!("Kafka settings were not resolved");
                };
                sinks.push(
                    kafka::spawn(
                        cfg,
                        clock,
                        resource,
                        flush_budget(plan.cli.shutdown_timeout),
                    )
                    .context("starting the Kafka output")?,
                );
                continue;
            }
        };
        sinks.push(
            console::spawn(ConsoleConfig::new(format), clock, std::io::stdout())
                .context("starting the console output")?,
        );
    }
    Ok(sinks)
}

/// Traces until SIGINT/SIGTERM (or until every output has failed).
pub async fn run(plan: Plan) -> anyhow::Result<Summary> {
    let cli = &plan.cli;
    let started = Instant::now();
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;

    let selection = plan.selection.clone();
    let mut tracer = loader::load(LoadOptions {
        selection: selection.clone(),
        scope: plan.scope.kernel.clone(),
        lifecycle_records: !plan.scope.exe.is_empty(),
        bpf_stats: cli.bpf_stats,
        ring_bytes: cli.ring_buffer_size,
        wakeup_bytes: wakeup_bytes(cli.ring_buffer_size),
    })?;
    let mut reader = Reader::new(
        tracer.take_ring()?,
        selection.clone(),
        UserFilter::new(&plan.scope, &plan.filters),
    )
    .context("watching the ring buffer")?;
    // One boot-to-wall-clock offset for every output and report.
    let clock = BootClock::new();
    let mut sinks = start_sinks(&plan, clock)?;
    let listener = match cli.metrics_listen {
        Some(addr) => Some(
            metrics::prometheus::bind(addr)
                .await
                .with_context(|| format!("--metrics-listen {addr}: cannot listen"))?,
        ),
        None => None,
    };

    crate::info!(
        "sysotel: ready: {} programs attached, {} events selected, scope {}, outputs {}",
        loader::PROGRAMS.len(),
        selection.len(),
        plan.scope.describe().join(" "),
        sinks
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );

    let stop = async {
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
        }
    };
    // Loss reports, the optional stats line and the metrics snapshot run on
    // one periodic check.
    let mut monitor = LossMonitor::new(clock, sinks.len());
    let mut every = match cli.stats_interval {
        Some(s) => s.min(cli.loss_interval),
        None => cli.loss_interval,
    };
    let metrics_on = cli.metrics_listen.is_some() || cli.metrics_otlp_endpoint.is_some();
    if metrics_on {
        every = every.min(METRICS_REFRESH);
    }
    let shared: metrics::Shared = Default::default();
    let attached = loader::PROGRAMS.len();
    let ring_size = u64::from(cli.ring_buffer_size);
    let snapshot = |stats: &ReaderStats, k: &KernelCounts, sinks: &[SinkHandle]| {
        metrics::update(&shared, |previous| {
            metrics::Snapshot::take(stats, k, sinks, attached, ring_size, previous)
        })
    };
    snapshot(&ReaderStats::default(), &KernelCounts::default(), &sinks);
    let _server = listener.map(|l| tokio::spawn(metrics::prometheus::serve(l, shared.clone())));
    let otlp_metrics = match (&cli.metrics_otlp_endpoint, plan.resource.as_ref()) {
        (Some(url), Some(resource)) => Some(
            metrics::otlp::start(url, cli.metrics_interval, resource, shared.clone())
                .map_err(|e| anyhow::anyhow!(e))?,
        ),
        _ => None,
    };
    let (mut last_loss, mut last_stats, mut last_metrics) =
        (Instant::now(), Instant::now(), Instant::now());
    let mut periodic = |sinks: &[SinkHandle], stats: &ReaderStats| -> Vec<Report> {
        let mut reports = Vec::new();
        let loss_due = last_loss.elapsed() + every / 4 >= cli.loss_interval;
        let metrics_due = metrics_on && last_metrics.elapsed() + every / 4 >= METRICS_REFRESH;
        // The kernel's loss counters, read once for whichever is due.
        if loss_due || metrics_due {
            match tracer.lost() {
                Ok(k) => {
                    if loss_due {
                        last_loss = Instant::now();
                        reports = monitor.check(&k, sinks);
                    }
                    if metrics_due {
                        last_metrics = Instant::now();
                        snapshot(stats, &k, sinks);
                    }
                }
                Err(e) => crate::warn!("sysotel: reading the kernel loss counters failed: {e}"),
            }
        }
        if let Some(interval) = cli.stats_interval
            && last_stats.elapsed() + every / 4 >= interval
        {
            last_stats = Instant::now();
            stats_line(started, stats, sinks);
        }
        reports
    };
    let why = reader
        .run(&sinks, stop, every, &mut periodic)
        .await
        .context("reading the ring buffer")?;
    if why == Stop::SinksFailed {
        crate::warn!("sysotel: every output has failed; stopping");
    }

    // Stop in order: no new records, then what is already in the ring, then the
    // counters (final now), then the outputs.
    tracer.detach();
    reader.drain(&sinks).await;
    let kernel = tracer.counts()?;
    let costs = tracer.program_costs();
    // A loss report for the last interval goes to every output; then the
    // outputs that can drop at shutdown (network ones) close, and a final
    // report of their last drops goes to the console outputs, which close last.
    let deadline = Instant::now() + cli.shutdown_timeout;
    let network_deadline = Instant::now() + cli.shutdown_timeout.mul_f64(NETWORK_SHARE);
    let close = |s: &mut SinkHandle, deadline: Instant| {
        let left = deadline.saturating_duration_since(Instant::now());
        if !s.close(left) {
            crate::warn!(
                "sysotel: output {} did not finish within the shutdown timeout",
                s.name
            );
        }
    };
    loss::deliver(monitor.check(&kernel, &sinks), &sinks).await;
    // Network outputs flush side by side, each within the same deadline.
    for s in sinks.iter_mut().filter(|s| !s.blocks()) {
        s.begin_close();
    }
    for s in sinks.iter_mut().filter(|s| !s.blocks()) {
        close(s, network_deadline);
    }
    loss::deliver(monitor.check(&kernel, &sinks), &sinks).await;
    for s in sinks.iter_mut().filter(|s| s.blocks()) {
        close(s, deadline);
    }
    let totals = sinks
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                SinkTotals {
                    counts: s.stats.counts(),
                    errors: s.stats.errors(),
                },
            )
        })
        .collect();
    let reader = reader.into_stats();
    // The last snapshot holds the final counters: the summary's numbers.
    snapshot(&reader, &kernel, &sinks);
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

/// The periodic stats line (`--stats-interval`).
fn stats_line(started: Instant, stats: &ReaderStats, sinks: &[SinkHandle]) {
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

/// `sysotel list`. A closed stdout (`sysotel list | head`) ends the listing quietly.
pub fn list(out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut current = None;
    for e in catalog::all() {
        if current != Some(e.category) {
            writeln!(out, "{}:", e.category.name())?;
            current = Some(e.category);
        }
        writeln!(out, "  {:<24} {}", e.name, catalog::signature(e.id))?;
    }
    // sysotel's own records, which every output receives.
    writeln!(out, "{}:", catalog::Category::Internal.name())?;
    let fields: Vec<&str> = catalog::internal::LOSS.iter().map(|f| f.name).collect();
    writeln!(
        out,
        "  {:<24} ({})",
        catalog::LOSS_EVENT_NAME,
        fields.join(", ")
    )?;
    out.flush()
}
