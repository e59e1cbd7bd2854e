//! The guest probe: 32-bit protected-mode flat code, hand-assembled, that samples one 64-bit word
//! per 4 KiB page of a guest-physical range and reports a checksum by port I/O.
//!
//! Inputs (set by the host through KVM_SET_REGS): ESI = first page's GPA, ECX = number of pages (> 0).
//! For page k it reads the 8 bytes at `ESI + k * 4096 + off_k`, where `off_0 = 0` and
//! `off_{k+1} = (off_k + 264) & 0xff8`: 264 = 8 × 33 and 33 is odd, so over 512 pages the sample
//! visits every 8-byte slot of a page. The checksum folds each word into two 32-bit accumulators
//! (rotate left by one, then xor), which makes it depend on the order of the pages too. Guest
//! instructions are slow here (~1 µs each under the PVM backend), so the loop is 10 instructions per
//! page: a 3.5 MiB firmware (900 pages) takes about 10 ms.
//!
//! Output: `out 0xE0, eax` (low accumulator), `out 0xE4, eax` (high accumulator), then `hlt`.

/// Port the low 32 bits are written to.
pub const PORT_LO: u16 = 0xe0;
/// Port the high 32 bits are written to.
pub const PORT_HI: u16 = 0xe4;
/// Distance between the sampled offsets of consecutive pages.
pub const STRIDE: usize = 264;

/// The probe's machine code, instruction by instruction.
pub const CODE: [u8; 51] = [
    0x31, 0xc0, //                      xor  eax, eax          ; low accumulator = 0
    0x31, 0xd2, //                      xor  edx, edx          ; high accumulator = 0
    0x31, 0xed, //                      xor  ebp, ebp          ; offset in page = 0
    // loop (offset 6):
    0x8d, 0x1c, 0x2e, //                lea  ebx, [esi + ebp]  ; address of this page's sample
    0xd1, 0xc0, //                      rol  eax, 1
    0x33, 0x03, //                      xor  eax, [ebx]        ; fold the low dword
    0xd1, 0xc2, //                      rol  edx, 1
    0x33, 0x53, 0x04, //                xor  edx, [ebx + 4]    ; fold the high dword
    0x81, 0xc5, 0x08, 0x01, 0x00, 0x00, // add ebp, 264        ; next page samples 264 bytes further
    0x81, 0xe5, 0xf8, 0x0f, 0x00, 0x00, // and ebp, 0xff8      ; ... wrapped inside the page, 8-aligned
    0x81, 0xc6, 0x00, 0x10, 0x00, 0x00, // add esi, 4096       ; next page
    0x49, //                            dec  ecx
    0x75, 0xdf, //                      jnz  loop              ; rel8 -33: back to offset 6
    0xe7, 0xe0, //                      out  0xE0, eax         ; report the low accumulator
    0x89, 0xd0, //                      mov  eax, edx
    0xe7, 0xe4, //                      out  0xE4, eax         ; report the high accumulator
    0xf4, //                            hlt
    0xf4, //                            hlt                    ; (never reached: a landing pad)
    0xf4, 0xf4, 0xf4, 0xf4, //          padding
];

/// The offset of page `k`'s sample.
pub fn sample_offset(k: usize) -> usize {
    (k * STRIDE) & 0xff8
}

/// The checksum the probe computes over the pages of `bytes` (whole pages only; a trailing partial
/// page is not sampled).
pub fn host_checksum(bytes: &[u8]) -> u64 {
    let (mut lo, mut hi) = (0u32, 0u32);
    for (k, page) in bytes.chunks_exact(4096).enumerate() {
        let at = sample_offset(k);
        let word = |o: usize| page.get(o..o + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes);
        lo = lo.rotate_left(1) ^ word(at);
        hi = hi.rotate_left(1) ^ word(at + 4);
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte offset of the loop head in [`CODE`].
    const LOOP: usize = 6;

    #[test]
    fn the_loop_branch_lands_on_the_loop_head() {
        let jnz = CODE.iter().position(|&b| b == 0x75).unwrap();
        let rel = CODE[jnz + 1] as i8 as isize;
        assert_eq!((jnz as isize + 2 + rel) as usize, LOOP);
        assert_eq!(&CODE[LOOP..LOOP + 3], &[0x8d, 0x1c, 0x2e], "lea ebx, [esi+ebp]");
        assert_eq!(u32::from_le_bytes(CODE[20..24].try_into().unwrap()), STRIDE as u32);
        assert_eq!(CODE[jnz + 3], PORT_LO as u8);
        assert_eq!(CODE[jnz + 7], PORT_HI as u8);
    }

    #[test]
    fn samples_visit_every_slot_and_the_checksum_sees_order_and_bytes() {
        let slots: std::collections::BTreeSet<usize> = (0..512).map(sample_offset).collect();
        assert_eq!(slots.len(), 512);
        let mut img: Vec<u8> = (0..4 * 4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let c = host_checksum(&img);
        img[2 * 4096 + sample_offset(2) + 5] ^= 1;
        assert_ne!(host_checksum(&img), c, "a changed sampled byte changes the checksum");
        let (a, b) = img.split_at_mut(4096);
        a.swap_with_slice(&mut b[..4096]);
        assert_ne!(host_checksum(&img), c);
        assert_eq!(host_checksum(&img[..100]), 0, "no whole page, nothing sampled");
    }
}
