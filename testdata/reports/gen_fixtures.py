#!/usr/bin/env python3
"""Generate the synthetic attestation fixtures in this directory.

Everything here is made by this script: self-signed test keys and certificates, SNP reports signed
with the test "VCEK", TDX quotes and TDREPORTs with recognisable field patterns. Nothing comes from
AMD, Intel or real hardware. The fixtures are an independent encoding of the layouts (Python
`struct` and `cryptography` here, Rust in measure/src/report), checked against each other by
measure/tests/report_fixtures.rs using expected.json.

Needs: python3, openssl (CLI), `pip install cryptography sev-snp-measure==0.0.13`.
Run from anywhere:  python3 testdata/reports/gen_fixtures.py
Re-running replaces keys and signatures (ECDSA is randomised), so commit all outputs together.
"""

import datetime
import hashlib
import json
import pathlib
import struct
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID
from sevsnpmeasure.id_block import load_private_key_from_pem_file, pub_to_digest

HERE = pathlib.Path(__file__).resolve().parent


def pattern(label: str, n: int) -> bytes:
    """Deterministic, recognisable bytes for a field: SHA-384 chained over the label."""
    out = b""
    block = label.encode()
    while len(out) < n:
        block = hashlib.sha384(block).digest()
        out += block
    return out[:n]


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_keys() -> None:
    # The two shapes openssl users have: SEC1 with an EC PARAMETERS block in front (ecparam
    # -genkey), and PKCS#8 (genpkey).
    openssl("ecparam", "-name", "secp384r1", "-genkey", "-out", str(HERE / "id-key.pem"))
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", str(HERE / "author-key.pem"))
    # A key SNP must refuse (wrong curve).
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(HERE / "p256-key.pem"))


def self_signed(key, common_name: str):
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "prelaunch test fixtures"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=36500))
        .sign(key, hashes.SHA384())
    )


def make_certs():
    vcek_key = ec.generate_private_key(ec.SECP384R1())
    (HERE / "vcek-test-key.pem").write_bytes(vcek_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    cert = self_signed(vcek_key, "prelaunch TEST VCEK (not an AMD key)")
    (HERE / "vcek-test.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (HERE / "vcek-test.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    # A different P-384 certificate: signatures must not verify with it.
    other = self_signed(ec.generate_private_key(ec.SECP384R1()), "prelaunch TEST other P-384")
    (HERE / "other-p384.pem").write_bytes(other.public_bytes(serialization.Encoding.PEM))
    # A certificate whose key is not P-384.
    p256 = self_signed(ec.generate_private_key(ec.SECP256R1()), "prelaunch TEST P-256")
    (HERE / "p256-cert.pem").write_bytes(p256.public_bytes(serialization.Encoding.PEM))
    return vcek_key


def le72(n: int) -> bytes:
    return n.to_bytes(72, "little")


def snp_report(vcek_key, *, version, chip_id, cpuid, mit, id_key_digest, author_key_digest, label, key_info):
    f = {
        "version": version,
        "guest_svn": 7,
        "policy": 0x30000 | (1 << 19 if version >= 3 else 0),
        "family_id": pattern(label + "family", 16),
        "image_id": pattern(label + "image", 16),
        "vmpl": 1,
        "signature_algo": 1,
        "current_tcb": bytes([3, 0, 0, 0, 0, 0, 20, 209]),
        "platform_info": 0x25,
        "key_info": key_info,
        "report_data": pattern(label + "report_data", 64),
        "measurement": pattern(label + "measurement", 48),
        "host_data": pattern(label + "host_data", 32),
        "id_key_digest": id_key_digest,
        "author_key_digest": author_key_digest,
        "report_id": pattern(label + "report_id", 32),
        "report_id_ma": b"\xff" * 32,
        "reported_tcb": bytes([3, 0, 0, 0, 0, 0, 19, 208]),
        "chip_id": chip_id,
        "committed_tcb": bytes([2, 0, 0, 0, 0, 0, 18, 207]),
        "current_version": (1, 55, 21),
        "committed_version": (1, 55, 19),
        "launch_tcb": bytes([1, 0, 0, 0, 0, 0, 17, 206]),
    }
    b = bytearray(1184)
    struct.pack_into("<IIQ", b, 0x00, f["version"], f["guest_svn"], f["policy"])
    b[0x10:0x20] = f["family_id"]
    b[0x20:0x30] = f["image_id"]
    struct.pack_into("<II", b, 0x30, f["vmpl"], f["signature_algo"])
    b[0x38:0x40] = f["current_tcb"]
    struct.pack_into("<QI", b, 0x40, f["platform_info"], f["key_info"])
    b[0x50:0x90] = f["report_data"]
    b[0x90:0xC0] = f["measurement"]
    b[0xC0:0xE0] = f["host_data"]
    b[0xE0:0x110] = f["id_key_digest"]
    b[0x110:0x140] = f["author_key_digest"]
    b[0x140:0x160] = f["report_id"]
    b[0x160:0x180] = f["report_id_ma"]
    b[0x180:0x188] = f["reported_tcb"]
    if cpuid is not None:
        b[0x188:0x18B] = bytes(cpuid)
    b[0x1A0:0x1E0] = f["chip_id"]
    b[0x1E0:0x1E8] = f["committed_tcb"]
    maj, mino, build = f["current_version"]
    b[0x1E8:0x1EB] = bytes([build, mino, maj])
    maj, mino, build = f["committed_version"]
    b[0x1EC:0x1EF] = bytes([build, mino, maj])
    b[0x1F0:0x1F8] = f["launch_tcb"]
    if mit is not None:
        struct.pack_into("<QQ", b, 0x1F8, *mit)
    der = vcek_key.sign(bytes(b[:0x2A0]), ec.ECDSA(hashes.SHA384()))
    r, s = utils.decode_dss_signature(der)
    b[0x2A0:0x2E8] = le72(r)
    b[0x2E8:0x330] = le72(s)

    expected = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in f.items()}
    expected["current_version"] = list(f["current_version"])
    expected["committed_version"] = list(f["committed_version"])
    expected["cpuid"] = list(cpuid) if cpuid is not None else None
    expected["mit_vectors"] = list(mit) if mit is not None else None
    expected["signature_r"] = le72(r).hex()
    expected["signature_s"] = le72(s).hex()
    return bytes(b), expected


def td_body(label: str, v15: bool):
    f = {
        "tee_tcb_svn": pattern(label + "tee_tcb_svn", 16),
        "mr_seam": pattern(label + "mr_seam", 48),
        "mr_signer_seam": bytes(48),
        "seam_attributes": 0,
        "td_attributes": 0x10000000,
        "xfam": 0x61AE7,
        "mr_td": pattern(label + "mr_td", 48),
        "mr_config_id": pattern(label + "mr_config_id", 48),
        "mr_owner": pattern(label + "mr_owner", 48),
        "mr_owner_config": pattern(label + "mr_owner_config", 48),
        "rtmr": [pattern(label + f"rtmr{i}", 48) for i in range(4)],
        "report_data": pattern(label + "report_data", 64),
    }
    b = f["tee_tcb_svn"] + f["mr_seam"] + f["mr_signer_seam"]
    b += struct.pack("<QQQ", f["seam_attributes"], f["td_attributes"], f["xfam"])
    b += f["mr_td"] + f["mr_config_id"] + f["mr_owner"] + f["mr_owner_config"] + b"".join(f["rtmr"]) + f["report_data"]
    if v15:
        f["tee_tcb_svn2"] = pattern(label + "tee_tcb_svn2", 16)
        f["mr_servicetd"] = pattern(label + "mr_servicetd", 48)
        b += f["tee_tcb_svn2"] + f["mr_servicetd"]
    assert len(b) == (648 if v15 else 584)
    expected = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in f.items()}
    expected["rtmr"] = [r.hex() for r in f["rtmr"]]
    return b, expected


def tdx_quote(version: int, body_type: int, label: str):
    header = struct.pack("<HHIHH", version, 2, 0x81, 0, 0)
    header += bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")  # Intel's QE vendor ID
    header += pattern(label + "user_data", 20)
    body, expected = td_body(label, body_type == 3)
    descriptor = b"" if version == 4 else struct.pack("<HI", body_type, len(body))
    # Synthetic signature data shaped like ECDSA-P256 auth data: sig, attestation key, then
    # certification data type 6 with a made-up payload. Not signed by anything.
    cert_payload = pattern(label + "certification", 200)
    sig_data = pattern(label + "qe_sig", 64) + pattern(label + "att_key", 64) + struct.pack("<HI", 6, len(cert_payload)) + cert_payload
    quote = header + descriptor + body + struct.pack("<I", len(sig_data)) + sig_data
    expected.update({"version": version, "att_key_type": 2, "body_type": body_type,
                     "user_data": pattern(label + "user_data", 20).hex(), "signature_data_len": len(sig_data)})
    return quote, expected


def tdreport(version: int, label: str):
    b = bytearray(1024)
    b[0:4] = bytes([0x81, 0, version, 0])
    fields = {
        "cpu_svn": (16, pattern(label + "cpu_svn", 16)),
        "tee_tcb_info_hash": (32, pattern(label + "tee_tcb_info_hash", 48)),
        "tee_info_hash": (80, pattern(label + "tee_info_hash", 48)),
        "report_data": (128, pattern(label + "report_data", 64)),
        "mac": (224, pattern(label + "mac", 32)),
        "tee_tcb_svn": (256 + 8, pattern(label + "tee_tcb_svn", 16)),
        "mr_seam": (256 + 24, pattern(label + "mr_seam", 48)),
        "tee_tcb_svn2": (256 + 128, pattern(label + "tee_tcb_svn2", 16) if version else bytes(16)),
        "mr_td": (512 + 16, pattern(label + "mr_td", 48)),
        "mr_config_id": (512 + 64, pattern(label + "mr_config_id", 48)),
        "mr_owner": (512 + 112, pattern(label + "mr_owner", 48)),
        "mr_owner_config": (512 + 160, pattern(label + "mr_owner_config", 48)),
        "servtd_hash": (512 + 400, pattern(label + "servtd_hash", 48) if version else bytes(48)),
    }
    for off, v in fields.values():
        b[off:off + len(v)] = v
    rtmr = [pattern(label + f"rtmr{i}", 48) for i in range(4)]
    for i, r in enumerate(rtmr):
        b[512 + 208 + 48 * i:512 + 256 + 48 * i] = r
    b[256:264] = bytes([1, 0, 0, 0, 0, 0, 0, 0])  # TEE_TCB_INFO.VALID
    struct.pack_into("<Q", b, 256 + 120, 0)  # TEE_TCB_INFO.ATTRIBUTES
    struct.pack_into("<QQ", b, 512, 0x10000001, 0x61AE7)  # TD attributes (DEBUG set), XFAM
    expected = {k: v.hex() for k, (_, v) in fields.items()}
    expected.update({"version": version, "rtmr": [r.hex() for r in rtmr], "td_attributes": 0x10000001, "xfam": 0x61AE7})
    if not version:
        expected["servtd_hash"] = None
    return bytes(b), expected


def main() -> None:
    make_keys()
    vcek_key = make_certs()
    id_digest = pub_to_digest(load_private_key_from_pem_file(str(HERE / "id-key.pem")))
    author_digest = pub_to_digest(load_private_key_from_pem_file(str(HERE / "author-key.pem")))
    expected = {"snp": {}, "tdx_quote": {}, "tdreport": {}}

    genoa_chip = pattern("genoa chip", 64)
    turin_chip = pattern("turin chip", 8) + bytes(56)
    snp_cases = {
        # v2 with MASK_CHIP_ID: the sev crate cannot tell the TCB layout and refuses it.
        "snp-v2-masked-chip.bin": dict(version=2, chip_id=bytes(64), cpuid=None, mit=None, key_info=0b10),
        "snp-v2-genoa.bin": dict(version=2, chip_id=genoa_chip, cpuid=None, mit=None, key_info=0),
        "snp-v3-genoa-idblock.bin": dict(version=3, chip_id=genoa_chip, cpuid=(0x19, 0x11, 0x01), mit=None, key_info=0b1),
        "snp-v5-turin.bin": dict(version=5, chip_id=turin_chip, cpuid=(0x1A, 0x02, 0x00), mit=(0x3, 0x7), key_info=0),
    }
    for name, case in snp_cases.items():
        with_id = "idblock" in name
        report, exp = snp_report(
            vcek_key, label=name,
            id_key_digest=id_digest if with_id else bytes(48),
            author_key_digest=author_digest if with_id else bytes(48),
            **case)
        (HERE / name).write_bytes(report)
        expected["snp"][name] = exp

    for name, (version, body_type) in {
        "tdx-quote-v4.bin": (4, 2),
        "tdx-quote-v5-td10.bin": (5, 2),
        "tdx-quote-v5-td15.bin": (5, 3),
    }.items():
        quote, exp = tdx_quote(version, body_type, name)
        (HERE / name).write_bytes(quote)
        expected["tdx_quote"][name] = exp

    for name, version in {"tdreport-v0.bin": 0, "tdreport-v1.bin": 1}.items():
        report, exp = tdreport(version, name)
        (HERE / name).write_bytes(report)
        expected["tdreport"][name] = exp

    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
