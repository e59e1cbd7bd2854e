#!/usr/bin/env bash
# The reference-value matrix beside one digest and beside sev-snp-measure, same firmware, same run.
#
#   bench/refvals.sh [--quick]
#
# Times with hyperfine, in ROUNDS rounds whose command order alternates (a drift in the machine's
# load hits every command alike):
#   matrix   prelaunch reference-values --vcpus 1-512 --vcpu-type EPYC-Milan,EPYC-Genoa,EPYC-Turin
#            --format corim (1,536 entries, stdout to /dev/null; and --out FILE, written atomically)
#   one      prelaunch measure --mode snp --vcpus 512 --vcpu-type EPYC-Milan (one digest)
#   py       sev-snp-measure, the same single digest (PY_RUNS runs): its per-run time x 1,536 is what
#            the same matrix costs scripted as a loop of sev-snp-measure runs
# on trixie_OVMF_CODE_4M.fd, checks first that all three agree on the 23-vCPU EPYC-Genoa digest, then
# bench/refvals_report.py writes bench/results/refvals.md with the ratios (target: matrix <= 1.5x one).
#
# Environment: PRELAUNCH_FIRMWARE_DIR (../shared/firmware), PRELAUNCH_BIN (default: build with
# `cargo build --release -p prelaunch`), RUNS (20), PY_RUNS (3), WARMUP (3), ROUNDS (5).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
fw=${PRELAUNCH_FIRMWARE_DIR:-$root/../shared/firmware}/trixie_OVMF_CODE_4M.fd
RUNS=${RUNS:-20} PY_RUNS=${PY_RUNS:-3} WARMUP=${WARMUP:-3} ROUNDS=${ROUNDS:-5}
[ "${1:-}" = --quick ] && { RUNS=5; PY_RUNS=1; WARMUP=1; ROUNDS=1; }
die() { echo "bench/refvals.sh: $*" >&2; exit 2; }
for t in hyperfine python3 sev-snp-measure; do command -v "$t" >/dev/null || die "$t is not installed"; done
[ -f "$fw" ] || die "$fw is missing (set PRELAUNCH_FIRMWARE_DIR)"
py=$(command -v sev-snp-measure)
# A pyenv shim re-resolves the interpreter on every call: time the installed entry point itself.
if [[ $py == */shims/* ]] && command -v pyenv >/dev/null; then py=$(pyenv which sev-snp-measure); fi
bin=${PRELAUNCH_BIN:-}
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release -p prelaunch >&2)
    bin=$root/target/x86_64-unknown-linux-gnu/release/prelaunch
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Agreement first: a fast wrong answer is no result.
want=$("$py" --mode snp --vcpus 23 --vcpu-type EPYC-Genoa --ovmf "$fw")
got=$("$bin" measure --mode snp --vcpus 23 --vcpu-type EPYC-Genoa --ovmf "$fw")
"$bin" reference-values --vcpus 1-512 --vcpu-type EPYC-Milan,EPYC-Genoa,EPYC-Turin --ovmf "$fw" --format json --out "$out/rv.json"
inmatrix=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(e["values"]["measurement"] for e in d["entries"] if e["parameters"]["vcpus"]==23 and e["parameters"]["vcpu_type"]=="EPYC-Genoa"))' "$out/rv.json")
[ "$want" = "$got" ] && [ "$got" = "$inmatrix" ] || die "digests disagree: sev-snp-measure $want, measure $got, matrix $inmatrix"

matrix="$bin reference-values --vcpus 1-512 --vcpu-type EPYC-Milan,EPYC-Genoa,EPYC-Turin --ovmf $fw --format corim"
one="$bin measure --mode snp --vcpus 512 --vcpu-type EPYC-Milan --ovmf $fw"
for ((r = 1; r <= ROUNDS; r++)); do
    a=(-n matrix "$matrix" -n matrix-out "$matrix --out $out/rv.corim" -n one "$one")
    if [ $((r % 2)) = 0 ]; then a=(-n one "$one" -n matrix-out "$matrix --out $out/rv.corim" -n matrix "$matrix"); fi
    echo "== round $r/$ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$out/hf-r$r.json" "${a[@]}" >&2
    hyperfine -N --style basic --warmup 1 --runs "$PY_RUNS" --export-json "$out/py-r$r.json" \
        -n py "$py --mode snp --vcpus 512 --vcpu-type EPYC-Milan --ovmf $fw" >&2
done
mkdir -p "$here/results"
python3 "$here/refvals_report.py" "$out" "$bin" "$(cut -d' ' -f1-3 /proc/loadavg)" > "$here/results/refvals.md"
cat "$here/results/refvals.md"
