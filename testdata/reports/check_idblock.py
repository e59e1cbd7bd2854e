#!/usr/bin/env python3
"""Cross-check prelaunch's SNP ID block against sev-snp-measure's `snp-create-id-block`.

Given the launch digest, the two key files and prelaunch's output (the base64 `id-block=` and
`id-auth=` values and the two key digests), this runs sev-snp-measure on the same inputs and checks:
  - the 96-byte ID blocks are identical;
  - ID_AUTH_INFO is identical outside the two signature fields (algorithms, both public keys,
    reserved areas), and the signature fields' reserved tails are zero;
  - the ID and author key digests are identical;
  - prelaunch's two signatures verify with `cryptography` (ECDSA P-384, SHA-384), and so do
    sev-snp-measure's (a check of this checker).
ECDSA signatures are randomised, so signature bytes are never compared.

Prints one JSON object (the checks done and sev-snp-measure's own output, which the Rust test then
verifies with prelaunch) and exits 0, or prints what differs and exits 1. Missing tools are an error
(exit 2), never a skip: CI installs them with `pip install sev-snp-measure==0.0.13 cryptography`.

Used by measure/tests/idblock_crosscheck.rs.
"""

import argparse
import base64
import json
import shutil
import subprocess
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils
    import sevsnpmeasure.id_block as sev_id_block
except ImportError as e:  # pragma: no cover - environment problem
    print(f"check_idblock.py: missing Python package ({e}); "
          "install with: pip install sev-snp-measure==0.0.13 cryptography", file=sys.stderr)
    sys.exit(2)

ID_BLOCK_SIG = (0x40, 0x240)
ID_KEY = (0x240, 0x644)
ID_KEY_SIG = (0x680, 0x880)
AUTHOR_KEY = (0x880, 0xC84)


def run_reference(measurement: bytes, idkey: str, authorkey: str):
    """sev-snp-measure's output, from its CLI when installed as one, else from the same function."""
    b64 = base64.b64encode(measurement).decode()
    cli = shutil.which("snp-create-id-block")
    if cli:
        out = subprocess.run([cli, "--measurement", b64, "--idkey", idkey, "--authorkey", authorkey],
                             check=True, capture_output=True, text=True).stdout
        tool = "snp-create-id-block (CLI)"
    else:
        out = sev_id_block.snp_calc_id_block(measurement, idkey, authorkey)
        tool = "sevsnpmeasure.id_block.snp_calc_id_block"
    lines = out.strip().splitlines()
    args = dict(kv.split("=", 1) for kv in lines[0].split(","))
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return tool, {
        "id_block": base64.b64decode(args["id-block"]),
        "id_auth": base64.b64decode(args["id-auth"]),
        "id_key_digest": base64.b64decode(fields["id_key_hash"]),
        "author_key_digest": base64.b64decode(fields["author_key"]),
    }


def amd_public_key(blob: bytes) -> ec.EllipticCurvePublicKey:
    curve = int.from_bytes(blob[0:4], "little")
    if curve != 2:
        raise ValueError(f"curve {curve}, expected 2 (P-384)")
    x = int.from_bytes(blob[4:76], "little")
    y = int.from_bytes(blob[76:148], "little")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP384R1()).public_key()


def verify(sig_field: bytes, key_blob: bytes, message: bytes) -> bool:
    r = int.from_bytes(sig_field[0:72], "little")
    s = int.from_bytes(sig_field[72:144], "little")
    try:
        amd_public_key(key_blob).verify(utils.encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA384()))
        return True
    except (InvalidSignature, ValueError):
        return False


def part(blob: bytes, span) -> bytes:
    return blob[span[0]:span[1]]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--measurement-hex", required=True)
    p.add_argument("--idkey", required=True)
    p.add_argument("--authorkey", required=True)
    p.add_argument("--id-block", required=True, help="prelaunch's id-block= value (base64)")
    p.add_argument("--id-auth", required=True, help="prelaunch's id-auth= value (base64)")
    p.add_argument("--id-key-digest-hex", required=True)
    p.add_argument("--author-key-digest-hex", required=True)
    a = p.parse_args()

    tool, ref = run_reference(bytes.fromhex(a.measurement_hex), a.idkey, a.authorkey)
    ours = {
        "id_block": base64.b64decode(a.id_block),
        "id_auth": base64.b64decode(a.id_auth),
        "id_key_digest": bytes.fromhex(a.id_key_digest_hex),
        "author_key_digest": bytes.fromhex(a.author_key_digest_hex),
    }
    failures, checks = [], []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append(name)
        if not ok:
            failures.append(f"{name}{': ' + detail if detail else ''}")

    check("id block bytes equal", ours["id_block"] == ref["id_block"],
          f"ours {ours['id_block'].hex()} vs sev-snp-measure {ref['id_block'].hex()}")
    check("id auth is 4096 bytes", len(ours["id_auth"]) == 4096 == len(ref["id_auth"]))
    mask = bytearray(ours["id_auth"])
    ref_mask = bytearray(ref["id_auth"])
    for lo, hi in (ID_BLOCK_SIG, ID_KEY_SIG):
        mask[lo:hi] = bytes(hi - lo)
        ref_mask[lo:hi] = bytes(hi - lo)
    diff = [i for i, (x, y) in enumerate(zip(mask, ref_mask)) if x != y]
    check("id auth equal outside signatures (algorithms, keys, reserved)", not diff,
          f"{len(diff)} bytes differ, first at {diff[0]:#x}" if diff else "")
    check("ID public key equal", part(ours["id_auth"], ID_KEY) == part(ref["id_auth"], ID_KEY))
    check("author public key equal", part(ours["id_auth"], AUTHOR_KEY) == part(ref["id_auth"], AUTHOR_KEY))
    for lo, hi in (ID_BLOCK_SIG, ID_KEY_SIG):
        check(f"signature reserved bytes {lo + 144:#x}..{hi:#x} zero", not any(ours["id_auth"][lo + 144:hi]))
    check("id key digest equal", ours["id_key_digest"] == ref["id_key_digest"],
          f"ours {ours['id_key_digest'].hex()} vs {ref['id_key_digest'].hex()}")
    check("author key digest equal", ours["author_key_digest"] == ref["author_key_digest"],
          f"ours {ours['author_key_digest'].hex()} vs {ref['author_key_digest'].hex()}")
    for who, blob, block in (("ours", ours["id_auth"], ours["id_block"]), ("sev-snp-measure's", ref["id_auth"], ref["id_block"])):
        check(f"{who} ID block signature verifies (cryptography)",
              verify(part(blob, ID_BLOCK_SIG), part(blob, ID_KEY), block))
        check(f"{who} ID key signature verifies with the author key (cryptography)",
              verify(part(blob, ID_KEY_SIG), part(blob, AUTHOR_KEY), part(blob, ID_KEY)))
    # A tampered block must not verify: guards against a verifier that accepts anything.
    tampered = bytes([ours["id_block"][0] ^ 1]) + ours["id_block"][1:]
    check("tampered ID block rejected", not verify(part(ours["id_auth"], ID_BLOCK_SIG), part(ours["id_auth"], ID_KEY), tampered))

    if failures:
        print("check_idblock.py: MISMATCH against sev-snp-measure:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(json.dumps({
        "tool": tool,
        "checks": checks,
        "reference": {
            "id_block": base64.b64encode(ref["id_block"]).decode(),
            "id_auth": base64.b64encode(ref["id_auth"]).decode(),
            "id_key_digest_hex": ref["id_key_digest"].hex(),
            "author_key_digest_hex": ref["author_key_digest"].hex(),
        },
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
