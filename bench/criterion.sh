#!/usr/bin/env bash
# The criterion benches (measure/benches/digests.rs), one group at a time, each started when the
# machine is quiet, then a ratio table: bench/results/criterion.md.
#
#   bench/criterion.sh [criterion args...]     e.g. bench/criterion.sh --measurement-time 4
#
# Environment: CARGO_TARGET_DIR (respected), WAIT_IDLE (120), MAX_OTHER (0.5), BENCH_GROUPS (the groups to run,
# space-separated; the table still shows every group's latest estimates, with the load of those run now).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
read -r -a groups <<<"${BENCH_GROUPS:-snp_4MiB vcpu_table_4MiB tdx_2MiB sha384_4MiB}"

cd "$root"
cargo bench -p prelaunch-measure --bench digests --no-run
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/report.py" env "$tmp/env-start.json"
for g in "${groups[@]}"; do
    python3 "$here/report.py" wait-idle "$WAIT_IDLE" "$MAX_OTHER"
    python3 "$here/report.py" mark "$tmp" "$g:start"
    cargo bench -p prelaunch-measure --bench digests -- "^$g/" --noplot "$@"
    python3 "$here/report.py" mark "$tmp" "$g:end"
    python3 "$here/report.py" other "$tmp" "$g" "$MAX_OTHER" || echo "(noisy: see the load column)"
done
python3 "$here/report.py" env "$tmp/env-end.json"
python3 "$here/criterion_table.py" "$target_dir/criterion" "$tmp" "$here/results/criterion.md"
