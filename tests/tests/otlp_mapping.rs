//! The OTLP mapping checked against values the test knows independently of
//! sysotel: a fixture in a cgroup named like a container's, in its own UTS
//! and pid namespaces, running as uid 4242 / gid 4343, opens, connects,
//! forks, execs a long argv and exits with a known code. Every attribute of
//! the README's mapping (key, type and value), the body, the severity, the
//! event name, the resource and the scope are compared with expectations
//! written here by hand from the fixture's report, `/proc` and the kernel's
//! documented behaviour, as received by a real collector (rotel).

use std::{collections::BTreeMap, process::Command};

use sysotel_tests::{
    Sysotel, assert_all_exported, cgroup2_root, fixture_report, hostname,
    rotel::{Record, Rotel},
    unique_path,
};

const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture");
const UID: u32 = 4242;
const GID: u32 = 4343;
const EXIT_CODE: i32 = 5;
/// /bin/true and 299 arguments of 20 bytes: 6,310 bytes of argv, more than
/// the 4,096 read from the new process.
const ARGC: usize = 300;
const UTS: &str = "sysotel-mapping";

fn str_(v: impl std::fmt::Display) -> String {
    format!("Str({v})")
}

fn int(v: impl std::fmt::Display) -> String {
    format!("Int({v})")
}

/// What sysotel captures of an argv it read from the new process: the
/// NUL-terminated arguments back to back, cut at 4,096 bytes; a cut
/// argument is kept as far as it goes.
fn captured_argv(argv: &[String]) -> Vec<String> {
    let mut block: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    block.truncate(4096);
    let block = block.strip_suffix(b"\0").unwrap_or(&block);
    block
        .split(|b| *b == 0)
        .map(|s| String::from_utf8(s.to_vec()).expect("ASCII"))
        .collect()
}

/// An array as rotel prints it: `Slice(Str(a), Str(b))`.
fn slice(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(str_).collect();
    format!("Slice({})", items.join(", "))
}

fn ns_of(pid: &str, name: &str) -> String {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).expect("ns link");
    let s = link.to_string_lossy().into_owned();
    s.split_once(":[")
        .and_then(|(_, v)| v.strip_suffix(']'))
        .unwrap_or_else(|| panic!("{s}"))
        .to_string()
}

/// The context attributes every event of process `pid` carries.
#[derive(Clone)]
struct Who {
    pid: String,
    ppid: String,
    vpid: String,
    comm: &'static str,
    pid_ns: String,
    mnt_ns: String,
    cgroup_id: u64,
    container_id: String,
    /// The host pid of the session (and process group) leader.
    session: String,
}

impl Who {
    fn attrs(&self) -> BTreeMap<String, String> {
        [
            ("process.pid", int(&self.pid)),
            ("thread.id", int(&self.pid)),
            ("process.parent_pid", int(&self.ppid)),
            ("process.vpid", int(&self.vpid)),
            ("thread.name", str_(self.comm)),
            // setresuid(UID, UID, UID): real, effective and saved alike.
            ("process.user.id", int(UID)),
            ("process.real_user.id", int(UID)),
            ("process.saved_user.id", int(UID)),
            ("sysotel.process.real_group.id", int(GID)),
            // The first process of the namespace called setsid.
            ("process.session_leader.pid", int(&self.session)),
            ("process.group_leader.pid", int(&self.session)),
            ("process.interactive", "Bool(false)".to_string()),
            ("sysotel.uts_name", str_(UTS)),
            ("sysotel.mnt_ns", int(&self.mnt_ns)),
            ("sysotel.pid_ns", int(&self.pid_ns)),
            ("sysotel.cgroup_id", int(self.cgroup_id)),
            ("container.id", str_(&self.container_id)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn with(mut base: BTreeMap<String, String>, more: &[(&str, String)]) -> BTreeMap<String, String> {
    for (k, v) in more {
        base.insert(k.to_string(), v.clone());
    }
    base
}

fn sorted(r: &Record) -> BTreeMap<String, String> {
    r.attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Unix nanoseconds of an RFC 3339 UTC time with nanoseconds
/// (`2026-12-01T05:01:02.123456789Z`).
fn rfc3339_unix_ns(s: &str) -> Option<u64> {
    let (date, time) = s.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.')?;
    let mut t = hms.split(':').map(|x| x.parse::<u64>());
    let (h, min, sec) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let nanos: u64 = frac.parse().ok()?;
    // Days from 1970-01-01 (the civil-from-days inverse).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    Some(((days * 86_400 + h * 3600 + min * 60 + sec) * 1_000_000_000) + nanos)
}

/// `created`: when the process was created, as the test saw it (before
/// the fixture started, after it ended): `process.creation.time` must lie
/// within, and is left out of the exact comparison (as is the run's
/// `sysotel.sequence`, checked to be an unsigned integer).
fn check(
    created: &std::ops::RangeInclusive<u64>,
    what: &str,
    r: &Record,
    event_name: &str,
    attrs: BTreeMap<String, String>,
) {
    let mut got = sorted(r);
    let creation = got
        .remove("process.creation.time")
        .unwrap_or_else(|| panic!("{what}: no process.creation.time"));
    let at = creation
        .strip_prefix("Str(")
        .and_then(|v| v.strip_suffix(')'))
        .and_then(rfc3339_unix_ns)
        .unwrap_or_else(|| panic!("{what}: process.creation.time {creation} is not RFC 3339"));
    assert!(
        created.contains(&at),
        "{what}: process.creation.time {creation} is not within the fixture's run {created:?}"
    );
    // The run's sequence number depends on what else the run produced
    // first: an unsigned integer, left out of the exact comparison.
    let sequence = got
        .remove("sysotel.sequence")
        .unwrap_or_else(|| panic!("{what}: no sysotel.sequence"));
    assert!(
        sequence
            .strip_prefix("Int(")
            .and_then(|v| v.strip_suffix(')'))
            .is_some_and(|v| v.parse::<u64>().is_ok()),
        "{what}: sysotel.sequence {sequence} is not an unsigned integer"
    );
    assert_eq!(r.event_name, event_name, "{what}: EventName");
    assert_eq!(r.severity_text, "INFO", "{what}: SeverityText");
    assert_eq!(
        r.severity_number, "SEVERITY_NUMBER_INFO(9)",
        "{what}: SeverityNumber"
    );
    assert_eq!(got, attrs, "{what}: every attribute, exactly");
}

#[test]
fn every_attribute_of_the_mapping_has_its_true_value() {
    sysotel_tests::require_root();
    // A cgroup named as a container runtime names one: its inode is the
    // cgroup id, its name the container id.
    let container_id = format!(
        "{:016x}{:016x}{:016x}{:016x}",
        0x5_0507e1u64,
        std::process::id(),
        0xc0ffee,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_nanos() as u64
    );
    let parent = cgroup2_root().join(format!("sysotel-mapping-{}", std::process::id()));
    let cgroup = parent.join(&container_id);
    std::fs::create_dir_all(&cgroup).expect("create the cgroup");
    let cgroup_id = {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(&cgroup).expect("cgroup").ino()
    };
    let existing = unique_path("mapping-exists");
    std::fs::write(&existing, b"x").expect("create");
    // Readable by uid 4242 (the umask may say otherwise).
    std::fs::set_permissions(
        &existing,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let missing = unique_path("mapping-missing");

    let rotel = Rotel::start();
    let sysotel = Sysotel::start(&["-o", "otlp", "--otlp-endpoint", &rotel.http_url()]);
    let wall = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_nanos() as u64
    };
    let started = wall();
    let out = Command::new(FIXTURE)
        .args([
            "identity",
            cgroup.join("cgroup.procs").to_str().expect("path"),
            UTS,
            &UID.to_string(),
            &GID.to_string(),
            &existing,
            &missing,
            &EXIT_CODE.to_string(),
            &ARGC.to_string(),
        ])
        .output()
        .expect("run the fixture");
    let ended = wall();
    let created = started..=ended;
    assert!(
        out.status.success(),
        "the fixture failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = sysotel.stop();
    let stopped_at = wall();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let r = fixture_report(&out.stdout);
    assert_eq!(r["child_status"], EXIT_CODE.to_string(), "{r:?}");
    assert_eq!(r["grandchild_status"], "0", "{r:?}");
    assert_eq!(r["child_vpid"], "1", "the first process of a pid namespace");
    let _ = std::fs::remove_file(&existing);
    let _ = std::fs::remove_dir(&cgroup);
    let _ = std::fs::remove_dir(&parent);

    let t = assert_all_exported(&stopped, "otlp");
    let all = rotel.wait_records(t.exported);
    assert_eq!(all.len() as u64, t.exported, "{}", stopped.stderr);

    let (child, grandchild) = (r["child_pid"].clone(), r["grandchild_pid"].clone());
    let of = |pid: &str, event: &str| -> Vec<&Record> {
        all.iter()
            .filter(|x| {
                x.attr("process.pid") == Some(int(pid).as_str())
                    && x.attr("sysotel.event.name") == Some(str_(event).as_str())
            })
            .collect()
    };
    let child_who = Who {
        pid: child.clone(),
        ppid: r["parent_pid"].clone(),
        vpid: "1".into(),
        comm: "fixture",
        pid_ns: r["child_pid_ns"].clone(),
        mnt_ns: r["child_mnt_ns"].clone(),
        cgroup_id,
        container_id: container_id.clone(),
        session: child.clone(),
    };
    let gc_who = Who {
        pid: grandchild.clone(),
        ppid: child.clone(),
        vpid: r["grandchild_vpid"].clone(),
        comm: "true",
        ..child_who.clone()
    };
    assert_eq!(gc_who.vpid, "2", "the second process of the namespace");
    // The namespace the fixture made is not the test's own.
    assert_ne!(child_who.pid_ns, ns_of("self", "pid"));
    assert_eq!(child_who.mnt_ns, ns_of("self", "mnt"));

    // openat of the existing file.
    let fd = &r["open_fd"];
    let opens = of(&child, "openat");
    let open = opens
        .iter()
        .find(|x| x.attr("sysotel.arg.filename") == Some(str_(&existing).as_str()))
        .unwrap_or_else(|| panic!("no openat of {existing} among {opens:?}"));
    check(
        &created,
        "openat",
        open,
        "sysotel.syscall.openat",
        with(
            child_who.attrs(),
            &[
                ("sysotel.event.name", str_("openat")),
                ("sysotel.return_value", int(fd)),
                ("file.path", str_(&existing)),
                ("sysotel.arg.dfd", int(-100)),
                ("sysotel.arg.filename", str_(&existing)),
                ("sysotel.arg.flags", str_("O_RDONLY")),
                ("sysotel.arg.mode", int(0)),
            ],
        ),
    );
    assert_eq!(
        open.body,
        str_(format!(
            "openat(dfd: AT_FDCWD, filename: \"{existing}\", flags: O_RDONLY, mode: 00) = {fd}"
        ))
    );
    assert!(
        (started - 500_000_000..=ended + 500_000_000).contains(&open.timestamp),
        "Timestamp {} is not within the fixture's run ({started}..{ended})",
        open.timestamp
    );
    assert!(
        (open.timestamp..=stopped_at).contains(&open.observed),
        "ObservedTimestamp {} is not between the event ({}) and the stop ({stopped_at})",
        open.observed,
        open.timestamp
    );

    // openat of the missing file: failed with ENOENT.
    let failed = opens
        .iter()
        .find(|x| x.attr("sysotel.arg.filename") == Some(str_(&missing).as_str()))
        .unwrap_or_else(|| panic!("no openat of {missing}"));
    assert_eq!(r["missing_ret"], "-2");
    check(
        &created,
        "failed openat",
        failed,
        "sysotel.syscall.openat",
        with(
            child_who.attrs(),
            &[
                ("sysotel.event.name", str_("openat")),
                ("sysotel.return_value", int(-2)),
                ("error.type", str_("ENOENT")),
                ("file.path", str_(&missing)),
                ("sysotel.arg.dfd", int(-100)),
                ("sysotel.arg.filename", str_(&missing)),
                ("sysotel.arg.flags", str_("O_RDONLY")),
                ("sysotel.arg.mode", int(0)),
            ],
        ),
    );
    assert_eq!(
        failed.body,
        str_(format!(
            "openat(dfd: AT_FDCWD, filename: \"{missing}\", flags: O_RDONLY, mode: 00) = -2 ENOENT"
        ))
    );

    // connect to a closed port: the peer's address and port.
    let port = &r["inet_port"];
    assert_eq!(r["inet_ret"], "-111");
    let connects = of(&child, "connect");
    assert_eq!(connects.len(), 1, "{connects:?}");
    check(
        &created,
        "connect",
        connects[0],
        "sysotel.syscall.connect",
        with(
            child_who.attrs(),
            &[
                ("sysotel.event.name", str_("connect")),
                ("sysotel.return_value", int(-111)),
                ("error.type", str_("ECONNREFUSED")),
                ("network.peer.address", str_("127.0.0.1")),
                ("network.peer.port", int(port)),
                ("sysotel.arg.fd", int(&r["inet_fd"])),
                ("sysotel.arg.uservaddr", str_(format!("127.0.0.1:{port}"))),
                ("sysotel.arg.addrlen", int(16)),
            ],
        ),
    );
    assert_eq!(
        connects[0].body,
        str_(format!(
            "connect(fd: {}, uservaddr: 127.0.0.1:{port}, addrlen: 16) = -111 ECONNREFUSED",
            r["inet_fd"]
        ))
    );

    // The fork of the grandchild.
    let forks = of(&child, "sched_process_fork");
    assert_eq!(forks.len(), 1, "{forks:?}");
    check(
        &created,
        "sched_process_fork",
        forks[0],
        "sysotel.sched.sched_process_fork",
        with(
            child_who.attrs(),
            &[
                ("sysotel.event.name", str_("sched_process_fork")),
                ("sysotel.arg.child_pid", int(&grandchild)),
                ("sysotel.arg.child_tid", int(&grandchild)),
            ],
        ),
    );

    // The grandchild's exec: the argv longer than 4,096 bytes is cut, and its
    // count is the whole argc.
    let argv: Vec<String> = std::iter::once("/bin/true".to_string())
        .chain((1..ARGC).map(|i| format!("arg-{i:04}-xxxxxxxxxxx")))
        .collect();
    let captured = captured_argv(&argv);
    assert!(
        captured.len() < ARGC && captured.last().is_some_and(|a| a.len() < 20),
        "the test's argv is cut mid-argument: {} of {ARGC}",
        captured.len()
    );
    let exec_attrs = [
        ("process.executable.path", str_("/bin/true")),
        ("process.executable.name", str_("true")),
        ("process.command_args", slice(&captured)),
        ("process.args_count", int(ARGC)),
        ("file.path", str_("/bin/true")),
        ("sysotel.arg.filename", str_("/bin/true")),
        ("sysotel.arg.argv", slice(&captured)),
        ("sysotel.arg.envp", slice(&[])),
    ];
    let execs = of(&grandchild, "sched_process_exec");
    assert_eq!(execs.len(), 1, "{execs:?}");
    let mut want = with(gc_who.attrs(), &exec_attrs);
    // sched_process_exec has no path argument: file.path is the syscall's.
    want.remove("file.path");
    check(
        &created,
        "sched_process_exec",
        execs[0],
        "sysotel.sched.sched_process_exec",
        with(
            want,
            &[
                ("sysotel.event.name", str_("sched_process_exec")),
                ("sysotel.arg.argc", int(ARGC)),
                ("sysotel.arg.envc", int(0)),
                ("sysotel.arg.old_tid", int(&grandchild)),
            ],
        ),
    );
    let execves = of(&grandchild, "execve");
    assert_eq!(execves.len(), 1, "{execves:?}");
    check(
        &created,
        "execve",
        execves[0],
        "sysotel.syscall.execve",
        with(
            with(gc_who.attrs(), &exec_attrs),
            &[
                ("sysotel.event.name", str_("execve")),
                ("sysotel.return_value", int(0)),
            ],
        ),
    );

    // The first process's exit, with its code.
    let exits = of(&child, "sched_process_exit");
    assert_eq!(exits.len(), 1, "{exits:?}");
    check(
        &created,
        "sched_process_exit",
        exits[0],
        "sysotel.sched.sched_process_exit",
        with(
            child_who.attrs(),
            &[
                ("sysotel.event.name", str_("sched_process_exit")),
                ("process.exit.code", int(EXIT_CODE)),
                ("sysotel.arg.exit_code", int(EXIT_CODE)),
                ("sysotel.arg.signal", int(0)),
                ("sysotel.arg.core_dumped", "Bool(false)".to_string()),
                ("sysotel.arg.group_dead", "Bool(true)".to_string()),
            ],
        ),
    );

    // The resource and scope of every record: who reported.
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .trim()
            .to_string()
    };
    let mut resource: BTreeMap<String, String> = [
        ("service.name", str_("sysotel")),
        ("service.version", str_(env!("CARGO_PKG_VERSION"))),
        ("host.name", str_(hostname())),
        ("host.arch", str_(sysotel_tests::HOST_ARCH)),
        ("os.type", str_("linux")),
        ("os.version", str_(read("/proc/sys/kernel/osrelease"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if std::path::Path::new("/etc/machine-id").exists() {
        resource.insert("host.id".into(), str_(read("/etc/machine-id")));
    }
    let instance = all[0]
        .resource
        .get("service.instance.id")
        .cloned()
        .expect("service.instance.id");
    let uuid = instance
        .strip_prefix("Str(")
        .and_then(|v| v.strip_suffix(')'))
        .expect("a string");
    assert!(
        uuid.len() == 36
            && uuid
                .char_indices()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }),
        "service.instance.id is a UUID: {uuid}"
    );
    resource.insert("service.instance.id".into(), instance);
    for rec in &all {
        let got: BTreeMap<String, String> = rec
            .resource
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, resource, "the resource of {}", rec.event_name);
        assert_eq!(
            rec.scope,
            format!("sysotel {}", env!("CARGO_PKG_VERSION")),
            "the instrumentation scope"
        );
    }
}
