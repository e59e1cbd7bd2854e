#!/usr/bin/env python3
"""Differential test: prelaunch measure against sev-snp-measure 0.0.13 on the same inputs.

Cases: the real images in $PRELAUNCH_FIRMWARE_DIR and images from `gen-image --random-snp SEED`, with
random vCPU counts and types (by name, signature or family/model/stepping), VMMs, guest features,
kernels, initrds and command lines (empty, non-ASCII, trailing spaces), output formats, snp:ovmf-hash
and its resumption, SVSM launches, and inputs the peer refuses. Every case must agree: the same stdout
and the same success or failure. Missing peers are a failure, never a skip.
"""

import argparse
import concurrent.futures
import os
import random
import shutil
import subprocess
import sys
import tempfile

CPU_TYPES = ["EPYC", "EPYC-v1", "EPYC-v2", "EPYC-IBPB", "EPYC-v3", "EPYC-v4", "EPYC-Rome", "EPYC-Rome-v1",
             "EPYC-Rome-v2", "EPYC-Rome-v3", "EPYC-Milan", "EPYC-Milan-v1", "EPYC-Milan-v2", "EPYC-Genoa",
             "EPYC-Genoa-v1", "EPYC-Turin"]
APPENDS = ["console=ttyS0", "", "  quiet  ", "root=/dev/vda1 ro console=ttyS0,115200n8 ü 日本語", "a" * 1000,
           "trailing ", " leading", "nokaslr\tmitigations=off"]


def fail(msg):
    print(f"differential: {msg}", file=sys.stderr)
    sys.exit(1)


def peer_cmd():
    exe = shutil.which("sev-snp-measure")
    if exe:
        return [exe]
    try:
        import sevsnpmeasure  # noqa: F401
    except ImportError:
        fail("sev-snp-measure is not installed (pip install sev-snp-measure==0.0.13); refusing to skip")
    return [sys.executable, "-m", "sevsnpmeasure.cli"]


def vcpu_args(rng):
    pick = rng.random()
    if pick < 0.7:
        return [f"--vcpu-type={rng.choice(CPU_TYPES)}"]
    if pick < 0.85:
        return [f"--vcpu-sig={rng.choice([0x800f12, 0xa00f11, 0xa10f10, rng.randrange(1, 1 << 28)]):#x}"]
    return ["--vcpu-family", str(rng.choice([23, 25, 26, 15, 6])), "--vcpu-model", str(rng.randrange(0, 256)),
            "--vcpu-stepping", str(rng.randrange(0, 16))]


def make_payloads(tmp, rng):
    files = {}
    for i in range(4):
        size = rng.choice([0, 1, 4095, 4096, 100_000, 1 << 20])
        p = os.path.join(tmp, f"kernel{i}.bin")
        with open(p, "wb") as f:
            f.write(rng.randbytes(size))
        files[f"kernel{i}"] = p
        p = os.path.join(tmp, f"initrd{i}.bin")
        with open(p, "wb") as f:
            f.write(rng.randbytes(rng.choice([0, 17, 300_000])))
        files[f"initrd{i}"] = p
    return files


def cases(fw_dir, gen_image, tmp, rng, count):
    real = {n: os.path.join(fw_dir, n) for n in os.listdir(fw_dir)}
    payloads = make_payloads(tmp, rng)
    kernel_capable = [real["ovmf_AmdSev_suffix.bin"]]
    ovmfs = [real[n] for n in ("bookworm_OVMF.fd", "trixie_OVMF_CODE_4M.fd", "svsm_ovmf.fd", "ovmf_OvmfX64_suffix.bin",
                               "ovmf_AmdSev_suffix.bin")]
    generated = []
    for seed in range(40):
        p = os.path.join(tmp, f"random-snp-{seed}.bin")
        subprocess.run([gen_image, "--random-snp", str(seed), "--out", p], check=True)
        generated.append(p)
    out = []
    while len(out) < count:
        r = rng.random()
        ovmf = rng.choice(ovmfs + generated + kernel_capable * 3)
        mode = rng.choices(["snp", "seves", "sev", "snp:ovmf-hash"], weights=[6, 2, 1, 1])[0]
        args = [f"--mode={mode}", f"--ovmf={ovmf}"]
        if mode in ("snp", "seves"):
            args.append(f"--vcpus={rng.choice([1, 2, 3, 4, 8, 16, 23, 64, rng.randrange(1, 129)])}")
            vmm = rng.choices(["QEMU", "ec2", "gce"], weights=[6, 2, 2])[0]
            if vmm != "QEMU":
                args.append(f"--vmm-type={vmm}")
            if vmm == "QEMU" or rng.random() < 0.5:
                args += vcpu_args(rng)
        if mode == "snp" and rng.random() < 0.4:
            args.append(f"--guest-features={rng.choice(['0x1', '0x21', '0x5', hex(rng.randrange(0, 1 << 16) | 1)])}")
        if mode != "snp:ovmf-hash" and r < 0.45:
            i = rng.randrange(4)
            args.append(f"--kernel={payloads[f'kernel{i}']}")
            if rng.random() < 0.6:
                args.append(f"--initrd={payloads[f'initrd{rng.randrange(4)}']}")
            if rng.random() < 0.7:
                args.append(f"--append={rng.choice(APPENDS)}")
        if rng.random() < 0.2:
            args.append("--output-format=base64")
        out.append(args)
    # snp:ovmf-hash then resumption from it, on a real and a generated image.
    for ovmf in (real["trixie_OVMF_CODE_4M.fd"], generated[3]):
        out.append(["--mode=snp:ovmf-hash", f"--ovmf={ovmf}"])
        out.append(["--resume-from-ovmf-hash", f"--ovmf={ovmf}", "--mode=snp", "--vcpus=4", "--vcpu-type=EPYC-Milan"])
    # SVSM launches.
    for vcpus in (1, 2, 7):
        out.append(["--mode=snp:svsm", f"--vcpus={vcpus}", "--vcpu-type=EPYC-Genoa", f"--ovmf={real['svsm_ovmf.fd']}",
                    f"--svsm={real['svsm.bin']}", f"--vars-size={rng.choice([540672, 131072, 4096 * 7])}"])
    return out


def run(cmd):
    p = subprocess.run(cmd, capture_output=True)
    return p.returncode, p.stdout


def one(peer, ours, args):
    if args[0] == "--resume-from-ovmf-hash":
        ovmf = args[1]
        code, seed = run(peer + ["--mode=snp:ovmf-hash", ovmf])
        args = args[2:] + [ovmf, f"--snp-ovmf-hash={seed.decode().strip()}"]
    pc, po = run(peer + args)
    oc, oo = run([ours, "measure"] + args)
    agree = (pc == 0) == (oc == 0) and (pc != 0 or po == oo) and (pc == 0 or oc in (1, 2))
    return agree, args, (pc, po), (oc, oo)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prelaunch", required=True)
    ap.add_argument("--gen-image", default=None)
    ap.add_argument("--cases", type=int, default=240)
    ap.add_argument("--seed", type=int, default=20261125)
    a = ap.parse_args()
    fw_dir = os.environ.get("PRELAUNCH_FIRMWARE_DIR") or fail("PRELAUNCH_FIRMWARE_DIR is not set")
    if not os.path.isdir(fw_dir):
        fail(f"{fw_dir} is missing")
    gen = a.gen_image or os.path.join(os.path.dirname(a.prelaunch), "gen-image")
    for exe in (a.prelaunch, gen):
        if not os.access(exe, os.X_OK):
            fail(f"{exe} is not built")
    peer = peer_cmd()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        todo = cases(fw_dir, gen, tmp, rng, a.cases)
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            results = list(ex.map(lambda c: one(peer, a.prelaunch, c), todo))
    bad = [r for r in results if not r[0]]
    refusals = sum(1 for r in results if r[2][0] != 0)
    for _, args, (pc, po), (oc, oo) in bad[:20]:
        print(f"DISAGREE: {' '.join(args)}\n  peer  exit {pc}: {po!r}\n  ours  exit {oc}: {oo!r}", file=sys.stderr)
    print(f"differential: {len(results) - len(bad)}/{len(results)} cases agree with sev-snp-measure "
          f"({refusals} refused by both)")
    sys.exit(1 if bad or len(results) < 200 else 0)


if __name__ == "__main__":
    main()
