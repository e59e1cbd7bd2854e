//! `--format gce`: Google's `VMGoldenMeasurement` (gce-tcb-verifier's endorsement.proto), binary
//! protobuf through prost, text format through prost-reflect (prost itself has no text format;
//! prost-reflect reads the message descriptors protoc compiled from the same .proto).
//!
//! A document holds one SNP map from vCPU count to launch digest (plus policy, SVN, family and image
//! IDs) and one TDX list of `{ram_gib, early_accept, mrtd}`; every other launch parameter is fixed
//! per document, so a matrix over vCPU types, VMMs, features or kernels is several documents.

use std::collections::BTreeMap;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

use super::gce_defs::{self as defs, TdxMeasurement, Timestamp, VmGoldenMeasurement, VmLaunchEndorsement, VmSevSnp, VmTdx};
use super::model::{Entry, Metadata, Platform, ReferenceSet, Shape, Values};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GceError {
    #[error("the set is empty")]
    Empty,
    #[error("entry {index} ({shape}): {msg}")]
    Entry { index: usize, shape: String, msg: String },
    #[error("not a VMGoldenMeasurement or VMLaunchEndorsement protobuf: {0}")]
    Decode(String),
    #[error("{field}: {msg}")]
    Field { field: &'static str, msg: String },
    #[error("protobuf text format: {0}")]
    Text(String),
    #[error("the message descriptors built into prelaunch do not load: {0}")]
    Descriptor(String),
}

/// What GCE documents carry besides the values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GceOptions {
    pub svn: u32,
    /// 16-byte SNP family and image IDs (zero when not given, as the report's fields are on GCE).
    pub family_id: [u8; 16],
    pub image_id: [u8; 16],
    /// Seconds since the epoch.
    pub timestamp: Option<i64>,
}

/// One document: the shape its entries share, and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct GceDocument {
    pub shape: Shape,
    pub message: VmGoldenMeasurement,
}

impl GceDocument {
    pub fn to_bytes(&self) -> Vec<u8> {
        self.message.encode_to_vec()
    }
}

/// The shape a document is keyed by: everything the message does not index by.
fn document_key(e: &Entry) -> Shape {
    let mut s = e.shape.clone();
    match e.platform {
        Platform::Snp => s.vcpus = None,
        Platform::Tdx => {
            s.memory = None;
            s.early_accept = None;
            s.vcpus = None;
        }
    }
    s
}

/// One document per distinct (platform, shape without the indexed fields), in first-seen order.
pub fn encode(set: &ReferenceSet, opts: &GceOptions) -> Result<Vec<GceDocument>, GceError> {
    if set.entries.is_empty() {
        return Err(GceError::Empty);
    }
    let mut docs: Vec<(Platform, GceDocument)> = Vec::new();
    for (index, e) in set.entries.iter().enumerate() {
        let bad = |msg: String| GceError::Entry { index, shape: e.shape.describe(), msg };
        let key = document_key(e);
        let pos = match docs.iter().position(|(p, d)| *p == e.platform && d.shape == key) {
            Some(p) => p,
            None => {
                let message = VmGoldenMeasurement {
                    timestamp: opts.timestamp.map(|seconds| Timestamp { seconds, nanos: 0 }),
                    digest: set.metadata.firmware_sha384.map(|d| d.to_vec()).unwrap_or_default(),
                    ..VmGoldenMeasurement::default()
                };
                docs.push((e.platform, GceDocument { shape: key, message }));
                docs.len() - 1
            }
        };
        let msg = &mut docs[pos].1.message;
        match e.platform {
            Platform::Snp => {
                let vcpus = e.shape.vcpus.ok_or_else(|| bad("no vCPU count: the GCE map is keyed by it".into()))?;
                let m = e.values.measurement.ok_or_else(|| bad("no SNP measurement".into()))?;
                let snp = msg.sev_snp.get_or_insert_with(|| VmSevSnp {
                    svn: opts.svn,
                    family_id: opts.family_id.to_vec(),
                    image_id: opts.image_id.to_vec(),
                    policy: e.shape.policy.unwrap_or(crate::plan::sev::DEFAULT_POLICY),
                    ..VmSevSnp::default()
                });
                if let Some(prev) = snp.measurements.insert(vcpus, m.to_vec())
                    && prev != m
                {
                    return Err(bad(format!("two different digests for {vcpus} vCPUs in one document")));
                }
            }
            Platform::Tdx => {
                let m = e.values.mrtd.ok_or_else(|| bad("no MRTD".into()))?;
                let memory = e.shape.memory.ok_or_else(|| bad("no memory size: GCE's TDX list is keyed by ram_gib".into()))?;
                let ram_gib = if memory.is_multiple_of(1 << 30) { u32::try_from(memory >> 30).ok() } else { None }
                    .ok_or_else(|| bad(format!("memory {memory} bytes is not a whole number of GiB below 4 PiB")))?;
                let t = msg.tdx.get_or_insert_with(|| VmTdx { svn: opts.svn, measurements: Vec::new() });
                let item = TdxMeasurement { ram_gib, early_accept: e.shape.early_accept.unwrap_or(false), mrtd: m.to_vec() };
                if !t.measurements.contains(&item) {
                    t.measurements.push(item);
                }
            }
        }
    }
    Ok(docs.into_iter().map(|(_, d)| d).collect())
}

/// Reads a `VMGoldenMeasurement`, or the `VMLaunchEndorsement` GCE serves around one (its
/// signature is not checked here).
pub fn decode(bytes: &[u8]) -> Result<ReferenceSet, GceError> {
    let golden = match VmLaunchEndorsement::decode(bytes) {
        Ok(env) if !env.serialized_uefi_golden.is_empty() && !env.signature.is_empty() => {
            VmGoldenMeasurement::decode(env.serialized_uefi_golden.as_slice())
                .map_err(|e| GceError::Decode(format!("serialized_uefi_golden: {e}")))?
        }
        _ => VmGoldenMeasurement::decode(bytes).map_err(|e| GceError::Decode(e.to_string()))?,
    };
    from_message(&golden)
}

fn digest48(field: &'static str, b: &[u8]) -> Result<[u8; 48], GceError> {
    b.try_into().map_err(|_| GceError::Field { field, msg: format!("{} bytes; expected a 48-byte SHA-384", b.len()) })
}

/// The entries of one message.
pub fn from_message(m: &VmGoldenMeasurement) -> Result<ReferenceSet, GceError> {
    let mut set = ReferenceSet {
        metadata: Metadata {
            timestamp: m.timestamp.map(|t| t.seconds),
            firmware_sha384: if m.digest.is_empty() { None } else { Some(digest48("digest", &m.digest)?) },
            ..Metadata::default()
        },
        entries: Vec::new(),
    };
    if let Some(snp) = &m.sev_snp {
        set.metadata.svn = Some(u64::from(snp.svn));
        set.metadata.family_id = (!snp.family_id.is_empty()).then(|| hex::encode(&snp.family_id));
        set.metadata.image_id = (!snp.image_id.is_empty()).then(|| hex::encode(&snp.image_id));
        for (&vcpus, d) in &snp.measurements {
            let shape = Shape { vcpus: Some(vcpus), policy: Some(snp.policy), ..Shape::default() };
            let values = Values { measurement: Some(digest48("sev_snp.measurements", d)?), ..Values::default() };
            set.entries.push(Entry { platform: Platform::Snp, shape, values, inputs: BTreeMap::new() });
        }
        if !snp.svsm_measurement.is_empty() {
            let values = Values { measurement: Some(digest48("sev_snp.svsm_measurement", &snp.svsm_measurement)?), ..Values::default() };
            let shape = Shape { policy: Some(snp.policy), ..Shape::default() };
            set.entries.push(Entry { platform: Platform::Snp, shape, values, inputs: BTreeMap::new() });
        }
    }
    if let Some(tdx) = &m.tdx {
        set.metadata.svn = set.metadata.svn.or(Some(u64::from(tdx.svn)));
        for t in &tdx.measurements {
            let shape = Shape { memory: Some(u64::from(t.ram_gib) << 30), early_accept: Some(t.early_accept), ..Shape::default() };
            let values = Values { mrtd: Some(digest48("tdx.measurements.mrtd", &t.mrtd)?), ..Values::default() };
            set.entries.push(Entry { platform: Platform::Tdx, shape, values, inputs: BTreeMap::new() });
        }
    }
    if set.entries.is_empty() {
        return Err(GceError::Field { field: "sev_snp/tdx", msg: "no measurements".into() });
    }
    Ok(set)
}

fn descriptor() -> Result<MessageDescriptor, GceError> {
    let pool = DescriptorPool::decode(defs::DESCRIPTOR_SET).map_err(|e| GceError::Descriptor(e.to_string()))?;
    pool.get_message_by_name(defs::GOLDEN_MEASUREMENT).ok_or_else(|| GceError::Descriptor(format!("no {}", defs::GOLDEN_MEASUREMENT)))
}

/// The protobuf text format of a binary `VMGoldenMeasurement`.
pub fn to_text(bytes: &[u8]) -> Result<String, GceError> {
    let msg = DynamicMessage::decode(descriptor()?, bytes).map_err(|e| GceError::Decode(e.to_string()))?;
    let mut s = msg.to_text_format();
    s.push('\n');
    Ok(s)
}

/// The binary encoding of a `VMGoldenMeasurement` in text format.
pub fn from_text(text: &str) -> Result<Vec<u8>, GceError> {
    let msg = DynamicMessage::parse_text_format(descriptor()?, text).map_err(|e| GceError::Text(e.to_string()))?;
    Ok(msg.encode_to_vec())
}
