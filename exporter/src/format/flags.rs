//! Symbolic names for flag sets and enumerations, from the kernel's UAPI
//! headers (through the `libc` crate where it has them, so the numbers are not
//! retyped by hand). A value with bits no name covers keeps them as hex: nothing
//! is hidden.

use exporter_common::syscalls::ArgKind;

/// Bits named one by one; unnamed bits are appended as `0x…`.
fn bits(v: u64, names: &[(u64, &str)], zero: &str) -> String {
    if v == 0 {
        return zero.to_string();
    }
    let mut out = Vec::new();
    let mut rest = v;
    for &(bit, name) in names {
        if bit != 0 && rest & bit == bit {
            out.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    out.join("|")
}

/// One value among names; unknown values print as the number.
fn one(v: i64, names: &[(i64, &str)]) -> String {
    names
        .iter()
        .find(|(n, _)| *n == v)
        .map_or_else(|| v.to_string(), |(_, s)| s.to_string())
}

/// A name table from libc constants, plus `NAME = value` entries for what
/// libc does not define (numbers from the kernel's UAPI headers). libc's
/// values are the build target's (`O_DIRECTORY` differs between x86_64 and
/// aarch64); a constant one architecture alone has carries its `#[cfg]`.
macro_rules! table {
    ($name:ident: $t:ty = [$($(#[$a:meta])* $c:ident),* $(,)?] $(+ [$($x:ident = $v:expr),* $(,)?])?) => {
        const $name: &[($t, &str)] = &[
            $($(#[$a])* (libc::$c as $t, stringify!($c)),)*
            $($(($v as $t, stringify!($x)),)*)?
        ];
    };
}

table!(OPEN_FLAGS: u64 = [
    O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND, O_NONBLOCK, O_DSYNC, O_ASYNC, O_DIRECT,
    O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW, O_NOATIME, O_CLOEXEC, O_PATH, O_TMPFILE,
]);

/// `O_RDONLY|O_CLOEXEC`: the access mode always comes first.
pub fn open_flags(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let mode = match v & libc::O_ACCMODE as u64 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    // O_TMPFILE includes O_DIRECTORY; O_SYNC includes O_DSYNC: name the
    // composite first so its parts are not listed twice.
    let mut rest = v & !(libc::O_ACCMODE as u64);
    let mut out = vec![mode.to_string()];
    for (bit, name) in [
        (libc::O_TMPFILE as u64, "O_TMPFILE"),
        (libc::O_SYNC as u64, "O_SYNC"),
    ] {
        if rest & bit == bit {
            out.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        out.push(bits(rest, OPEN_FLAGS, ""));
    }
    out.join("|")
}

pub fn access_mode(v: u64) -> String {
    bits(
        v & 0xffff_ffff,
        &[(4, "R_OK"), (2, "W_OK"), (1, "X_OK")],
        "F_OK",
    )
}

table!(AT_FLAGS: u64 = [
    AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_NO_AUTOMOUNT, AT_EMPTY_PATH,
    AT_STATX_FORCE_SYNC, AT_STATX_DONT_SYNC, AT_RECURSIVE, AT_EACCESS,
]);

pub fn at_flags(v: u64) -> String {
    bits(v & 0xffff_ffff, AT_FLAGS, "0")
}

pub fn rename_flags(v: u64) -> String {
    bits(
        v & 0xffff_ffff,
        &[
            (1, "RENAME_NOREPLACE"),
            (2, "RENAME_EXCHANGE"),
            (4, "RENAME_WHITEOUT"),
        ],
        "0",
    )
}

table!(PROT: u64 = [PROT_READ, PROT_WRITE, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP]);

pub fn mmap_prot(v: u64) -> String {
    bits(v & 0xffff_ffff, PROT, "PROT_NONE")
}

table!(MAP_FLAGS: u64 = [
    MAP_SHARED_VALIDATE, MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS,
    #[cfg(target_arch = "x86_64")] MAP_32BIT,
    MAP_GROWSDOWN, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE,
    MAP_NONBLOCK, MAP_STACK, MAP_HUGETLB, MAP_SYNC, MAP_FIXED_NOREPLACE,
]);

pub fn mmap_flags(v: u64) -> String {
    bits(v & 0xffff_ffff, MAP_FLAGS, "0")
}

table!(CLONE: u64 = [
    CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND, CLONE_PIDFD, CLONE_PTRACE, CLONE_VFORK,
    CLONE_PARENT, CLONE_THREAD, CLONE_NEWNS, CLONE_SYSVSEM, CLONE_SETTLS,
    CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_DETACHED, CLONE_UNTRACED,
    CLONE_CHILD_SETTID, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
    CLONE_NEWPID, CLONE_NEWNET, CLONE_IO,
]);

/// clone flags; the low byte of clone(2)'s flags is the exit signal.
pub fn clone_flags(v: u64) -> String {
    let signal = v & 0xff;
    let mut s = bits(v & !0xff, CLONE, "0");
    if signal != 0 {
        s = if s == "0" {
            signal_name(signal as i64)
        } else {
            format!("{s}|{}", signal_name(signal as i64))
        };
    }
    s
}

table!(DOMAINS: i64 = [
    AF_UNSPEC, AF_UNIX, AF_INET, AF_AX25, AF_IPX, AF_APPLETALK, AF_NETROM, AF_BRIDGE,
    AF_ATMPVC, AF_X25, AF_INET6, AF_ROSE, AF_DECnet, AF_NETBEUI, AF_SECURITY, AF_KEY,
    AF_NETLINK, AF_PACKET, AF_ASH, AF_ECONET, AF_ATMSVC, AF_RDS, AF_SNA, AF_IRDA, AF_PPPOX,
    AF_WANPIPE, AF_LLC, AF_IB, AF_MPLS, AF_CAN, AF_TIPC, AF_BLUETOOTH, AF_IUCV, AF_RXRPC,
    AF_ISDN, AF_PHONET, AF_IEEE802154, AF_CAIF, AF_ALG, AF_NFC, AF_VSOCK, AF_XDP,
] + [AF_KCM = 41, AF_QIPCRTR = 42, AF_SMC = 43]);

pub fn socket_domain(v: i64) -> String {
    one(v, DOMAINS)
}

table!(SOCK_TYPES: i64 = [SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET, SOCK_DCCP] + [SOCK_PACKET = 10]);

pub fn socket_type(v: u64) -> String {
    let v = v & 0xffff_ffff;
    let mut s = one((v & 0xf) as i64, SOCK_TYPES);
    let rest = v & !0xf;
    if rest != 0 {
        s.push('|');
        s.push_str(&bits(
            rest,
            &[
                (libc::SOCK_NONBLOCK as u64, "SOCK_NONBLOCK"),
                (libc::SOCK_CLOEXEC as u64, "SOCK_CLOEXEC"),
            ],
            "",
        ));
    }
    s
}

table!(PROTOCOLS: i64 = [
    IPPROTO_IP, IPPROTO_ICMP, IPPROTO_IGMP, IPPROTO_IPIP, IPPROTO_TCP, IPPROTO_EGP,
    IPPROTO_PUP, IPPROTO_UDP, IPPROTO_IDP, IPPROTO_TP, IPPROTO_DCCP, IPPROTO_IPV6,
    IPPROTO_RSVP, IPPROTO_GRE, IPPROTO_ESP, IPPROTO_AH, IPPROTO_ICMPV6, IPPROTO_MTP,
    IPPROTO_BEETPH, IPPROTO_ENCAP, IPPROTO_PIM, IPPROTO_COMP, IPPROTO_SCTP, IPPROTO_UDPLITE,
    IPPROTO_MPLS, IPPROTO_RAW, IPPROTO_MPTCP,
]);

pub fn socket_protocol(v: i64) -> String {
    one(v, PROTOCOLS)
}

table!(SIGNALS: i64 = [
    SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL, SIGUSR1,
    SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGCHLD, SIGCONT, SIGSTOP,
    SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH,
    SIGIO, SIGPWR, SIGSYS,
]);

/// `SIGUSR1`; real-time signals as `SIGRTMIN+n`; 0 stays 0 (a probe, not a signal).
pub fn signal_name(v: i64) -> String {
    if (34..=64).contains(&v) {
        return format!("SIGRTMIN+{}", v - 34);
    }
    one(v, SIGNALS)
}

table!(PTRACE: i64 = [
    PTRACE_TRACEME, PTRACE_PEEKTEXT, PTRACE_PEEKDATA, PTRACE_PEEKUSER, PTRACE_POKETEXT,
    PTRACE_POKEDATA, PTRACE_POKEUSER, PTRACE_CONT, PTRACE_KILL, PTRACE_SINGLESTEP,
    #[cfg(target_arch = "x86_64")] PTRACE_GETREGS, #[cfg(target_arch = "x86_64")] PTRACE_SETREGS,
    #[cfg(target_arch = "x86_64")] PTRACE_GETFPREGS,
    #[cfg(target_arch = "x86_64")] PTRACE_SETFPREGS, PTRACE_ATTACH, PTRACE_DETACH,
    #[cfg(target_arch = "x86_64")] PTRACE_GETFPXREGS,
    #[cfg(target_arch = "x86_64")] PTRACE_SETFPXREGS, PTRACE_SYSCALL, PTRACE_SETOPTIONS,
    PTRACE_GETEVENTMSG, PTRACE_GETSIGINFO, PTRACE_SETSIGINFO, PTRACE_GETREGSET,
    PTRACE_SETREGSET, PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_LISTEN, PTRACE_PEEKSIGINFO,
    PTRACE_GETSIGMASK, PTRACE_SETSIGMASK, PTRACE_GET_SYSCALL_INFO,
] + [PTRACE_SECCOMP_GET_FILTER = 0x420c, PTRACE_SECCOMP_GET_METADATA = 0x420d]);

pub fn ptrace_request(v: i64) -> String {
    one(v, PTRACE)
}

table!(PRCTL: i64 = [
    PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_GET_UNALIGN,
    PR_SET_UNALIGN, PR_GET_KEEPCAPS, PR_SET_KEEPCAPS, PR_GET_FPEMU, PR_SET_FPEMU,
    PR_GET_FPEXC, PR_SET_FPEXC, PR_GET_TIMING, PR_SET_TIMING, PR_SET_NAME, PR_GET_NAME,
    PR_GET_ENDIAN, PR_SET_ENDIAN, PR_GET_SECCOMP, PR_SET_SECCOMP, PR_CAPBSET_READ,
    PR_CAPBSET_DROP, PR_GET_TSC, PR_SET_TSC, PR_GET_SECUREBITS, PR_SET_SECUREBITS,
    PR_SET_TIMERSLACK, PR_GET_TIMERSLACK, PR_TASK_PERF_EVENTS_DISABLE,
    PR_TASK_PERF_EVENTS_ENABLE, PR_MCE_KILL, PR_MCE_KILL_GET, PR_SET_MM,
    PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS,
    PR_GET_NO_NEW_PRIVS, PR_GET_TID_ADDRESS, PR_SET_THP_DISABLE, PR_GET_THP_DISABLE,
    PR_MPX_ENABLE_MANAGEMENT, PR_MPX_DISABLE_MANAGEMENT, PR_SET_FP_MODE, PR_GET_FP_MODE,
    PR_CAP_AMBIENT, PR_SET_VMA, PR_SCHED_CORE, PR_SET_MDWE, PR_GET_MDWE,
] + [
    // prctl options are the same on every architecture; libc has these two
    // for x86_64 only.
    PR_GET_SPECULATION_CTRL = 52, PR_SET_SPECULATION_CTRL = 53,
    PR_SVE_SET_VL = 50, PR_SVE_GET_VL = 51, PR_PAC_RESET_KEYS = 54,
    PR_SET_TAGGED_ADDR_CTRL = 55, PR_GET_TAGGED_ADDR_CTRL = 56, PR_SET_IO_FLUSHER = 57,
    PR_GET_IO_FLUSHER = 58,
]);

pub fn prctl_option(v: i64) -> String {
    one(v, PRCTL)
}

/// Capabilities by number (include/uapi/linux/capability.h); libc has none.
const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `CAP_SYS_ADMIN` (the capability argument of `prctl(PR_CAPBSET_*)`).
pub fn capability(v: i64) -> String {
    usize::try_from(v)
        .ok()
        .and_then(|i| CAPS.get(i))
        .map_or_else(|| v.to_string(), |s| s.to_string())
}

table!(FCNTL: i64 = [
    F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW, F_SETOWN,
    F_GETOWN, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE, F_GETLEASE, F_NOTIFY,
    F_DUPFD_CLOEXEC, F_SETPIPE_SZ, F_GETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS,
] + [
    F_SETSIG = 10, F_GETSIG = 11, F_SETOWN_EX = 15, F_GETOWN_EX = 16, F_GET_RW_HINT = 1035,
    F_SET_RW_HINT = 1036, F_GET_FILE_RW_HINT = 1037, F_SET_FILE_RW_HINT = 1038,
]);

pub fn fcntl_cmd(v: i64) -> String {
    one(v, FCNTL)
}

pub fn whence(v: i64) -> String {
    one(
        v,
        &[
            (0, "SEEK_SET"),
            (1, "SEEK_CUR"),
            (2, "SEEK_END"),
            (3, "SEEK_DATA"),
            (4, "SEEK_HOLE"),
        ],
    )
}

/// `PTRACE_MODE_*` (include/linux/ptrace.h: not in the UAPI headers).
const PTRACE_MODES: &[(u64, &str)] = &[
    (0x01, "PTRACE_MODE_READ"),
    (0x02, "PTRACE_MODE_ATTACH"),
    (0x04, "PTRACE_MODE_NOAUDIT"),
    (0x08, "PTRACE_MODE_FSCREDS"),
    (0x10, "PTRACE_MODE_REALCREDS"),
];

pub fn ptrace_mode(v: u64) -> String {
    bits(v & 0xffff_ffff, PTRACE_MODES, "0")
}

/// `enum bpf_cmd` (include/uapi/linux/bpf.h), in order from 0.
const BPF_CMDS: &[&str] = &[
    "BPF_MAP_CREATE",
    "BPF_MAP_LOOKUP_ELEM",
    "BPF_MAP_UPDATE_ELEM",
    "BPF_MAP_DELETE_ELEM",
    "BPF_MAP_GET_NEXT_KEY",
    "BPF_PROG_LOAD",
    "BPF_OBJ_PIN",
    "BPF_OBJ_GET",
    "BPF_PROG_ATTACH",
    "BPF_PROG_DETACH",
    "BPF_PROG_TEST_RUN",
    "BPF_PROG_GET_NEXT_ID",
    "BPF_MAP_GET_NEXT_ID",
    "BPF_PROG_GET_FD_BY_ID",
    "BPF_MAP_GET_FD_BY_ID",
    "BPF_OBJ_GET_INFO_BY_FD",
    "BPF_PROG_QUERY",
    "BPF_RAW_TRACEPOINT_OPEN",
    "BPF_BTF_LOAD",
    "BPF_BTF_GET_FD_BY_ID",
    "BPF_TASK_FD_QUERY",
    "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
    "BPF_MAP_FREEZE",
    "BPF_BTF_GET_NEXT_ID",
    "BPF_MAP_LOOKUP_BATCH",
    "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
    "BPF_MAP_UPDATE_BATCH",
    "BPF_MAP_DELETE_BATCH",
    "BPF_LINK_CREATE",
    "BPF_LINK_UPDATE",
    "BPF_LINK_GET_FD_BY_ID",
    "BPF_LINK_GET_NEXT_ID",
    "BPF_ENABLE_STATS",
    "BPF_ITER_CREATE",
    "BPF_LINK_DETACH",
    "BPF_PROG_BIND_MAP",
    "BPF_TOKEN_CREATE",
];

pub fn bpf_cmd(v: i64) -> String {
    nth(v, BPF_CMDS)
}

/// `enum kernel_read_file_id` (include/linux/kernel_read_file.h), from 0.
const READ_FILE_IDS: &[&str] = &[
    "READING_UNKNOWN",
    "READING_FIRMWARE",
    "READING_MODULE",
    "READING_KEXEC_IMAGE",
    "READING_KEXEC_INITRAMFS",
    "READING_POLICY",
    "READING_X509_CERTIFICATE",
];

/// `enum kernel_load_data_id` (include/linux/kernel_read_file.h), from 0.
const LOAD_DATA_IDS: &[&str] = &[
    "LOADING_UNKNOWN",
    "LOADING_FIRMWARE",
    "LOADING_MODULE",
    "LOADING_KEXEC_IMAGE",
    "LOADING_KEXEC_INITRAMFS",
    "LOADING_POLICY",
    "LOADING_X509_CERTIFICATE",
];

/// The name at `v` in a table of consecutive values from 0; the number if none.
fn nth(v: i64, names: &[&str]) -> String {
    usize::try_from(v)
        .ok()
        .and_then(|i| names.get(i))
        .map_or_else(|| v.to_string(), |s| s.to_string())
}

/// A file descriptor: `AT_FDCWD` by name.
pub fn fd(v: i64) -> Option<&'static str> {
    (v == libc::AT_FDCWD as i64).then_some("AT_FDCWD")
}

/// The symbolic text of a flag or enum argument `kind` with raw register `raw`,
/// or `None` for kinds that are not symbolic.
pub fn symbolic(kind: ArgKind, raw: u64) -> Option<String> {
    let int = raw as u32 as i32 as i64;
    Some(match kind {
        ArgKind::OpenFlags => open_flags(raw),
        ArgKind::AccessMode => access_mode(raw),
        ArgKind::AtFlags => at_flags(raw),
        ArgKind::RenameFlags => rename_flags(raw),
        ArgKind::MmapProt => mmap_prot(raw),
        ArgKind::MmapFlags => mmap_flags(raw),
        ArgKind::CloneFlags => clone_flags(raw),
        ArgKind::SocketDomain => socket_domain(int),
        ArgKind::SocketType => socket_type(raw),
        ArgKind::SocketProtocol => socket_protocol(int),
        ArgKind::Signal => signal_name(int),
        ArgKind::PtraceRequest => ptrace_request(raw as i64),
        ArgKind::PrctlOption => prctl_option(int),
        ArgKind::FcntlCmd => fcntl_cmd(int),
        ArgKind::Whence => whence(int),
        ArgKind::PtraceMode => ptrace_mode(raw),
        ArgKind::BpfCmd => bpf_cmd(int),
        ArgKind::KernelReadFileId => nth(int, READ_FILE_IDS),
        ArgKind::KernelLoadDataId => nth(int, LOAD_DATA_IDS),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(
            open_flags((libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u64),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(
            open_flags((libc::O_RDONLY | libc::O_CLOEXEC) as u64),
            "O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(
            open_flags((libc::O_RDWR | libc::O_TMPFILE) as u64),
            "O_RDWR|O_TMPFILE"
        );
        assert_eq!(access_mode(0), "F_OK");
        assert_eq!(access_mode(6), "R_OK|W_OK");
        assert_eq!(mmap_prot(5), "PROT_READ|PROT_EXEC");
        assert_eq!(mmap_prot(0), "PROT_NONE");
        assert_eq!(mmap_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(
            clone_flags(0x01200011),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
        );
        assert_eq!(socket_domain(2), "AF_INET");
        assert_eq!(socket_type(1 | 0o2000000), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(socket_protocol(6), "IPPROTO_TCP");
        assert_eq!(
            ptrace_mode(0x12),
            "PTRACE_MODE_ATTACH|PTRACE_MODE_REALCREDS"
        );
        assert_eq!(bpf_cmd(5), "BPF_PROG_LOAD");
        assert_eq!(bpf_cmd(11), "BPF_PROG_GET_NEXT_ID");
        assert_eq!(bpf_cmd(99), "99");
        assert_eq!(signal_name(10), "SIGUSR1");
        assert_eq!(signal_name(0), "0");
        assert_eq!(signal_name(40), "SIGRTMIN+6");
        assert_eq!(ptrace_request(16), "PTRACE_ATTACH");
        assert_eq!(prctl_option(15), "PR_SET_NAME");
        assert_eq!(capability(21), "CAP_SYS_ADMIN");
        assert_eq!(fcntl_cmd(1030), "F_DUPFD_CLOEXEC");
        assert_eq!(whence(2), "SEEK_END");
        assert_eq!(at_flags(0x100), "AT_SYMLINK_NOFOLLOW");
        assert_eq!(at_flags(0x1000), "AT_EMPTY_PATH");
        assert_eq!(rename_flags(1), "RENAME_NOREPLACE");
        assert_eq!(fd(-100), Some("AT_FDCWD"));
    }

    #[test]
    fn unknown_bits_are_kept() {
        assert_eq!(mmap_prot(0x101), "PROT_READ|0x100");
        assert_eq!(whence(9), "9");
    }
}
