//! TDX quotes, versions 4 and 5 (Intel TDX DCAP Quoting Library API, appendix "Quote Format").
//!
//! v4: 48-byte header, TD report 1.0 body (584), u32 signature data length, signature data.
//! v5: 48-byte header, body descriptor (u16 TYPE, u32 SIZE), body, u32 length, signature data.
//! The signature data is kept raw here and read by [`TdxQuote::signature`]
//! ([`super::tdx_signature`]); checking it is `appraise::tdx`'s job. Bytes after the signature data
//! (quote buffers handed over at a fixed size, text appended by tools) are not part of the quote:
//! they are kept as [`TrailingBytes`] for a warning, never an error.

use serde::Serialize;

use super::read::{Fields, Truncated, hex_serde};
use super::td_body::{TdBodyKind, TdQuoteBody};
use super::tdx_signature::{QuoteSignature, TdxSignatureError};

/// Size of the quote header.
pub const QUOTE_HEADER_LEN: usize = 48;
/// TEE_TYPE of a TDX quote.
pub const TEE_TYPE_TDX: u32 = 0x81;
const BODY_DESCRIPTOR_LEN: usize = 6;

/// Why bytes are not a TDX quote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TdxQuoteError {
    #[error("TDX quote: {len} bytes, shorter than the {QUOTE_HEADER_LEN}-byte header")]
    Short { len: usize },
    #[error("TDX quote header: VERSION at offset 0x0 is {0}, expected 4 or 5")]
    Version(u16),
    #[error("TDX quote header: ATT_KEY_TYPE at offset 0x2 is {0}, expected 2 (ECDSA P-256) or 3 (ECDSA P-384)")]
    AttKeyType(u16),
    #[error("TDX quote header: TEE_TYPE at offset 0x4 is {0:#x}, expected 0x81 (TDX){hint}", hint = if *.0 == 0 { "; 0x0 is an SGX quote" } else { "" })]
    TeeType(u32),
    #[error("TD quote body descriptor: TYPE at offset 0x30 is {0}, expected 2 (TD report 1.0), 3 (TD report 1.5) or 4 (TD report 1.5 ex){hint}", hint = if *.0 == 1 { "; 1 is an SGX enclave report" } else { "" })]
    BodyType(u16),
    #[error("TD quote body descriptor: SIZE at offset 0x32 is {size}, expected {expected} for body type {body_type}")]
    BodySize { body_type: u16, size: u32, expected: usize },
    #[error("TDX quote: signature data length at offset {offset:#x} is {len}, but only {available} bytes follow")]
    SignatureDataLength { offset: usize, len: u32, available: usize },
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// A parsed TDX quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdxQuote {
    pub version: u16,
    pub att_key_type: u16,
    pub tee_type: u32,
    /// Reserved in v4/v5 TDX quotes; QE and PCE SVNs in older layouts.
    pub qe_svn: u16,
    pub pce_svn: u16,
    #[serde(serialize_with = "hex_serde::bytes")]
    pub qe_vendor_id: [u8; 16],
    #[serde(serialize_with = "hex_serde::bytes")]
    pub user_data: [u8; 20],
    pub body_kind: TdBodyKind,
    pub body: TdQuoteBody,
    /// Offset of the signature data length field: the signed bytes are `0..signed_len`.
    pub signed_len: usize,
    #[serde(serialize_with = "hex_serde::vec")]
    pub signature_data: Vec<u8>,
    /// Bytes after the signature data, if any.
    pub trailing: Option<TrailingBytes>,
}

/// Bytes after a quote's signature data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrailingBytes {
    pub offset: usize,
    pub len: usize,
    /// Zero padding (a fixed-size buffer) rather than appended data.
    pub all_zero: bool,
}

impl std::fmt::Display for TrailingBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.all_zero { "zero bytes" } else { "bytes (not all zero)" };
        write!(f, "{} {what} after the signature data at offset {:#x} are not part of the quote; ignored", self.len, self.offset)
    }
}

impl TdxQuote {
    pub fn parse(bytes: &[u8]) -> Result<TdxQuote, TdxQuoteError> {
        if bytes.len() < QUOTE_HEADER_LEN {
            return Err(TdxQuoteError::Short { len: bytes.len() });
        }
        let f = Fields::new("TDX quote", bytes);
        let version = f.u16("VERSION", 0)?;
        if !matches!(version, 4 | 5) {
            return Err(TdxQuoteError::Version(version));
        }
        let att_key_type = f.u16("ATT_KEY_TYPE", 2)?;
        if !matches!(att_key_type, 2 | 3) {
            return Err(TdxQuoteError::AttKeyType(att_key_type));
        }
        let tee_type = f.u32("TEE_TYPE", 4)?;
        if tee_type != TEE_TYPE_TDX {
            return Err(TdxQuoteError::TeeType(tee_type));
        }
        let (body_kind, body_at) = if version == 4 {
            (TdBodyKind::TdReport10, QUOTE_HEADER_LEN)
        } else {
            let body_type = f.u16("body descriptor TYPE", QUOTE_HEADER_LEN)?;
            let size = f.u32("body descriptor SIZE", QUOTE_HEADER_LEN + 2)?;
            let kind = TdBodyKind::from_body_type(body_type).ok_or(TdxQuoteError::BodyType(body_type))?;
            if usize::try_from(size).ok() != Some(kind.body_len()) {
                return Err(TdxQuoteError::BodySize { body_type, size, expected: kind.body_len() });
            }
            (kind, QUOTE_HEADER_LEN + BODY_DESCRIPTOR_LEN)
        };
        let body = TdQuoteBody::read(&f, body_at, body_kind)?;
        let len_at = body_at + body_kind.body_len();
        let sig_len = f.u32("signature data length", len_at)?;
        let sig_at = len_at + 4;
        let available = bytes.len().saturating_sub(sig_at);
        let signature_data = usize::try_from(sig_len)
            .ok()
            .and_then(|n| bytes.get(sig_at..sig_at.checked_add(n)?))
            .ok_or(TdxQuoteError::SignatureDataLength { offset: len_at, len: sig_len, available })?;
        let end = sig_at + signature_data.len();
        let tail = bytes.get(end..).unwrap_or_default();
        let trailing = (!tail.is_empty()).then(|| TrailingBytes { offset: end, len: tail.len(), all_zero: tail.iter().all(|&b| b == 0) });
        Ok(TdxQuote {
            version,
            att_key_type,
            tee_type,
            qe_svn: f.u16("QE_SVN", 8)?,
            pce_svn: f.u16("PCE_SVN", 10)?,
            qe_vendor_id: f.array("QE_VENDOR_ID", 12)?,
            user_data: f.array("USER_DATA", 28)?,
            body_kind,
            body,
            signed_len: len_at,
            signature_data: signature_data.to_vec(),
            trailing,
        })
    }

    /// Reads the signature data's structure (attestation key, QE report, certification data).
    pub fn signature(&self) -> Result<QuoteSignature, TdxSignatureError> {
        QuoteSignature::parse(&self.signature_data, self.signed_len + 4)
    }

    /// The number of bytes the quote occupies (without trailing bytes).
    pub fn len(&self) -> usize {
        self.signed_len + 4 + self.signature_data.len()
    }

    /// A quote is never empty; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `bytes` start like a TDX quote header (what [`super::Evidence::detect`] goes by).
    pub fn header_matches(bytes: &[u8]) -> bool {
        let f = Fields::new("TDX quote", bytes);
        matches!(f.u16("VERSION", 0), Ok(4 | 5)) && f.u32("TEE_TYPE", 4) == Ok(TEE_TYPE_TDX)
    }
}
