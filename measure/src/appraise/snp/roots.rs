//! AMD's roots and signing keys, built in: the ARK and ASK of each product line the `sev` crate
//! carries (Milan, Genoa, Turin; the same certificates AMD's key distribution service serves at
//! `/vcek/v1/{product}/cert_chain`). ASVKs (the VLEK signers) are not built in: they come with
//! `--certs` or the extended report.

use std::sync::OnceLock;

use sev::certs::snp::builtin::{genoa, milan, turin};
use x509_cert::Certificate;

use crate::appraise::x509::{Anchor, cert_from_pem};

/// A product line's built-in certificates.
#[derive(Debug, Clone)]
pub struct Product {
    pub name: &'static str,
    pub ark: Certificate,
    pub ask: Certificate,
}

fn products() -> &'static [Product] {
    static P: OnceLock<Vec<Product>> = OnceLock::new();
    P.get_or_init(|| {
        [("Milan", milan::ARK, milan::ASK), ("Genoa", genoa::ARK, genoa::ASK), ("Turin", turin::ARK, turin::ASK)]
            .into_iter()
            // The sev crate's PEM is fixed at build time; a decode failure would be a broken
            // dependency, and then the product is simply absent (its chains fail as unknown roots).
            .filter_map(|(name, ark, ask)| Some(Product { name, ark: cert_from_pem(ark).ok()?.0, ask: cert_from_pem(ask).ok()?.0 }))
            .collect()
    })
}

/// The built-in product lines.
pub fn builtin_products() -> &'static [Product] {
    products()
}

/// The ARKs, as trust anchors.
pub fn builtin_arks() -> &'static [Anchor] {
    static A: OnceLock<Vec<Anchor>> = OnceLock::new();
    A.get_or_init(|| products().iter().map(|p| Anchor { cert: p.ark.clone(), name: format!("AMD ARK-{} (built in)", p.name) }).collect())
}
