//! Random byte mutations for robustness tests ("a thousand mutated images must never panic a parser"),
//! biased towards the bytes parsers actually read.

use std::ops::Range;

use crate::image::Built;
use crate::rng::Rng;

/// Values that sit on the boundaries parsers check: lengths around 18, counts that overflow, offsets
/// around the image size.
fn interesting(r: &mut Rng, len: usize) -> u32 {
    const FIXED: [u32; 14] = [0, 1, 2, 15, 16, 17, 18, 19, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff, 0x1000, 0x0800_0000];
    match r.below(4) {
        0 => len as u32,
        1 => (len as u32).wrapping_add(r.range(0, 64) as u32).wrapping_sub(32),
        _ => FIXED[r.below(FIXED.len())],
    }
}

/// Applies `n` mutations to `bytes`, each picking a spot in one of `hot` (45%), the last 4 KiB (45%)
/// or anywhere (10%), then flipping a bit, writing a random byte, an interesting u16/u32, or copying
/// 16 bytes from another hot spot (which makes duplicate GUIDs and plausible-looking trailers).
pub fn mutate_in(bytes: &mut [u8], seed: u64, n: usize, hot: &[Range<usize>]) {
    let len = bytes.len();
    if len == 0 {
        return;
    }
    let tail = len.saturating_sub(4096)..len;
    let hot: Vec<Range<usize>> = hot.iter().filter(|h| h.start < h.end && h.end <= len).cloned().collect();
    let mut r = Rng::new(seed);
    let pick = |r: &mut Rng| {
        let area = match r.below(100) {
            0..45 if !hot.is_empty() => hot[r.below(hot.len())].clone(),
            0..90 => tail.clone(),
            _ => 0..len,
        };
        area.start + r.below(area.end - area.start)
    };
    for _ in 0..n {
        let at = pick(&mut r);
        match r.below(100) {
            0..30 => bytes[at] ^= 1 << r.below(8),
            30..55 => bytes[at] = r.next_u32() as u8,
            55..80 => {
                let at = (at & !3).min(len.saturating_sub(4));
                let v = interesting(&mut r, len).to_le_bytes();
                let end = (at + 4).min(len);
                bytes[at..end].copy_from_slice(&v[..end - at]);
            }
            80..90 => {
                let at = at.min(len.saturating_sub(2));
                let v = (interesting(&mut r, len) as u16).to_le_bytes();
                let end = (at + 2).min(len);
                bytes[at..end].copy_from_slice(&v[..end - at]);
            }
            _ => {
                let from = pick(&mut r).min(len.saturating_sub(16));
                let to = at.min(len.saturating_sub(16));
                let k = 16.min(len);
                bytes.copy_within(from..from + k, to);
            }
        }
    }
}

/// [`mutate_in`] with hot spots guessed from the bytes: the footer table area at the end and any
/// "ASEV"/"TDVF" signature in the last 64 KiB.
pub fn mutate(bytes: &mut [u8], seed: u64, n: usize) {
    let len = bytes.len();
    let mut hot = Vec::new();
    hot.push(len.saturating_sub(256)..len);
    let from = len.saturating_sub(0x10000);
    for i in from..len.saturating_sub(3) {
        if matches!(&bytes[i..i + 4], b"ASEV" | b"TDVF") {
            hot.push(i.saturating_sub(16)..(i + 128).min(len));
        }
    }
    mutate_in(bytes, seed, n, &hot);
}

impl Built {
    /// Mutates the image in place, biased towards the structures the builder declared.
    pub fn mutate(&mut self, seed: u64, n: usize) {
        let hot = self.hot_ranges();
        mutate_in(&mut self.bytes, seed, n, &hot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageBuilder;

    #[test]
    fn deterministic_bounded_and_biased() {
        let clean = ImageBuilder::ovmf_like(0x10000).built();
        let mut a = clean.clone();
        a.mutate(5, 40);
        let mut b = clean.clone();
        b.mutate(5, 40);
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.bytes.len(), clean.bytes.len());
        let changed: Vec<usize> = (0..clean.bytes.len()).filter(|&i| a.bytes[i] != clean.bytes[i]).collect();
        assert!(!changed.is_empty());
        let in_tail = changed.iter().filter(|&&i| i >= clean.bytes.len() - 4096).count();
        assert!(in_tail * 2 > changed.len(), "{in_tail} of {} changes in the last 4 KiB", changed.len());
    }

    #[test]
    fn guessed_hot_spots_and_tiny_inputs() {
        let clean = ImageBuilder::ovmf_like(0x8000).build();
        let mut m = clean.clone();
        mutate(&mut m, 9, 200);
        assert_ne!(m, clean);
        for len in 0..8 {
            let mut v = vec![0u8; len];
            mutate(&mut v, 1, 50);
            assert_eq!(v.len(), len);
        }
    }
}
