#!/usr/bin/env bash
# Compare prelaunch builds (say, before and after a change) on the bench/run.sh inputs, interleaved.
#
#   bench/compare.sh [--out FILE.md] NAME=BINARY [NAME=BINARY...]
#
# For each build: `measure --mode snp --vcpus 64 --vcpu-type EPYC-v4` on trixie_OVMF_CODE_4M.fd and
# `measure --mode tdx` on bookworm_OVMF.fd, beside sha384sum of each image, in ROUNDS rounds (order
# reversed every other round; a group is retried when other work was busy, as in bench/run.sh). Every
# build must print the same digests. Prints (and with --out writes) medians and ratios to the first build.
#
# Environment: PRELAUNCH_FIRMWARE_DIR, RUNS (6), WARMUP (2), ROUNDS (8), ATTEMPTS, MAX_OTHER, WAIT_IDLE.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
fw_dir=${PRELAUNCH_FIRMWARE_DIR:-$root/../shared/firmware}
snp_fw=$(realpath "$fw_dir/trixie_OVMF_CODE_4M.fd")
tdx_fw=$(realpath "$fw_dir/bookworm_OVMF.fd")
RUNS=${RUNS:-6}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-8}

die() { echo "bench/compare.sh: $*" >&2; exit 2; }
out_md=
if [ "${1:-}" = --out ]; then out_md=${2:?--out needs a file}; shift 2; fi
[ $# -ge 1 ] || die "usage: bench/compare.sh [--out FILE.md] NAME=BINARY [NAME=BINARY...]"
case "$snp_fw$tdx_fw" in *' '*) die "paths with spaces are not supported" ;; esac

names=() bins=()
for arg in "$@"; do
    [[ $arg == *=* ]] || die "expected NAME=BINARY, got $arg"
    names+=("${arg%%=*}")
    bins+=("$(realpath "${arg#*=}")")
done

snp_args="measure --mode snp --vcpus 64 --vcpu-type EPYC-v4 --ovmf $snp_fw"
tdx_args="measure --mode tdx --ovmf $tdx_fw"
want_snp=$("${bins[0]}" $snp_args)
want_tdx=$("${bins[0]}" $tdx_args)
for i in "${!bins[@]}"; do
    [ "$("${bins[i]}" $snp_args)" = "$want_snp" ] || die "${names[i]} gives a different SNP digest"
    [ "$("${bins[i]}" $tdx_args)" = "$want_tdx" ] || die "${names[i]} gives a different MRTD"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
snp_pairs=() tdx_pairs=()
for i in "${!bins[@]}"; do
    snp_pairs+=("snp ${names[i]}" "${bins[i]} $snp_args")
    tdx_pairs+=("tdx ${names[i]}" "${bins[i]} $tdx_args")
done
python3 "$here/report.py" wait-idle "$WAIT_IDLE" "$MAX_OTHER" >&2
python3 "$here/report.py" env "$tmp/env.json" >&2
for ((r = 1; r <= ROUNDS; r++)); do
    hf_group "$tmp" snp "$r" "$RUNS" "$WARMUP" "${snp_pairs[@]}" "snp sha384sum" "sha384sum $snp_fw"
    hf_group "$tmp" tdx "$r" "$RUNS" "$WARMUP" "${tdx_pairs[@]}" "tdx sha384sum" "sha384sum $tdx_fw"
done

python3 - "$tmp" "${out_md:-/dev/null}" "${names[@]}" <<'EOF'
import glob, json, os, statistics, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv[0] != "-" else ".")
d, out, *names = sys.argv[1:]
times = {}
for p in glob.glob(f"{d}/hf-*.json"):
    for r in json.load(open(p))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
env = json.load(open(f"{d}/env.json"))
lines = [f"Compared on {env['time']} ({env['cpu_model']}, nproc {env['nproc']}), interleaved rounds; medians over all runs.\n",
         f"| mode | build | runs | median ms | min ms | vs {names[0]} | sha384sum of the image / build |",
         "|---|---|---:|---:|---:|---:|---:|"]
for mode in ("snp", "tdx"):
    base = statistics.median(times[f"{mode} {names[0]}"])
    sha = statistics.median(times[f"{mode} sha384sum"])
    for n in names:
        t = times[f"{mode} {n}"]
        m = statistics.median(t)
        lines.append(f"| {mode} | {n} | {len(t)} | {m * 1e3:.2f} | {min(t) * 1e3:.2f} | {base / m:.2f}x | {sha / m:.2f}x |")
text = "\n".join(lines)
print(text)
if out != "/dev/null":
    open(out, "w").write(text + "\n")
EOF
