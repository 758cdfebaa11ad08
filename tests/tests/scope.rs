//! Scope keys, decided in the kernel: for each, one workload that matches and
//! one that does not. Only the matching one's events arrive, and the kernel's
//! own count of records written shows the other one's syscalls were never
//! reserved in the ring buffer. Also `follow`, `container` (a new pid and
//! mount namespace via unshare), `exe` (user space) and the event filters.

use std::{
    collections::HashMap,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use sysotel_tests::{
    Stopped, Sysotel, Waiting, json_events, require_root, run_basic_fixture, unique_path,
};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");
const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");
/// getppid calls of the matching workload, and of the other one.
const N_IN: u64 = 1000;
const N_OUT: u64 = 5000;

/// A workload started with `--wait`: it blocks until released.
fn waiting(prefix: &[&str], opts: &[&str], mode: &str, n: u64) -> Waiting {
    Waiting::start(WORKLOAD, prefix, opts, mode, n)
}

/// The namespace inode behind `/proc/PID/ns/NAME`, once it differs from ours
/// (the process has entered its own).
fn ns_inode(pid: u32, name: &str) -> u64 {
    let ours = std::fs::read_link(format!("/proc/self/ns/{name}")).expect("own namespace");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(link) = std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
            && link != ours
        {
            let s = link.to_string_lossy().into_owned();
            return s
                .split_once(":[")
                .and_then(|(_, v)| v.strip_suffix(']'))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("namespace link {s}"));
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never entered a new {name} namespace"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// getppid events by pid, and every event's ppid.
fn getppid_by_pid(stdout: &str) -> (HashMap<u64, u64>, HashMap<u64, u64>) {
    let mut count = HashMap::new();
    let mut ppid = HashMap::new();
    for e in json_events(stdout) {
        if e["event"] == "getppid" {
            let pid = e["pid"].as_u64().expect("pid");
            *count.entry(pid).or_insert(0) += 1;
            ppid.insert(pid, e["ppid"].as_u64().expect("ppid"));
        }
    }
    (count, ppid)
}

/// Traces getppid within `scope` while `matching` and `other` run; returns
/// what arrived by pid. Asserts that the kernel wrote exactly the matching
/// workload's records: not one of the other's was reserved in the ring (no
/// other process on the machine matches these scopes).
fn run_scope(
    scope: &[&str],
    matching: Waiting,
    other: Waiting,
) -> (HashMap<u64, u64>, HashMap<u64, u64>, Stopped) {
    let sysotel = Sysotel::getppid_json(scope, &[]);
    matching.release();
    other.release();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let written = stopped.written("getppid");
    assert_eq!(
        written, N_IN,
        "scope {scope:?}: the kernel wrote {written} getppid records; the matching workload made {N_IN}, the other {N_OUT}, which must not be reserved:\n{}",
        stopped.stderr
    );
    let (count, ppid) = getppid_by_pid(&stopped.stdout);
    (count, ppid, stopped)
}

/// When the matching workload's calls come from another pid (its child, or
/// itself in a new pid namespace): all of them arrive, none of the other
/// workload's. Returns the ppid of each pid that called.
fn assert_only_matching_elsewhere(
    scope: &[&str],
    matching: Waiting,
    other: Waiting,
) -> HashMap<u64, u64> {
    let b = other.pid() as u64;
    let (count, ppid, _) = run_scope(scope, matching, other);
    assert_eq!(
        count.get(&b),
        None,
        "scope {scope:?}: the other workload was traced"
    );
    assert_eq!(
        count.values().sum::<u64>(),
        N_IN,
        "scope {scope:?}: {count:?}"
    );
    ppid
}

/// The common case: the matching workload's pid is the one that calls getppid.
fn assert_only_matching(scope: &[&str], matching: Waiting, other: Waiting) {
    let (a, b) = (matching.pid() as u64, other.pid() as u64);
    let (count, _, _) = run_scope(scope, matching, other);
    assert_eq!(
        count.get(&a).copied(),
        Some(N_IN),
        "scope {scope:?}: the matching workload's events"
    );
    assert_eq!(
        count.get(&b),
        None,
        "scope {scope:?}: the other workload was traced"
    );
}

fn getppid(opts: &[&str], n: u64) -> Waiting {
    waiting(&[], opts, "getppid", n)
}

/// A workload whose child makes the N_IN calls (and its pid), and another
/// making N_OUT.
fn parent_and_other() -> (Waiting, u64, Waiting) {
    let a = waiting(&[], &[], "child", N_IN);
    let parent = a.pid() as u64;
    (a, parent, getppid(&[], N_OUT))
}

#[test]
fn pid() {
    require_root();
    let a = getppid(&[], N_IN);
    let b = getppid(&[], N_OUT);
    let scope = format!("pid={}", a.pid());
    assert_only_matching(&[&scope], a, b);
}

#[test]
fn ppid() {
    require_root();
    // The matching process is the child of `a`; `b` is the test's own child.
    let (a, parent, b) = parent_and_other();
    let ppid = assert_only_matching_elsewhere(&[&format!("ppid={parent}")], a, b);
    assert!(ppid.values().all(|p| *p == parent), "{ppid:?}");
}

#[test]
fn uid_and_gid() {
    require_root();
    let a = getppid(&["--uid", "4242"], N_IN);
    let b = getppid(&[], N_OUT);
    assert_only_matching(&["uid>4000"], a, b);
    let a = getppid(&["--gid", "4343"], N_IN);
    let b = getppid(&[], N_OUT);
    assert_only_matching(&["gid=4343"], a, b);
}

#[test]
fn comm_exact_prefix_and_negation() {
    require_root();
    let a = getppid(&["--comm", "sysoA-exact"], N_IN);
    let b = getppid(&["--comm", "sysoB-exact"], N_OUT);
    assert_only_matching(&["comm=sysoA-exact"], a, b);
    // Two prefixes as alternatives, one excluded again.
    let a = getppid(&["--comm", "sysoA-pre"], N_IN);
    let b = getppid(&["--comm", "sysoB-pre"], N_OUT);
    assert_only_matching(&["comm=sysoA*,sysoB*", "comm!=sysoB*"], a, b);
}

#[test]
fn mount_and_pid_namespaces() {
    require_root();
    let a = waiting(&["unshare", "-m"], &[], "getppid", N_IN);
    let ns = ns_inode(a.pid(), "mnt");
    let b = getppid(&[], N_OUT);
    assert_only_matching(&[&format!("mntns={ns}")], a, b);

    // unshare -p forks: the workload is its child, in the new namespace.
    let a = waiting(&["unshare", "-p", "-f"], &[], "getppid", N_IN);
    let ns = ns_inode(a.pid(), "pid_for_children");
    let b = getppid(&[], N_OUT);
    assert_only_matching_elsewhere(&[&format!("pidns={ns}")], a, b);
}

#[test]
fn uts_hostname() {
    require_root();
    let a = getppid(&["--hostname", "sysotel-uts-a"], N_IN);
    let b = getppid(&["--hostname", "sysotel-other-b"], N_OUT);
    assert_only_matching(&["uts=sysotel-uts*"], a, b);
}

#[test]
fn container_and_not_container() {
    require_root();
    let container = || {
        let w = waiting(
            &["unshare", "-p", "-f", "-m", "--mount-proc"],
            &[],
            "getppid",
            N_IN,
        );
        ns_inode(w.pid(), "pid_for_children");
        w
    };
    let a = container();
    let b = getppid(&[], N_OUT);
    assert_only_matching_elsewhere(&["container"], a, b);

    // `!container`, with a comm so that other host processes stay out.
    let a = getppid(&["--comm", "sysoHost"], N_IN);
    let b = waiting(
        &["unshare", "-p", "-f", "-m", "--mount-proc"],
        &["--comm", "sysoHost"],
        "getppid",
        N_OUT,
    );
    ns_inode(b.pid(), "pid_for_children");
    assert_only_matching(&["!container", "comm=sysoHost"], a, b);
}

#[test]
fn cgroup_and_below() {
    require_root();
    let root = sysotel_tests::cgroup2_root();
    let name = format!("sysotel-scope-{}", std::process::id());
    let dir = root.join(&name);
    std::fs::create_dir(&dir).expect("create a cgroup");
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).expect("create a child cgroup");
    let a = getppid(&[], N_IN);
    std::fs::write(sub.join("cgroup.procs"), a.pid().to_string()).expect("move into the cgroup");
    let b = getppid(&[], N_OUT);
    assert_only_matching(&[&format!("cgroup=/{name}")], a, b);
    let _ = std::fs::remove_dir(&sub);
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn follow_traces_descendants() {
    require_root();
    // Without follow, the parent's child is not traced...
    let (a, parent, b) = parent_and_other();
    let sysotel = Sysotel::getppid_json(&[&format!("pid={parent}")], &[]);
    a.release();
    b.release();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(stopped.written("getppid"), 0, "{}", stopped.stderr);
    // ...with follow it is, and the other workload still is not.
    let (a, parent, b) = parent_and_other();
    let ppid = assert_only_matching_elsewhere(&[&format!("pid={parent}"), "follow"], a, b);
    assert!(ppid.values().all(|p| *p == parent), "{ppid:?}");
}

#[test]
fn exe_is_decided_in_user_space() {
    require_root();
    let dir = unique_path("exe");
    std::fs::create_dir_all(&dir).expect("dir");
    let copy = format!("{dir}/workload-a");
    std::fs::copy(WORKLOAD, &copy).expect("copy the workload");
    let a = Waiting::from_child(
        Command::new(&copy)
            .args(["--wait", "getppid", &N_IN.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the copy"),
    );
    let b = getppid(&[], N_OUT);
    let (a_pid, b_pid) = (a.pid() as u64, b.pid() as u64);
    let sysotel = Sysotel::getppid_json(&[&format!("exe={dir}/*")], &[]);
    a.release();
    b.release();
    // Started after sysotel: known from its fork and exec records.
    let late = Command::new(&copy)
        .args(["getppid", &N_IN.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the copy");
    let late_pid = late.id() as u64;
    assert!(late.wait_with_output().expect("wait").status.success());
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let (count, _) = getppid_by_pid(&stopped.stdout);
    assert_eq!(count.get(&a_pid).copied(), Some(N_IN));
    assert_eq!(count.get(&late_pid).copied(), Some(N_IN));
    assert_eq!(count.get(&b_pid), None);
    // The kernel cannot decide exe: it wrote every process's getppid (the
    // other workload's among them), and every one not delivered was left out
    // in user space and counted.
    let written = stopped.written("getppid");
    assert!(
        written >= 2 * N_IN + N_OUT,
        "the kernel wrote {written} getppid records:\n{}",
        stopped.stderr
    );
    let delivered: u64 = count.values().sum();
    assert_eq!(
        stopped.summary_count("events filtered out"),
        written - delivered,
        "{}",
        stopped.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn argument_and_retval_filters() {
    require_root();
    let sysotel = Sysotel::start(&[
        "-o",
        "json",
        "-e",
        "openat",
        "--filter",
        "openat.pathname=/tmp/sysotel-test-filter-*",
        "--filter",
        "openat.retval=-ENOENT",
    ]);
    let opened = run_basic_fixture(FIXTURE, "filter");
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let mine: Vec<serde_json::Value> = json_events(&stopped.stdout)
        .into_iter()
        .filter(|e| e["pid"] == opened.pid)
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "only the failed open under the pattern: {mine:?}"
    );
    assert_eq!(mine[0]["args"]["filename"], opened.missing.as_str());
    assert_eq!(mine[0]["error"], "ENOENT");
    // Every other openat the kernel wrote was left out, and counted.
    let delivered = json_events(&stopped.stdout).len() as u64;
    assert_eq!(delivered, stopped.summary_count("events received"));
    assert_eq!(
        stopped.summary_count("events filtered out"),
        stopped.written("openat") - delivered,
        "{}",
        stopped.stderr
    );
}

#[test]
fn address_filter() {
    require_root();
    let sysotel = Sysotel::start(&[
        "-o",
        "json",
        "-e",
        "connect",
        "--filter",
        "connect.addr=127.0.0.2/32",
    ]);
    let out = Command::new("python3")
        .args([
            "-c",
            "import socket,os\nfor a in ('127.0.0.1','127.0.0.2','127.0.0.3'):\n s=socket.socket()\n try: s.connect((a,9))\n except OSError: pass\n s.close()\nprint(os.getpid())",
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid");
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let all = json_events(&stopped.stdout);
    let mine: Vec<&serde_json::Value> = all.iter().filter(|e| e["pid"] == pid).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["args"]["uservaddr"], "127.0.0.2:9", "{mine:?}");
    assert_eq!(
        stopped.summary_count("events filtered out"),
        stopped.written("connect") - all.len() as u64,
        "{}",
        stopped.stderr
    );
}

#[test]
fn scope_from_a_config_file() {
    require_root();
    let path = format!("{}.toml", unique_path("scope-config"));
    std::fs::write(
        &path,
        "output = [\"json\"]\nevents = [\"getppid\"]\n[scope]\ncomm = \"sysoCfgA\"\n",
    )
    .expect("write the config");
    let a = getppid(&["--comm", "sysoCfgA"], N_IN);
    let b = getppid(&["--comm", "sysoCfgB"], N_OUT);
    let (a_pid, b_pid) = (a.pid() as u64, b.pid() as u64);
    let sysotel = Sysotel::start(&["-c", &path]);
    a.release();
    b.release();
    let stopped = sysotel.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert_eq!(stopped.written("getppid"), N_IN, "{}", stopped.stderr);
    let (count, _) = getppid_by_pid(&stopped.stdout);
    assert_eq!(count.get(&a_pid).copied(), Some(N_IN));
    assert_eq!(count.get(&b_pid), None);
    let _ = std::fs::remove_file(&path);
}
