//! Helpers for the end-to-end tests: run the real `sysotel` binary as root
//! against the real kernel, wait for `ready`, stop it with SIGINT and read back
//! what it printed.

pub mod kafka;
pub mod rotel;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, MutexGuard, mpsc},
    time::{Duration, Instant},
};

/// One sysotel at a time: two instances in the default scope would trace each
/// other's output and feed on it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

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
}

/// Runs the fixture program (`fixture`: its path) in `basic` mode on a unique
/// existing path and a missing one, exit code 0.
pub fn run_basic_fixture(fixture: &str, tag: &str) -> Opened {
    let existing = unique_path(&format!("{tag}-exists"));
    std::fs::write(&existing, b"x").expect("create");
    let missing = unique_path(&format!("{tag}-missing"));
    let at_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let out = Command::new(fixture)
        .args(["basic", &existing, &missing, "0"])
        .output()
        .expect("run fixture");
    assert!(out.status.success());
    let r = fixture_report(&out.stdout);
    let _ = std::fs::remove_file(&existing);
    Opened {
        pid: r["pid"].parse().expect("pid"),
        fd: r["open_fd"].parse().expect("fd"),
        existing,
        missing,
        at_ns,
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

impl Stopped {
    /// The number after `label:` in the summary, e.g. `events received`.
    pub fn summary_count(&self, label: &str) -> u64 {
        let prefix = format!("{label}: ");
        self.stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(&prefix))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` in the summary:\n{}", self.stderr))
    }
}

/// One output's totals from the summary line
/// `output NAME: produced P, exported E, rejected R, dropped D (...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputTotals {
    pub produced: u64,
    pub exported: u64,
    pub rejected: u64,
    pub dropped: u64,
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
            line.split(", ")
                .find_map(|part| part.strip_prefix(label))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no `{label}` in `{line}`"))
        };
        OutputTotals {
            produced: n("produced "),
            exported: n("exported "),
            rejected: n("rejected "),
            dropped: n("dropped "),
        }
    }
}

pub struct Sysotel {
    child: Child,
    stdout_path: String,
    stderr: Arc<Mutex<Vec<String>>>,
    _lock: MutexGuard<'static, ()>,
}

impl Sysotel {
    /// Starts sysotel with `args` and waits for its `ready` line.
    pub fn start(args: &[&str]) -> Sysotel {
        Sysotel::start_with_env(args, &[])
    }

    /// As [`Sysotel::start`], with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Sysotel {
        require_root();
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let stdout_path = unique_path("stdout");
        let stdout = std::fs::File::create(&stdout_path).expect("create stdout file");
        let mut child = Command::new(sysotel_bin())
            .args(args)
            .envs(env.iter().copied())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sysotel");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr pipe");
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if line.contains("ready") {
                    let _ = ready_tx.send(());
                }
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ready_rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "sysotel {args:?} exited ({status}) before ready:\n{}",
                    stderr.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("sysotel {args:?} not ready within 60s");
            }
        }
        Sysotel {
            child,
            stdout_path,
            stderr,
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

    /// Anonymous resident memory (`RssAnon`), in KiB: sysotel's own memory,
    /// without the ring buffer the kernel maps into it.
    pub fn rss_anon_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("RssAnon:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }

    /// SIGINT, then waits for the exit and the summary.
    pub fn stop(mut self) -> Stopped {
        // Events are drained on a 50 ms tick; give the last ones time to arrive.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait sysotel") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("sysotel did not exit within 30s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        let stdout = std::fs::read_to_string(&self.stdout_path).expect("read stdout");
        let _ = std::fs::remove_file(&self.stdout_path);
        let stderr = self
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n");
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

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}
