//! The console outputs, end to end: sysotel on the real kernel traces a
//! fixture program, and every value the JSON lines and the table report is
//! what the fixture really did; the default scope; the summary's accounting.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use serde_json::Value;
use sysotel_tests::{Sysotel, fixture_report, hostname, json_events, unique_path};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");
const EXIT_CODE: i32 = 7;

struct Run {
    report: std::collections::HashMap<String, String>,
    pid: u64,
    existing: String,
    missing: String,
}

/// Runs the fixture's `basic` mode while sysotel is up.
fn run_fixture() -> Run {
    let existing = unique_path("exists");
    std::fs::write(&existing, b"x").expect("create the file to open");
    let missing = unique_path("missing");
    let out = Command::new(FIXTURE)
        .args(["basic", &existing, &missing, &EXIT_CODE.to_string()])
        .output()
        .expect("run fixture");
    assert_eq!(out.status.code(), Some(EXIT_CODE), "fixture exit status");
    let report = fixture_report(&out.stdout);
    let pid = report["pid"].parse().expect("pid");
    Run {
        report,
        pid,
        existing,
        missing,
    }
}

fn events_of(events: &[Value], pid: u64) -> Vec<&Value> {
    events.iter().filter(|e| e["pid"] == pid).collect()
}

fn find<'a>(events: &[&'a Value], what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    events
        .iter()
        .copied()
        .find(|e| pred(e))
        .unwrap_or_else(|| panic!("no {what} among {} events", events.len()))
}

#[test]
fn json_output_reports_what_the_fixture_did() {
    let sysotel = Sysotel::start(&["-o", "json"]);
    let sysotel_pid = sysotel.pid() as u64;
    let run = run_fixture();
    let stopped = sysotel.stop();
    assert!(
        stopped.status.success(),
        "sysotel exit: {}\n{}",
        stopped.status,
        stopped.stderr
    );
    assert!(
        stopped.stderr.contains("events received"),
        "summary missing:\n{}",
        stopped.stderr
    );

    let all = json_events(&stopped.stdout);
    assert!(
        all.iter().all(|e| e["pid"] != sysotel_pid),
        "an event carries sysotel's own pid"
    );
    let mine = events_of(&all, run.pid);
    assert!(
        !mine.is_empty(),
        "no events for the fixture pid {}",
        run.pid
    );

    // The process is traced from its fork out of this test; it becomes the
    // fixture at its exec. Context, on every event from then on.
    let own_exec = find(&mine, "the fixture's own exec", |e| {
        e["event"] == "sched_process_exec"
    });
    assert_eq!(own_exec["args"]["filename"], FIXTURE, "{own_exec}");
    let exec_time = own_exec["time_boot_ns"].as_u64().expect("time");
    let me = std::process::id() as u64;
    let euid = unsafe { libc::geteuid() } as u64;
    let after_exec: Vec<&&Value> = mine
        .iter()
        .filter(|e| e["time_boot_ns"].as_u64().expect("time") >= exec_time)
        .collect();
    assert!(
        after_exec.len() > 10,
        "only {} events after exec",
        after_exec.len()
    );
    for e in after_exec {
        assert_eq!(e["ppid"], me, "ppid of {e}");
        assert_eq!(e["uid"], euid, "uid of {e}");
        assert_eq!(e["comm"], "fixture", "comm of {e}");
        assert_eq!(
            e["mnt_ns"].to_string(),
            run.report["mnt_ns"],
            "mnt ns of {e}"
        );
        assert_eq!(
            e["pid_ns"].to_string(),
            run.report["pid_ns"],
            "pid ns of {e}"
        );
        assert_eq!(e["uts_name"], hostname(), "uts name of {e}");
        assert_eq!(
            e["tid"], run.pid,
            "single-threaded fixture: tid == pid in {e}"
        );
        assert_eq!(e["vpid"], run.pid, "host pid namespace: vpid == pid in {e}");
    }

    let fd: i64 = run.report["open_fd"].parse().expect("fd");
    assert!(fd >= 0, "the fixture could not open {}", run.existing);
    let open = find(&mine, "openat of the existing file", |e| {
        e["event"] == "openat" && e["args"]["filename"] == run.existing.as_str()
    });
    assert_eq!(open["ret"], fd, "openat returned {fd}: {open}");
    assert_eq!(open["args"]["dfd"], -100, "AT_FDCWD: {open}");

    let failed = find(&mine, "openat of the missing file", |e| {
        e["event"] == "openat" && e["args"]["filename"] == run.missing.as_str()
    });
    assert_eq!(failed["ret"], -2, "{failed}");
    assert_eq!(failed["error"], "ENOENT", "{failed}");
    assert_eq!(run.report["missing_ret"], "-2");

    let child: u64 = run.report["child_pid"].parse().expect("child pid");
    let fork = find(&mine, "fork", |e| e["event"] == "sched_process_fork");
    assert_eq!(fork["args"]["child_pid"], child, "{fork}");
    assert_eq!(fork["args"]["child_tid"], child, "{fork}");

    let child_events = events_of(&all, child);
    let exec = find(&child_events, "exec of /bin/true", |e| {
        e["event"] == "sched_process_exec"
    });
    assert_eq!(exec["args"]["filename"], "/bin/true", "{exec}");
    assert_eq!(
        exec["args"]["argv"],
        serde_json::json!(["/bin/true", "arg one", "x"]),
        "{exec}"
    );
    assert_eq!(exec["args"]["argc"], 3, "{exec}");
    assert_eq!(exec["comm"], "true", "comm after exec: {exec}");
    assert_eq!(exec["ppid"], run.pid, "{exec}");
    let execve = find(&child_events, "execve syscall", |e| e["event"] == "execve");
    assert_eq!(execve["ret"], 0, "{execve}");
    assert_eq!(execve["args"]["filename"], "/bin/true", "{execve}");

    let exit = find(&mine, "exit", |e| e["event"] == "sched_process_exit");
    assert_eq!(exit["args"]["exit_code"], EXIT_CODE, "{exit}");
    assert_eq!(exit["args"]["signal"], 0, "{exit}");
    assert_eq!(exit["args"]["group_dead"], true, "{exit}");
    let exit_group = find(&mine, "exit_group", |e| e["event"] == "exit_group");
    assert_eq!(exit_group["args"]["error_code"], EXIT_CODE, "{exit_group}");

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
