//! The LSM hook events, end to end on the real kernel: what the kernel
//! resolved (the file's whole path across mounts, its inode and device, the
//! name exec was given, the interpreter of a `#!` script) is what the records
//! say, and nothing written is lost. Where the kernel runs neither BPF LSM
//! nor fentry programs, asking for an LSM event exits 2 with the reason and
//! a default run says the events are off.
//!
//! `SYSOTEL_EXPECT_LSM` says which mechanism this kernel must give:
//! `bpf-lsm`, `fentry` or `off` (the default: this project's development
//! host refuses both with EPERM). The kernel matrix sets it per guest.

use std::{os::unix::fs::MetadataExt, path::Path, process::Command};

use sysotel_tests::{
    Stopped, Sysotel, expected_lsm_in_ready_line, json_events, run_sysotel, unique_path,
};

fn expected() -> String {
    std::env::var("SYSOTEL_EXPECT_LSM").unwrap_or_else(|_| "off".into())
}

/// Skips nothing: on a kernel without the mechanism, the test is the
/// unavailability check instead, and says so.
fn available() -> bool {
    match expected().as_str() {
        "bpf-lsm" | "fentry" => true,
        "off" => false,
        other => panic!("SYSOTEL_EXPECT_LSM={other}: expected bpf-lsm, fentry or off"),
    }
}

/// Where the LSM events cannot attach: asking for `event` exits 2; its
/// stderr. Said on the test's output, so the run shows which check ran.
fn refused(event: &str) -> String {
    let out = run_sysotel(&["-e", event, "-o", "json"], &[]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    eprintln!(
        "LSM events are unavailable on this kernel (SYSOTEL_EXPECT_LSM=off): checked the refusal of -e {event}"
    );
    err
}

/// The kernel's `dev_t` (major << 20 | minor) of a user-space `st_dev`.
fn kernel_dev(st_dev: u64) -> u64 {
    (u64::from(libc::major(st_dev)) << 20) | u64::from(libc::minor(st_dev))
}

fn events_of(stopped: &Stopped, event: &str, pid: u32) -> Vec<serde_json::Value> {
    json_events(&stopped.stdout)
        .into_iter()
        .filter(|e| e["event"] == event && e["pid"] == u64::from(pid))
        .collect()
}

fn assert_nothing_lost(stopped: &Stopped, event: &str) {
    assert_eq!(
        stopped.summary_count("events lost in kernel"),
        0,
        "{}",
        stopped.stderr
    );
    assert_eq!(
        stopped.received_by_name().get(event).copied().unwrap_or(0),
        stopped.written(event),
        "every {event} record the kernel wrote was received:\n{}",
        stopped.stderr
    );
}

#[test]
fn the_ready_line_says_how_lsm_events_attach() {
    let stopped = Sysotel::start(&["-o", "json"]).stop();
    let want = expected_lsm_in_ready_line();
    let ready = stopped
        .stderr
        .lines()
        .find(|l| l.contains("ready:"))
        .unwrap_or_else(|| panic!("no ready line:\n{}", stopped.stderr));
    assert!(ready.contains(want), "want `{want}` in: {ready}");
}

#[test]
fn file_open_reports_the_kernel_path_inode_and_device() {
    if !available() {
        let err = refused("security_file_open");
        assert!(
            err.contains("-e security_file_open: not available on this kernel: ")
                && err.contains("fentry refused"),
            "the reason, for each mechanism: {err}"
        );
        eprintln!(
            "LSM events are unavailable on this kernel (SYSOTEL_EXPECT_LSM=off): checked the refusal"
        );
        return;
    }
    let dir = unique_path("lsm-open");
    std::fs::create_dir_all(&dir).unwrap();
    let file = Path::new(&dir).join("target.txt");
    std::fs::write(&file, "x").unwrap();
    std::os::unix::fs::symlink("target.txt", Path::new(&dir).join("link")).unwrap();
    let real = std::fs::canonicalize(&file).unwrap();
    let meta = std::fs::metadata(&real).unwrap();

    let sysotel = Sysotel::start(&["-e", "security_file_open", "-o", "json"]);
    // Through a symlink and a relative path: the kernel's path is the file's.
    let child = Command::new("cat")
        .arg("./link")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(child.status.success());
    let stopped = sysotel.stop();
    let _ = std::fs::remove_dir_all(&dir);

    let opens: Vec<_> = json_events(&stopped.stdout)
        .into_iter()
        .filter(|e| e["event"] == "security_file_open" && e["comm"] == "cat")
        .filter(|e| e["args"]["path"] == real.to_str().unwrap())
        .collect();
    assert_eq!(
        opens.len(),
        1,
        "one open of {real:?} by cat:\n{}",
        stopped.stdout
    );
    let args = &opens[0]["args"];
    assert_eq!(args["ino"], meta.ino(), "{args}");
    assert_eq!(args["dev"], kernel_dev(meta.dev()), "{args}");
    assert!(
        args["flags"].as_str().unwrap_or("").contains("O_RDONLY"),
        "{args}"
    );
    assert_nothing_lost(&stopped, "security_file_open");
}

#[test]
fn bprm_check_reports_the_script_then_its_interpreter() {
    if !available() {
        let out = run_sysotel(&["-e", "security_bprm_check", "-o", "json"], &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "LSM events are unavailable on this kernel (SYSOTEL_EXPECT_LSM=off): checked the refusal"
        );
        return;
    }
    let dir = unique_path("lsm-exec");
    std::fs::create_dir_all(&dir).unwrap();
    let script = Path::new(&dir).join("script.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("script.sh", Path::new(&dir).join("run")).unwrap();
    let real = std::fs::canonicalize(&script).unwrap();
    let meta = std::fs::metadata(&real).unwrap();
    let sh = std::fs::canonicalize("/bin/sh").unwrap();

    let sysotel = Sysotel::start(&["-e", "security_bprm_check", "-o", "json"]);
    let child = Command::new("./run").current_dir(&dir).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    let stopped = sysotel.stop();
    let _ = std::fs::remove_dir_all(&dir);

    let checks = events_of(&stopped, "security_bprm_check", pid);
    assert_eq!(
        checks.len(),
        2,
        "the script, then its interpreter:\n{}",
        stopped.stdout
    );
    let (first, second) = (&checks[0]["args"], &checks[1]["args"]);
    assert_eq!(first["path"], real.to_str().unwrap(), "{first}");
    assert_eq!(first["ino"], meta.ino(), "{first}");
    assert_eq!(first["dev"], kernel_dev(meta.dev()), "{first}");
    assert_eq!(first["filename"], "./run", "{first}");
    assert_eq!(first["interp"], "", "{first}");
    assert_eq!(first["argc"], 1, "{first}");
    assert_eq!(first["setuid"], false, "{first}");
    assert_eq!(second["path"], sh.to_str().unwrap(), "{second}");
    assert_eq!(second["filename"], "./run", "{second}");
    assert_eq!(second["interp"], "/bin/sh", "{second}");
    assert_eq!(second["argc"], 2, "{second}");
    assert_nothing_lost(&stopped, "security_bprm_check");
}

/// The fixture's `key=value` report as numbers.
fn report_num(r: &std::collections::HashMap<String, String>, key: &str) -> i64 {
    r.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("fixture reported no {key}: {r:?}"))
}

const HOOK_EVENTS: &str = "security_task_kill,security_ptrace_access_check,security_file_mprotect,security_bpf,security_socket_connect,security_socket_bind,security_socket_listen,security_socket_accept";

#[test]
fn hook_events_report_what_the_kernel_was_asked() {
    if !available() {
        let err = refused(HOOK_EVENTS);
        assert!(err.contains("not available on this kernel"), "{err}");
        return;
    }
    let sysotel = Sysotel::start(&["-e", HOOK_EVENTS, "-o", "json"]);
    let out = sysotel_tests::run_ok(env!("CARGO_BIN_EXE_fixture"), &["lsm-hooks"]);
    let r = sysotel_tests::fixture_report(&out.stdout);
    let stopped = sysotel.stop();
    let pid = report_num(&r, "pid") as u32;
    let one = |event: &str, pred: &dyn Fn(&serde_json::Value) -> bool| -> serde_json::Value {
        let found: Vec<_> = events_of(&stopped, event, pid)
            .into_iter()
            .filter(|e| pred(&e["args"]))
            .collect();
        assert_eq!(found.len(), 1, "one {event}:\n{}", stopped.stdout);
        found[0]["args"].clone()
    };
    for (tag, family, host) in [
        ("inet", "AF_INET", "127.0.0.1"),
        ("inet6", "AF_INET6", "[::1]"),
    ] {
        for step in ["bind", "listen", "connect", "accept"] {
            assert_eq!(
                report_num(&r, &format!("{tag}_{step}_ret")),
                0,
                "{tag} {step}"
            );
        }
        let port = report_num(&r, &format!("{tag}_port"));
        let of_family = |a: &serde_json::Value| a["family"] == family;
        let bind = one("security_socket_bind", &of_family);
        assert_eq!(bind["local_addr"], format!("{host}:0"), "{bind}");
        assert_eq!(bind["type"], "SOCK_STREAM", "{bind}");
        assert_eq!(bind["protocol"], "IPPROTO_TCP", "{bind}");
        let listen = one("security_socket_listen", &of_family);
        assert_eq!(listen["local_addr"], format!("{host}:{port}"), "{listen}");
        assert_eq!(listen["backlog"], 7, "{listen}");
        let connect = one("security_socket_connect", &of_family);
        assert_eq!(connect["addr"], format!("{host}:{port}"), "{connect}");
        let accept = one("security_socket_accept", &of_family);
        assert_eq!(accept["local_addr"], format!("{host}:{port}"), "{accept}");
    }

    assert_eq!(report_num(&r, "kill_ret"), 0);
    let victim = report_num(&r, "kill_child");
    let kill = one("security_task_kill", &|a| a["signal"] == "SIGUSR1");
    assert_eq!(kill["target_pid"], victim, "{kill}");
    assert_eq!(kill["target_tid"], victim, "{kill}");

    assert_eq!(report_num(&r, "ptrace_ret"), 0);
    let traced = report_num(&r, "ptrace_child");
    let ptrace = one("security_ptrace_access_check", &|a| {
        a["target_pid"] == traced
    });
    assert_eq!(ptrace["target_tid"], traced, "{ptrace}");
    assert_eq!(
        ptrace["mode"], "PTRACE_MODE_ATTACH|PTRACE_MODE_REALCREDS",
        "{ptrace}"
    );

    assert_eq!(report_num(&r, "mprotect_ret"), 0);
    let start = format!("{:#x}", report_num(&r, "mprotect_start"));
    let end = format!("{:#x}", report_num(&r, "mprotect_end"));
    let mprotect = one("security_file_mprotect", &|a| a["start"] == start.as_str());
    assert_eq!(mprotect["end"], end, "{mprotect}");
    assert_eq!(mprotect["reqprot"], "PROT_READ|PROT_EXEC", "{mprotect}");
    assert_eq!(mprotect["anonymous"], true, "{mprotect}");

    let bpf = one("security_bpf", &|a| a["cmd"] == "BPF_PROG_GET_NEXT_ID");
    assert_eq!(bpf["size"], report_num(&r, "bpf_size"), "{bpf}");

    for event in HOOK_EVENTS.split(',') {
        assert_nothing_lost(&stopped, event);
    }
}

const PATH_EVENTS: &str = "security_path_unlink,security_path_rename,security_sb_mount,security_kernel_read_file,security_kernel_load_data";

#[test]
fn path_events_report_whole_paths() {
    if !available() {
        let err = refused(PATH_EVENTS);
        assert!(err.contains("not available on this kernel"), "{err}");
        return;
    }
    let dir = unique_path("lsm-files");
    std::fs::create_dir_all(&dir).unwrap();
    let real = std::fs::canonicalize(&dir).unwrap();
    let real = real.to_str().unwrap();
    let sysotel = Sysotel::start(&["-e", PATH_EVENTS, "-o", "json"]);
    let out = sysotel_tests::run_ok(env!("CARGO_BIN_EXE_fixture"), &["lsm-files", &dir]);
    let stopped = sysotel.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let r = sysotel_tests::fixture_report(&out.stdout);
    let pid = report_num(&r, "pid") as u32;
    let one = |event: &str| -> serde_json::Value {
        let found = events_of(&stopped, event, pid);
        assert_eq!(found.len(), 1, "one {event}:\n{}", stopped.stdout);
        found[0]["args"].clone()
    };
    for step in ["unlink", "rename", "mount"] {
        assert_eq!(report_num(&r, &format!("{step}_ret")), 0, "{step}: {r:?}");
    }
    let unlink = one("security_path_unlink");
    assert_eq!(unlink["path"], format!("{real}/gone"), "{unlink}");
    let rename = one("security_path_rename");
    assert_eq!(rename["old_path"], format!("{real}/from"), "{rename}");
    assert_eq!(rename["new_path"], format!("{real}/to"), "{rename}");
    let mount = one("security_sb_mount");
    assert_eq!(mount["dev_name"], format!("{dir}/src"), "{mount}");
    assert_eq!(mount["path"], format!("{real}/dst"), "{mount}");
    assert_eq!(mount["type"], "", "{mount}");
    assert_eq!(
        mount["flags"],
        format!("{:#x}", report_num(&r, "mount_flags")),
        "{mount}"
    );
    // Both loads were refused (not a module), after the hooks ran.
    assert!(report_num(&r, "finit_module_ret") < 0, "{r:?}");
    assert!(report_num(&r, "init_module_ret") < 0, "{r:?}");
    let read = one("security_kernel_read_file");
    assert_eq!(read["path"], format!("{real}/module.bin"), "{read}");
    assert_eq!(read["id"], "READING_MODULE", "{read}");
    let load = one("security_kernel_load_data");
    assert_eq!(load["id"], "LOADING_MODULE", "{load}");
    for event in PATH_EVENTS.split(',') {
        assert_nothing_lost(&stopped, event);
    }
}
