//! Kafka export end to end, against real brokers: tansu (a Kafka-compatible
//! broker) and librdkafka's own mock cluster. Every encoding is read back
//! with an rdkafka consumer and checked field by field.

use std::{process::Command, time::Duration};

use opentelemetry_proto::tonic::{
    collector::logs::v1::ExportLogsServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value::Value as Any},
    logs::v1::LogRecord,
};
use prost::Message as _;
use rdkafka::{
    mocking::MockCluster,
    producer::DefaultProducerContext,
    types::{RDKafkaApiKey, RDKafkaRespErr},
};
use serde_json::Value as Json;
use sysotel_tests::{
    Opened, Sysotel, assert_all_exported, assert_none_delivered, fixture_report, hostname,
    kafka::{Consumed, Tansu, consume},
    run_basic_fixture, unique_path,
};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

/// One broker test at a time: a mock cluster lives in this test process, and
/// its broker did not come back from `broker_down` while another test's
/// tansu and consumer ran beside it.
static BROKERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    BROKERS.lock().unwrap_or_else(|p| p.into_inner())
}
const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");

/// The fixture opens a unique existing path and a missing one.
fn run_fixture() -> Opened {
    run_basic_fixture(FIXTURE, "kafka")
}

/// The fixture's `kinds` mode, which sends itself SIGUSR1: with `-e kill`
/// little else on the machine is traced. Returns its pid.
fn run_kill_fixture() -> u64 {
    let file = unique_path("kafka-kinds");
    let out = Command::new(FIXTURE)
        .args(["kinds", &file])
        .output()
        .expect("run fixture");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "the fixture failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    fixture_report(&out.stdout)["pid"].parse().expect("pid")
}

/// How many `kill` documents of process `pid` the messages hold.
fn kills_of(messages: &[Consumed], pid: u64) -> usize {
    messages
        .iter()
        .filter_map(|m| serde_json::from_slice::<Json>(&m.payload).ok())
        .filter(|d| d["sysotel.event.name"] == "kill" && d["process.pid"] == pid)
        .count()
}

/// sysotel with `-o kafka` to `brokers`, topic `topic`, and `extra` flags.
fn start_kafka(brokers: &str, topic: &str, extra: &[&str]) -> Sysotel {
    let mut args = vec![
        "-o",
        "kafka",
        "--kafka-brokers",
        brokers,
        "--kafka-topic",
        topic,
    ];
    args.extend_from_slice(extra);
    Sysotel::start(&args)
}

/// A one-broker librdkafka mock cluster with a one-partition topic.
fn mock_topic(tag: &str) -> (MockCluster<'static, DefaultProducerContext>, String) {
    let mock = MockCluster::new(1).expect("a mock cluster");
    let t = topic(tag);
    mock.create_topic(&t, 1, 1).expect("a topic");
    (mock, t)
}

/// A mock cluster whose next `n` produce requests fail with `error`, and
/// sysotel producing kills to it with `extra` flags (idempotence off: the
/// refusals are not retried by librdkafka).
fn refusing_broker(
    tag: &str,
    error: RDKafkaRespErr,
    n: usize,
    extra: &[&str],
) -> (
    MockCluster<'static, DefaultProducerContext>,
    String,
    Sysotel,
) {
    let (mock, t) = mock_topic(tag);
    mock.request_errors(RDKafkaApiKey::Produce, &vec![error; n]);
    let mut args = vec!["-e", "kill", "--kafka-property", "enable.idempotence=false"];
    args.extend_from_slice(extra);
    let sysotel = start_kafka(&mock.bootstrap_servers(), &t, &args);
    (mock, t, sysotel)
}

fn decode_proto(payload: &[u8]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest::decode(payload).expect("an ExportLogsServiceRequest")
}

/// Log records in messages of an OTLP encoding.
fn record_count(ms: &[Consumed], decode: fn(&[u8]) -> ExportLogsServiceRequest) -> u64 {
    ms.iter()
        .map(|m| records(&decode(&m.payload)).len() as u64)
        .sum()
}

fn topic(tag: &str) -> String {
    format!("sysotel-{tag}-{}", std::process::id())
}

fn header(m: &Consumed, key: &str) -> String {
    String::from_utf8_lossy(m.header(key).unwrap_or_default()).into_owned()
}

// ---- OTLP encodings ----

fn records(req: &ExportLogsServiceRequest) -> Vec<&LogRecord> {
    req.resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .collect()
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Any> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|AnyValue { value }| value.as_ref())
}

fn str_attr(r: &LogRecord, key: &str) -> Option<String> {
    match attr(&r.attributes, key) {
        Some(Any::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int_attr(r: &LogRecord, key: &str) -> Option<i64> {
    match attr(&r.attributes, key) {
        Some(Any::IntValue(i)) => Some(*i),
        _ => None,
    }
}

/// Traces the fixture with `-o kafka` in an OTLP encoding and checks its
/// events as decoded from the topic.
fn check_otlp(encoding: &str, decode: fn(&[u8]) -> ExportLogsServiceRequest, content_type: &str) {
    let tansu = Tansu::start();
    let t = topic(encoding);
    let sysotel = start_kafka(&tansu.brokers(), &t, &["--kafka-encoding", encoding]);
    let o = run_fixture();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let totals = assert_all_exported(&stopped, "kafka");

    let count = |ms: &[Consumed]| record_count(ms, decode);
    let messages = consume(&tansu.brokers(), &t, Duration::from_secs(20), |ms| {
        count(ms) >= totals.exported
    });
    assert_eq!(
        count(&messages),
        totals.exported,
        "every exported record is in the topic, once"
    );
    let host = hostname();
    for m in &messages {
        assert_eq!(header(m, "content-type"), content_type);
        assert_eq!(m.key.as_deref(), Some(host.as_bytes()), "keyed by host");
    }
    let requests: Vec<ExportLogsServiceRequest> =
        messages.iter().map(|m| decode(&m.payload)).collect();
    let resource = requests[0].resource_logs[0]
        .resource
        .as_ref()
        .expect("a resource");
    assert_eq!(
        attr(&resource.attributes, "host.name"),
        Some(&Any::StringValue(host.clone()))
    );
    assert_eq!(
        attr(&resource.attributes, "service.name"),
        Some(&Any::StringValue("sysotel".into()))
    );
    let all: Vec<&LogRecord> = requests.iter().flat_map(records).collect();
    let open = all
        .iter()
        .find(|r| str_attr(r, "file.path").as_deref() == Some(o.existing.as_str()))
        .expect("the fixture's openat");
    assert_eq!(open.event_name, "sysotel.syscall.openat");
    assert_eq!(int_attr(open, "process.pid"), Some(o.pid as i64));
    assert_eq!(
        int_attr(open, "process.parent_pid"),
        Some(std::process::id() as i64)
    );
    assert_eq!(int_attr(open, "sysotel.return_value"), Some(o.fd));
    assert_eq!(str_attr(open, "thread.name").as_deref(), Some("fixture"));
    assert_eq!(
        str_attr(open, "sysotel.arg.flags").as_deref(),
        Some("O_RDONLY")
    );
    assert_eq!(str_attr(open, "error.type"), None);
    assert_eq!(open.severity_number, 9);
    let failed = all
        .iter()
        .find(|r| str_attr(r, "file.path").as_deref() == Some(o.missing.as_str()))
        .expect("the failed openat");
    assert_eq!(str_attr(failed, "error.type").as_deref(), Some("ENOENT"));
    assert_eq!(int_attr(failed, "sysotel.return_value"), Some(-2));
    let exit = all
        .iter()
        .find(|r| {
            r.event_name == "sysotel.sched.sched_process_exit"
                && int_attr(r, "process.pid") == Some(o.pid as i64)
        })
        .expect("the fixture's exit");
    assert_eq!(int_attr(exit, "process.exit.code"), Some(0));
}

#[test]
fn otlp_proto_batches_decode_as_export_requests() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    check_otlp("otlp_proto", decode_proto, "application/x-protobuf");
}

#[test]
fn otlp_json_batches_decode_as_export_requests() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    check_otlp(
        "otlp_json",
        |b| serde_json::from_slice(b).expect("an OTLP/JSON ExportLogsServiceRequest"),
        "application/json",
    );
}

// ---- Per-event encodings ----

/// Traces the fixture with a per-event encoding; returns its documents, the
/// messages and what the fixture did.
fn per_event(encoding: &str, extra: &[&str]) -> (Vec<Json>, Vec<Consumed>, Opened) {
    let tansu = Tansu::start();
    let t = topic(encoding);
    let brokers = tansu.brokers();
    let mut args = vec!["--kafka-encoding", encoding];
    args.extend_from_slice(extra);
    let sysotel = start_kafka(&brokers, &t, &args);
    let o = run_fixture();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let totals = assert_all_exported(&stopped, "kafka");
    let messages = consume(&brokers, &t, Duration::from_secs(20), |ms| {
        ms.len() as u64 >= totals.exported
    });
    assert_eq!(
        messages.len() as u64,
        totals.exported,
        "one message per event"
    );
    let docs = messages
        .iter()
        .map(|m| {
            assert_eq!(header(m, "content-type"), "application/json");
            serde_json::from_slice(&m.payload).expect("a JSON document")
        })
        .collect();
    (docs, messages, o)
}

fn is_rfc3339_ns(s: &str) -> bool {
    // 2026-11-28T21:48:06.123456789Z
    let b = s.as_bytes();
    b.len() == 30
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[29] == b'Z'
        && s.starts_with("20")
}

#[test]
fn json_is_one_flat_document_per_event() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    let (docs, messages, o) = per_event("json", &[]);
    let host = hostname();
    for m in &messages {
        assert_eq!(m.key.as_deref(), Some(host.as_bytes()), "keyed by host");
    }
    let open = docs
        .iter()
        .find(|d| d["file.path"] == o.existing.as_str())
        .expect("the fixture's openat");
    assert!(
        is_rfc3339_ns(open["@timestamp"].as_str().unwrap_or("")),
        "{open}"
    );
    assert_eq!(open["event.name"], "sysotel.syscall.openat");
    assert_eq!(open["sysotel.event.name"], "openat");
    assert_eq!(open["process.pid"], o.pid);
    assert_eq!(open["thread.id"], o.pid);
    assert_eq!(open["process.parent_pid"], std::process::id());
    assert_eq!(open["thread.name"], "fixture");
    assert_eq!(open["sysotel.return_value"], o.fd);
    assert_eq!(open["sysotel.arg.flags"], "O_RDONLY");
    assert_eq!(open["sysotel.arg.dfd"], -100);
    assert_eq!(open["severity"], "INFO");
    assert_eq!(open["host.name"], host.as_str());
    assert_eq!(open["service.name"], "sysotel");
    assert!(open.get("error.type").is_none(), "{open}");
    let body = open["body"].as_str().expect("a body");
    assert!(
        body.starts_with("openat(dfd: AT_FDCWD, filename: ")
            && body.ends_with(&format!(" = {}", o.fd)),
        "{body}"
    );
    let failed = docs
        .iter()
        .find(|d| d["file.path"] == o.missing.as_str())
        .expect("the failed openat");
    assert_eq!(failed["error.type"], "ENOENT");
    assert_eq!(failed["sysotel.return_value"], -2);
    let exec = docs
        .iter()
        .find(|d| {
            d["event.name"] == "sysotel.sched.sched_process_exec"
                && d["process.parent_pid"] == o.pid
        })
        .expect("the fixture child's exec");
    assert_eq!(exec["process.executable.path"], "/bin/true");
    assert_eq!(
        exec["process.command_args"],
        serde_json::json!(["/bin/true", "arg one", "x"])
    );
    assert_eq!(exec["process.args_count"], 3);
}

#[test]
fn ecs_documents_need_no_ingest_pipeline() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    let (docs, messages, o) = per_event("ecs", &["--kafka-key", "pid"]);
    for (m, d) in messages.iter().zip(&docs) {
        let pid = d["process"]["pid"].to_string();
        assert_eq!(m.key.as_deref(), Some(pid.as_bytes()), "keyed by pid");
    }
    let open = docs
        .iter()
        .find(|d| d["file"]["path"] == o.existing.as_str())
        .expect("the fixture's openat");
    assert!(
        is_rfc3339_ns(open["@timestamp"].as_str().unwrap_or("")),
        "{open}"
    );
    assert_eq!(open["ecs"]["version"], "8.17.0");
    assert_eq!(open["event"]["kind"], "event");
    assert_eq!(open["event"]["category"], serde_json::json!(["file"]));
    assert_eq!(open["event"]["type"], serde_json::json!(["access"]));
    assert_eq!(open["event"]["action"], "openat");
    assert_eq!(open["event"]["outcome"], "success");
    assert_eq!(open["event"]["dataset"], "sysotel.syscall.openat");
    assert_eq!(open["process"]["pid"], o.pid);
    assert_eq!(open["process"]["thread"]["id"], o.pid);
    assert_eq!(open["process"]["parent"]["pid"], std::process::id());
    assert_eq!(open["process"]["name"], "fixture");
    assert_eq!(open["user"]["id"], "0");
    assert_eq!(open["group"]["id"], "0");
    assert_eq!(open["host"]["name"], hostname().as_str());
    assert_eq!(open["host"]["os"]["type"], "linux");
    assert_eq!(open["agent"]["type"], "sysotel");
    assert_eq!(open["sysotel"]["return_value"], o.fd);
    assert_eq!(open["sysotel"]["args"]["flags"], "O_RDONLY");
    assert!(
        open["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("openat(")
    );
    assert!(open.get("error").is_none());
    let failed = docs
        .iter()
        .find(|d| d["file"]["path"] == o.missing.as_str())
        .expect("the failed openat");
    assert_eq!(failed["event"]["outcome"], "failure");
    assert_eq!(failed["error"]["code"], "ENOENT");
    let exec = docs
        .iter()
        .find(|d| {
            d["event"]["action"] == "sched_process_exec" && d["process"]["parent"]["pid"] == o.pid
        })
        .expect("the fixture child's exec");
    assert_eq!(exec["event"]["category"], serde_json::json!(["process"]));
    assert_eq!(exec["event"]["type"], serde_json::json!(["start"]));
    assert_eq!(exec["process"]["executable"], "/bin/true");
    assert_eq!(exec["process"]["name"], "true");
    assert_eq!(
        exec["process"]["args"],
        serde_json::json!(["/bin/true", "arg one", "x"])
    );
    assert_eq!(exec["process"]["args_count"], 3);
    let exit = docs
        .iter()
        .find(|d| d["event"]["action"] == "sched_process_exit" && d["process"]["pid"] == o.pid)
        .expect("the fixture's exit");
    assert_eq!(exit["event"]["type"], serde_json::json!(["end"]));
    assert_eq!(exit["process"]["exit_code"], 0);
}

// ---- Delivery ----

/// What sysotel logs (once) when librdkafka reports its brokers gone.
const BROKER_DOWN: &str = "sysotel: kafka: ";

/// The broker is down when sysotel starts: sysotel traces anyway, and what
/// it produced meanwhile is delivered once the broker comes up. (The broker is
/// librdkafka's mock cluster, in this test's process: a broker started after
/// sysotel would be traced by it, and its own traffic would feed the topic.)
#[test]
fn broker_unreachable_at_start() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    let (mock, t) = mock_topic("late");
    mock.broker_down(1).expect("broker down");
    let mut sysotel = start_kafka(
        &mock.bootstrap_servers(),
        &t,
        &[
            "--kafka-encoding",
            "json",
            "-e",
            "kill",
            "--shutdown-timeout",
            "30s",
        ],
    );
    let early = run_kill_fixture();
    // The outage is real: librdkafka cannot reach the broker, and sysotel
    // says so (once).
    sysotel.wait_stderr(BROKER_DOWN);
    assert!(sysotel.alive(), "sysotel must trace without its broker");
    mock.broker_up(1).expect("broker up");
    let late = run_kill_fixture();
    // Shutdown waits for every delivery report (librdkafka connects with
    // its own backoff), so the summary says what the broker acknowledged.
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let totals = assert_all_exported(&stopped, "kafka");
    let messages = consume(
        &mock.bootstrap_servers(),
        &t,
        Duration::from_secs(60),
        |ms| ms.len() as u64 >= totals.exported,
    );
    assert_eq!(messages.len() as u64, totals.exported);
    assert!(
        kills_of(&messages, early) == 1 && kills_of(&messages, late) == 1,
        "events from before and after the broker came up are delivered once:\n{}",
        stopped.stderr
    );
}

/// sysotel traces kills to `brokers` (topic `t`) while the broker goes away
/// (`down`) and comes back (`up`): the kill made before the outage is read
/// from the topic before it; the outage is real (sysotel logs the lost
/// broker) before the kill made during it; after it comes back, every
/// exported record is in the topic once, the three kills among them. `log`
/// tells what the broker said, for a failure.
fn outage_mid_run(
    brokers: &str,
    t: &str,
    down: impl FnOnce(),
    up: impl FnOnce(),
    log: impl Fn() -> String,
) {
    let mut sysotel = start_kafka(
        brokers,
        t,
        &[
            "--kafka-encoding",
            "json",
            "-e",
            "kill",
            "--shutdown-timeout",
            "60s",
        ],
    );
    let before = run_kill_fixture();
    let delivered = consume(brokers, t, Duration::from_secs(30), |ms| {
        kills_of(ms, before) > 0
    });
    assert_eq!(
        kills_of(&delivered, before),
        1,
        "delivered before the outage"
    );
    assert!(
        !sysotel.stderr_so_far().contains(BROKER_DOWN),
        "{}",
        sysotel.stderr_so_far()
    );
    down();
    // The outage is real: sysotel lost its broker and says so.
    sysotel.wait_stderr(BROKER_DOWN);
    let during = run_kill_fixture();
    assert!(
        sysotel.alive(),
        "sysotel must keep tracing without its broker"
    );
    up();
    let after = run_kill_fixture();
    // Shutdown waits for every delivery report (librdkafka reconnects with
    // its own backoff), so the summary says what the broker acknowledged.
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let totals = assert_all_exported(&stopped, "kafka");
    let messages = consume(brokers, t, Duration::from_secs(120), |ms| {
        ms.len() as u64 >= totals.exported
    });
    assert_eq!(
        messages.len() as u64,
        totals.exported,
        "every delivered record is in the topic, once:\n{}\n{}",
        stopped.stderr,
        log()
    );
    for pid in [before, during, after] {
        assert_eq!(
            kills_of(&messages, pid),
            1,
            "the kill of {pid} delivered exactly once:\n{}",
            stopped.stderr
        );
    }
}

/// The mock cluster's only broker goes down mid-run and comes back, with
/// sysotel's default (idempotent) producer.
#[test]
fn broker_down_and_up_with_the_default_producer() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    let (mock, t) = mock_topic("down-up");
    outage_mid_run(
        &mock.bootstrap_servers(),
        &t,
        || mock.broker_down(1).expect("broker down"),
        || mock.broker_up(1).expect("broker up"),
        String::new,
    );
}

/// A real broker (tansu) killed mid-run and started again on the same port,
/// with its topics and producer state in S3 (moto). (With memory storage a
/// restart forgets the producer ids, and librdkafka's idempotent producer,
/// sysotel's default, then fails every later delivery with
/// UnknownProducerId; see the README.)
#[test]
fn real_broker_restarted_mid_run() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    let tansu = std::cell::RefCell::new(Tansu::start_persistent());
    let t = topic("restart");
    let brokers = tansu.borrow().brokers();
    outage_mid_run(
        &brokers,
        &t,
        || tansu.borrow_mut().kill(),
        || tansu.borrow_mut().restart(),
        || tansu.borrow().log(),
    );
}

#[test]
fn batches_stay_under_the_message_limit() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    let tansu = Tansu::start();
    let t = topic("split");
    let path = unique_path("kafka-split");
    std::fs::write(&path, b"x").expect("create");
    let sysotel = start_kafka(
        &tansu.brokers(),
        &t,
        &[
            "--kafka-property",
            "message.max.bytes=20000",
            "-e",
            "openat",
        ],
    );
    let out = Command::new(WORKLOAD)
        .args(["open", "2000", &path])
        .output()
        .expect("workload");
    assert!(out.status.success());
    let stopped = sysotel.stop();
    let _ = std::fs::remove_file(&path);
    let totals = assert_all_exported(&stopped, "kafka");
    let count = |ms: &[Consumed]| record_count(ms, decode_proto);
    let messages = consume(&tansu.brokers(), &t, Duration::from_secs(20), |ms| {
        count(ms) >= totals.exported
    });
    assert_eq!(count(&messages), totals.exported);
    assert!(totals.exported >= 2000, "{}", stopped.stderr);
    assert!(messages.len() >= 10, "{} messages", messages.len());
    for m in &messages {
        assert!(
            m.payload.len() <= 20000,
            "a {} byte message",
            m.payload.len()
        );
    }
}

/// librdkafka's mock cluster refuses the first produce requests as too large:
/// sysotel splits the batches and every record still arrives, once.
#[test]
fn refused_batches_are_split_not_lost() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    let (mock, t, sysotel) = refusing_broker(
        "refused",
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
        2,
        &["--kafka-batch-age", "2s"],
    );
    // Four kills in one batch: refused twice, it still splits down to
    // messages the broker takes.
    let pids: Vec<u64> = (0..4).map(|_| run_kill_fixture()).collect();
    let stopped = sysotel.stop();
    let totals = assert_all_exported(&stopped, "kafka");
    let count = |ms: &[Consumed]| record_count(ms, decode_proto);
    let messages = consume(
        &mock.bootstrap_servers(),
        &t,
        Duration::from_secs(20),
        |ms| count(ms) >= totals.exported,
    );
    assert_eq!(count(&messages), totals.exported, "{}", stopped.stderr);
    assert!(messages.len() >= 2, "the refused batch went out split");
    let kills: Vec<i64> = messages
        .iter()
        .flat_map(|m| {
            let req = decode_proto(&m.payload);
            records(&req)
                .into_iter()
                .filter(|r| str_attr(r, "sysotel.event.name").as_deref() == Some("kill"))
                .filter_map(|r| int_attr(r, "process.pid"))
                .collect::<Vec<_>>()
        })
        .collect();
    for pid in pids {
        assert_eq!(
            kills.iter().filter(|p| **p == pid as i64).count(),
            1,
            "the kill of {pid} delivered exactly once"
        );
    }
}

/// Delivery that fails for good is counted by error, never lost silently.
#[test]
fn failed_deliveries_are_counted_by_error() {
    sysotel_tests::require_root();
    let _brokers = one_at_a_time();
    // More refusals than this test can produce messages.
    let (_mock, _t, sysotel) = refusing_broker(
        "denied",
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        1000,
        &["--kafka-encoding", "json"],
    );
    run_kill_fixture();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let totals = assert_none_delivered(&stopped, "kafka");
    assert_eq!(
        totals.dropped_failed, totals.produced,
        "every delivery failed, and each is counted:\n{}",
        stopped.stderr
    );
    assert!(
        stopped.stderr.contains(&format!(
            "failed by error: TopicAuthorizationFailed={}",
            totals.produced
        )),
        "{}",
        stopped.stderr
    );
}

// ---- Bad settings ----

fn usage_error(args: &[&str]) -> String {
    sysotel_tests::usage_error(args, &[])
}

#[test]
fn bad_kafka_settings_exit_2_naming_the_setting() {
    let e = usage_error(&["-o", "kafka", "--kafka-encoding", "avro"]);
    assert!(
        e.contains("--kafka-encoding: unknown encoding `avro` (expected one of otlp_proto, otlp_json, json, ecs)"),
        "{e}"
    );
    let e = usage_error(&["-o", "kafka", "--kafka-property", "no.such.thing=1"]);
    assert!(
        e.contains(
            "--kafka-property no.such.thing=1: No such configuration property: \"no.such.thing\""
        ),
        "{e}"
    );
    let e = usage_error(&["-o", "kafka", "--kafka-property", "acks=sometimes"]);
    assert!(e.contains("--kafka-property acks=sometimes: "), "{e}");
    let e = usage_error(&["-o", "kafka", "--kafka-brokers", ""]);
    assert!(
        e.contains("--kafka-brokers: the broker list is empty"),
        "{e}"
    );
    let e = usage_error(&["-o", "kafka", "--kafka-key", "pid"]);
    assert!(e.contains("--kafka-key: `pid` keys each event"), "{e}");
}
