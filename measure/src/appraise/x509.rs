//! Certificates and CRLs as appraisal uses them: a store filled from PEM bundles, DER files and SNP
//! certificate tables; validity at the verification time; signatures of a certificate or CRL by its
//! issuer; revocation.
//!
//! Chains here are short and of a fixed shape (AMD: VEK, ASK or ASVK, ARK; Intel: PCK, PCK CA,
//! root), so they are followed explicitly rather than by a general path builder: general X.509
//! validators (webpki) insist on TLS usages these vendor certificates do not carry.

use std::sync::Arc;

use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::der::{Decode, Encode};
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::crypto::{self, Scheme};
use super::time::VerifyTime;
use crate::idblock::oid;
use crate::idblock::pem::{self, Found};
use crate::report::CertTable;

/// Most certificates and CRLs one store holds (a KDS mirror of a whole fleet stays far below).
pub const MAX_STORE_ITEMS: usize = 100_000;

/// Why bytes given as certificates could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{origin}: {reason}")]
    Bad { origin: String, reason: String },
    #[error("more than {MAX_STORE_ITEMS} certificates and CRLs")]
    TooMany,
}

/// A certificate and where it came from.
#[derive(Debug, Clone)]
pub struct StoredCert {
    pub cert: Certificate,
    pub der: Vec<u8>,
    pub source: String,
}

/// A CRL and where it came from.
#[derive(Debug, Clone)]
pub struct StoredCrl {
    pub crl: CertificateList,
    pub source: String,
}

/// Certificates and CRLs given by the user or carried by the evidence.
#[derive(Debug, Clone, Default)]
pub struct CertStore {
    pub certs: Vec<Arc<StoredCert>>,
    pub crls: Vec<Arc<StoredCrl>>,
    /// SHA-256 of every certificate's DER, so that duplicates are dropped without a quadratic scan.
    seen: std::collections::HashSet<[u8; 32]>,
    /// Certificates offered that the store already held.
    duplicates: usize,
}

impl CertStore {
    /// Adds what `bytes` hold: an SNP certificate table, PEM text (CERTIFICATE and X509 CRL blocks,
    /// other blocks and text ignored), or one DER certificate or CRL. Returns how many it found
    /// (a certificate the store already holds counts, and is kept once).
    pub fn add(&mut self, bytes: &[u8], source: &str) -> Result<usize, StoreError> {
        let bad = |reason: String| StoreError::Bad { origin: source.to_string(), reason };
        let before = self.certs.len() + self.crls.len() + self.duplicates;
        if CertTable::looks_like(bytes) {
            let table = CertTable::parse(bytes).map_err(|e| bad(e.to_string()))?;
            for e in &table.entries {
                self.add_der(&e.data, &format!("{source} (certificate table entry {:?})", e.kind)).map_err(bad)?;
            }
        } else if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            let text = std::str::from_utf8(bytes).map_err(|_| bad("PEM text that is not UTF-8".into()))?;
            for found in pem::blocks(text) {
                match found {
                    Found::Block(b) if b.label == "CERTIFICATE" => {
                        let (c, der) = cert_from_pem(b.text).map_err(|e| bad(format!("certificate at offset {:#x}: {e}", b.offset)))?;
                        self.push_cert(c, der, format!("{source}@{:#x}", b.offset))?;
                    }
                    Found::Block(b) if b.label == "X509 CRL" => {
                        let c = crl_from_pem(b.text).map_err(|e| bad(format!("CRL at offset {:#x}: {e}", b.offset)))?;
                        self.push_crl(c, format!("{source}@{:#x}", b.offset))?;
                    }
                    Found::Block(_) => {}
                    Found::Unterminated { label, offset } => {
                        return Err(bad(format!("\"-----BEGIN {}-----\" at offset {offset:#x} has no END line", pem::quote_label(label))));
                    }
                }
            }
        } else {
            self.add_der(bytes, source).map_err(bad)?;
        }
        let added = self.certs.len() + self.crls.len() + self.duplicates - before;
        if added == 0 {
            return Err(bad("no certificate or CRL (expected PEM CERTIFICATE/X509 CRL blocks, DER, or an SNP certificate table)".into()));
        }
        Ok(added)
    }

    fn add_der(&mut self, der: &[u8], source: &str) -> Result<(), String> {
        match Certificate::from_der(der) {
            Ok(c) => self.push_cert(c, der.to_vec(), source.to_string()).map_err(|e| e.to_string()),
            Err(cert_err) => match CertificateList::from_der(der) {
                Ok(crl) => self.push_crl(crl, source.to_string()).map_err(|e| e.to_string()),
                Err(_) => Err(format!("not a DER certificate or CRL ({cert_err})")),
            },
        }
    }

    fn push_cert(&mut self, cert: Certificate, der: Vec<u8>, source: String) -> Result<(), StoreError> {
        self.room()?;
        if self.seen.insert(crypto::sha256(&der)) {
            self.certs.push(Arc::new(StoredCert { cert, der, source }));
        } else {
            self.duplicates += 1;
        }
        Ok(())
    }

    fn push_crl(&mut self, crl: CertificateList, source: String) -> Result<(), StoreError> {
        self.room()?;
        self.crls.push(Arc::new(StoredCrl { crl, source }));
        Ok(())
    }

    fn room(&self) -> Result<(), StoreError> {
        if self.certs.len() + self.crls.len() >= MAX_STORE_ITEMS { Err(StoreError::TooMany) } else { Ok(()) }
    }

    /// Certificates whose subject is `name`.
    pub fn by_subject<'a>(&'a self, name: &'a Name) -> impl Iterator<Item = &'a Arc<StoredCert>> + 'a {
        self.certs.iter().filter(move |c| &c.cert.tbs_certificate.subject == name)
    }
}

/// A PEM "CERTIFICATE" block and its DER. Decoding the base64 first and then the DER is several
/// times faster than x509-cert's streaming PEM reader, and verify decodes the built-in roots on
/// every run.
pub fn cert_from_pem(text: impl AsRef<[u8]>) -> Result<(Certificate, Vec<u8>), String> {
    let (label, der) = x509_cert::der::pem::decode_vec(text.as_ref()).map_err(|e| e.to_string())?;
    if label != "CERTIFICATE" {
        return Err(format!("PEM label {:?}, expected \"CERTIFICATE\"", pem::quote_label(label)));
    }
    Ok((Certificate::from_der(&der).map_err(|e| e.to_string())?, der))
}

/// A PEM "X509 CRL" block (x509-cert gives CRLs no PEM label of their own).
pub fn crl_from_pem(text: &str) -> Result<CertificateList, String> {
    let (label, der) = x509_cert::der::pem::decode_vec(text.as_bytes()).map_err(|e| e.to_string())?;
    if label != "X509 CRL" {
        return Err(format!("PEM label {:?}, expected \"X509 CRL\"", pem::quote_label(label)));
    }
    CertificateList::from_der(&der).map_err(|e| e.to_string())
}

/// A root certificate trusted as the end of a chain.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub cert: Certificate,
    /// For messages: "AMD ARK-Milan (built in)", "--trust-root test-ark.pem".
    pub name: String,
}

/// The roots chains may end at: AMD's ARKs and Intel's SGX root (built in), plus any the user adds.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    pub anchors: Vec<Anchor>,
}

impl TrustAnchors {
    /// The built-in roots only.
    pub fn builtin() -> TrustAnchors {
        let mut anchors: Vec<Anchor> = super::snp::roots::builtin_arks().to_vec();
        anchors.push(super::tdx::root::intel_root().clone());
        TrustAnchors { anchors }
    }

    /// Adds every certificate in `bytes` (PEM or DER) as a root.
    pub fn add(&mut self, bytes: &[u8], source: &str) -> Result<usize, StoreError> {
        let mut s = CertStore::default();
        s.add(bytes, source)?;
        for c in &s.certs {
            self.anchors.push(Anchor {
                cert: c.cert.clone(),
                name: format!("{} from {} (--trust-root)", common_name(&c.cert.tbs_certificate.subject), c.source),
            });
        }
        Ok(s.certs.len())
    }

    /// The anchor that issued `child`: same name, and its key verifies the child's signature.
    pub fn issuer_of(&self, child: &Certificate) -> Option<&Anchor> {
        self.anchors.iter().find(|a| a.cert.tbs_certificate.subject == child.tbs_certificate.issuer && signed_by(child, &a.cert).is_ok())
    }
}

/// The subject or issuer common name (or the whole name when it has none), for messages.
pub fn common_name(name: &Name) -> String {
    const CN: &str = "2.5.4.3";
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            if oid::is(&atv.oid, CN)
                && let Ok(s) = atv
                    .value
                    .decode_as::<String>()
                    .or_else(|_| atv.value.decode_as::<x509_cert::der::asn1::PrintableStringRef<'_>>().map(|p| p.to_string()))
            {
                return s;
            }
        }
    }
    name.to_string()
}

/// Whether `cert` is valid at `at`, and if not, a message saying when it is.
pub fn valid_at(cert: &Certificate, at: VerifyTime) -> Result<(), String> {
    let v = &cert.tbs_certificate.validity;
    let (from, to) = (VerifyTime::from_x509(&v.not_before), VerifyTime::from_x509(&v.not_after));
    if at < from || at > to {
        return Err(format!(
            "{} is valid from {from} to {to}, not at {at}{}",
            common_name(&cert.tbs_certificate.subject),
            if at > to { " (expired; --at gives another verification time)" } else { " (not yet valid)" }
        ));
    }
    Ok(())
}

/// The scheme a signature algorithm OID names, or what it is if unsupported.
fn scheme_for(alg: &x509_cert::spki::AlgorithmIdentifierOwned, key: &SubjectPublicKeyInfoOwned) -> Result<Scheme, String> {
    match alg.oid.to_string().as_str() {
        "1.2.840.10045.4.3.2" if oid::spki_is_ec_on(key, oid::PRIME256V1) => Ok(Scheme::EcdsaP256Sha256Der),
        "1.2.840.10045.4.3.3" if oid::spki_is_ec_on(key, oid::SECP384R1) => Ok(Scheme::EcdsaP384Sha384Der),
        // AMD signs with SHA-384, MGF1-SHA-384 and a 48-byte salt; other parameters fail to verify.
        "1.2.840.113549.1.1.10" if !oid::spki_is_ec_on(key, oid::SECP384R1) && !oid::spki_is_ec_on(key, oid::PRIME256V1) => {
            Ok(Scheme::RsaPssSha384)
        }
        _ => Err(format!(
            "signature algorithm {} with an issuer key {} is not one attestation uses (ecdsa-with-SHA256 on P-256, ecdsa-with-SHA384 on P-384, RSASSA-PSS)",
            oid::describe(&alg.oid),
            oid::describe_spki(key)
        )),
    }
}

/// Whether `issuer`'s key signed `child`.
pub fn signed_by(child: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let key = &issuer.tbs_certificate.subject_public_key_info;
    let scheme = scheme_for(&child.signature_algorithm, key)?;
    let tbs = child.tbs_certificate.to_der().map_err(|e| e.to_string())?;
    let sig = child.signature.as_bytes().ok_or("the signature is not a whole number of bytes")?;
    if crypto::verify(scheme, key.subject_public_key.raw_bytes(), &tbs, sig) {
        Ok(())
    } else {
        Err(format!(
            "the {} signature of {} does not verify with the key of {}",
            scheme.name(),
            common_name(&child.tbs_certificate.subject),
            common_name(&issuer.tbs_certificate.subject)
        ))
    }
}

/// Whether `issuer`'s key signed `crl`.
pub fn crl_signed_by(crl: &CertificateList, issuer: &Certificate) -> Result<(), String> {
    let key = &issuer.tbs_certificate.subject_public_key_info;
    let scheme = scheme_for(&crl.signature_algorithm, key)?;
    let tbs = crl.tbs_cert_list.to_der().map_err(|e| e.to_string())?;
    let sig = crl.signature.as_bytes().ok_or("the signature is not a whole number of bytes")?;
    if crypto::verify(scheme, key.subject_public_key.raw_bytes(), &tbs, sig) {
        Ok(())
    } else {
        Err(format!(
            "the CRL's {} signature does not verify with the key of {}",
            scheme.name(),
            common_name(&issuer.tbs_certificate.subject)
        ))
    }
}

/// A CRL's answer for one certificate.
pub fn crl_check(crl: &CertificateList, cert: &Certificate, at: VerifyTime) -> Result<(), String> {
    let t = &crl.tbs_cert_list;
    let this = VerifyTime::from_x509(&t.this_update);
    if at < this {
        return Err(format!("the CRL of {} was issued at {this}, after the verification time {at}", common_name(&t.issuer)));
    }
    if let Some(next) = t.next_update.as_ref().map(VerifyTime::from_x509)
        && at > next
    {
        return Err(format!("the CRL of {} expired at {next} (verification time {at})", common_name(&t.issuer)));
    }
    let serial = &cert.tbs_certificate.serial_number;
    if let Some(r) = t.revoked_certificates.iter().flatten().find(|r| &r.serial_number == serial) {
        return Err(format!(
            "{} (serial {}) is revoked since {}",
            common_name(&cert.tbs_certificate.subject),
            hex::encode(serial.as_bytes()),
            VerifyTime::from_x509(&r.revocation_date)
        ));
    }
    Ok(())
}

/// The CRLs in `store` issued and signed by `issuer`.
pub fn crls_of<'a>(store: &'a CertStore, issuer: &'a Certificate) -> impl Iterator<Item = &'a Arc<StoredCrl>> + 'a {
    store.crls.iter().filter(move |c| c.crl.tbs_cert_list.issuer == issuer.tbs_certificate.subject && crl_signed_by(&c.crl, issuer).is_ok())
}

/// The raw value of the extension `oid` (dotted), if present.
pub fn extension<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a [u8]> {
    let want = x509_cert::der::oid::ObjectIdentifier::new(oid).ok()?;
    cert.tbs_certificate.extensions.as_ref()?.iter().find(|e| e.extn_id == want).map(|e| e.extn_value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appraise::tdx::root::INTEL_SGX_ROOT_CA_DER;

    #[test]
    fn a_certificate_given_twice_is_stored_once_in_either_encoding() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(INTEL_SGX_ROOT_CA_DER);
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|l| std::str::from_utf8(l).unwrap()).collect();
        let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"));
        let mut s = CertStore::default();
        assert_eq!(s.add(INTEL_SGX_ROOT_CA_DER, "der").unwrap(), 1);
        assert_eq!(s.add(pem.as_bytes(), "pem").unwrap(), 1, "found, though already held");
        assert_eq!((s.certs.len(), s.certs[0].source.as_str(), s.certs[0].der.as_slice()), (1, "der", INTEL_SGX_ROOT_CA_DER));
        let mislabelled = pem.replace("CERTIFICATE", "PUBLIC KEY");
        assert!(cert_from_pem(&mislabelled).unwrap_err().contains("expected \"CERTIFICATE\""));
    }
}
