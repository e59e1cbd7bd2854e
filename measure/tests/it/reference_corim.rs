//! The CoRIM encoder against the `corim` crate (Azure/corim, what the igvm crate builds its
//! launch-measurement CoRIMs with): byte-identical for one entry, structurally valid and matching
//! with the CoRIM appraisal rules for a matrix; and a table of bad CoRIMs the decoder refuses.

use std::collections::BTreeMap;

use corim::builder::{ComidBuilder, CorimBuilder};
use corim::types::common::{MeasuredElement, TagIdChoice};
use corim::types::corim::{CorimId, ProfileChoice};
use corim::types::environment::{ClassMap, EnvironmentMap};
use corim::types::measurement::{Digest, MeasurementMap, MeasurementValuesMap, SvnChoice};
use corim::types::triples::ConditionalSeriesRecord;
use prelaunch_measure::reference::corim::{CorimOptions, decode, encode};
use prelaunch_measure::reference::corim_defs;
use prelaunch_measure::reference::{Entry, Platform, ReferenceSet, Shape, Values};

fn digest(i: u32) -> [u8; 48] {
    prelaunch_measure::hash::Sha384::digest(&i.to_le_bytes())
}

fn snp_set(n: u32) -> ReferenceSet {
    let entries = (1..=n)
        .map(|v| Entry {
            platform: Platform::Snp,
            shape: Shape { vcpus: Some(v), vcpu_type: Some("EPYC-Genoa".into()), ..Shape::default() },
            values: Values { measurement: Some(digest(v)), ..Values::default() },
            inputs: BTreeMap::from([("firmware".to_owned(), "ab".repeat(32))]),
        })
        .collect();
    ReferenceSet { entries, ..ReferenceSet::default() }
}

fn env(vendor: &str, model: &str) -> EnvironmentMap {
    let class = ClassMap { vendor: Some(vendor.into()), model: Some(model.into()), ..ClassMap::default() };
    EnvironmentMap { class: Some(class), instance: None, group: None }
}

fn mmap(mkey: &str, d: &[u8; 48]) -> MeasurementMap {
    let mut mval = MeasurementValuesMap::default();
    mval.digests = Some(vec![Digest::new(7, d.to_vec())]);
    MeasurementMap { mkey: Some(MeasuredElement::Text(mkey.into())), mval, authorized_by: None }
}

/// The igvm crate's recipe, through the corim crate: one reference triple, one CES triple.
fn corim_crate_single(vendor: &str, model: &str, mkey: &str, d: &[u8; 48], svn: u64) -> Vec<u8> {
    let tag_id = uuid::Uuid::new_v5(&uuid::Uuid::from_bytes(corim_defs::TAG_ID_NAMESPACE), format!("{vendor}/{model}").as_bytes());
    let reference = mmap(mkey, d);
    let mut add = MeasurementValuesMap::default();
    add.svn = Some(SvnChoice::ExactValue(svn));
    let addition = MeasurementMap { mkey: None, mval: add, authorized_by: None };
    let mut b = ComidBuilder::new(TagIdChoice::Text(tag_id.to_string()));
    let r = b.declare_env("platform", env(vendor, model)).unwrap();
    let comid = b
        .add_reference_triple_for(&r, vec![reference.clone()])
        .add_conditional_endorsement_series_for(&r, Vec::new(), None, vec![ConditionalSeriesRecord::new(vec![reference], vec![addition])])
        .strict_links(true)
        .build()
        .unwrap();
    CorimBuilder::new(CorimId::Text(format!("{vendor}/{model}/launch-measurement")))
        .set_profile(ProfileChoice::Uri(corim_defs::PROFILE_URI.into()))
        .add_comid_tag(comid)
        .unwrap()
        .build_bytes()
        .unwrap()
}

#[test]
fn one_entry_is_byte_identical_to_the_corim_crate() {
    let set = snp_set(1);
    let ours = encode(&set, CorimOptions { svn: 3, shapes: false }).unwrap();
    let theirs = corim_crate_single("AMD", "SEV-SNP", "MEASUREMENT", &digest(1), 3);
    assert_eq!(hex::encode(&ours), hex::encode(&theirs));

    let mut tdx = set.clone();
    tdx.entries[0].platform = Platform::Tdx;
    tdx.entries[0].values = Values { mrtd: Some(digest(9)), ..Values::default() };
    let ours = encode(&tdx, CorimOptions { svn: 5, shapes: false }).unwrap();
    assert_eq!(ours, corim_crate_single("Intel", "TDX", "MRTD", &digest(9), 5));
}

#[test]
fn the_tag_id_is_the_profiles() {
    // The value the igvm crate's own test asserts for AMD/SEV-SNP.
    assert_eq!(corim_defs::tag_id(corim_defs::profile_platform(Platform::Snp)), "77e8061e-4634-5e53-a848-d1d09e996843");
}

#[test]
fn a_matrix_validates_and_each_value_is_corroborated_by_exactly_one_triple() {
    let set = snp_set(40);
    let bytes = encode(&set, CorimOptions::default()).unwrap();
    let (corim_map, comids) = corim::validate::decode_and_validate(&bytes).expect("the corim crate accepts it");
    assert_eq!(corim_map.profile.unwrap().to_string(), corim_defs::PROFILE_URI);
    assert_eq!(comids.len(), 1);
    let refs = comids[0].triples.reference_triples.as_ref().unwrap();
    assert_eq!(refs.len(), 40);
    for probe in [1u32, 23, 40] {
        let ev =
            corim::validate::EvidenceClaim { environment: env("AMD", "SEV-SNP"), measurements: vec![mmap("MEASUREMENT", &digest(probe))] };
        let hits = corim::validate::match_reference_values(refs, &[ev]);
        assert_eq!(hits.len(), 1, "{probe} vCPUs");
    }
    let ev = corim::validate::EvidenceClaim { environment: env("AMD", "SEV-SNP"), measurements: vec![mmap("MEASUREMENT", &digest(41))] };
    assert!(corim::validate::match_reference_values(refs, &[ev]).is_empty());
}

#[test]
fn round_trip_keeps_shapes_values_and_inputs() {
    let set = snp_set(5);
    let back = decode(&encode(&set, CorimOptions { svn: 7, shapes: true }).unwrap()).unwrap();
    assert_eq!(back.entries, set.entries);
    assert_eq!(back.metadata.svn, Some(7));
    // Without shapes: the values, one entry per triple, no parameters.
    let bare = decode(&encode(&set, CorimOptions { svn: 7, shapes: false }).unwrap()).unwrap();
    assert_eq!(bare.entries.len(), 5);
    assert!(bare.entries.iter().all(|e| e.shape == Shape::default()));
    assert_eq!(bare.entries[2].values, set.entries[2].values);
}

#[test]
fn equal_values_share_a_triple() {
    let mut set = snp_set(3);
    set.entries[2].values = set.entries[0].values.clone();
    let bytes = encode(&set, CorimOptions::default()).unwrap();
    let (_, comids) = corim::validate::decode_and_validate(&bytes).unwrap();
    assert_eq!(comids[0].triples.reference_triples.as_ref().unwrap().len(), 2);
    assert_eq!(decode(&bytes).unwrap().entries, set.entries);
}

#[test]
fn mixed_platforms_and_empty_sets_are_refused() {
    let mut set = snp_set(2);
    set.entries[1].platform = Platform::Tdx;
    assert!(encode(&set, CorimOptions::default()).unwrap_err().to_string().contains("mixes"));
    assert!(encode(&ReferenceSet::default(), CorimOptions::default()).is_err());
}

/// Re-encodes a CoRIM after `edit` changes its CBOR tree.
fn mutate(edit: impl Fn(&mut ciborium::Value)) -> Vec<u8> {
    let bytes = encode(&snp_set(2), CorimOptions::default()).unwrap();
    let mut v: ciborium::Value = ciborium::from_reader(&bytes[..]).unwrap();
    edit(&mut v);
    let mut out = Vec::new();
    ciborium::into_writer(&v, &mut out).unwrap();
    out
}

fn top(v: &mut ciborium::Value) -> &mut Vec<(ciborium::Value, ciborium::Value)> {
    match v {
        ciborium::Value::Tag(501, inner) => inner.as_map_mut().unwrap(),
        _ => panic!("not a CoRIM"),
    }
}

fn key_is(k: &ciborium::Value, n: i64) -> bool {
    k.as_integer().is_some_and(|i| i128::from(i) == i128::from(n))
}

/// Applies `edit` to the decoded CoMID and puts it back.
fn mutate_comid(edit: impl Fn(&mut ciborium::Value) + Copy) -> Vec<u8> {
    mutate(move |v| {
        let t = top(v);
        let tags = t.iter_mut().find(|(k, _)| key_is(k, 1)).unwrap();
        let ciborium::Value::Tag(506, b) = &mut tags.1.as_array_mut().unwrap()[0] else { panic!() };
        let mut comid: ciborium::Value = ciborium::from_reader(b.as_bytes().unwrap().as_slice()).unwrap();
        edit(&mut comid);
        let mut out = Vec::new();
        ciborium::into_writer(&comid, &mut out).unwrap();
        **b = ciborium::Value::Bytes(out);
    })
}

#[test]
fn bad_corims_are_refused_with_the_field_named() {
    let good = encode(&snp_set(2), CorimOptions::default()).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "not CBOR"),
        ("truncated", good[..good.len() / 2].to_vec(), "not CBOR"),
        ("trailing byte", [good.clone(), vec![0]].concat(), "after the CBOR item"),
        ("wrong tag", [&[0xd9, 0x01, 0xf4][..], &good[3..]].concat(), "#6.500"),
        ("no profile", mutate(|v| top(v).retain(|(k, _)| !key_is(k, 3))), "no profile"),
        (
            "other profile",
            mutate(|v| {
                for (k, val) in top(v).iter_mut() {
                    if key_is(k, 3) {
                        *val = ciborium::Value::Text("tag:example.com,2026:other".into());
                    }
                }
            }),
            "expected \"tag:microsoft.com",
        ),
        (
            "two tags",
            mutate(|v| {
                let t = top(v);
                let tags = &mut t.iter_mut().find(|(k, _)| key_is(k, 1)).unwrap().1;
                let first = tags.as_array().unwrap()[0].clone();
                tags.as_array_mut().unwrap().push(first);
            }),
            "exactly one CoMID",
        ),
        (
            "shape names a missing triple",
            mutate(|v| {
                let t = top(v);
                let shapes = &mut t.iter_mut().find(|(k, _)| key_is(k, corim_defs::corim_map::PRELAUNCH_SHAPES)).unwrap().1;
                let rec = shapes.as_array_mut().unwrap()[0].as_map_mut().unwrap();
                rec.iter_mut().find(|(k, _)| k.as_text() == Some("triple")).unwrap().1 = ciborium::Value::Integer(99.into());
            }),
            "triple 99 of 2",
        ),
        (
            "wrong tag-id",
            mutate_comid(|c| {
                let ident = c.as_map_mut().unwrap().iter_mut().find(|(k, _)| key_is(k, 1)).unwrap();
                ident.1.as_map_mut().unwrap()[0].1 = ciborium::Value::Text("00000000-0000-0000-0000-000000000000".into());
            }),
            "tag-id",
        ),
        (
            "no CES triple",
            mutate_comid(|c| {
                let triples = &mut c.as_map_mut().unwrap().iter_mut().find(|(k, _)| key_is(k, 4)).unwrap().1;
                triples.as_map_mut().unwrap().retain(|(k, _)| !key_is(k, 8));
            }),
            "key 8",
        ),
        (
            "SHA-256 digest",
            mutate_comid(|c| {
                let triples = &mut c.as_map_mut().unwrap().iter_mut().find(|(k, _)| key_is(k, 4)).unwrap().1;
                let refs = &mut triples.as_map_mut().unwrap().iter_mut().find(|(k, _)| key_is(k, 0)).unwrap().1;
                let ms = &mut refs.as_array_mut().unwrap()[0].as_array_mut().unwrap()[1];
                let mval = &mut ms.as_array_mut().unwrap()[0].as_map_mut().unwrap()[1].1;
                let d = &mut mval.as_map_mut().unwrap()[0].1.as_array_mut().unwrap()[0];
                *d = ciborium::Value::Array(vec![ciborium::Value::Integer(1.into()), ciborium::Value::Bytes(vec![0; 32])]);
            }),
            "SHA-384 (7)",
        ),
        (
            "unknown vendor",
            mutate_comid(|c| {
                let triples = &mut c.as_map_mut().unwrap().iter_mut().find(|(k, _)| key_is(k, 4)).unwrap().1;
                let refs = &mut triples.as_map_mut().unwrap().iter_mut().find(|(k, _)| key_is(k, 0)).unwrap().1;
                let envm = &mut refs.as_array_mut().unwrap()[1].as_array_mut().unwrap()[0];
                let class = &mut envm.as_map_mut().unwrap()[0].1;
                class.as_map_mut().unwrap()[0].1 = ciborium::Value::Text("ACME".into());
            }),
            "ACME",
        ),
    ];
    for (name, bytes, want) in cases {
        let err = decode(&bytes).map(|_| ()).expect_err(name).to_string();
        assert!(err.contains(want), "{name}: {err:?} does not mention {want:?}");
    }
}
