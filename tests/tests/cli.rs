//! The command line: bad flags exit 2 naming the flag, `sysotel list` names
//! every category, and without privileges sysotel says what is missing.

use std::process::Command;

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, flag) in [
        (vec!["--scope", "everything"], "--scope"),
        (vec!["--ring-buffer-size", "3M"], "--ring-buffer-size"),
        (vec!["-o", "carrier-pigeon"], "--output"),
        (vec!["--no-such-flag"], "--no-such-flag"),
        (vec!["--loss-interval", "0s"], "--loss-interval"),
    ] {
        let out = Command::new(sysotel_tests::sysotel_bin())
            .args(&args)
            .output()
            .expect("run sysotel");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(flag),
            "{args:?}: message does not name {flag}: {err}"
        );
    }
}

#[test]
fn list_names_every_category() {
    let out = Command::new(sysotel_tests::sysotel_bin())
        .arg("list")
        .output()
        .expect("run sysotel list");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // The table of the architecture sysotel is built for.
    let arch = if cfg!(target_arch = "aarch64") {
        "aarch64"
    } else {
        "x86_64"
    };
    assert!(text.starts_with(&format!("syscall: ({arch}, ")), "{text}");
    for needle in [
        "sched:",
        "openat",
        "sched_process_exec",
        "internal:",
        "sysotel.loss",
        "getppid",
    ] {
        assert!(text.contains(needle), "`sysotel list` lacks {needle}");
    }
}

#[test]
fn without_privileges_it_says_what_is_missing_and_exits_1() {
    // nobody, with no capabilities.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(sysotel_tests::sysotel_bin())
        .output()
        .expect("run setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("needs root") && err.contains("CAP_BPF"),
        "{err}"
    );
}
