#!/usr/bin/env bash
# What the suggested changes to prelaunch would buy, measured end to end on the unmodified binary.
#
#   bench/whatif/run.sh            (after bench/run.sh has built prelaunch)
#
# shim.c, preloaded into a dynamically linked prelaunch, switches one behaviour at a time (see its header): SHA384() done without the
# per-call EVP_MD_fetch, mmap without MAP_POPULATE, no munmap of the image before exit. Startup costs
# are bracketed by tiny C programs: an empty main dynamically linked, the same linked against
# libcrypto, and statically linked. Same method as bench/run.sh (rounds, order reversed every other
# round, groups retried when other work was busy). Writes bench/results/whatif.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench=$(dirname "$here")
root=$(dirname "$bench")
# shellcheck source=bench/lib.sh
. "$bench/lib.sh"
fw_dir=${PRELAUNCH_FIRMWARE_DIR:-$root/../shared/firmware}
snp_fw=$(realpath "$fw_dir/trixie_OVMF_CODE_4M.fd")
tdx_fw=$(realpath "$fw_dir/bookworm_OVMF.fd")
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-6}

die() { echo "bench/whatif/run.sh: $*" >&2; exit 2; }
for tool in cc hyperfine python3 cargo; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
prelaunch=$(cargo_exe "$root" --release -p prelaunch) || die "cargo build --release -p prelaunch failed"
libcrypto=$(ldd "$prelaunch" 2>/dev/null | awk '/libcrypto/ {print $3}' || true)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -Wall -shared -fPIC -o "$tmp/whatif.so" "$here/shim.c"
printf 'int main(void) { return 0; }\n' >"$tmp/empty.c"
cc -O2 -o "$tmp/empty-dynamic" "$tmp/empty.c"
libcrypto_so=${libcrypto:-$(ldconfig -p | awk '/libcrypto\.so\.3 .*x86-64/ {print $NF; exit}')}
cc -O2 -o "$tmp/empty-libcrypto" "$tmp/empty.c" -Wl,--no-as-needed "$libcrypto_so"
cc -O2 -static -o "$tmp/empty-static" "$tmp/empty.c" 2>/dev/null || cp "$tmp/empty-dynamic" "$tmp/empty-static"

snp="$prelaunch measure --mode snp --vcpus 64 --vcpu-type EPYC-v4 --ovmf $snp_fw"
tdx="$prelaunch measure --mode tdx --ovmf $tdx_fw"
pre="env LD_PRELOAD=$tmp/whatif.so"
io="WHATIF_NO_POPULATE=1 WHATIF_NO_BIG_MUNMAP=1"

if [ -n "$libcrypto" ]; then
    # The digests must not change under the shim.
    for c in "$snp" "$tdx"; do
        want=$($c)
        for e in "" WHATIF_SHA384_INCREMENTAL=1 "$io"; do
            # shellcheck disable=SC2086 # word lists by construction
            got=$($pre $e $c)
            [ "$got" = "$want" ] || die "the shim changed the digest ($e $c)"
        done
    done
    snp_variants=("snp: as built" "$pre $snp" "snp: no populate, no munmap" "$pre $io $snp")
    if nm -D "$prelaunch" 2>/dev/null | grep -q ' U EVP_Q_digest'; then
        snp_variants+=("snp: SHA384 incremental" "$pre WHATIF_SHA384_INCREMENTAL=1 $snp"
            "snp: all three" "$pre WHATIF_SHA384_INCREMENTAL=1 $io $snp")
    else
        echo "one-shot SHA384 (EVP_Q_digest) is no longer called by this prelaunch: that variant is built in" >>"$tmp/notes.txt"
    fi
else
    echo "this prelaunch is statically linked: LD_PRELOAD does not apply, only the startup floors are measured" >>"$tmp/notes.txt"
fi

python3 "$bench/report.py" wait-idle "$WAIT_IDLE" "$MAX_OTHER" >&2
python3 "$bench/report.py" env "$tmp/env.json" >&2
for ((r = 1; r <= ROUNDS; r++)); do
    if [ -n "$libcrypto" ]; then
        hf_group "$tmp" snp "$r" "$RUNS" "$WARMUP" "${snp_variants[@]}"
        hf_group "$tmp" tdx "$r" "$RUNS" "$WARMUP" \
            "tdx: as built" "$pre $tdx" \
            "tdx: no populate, no munmap" "$pre $io $tdx"
    fi
    hf_group "$tmp" floor "$r" "$RUNS" "$WARMUP" \
        "floor: prelaunch --version" "$prelaunch --version" \
        "floor: empty C, dynamic" "$tmp/empty-dynamic" \
        "floor: empty C + libcrypto" "$tmp/empty-libcrypto" \
        "floor: empty C, static" "$tmp/empty-static"
done
python3 "$bench/report.py" env "$tmp/env-end.json" >&2
python3 "$here/summary.py" "$tmp" "$bench/results/whatif.md"
