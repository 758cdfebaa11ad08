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
//!   kinds <new-file>
//!       one syscall of each argument kind: open with O_CREAT|O_TRUNC and mode
//!       0640, connect to a closed 127.0.0.1 port and to a missing AF_UNIX path,
//!       mmap 7 pages PROT_READ|PROT_EXEC, kill(self, SIGUSR1), a failing access, an
//!       execve with spaces, quotes and non-UTF-8 bytes in argv, a failing execve
//!       with an empty argument.
//!   identity <cgroup.procs> <hostname> <uid> <gid> <existing> <missing> <code> <argc>
//!       moves itself into the cgroup, enters a new UTS namespace named
//!       <hostname> and a new pid namespace, and forks its first process
//!       (`child`), which switches to <uid>/<gid>, opens both paths, connects
//!       to a closed 127.0.0.1 port, forks a process that execs /bin/true with
//!       <argc> arguments of 20 bytes, waits for it and exits with <code>.
//!   unfaulted <path-file> <target>
//!       opens <target> through a path the tracer cannot read at entry.
//!   exec-variants <dir> | exec-unfaulted <path-file> <target> | exec-race <a> <b> <millis>
//!       execs for the exec check (see `exec_check`).
//!   lsm-hooks | lsm-files <dir>
//!       one of each action the LSM hook events report (see `lsm_hooks`).

#[path = "fixture/exec_check.rs"]
mod exec_check;
#[path = "fixture/lsm_hooks.rs"]
mod lsm_hooks;

use std::{
    ffi::CString,
    io::{BufRead, Write},
};

/// The argv the child passes to /bin/true (spaces kept on purpose).
pub const TRUE_ARGV: [&str; 3] = ["/bin/true", "arg one", "x"];

/// argv of the `kinds` exec: spaces, quotes, UTF-8 and bytes that are not UTF-8.
const KINDS_ARGV: [&[u8]; 5] = [
    b"/bin/true",
    b"a b",
    b"q\"uote",
    b"caf\xc3\xa9",
    b"\xff\xfe",
];

fn cstrings(items: &[&[u8]]) -> Vec<CString> {
    items
        .iter()
        .map(|a| CString::new(*a).expect("no NUL"))
        .collect()
}

fn ptrs(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect()
}

fn errno() -> i64 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64
}

/// Connects to a 127.0.0.1 port that was free a moment ago (bound to 0,
/// read, closed): refused. Reports the socket, the port and the result.
fn connect_closed_port(out: &mut impl Write) {
    // SAFETY: plain socket syscalls on local values; every result is reported.
    unsafe {
        let probe = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as u16;
        sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        libc::bind(probe, &sa as *const _ as *const libc::sockaddr, 16);
        let mut len: libc::socklen_t = 16;
        libc::getsockname(probe, &mut sa as *mut _ as *mut libc::sockaddr, &mut len);
        libc::close(probe);
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let r = libc::connect(s, &sa as *const _ as *const libc::sockaddr, 16);
        let _ = writeln!(out, "inet_fd={s}");
        let _ = writeln!(out, "inet_port={}", u16::from_be(sa.sin_port));
        let _ = writeln!(out, "inet_ret={}", if r < 0 { -errno() } else { r as i64 });
    }
}

fn kinds(new_file: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "pid={}", std::process::id());
    let path = CString::new(new_file).expect("path");
    // SAFETY: plain syscalls on valid arguments; every result is reported.
    unsafe {
        let fd = libc::openat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            0o640 as libc::c_uint,
        );
        let _ = writeln!(out, "open_fd={fd}");

        connect_closed_port(&mut out);

        let unix_path = format!("/tmp/sysotel-fixture-missing-{}.sock", std::process::id());
        let mut su: libc::sockaddr_un = std::mem::zeroed();
        su.sun_family = libc::AF_UNIX as u16;
        for (d, b) in su.sun_path.iter_mut().zip(unix_path.as_bytes()) {
            *d = *b as libc::c_char;
        }
        let u = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        let ulen = (2 + unix_path.len() + 1) as libc::socklen_t;
        let r = libc::connect(u, &su as *const _ as *const libc::sockaddr, ulen);
        let _ = writeln!(out, "unix_path={unix_path}");
        let _ = writeln!(out, "unix_fd={u}");
        let _ = writeln!(out, "unix_len={ulen}");
        let _ = writeln!(out, "unix_ret={}", if r < 0 { -errno() } else { r as i64 });

        // Seven pages: a length no mapping made while loading the program
        // has, so the test can find this one by its arguments.
        let m = libc::mmap(
            std::ptr::null_mut(),
            7 * 4096,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        let _ = writeln!(out, "mmap_ret={}", m as u64);

        libc::signal(libc::SIGUSR1, libc::SIG_IGN);
        let r = libc::kill(libc::getpid(), libc::SIGUSR1);
        let _ = writeln!(out, "kill_ret={r}");

        let missing = CString::new("/nonexistent/sysotel-access").expect("path");
        let r = libc::access(missing.as_ptr(), libc::R_OK);
        let _ = writeln!(
            out,
            "access_ret={}",
            if r < 0 { -errno() } else { r as i64 }
        );
        let _ = out.flush();

        let argv = cstrings(&KINDS_ARGV);
        let envp = cstrings(&[b"SYSOTEL_TEST=1"]);
        let (argv_p, envp_p) = (ptrs(&argv), ptrs(&envp));
        let child = libc::fork();
        if child == 0 {
            libc::execve(argv_p[0], argv_p.as_ptr(), envp_p.as_ptr());
            libc::_exit(127);
        }
        let mut status = 0;
        libc::waitpid(child, &mut status, 0);
        let _ = writeln!(out, "exec_child={child}");

        // An empty element on purpose: some kernels' string read returns 0
        // for it, which must not read as a fault.
        let bad = cstrings(&[b"/nonexistent/prog", b"", b"x y"]);
        let bad_p = ptrs(&bad);
        let r = libc::execve(bad_p[0], bad_p.as_ptr(), envp_p.as_ptr());
        let _ = writeln!(
            out,
            "bad_exec_ret={}",
            if r < 0 { -errno() } else { r as i64 }
        );
    }
    let _ = out.flush();
}

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

/// The host pid of this process: /proc is the host's, and /proc/self names
/// the caller as the procfs's own pid namespace sees it.
fn host_pid() -> i64 {
    std::fs::read_link("/proc/self")
        .expect("/proc/self")
        .to_string_lossy()
        .parse()
        .expect("a pid")
}

/// The argv of the identity mode's exec: /bin/true and `argc - 1` arguments
/// of 20 bytes each (`arg-0001-xxxxxxxxxxx`).
pub fn identity_argv(argc: usize) -> Vec<String> {
    std::iter::once("/bin/true".to_string())
        .chain((1..argc).map(|i| format!("arg-{i:04}-xxxxxxxxxxx")))
        .collect()
}

fn identity(args: &[String]) -> ! {
    let [procs, hostname, uid, gid, existing, missing, code, argc] = args else {
        usage()
    };
    let uid: u32 = uid.parse().expect("uid");
    let gid: u32 = gid.parse().expect("gid");
    let code: i32 = code.parse().expect("exit code");
    let argc: usize = argc.parse().expect("argc");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "parent_pid={}", std::process::id());
    std::fs::write(procs, "0").expect("move into the cgroup");
    // SAFETY: plain syscalls; the fork happens in a single-threaded program
    // and the child only makes syscalls before it exits.
    unsafe {
        if libc::unshare(libc::CLONE_NEWUTS | libc::CLONE_NEWPID) != 0 {
            panic!("unshare: {}", std::io::Error::last_os_error());
        }
        if libc::sethostname(hostname.as_ptr() as *const _, hostname.len()) != 0 {
            panic!("sethostname: {}", std::io::Error::last_os_error());
        }
        let _ = out.flush();
        let child = libc::fork();
        if child == 0 {
            identity_child(uid, gid, existing, missing, code, argc);
        }
        let _ = writeln!(out, "child_pid={child}");
        let mut status = 0;
        libc::waitpid(child, &mut status, 0);
        let _ = writeln!(out, "child_status={}", libc::WEXITSTATUS(status));
    }
    let _ = out.flush();
    std::process::exit(0);
}

/// Pid 1 of the new pid namespace.
fn identity_child(uid: u32, gid: u32, existing: &str, missing: &str, code: i32, argc: usize) -> ! {
    let mut out = std::io::stdout().lock();
    let me = host_pid();
    // A session of its own, with no controlling terminal: its session and
    // process group are led by itself.
    // SAFETY: a plain syscall.
    if unsafe { libc::setsid() } < 0 {
        panic!("setsid: {}", std::io::Error::last_os_error());
    }
    let _ = writeln!(out, "child_vpid={}", std::process::id());
    let _ = writeln!(out, "child_pid_ns={}", ns_inode("pid"));
    let _ = writeln!(out, "child_mnt_ns={}", ns_inode("mnt"));
    let argv = identity_argv(argc);
    let argv_c: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_str()).expect("arg"))
        .collect();
    let argv_p = ptrs(&argv_c);
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: plain syscalls on valid arguments; the grandchild only calls
    // execve and _exit.
    unsafe {
        // Groups first: after setresuid there is no privilege left to change them.
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(gid, gid, gid) != 0
            || libc::setresuid(uid, uid, uid) != 0
        {
            panic!(
                "dropping to {uid}/{gid}: {}",
                std::io::Error::last_os_error()
            );
        }
        let _ = writeln!(out, "open_fd={}", openat(existing));
        let _ = writeln!(out, "missing_ret={}", openat(missing));

        connect_closed_port(&mut out);
        let _ = out.flush();

        let gc = libc::fork();
        if gc == 0 {
            libc::execve(argv_p[0], argv_p.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
        // The grandchild's host pid: /proc lists children as the host sees them.
        let children = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children"))
            .expect("the children of the first process");
        let _ = writeln!(out, "grandchild_pid={}", children.trim());
        let _ = writeln!(out, "grandchild_vpid={gc}");
        let mut status = 0;
        libc::waitpid(gc, &mut status, 0);
        let _ = writeln!(out, "grandchild_status={}", libc::WEXITSTATUS(status));
        let _ = out.flush();
        libc::_exit(code);
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: fixture basic <existing> <missing> <code> | wait-open <path> | kinds <new-file> | identity <cgroup.procs> <hostname> <uid> <gid> <existing> <missing> <code> <argc> | unfaulted <path-file> <target> | exec-variants <dir> | exec-unfaulted <path-file> <target> | exec-race <a> <b> <millis> | lsm-hooks | lsm-files <dir>"
    );
    std::process::exit(2);
}

fn wait_open(path: &str) {
    println!("pid={}", std::process::id());
    println!("started");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    println!("open_fd={}", openat(path));
}

/// A private mapping of `path_file`, written with `target` and its NUL, that
/// no one has touched: its page is not present until the kernel faults it
/// in, so a tracer cannot read it at syscall entry. The file stays open
/// (its fd is not reused by the syscall the test looks for).
fn untouched_mapping(path_file: &str, target: &str) -> (*mut libc::c_void, std::fs::File) {
    let mut bytes = target.as_bytes().to_vec();
    bytes.push(0);
    std::fs::write(path_file, &bytes).expect("write the path file");
    let file = std::fs::File::open(path_file).expect("open the path file");
    // SAFETY: a private read-only mapping of a file we own; it is read only by
    // the kernel, through the syscall it is given to, and never touched here.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes.len(),
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            std::os::fd::AsRawFd::as_raw_fd(&file),
            0,
        )
    };
    assert_ne!(
        addr,
        libc::MAP_FAILED,
        "mmap: {}",
        std::io::Error::last_os_error()
    );
    (addr, file)
}

/// Opens `target` through a path in an [`untouched_mapping`]. Reports
/// `pid`, `path_addr` and `open_fd`.
fn unfaulted(path_file: &str, target: &str) -> ! {
    let (addr, _file) = untouched_mapping(path_file, target);
    // SAFETY: the path is NUL-terminated inside the mapping.
    let fd = unsafe { libc::openat(libc::AT_FDCWD, addr as *const libc::c_char, libc::O_RDONLY) };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "pid={}", std::process::id());
    let _ = writeln!(out, "path_addr={}", addr as u64);
    let _ = writeln!(out, "open_fd={fd}");
    let _ = out.flush();
    std::process::exit(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("basic") if args.len() == 5 => {
            let code: i32 = args[4].parse().expect("exit code");
            basic(&args[2], &args[3], code)
        }
        Some("wait-open") if args.len() == 3 => wait_open(&args[2]),
        Some("kinds") if args.len() == 3 => kinds(&args[2]),
        Some("identity") => identity(&args[2..]),
        Some("unfaulted") if args.len() == 4 => unfaulted(&args[2], &args[3]),
        Some("exec-variants") if args.len() == 3 => exec_check::variants(&args[2]),
        Some("exec-unfaulted") if args.len() == 4 => exec_check::unfaulted(&args[2], &args[3]),
        Some("lsm-hooks") if args.len() == 2 => lsm_hooks::run(),
        Some("lsm-files") if args.len() == 3 => lsm_hooks::files(&args[2]),
        Some("exec-race") if args.len() == 5 => {
            exec_check::race(&args[2], &args[3], args[4].parse().expect("millis"))
        }
        _ => usage(),
    }
}
