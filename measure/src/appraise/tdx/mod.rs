//! TDX quote appraisal (see [`super`]): [`appraise_quote`] runs every check on one quote;
//! [`appraise_tdreport`] says what can and cannot be checked of a raw TDREPORT.

pub mod collateral;
pub mod expect;
pub mod pck;
pub mod root;
pub mod tcb;

use x509_cert::Certificate;

use self::collateral::Collateral;
use self::pck::{PckChain, PckExtension};
use super::crypto::{self, Scheme};
use super::expect::{Expectations, Waivers};
use super::time::VerifyTime;
use super::verdict::{Class, Verdict, Waiver};
use super::x509::{CertStore, TrustAnchors, common_name, crl_check, crl_signed_by};
use crate::report::{QuoteSignature, TdReport, TdxQuote};

/// Everything appraisal needs besides the quote.
pub struct Context<'a> {
    pub trust: &'a TrustAnchors,
    pub collateral: Option<&'a Collateral>,
    /// CRLs given besides the collateral's (`--crl`, `--certs`).
    pub store: &'a CertStore,
    pub expect: &'a Expectations,
    pub waivers: Waivers,
    pub at: VerifyTime,
}

const AUTH_CHECKS: [&str; 9] = [
    "tdx.quote-signature",
    "tdx.qe-report-signature",
    "tdx.qe-report-binding",
    "tdx.pck-chain",
    "tdx.revocation",
    "tdx.collateral",
    "tdx.qe-identity",
    "tdx.module-identity",
    "tdx.tcb-status",
];

/// Runs every check on a quote (`raw` as read, for the signed bytes).
pub fn appraise_quote(q: &TdxQuote, raw: &[u8], cx: &Context<'_>) -> Verdict {
    let mut v = Verdict::default();
    if let Some(t) = q.trailing {
        v.warn(t.to_string());
    }
    if cx.waivers.measurement_only {
        for c in AUTH_CHECKS {
            v.not_run(c, Class::Authenticity, "not checked", Waiver::Given("--measurement-only"));
        }
    } else {
        authenticity(q, raw, cx, &mut v);
    }
    expect::appraise(&q.body, cx.expect, &mut v);
    v
}

/// A TDREPORT's MAC is keyed to the platform that made it: off that platform nothing shows it
/// genuine, so authenticity cannot pass unless waived.
pub fn appraise_tdreport(r: &TdReport, cx: &Context<'_>) -> Verdict {
    let mut v = Verdict::default();
    v.not_run(
        "tdx.tdreport-mac",
        Class::Authenticity,
        "a TDREPORT's MAC can only be checked by the TDX module of the machine that made it; verify a quote of it instead",
        Waiver::by("--measurement-only", cx.waivers.measurement_only),
    );
    expect::appraise_fields(&r.td_info.mr_td, r.td_info.attributes, &r.td_info.rtmr, &r.report_data, cx.expect, &mut v);
    v
}

fn authenticity(q: &TdxQuote, raw: &[u8], cx: &Context<'_>, v: &mut Verdict) {
    let a = Class::Authenticity;
    let sig = match q.signature() {
        Ok(s) => s,
        Err(e) => {
            for c in AUTH_CHECKS {
                v.fail(c, a, e.to_string());
            }
            return;
        }
    };
    // Intel's quoting enclaves sign with P-256; P-384 (type 3) is defined but never produced.
    if q.att_key_type != 2 {
        v.fail("tdx.quote-signature", a, format!("ATT_KEY_TYPE is {}, only 2 (ECDSA P-256) is supported", q.att_key_type));
    } else {
        v.result("tdx.quote-signature", a, quote_signature(q, raw, &sig));
    }
    v.result("tdx.qe-report-binding", a, binding(&sig));
    let chain_certs = match pck_certs(&sig, cx.collateral) {
        Ok(c) => c,
        Err(e) => {
            v.fail("tdx.qe-report-signature", a, e.clone());
            v.fail("tdx.pck-chain", a, e);
            return;
        }
    };
    let chain = pck::verify_chain(&chain_certs, cx.trust, cx.at);
    let leaf = chain.as_ref().map_or(chain_certs.first(), |c| Some(&c.leaf));
    v.result("tdx.qe-report-signature", a, leaf.map_or(Err("no PCK certificate".into()), |l| qe_report_signature(&sig, l)));
    let chain = match chain {
        Ok(c) => {
            v.pass(
                "tdx.pck-chain",
                a,
                format!("PCK <- {} <- {}, ECDSA P-256, valid at {}", common_name(&c.ca.tbs_certificate.subject), c.root.name, cx.at),
            );
            c
        }
        Err(e) => {
            v.fail("tdx.pck-chain", a, e);
            let why = "the PCK chain did not verify";
            v.not_run("tdx.revocation", a, why, Waiver::by("--no-crl", cx.waivers.no_crl));
            for c in &AUTH_CHECKS[5..] {
                v.not_run(*c, a, why, Waiver::by("--no-tcb", cx.waivers.no_tcb));
            }
            return;
        }
    };
    v.result_or_not_run(
        "tdx.revocation",
        a,
        revocation(&chain, cx),
        "no CRL of the root or the PCK CA (they come with --collateral; --crl adds others)",
        Waiver::by("--no-crl", cx.waivers.no_crl),
    );
    collateral_checks(q, &sig, &chain, cx, v);
}

fn collateral_checks(q: &TdxQuote, sig: &QuoteSignature, chain: &PckChain, cx: &Context<'_>, v: &mut Verdict) {
    let a = Class::Authenticity;
    let Some(c) = cx.collateral else {
        let why = "no collateral (TCB info, QE identity): give --collateral FILE (QuoteCollateralV3 JSON)";
        for check in ["tdx.collateral", "tdx.qe-identity", "tdx.module-identity", "tdx.tcb-status"] {
            v.not_run(check, a, why, Waiver::by("--no-tcb", cx.waivers.no_tcb));
        }
        return;
    };
    let collateral_ok = c.verify(cx.trust, cx.at);
    let ok = collateral_ok.is_ok();
    v.result("tdx.collateral", a, collateral_ok);
    if !ok {
        for check in ["tdx.qe-identity", "tdx.module-identity", "tdx.tcb-status"] {
            v.not_run(check, a, "the collateral did not verify", Waiver::by("--no-tcb", cx.waivers.no_tcb));
        }
        return;
    }
    v.result("tdx.qe-identity", a, tcb::qe_identity(c, &sig.qe.qe_report));
    v.result("tdx.module-identity", a, tcb::module_identity(c, &q.body));
    let status = PckExtension::read(&chain.leaf).and_then(|pck| tcb::status(c, &pck, &q.body, &sig.qe.qe_report));
    match status {
        Err(e) => v.fail("tdx.tcb-status", a, e),
        Ok(t) => {
            let adv = if t.advisories.is_empty() { String::new() } else { format!(" (advisories {})", t.advisories.join(", ")) };
            let accepted =
                t.status == tcb::Status::UpToDate || cx.expect.accept_tcb_status.iter().any(|s| s.eq_ignore_ascii_case(t.status.name()));
            let msg = format!("TCB status {}{adv}: {}", t.status.name(), t.detail);
            if t.status == tcb::Status::Revoked {
                v.fail("tdx.tcb-status", a, format!("{msg}: the platform's keys are revoked"));
            } else if accepted {
                v.pass("tdx.tcb-status", Class::Expectation, msg);
            } else {
                v.fail(
                    "tdx.tcb-status",
                    Class::Expectation,
                    format!("{msg}; only UpToDate is accepted unless --accept-tcb-status names it"),
                );
            }
        }
    }
}

fn quote_signature(q: &TdxQuote, raw: &[u8], sig: &QuoteSignature) -> Result<String, String> {
    let key = [&[4u8][..], &sig.attestation_key].concat();
    let signed = raw.get(..q.signed_len).ok_or("the quote is shorter than its signed part")?;
    if crypto::verify(Scheme::EcdsaP256Sha256Fixed, &key, signed, &sig.signature) {
        Ok(format!("ECDSA P-256 over bytes 0..{:#x} (header and body) verifies with the attestation key", q.signed_len))
    } else {
        Err(format!(
            "the quote signature does not verify over bytes 0..{:#x} with the attestation key (a modified header or body)",
            q.signed_len
        ))
    }
}

fn binding(sig: &QuoteSignature) -> Result<String, String> {
    let h = crypto::sha256(&[&sig.attestation_key[..], &sig.qe.qe_auth_data].concat());
    let rd = &sig.qe.qe_report.report_data;
    if rd[..32] == h && rd[32..].iter().all(|&b| b == 0) {
        Ok("QE REPORTDATA = SHA-256(attestation key || QE authentication data) || zeros".into())
    } else {
        Err(format!(
            "QE REPORTDATA {} is not SHA-256(attestation key || QE authentication data) {} followed by zeros: the attestation key is not the one this QE certified",
            hex::encode(rd),
            hex::encode(h)
        ))
    }
}

fn pck_certs(sig: &QuoteSignature, collateral: Option<&Collateral>) -> Result<Vec<Certificate>, String> {
    if let Some(pem) = sig.pck_chain_pem() {
        let mut s = CertStore::default();
        s.add(pem, "the quote's PCK chain").map_err(|e| e.to_string())?;
        return Ok(s.certs.iter().map(|c| c.cert.clone()).collect());
    }
    collateral.and_then(|c| c.pck_certificate_chain.clone()).ok_or_else(|| {
        format!(
            "the quote carries certification data type {}, not the PCK chain (type 5), and the collateral has no pck_certificate_chain",
            sig.qe.certification.cert_type
        )
    })
}

fn qe_report_signature(sig: &QuoteSignature, pck: &Certificate) -> Result<String, String> {
    let key = pck.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    if crypto::verify(Scheme::EcdsaP256Sha256Fixed, key, &sig.qe.qe_report_raw, &sig.qe.qe_report_signature) {
        Ok("the QE report's ECDSA P-256 signature verifies with the PCK".into())
    } else {
        Err("the QE report's signature does not verify with the PCK certificate's key".into())
    }
}

/// CRLs: the root CA's must not list the PCK CA, the PCK CA's must not list the PCK. `Ok(None)`
/// when there is no CRL at all.
fn revocation(chain: &PckChain, cx: &Context<'_>) -> Result<Option<String>, String> {
    let mut crls: Vec<(&x509_cert::crl::CertificateList, String)> = Vec::new();
    if let Some(c) = cx.collateral {
        crls.push((&c.root_ca_crl, "the collateral's root_ca_crl".into()));
        crls.push((&c.pck_crl, "the collateral's pck_crl".into()));
    }
    crls.extend(cx.store.crls.iter().map(|c| (&c.crl, c.source.clone())));
    if crls.is_empty() {
        return Ok(None);
    }
    let mut covered = (false, false);
    for (crl, source) in crls {
        let issuer = &crl.tbs_cert_list.issuer;
        let (signer, subject, slot) = if issuer == &chain.root.cert.tbs_certificate.subject {
            (&chain.root.cert, &chain.ca, 0)
        } else if issuer == &chain.ca.tbs_certificate.subject {
            (&chain.ca, &chain.leaf, 1)
        } else {
            continue;
        };
        crl_signed_by(crl, signer).map_err(|e| format!("{source}: {e}"))?;
        crl_check(crl, subject, cx.at).map_err(|e| format!("{source}: {e}"))?;
        if slot == 0 { covered.0 = true } else { covered.1 = true }
    }
    match covered {
        (true, true) => Ok(Some(format!("neither {} nor the PCK is revoked", common_name(&chain.ca.tbs_certificate.subject)))),
        (false, false) => Ok(None),
        (root, _) => Err(format!(
            "only the CRL of {} was given; the {} one is needed too",
            if root { "the root" } else { "the PCK CA" },
            if root { "PCK CA's" } else { "root's" }
        )),
    }
}
