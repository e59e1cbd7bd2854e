# Shared by bench/run.sh and bench/whatif/run.sh (sourced, not run).
#
# hf_group DIR TAG ROUND RUNS WARMUP NAME COMMAND [NAME COMMAND]...
#   One hyperfine run of the named commands into DIR/hf-TAG-rROUND.json, in the given order on odd
#   rounds and reversed on even ones (so a slow drift in the machine's load hits every command alike).
#   Marks the time, load and CPU counters before and after (DIR/load.jsonl); if other work used more
#   than MAX_OTHER cores meanwhile, waits up to WAIT_IDLE seconds for a quieter machine and retries,
#   ATTEMPTS times in all, keeping the last attempt.
: "${ATTEMPTS:=3}" "${MAX_OTHER:=0.5}" "${WAIT_IDLE:=120}"
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

hf_group() {
    local dir=$1 tag=$2 round=$3 runs=$4 warmup=$5
    shift 5
    local -a names=() cmds=() args=()
    while [ $# -gt 1 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
    local i n=${#names[@]}
    for ((i = 0; i < n; i++)); do
        local j=$i
        [ $((round % 2)) = 1 ] || j=$((n - 1 - i))
        args+=(-n "${names[j]}" "${cmds[j]}")
    done
    local label=$tag-r$round json=$dir/hf-$tag-r$round.json attempt
    for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
        echo "== $tag, round $round/${ROUNDS:-?}, attempt $attempt (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        python3 "$bench_dir/report.py" mark "$dir" "$label:start" "$warmup"
        hyperfine -N --style basic --warmup "$warmup" --runs "$runs" --export-json "$json" "${args[@]}" >&2
        python3 "$bench_dir/report.py" mark "$dir" "$label:end"
        python3 "$bench_dir/report.py" other "$dir" "$label" "$MAX_OTHER" >&2 && return 0
        if [ "$attempt" -lt "$ATTEMPTS" ]; then
            python3 "$bench_dir/report.py" wait-idle "$WAIT_IDLE" "$MAX_OTHER" >&2
        fi
    done
    echo "== $label stayed noisy after $ATTEMPTS attempts; keeping the last (see the load table in the results)" >&2
}

# cargo_exe DIR CARGO_BUILD_ARGS...
#   Builds in DIR (so the cargo config that applies there is used, e.g. a static target) and prints the
#   path of the last executable cargo produced. Diagnostics go to stderr.
cargo_exe() {
    local dir=$1
    shift
    (cd "$dir" && cargo build --message-format=json-render-diagnostics "$@") | python3 -c '
import json, sys
exe = [m["executable"] for m in map(json.loads, sys.stdin) if m.get("reason") == "compiler-artifact" and m.get("executable")]
if not exe:
    sys.exit("cargo produced no executable")
print(exe[-1])'
}
