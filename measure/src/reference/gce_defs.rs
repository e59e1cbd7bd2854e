//! GCE's endorsement messages (package `cloud_vmm_proto`) for prost, field for field as in
//! `schema/gce/endorsement.proto`; `DESCRIPTOR_SET` is that file compiled by protoc (with its
//! imports), for the text format.

use std::collections::BTreeMap;

/// `protoc --include_imports --descriptor_set_out` of schema/gce/endorsement.proto.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!("../../../schema/gce/endorsement.binpb");
/// The message `--format gce` writes.
pub const GOLDEN_MEASUREMENT: &str = "cloud_vmm_proto.VMGoldenMeasurement";
/// The signed envelope GCE serves (`serialized_uefi_golden` + `signature`).
pub const LAUNCH_ENDORSEMENT: &str = "cloud_vmm_proto.VMLaunchEndorsement";

#[derive(Clone, PartialEq, prost::Message)]
pub struct VmLaunchEndorsement {
    #[prost(bytes = "vec", tag = "1")]
    pub serialized_uefi_golden: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VmGoldenMeasurement {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(uint64, tag = "2")]
    pub cl_spec: u64,
    #[prost(bytes = "vec", tag = "3")]
    pub commit: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub cert: Vec<u8>,
    /// SHA-384 of the firmware file.
    #[prost(bytes = "vec", tag = "5")]
    pub digest: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub ca_bundle: Vec<u8>,
    #[prost(message, optional, tag = "7")]
    pub sev_snp: Option<VmSevSnp>,
    #[prost(message, optional, tag = "8")]
    pub tdx: Option<VmTdx>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VmSevSnp {
    #[prost(uint32, tag = "1")]
    pub svn: u32,
    /// Launch digest (48 bytes) by vCPU count.
    #[prost(btree_map = "uint32, bytes", tag = "2")]
    pub measurements: BTreeMap<u32, Vec<u8>>,
    #[prost(bytes = "vec", tag = "3")]
    pub family_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub image_id: Vec<u8>,
    #[prost(uint64, tag = "5")]
    pub policy: u64,
    #[prost(bytes = "vec", tag = "6")]
    pub ca_bundle: Vec<u8>,
    #[prost(bytes = "vec", tag = "7")]
    pub svsm_measurement: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VmTdx {
    #[prost(uint32, tag = "1")]
    pub svn: u32,
    #[prost(message, repeated, tag = "2")]
    pub measurements: Vec<TdxMeasurement>,
}

/// `VMTdx.Measurement`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TdxMeasurement {
    #[prost(uint32, tag = "1")]
    pub ram_gib: u32,
    #[prost(bool, tag = "2")]
    pub early_accept: bool,
    #[prost(bytes = "vec", tag = "3")]
    pub mrtd: Vec<u8>,
}
