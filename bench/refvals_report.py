#!/usr/bin/env python3
"""Summarises bench/refvals.sh's hyperfine runs as ratios (per round and median over rounds)."""
import glob
import json
import os
import statistics
import subprocess
import sys

out, binary, load = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = []
for f in sorted(glob.glob(os.path.join(out, "hf-r*.json"))):
    r = {x["command"]: x for x in json.load(open(f))["results"]}
    py = {x["command"]: x for x in json.load(open(f.replace("hf-", "py-")))["results"]}
    rounds.append({k: statistics.median(v["times"]) for k, v in {**r, **py}.items()})


def ratio(a, b):
    return [x[a] / x[b] for x in rounds]


def fmt(rs):
    return f"{statistics.median(rs):.2f}x ({min(rs):.2f}x..{max(rs):.2f}x)"


med = {k: statistics.median(x[k] for x in rounds) for k in rounds[0]}
m, mo, one, py = ratio("matrix", "one"), ratio("matrix-out", "one"), None, None
loop = [x["py"] * 1536 / x["matrix"] for x in rounds]
version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
print(f"""# reference-values: the 1,536-entry SNP matrix vs one digest vs sev-snp-measure

`bench/refvals.sh` ({len(rounds)} rounds, order alternating; {version}; load at the end: {load}).
Firmware: trixie `OVMF_CODE_4M.fd` (3.5 MiB). Matrix: `--vcpus 1-512 --vcpu-type
EPYC-Milan,EPYC-Genoa,EPYC-Turin --format corim` (1,536 entries with their shapes and input SHA-256s).
One digest: `measure --mode snp --vcpus 512 --vcpu-type EPYC-Milan`. All three tools agreed on the
23-vCPU EPYC-Genoa digest before timing.

| command | median wall time |
|---|---|
| matrix as CoRIM, to stdout | {med['matrix'] * 1e3:.1f} ms |
| matrix as CoRIM, `--out FILE` (atomic write, fsync'd by prelaunch-files) | {med['matrix-out'] * 1e3:.1f} ms |
| one `measure` digest | {med['one'] * 1e3:.1f} ms |
| one sev-snp-measure 0.0.13 digest | {med['py'] * 1e3:.1f} ms |
| sev-snp-measure x 1,536 (the same matrix as a loop) | {med['py'] * 1536:.1f} s |

| ratio (median over rounds, per-round range) | target | measured |
|---|---|---|
| matrix (stdout) / one digest | <= 1.5x | {fmt(m)} |
| matrix (`--out`) / one digest | | {fmt(mo)} |
| sev-snp-measure x 1,536 / matrix | | {fmt(loop)} |
""")
