//! Benchmark workloads (scripts/bench.py): each runs a fixed number of
//! operations and prints `elapsed_ns=` for the loop alone, so process start-up
//! does not blur the ratio between a bare and a traced run.
//!
//!   workload getppid N     N getppid syscalls
//!   workload open N PATH   N open/read/close of PATH
//!   workload forkexec N    N fork + exec of /bin/true, each waited for
//!   workload child N       runs `workload getppid N` as a child, waits for it
//!   workload rate N R      N getppid syscalls at a steady R per second (a
//!                          burst every millisecond, then a sleep until the
//!                          next one); prints `rate=` achieved as well
//!
//! Options before the mode set the process up first (the scope tests):
//!   --wait           read a line from stdin before anything else
//!   --comm NAME      set the thread's command name (prctl PR_SET_NAME)
//!   --gid N, --uid N switch to this group / user (setresgid, setresuid)
//!   --hostname NAME  enter a new UTS namespace with this hostname

use std::{ffi::CString, time::Instant};

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    setup(&mut args);
    let n: u64 = args
        .get(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| usage());
    let start = Instant::now();
    match args[1].as_str() {
        "getppid" => {
            for _ in 0..n {
                // SAFETY: getppid has no arguments and cannot fail; the raw
                // syscall makes sure no library cache answers instead.
                unsafe { libc::syscall(libc::SYS_getppid) };
            }
        }
        "open" => {
            let path = CString::new(args.get(3).cloned().unwrap_or_else(|| usage())).expect("path");
            let mut buf = [0u8; 64];
            for _ in 0..n {
                // SAFETY: valid C string and buffer; the fd is closed right away.
                unsafe {
                    let fd = libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY);
                    if fd < 0 {
                        eprintln!("workload: cannot open {path:?}");
                        std::process::exit(1);
                    }
                    libc::read(fd, buf.as_mut_ptr() as *mut _, buf.len());
                    libc::close(fd);
                }
            }
        }
        "child" => {
            let status = std::process::Command::new(std::env::current_exe().expect("own path"))
                .args(["getppid", &n.to_string()])
                .status()
                .expect("spawn the child workload");
            assert!(status.success());
        }
        "forkexec" => {
            for _ in 0..n {
                let status = std::process::Command::new("/bin/true")
                    .status()
                    .expect("spawn /bin/true");
                assert!(status.success());
            }
        }
        "rate" => {
            let rate: u64 = args
                .get(3)
                .and_then(|v| v.parse().ok())
                .filter(|&r| r > 0)
                .unwrap_or_else(|| usage());
            steady(n, rate, start);
            let secs = start.elapsed().as_secs_f64();
            println!("rate={:.0}", n as f64 / secs);
        }
        _ => usage(),
    }
    println!("elapsed_ns={}", start.elapsed().as_nanos());
}

/// `n` getppid calls at `rate` per second from `start`: each millisecond
/// tick issues the calls due by its end, then sleeps until the next tick
/// (absolute deadlines, so a late tick is caught up, not lost).
fn steady(n: u64, rate: u64, start: Instant) {
    const TICK_NS: u64 = 1_000_000;
    let mut done = 0u64;
    let mut tick = 0u64;
    while done < n {
        tick += 1;
        let due = (u128::from(rate) * u128::from(tick * TICK_NS) / 1_000_000_000) as u64;
        while done < due.min(n) {
            // SAFETY: as in the getppid loop.
            unsafe { libc::syscall(libc::SYS_getppid) };
            done += 1;
        }
        let next = start + std::time::Duration::from_nanos(tick * TICK_NS);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// Applies the leading options and removes them from `args`.
fn setup(args: &mut Vec<String>) {
    let fail = |what: &str| -> ! {
        eprintln!("workload: {what}: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    };
    while args.get(1).is_some_and(|a| a.starts_with("--")) {
        let opt = args.remove(1);
        let mut value = || {
            if args.len() < 2 {
                usage();
            }
            args.remove(1)
        };
        match opt.as_str() {
            "--wait" => {
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            }
            "--comm" => {
                let name = CString::new(value()).expect("comm");
                // SAFETY: a valid C string; the kernel copies at most 15 bytes.
                if unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } != 0 {
                    fail("prctl(PR_SET_NAME)");
                }
            }
            "--gid" => {
                let gid: u32 = value().parse().unwrap_or_else(|_| usage());
                // SAFETY: plain syscalls on our own credentials.
                if unsafe {
                    libc::setgroups(0, std::ptr::null()) != 0 || libc::setresgid(gid, gid, gid) != 0
                } {
                    fail("setresgid");
                }
            }
            "--uid" => {
                let uid: u32 = value().parse().unwrap_or_else(|_| usage());
                // SAFETY: a plain syscall on our own credentials.
                if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
                    fail("setresuid");
                }
            }
            "--hostname" => {
                let name = value();
                // SAFETY: a new UTS namespace for this process only, then its name.
                unsafe {
                    if libc::unshare(libc::CLONE_NEWUTS) != 0 {
                        fail("unshare(CLONE_NEWUTS)");
                    }
                    if libc::sethostname(name.as_ptr() as *const _, name.len()) != 0 {
                        fail("sethostname");
                    }
                }
            }
            _ => usage(),
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: workload [--wait] [--comm NAME] [--gid N] [--uid N] [--hostname NAME] \\
         getppid N | open N PATH | forkexec N | child N | rate N R"
    );
    std::process::exit(2);
}
