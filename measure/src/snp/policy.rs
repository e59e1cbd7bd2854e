//! The SNP guest policy SNP_LAUNCH_START takes (SEV-SNP ABI specification, "Guest Policy"): bits 7:0
//! ABI_MINOR, 15:8 ABI_MAJOR, 16 SMT, 17 reserved and must be one, 18 MIGRATE_MA, 19 DEBUG, 20
//! SINGLE_SOCKET, 21 CXL_ALLOW, 22 MEM_AES_256_XTS, 23 RAPL_DIS, 24 CIPHERTEXT_HIDING, 25
//! PAGE_SWAP_DISABLE, 63:26 reserved and must be zero. The firmware refuses a policy that breaks the
//! reserved bits, so a plan carrying one could never launch. (The sev crate's `GuestPolicy` names the
//! fields but does not validate, so the two reserved rules are checked here.)

/// Host SMT allowed.
pub const SMT: u64 = 1 << 16;
/// Reserved, must be one.
pub const RESERVED_MBO: u64 = 1 << 17;
/// Debugging allowed.
pub const DEBUG: u64 = 1 << 19;
/// The highest defined bit (PAGE_SWAP_DISABLE); everything above is reserved, must be zero.
const LAST_DEFINED: u32 = 25;
/// Bits 63:26.
pub const RESERVED_MBZ: u64 = !((1u64 << (LAST_DEFINED + 1)) - 1);

/// The default policy, as QEMU and sev-snp-measure use: SMT allowed (bit 16) plus the reserved
/// must-be-one bit 17; ABI 0.0, no debugging, no migration agent.
pub const DEFAULT_POLICY: u64 = SMT | RESERVED_MBO;

/// Why the firmware would refuse a guest policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum PolicyError {
    /// guest policy {0:#x}: bit 17 is reserved and must be one (SNP_LAUNCH_START refuses it otherwise)
    ReservedBit17Clear(u64),
    /// guest policy {policy:#x}: bits {bits:#x} are reserved (63:26) and must be zero
    ReservedBitsSet { policy: u64, bits: u64 },
}

/// Checks the reserved bits of an SNP guest policy.
pub fn check(policy: u64) -> Result<(), PolicyError> {
    if policy & RESERVED_MBO == 0 {
        return Err(PolicyError::ReservedBit17Clear(policy));
    }
    if policy & RESERVED_MBZ != 0 {
        return Err(PolicyError::ReservedBitsSet { policy, bits: policy & RESERVED_MBZ });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_smt_plus_the_reserved_one() {
        assert_eq!(DEFAULT_POLICY, 0x30000);
        assert_eq!(check(DEFAULT_POLICY), Ok(()));
        assert_eq!(check(0x10000), Err(PolicyError::ReservedBit17Clear(0x10000)), "SMT alone lacks bit 17");
        assert_eq!(check(0x20000 | DEBUG | (1 << 25)), Ok(()), "the highest defined bit is allowed");
        assert_eq!(check(0x20000 | (1 << 26)), Err(PolicyError::ReservedBitsSet { policy: 0x4020000, bits: 1 << 26 }));
    }
}
