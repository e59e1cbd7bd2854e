//! SEV-SNP report appraisal (see [`super`]): [`appraise`] runs every check on one report.

pub mod chain;
pub mod expect;
pub mod roots;
pub mod vek;

use std::collections::HashMap;
use std::sync::Arc;

use x509_cert::Certificate;

use self::vek::{VekExtensions, VekKind};
use super::crypto::{self, Scheme};
use super::expect::{Expectations, Waivers};
use super::time::VerifyTime;
use super::verdict::{Check, Class, Verdict, Waiver};
use super::x509::{CertStore, StoredCert, TrustAnchors, common_name};
use crate::idblock::oid;
use crate::idblock::signature::from_le72;
use crate::report::snp_report::SNP_SIGNED_LEN;
use crate::report::{CertTable, SigningKey, SnpReport, TcbLayout};

/// Chain and revocation results by VEK, so that a batch of reports from the same machines checks
/// each chain once (the certificates and the time do not change within a run).
#[derive(Debug, Default)]
pub struct ChainCache {
    results: HashMap<Vec<u8>, Vec<Check>>,
}

/// One report and what came with it.
pub struct SnpEvidence<'a> {
    /// The 1184 bytes as read: the signature covers `raw[..0x2A0]`.
    pub raw: &'a [u8],
    pub report: &'a SnpReport,
    /// The extended report's certificate table, when the evidence file carries one.
    pub table: Option<&'a CertTable>,
}

/// Everything appraisal needs besides the evidence.
pub struct Context<'a> {
    pub store: &'a CertStore,
    pub trust: &'a TrustAnchors,
    pub expect: &'a Expectations,
    pub waivers: Waivers,
    pub at: VerifyTime,
}

/// Runs every check on `ev`. The verdict lists authenticity first, then the expectations.
pub fn appraise(ev: &SnpEvidence<'_>, cx: &Context<'_>, cache: &mut ChainCache) -> Verdict {
    let mut v = Verdict::default();
    let r = ev.report;
    if cx.waivers.measurement_only {
        for c in ["snp.report-signature", "snp.key-kind", "snp.cert-chain", "snp.chip-id", "snp.reported-tcb", "snp.revocation"] {
            v.not_run(c, Class::Authenticity, "not checked", Waiver::Given("--measurement-only"));
        }
    } else {
        authenticity(ev, cx, cache, &mut v);
    }
    expect::appraise(r, cx.expect, &mut v);
    v
}

fn authenticity(ev: &SnpEvidence<'_>, cx: &Context<'_>, cache: &mut ChainCache, v: &mut Verdict) {
    let r = ev.report;
    let a = Class::Authenticity;
    let want = match r.signing_key() {
        SigningKey::Vcek => VekKind::Vcek,
        SigningKey::Vlek => VekKind::Vlek,
        other => {
            let why = match other {
                SigningKey::None => "KEY_INFO.SIGNING_KEY is 7: the firmware did not sign this report".to_string(),
                _ => format!("KEY_INFO.SIGNING_KEY is {other:?}, a reserved value (0 VCEK, 1 VLEK, 7 none)"),
            };
            v.fail("snp.key-kind", a, why);
            return;
        }
    };
    // The evidence's own certificates join the user's for this report only.
    let local;
    let store = match ev.table {
        Some(t) if !t.entries.is_empty() => {
            let mut s = cx.store.clone();
            for e in &t.entries {
                if let Err(err) = s.add(&e.data, "the report's certificate table") {
                    v.warn(err.to_string());
                }
            }
            local = s;
            &local
        }
        _ => cx.store,
    };
    let Some(vek) = pick_vek(ev, store, want) else {
        let hint = kds_hint(r, want);
        for c in ["snp.report-signature", "snp.key-kind", "snp.cert-chain", "snp.chip-id", "snp.reported-tcb", "snp.revocation"] {
            v.not_run(
                c,
                a,
                &format!("no {} certificate: give it with --certs{hint}", want.name()),
                Waiver::Available("--measurement-only"),
            );
        }
        return;
    };
    let vek_kind = VekKind::of(&vek.cert);
    v.result("snp.report-signature", a, report_signature(ev, &vek));
    v.result(
        "snp.key-kind",
        a,
        match vek_kind {
            Some(k) if k == want => Ok(format!("KEY_INFO.SIGNING_KEY names the {}, and {} holds one", want.name(), vek.source)),
            Some(k) => {
                Err(format!("KEY_INFO.SIGNING_KEY names the {}, but the certificate ({}) is a {}", want.name(), vek.source, k.name()))
            }
            None => {
                Err(format!("the certificate ({}) is {:?}, not a VCEK or VLEK", vek.source, common_name(&vek.cert.tbs_certificate.subject)))
            }
        },
    );
    let kind = vek_kind.unwrap_or(want);
    let chain_checks = cache.results.entry(vek.der.clone()).or_insert_with(|| chain_checks(&vek.cert, kind, store, cx)).clone();
    v.checks.extend(chain_checks);
    let exts = VekExtensions::read(&vek.cert);
    v.result("snp.chip-id", a, chip_id(r, kind, &exts));
    v.result("snp.reported-tcb", a, reported_tcb(r, &exts));
}

fn chain_checks(vek: &Certificate, kind: VekKind, store: &CertStore, cx: &Context<'_>) -> Vec<Check> {
    let mut v = Verdict::default();
    let a = Class::Authenticity;
    match chain::verify(vek, kind, store, cx.trust, cx.at) {
        Ok(c) => {
            v.pass(
                "snp.cert-chain",
                a,
                format!(
                    "{} <- {} ({}) <- {}, RSASSA-PSS, valid at {}",
                    kind.name(),
                    common_name(&c.signer.tbs_certificate.subject),
                    c.signer_source,
                    c.root.name,
                    cx.at
                ),
            );
            match chain::revocation(vek, &c, store, cx.at) {
                Ok(Some(d)) => v.pass("snp.revocation", a, d),
                Ok(None) => v.not_run(
                    "snp.revocation",
                    a,
                    &format!(
                        "no CRL of {} (AMD's KDS serves it at /{}/v1/PRODUCT/crl; give it with --certs or --crl)",
                        c.root.name,
                        kind.name().to_lowercase()
                    ),
                    Waiver::by("--no-crl", cx.waivers.no_crl),
                ),
                Err(e) => v.fail("snp.revocation", a, e),
            }
        }
        Err(e) => {
            v.fail("snp.cert-chain", a, e);
            v.not_run("snp.revocation", a, "the chain did not verify", Waiver::by("--no-crl", cx.waivers.no_crl));
        }
    }
    v.checks
}

/// The VEK for this report: the kind KEY_INFO names, then the one whose hwID and TCB match, then
/// the one whose key verifies the signature; otherwise the best match, so that the checks say why.
fn pick_vek(ev: &SnpEvidence<'_>, store: &CertStore, want: VekKind) -> Option<Arc<StoredCert>> {
    const MAX_TRIES: usize = 16;
    let r = ev.report;
    let mut scored: Vec<(u8, &Arc<StoredCert>)> = store
        .certs
        .iter()
        .filter_map(|c| {
            // A P-384 certificate not named as AMD names VEKs still gets its signature checked
            // (and fails snp.key-kind), so that a wrong --vcek is named rather than ignored.
            let kind = VekKind::of(&c.cert);
            if kind.is_none() && !oid::spki_is_ec_on(&c.cert.tbs_certificate.subject_public_key_info, oid::SECP384R1) {
                return None;
            }
            let e = VekExtensions::read(&c.cert);
            let hwid = e.hwid.as_ref().is_some_and(|h| !h.is_empty() && r.chip_id.starts_with(h));
            let tcb = reported_tcb(r, &e).is_ok();
            Some((u8::from(kind == Some(want)) * 8 + u8::from(kind.is_some()) * 4 + u8::from(hwid) * 2 + u8::from(tcb), c))
        })
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    let best = scored.first().map(|(_, c)| Arc::clone(c))?;
    // One clear best (right kind, hwID and TCB, and no other like it): no trial signatures, so a
    // report costs one P-384 verification.
    const FULL: u8 = 15;
    if scored.len() == 1 || (scored[0].0 == FULL && scored[1].0 < FULL) {
        return Some(best);
    }
    let verifies = scored.iter().take(MAX_TRIES).find(|(_, c)| report_signature(ev, c).is_ok());
    Some(verifies.map_or(best, |(_, c)| Arc::clone(c)))
}

fn report_signature(ev: &SnpEvidence<'_>, vek: &StoredCert) -> Result<String, String> {
    let r = ev.report;
    if r.signature_algo != 1 {
        return Err(format!("SIGNATURE_ALGO at offset 0x34 is {}, expected 1 (ECDSA P-384 with SHA-384)", r.signature_algo));
    }
    let spki = &vek.cert.tbs_certificate.subject_public_key_info;
    if !oid::spki_is_ec_on(spki, oid::SECP384R1) {
        return Err(format!("the certificate's key ({}) is {}, not P-384", vek.source, oid::describe_spki(spki)));
    }
    let (Some(rr), Some(ss)) = (from_le72(&r.signature.r), from_le72(&r.signature.s)) else {
        return Err("SIGNATURE at offset 0x2a0: R or S has non-zero bytes past the 48 a P-384 scalar has".into());
    };
    let sig = [rr, ss].concat();
    let signed = ev.raw.get(..SNP_SIGNED_LEN).unwrap_or_default();
    if crypto::verify(Scheme::EcdsaP384Sha384Fixed, spki.subject_public_key.raw_bytes(), signed, &sig) {
        Ok(format!("ECDSA P-384 over bytes 0..0x2a0 verifies with the key of {}", vek.source))
    } else {
        Err(format!(
            "SIGNATURE at offset 0x2a0 does not verify over bytes 0..0x2a0 with the key of {} (a modified report, or another chip's certificate)",
            vek.source
        ))
    }
}

fn chip_id(r: &SnpReport, kind: VekKind, e: &VekExtensions) -> Result<String, String> {
    if kind == VekKind::Vlek {
        return Ok("VLEK certificates name no chip (no hwID extension); the signature binds the report".into());
    }
    if r.chip_id_masked() {
        return Ok("CHIP_ID is masked (all zero; MASK_CHIP_ID); the signature binds the report".into());
    }
    let Some(h) = e.hwid.as_deref().filter(|h| !h.is_empty()) else {
        return Err("the VCEK has no hwID extension (1.3.6.1.4.1.3704.1.4)".into());
    };
    // Turin VCEKs carry the first 8 bytes of CHIP_ID, Milan and Genoa all 64.
    if r.chip_id.starts_with(h) {
        Ok(format!("CHIP_ID equals the VCEK's hwID ({} bytes)", h.len()))
    } else {
        Err(format!(
            "CHIP_ID {} differs from the VCEK's hwID {}: the certificate is another chip's",
            hex::encode(r.chip_id.get(..h.len().min(64)).unwrap_or_default()),
            hex::encode(h)
        ))
    }
}

fn reported_tcb(r: &SnpReport, e: &VekExtensions) -> Result<String, String> {
    let turin = e.product_line() == Some("Turin") || r.tcb_layout() == Some(TcbLayout::Turin);
    let p = r.reported_tcb.parts(if turin { TcbLayout::Turin } else { TcbLayout::MilanGenoa });
    let mut pairs = vec![
        ("bootloader", p.bootloader, e.bootloader),
        ("tee", p.tee, e.tee),
        ("snp", p.snp, e.snp),
        ("microcode", p.microcode, e.microcode),
    ];
    if turin {
        pairs.insert(0, ("fmc", p.fmc.unwrap_or(0), e.fmc));
    }
    let bad: Vec<String> = pairs
        .iter()
        .filter(|(_, have, cert)| *cert != Some(*have))
        .map(|(n, have, cert)| match cert {
            Some(c) => format!("{n} {have} (certificate {c})"),
            None => format!("{n} {have} (certificate has no {n} SPL)"),
        })
        .collect();
    let all = pairs.iter().map(|(n, h, _)| format!("{n} {h}")).collect::<Vec<_>>().join(", ");
    if bad.is_empty() {
        Ok(format!("REPORTED_TCB ({all}) equals the certificate's TCB"))
    } else {
        Err(format!("REPORTED_TCB differs from the certificate's TCB: {}", bad.join(", ")))
    }
}

/// Where AMD's KDS serves the missing certificate, when the report says enough.
fn kds_hint(r: &SnpReport, want: VekKind) -> String {
    let product = match (r.cpuid.map(|c| (c.family, c.model)), want) {
        (_, VekKind::Vlek) => return " (and the ASVK: AMD's KDS /vlek/v1/PRODUCT/cert_chain)".into(),
        (Some((0x19, m)), _) if m < 0x10 => "Milan",
        (Some((0x19, m)), _) if (0x10..0x20).contains(&m) || (0xa0..0xb0).contains(&m) => "Genoa",
        (Some((0x1a, _)), _) => "Turin",
        _ => "PRODUCT",
    };
    if r.chip_id_masked() {
        return format!(" (CHIP_ID is masked, so the KDS path cannot be derived; AMD's KDS serves VCEKs at /vcek/v1/{product}/HWID)");
    }
    let turin = product == "Turin";
    let p = r.reported_tcb.parts(if turin { TcbLayout::Turin } else { TcbLayout::MilanGenoa });
    let id = hex::encode(r.chip_id.get(..if turin { 8 } else { 64 }).unwrap_or_default());
    let fmc = p.fmc.filter(|_| turin).map(|f| format!("&fmcSPL={f}")).unwrap_or_default();
    format!(
        " (AMD's KDS: https://kdsintf.amd.com/vcek/v1/{product}/{id}?blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}{fmc})",
        p.bootloader, p.tee, p.snp, p.microcode
    )
}
