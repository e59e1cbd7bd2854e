//! `reference-values --check`: recompute the entries of a file made by anyone and list every one
//! that disagrees.
//!
//! A file rarely says everything about a shape (a GCE document names only the vCPU count; a Trustee
//! list nothing at all), so each entry's shape is completed from defaults the caller gives (the
//! command line), and the completed shapes are regrouped into walks exactly as the matrix does.

use std::collections::BTreeMap;

use super::matrix::Group;
use super::model::{Entry, Platform, ReferenceSet, Shape};

/// The walks that recompute a file: per group, the vCPU counts (SNP) and the entries it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    pub platform: Platform,
    pub group: Group,
    pub counts: Vec<u32>,
    pub entries: Vec<usize>,
}

/// Fills the fields `shape` lacks from `defaults`.
pub fn complete(shape: &Shape, defaults: &Shape) -> Shape {
    fn or<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
        a.clone().or_else(|| b.clone())
    }
    Shape {
        vcpus: or(&shape.vcpus, &defaults.vcpus),
        vcpu_type: or(&shape.vcpu_type, &defaults.vcpu_type),
        vcpu_sig: or(&shape.vcpu_sig, &defaults.vcpu_sig),
        vmm_type: or(&shape.vmm_type, &defaults.vmm_type),
        guest_features: or(&shape.guest_features, &defaults.guest_features),
        policy: or(&shape.policy, &defaults.policy),
        memory: or(&shape.memory, &defaults.memory),
        early_accept: or(&shape.early_accept, &defaults.early_accept),
        vars_size: or(&shape.vars_size, &defaults.vars_size),
        append: or(&shape.append, &defaults.append),
        tdx_page_order: or(&shape.tdx_page_order, &defaults.tdx_page_order),
        tdx_page_aug: or(&shape.tdx_page_aug, &defaults.tdx_page_aug),
    }
}

/// Groups the completed entries of `set` into walks (SNP: by shape without the vCPU count; TDX: by
/// shape without memory and vCPUs, whose MRTD is the same). `inputs` are the SHA-256 of the inputs
/// the caller will recompute with.
pub fn walks(set: &ReferenceSet, defaults: &Shape, inputs: &BTreeMap<String, String>) -> Vec<Walk> {
    let mut out: Vec<Walk> = Vec::new();
    for (i, e) in set.entries.iter().enumerate() {
        let mut shape = complete(&e.shape, defaults);
        let count = shape.vcpus;
        shape.vcpus = None;
        if e.platform == Platform::Tdx {
            shape.memory = None;
            shape.early_accept = None;
        }
        let pos = match out.iter().position(|w| w.platform == e.platform && w.group.shape == shape) {
            Some(p) => p,
            None => {
                out.push(Walk {
                    platform: e.platform,
                    group: Group { shape, inputs: inputs.clone() },
                    counts: Vec::new(),
                    entries: Vec::new(),
                });
                out.len() - 1
            }
        };
        let w = &mut out[pos];
        if let Some(c) = count
            && !w.counts.contains(&c)
        {
            w.counts.push(c);
        }
        w.entries.push(i);
    }
    out
}

/// One entry that disagrees with its recomputation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub index: usize,
    pub shape: String,
    /// The value or input that differs (`MEASUREMENT`, `MRTD`, `RTMR1`, `inputs.firmware`, ...).
    pub field: String,
    pub in_file: String,
    pub computed: String,
}

/// Compares a file's entry with the recomputed one, field by field; values the file does not carry
/// are not compared, values it carries that were not recomputed are reported.
pub fn compare(index: usize, file: &Entry, computed: &Entry) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let shape = file.shape.describe();
    let mut cmp = |field: &str, a: Option<&[u8; 48]>, b: Option<&[u8; 48]>| {
        if let Some(a) = a
            && b != Some(a)
        {
            out.push(Disagreement {
                index,
                shape: shape.clone(),
                field: field.into(),
                in_file: hex::encode(a),
                computed: b.map_or_else(|| "(not computed)".to_owned(), hex::encode),
            });
        }
    };
    cmp("MEASUREMENT", file.values.measurement.as_ref(), computed.values.measurement.as_ref());
    cmp("MRTD", file.values.mrtd.as_ref(), computed.values.mrtd.as_ref());
    for (i, (a, b)) in file.values.rtmrs().into_iter().zip(computed.values.rtmrs()).enumerate() {
        cmp(["RTMR0", "RTMR1", "RTMR2"][i], a, b);
    }
    for (name, want) in &file.inputs {
        let got = computed.inputs.get(name);
        if got != Some(want) {
            out.push(Disagreement {
                index,
                shape: shape.clone(),
                field: format!("inputs.{name}"),
                in_file: want.clone(),
                computed: got.cloned().unwrap_or_else(|| "(not given)".into()),
            });
        }
    }
    out
}
