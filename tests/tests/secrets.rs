//! Secrets never leave sysotel in clear. Unique markers are passed as OTLP
//! header values and librdkafka passwords through flags, `SYSOTEL_*`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, the file in clear, `${env:}` and `${file:}`;
//! no marker may appear on stdout, on stderr, in the Prometheus scrape, or in
//! anything rotel (logs and sysotel's own metrics) and tansu receive. A
//! collector that answers 401 quoting the request's headers exercises the
//! error path, and shows that each header arrived expanded.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use sysotel_tests::{
    Sysotel, Waiting, assert_accounted,
    collector::RefusingCollector,
    http_get,
    kafka::{Tansu, consume},
    rotel::{Rotel, free_port},
    run_sysotel, unique_path, usage_error,
};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");

/// A marker no other text contains.
fn marker(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("MARKER{tag}x{}x{nanos}", std::process::id())
}

/// Fails naming the channel and the marker if `text` holds any marker.
fn assert_clean(channel: &str, text: &str, markers: &[&str]) {
    for m in markers {
        assert!(
            !text.contains(m),
            "secret {m} appears in {channel}:\n{text}"
        );
    }
}

/// Where the secrets come from in one run: flags, environment, the file.
struct Sources {
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Every marker given.
    markers: Vec<String>,
    /// The headers the collector must receive, expanded.
    headers: Vec<(&'static str, String)>,
    /// The file, when the run has one (and the file `${file:}` reads).
    files: Vec<String>,
}

impl Sources {
    /// Headers from `SYSOTEL_OTLP_HEADER` and `OTEL_EXPORTER_OTLP_HEADERS`
    /// (percent-encoded), a Kafka password by flag.
    fn flags_and_environment() -> Sources {
        let (a, b, c) = (marker("a"), marker("b"), marker("c"));
        Sources {
            args: vec!["--kafka-property".into(), format!("sasl.password={c}")],
            env: vec![
                (
                    "SYSOTEL_OTLP_HEADER".into(),
                    format!("authorization=Bearer {a}"),
                ),
                (
                    "OTEL_EXPORTER_OTLP_HEADERS".into(),
                    format!("x-api-key=key%20{b}"),
                ),
            ],
            headers: vec![
                ("authorization", format!("Bearer {a}")),
                ("x-api-key", format!("key {b}")),
            ],
            markers: vec![a, b, c],
            files: Vec::new(),
        }
    }

    /// A world-readable file with a header and a password in clear, a
    /// header from `${file:}`, one from `${env:}`, a password from `${env:}`.
    fn file() -> Sources {
        let (d, e, f, g, h) = (
            marker("d"),
            marker("e"),
            marker("f"),
            marker("g"),
            marker("h"),
        );
        let token = unique_path("token");
        std::fs::write(&token, format!("{d}\n")).expect("write the token file");
        let config = unique_path("secrets.toml");
        std::fs::write(
            &config,
            format!(
                "[otlp]\nheaders = {{ authorization = \"Bearer ${{file:{token}}}\", \
                 x-tenant-key = \"${{env:TENANT_KEY}}\", x-in-clear = \"{f}\" }}\n\
                 [kafka]\nproperties = [\"sasl.password=${{env:KAFKA_PASSWORD}}\", \
                 \"ssl.key.password={h}\"]\n"
            ),
        )
        .expect("write the configuration file");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        Sources {
            args: vec!["-c".into(), config.clone()],
            env: vec![
                ("TENANT_KEY".into(), e.clone()),
                ("KAFKA_PASSWORD".into(), g.clone()),
            ],
            headers: vec![
                ("authorization", format!("Bearer {d}")),
                ("x-tenant-key", e.clone()),
                ("x-in-clear", f.clone()),
            ],
            markers: vec![d, e, f, g, h],
            files: vec![config, token],
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn markers(&self) -> Vec<&str> {
        self.markers.iter().map(String::as_str).collect()
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Where the OTLP output sends in one run.
enum Receiver {
    /// rotel, which accepts (its received records are checked).
    Rotel(Rotel),
    /// A collector that answers 401 quoting the headers it got.
    Refusing(RefusingCollector),
}

/// One run with every channel at once: `-o json` on stdout, `-o otlp` to
/// `receiver`, `-o kafka` (json encoding) to tansu, the Prometheus scrape,
/// and sysotel's own metrics over OTLP to a second rotel. Returns what each
/// channel carried.
fn run_every_channel(sources: &Sources, receiver: &Receiver) -> Vec<(String, String)> {
    let tansu = Tansu::start();
    let topic = format!("sysotel-secrets-{}", free_port());
    let metrics_rotel = Rotel::start_for("metrics");
    let metrics_url = format!("{}/v1/metrics", metrics_rotel.http_url());
    let prometheus = free_port();
    let listen = format!("127.0.0.1:{prometheus}");
    let endpoint = match receiver {
        Receiver::Rotel(r) => r.http_url(),
        Receiver::Refusing(c) => c.url(),
    };
    let brokers = tansu.brokers();
    let w = Waiting::start(WORKLOAD, &[], &[], "getppid", 200);
    let scope = format!("pid={}", w.pid());
    let mut args: Vec<&str> = vec![
        "-o",
        "json",
        "-o",
        "otlp",
        "-o",
        "kafka",
        "-e",
        "getppid",
        "--scope",
        &scope,
        "--otlp-endpoint",
        &endpoint,
        "--kafka-brokers",
        &brokers,
        "--kafka-topic",
        &topic,
        "--kafka-encoding",
        "json",
        "--metrics-listen",
        &listen,
        "--metrics-otlp-endpoint",
        &metrics_url,
        "--loss-interval",
        "1s",
    ];
    args.extend(sources.args.iter().map(String::as_str));
    let sysotel = Sysotel::start_with_env(&args, &sources.env());
    w.release();
    sysotel.wait_json("the traced calls", |e| e["event"] == "getppid");
    if let Receiver::Refusing(c) = receiver {
        // The refusal is reported in the stream, to the outputs that work.
        sysotel.wait_json("a loss report for the refused OTLP output", |e| {
            e["event"] == "sysotel.loss" && e["args"]["stage"] == "output:otlp"
        });
        assert!(!c.requests().is_empty(), "the collector got no request");
    }
    let (status, scrape) = http_get(prometheus, "/metrics");
    assert_eq!(status, 200, "{scrape}");
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let kafka = assert_accounted(&stopped, "kafka");
    let messages = consume(&brokers, &topic, Duration::from_secs(20), |ms| {
        ms.len() as u64 >= kafka.exported
    });
    let payloads: Vec<String> = messages
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    let mut channels = vec![
        ("stdout".to_string(), stopped.stdout.clone()),
        ("stderr".to_string(), stopped.stderr.clone()),
        ("the Prometheus scrape".to_string(), scrape),
        ("the Kafka topic".to_string(), payloads.join("\n")),
        (
            "sysotel's metrics at rotel".to_string(),
            metrics_rotel.output(),
        ),
    ];
    match receiver {
        Receiver::Rotel(r) => {
            assert_accounted(&stopped, "otlp");
            channels.push(("the records at rotel".to_string(), r.output()));
        }
        Receiver::Refusing(c) => {
            assert!(
                stopped.stderr.contains("HTTP 401"),
                "the refusal is not logged:\n{}",
                stopped.stderr
            );
            assert!(
                payloads
                    .iter()
                    .any(|p| p.contains("sysotel.loss") && p.contains("output:otlp")),
                "no loss report for the OTLP output reached Kafka"
            );
            for req in c.requests() {
                for (name, value) in &sources.headers {
                    assert_eq!(
                        req.get(*name),
                        Some(value),
                        "header {name} did not arrive as given"
                    );
                }
            }
        }
    }
    channels
}

fn check_every_channel(sources: Sources) {
    for receiver in [
        Receiver::Rotel(Rotel::start()),
        Receiver::Refusing(RefusingCollector::start(401)),
    ] {
        for (channel, text) in run_every_channel(&sources, &receiver) {
            assert_clean(&channel, &text, &sources.markers());
        }
    }
}

#[test]
fn secrets_from_flags_and_the_environment_reach_no_channel() {
    sysotel_tests::require_root();
    check_every_channel(Sources::flags_and_environment());
}

#[test]
fn secrets_from_the_file_reach_no_channel() {
    sysotel_tests::require_root();
    check_every_channel(Sources::file());
}

/// `config check` prints `[REDACTED]`, names stay visible, and
/// `--show-secrets` prints the values.
#[test]
fn config_check_redacts_unless_asked() {
    for sources in [Sources::flags_and_environment(), Sources::file()] {
        let mut args: Vec<&str> = vec!["-o", "otlp", "-o", "kafka", "--kafka-brokers", "b:9092"];
        args.extend(sources.args.iter().map(String::as_str));
        let env = sources.env();
        let mut check = args.clone();
        check.extend(["config", "check"]);
        let out = run_sysotel(&check, &env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_clean("config check's stdout", &stdout, &sources.markers());
        assert_clean("config check's stderr", &stderr, &sources.markers());
        assert!(stdout.contains("sasl.password=[REDACTED]"), "{stdout}");
        assert!(stdout.contains("authorization"), "{stdout}");
        check.push("--show-secrets");
        let shown = run_sysotel(&check, &env);
        let shown = String::from_utf8_lossy(&shown.stdout);
        assert!(shown.contains(&sources.markers[0]), "{shown}");
    }
}

/// A world-readable file with a secret in clear is named at start-up, with
/// its keys and never the values; a private one, or one with references
/// only, is not.
#[test]
fn a_readable_file_with_a_secret_in_clear_is_named() {
    let sources = Sources::file();
    let config = &sources.files[0];
    let check = |env: &[(&str, &str)]| {
        let out = run_sysotel(&["-c", config, "config", "check"], env);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = check(&sources.env());
    assert!(
        stderr.contains(&format!("{config} holds secrets in clear"))
            && stderr.contains("[kafka] properties `ssl.key.password`")
            && stderr.contains("[otlp] headers `x-in-clear`")
            && stderr.contains("readable by others (mode 644)"),
        "{stderr}"
    );
    assert_clean("the warning", &stderr, &sources.markers());
    std::fs::set_permissions(config, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(!check(&sources.env()).contains("warning"));
    let refs_only = unique_path("refs.toml");
    std::fs::write(
        &refs_only,
        "[otlp]\nheaders = { a = \"${env:TENANT_KEY}\" }\n",
    )
    .unwrap();
    std::fs::set_permissions(&refs_only, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_sysotel(&["-c", &refs_only, "config", "check"], &sources.env());
    std::fs::remove_file(&refs_only).unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

/// Bad input is an exit-2 error that names the setting, the variable or the
/// path, and quotes no secret.
#[test]
fn errors_name_the_place_not_the_secret() {
    let m = marker("err");
    let missing_file = unique_path("no-such-token");
    let config = unique_path("errors.toml");
    // (flags, environment, the file's text, what the message must name)
    type Case = (Vec<String>, Vec<(String, String)>, String, &'static str);
    let cases: Vec<Case> = vec![
        (
            vec![
                "-o".into(),
                "otlp".into(),
                "--otlp-header".into(),
                format!("Bearer {m}"),
            ],
            vec![],
            String::new(),
            "--otlp-header",
        ),
        (
            vec!["-o".into(), "otlp".into()],
            vec![("OTEL_EXPORTER_OTLP_HEADERS".into(), format!("a=1,{m}"))],
            String::new(),
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
        (
            vec![
                "-o".into(),
                "kafka".into(),
                "--kafka-property".into(),
                format!("sasl.password:{m}"),
            ],
            vec![],
            String::new(),
            "--kafka-property",
        ),
        (
            vec!["-c".into(), config.clone()],
            vec![("SET".into(), m.clone())],
            "[otlp]\nheaders = { a = \"${env:SET}\", b = \"${env:UNSET_TOKEN}\" }\n".into(),
            "[otlp] headers: ${env:UNSET_TOKEN}: the variable is not set",
        ),
        (
            vec!["-c".into(), config.clone()],
            vec![("SET".into(), m.clone())],
            format!(
                "[kafka]\nproperties = [\"sasl.password=${{env:SET}}\", \"ssl.key.password=${{file:{missing_file}}}\"]\n"
            ),
            "[kafka] properties: ${file:",
        ),
    ];
    for (args, env, file, names) in cases {
        if !file.is_empty() {
            std::fs::write(&config, file).unwrap();
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let err = usage_error(&args, &env);
        assert!(
            err.contains(names),
            "{args:?}: does not name {names}: {err}"
        );
        assert_clean(&format!("the error for {args:?}"), &err, &[&m]);
    }
    let _ = std::fs::remove_file(&config);
    // `--help` shows the variables, not their values.
    let out = run_sysotel(&["--help"], &[("SYSOTEL_OTLP_HEADER", &format!("a={m}"))]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("SYSOTEL_OTLP_HEADER"), "{help}");
    assert_clean("--help", &help, &[&m]);
}
