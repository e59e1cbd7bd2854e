//! The VCEK → ASK → ARK (VLEK → ASVK → ARK) chain, and revocation by the ARK's CRL.

use std::sync::Arc;

use x509_cert::Certificate;

use super::roots::builtin_products;
use super::vek::VekKind;
use crate::appraise::time::VerifyTime;
use crate::appraise::x509::{Anchor, CertStore, TrustAnchors, common_name, crl_check, crls_of, signed_by, valid_at};

/// A chain that verified, kept for the revocation check and messages.
#[derive(Debug, Clone)]
pub struct Chain {
    pub signer: Certificate,
    pub signer_source: String,
    pub root: Anchor,
}

/// Follows `vek` to a trusted root; the error says where and why the chain breaks.
pub fn verify(vek: &Certificate, kind: VekKind, store: &CertStore, trust: &TrustAnchors, at: VerifyTime) -> Result<Chain, String> {
    let issuer = &vek.tbs_certificate.issuer;
    let issuer_cn = common_name(issuer);
    // Candidates for the ASK/ASVK: the user's and the evidence's certificates, then the built-in
    // ASKs (VCEKs only: AMD's VLEK signers are not built in).
    let mut candidates: Vec<(Certificate, String)> = store.by_subject(issuer).map(|c| (c.cert.clone(), c.source.clone())).collect();
    if kind == VekKind::Vcek {
        for p in builtin_products() {
            if &p.ask.tbs_certificate.subject == issuer {
                candidates.push((p.ask.clone(), format!("built in ({})", p.name)));
            }
        }
    }
    if candidates.is_empty() {
        let what = if kind == VekKind::Vlek { "ASVK" } else { "ASK" };
        return Err(format!(
            "no certificate for the {}'s issuer {issuer_cn:?} (the {what}); give it with --certs (AMD's KDS serves it at /{}/v1/PRODUCT/cert_chain)",
            kind.name(),
            kind.name().to_lowercase()
        ));
    }
    // The most telling failure wins: a signer that signed the VEK but leads to an untrusted root
    // says more than another candidate whose signature does not fit.
    let mut last_err = String::new();
    let mut root_err = None;
    for (signer, signer_source) in candidates {
        if let Err(e) = signed_by(vek, &signer) {
            last_err = format!("{e} (from {signer_source})");
            continue;
        }
        let Some(root) = trust.issuer_of(&signer) else {
            let ark_cn = common_name(&signer.tbs_certificate.issuer);
            let given: Vec<&Arc<_>> = store.by_subject(&signer.tbs_certificate.issuer).collect();
            root_err = Some(match given.first() {
                Some(c) => format!(
                    "the chain ends at {ark_cn:?} from {}, which is not a trusted root: its key is not AMD's built-in ARK (--trust-root adds a root)",
                    c.source
                ),
                None => format!(
                    "{} from {signer_source} is not signed by any trusted root (AMD's built-in ARKs; --trust-root adds one)",
                    common_name(&signer.tbs_certificate.subject)
                ),
            });
            continue;
        };
        for (cert, what) in [(vek, kind.name()), (&signer, "signer"), (&root.cert, "root")] {
            valid_at(cert, at).map_err(|e| format!("{what}: {e}"))?;
        }
        return Ok(Chain { signer, signer_source, root: root.clone() });
    }
    Err(root_err.unwrap_or(last_err))
}

/// Revocation: the ARK's CRL must not list the signer (ASK/ASVK), and a CRL of the signer, if
/// given, must not list the VEK. `Ok(None)`: no CRL of the root was given.
pub fn revocation(vek: &Certificate, chain: &Chain, store: &CertStore, at: VerifyTime) -> Result<Option<String>, String> {
    let mut used = Vec::new();
    for crl in crls_of(store, &chain.root.cert) {
        crl_check(&crl.crl, &chain.signer, at)?;
        used.push(crl.source.clone());
    }
    if used.is_empty() {
        return Ok(None);
    }
    for crl in crls_of(store, &chain.signer) {
        crl_check(&crl.crl, vek, at)?;
        used.push(crl.source.clone());
    }
    Ok(Some(format!("not revoked by the CRL of {} ({})", common_name(&chain.root.cert.tbs_certificate.subject), used.join(", "))))
}
