//! Appraisal: is the evidence authentic, and is it what its user expected?
//!
//! The answer is a [`Verdict`]: every check by name with pass, fail, not run or waived and why.
//! Nothing passes by default: a check that could not run (no certificate, no collateral, no CRL)
//! counts as failed unless the caller waived it by name ([`Waivers`]), and then it is listed as
//! waived. [`Verdict::outcome`] sorts the result into ok, mismatch (authentic but not as expected)
//! and not authentic.
//!
//! - [`snp`]: SEV-SNP reports: the report signature with the VCEK or VLEK, the VCEK → ASK → ARK
//!   (VLEK → ASVK → ARK) chain to AMD's roots (built in, from the `sev` crate), KEY_INFO, CHIP_ID and
//!   REPORTED_TCB against the certificate, CRLs; then policy, report data, host data, key digests,
//!   VMPL and minimum TCB.
//! - [`tdx`]: TDX quotes v4/v5: the attestation key's signature, the QE report signed by the PCK,
//!   the QE report data binding, the PCK chain to Intel's SGX root (built in), and with collateral
//!   (the QuoteCollateralV3 JSON) the TCB status, QE identity, TDX module identity and CRLs; then TD
//!   attributes, report data and RTMRs.
//! - [`x509`]: certificates and CRLs as both need them; [`crypto`]: the signature primitives
//!   (AWS-LC); [`time`]: the verification time (`--at`).
//!
//! Pure like the rest of `measure`: evidence, certificates and collateral come in as bytes.

pub mod crypto;
pub mod expect;
pub mod snp;
pub mod tdx;
pub mod time;
pub mod verdict;
pub mod x509;

pub use expect::{Expectations, MinTcb, RtmrExpectation, Waivers};
pub use time::{TimeError, VerifyTime};
pub use verdict::{Check, Class, Outcome, Status, Verdict};
pub use x509::{CertStore, StoreError, TrustAnchors};
