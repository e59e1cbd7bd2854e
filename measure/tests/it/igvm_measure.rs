//! IGVM plans folded into digests, against the igvm crate's own measurement (`igvm::measurement`),
//! and the loader profiles' differences on files that provoke them.

use igvm_defs::{IgvmPageDataFlags, IgvmPageDataType, IgvmPlatformType};
use prelaunch_measure::digest;
use prelaunch_measure::igvm::profile::{self, LoaderProfile};
use prelaunch_measure::igvm::{IgvmConfig, IgvmImage, build};
use prelaunch_measure::plan::{Mode, OpKind};
use proptest::prelude::*;

use crate::igvm_fixture::*;

fn plan(file: &[u8], mode: Mode, p: &LoaderProfile, vcpus: u32) -> prelaunch_measure::LaunchPlan {
    let img = IgvmImage::parse(file).unwrap();
    let mut cfg = IgvmConfig::new(mode, p);
    cfg.vcpus = vcpus;
    cfg.vcpu_sig = 0xa00f11;
    build(&img, &cfg).unwrap().plan.into_plan()
}

fn ours(file: &[u8], mode: Mode, p: &LoaderProfile) -> Vec<u8> {
    let img = IgvmImage::parse(file).unwrap();
    let mut cfg = IgvmConfig::new(mode, p);
    cfg.vcpu_sig = 0xa00f11;
    digest::fold(&build(&img, &cfg).unwrap().plan).as_bytes().to_vec()
}

fn crate_snp(file: &[u8]) -> Vec<u8> {
    let (inits, dirs) = directives(file);
    igvm::measurement::generate_snp_measurement(&inits, &dirs, SNP).unwrap().to_vec()
}

fn crate_tdx(file: &[u8], mask: u32) -> Vec<u8> {
    let (_, dirs) = directives(file);
    igvm::measurement::generate_tdx_measurement(&dirs, mask).unwrap().to_vec()
}

/// One random directive of a random file.
#[derive(Debug, Clone)]
enum Item {
    Data(u64),
    NoData,
    Unmeasured(bool),
    Shared,
    Secrets,
    Cpuid,
    Insert(u8),
    Context(u64),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => any::<u64>().prop_map(Item::Data),
        2 => Just(Item::NoData),
        1 => any::<bool>().prop_map(Item::Unmeasured),
        1 => Just(Item::Shared),
        1 => Just(Item::Secrets),
        1 => Just(Item::Cpuid),
        1 => (1u8..4).prop_map(Item::Insert),
        1 => any::<u64>().prop_map(Item::Context),
    ]
}

/// A file of `items` for platform `mask`, pages at increasing GPAs with gaps.
fn random_file(items: &[Item], mask: u32, t: IgvmPlatformType) -> Vec<u8> {
    // The igvm crate refuses a file without file data (its own output included), so one page has data.
    let mut dirs = vec![page(0x1000, mask, pattern(0, 4096))];
    let mut gpa = 0x10_0000u64;
    let mut areas = 0u32;
    let mut vp = 0u16;
    for (i, it) in items.iter().enumerate() {
        gpa += 0x1000 * (1 + (i as u64).is_multiple_of(3) as u64);
        let flags = IgvmPageDataFlags::new();
        match it {
            Item::Data(seed) => dirs.push(page(gpa, mask, pattern(*seed, 4096))),
            Item::NoData => dirs.push(page(gpa, mask, vec![])),
            Item::Unmeasured(with_data) => {
                let data = if *with_data { pattern(i as u64, 4096) } else { vec![] };
                dirs.push(page_with(gpa, mask, data, flags.with_unmeasured(true), IgvmPageDataType::NORMAL))
            }
            Item::Shared => dirs.push(page_with(gpa, mask, pattern(7, 4096), flags.with_shared(true), IgvmPageDataType::NORMAL)),
            Item::Secrets => dirs.push(page_with(gpa, mask, vec![], flags, IgvmPageDataType::SECRETS)),
            Item::Cpuid => dirs.push(page_with(gpa, mask, vec![], flags, IgvmPageDataType::CPUID_DATA)),
            Item::Insert(pages) => {
                dirs.push(area(areas, u64::from(*pages) * 4096));
                dirs.push(insert(areas, gpa, mask));
                areas += 1;
                gpa += u64::from(*pages) * 4096;
            }
            Item::Context(seed) if t == IgvmPlatformType::SEV_SNP => {
                dirs.push(context(if seed % 2 == 0 { VMSA_GPA } else { gpa }, mask, vp, vmsa(*seed)));
                vp += 1;
            }
            Item::Context(_) => {}
        }
    }
    let inits = if t == IgvmPlatformType::SEV_SNP { vec![policy(mask)] } else { vec![] };
    write(vec![platform(mask, t)], inits, dirs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The igvm-spec profile reads every 4 KiB-page file the way the igvm crate measures it.
    #[test]
    fn igvm_spec_snp_equals_the_igvm_crate(items in proptest::collection::vec(item(), 1..40)) {
        let f = random_file(&items, SNP, IgvmPlatformType::SEV_SNP);
        prop_assert_eq!(ours(&f, Mode::Snp, &profile::IGVM_SPEC), crate_snp(&f));
        // openvmm's igvmfilegen measures like the crate on 4 KiB pages.
        prop_assert_eq!(ours(&f, Mode::Snp, &profile::OPENVMM), crate_snp(&f));
    }

    #[test]
    fn igvm_spec_tdx_equals_the_igvm_crate(items in proptest::collection::vec(item(), 1..40)) {
        let f = random_file(&items, TDX, IgvmPlatformType::TDX);
        prop_assert_eq!(ours(&f, Mode::Tdx, &profile::IGVM_SPEC), crate_tdx(&f, TDX));
    }
}

/// A file whose last directive is one 2 MiB page, and the same content as 512 4 KiB pages.
fn two_mib_pair(mask: u32, t: IgvmPlatformType) -> (Vec<u8>, Vec<u8>) {
    // Every page differs, and the file still compresses (it is committed).
    let data: Vec<u8> = (0..2usize << 20).map(|i| ((i >> 12) * 7 + i % 251) as u8).collect();
    let inits = if t == IgvmPlatformType::SEV_SNP { vec![policy(mask)] } else { vec![] };
    let head = vec![page(0x1000, mask, pattern(1, 4096)), page(0x2000, mask, vec![])];
    let mut big = head.clone();
    let flags = IgvmPageDataFlags::new().with_is_2mb_page(true);
    big.push(page_with(0x20_0000, mask, data[..4096].to_vec(), flags, IgvmPageDataType::NORMAL));
    let big = extend_last_page_to_2m(write(vec![platform(mask, t)], inits.clone(), big), &data[4096..]);
    let mut small = head;
    for (i, chunk) in data.chunks(4096).enumerate() {
        small.push(page(0x20_0000 + i as u64 * 4096, mask, chunk.to_vec()));
    }
    (big, write(vec![platform(mask, t)], inits, small))
}

#[test]
fn a_2mib_page_measures_as_its_512_4k_pages() {
    for (mask, t, mode) in [(SNP, IgvmPlatformType::SEV_SNP, Mode::Snp), (TDX, IgvmPlatformType::TDX, Mode::Tdx)] {
        let (big, small) = two_mib_pair(mask, t);
        let spec_big = ours(&big, mode, &profile::IGVM_SPEC);
        assert_eq!(spec_big, ours(&small, mode, &profile::IGVM_SPEC), "{mode:?}");
        let peer_small = if mode == Mode::Snp { crate_snp(&small) } else { crate_tdx(&small, mask) };
        assert_eq!(spec_big, peer_small, "{mode:?}: the igvm crate on the 512-page file");
        // igvm 0.5 reads only the first 4 KiB of the 2 MiB page, so its digest is that of one page.
        let peer_big = if mode == Mode::Snp { crate_snp(&big) } else { crate_tdx(&big, mask) };
        assert_ne!(spec_big, peer_big, "{mode:?}: the crate's 2 MiB reading");
        if mode == Mode::Snp {
            assert_eq!(ours(&big, mode, &profile::OPENVMM), peer_big, "openvmm's one-page reading is the crate's");
        }
    }
}

#[test]
fn qemu_populates_a_parameter_insert_before_the_run_it_follows() {
    let dirs = vec![
        page(0x1000, SNP, pattern(1, 4096)),
        page(0x2000, SNP, pattern(2, 4096)),
        area(0, 0x2000),
        insert(0, 0x8000, SNP),
        page(0x3000, SNP, pattern(3, 4096)),
    ];
    let f = write(vec![platform(SNP, IgvmPlatformType::SEV_SNP)], vec![policy(SNP)], dirs);
    let order = |p: &LoaderProfile| {
        plan(&f, Mode::Snp, p, 1).operations.iter().filter(|o| !o.is_vmsa()).map(|o| (o.gpa, o.len, o.kind)).collect::<Vec<_>>()
    };
    // 0x3000 does not continue the run in directive index (the insert sits between), so QEMU issues
    // the first run only when it reaches 0x3000: after the insert (and the two runs then merge).
    assert_eq!(order(&profile::QEMU), vec![(0x8000, 0x2000, OpKind::Unmeasured), (0x1000, 0x3000, OpKind::Normal)]);
    assert_eq!(
        order(&profile::IGVM_SPEC),
        vec![(0x1000, 0x2000, OpKind::Normal), (0x8000, 0x2000, OpKind::Unmeasured), (0x3000, 0x1000, OpKind::Normal)]
    );
    assert_eq!(
        order(&profile::CLOUD_HYPERVISOR),
        vec![(0x1000, 0x3000, OpKind::Normal), (0x8000, 0x1000, OpKind::Unmeasured)],
        "sorted by GPA, one insert page"
    );
}

#[test]
fn qemu_measures_pages_without_data_as_zero_and_vmsas_from_kvm() {
    let dirs = vec![page(0x1000, SNP, vec![]), context(VMSA_GPA, SNP, 0, vmsa(3)), page(0x2000, SNP, pattern(2, 4096))];
    let f = write(vec![platform(SNP, IgvmPlatformType::SEV_SNP)], vec![policy(SNP)], dirs);
    let q = plan(&f, Mode::Snp, &profile::QEMU, 2);
    let kinds: Vec<_> = q.operations.iter().map(|o| (o.kind, o.vcpu)).collect();
    assert_eq!(kinds, vec![(OpKind::Zero, None), (OpKind::Normal, None), (OpKind::Vmsa, Some(0)), (OpKind::Vmsa, Some(1))]);
    let s = plan(&f, Mode::Snp, &profile::IGVM_SPEC, 2);
    let kinds: Vec<_> = s.operations.iter().map(|o| (o.kind, o.vcpu)).collect();
    assert_eq!(kinds, vec![(OpKind::Normal, None), (OpKind::Vmsa, Some(0)), (OpKind::Normal, None)], "file order, one VMSA");
    assert_ne!(ours(&f, Mode::Snp, &profile::QEMU), ours(&f, Mode::Snp, &profile::IGVM_SPEC));
}

#[test]
fn qemu_refuses_what_qemu_refuses() {
    let f = write(vec![platform(SNP, IgvmPlatformType::SEV_SNP)], vec![policy(SNP)], vec![context(0x5000, SNP, 0, vmsa(1))]);
    let img = IgvmImage::parse(&f).unwrap();
    let e = build(&img, &IgvmConfig::new(Mode::Snp, &profile::QEMU)).unwrap_err().to_string();
    assert!(e.contains("0xFFFFFFFFF000") && e.contains("directive 0"), "{e}");
    let f = write(vec![platform(SNP, IgvmPlatformType::SEV_SNP)], vec![policy(SNP)], vec![context(VMSA_GPA, SNP, 3, vmsa(1))]);
    let img = IgvmImage::parse(&f).unwrap();
    let e = build(&img, &IgvmConfig::new(Mode::Snp, &profile::QEMU)).unwrap_err().to_string();
    assert!(e.contains("vCPU 3") && e.contains("1 vCPUs"), "{e}");
    let e = build(&img, &IgvmConfig::new(Mode::Tdx, &profile::IGVM_SPEC)).unwrap_err().to_string();
    assert!(e.contains("no tdx platform") && e.contains("SEV_SNP"), "{e}");
}

#[test]
fn shared_pages_are_left_out_or_populated_as_the_profile_says() {
    let shared = IgvmPageDataFlags::new().with_shared(true);
    let dirs = vec![page(0x1000, SNP, pattern(1, 4096)), page_with(0x2000, SNP, pattern(2, 4096), shared, IgvmPageDataType::NORMAL)];
    let f = write(vec![platform(SNP, IgvmPlatformType::SEV_SNP)], vec![policy(SNP)], dirs);
    assert_eq!(plan(&f, Mode::Snp, &profile::IGVM_SPEC, 1).operations.len(), 1);
    let q = plan(&f, Mode::Snp, &profile::QEMU, 1);
    assert!(q.operations.iter().any(|o| o.gpa <= 0x2000 && o.end() > 0x2000 && o.kind == OpKind::Normal), "QEMU ignores the shared flag");
}

/// The project's own IGVM fixtures under testdata/igvm/, which igvmmeasure measured (README there):
/// generated here, and compared byte for byte with the committed files so the recorded values
/// apply. `PRELAUNCH_WRITE_IGVM_FIXTURES=1` rewrites them.
fn committed_fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let shared = IgvmPageDataFlags::new().with_shared(true);
    let unmeasured = IgvmPageDataFlags::new().with_unmeasured(true);
    // SNP, pages in GPA order, no VP context: the parameter insert and the shared page are the
    // only things the readers disagree on.
    let dirs = vec![
        page(0x10_0000, SNP, pattern(1, 4096)),
        page(0x10_1000, SNP, vec![]),
        area(0, 0x3000),
        insert(0, 0x10_2000, SNP),
        page_with(0x10_5000, SNP, pattern(2, 4096), shared, IgvmPageDataType::NORMAL),
        page_with(0x10_6000, SNP, pattern(3, 4096), unmeasured, IgvmPageDataType::NORMAL),
        page_with(0x10_7000, SNP, vec![], IgvmPageDataFlags::new(), IgvmPageDataType::SECRETS),
        page(0x10_8000, SNP, pattern(4, 4096)),
    ];
    let params = write(vec![platform(SNP, IgvmPlatformType::SEV_SNP)], vec![policy(SNP)], dirs);
    let (two_mib, _) = two_mib_pair(SNP, IgvmPlatformType::SEV_SNP);
    vec![("snp-param-insert-shared.igvm", params), ("snp-2mib-page.igvm", two_mib)]
}

fn testdata_igvm() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/igvm")
}

#[test]
fn committed_igvm_fixtures_are_the_generated_ones() {
    for (name, bytes) in committed_fixtures() {
        let path = testdata_igvm().join(name);
        if std::env::var_os("PRELAUNCH_WRITE_IGVM_FIXTURES").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        assert!(std::fs::read(&path).unwrap() == bytes, "{name}: committed bytes differ from the generator");
    }
}

fn reference(name: &str, key: &str) -> String {
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(testdata_igvm().join("reference.json")).unwrap()).unwrap();
    r["fixtures"][name][key].as_str().unwrap_or_else(|| panic!("reference.json: no {key} for {name}")).to_lowercase()
}

/// igvmmeasure (coconut-svsm) imports a parameter insert as one UNMEASURED page and measures shared
/// pages like any other; the igvm crate imports every page of the area and leaves shared pages out.
/// The specification supports the crate: IGVM_VHS_PARAMETER_INSERT says the area "is imported as a
/// set of unmeasured pages", and the shared flag's pages "are not part of the launch measurement".
/// On this GPA-ordered file without VP contexts, the cloud-hypervisor profile (one insert page,
/// shared flag ignored) is the one that agrees with igvmmeasure.
#[test]
fn igvmmeasure_and_the_igvm_crate_disagree_on_inserts_and_shared_pages() {
    let f = std::fs::read(testdata_igvm().join("snp-param-insert-shared.igvm")).unwrap();
    let igvmmeasure = reference("snp-param-insert-shared.igvm", "igvmmeasure");
    assert_eq!(hex::encode(ours(&f, Mode::Snp, &profile::CLOUD_HYPERVISOR)), igvmmeasure);
    assert_eq!(ours(&f, Mode::Snp, &profile::IGVM_SPEC), crate_snp(&f));
    assert_ne!(hex::encode(crate_snp(&f)), igvmmeasure);
    // Each difference alone changes the digest: the spec profile with igvmmeasure's insert reading
    // and shared reading reproduces igvmmeasure.
    let mixed = LoaderProfile { param_insert: profile::ParamInsert::FirstPage, shared: profile::Shared::Ignored, ..profile::IGVM_SPEC };
    assert_eq!(hex::encode(ours(&f, Mode::Snp, &mixed)), igvmmeasure);
    let only_insert = LoaderProfile { param_insert: profile::ParamInsert::FirstPage, ..profile::IGVM_SPEC };
    assert_ne!(hex::encode(ours(&f, Mode::Snp, &only_insert)), igvmmeasure);
}
