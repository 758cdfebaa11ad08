//! Helpers for the end-to-end tests: run the real `sysotel` binary as root
//! against the real kernel, wait for `ready`, stop it with SIGINT and read back
//! what it printed.

pub mod collector;
pub mod cri;
pub mod fixture;
pub mod gaps;
pub mod kafka;
pub mod rotel;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write as _},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, MutexGuard, mpsc},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// Polls `f` every 50 ms until it returns a value, for at most `timeout`;
/// past it the test fails naming `what` it waited for.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "waited {timeout:?} for {what}, in vain"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One sysotel at a time: two instances in the default scope would trace each
/// other's output and feed on it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// OpenTelemetry's `host.arch` of the architecture the tests are built for
/// (sysotel under test is built for the same).
pub const HOST_ARCH: &str = if cfg!(target_arch = "aarch64") {
    "arm64"
} else {
    "amd64"
};

/// How long sysotel may take to attach and print its ready line: 60 s, or
/// `SYSOTEL_TEST_READY_SECS` (the arm64 guests of the kernel matrix, where
/// every instruction of the verifier is emulated, set more).
pub fn ready_secs() -> u64 {
    std::env::var("SYSOTEL_TEST_READY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

/// The sysotel binary under test: `$SYSOTEL_BIN`, or the workspace's release build.
pub fn sysotel_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SYSOTEL_BIN") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/sysotel");
    assert!(
        p.exists(),
        "{} not found: build it first with `cargo build --release` (scripts/test.sh does)",
        p.display()
    );
    p
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the end-to-end tests load eBPF programs and must run as root"
    );
}

/// GET `path` from 127.0.0.1:`port`: (status code, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::Read;
    let mut s =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics endpoint");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// Where the kernel shows its BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

/// A command that runs its arguments (a program and its arguments) in a
/// private mount namespace where [`KERNEL_BTF`] reads as empty.
pub fn without_kernel_btf() -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &format!("mount --bind /dev/null {KERNEL_BTF} && exec \"$0\" \"$@\""),
    ]);
    cmd
}

/// What the fixture's `basic` mode did.
pub struct Opened {
    pub pid: u64,
    /// A unique path that existed (removed again afterwards) and was opened.
    pub existing: String,
    /// A unique path that did not exist (its open failed with ENOENT).
    pub missing: String,
    /// The fd the open of `existing` returned.
    pub fd: i64,
    /// Unix ns just before the fixture started.
    pub at_ns: u64,
    /// Unix ns just after it exited.
    pub done_ns: u64,
}

/// Runs the fixture program (`fixture`: its path) in `basic` mode on a unique
/// existing path and a missing one, exit code 0.
pub fn run_basic_fixture(fixture: &str, tag: &str) -> Opened {
    let existing = unique_path(&format!("{tag}-exists"));
    std::fs::write(&existing, b"x").expect("create");
    let missing = unique_path(&format!("{tag}-missing"));
    let unix_ns = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    };
    let at_ns = unix_ns();
    let out = Command::new(fixture)
        .args(["basic", &existing, &missing, "0"])
        .output()
        .expect("run fixture");
    let done_ns = unix_ns();
    assert!(
        out.status.success(),
        "the fixture failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let r = fixture_report(&out.stdout);
    let _ = std::fs::remove_file(&existing);
    Opened {
        pid: r["pid"].parse().expect("pid"),
        fd: r["open_fd"].parse().expect("fd"),
        existing,
        missing,
        at_ns,
        done_ns,
    }
}

/// A file inside an installed Python package (scripts/peers.sh installs
/// them): `code` prints its path; `what` names it in the failure.
pub fn python_path(code: &str, what: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", code])
        .output()
        .expect("python3");
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && std::path::Path::new(&p).exists(),
        "{what} is not installed: run scripts/peers.sh"
    );
    p
}

/// Waits (up to 20 s) until something listens on 127.0.0.1:`port`.
pub fn wait_listening(port: u16, what: &str) {
    wait_for(
        &format!("{what} to listen on port {port}"),
        Duration::from_secs(20),
        || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
    );
}

/// Runs `program` with `args` to its end and returns what it printed,
/// failing the test (with its stderr) if it did not succeed.
pub fn run_ok(program: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs sysotel to completion with `args` and `env` only (the test's own
/// `SYSOTEL_*` and `OTEL_*` variables removed).
pub fn run_sysotel(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(sysotel_bin());
    cmd.args(args).envs(env.iter().copied());
    for (k, _) in std::env::vars() {
        if k.starts_with("SYSOTEL_") && k != "SYSOTEL_BIN" || k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("run sysotel")
}

/// sysotel refuses `args` and `env` as a usage error (exit 2); its stderr.
pub fn usage_error(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run_sysotel(args, env);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} {env:?} must be a usage error: {err}"
    );
    err
}

/// A path under /tmp no other run uses.
pub fn unique_path(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("/tmp/sysotel-test-{tag}-{}-{nanos}", std::process::id())
}

/// What a stopped sysotel left behind.
pub struct Stopped {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
}

/// `name=count` pairs separated by spaces.
fn name_counts(line: &str, context: &str) -> HashMap<String, u64> {
    line.split_whitespace()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("`{kv}` is not name=count in:\n{context}"));
            let n = v
                .parse()
                .unwrap_or_else(|_| panic!("`{kv}`: not a count in:\n{context}"));
            (k.to_string(), n)
        })
        .collect()
}

impl Stopped {
    /// The number after `label:` in the summary, e.g. `events received`.
    /// The programs the ready line says were attached.
    pub fn programs_attached(&self) -> u64 {
        self.stderr
            .lines()
            .find_map(|l| l.split("ready: ").nth(1))
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no ready line with a program count:\n{}", self.stderr))
    }

    pub fn summary_count(&self, label: &str) -> u64 {
        let prefix = format!("{label}: ");
        self.stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(&prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` in the summary:\n{}", self.stderr))
    }

    /// The kernel's own count of records written to the ring buffer, by
    /// event name (`records written by the kernel: N` and, when N > 0, the
    /// `by name:` line under it). The counts add up to N.
    pub fn kernel_written(&self) -> HashMap<String, u64> {
        let total = self.summary_count("records written by the kernel");
        let mut lines = self
            .stderr
            .lines()
            .skip_while(|l| !l.contains("records written by the kernel"));
        lines.next();
        let by = match lines.next().and_then(|l| l.trim().strip_prefix("by name:")) {
            Some(l) => name_counts(l, &self.stderr),
            None => HashMap::new(),
        };
        assert_eq!(
            by.values().sum::<u64>(),
            total,
            "the per-event counts add up to the total:\n{}",
            self.stderr
        );
        by
    }

    /// The kernel's count of records written for one event (0 when none was).
    pub fn written(&self, event: &str) -> u64 {
        self.kernel_written().get(event).copied().unwrap_or(0)
    }

    /// Events passed to the outputs, by name (`events by name:`; absent when
    /// no event was received). The counts add up to `events received`.
    pub fn received_by_name(&self) -> HashMap<String, u64> {
        let total = self.summary_count("events received");
        let by = self
            .stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("events by name:"))
            .map(|l| name_counts(l, &self.stderr))
            .unwrap_or_default();
        assert_eq!(
            by.values().sum::<u64>(),
            total,
            "the per-event counts add up to `events received`:\n{}",
            self.stderr
        );
        by
    }
}

/// One output's totals from the summary line `output NAME: produced P,
/// exported E, rejected R, dropped D (queue full F, disk full K, failed X,
/// shutdown timeout S), kept Q, retries T`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputTotals {
    pub produced: u64,
    pub exported: u64,
    pub rejected: u64,
    pub dropped: u64,
    pub dropped_full: u64,
    pub dropped_disk_full: u64,
    pub dropped_failed: u64,
    pub dropped_shutdown: u64,
    /// Left in the disk queue for the next run.
    pub kept: u64,
    pub retries: u64,
}

impl Stopped {
    pub fn output_totals(&self, name: &str) -> OutputTotals {
        let prefix = format!("output {name}: ");
        let line = self
            .stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in the summary:\n{}", self.stderr));
        let n = |label: &str| -> u64 {
            line.split([',', '('])
                .find_map(|part| part.trim().strip_prefix(label))
                .and_then(|v| v.trim().split([' ', ')']).next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no `{label}` in `{line}`"))
        };
        let t = OutputTotals {
            produced: n("produced "),
            exported: n("exported "),
            rejected: n("rejected "),
            dropped: n("dropped "),
            dropped_full: n("queue full "),
            dropped_disk_full: n("disk full "),
            dropped_failed: n("failed "),
            dropped_shutdown: n("shutdown timeout "),
            kept: n("kept "),
            retries: n("retries "),
        };
        assert_eq!(
            t.dropped_full + t.dropped_disk_full + t.dropped_failed + t.dropped_shutdown,
            t.dropped,
            "the drop reasons add up to the drops: `{line}`"
        );
        t
    }
}

/// The accounting identity of output `name`: every record handed to it
/// (events and loss reports) ended exported, rejected or dropped, and it was
/// handed at least every event received. Returns its totals.
pub fn assert_accounted(stopped: &Stopped, name: &str) -> OutputTotals {
    let t = stopped.output_totals(name);
    assert_eq!(
        t.exported + t.rejected + t.dropped + t.kept,
        t.produced,
        "output {name}: produced = exported + rejected + dropped + kept:\n{}",
        stopped.stderr
    );
    assert!(
        t.produced >= stopped.summary_count("events received"),
        "output {name} was handed fewer records than were read:\n{}",
        stopped.stderr
    );
    t
}

/// Output `name` delivered everything it was handed: nothing rejected or
/// dropped. Returns its totals.
pub fn assert_all_exported(stopped: &Stopped, name: &str) -> OutputTotals {
    let t = assert_accounted(stopped, name);
    assert_eq!(
        (t.exported, t.rejected, t.dropped),
        (t.produced, 0, 0),
        "output {name} delivered every record it was handed:\n{}",
        stopped.stderr
    );
    t
}

/// Output `name` delivered nothing and counted every record it was handed as
/// dropped for `reason`: `dropped_failed` or `dropped_shutdown` and so on.
/// Returns its totals.
pub fn assert_none_delivered(stopped: &Stopped, name: &str) -> OutputTotals {
    let t = assert_accounted(stopped, name);
    assert!(
        t.produced > 0,
        "output {name} was handed nothing:\n{}",
        stopped.stderr
    );
    assert_eq!(
        (t.exported, t.rejected, t.dropped),
        (0, 0, t.produced),
        "output {name} delivered nothing, and counted all of it as dropped:\n{}",
        stopped.stderr
    );
    t
}

pub struct Sysotel {
    child: Child,
    stdout_path: String,
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<JoinHandle<()>>,
    _lock: MutexGuard<'static, ()>,
}

impl Sysotel {
    /// Starts sysotel with `args` and waits for its `ready` line.
    pub fn start(args: &[&str]) -> Sysotel {
        Sysotel::start_with_env(args, &[])
    }

    /// sysotel writing the getppid calls of the processes in `scope` as JSON
    /// lines, with `extra` flags.
    pub fn getppid_json(scope: &[&str], extra: &[&str]) -> Sysotel {
        let mut args = vec!["-o", "json", "-e", "getppid"];
        for t in scope {
            args.extend(["--scope", t]);
        }
        args.extend_from_slice(extra);
        Sysotel::start(&args)
    }

    /// As [`Sysotel::start`], with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Sysotel {
        let mut cmd = Command::new(sysotel_bin());
        cmd.args(args).envs(env.iter().copied());
        Sysotel::start_command(cmd, args)
    }

    /// As [`Sysotel::start`], where the kernel shows no BTF: in a private
    /// mount namespace with `/dev/null` bound over [`KERNEL_BTF`], as on a
    /// kernel built without it.
    pub fn start_without_kernel_btf(args: &[&str]) -> Sysotel {
        let mut cmd = without_kernel_btf();
        cmd.arg(sysotel_bin()).args(args);
        Sysotel::start_command(cmd, args)
    }

    /// Starts `cmd` (sysotel, or a wrapper that runs it, with `args`) and
    /// waits for its `ready` line.
    pub fn start_command(mut cmd: Command, args: &[&str]) -> Sysotel {
        require_root();
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let stdout_path = unique_path("stdout");
        let stdout = std::fs::File::create(&stdout_path).expect("create stdout file");
        let mut child = cmd
            .stdout(stdout)
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sysotel");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr pipe");
        let lines = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if line.contains("ready") {
                    let _ = ready_tx.send(());
                }
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(ready_secs());
        loop {
            if ready_rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Everything it printed, up to its exit.
                let _ = stderr_reader.join();
                panic!(
                    "sysotel {args:?} exited ({status}) before ready:\n{}",
                    stderr.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("sysotel {args:?} not ready within {}s", ready_secs());
            }
        }
        Sysotel {
            child,
            stdout_path,
            stderr,
            stderr_reader: Some(stderr_reader),
            _lock: lock,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What it has written to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        std::fs::read_to_string(&self.stdout_path)
            .unwrap_or_else(|e| panic!("reading sysotel's stdout {}: {e}", self.stdout_path))
    }

    /// What it has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// Waits (up to 30 s) until its stderr has a line containing `needle`.
    pub fn wait_stderr(&self, needle: &str) {
        wait_for(
            &format!("`{needle}` on sysotel's stderr"),
            Duration::from_secs(30),
            || self.stderr_so_far().contains(needle).then_some(()),
        )
    }

    /// Waits (up to 30 s) until a JSON line on its stdout (`-o json`)
    /// satisfies `pred`.
    pub fn wait_json(&self, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
        wait_for(what, Duration::from_secs(30), || {
            let out = self.stdout_so_far();
            // The last line may still be half written.
            let whole = &out[..out.rfind('\n').map_or(0, |i| i + 1)];
            json_events(whole).iter().any(&pred).then_some(())
        })
    }

    /// Anonymous resident memory (`RssAnon`), in KiB: sysotel's own memory,
    /// without the ring buffer the kernel maps into it.
    pub fn rss_anon_kb(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no RssAnon in {path}:\n{status}"))
    }

    /// SIGKILL, as a crash: no flush, no summary. Returns what it wrote to
    /// stderr.
    pub fn kill9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().expect("the stderr reader");
        }
        self.stderr_so_far()
    }

    /// SIGINT, then waits for the exit and the summary. sysotel detaches its
    /// programs and reads what is left in the ring buffer before it exits,
    /// so every record the kernel wrote before the signal is in the output.
    pub fn stop(self) -> Stopped {
        self.stop_with(libc::SIGINT)
    }

    /// As [`Sysotel::stop`], with `signal` (SIGTERM: what a service manager
    /// sends).
    pub fn stop_with(mut self, signal: i32) -> Stopped {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait sysotel") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "sysotel did not exit within 30s of signal {signal}:\n{}",
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The pipe is closed at exit: the reader ends with the last line.
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().expect("the stderr reader");
        }
        let stdout = self.stdout_so_far();
        let _ = std::fs::remove_file(&self.stdout_path);
        let stderr = self.stderr_so_far();
        Stopped {
            stdout,
            stderr,
            status,
        }
    }
}

impl Drop for Sysotel {
    /// A test that fails before `stop` must not leave sysotel tracing the
    /// machine for the tests after it.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.stdout_path);
    }
}

/// The `workload` test program started with `--wait`: it blocks until
/// released, so that it exists (and has its pid, namespaces, ids) before
/// sysotel starts.
pub struct Waiting {
    child: Child,
}

impl Waiting {
    /// `prefix` runs first (e.g. `unshare -m`), then `workload` with `opts`,
    /// `--wait`, and `mode N`.
    pub fn start(workload: &str, prefix: &[&str], opts: &[&str], mode: &str, n: u64) -> Waiting {
        let n = n.to_string();
        let mut args: Vec<&str> = prefix.to_vec();
        args.push(workload);
        args.extend(opts);
        args.extend(["--wait", mode, &n]);
        let child = Command::new(args[0])
            .args(&args[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        Waiting { child }
    }

    /// A program of `workload`'s kind, already spawned with `--wait` and a
    /// piped stdin.
    pub fn from_child(child: Child) -> Waiting {
        Waiting { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets it run and waits for it to finish; it must succeed.
    pub fn release(mut self) {
        let mut stdin = self.child.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("release the workload");
        drop(stdin);
        let status = self.child.wait().expect("wait for the workload");
        assert!(status.success(), "the workload failed: {status}");
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every line of `--output json`, parsed; a line that is not JSON fails the test.
pub fn json_events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The fixture's `key=value` lines.
pub fn fixture_report(stdout: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
/// hybrid hierarchy), from /proc/self/mounts.
pub fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("/proc/self/mounts");
    mounts
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
        })
        .unwrap_or_else(|| panic!("no cgroup2 mount in /proc/self/mounts:\n{mounts}"))
}

/// A cgroup made for a test (named, say, as Docker names a container's:
/// `/docker/<64 hex>`), removed when dropped.
pub struct Cgroup(pub PathBuf);

impl Cgroup {
    pub fn create(path: PathBuf) -> Cgroup {
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        Cgroup(path)
    }

    pub fn enter(&self, pid: u32) {
        std::fs::write(self.0.join("cgroup.procs"), pid.to_string())
            .unwrap_or_else(|e| panic!("move {pid} into {}: {e}", self.0.display()));
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// What the ready line says of the LSM events on this kernel, by
/// `SYSOTEL_EXPECT_LSM` (`bpf-lsm`, `fentry`, or `off`: the default, this
/// project's development host refuses both mechanisms). The kernel matrix
/// sets it per guest.
pub fn expected_lsm_in_ready_line() -> &'static str {
    match std::env::var("SYSOTEL_EXPECT_LSM").as_deref() {
        Ok("bpf-lsm") => "lsm events via bpf-lsm",
        Ok("fentry") => "lsm events via fentry",
        Ok("off") | Err(_) => "lsm events off (",
        Ok(other) => panic!("SYSOTEL_EXPECT_LSM={other}: expected bpf-lsm, fentry or off"),
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}

/// The image the container tests run (scripts/runtimes.sh builds it).
pub const TEST_IMAGE: &str = "sysotel-test/busybox:1";
/// Debian's docker client, of the daemon's release (another may come first
/// on PATH).
const DOCKER: &str = "/usr/bin/docker";

/// Fails, saying why, when dockerd does not answer or the test image is
/// missing: `scripts/runtimes.sh` (run by `make test`) installs and starts both.
pub fn require_docker() {
    require_runtime(
        DOCKER,
        &["image", "inspect", TEST_IMAGE],
        &format!("Docker Engine with the image {TEST_IMAGE}"),
    );
}

/// Fails, saying that the test needs `what`, unless `program ARGS` succeeds.
fn require_runtime(program: &str, args: &[&str], what: &str) {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "this test needs {what}: run `bash scripts/runtimes.sh` (make test does)"
    );
}

/// Runs `docker ARGS`, which must succeed; its stdout.
pub fn docker(args: &[&str]) -> String {
    let out = run_ok(DOCKER, args);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Podman's Docker-compatible service (scripts/runtimes.sh starts it).
pub const PODMAN_SOCKET: &str = "/run/podman/podman.sock";
/// The test image as Podman names it.
pub const PODMAN_TEST_IMAGE: &str = "localhost/sysotel-test/busybox:1";

/// Runs `podman --url unix://PODMAN_SOCKET ARGS` (the service sysotel
/// asks), which must succeed; its stdout.
pub fn podman(args: &[&str]) -> String {
    let url = format!("unix://{PODMAN_SOCKET}");
    let mut all = vec!["--url", url.as_str()];
    all.extend_from_slice(args);
    let out = run_ok("podman", &all);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails, saying why, when Podman's service does not answer or lacks the
/// test image.
pub fn require_podman() {
    let url = format!("unix://{PODMAN_SOCKET}");
    require_runtime(
        "podman",
        &["--url", &url, "image", "exists", PODMAN_TEST_IMAGE],
        &format!("Podman's service at {PODMAN_SOCKET} with the image {PODMAN_TEST_IMAGE}"),
    );
}
