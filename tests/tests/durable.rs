//! Durable delivery end to end: the disk queue (`--queue-dir`) across
//! collector and broker outages, `kill -9`, a torn segment and a full file
//! system, against real peers (rotel, tansu); and `sysotel.sequence` with the
//! loss reports accounting for every number a receiver did not get.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use sysotel_tests::{
    OutputTotals, Stopped, Sysotel, assert_accounted,
    gaps::{self, Accounting, Seen},
    kafka::{Tansu, consume},
    rotel::{Record, Rotel, free_port},
    run_sysotel, unique_path,
};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");

/// The OTLP output's default batch and requests in flight: a crash between
/// a delivery and the write of its acknowledgement resends at most these.
const OTLP_IN_FLIGHT_RECORDS: u64 = 4 * 2048;

/// `n` getppid calls at `rate` per second, in the background.
fn workload(n: u64, rate: u64) -> Child {
    Command::new(WORKLOAD)
        .args(["rate", &n.to_string(), &rate.to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn the workload")
}

fn finish(mut w: Child) {
    let status = w.wait().expect("wait for the workload");
    assert!(status.success(), "the workload failed: {status}");
}

/// A fresh queue dir.
fn queue_dir(tag: &str) -> PathBuf {
    let dir = PathBuf::from(unique_path(tag));
    std::fs::create_dir_all(&dir).expect("create the queue dir");
    dir
}

/// sysotel shipping the workload's getppid calls over OTLP/gRPC to port
/// `grpc`, with `extra` flags.
fn otlp_sysotel(grpc: u16, extra: &[&str]) -> Sysotel {
    let endpoint = format!("http://127.0.0.1:{grpc}");
    let mut args = vec![
        "-o",
        "otlp",
        "--otlp-endpoint",
        &endpoint,
        "--otlp-protocol",
        "grpc",
        "-e",
        "getppid",
        "--scope",
        "comm=workload",
        "--shutdown-timeout",
        "30s",
    ];
    args.extend_from_slice(extra);
    Sysotel::start(&args)
}

/// The getppid records among `records` (the loss reports left out).
fn getppids(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter().filter(|s| s.loss.is_none()).collect()
}

/// Distinct getppid sequence numbers of run `instance`.
fn distinct_events(seen: &[Seen], instance: &str) -> u64 {
    let mut n: Vec<u64> = getppids(seen)
        .iter()
        .filter(|s| s.instance == instance)
        .map(|s| s.sequence)
        .collect();
    n.sort_unstable();
    n.dedup();
    n.len() as u64
}

/// What rotel received, as the accounting sees it; polls (every second: the
/// dump is large) until `enough` holds or `timeout` passes.
fn received(rotels: &[&Rotel], timeout: Duration, enough: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
    let deadline = Instant::now() + timeout;
    loop {
        let records: Vec<Record> = rotels.iter().flat_map(|r| r.records()).collect();
        let seen = gaps::from_rotel(&records);
        if enough(&seen) || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The one run in `seen` (every record carries its run's instance id).
fn only_run(seen: &[Seen]) -> String {
    let mut ids: Vec<&str> = seen.iter().map(|s| s.instance.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1, "one run delivered: {ids:?}");
    ids[0].to_string()
}

fn accounting(seen: &[Seen], stage: &str, instance: &str) -> Accounting {
    gaps::account(seen, stage)
        .remove(instance)
        .unwrap_or_else(|| panic!("nothing of run {instance} was delivered"))
}

/// The segment files of an output's queue folder, oldest first.
fn segments(folder: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("listing {}: {e}", folder.display()))
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    segs
}

fn queued_bytes(folder: &Path) -> u64 {
    segments(folder)
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

fn summary_line<'a>(stopped: &'a Stopped, prefix: &str) -> &'a str {
    stopped
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in the summary:\n{}", stopped.stderr))
}

/// The number before `label` in the summary's `disk queue:` line.
fn disk_count(stopped: &Stopped, label: &str) -> u64 {
    let line = summary_line(stopped, "disk queue:");
    line.split(',')
        .find(|p| p.contains(label))
        .and_then(|p| p.split_whitespace().find_map(|w| w.parse().ok()))
        .unwrap_or_else(|| panic!("no `{label}` in `{line}`"))
}

/// The collector stopped for 30 s in the middle of a 200,000-event workload
/// (at 8,000 a second: 25 s), then started again on its port.
fn collector_outage(extra: &[&str]) -> (Stopped, OutputTotals, Vec<Seen>) {
    let (grpc, http) = (free_port(), free_port());
    let mut first = Rotel::start_on(grpc, http);
    let sysotel = otlp_sysotel(grpc, extra);
    let w = workload(200_000, 8_000);
    received(&[&first], Duration::from_secs(20), |s| !s.is_empty());
    first.stop();
    std::thread::sleep(Duration::from_secs(30));
    let second = Rotel::start_on(grpc, http);
    finish(w);
    // Everything read is delivered (or, without a disk queue, reported).
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let t = assert_accounted(&stopped, "otlp");
    let seen = received(&[&first, &second], Duration::from_secs(30), |s| {
        s.len() as u64 >= t.exported
    });
    (stopped, t, seen)
}

/// With a disk queue through an outage: nothing dropped, refused or left
/// behind, every one of `events` getppid arrived, no gap and nothing
/// reported lost. The run's accounting, for the test's own checks.
fn assert_loses_nothing(
    stopped: &Stopped,
    t: &OutputTotals,
    seen: &[Seen],
    stage: &str,
    events: u64,
) -> Accounting {
    assert_eq!(
        (t.dropped, t.rejected, t.kept),
        (0, 0, 0),
        "nothing dropped, rejected or left behind:\n{}",
        stopped.stderr
    );
    let run = only_run(seen);
    let acc = accounting(seen, stage, &run);
    assert_eq!(
        distinct_events(seen, &run),
        events,
        "every getppid arrived: {acc:?}"
    );
    assert!(acc.unaccounted.is_empty(), "no gap: {acc:?}");
    assert_eq!(acc.reported_lost, 0, "nothing reported lost: {acc:?}");
    acc
}

#[test]
fn collector_outage_with_a_disk_queue_loses_nothing() {
    let dir = queue_dir("outage-disk");
    let (stopped, t, seen) = collector_outage(&["--queue-dir", dir.to_str().unwrap_or_default()]);
    let acc = assert_loses_nothing(&stopped, &t, &seen, "output:otlp", 200_000);
    assert_eq!(
        acc.delivered,
        acc.last + 1,
        "every number from 0 arrived: {acc:?}"
    );
    // The collector was stopped, so a request it took but did not answer is
    // sent again: the only duplicates, at most the requests in flight.
    assert!(
        acc.duplicates <= OTLP_IN_FLIGHT_RECORDS,
        "duplicates within the stated bound: {acc:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn collector_outage_without_a_disk_queue_reports_every_gap() {
    let (stopped, t, seen) = collector_outage(&["--otlp-retry-max-elapsed", "2s"]);
    assert!(
        t.dropped > 0,
        "a 30 s outage outlasts the memory queue: {t:?}"
    );
    let run = only_run(&seen);
    let acc = accounting(&seen, "output:otlp", &run);
    // The receiver can account for every number: delivered + reported = all.
    assert!(
        acc.unaccounted.is_empty(),
        "every gap is named by a loss report: {acc:?}"
    );
    // A request the stopping collector took without answering is retried,
    // dropped when the budget is spent and reported: delivered and reported
    // both, at most the requests in flight.
    assert!(
        acc.delivered_and_reported <= OTLP_IN_FLIGHT_RECORDS,
        "delivered and reported lost, within the in-flight bound: {acc:?}"
    );
    assert_eq!(
        acc.delivered + acc.reported_lost - acc.delivered_and_reported,
        acc.last + 1,
        "delivered + reported lost = all: {acc:?}"
    );
    assert_eq!(
        acc.reported_lost,
        t.dropped + t.rejected,
        "the reports name exactly what the summary counts as dropped or refused whole:\n{}",
        stopped.stderr
    );
}

#[test]
fn kill_9_during_an_outage_then_restart_delivers_everything_written() {
    let dir = queue_dir("kill9-outage");
    let dir_arg = dir.to_str().unwrap_or_default().to_string();
    let (grpc, http) = (free_port(), free_port());
    // No collector at all for the first run.
    let sysotel = otlp_sysotel(grpc, &["--queue-dir", &dir_arg]);
    finish(workload(50_000, 10_000));
    // Read and written more than the sync interval (1 s) before the kill.
    std::thread::sleep(Duration::from_secs(2));
    let first_stderr = sysotel.kill9();
    assert!(
        queued_bytes(&dir.join("otlp")) > 0,
        "the queue holds the records:\n{first_stderr}"
    );
    let rotel = Rotel::start_on(grpc, http);
    let sysotel = otlp_sysotel(grpc, &["--queue-dir", &dir_arg]);
    sysotel.wait_stderr("left by an earlier run are sent first");
    let seen = received(&[&rotel], Duration::from_secs(60), |s| {
        getppids(s).len() >= 50_000
    });
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let t = assert_accounted(&stopped, "otlp");
    assert_eq!((t.dropped, t.kept), (0, 0), "{}", stopped.stderr);
    let run = only_run(&seen);
    let acc = accounting(&seen, "output:otlp", &run);
    assert_eq!(
        distinct_events(&seen, &run),
        50_000,
        "every getppid of the killed run arrived after the restart: {acc:?}"
    );
    assert!(acc.unaccounted.is_empty(), "no gap: {acc:?}");
    assert!(
        acc.duplicates <= OTLP_IN_FLIGHT_RECORDS,
        "duplicates within the stated bound: {acc:?}"
    );
    assert_eq!(
        disk_count(&stopped, "recovered"),
        acc.delivered,
        "the restart counted what it recovered:\n{}",
        stopped.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_with_a_healthy_collector_loses_nothing_read_before_the_sync_interval() {
    let dir = queue_dir("kill9-healthy");
    let dir_arg = dir.to_str().unwrap_or_default().to_string();
    let rotel = Rotel::start();
    let sysotel = otlp_sysotel(rotel.grpc_port, &["--queue-dir", &dir_arg]);
    finish(workload(100_000, 20_000));
    std::thread::sleep(Duration::from_millis(1500));
    sysotel.kill9();
    // The restart sends what the killed run had not had acknowledged.
    let sysotel = otlp_sysotel(rotel.grpc_port, &["--queue-dir", &dir_arg]);
    std::thread::sleep(Duration::from_secs(3));
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let seen = received(&[&rotel], Duration::from_secs(30), |s| {
        getppids(s).len() >= 100_000
    });
    let mut runs: Vec<&str> = seen.iter().map(|s| s.instance.as_str()).collect();
    runs.sort_unstable();
    runs.dedup();
    let killed = runs
        .iter()
        .find(|r| distinct_events(&seen, r) > 0)
        .map(|r| r.to_string())
        .unwrap_or_else(|| panic!("nothing of the killed run arrived"));
    let acc = accounting(&seen, "output:otlp", &killed);
    eprintln!("kill -9 with a healthy collector: {acc:?}");
    assert_eq!(
        distinct_events(&seen, &killed),
        100_000,
        "every getppid read 1.5 s before the kill arrived: {acc:?}"
    );
    assert!(acc.unaccounted.is_empty(), "no gap: {acc:?}");
    assert!(
        acc.duplicates <= OTLP_IN_FLIGHT_RECORDS,
        "duplicates within the stated bound ({OTLP_IN_FLIGHT_RECORDS}): {acc:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_last_segment_is_cut_at_the_last_whole_record() {
    let dir = queue_dir("torn");
    let dir_arg = dir.to_str().unwrap_or_default().to_string();
    let (grpc, http) = (free_port(), free_port());
    // Small batches: many frames, the last of them cut by the test.
    let batch = ["--otlp-batch-records", "500"];
    let mut args = vec!["--queue-dir", dir_arg.as_str()];
    args.extend(batch);
    let sysotel = otlp_sysotel(grpc, &args);
    finish(workload(20_000, 10_000));
    std::thread::sleep(Duration::from_secs(2));
    let stopped = sysotel.stop();
    let kept = assert_accounted(&stopped, "otlp").kept;
    assert!(
        kept >= 20_000,
        "the outage kept it all on disk:\n{}",
        stopped.stderr
    );
    // Cut the last segment in the middle of its last frame.
    let last = segments(&dir.join("otlp"))
        .into_iter()
        .rev()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .expect("a segment with frames");
    let len = std::fs::metadata(&last).expect("its length").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("open the segment");
    file.set_len(len - 100).expect("truncate the segment");
    drop(file);
    let rotel = Rotel::start_on(grpc, http);
    let sysotel = otlp_sysotel(grpc, &args);
    sysotel.wait_stderr("bytes of a torn or corrupt write were discarded");
    std::thread::sleep(Duration::from_secs(3));
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let discarded = disk_count(&stopped, "discarded");
    let recovered = disk_count(&stopped, "recovered");
    assert!(
        discarded > 0 && discarded < 500 * 1000,
        "the cut frame's remaining bytes were discarded: {}",
        stopped.stderr
    );
    // Every whole frame before the cut came back: one batch (at most 500
    // records) is missing, at the end.
    assert!(
        recovered < kept && recovered + 500 >= kept,
        "recovered {recovered} of {kept}: all but the cut frame:\n{}",
        stopped.stderr
    );
    let seen = received(&[&rotel], Duration::from_secs(30), |s| {
        s.len() as u64 >= recovered
    });
    let first_run: Vec<Seen> = {
        let second = seen
            .iter()
            .filter(|s| s.loss.is_some())
            .map(|s| s.instance.clone())
            .collect::<Vec<_>>();
        seen.iter()
            .filter(|s| !second.contains(&s.instance))
            .cloned()
            .collect()
    };
    let run = only_run(&first_run);
    let acc = accounting(&first_run, "output:otlp", &run);
    // Numbers 0 to recovered - 1 arrived, none missing between them: only
    // the cut frame, the last, is gone.
    assert_eq!(
        (acc.delivered, acc.last + 1),
        (recovered, recovered),
        "every record of the whole frames arrived: {acc:?}"
    );
    assert!(acc.unaccounted.is_empty(), "{acc:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(tag: &str, opts: &str) -> Tmpfs {
        let dir = queue_dir(tag);
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs -o {opts}: {status}");
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_full_file_system_drops_counted_as_disk_full_and_recovers() {
    let fs = Tmpfs::mount("tmpfs-full", "size=16m");
    let dir_arg = fs.0.to_str().unwrap_or_default().to_string();
    let (grpc, http) = (free_port(), free_port());
    let sysotel = otlp_sysotel(grpc, &["--queue-dir", &dir_arg, "-o", "json"]);
    // About 25 MB of OTLP: more than the 16 MiB file system holds.
    finish(workload(120_000, 15_000));
    sysotel.wait_json("every getppid read while the disk was full", |e| {
        e["event"] == "getppid" && e["sequence"].as_u64().is_some_and(|s| s >= 119_000)
    });
    let rotel = Rotel::start_on(grpc, http);
    // Once the collector is back, the queue drains and new records go out.
    finish(workload(1_000, 1_000));
    std::thread::sleep(Duration::from_secs(3));
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let t = assert_accounted(&stopped, "otlp");
    assert!(
        t.dropped_disk_full > 0,
        "the full file system dropped records, counted as disk full: {t:?}"
    );
    assert_eq!(t.kept, 0, "the queue drained: {t:?}");
    let json = assert_accounted(&stopped, "json");
    assert!(
        json.exported >= 121_000,
        "sysotel kept tracing while the disk was full: {json:?}"
    );
    let seen = received(&[&rotel], Duration::from_secs(30), |s| {
        s.len() as u64 >= t.exported
    });
    let run = only_run(&seen);
    let acc = accounting(&seen, "output:otlp", &run);
    assert!(acc.unaccounted.is_empty(), "every gap reported: {acc:?}");
    assert_eq!(acc.reported_lost, t.dropped + t.rejected, "{acc:?} {t:?}");
    let by_reason = seen.iter().any(|s| s.loss.is_some())
        && rotel.records().iter().any(|r| {
            r.event_name == "sysotel.loss" && r.attributes.values().any(|v| v.contains("disk_full"))
        });
    assert!(by_reason, "a loss record names disk_full");
    assert!(
        distinct_events(&seen, &run) > 1_000,
        "the records after the recovery arrived: {acc:?}"
    );
}

#[test]
fn a_queue_dir_in_use_or_not_writable_is_exit_2() {
    let dir = queue_dir("locked");
    let dir_arg = dir.to_str().unwrap_or_default().to_string();
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    // A sysotel on `dir`: exits 2; what it said.
    let refused = |dir: &str| {
        let args = [
            "-o",
            "otlp",
            "--otlp-endpoint",
            &endpoint,
            "--queue-dir",
            dir,
        ];
        let out = run_sysotel(&args, &[]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        err
    };
    let holder = otlp_sysotel(port, &["--queue-dir", &dir_arg]);
    let err = refused(&dir_arg);
    assert!(
        err.contains(&format!("pid {}", holder.pid())) && err.contains(&dir_arg),
        "names the other sysotel's pid and the dir: {err}"
    );
    drop(holder);

    let ro = Tmpfs::mount("readonly", "ro,size=1m");
    let ro_arg = ro.0.to_str().unwrap_or_default().to_string();
    let err = refused(&ro_arg);
    assert!(
        err.contains(&ro_arg) && err.contains("Read-only"),
        "says the dir cannot be written: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The documents of a `json`-encoded topic.
fn kafka_docs(brokers: &str, topic: &str, n: u64) -> Vec<Seen> {
    let messages = consume(brokers, topic, Duration::from_secs(90), |ms| {
        ms.len() as u64 >= n
    });
    let docs: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| serde_json::from_slice(&m.payload).expect("a JSON document"))
        .collect();
    gaps::from_json_docs(&docs)
}

/// The broker (tansu, its topics in S3) killed for 30 s in the middle of a
/// 100,000-event workload (at 5,000 a second: 20 s), then started again on
/// its port, and 1,000 events more; sysotel ships `json` documents with
/// `extra` flags.
fn kafka_outage(extra: &[&str]) -> (Stopped, OutputTotals, Vec<Seen>) {
    let tansu = std::cell::RefCell::new(Tansu::start_persistent());
    let brokers = tansu.borrow().brokers();
    let topic = format!("durable-{}-{}", std::process::id(), extra.len());
    tansu.borrow().create_topic(&topic);
    let mut args = vec![
        "-o",
        "kafka",
        "--kafka-brokers",
        &brokers,
        "--kafka-topic",
        &topic,
        "--kafka-encoding",
        "json",
        "-e",
        "getppid",
        "--scope",
        "comm=workload",
        "--shutdown-timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    let sysotel = Sysotel::start(&args);
    let w = workload(100_000, 5_000);
    std::thread::sleep(Duration::from_secs(2));
    tansu.borrow_mut().kill();
    std::thread::sleep(Duration::from_secs(30));
    tansu.borrow_mut().restart();
    finish(w);
    // Deliveries have resumed (librdkafka reconnects with its own backoff)
    // when 1,000 calls made now arrive: the loss reports go out too.
    finish(workload(1_000, 1_000));
    consume(&brokers, &topic, Duration::from_secs(90), |ms| {
        ms.iter().any(|m| {
            serde_json::from_slice::<serde_json::Value>(&m.payload)
                .is_ok_and(|d| d["sysotel.sequence"].as_u64() >= Some(100_000))
        })
    });
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let t = assert_accounted(&stopped, "kafka");
    let seen = kafka_docs(&brokers, &topic, t.exported);
    (stopped, t, seen)
}

#[test]
fn kafka_broker_down_30s_with_a_disk_queue_loses_nothing() {
    let dir = queue_dir("kafka-outage");
    let dir_arg = dir.to_str().unwrap_or_default().to_string();
    let (stopped, t, seen) = kafka_outage(&["--queue-dir", &dir_arg]);
    assert_loses_nothing(&stopped, &t, &seen, "output:kafka", 101_000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kafka_broker_down_30s_without_a_disk_queue_reports_every_gap() {
    // librdkafka holds what it cannot deliver for message.timeout.ms: 5 s
    // here, so the outage costs records. (Without idempotence: tansu fences
    // an idempotent producer whose messages timed out, and every later
    // delivery, loss reports included, would fail.)
    let (stopped, t, seen) = kafka_outage(&[
        "--kafka-property",
        "message.timeout.ms=5000",
        "--kafka-property",
        "enable.idempotence=false",
    ]);
    assert!(t.dropped > 0, "the outage outlasted the timeout: {t:?}");
    let run = only_run(&seen);
    let acc = accounting(&seen, "output:kafka", &run);
    assert!(
        acc.unaccounted.is_empty(),
        "every gap is named by a loss report: {acc:?}"
    );
    assert_eq!(acc.delivered_and_reported, 0, "{acc:?}");
    assert_eq!(
        acc.delivered + acc.reported_lost,
        acc.last + 1,
        "delivered + reported lost = all: {acc:?}"
    );
    assert_eq!(
        acc.reported_lost,
        t.dropped + t.rejected,
        "the reports name exactly what the summary counts as dropped or refused whole:\n{}",
        stopped.stderr
    );
}
