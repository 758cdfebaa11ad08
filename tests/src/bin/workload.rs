//! Benchmark workloads (scripts/bench.py): each runs a fixed number of
//! operations and prints `elapsed_ns=` for the loop alone, so process start-up
//! does not blur the ratio between a bare and a traced run.
//!
//!   workload getppid N     N getppid syscalls
//!   workload open N PATH   N open/read/close of PATH
//!   workload forkexec N    N fork + exec of /bin/true, each waited for

use std::{ffi::CString, time::Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
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
        "forkexec" => {
            for _ in 0..n {
                let status = std::process::Command::new("/bin/true")
                    .status()
                    .expect("spawn /bin/true");
                assert!(status.success());
            }
        }
        _ => usage(),
    }
    println!("elapsed_ns={}", start.elapsed().as_nanos());
}

fn usage() -> ! {
    eprintln!("usage: workload getppid N | open N PATH | forkexec N");
    std::process::exit(2);
}
