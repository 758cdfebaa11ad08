//! OTLP export end to end, against rotel (a real OpenTelemetry collector):
//! every protocol, the mapping's exact values, collector outages, bad settings.

use std::{process::Command, time::Duration};

use sysotel_tests::{
    Opened, Stopped, Sysotel, assert_accounted, assert_all_exported, assert_none_delivered,
    hostname,
    rotel::{Record, Rotel, free_port},
    run_basic_fixture,
};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

/// The fixture opens a unique existing path and a missing one.
fn run_fixture() -> Opened {
    run_basic_fixture(FIXTURE, "otlp")
}

/// Waits until rotel has a record matching `pred` (batches leave on a timer).
/// Waits for a record at rotel: long enough for a batch that met the
/// collector down to come through its next retry (the delay doubles up to
/// 10 s) on a machine busy with other work.
fn wait_for(rotel: &Rotel, what: &str, pred: impl Fn(&Record) -> bool) -> Record {
    sysotel_tests::wait_for(
        &format!("rotel to receive {what}"),
        Duration::from_secs(30),
        || rotel.records().into_iter().find(|r| pred(r)),
    )
}

/// Every record the OTLP output was handed was exported, and the collector
/// holds exactly that many: none lost or duplicated on the way (a protocol,
/// a retry's resend, a request split).
fn assert_delivered_once(stopped: &Stopped, rotel: &Rotel) {
    let t = assert_all_exported(stopped, "otlp");
    assert!(t.exported > 0, "nothing exported:\n{}", stopped.stderr);
    let received = rotel.wait_records(t.exported).len() as u64;
    assert_eq!(
        received, t.exported,
        "the collector received every exported record, once:\n{}",
        stopped.stderr
    );
}

fn check_protocol(protocol: &str) {
    let rotel = Rotel::start();
    let url = if protocol == "grpc" {
        rotel.grpc_url()
    } else {
        rotel.http_url()
    };
    // Small batches: every run makes many requests on one connection (a
    // transport that answered only the first lost the rest). Time enough for
    // a slow collector: the test is about every record arriving once.
    let sysotel = Sysotel::start(&[
        "-o",
        "otlp",
        "--otlp-endpoint",
        &url,
        "--otlp-protocol",
        protocol,
        "--otlp-batch-records",
        "8",
        "--shutdown-timeout",
        "30s",
    ]);
    let o = run_fixture();
    let ok_path = format!("Str({})", o.existing);
    // The syscall's record (an LSM file-open record has the same path).
    let open = wait_for(&rotel, "the fixture's openat", |r| {
        r.attr("file.path") == Some(&ok_path) && r.event_name == "sysotel.syscall.openat"
    });
    let missing_path = format!("Str({})", o.missing);
    let failed = wait_for(&rotel, "the failed openat", |r| {
        r.attr("file.path") == Some(&missing_path)
    });
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);

    assert_eq!(open.event_name, "sysotel.syscall.openat", "{protocol}");
    assert_eq!(
        open.attr("process.pid"),
        Some(format!("Int({})", o.pid).as_str()),
        "{protocol}"
    );
    assert_eq!(
        open.attr("process.parent_pid"),
        Some(format!("Int({})", std::process::id()).as_str()),
        "{protocol}"
    );
    assert_eq!(
        open.attr("sysotel.return_value"),
        Some(format!("Int({})", o.fd).as_str()),
        "{protocol}"
    );
    assert_eq!(open.attr("sysotel.event.name"), Some("Str(openat)"));
    assert_eq!(open.attr("thread.name"), Some("Str(fixture)"));
    assert_eq!(open.attr("sysotel.arg.flags"), Some("Str(O_RDONLY)"));
    assert_eq!(
        open.attr("error.type"),
        None,
        "a successful open has no error.type"
    );
    assert_eq!(open.severity_text, "INFO");
    assert!(
        open.severity_number.contains("(9)"),
        "{}",
        open.severity_number
    );
    assert!(
        open.body
            .starts_with("Str(openat(dfd: AT_FDCWD, filename: \"")
            && open.body.ends_with(&format!(") = {})", o.fd)),
        "body: {}",
        open.body
    );
    assert!(
        // Between the fixture's start and its exit (an emulated arm64 guest
        // can take seconds to exec it), give or take 100 ms for the boot
        // clock's offset, measured once at start-up.
        (o.at_ns - 100_000_000..=o.done_ns + 100_000_000).contains(&open.timestamp),
        "{protocol}: Timestamp {} is not between the fixture's start {} and exit {}",
        open.timestamp,
        o.at_ns,
        o.done_ns
    );
    assert!(
        open.observed >= open.timestamp,
        "observed before the event: {open:?}"
    );
    for (k, v) in [
        ("service.name", "Str(sysotel)".to_string()),
        ("host.name", format!("Str({})", hostname())),
        ("os.type", "Str(linux)".to_string()),
        ("host.arch", format!("Str({})", sysotel_tests::HOST_ARCH)),
        (
            "service.version",
            format!("Str({})", env!("CARGO_PKG_VERSION")),
        ),
    ] {
        assert_eq!(open.resource.get(k), Some(&v), "{protocol}: resource {k}");
    }
    for k in ["service.instance.id", "host.id", "os.version"] {
        assert!(
            open.resource.contains_key(k),
            "{protocol}: resource lacks {k}"
        );
    }
    assert_eq!(failed.attr("error.type"), Some("Str(ENOENT)"), "{protocol}");
    assert_eq!(
        failed.attr("sysotel.return_value"),
        Some("Int(-2)"),
        "{protocol}"
    );
    assert_delivered_once(&stopped, &rotel);
}

#[test]
fn grpc_delivers_exact_records() {
    check_protocol("grpc");
}

#[test]
fn http_protobuf_delivers_exact_records() {
    check_protocol("http/protobuf");
}

#[test]
fn http_json_delivers_exact_records() {
    check_protocol("http/json");
}

#[test]
fn resource_attributes_from_the_environment() {
    let rotel = Rotel::start();
    // SAFETY (test): the variables are read by the child sysotel only.
    let sysotel = Sysotel::start_with_env(
        &[
            "-o",
            "otlp",
            "-e",
            "openat",
            "--otlp-protocol",
            "grpc",
            "--shutdown-timeout",
            "30s",
        ],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &rotel.grpc_url()),
            ("OTEL_SERVICE_NAME", "edge-tracer"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=test,service.name=ignored",
            ),
        ],
    );
    let o = run_fixture();
    let path = format!("Str({})", o.existing);
    let r = wait_for(&rotel, "the openat", |r| r.attr("file.path") == Some(&path));
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(
        r.resource.get("service.name").map(String::as_str),
        Some("Str(edge-tracer)")
    );
    assert_eq!(
        r.resource.get("deployment.environment").map(String::as_str),
        Some("Str(test)")
    );
    assert_delivered_once(&stopped, &rotel);
}

#[test]
fn collector_down_at_start_then_up() {
    let (grpc, http) = (free_port(), free_port());
    let sysotel = Sysotel::start(&[
        "-o",
        "otlp",
        "--otlp-endpoint",
        &format!("http://127.0.0.1:{http}"),
        "-e",
        "openat",
        "--shutdown-timeout",
        "10s",
    ]);
    let before = run_fixture();
    // The first batch found no collector: the outage is real before it ends.
    sysotel.wait_stderr("retrying");
    let rotel = Rotel::start_on(grpc, http);
    let after = run_fixture();
    let path = format!("Str({})", after.existing);
    wait_for(&rotel, "an openat made after the collector came up", |r| {
        r.attr("file.path") == Some(&path)
    });
    // What was produced while it was down is retried and arrives too.
    let early = format!("Str({})", before.existing);
    wait_for(&rotel, "an openat made while the collector was down", |r| {
        r.attr("file.path") == Some(&early)
    });
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let t = stopped.output_totals("otlp");
    assert!(
        t.retries > 0,
        "the batches made while the collector was down were retried: {t:?}"
    );
    assert_delivered_once(&stopped, &rotel);
}

#[test]
fn collector_killed_mid_run() {
    let mut rotel = Rotel::start();
    let mut sysotel = Sysotel::start(&[
        "-o",
        "otlp",
        "-o",
        "json",
        "--otlp-endpoint",
        &rotel.grpc_url(),
        "--otlp-protocol",
        "grpc",
        "--otlp-queue-records",
        "2000",
        "--otlp-retry-max-elapsed",
        "2s",
        "--shutdown-timeout",
        "3s",
    ]);
    let first = run_fixture();
    let path = format!("Str({})", first.existing);
    wait_for(&rotel, "an openat before the outage", |r| {
        r.attr("file.path") == Some(&path)
    });
    rotel.kill();
    // Keep producing well past the queue bound while nothing receives.
    let storm = Command::new(env!("CARGO_BIN_EXE_workload"))
        .args(["open", "20000", "/etc/hostname"])
        .output()
        .expect("workload");
    assert!(storm.status.success());
    let after = run_fixture();
    // The console kept every event while OTLP could not deliver.
    sysotel.wait_json("the json output to go on during the outage", |e| {
        e["pid"] == after.pid && e["event"] == "sched_process_exit"
    });
    assert!(sysotel.alive(), "sysotel died when the collector went away");
    let anon_mb = sysotel.rss_anon_kb() / 1024;
    assert!(
        anon_mb < 120,
        "sysotel's own memory grew to {anon_mb} MiB during the outage"
    );
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    // 20,000 records against a bound of 2,000 queued and 4 x 2,048 in
    // flight: the queue was full.
    let t = assert_accounted(&stopped, "otlp");
    assert!(
        t.dropped_full > 0,
        "nothing counted as dropped for a full queue during the outage: {t:?}"
    );
    // The json output wrote every event and every loss report it was handed.
    assert_all_exported(&stopped, "json");
}

#[test]
fn bad_otlp_settings_exit_2_naming_the_setting() {
    for (args, env, setting) in [
        (
            vec!["--otlp-endpoint", "http://"],
            vec![],
            "--otlp-endpoint",
        ),
        (
            vec!["--otlp-endpoint", "not a url"],
            vec![],
            "--otlp-endpoint",
        ),
        (
            vec!["--otlp-protocol", "carrier-pigeon"],
            vec![],
            "--otlp-protocol",
        ),
        (
            vec!["--otlp-ca-file", "/nonexistent/ca.pem"],
            vec![],
            "--otlp-ca-file",
        ),
        (
            vec![],
            vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")],
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        (
            vec![],
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        ),
        (
            vec![],
            vec![("OTEL_RESOURCE_ATTRIBUTES", "novalue")],
            "OTEL_RESOURCE_ATTRIBUTES",
        ),
    ] {
        let mut all = vec!["-o", "otlp"];
        all.extend(&args);
        let err = sysotel_tests::usage_error(&all, &env);
        assert!(
            err.contains(setting),
            "{args:?} {env:?}: message does not name {setting}: {err}"
        );
    }
}

#[test]
fn tls_with_a_ca_file_and_a_client_certificate() {
    let pki = sysotel_tests::rotel::TestPki::new();
    let rotel = Rotel::start();
    let proxy = sysotel_tests::rotel::TlsProxy::start(&pki, rotel.http_port);
    let url = format!("https://127.0.0.1:{}", proxy.port);
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key"),
    );

    let start = |extra: &[&str]| {
        let mut args = vec!["-o", "otlp", "-e", "openat", "--otlp-endpoint", &url];
        args.extend(["--otlp-ca-file", &ca]);
        args.extend_from_slice(extra);
        Sysotel::start(&args)
    };
    let sysotel = start(&["--otlp-client-cert", &cert, "--otlp-client-key", &key]);
    let o = run_fixture();
    let path = format!("Str({})", o.existing);
    wait_for(&rotel, "the openat sent over TLS", |r| {
        r.attr("file.path") == Some(&path)
    });
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_delivered_once(&stopped, &rotel);

    // Without the client certificate the proxy refuses the handshake: nothing
    // is delivered, and it says so.
    let sysotel = start(&["--otlp-retry-max-elapsed", "1s", "--shutdown-timeout", "4s"]);
    let before = rotel.records().len();
    let _ = run_fixture();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    // Nothing is delivered without a client certificate, all of it counted.
    assert_none_delivered(&stopped, "otlp");
    assert!(
        stopped.stderr.contains("otlp https://127.0.0.1"),
        "the failure was not reported:\n{}",
        stopped.stderr
    );
    assert_eq!(
        rotel.records().len(),
        before,
        "the collector received nothing"
    );
}
