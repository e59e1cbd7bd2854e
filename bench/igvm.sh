#!/usr/bin/env bash
# IGVM measurement beside measure --ovmf and igvmmeasure, on the same firmware, in the same run.
#
#   bench/igvm.sh PRELAUNCH_BINARY [IGVMMEASURE_BINARY]
#
# Wraps trixie_OVMF_CODE_4M.fd (3.5 MiB; the IGVM file is 4 MiB) with igvm-wrap (virtfw-igvm-tools
# 0.2.6 from crates.io, on PATH or PRELAUNCH_IGVM_WRAP), then times with hyperfine, interleaved:
#   igvm    prelaunch measure --igvm W.igvm --mode snp --vcpus 1 --vcpu-type EPYC-v4 (QEMU's loader)
#   ovmf    prelaunch measure --ovmf FIRMWARE, same arguments
#   peer    igvmmeasure --native-zero W.igvm measure --bare (coconut-svsm tools/igvmmeasure; a
#           GitHub-only tool: build it yourself outside the repository and pass its path)
# Targets: igvm/ovmf <= 1.2; peer/igvm >= 10. Prints medians and ratios.
#
# Environment: PRELAUNCH_FIRMWARE_DIR, RUNS (10), WARMUP (3), ROUNDS (4).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
fw=$(realpath "${PRELAUNCH_FIRMWARE_DIR:-$root/../shared/firmware}/trixie_OVMF_CODE_4M.fd")
bin=$(realpath "${1:?usage: bench/igvm.sh PRELAUNCH_BINARY [IGVMMEASURE_BINARY]}")
peer=${2:-}
wrap=${PRELAUNCH_IGVM_WRAP:-$(command -v igvm-wrap)} || { echo "bench/igvm.sh: igvm-wrap not found" >&2; exit 2; }
RUNS=${RUNS:-10} WARMUP=${WARMUP:-3} ROUNDS=${ROUNDS:-4}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$wrap" --snp -i "$fw" -o "$tmp/w.igvm" >/dev/null
args="--mode snp --vcpus 1 --vcpu-type EPYC-v4"
names=(igvm ovmf) cmds=("$bin measure --igvm $tmp/w.igvm $args" "$bin measure --ovmf $fw $args")
if [ -n "$peer" ]; then names+=(peer); cmds+=("$(realpath "$peer") --native-zero $tmp/w.igvm measure --bare"); fi
for i in "${!names[@]}"; do echo "${names[$i]}: $(${cmds[$i]} | tail -1)"; done
: > "$tmp/times"
for r in $(seq "$ROUNDS"); do
    order=("${!names[@]}"); [ $((r % 2)) -eq 0 ] && order=($(printf '%s\n' "${order[@]}" | tac))
    for i in "${order[@]}"; do
        hyperfine -N --style none -w "$WARMUP" -r "$RUNS" --export-json "$tmp/h.json" "${cmds[$i]}" >/dev/null
        python3 -c 'import json,sys; print(sys.argv[1], *json.load(open(sys.argv[2]))["results"][0]["times"])' "${names[$i]}" "$tmp/h.json" >> "$tmp/times"
    done
done
python3 - "$tmp/times" <<'EOF'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    name, *v = line.split()
    t.setdefault(name, []).extend(float(x) for x in v)
m = {k: statistics.median(v) for k, v in t.items()}
for k, v in m.items():
    print(f"{k:5} median {v * 1000:8.2f} ms over {len(t[k])} runs")
print(f"igvm / ovmf = {m['igvm'] / m['ovmf']:.2f} (target <= 1.2)")
if 'peer' in m:
    print(f"igvmmeasure / igvm = {m['peer'] / m['igvm']:.1f}x (target >= 10)")
EOF
