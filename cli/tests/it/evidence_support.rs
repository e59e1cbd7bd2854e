//! Helpers for the tests on real evidence: where it is, its manifest, verify's JSON verdict, and
//! the forging tools (re-signing, rebuilding a quote's signature data, self-made hierarchies).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;
use serde_json::Value;

pub fn evidence(name: &str) -> PathBuf {
    evidence_dir().join(name)
}

pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn manifest() -> Value {
    serde_json::from_slice(&read(&evidence("manifest.json"))).expect("manifest.json")
}

pub fn item(id: &str) -> Value {
    manifest()["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap_or_else(|| panic!("no item {id}")).clone()
}

/// Runs `verify ... --json` and returns the output and its document.
pub fn verify_json(args: &[&str]) -> (Output, Value) {
    let mut a = vec!["verify", "--json"];
    a.extend(args);
    let o = prelaunch(&a);
    let doc = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o, doc)
}

pub fn check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"].as_array().and_then(|c| c.iter().find(|c| c["check"] == name)).unwrap_or_else(|| panic!("no check {name} in {doc}"))
}

/// The checks that neither passed nor were waived.
pub fn failing(doc: &Value) -> Vec<String> {
    doc["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter(|c| c["status"] != "pass" && c["status"] != "waived")
                .map(|c| c["check"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// Runs testdata/attest/forge.py (python3 with `cryptography`; its absence fails the test).
pub fn forge(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/attest/forge.py");
    let o = std::process::Command::new("python3").arg(&script).args(args).output().expect("python3");
    assert!(o.status.success(), "forge.py {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// The DER inside the first PEM block of `pem`.
pub fn pem_der(pem: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let text = String::from_utf8_lossy(pem);
    let body: String =
        text.lines().skip_while(|l| !l.starts_with("-----BEGIN")).skip(1).take_while(|l| !l.starts_with("-----END")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).expect("PEM base64")
}

/// The parts of a TDX quote's signature data, to rebuild forged variants.
pub struct QuoteParts {
    pub signed: Vec<u8>,
    pub signature: Vec<u8>,
    pub att_key: Vec<u8>,
    pub qe_report: Vec<u8>,
    pub qe_sig: Vec<u8>,
    pub auth: Vec<u8>,
    pub pem: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

impl QuoteParts {
    pub fn split(q: &[u8]) -> QuoteParts {
        let signed_len = if u16_at(q, 0) == 4 { 48 + 584 } else { 54 + u32_at(q, 50) };
        let s = &q[signed_len + 4..];
        let outer = &s[134..];
        let auth_len = u16_at(outer, 448);
        let inner = 450 + auth_len;
        let pem_len = u32_at(outer, inner + 2);
        QuoteParts {
            signed: q[..signed_len].to_vec(),
            signature: s[..64].to_vec(),
            att_key: s[64..128].to_vec(),
            qe_report: outer[..384].to_vec(),
            qe_sig: outer[384..448].to_vec(),
            auth: outer[450..inner].to_vec(),
            pem: outer[inner + 6..inner + 6 + pem_len].to_vec(),
        }
    }

    pub fn join(&self) -> Vec<u8> {
        let mut cert5 = 5u16.to_le_bytes().to_vec();
        cert5.extend((self.pem.len() as u32).to_le_bytes());
        cert5.extend(&self.pem);
        let mut qe = [&self.qe_report[..], &self.qe_sig].concat();
        qe.extend((self.auth.len() as u16).to_le_bytes());
        qe.extend(&self.auth);
        qe.extend(cert5);
        let mut sig = [&self.signature[..], &self.att_key].concat();
        sig.extend(6u16.to_le_bytes());
        sig.extend((qe.len() as u32).to_le_bytes());
        sig.extend(qe);
        let mut out = self.signed.clone();
        out.extend((sig.len() as u32).to_le_bytes());
        out.extend(sig);
        out
    }
}

/// ECDSA P-256 r || s of `msg` with a PKCS#8 key.
pub fn p256_sign(pkcs8: &[u8], msg: &[u8]) -> Vec<u8> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let k = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).expect("P-256 key");
    k.sign(&aws_lc_rs::rand::SystemRandom::new(), msg).expect("sign").as_ref().to_vec()
}

/// A fresh P-256 key: PKCS#8 and the raw x || y public key.
pub fn p256_key() -> (Vec<u8>, Vec<u8>) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let k = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    (doc.as_ref().to_vec(), k.public_key().as_ref()[1..].to_vec())
}

pub fn sha256(b: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref().to_vec()
}
