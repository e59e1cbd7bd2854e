//! Reference values for fleets: every launch shape of a firmware release, computed in one walk per
//! group ([`matrix`]), kept in one canonical model ([`model`]), written and read in the formats
//! verifiers consume: prelaunch's JSON ([`json`], the canonical one), CoRIM ([`corim`], optionally
//! signed with [`cose`]), GCE's VMGoldenMeasurement ([`gce`]) and Trustee's reference values
//! ([`trustee`]); evidence is looked up in a set by [`matching`], files are recomputed by [`check`].

pub mod check;
pub mod corim;
pub mod corim_defs;
pub mod cose;
pub mod gce;
pub mod gce_defs;
pub mod json;
pub mod matching;
pub mod matrix;
pub mod model;
pub mod trustee;

pub use model::{Entry, Metadata, Platform, ReferenceSet, Shape, Values};

/// The formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Corim,
    /// A COSE_Sign1-wrapped CoRIM.
    SignedCorim,
    Gce,
    GceText,
    Trustee,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Corim => "corim",
            Format::SignedCorim => "signed corim",
            Format::Gce => "gce",
            Format::GceText => "gce text",
            Format::Trustee => "trustee",
        }
    }

    /// Recognises a file's format from its first bytes.
    pub fn detect(bytes: &[u8]) -> Format {
        let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
        match first {
            _ if bytes.starts_with(&[0xd9, 0x01, 0xf5]) => Format::Corim,
            _ if bytes.first() == Some(&0xd2) => Format::SignedCorim,
            Some(b'{') if json::recognise(bytes) => Format::Json,
            Some(b'{') | Some(b'[') => Format::Trustee,
            Some(b) if b.is_ascii_alphabetic() && bytes.iter().all(|b| b.is_ascii() && (*b >= 0x20 || b.is_ascii_whitespace())) => {
                Format::GceText
            }
            // A bare corim-map starts with a map header and integer key 0.
            Some(b) if (0xa0..=0xb7).contains(&b) && bytes.get(1) == Some(&0x00) => Format::Corim,
            _ => Format::Gce,
        }
    }
}

/// Why a reference file could not be read or written; wraps each format's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("json: {0}")]
    Json(#[from] json::JsonError),
    #[error("corim: {0}")]
    Corim(#[from] corim::CorimError),
    #[error("cose: {0}")]
    Cose(#[from] cose::CoseError),
    #[error("gce: {0}")]
    Gce(#[from] gce::GceError),
    #[error("trustee: {0}")]
    Trustee(#[from] trustee::TrusteeError),
    #[error("{0}")]
    Matrix(#[from] matrix::MatrixError),
}

/// How a signed CoRIM's signature was handled when reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// The file is not signed.
    None,
    /// Checked with the given key and valid.
    Verified,
    /// Not checked (no key given); the caller must say so and not count it as authentic.
    Unchecked,
}

/// Reads a reference file in any format. A signed CoRIM is verified when `key` is given; without
/// one its payload is read and reported as [`Signature::Unchecked`].
pub fn decode(bytes: &[u8], key: Option<&p384::ecdsa::VerifyingKey>) -> Result<(Format, Signature, ReferenceSet), ReferenceError> {
    let format = Format::detect(bytes);
    let (sig, set) = match format {
        Format::Json => (Signature::None, json::decode(bytes)?),
        Format::Corim => (Signature::None, corim::decode(bytes)?),
        Format::SignedCorim => match key {
            Some(k) => (Signature::Verified, corim::decode(&cose::verify(bytes, k)?)?),
            None => (Signature::Unchecked, corim::decode(&cose::payload_unverified(bytes)?)?),
        },
        Format::Gce => (Signature::None, gce::decode(bytes)?),
        Format::GceText => {
            let text = std::str::from_utf8(bytes).map_err(|e| gce::GceError::Text(e.to_string()))?;
            (Signature::None, gce::decode(&gce::from_text(text)?)?)
        }
        Format::Trustee => (Signature::None, trustee::decode(bytes)?),
    };
    Ok((format, sig, set))
}
