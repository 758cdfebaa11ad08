//! Loss is reported in the stream: a `sysotel.loss` record whose numbers equal
//! the kernel's counters and the outputs' drop counters.

use std::{collections::HashMap, process::Command, time::Duration};

use serde_json::Value;
use sysotel_tests::{Stopped, Sysotel, json_events, rotel::Rotel};

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

fn sum_lost(records: &[&Value]) -> u64 {
    records
        .iter()
        .map(|r| r["args"]["lost"].as_u64().expect("lost"))
        .sum()
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
    std::thread::sleep(Duration::from_millis(1500));
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
        sum_lost(&reports),
        lost,
        "loss records equal the kernel counters"
    );
    for r in &reports {
        assert!(
            r["args"]["interval_start_unix_ns"].as_u64()
                <= r["args"]["interval_end_unix_ns"].as_u64()
        );
    }
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

    // The same reports reach the collector, as WARN records.
    let t = stopped.output_totals("otlp");
    assert_eq!(
        t.dropped, 0,
        "the OTLP output dropped records: {}",
        stopped.stderr
    );
    let at_rotel: Vec<_> = rotel
        .records()
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
    std::thread::sleep(Duration::from_millis(2500));
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let t = stopped.output_totals("otlp");
    assert!(t.dropped > 0, "{}", stopped.stderr);
    let events = json_events(&stopped.stdout);
    let reports = loss_records(&events, "output:otlp");
    assert!(
        !reports.is_empty(),
        "no loss record for the OTLP output in the json output"
    );
    assert_eq!(
        sum_lost(&reports),
        t.dropped + t.rejected,
        "reports equal the output's drops:\n{}",
        stopped.stderr
    );
    let reasons = by_name(&reports);
    assert!(reasons.contains_key("queue_full"), "{reasons:?}");
}
