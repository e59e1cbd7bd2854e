//! Multi-buffer SHA-384.
//!
//! A launch digest hashes every 4 KiB page of the firmware separately. The pages are independent and
//! all the same length, so instead of one message per core at a time they are hashed side by side:
//! each SIMD lane of the AVX-512 (8 lanes) or AVX2 (4 lanes) registers runs one page's SHA-512
//! compression. That is several times the throughput of one-message-at-a-time hashing, which is
//! what lets a launch digest beat `sha384sum` of the same file.
//!
//! The CPU is probed once at run time; without AVX2 (or off x86-64) [`lanes`] is 0 and every
//! message goes to the caller's fallback. The only `unsafe` in this crate is the call into a
//! `#[target_feature]` function after that probe.

mod consts;
#[cfg(target_arch = "x86_64")]
mod x86;

/// A SHA-384 digest.
pub type Digest = [u8; 48];

/// How many messages one SIMD pass hashes on this CPU (8, 4, or 0 when there is no SIMD path).
pub fn lanes() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        x86::lanes()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// SHA-384 of each message into `out` (same length as `msgs`). Runs of equal-length messages go
/// through the SIMD lanes; anything left over is hashed by `fallback`.
pub fn sha384_many(msgs: &[&[u8]], out: &mut [Digest], fallback: impl Fn(&[u8]) -> Digest) {
    assert_eq!(msgs.len(), out.len(), "one output per message");
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        let n = x86::lanes();
        while n > 0 && i + n <= msgs.len() {
            let group = &msgs[i..i + n];
            if group.iter().any(|m| m.len() != group[0].len()) {
                break;
            }
            x86::hash_group(group, &mut out[i..i + n]);
            i += n;
        }
    }
    for (m, o) in msgs[i..].iter().zip(&mut out[i..]) {
        *o = fallback(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::Digest as _;

    fn reference(m: &[u8]) -> Digest {
        sha2::Sha384::digest(m).into()
    }

    fn check(msgs: &[Vec<u8>]) {
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let mut out = vec![[0u8; 48]; refs.len()];
        // A fallback that cannot produce a right answer proves which path hashed what.
        sha384_many(&refs, &mut out, |_| [0xee; 48]);
        let n = lanes();
        for (k, (m, o)) in refs.iter().zip(&out).enumerate() {
            if k < refs.len() / n.max(1) * n && n > 0 {
                assert_eq!(*o, reference(m), "message {k} of {} bytes", m.len());
            } else {
                assert_eq!(*o, [0xee; 48], "message {k} must have gone to the fallback");
            }
        }
    }

    #[test]
    fn this_machine_has_a_simd_path() {
        // The development and CI machines have AVX2 (and AVX-512); a silent fallback would hide a bug.
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            assert!(lanes() >= 4);
        }
    }

    #[test]
    fn pages_and_every_padding_boundary() {
        for len in [0, 1, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 4095, 4096, 4097, 8192] {
            let msgs: Vec<Vec<u8>> = (0..17).map(|l| (0..len).map(|i| (i * 31 + l * 7 + len) as u8).collect()).collect();
            check(&msgs);
        }
    }

    #[test]
    fn unequal_lengths_fall_back() {
        let msgs: Vec<Vec<u8>> = (0..16).map(|l| vec![l as u8; 100 + l]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let mut out = vec![[0u8; 48]; refs.len()];
        sha384_many(&refs, &mut out, reference);
        for (m, o) in refs.iter().zip(&out) {
            assert_eq!(*o, reference(m));
        }
    }

    proptest! {
        #[test]
        fn equals_the_reference(len in 0usize..600, count in 1usize..20, seed: u8) {
            let msgs: Vec<Vec<u8>> = (0..count).map(|l| (0..len).map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(l as u8)).collect()).collect();
            check(&msgs);
        }
    }
}
