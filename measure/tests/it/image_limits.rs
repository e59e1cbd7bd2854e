//! The table of oversized shapes: counts and sizes an attacker controls are capped with an error
//! naming the cap, and what stays under the caps is checked in O(n log n) with problems summarised
//! (a few per rule, then a count), never one message per overlapping pair.

use prelaunch_measure::FirmwareImage;
use prelaunch_measure::plan::{self, PageAugPolicy, PageOrder, TdxPolicy};
use prelaunch_testdata::{ImageBuilder, Stress};

/// What parsing and support checking must say.
enum Want {
    /// `FirmwareImage::parse` fails with a message containing this.
    Reject(&'static str),
    /// It parses; the SNP or TDX reasons contain this line (exactly one line per rule's summary).
    Snp(&'static str),
    Tdx(&'static str),
    /// It parses and the platform has no problems.
    SnpOk,
    TdxOk,
}

fn pairs(n: u64) -> u64 {
    n * (n - 1) / 2
}

#[test]
fn oversized_shapes_are_capped_or_summarised() {
    let two = 2 << 20;
    let sev_overlap_510 = format!("... and {} more: overlapping item pairs", pairs(510) - 3);
    let tdvf_overlap_509 = format!("... and {} more: overlapping section pairs", pairs(509) - 3);
    let table: Vec<(&str, ImageBuilder, Want)> = vec![
        ("sev-overlap 4000", Stress::SevOverlap.builder(two, 4000), Want::Reject("SEV metadata at offset 0x1000: 4002 items; at most 512")),
        ("sev-overlap 513", Stress::SevOverlap.builder(two, 511), Want::Reject("513 items; at most 512")),
        ("sev-overlap 510", Stress::SevOverlap.builder(two, 510), Want::Snp(Box::leak(sev_overlap_510.into_boxed_str()))),
        ("sev-disjoint 510", Stress::SevDisjoint.builder(two, 510), Want::SnpOk),
        ("sev-large 3.5 GiB", Stress::SevLarge.builder(two, 8), Want::Reject("the items cover 0xe0002000 bytes in all; at most 0x1000000")),
        ("sev-large 15 MiB", Stress::SevLarge.builder_total(two, 3, 15 << 20), Want::SnpOk),
        ("tdvf-overlap 60,000", Stress::TdvfOverlap.builder(two, usize::MAX), Want::Reject("sections; at most 512 are supported")),
        ("tdvf-overlap 509", Stress::TdvfOverlap.builder(two, 509), Want::Tdx(Box::leak(tdvf_overlap_509.clone().into_boxed_str()))),
        ("tdvf-legacy 60,000", Stress::TdvfLegacy.builder(two, usize::MAX), Want::Reject("sections; at most 512 are supported")),
        ("tdvf-legacy 509", Stress::TdvfLegacy.builder(two, 509), Want::Tdx(Box::leak(tdvf_overlap_509.into_boxed_str()))),
        ("tdvf-disjoint 509", Stress::TdvfDisjoint.builder(two, 509), Want::TdxOk),
        (
            "tdvf-large 3.5 GiB",
            Stress::TdvfLarge.builder(two, 8),
            Want::Tdx("the sections cover 0xe0202000 bytes in all; more than 0x40000000"),
        ),
        (
            "tdvf-large 1 x 1.5 GiB",
            Stress::TdvfLarge.builder_total(two, 1, 3 << 29),
            Want::Tdx("MemoryDataSize 0x60000000 is implausibly large"),
        ),
        (
            "tdvf 128 MiB BFV",
            ImageBuilder::tdvf_only(128 << 20),
            Want::Tdx("the MR_EXTEND sections total 0x7000000 bytes; more than 0x4000000"),
        ),
        ("tdvf 64 MiB BFV", ImageBuilder::tdvf_only(64 << 20), Want::TdxOk),
    ];
    for (name, builder, want) in table {
        let bytes = builder.build();
        let parsed = FirmwareImage::parse(&bytes);
        let img = match (&want, parsed) {
            (Want::Reject(w), Err(e)) => {
                assert!(e.to_string().contains(w), "{name}: {e}");
                continue;
            }
            (Want::Reject(w), Ok(_)) => panic!("{name}: parsed, expected an error containing {w:?}"),
            (_, Err(e)) => panic!("{name}: {e}"),
            (_, Ok(img)) => img,
        };
        let s = img.support();
        // Summarised: a few lines per rule, whatever the count.
        assert!(s.snp.len() <= 40 && s.tdx.len() <= 40, "{name}: {} / {} reasons", s.snp.len(), s.tdx.len());
        match want {
            Want::Snp(w) => assert!(s.snp.iter().any(|r| r == w), "{name}: {:#?}", s.snp),
            Want::Tdx(w) => assert!(s.tdx.iter().any(|r| r.contains(w)), "{name}: {:#?}", s.tdx),
            Want::SnpOk => assert!(s.snp.is_empty(), "{name}: {:#?}", s.snp),
            Want::TdxOk => assert!(s.tdx.is_empty(), "{name}: {:#?}", s.tdx),
            Want::Reject(_) => unreachable!(),
        }
    }
}

#[test]
fn the_first_overlapping_pairs_are_named_with_their_ranges() {
    let bytes = Stress::TdvfOverlap.builder(2 << 20, 100).build();
    let tdx = FirmwareImage::parse(&bytes).unwrap().support().tdx;
    let overlaps: Vec<&String> = tdx.iter().filter(|r| r.contains("overlaps")).collect();
    assert_eq!(overlaps.len(), 3, "{tdx:#?}");
    assert_eq!(overlaps[0], "section 3 (TEMP_MEM, GPA 0x800000) [0x800000, 0x801000) overlaps section 4 [0x800000, 0x801000)");
    assert!(tdx.contains(&format!("... and {} more: overlapping section pairs", pairs(100) - 3)));
}

#[test]
fn generated_zero_sections_are_bounded_in_total() {
    let bytes = Stress::TdvfZeros.builder(2 << 20, 2).build();
    let img = FirmwareImage::parse(&bytes).unwrap();
    assert!(img.support().tdx.is_empty(), "{:#?}", img.support().tdx);
    let policy = TdxPolicy { page_order: PageOrder::Single, page_aug: PageAugPolicy::Add };
    let e = plan::tdx::build(&img, policy).unwrap_err().to_string();
    assert!(e.contains("TDVF section 4:") && e.contains("supported up to 0x4000000 bytes in all"), "{e}");
    let one = Stress::TdvfZeros.builder(2 << 20, 1).build();
    let img = FirmwareImage::parse(&one).unwrap();
    assert!(plan::tdx::build(&img, policy).is_ok());
}
