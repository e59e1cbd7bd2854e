#!/usr/bin/env bash
# prelaunch beside its peers on the same inputs, on the same machine, in the same run.
#
#   bench/run.sh [--quick] [--wait-idle SECONDS] [--no-profile]
#
# Builds prelaunch (cargo build --release -p prelaunch) and the sev crate 8.0.0 peer (bench/sev-crate,
# into bench/sev-crate/target), checks that prelaunch, sev-snp-measure and the sev crate agree on the
# digest, then times with hyperfine:
#   snp    prelaunch, the sev crate program, sha384sum of the image   (trixie_OVMF_CODE_4M.fd, 64 vCPUs)
#   py     sev-snp-measure (fewer runs: ~60 ms each)
#   table  prelaunch --vcpus 1-512 vs --vcpus 512
#   tdx    prelaunch --mode tdx vs sha384sum of the image             (bookworm_OVMF.fd)
#   floor  prelaunch --version, sha384sum /dev/null                   (process start and exit only)
# in ROUNDS rounds (command order reversed every other round, so slow drifts in the machine's load hit
# every command alike), then bench/report.py writes bench/results/latest.md with ratios and verdicts.
# If a target is missed and perf works, bench/profile.py appends where the missing command's time goes.
#
# Exit status: 0 all targets met, 1 a target missed (results still written), 2 setup failure.
#
# A group during which other work used more than MAX_OTHER cores (busy cores minus the CPU of this
# script's process tree) is retried, after waiting up to --wait-idle seconds for a quieter machine, up to ATTEMPTS times.
#
# Environment: PRELAUNCH_FIRMWARE_DIR (default ../shared/firmware beside the checkout), CARGO_TARGET_DIR
# (respected for the workspace build), RUNS (6), PY_RUNS (2), WARMUP (2), ROUNDS (10), ATTEMPTS (3),
# MAX_OTHER (0.5), WAIT_IDLE (120; also --wait-idle), DRIFT_RETRIES (2: when a command's median is over
# 1.25x its best run, the machine's speed changed under the benchmark, and the timing is redone).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
root=$(dirname "$here")
fw_dir=${PRELAUNCH_FIRMWARE_DIR:-$root/../shared/firmware}
snp_fw=$fw_dir/trixie_OVMF_CODE_4M.fd
tdx_fw=$fw_dir/bookworm_OVMF.fd
vcpus=64
vcpu_type=EPYC-v4
RUNS=${RUNS:-6}
PY_RUNS=${PY_RUNS:-2}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-10}
ATTEMPTS=${ATTEMPTS:-3}
MAX_OTHER=${MAX_OTHER:-0.5}
WAIT_IDLE=${WAIT_IDLE:-120}
DRIFT_RETRIES=${DRIFT_RETRIES:-2}
profile=1

die() { echo "bench/run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        --quick) RUNS=5 PY_RUNS=2 WARMUP=2 ROUNDS=1 ATTEMPTS=1 WAIT_IDLE=0 DRIFT_RETRIES=0 ;;
        --wait-idle) WAIT_IDLE=${2:?--wait-idle needs seconds}; shift ;;
        --no-profile) profile=0 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

# --- tools ---------------------------------------------------------------------------------------
if ! command -v hyperfine >/dev/null; then
    echo "hyperfine is missing; installing it with apt-get" >&2
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y hyperfine >&2 || { apt-get update >&2 && apt-get install -y hyperfine >&2; } \
            || die "could not install hyperfine; install it (apt-get install hyperfine, or cargo install hyperfine) and rerun"
    else
        die "hyperfine is not installed and this is not root with apt-get: install it (apt-get install hyperfine, or cargo install hyperfine)"
    fi
fi
for tool in cargo python3 sha384sum git; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
command -v sev-snp-measure >/dev/null \
    || die "sev-snp-measure is not on PATH: pip install sev-snp-measure==0.0.13 cryptography"
# A pyenv shim is a bash script that re-resolves the interpreter on every call (~70 ms here): time the
# installed entry point itself, as a user with a plain virtualenv or distro package would run it.
py_measure=$(command -v sev-snp-measure)
if [[ $py_measure == */shims/* ]] && command -v pyenv >/dev/null; then
    py_measure=$(pyenv which sev-snp-measure)
fi
[ -f "$snp_fw" ] || die "missing $snp_fw (set PRELAUNCH_FIRMWARE_DIR)"
[ -f "$tdx_fw" ] || die "missing $tdx_fw (set PRELAUNCH_FIRMWARE_DIR)"
snp_fw=$(realpath "$snp_fw")
tdx_fw=$(realpath "$tdx_fw")

# --- build ---------------------------------------------------------------------------------------
# Each from its own directory, so the cargo configuration that applies there (the workspace's: a static
# binary for a named target) applies to the build the script times, whatever the caller's directory.
echo "== building prelaunch (cargo build --release -p prelaunch)" >&2
prelaunch=$(cargo_exe "$root" --release -p prelaunch) || die "cargo build --release -p prelaunch failed"
echo "== building the sev crate peer (release, bench/sev-crate/target)" >&2
sev_crate=$(CARGO_TARGET_DIR="$here/sev-crate/target" cargo_exe "$here/sev-crate" --release --locked) \
    || die "building bench/sev-crate failed"
echo "prelaunch: $prelaunch" >&2
echo "sev crate: $sev_crate" >&2

out=$here/results/latest
rm -rf "$out"
mkdir -p "$out"

# --- the digests must agree before anything is timed -----------------------------------------------
snp_args=(measure --mode snp --vcpus "$vcpus" --vcpu-type "$vcpu_type" --ovmf "$snp_fw")
d_prelaunch=$("$prelaunch" "${snp_args[@]}")
d_python=$("$py_measure" --mode snp --vcpus "$vcpus" --vcpu-type "$vcpu_type" --ovmf "$snp_fw")
d_crate=$("$sev_crate" "$snp_fw" "$vcpus" "$vcpu_type")
echo "prelaunch        $d_prelaunch"
echo "sev-snp-measure  $d_python"
echo "sev crate 8.0.0  $d_crate"
if [ "$d_prelaunch" != "$d_python" ] || [ "$d_prelaunch" != "$d_crate" ]; then
    die "the SNP digests disagree (QEMU, $vcpus x $vcpu_type, $(basename "$snp_fw")): not timing"
fi
table=$("$prelaunch" measure --mode snp --vcpus 1-512 --vcpu-type "$vcpu_type" --ovmf "$snp_fw")
single_512=$("$prelaunch" measure --mode snp --vcpus 512 --vcpu-type "$vcpu_type" --ovmf "$snp_fw")
rows=$(printf '%s\n' "$table" | wc -l)
row_64=$(printf '%s\n' "$table" | awk -F'\t' '$1 == 64 {print $2}')
row_512=$(printf '%s\n' "$table" | awk -F'\t' '$1 == 512 {print $2}')
[ "$rows" = 512 ] && [ "$row_64" = "$d_prelaunch" ] && [ "$row_512" = "$single_512" ] \
    || die "the vCPU table disagrees with single digests (rows $rows, row 64 $row_64, row 512 $row_512 vs $single_512)"
d_tdx=$("$prelaunch" measure --mode tdx --ovmf "$tdx_fw")
echo "SNP digests agree; vCPU table rows 64 and 512 equal the single digests; TDX MRTD $d_tdx"

# --- what was measured, on what --------------------------------------------------------------------
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty_files=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | awk '{print $NF}' | paste -sd' ' -)
python3 - "$out/meta.json" <<EOF
import json, os, sys
json.dump({
    "commit": "$commit", "dirty": "$dirty_files",
    "prelaunch_binary": "$prelaunch", "prelaunch_linkage": "$(ldd "$prelaunch" 2>&1 | grep -q "=>" && echo dynamic || echo static)",
    "sev_crate_linkage": "$(ldd "$sev_crate" 2>&1 | grep -q "=>" && echo dynamic || echo static)",
    "hyperfine": "$(hyperfine --version)", "sev_snp_measure": "$(pip show sev-snp-measure 2>/dev/null | awk '/^Version/ {print $2}') ($py_measure)",
    "sha384sum": "$(sha384sum --version | head -1)", "rustc": "$(rustc --version)",
    "snp_firmware": "$(basename "$snp_fw")", "snp_firmware_size": os.path.getsize("$snp_fw"),
    "tdx_firmware": "$(basename "$tdx_fw")", "tdx_firmware_size": os.path.getsize("$tdx_fw"),
    "vcpus": $vcpus, "vcpu_type": "$vcpu_type",
    "runs": $RUNS, "py_runs": $PY_RUNS, "warmup": $WARMUP, "rounds": $ROUNDS,
    "agreement": [
        "SNP ($vcpus x $vcpu_type, QEMU, $(basename "$snp_fw")): prelaunch, sev-snp-measure and the sev crate 8.0.0 program all give $d_prelaunch",
        "vCPU table 1-512: 512 rows; row 64 equals the digest above, row 512 equals \`--vcpus 512\` ($single_512)",
        "TDX MRTD ($(basename "$tdx_fw"), default page order and PAGE_AUG policy): $d_tdx (no peer timed here)",
    ],
}, open(sys.argv[1], "w"), indent=1)
EOF

# --- timing ----------------------------------------------------------------------------------------
declare -A cmd
cmd["prelaunch snp 64"]="$prelaunch ${snp_args[*]}"
cmd["sev crate snp 64"]="$sev_crate $snp_fw $vcpus $vcpu_type"
cmd["sha384sum (trixie 4M)"]="sha384sum $snp_fw"
cmd["sev-snp-measure snp 64"]="$py_measure --mode snp --vcpus $vcpus --vcpu-type $vcpu_type --ovmf $snp_fw"
cmd["prelaunch table 1-512"]="$prelaunch measure --mode snp --vcpus 1-512 --vcpu-type $vcpu_type --ovmf $snp_fw"
cmd["prelaunch single 512"]="$prelaunch measure --mode snp --vcpus 512 --vcpu-type $vcpu_type --ovmf $snp_fw"
cmd["prelaunch tdx"]="$prelaunch measure --mode tdx --ovmf $tdx_fw"
cmd["sha384sum (bookworm 2M)"]="sha384sum $tdx_fw"
cmd["prelaunch --version"]="$prelaunch --version"
cmd["sha384sum /dev/null"]="sha384sum /dev/null"
for name in "${!cmd[@]}"; do printf '%s\t%s\n' "$name" "${cmd[$name]}"; done >"$out/commands.tsv"
case "$snp_fw$tdx_fw$prelaunch$sev_crate" in *' '*) die "paths with spaces are not supported (hyperfine -N splits words)" ;; esac

group() { # group LABEL ROUND RUNS WARMUP NAME...
    local label=$1 round=$2 runs=$3 warmup=$4 name pairs=()
    shift 4
    for name in "$@"; do pairs+=("$name" "${cmd[$name]}"); done
    hf_group "$out" "$label" "$round" "$runs" "$warmup" "${pairs[@]}"
}

if [ "$WAIT_IDLE" != 0 ]; then
    python3 "$here/report.py" wait-idle "$WAIT_IDLE" "$MAX_OTHER"
fi
for ((pass = 1; ; pass++)); do
    rm -f "$out"/hf-*.json "$out/load.jsonl"
    python3 "$here/report.py" env "$out/env-start.json"
    for ((r = 1; r <= ROUNDS; r++)); do
        group snp "$r" "$RUNS" "$WARMUP" "prelaunch snp 64" "sev crate snp 64" "sha384sum (trixie 4M)"
        group table "$r" "$RUNS" "$WARMUP" "prelaunch table 1-512" "prelaunch single 512"
        group tdx "$r" "$RUNS" "$WARMUP" "prelaunch tdx" "sha384sum (bookworm 2M)"
        group floor "$r" "$RUNS" "$WARMUP" "prelaunch --version" "sha384sum /dev/null"
        group py "$r" "$PY_RUNS" 1 "sev-snp-measure snp 64"
    done
    python3 "$here/report.py" env "$out/env-end.json"
    python3 "$here/report.py" report "$out" "$here/results/latest.md" >/dev/null 2>&1 || true
    if [ ! -s "$out/drift.txt" ] || [ "$pass" -gt "$DRIFT_RETRIES" ]; then
        break
    fi
    echo "== the machine's speed drifted during pass $pass ($(cat "$out/drift.txt")x its best): measuring again" >&2
    python3 "$here/report.py" wait-idle "$WAIT_IDLE" "$MAX_OTHER"
done
echo "$pass" >"$out/passes.txt"

# --- report ----------------------------------------------------------------------------------------
status=0
python3 "$here/report.py" report "$out" "$here/results/latest.md" || status=$?
[ "$status" -le 1 ] || die "report.py failed ($status)"

if [ "$status" = 1 ] && [ "$profile" = 1 ]; then
    if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
        {
            echo
            echo "## Where the time goes (targets missed)"
            echo
            echo "bench/profile.py on each prelaunch command of a missed target: perf stat for the CPU total, perf record"
            echo "(task-clock, DWARF stacks) for each phase's share of it."
            echo
        } >>"$here/results/latest.md"
        while IFS=$'\t' read -r name line; do
            echo "== profiling $name" >&2
            # shellcheck disable=SC2086 # the command is a word list by construction
            python3 "$here/profile.py" --runs 10 --title "$name" -- $line >>"$here/results/latest.md" \
                || echo "(profiling $name failed)" >>"$here/results/latest.md"
        done <"$out/missed.txt"
        # The profile of sha384sum of the same bytes, for the comparison.
        if grep -q "^prelaunch snp 64" "$out/missed.txt"; then
            python3 "$here/profile.py" --runs 10 --title "sha384sum (trixie 4M)" -- sha384sum "$snp_fw" >>"$here/results/latest.md" || true
        fi
        if grep -q "^prelaunch tdx" "$out/missed.txt"; then
            python3 "$here/profile.py" --runs 10 --title "sha384sum (bookworm 2M)" -- sha384sum "$tdx_fw" >>"$here/results/latest.md" || true
        fi
        echo "profiles appended to bench/results/latest.md" >&2
    else
        echo "perf is not usable here: no profile (install linux-perf, or lower kernel.perf_event_paranoid)" >&2
    fi
fi
exit "$status"
