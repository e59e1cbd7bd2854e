//! The PCK certificate: Intel's SGX extension (1.2.840.113741.1.13.1: FMSPC, PCE ID, CPUSVN,
//! PCESVN, as Intel's "PCK Certificate and CRL Profile" defines it) and its chain to the root.

use der::Decode;
use der::asn1::{Any, ObjectIdentifier, OctetStringRef};
use x509_cert::Certificate;

use crate::appraise::time::VerifyTime;
use crate::appraise::x509::{Anchor, TrustAnchors, common_name, extension, signed_by, valid_at};

const SGX_EXTENSION: &str = "1.2.840.113741.1.13.1";
const TCB: &str = "1.2.840.113741.1.13.1.2";
const PCESVN: &str = "1.2.840.113741.1.13.1.2.17";
const CPUSVN: &str = "1.2.840.113741.1.13.1.2.18";
const PCEID: &str = "1.2.840.113741.1.13.1.3";
const FMSPC: &str = "1.2.840.113741.1.13.1.4";

#[derive(der::Sequence)]
struct Entry {
    oid: ObjectIdentifier,
    value: Any,
}

/// The platform identity a PCK certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PckExtension {
    pub fmspc: [u8; 6],
    pub pce_id: [u8; 2],
    pub cpu_svn: [u8; 16],
    pub pce_svn: u16,
}

impl PckExtension {
    pub fn read(cert: &Certificate) -> Result<PckExtension, String> {
        let ext = extension(cert, SGX_EXTENSION).ok_or("the PCK certificate has no SGX extension (1.2.840.113741.1.13.1)")?;
        let entries = Vec::<Entry>::from_der(ext).map_err(|e| format!("SGX extension: {e}"))?;
        let find = |oid: &str, list: &[Entry]| list.iter().find(|e| crate::idblock::oid::is(&e.oid, oid)).map(|e| e.value.clone());
        let octets = |oid: &str, v: Option<Any>| -> Result<Vec<u8>, String> {
            let v = v.ok_or_else(|| format!("SGX extension: {oid} missing"))?;
            v.decode_as::<OctetStringRef<'_>>().map(|o| o.as_bytes().to_vec()).map_err(|e| format!("SGX extension {oid}: {e}"))
        };
        let fixed = |oid: &str, v: Vec<u8>, n: usize| -> Result<Vec<u8>, String> {
            if v.len() == n { Ok(v) } else { Err(format!("SGX extension {oid}: {} bytes, expected {n}", v.len())) }
        };
        let tcb = find(TCB, &entries).ok_or("SGX extension: TCB (1.2.840.113741.1.13.1.2) missing")?;
        let tcb = tcb.decode_as::<Vec<Entry>>().map_err(|e| format!("SGX extension TCB: {e}"))?;
        let pce_svn = find(PCESVN, &tcb)
            .ok_or("SGX extension: PCESVN missing")?
            .decode_as::<u16>()
            .map_err(|e| format!("SGX extension PCESVN: {e}"))?;
        let mut out = PckExtension { fmspc: [0; 6], pce_id: [0; 2], cpu_svn: [0; 16], pce_svn };
        out.fmspc.copy_from_slice(&fixed(FMSPC, octets(FMSPC, find(FMSPC, &entries))?, 6)?);
        out.pce_id.copy_from_slice(&fixed(PCEID, octets(PCEID, find(PCEID, &entries))?, 2)?);
        out.cpu_svn.copy_from_slice(&fixed(CPUSVN, octets(CPUSVN, find(CPUSVN, &tcb))?, 16)?);
        Ok(out)
    }
}

/// A PCK chain that verified: leaf, the PCK CA, and the anchor it ends at.
#[derive(Debug, Clone)]
pub struct PckChain {
    pub leaf: Certificate,
    pub ca: Certificate,
    pub root: Anchor,
}

/// Verifies `certs` (leaf first, as the quote carries them) to a trusted root. The quote's own copy
/// of the root is not trusted: the CA must be signed by a built-in or `--trust-root` anchor.
pub fn verify_chain(certs: &[Certificate], trust: &TrustAnchors, at: VerifyTime) -> Result<PckChain, String> {
    let [leaf, ca, ..] = certs else {
        return Err(format!("the PCK chain has {} certificate(s); expected the PCK, its CA and the root", certs.len()));
    };
    if leaf.tbs_certificate.issuer != ca.tbs_certificate.subject {
        return Err(format!(
            "the PCK is issued by {:?}, but the next certificate is {:?}",
            common_name(&leaf.tbs_certificate.issuer),
            common_name(&ca.tbs_certificate.subject)
        ));
    }
    signed_by(leaf, ca)?;
    let root = trust.issuer_of(ca).ok_or_else(|| {
        format!(
            "{} is not signed by a trusted root (Intel's built-in SGX Root CA; --trust-root adds one); it names {:?} as issuer",
            common_name(&ca.tbs_certificate.subject),
            common_name(&ca.tbs_certificate.issuer)
        )
    })?;
    for c in [leaf, ca, &root.cert] {
        valid_at(c, at)?;
    }
    Ok(PckChain { leaf: leaf.clone(), ca: ca.clone(), root: root.clone() })
}
