#!/usr/bin/env bash
# TDX MRTD + RTMR0-2 of a QEMU direct boot against sha384sum of the kernel and initrd, and against
# tdx-measure (dstack-mr's fork) on the same inputs in the same run. Issue 12's target: prelaunch
# takes at most 0.6x the time of `sha384sum KERNEL INITRD` (the initrd hashes on its own core).
#
#   bench/tdx-rtmr.sh [--bin PRELAUNCH] [--peer TDX_MEASURE] [--kernel FILE] [--runs N] [--out FILE.md]
#
# Inputs: the 4 MiB Debian 13 OVMF (OVMF_VARS_4M + OVMF_CODE_4M from PRELAUNCH_FIRMWARE_DIR), a
# 64 MiB initrd and a 12 MiB kernel (a Debian cloud kernel with --kernel, else gen-image's PE kernel
# with a 12 MiB .text), 2 GiB, gen-image's ACPI blobs. Before timing, prelaunch's four registers
# must equal the peer's (profiles debian-13 and QEMU 9.2, whose event model the peer implements).
# The peer is built from its public source outside the repository (see testdata/tdx-rtmr/README.md);
# without --peer (or $TDX_MEASURE) only prelaunch and sha384sum are timed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/x86_64-unknown-linux-gnu/release/prelaunch
gen=target/x86_64-unknown-linux-gnu/release/gen-image
peer=${TDX_MEASURE:-}
kernel=
runs=10
out=bench/results/tdx-rtmr.md
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin=$2; shift 2 ;;
        --peer) peer=$2; shift 2 ;;
        --kernel) kernel=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: bench/tdx-rtmr.sh [--bin PATH] [--peer PATH] [--kernel FILE] [--runs N] [--out FILE.md]" >&2; exit 2 ;;
    esac
done
if [ "$bin" = target/x86_64-unknown-linux-gnu/release/prelaunch ]; then
    cargo build --release -q -p prelaunch -p prelaunch-testdata
fi
[ -x "$gen" ] || gen=$(dirname "$bin")/gen-image
fw_dir=${PRELAUNCH_FIRMWARE_DIR:-$(cd .. && pwd)/shared/firmware}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$fw_dir/trixie_OVMF_VARS_4M.fd" "$fw_dir/trixie_OVMF_CODE_4M.fd" > "$tmp/OVMF.fd"
if [ -n "$kernel" ]; then cp "$kernel" "$tmp/kernel"; else "$gen" --pe-kernel "$tmp/kernel" --text-size 12M; fi
head -c $((64 << 20)) /dev/urandom > "$tmp/initrd"
"$gen" --acpi-dir "$tmp/acpi"
python3 - "$tmp" <<'PY'
import struct, sys, uuid
d = sys.argv[1]
fv, ui = (uuid.UUID(g).bytes_le for g in ("7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1", "462caa21-7614-4503-836e-8ab6f4662331"))
path = bytes([4, 7, 20, 0]) + fv + bytes([4, 6, 20, 0]) + ui + bytes([0x7F, 0xFF, 4, 0])
open(f"{d}/Boot0000.bin", "wb").write(struct.pack("<IH", 0x109, len(path)) + "UiApp\0".encode("utf-16-le") + path)
open(f"{d}/BootOrder.bin", "wb").write(b"\0\0")
PY
cmdline="console=ttyS0 root=/dev/vda1 ro"
cat > "$tmp/meta.json" <<EOF
{"boot_config": {"cpus": 1, "memory": "2147483648", "bios": "OVMF.fd", "acpi_tables": "acpi/tables", "rsdp": "acpi/rsdp",
  "table_loader": "acpi/table-loader", "boot_order": "BootOrder.bin", "path_boot_xxxx": "$tmp/"},
 "direct": {"kernel": "kernel", "initrd": "initrd", "cmdline": "$cmdline"}}
EOF
ours=("$bin" measure --mode tdx --ovmf "$tmp/OVMF.fd" --kernel "$tmp/kernel" --initrd "$tmp/initrd" --append "$cmdline"
    --memory 2G --acpi-dir "$tmp/acpi" --tdvf debian-13 --qemu-version 9.2 --kernel-stub-measures yes --output-format json)
"${ours[@]}" > "$tmp/ours.json"
cmds=(-n prelaunch "$(printf '%q ' "${ours[@]}")" -n sha384sum "sha384sum $tmp/kernel $tmp/initrd")
if [ -n "$peer" ]; then
    "$peer" "$tmp/meta.json" --json > "$tmp/peer.json"
    python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
ours, peer = (json.load(open(f"{d}/{n}.json")) for n in ("ours", "peer"))
bad = [r for r in ("mrtd", "rtmr0", "rtmr1", "rtmr2") if ours[r] != peer[r]]
if bad:
    sys.exit(f"bench/tdx-rtmr.sh: prelaunch and tdx-measure differ in {bad}: {ours} {peer}")
print("prelaunch and tdx-measure agree on MRTD, RTMR0, RTMR1, RTMR2", file=sys.stderr)
PY
    cmds+=(-n tdx-measure "$peer $tmp/meta.json")
fi
hyperfine -N --style basic --warmup 2 --runs "$runs" --export-json "$tmp/hf.json" "${cmds[@]}" >&2
python3 - "$tmp/hf.json" "$out" "$(nproc)" "$(stat -c %s "$tmp/kernel")" <<'PY'
import json, sys
hf, out, cores, ksize = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
res = {r["command"]: r for r in json.load(open(hf))["results"]}
base = res["sha384sum"]["median"]
lines = [
    "# TDX MRTD + RTMR0-2 (bench/tdx-rtmr.sh)", "",
    f"4 MiB Debian 13 OVMF, {ksize / 2**20:.1f} MiB kernel, 64 MiB initrd, 2 GiB; {cores} cores (shared).", "",
    "| command | median s | ratio to sha384sum |", "|---|---|---|",
]
for name, r in res.items():
    lines.append(f"| {name} | {r['median']:.4f} | {r['median'] / base:.2f} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
