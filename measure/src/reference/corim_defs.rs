//! CoRIM on-disk definitions (draft-ietf-rats-corim: CBOR map keys, CBOR tags) and the
//! launch-measurement profile `tag:microsoft.com,2026:launch-measurement/v1` as the igvm crate
//! defines it (igvm/src/corim/launch_measurement): environment class vendor/model per platform,
//! measurement key text, SHA-384 digests (named-information algorithm 7), the CoMID tag-id derived
//! as UUIDv5 of "{vendor}/{model}", a CES triple endorsing the SVN.

use super::model::Platform;

/// The profile URI (corim-map key 3, as a tagged URI).
pub const PROFILE_URI: &str = "tag:microsoft.com,2026:launch-measurement/v1";
/// Namespace of the CoMID tag-id: `tag-id = UUIDv5(TAG_ID_NAMESPACE, "{vendor}/{model}")`.
pub const TAG_ID_NAMESPACE: [u8; 16] = [0x85, 0xf3, 0xf1, 0xc2, 0x22, 0xa8, 0x44, 0x1e, 0xa1, 0xb9, 0xbc, 0xcf, 0xb6, 0x3e, 0xd5, 0xf7];
/// Named Information hash algorithm registry (RFC 6920): SHA-384.
pub const ALG_SHA384: i64 = 7;
/// The content type of a CoRIM payload in COSE_Sign1.
pub const CONTENT_TYPE: &str = "application/rim+cbor";

/// CBOR tags.
pub mod tag {
    /// `#6.18`: COSE_Sign1.
    pub const COSE_SIGN1: u64 = 18;
    /// `#6.32`: URI.
    pub const URI: u64 = 32;
    /// `#6.501`: unsigned corim-map.
    pub const CORIM: u64 = 501;
    /// `#6.506`: concise-mid-tag, wrapping the CoMID's encoding as a byte string.
    pub const COMID: u64 = 506;
    /// `#6.552`: exact SVN.
    pub const SVN: u64 = 552;
}

/// corim-map keys.
pub mod corim_map {
    pub const ID: i64 = 0;
    pub const TAGS: i64 = 1;
    pub const PROFILE: i64 = 3;
    /// prelaunch's extension (a negative, private-use key, which verifiers that do not know it
    /// skip): the launch shape of each reference triple, `[ {"triple": index, "parameters": {...},
    /// "inputs": {...}} ... ]` with the parameters and inputs as in the canonical JSON.
    pub const PRELAUNCH_SHAPES: i64 = -70001;
}

/// concise-mid-tag keys.
pub mod comid {
    pub const TAG_IDENTITY: i64 = 1;
    pub const TRIPLES: i64 = 4;
    /// tag-identity-map.
    pub const TAG_ID: i64 = 0;
}

/// triples-map keys.
pub mod triples {
    pub const REFERENCE: i64 = 0;
    pub const CONDITIONAL_ENDORSEMENT_SERIES: i64 = 8;
}

/// environment-map, class-map, measurement-map and measurement-values-map keys.
pub mod env {
    pub const CLASS: i64 = 0;
    pub const VENDOR: i64 = 1;
    pub const MODEL: i64 = 2;
    pub const MKEY: i64 = 0;
    pub const MVAL: i64 = 1;
    pub const SVN: i64 = 1;
    pub const DIGESTS: i64 = 2;
}

/// The profile's registered environment and measurement key per platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfilePlatform {
    pub platform: Platform,
    pub vendor: &'static str,
    pub model: &'static str,
    /// The key of the launch measurement.
    pub mkey: &'static str,
}

pub const PLATFORMS: [ProfilePlatform; 2] = [
    ProfilePlatform { platform: Platform::Snp, vendor: "AMD", model: "SEV-SNP", mkey: "MEASUREMENT" },
    ProfilePlatform { platform: Platform::Tdx, vendor: "Intel", model: "TDX", mkey: "MRTD" },
];

/// TDX runtime registers, as further measurement-maps of the same reference triple (all of a
/// triple's measurements must match). The profile names only MRTD; RTMRs use these keys, after
/// the evidence fields they are compared with.
pub const RTMR_KEYS: [&str; 3] = ["RTMR0", "RTMR1", "RTMR2"];

pub fn profile_platform(p: Platform) -> &'static ProfilePlatform {
    match p {
        Platform::Snp => &PLATFORMS[0],
        Platform::Tdx => &PLATFORMS[1],
    }
}

/// The CoMID tag-id (lowercase hyphenated UUIDv5).
pub fn tag_id(p: &ProfilePlatform) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::from_bytes(TAG_ID_NAMESPACE), format!("{}/{}", p.vendor, p.model).as_bytes()).to_string()
}

/// The corim-map id igvm uses: "{vendor}/{model}/launch-measurement".
pub fn corim_id(p: &ProfilePlatform) -> String {
    format!("{}/{}/launch-measurement", p.vendor, p.model)
}
