//! Every argument kind decoded right, end to end, and event selection done in
//! the kernel. The fixture's `kinds` mode makes one call of each kind and
//! reports what the kernel returned; the test compares sysotel's view with it.

use std::{collections::HashMap, process::Command};

use serde_json::{Value, json};
use sysotel_tests::{Stopped, Sysotel, fixture_report, json_events, unique_path};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

struct Kinds {
    report: HashMap<String, String>,
    pid: u64,
    new_file: String,
}

fn run_kinds(args: &[&str]) -> (Kinds, Stopped) {
    let sysotel = Sysotel::start(args);
    let new_file = unique_path("kinds");
    let out = Command::new(FIXTURE)
        .args(["kinds", &new_file])
        .output()
        .expect("run fixture");
    assert!(
        out.status.success(),
        "fixture failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let report = fixture_report(&out.stdout);
    let pid = report["pid"].parse().expect("pid");
    let _ = std::fs::remove_file(&new_file);
    (
        Kinds {
            report,
            pid,
            new_file,
        },
        stopped,
    )
}

fn one<'a>(events: &'a [Value], pid: u64, what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    events
        .iter()
        .find(|e| e["pid"] == pid && pred(e))
        .unwrap_or_else(|| panic!("no {what} event for pid {pid}"))
}

fn num(r: &HashMap<String, String>, k: &str) -> i64 {
    r[k].parse()
        .unwrap_or_else(|_| panic!("fixture value {k}={}", r[k]))
}

#[test]
fn every_argument_kind_is_decoded_exactly() {
    let (k, stopped) = run_kinds(&["-o", "json"]);
    let all = json_events(&stopped.stdout);
    let r = &k.report;

    let open = one(&all, k.pid, "openat of the new file", |e| {
        e["event"] == "openat" && e["args"]["filename"] == k.new_file.as_str()
    });
    assert_eq!(open["args"]["flags"], "O_WRONLY|O_CREAT|O_TRUNC", "{open}");
    assert_eq!(open["args"]["mode"], 0o640, "{open}");
    assert_eq!(open["args"]["dfd"], -100, "{open}");
    assert_eq!(open["ret"], num(r, "open_fd"), "{open}");

    let inet_addr = format!("127.0.0.1:{}", r["inet_port"]);
    let connect = one(&all, k.pid, "connect to 127.0.0.1", |e| {
        e["event"] == "connect" && e["args"]["uservaddr"] == inet_addr.as_str()
    });
    assert_eq!(connect["args"]["fd"], num(r, "inet_fd"), "{connect}");
    assert_eq!(connect["args"]["addrlen"], 16, "{connect}");
    assert_eq!(connect["ret"], num(r, "inet_ret"), "{connect}");
    assert_eq!(connect["ret"], -111, "{connect}");
    assert_eq!(connect["error"], "ECONNREFUSED", "{connect}");
    let socket = one(&all, k.pid, "socket", |e| {
        e["event"] == "socket" && e["ret"] == num(r, "inet_fd") && e["args"]["family"] == "AF_INET"
    });
    assert_eq!(socket["args"]["type"], "SOCK_STREAM", "{socket}");

    let unix = one(&all, k.pid, "connect to the AF_UNIX path", |e| {
        e["event"] == "connect" && e["args"]["uservaddr"] == r["unix_path"].as_str()
    });
    assert_eq!(unix["args"]["fd"], num(r, "unix_fd"), "{unix}");
    assert_eq!(unix["args"]["addrlen"], num(r, "unix_len"), "{unix}");
    assert_eq!(unix["error"], "ENOENT", "{unix}");

    // Found by its length, which no other mapping of the fixture has.
    let mmap = one(&all, k.pid, "the fixture's 7-page mmap", |e| {
        e["event"] == "mmap" && e["args"]["len"] == 7 * 4096
    });
    assert_eq!(mmap["args"]["prot"], "PROT_READ|PROT_EXEC", "{mmap}");
    assert_eq!(mmap["args"]["flags"], "MAP_PRIVATE|MAP_ANONYMOUS", "{mmap}");
    assert_eq!(mmap["args"]["fd"], -1, "{mmap}");
    assert_eq!(mmap["args"]["addr"], "0x0", "{mmap}");
    // An address is shown in hex, and it is the one the kernel returned.
    assert_eq!(
        mmap["ret"].as_u64(),
        Some(num(r, "mmap_ret") as u64),
        "{mmap}"
    );

    let kill = one(&all, k.pid, "kill", |e| e["event"] == "kill");
    assert_eq!(kill["args"]["sig"], "SIGUSR1", "{kill}");
    assert_eq!(kill["args"]["pid"], k.pid, "{kill}");
    assert_eq!(kill["ret"], 0, "{kill}");

    // libc's access(): the access syscall on x86_64, faccessat on arm64 (which
    // has no access; the arm64 table says so).
    let access_call = if cfg!(target_arch = "aarch64") {
        "faccessat"
    } else {
        "access"
    };
    let access = one(&all, k.pid, access_call, |e| {
        e["event"] == access_call && e["args"]["filename"] == "/nonexistent/sysotel-access"
    });
    assert_eq!(access["args"]["mode"], "R_OK", "{access}");
    assert_eq!(access["ret"], num(r, "access_ret"), "{access}");
    assert_eq!(access["error"], "ENOENT", "{access}");

    // A successful exec carries the kernel's copy of filename, argv and envp;
    // bytes that are not UTF-8 read as \xNN.
    let child: u64 = r["exec_child"].parse().expect("child pid");
    let execve = one(&all, child, "execve of /bin/true", |e| {
        e["event"] == "execve"
    });
    assert_eq!(execve["ret"], 0, "{execve}");
    assert_eq!(execve["args"]["filename"], "/bin/true", "{execve}");
    assert_eq!(
        execve["args"]["argv"],
        json!(["/bin/true", "a b", "q\"uote", "café", "\\xff\\xfe"]),
        "{execve}"
    );
    assert_eq!(
        execve["args"]["envp"],
        json!(["SYSOTEL_TEST=1"]),
        "{execve}"
    );
    let exec = one(&all, child, "sched_process_exec", |e| {
        e["event"] == "sched_process_exec"
    });
    assert_eq!(exec["args"]["argv"], execve["args"]["argv"], "{exec}");
    assert_eq!(exec["args"]["envc"], 1, "{exec}");

    // A failed exec reports what was read at entry.
    let bad = one(&all, k.pid, "failed execve", |e| {
        e["event"] == "execve" && e["args"]["filename"] == "/nonexistent/prog"
    });
    assert_eq!(bad["ret"], num(r, "bad_exec_ret"), "{bad}");
    assert_eq!(bad["error"], "ENOENT", "{bad}");
    assert_eq!(
        bad["args"]["argv"],
        json!(["/nonexistent/prog", "", "x y"]),
        "{bad}"
    );
    assert_eq!(bad["args"]["envp"], json!(["SYSOTEL_TEST=1"]), "{bad}");
}

#[test]
fn table_args_read_like_the_calls() {
    let (k, stopped) = run_kinds(&[]);
    let pid = format!(" {} ", k.pid);
    let row = |event: &str, needle: &str| -> String {
        stopped
            .stdout
            .lines()
            .find(|l| l.contains(&pid) && l.contains(&format!(" {event} ")) && l.contains(needle))
            .unwrap_or_else(|| panic!("no {event} row with {needle}:\n{}", stopped.stdout))
            .to_string()
    };
    let open = row("openat", &k.new_file);
    assert!(
        open.ends_with(&format!(
            "dfd: AT_FDCWD, filename: \"{}\", flags: O_WRONLY|O_CREAT|O_TRUNC, mode: 0640",
            k.new_file
        )),
        "{open}"
    );
    let port = &k.report["inet_port"];
    let connect = row("connect", &format!("127.0.0.1:{port}"));
    assert!(
        connect.ends_with(&format!(
            "fd: {}, uservaddr: 127.0.0.1:{port}, addrlen: 16",
            k.report["inet_fd"]
        )),
        "{connect}"
    );
    assert!(connect.contains(" -111 "), "RET column: {connect}");
    let mmap = row("mmap", "len: 28672,");
    assert!(
        mmap.ends_with(
            "addr: 0x0, len: 28672, prot: PROT_READ|PROT_EXEC, flags: MAP_PRIVATE|MAP_ANONYMOUS, fd: -1, off: 0"
        ),
        "{mmap}"
    );
    let ret_column = mmap.split_whitespace().nth(10).expect("a RET column");
    assert_eq!(
        ret_column,
        format!("{:#x}", num(&k.report, "mmap_ret")),
        "RET in hex: {mmap}"
    );
    let kill = row("kill", "SIGUSR1");
    assert!(
        kill.ends_with(&format!("pid: {}, sig: SIGUSR1", k.pid)),
        "{kill}"
    );
}

#[test]
fn selecting_openat_keeps_everything_else_in_the_kernel() {
    let (k, stopped) = run_kinds(&["-o", "json", "-e", "openat"]);
    let all = json_events(&stopped.stdout);
    assert!(!all.is_empty(), "no events at all");
    assert!(
        all.iter().all(|e| e["event"] == "openat"),
        "an event other than openat arrived"
    );
    assert!(
        all.iter()
            .any(|e| e["pid"] == k.pid && e["args"]["filename"] == k.new_file.as_str())
    );
    let written = stopped.kernel_written();
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        vec!["openat"],
        "the kernel wrote other events: {written:?}"
    );
    assert_eq!(
        written["openat"],
        all.len() as u64,
        "every written record arrived"
    );
}

#[test]
fn sets_globs_and_exclusions_select_in_the_kernel() {
    let (k, stopped) = run_kinds(&["-o", "json", "-e", "net,-socket"]);
    let written = stopped.kernel_written();
    let connects = json_events(&stopped.stdout)
        .iter()
        .filter(|e| e["pid"] == k.pid && e["event"] == "connect")
        .count();
    assert_eq!(connects, 2, "the fixture's two connects (inet and unix)");
    assert!(written["connect"] >= 2, "{written:?}");
    assert!(
        !written.contains_key("socket") && !written.contains_key("openat"),
        "{written:?}"
    );
}

#[test]
fn unknown_events_exit_2_with_the_closest_names() {
    let out = Command::new(sysotel_tests::sysotel_bin())
        .args(["-e", "opnat"])
        .output()
        .expect("run sysotel");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown event or set `opnat`") && err.contains("openat"),
        "{err}"
    );
}

/// A path whose page is not yet faulted in at syscall entry (in a file
/// mapping no one has touched) cannot be read there; it is read again at
/// exit, once the kernel has copied it, and the event carries the path.
#[test]
fn a_path_unreadable_at_entry_is_read_at_exit() {
    let target = unique_path("unfaulted-target");
    std::fs::write(&target, b"x").expect("create the target");
    let path_file = unique_path("unfaulted-path");
    let sysotel = Sysotel::start(&["-o", "json", "-e", "openat"]);
    let out = Command::new(FIXTURE)
        .args(["unfaulted", &path_file, &target])
        .output()
        .expect("run fixture");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = fixture_report(&out.stdout);
    let stopped = sysotel.stop();
    let _ = std::fs::remove_file(&target);
    let _ = std::fs::remove_file(&path_file);
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let fd = num(&r, "open_fd");
    assert!(fd >= 0, "the fixture could not open {target}");
    let events = json_events(&stopped.stdout);
    let open = one(
        &events,
        num(&r, "pid") as u64,
        "the openat through the mapping",
        |e| e["event"] == "openat" && e["ret"] == fd,
    );
    assert_eq!(open["args"]["filename"], target.as_str(), "{open}");
    assert!(open.get("unreadable_args").is_none(), "{open}");
}
