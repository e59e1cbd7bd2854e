//! SNP ID blocks (placeholder until the verification work lands).
