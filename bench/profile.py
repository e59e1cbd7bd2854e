#!/usr/bin/env python3
"""Where one short command's time goes, by phase, from `perf stat` and `perf record`.

    bench/profile.py [--runs N] [--title TEXT] -- COMMAND [ARGS...]

Runs COMMAND N times under `perf stat` (wall time, task-clock, page faults, context switches), then
N times under `perf record -e task-clock --call-graph dwarf` (one recording per run, so only that
process is sampled), and sorts every sample into a phase by its call stack: exec and dynamic
linking, OpenSSL initialisation, OpenSSL per-call overhead (EVP_MD_fetch behind the one-shot
SHA384()), SHA-384 compression on the main thread (the serial chain / MRTD stream) and on rayon
workers (page contents), page faults on the mapped image, thread start and scheduling, exit, and the
rest. Prints a markdown section: CPU milliseconds per run for each phase. CPU time is summed over
threads, so phases on different cores can add up to more than the wall time.

Needs `perf` and permission to use it (perf_event_paranoid <= 1 or root). Stacks through OpenSSL's
assembly are not always unwound; samples whose leaf is an unnamed libcrypto address with no named
libcrypto caller are counted as SHA-512 compression (the only unnamed hot code in libcrypto here).
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

PERIOD_NS = 50_000  # one task-clock sample per 50 us of CPU

HASH_NAMED = ("SHA512_Update", "SHA512_Final", "SHA512_Transform", "SHA384_Update", "SHA384_Final", "sha512_block")
HASH_WRAPPERS = ("EVP_DigestUpdate", "EVP_DigestFinal_ex", "EVP_Digest")
EVP_OVERHEAD = (
    "EVP_Q_digest", "EVP_MD_fetch", "EVP_MD_free", "EVP_MD_CTX", "EVP_DigestInit", "OPENSSL_LH_", "OPENSSL_strcasecmp",
    "ossl_namemap", "CRYPTO_THREAD_", "OBJ_", "ERR_set_mark", "ERR_pop_to_mark", "EVP_MD_up_ref", "evp_",
    "CRYPTO_malloc", "CRYPTO_zalloc", "CRYPTO_free", "CRYPTO_clear_free", "OPENSSL_cleanse", "BIO_",
)
OPENSSL_INIT = ("OPENSSL_init_crypto", "CONF_modules_load", "ossl_provider", "OPENSSL_init_ssl", "ossl_lib_ctx", "ERR_load",
                "EVP_add_cipher", "EVP_add_digest", "OPENSSL_config", "NCONF_")

PHASES = [
    ("exec", "exec + dynamic linking (kernel execve, ld.so relocations, constructors)"),
    ("ossl_init", "OpenSSL 3 initialisation (openssl.cnf, providers, name tables)"),
    ("ossl_call", "OpenSSL per-call overhead (EVP_MD_fetch/free behind one-shot SHA384(), locks, malloc)"),
    ("hash_main", "SHA-384 compression, main thread (PAGE_INFO chain / MRTD stream / single-threaded hashing)"),
    ("hash_workers", "SHA-384 compression, rayon workers (page contents)"),
    ("fault_image", "page faults while hashing (first touch of the mapped or read image)"),
    ("fault_other", "page faults elsewhere (heap, stacks, binary)"),
    ("threads", "threads: rayon pool start, idle spinning, wake-ups, scheduler"),
    ("io", "open, mmap/read, munmap, write"),
    ("parse", "argument parsing, image parse, plan build (VMSAs)"),
    ("fold", "fold bookkeeping (non-hash)"),
    ("exit", "exit (OpenSSL cleanup, address-space teardown)"),
    ("other_kernel", "other kernel"),
    ("other_user", "other user code"),
]


def parse_script(text):
    """Samples from `perf script -F pid,tid,period,ip,sym,dso`: dicts with pid, tid, period, frames
    (leaf first; each (symbol, dso basename))."""
    samples, cur = [], None
    for line in text.splitlines():
        if not line.strip():
            if cur is not None:
                samples.append(cur)
                cur = None
            continue
        if cur is None:
            head = line.split()
            pid, tid = head[0].split("/") if "/" in head[0] else (head[0], head[1])
            cur = {"pid": int(pid), "tid": int(tid), "period": int(head[-1]), "frames": []}
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$", line)
        cur["frames"].append((m.group(1), m.group(2).rsplit("/", 1)[-1]) if m else (line.strip(), "?"))
    if cur is not None:
        samples.append(cur)
    return samples


def classify(frames, is_main):
    syms = [s for s, _ in frames]
    dsos = [d for _, d in frames]

    def has(*needles):
        return any(any(n in s for n in needles) for s in syms)

    if not frames:
        return "other_user"
    if has("do_exit", "do_group_exit", "exit_mmap", "OPENSSL_cleanup", "__run_exit_handlers", "_dl_fini"):
        return "exit"
    if has("execve", "load_elf_binary", "bprm_", "_dl_start", "_dl_relocate", "_dl_init", "__cpu_indicator_init", "_dl_map_object",
           "dl_main", "_dl_sysdep_start", "_dl_runtime_resolve", "_dl_fixup") or any(d.startswith("ld-linux") for d in dsos):
        return "exec"
    if has(*OPENSSL_INIT):
        return "ossl_init"

    user = [(s, d) for s, d in frames if not d.startswith("[kernel")]
    first_user = user[0] if user else ("", "")
    named_crypto = [s for s, d in user if d.startswith("libcrypto") and s != "[unknown]"]
    first_named = named_crypto[0] if named_crypto else None
    in_crypto_hash = first_user[1].startswith("libcrypto") and (
        any(first_user[0].startswith(h) for h in HASH_NAMED)
        or (first_user[0] == "[unknown]" and (first_named is None or first_named.startswith(HASH_NAMED + HASH_WRAPPERS)))
    )
    in_rust_hash = any(k in first_user[0] for k in ("sha2::", "sha512", "compress512", "soft::compress", "x86::compress", "mbhash",
                                                    "sha384_many"))
    # coreutils sha384sum is stripped and does nothing but hash: all of its own code counts as hashing.
    in_rust_hash = in_rust_hash or bool(re.fullmatch(r"sha\d+sum", first_user[1]))

    if has("asm_exc_page_fault"):
        return "fault_image" if (in_crypto_hash or in_rust_hash or "memmove" in first_user[0] or "memcpy" in first_user[0]) else "fault_other"
    if in_crypto_hash or in_rust_hash:
        return "hash_main" if is_main else "hash_workers"
    if has(*EVP_OVERHEAD) or (first_user[1].startswith("libcrypto")) or any(d.startswith("libcrypto") for d in dsos):
        return "ossl_call"
    if has("MappedFile", "memmap2", "do_mmap", "__x64_sys_mmap", "__x64_sys_munmap", "openat", "read_to_end", "ksys_read", "ksys_write",
           "__x64_sys_write", "File>::open", "fs::read"):
        return "io"
    if has("clap", "plan::", "vmsa", "Vmsa", "FirmwareImage", "image::", "LaunchArgs", "cpu::by_name", "descriptors"):
        return "parse"
    if has("rayon", "clone3", "thread_start", "Thread>::new", "futex", "sched_yield", "__schedule", "finish_task_switch", "start_thread",
           "available_parallelism", "wake_up"):
        return "threads"
    if has("digest::fold", "Gctx", "mrtd", "Mrtd", "vcpu_table"):
        return "fold"
    return "other_kernel" if frames[0][1].startswith("[kernel") else "other_user"


def perf_stat(cmd, runs):
    """perf stat counters per run (averaged over `runs`), by event name."""
    with tempfile.NamedTemporaryFile("r", suffix=".csv") as out:
        subprocess.run(["perf", "stat", "-x", ",", "-o", out.name, "-r", str(runs), "-e",
                        "task-clock,page-faults,context-switches,cpu-migrations", "--", *cmd],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        stats = {}
        for line in out.read().splitlines():
            parts = line.split(",")
            if len(parts) > 3 and not line.startswith("#"):
                try:
                    stats[parts[2]] = float(parts[0])
                except ValueError:
                    pass
    return stats


def wall_times(cmd, runs):
    import time
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times


def record(cmd, runs, tmp):
    samples = []
    for i in range(runs):
        data = os.path.join(tmp, f"perf-{i}.data")
        subprocess.run(["perf", "record", "-q", "-e", "task-clock", "-c", str(PERIOD_NS), "--call-graph", "dwarf,16384", "-o", data,
                        "--", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        script = subprocess.run(["perf", "script", "-i", data, "-F", "pid,tid,period,ip,sym,dso"], capture_output=True, text=True,
                                check=True).stdout
        run_samples = parse_script(script)
        main_pid = min((s["pid"] for s in run_samples), default=0)
        for s in run_samples:
            s["main"] = s["tid"] == main_pid
            s["run"] = i
        samples.extend(run_samples)
        os.unlink(data)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--title", default=None)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given")
    if not shutil.which("perf"):
        sys.exit("profile.py: perf is not installed (apt-get install linux-perf)")

    stats = perf_stat(cmd, a.runs)
    walls = wall_times(cmd, a.runs)
    with tempfile.TemporaryDirectory(prefix="prelaunch-profile-") as tmp:
        samples = record(cmd, a.runs, tmp)

    per_phase = collections.Counter()
    threads = collections.Counter()
    main_ns = worker_ns = 0
    for s in samples:
        ph = classify(s["frames"], s["main"])
        per_phase[ph] += s["period"]
        threads[(s["run"], s["tid"])] += 1
        if s["main"]:
            main_ns += s["period"]
        else:
            worker_ns += s["period"]
    total = sum(per_phase.values()) or 1
    # Sampling with DWARF stacks slows the process it samples; report each phase's share of the
    # unperturbed task-clock from perf stat rather than the inflated sampled milliseconds.
    sampled_ms = total / 1e6 / a.runs
    scale = stats["task-clock"] / sampled_ms if stats.get("task-clock") else 1.0
    ms = lambda ns: ns / 1e6 / a.runs * scale  # noqa: E731
    nthreads = len(threads) / a.runs

    title = a.title or " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))
    print(f"#### Profile: `{title}`\n")
    median_wall = walls[len(walls) // 2] * 1e3
    print(f"- wall: median {median_wall:.2f} ms, min {walls[0] * 1e3:.2f} ms ({a.runs} runs, Python-timed incl. fork/exec)")
    tc = stats.get("task-clock")
    if tc is not None:
        print(f"- perf stat: task-clock {tc:.2f} ms/run ({tc / median_wall:.2f} CPUs over the median wall), "
              f"page faults {stats.get('page-faults', 0):.0f}, context switches {stats.get('context-switches', 0):.0f}, "
              f"migrations {stats.get('cpu-migrations', 0):.0f}")
    print(f"- samples: {len(samples)} at {PERIOD_NS // 1000} us of task-clock ({sampled_ms:.2f} ms/run while sampled, scaled to perf "
          f"stat's task-clock below); main thread {ms(main_ns):.2f} ms, other threads {ms(worker_ns):.2f} ms; "
          f"{nthreads:.1f} threads sampled per run\n")
    print("| phase | CPU ms/run | share |")
    print("|---|---:|---:|")
    for key, label in PHASES:
        if per_phase[key]:
            print(f"| {label} | {ms(per_phase[key]):.2f} | {100 * per_phase[key] / total:.0f}% |")
    print()


if __name__ == "__main__":
    main()
