#!/usr/bin/env python3
"""Conformance on OVMF builds the other tests have never seen: Debian's ovmf packages, downloaded at
test time (never committed). For every image in them:

- `prelaunch inspect --json` must report what an independent reader written here from the format
  notes finds (footer entries, reset EIP, hashes table, SEV metadata, TDVF sections);
- SNP, SEV-ES and SEV digests must equal sev-snp-measure 0.0.13's on the same image;
- for images with TDX metadata, MRTD must equal an independent implementation here (both page orders).

Download failures, missing peers or an empty image set are failures, never skips.
"""

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid

FOOTER = "96b582de-1fb2-45f7-baea-a366c55a082d"
NAMES = {
    "00f771de-1a7e-4fcb-890e-68c77e2fb44e": "sev_es_reset_block",
    "7255371f-3a3b-4b04-927b-1da6efa8d454": "sev_hash_table",
    "dc886566-984a-4798-a75e-5585a7bf67cc": "sev_metadata",
    "4c2eb361-7d9b-4cc3-8081-127c90d3d294": "sev_secret_block",
    "e47a6535-984a-4798-865e-4685a7bf8ec2": "tdx_metadata",
    "a789a612-0597-4c4b-a49f-cbb1fe9d1ddd": "svsm_info",
}
SEV_KINDS = {1: "snp_sec_mem", 2: "snp_secrets", 3: "cpuid", 4: "svsm_caa", 0x10: "snp_kernel_hashes"}
TDX_KINDS = ["bfv", "cfv", "td_hob", "temp_mem", "perm_mem", "payload", "payload_param", "td_info", "td_params"]


def fail(msg):
    print(f"unseen: {msg}", file=sys.stderr)
    sys.exit(1)


def read_image(data):
    """The facts, read independently from the notes."""
    n = len(data)
    facts = {"size": n, "sha256": hashlib.sha256(data).hexdigest(), "gpa_base": (1 << 32) - n, "footer_entries": [],
             "sev_es_reset_eip": None, "sev_hashes_table": None, "sev_metadata": None, "tdx_sections": None}
    at = n - 32 - 18
    size, guid = struct.unpack_from("<H16s", data, at)
    if str(uuid.UUID(bytes_le=guid)) != FOOTER:
        return facts
    end, start = at, at - (size - 18)
    table = {}
    while end - start >= 18:
        length, g = struct.unpack_from("<H16s", data, end - 18)
        g = str(uuid.UUID(bytes_le=g))
        payload = data[end - length:end - 18]
        table[g] = payload
        facts["footer_entries"].append({"guid": g, "name": NAMES.get(g), "data_hex": payload.hex()})
        end -= length
    if "00f771de-1a7e-4fcb-890e-68c77e2fb44e" in table:
        facts["sev_es_reset_eip"] = struct.unpack_from("<I", table["00f771de-1a7e-4fcb-890e-68c77e2fb44e"])[0]
    if "7255371f-3a3b-4b04-927b-1da6efa8d454" in table:
        gpa, sz = struct.unpack_from("<II", table["7255371f-3a3b-4b04-927b-1da6efa8d454"])
        facts["sev_hashes_table"] = {"gpa": gpa, "size": sz}
    if "dc886566-984a-4798-a75e-5585a7bf67cc" in table:
        off = n - struct.unpack_from("<I", table["dc886566-984a-4798-a75e-5585a7bf67cc"])[0]
        sig, _, _, count = struct.unpack_from("<4sIII", data, off)
        assert sig == b"ASEV"
        facts["sev_metadata"] = [dict(zip(("gpa", "size"), struct.unpack_from("<II", data, off + 16 + 12 * i)),
                                      kind=SEV_KINDS[struct.unpack_from("<I", data, off + 24 + 12 * i)[0]]) for i in range(count)]
    if "e47a6535-984a-4798-865e-4685a7bf8ec2" in table:
        off = n - struct.unpack_from("<I", table["e47a6535-984a-4798-865e-4685a7bf8ec2"])[0]
        sig, _, _, count = struct.unpack_from("<4sIII", data, off)
        assert sig == b"TDVF"
        secs = []
        for i in range(count):
            d, raw, gpa, mem, typ, attr = struct.unpack_from("<IIQQII", data, off + 16 + 32 * i)
            secs.append({"data_offset": d, "raw_size": raw, "gpa": gpa, "memory_size": mem, "kind": TDX_KINDS[typ],
                         "mr_extend": bool(attr & 1), "page_aug": bool(attr & 2)})
        facts["tdx_sections"] = secs
    return facts


def mrtd(data, sections, two_pass):
    """MRTD from the notes: one SHA-384 stream of 128-byte PAGE.ADD / MR.EXTEND records."""
    h = hashlib.sha384()

    def add(gpa):
        h.update(b"MEM.PAGE.ADD".ljust(16, b"\0") + struct.pack("<Q", gpa) + bytes(104))

    def extend(gpa, page):
        for c in range(16):
            h.update(b"MR.EXTEND".ljust(16, b"\0") + struct.pack("<Q", gpa + 256 * c) + bytes(104))
            h.update(page[256 * c:256 * (c + 1)])

    for s in sections:
        mem = bytearray(s["memory_size"])
        mem[:s["raw_size"]] = data[s["data_offset"]:s["data_offset"] + s["raw_size"]]
        pages = range(0, s["memory_size"], 4096)
        if two_pass:
            for p in pages:
                add(s["gpa"] + p)
            if s["mr_extend"]:
                for p in pages:
                    extend(s["gpa"] + p, mem[p:p + 4096])
        else:
            for p in pages:
                add(s["gpa"] + p)
                if s["mr_extend"]:
                    extend(s["gpa"] + p, mem[p:p + 4096])
    return h.hexdigest()


def download(dest):
    out = subprocess.run(["apt-cache", "madison", "ovmf"], capture_output=True, text=True)
    versions = sorted({line.split("|")[1].strip() for line in out.stdout.splitlines() if "|" in line})
    if not versions:
        fail("apt-cache knows no ovmf package versions (run apt-get update)")
    images = []
    for v in versions:
        d = os.path.join(dest, v)
        os.makedirs(d, exist_ok=True)
        r = subprocess.run(["apt-get", "download", f"ovmf={v}"], cwd=d, capture_output=True, text=True)
        debs = [f for f in os.listdir(d) if f.endswith(".deb")]
        if r.returncode != 0 or not debs:
            fail(f"apt-get download ovmf={v} failed: {r.stderr.strip()}")
        subprocess.run(["dpkg-deb", "-x", os.path.join(d, debs[0]), os.path.join(d, "root")], check=True)
        for root, _, files in os.walk(os.path.join(d, "root")):
            for f in files:
                p = os.path.join(root, f)
                if f.endswith(".fd") and not os.path.islink(p):
                    images.append((f"{v}:{os.path.relpath(p, os.path.join(d, 'root'))}", p))
    return images


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prelaunch", required=True)
    a = ap.parse_args()
    peer = shutil.which("sev-snp-measure") or fail("sev-snp-measure is not installed; refusing to skip")
    failures, checks, seen = [], 0, set()
    with tempfile.TemporaryDirectory() as tmp:
        images = download(tmp)
        for name, path in images:
            data = open(path, "rb").read()
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            want = read_image(data)
            code, out, err = run([a.prelaunch, "inspect", "--json", path])
            if code != 0:
                failures.append(f"{name}: inspect failed: {err}")
                continue
            got = json.loads(out)
            for k, v in want.items():
                checks += 1
                if got.get(k) != v:
                    failures.append(f"{name}: inspect {k}: {got.get(k)!r} != {v!r}")
            if got["supports"]["snp"]:
                for args in (["--mode=snp", "--vcpus=1", "--vcpu-type=EPYC-v4"], ["--mode=snp", "--vcpus=4", "--vcpu-type=EPYC-Genoa", "--guest-features=0x21"],
                             ["--mode=seves", "--vcpus=2", "--vcpu-type=EPYC-Milan"], ["--mode=sev"]):
                    pc, po, pe = run([peer] + args + [f"--ovmf={path}"])
                    oc, oo, oe = run([a.prelaunch, "measure"] + args + [f"--ovmf={path}"])
                    checks += 1
                    if (pc, po) != (oc, oo):
                        failures.append(f"{name}: {' '.join(args)}: peer {pc} {po} {pe} / ours {oc} {oo} {oe}")
            if got["supports"]["tdx"]:
                for order, two in (("single", False), ("two-pass", True)):
                    oc, oo, oe = run([a.prelaunch, "measure", "--mode", "tdx", "--ovmf", path, "--tdx-page-order", order])
                    checks += 1
                    if oc != 0 or oo != mrtd(data, want["tdx_sections"], two):
                        failures.append(f"{name}: MRTD {order}: {oc} {oo} {oe}")
    if len(seen) < 4:
        fail(f"only {len(seen)} distinct images found")
    for f in failures:
        print(f"MISMATCH {f}", file=sys.stderr)
    print(f"unseen: {len(seen)} distinct Debian OVMF images, {checks - len(failures)}/{checks} checks agree")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
