//! sysotel as the package's systemd unit runs it (package/sysotel.service),
//! without systemd: with no capabilities but the unit's (its
//! CapabilityBoundingSet, under no_new_privs, as root) it attaches every
//! program this kernel offers (the LSM events by the mechanism
//! `SYSOTEL_EXPECT_LSM` names, as in tests/tests/lsm.rs), reads /proc of a
//! process of another user that started before it, attributes processes in
//! containers created back to back from their first record, tells the
//! service manager READY=1 once attached and STOPPING=1 at SIGTERM, and
//! prints its summary. The kernel matrix runs it on 5.10, 6.1 and 6.12: what the
//! capabilities must be on older kernels.

use std::{
    collections::{BTreeSet, HashMap},
    os::unix::net::UnixDatagram,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use sysotel_tests::{
    Cgroup, Stopped, Sysotel, Waiting, cgroup2_root, expected_lsm_in_ready_line, json_events,
    require_root, sysotel_bin, unique_path,
};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");
const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../package/sysotel.service");

/// The values of `key=` in the unit's [Service] section, split on spaces.
fn unit_values(key: &str) -> Vec<String> {
    let unit = std::fs::read_to_string(UNIT).expect("package/sysotel.service");
    let values: Vec<String> = unit
        .lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .flat_map(|v| v.split_whitespace().map(str::to_string))
        .collect();
    assert!(!values.is_empty(), "no {key}= in the unit");
    values
}

/// Capability numbers (linux/capability.h) of the names the unit may use.
fn cap_number(name: &str) -> u32 {
    match name {
        "CAP_DAC_READ_SEARCH" => 2,
        "CAP_SYS_PTRACE" => 19,
        "CAP_SYS_ADMIN" => 21,
        "CAP_SYS_RESOURCE" => 24,
        "CAP_MAC_ADMIN" => 33,
        "CAP_PERFMON" => 38,
        "CAP_BPF" => 39,
        other => panic!("the unit names {other}: add its number here"),
    }
}

/// A capability mask of /proc/PID/status (`CapEff:` and the like).
fn caps_of(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim();
    u64::from_str_radix(hex, 16).expect("hex mask")
}

/// The capability numbers set in `mask`.
fn bits(mask: u64) -> BTreeSet<u32> {
    (0..64).filter(|b| mask & (1 << b) != 0).collect()
}

/// The notification socket a service manager would listen on.
struct NotifySocket {
    path: String,
    sock: UnixDatagram,
}

impl NotifySocket {
    fn new() -> NotifySocket {
        let path = unique_path("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the notification socket");
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        NotifySocket { path, sock }
    }

    /// The next datagram (within 30 s).
    fn next(&self, what: &str) -> String {
        let mut buf = [0u8; 4096];
        let n = self
            .sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {what} notification within 30 s: {e}"));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// setpriv's --bounding-set of the unit's capabilities but `dropped`, and
/// its mask: what this test has of them (it can hand sysotel no more).
fn bounding_set(dropped: &[&str]) -> (String, u64) {
    let caps = unit_values("CapabilityBoundingSet");
    assert_eq!(
        caps,
        unit_values("AmbientCapabilities"),
        "the unit's bounding and ambient sets differ"
    );
    for d in dropped {
        assert!(caps.iter().any(|c| c == d), "the unit has no {d} to drop");
    }
    let caps: Vec<&String> = caps
        .iter()
        .filter(|c| !dropped.contains(&c.as_str()))
        .collect();
    let unit_mask: u64 = caps.iter().map(|c| 1u64 << cap_number(c)).sum();
    let own = caps_of(std::process::id(), "CapBnd:");
    let meant = unit_mask & own;
    if meant != unit_mask {
        eprintln!(
            "this machine's bounding set lacks capabilities {:?} of the unit: sysotel runs without them",
            bits(unit_mask & !own)
        );
    }
    let bounding = format!(
        "-all,{}",
        caps.iter()
            .filter(|c| own & (1 << cap_number(c)) != 0)
            .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
            .collect::<Vec<_>>()
            .join(",")
    );
    (bounding, meant)
}

/// `sysotel ARGS` as the unit runs it: under no_new_privs, with no
/// inheritable capabilities and the bounding set `bounding` (root's
/// effective set becomes exactly that at exec).
fn as_the_unit(bounding: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set",
        bounding,
    ])
    .arg(sysotel_bin())
    .args(args);
    cmd
}

/// What one run as the unit showed.
struct Run {
    stopped: Stopped,
    /// sysotel's effective capabilities and no_new_privs while it ran, and
    /// the capabilities it was meant to have.
    effective: u64,
    meant: u64,
    no_new_privs: u64,
    /// The first notification (READY=1) and the one at SIGTERM.
    ready: String,
    stopping: String,
    /// How many getppid calls the process of nobody, started before
    /// sysotel, made; how many were reported.
    n: u64,
    early_reported: u64,
    /// For each process in a container: its container's id, and the
    /// container ids its getppid records carry.
    in_containers: Vec<(String, Vec<Option<String>>)>,
}

/// sysotel started as the unit starts it (its capabilities but `dropped`,
/// no_new_privs, NOTIFY_SOCKET), scoped to a copy of the workload: one copy
/// run as nobody before sysotel starts, two more in containers' cgroups
/// created back to back after; then SIGTERM.
fn run_as_the_unit(dropped: &[&str]) -> Run {
    require_root();
    let (bounding, meant) = bounding_set(dropped);

    // A process of another user (nobody), started before sysotel: its /proc
    // is another user's (and, after setresuid, not dumpable), which sysotel
    // reads to put it in scope (CAP_SYS_PTRACE).
    let dir = unique_path("service");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = format!("{dir}/workload");
    std::fs::copy(WORKLOAD, &copy).unwrap();
    let n = 25u64;
    let workload = |opts: &[&str]| {
        Waiting::from_child(
            Command::new(&copy)
                .args(opts)
                .args(["--wait", "getppid"])
                .arg(n.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn the workload"),
        )
    };
    let early = workload(&["--gid", "65534", "--uid", "65534"]);
    let early_pid = u64::from(early.pid());

    let notify = NotifySocket::new();
    let args = ["-o", "json", "--scope", &format!("exe={dir}/*")];
    let mut cmd = as_the_unit(&bounding, &args);
    cmd.env("NOTIFY_SOCKET", &notify.path);
    if !Path::new("/sys/kernel/security/lsm").exists() {
        // A service manager's host has securityfs mounted; sysotel without
        // CAP_SYS_ADMIN cannot mount it itself.
        let _ = Command::new("mount")
            .args(["-t", "securityfs", "securityfs", "/sys/kernel/security"])
            .status();
    }
    let sysotel = Sysotel::start_command(cmd, &args);
    let ready = notify.next("READY=1");
    let effective = caps_of(sysotel.pid(), "CapEff:");
    let no_new_privs = caps_of(sysotel.pid(), "NoNewPrivs:");
    early.release();

    // Two containers' cgroups (named as Docker names them) created back to
    // back, a process in each: both attributed from their first record,
    // which takes opening a cgroup by its handle (CAP_DAC_READ_SEARCH).
    let top = Cgroup::create(
        cgroup2_root().join(
            Path::new(&unique_path("service"))
                .file_name()
                .expect("a name"),
        ),
    );
    let docker = Cgroup::create(top.0.join("docker"));
    let mut ids = HashMap::new();
    let mut cgroups = Vec::new();
    for id in [
        format!("{:0>64x}", 0x5e41_1ce1_u64),
        format!("{:0>64x}", 0x5e41_1ce2_u64),
    ] {
        let cgroup = Cgroup::create(docker.0.join(&id));
        let w = workload(&[]);
        cgroup.enter(w.pid());
        ids.insert(u64::from(w.pid()), id);
        w.release();
        cgroups.push(cgroup);
    }
    let stopped = sysotel.stop_with(libc::SIGTERM);
    let stopping = notify.next("STOPPING=1");
    let _ = std::fs::remove_dir_all(&dir);
    // Innermost first: each cgroup is empty now (its process has exited).
    drop(cgroups);
    drop(docker);
    drop(top);

    let events = json_events(&stopped.stdout);
    let getppid_of = |pid: u64| {
        events
            .iter()
            .filter(move |e| e["event"] == "getppid" && e["pid"] == pid)
    };
    let early_reported = getppid_of(early_pid).count() as u64;
    let in_containers = ids
        .iter()
        .map(|(pid, id)| {
            let carried = getppid_of(*pid)
                .map(|e| e["container"]["id"].as_str().map(str::to_string))
                .collect();
            (id.clone(), carried)
        })
        .collect();
    Run {
        stopped,
        effective,
        meant,
        no_new_privs,
        ready,
        stopping,
        n,
        early_reported,
        in_containers,
    }
}

#[test]
fn runs_with_the_units_capabilities_and_tells_systemd() {
    let run = run_as_the_unit(&[]);
    let stopped = &run.stopped;
    assert!(
        run.ready.lines().any(|l| l == "READY=1")
            && run.ready.lines().any(|l| l.starts_with("STATUS=tracing: ")),
        "{:?}",
        run.ready
    );
    assert_eq!(
        bits(run.effective),
        bits(run.meant),
        "sysotel's effective capabilities are the unit's"
    );
    assert_eq!(run.no_new_privs, 1);
    assert!(
        run.stopping.lines().any(|l| l == "STOPPING=1"),
        "{:?}",
        run.stopping
    );
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("events received"),
        "the summary at SIGTERM:\n{}",
        stopped.stderr
    );
    let ready_line = stopped
        .stderr
        .lines()
        .find(|l| l.contains("ready:"))
        .unwrap_or_else(|| panic!("no ready line:\n{}", stopped.stderr));
    let lsm = expected_lsm_in_ready_line();
    assert!(ready_line.contains(lsm), "want `{lsm}` in: {ready_line}");
    assert_eq!(
        run.early_reported, run.n,
        "the getppid calls of nobody's process started before sysotel:\n{}",
        stopped.stderr
    );
    for (id, carried) in &run.in_containers {
        assert_eq!(
            carried.len() as u64,
            run.n,
            "getppid records in container {id}"
        );
        assert!(
            carried.iter().all(|c| c.as_deref() == Some(id.as_str())),
            "the records of the process in container {id} carry {carried:?}"
        );
    }
    // EACCES and EPERM as sysotel prints them; the ready line (checked
    // above) may name the LSM mechanisms this kernel refuses.
    let refused: Vec<&str> = stopped
        .stderr
        .lines()
        .filter(|l| !l.contains("ready:"))
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("permission denied") || l.contains("not permitted")
        })
        .collect();
    assert!(
        refused.is_empty(),
        "refused something with the unit's capabilities:\n{}",
        stopped.stderr
    );
}

/// The unit asks for no capability it does not need: without CAP_SYS_PTRACE
/// the process of another user that started before sysotel falls out of the
/// scope; without CAP_DAC_READ_SEARCH the second of two containers created
/// back to back goes unattributed; without CAP_BPF or CAP_PERFMON sysotel
/// exits naming them. (CAP_SYS_RESOURCE: only 5.10 charges BPF memory to
/// RLIMIT_MEMLOCK.)
#[test]
fn each_capability_of_the_unit_is_needed() {
    let own = caps_of(std::process::id(), "CapBnd:");
    for cap in ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"] {
        assert!(
            own & (1 << cap_number(cap)) != 0,
            "this test runs without {cap} itself: it cannot show what dropping it does"
        );
    }
    let run = run_as_the_unit(&["CAP_SYS_PTRACE"]);
    assert!(run.stopped.status.success(), "{}", run.stopped.stderr);
    assert_eq!(
        run.early_reported, 0,
        "without CAP_SYS_PTRACE, nobody's process is still in scope?"
    );
    assert!(
        run.in_containers
            .iter()
            .all(|(id, c)| c.iter().all(|c| c.as_deref() == Some(id.as_str()))),
        "{:?}",
        run.in_containers
    );

    for cap in ["CAP_BPF", "CAP_PERFMON"] {
        let (bounding, _) = bounding_set(&[cap]);
        let out = as_the_unit(&bounding, &["-o", "json", "-e", "getppid"])
            .output()
            .expect("setpriv");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "ran without {cap}: {err}");
        assert!(
            err.contains("sysotel needs root, or the capabilities CAP_BPF and CAP_PERFMON"),
            "without {cap}: {err}"
        );
    }

    let run = run_as_the_unit(&["CAP_DAC_READ_SEARCH"]);
    assert!(run.stopped.status.success(), "{}", run.stopped.stderr);
    assert_eq!(run.early_reported, run.n);
    assert!(
        run.in_containers
            .iter()
            .any(|(id, c)| c.iter().any(|c| c.as_deref() != Some(id.as_str()))),
        "without CAP_DAC_READ_SEARCH, both containers were attributed from their first record: {:?}",
        run.in_containers
    );
}

#[test]
fn a_notification_socket_that_is_gone_is_a_warning_not_a_failure() {
    require_root();
    let gone = unique_path("gone.sock");
    let args = ["-o", "json", "-e", "getppid"];
    let mut cmd = Command::new(sysotel_bin());
    cmd.args(args).env("NOTIFY_SOCKET", &gone);
    let sysotel = Sysotel::start_command(cmd, &args);
    let stopped = sysotel.stop_with(libc::SIGTERM);
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains(&format!(
            "sysotel: telling the service manager (NOTIFY_SOCKET={gone}) \"READY=1\" failed: "
        )),
        "{}",
        stopped.stderr
    );
    assert!(
        stopped.stderr.contains("events received"),
        "{}",
        stopped.stderr
    );
}
