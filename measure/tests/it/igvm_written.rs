//! IGVM files written from real OVMF images (`igvm::write`): under the QEMU profile they measure as
//! the same OVMF launched natively (sev-snp-measure's vectors), and their TDX platform as the TDVF
//! launched natively (the TDX vectors).

use std::path::PathBuf;

use prelaunch_measure::igvm::{IgvmConfig, IgvmImage, build, profile, write};
use prelaunch_measure::plan::{self, Mode, TdxPolicy, sev::AmdConfig};
use prelaunch_measure::{FirmwareImage, digest, snp};

fn shared(var: &str, sub: &str) -> PathBuf {
    let dir = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared").join(sub));
    assert!(dir.is_dir(), "{} not found: set {var}", dir.display());
    dir
}

fn firmware(name: &str) -> Vec<u8> {
    std::fs::read(shared("PRELAUNCH_FIRMWARE_DIR", "firmware").join(name)).unwrap()
}

fn vectors(file: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(shared("PRELAUNCH_VECTORS_DIR", "vectors").join(file)).unwrap()).unwrap()
}

/// sev-snp-measure's digest for exactly these arguments.
fn snp_vector(args: &[&str]) -> String {
    let v = vectors("snp.json");
    let hit = v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).eq(args.iter().copied()));
    hit.unwrap_or_else(|| panic!("no sev-snp-measure vector for {args:?}"))["digest"].as_str().unwrap().to_owned()
}

fn snp_plan<'a>(fw: &FirmwareImage<'a>, vcpus: u32, sig: u32) -> plan::CheckedPlan<'a> {
    let mut cfg = AmdConfig::new(Mode::Snp);
    cfg.vcpus = vcpus;
    cfg.vcpu_sig = sig;
    plan::sev::build(fw, &cfg).unwrap()
}

fn measure_igvm(file: &[u8], mode: Mode, p: &profile::LoaderProfile, vcpus: u32, sig: u32) -> String {
    let img = IgvmImage::parse(file).unwrap();
    let mut cfg = IgvmConfig::new(mode, p);
    (cfg.vcpus, cfg.vcpu_sig) = (vcpus, sig);
    digest::fold(&build(&img, &cfg).unwrap().plan).hex()
}

#[test]
fn a_written_ovmf_measures_under_qemu_as_the_ovmf_itself_for_1_2_and_4_vcpus() {
    let bytes = firmware("bookworm_OVMF.fd");
    let fw = FirmwareImage::parse(&bytes).unwrap();
    let sig = snp::cpu::by_name("EPYC-v4").unwrap();
    for n in [1u32, 2, 4] {
        let native = snp_plan(&fw, n, sig);
        let file = write::write(&[&native]).unwrap();
        let expected = snp_vector(&["--mode=snp", &format!("--vcpus={n}"), "--vcpu-type=EPYC-v4", "--ovmf=@bookworm_OVMF.fd"]);
        assert_eq!(measure_igvm(&file, Mode::Snp, &profile::QEMU, n, sig), expected, "{n} vCPUs");
        // The spec's reading differs: the SEC_MEM, SVSM_CAA and hashes pages are NORMAL zeros there.
        assert_ne!(measure_igvm(&file, Mode::Snp, &profile::IGVM_SPEC, n, sig), expected);
    }
}

#[test]
fn a_written_tdvf_measures_under_the_spec_as_the_tdvf_itself() {
    let bytes = firmware("bookworm_OVMF.fd");
    let fw = FirmwareImage::parse(&bytes).unwrap();
    let native = plan::tdx::build(&fw, TdxPolicy::default()).unwrap();
    let snp = snp_plan(&fw, 1, 0);
    // One file for both platforms: each platform's directives under its own mask.
    let file = write::write(&[&snp, &native]).unwrap();
    let v = vectors("tdx.json");
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["firmware"] == "@bookworm_OVMF.fd" && c["page_order"] == "single" && c["page_aug"] == "add")
        .unwrap();
    assert_eq!(measure_igvm(&file, Mode::Tdx, &profile::IGVM_SPEC, 1, 0), case["mrtd"].as_str().unwrap());
    assert_eq!(measure_igvm(&file, Mode::Snp, &profile::QEMU, 1, 0), digest::fold(&snp).hex());
}
