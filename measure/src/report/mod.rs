//! Attestation reports and quotes (placeholder until the verification work lands).
