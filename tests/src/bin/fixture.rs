//! The program the end-to-end tests trace. Every mode prints what it did as
//! `key=value` lines on stdout, so the test can compare sysotel's events with
//! what really happened.
//!
//! Modes:
//!   basic <existing-path> <missing-path> <exit-code>
//!       openat both paths, fork a child that execs /bin/true with a known argv,
//!       wait for it, exit with <exit-code>.
//!   wait-open <path>
//!       print `started`, wait for a line on stdin, openat <path>, exit 0.

use std::{
    ffi::CString,
    io::{BufRead, Write},
};

/// The argv the child passes to /bin/true (spaces kept on purpose).
pub const TRUE_ARGV: [&str; 3] = ["/bin/true", "arg one", "x"];

fn openat(path: &str) -> i64 {
    let c = CString::new(path).expect("path without NUL");
    // SAFETY: a valid C string; the fd is left open on purpose so the test can
    // match the number the kernel returned.
    let fd = unsafe { libc::openat(libc::AT_FDCWD, c.as_ptr(), libc::O_RDONLY) };
    if fd < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64)
    } else {
        fd as i64
    }
}

fn ns_inode(kind: &str) -> String {
    let link = std::fs::read_link(format!("/proc/self/ns/{kind}")).expect("ns link");
    // "mnt:[4026531841]"
    let s = link.to_string_lossy();
    s.split('[')
        .nth(1)
        .and_then(|r| r.strip_suffix(']'))
        .expect("ns link format")
        .to_string()
}

fn basic(existing: &str, missing: &str, code: i32) -> ! {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "pid={}", std::process::id());
    let _ = writeln!(out, "mnt_ns={}", ns_inode("mnt"));
    let _ = writeln!(out, "pid_ns={}", ns_inode("pid"));
    let _ = writeln!(out, "open_fd={}", openat(existing));
    let _ = writeln!(out, "missing_ret={}", openat(missing));
    let _ = out.flush();

    let argv: Vec<CString> = TRUE_ARGV
        .iter()
        .map(|a| CString::new(*a).expect("arg"))
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: fork in a single-threaded program; the child only calls execve
    // and _exit, which are async-signal-safe.
    let child = unsafe { libc::fork() };
    if child == 0 {
        unsafe {
            libc::execve(ptrs[0], ptrs.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    let _ = writeln!(out, "child_pid={child}");
    let _ = writeln!(out, "child_status={}", libc::WEXITSTATUS(status));
    let _ = out.flush();
    std::process::exit(code);
}

fn wait_open(path: &str) {
    println!("pid={}", std::process::id());
    println!("started");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    println!("open_fd={}", openat(path));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("basic") if args.len() == 5 => {
            let code: i32 = args[4].parse().expect("exit code");
            basic(&args[2], &args[3], code)
        }
        Some("wait-open") if args.len() == 3 => wait_open(&args[2]),
        _ => {
            eprintln!("usage: fixture basic <existing> <missing> <code> | wait-open <path>");
            std::process::exit(2);
        }
    }
}
