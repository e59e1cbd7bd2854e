//! The canonical reference-value model. Every output format is a view of a [`ReferenceSet`]; every
//! decoder produces one, filling only what its format carries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hash::Sha384Digest;
use crate::plan::{PageAugPolicy, PageOrder};
use crate::snp::Vmm;

/// The platform whose evidence an entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// AMD SEV-SNP: the report's MEASUREMENT.
    Snp,
    /// Intel TDX: the quote's MRTD (and RTMR0-2).
    Tdx,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Snp => "snp",
            Platform::Tdx => "tdx",
        }
    }
}

/// The launch parameters an entry was computed for (its "shape"). A field is `None` when it does not
/// apply to the platform or when the format the entry was read from does not carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u32>,
    /// QEMU CPU model name (SNP, QEMU VMM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_type: Option<String>,
    /// CPUID 1 EAX signature in the VMSAs (SNP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_sig: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmm_type: Option<Vmm>,
    /// SEV_FEATURES in the VMSAs (SNP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_features: Option<u64>,
    /// Guest policy (SNP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<u64>,
    /// Guest memory in bytes (TDX: enters the TD HOB, hence RTMR0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// All memory accepted by the firmware (GCE's TDX `early_accept`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_accept: Option<bool>,
    /// OVMF variable store size below the firmware in an SVSM launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars_size: Option<u64>,
    /// Kernel command line (measured direct boot), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdx_page_order: Option<PageOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdx_page_aug: Option<PageAugPolicy>,
}

impl Shape {
    /// `vcpus=23 vcpu_type=EPYC-Genoa vmm_type=QEMU ...`: the set fields, for messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        };
        put("vcpus", self.vcpus.map(|v| v.to_string()));
        put("vcpu_type", self.vcpu_type.clone());
        put("vcpu_sig", self.vcpu_sig.map(|v| format!("{v:#x}")));
        put("vmm_type", self.vmm_type.map(|v| v.name().to_owned()));
        put("guest_features", self.guest_features.map(|v| format!("{v:#x}")));
        put("policy", self.policy.map(|v| format!("{v:#x}")));
        put("memory", self.memory.map(format_size));
        put("early_accept", self.early_accept.map(|v| v.to_string()));
        put("vars_size", self.vars_size.map(|v| v.to_string()));
        put("append", self.append.as_ref().map(|a| format!("{a:?}")));
        put("tdx_page_order", self.tdx_page_order.map(|o| if o == PageOrder::Single { "single" } else { "two-pass" }.to_owned()));
        put("tdx_page_aug", self.tdx_page_aug.map(|a| if a == PageAugPolicy::Add { "add" } else { "skip" }.to_owned()));
        if parts.is_empty() { "(no parameters recorded)".into() } else { parts.join(" ") }
    }

    /// Whether every field set in `self` has the same value in `other` (fields `other` lacks match).
    pub fn agrees_with(&self, other: &Shape) -> bool {
        fn same<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            a.is_none() || b.is_none() || a == b
        }
        same(&self.vcpus, &other.vcpus)
            && same(&self.vcpu_sig, &other.vcpu_sig)
            && same(&self.vmm_type, &other.vmm_type)
            && same(&self.guest_features, &other.guest_features)
            && same(&self.policy, &other.policy)
            && same(&self.memory, &other.memory)
            && same(&self.early_accept, &other.early_accept)
            && same(&self.vars_size, &other.vars_size)
            && same(&self.append, &other.append)
            && same(&self.tdx_page_order, &other.tdx_page_order)
            && same(&self.tdx_page_aug, &other.tdx_page_aug)
    }
}

/// `2G` for whole GiB, else bytes.
pub fn format_size(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if bytes > 0 && bytes.is_multiple_of(GIB) {
        format!("{}G", bytes / GIB)
    } else if bytes > 0 && bytes.is_multiple_of(MIB) {
        format!("{}M", bytes / MIB)
    } else {
        bytes.to_string()
    }
}

/// The values a verifier compares with evidence. SNP entries carry `measurement`; TDX entries `mrtd`
/// and, where computed, the RTMRs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Values {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex48")]
    pub measurement: Option<Sha384Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex48")]
    pub mrtd: Option<Sha384Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex48")]
    pub rtmr0: Option<Sha384Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex48")]
    pub rtmr1: Option<Sha384Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex48")]
    pub rtmr2: Option<Sha384Digest>,
}

impl Values {
    /// The launch measurement of the platform: MEASUREMENT (SNP) or MRTD (TDX).
    pub fn launch(&self, platform: Platform) -> Option<&Sha384Digest> {
        match platform {
            Platform::Snp => self.measurement.as_ref(),
            Platform::Tdx => self.mrtd.as_ref(),
        }
    }

    pub fn rtmrs(&self) -> [Option<&Sha384Digest>; 3] {
        [self.rtmr0.as_ref(), self.rtmr1.as_ref(), self.rtmr2.as_ref()]
    }
}

/// One launch shape and its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub platform: Platform,
    #[serde(rename = "parameters")]
    pub shape: Shape,
    pub values: Values,
    /// SHA-256 (hex) of every input that entered the values, by name: `firmware`, `svsm`, `kernel`,
    /// `initrd`, `cmdline` (the command line with its NUL, as QEMU hashes it).
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
}

/// Facts about the whole set that some formats carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Security version number the set endorses (CoRIM's SVN endorsement, GCE's `svn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svn: Option<u64>,
    /// SHA-384 of the firmware file (GCE's `digest`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex48")]
    pub firmware_sha384: Option<Sha384Digest>,
    /// SNP family and image IDs (GCE), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Seconds since the epoch the set was made (GCE's `timestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// A set of reference values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceSet {
    pub metadata: Metadata,
    pub entries: Vec<Entry>,
}

impl ReferenceSet {
    /// The one platform of all entries, or `None` when empty or mixed.
    pub fn platform(&self) -> Option<Platform> {
        let first = self.entries.first()?.platform;
        self.entries.iter().all(|e| e.platform == first).then_some(first)
    }
}

/// Serde for optional 48-byte digests as lowercase hex.
pub(crate) mod hex48 {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::hash::Sha384Digest;

    pub fn serialize<S: Serializer>(v: &Option<Sha384Digest>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&hex::encode(d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sha384Digest>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| parse(&s).map_err(serde::de::Error::custom)).transpose()
    }

    pub fn parse(s: &str) -> Result<Sha384Digest, String> {
        let b = hex::decode(s).map_err(|e| format!("{s:?} is not hex ({e})"))?;
        b.try_into().map_err(|b: Vec<u8>| format!("{} bytes of hex; a SHA-384 digest is 48", b.len()))
    }
}
