#!/usr/bin/env python3
"""Self-made certificate hierarchies for prelaunch's verify tests (never AMD's or Intel's keys).

  forge.py snp-chain --out DIR --chip-id HEX --tcb BL,TEE,SNP,UCODE [--product Milan] [--revoke-ask]
      DIR/ark.pem, ask.pem (RSA-3072, RSASSA-PSS SHA-384 like AMD's, with AMD's names), vcek.pem and
      vcek-key.pem (P-384, with the hwID and TCB extensions given), crl.pem (the ARK's CRL; it lists
      the ASK with --revoke-ask).
  forge.py tdx-chain --out DIR [--fmspc HEX]
      DIR/root.pem, pck-ca.pem, pck.pem (P-256, Intel's names), pck-key.pem: a PCK chain to a self-made
      root, with an SGX extension (FMSPC, PCE ID, CPUSVN, PCESVN).

Keys are fresh each run: the tests check behaviour, not bytes. Needs `cryptography` (pip).
"""
import argparse
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
NOW = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def amd_name(cn):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Engineering"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Santa Clara"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Advanced Micro Devices"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def intel_name(cn):
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Intel Corporation"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Santa Clara"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
    ])


def der_int(v):
    body = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
    return bytes([0x02, len(body)]) + body


def der(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def der_oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    out = bytes([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(enc))
    return der(0x06, out)


def cert(subject, issuer, key, signer, sign_args, ca, extensions=(), days=3650):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(NOW)
         .not_valid_after(NOW + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    for oid, value in extensions:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False)
    h, pad = sign_args
    return b.sign(signer, h, rsa_padding=pad) if pad else b.sign(signer, h)


def write(out, name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def key_pem(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def snp_chain(a):
    ark_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    ask_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    vcek_key = ec.generate_private_key(ec.SECP384R1())
    pss = (hashes.SHA384(), PSS)
    ark_n, ask_n = amd_name(f"ARK-{a.product}"), amd_name(f"SEV-{a.product}")
    ark = cert(ark_n, ark_n, ark_key, ark_key, pss, True)
    ask = cert(ask_n, ark_n, ask_key, ark_key, pss, True)
    bl, tee, snp, ucode = (int(x, 0) for x in a.tcb.split(","))
    ext = [("1.3.6.1.4.1.3704.1.1", der_int(0)), ("1.3.6.1.4.1.3704.1.2", der(0x16, f"{a.product}-B0".encode())),
           ("1.3.6.1.4.1.3704.1.3.1", der_int(bl)), ("1.3.6.1.4.1.3704.1.3.2", der_int(tee)),
           ("1.3.6.1.4.1.3704.1.3.3", der_int(snp)), ("1.3.6.1.4.1.3704.1.3.8", der_int(ucode)),
           ("1.3.6.1.4.1.3704.1.4", bytes.fromhex(a.chip_id))]
    vcek = cert(amd_name("SEV-VCEK"), ask_n, vcek_key, ask_key, pss, False, ext)
    crl = x509.CertificateRevocationListBuilder().issuer_name(ark_n).last_update(NOW) \
        .next_update(NOW + datetime.timedelta(days=3650))
    if a.revoke_ask:
        crl = crl.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(ask.serial_number)
                                          .revocation_date(NOW).build())
    crl = crl.sign(ark_key, hashes.SHA384(), rsa_padding=PSS)
    write(a.out, "ark.pem", pem(ark))
    write(a.out, "ask.pem", pem(ask))
    write(a.out, "vcek.pem", pem(vcek))
    write(a.out, "vcek-key.pem", key_pem(vcek_key))
    write(a.out, "crl.pem", crl.public_bytes(serialization.Encoding.PEM))


def tdx_chain(a):
    root_key, ca_key, pck_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    sig = (hashes.SHA256(), None)
    root_n, ca_n = intel_name("Intel SGX Root CA"), intel_name("Intel SGX PCK Platform CA")
    root = cert(root_n, root_n, root_key, root_key, sig, True)
    ca = cert(ca_n, root_n, ca_key, root_key, sig, True)
    seq = lambda *items: der(0x30, b"".join(items))
    entry = lambda oid, value: seq(der_oid(oid), value)
    tcb = [entry(f"1.2.840.113741.1.13.1.2.{i + 1}", der_int(1)) for i in range(16)]
    tcb.append(entry("1.2.840.113741.1.13.1.2.17", der_int(13)))
    tcb.append(entry("1.2.840.113741.1.13.1.2.18", der(0x04, bytes([1] * 16))))
    sgx = seq(entry("1.2.840.113741.1.13.1.1", der(0x04, bytes(16))), entry("1.2.840.113741.1.13.1.2", seq(*tcb)),
              entry("1.2.840.113741.1.13.1.3", der(0x04, bytes(2))),
              entry("1.2.840.113741.1.13.1.4", der(0x04, bytes.fromhex(a.fmspc))),
              entry("1.2.840.113741.1.13.1.5", der(0x0A, b"\x00")))
    pck = cert(intel_name("Intel SGX PCK Certificate"), ca_n, pck_key, ca_key, sig, False,
               [("1.2.840.113741.1.13.1", sgx)])
    write(a.out, "root.pem", pem(root))
    write(a.out, "pck-ca.pem", pem(ca))
    write(a.out, "pck.pem", pem(pck))
    write(a.out, "pck-key.pem", key_pem(pck_key))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snp-chain")
    s.add_argument("--out", required=True)
    s.add_argument("--chip-id", required=True)
    s.add_argument("--tcb", required=True)
    s.add_argument("--product", default="Milan")
    s.add_argument("--revoke-ask", action="store_true")
    t = sub.add_parser("tdx-chain")
    t.add_argument("--out", required=True)
    t.add_argument("--fmspc", default="B0C06F000000")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    {"snp-chain": snp_chain, "tdx-chain": tdx_chain}[a.cmd](a)


if __name__ == "__main__":
    main()
