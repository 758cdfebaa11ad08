#!/usr/bin/env python3
"""sysotel's kernel matrix: the end-to-end tests, run inside QEMU guests on
Debian's 5.10, 6.1 and 6.12 cloud kernels, and 5.10 once more booted
without BPF LSM (`5.10-fentry`: the LSM suite, attached as fentry).

    python3 scripts/kernels.py run [--kernels "5.10 6.1 6.12 5.10-fentry"] [--only TEST]
    python3 scripts/kernels.py fetch [--kernels ...]
    python3 scripts/kernels.py shell KERNEL -- COMMAND...

`fetch` resolves each kernel series to the newest build in its Debian suite
(bullseye 5.10, bookworm 6.1, trixie 6.12; the suite's
linux-image-cloud-amd64), downloads it with a private apt state (the
machine's own apt sources are untouched) and caches it, unpacked, under
$SYSOTEL_KERNEL_CACHE (default /var/cache/sysotel/kernels), with a busybox
initramfs that loads the virtio and virtiofs modules. Offline, the last
resolved build in the cache is used.

`run` boots each kernel once under TCG (`-accel tcg -cpu max`: /dev/kvm does
not work on this paravirtualised host), shares the host's / read-only into
the guest with virtiofs, and runs the end-to-end test binaries of tests/
(built here, the same binaries as on the host) with the selection in SUITES:
the same assertions on every kernel. It prints one line per test and kernel,
and fails naming the kernel and the test when a test fails, when a test the
matrix expects did not run, or when the guest kernel logged a WARNING, BUG
or Oops.

`shell` runs one command in a guest and prints its output (for debugging).
"""
import argparse
import hashlib
import json
import lzma
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("SYSOTEL_KERNEL_CACHE", "/var/cache/sysotel/kernels")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = "http://deb.debian.org/debian"

# series -> (Debian suite, extra kernel command line)
KERNELS = {
    # 5.10 does not list bpf among its default LSMs: without it on the command
    # line an LSM program attaches without error and never runs.
    "5.10": ("bullseye", "lsm=lockdown,capability,yama,apparmor,bpf"),
    "6.1": ("bookworm", ""),
    "6.12": ("trixie", ""),
}

# Guests besides one per series, booted differently: name -> (series, extra
# kernel command line, SYSOTEL_EXPECT_LSM, suites it runs). 5.10 without bpf
# in its LSM list: the LSM events attach as fentry programs there.
VARIANTS = {
    "5.10-fentry": ("5.10", "lsm=lockdown,capability,yama,apparmor", "fentry", ["lsm", "service"]),
}

# arm64 guests (qemu-system-aarch64 -M virt): guest -> series. They run the
# arm64 build of sysotel and of the tests (`make build-arm64`) and ARM64_SUITES.
ARM64 = {"arm64-6.1": "6.1", "arm64-6.12": "6.12"}

# Every guest the matrix can boot.
GUESTS = list(KERNELS) + list(VARIANTS) + list(ARM64)


def series_of(guest):
    return VARIANTS[guest][0] if guest in VARIANTS else ARM64.get(guest, guest)


def arch_of(guest):
    """The Debian architecture of a guest: amd64 or arm64."""
    return "arm64" if guest in ARM64 else "amd64"


def cmdline_of(guest):
    return VARIANTS[guest][1] if guest in VARIANTS else KERNELS[series_of(guest)][1]


# Modules the initramfs loads (those a kernel builds in are absent and skipped).
MODULES = ["virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
           "virtio_pci", "fuse", "virtiofs", "virtio_console"]

# What the matrix runs in every guest: (test binary, test names; empty: all).
# Everything whose result depends on the kernel: the fixture's values, -e
# selection, every kernel scope key, loss accounting, OTLP delivery and the
# attribute mapping, the ring-buffer fill, BTF from a file.
SUITES = [
    ("console", []),
    ("arguments", ["every_argument_kind_is_decoded_exactly", "table_args_read_like_the_calls",
                   "selecting_openat_keeps_everything_else_in_the_kernel",
                   "sets_globs_and_exclusions_select_in_the_kernel",
                   "a_path_unreadable_at_entry_is_read_at_exit"]),
    ("scope", []),
    ("loss", []),
    ("otlp", ["http_protobuf_delivers_exact_records", "grpc_delivers_exact_records"]),
    ("otlp_mapping", []),
    ("metrics", ["ring_buffer_used_is_what_the_kernel_wrote_and_sysotel_did_not_read"]),
    ("btf", []),
    ("lsm", []),
    # The package's unit: sysotel with only the unit's capabilities.
    ("service", ["runs_with_the_units_capabilities_and_tells_systemd"]),
    # Not the exec race: a guest runs one vCPU at a time (single-threaded
    # TCG, see boot()), so the thread rewriting the name never runs while
    # the exec is between the tracer's read and the kernel's; it runs on the
    # host's CPUs, in parallel, in `make test`.
    ("exec_check", ["honest_execs_are_no_mismatch", "a_name_unreadable_at_entry_is_a_mismatch"]),
]

# What the arm64 guests run: the fixture's values (ids, namespaces, openat's
# fd and ENOENT, fork, exec with its exact argv, exit code), every argument
# kind (connect's sockaddr among them), -e selection, scope by uid and comm,
# delivery to a real collector on the guest's loopback (rotel's arm64
# build), with the same assertions as on x86_64; and `sysotel list` showing
# the aarch64 table.
ARM64_SUITES = [
    ("cli", ["list_names_every_category"]),
    ("console", []),
    ("arguments", ["every_argument_kind_is_decoded_exactly",
                   "selecting_openat_keeps_everything_else_in_the_kernel"]),
    ("scope", ["pid", "ppid", "uid_and_gid", "comm_exact_prefix_and_negation",
               "mount_and_pid_namespaces", "follow_traces_descendants"]),
    ("otlp", ["http_protobuf_delivers_exact_records"]),
]

# The LSM mechanism each guest must give the LSM events (SYSOTEL_EXPECT_LSM):
# the three series boot with bpf among their active LSMs (5.10 by its command
# line); a variant says its own.
EXPECT_LSM = "bpf-lsm"


def expect_lsm_of(guest):
    return VARIANTS[guest][2] if guest in VARIANTS else EXPECT_LSM


def suites_of(guest, only=""):
    """The suites `guest` runs (those whose name contains `only`): all of
    SUITES, or the variant's; an arm64 guest ARM64_SUITES."""
    if guest in ARM64:
        return [(n, t) for n, t in ARM64_SUITES if only in n]
    return [(n, t) for n, t in SUITES if only in n and (guest not in VARIANTS or n in VARIANTS[guest][3])]

# Lines of the guest's kernel log that fail the run.
KERNEL_TROUBLE = re.compile(r"(WARNING:|BUG:|Oops|general protection fault|Call Trace:|"
                            r"kernel BUG|RIP: )")

GUEST_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# The job's output: the second serial port on x86 (ttyS1), a virtio console
# on arm64 (hvc0: the virt machine has one UART).
out=$(cat /guest.out)
# Modules in dependency order; a second pass loads what an order miss left.
for pass in 1 2; do
  for m in $(cat /modules.list); do insmod "/modules/$m.ko" 2>/dev/null; done
done
job=$(sed -n 's/.*sysotel\.job=\([^ ]*\).*/\1/p' /proc/cmdline)
r=/newroot
mkdir -p $r
if ! mount -t virtiofs -o ro root $r; then
  echo "sysotel-guest: cannot mount the host's root (virtiofs)" > $out
  echo "sysotel-guest-exit=97" > $out
  poweroff -f
fi
# Host paths the job needs that the tmpfs mounts would hide (a checkout
# under /tmp): held aside, then bound back on top of the tmpfs.
keep=$(sed -n 's/.*sysotel\.keep=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
i=0
for k in $keep; do mkdir -p /keep$i; mount -o bind $r$k /keep$i; i=$((i+1)); done
for d in tmp run var/tmp; do mount -t tmpfs tmpfs $r/$d; done
chmod 1777 $r/tmp $r/var/tmp
i=0
for k in $keep; do mkdir -p $r$k; mount -o bind /keep$i $r$k; i=$((i+1)); done
# An arm64 guest shares the x86 host's root: its programs cannot run there,
# its arm64 libraries can (Debian multiarch, /usr/lib/aarch64-linux-gnu).
# The initramfs' arm64 busybox stands in for /usr/bin and /usr/sbin.
if [ -e /guest.arm64 ]; then
  mkdir -p /xbin
  mount -t tmpfs tmpfs /xbin
  cp /bin/busybox /xbin/busybox
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox /xbin/$a; done
  mount -o bind /xbin $r/usr/bin
  mount -o bind /xbin $r/usr/sbin
fi
mount -t proc proc $r/proc
mount -t sysfs sys $r/sys
mount -t devtmpfs dev $r/dev
mkdir -p $r/dev/pts $r/dev/shm 2>/dev/null
mount -t devpts devpts $r/dev/pts 2>/dev/null
mount -t tmpfs tmpfs $r/dev/shm
mount -t securityfs securityfs $r/sys/kernel/security 2>/dev/null
mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
mount -t bpf bpf $r/sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup
ip link set lo up
hostname sysotel-guest
chroot $r /bin/sh "$job" > $out 2>&1
echo "sysotel-guest-exit=$?" > $out
echo "sysotel-guest-dmesg-start" > $out
dmesg > $out
echo "sysotel-guest-dmesg-end" > $out
poweroff -f
"""


def log(msg):
    print(f"kernels: {msg}", file=sys.stderr, flush=True)


# ---- fetching ----------------------------------------------------------------

def apt_options(state, arch="amd64"):
    return ["-o", f"APT::Architecture={arch}", "-o", f"APT::Architectures={arch}",
            "-o", f"Dir::State::Lists={state}/lists", "-o", f"Dir::Etc::SourceList={state}/sources.list",
            "-o", "Dir::Etc::SourceParts=/dev/null", "-o", f"Dir::Cache={state}/cache",
            "-o", "Dir::State::status=/dev/null", "-o", "Acquire::Languages=none",
            "-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
            "-o", "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
            "-o", "APT::Sandbox::User=root", "-q"]


def apt_state(arch="amd64"):
    """The private apt state of `arch`, updated when older than 12 hours."""
    state = os.path.join(CACHE, "apt" if arch == "amd64" else f"apt-{arch}")
    for d in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    suites = sorted({s for s, _ in KERNELS.values()})
    sources = "".join(f"deb [arch={arch} signed-by={KEYRING}] {MIRROR} {s} main\n" for s in suites)
    path = os.path.join(state, "sources.list")
    changed = not os.path.exists(path) or open(path).read() != sources
    if changed:
        with open(path, "w") as f:
            f.write(sources)
    stamp = os.path.join(state, "updated")
    if changed or not os.path.exists(stamp) or time.time() - os.path.getmtime(stamp) > 12 * 3600:
        r = subprocess.run(["apt-get", *apt_options(state, arch), "update"], capture_output=True, text=True)
        if r.returncode != 0:
            log(f"apt-get update failed (offline?): {r.stderr.strip()[-300:]}")
            return state, False
        open(stamp, "w").close()
    return state, True


def resolve(series, state, arch="amd64"):
    """The newest linux-image-*-cloud-ARCH of the series' suite: (package, version)."""
    suite = KERNELS[series][0]
    meta = f"linux-image-cloud-{arch}"
    out = subprocess.run(["apt-cache", *apt_options(state, arch), "madison", meta],
                         capture_output=True, text=True).stdout
    version = None
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and f" {suite}/main " in f" {parts[2]} ":
            version = parts[1]
    if not version:
        return None
    show = subprocess.run(["apt-cache", *apt_options(state, arch), "show", f"{meta}={version}"],
                          capture_output=True, text=True).stdout
    m = re.search(rf"^Depends: (linux-image-\S+-cloud-{arch}) \(= ([^)]+)\)", show, re.M)
    return (m.group(1), m.group(2)) if m else None


def kernel_dir(package, version):
    return os.path.join(CACHE, f"{package}_{version}")


def fetch(series, state, online, arch="amd64"):
    """The unpacked kernel of `series`, downloading it when not cached."""
    resolved_file = os.path.join(CACHE, f"resolved-{series}" + ("" if arch == "amd64" else f"-{arch}"))
    found = resolve(series, state, arch) if online else None
    if found is None:
        if not os.path.exists(resolved_file):
            sys.exit(f"kernels: cannot resolve Linux {series} and nothing is cached")
        found = tuple(open(resolved_file).read().split())
        log(f"{series}: using the cached {found[0]} {found[1]}")
    package, version = found
    d = kernel_dir(package, version)
    if not os.path.exists(os.path.join(d, "unpacked")):
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            log(f"{series}: downloading {package} {version}")
            r = subprocess.run(["apt-get", *apt_options(state, arch), "download", f"{package}={version}"],
                               cwd=tmp, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"kernels: downloading {package} failed: {r.stderr.strip()}")
            deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
            shutil.rmtree(d, ignore_errors=True)
            subprocess.run(["dpkg-deb", "-x", os.path.join(tmp, deb), d], check=True)
        open(os.path.join(d, "unpacked"), "w").close()
    with open(resolved_file, "w") as f:
        f.write(f"{package} {version}\n")
    return package, version, d


def cpio_newc(entries):
    """A newc cpio archive of (name, mode, data) entries."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
        nb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        out += b"070701" + b"".join(b"%08X" % v for v in fields) + nb
        out += b"\0" * (-(110 + len(nb)) % 4) + data + b"\0" * (-len(data) % 4)
    return bytes(out)


def arm64_busybox(state, online):
    """Debian's arm64 busybox-static (bookworm), downloaded once: its path."""
    d = os.path.join(CACHE, "busybox-arm64")
    path = os.path.join(d, "bin", "busybox")
    if os.path.exists(path):
        return path
    if not online:
        sys.exit("kernels: the arm64 busybox is not cached and the archive cannot be reached")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        log("downloading the arm64 busybox-static")
        r = subprocess.run(["apt-get", *apt_options(state, "arm64"), "download", "busybox-static/bookworm"],
                           cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"kernels: downloading busybox-static (arm64) failed: {r.stderr.strip()}")
        deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
        subprocess.run(["dpkg-deb", "-x", os.path.join(tmp, deb), os.path.join(tmp, "x")], check=True)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(os.path.join(tmp, "x"), d, symlinks=True)
    return path


def rotel_version():
    """The rotel scripts/peers.sh installs on the host: the guests run the same."""
    m = re.search(r"pip_has rotel ([0-9A-Za-z.]+)", open(os.path.join(ROOT, "scripts", "peers.sh")).read())
    if not m:
        sys.exit("kernels: scripts/peers.sh names no rotel version")
    return m.group(1)


def arm64_rotel(state, online):
    """rotel's arm64 build (its manylinux aarch64 wheel from PyPI) with the two
    arm64 libraries it needs that the host does not have (libpython3.11 and
    libexpat, from Debian): the path of a script that runs it."""
    version = rotel_version()
    d = os.path.join(CACHE, f"rotel-arm64-{version}")
    wrapper = os.path.join(d, "rotel-agent.sh")
    if os.path.exists(wrapper):
        return wrapper
    if not online:
        sys.exit("kernels: the arm64 rotel is not cached and the archive cannot be reached")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        log(f"downloading rotel {version} for arm64")
        r = subprocess.run([sys.executable, "-m", "pip", "download", f"rotel=={version}", "--no-deps",
                            "--only-binary=:all:", "--platform", "manylinux_2_34_aarch64",
                            "--python-version", "3.11", "-d", tmp, "-q"], capture_output=True, text=True)
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if r.returncode != 0 or not wheels:
            sys.exit(f"kernels: downloading rotel {version} (aarch64 wheel) failed: {r.stderr.strip()[-500:]}")
        subprocess.run(["unzip", "-q", "-o", os.path.join(tmp, wheels[0]), "rotel/rotel-agent", "-d", tmp],
                       check=True)
        r = subprocess.run(["apt-get", *apt_options(state, "arm64"), "download",
                            "libpython3.11/bookworm", "libexpat1/bookworm"],
                           cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"kernels: downloading libpython3.11 (arm64) failed: {r.stderr.strip()}")
        staging = os.path.join(tmp, "rotel-arm64")
        lib = os.path.join(staging, "lib")
        os.makedirs(lib)
        for deb in [f for f in os.listdir(tmp) if f.endswith(".deb")]:
            x = os.path.join(tmp, "x-" + deb)
            subprocess.run(["dpkg-deb", "-x", os.path.join(tmp, deb), x], check=True)
            for base, _, files in os.walk(x):
                for f in files:
                    if ".so" in f:
                        shutil.copy(os.path.join(base, f), lib)
        shutil.copy(os.path.join(tmp, "rotel", "rotel-agent"), staging)
        with open(os.path.join(staging, "rotel-agent.sh"), "w") as f:
            f.write(f"#!/bin/sh\nLD_LIBRARY_PATH={d}/lib exec {d}/rotel-agent \"$@\"\n")
        os.chmod(os.path.join(staging, "rotel-agent.sh"), 0o755)
        shutil.rmtree(d, ignore_errors=True)
        shutil.move(staging, d)
    return wrapper


def initramfs(d, arch="amd64", busybox="/bin/busybox"):
    """busybox, the init script and the kernel's virtio/virtiofs modules."""
    modules = {}
    for base, _, files in os.walk(os.path.join(d, "lib", "modules")):
        for f in files:
            name = re.sub(r"\.ko(\.xz|\.zst)?$", "", f)
            if name in MODULES:
                modules[name] = os.path.join(base, f)
    key = hashlib.sha256((GUEST_INIT + arch + repr(sorted(modules))).encode()).hexdigest()[:16]
    path = os.path.join(d, f"initramfs-{key}.cpio.gz")
    if os.path.exists(path):
        return path
    entries = [("bin", 0o40755, b""), ("dev", 0o40755, b""), ("proc", 0o40755, b""),
               ("sys", 0o40755, b""), ("modules", 0o40755, b""),
               ("bin/busybox", 0o100755, open(busybox, "rb").read()),
               ("init", 0o100755, GUEST_INIT.encode()),
               ("guest.out", 0o100644, (b"/dev/hvc0" if arch == "arm64" else b"/dev/ttyS1"))]
    if arch == "arm64":
        entries.append(("guest.arm64", 0o100644, b""))
    order = [m for m in MODULES if m in modules]
    for m in order:
        data = open(modules[m], "rb").read()
        if modules[m].endswith(".xz"):
            data = lzma.decompress(data)
        elif modules[m].endswith(".zst"):
            data = subprocess.run(["zstd", "-dc", modules[m]], capture_output=True, check=True).stdout
        entries.append((f"modules/{m}.ko", 0o100644, data))
    entries.append(("modules.list", 0o100644, " ".join(order).encode()))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(subprocess.run(["gzip", "-1"], input=cpio_newc(entries), capture_output=True,
                               check=True).stdout)
    os.rename(tmp, path)
    return path


def fetch_all(guests):
    """Each guest's kernel and initramfs (a guest's series, for its architecture)."""
    os.makedirs(CACHE, exist_ok=True)
    states = {}
    # Guests of one series and architecture (5.10 and 5.10-fentry) share it.
    fetched = {}
    for key in dict.fromkeys((series_of(g), arch_of(g)) for g in guests):
        series, arch = key
        if arch not in states:
            states[arch] = apt_state(arch)
        state, online = states[arch]
        package, version, d = fetch(series, state, online, arch)
        boot = os.path.join(d, "boot")
        vmlinuz = os.path.join(boot, [f for f in os.listdir(boot) if f.startswith("vmlinuz-")][0])
        busybox = arm64_busybox(state, online) if arch == "arm64" else "/bin/busybox"
        fetched[key] = {"package": package, "version": version, "vmlinuz": vmlinuz, "arch": arch,
                        "initrd": initramfs(d, arch, busybox)}
        if arch == "arm64":
            fetched[key]["rotel"] = arm64_rotel(state, online)
    return {g: fetched[(series_of(g), arch_of(g))] for g in guests}


# ---- booting -------------------------------------------------------------------

# Mounted as fresh tmpfs in the guest.
GUEST_TMPFS = ("/tmp/", "/run/", "/var/tmp/")


def keep_option():
    """`sysotel.keep=`: the checkout and the cargo target directory when they
    lie under a path the guest mounts a tmpfs on, so the guest still sees them."""
    keep = [os.path.realpath(p) for p in (ROOT, target_dir())]
    keep = [p for p in dict.fromkeys(keep) if p.startswith(GUEST_TMPFS)]
    if any("," in p or " " in p for p in keep):
        sys.exit(f"kernels: a path with a comma or space cannot be shared with the guest: {keep}")
    return f"sysotel.keep={','.join(keep)}" if keep else ""


def boot(kernel, info, script, timeout, memory="3G", cpus=2):
    """Boots `kernel` and runs `script` (shell text) in it as root, in a chroot
    of the host's / (read-only) with tmpfs on /tmp, /run and /var/tmp; HOME is
    /tmp/home. Returns (exit code or
    None on timeout, output, the kernel log)."""
    jobs = os.path.join(CACHE, "jobs")
    os.makedirs(jobs, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=jobs) as job:
        run_sh = os.path.join(job, "run.sh")
        with open(run_sh, "w") as f:
            f.write(script)
        sock = os.path.join(job, "fs.sock")
        out_log = os.path.join(job, "out.log")
        console_log = os.path.join(job, "console.log")
        vfsd = subprocess.Popen(["/usr/lib/qemu/virtiofsd", f"--socket-path={sock}",
                                 "-o", "source=/", "-o", "sandbox=chroot", "-o", "cache=always",
                                 "-o", "xattr"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(sock):
            if time.time() > deadline or vfsd.poll() is not None:
                vfsd.kill()
                sys.exit("kernels: virtiofsd did not start (/usr/lib/qemu/virtiofsd)")
            time.sleep(0.05)
        arm64 = info.get("arch") == "arm64"
        cmdline = (f"console={'ttyAMA0' if arm64 else 'ttyS0'} quiet panic=-1 oops=panic random.trust_cpu=on "
                   f"sysotel.job={run_sh} {keep_option()} {cmdline_of(kernel)}").strip()
        qemu = subprocess.Popen(
            # One host thread runs both vCPUs in turn: with a thread per vCPU,
            # a vCPU could run a kernel instruction while the other was
            # patching it (static keys, when programs attach), and the guest
            # died on the patch's int3 (seen once on 6.12).
            (["qemu-system-aarch64", "-M", "virt"] if arm64 else ["qemu-system-x86_64"]) +
            ["-accel", "tcg,thread=single", "-cpu", "max", "-smp", str(cpus), "-m", memory,
             "-nodefaults", "-display", "none", "-no-reboot",
             "-kernel", info["vmlinuz"], "-initrd", info["initrd"], "-append", cmdline,
             "-object", f"memory-backend-memfd,id=mem,size={memory},share=on",
             "-numa", "node,memdev=mem",
             "-chardev", f"socket,id=fs,path={sock}",
             "-device", "vhost-user-fs-pci,chardev=fs,tag=root",
             "-serial", f"file:{console_log}"] +
            # The job's output: a second UART on x86, a virtio console on arm64.
            (["-device", "virtio-serial-pci", "-chardev", f"file,id=out,path={out_log}",
              "-device", "virtconsole,chardev=out"] if arm64 else ["-serial", f"file:{out_log}"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, qerr = qemu.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            qemu.kill()
            qerr = f"(killed after {timeout}s)"
        vfsd.send_signal(signal.SIGTERM)
        try:
            vfsd.wait(timeout=5)
        except subprocess.TimeoutExpired:
            vfsd.kill()
        out = open(out_log, errors="replace").read() if os.path.exists(out_log) else ""
        console = open(console_log, errors="replace").read() if os.path.exists(console_log) else ""
    m = re.search(r"^sysotel-guest-exit=(\d+)\s*$", out, re.M)
    code = int(m.group(1)) if m else None
    dmesg = ""
    d = re.search(r"sysotel-guest-dmesg-start\n(.*?)sysotel-guest-dmesg-end", out, re.S)
    if d:
        dmesg = d.group(1)
    output = out[:m.start()] if m else out
    if code is None:
        output += f"\n[qemu: {qerr.strip()}]\n[console]\n{console[-3000:]}"
    return code, output, dmesg or console


def kernel_trouble(dmesg):
    return [line for line in dmesg.splitlines() if KERNEL_TROUBLE.search(line)]


# ---- the matrix ----------------------------------------------------------------

# The Rust target of each guest architecture.
RUST_TARGET = {"amd64": None, "arm64": "aarch64-unknown-linux-gnu"}


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def sysotel_of(arch):
    """The sysotel binary an `arch` guest runs."""
    t = RUST_TARGET[arch]
    return os.path.join(target_dir(), *([t] if t else []), "release", "sysotel")


def test_binaries(arch="amd64"):
    """Builds sysotel and the end-to-end tests for `arch` (arm64: cross-built,
    scripts/setup.sh --arm64); their test binaries by name."""
    t = RUST_TARGET[arch]
    target = ["--target", t] if t else []
    r = subprocess.run(["cargo", "build", "--locked", "--release", "--quiet", *target], cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f"kernels: building sysotel for {arch} failed")
    out = subprocess.run(["cargo", "test", "--locked", "--release", "-p", "sysotel-tests", "--no-run",
                          *target, "--message-format=json"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"kernels: building the tests failed:\n{out.stderr[-3000:]}")
    found = {}
    for line in out.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and \
                "test" in msg.get("target", {}).get("kind", []):
            found[msg["target"]["name"]] = msg["executable"]
    return found


def guest_script(binaries, suites, expect_lsm=EXPECT_LSM, info=None):
    """The shell script the guest runs: every suite, one test at a time."""
    env = []
    if info and info.get("arch") == "arm64":
        # The arm64 sysotel, and rotel's arm64 build (the tests would ask the
        # host's python for the x86 one); a longer ready limit, as emulated
        # arm64 verifies the programs several times slower than emulated x86.
        env = [f"export SYSOTEL_BIN={sysotel_of('arm64')} ROTEL_AGENT={info['rotel']} "
               "SYSOTEL_TEST_READY_SECS=240"]
    lines = ["set -u", "mkdir -p /tmp/home", "export HOME=/tmp/home RUST_TEST_THREADS=1 RUST_BACKTRACE=1",
             *env,
             f"export PATH={os.environ.get('PATH', '/usr/bin:/bin')}:/usr/sbin:/sbin",
             f"cd {ROOT}/tests", "echo \"sysotel-guest-uname=$(uname -r)\"",
             # The kernel's default (64 KiB): sysotel raises it itself where BPF memory counts against it.
             "echo \"sysotel-guest-memlock=$(ulimit -l)\"", f"export SYSOTEL_EXPECT_LSM={expect_lsm}",
             "status=0"]
    for name, tests in suites:
        exe = binaries[name]
        filters = " ".join(tests)
        exact = "--exact" if tests else ""
        lines.append(f"echo 'sysotel-suite={name}'")
        lines.append(f"{exe} --test-threads=1 --color never {exact} {filters} || status=1")
    lines.append("exit $status")
    return "\n".join(lines) + "\n"


def parse_results(output):
    """(suite, test) -> ok | FAILED, from libtest's lines."""
    results, suite = {}, None
    for line in output.splitlines():
        m = re.match(r"sysotel-suite=(\S+)", line)
        if m:
            suite = m.group(1)
            continue
        m = re.match(r"test (\S+) \.\.\. (ok|FAILED|ignored)", line)
        if m and suite:
            results[(suite, m.group(1))] = m.group(2)
    return results


def expected_tests(binaries, suites, arch="amd64"):
    """Every (suite, test) the matrix must see run, from the binaries' own lists
    (an arm64 binary lists them under qemu-user)."""
    runner = ["qemu-aarch64"] if arch == "arm64" else []
    want = []
    for name, tests in suites:
        if tests:
            want += [(name, t) for t in tests]
            continue
        out = subprocess.run([*runner, binaries[name], "--list"], capture_output=True, text=True).stdout
        want += [(name, l.split(": test")[0]) for l in out.splitlines() if l.endswith(": test")]
    return want


def run_matrix(args):
    kernels = args.kernels.split()
    for k in kernels:
        if k not in GUESTS:
            sys.exit(f"kernels: unknown kernel {k}; known: {' '.join(GUESTS)}")
    started = time.time()
    infos = fetch_all(kernels)
    arches = sorted({arch_of(k) for k in kernels})
    binaries = {a: test_binaries(a) for a in arches}
    for k in kernels:
        missing = [n for n, _ in suites_of(k, args.only) if n not in binaries[arch_of(k)]]
        if missing:
            sys.exit(f"kernels: no {arch_of(k)} test binary for {missing}")
    wants = {k: expected_tests(binaries[arch_of(k)], suites_of(k, args.only), arch_of(k)) for k in kernels}
    results = {}

    def one(k):
        t0 = time.time()
        script = guest_script(binaries[arch_of(k)], suites_of(k, args.only), expect_lsm_of(k), infos[k])
        # A hang guard: emulated arm64 runs several times slower than
        # emulated x86 (measured: 13 tests in 288 s alone, 582 s beside
        # another guest and a build), so its guests get twice as long.
        timeout = args.timeout * (2 if arch_of(k) == "arm64" else 1)
        code, output, dmesg = boot(k, infos[k], script, timeout=timeout)
        results[k] = (code, output, dmesg, time.time() - t0)

    # All three at once by default: each guest is one host thread (see boot).
    threads = []
    for k in kernels:
        t = threading.Thread(target=one, args=(k,))
        t.start()
        threads.append(t)
        while sum(th.is_alive() for th in threads) >= args.parallel:
            time.sleep(0.2)
    for t in threads:
        t.join()

    failures = []
    failed_tests = 0
    for k in kernels:
        code, output, dmesg, secs = results[k]
        info = infos[k]
        uname = re.search(r"sysotel-guest-uname=(\S+)", output)
        log_path = os.path.join(ROOT, "target", f"kernel-{k}.log")
        with open(log_path, "w") as f:
            f.write(output + "\n---- kernel log ----\n" + dmesg)
        got = parse_results(output)
        print(f"== Linux {k}: {info['package']} {info['version']} "
              f"(uname {uname.group(1) if uname else '?'}), {secs:.0f}s, full output in {log_path}")
        for key in wants[k]:
            status = got.get(key, "DID NOT RUN")
            print(f"  {k:<5} {key[0]}::{key[1]} ... {status}")
            if status not in ("ok",):
                failures.append(f"Linux {k}: {key[0]}::{key[1]} {status}")
                failed_tests += 1
        trouble = kernel_trouble(dmesg)
        if trouble:
            failures.append(f"Linux {k}: the kernel logged:\n    " + "\n    ".join(trouble[:20]))
        if code is None:
            failures.append(f"Linux {k}: the guest did not finish (timeout or crash)")
    print(f"matrix: {len(kernels)} kernels in {time.time() - started:.0f}s")
    total = sum(len(w) for w in wants.values())
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
    # The closing line scripts/test.sh adds to the suite's total: one test per
    # kernel and test; a kernel that logged trouble or hung counts one more failure.
    print(f"kernels: {total - failed_tests} passed, {len(failures)} failed")
    if failures:
        sys.exit(1)


def shell(args):
    infos = fetch_all([args.kernel])
    script = "set -u\nmkdir -p /tmp/home\nexport HOME=/tmp/home\n" + " ".join(f"'{a}'" for a in args.command) + "\n"
    code, output, dmesg = boot(args.kernel, infos[args.kernel], script, timeout=args.timeout)
    print(output)
    if args.dmesg:
        print("---- kernel log ----\n" + dmesg)
    print(f"exit: {code}")
    sys.exit(0 if code == 0 else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="the matrix")
    r.add_argument("--kernels", default=os.environ.get("KERNELS", " ".join(GUESTS)))
    r.add_argument("--only", default="", help="only the suites whose name contains this")
    r.add_argument("--parallel", type=int, default=3, help="guests at once")
    r.add_argument("--timeout", type=int, default=900, help="seconds per guest")
    f = sub.add_parser("fetch", help="download and cache the kernels")
    f.add_argument("--kernels", default=os.environ.get("KERNELS", " ".join(KERNELS)))
    s = sub.add_parser("shell", help="run one command in a guest")
    s.add_argument("kernel")
    s.add_argument("command", nargs="+")
    s.add_argument("--timeout", type=int, default=300)
    s.add_argument("--dmesg", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("kernels: run as root")
    if args.cmd == "run":
        run_matrix(args)
    elif args.cmd == "fetch":
        for k, info in fetch_all(args.kernels.split()).items():
            print(f"{k}: {info['package']} {info['version']} {info['vmlinuz']}")
    else:
        shell(args)


if __name__ == "__main__":
    main()
