//! Loss is reported in the stream: a `sysotel.loss` record whose numbers equal
//! the kernel's counters and the outputs' drop counters.

use std::{collections::HashMap, process::Command};

use serde_json::Value;
use sysotel_tests::{
    Stopped, Sysotel, assert_accounted, assert_all_exported, json_events, rotel::Rotel,
};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");

fn loss_records<'a>(events: &'a [Value], stage: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == "sysotel.loss" && e["args"]["stage"] == stage)
        .collect()
}

/// Sum of the `by` counts (`name=count`) over the records, per name.
fn by_name(records: &[&Value]) -> HashMap<String, u64> {
    let mut m = HashMap::new();
    for r in records {
        for kv in r["args"]["by"].as_array().expect("by") {
            let (k, v) = kv
                .as_str()
                .expect("str")
                .split_once('=')
                .expect("name=count");
            *m.entry(k.to_string()).or_default() += v.parse::<u64>().expect("count");
        }
    }
    m
}

fn arg(r: &Value, name: &str) -> u64 {
    r["args"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no number `{name}` in {r}"))
}

/// The reports of one stage, in order: each one's `lost_total` is the sum of
/// `lost` up to it, and its interval starts where the one before ended.
/// Returns the last `lost_total`.
fn assert_running_totals(reports: &[&Value]) -> u64 {
    let mut total = 0;
    let mut end = 0;
    for r in reports {
        total += arg(r, "lost");
        assert_eq!(arg(r, "lost_total"), total, "lost_total is cumulative: {r}");
        let (start, this_end) = (
            arg(r, "interval_start_unix_ns"),
            arg(r, "interval_end_unix_ns"),
        );
        assert!(
            start <= this_end,
            "an interval that ends before it starts: {r}"
        );
        assert!(start >= end, "intervals overlap: {r}");
        end = this_end;
    }
    total
}

#[test]
fn kernel_loss_is_reported_with_exact_counts() {
    const CALLS: u64 = 20_000;
    let rotel = Rotel::start();
    let url = rotel.http_url();
    let sysotel = Sysotel::start(&[
        "-o",
        "json",
        "-o",
        "otlp",
        "--otlp-endpoint",
        &url,
        "--ring-buffer-size",
        "16K",
        "--loss-interval",
        "1s",
        "-e",
        "getppid",
    ]);
    let out = Command::new(WORKLOAD)
        .args(["getppid", &CALLS.to_string()])
        .output()
        .expect("workload");
    assert!(out.status.success());
    // A periodic report, before the one at shutdown.
    sysotel.wait_json("a kernel loss report", |e| {
        e["event"] == "sysotel.loss" && e["args"]["stage"] == "kernel"
    });
    let stopped: Stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);

    let lost = stopped.summary_count("events lost in kernel");
    assert!(
        lost > 0,
        "a 16K ring under a storm lost nothing? {}",
        stopped.stderr
    );
    let events = json_events(&stopped.stdout);
    let reports = loss_records(&events, "kernel");
    assert!(
        !reports.is_empty(),
        "no sysotel.loss record in the json output"
    );
    assert_eq!(
        assert_running_totals(&reports),
        lost,
        "loss records equal the kernel counters"
    );
    assert_eq!(
        by_name(&reports).values().sum::<u64>(),
        lost,
        "the counts by event add up"
    );
    // Every getppid the workload made is either delivered or counted as lost.
    let pid = events
        .iter()
        .filter(|e| e["event"] == "getppid")
        .map(|e| e["pid"].as_u64().expect("pid"))
        .max_by_key(|p| events.iter().filter(|e| e["pid"] == *p).count())
        .expect("some getppid arrived");
    let delivered = events
        .iter()
        .filter(|e| e["event"] == "getppid" && e["pid"] == pid)
        .count() as u64;
    let lost_getppid = by_name(&reports).get("getppid").copied().unwrap_or(0);
    assert_eq!(
        delivered + lost_getppid,
        CALLS,
        "delivered {delivered} + lost {lost_getppid}"
    );

    // The same reports reach the collector, as WARN records, with
    // everything else the OTLP output was handed.
    let t = assert_all_exported(&stopped, "otlp");
    let received = rotel.wait_records(t.exported);
    assert_eq!(received.len() as u64, t.exported, "{}", stopped.stderr);
    let at_rotel: Vec<_> = received
        .into_iter()
        .filter(|r| {
            r.event_name == "sysotel.loss" && r.attr("sysotel.arg.stage") == Some("Str(kernel)")
        })
        .collect();
    assert!(
        !at_rotel.is_empty(),
        "no sysotel.loss record at the collector"
    );
    assert!(at_rotel.iter().all(|r| r.severity_text == "WARN"));
    let rotel_lost: u64 = at_rotel
        .iter()
        .map(|r| {
            r.attr("sysotel.arg.lost")
                .and_then(|v| {
                    v.strip_prefix("Int(")?
                        .strip_suffix(')')?
                        .parse::<u64>()
                        .ok()
                })
                .expect("Int lost")
        })
        .sum();
    assert_eq!(
        rotel_lost, lost,
        "the collector's loss records equal the kernel counters"
    );
}

#[test]
fn output_drops_are_reported_to_the_other_outputs() {
    let closed = sysotel_tests::rotel::free_port();
    let sysotel = Sysotel::start(&[
        "-o",
        "json",
        "-o",
        "otlp",
        "--otlp-endpoint",
        &format!("http://127.0.0.1:{closed}"),
        "--otlp-queue-records",
        "100",
        "--otlp-retry-max-elapsed",
        "1s",
        "--loss-interval",
        "1s",
        "--shutdown-timeout",
        "3s",
        "-e",
        "openat",
    ]);
    let out = Command::new(WORKLOAD)
        .args(["open", "5000", "/etc/hostname"])
        .output()
        .expect("workload");
    assert!(out.status.success());
    // A periodic report, before the ones at shutdown.
    sysotel.wait_json("a loss report for the OTLP output", |e| {
        e["event"] == "sysotel.loss" && e["args"]["stage"] == "output:otlp"
    });
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let t = assert_accounted(&stopped, "otlp");
    assert_eq!(t.exported, 0, "nothing listens: {}", stopped.stderr);
    // 5000 opens against a queue of 100 records: the queue was full.
    assert!(t.dropped_full > 0, "{t:?}");
    let events = json_events(&stopped.stdout);
    let reports = loss_records(&events, "output:otlp");
    assert_eq!(
        assert_running_totals(&reports),
        t.dropped + t.rejected,
        "reports equal the output's drops:\n{}",
        stopped.stderr
    );
    let reasons = by_name(&reports);
    let reason = |k: &str| reasons.get(k).copied().unwrap_or(0);
    assert_eq!(
        (
            reason("queue_full"),
            reason("failed"),
            reason("shutdown_timeout"),
            reason("rejected")
        ),
        (
            t.dropped_full,
            t.dropped_failed,
            t.dropped_shutdown,
            t.rejected
        ),
        "the reports' counts by reason equal the summary's: {reasons:?}\n{}",
        stopped.stderr
    );
    // The json output wrote every event and every report it was handed.
    assert_all_exported(&stopped, "json");
}
