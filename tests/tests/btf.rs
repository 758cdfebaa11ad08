//! The kernel's type information from a file (`--btf`), for kernels built
//! without BTF: with the kernel's own BTF copied to a file and
//! `/sys/kernel/btf/vmlinux` hidden, sysotel reports the fixture exactly as
//! it does from sysfs; without BTF and without `--btf` it exits 1 naming
//! the flag.

use sysotel_tests::{
    KERNEL_BTF, Sysotel,
    fixture::{assert_reported, run_basic},
    run_sysotel, unique_path, without_kernel_btf,
};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");

/// The running kernel's BTF, copied to a file.
fn btf_copy() -> String {
    let path = unique_path("vmlinux.btf");
    std::fs::copy(KERNEL_BTF, &path).expect("copy the kernel's BTF");
    path
}

#[test]
fn the_fixture_reads_the_same_with_btf_from_a_file() {
    sysotel_tests::require_root();
    let btf = btf_copy();
    let sysotel = Sysotel::start_without_kernel_btf(&["-o", "json", "--btf", &btf]);
    let sysotel_pid = sysotel.pid() as u64;
    let run = run_basic(FIXTURE);
    let stopped = sysotel.stop();
    let _ = std::fs::remove_file(&btf);
    assert_reported(&stopped, sysotel_pid, &run, FIXTURE);
}

#[test]
fn without_btf_it_exits_1_naming_the_flag() {
    sysotel_tests::require_root();
    let out = without_kernel_btf()
        .arg(sysotel_tests::sysotel_bin())
        .args(["-o", "json"])
        .output()
        .expect("run sysotel");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(KERNEL_BTF) && stderr.contains("--btf FILE"),
        "the message names neither the missing file nor --btf: {stderr}"
    );
    assert!(
        stderr.contains("(Linux "),
        "the message names no kernel: {stderr}"
    );
}

#[test]
fn a_file_that_is_not_btf_is_refused_at_start() {
    sysotel_tests::require_root();
    let path = unique_path("not-btf");
    std::fs::write(&path, b"not type information").unwrap();
    let out = run_sysotel(&["-o", "json", "--btf", &path], &[]);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("kernel BTF at {path} does not parse")),
        "{stderr}"
    );
    let out = run_sysotel(&["-o", "json", "--btf", "/no/such/btf"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read kernel BTF at /no/such/btf"),
        "{stderr}"
    );
}
