#!/usr/bin/env bash
# Times a 4 MiB `prelaunch load` phase by phase (create, map, copy, convert, populate, finish) beside a
# plain memcpy of the same bytes, and writes the ratios to bench/load-results.md (or the path given).
# Ratios, not absolute times: they carry across machines better, and guest instructions are never
# timed (they run emulated on the development hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/load-results.md}
export LOAD_BENCH_OUT=$(realpath -m "$out")
export LOAD_BENCH_ITERS=${LOAD_BENCH_ITERS:-31}
cargo bench -p prelaunch-loader --bench load
