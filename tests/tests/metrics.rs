//! sysotel's own metrics: Prometheus text on `--metrics-listen` and `/healthz`,
//! and the OpenTelemetry SDK's OTLP export received by rotel, checked against
//! the final summary.

use std::{process::Command, time::Duration};

use sysotel_tests::{
    Sysotel, Waiting, assert_all_exported, http_get as get,
    rotel::{Rotel, free_port},
    wait_for,
};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");
const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

/// Parses Prometheus text: every sample line must be `name{labels} value`.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {l}"));
            let v: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {l}"));
            let name_ok = series.split('{').next().is_some_and(|n| {
                !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            assert!(name_ok, "bad metric name in {l}");
            if let Some(labels) = series.split_once('{').map(|(_, l)| l) {
                assert!(labels.ends_with('}'), "bad labels in {l}");
            }
            (series.to_string(), v)
        })
        .collect()
}

fn sample(all: &[(String, f64)], series: &str) -> Option<f64> {
    all.iter().find(|(s, _)| s == series).map(|(_, v)| *v)
}

/// CPU seconds (user + system) of process `pid`, from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_else(|| panic!("{path}: {stat}"));
    // SAFETY: sysconf has no memory effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let n = |i: usize| -> f64 {
        fields[i]
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("{path}: field {i} of {stat}"))
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (n(11) + n(12)) / ticks
}

/// Resident memory of process `pid` in bytes (VmRSS).
fn rss_bytes(pid: u32) -> f64 {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| kb * 1024.0)
        .unwrap_or_else(|| panic!("no VmRSS in {path}"))
}

/// Scrapes /metrics until `series` has the value `want` (the snapshot is
/// refreshed every second); returns that scrape.
fn scrape_until(port: u16, series: &str, want: f64) -> (String, Vec<(String, f64)>) {
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, text) = get(port, "/metrics");
        assert_eq!(status, 200, "{text}");
        let all = samples(&text);
        let value = sample(&all, series);
        if value == Some(want) {
            return (text, all);
        }
        if seen.last() != Some(&value) {
            seen.push(value);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited 15s for {series} = {want} in a scrape, in vain; it was {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const GETPPID: &str = "sysotel_events_received_total{event=\"getppid\"}";

#[test]
fn prometheus_metrics_match_the_summary() {
    sysotel_tests::require_root();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // The only process in scope: its 1000 getppid are every event.
    let w = Waiting::start(WORKLOAD, &[], &[], "getppid", 1000);
    let scope = format!("pid={}", w.pid());
    let sysotel = Sysotel::getppid_json(&[&scope], &["--metrics-listen", &addr]);
    let pid = sysotel.pid();
    let cpu_before = cpu_seconds(pid);
    w.release();
    let (text, all) = scrape_until(port, GETPPID, 1000.0);
    let (cpu_after, rss_after) = (cpu_seconds(pid), rss_bytes(pid));
    let (health, body) = get(port, "/healthz");
    assert_eq!((health, body.as_str()), (200, "ok\n"));
    assert_eq!(get(port, "/nothing").0, 404);
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(
        stopped.received_by_name().get("getppid").copied(),
        Some(1000),
        "{}",
        stopped.stderr
    );
    let json = assert_all_exported(&stopped, "json");
    assert_eq!(json.produced, 1000, "{}", stopped.stderr);

    // The scrape came after the workload: the json output had been handed
    // its 1000 events, and each is exported, dropped, rejected or queued.
    let series = |name: &str| {
        sample(&all, &format!("{name}{{output=\"json\"}}"))
            .unwrap_or_else(|| panic!("no {name}:\n{text}"))
    };
    let dropped: f64 = ["queue_full", "failed", "shutdown"]
        .iter()
        .map(|r| {
            sample(
                &all,
                &format!("sysotel_output_dropped_total{{output=\"json\",reason=\"{r}\"}}"),
            )
            .unwrap_or_else(|| panic!("no {r} drops:\n{text}"))
        })
        .sum();
    assert_eq!(series("sysotel_output_produced_total"), 1000.0, "{text}");
    assert_eq!(
        series("sysotel_output_exported_total")
            + series("sysotel_output_rejected_total")
            + dropped
            + series("sysotel_output_queued"),
        1000.0,
        "the scrape accounts for every record handed to the output:\n{text}"
    );
    assert_eq!(dropped, 0.0, "{text}");
    assert_eq!(sample(&all, "sysotel_up"), Some(1.0));
    assert_eq!(
        sample(&all, "sysotel_programs_attached"),
        Some(stopped.programs_attached() as f64)
    );
    assert_eq!(sample(&all, "sysotel_decode_errors_total"), Some(0.0));
    assert_eq!(
        sample(&all, "sysotel_ring_buffer_size_bytes"),
        Some(32.0 * 1024.0 * 1024.0)
    );
    // sysotel's own CPU, from a snapshot taken between the two readings of
    // /proc (the clock ticks are 10 ms).
    let cpu = sample(&all, "process_cpu_seconds_total").expect("process_cpu_seconds_total");
    assert!(
        cpu_before - 0.011 <= cpu && cpu <= cpu_after + 0.011,
        "process_cpu_seconds_total {cpu} is not between {cpu_before} and {cpu_after}"
    );
    let rss = sample(&all, "process_resident_memory_bytes").expect("process_resident_memory_bytes");
    assert!(
        (rss - rss_after).abs() <= 0.25 * rss_after,
        "process_resident_memory_bytes {rss} is not near VmRSS {rss_after}"
    );
}

/// The ring buffer's fill is the bytes the kernel wrote and sysotel has not
/// read: with sysotel stopped (SIGSTOP), the workload's 1000 getppid records
/// stay in the ring, 264 bytes each (the 256-byte syscall record behind the
/// ring's 8-byte header). On SIGCONT the periodic check, due by then, takes
/// the snapshot before the reader drains the ring; the next one finds it empty.
#[test]
fn ring_buffer_used_is_what_the_kernel_wrote_and_sysotel_did_not_read() {
    sysotel_tests::require_root();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let first = Waiting::start(WORKLOAD, &[], &[], "getppid", 1);
    let w = Waiting::start(WORKLOAD, &[], &[], "getppid", 1000);
    let scope = format!("pid={},{}", first.pid(), w.pid());
    let sysotel = Sysotel::getppid_json(&[&scope], &["--metrics-listen", &addr]);
    // A snapshot that counts the first workload's call: the reader and its
    // periodic check run on their regular schedule.
    first.release();
    scrape_until(port, GETPPID, 1.0);
    let pid = sysotel.pid() as i32;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    w.release();
    // Not a wait for an event: the metrics refresh (every second) must fall
    // due while sysotel is stopped.
    std::thread::sleep(Duration::from_millis(1200));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    scrape_until(port, "sysotel_ring_buffer_used_bytes", 1000.0 * 264.0);
    scrape_until(port, "sysotel_ring_buffer_used_bytes", 0.0);
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(stopped.written("getppid"), 1001, "{}", stopped.stderr);
    assert_eq!(stopped.summary_count("events received"), 1001);
}

/// An OTLP output whose collector is gone: once a batch has spent its retry
/// budget, /healthz says so (503) until a delivery succeeds.
#[test]
fn healthz_reports_an_output_that_cannot_deliver() {
    sysotel_tests::require_root();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let sysotel = Sysotel::start(&[
        "-o",
        "otlp",
        "--otlp-endpoint",
        &dead,
        "--otlp-retry-max-elapsed",
        "1s",
        "--otlp-batch-age",
        "100ms",
        "-e",
        "openat",
        "--metrics-listen",
        &addr,
    ]);
    let out = Command::new(FIXTURE)
        .args(["basic", "/etc/hostname", "/nonexistent-sysotel", "0"])
        .output()
        .expect("fixture");
    assert!(out.status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let (status, body) = loop {
        let r = get(port, "/healthz");
        if r.0 != 200 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        "unhealthy: output otlp: deliveries fail and none has succeeded since\n"
    );
    let (_, text) = get(port, "/metrics");
    let all = samples(&text);
    assert_eq!(sample(&all, "sysotel_up"), Some(0.0));
    assert!(
        sample(
            &all,
            "sysotel_output_dropped_total{output=\"otlp\",reason=\"failed\"}"
        )
        .is_some_and(|v| v > 0.0),
        "{text}"
    );
    // The dropped batch counts in the latency summary. It waited at least
    // one jittered retry delay (half to all of the 500 ms initial delay)
    // before the 1 s budget could not fit the next one.
    assert!(
        sample(
            &all,
            "sysotel_output_batch_latency_seconds_count{output=\"otlp\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &all,
            "sysotel_output_batch_latency_seconds_sum{output=\"otlp\"}"
        )
        .is_some_and(|s| s >= 0.25),
        "{text}"
    );
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
}

#[test]
fn otlp_metrics_reach_the_collector_with_the_final_counts() {
    sysotel_tests::require_root();
    let rotel = Rotel::start_for("metrics");
    let url = format!("{}/v1/metrics", rotel.http_url());
    let w = Waiting::start(WORKLOAD, &[], &[], "getppid", 1000);
    let scope = format!("pid={}", w.pid());
    // The interval comes from the standard variable (milliseconds).
    let sysotel = Sysotel::start_with_env(
        &[
            "-o",
            "json",
            "-e",
            "getppid",
            "--scope",
            &scope,
            "--metrics-otlp-endpoint",
            &url,
        ],
        &[("OTEL_METRIC_EXPORT_INTERVAL", "500")],
    );
    w.release();
    // OTEL_METRIC_EXPORT_INTERVAL=500 gives an export every half second.
    let exports = || rotel.output().matches("ResourceMetrics #0").count();
    wait_for("3 metric exports at rotel", Duration::from_secs(15), || {
        (exports() >= 3).then_some(())
    });
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let received = stopped.received_by_name()["getppid"];
    assert_eq!(received, 1000, "{}", stopped.stderr);
    let last_of = |points: &[sysotel_tests::rotel::Point],
                   metric: &str,
                   attr: Option<(&str, &str)>|
     -> Option<String> {
        points
            .iter()
            .rev()
            .find(|p| {
                p.metric == metric
                    && attr.is_none_or(|(k, v)| p.attributes.get(k).map(String::as_str) == Some(v))
            })
            .map(|p| p.value.clone())
    };
    // The last export happens at shutdown, with the summary's own numbers
    // (rotel may print it a moment after sysotel has exited).
    let getppid = Some(("sysotel.event.name", "Str(getppid)"));
    let points = wait_for(
        "the export made at shutdown, with the summary's count",
        Duration::from_secs(15),
        || {
            let points = rotel.metric_points();
            (last_of(&points, "sysotel.events.received", getppid) == Some(received.to_string()))
                .then_some(points)
        },
    );
    let last = |metric: &str, attr: Option<(&str, &str)>| last_of(&points, metric, attr);
    let json = stopped.output_totals("json");
    assert_eq!(
        last(
            "sysotel.output.exported",
            Some(("sysotel.output", "Str(json)"))
        ),
        Some(json.exported.to_string())
    );
    assert_eq!(
        last(
            "sysotel.output.produced",
            Some(("sysotel.output", "Str(json)"))
        ),
        Some(json.produced.to_string())
    );
    assert_eq!(
        last(
            "sysotel.output.dropped",
            Some(("sysotel.reason", "Str(queue_full)"))
        ),
        Some("0".to_string())
    );
    assert_eq!(last("sysotel.decode.errors", None), Some("0".to_string()));
    assert_eq!(
        last("sysotel.programs.attached", None),
        Some(stopped.programs_attached().to_string())
    );
    for m in [
        "process.cpu.time",
        "process.memory.usage",
        "sysotel.output.queued",
    ] {
        assert!(last(m, None).is_some(), "{m} missing");
    }
}
