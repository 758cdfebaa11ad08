//! The fixture's `basic` run and what sysotel must report of it, exactly:
//! shared by the console test and the tests that run sysotel another way
//! (BTF from a file) or on another kernel.

use std::{collections::HashMap, process::Command};

use serde_json::Value;

use crate::{Stopped, fixture_report, hostname, json_events, unique_path};

/// The exit code the fixture is asked to exit with.
pub const EXIT_CODE: i32 = 7;

/// What one `basic` run did, as the fixture reported it.
pub struct Run {
    pub report: HashMap<String, String>,
    pub pid: u64,
    /// A unique path that existed (and was opened).
    pub existing: String,
    /// A unique path that did not exist (its open failed with ENOENT).
    pub missing: String,
}

/// Runs the fixture (`fixture`: its path) in `basic` mode: it opens an
/// existing and a missing file, connects to a closed port, forks and execs
/// `/bin/true` with two arguments, and exits with [`EXIT_CODE`].
pub fn run_basic(fixture: &str) -> Run {
    let existing = unique_path("exists");
    std::fs::write(&existing, b"x").expect("create the file to open");
    let missing = unique_path("missing");
    let out = Command::new(fixture)
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

/// The events of process `pid`.
pub fn events_of(events: &[Value], pid: u64) -> Vec<&Value> {
    events.iter().filter(|e| e["pid"] == pid).collect()
}

/// The first of `events` that satisfies `pred`; fails naming `what`.
pub fn find<'a>(events: &[&'a Value], what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    events
        .iter()
        .copied()
        .find(|e| pred(e))
        .unwrap_or_else(|| panic!("no {what} among {} events", events.len()))
}

/// Every value the JSON lines of `stopped` (sysotel `-o json`, pid
/// `sysotel_pid`) report of `run` is what the fixture at `fixture` did: its
/// ids, namespaces and host name on every event after its exec, openat's
/// fd and ENOENT, the fork, the child's exec with its exact argv, the exit
/// code.
pub fn assert_reported(stopped: &Stopped, sysotel_pid: u64, run: &Run, fixture: &str) {
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
    assert_eq!(own_exec["args"]["filename"], fixture, "{own_exec}");
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
}
