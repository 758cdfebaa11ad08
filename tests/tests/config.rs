//! The configuration file through the real binary: precedence (flag over
//! environment over file over default), `config check`, and every class of
//! error with its exact message and exit code 2.

use std::process::{Command, Output};

use sysotel_tests::{sysotel_bin, unique_path};

fn write(text: &str) -> String {
    let path = format!("{}.toml", unique_path("config"));
    std::fs::write(&path, text).expect("write the config file");
    path
}

fn sysotel(args: &[&str], env: &[(&str, &str)]) -> Output {
    sysotel_tests::run_sysotel(args, env)
}

/// `config check` of `file` with `args` before it: the line for `key`.
fn effective(file: &str, args: &[&str], env: &[(&str, &str)], key: &str) -> String {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["config", "check", file]);
    let out = sysotel(&all, env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} ")) || l.starts_with(&format!("# {key}")))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{stdout}"))
        .to_string()
}

#[test]
fn flag_over_environment_over_file_over_default() {
    let file = write("ring_buffer_size = \"8M\"\n[otlp]\nendpoint = \"http://file:4318\"\n");
    let key = "ring_buffer_size";
    let empty = write("");
    assert_eq!(
        effective(&empty, &[], &[], key),
        "ring_buffer_size = \"32M\"  # default"
    );
    assert_eq!(
        effective(&file, &[], &[], key),
        "ring_buffer_size = \"8M\"  # file"
    );
    let env = [("SYSOTEL_RING_BUFFER_SIZE", "16M")];
    assert_eq!(
        effective(&file, &[], &env, key),
        "ring_buffer_size = \"16M\"  # environment SYSOTEL_RING_BUFFER_SIZE"
    );
    assert_eq!(
        effective(&file, &["--ring-buffer-size", "64K"], &env, key),
        "ring_buffer_size = \"64K\"  # flag"
    );
    // The standard OTLP variables also beat the file.
    let resolved = |env: &[(&str, &str)]| effective(&file, &["-o", "otlp"], env, "# otlp:");
    assert!(
        resolved(&[]).contains("http://file:4318/v1/logs"),
        "{}",
        resolved(&[])
    );
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")];
    assert!(
        resolved(&env).contains("http://env:4318/v1/logs"),
        "{}",
        resolved(&env)
    );
    let line = effective(
        &file,
        &["-o", "otlp", "--otlp-endpoint", "http://flag:4318"],
        &env,
        "# otlp:",
    );
    assert!(line.contains("http://flag:4318/v1/logs"), "{line}");
    // The scope from the file, and a --scope flag replacing it.
    let file = write("[scope]\nuid = [\">999\", \"!=1005\"]\ncomm = \"bash\"\n");
    assert_eq!(effective(&file, &[], &[], "[scope]"), "[scope]  # file");
    assert_eq!(
        effective(&file, &[], &[], "uid"),
        "uid = [\">999\", \"!=1005\"]"
    );
    assert_eq!(
        effective(&file, &["--scope", "pid=1"], &[], "pid"),
        "pid = [\"1\"]"
    );
    assert_eq!(
        effective(&file, &[], &[("SYSOTEL_SCOPE", "all")], "[scope]"),
        "[scope]  # environment SYSOTEL_SCOPE"
    );
}

#[test]
fn the_example_file_checks() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/sysotel.toml");
    let out = sysotel(&["config", "check", example], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("pid = [\"new\"]"));
}

#[test]
fn every_error_class_exits_2_naming_its_place() {
    let cases: &[(&str, &str)] = &[
        // unknown key, with the closest one
        (
            "[otlp]\nendpont = \"x\"\n",
            "[otlp] endpont: unknown key; did you mean endpoint?",
        ),
        (
            "[kafkaa]\nbrokers = \"x\"\n",
            "[kafkaa]: unknown section; did you mean kafka?",
        ),
        // wrong type
        (
            "[scope]\nuid = \"root\"\n",
            "[scope] uid: expected an integer, got \"root\"",
        ),
        (
            "bpf_stats = \"yes\"\n",
            "bpf_stats: expected true or false, got a string",
        ),
        (
            "shutdown_timeout = 5\n",
            "shutdown_timeout: `5` is not a duration (examples: 5s, 500ms, 2m)",
        ),
        (
            "output = \"pigeon\"\n",
            "output: `pigeon` is not one of table, json, otlp, kafka",
        ),
        // bad operator
        (
            "[scope]\ncomm = \">bash\"\n",
            "[scope] comm: `comm` takes = or !=, not >",
        ),
        // unknown event
        (
            "events = [\"opnat\"]\n",
            "events: unknown event or set `opnat`; did you mean openat, openat2?",
        ),
        // unknown argument name
        (
            "filters = [\"openat.pathnme=/etc/*\"]\n",
            "filters: openat.pathnme=/etc/*: `openat` has no field `pathnme`; did you mean pathname?",
        ),
        // invalid glob
        (
            "[scope]\ncomm = \"ba*sh\"\n",
            "[scope] comm: `ba*sh`: a command name is matched exactly or by prefix (`name*`)",
        ),
        // invalid CIDR
        (
            "filters = [\"connect.addr=10.0.0.0/33\"]\n",
            "filters: connect.addr=10.0.0.0/33: `10.0.0.0/33`: the prefix length must be 0 to 32",
        ),
        // a setting checked with the others, still named where it is
        (
            "output = [\"kafka\"]\n[kafka]\nencoding = \"avro\"\n",
            "[kafka] encoding: unknown encoding `avro` (expected one of otlp_proto, otlp_json, json, ecs)",
        ),
    ];
    for (text, want) in cases {
        let file = write(text);
        // Both `config check` and a real start refuse it before loading anything.
        for args in [
            vec!["-c", file.as_str(), "config", "check"],
            vec!["-c", file.as_str()],
        ] {
            let out = sysotel(&args, &[]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            let first = stderr.lines().next().unwrap_or_default();
            assert_eq!(first, format!("error: {file}: {want}"), "{text}");
        }
        let _ = std::fs::remove_file(&file);
    }
    // The same classes as flags.
    for (args, want) in [
        (
            vec!["--scope", "uid=root"],
            "--scope uid=root: expected an integer, got \"root\"",
        ),
        (
            vec!["--scope", "ui=1"],
            "--scope ui=1: unknown scope key `ui`; did you mean uid, gid, pid?",
        ),
        (
            vec!["--scope", "comm>x"],
            "--scope comm>x: `comm` takes = or !=, not >",
        ),
        (
            vec!["--filter", "connect.addr=10.0.0.0/33"],
            "--filter connect.addr=10.0.0.0/33: `10.0.0.0/33`: the prefix length must be 0 to 32",
        ),
        (
            vec!["--filter", "openat.pathnme=/etc/*"],
            "--filter openat.pathnme=/etc/*: `openat` has no field `pathnme`; did you mean pathname?",
        ),
        (
            vec!["--filter", "retval=-ENOENTT"],
            "--filter retval=-ENOENTT: `-ENOENTT` is not a number or an errno name; did you mean ENOENT, ENONET?",
        ),
    ] {
        let out = sysotel(&args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().next().unwrap_or_default(),
            format!("error: {want}")
        );
    }
    // A file that does not exist or is not TOML.
    let out = sysotel(&["-c", "/nonexistent/sysotel.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/sysotel.toml: cannot read")
    );
    let file = write("ring_buffer_size = \n");
    let out = sysotel(&["-c", &file], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TOML parse error at line 1"));
}

#[test]
fn log_level_warn_keeps_stderr_quiet() {
    sysotel_tests::require_root();
    let file = write("log_level = \"warn\"\noutput = [\"json\"]\nevents = [\"getppid\"]\n");
    assert_eq!(
        effective(&file, &[], &[], "log_level"),
        "log_level = \"warn\"  # file"
    );
    let stdout = unique_path("quiet-stdout");
    let child = Command::new(sysotel_bin())
        .args(["-c", &file])
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sysotel");
    // No ready line at this level: tracing has started once a getppid of a
    // new process shows on stdout.
    sysotel_tests::wait_for(
        "a traced getppid on stdout",
        std::time::Duration::from_secs(60),
        || {
            let out = Command::new(env!("CARGO_BIN_EXE_workload"))
                .args(["getppid", "1"])
                .output()
                .expect("workload");
            assert!(out.status.success());
            let text = std::fs::read_to_string(&stdout).expect("read stdout");
            text.contains("\"event\":\"getppid\"").then_some(())
        },
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("wait for sysotel");
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "nothing but warnings and errors"
    );
    let _ = std::fs::remove_file(&stdout);
    let _ = std::fs::remove_file(&file);
}
