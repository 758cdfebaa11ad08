//! Who did it, as the kernel's credentials say: a setuid program runs with
//! its owner's effective and saved user ids for its caller's real one, each
//! named from the host's passwd.

use std::{os::unix::fs::PermissionsExt as _, process::Command};

use sysotel_tests::{Sysotel, json_events, require_root, unique_path};

const WORKLOAD: &str = env!("CARGO_BIN_EXE_workload");
/// `nobody`, which Debian's passwd names.
const CALLER: u32 = 65534;
const CALLS: usize = 20;

type Ids = ((u64, u64, u64), (String, String));

/// Runs a copy of the workload with `mode` (root-owned) as uid CALLER and
/// returns the (uid, euid, suid) of each of its getppid records, and the
/// (effective, real) user names they carry.
fn run_as_caller(mode: u32) -> Vec<Ids> {
    let dir = unique_path("identity");
    std::fs::create_dir(&dir).expect("a directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let bin = format!("{dir}/workload-id");
    std::fs::copy(WORKLOAD, &bin).expect("copy the workload");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let sysotel = Sysotel::getppid_json(&[&format!("uid={CALLER}")], &[]);
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={CALLER}"),
            &format!("--regid={CALLER}"),
            "--clear-groups",
            &bin,
            "getppid",
            &CALLS.to_string(),
        ])
        .output()
        .expect("run setpriv");
    let stopped = sysotel.stop();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "the workload as uid {CALLER}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let ids: Vec<_> = json_events(&stopped.stdout)
        .iter()
        .filter(|e| e["event"] == "getppid" && e["comm"] == "workload-id")
        .map(|e| {
            let id = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("{k} in {e}"));
            let name = |k: &str| e[k].as_str().unwrap_or("(none)").to_string();
            (
                (id("uid"), id("euid"), id("suid")),
                (name("user_name"), name("real_user_name")),
            )
        })
        .collect();
    assert_eq!(ids.len(), CALLS, "the workload's getppid records");
    ids
}

#[test]
fn a_setuid_program_is_root_effectively_and_its_caller_really() {
    require_root();
    let caller = u64::from(CALLER);
    let named = |effective: &str, real: &str| (effective.to_string(), real.to_string());
    for (ids, names) in run_as_caller(0o4755) {
        assert_eq!(
            ids,
            (caller, 0, 0),
            "(uid, euid, suid) of a setuid-root program"
        );
        assert_eq!(
            names,
            named("root", "nobody"),
            "(user_name, real_user_name)"
        );
    }
    // The same program without the setuid bit: the caller's ids throughout.
    for (ids, names) in run_as_caller(0o755) {
        assert_eq!(
            ids,
            (caller, caller, caller),
            "(uid, euid, suid) of a plain program"
        );
        assert_eq!(
            names,
            named("nobody", "nobody"),
            "(user_name, real_user_name)"
        );
    }
}
