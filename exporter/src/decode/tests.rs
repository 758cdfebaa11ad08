use std::mem::size_of;

use exporter_common::{
    events::EventKind,
    records::{
        COMM_LEN, EXEC_ARGV_MAX, EXEC_FILENAME_MAX, Exec, ExecRecord, Exit, ExitRecord, Fork,
        ForkRecord, NO_ARG, RecordHeader, RecordKind, STR_ARRAY, STR_BYTES, STR_FAULT, STR_MAX,
        STR_NOT_FILLED, STR_REREAD, STR_TRUNCATED, Syscall, SyscallRecord, TaskContext, UTS_LEN,
    },
};

use super::*;
use crate::event::Value;

fn bytes_of<T: Copy>(v: &T) -> Vec<u8> {
    // SAFETY: records are plain data; reading their bytes is always valid.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()).to_vec() }
}

fn ctx() -> TaskContext {
    let mut c = TaskContext::zeroed();
    c.ts_boot_ns = 12_345_678_900;
    c.pid = 100;
    c.tid = 101;
    c.ppid = 1;
    c.vpid = 7;
    c.uid = 1000;
    c.gid = 1001;
    c.mnt_ns = 4026531841;
    c.pid_ns = 4026531836;
    c.comm[..4].copy_from_slice(b"bash");
    c.uts_name[..4].copy_from_slice(b"host");
    c
}

/// The build's architecture's number of syscall `name` (openat is 257 on
/// x86_64, 56 on aarch64).
fn nr(name: &str) -> u32 {
    exporter_common::syscalls::by_name(name).expect(name).nr
}

fn openat_record(path: &[u8], flags: u8) -> Vec<u8> {
    let len = size_of::<SyscallRecord>() + path.len();
    let rec = SyscallRecord {
        header: RecordHeader::new(RecordKind::Syscall, nr("openat"), len),
        ctx: ctx(),
        data: Syscall {
            ret: -2,
            args: [(-100i64) as u64, 0x7ffd_0000, 0o2 | 0o100, 0o640, 0, 0],
            nr: nr("openat"),
            str_len: [path.len() as u16, 0, 0],
            str_arg: [1, NO_ARG, NO_ARG],
            str_flags: [flags, 0, 0],
            array_count: [0; 3],
            _pad: [0; 5],
        },
    };
    let mut b = bytes_of(&rec);
    b.extend_from_slice(path);
    b
}

#[test]
fn syscall_round_trip() {
    let e = decode(&openat_record(b"/etc/passwd", 0)).expect("decodes");
    assert_eq!(e.name, "openat");
    assert_eq!(e.ret, -2);
    assert_eq!(e.errno(), Some(2));
    assert_eq!(e.ctx.pid, 100);
    assert_eq!(&*e.ctx.comm, "bash");
    assert_eq!(&*e.ctx.uts_name, "host");
    assert_eq!(e.arg("dfd"), Some(&Value::Fd(-100)));
    assert_eq!(
        e.arg("filename"),
        Some(&Value::Str {
            value: "/etc/passwd".into(),
            truncated: false
        })
    );
    assert_eq!(
        e.arg("flags"),
        Some(&Value::Sym {
            raw: 0o102,
            text: "O_RDWR|O_CREAT".into()
        })
    );
    assert_eq!(e.arg("mode"), Some(&Value::Octal(0o640)));
}

#[test]
fn syscall_string_flags() {
    let e = decode(&openat_record(b"/very/long", STR_TRUNCATED)).expect("decodes");
    assert!(matches!(
        e.arg("filename"),
        Some(Value::Str {
            truncated: true,
            ..
        })
    ));
    let e = decode(&openat_record(b"", STR_FAULT)).expect("decodes");
    assert_eq!(e.arg("filename"), Some(&Value::Unreadable(0x7ffd_0000)));
    // A NULL pointer is a value, not memory that could not be read.
    let mut null = openat_record(b"", STR_FAULT);
    let at = std::mem::offset_of!(SyscallRecord, data) + std::mem::offset_of!(Syscall, args) + 8;
    null[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    let e = decode(&null).expect("decodes");
    assert_eq!(e.arg("filename"), Some(&Value::Hex(0)));
    // Read again at exit: the string, as if read at entry.
    let e = decode(&openat_record(b"/etc/x", STR_REREAD)).expect("decodes");
    assert_eq!(
        e.arg("filename"),
        Some(&Value::Str {
            value: "/etc/x".into(),
            truncated: false
        })
    );
}

#[test]
fn two_string_slots() {
    let old = b"/tmp/a";
    let new = b"/tmp/b";
    let len = size_of::<SyscallRecord>() + STR_MAX + new.len();
    let rec = SyscallRecord {
        header: RecordHeader::new(RecordKind::Syscall, nr("renameat2"), len),
        ctx: ctx(),
        data: Syscall {
            ret: 0,
            args: [(-100i64) as u64, 1, (-100i64) as u64, 2, 0, 0],
            nr: nr("renameat2"),
            str_len: [old.len() as u16, new.len() as u16, 0],
            str_arg: [1, 3, NO_ARG],
            str_flags: [0, 0, 0],
            array_count: [0; 3],
            _pad: [0; 5],
        },
    };
    let mut b = bytes_of(&rec);
    let mut slot0 = vec![0u8; STR_MAX];
    slot0[..old.len()].copy_from_slice(old);
    b.extend_from_slice(&slot0);
    b.extend_from_slice(new);
    let e = decode(&b).expect("decodes");
    assert_eq!(e.name, "renameat2");
    assert!(matches!(e.arg("oldname"), Some(Value::Str { value, .. }) if value == "/tmp/a"));
    assert!(matches!(e.arg("newname"), Some(Value::Str { value, .. }) if value == "/tmp/b"));
}

/// A record with one slot of `data` for argument `arg`, flagged `flags`.
fn one_slot(nr: u32, args: [u64; 6], arg: u8, data: &[u8], flags: u8, count: u8) -> Vec<u8> {
    let len = size_of::<SyscallRecord>() + data.len();
    let rec = SyscallRecord {
        header: RecordHeader::new(RecordKind::Syscall, nr, len),
        ctx: ctx(),
        data: Syscall {
            ret: -111,
            args,
            nr,
            str_len: [data.len() as u16, 0, 0],
            str_arg: [arg, NO_ARG, NO_ARG],
            str_flags: [flags, 0, 0],
            array_count: [count, 0, 0],
            _pad: [0; 5],
        },
    };
    let mut b = bytes_of(&rec);
    b.extend_from_slice(data);
    b
}

#[test]
fn sockaddr_and_array_slots() {
    let mut sa = (libc::AF_INET as u16).to_ne_bytes().to_vec();
    sa.extend_from_slice(&5432u16.to_be_bytes());
    sa.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    let e = decode(&one_slot(
        nr("connect"),
        [3, 0x1000, 16, 0, 0, 0],
        1,
        &sa,
        STR_BYTES,
        0,
    ))
    .expect("connect");
    assert_eq!(e.name, "connect");
    assert!(
        matches!(e.arg("uservaddr"), Some(Value::SockAddr(a)) if crate::format::sockaddr::text(a) == "127.0.0.1:5432")
    );
    assert_eq!(e.arg("fd"), Some(&Value::Fd(3)));
    assert_eq!(e.errno(), Some(111));

    // accept that failed: the kernel wrote no address; the pointer stays.
    let e = decode(&one_slot(
        nr("accept"),
        [3, 0x2000, 0x3000, 0, 0, 0],
        1,
        b"",
        STR_BYTES | STR_NOT_FILLED,
        0,
    ))
    .expect("accept");
    assert_eq!(e.arg("upeer_sockaddr"), Some(&Value::Hex(0x2000)));

    // execve argv captured at entry: 2 of 20 elements fit.
    let e = decode(&one_slot(
        nr("execve"),
        [0x1, 0x2, 0x3, 0, 0, 0],
        1,
        b"ls\0-l\0",
        STR_ARRAY | STR_TRUNCATED,
        17,
    ))
    .expect("execve");
    assert_eq!(
        e.arg("argv"),
        Some(&Value::StrList {
            values: vec!["ls".into(), "-l".into()],
            truncated: true,
            count: 17
        })
    );
    // The unread filename (no slot in this record) is its pointer.
    assert_eq!(e.arg("filename"), Some(&Value::Hex(1)));
}

#[test]
fn fork_exec_exit_round_trip() {
    let e = decode(&bytes_of(&fork_record(200))).expect("fork decodes");
    assert_eq!(e.name, "sched_process_fork");
    assert_eq!(e.arg("child_pid"), Some(&Value::Int(200)));

    let b = exec_record(
        b"/bin/true",
        b"/bin/true\0a b\0caf\xc3\xa9\0",
        3,
        b"A=1\0",
        1,
    );
    let e = decode(&b).expect("exec decodes");
    assert_eq!(
        e.arg("filename"),
        Some(&Value::Str {
            value: "/bin/true".into(),
            truncated: false
        })
    );
    assert_eq!(
        e.arg("argv"),
        Some(&Value::StrList {
            values: vec!["/bin/true".into(), "a b".into(), "café".into()],
            truncated: false,
            count: 3,
        })
    );
    assert_eq!(
        e.arg("envp"),
        Some(&Value::StrList {
            values: vec!["A=1".into()],
            truncated: false,
            count: 1,
        })
    );
    assert_eq!(e.arg("argc"), Some(&Value::Int(3)));

    let exit = exit_record(3 << 8);
    let e = decode(&bytes_of(&exit)).expect("exit decodes");
    assert_eq!(e.arg("exit_code"), Some(&Value::Int(3)));
    assert_eq!(e.arg("signal"), Some(&Value::Int(0)));
    assert_eq!(e.arg("group_dead"), Some(&Value::Bool(true)));
    let killed = ExitRecord {
        data: Exit {
            exit_code: 9,
            ..exit.data
        },
        ..exit
    };
    let e = decode(&bytes_of(&killed)).expect("exit decodes");
    assert_eq!(e.arg("signal"), Some(&Value::Int(9)));
}

#[test]
fn truncated_records_are_errors() {
    let full = openat_record(b"/etc/passwd", 0);
    for n in 0..full.len() {
        assert!(
            decode(&full[..n]).is_err(),
            "a {n}-byte prefix must not decode"
        );
    }
}

#[test]
fn oversized_claims_and_bad_fields_are_errors() {
    let mut b = openat_record(b"/x", 0);
    b[8..12].copy_from_slice(&100_000u32.to_le_bytes());
    assert!(matches!(decode(&b), Err(DecodeError::BadLength { .. })));

    let mut b = openat_record(b"/x", 0);
    b[0..2].copy_from_slice(&99u16.to_le_bytes());
    assert_eq!(decode(&b), Err(DecodeError::UnknownKind(99)));

    // A string length past its slot (only the fixed part is sent from here on).
    let mut rec: SyscallRecord = read(&openat_record(b"/x", 0)).expect("record");
    rec.header.len = size_of::<SyscallRecord>() as u32;
    rec.data.str_len[0] = STR_MAX as u16;
    assert!(matches!(
        decode(&bytes_of(&rec)),
        Err(DecodeError::BadString { .. })
    ));
    // A string length past the bytes sent.
    rec.data.str_len[0] = 100;
    assert!(matches!(
        decode(&bytes_of(&rec)),
        Err(DecodeError::BadString { .. })
    ));
    // An unknown syscall number.
    rec.data.str_len[0] = 0;
    rec.data.nr = 511;
    rec.header.event_id = 511;
    assert_eq!(decode(&bytes_of(&rec)), Err(DecodeError::UnknownEvent(511)));
}

#[test]
fn garbage_never_panics() {
    // A deterministic pseudo-random walk over record shapes; cargo fuzz covers
    // the rest.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 2048) as usize;
        let mut b: Vec<u8> = (0..len).map(|i| (x >> (i % 56)) as u8).collect();
        if b.len() >= 16 {
            b[0..2].copy_from_slice(&(((x >> 3) % 6) as u16).to_le_bytes());
            b[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        }
        let _ = decode(&b);
    }
    let _ = (COMM_LEN, UTS_LEN);
}

fn fork_record(child: u32) -> ForkRecord {
    ForkRecord {
        header: RecordHeader::new(
            RecordKind::Fork,
            EventKind::ProcessFork.id(),
            size_of::<ForkRecord>(),
        ),
        ctx: ctx(),
        data: Fork {
            child_pid: child,
            child_tid: child,
        },
    }
}

fn exit_record(exit_code: u32) -> ExitRecord {
    ExitRecord {
        header: RecordHeader::new(
            RecordKind::Exit,
            EventKind::ProcessExit.id(),
            size_of::<ExitRecord>(),
        ),
        ctx: ctx(),
        data: Exit {
            exit_code,
            group_dead: 1,
        },
    }
}

fn exec_record(filename: &[u8], argv: &[u8], argc: u32, env: &[u8], envc: u32) -> Vec<u8> {
    let len = size_of::<ExecRecord>() + EXEC_FILENAME_MAX + EXEC_ARGV_MAX + env.len();
    let exec = ExecRecord {
        header: RecordHeader::new(RecordKind::Exec, EventKind::ProcessExec.id(), len),
        ctx: ctx(),
        data: Exec {
            old_tid: 101,
            argc,
            filename_len: filename.len() as u16,
            argv_len: argv.len() as u16,
            flags: 0,
            envc,
            env_len: env.len() as u16,
            _pad: 0,
        },
    };
    let mut b = bytes_of(&exec);
    let mut slot = vec![0u8; EXEC_FILENAME_MAX];
    slot[..filename.len()].copy_from_slice(filename);
    b.extend_from_slice(&slot);
    let mut slot = vec![0u8; EXEC_ARGV_MAX];
    slot[..argv.len()].copy_from_slice(argv);
    b.extend_from_slice(&slot);
    b.extend_from_slice(env);
    b
}

/// One record of each shape the kernel writes: the fuzz targets' seed corpus
/// (`fuzz/corpus/seed/`).
fn fuzz_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut inet = (libc::AF_INET as u16).to_ne_bytes().to_vec();
    inet.extend_from_slice(&5432u16.to_be_bytes());
    inet.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut inet6 = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
    inet6.extend_from_slice(&443u16.to_be_bytes());
    inet6.extend_from_slice(&[0; 4]);
    inet6.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    inet6.extend_from_slice(&[0; 4]);
    let mut unix = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    unix.extend_from_slice(b"/run/x.sock\0");
    let fork = fork_record(200);
    let exit = exit_record((3 << 8) | 0x80 | 6);
    vec![
        ("openat", openat_record(b"/etc/passwd", 0)),
        (
            "openat-cut",
            openat_record(b"/tmp/caf\xc3\xa9\xff", STR_TRUNCATED),
        ),
        (
            "connect-inet",
            one_slot(
                nr("connect"),
                [3, 0x1000, 16, 0, 0, 0],
                1,
                &inet,
                STR_BYTES,
                0,
            ),
        ),
        (
            "connect-inet6",
            one_slot(
                nr("connect"),
                [3, 0x1000, 28, 0, 0, 0],
                1,
                &inet6,
                STR_BYTES,
                0,
            ),
        ),
        (
            "connect-unix",
            one_slot(
                nr("connect"),
                [3, 0x1000, 14, 0, 0, 0],
                1,
                &unix,
                STR_BYTES,
                0,
            ),
        ),
        (
            "accept-failed",
            one_slot(
                nr("accept"),
                [3, 0x2000, 0x3000, 0, 0, 0],
                1,
                b"",
                STR_BYTES | STR_NOT_FILLED,
                0,
            ),
        ),
        (
            "execve-argv",
            one_slot(
                nr("execve"),
                [0x1, 0x2, 0x3, 0, 0, 0],
                1,
                b"ls\0-l\0",
                STR_ARRAY | STR_TRUNCATED,
                17,
            ),
        ),
        ("fork", bytes_of(&fork)),
        (
            "exec",
            exec_record(
                b"/bin/true",
                b"/bin/true\0a b\0caf\xc3\xa9\0",
                3,
                b"A=1\0",
                1,
            ),
        ),
        ("exit", bytes_of(&exit)),
        (
            "lsm-listen",
            super::lsm::tests::hook_record(EventKind::SocketListen, [2, 1, 6, 7, 0, 0], &inet),
        ),
        ("lsm-mount", super::lsm::tests::mount_record(1)),
        (
            "exec-mismatch",
            super::detection::tests::record(
                exporter_common::records::MISMATCH_CHANGED,
                b"/bin/ls",
                b"/bin/bash",
                0,
            ),
        ),
    ]
}

fn seed_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/seed")
}

/// The committed seeds still decode: a record layout change that breaks them
/// shows here (rewrite them with `write_fuzz_seeds`).
#[test]
#[cfg_attr(
    not(target_arch = "x86_64"),
    ignore = "the seeds are x86_64 records (syscall numbers included): the fuzzer runs on the x86_64 host"
)]
fn fuzz_seeds_decode() {
    let dir = seed_dir();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a seed").path();
        let bytes = std::fs::read(&path).expect("read a seed");
        assert!(
            decode(&bytes).is_ok(),
            "{} no longer decodes: run `cargo test -p exporter write_fuzz_seeds -- --ignored`",
            path.display()
        );
        n += 1;
    }
    assert_eq!(
        n,
        fuzz_seeds().len(),
        "one file per seed in {}",
        dir.display()
    );
}

#[test]
#[ignore = "writes fuzz/corpus/seed/: run by hand when a record layout changes"]
fn write_fuzz_seeds() {
    let dir = seed_dir();
    std::fs::create_dir_all(&dir).expect("create the seed folder");
    for (name, bytes) in fuzz_seeds() {
        decode(&bytes).unwrap_or_else(|e| panic!("seed {name} does not decode: {e}"));
        std::fs::write(dir.join(name), bytes).expect("write a seed");
    }
}
