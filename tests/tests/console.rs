//! The console outputs, end to end: sysotel on the real kernel traces a
//! fixture program, and every value the JSON lines and the table report is
//! what the fixture really did; the default scope; the summary's accounting.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use sysotel_tests::{
    Sysotel,
    fixture::{Run, assert_reported, run_basic},
    hostname, json_events, unique_path,
};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

/// Runs the fixture's `basic` mode while sysotel is up.
fn run_fixture() -> Run {
    run_basic(FIXTURE)
}

#[test]
fn json_output_reports_what_the_fixture_did() {
    let sysotel = Sysotel::start(&["-o", "json"]);
    let sysotel_pid = sysotel.pid() as u64;
    let run = run_fixture();
    let stopped = sysotel.stop();
    assert_reported(&stopped, sysotel_pid, &run, FIXTURE);
    let _ = std::fs::remove_file(&run.existing);
}

/// Splits a table row into its eleven fixed columns and ARGS.
fn columns(row: &str) -> Option<(Vec<&str>, &str)> {
    let mut cols = Vec::new();
    let mut rest = row;
    for _ in 0..11 {
        rest = rest.trim_start();
        let end = rest.find(' ')?;
        cols.push(&rest[..end]);
        rest = &rest[end..];
    }
    Some((cols, rest.trim_start()))
}

#[test]
fn table_output_has_the_classic_columns() {
    let sysotel = Sysotel::start(&[]);
    let run = run_fixture();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);

    let mut lines = stopped.stdout.lines();
    let header = lines.next().expect("a header line");
    let names: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        names,
        [
            "TIME(s)", "UTS_NAME", "MNT_NS", "PID_NS", "UID", "EVENT", "COMM", "PID", "TID",
            "PPID", "RET", "ARGS"
        ]
    );
    let fd = &run.report["open_fd"];
    let pid = run.pid.to_string();
    let row = lines
        .filter_map(columns)
        .find(|(c, args)| {
            c[7] == pid && c[5] == "openat" && args.contains(&format!("\"{}\"", run.existing))
        })
        .unwrap_or_else(|| panic!("no openat row for pid {pid}:\n{}", stopped.stdout));
    let (c, args) = row;
    assert_eq!(c[1], hostname());
    assert_eq!(c[2], run.report["mnt_ns"]);
    assert_eq!(c[3], run.report["pid_ns"]);
    assert_eq!(c[6], "fixture");
    assert_eq!(c[10], fd.as_str());
    assert_eq!(
        args,
        format!(
            "dfd: AT_FDCWD, filename: \"{}\", flags: O_RDONLY, mode: 00",
            run.existing
        )
    );
    // TIME(s): seconds since boot with six decimals.
    let (secs, micros) = c[0].split_once('.').expect("a decimal time");
    assert!(
        secs.parse::<u64>().is_ok() && micros.len() == 6,
        "time column {}",
        c[0]
    );
    let _ = std::fs::remove_file(&run.existing);
}

/// A process started before sysotel: `wait-open` opens its path when told to.
fn old_process_opens(args: &[&str]) -> (bool, String) {
    let path = unique_path("old");
    let mut child = Command::new(FIXTURE)
        .args(["wait-open", &path])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn fixture");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("started") {
        line.clear();
        assert!(
            out.read_line(&mut line).expect("read") > 0,
            "fixture ended early"
        );
    }
    let pid = child.id() as u64;

    let sysotel = Sysotel::start(args);
    writeln!(child.stdin.as_mut().expect("stdin"), "go").expect("tell the fixture to open");
    assert!(child.wait().expect("wait").success());
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let seen = json_events(&stopped.stdout).iter().any(|e| {
        e["pid"] == pid && e["event"] == "openat" && e["args"]["filename"] == path.as_str()
    });
    (seen, stopped.stdout)
}

#[test]
fn processes_started_before_sysotel_are_traced_only_with_scope_all() {
    let (seen, _) = old_process_opens(&["-o", "json"]);
    assert!(
        !seen,
        "the default scope traced a process started before sysotel"
    );
    let (seen, _) = old_process_opens(&["-o", "json", "--scope", "all"]);
    assert!(
        seen,
        "--scope all did not trace a process started before sysotel"
    );
}

#[test]
fn summary_accounts_for_every_record() {
    let sysotel = Sysotel::start(&["-o", "json"]);
    let _ = run_fixture();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let received = stopped.summary_count("events received");
    let lines = stopped.stdout.lines().count() as u64;
    assert_eq!(received, lines, "every received event is printed");
    assert_eq!(stopped.summary_count("events lost in kernel"), 0);
    assert_eq!(stopped.summary_count("decode errors"), 0);
    assert_eq!(
        stopped.summary_count("records written by the kernel"),
        received,
        "every record the kernel wrote was read"
    );
}
