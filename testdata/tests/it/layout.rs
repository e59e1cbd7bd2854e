//! The builder's declared layout against the independent reader in `common`.

use crate::common;

use common::*;
use prelaunch_testdata::{Built, ImageBuilder, MR_EXTEND, PAGE_AUG, SevKind, TdvfType, random_snp_layout, random_tdx_layout};

/// Everything the reader finds agrees with what `Built` and its spec declare.
fn check_agrees(b: &Built) -> Parsed {
    let p = read(&b.bytes).unwrap_or_else(|e| panic!("clean image rejected: {e:?}")).expect("footer table");
    assert_eq!(Some(p.table_start), b.footer_table_start);
    assert_eq!(b.footer_offset, Some(b.len() - 50));
    assert_eq!(p.entries.len(), b.entries.len());
    for (e, l) in p.entries.iter().zip(&b.entries) {
        assert_eq!(e.guid, l.guid.0);
        assert_eq!(e.offset, l.data_offset);
        assert_eq!(e.data.len(), l.data_len);
    }
    let s = &b.spec;
    assert_eq!(p.u32_of(&RESET, 0), s.reset_eip);
    assert_eq!(p.u32_of(&HASHES, 0), s.hashes_table.map(|r| r.gpa));
    assert_eq!(p.u32_of(&HASHES, 1), s.hashes_table.map(|r| r.size));
    assert_eq!(p.u32_of(&SECRET, 0), s.secret_block.map(|r| r.gpa));
    assert_eq!(p.u32_of(&SVSM, 0), s.svsm_entry_offset);
    assert_eq!(p.sev.as_ref().map(|x| x.0), b.sev_metadata_offset);
    let items: Option<Vec<_>> = s.sev_metadata.as_ref().map(|v| v.iter().map(|i| (i.gpa, i.size, i.kind.0)).collect());
    assert_eq!(p.sev.as_ref().map(|x| x.1.clone()), items);
    assert_eq!(p.tdvf.as_ref().map(|x| x.0), b.tdvf_offset);
    if let Some((at, secs)) = &p.tdvf {
        assert_eq!(b.bytes[at - 16..*at], TDVF_GUID, "descriptor GUID precedes TDVF");
        let want = s.tdvf.as_ref().unwrap();
        assert_eq!(secs.len(), want.len());
        for (g, w) in secs.iter().zip(want) {
            assert_eq!(
                (g.data_offset, g.raw, g.gpa, g.mem, g.kind, g.attrs),
                (w.data_offset, w.raw_size, w.gpa, w.mem_size, w.kind.0, w.attributes)
            );
        }
    }
    p
}

#[test]
fn presets_read_back_as_declared() {
    for size in [0x4000, 0x10000, 0x200000, 0x37c000] {
        for seed in [0, 1, 0xdead_beef] {
            for b in [
                ImageBuilder::ovmf_like(size),
                ImageBuilder::amdsev_like(size),
                ImageBuilder::tdvf_only(size),
                ImageBuilder::svsm_like(size),
            ] {
                let built = b.seed(seed).built();
                assert_eq!(built.len(), size);
                let p = check_agrees(&built);
                // Stock images keep every structure in the last page, below the table.
                for at in [built.sev_metadata_offset, built.tdvf_offset.map(|t| t - 16)].into_iter().flatten() {
                    assert!(at >= size - 4096 && at < p.table_start, "block at {at:#x} outside the last page / above the table");
                }
                if let Some((_, secs)) = &p.tdvf {
                    assert!(tdx_problems(secs, size).is_empty(), "{:?}", tdx_problems(secs, size));
                }
            }
        }
    }
}

#[test]
fn ovmf_like_is_stock_shaped() {
    let size = 0x200000;
    let b = ImageBuilder::ovmf_like(size).built();
    let p = check_agrees(&b);
    let names: Vec<&str> = b.entries.iter().map(|e| e.name).collect();
    assert_eq!(names, ["sev_es_reset_block", "sev_secret_block", "sev_hash_table", "sev_metadata", "tdx_metadata"]);
    assert_eq!(b.footer_table_size, 136, "stock OVMF's table is 136 bytes");
    assert_eq!(p.u32_of(&RESET, 0), Some(0x80b004));
    assert_eq!(p.u32_of(&HASHES, 0), Some(0));
    let kinds: Vec<u32> = p.sev.as_ref().unwrap().1.iter().map(|i| i.2).collect();
    assert_eq!(kinds, [1, 1, 2, 3, 4, 1]);
    let secs = &p.tdvf.as_ref().unwrap().1;
    let types: Vec<u32> = secs.iter().map(|s| s.kind).collect();
    assert_eq!(types, [0, 1, 3, 3, 2, 3]);
    let (bfv, cfv) = (secs[0], secs[1]);
    assert_eq!(bfv.attrs, MR_EXTEND);
    assert_eq!(cfv.attrs, 0);
    assert_eq!(cfv.data_offset, 0, "CFV is the first part of the file");
    assert_eq!(bfv.data_offset, cfv.raw, "BFV follows the CFV");
    assert_eq!(bfv.data_offset as usize + bfv.raw as usize, size, "BFV is the last part of the file");
    assert_eq!(cfv.gpa, (1 << 32) - size as u64);
    assert_eq!(bfv.gpa + bfv.mem, 1 << 32);
}

#[test]
fn amdsev_like_has_kernel_hashes_page_with_table() {
    let b = ImageBuilder::amdsev_like(0x100000).built();
    let p = check_agrees(&b);
    let kh = p.sev.as_ref().unwrap().1.iter().find(|i| i.2 == 0x10).copied().expect("SNP_KERNEL_HASHES");
    let gpa = p.u32_of(&HASHES, 0).unwrap();
    assert_ne!(gpa, 0);
    assert_eq!(gpa - kh.0, 0xc00);
    assert!(snp_problems(&p, b.len()).is_empty(), "{:?}", snp_problems(&p, b.len()));
}

#[test]
fn svsm_and_tdvf_only_presets() {
    let s = ImageBuilder::svsm_like(0x20000).built();
    let p = check_agrees(&s);
    assert!(p.tdvf.is_none());
    assert_eq!(p.u32_of(&SVSM, 0), Some(0));
    let items = &p.sev.as_ref().unwrap().1;
    assert_eq!(items[0], (0, 0x9e000, 1));
    assert_eq!(items.iter().map(|i| i.2).collect::<Vec<_>>(), [1, 2, 3]);

    let t = ImageBuilder::tdvf_only(0x20000).built();
    let p = check_agrees(&t);
    assert_eq!(p.entries.len(), 1);
    assert_eq!(p.entries[0].guid, TDX_MD);
    assert!(p.sev.is_none());
}

#[test]
fn content_depends_on_seed_only() {
    let a = ImageBuilder::ovmf_like(0x8000).seed(1).build();
    let b = ImageBuilder::ovmf_like(0x8000).seed(1).build();
    let c = ImageBuilder::ovmf_like(0x8000).seed(2).built();
    assert_eq!(a, b);
    assert_ne!(a[..0x4000], c.bytes[..0x4000]);
    let t = c.footer_table_start.unwrap();
    assert_eq!(a[t..], c.bytes[t..], "the table and tail hold no filler");
    assert_ne!(a[t - 16..t], c.bytes[t - 16..t]);
    let zeros = a.iter().filter(|&&x| x == 0).count();
    assert!(zeros < a.len() / 64, "filler looks constant: {zeros} zero bytes");
}

#[test]
fn random_snp_layouts_are_valid_and_varied() {
    let (mut caa, mut kh, mut tdx, mut pinned, mut extra, mut small, mut big) = (0, 0, 0, 0, 0, 0, 0);
    for seed in 0..300 {
        let spec = random_snp_layout(seed);
        assert_eq!(spec, random_snp_layout(seed), "deterministic");
        let b = spec.built();
        assert!(b.len() >= 0x4000 && b.len() <= 0x400000 && b.len().is_multiple_of(4096));
        let p = check_agrees(&b);
        let probs = snp_problems(&p, b.len());
        assert!(probs.is_empty(), "seed {seed}: {probs:?}");
        if let Some((_, secs)) = &p.tdvf {
            tdx += 1;
            assert!(tdx_problems(secs, b.len()).is_empty(), "seed {seed}: {:?}", tdx_problems(secs, b.len()));
        }
        let items = b.spec.sev_metadata.as_ref().unwrap();
        caa += items.iter().any(|i| i.kind == SevKind::SVSM_CAA) as u32;
        kh += items.iter().any(|i| i.kind == SevKind::KERNEL_HASHES) as u32;
        pinned += (b.sev_metadata_offset.unwrap() < b.len() - 4096) as u32;
        extra += !b.spec.extra_entries.is_empty() as u32;
        small += (b.len() <= 0x10000) as u32;
        big += (b.len() > 0x200000) as u32;
    }
    for (what, n) in
        [("svsm_caa", caa), ("kernel hashes", kh), ("tdvf", tdx), ("pinned", pinned), ("extra", extra), ("small", small), ("big", big)]
    {
        assert!((10..=290).contains(&n), "{what}: {n} of 300");
    }
    assert_ne!(random_snp_layout(1), random_snp_layout(2));
}

#[test]
fn random_tdx_layouts_are_valid_and_varied() {
    let (mut aug, mut cfv_ext, mut no_cfv, mut legacy, mut snp, mut reordered) = (0, 0, 0, 0, 0, 0);
    for seed in 0..300 {
        let b = random_tdx_layout(seed).built();
        let p = check_agrees(&b);
        let secs = &p.tdvf.as_ref().expect("TDVF").1;
        assert!(tdx_problems(secs, b.len()).is_empty(), "seed {seed}: {:?}", tdx_problems(secs, b.len()));
        assert_eq!(secs.iter().filter(|s| s.kind == TdvfType::BFV.0 && s.attrs & MR_EXTEND != 0).count(), 1);
        assert_eq!(secs.iter().filter(|s| s.kind == TdvfType::TD_HOB.0).count(), 1);
        // BFV and CFV data never overlap in the file.
        let fv: Vec<_> = secs.iter().filter(|s| s.raw != 0).map(|s| (s.data_offset, s.data_offset + s.raw)).collect();
        if let [a, c] = fv[..] {
            assert!(a.1 <= c.0 || c.1 <= a.0, "seed {seed}: FV data overlap");
        }
        aug += secs.iter().any(|s| s.attrs & PAGE_AUG != 0 && s.kind == 3) as u32;
        cfv_ext += secs.iter().any(|s| s.kind == 1 && s.attrs & MR_EXTEND != 0) as u32;
        no_cfv += !secs.iter().any(|s| s.kind == 1) as u32;
        reordered += (secs[0].kind != 0) as u32;
        if b.spec.tdvf_legacy_pointer {
            legacy += 1;
            let off = u32le(&b.bytes, b.len() - 0x20) as usize;
            assert_eq!(Some(off), b.tdvf_offset);
        }
        snp += p.sev.is_some() as u32;
    }
    for (what, n) in
        [("page_aug", aug), ("cfv mr_extend", cfv_ext), ("no cfv", no_cfv), ("legacy", legacy), ("snp", snp), ("reordered", reordered)]
    {
        assert!((10..=290).contains(&n), "{what}: {n} of 300");
    }
}
