//! RTMR0..2 and MRTD against the values an independent peer (tdx-measure, dstack-mr's fork) computed
//! on the same inputs: the real Debian 13 and Debian 12 OVMF images, the project's generated PE
//! kernel, initrd and ACPI blobs, 2 GiB and 4 GiB (testdata/tdx-rtmr/reference.json and README).
//! The cases with a real Debian kernel are checked where the kernel is at hand (bench/tdx-rtmr.sh).

use std::path::PathBuf;

use prelaunch_measure::FirmwareImage;
use prelaunch_measure::digest;
use prelaunch_measure::hash::Sha384;
use prelaunch_measure::plan::{self, PageAugPolicy, PageOrder, TdxPolicy};
use prelaunch_measure::tdx::boot::{AcpiBlobs, BootInputs, StubMeasures, expected};
use prelaunch_measure::tdx::profiles;
use prelaunch_testdata::PeKernel;
use serde_json::Value;

fn firmware_dir() -> PathBuf {
    let d = std::env::var_os("PRELAUNCH_FIRMWARE_DIR").map(PathBuf::from).expect("set PRELAUNCH_FIRMWARE_DIR (scripts/test does)");
    assert!(d.is_dir(), "{} is not a directory", d.display());
    d
}

/// The generated initrd of reference.json: a SHA-384 chain from "prelaunch-initrd".
fn initrd() -> Vec<u8> {
    let mut out = Vec::with_capacity(8 << 20);
    let mut x = b"prelaunch-initrd".to_vec();
    for _ in 0..(8 * 1024 * 1024 / 48) {
        x = Sha384::digest(&x).to_vec();
        out.extend_from_slice(&x);
    }
    out
}

fn firmware(spec: &str) -> Vec<u8> {
    let dir = firmware_dir();
    let mut fw = Vec::new();
    // "VARS + CODE": the combined image QEMU -bios takes, variable store first.
    for part in spec.split(" + ") {
        fw.extend(std::fs::read(dir.join(part)).unwrap_or_else(|e| panic!("{part}: {e}")));
    }
    fw
}

#[test]
fn generated_inputs_agree_with_the_peer_on_debian_firmware() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/tdx-rtmr/reference.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let kernel = PeKernel { seed: 0, ..Default::default() }.build().bytes;
    let initrd = initrd();
    let acpi = prelaunch_testdata::acpi::build(1, 0);
    let blobs = [("etc/acpi/rsdp".to_owned(), &acpi.rsdp[..]), ("etc/acpi/tables".to_owned(), &acpi.tables[..])];
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap().iter().filter(|c| c["checked_in_ci"] == true) {
        let name = case["name"].as_str().unwrap();
        assert_eq!(case["kernel"], "generated", "{name}");
        let fw_bytes = firmware(case["firmware"].as_str().unwrap());
        let fw = FirmwareImage::parse(&fw_bytes).unwrap();
        let md = fw.tdvf.clone().unwrap();
        let cfv_section = md.sections.iter().find(|s| s.kind == prelaunch_measure::image::tdvf::TdvfSectionKind::Cfv).unwrap();
        let cfv = &fw_bytes[cfv_section.data_offset as usize..][..cfv_section.raw_size as usize];
        let want = if case["prelaunch"] == "peer" { &case["peer"] } else { &case["prelaunch"] };
        let qemu = prelaunch_measure::qemu::profile::by_version(case["profiles"]["qemu"].as_str().unwrap()).unwrap();
        let inputs = BootInputs {
            tdvf: profiles::tdvf(case["profiles"]["tdvf"].as_str().unwrap()).unwrap(),
            qemu,
            metadata: &md,
            cfv: Some(cfv),
            memory: Some(case["memory"].as_u64().unwrap()),
            secure_boot_support: false,
            acpi: Some(AcpiBlobs { loader: &acpi.loader, blobs: &blobs }),
            fw_cfg: &[],
            boot_vars: None,
            smbios_digest: None,
            kernel: Some(&kernel),
            initrd: Some(&initrd),
            cmdline: case["cmdline"].as_str().unwrap().as_bytes(),
            stub: if case["kernel_stub_measures"] == true { StubMeasures::Yes } else { StubMeasures::No },
            setup_patch: None,
        };
        let e = expected(&inputs).unwrap();
        for r in 0..3 {
            let got = e.rtmrs[r].unwrap_or_else(|| panic!("{name}: RTMR{r} not computed: {:?}", e.missing[r])).hex();
            assert_eq!(got, want[format!("rtmr{r}")].as_str().unwrap(), "{name}: RTMR{r}");
        }
        let order = if qemu.tdx_page_order == PageOrder::TwoPass { PageOrder::TwoPass } else { PageOrder::Single };
        let p = plan::tdx::build(&fw, TdxPolicy { page_order: order, page_aug: PageAugPolicy::Add }).unwrap();
        assert_eq!(digest::fold(&p).hex(), want["mrtd"].as_str().unwrap(), "{name}: MRTD");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} cases checked");
}

#[test]
fn every_input_moves_the_register_it_feeds() {
    // The agreement above is not an accident of constant registers: each input changes only its own.
    let fw_bytes = firmware("trixie_OVMF_VARS_4M.fd + trixie_OVMF_CODE_4M.fd");
    let fw = FirmwareImage::parse(&fw_bytes).unwrap();
    let md = fw.tdvf.clone().unwrap();
    let kernel = PeKernel { seed: 0, ..Default::default() }.build().bytes;
    let other_kernel = PeKernel { seed: 5, ..Default::default() }.build().bytes;
    let acpi = prelaunch_testdata::acpi::build(1, 0);
    let acpi2 = prelaunch_testdata::acpi::build(2, 0);
    let run = |kernel: &[u8], initrd: &[u8], cmdline: &[u8], mem: u64, acpi: &prelaunch_testdata::acpi::AcpiBlobs| {
        let blobs = [("etc/acpi/rsdp".to_owned(), &acpi.rsdp[..]), ("etc/acpi/tables".to_owned(), &acpi.tables[..])];
        let inputs = BootInputs {
            tdvf: profiles::tdvf("debian-13").unwrap(),
            qemu: prelaunch_measure::qemu::profile::by_version("9.2").unwrap(),
            metadata: &md,
            cfv: Some(&fw_bytes[..0x84000]),
            memory: Some(mem),
            secure_boot_support: false,
            acpi: Some(AcpiBlobs { loader: &acpi.loader, blobs: &blobs }),
            fw_cfg: &[],
            boot_vars: None,
            smbios_digest: None,
            kernel: Some(kernel),
            initrd: Some(initrd),
            cmdline,
            stub: StubMeasures::Yes,
            setup_patch: None,
        };
        expected(&inputs).unwrap().rtmrs.map(|r| r.unwrap())
    };
    let base = run(&kernel, b"initrd", b"quiet", 2 << 30, &acpi);
    let diff = |o: [_; 3]| (0..3).filter(|&r| o[r] != base[r]).collect::<Vec<_>>();
    assert_eq!(diff(run(&other_kernel, b"initrd", b"quiet", 2 << 30, &acpi)), [1]);
    assert_eq!(diff(run(&kernel, b"initrd2", b"quiet", 2 << 30, &acpi)), [1, 2], "the patched header records the initrd size");
    assert_eq!(diff(run(&kernel, b"initrf", b"quiet", 2 << 30, &acpi)), [2]);
    // A protocol 2.02+ kernel's command line sits at 0x20000 whatever its length: RTMR2 only.
    assert_eq!(diff(run(&kernel, b"initrd", b"quiet2", 2 << 30, &acpi)), [2]);
    assert_eq!(diff(run(&kernel, b"initrd", b"quiet", 1 << 30, &acpi)), [0, 1], "TD HOB and the initrd's address move");
    assert_eq!(diff(run(&kernel, b"initrd", b"quiet", 2 << 30, &acpi2)), [0]);
}
