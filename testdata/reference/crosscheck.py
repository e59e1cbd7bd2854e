#!/usr/bin/env python3
"""Independent readers of what `prelaunch reference-values` writes.

Reads a CoRIM with cbor2, GCE documents with `protoc --decode` on schema/gce/endorsement.proto, a
signed CoRIM's COSE_Sign1 ES384 signature with pycose (key loaded by cryptography), and the JSON
document against schema/reference-values.v1.schema.json with jsonschema. Prints one JSON object:

  {"corim": {"<vcpu_type or sig>/<vmm>/<features>/<vcpus>": "<hex>", ...},
   "gce": {"<file name>/<vcpus>": "<hex>", ...},
   "cose": "valid" | "invalid: ...", "corim_in_cose_equals_corim": true, "json_schema": "valid"}

Nothing here shares code with prelaunch: it is the other side of the differential test
(cli/tests/it/reference_values.rs). Needs: pip install "cbor2==5.6.5" pycose jsonschema cryptography (pycose 1.1 cannot read cbor2 6's tuples);
apt-get install protobuf-compiler.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys

import cbor2

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROFILE = "tag:microsoft.com,2026:launch-measurement/v1"
SHAPES_KEY = -70001


def shape_key(p):
    who = p.get("vcpu_type") or (hex(p["vcpu_sig"]) if "vcpu_sig" in p else "-")
    return f"{who}/{p.get('vmm_type', '-')}/{hex(p.get('guest_features', 0))}/{p.get('vcpus')}"


def read_corim(raw):
    top = cbor2.loads(raw)
    assert isinstance(top, cbor2.CBORTag) and top.tag == 501, "not #6.501"
    m = top.value
    assert isinstance(m[3], cbor2.CBORTag) and m[3].tag == 32 and m[3].value == PROFILE, m[3]
    assert len(m[1]) == 1 and m[1][0].tag == 506
    comid = cbor2.loads(m[1][0].value)
    refs = comid[4][0]
    digests = []
    for env, meas in refs:
        assert env == {0: {1: "AMD", 2: "SEV-SNP"}}, env
        assert len(meas) == 1 and meas[0][0] == "MEASUREMENT"
        [[alg, val]] = meas[0][1][2]
        assert alg == 7 and len(val) == 48
        digests.append(val.hex())
    ces = comid[4][8]
    assert len(ces) == 1 and len(ces[0][1]) == len(refs), "one CES series record per triple"
    out = {}
    for rec in m[SHAPES_KEY]:
        out[shape_key(rec["parameters"])] = digests[rec["triple"]]
    return out


def c_unescape(s):
    """protoc's text-format string escapes (octal, \\n, \\", ...) to bytes."""
    out = bytearray()
    i = 0
    b = s.encode("latin-1")
    simple = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord('"'): 34, ord("'"): 39, ord("\\"): 92}
    while i < len(b):
        c = b[i]
        if c != 92:
            out.append(c)
            i += 1
            continue
        n = b[i + 1]
        if n in simple:
            out.append(simple[n])
            i += 2
        elif 48 <= n <= 55:
            j = i + 1
            while j < len(b) and j < i + 4 and 48 <= b[j] <= 55:
                j += 1
            out.append(int(b[i + 1 : j], 8))
            i = j
        elif n == ord("x"):
            out.append(int(b[i + 2 : i + 4], 16))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{chr(n)}")
    return bytes(out)


def read_gce(path):
    proto_dir = ROOT / "schema" / "gce"
    text = subprocess.run(
        ["protoc", f"--proto_path={proto_dir}", "--decode=cloud_vmm_proto.VMGoldenMeasurement", "endorsement.proto"],
        stdin=open(path, "rb"), capture_output=True, check=True, text=True, encoding="latin-1",
    ).stdout
    out = {}
    for key, val in re.findall(r'measurements \{\s*key: (\d+)\s*value: "((?:[^"\\]|\\.)*)"\s*\}', text):
        d = c_unescape(val)
        assert len(d) == 48, (key, len(d))
        out[f"{pathlib.Path(path).name}/{key}"] = d.hex()
    policy = re.search(r"policy: (\d+)", text)
    return out, int(policy.group(1)) if policy else None


def check_cose(signed, pub_pem, corim):
    from cryptography.hazmat.primitives import serialization
    from pycose.keys import EC2Key
    from pycose.keys.curves import P384
    from pycose.messages import Sign1Message

    pub = serialization.load_pem_public_key(pub_pem)
    nums = pub.public_numbers()
    key = EC2Key(crv=P384, x=nums.x.to_bytes(48, "big"), y=nums.y.to_bytes(48, "big"))
    from pycose.headers import Algorithm
    msg = Sign1Message.decode(signed)
    msg.key = key
    ok = msg.verify_signature()
    alg = msg.get_attr(Algorithm)
    return ("valid" if ok else "invalid"), msg.payload == corim, getattr(alg, "fullname", str(alg))


def check_cose_cryptography(signed, pub_pem):
    """The same check by hand with `cryptography`: RFC 9052 Sig_structure, ECDSA P-384 / SHA-384."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    msg = cbor2.loads(signed)
    assert msg.tag == 18
    protected, _unprotected, payload, sig = msg.value
    assert cbor2.loads(protected)[1] == -35, "ES384"
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    der = utils.encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
    try:
        serialization.load_pem_public_key(pub_pem).verify(der, tbs, ec.ECDSA(hashes.SHA384()))
        return "valid"
    except InvalidSignature:
        return "invalid"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corim")
    ap.add_argument("--gce", nargs="*", default=[])
    ap.add_argument("--signed")
    ap.add_argument("--pubkey")
    ap.add_argument("--json")
    a = ap.parse_args()
    result = {}
    if a.corim:
        result["corim"] = read_corim(pathlib.Path(a.corim).read_bytes())
    if a.gce:
        result["gce"] = {}
        result["gce_policy"] = {}
        for g in a.gce:
            values, policy = read_gce(g)
            result["gce"].update(values)
            result["gce_policy"][pathlib.Path(g).name] = policy
    if a.signed:
        corim = pathlib.Path(a.corim).read_bytes() if a.corim else None
        verdict, same, alg = check_cose(pathlib.Path(a.signed).read_bytes(), pathlib.Path(a.pubkey).read_bytes(), corim)
        result["cose"] = verdict
        result["cose_cryptography"] = check_cose_cryptography(pathlib.Path(a.signed).read_bytes(), pathlib.Path(a.pubkey).read_bytes())
        result["cose_alg"] = alg
        result["corim_in_cose_equals_corim"] = same
    if a.json:
        import jsonschema
        schema = json.loads((ROOT / "schema" / "reference-values.v1.schema.json").read_text())
        jsonschema.validate(json.loads(pathlib.Path(a.json).read_text()), schema)
        result["json_schema"] = "valid"
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
