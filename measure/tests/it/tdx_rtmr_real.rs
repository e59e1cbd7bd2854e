//! The RTMR event model against real TDVF boots: trustee's OVMF log (a QEMU direct boot on a
//! dstack-style TDVF with 2 GiB) and its grub log (10 GiB). Every event prelaunch predicts must
//! appear with the same digest and event data; with the ACPI and kernel digests taken from the log
//! (QEMU-generated, and a kernel not at hand), the predicted registers replay to the log's own.

use std::path::PathBuf;

use prelaunch_measure::eventlog::{EventLog, raw::ALG_SHA384, replay};
use prelaunch_measure::image::tdvf::{TdvfMetadata, TdvfSection, TdvfSectionKind};
use prelaunch_measure::tdx::boot::{AcpiBlobs, BootInputs, StubMeasures, expected};
use prelaunch_measure::tdx::compare::first_differences;
use prelaunch_measure::tdx::events::EventInput;
use prelaunch_measure::tdx::profiles;
use prelaunch_measure::tdx::rtmr::fold;
use prelaunch_testdata::PeKernel;

fn dir(env: &str, name: &str) -> PathBuf {
    let d = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(name));
    assert!(d.is_dir(), "{} not found: set {env}", d.display());
    d
}

fn section(kind: TdvfSectionKind, gpa: u64, size: u64) -> TdvfSection {
    TdvfSection { data_offset: 0, raw_size: 0, gpa, memory_size: size, kind, attributes: 0, offset: 0 }
}

/// The TDVF sections of dstack's OVMF (dstack-mr's td_hob_witness test), CFV at 0xffc00000.
fn dstack_metadata() -> TdvfMetadata {
    use TdvfSectionKind::*;
    TdvfMetadata {
        offset: 0,
        has_descriptor_guid: true,
        legacy_pointer: false,
        sections: vec![
            section(Bfv, 0xffc8_4000, 0x37_c000),
            section(Cfv, 0xffc0_0000, 0x8_4000),
            section(TempMem, 0x81_0000, 0x1_0000),
            section(TempMem, 0x80_b000, 0x2000),
            section(TdHob, 0x80_9000, 0x2000),
            section(TempMem, 0x80_0000, 0x6000),
        ],
    }
}

#[test]
fn trustee_ovmf_boot_is_reproduced_event_by_event() {
    let log_bytes = std::fs::read(dir("PRELAUNCH_EVIDENCE_DIR", "evidence").join("ccel/trustee_CCEL_data_ovmf")).unwrap();
    let log = EventLog::parse(&log_bytes).unwrap();
    let replayed = replay(&log).unwrap();
    // The blank Debian 13 OVMF_VARS_4M: the same store dstack's OVMF carries.
    let vars = std::fs::read(dir("PRELAUNCH_FIRMWARE_DIR", "firmware").join("trixie_OVMF_VARS_4M.fd")).unwrap();
    let md = dstack_metadata();
    let mut loader = vec![0u8; 4096];
    for (i, n) in ["etc/acpi/rsdp", "etc/acpi/tables"].iter().enumerate() {
        loader[i * 128] = 1;
        loader[i * 128 + 4..i * 128 + 4 + n.len()].copy_from_slice(n.as_bytes());
    }
    let blobs = [("etc/acpi/rsdp".to_owned(), &b"r"[..]), ("etc/acpi/tables".to_owned(), &b"t"[..])];
    let kernel = PeKernel::default().build().bytes;
    let inputs = BootInputs {
        // Two RTMR0 separators and none in RTMR1: the edk2 202302..202408 behaviour.
        tdvf: profiles::tdvf("edk2-202302").unwrap(),
        qemu: prelaunch_measure::qemu::profile::by_version("9.1").unwrap(),
        metadata: &md,
        cfv: Some(&vars),
        memory: Some(2 << 30),
        secure_boot_support: false,
        acpi: Some(AcpiBlobs { loader: &loader, blobs: &blobs }),
        fw_cfg: &[],
        boot_vars: None,
        smbios_digest: None,
        kernel: Some(&kernel),
        initrd: None,
        cmdline: b"",
        stub: StubMeasures::No,
        setup_patch: None,
    };
    let mut e = expected(&inputs).unwrap();
    // QEMU's ACPI blobs and the kernel are not at hand: take their digests from the log.
    let theirs: Vec<_> = log.events.iter().filter(|x| x.mr_index == 1 || x.mr_index == 2).collect();
    let acpi_digests: Vec<&[u8]> = theirs.iter().filter(|x| x.event_type == 0xa).map(|x| x.digest(ALG_SHA384).unwrap()).collect();
    let kernel_digest = theirs.iter().find(|x| x.event_type == 0x8000_0003).unwrap().digest(ALG_SHA384).unwrap();
    let mut acpi = acpi_digests.iter();
    for ev in e.events.iter_mut() {
        match ev.input {
            EventInput::AcpiLoader | EventInput::AcpiBlob { .. } => ev.digest = acpi.next().unwrap().to_vec().try_into().unwrap(),
            EventInput::Kernel { .. } => ev.digest = kernel_digest.try_into().unwrap(),
            _ => {}
        }
    }
    for rtmr in 0..2 {
        let ours: Vec<_> = e.events.iter().filter(|x| x.rtmr == rtmr).collect();
        let logged: Vec<_> = log.events.iter().filter(|x| x.mr_index as usize == rtmr + 1).collect();
        assert_eq!(ours.len(), logged.len(), "RTMR{rtmr}: {:?}", ours.iter().map(|x| &x.description).collect::<Vec<_>>());
        for (o, l) in ours.iter().zip(&logged) {
            assert_eq!(o.event_type, l.event_type, "RTMR{rtmr} {}", o.description);
            assert_eq!(&o.digest[..], l.digest(ALG_SHA384).unwrap(), "RTMR{rtmr} {}", o.description);
            if let Some(d) = &o.data {
                assert_eq!(d.as_slice(), l.data, "RTMR{rtmr} {}: event data", o.description);
            }
        }
        let folded = fold(ours.iter().map(|x| &x.digest));
        assert_eq!(folded, replayed.rtmrs.0[rtmr], "RTMR{rtmr}");
    }
    // The comparison names nothing where everything agrees, and the TD HOB when the RAM size is off.
    let d = first_differences(&e, &log);
    assert!(d[0].is_none() && d[1].is_none(), "{d:?}");
    // Told the stub does not measure, prelaunch expects no RTMR2 event: the log's first is extra.
    let extra = d[2].as_ref().unwrap();
    assert!(extra.expected.is_none() && extra.logged.as_ref().unwrap().event_type == 0x6 && extra.position == 0);
    let mut wrong = e.clone();
    let hob = prelaunch_measure::tdx::td_hob::build(&md, &prelaunch_measure::tdx::td_hob::RamLayout::q35(4 << 30)).unwrap();
    wrong.events[0].digest = prelaunch_measure::hash::Sha384::digest(&hob.measured);
    let d = first_differences(&wrong, &log);
    let first = d[0].as_ref().unwrap();
    assert_eq!((first.position, first.input()), (0, Some(&EventInput::TdHob { memory: 2 << 30 })));
    assert_eq!(first.logged.as_ref().unwrap().index, log.events.iter().find(|x| x.mr_index == 1).unwrap().index);
    assert!(d[1].is_none());
    // The RTMR2 events' data: the Linux stub's tagged-event headers.
    let lo = prelaunch_measure::tdx::events::load_options(&[0; 2], profiles::changes::LINUX_STUB_CC);
    let ird = prelaunch_measure::tdx::events::initrd([0; 48], 0, profiles::changes::LINUX_STUB_CC);
    let rtmr2: Vec<_> = log.events.iter().filter(|x| x.mr_index == 3).collect();
    assert_eq!(rtmr2[0].data, lo.data.unwrap());
    assert_eq!(rtmr2[1].data, ird.data.unwrap());
}

#[test]
fn td_hob_digests_of_real_boots() {
    let md = dstack_metadata();
    let hob = |mem: u64| {
        let h = prelaunch_measure::tdx::td_hob::build(&md, &prelaunch_measure::tdx::td_hob::RamLayout::q35(mem)).unwrap();
        hex::encode(prelaunch_measure::hash::Sha384::digest(&h.measured))
    };
    // trustee_CCEL_data_ovmf (2 GiB) and trustee_CCEL_data_grub (10 GiB, above the 2.75 GiB split).
    assert!(hob(2 << 30).starts_with("0b8772e5b0b41b83"));
    assert!(hob(10 << 30).starts_with("05dc148f05a03508"));
    assert!(!hob(3 << 30).starts_with("05dc148f05a03508"));
}
