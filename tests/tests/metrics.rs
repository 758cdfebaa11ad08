//! sysotel's own metrics: Prometheus text on `--metrics-listen` and `/healthz`,
//! and the OpenTelemetry SDK's OTLP export received by rotel, checked against
//! the final summary.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::Command,
    time::Duration,
};

use sysotel_tests::{
    Stopped, Sysotel,
    rotel::{Rotel, free_port},
};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");
const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

/// GET `path` from 127.0.0.1:`port`: (status code, body).
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics endpoint");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

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

fn getppid_received(stopped: &Stopped) -> u64 {
    stopped
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("events by name: "))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|kv| kv.strip_prefix("getppid="))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn prometheus_metrics_match_the_summary() {
    sysotel_tests::require_root();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let sysotel = Sysotel::start(&["-o", "json", "-e", "getppid", "--metrics-listen", &addr]);
    let out = Command::new(WORKLOAD)
        .args(["getppid", "1000"])
        .output()
        .expect("workload");
    assert!(out.status.success());
    // The snapshot refreshes every second.
    std::thread::sleep(Duration::from_millis(2500));
    let (status, text) = get(port, "/metrics");
    assert_eq!(status, 200, "{text}");
    let all = samples(&text);
    let (health, body) = get(port, "/healthz");
    assert_eq!((health, body.as_str()), (200, "ok\n"));
    assert_eq!(get(port, "/nothing").0, 404);
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);

    // The scrape came after the workload and before the stop: it holds the
    // workload's calls and at most what the summary counts (anything else
    // calling getppid meanwhile is counted by both).
    let received = getppid_received(&stopped) as f64;
    let scraped = sample(&all, "sysotel_events_received_total{event=\"getppid\"}")
        .unwrap_or_else(|| panic!("no getppid count:\n{text}"));
    assert!(
        (1000.0..=received).contains(&scraped),
        "scraped {scraped}, summary {received}:\n{text}"
    );
    let json = stopped.output_totals("json");
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
            .unwrap_or(f64::NAN)
        })
        .sum();
    let produced = series("sysotel_output_produced_total");
    assert_eq!(
        produced,
        series("sysotel_output_exported_total")
            + series("sysotel_output_rejected_total")
            + dropped
            + series("sysotel_output_queued"),
        "the scrape accounts for every record handed to the output:\n{text}"
    );
    assert!(
        produced >= scraped && produced <= json.produced as f64,
        "{text}"
    );
    assert_eq!(sample(&all, "sysotel_up"), Some(1.0));
    assert_eq!(sample(&all, "sysotel_programs_attached"), Some(5.0));
    assert_eq!(sample(&all, "sysotel_decode_errors_total"), Some(0.0));
    assert_eq!(
        sample(
            &all,
            "sysotel_output_dropped_total{output=\"json\",reason=\"queue_full\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&all, "sysotel_ring_buffer_size_bytes"),
        Some(32.0 * 1024.0 * 1024.0)
    );
    assert!(
        sample(&all, "sysotel_ring_buffer_used_bytes")
            .is_some_and(|v| (0.0..=32.0 * 1024.0 * 1024.0).contains(&v)),
        "{text}"
    );
    assert!(sample(&all, "process_cpu_seconds_total").is_some_and(|v| v > 0.0));
    assert!(sample(&all, "process_resident_memory_bytes").is_some_and(|v| v > 1e6));
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
    // The interval comes from the standard variable (milliseconds).
    let sysotel = Sysotel::start_with_env(
        &[
            "-o",
            "json",
            "-e",
            "getppid",
            "--metrics-otlp-endpoint",
            &url,
        ],
        &[("OTEL_METRIC_EXPORT_INTERVAL", "500")],
    );
    let out = Command::new(WORKLOAD)
        .args(["getppid", "1000"])
        .output()
        .expect("workload");
    assert!(out.status.success());
    std::thread::sleep(Duration::from_secs(2));
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);

    let points = rotel.metric_points();
    let exports = rotel.output().matches("ResourceMetrics #0").count();
    assert!(
        exports >= 3,
        "OTEL_METRIC_EXPORT_INTERVAL=500 gives several exports in 2s, got {exports}"
    );
    let last = |metric: &str, attr: Option<(&str, &str)>| -> Option<String> {
        points
            .iter()
            .rev()
            .find(|p| {
                p.metric == metric
                    && attr.is_none_or(|(k, v)| p.attributes.get(k).map(String::as_str) == Some(v))
            })
            .map(|p| p.value.clone())
    };
    // The last export happens at shutdown, with the summary's own numbers.
    let received = getppid_received(&stopped);
    assert!(received >= 1000, "{}", stopped.stderr);
    assert_eq!(
        last(
            "sysotel.events.received",
            Some(("sysotel.event.name", "Str(getppid)"))
        ),
        Some(received.to_string())
    );
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
        Some("5".to_string())
    );
    for m in [
        "process.cpu.time",
        "process.memory.usage",
        "sysotel.output.queued",
    ] {
        assert!(last(m, None).is_some(), "{m} missing");
    }
}
