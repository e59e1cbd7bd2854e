//! `--format json`: prelaunch's canonical reference-value document, version 1, described by
//! `schema/reference-values.v1.schema.json`. Every other format is a view of it.

use serde::{Deserialize, Serialize};

use super::model::{Entry, Metadata, ReferenceSet};

/// The `format` member every document carries.
pub const FORMAT: &str = "prelaunch-reference-values";
/// The schema version this build writes and reads.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("not a prelaunch reference-value document: {0}")]
    Parse(String),
    #[error("\"format\" is {0:?}; expected {FORMAT:?}")]
    Format(String),
    #[error("schema version {0}; this prelaunch reads version {VERSION}")]
    Version(u32),
    #[error("cannot encode JSON: {0}")]
    Encode(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generator: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    entries: Vec<Entry>,
}

/// The document, pretty-printed, with a final newline.
pub fn encode(set: &ReferenceSet, generator: &str) -> Result<Vec<u8>, JsonError> {
    let doc = Document {
        format: FORMAT.into(),
        version: VERSION,
        generator: Some(generator.into()),
        metadata: set.metadata.clone(),
        entries: set.entries.clone(),
    };
    let mut out = serde_json::to_vec_pretty(&doc).map_err(|e| JsonError::Encode(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// Whether `bytes` are meant as this format: a JSON object with a `format` member (whatever its
/// value, so that a wrong one is reported as such rather than read as another format).
pub fn recognise(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        format: Option<serde_json::Value>,
    }
    serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| p.format.is_some())
}

pub fn decode(bytes: &[u8]) -> Result<ReferenceSet, JsonError> {
    // The header first, so that a newer version is named as such rather than as an unknown field.
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let h: Header = serde_json::from_slice(bytes).map_err(|e| JsonError::Parse(e.to_string()))?;
    if h.format != FORMAT {
        return Err(JsonError::Format(h.format));
    }
    if h.version != VERSION {
        return Err(JsonError::Version(h.version));
    }
    let doc: Document = serde_json::from_slice(bytes).map_err(|e| JsonError::Parse(e.to_string()))?;
    Ok(ReferenceSet { metadata: doc.metadata, entries: doc.entries })
}
