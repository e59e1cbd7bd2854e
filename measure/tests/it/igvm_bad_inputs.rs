//! Hostile IGVM files: each is refused with the offset or field named, none panics, and every
//! single-byte corruption of a small file is either read or refused.

use igvm_defs::{IgvmPageDataFlags, IgvmPageDataType, IgvmPlatformType};
use prelaunch_measure::igvm::{IgvmConfig, IgvmError, IgvmImage, build, profile};
use prelaunch_measure::plan::Mode;

use crate::igvm_fixture::*;

fn small() -> Vec<u8> {
    let dirs = vec![
        page(0x1000, SNP, pattern(1, 4096)),
        page(0x2000, SNP, vec![]),
        area(0, 0x1000),
        insert(0, 0x8000, SNP),
        context(VMSA_GPA, SNP, 0, vmsa(1)),
    ];
    write(vec![platform(SNP, IgvmPlatformType::SEV_SNP)], vec![policy(SNP)], dirs)
}

/// Offsets in `small()`: the fixed header is 24 bytes, the first variable header the platform.
fn put_u32(f: &mut [u8], at: usize, v: u32) {
    f[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn page_data_header(f: &[u8], n: usize) -> usize {
    let layout = prelaunch_measure::igvm::layout::walk(f).unwrap();
    layout.directives.iter().filter(|d| d.page.is_some()).nth(n).unwrap().header_offset
}

#[test]
fn bad_files_are_refused_with_what_and_where() {
    let good = small();
    let vh = u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize;
    let (pd, nodata) = (page_data_header(&good, 0), page_data_header(&good, 1));
    type Mutation = Box<dyn Fn(&mut Vec<u8>)>;
    let table: Vec<(&str, Mutation, &str)> = vec![
        ("empty", Box::new(|f| f.clear()), "fixed header"),
        ("magic", Box::new(|f| f[0] = b'X'), "not an IGVM file"),
        ("version", Box::new(|f| put_u32(f, 4, 9)), "format_version 9"),
        ("total size", Box::new(|f| f.truncate(f.len() - 1)), "total_file_size"),
        ("variable headers past the end", Box::new(|f| put_u32(f, 12, 0xffff_fff0)), "variable headers at"),
        ("variable headers inside the fixed header", Box::new(|f| put_u32(f, 8, 4)), "variable headers at 0x4"),
        ("header length past the section", Box::new(move |f| put_u32(f, vh + 4, 0x7fff_0000)), "runs past the variable header section"),
        ("page data before the data section", Box::new(move |f| put_u32(f, pd + 8 + 12, 8)), "lies before the file data section"),
        ("page data past the end", Box::new(move |f| put_u32(f, pd + 8 + 12, 0xffff_f000)), "run past the end of the file"),
        ("2 MiB page that the file cannot hold", Box::new(move |f| put_u32(f, pd + 8 + 16, 1)), "0x200000 data bytes"),
        ("misaligned 2 MiB page", Box::new(move |f| put_u32(f, nodata + 8 + 16, 1)), "gpa 0x2000 is not aligned to its page size"),
    ];
    for (name, mutate, want) in table {
        let mut f = good.clone();
        mutate(&mut f);
        let len = f.len() as u32;
        if name != "total size" && f.len() >= 24 {
            put_u32(&mut f, 16, len);
        }
        let e = IgvmImage::parse(&f).expect_err(name).to_string();
        assert!(e.contains(want), "{name}: {e}");
    }
}

#[test]
fn a_vp_context_without_file_data_is_refused_before_the_crate_subtracts() {
    let mut f = small();
    let layout = prelaunch_measure::igvm::layout::walk(&f).unwrap();
    let vp = layout.directives.iter().find(|d| d.typ == 0x304).unwrap().header_offset;
    put_u32(&mut f, vp + 8 + 12, 0);
    match IgvmImage::parse(&f) {
        Err(IgvmError::Structure { offset, msg }) => assert!(offset == vp && msg.contains("file_offset 0"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_single_byte_corruption_is_read_or_refused() {
    let good = small();
    let mut read = 0;
    for at in 0..good.len().min(8192) {
        for v in [0x00u8, 0xff, good[at] ^ 0x80] {
            let mut f = good.clone();
            f[at] = v;
            let Ok(img) = IgvmImage::parse(&f) else { continue };
            read += 1;
            for p in profile::ALL {
                let mut cfg = IgvmConfig::new(Mode::Snp, p);
                cfg.vcpus = 2;
                if let Ok(b) = build(&img, &cfg) {
                    prelaunch_measure::digest::fold(&b.plan);
                }
            }
        }
    }
    assert!(read > 0, "the file data section's bytes can change without the file being refused");
}

#[test]
fn a_2mib_page_without_its_bytes_is_refused() {
    let flags = IgvmPageDataFlags::new().with_is_2mb_page(true);
    let f = write(
        vec![platform(SNP, IgvmPlatformType::SEV_SNP)],
        vec![policy(SNP)],
        vec![page_with(0x20_0000, SNP, pattern(1, 4096), flags, IgvmPageDataType::NORMAL)],
    );
    let e = IgvmImage::parse(&f).unwrap_err().to_string();
    assert!(e.contains("0x200000 data bytes") && e.contains("run past the end"), "{e}");
}
