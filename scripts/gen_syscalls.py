#!/usr/bin/env python3
"""Generates sysotel's syscall table of one architecture (x86_64, aarch64).

Sources:
  * argument names and C types: tracefs `events/syscalls/sys_enter_*/format`
    of a kernel of that architecture: the running kernel's (mount tracefs
    first: `mount -t tracefs tracefs /sys/kernel/tracing`), or a dump of them
    (`--formats FILE`; scripts/syscalls/aarch64.formats is arm64 6.12's, taken
    in a guest with `scripts/kernels.py shell arm64-6.12`);
  * syscall numbers: x86_64, the asm `unistd_64.h` of linux-libc-dev; aarch64,
    the asm-generic numbering as the cross compiler's preprocessor resolves it
    (`aarch64-linux-gnu-gcc -E -dM`: the `__NR3264_*` aliases); plus the numbers
    of syscalls newer than those headers listed in NEWER below (from the kernel's
    arch/x86/entry/syscalls/syscall_64.tbl; from 424 on every architecture
    shares them).

The C type decides how an argument prints (signed, unsigned, pointer, mode);
SEMANTIC adds what a C type cannot tell (which `const char *` is a path read at
entry). Usage:

    python3 scripts/gen_syscalls.py > exporter-common/src/syscalls/x86_64.rs
    python3 scripts/gen_syscalls.py --arch aarch64 --formats scripts/syscalls/aarch64.formats \
        > exporter-common/src/syscalls/aarch64.rs
"""
import argparse
import os
import re
import subprocess
import sys

TRACEFS = os.environ.get("TRACEFS", "/sys/kernel/tracing")
UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
CROSS_CC = "aarch64-linux-gnu-gcc"

# Syscalls newer than Debian 12's linux-libc-dev (6.1), from syscall_64.tbl.
NEWER = {
    "uretprobe": 335, "uprobe": 336,
    "cachestat": 451, "fchmodat2": 452, "map_shadow_stack": 453,
    "futex_wake": 454, "futex_wait": 455, "futex_requeue": 456,
    "statmount": 457, "listmount": 458, "lsm_get_self_attr": 459,
    "lsm_set_self_attr": 460, "lsm_list_modules": 461, "mseal": 462,
    "setxattrat": 463, "getxattrat": 464, "listxattrat": 465,
    "removexattrat": 466, "open_tree_attr": 467, "file_getattr": 468,
    "file_setattr": 469,
}
# tracefs event name -> syscall name where the kernel's SYSCALL_DEFINE differs.
RENAMED = {
    "newstat": "stat", "newfstat": "fstat", "newlstat": "lstat",
    "newuname": "uname", "sendfile64": "sendfile", "umount": "umount2",
    # arm64's own names for the generic syscalls
    "arm64_personality": "personality", "fadvise64_64": "fadvise64",
}
# Syscalls that never return to user space: emitted at entry.
NO_RETURN = {"exit", "exit_group"}
# String arguments that are paths, read from user memory at entry.
PATH_ARGS = {
    "filename", "pathname", "path", "oldname", "newname", "specialfile",
    "special", "from_pathname", "to_pathname", "put_old", "new_root",
    "dev_name", "dir_name",
}
# Arguments that are file descriptors (printed as numbers, AT_FDCWD by name).
FD_NAMES = {"fd", "oldfd", "newfd", "fd_in", "fd_out", "out_fd", "in_fd", "epfd",
            "pidfd", "ufd", "dfd", "olddfd", "newdfd", "mqdes", "fdin", "fdout",
            "from_dfd", "to_dfd", "dirfd", "mountfd"}
# Other strings the kernel reads from user memory, captured at entry.
STR_ARGS = {
    ("memfd_create", "uname"), ("sethostname", "name"), ("setdomainname", "name"),
    ("setxattr", "name"), ("lsetxattr", "name"), ("fsetxattr", "name"),
    ("getxattr", "name"), ("lgetxattr", "name"), ("fgetxattr", "name"),
    ("removexattr", "name"), ("lremovexattr", "name"), ("fremovexattr", "name"),
    ("setxattrat", "name"), ("getxattrat", "name"), ("removexattrat", "name"),
    ("acct", "name"), ("init_module", "uargs"), ("finit_module", "uargs"),
    ("delete_module", "name_user"), ("add_key", "_type"), ("add_key", "_description"),
    ("request_key", "_type"), ("request_key", "_description"), ("fsopen", "_fs_name"),
    ("mount", "type"),
}
# (syscall, argument) -> semantic kind the C type cannot tell.
SEMANTIC = {}
for sc in ("open", "openat"):
    SEMANTIC[(sc, "flags")] = "OpenFlags"
for sc in ("access", "faccessat", "faccessat2"):
    SEMANTIC[(sc, "mode")] = "AccessMode"
for sc, arg in (("newfstatat", "flag"), ("unlinkat", "flag"), ("linkat", "flags"),
                ("fchownat", "flag"), ("utimensat", "flags"), ("faccessat2", "flags"),
                ("fchmodat2", "flags"), ("statx", "flags"), ("execveat", "flags"),
                ("name_to_handle_at", "flag"), ("open_tree", "flags"),
                ("open_tree_attr", "flags"), ("move_mount", "flags"),
                ("mount_setattr", "flags"), ("file_getattr", "at_flags"),
                ("file_setattr", "at_flags"), ("setxattrat", "at_flags"),
                ("getxattrat", "at_flags"), ("listxattrat", "at_flags"),
                ("removexattrat", "at_flags")):
    SEMANTIC[(sc, arg)] = "AtFlags"
SEMANTIC[("renameat2", "flags")] = "RenameFlags"
for sc in ("mmap", "mprotect", "pkey_mprotect"):
    SEMANTIC[(sc, "prot")] = "MmapProt"
SEMANTIC[("mmap", "flags")] = "MmapFlags"
SEMANTIC[("clone", "clone_flags")] = "CloneFlags"
SEMANTIC[("unshare", "unshare_flags")] = "CloneFlags"
SEMANTIC[("setns", "flags")] = "CloneFlags"
for sc in ("socket", "socketpair"):
    SEMANTIC[(sc, "family")] = "SocketDomain"
    SEMANTIC[(sc, "type")] = "SocketType"
    SEMANTIC[(sc, "protocol")] = "SocketProtocol"
for sc in ("kill", "tkill", "tgkill", "rt_sigaction", "rt_sigqueueinfo",
           "rt_tgsigqueueinfo", "pidfd_send_signal"):
    SEMANTIC[(sc, "sig")] = "Signal"
SEMANTIC[("ptrace", "request")] = "PtraceRequest"
SEMANTIC[("prctl", "option")] = "PrctlOption"
SEMANTIC[("fcntl", "cmd")] = "FcntlCmd"
SEMANTIC[("lseek", "whence")] = "Whence"
SEMANTIC[("mmap", "fd")] = "Fd"
# struct sockaddr arguments: read at entry with the length argument, or at
# exit (the kernel fills them) with the length behind a pointer argument.
for sc, arg, length in (("connect", "uservaddr", "addrlen"), ("bind", "umyaddr", "addrlen"),
                        ("sendto", "addr", "addr_len")):
    SEMANTIC[(sc, arg)] = ("SockAddrIn", length)
for sc, arg, length in (("accept", "upeer_sockaddr", "upeer_addrlen"),
                        ("accept4", "upeer_sockaddr", "upeer_addrlen"),
                        ("recvfrom", "addr", "addr_len"),
                        ("getsockname", "usockaddr", "usockaddr_len"),
                        ("getpeername", "usockaddr", "usockaddr_len")):
    SEMANTIC[(sc, arg)] = ("SockAddrOut", length)
for sc in ("execve", "execveat"):
    SEMANTIC[(sc, "argv")] = "StrArray"
    SEMANTIC[(sc, "envp")] = "StrArray"
# `unsigned long` arguments that are user addresses (shown in hex).
PTR_NAMES = {"addr", "start", "brk", "new_addr", "old_addr", "newsp", "tls", "shmaddr",
             "stack", "mm_addr", "vec", "uaddr", "uaddr2"}
# Syscalls whose return value is an address, or a new file descriptor.
RET_PTR = {"mmap", "mremap", "brk", "shmat"}
RET_FD = {"open", "openat", "openat2", "creat", "socket", "accept", "accept4", "dup",
          "dup2", "dup3", "epoll_create", "epoll_create1", "eventfd", "eventfd2",
          "signalfd", "signalfd4", "timerfd_create", "inotify_init", "inotify_init1",
          "memfd_create", "memfd_secret", "pidfd_open", "pidfd_getfd", "fanotify_init",
          "userfaultfd", "perf_event_open", "open_by_handle_at", "open_tree",
          "open_tree_attr", "fsopen", "fsmount", "fspick", "mq_open", "io_uring_setup",
          "landlock_create_ruleset", "bpf"}

SIGNED32 = {"int", "pid_t", "key_t", "mqd_t", "timer_t", "clockid_t",
            "const clockid_t", "key_serial_t", "rwf_t"}
UNSIGNED32 = {"unsigned int", "unsigned", "uid_t", "gid_t", "u32", "const __u32",
              "qid_t", "__u32"}
SIGNED64 = {"long", "off_t", "loff_t", "__s64"}
MODE = {"umode_t"}


def kind_of(syscall, ctype, name, argnames):
    sem = SEMANTIC.get((syscall, name))
    if isinstance(sem, tuple):
        kind, length = sem
        return f"{kind}({argnames.index(length)})"
    if sem:
        return sem
    if (syscall, name) in STR_ARGS:
        return "Str"
    if "*" not in ctype and (name in FD_NAMES or name.endswith("dfd")):
        return "Fd"
    if ctype == "unsigned long" and name in PTR_NAMES:
        return "Ptr"
    if "*" in ctype:
        # Output buffers are `char *` too, but none of them is named like a path.
        if name in PATH_ARGS and ctype in ("const char *", "char *"):
            return "Path"
        return "Ptr"
    if ctype in MODE:
        return "Mode"
    if ctype in SIGNED32:
        return "I32"
    if ctype in UNSIGNED32:
        return "U32"
    if ctype in SIGNED64:
        return "I64"
    return "U64"


def x86_64_numbers():
    nrs = {}
    with open(UNISTD) as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
            if m:
                nrs[m.group(1)] = int(m.group(2))
    for name, nr in NEWER.items():
        nrs.setdefault(name, nr)
    return nrs


def aarch64_numbers():
    """asm-generic's numbers: `__NR_x` is a number or another macro
    (`__NR3264_fstat`), resolved as the preprocessor does."""
    try:
        out = subprocess.run([CROSS_CC, "-E", "-dM", "-"], input="#include <asm/unistd.h>\n",
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"gen_syscalls: {CROSS_CC} -E failed ({e}); scripts/setup.sh --arm64 installs it")
    macros = dict(re.findall(r"^#define (\w+) (.+)$", out, re.M))

    def value(v, depth=0):
        v = v.strip().strip("()")
        if re.fullmatch(r"\d+", v):
            return int(v)
        if v in macros and depth < 8:
            return value(macros[v], depth + 1)
        return None
    nrs = {}
    for k, v in macros.items():
        if k.startswith("__NR_") and k not in ("__NR_syscalls", "__NR_arch_specific_syscall"):
            nr = value(v)
            if nr is not None:
                nrs[k[len("__NR_"):]] = nr
    # From 424 on, a syscall has the same number on every architecture.
    for name, nr in NEWER.items():
        if nr >= 424:
            nrs.setdefault(name, nr)
    return nrs


def parse_format(lines):
    args = []
    for line in lines:
        m = re.match(r"\s*field:(.+?)\s*(\w+);\s*offset:(\d+);", line)
        if not m or m.group(2).startswith("common_") or m.group(2) == "__syscall_nr":
            continue
        args.append((m.group(2), m.group(1).strip()))
    return args


def formats(dump=None):
    """syscall -> [(argument, C type)], from tracefs or from a dump of it
    (`== sys_enter_NAME` followed by that event's `field:` lines)."""
    out = {}
    if dump:
        event, lines = None, []
        for line in list(open(dump)) + ["== end"]:
            if line.startswith("== "):
                if event:
                    out[RENAMED.get(event, event)] = parse_format(lines)
                event, lines = line[3:].strip()[len("sys_enter_"):], []
            elif not line.startswith("#"):
                lines.append(line)
        return out
    base = os.path.join(TRACEFS, "events", "syscalls")
    if not os.path.isdir(base):
        sys.exit(f"gen_syscalls: {base} not found; mount tracefs at {TRACEFS}")
    for entry in sorted(os.listdir(base)):
        if not entry.startswith("sys_enter_"):
            continue
        event = entry[len("sys_enter_"):]
        with open(os.path.join(base, entry, "format")) as f:
            out[RENAMED.get(event, event)] = parse_format(f)
    return out


def main():
    ap = argparse.ArgumentParser(description="sysotel's syscall table of one architecture")
    ap.add_argument("--arch", choices=["x86_64", "aarch64"], default="x86_64")
    ap.add_argument("--formats", help="a dump of the sys_enter formats instead of tracefs")
    args = ap.parse_args()
    nrs = x86_64_numbers() if args.arch == "x86_64" else aarch64_numbers()
    fmts = formats(args.formats)
    missing = [k for k in SEMANTIC if k[0] in fmts and k[1] not in [a for a, _ in fmts[k[0]]]]
    missing += [k for k in STR_ARGS if k[0] in fmts and k[1] not in [a for a, _ in fmts[k[0]]]]
    if missing:
        sys.exit(f"gen_syscalls: the kernel has no argument for {missing}")
    unknown = sorted(set(fmts) - set(nrs))
    if unknown:
        sys.exit(f"gen_syscalls: no syscall number for {unknown}; add them to NEWER")
    rows = sorted(nrs.items(), key=lambda kv: kv[1])
    print("// @generated by scripts/gen_syscalls.py from tracefs syscall formats; do not edit.")
    if args.arch == "x86_64":
        print("// Regenerate: python3 scripts/gen_syscalls.py > exporter-common/src/syscalls/x86_64.rs")
    else:
        print(f"// Regenerate: python3 scripts/gen_syscalls.py --arch {args.arch} --formats {args.formats} \\")
        print(f"//     > exporter-common/src/syscalls/{args.arch}.rs")
    print("use super::{ArgDef, ArgKind, RetKind, SyscallDef};")
    print()
    print("pub const SYSCALLS: &[SyscallDef] = &[")
    for name, nr in rows:
        args = fmts.get(name)
        traced = args is not None
        args = args or []
        print(f"    SyscallDef {{")
        print(f"        nr: {nr},")
        print(f"        name: \"{name}\",")
        print(f"        no_return: {'true' if name in NO_RETURN else 'false'},")
        print(f"        described: {'true' if traced else 'false'},")
        ret = "Ptr" if name in RET_PTR else "Fd" if name in RET_FD else "Int"
        print(f"        ret: RetKind::{ret},")
        if args:
            names = [a for a, _ in args]
            print("        args: &[")
            for aname, ctype in args:
                print(f"            ArgDef {{ name: \"{aname}\", ctype: \"{ctype}\", kind: ArgKind::{kind_of(name, ctype, aname, names)} }},")
            print("        ],")
        else:
            print("        args: &[],")
        print("    },")
    print("];")


if __name__ == "__main__":
    main()
