//! A thousand mutated real images through the CLI: no panic, and every failure is a clear error that
//! names the file and says where or what was expected.

use crate::common;

use common::*;
use prelaunch_testdata::mutate_in;

fn check_outcome(o: &std::process::Output, file: &str, what: &str) {
    let err = stderr(o);
    assert!(!err.contains("panicked") && o.status.code() != Some(101), "{what}: panic\n{err}");
    match o.status.code() {
        Some(0) => {}
        Some(1) => {
            let line = err.lines().find(|l| l.starts_with("prelaunch: error: ")).unwrap_or_else(|| panic!("{what}: no error line: {err}"));
            assert!(line.contains(file), "{what}: error does not name the file: {line}");
            assert!(
                line.contains("0x") || line.contains("expected") || line.contains("4096") || line.contains("no ") || line.contains("empty"),
                "{what}: error says neither where nor what was expected: {line}"
            );
        }
        other => panic!("{what}: exit {other:?}: {err}"),
    }
}

#[test]
fn a_thousand_mutated_real_images_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let images = ["bookworm_OVMF.fd", "trixie_OVMF_CODE_4M.fd", "svsm_ovmf.fd", "ovmf_AmdSev_suffix.bin"];
    let mut outcomes = [0usize; 2];
    for (i, name) in images.iter().enumerate() {
        let original = std::fs::read(firmware_dir().join(name)).unwrap();
        for k in 0..250u64 {
            let seed = (i as u64) << 32 | k;
            let mut bytes = original.clone();
            // The structures live in the last 4 KiB; mutate there, sometimes also truncate.
            let hot = bytes.len().saturating_sub(4096)..bytes.len();
            mutate_in(&mut bytes, seed, 1 + (k % 6) as usize, &[hot]);
            if k % 50 == 7 {
                bytes.truncate(bytes.len().saturating_sub(4096 * (1 + k as usize % 3)));
            }
            let path = dir.path().join(format!("m-{i}-{k}.fd"));
            std::fs::write(&path, &bytes).unwrap();
            let p = path.to_str().unwrap();
            let what = format!("{name} mutation {k}");
            let o = prelaunch(&["inspect", "--json", p]);
            check_outcome(&o, p, &what);
            outcomes[(o.status.code() == Some(1)) as usize] += 1;
            if k % 2 == 1 {
                continue;
            }
            let mode = ["snp", "seves", "tdx", "sev"][k as usize / 2 % 4];
            // TDX refuses the AMD vCPU type (exit 2): it does not apply to an MRTD.
            let amd: &[&str] = if mode == "tdx" { &[] } else { &["--vcpu-type", "EPYC-v4"] };
            let o = prelaunch(&[&["measure", "--mode", mode, "--vcpus", "2", "--ovmf", p][..], amd].concat());
            check_outcome(&o, p, &format!("{what} measure {mode}"));
        }
    }
    // The mutations must exercise both outcomes, or this test proves nothing.
    assert!(outcomes[0] > 50 && outcomes[1] > 50, "accepted/refused: {outcomes:?}");
}
