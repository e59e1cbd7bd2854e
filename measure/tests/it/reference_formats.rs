//! The GCE, Trustee and JSON views of a reference set: round trips, the descriptor built into
//! prelaunch against protoc's compilation of schema/gce/endorsement.proto, the text format through
//! protoc's own parser, and bad inputs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use prelaunch_measure::reference::gce::{self, GceOptions};
use prelaunch_measure::reference::gce_defs::DESCRIPTOR_SET;
use prelaunch_measure::reference::{Entry, Format, Platform, ReferenceSet, Shape, Values, decode, json, trustee};

fn d(i: u32) -> [u8; 48] {
    prelaunch_measure::hash::Sha384::digest(&i.to_be_bytes())
}

fn snp(n: u32) -> ReferenceSet {
    let entries = (1..=n)
        .map(|v| Entry {
            platform: Platform::Snp,
            shape: Shape { vcpus: Some(v), vcpu_type: Some("EPYC-Milan".into()), policy: Some(0x30000), ..Shape::default() },
            values: Values { measurement: Some(d(v)), ..Values::default() },
            inputs: BTreeMap::from([("firmware".to_owned(), "cd".repeat(32))]),
        })
        .collect();
    ReferenceSet { entries, ..ReferenceSet::default() }
}

fn schema_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/gce")
}

#[test]
fn the_built_in_descriptor_is_protocs_compilation_of_the_proto() {
    let out = tempfile::NamedTempFile::new().unwrap();
    let st = Command::new("protoc")
        .current_dir(schema_dir())
        .args(["--include_imports", &format!("--descriptor_set_out={}", out.path().display()), "endorsement.proto"])
        .status()
        .expect("protoc (apt-get install protobuf-compiler)");
    assert!(st.success());
    assert_eq!(std::fs::read(out.path()).unwrap(), DESCRIPTOR_SET, "schema/gce/endorsement.binpb is stale: regenerate it");
}

#[test]
fn gce_round_trips_and_protoc_parses_its_text_format() {
    let set = snp(64);
    let opts = GceOptions { svn: 4, family_id: [7; 16], image_id: [9; 16], timestamp: Some(1_800_000_000) };
    let docs = gce::encode(&set, &opts).unwrap();
    assert_eq!(docs.len(), 1);
    let bin = docs[0].to_bytes();
    let back = gce::decode(&bin).unwrap();
    assert_eq!(back.entries.len(), 64);
    for (a, b) in back.entries.iter().zip(&set.entries) {
        assert_eq!(a.values, b.values);
        assert_eq!(a.shape.vcpus, b.shape.vcpus);
        assert_eq!(a.shape.policy, Some(0x30000));
    }
    assert_eq!(back.metadata.svn, Some(4));
    assert_eq!(back.metadata.family_id.as_deref(), Some("07".repeat(16).as_str()));
    let text = gce::to_text(&bin).unwrap();
    assert_eq!(Format::detect(text.as_bytes()), Format::GceText);
    // The same message (map entries may come back in another order, so compare decoded).
    assert_eq!(gce::decode(&gce::from_text(&text).unwrap()).unwrap(), back, "text format round trip");
    // protoc parses prelaunch's text format to the same message.
    let mut child = Command::new("protoc")
        .current_dir(schema_dir())
        .args(["--encode=cloud_vmm_proto.VMGoldenMeasurement", "endorsement.proto"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("protoc");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(gce::decode(&o.stdout).unwrap(), back);
    // The signed envelope GCE serves is read too.
    use prost::Message;
    let env = prelaunch_measure::reference::gce_defs::VmLaunchEndorsement { serialized_uefi_golden: bin.clone(), signature: vec![1; 64] };
    assert_eq!(gce::decode(&env.encode_to_vec()).unwrap(), back);
}

#[test]
fn gce_tdx_lists_memory_sizes() {
    let entries = [2u64, 4, 16]
        .iter()
        .map(|g| Entry {
            platform: Platform::Tdx,
            shape: Shape { memory: Some(g << 30), ..Shape::default() },
            values: Values { mrtd: Some(d(1)), ..Values::default() },
            inputs: BTreeMap::new(),
        })
        .collect();
    let set = ReferenceSet { entries, ..ReferenceSet::default() };
    let docs = gce::encode(&set, &GceOptions::default()).unwrap();
    let t = docs[0].message.tdx.as_ref().unwrap();
    assert_eq!(t.measurements.iter().map(|m| m.ram_gib).collect::<Vec<_>>(), vec![2, 4, 16]);
    let mut odd = set.clone();
    odd.entries[0].shape.memory = Some(3 << 29);
    assert!(gce::encode(&odd, &GceOptions::default()).unwrap_err().to_string().contains("whole number of GiB"));
}

#[test]
fn json_and_trustee_round_trip() {
    let set = snp(5);
    let j = json::encode(&set, "test").unwrap();
    assert_eq!(Format::detect(&j), Format::Json);
    assert_eq!(json::decode(&j).unwrap(), set);
    let t = trustee::encode(&set, 1_800_000_000).unwrap();
    assert_eq!(Format::detect(&t), Format::Trustee);
    let back = trustee::decode(&t).unwrap();
    assert_eq!(
        back.entries.iter().map(|e| e.values.clone()).collect::<Vec<_>>(),
        set.entries.iter().map(|e| e.values.clone()).collect::<Vec<_>>()
    );
    let v: serde_json::Value = serde_json::from_slice(&t).unwrap();
    assert_eq!(v[0]["expiration"], "2027-01-15T08:00:00Z");
    // The sample provenance RVPS registers.
    let sample = format!("{{\"snp_launch_measurement\": [\"{}\"]}}", hex::encode(d(3)));
    assert_eq!(trustee::decode(sample.as_bytes()).unwrap().entries[0].values.measurement, Some(d(3)));
    let (_, _, s) = decode(&j, None).unwrap();
    assert_eq!(s, set);
}

#[test]
fn rfc3339_dates() {
    assert_eq!(trustee::rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(trustee::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(trustee::rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
}

#[test]
fn bad_json_trustee_and_gce_inputs_are_refused() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("json newer version", br#"{"format":"prelaunch-reference-values","version":9,"entries":[]}"#.to_vec(), "version 9"),
        ("json other format", br#"{"format":"x","version":1,"entries":[]}"#.to_vec(), "\"x\""),
        ("json short digest", br#"{"format":"prelaunch-reference-values","version":1,"entries":[{"platform":"snp","parameters":{},"values":{"measurement":"00"}}]}"#.to_vec(), "1 bytes of hex"),
        ("json unknown field", br#"{"format":"prelaunch-reference-values","version":1,"entries":[{"platform":"snp","parameters":{"cores":1},"values":{}}]}"#.to_vec(), "cores"),
        ("trustee bad hex", br#"{"snp_launch_measurement": ["zz"]}"#.to_vec(), "not hex"),
        ("trustee unknown claims", br#"{"other": ["00"]}"#.to_vec(), "other"),
        ("gce short digest", gce_with_digest(vec![1; 47]), "47 bytes"),
        ("gce nothing", Vec::new(), "no measurements"),
    ];
    for (name, bytes, want) in cases {
        let err = decode(&bytes, None).map(|_| ()).expect_err(name).to_string();
        assert!(err.contains(want), "{name}: {err:?} lacks {want:?}");
    }
    // A TDX product that would explode is refused, not built.
    let list: Vec<String> = (0..200u32).map(|i| hex::encode(d(i))).collect();
    let big = serde_json::json!({"mr_td": list, "rtmr_0": list, "rtmr_1": list, "rtmr_2": list});
    assert!(trustee::decode(big.to_string().as_bytes()).unwrap_err().to_string().contains("combinations"));
}

fn gce_with_digest(dg: Vec<u8>) -> Vec<u8> {
    use prost::Message;
    let snp = prelaunch_measure::reference::gce_defs::VmSevSnp { measurements: BTreeMap::from([(1, dg)]), ..Default::default() };
    prelaunch_measure::reference::gce_defs::VmGoldenMeasurement { sev_snp: Some(snp), ..Default::default() }.encode_to_vec()
}
