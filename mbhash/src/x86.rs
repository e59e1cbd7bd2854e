//! The x86-64 lanes: AVX-512F (8 messages per pass) and AVX2 (4). Both run the same SHA-512
//! compression with one message per 64-bit lane; they differ only in register width and in the
//! instructions AVX-512 adds (native 64-bit rotate, three-input logic).

use std::sync::OnceLock;

use crate::Digest;
use crate::consts::{IV384, K};

/// Lanes of the widest path this CPU runs, probed once.
pub(crate) fn lanes() -> usize {
    static LANES: OnceLock<usize> = OnceLock::new();
    *LANES.get_or_init(|| {
        if std::is_x86_feature_detected!("avx512f") {
            8
        } else if std::is_x86_feature_detected!("avx2") {
            4
        } else {
            0
        }
    })
}

/// Hashes exactly `lanes()` messages of equal length.
pub(crate) fn hash_group(msgs: &[&[u8]], out: &mut [Digest]) {
    if let (Ok(m), Ok(o)) = (<&[&[u8]; 8]>::try_from(msgs), <&mut [Digest; 8]>::try_from(&mut *out))
        && lanes() == 8
    {
        // SAFETY: `lanes()` is 8 only when the CPU reports AVX-512F, the one feature `avx512::hash`
        // is compiled for.
        unsafe { avx512::hash(m, o) };
        return;
    }
    if let (Ok(m), Ok(o)) = (<&[&[u8]; 4]>::try_from(msgs), <&mut [Digest; 4]>::try_from(&mut *out))
        && lanes() >= 4
    {
        // SAFETY: `lanes()` is at least 4 only when the CPU reports AVX2 (AVX-512F implies it), the
        // one feature `avx2::hash` is compiled for.
        unsafe { avx2::hash(m, o) };
        return;
    }
    unreachable!("hash_group takes exactly lanes() messages");
}

/// 128-byte block `block` of `msg`, or of its padded tail.
#[inline(always)]
fn block_of<'a>(msg: &'a [u8], tail: &'a [u8; 256], full_blocks: usize, block: usize) -> &'a [u8; 128] {
    let (src, at) = if block < full_blocks { (msg, block * 128) } else { (&tail[..], (block - full_blocks) * 128) };
    src[at..at + 128].try_into().expect("a whole block")
}

/// Big-endian 64-bit word `t` of a block.
#[inline(always)]
fn word(block: &[u8; 128], t: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&block[t * 8..t * 8 + 8]);
    u64::from_be_bytes(b)
}

/// The padded tail of a message: the bytes after its last whole block, 0x80, zeros, and the bit
/// length, in one or two blocks.
fn tail(msg: &[u8]) -> ([u8; 256], usize) {
    let rest = &msg[msg.len() / 128 * 128..];
    let mut t = [0u8; 256];
    t[..rest.len()].copy_from_slice(rest);
    t[rest.len()] = 0x80;
    let blocks = if rest.len() + 1 + 16 <= 128 { 1 } else { 2 };
    t[blocks * 128 - 16..blocks * 128].copy_from_slice(&((msg.len() as u128) * 8).to_be_bytes());
    (t, blocks)
}

/// The SHA-512 compression and the per-message driver, written once over each module's vector
/// helpers (`splat`, `add`, `set`, `get`, `ror`, `shr`, `xor3`, `ch`, `maj`).
macro_rules! sha512_lanes {
    ($feature:literal, $n:literal) => {
        #[inline]
        #[target_feature(enable = $feature)]
        fn compress(st: &mut [V; 8], w: &mut [V; 16]) {
            let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *st;
            for t in 0..80 {
                let wt = if t < 16 {
                    w[t]
                } else {
                    let w2 = w[(t - 2) % 16];
                    let w15 = w[(t - 15) % 16];
                    let s1 = xor3(ror::<19, 45>(w2), ror::<61, 3>(w2), shr::<6>(w2));
                    let s0 = xor3(ror::<1, 63>(w15), ror::<8, 56>(w15), shr::<7>(w15));
                    let next = add(add(s1, w[(t - 7) % 16]), add(s0, w[t % 16]));
                    w[t % 16] = next;
                    next
                };
                let big1 = xor3(ror::<14, 50>(e), ror::<18, 46>(e), ror::<41, 23>(e));
                let t1 = add(add(add(h, big1), add(ch(e, f, g), splat(K[t]))), wt);
                let big0 = xor3(ror::<28, 36>(a), ror::<34, 30>(a), ror::<39, 25>(a));
                let t2 = add(big0, maj(a, b, c));
                h = g;
                g = f;
                f = e;
                e = add(d, t1);
                d = c;
                c = b;
                b = a;
                a = add(t1, t2);
            }
            for (s, v) in st.iter_mut().zip([a, b, c, d, e, f, g, h]) {
                *s = add(*s, v);
            }
        }

        /// SHA-384 of equal-length messages, one per lane.
        #[target_feature(enable = $feature)]
        pub(super) fn hash(msgs: &[&[u8]; $n], out: &mut [Digest; $n]) {
            let full_blocks = msgs[0].len() / 128;
            let tails: [([u8; 256], usize); $n] = core::array::from_fn(|l| tail(msgs[l]));
            let mut st: [V; 8] = core::array::from_fn(|i| splat(IV384[i]));
            for blk in 0..full_blocks + tails[0].1 {
                let rows: [&[u8; 128]; $n] = core::array::from_fn(|l| block_of(msgs[l], &tails[l].0, full_blocks, blk));
                let mut w: [V; 16] = core::array::from_fn(|t| set(core::array::from_fn(|l| word(rows[l], t))));
                compress(&mut st, &mut w);
            }
            for (j, s) in st.iter().take(6).enumerate() {
                for (o, v) in out.iter_mut().zip(get(*s)) {
                    o[j * 8..j * 8 + 8].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
    };
}

mod avx2 {
    use core::arch::x86_64::*;

    use super::{Digest, IV384, K, block_of, tail, word};

    type V = __m256i;

    #[inline]
    #[target_feature(enable = "avx2")]
    fn splat(k: u64) -> V {
        _mm256_set1_epi64x(k as i64)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn add(a: V, b: V) -> V {
        _mm256_add_epi64(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn set(l: [u64; 4]) -> V {
        _mm256_set_epi64x(l[3] as i64, l[2] as i64, l[1] as i64, l[0] as i64)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn get(v: V) -> [u64; 4] {
        [
            _mm256_extract_epi64::<0>(v) as u64,
            _mm256_extract_epi64::<1>(v) as u64,
            _mm256_extract_epi64::<2>(v) as u64,
            _mm256_extract_epi64::<3>(v) as u64,
        ]
    }
    /// Rotate right by R (L = 64 - R): AVX2 has no 64-bit rotate.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn ror<const R: i32, const L: i32>(x: V) -> V {
        _mm256_or_si256(_mm256_srli_epi64::<R>(x), _mm256_slli_epi64::<L>(x))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn shr<const R: i32>(x: V) -> V {
        _mm256_srli_epi64::<R>(x)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn xor3(a: V, b: V, c: V) -> V {
        _mm256_xor_si256(_mm256_xor_si256(a, b), c)
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn ch(e: V, f: V, g: V) -> V {
        _mm256_xor_si256(_mm256_and_si256(e, f), _mm256_andnot_si256(e, g))
    }
    #[inline]
    #[target_feature(enable = "avx2")]
    fn maj(a: V, b: V, c: V) -> V {
        _mm256_or_si256(_mm256_and_si256(a, _mm256_or_si256(b, c)), _mm256_and_si256(b, c))
    }

    sha512_lanes!("avx2", 4);
}

mod avx512 {
    use core::arch::x86_64::*;

    use super::{Digest, IV384, K, block_of, tail, word};

    type V = __m512i;

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn splat(k: u64) -> V {
        _mm512_set1_epi64(k as i64)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add(a: V, b: V) -> V {
        _mm512_add_epi64(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn set(l: [u64; 8]) -> V {
        _mm512_set_epi64(l[7] as i64, l[6] as i64, l[5] as i64, l[4] as i64, l[3] as i64, l[2] as i64, l[1] as i64, l[0] as i64)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn get(v: V) -> [u64; 8] {
        let (lo, hi) = (_mm512_extracti64x4_epi64::<0>(v), _mm512_extracti64x4_epi64::<1>(v));
        [
            _mm256_extract_epi64::<0>(lo) as u64,
            _mm256_extract_epi64::<1>(lo) as u64,
            _mm256_extract_epi64::<2>(lo) as u64,
            _mm256_extract_epi64::<3>(lo) as u64,
            _mm256_extract_epi64::<0>(hi) as u64,
            _mm256_extract_epi64::<1>(hi) as u64,
            _mm256_extract_epi64::<2>(hi) as u64,
            _mm256_extract_epi64::<3>(hi) as u64,
        ]
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn ror<const R: i32, const L: i32>(x: V) -> V {
        _mm512_ror_epi64::<R>(x)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn shr<const R: u32>(x: V) -> V {
        _mm512_srli_epi64::<R>(x)
    }
    /// 0x96: three-way XOR.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn xor3(a: V, b: V, c: V) -> V {
        _mm512_ternarylogic_epi64::<0x96>(a, b, c)
    }
    /// 0xCA: e ? f : g.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn ch(e: V, f: V, g: V) -> V {
        _mm512_ternarylogic_epi64::<0xCA>(e, f, g)
    }
    /// 0xE8: majority.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn maj(a: V, b: V, c: V) -> V {
        _mm512_ternarylogic_epi64::<0xE8>(a, b, c)
    }

    sha512_lanes!("avx512f", 8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(m: &[u8]) -> Digest {
        use sha2::Digest as _;
        sha2::Sha384::digest(m).into()
    }

    /// Both widths are checked on any CPU that has them, whatever `lanes()` picks.
    #[test]
    fn every_available_width_matches_the_reference() {
        for len in [0usize, 5, 111, 112, 127, 128, 200, 4096] {
            let msgs: Vec<Vec<u8>> = (0..8).map(|l| (0..len).map(|i| (i * 13 + l * 101 + len) as u8).collect()).collect();
            let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            if std::is_x86_feature_detected!("avx2") {
                let mut out = [[0u8; 48]; 4];
                // SAFETY: AVX2 was just detected.
                unsafe { avx2::hash(&[refs[0], refs[1], refs[2], refs[3]], &mut out) };
                for l in 0..4 {
                    assert_eq!(out[l], reference(refs[l]), "avx2 len {len} lane {l}");
                }
            }
            if std::is_x86_feature_detected!("avx512f") {
                let mut out = [[0u8; 48]; 8];
                let m: [&[u8]; 8] = core::array::from_fn(|l| refs[l]);
                // SAFETY: AVX-512F was just detected.
                unsafe { avx512::hash(&m, &mut out) };
                for l in 0..8 {
                    assert_eq!(out[l], reference(refs[l]), "avx512 len {len} lane {l}");
                }
            }
        }
    }
}
