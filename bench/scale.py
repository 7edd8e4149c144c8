#!/usr/bin/env python3
"""The daemon at scale: the real `jailwarden serve` with N busybox jails.

For each N and each binary given, one run:
  1. a policy with N thin jails on a busybox root (each running a sleeping
     shell, under a template with four limits), 10 Hz sampling, 1 s slow
     tier, the default 60 s history, written to a fresh directory in /tmp
     that is also the daemon's state directory;
  2. `jailwarden serve --stop-jails-on-exit` started on a free loopback port;
     ready once /metrics lists N jails (bounded: 60 s + 0.5 s per jail);
  3. a warm-up (default 65 s: the history is full after 60 s) and a measured window (default 60 s), with a
     scrape of /metrics by curl once a second throughout;
  4. printed: the daemon's CPU share of one core (utime+stime from
     /proc/PID/stat over wall time, measured window only), beside it the
     share of the run's N jailwarden-init and jailwarden-logd processes
     together (what jailwarden costs the machine is the sum), RSS after the
     warm-up, at the end and its growth, missed ticks
     (jailwarden_sampler_overruns_total), tick p50/p99 (from the
     jailwarden_sampler_tick_seconds histogram, measured window only),
     scrape p50/p99 (curl's time_total) and the page size, with the load
     average beside them;
  5. cleanup: SIGTERM to the daemon (it stops every jail), a bounded wait,
     SIGKILL to it if it hangs, then any cgroup left below the run's own
     cgroup parent is emptied (SIGKILL to the pids in it, which this run's
     daemon put there) and removed, and the directory is deleted unless a
     mount still points into it.

Runs are sequential and each binary runs back to back at each N so that
before/after are measured in the same conditions. Root only (namespaces,
cgroups, mounts). Not part of ctest; scripts/bench.sh runs an N=20 smoke.

  sudo bench/scale.py --jails 100,200 --bin before=/tmp/old/jailwarden \\
      --bin after=build/src/jailwarden
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TICK_RE = re.compile(r'^jailwarden_sampler_tick_seconds_bucket\{le="([^"]+)"\} (\d+)$', re.M)
OVERRUNS_RE = re.compile(r"^jailwarden_sampler_overruns_total (\d+)$", re.M)
TICKS_RE = re.compile(r"^jailwarden_sampler_ticks_total (\d+)$", re.M)
JAIL_ID_RE = re.compile(r"^jail_id\{", re.M)
TICK_SUM_RE = re.compile(r"^jailwarden_sampler_tick_duration_seconds_sum (\S+)$", re.M)
TICK_MAX_RE = re.compile(r"^jailwarden_sampler_tick_duration_max_seconds (\S+)$", re.M)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print(f"scale: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cgroup_parent_for(state_dir):
    """service::CgroupParentFor: FNV-1a of the state directory."""
    h = 2166136261
    for c in state_dir.encode():
        h ^= c
        h = (h * 16777619) & 0xFFFFFFFF
    return f"jailwarden-{h:08x}"


def write_policy(path, work, port, n, interval):
    lines = [
        "server:",
        f"  listen: 127.0.0.1:{port}",
        f"  api_socket: {work}/api.sock",
        f"  state_dir: {work}/state",
        f"  sample_interval: {interval}",
        "  slow_interval: 1s",
        "templates:",
        "  thin:",
        f"    base: {ARGS.base}",
        "    persist: true",
        "    exec.clean: true",
        "    stop.timeout: 5s",
        "    ip4: disable",
        "    ip6: disable",
        "    exec.start: >-",
        "      /bin/sh -c 'while :; do sleep 3600; done' </dev/null >/dev/null 2>&1 &",
        "    limits:",
        "      pcpu: deny=50",
        "      memoryuse: deny=64M",
        "      maxproc: deny=32",
        "      openfiles: deny=256",
        "jails:",
    ]
    for i in range(n):
        lines += [f"  s{i:04d}:", "    template: thin"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def helper_pids(work, parent):
    """The run's jailwarden-init processes (comm, in a cgroup named `parent`)
    and jailwarden-logd processes (their --dir is under `work`): the CPU
    jailwarden costs the machine beside the daemon itself."""
    inits, logds = [], []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                comm = f.read().strip()
            if comm == "jailwarden-init":
                with open(f"/proc/{d}/cgroup") as f:
                    if f"/{parent}/" in f.read():
                        inits.append(int(d))
            elif comm == "jailwarden-logd":
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if f"--dir={work}/".encode() in f.read():
                        logds.append(int(d))
        except OSError:
            pass
    return inits, logds


def cpu_ticks_of(pids):
    """{pid: utime+stime} of those still alive."""
    out = {}
    for p in pids:
        try:
            out[p] = cpu_ticks(p)
        except OSError:
            pass
    return out


def cpu_delta(before, after):
    """Ticks used between two cpu_ticks_of() by the processes in both."""
    return sum(after[p] - before[p] for p in before if p in after)


def rss_mib(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def scrape(url, out, quiet=False):
    """One curl of /metrics into `out`: (seconds, bytes) or None."""
    r = subprocess.run(
        ["curl", "-s", "-m", "10", "-o", out, "-w", "%{time_total} %{size_download} %{http_code}", url],
        capture_output=True, text=True, timeout=15, check=False)
    parts = r.stdout.split()
    if r.returncode != 0 or len(parts) != 3 or parts[2] != "200":
        if not quiet:
            log(f"scrape failed: curl exit {r.returncode}, {r.stdout.strip()!r}")
        return None
    return float(parts[0]), int(parts[1])


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def tick_hist(text):
    return [(float("inf") if le == "+Inf" else float(le), int(c)) for le, c in TICK_RE.findall(text)]


def hist_quantile(before, after, q):
    """Quantile of the ticks between two cumulative histograms, linear inside
    a bucket (Prometheus' histogram_quantile)."""
    counts = [(le, a - b) for (le, a), (_, b) in zip(after, before)]
    total = counts[-1][1] if counts else 0
    if total <= 0:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0
    for le, c in counts:
        if c >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / max(c - below, 1)
        lower, below = le, c
    return lower


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def first_float(regex, text):
    m = regex.search(text)
    return float(m.group(1)) if m else float("nan")


def first_int(regex, text):
    m = regex.search(text)
    return int(m.group(1)) if m else 0


def cleanup_cgroups(parent):
    """Removes every cgroup named `parent` left below /sys/fs/cgroup (only
    this run's daemon made one by that name), after SIGKILL to its pids."""
    left = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        depth = root[len("/sys/fs/cgroup"):].count("/")
        if parent in dirs:
            left.append(os.path.join(root, parent))
        if depth >= 4:
            dirs[:] = []
        else:
            dirs[:] = [d for d in dirs if d != parent]
    for top in left:
        log(f"cgroup left behind, removing: {top}")
        tree = [r for r, _, _ in os.walk(top)]
        for path in reversed(tree):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    pids = [int(p) for p in read_text(os.path.join(path, "cgroup.procs")).split()]
                except OSError:
                    pids = []
                if not pids:
                    break
                for p in pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.1)
            try:
                os.rmdir(path)
            except OSError as e:
                log(f"cannot remove {path}: {e.strerror}")
    return len(left)


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [l.split()[4] for l in f if l.split()[4].startswith(path + "/") or l.split()[4] == path]


def run_one(label, binary, n):
    work = tempfile.mkdtemp(prefix="jw-scale-", dir="/tmp")
    port = free_port()
    policy = os.path.join(work, "policy.yaml")
    write_policy(policy, work, port, n, ARGS.interval)
    url = f"http://127.0.0.1:{port}/metrics"
    page = os.path.join(work, "page.txt")
    serve_log = open(os.path.join(work, "serve.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--config", policy, "--stop-jails-on-exit",
                             "--log-level", "warning"], stdout=serve_log, stderr=serve_log)
    result = {"label": label, "n": n}
    try:
        deadline = time.monotonic() + 60 + 0.5 * n
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            s = scrape(url, page, quiet=True)
            if s is not None and len(JAIL_ID_RE.findall(read_text(page))) >= n:
                ready = True
                break
            time.sleep(0.5)
        if not ready:
            raise RuntimeError(f"{label} N={n}: not ready (daemon exit {proc.poll()}); see {work}/serve.log")
        log(f"{label} N={n}: ready, warming up {ARGS.warmup}s")
        started = time.monotonic()
        scrapes = []

        def tick_loop(until, record):
            nxt = time.monotonic()
            while time.monotonic() < until:
                s = scrape(url, page)
                if s is None:
                    result["scrape_failures"] = result.get("scrape_failures", 0) + 1
                elif record:
                    scrapes.append(s)
                nxt += 1.0
                time.sleep(max(0.0, nxt - time.monotonic()))

        tick_loop(started + ARGS.warmup, False)
        text0 = read_text(page)
        inits, logds = helper_pids(work, cgroup_parent_for(os.path.join(work, "state")))
        i0, g0 = cpu_ticks_of(inits), cpu_ticks_of(logds)
        t0, c0, r0, l0 = time.monotonic(), cpu_ticks(proc.pid), rss_mib(proc.pid), loadavg()
        rss_max = r0
        end = t0 + ARGS.duration
        while time.monotonic() < end:
            tick_loop(min(end, time.monotonic() + 5), True)
            rss_max = max(rss_max, rss_mib(proc.pid))
        s = scrape(url, page)
        if s is not None:
            scrapes.append(s)
        text1 = read_text(page)
        t1, c1, r1, l1 = time.monotonic(), cpu_ticks(proc.pid), rss_mib(proc.pid), loadavg()
        i1, g1 = cpu_ticks_of(inits), cpu_ticks_of(logds)
        h0, h1 = tick_hist(text0), tick_hist(text1)
        result.update({
            "cpu": 100.0 * (c1 - c0) / CLK_TCK / (t1 - t0),
            "cpu_init": 100.0 * cpu_delta(i0, i1) / CLK_TCK / (t1 - t0), "inits": len(inits),
            "cpu_logd": 100.0 * cpu_delta(g0, g1) / CLK_TCK / (t1 - t0), "logds": len(logds),
            "rss0": r0, "rss1": r1, "rss_max": max(rss_max, r1), "growth": r1 - r0,
            "ticks": first_int(TICKS_RE, text1) - first_int(TICKS_RE, text0),
            "missed": first_int(OVERRUNS_RE, text1) - first_int(OVERRUNS_RE, text0),
            "tick_mean": 1e3 * (first_float(TICK_SUM_RE, text1) - first_float(TICK_SUM_RE, text0))
            / max(1, first_int(TICKS_RE, text1) - first_int(TICKS_RE, text0)),
            "tick_max": 1e3 * first_float(TICK_MAX_RE, text1),
            "tick_p50": 1e3 * hist_quantile(h0, h1, 0.5) if h0 and h1 else float("nan"),
            "tick_p99": 1e3 * hist_quantile(h0, h1, 0.99) if h0 and h1 else float("nan"),
            "scrape_p50": 1e3 * pct([x[0] for x in scrapes], 0.5),
            "scrape_p99": 1e3 * pct([x[0] for x in scrapes], 0.99),
            "page_kb": (scrapes[-1][1] / 1000) if scrapes else float("nan"),
            "load": f"{l0}-{l1}",
        })
        return result
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60 + 0.3 * n)
            except subprocess.TimeoutExpired:
                log(f"{label} N={n}: daemon did not stop, SIGKILL {proc.pid}")
                proc.kill()
                proc.wait(timeout=30)
        serve_log.close()
        cleanup_cgroups(cgroup_parent_for(os.path.join(work, "state")))
        left = mounts_under(work)
        if left:
            log(f"mounts still under {work}, leaving it: {left[:3]}")
        elif ARGS.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jails", default="100,200", help="comma-separated N values")
    p.add_argument("--bin", action="append", default=[],
                   help="LABEL=PATH of a jailwarden binary (jailwarden-init beside it); repeatable")
    p.add_argument("--base", default="/var/lib/jailwarden/base/busybox",
                   help="busybox root (made with `jailwarden mkroot busybox` if missing)")
    # Past the policy's 60 s history, so growth after it is not the history filling.
    p.add_argument("--warmup", type=float, default=65)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--interval", default="100ms")
    p.add_argument("--keep", action="store_true", help="keep the run directories")
    ARGS = p.parse_args()
    # SIGTERM (timeout(1), CI) unwinds like Ctrl-C so every run's cleanup runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        sys.exit("scale: needs root (jails: namespaces, cgroups, mounts)")
    bins = [b.split("=", 1) if "=" in b else ("build", b) for b in ARGS.bin] or \
        [("build", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "src", "jailwarden"))]
    if not 1 <= ARGS.warmup + ARGS.duration <= 3600:
        sys.exit("scale: warm-up + duration must be within 1 s .. 1 h")
    if not os.access(os.path.join(ARGS.base, "bin", "busybox"), os.X_OK):
        log(f"building the busybox root in {ARGS.base}")
        subprocess.run([bins[0][1], "mkroot", "busybox", ARGS.base], check=True, timeout=300)
    ns = [int(x) for x in ARGS.jails.split(",")]
    if any(not 1 <= x <= 2000 for x in ns):
        sys.exit("scale: N must be within 1..2000")
    rows = []
    for n in ns:
        for label, binary in bins:
            rows.append(run_one(label, os.path.abspath(binary), n))
    print(f"{'binary':<10} {'N':>5} {'CPU %':>6} {'init %':>6} {'logd %':>6} {'RSS MiB':>8} {'end':>7} {'growth':>7} {'ticks':>6} "
          f"{'missed':>6} {'tick mean ms':>12} {'p50':>6} {'p99':>6} {'max':>6} {'scrape p50 ms':>13} {'p99':>6} {'page KB':>8} load")
    for r in rows:
        print(f"{r['label']:<10} {r['n']:>5} {r['cpu']:>6.2f} {r['cpu_init']:>6.2f} {r['cpu_logd']:>6.2f} {r['rss0']:>8.1f} {r['rss1']:>7.1f} "
              f"{r['growth']:>+7.2f} {r['ticks']:>6} {r['missed']:>6} {r['tick_mean']:>12.2f} "
              f"{r['tick_p50']:>6.2f} {r['tick_p99']:>6.2f} {r['tick_max']:>6.1f} {r['scrape_p50']:>13.1f} {r['scrape_p99']:>6.1f} "
              f"{r['page_kb']:>8.0f} {r['load']}"
              + (f" scrape_failures={r['scrape_failures']}" if r.get("scrape_failures") else "")
              + (f" (inits {r['inits']}, logds {r['logds']})" if r['inits'] != r['n'] else ""))


if __name__ == "__main__":
    main()
