#!/usr/bin/env python3
"""Helpers for bench/run.sh: machine snapshots, waiting for a quiet machine, and the report.

    report.py env OUT.json                 nproc, CPU model, load average, who is using the CPU
    report.py wait-idle SECONDS MAX_BUSY   wait (at most SECONDS) until other work uses < MAX_BUSY cores
    report.py mark DIR LABEL [WARMUP]      append the time, load and CPU counters to DIR/load.jsonl
    report.py other DIR LABEL MAX          CPU used by other work between LABEL's marks (busy cores minus
                                           run.sh's own process tree); exit 1 if > MAX
    report.py report DIR OUT.md            ratios and verdicts from DIR's hyperfine JSON; exit 1 if a
                                           target is missed (DIR/missed.txt then names the commands)

Ratios are peer time / prelaunch time (higher is better for prelaunch), except the vCPU table, which
is table time / single-digest time (lower is better). The verdict uses the median over all runs of
all rounds; the min and mean ratios are shown beside it, and a verdict that the min disagrees with is
flagged as noise-sensitive.
"""

import collections
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

# A command whose median is more than this times its best run means the machine's speed changed
# during the run (seen on shared VMs with no visible load in the guest).
DRIFT_LIMIT = 1.25

# Commands by name (hyperfine --command-name), shared with run.sh.
PRELAUNCH_SNP = "prelaunch snp 64"
SEV_SNP_MEASURE = "sev-snp-measure snp 64"
SEV_CRATE = "sev crate snp 64"
SHA_SNP = "sha384sum (trixie 4M)"
TABLE = "prelaunch table 1-512"
SINGLE_512 = "prelaunch single 512"
PRELAUNCH_TDX = "prelaunch tdx"
SHA_TDX = "sha384sum (bookworm 2M)"
FLOOR_PRELAUNCH = "prelaunch --version"
FLOOR_SHA = "sha384sum /dev/null"

# (label, numerator, denominator, comparison, threshold, the prelaunch command to profile if missed)
TARGETS = [
    ("prelaunch vs sev-snp-measure (SNP, 64 vCPUs)", SEV_SNP_MEASURE, PRELAUNCH_SNP, ">=", 15.0, PRELAUNCH_SNP),
    ("prelaunch vs sev crate 8.0.0 program (SNP, 64 vCPUs)", SEV_CRATE, PRELAUNCH_SNP, ">=", 3.0, PRELAUNCH_SNP),
    ("prelaunch vs sha384sum of the image (SNP, 64 vCPUs)", SHA_SNP, PRELAUNCH_SNP, ">", 1.0, PRELAUNCH_SNP),
    ("vCPU table 1-512 vs single digest at 512 (cost ratio)", TABLE, SINGLE_512, "<=", 1.5, TABLE),
    ("prelaunch --mode tdx vs sha384sum of the image (bookworm)", SHA_TDX, PRELAUNCH_TDX, ">=", 1.0, PRELAUNCH_TDX),
]


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


def proc_ticks():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        out[int(pid)] = (comm, int(fields[11]) + int(fields[12]))
    return out


def busy_sample(seconds=1.0):
    """(cores busy over the interval, [(comm, cores)] of the top consumers)."""
    hz = os.sysconf("SC_CLK_TCK")
    b0, t0 = cpu_times()
    p0 = proc_ticks()
    time.sleep(seconds)
    b1, t1 = cpu_times()
    p1 = proc_ticks()
    ncpu = os.cpu_count() or 1
    busy = (b1 - b0) / max(1, t1 - t0) * ncpu
    per = {}
    for pid, (comm, ticks) in p1.items():
        if pid in p0 and p0[pid][0] == comm:
            d = ticks - p0[pid][1]
            if d > 0:
                per[comm] = per.get(comm, 0) + d / hz / seconds
    top = sorted(per.items(), key=lambda kv: -kv[1])[:5]
    return busy, [(c, round(v, 2)) for c, v in top]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cmd_env(out):
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    busy, top = busy_sample()
    env = {
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "nproc": int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or 0),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "loadavg": [float(x) for x in load],
        "busy_cores_1s": round(busy, 2),
        "top_cpu_1s": top,
    }
    with open(out, "w") as f:
        json.dump(env, f, indent=1)
    print(f"{env['time']}: load {' '.join(load)}, {busy:.2f} of {env['nproc']} cores busy; top: "
          + ", ".join(f"{c} {v}" for c, v in top))


def cmd_wait_idle(max_seconds, max_busy):
    deadline = time.time() + max_seconds
    while True:
        busy, top = busy_sample(2.0)
        if busy < max_busy:
            print(f"quiet enough: {busy:.2f} cores busy (< {max_busy})")
            return
        if time.time() >= deadline:
            print(f"still busy after {max_seconds:.0f} s ({busy:.2f} cores: "
                  + ", ".join(f"{c} {v}" for c, v in top) + "); measuring anyway, see the load in the results")
            return
        print(f"waiting for a quieter machine: {busy:.2f} cores busy ("
              + ", ".join(f"{c} {v}" for c, v in top) + ")", flush=True)
        time.sleep(3)


def tree_ticks(pid):
    """CPU ticks of `pid` and its waited-for descendants (utime + stime + cutime + cstime)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return sum(int(x) for x in fields[11:15])


def cmd_mark(d, label, warmup=0):
    own = tree_ticks(os.getppid())  # run.sh's shell: hyperfine and everything it ran, once waited for
    busy, total = cpu_times()
    with open("/proc/loadavg") as f:
        load1 = float(f.read().split()[0])
    with open(os.path.join(d, "load.jsonl"), "a") as f:
        f.write(json.dumps({"label": label, "t": time.time(), "load1": load1, "busy": busy, "total": total, "own": own, "warmup": warmup}) + "\n")


def read_marks(d):
    """Marks by label (the last of each, i.e. the kept attempt) and how many attempts each group had."""
    marks, attempts = {}, collections.Counter()
    path = os.path.join(d, "load.jsonl")
    if os.path.exists(path):
        for line in open(path):
            m = json.loads(line)
            marks[m["label"]] = m
            if m["label"].endswith(":start"):
                attempts[m["label"][:-6]] += 1
    return marks, attempts


def other_work(d, label):
    """(wall s, busy cores, benchmark cores, other cores, load1 at start, load1 at end) for one group.
    The benchmark's cores are run.sh's own CPU and its waited-for children's (hyperfine and the timed
    commands) between the marks; the rest of the busy time is other work on the machine."""
    marks, _ = read_marks(d)
    a, b = marks[label + ":start"], marks[label + ":end"]
    wall = b["t"] - a["t"]
    ncpu = os.cpu_count() or 1
    busy = (b["busy"] - a["busy"]) / max(1, b["total"] - a["total"]) * ncpu
    own = (b["own"] - a["own"]) / os.sysconf("SC_CLK_TCK") / wall if wall > 0 else 0.0
    return wall, busy, own, max(0.0, busy - own), a["load1"], b["load1"]


def cmd_other(d, label, max_other):
    wall, busy, own, other, l0, l1 = other_work(d, label)
    print(f"{label}: {wall:.1f} s, {busy:.2f} cores busy, benchmark {own:.2f}, other work {other:.2f} (limit {max_other})")
    return 0 if other <= max_other else 1


class Result:
    def __init__(self, name):
        self.name = name
        self.times = []
        self.user = []
        self.system = []

    def add(self, r):
        n = len(r["times"])
        self.times += r["times"]
        self.user += [r["user"]] * n
        self.system += [r["system"]] * n

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def min(self):
        return min(self.times)

    @property
    def mean(self):
        return statistics.fmean(self.times)

    @property
    def stdev(self):
        return statistics.stdev(self.times) if len(self.times) > 1 else 0.0

    @property
    def cpu(self):
        return statistics.fmean(self.user) + statistics.fmean(self.system)


def per_round(d):
    """{round: {command: median s}} from DIR/hf-GROUP-rROUND.json."""
    out = {}
    for path in glob.glob(os.path.join(d, "hf-*-r*.json")):
        rnd = int(path.rsplit("-r", 1)[1][:-5])
        with open(path) as f:
            for r in json.load(f)["results"]:
                out.setdefault(rnd, {})[r["command"]] = statistics.median(r["times"])
    return out


def load_results(d):
    """Results by command name (hyperfine exports --command-name as "command"), merged over rounds."""
    results = {}
    for path in sorted(glob.glob(os.path.join(d, "hf-*.json"))):
        with open(path) as f:
            for r in json.load(f)["results"]:
                results.setdefault(r["command"], Result(r["command"])).add(r)
    return results


def load_commands(d):
    """The command line of each name, as run.sh gave it to hyperfine."""
    out = {}
    with open(os.path.join(d, "commands.tsv")) as f:
        for line in f:
            name, cmd = line.rstrip("\n").split("\t", 1)
            out[name] = cmd
    return out


def fmt_ratio(x):
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


def check(value, op, threshold):
    return {">=": value >= threshold, ">": value > threshold, "<=": value <= threshold}[op]


def cmd_report(d, out_md):
    results = load_results(d)
    commands = load_commands(d)
    env0 = json.load(open(os.path.join(d, "env-start.json")))
    env1 = json.load(open(os.path.join(d, "env-end.json")))
    meta = json.load(open(os.path.join(d, "meta.json")))
    groups = []
    for path in sorted(glob.glob(os.path.join(d, "hf-*.json")), key=os.path.getmtime):
        label = os.path.basename(path)[3:-5]
        try:
            groups.append((label,) + other_work(d, label))
        except KeyError:
            pass
    lines = []
    w = lines.append
    w("# prelaunch benchmark results\n")
    dirty = f"; modified: {meta['dirty']}" if meta.get("dirty") else ""
    w(f"Generated by `bench/run.sh` on {env0['time']} (commit `{meta['commit']}`{dirty}).")
    w("Ratios are peer time / prelaunch time from hyperfine (wall clock, whole process: exec, I/O, hashing, exit);")
    w("the verdict uses the median over all runs. Absolute times are machine-specific; only the ratios carry over.\n")
    w("## Machine and load\n")
    w(f"- CPU: {env0['cpu_model']}, nproc {env0['nproc']}, kernel {env0['kernel']}")
    w(f"- load average (1/5/15 min) at start: {' '.join(f'{x:.2f}' for x in env0['loadavg'])}; at end: "
      f"{' '.join(f'{x:.2f}' for x in env1['loadavg'])}")
    w(f"- other work at start: {env0['busy_cores_1s']:.2f} cores busy over 1 s ("
      + ", ".join(f"{c} {v}" for c, v in env0["top_cpu_1s"]) + f"); at end: {env1['busy_cores_1s']:.2f} ("
      + ", ".join(f"{c} {v}" for c, v in env1["top_cpu_1s"]) + ")")
    if groups:
        others = [g[4] for g in groups]
        loads = [g[5] for g in groups] + [g[6] for g in groups]
        w(f"- other work while timing (busy cores minus the benchmark's own CPU, per hyperfine group): median "
          f"{statistics.median(others):.2f}, max {max(others):.2f} cores of {env0['nproc']}; 1-min load average "
          f"{min(loads):.2f}..{max(loads):.2f} (the benchmark itself adds about 1); per group below")
    if "prelaunch_linkage" in meta:
        w(f"- binaries: prelaunch {meta['prelaunch_linkage']}ally linked, the sev crate program {meta['sev_crate_linkage']}ally linked "
          "(both built with the cargo configuration of this checkout)")
    w(f"- tools: {meta['hyperfine']}, sev-snp-measure {meta['sev_snp_measure']}, {meta['sha384sum']}, {meta['rustc']}")
    w(f"- inputs: SNP `{meta['snp_firmware']}` ({meta['snp_firmware_size']} bytes), `--vcpus {meta['vcpus']} --vcpu-type "
      f"{meta['vcpu_type']}`; TDX `{meta['tdx_firmware']}` ({meta['tdx_firmware_size']} bytes)")
    passes_path = os.path.join(d, "passes.txt")
    if os.path.exists(passes_path) and open(passes_path).read().strip() not in ("", "1"):
        w(f"- timing passes: {open(passes_path).read().strip()} (earlier passes were discarded because the machine's speed drifted)")
    w(f"- runs: {meta['rounds']} rounds (command order reversed every other round) x {meta['runs']} runs after "
      f"{meta['warmup']} warmups for the native commands; {meta['rounds']} x {meta['py_runs']} for sev-snp-measure\n")

    w("## Digests checked before timing\n")
    for line in meta["agreement"]:
        w(f"- {line}")
    w("")

    w("## Targets\n")
    rounds = per_round(d)
    w("Ratio of medians over all runs (the verdict), of minimums and of means, and the range of the per-round ratios")
    w("(each round's two medians, taken a second or two apart), which shows how much the machine drifted.\n")
    w("| target | ratio (median) | min | mean | per-round range | goal | verdict |")
    w("|---|---:|---:|---:|---:|---:|---|")
    missed = []
    for label, num, den, op, thr, prof in TARGETS:
        if num not in results or den not in results:
            w(f"| {label} | - | - | - | - | {op} {thr:g}x | NOT MEASURED |")
            missed.append(prof)
            continue
        a, b = results[num], results[den]
        med, mn, mean = a.median / b.median, a.min / b.min, a.mean / b.mean
        ok = check(med, op, thr)
        noisy = ok != check(mn, op, thr)
        verdict = ("met" if ok else "**MISSED**") + (" (min disagrees: noise-sensitive)" if noisy else "")
        if not ok:
            missed.append(prof)
        rr = sorted(v[num] / v[den] for v in rounds.values() if num in v and den in v)
        span = f"{fmt_ratio(rr[0])}..{fmt_ratio(rr[-1])}" if rr else "-"
        w(f"| {label} | {fmt_ratio(med)} | {fmt_ratio(mn)} | {fmt_ratio(mean)} | {span} | {op} {thr:g}x | {verdict} |")
    w("")
    drift = sorted(((r.median / r.min, n) for n, r in results.items()), reverse=True)
    drifted = bool(drift) and drift[0][0] > DRIFT_LIMIT
    with open(os.path.join(d, "drift.txt"), "w") as f:
        f.write(f"{drift[0][0]:.3f} {drift[0][1]}\n" if drifted else "")
    if drifted:
        w(f"**The machine drifted during this run**: " + ", ".join(f"{n} ran at median {x:.2f}x its best" for x, n in drift[:3] if x > DRIFT_LIMIT)
          + f" (over {DRIFT_LIMIT}x). Single-threaded and parallel commands slow down differently when the host is busy, so "
          "these ratios can be off by that much; rerun, and compare several runs.\n")
    else:
        w(f"Drift check: every command's median is within {DRIFT_LIMIT}x of its best run (largest: {drift[0][1]}, {drift[0][0]:.2f}x).\n")

    w("## Every command\n")
    w("CPU is user + system time per run (all threads); CPU/wall above 1 means more than one core was used.\n")
    w("| command | runs | median ms | min ms | median/min | mean ± sd ms | CPU ms | CPU/wall | median vs prelaunch snp 64 |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    ref = results.get(PRELAUNCH_SNP)
    order = [PRELAUNCH_SNP, SEV_CRATE, SEV_SNP_MEASURE, SHA_SNP, SINGLE_512, TABLE, PRELAUNCH_TDX, SHA_TDX, FLOOR_PRELAUNCH, FLOOR_SHA]
    for name in order + sorted(set(results) - set(order)):
        r = results.get(name)
        if r is None:
            continue
        rel = fmt_ratio(r.median / ref.median) if ref else "-"
        w(f"| {name} | {len(r.times)} | {r.median * 1e3:.2f} | {r.min * 1e3:.2f} | {r.median / r.min:.2f} | {r.mean * 1e3:.2f} ± {r.stdev * 1e3:.2f} | "
          f"{r.cpu * 1e3:.2f} | {r.cpu / r.mean:.2f} | {rel} |")
    w("")
    if FLOOR_PRELAUNCH in results and FLOOR_SHA in results:
        fp, fs = results[FLOOR_PRELAUNCH].median, results[FLOOR_SHA].median
        w("Process floors (`prelaunch --version`, `sha384sum /dev/null`): exec, dynamic linking and exit with no work. "
          f"Above its floor, prelaunch snp 64 takes {(results[PRELAUNCH_SNP].median - fp) * 1e3:.2f} ms and sha384sum of the same "
          f"image {(results[SHA_SNP].median - fs) * 1e3:.2f} ms (ratio {fmt_ratio((results[SHA_SNP].median - fs) / (results[PRELAUNCH_SNP].median - fp))});"
          if PRELAUNCH_SNP in results and SHA_SNP in results else "")
        if PRELAUNCH_TDX in results and SHA_TDX in results:
            w(f"prelaunch tdx takes {(results[PRELAUNCH_TDX].median - fp) * 1e3:.2f} ms above its floor and sha384sum of bookworm "
              f"{(results[SHA_TDX].median - fs) * 1e3:.2f} ms (ratio {fmt_ratio((results[SHA_TDX].median - fs) / (results[PRELAUNCH_TDX].median - fp))}). "
              f"The floors differ by {fmt_ratio(fp / fs)} ({(fp - fs) * 1e3:.2f} ms).")
        w("")

    if groups:
        w("## Load per hyperfine group\n")
        w("A group is retried (up to `ATTEMPTS` times, after waiting for a quieter machine) when other work used more "
          "than `MAX_OTHER` cores while it ran; the last attempt is kept.\n")
        w("| group | attempts | wall s | busy cores | benchmark cores | other work cores | load1 start/end |")
        w("|---|---:|---:|---:|---:|---:|---|")
        _, attempts = read_marks(d)
        for label, wall, busy, own, other, l0, l1 in groups:
            n = attempts[label]
            w(f"| {label} | {n} | {wall:.1f} | {busy:.2f} | {own:.2f} | {other:.2f} | {l0:.2f}/{l1:.2f} |")
        w("")

    text = "\n".join(lines)
    with open(out_md, "w") as f:
        f.write(text)
    print(text)
    seen = []
    with open(os.path.join(d, "missed.txt"), "w") as f:
        for name in missed:
            if name in results and name not in seen:
                seen.append(name)
                f.write(f"{name}\t{commands[name]}\n")
    if missed:
        print(f"\n{len(missed)} target(s) missed", file=sys.stderr)
        return 1
    print("\nall targets met", file=sys.stderr)
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "env":
        cmd_env(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "wait-idle":
        cmd_wait_idle(float(sys.argv[2]), float(sys.argv[3]))
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "mark":
        cmd_mark(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else 0)
    elif len(sys.argv) == 5 and sys.argv[1] == "other":
        sys.exit(cmd_other(sys.argv[2], sys.argv[3], float(sys.argv[4])))
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        sys.exit(cmd_report(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
