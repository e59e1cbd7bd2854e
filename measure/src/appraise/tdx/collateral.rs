//! TDX collateral in the QuoteCollateralV3 JSON shape (as dcap-qvl and PCCS clients store what
//! Intel's PCS serves): TCB info and QE identity (the exact JSON text Intel signed), their
//! signatures (hex r || s) and issuer chains (PEM), the PCK and root CRLs (hex DER, or PEM).

use serde::Deserialize;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::der::Decode;

use crate::appraise::crypto::{self, Scheme};
use crate::appraise::time::VerifyTime;
use crate::appraise::x509::{Anchor, CertStore, TrustAnchors, common_name, crl_from_pem, valid_at};

/// Largest collateral file read (real ones are 15-25 KB; the PCK CRL grows slowly).
pub const MAX_COLLATERAL_LEN: usize = 4 << 20;

#[derive(Debug, Clone, Deserialize)]
struct Raw {
    pck_crl_issuer_chain: String,
    root_ca_crl: String,
    pck_crl: String,
    tcb_info_issuer_chain: String,
    tcb_info: String,
    tcb_info_signature: String,
    qe_identity_issuer_chain: String,
    qe_identity: String,
    qe_identity_signature: String,
    #[serde(default)]
    pck_certificate_chain: Option<String>,
}

/// Collateral, decoded but not yet verified.
#[derive(Debug, Clone)]
pub struct Collateral {
    pub pck_crl_issuer_chain: Vec<Certificate>,
    pub root_ca_crl: CertificateList,
    pub pck_crl: CertificateList,
    pub tcb_info_issuer_chain: Vec<Certificate>,
    pub tcb_info_text: String,
    pub tcb_info: TcbInfo,
    pub tcb_info_signature: Vec<u8>,
    pub qe_identity_issuer_chain: Vec<Certificate>,
    pub qe_identity_text: String,
    pub qe_identity: QeIdentity,
    pub qe_identity_signature: Vec<u8>,
    pub pck_certificate_chain: Option<Vec<Certificate>>,
}

/// Why collateral could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("collateral: {0}")]
pub struct CollateralError(pub String);

fn err(s: impl Into<String>) -> CollateralError {
    CollateralError(s.into())
}

impl Collateral {
    pub fn parse(json: &[u8]) -> Result<Collateral, CollateralError> {
        if json.len() > MAX_COLLATERAL_LEN {
            return Err(err(format!("{} bytes, more than the {MAX_COLLATERAL_LEN} accepted", json.len())));
        }
        let raw: Raw = serde_json::from_slice(json).map_err(|e| err(format!("not the QuoteCollateralV3 JSON shape: {e}")))?;
        let certs = |field: &str, pem: &str| -> Result<Vec<Certificate>, CollateralError> {
            let mut s = CertStore::default();
            s.add(pem.as_bytes(), field).map_err(|e| err(e.to_string()))?;
            Ok(s.certs.iter().map(|c| c.cert.clone()).collect())
        };
        let crl = |field: &str, v: &str| -> Result<CertificateList, CollateralError> {
            let v = v.trim();
            if v.starts_with("-----BEGIN") {
                return crl_from_pem(v).map_err(|e| err(format!("{field}: PEM CRL: {e}")));
            }
            let der = hex::decode(v).map_err(|e| err(format!("{field}: neither hex DER nor PEM ({e})")))?;
            CertificateList::from_der(&der).map_err(|e| err(format!("{field}: DER CRL: {e}")))
        };
        let sig = |field: &str, v: &str| -> Result<Vec<u8>, CollateralError> {
            let b = hex::decode(v.trim()).map_err(|e| err(format!("{field}: not hex ({e})")))?;
            if b.len() != 64 {
                return Err(err(format!("{field}: {} bytes, expected 64 (ECDSA P-256 r || s)", b.len())));
            }
            Ok(b)
        };
        let tcb_info: TcbInfo = serde_json::from_str(&raw.tcb_info).map_err(|e| {
            let hint = if raw.tcb_info.contains("\"tcbInfo\"") {
                " (give the text of the tcbInfo object, not the PCS response around it)"
            } else {
                ""
            };
            err(format!("tcb_info: {e}{hint}"))
        })?;
        let qe_identity: QeIdentity = serde_json::from_str(&raw.qe_identity).map_err(|e| {
            let hint = if raw.qe_identity.contains("\"enclaveIdentity\"") { " (give the text of the enclaveIdentity object)" } else { "" };
            err(format!("qe_identity: {e}{hint}"))
        })?;
        Ok(Collateral {
            pck_crl_issuer_chain: certs("pck_crl_issuer_chain", &raw.pck_crl_issuer_chain)?,
            root_ca_crl: crl("root_ca_crl", &raw.root_ca_crl)?,
            pck_crl: crl("pck_crl", &raw.pck_crl)?,
            tcb_info_issuer_chain: certs("tcb_info_issuer_chain", &raw.tcb_info_issuer_chain)?,
            tcb_info_signature: sig("tcb_info_signature", &raw.tcb_info_signature)?,
            tcb_info_text: raw.tcb_info,
            tcb_info,
            qe_identity_issuer_chain: certs("qe_identity_issuer_chain", &raw.qe_identity_issuer_chain)?,
            qe_identity_signature: sig("qe_identity_signature", &raw.qe_identity_signature)?,
            qe_identity_text: raw.qe_identity,
            qe_identity,
            pck_certificate_chain: raw.pck_certificate_chain.map(|p| certs("pck_certificate_chain", &p)).transpose()?,
        })
    }

    /// Checks both signed structures: issuer chain to a trusted root, signature, validity window.
    pub fn verify(&self, trust: &TrustAnchors, at: VerifyTime) -> Result<String, String> {
        let t = &self.tcb_info;
        let q = &self.qe_identity;
        let tcb_root = signed_json("TCB info", &self.tcb_info_text, &self.tcb_info_signature, &self.tcb_info_issuer_chain, trust, at)?;
        window("TCB info", &t.issue_date, &t.next_update, at)?;
        signed_json("QE identity", &self.qe_identity_text, &self.qe_identity_signature, &self.qe_identity_issuer_chain, trust, at)?;
        window("QE identity", &q.issue_date, &q.next_update, at)?;
        if t.id != "TDX" || t.version < 3 {
            return Err(format!("the TCB info is for {:?} version {}, not TDX (version 3)", t.id, t.version));
        }
        if q.id != "TD_QE" {
            return Err(format!("the QE identity is for {:?}, not the TD quoting enclave (TD_QE)", q.id));
        }
        Ok(format!(
            "TCB info (FMSPC {}, evaluation data {}, valid {} to {}) and QE identity signed by {}",
            t.fmspc, t.tcb_evaluation_data_number, t.issue_date, t.next_update, tcb_root.name
        ))
    }
}

fn signed_json(what: &str, text: &str, sig: &[u8], chain: &[Certificate], trust: &TrustAnchors, at: VerifyTime) -> Result<Anchor, String> {
    let signer = chain.first().ok_or_else(|| format!("{what}: the issuer chain is empty"))?;
    let root = trust
        .issuer_of(signer)
        .ok_or_else(|| format!("{what}: the signer {} is not signed by a trusted root", common_name(&signer.tbs_certificate.subject)))?;
    valid_at(signer, at).map_err(|e| format!("{what} signer: {e}"))?;
    valid_at(&root.cert, at).map_err(|e| format!("{what} root: {e}"))?;
    let key = signer.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    if !crypto::verify(Scheme::EcdsaP256Sha256Fixed, key, text.as_bytes(), sig) {
        return Err(format!(
            "{what}: the signature does not verify with {} (modified collateral)",
            common_name(&signer.tbs_certificate.subject)
        ));
    }
    Ok(root.clone())
}

fn window(what: &str, issue: &str, next: &str, at: VerifyTime) -> Result<(), String> {
    let parse = |s: &str| VerifyTime::parse_rfc3339(s).map_err(|e| format!("{what}: {e}"));
    let (from, to) = (parse(issue)?, parse(next)?);
    if at < from {
        return Err(format!("{what} was issued at {from}, after the verification time {at}"));
    }
    if at > to {
        return Err(format!("{what} expired at {to} (verification time {at}; fresh collateral, or --at, is needed)"));
    }
    Ok(())
}

/// TCB info, version 3 (TDX).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbInfo {
    pub id: String,
    pub version: u32,
    pub issue_date: String,
    pub next_update: String,
    pub fmspc: String,
    pub pce_id: String,
    #[serde(default)]
    pub tcb_evaluation_data_number: u32,
    pub tcb_levels: Vec<TcbLevel>,
    #[serde(default)]
    pub tdx_module: Option<TdxModule>,
    #[serde(default)]
    pub tdx_module_identities: Vec<TdxModuleIdentity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcbLevel {
    pub tcb: Tcb,
    pub tcb_date: String,
    pub tcb_status: String,
    #[serde(rename = "advisoryIDs", default)]
    pub advisory_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tcb {
    pub sgxtcbcomponents: Vec<Svn>,
    pub pcesvn: u16,
    #[serde(default)]
    pub tdxtcbcomponents: Vec<Svn>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Svn {
    pub svn: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModule {
    pub mrsigner: String,
    pub attributes: String,
    pub attributes_mask: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TdxModuleIdentity {
    pub id: String,
    pub mrsigner: String,
    pub attributes: String,
    pub attributes_mask: String,
    pub tcb_levels: Vec<ModuleTcbLevel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleTcbLevel {
    pub tcb: IsvSvn,
    pub tcb_date: String,
    pub tcb_status: String,
    #[serde(rename = "advisoryIDs", default)]
    pub advisory_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct IsvSvn {
    pub isvsvn: u16,
}

/// QE identity, version 2.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QeIdentity {
    pub id: String,
    pub version: u32,
    pub issue_date: String,
    pub next_update: String,
    #[serde(default)]
    pub tcb_evaluation_data_number: u32,
    pub miscselect: String,
    pub miscselect_mask: String,
    pub attributes: String,
    pub attributes_mask: String,
    pub mrsigner: String,
    pub isvprodid: u16,
    pub tcb_levels: Vec<ModuleTcbLevel>,
}
