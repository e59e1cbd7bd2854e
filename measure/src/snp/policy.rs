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
/// A migration agent may be associated with the guest.
pub const MIGRATE_MA: u64 = 1 << 18;
/// Debugging allowed.
pub const DEBUG: u64 = 1 << 19;
/// The guest may run on one socket only.
pub const SINGLE_SOCKET: u64 = 1 << 20;
pub const CXL_ALLOW: u64 = 1 << 21;
pub const MEM_AES_256_XTS: u64 = 1 << 22;
pub const RAPL_DIS: u64 = 1 << 23;
pub const CIPHERTEXT_HIDING: u64 = 1 << 24;
pub const PAGE_SWAP_DISABLE: u64 = 1 << 25;
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

/// A guest policy decoded, as a report's POLICY field carries it (what the guest owner allowed at
/// launch). Decoding never fails: a report is appraised whatever its bits; [`check`] says whether
/// the reserved ones are as the firmware requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SnpPolicy {
    pub raw: u64,
    pub abi_major: u8,
    pub abi_minor: u8,
    pub smt: bool,
    pub migrate_ma: bool,
    pub debug: bool,
    pub single_socket: bool,
    pub cxl_allow: bool,
    pub mem_aes_256_xts: bool,
    pub rapl_dis: bool,
    pub ciphertext_hiding: bool,
    pub page_swap_disable: bool,
    /// Bit 17 is set, as the ABI requires of every launch.
    pub reserved_one: bool,
}

/// The named flags, in bit order.
const FLAGS: [(u64, &str); 9] = [
    (SMT, "SMT"),
    (MIGRATE_MA, "MIGRATE_MA"),
    (DEBUG, "DEBUG"),
    (SINGLE_SOCKET, "SINGLE_SOCKET"),
    (CXL_ALLOW, "CXL_ALLOW"),
    (MEM_AES_256_XTS, "MEM_AES_256_XTS"),
    (RAPL_DIS, "RAPL_DIS"),
    (CIPHERTEXT_HIDING, "CIPHERTEXT_HIDING"),
    (PAGE_SWAP_DISABLE, "PAGE_SWAP_DISABLE"),
];

impl SnpPolicy {
    pub fn decode(raw: u64) -> SnpPolicy {
        let on = |m: u64| raw & m != 0;
        SnpPolicy {
            raw,
            abi_major: (raw >> 8) as u8,
            abi_minor: raw as u8,
            smt: on(SMT),
            migrate_ma: on(MIGRATE_MA),
            debug: on(DEBUG),
            single_socket: on(SINGLE_SOCKET),
            cxl_allow: on(CXL_ALLOW),
            mem_aes_256_xts: on(MEM_AES_256_XTS),
            rapl_dis: on(RAPL_DIS),
            ciphertext_hiding: on(CIPHERTEXT_HIDING),
            page_swap_disable: on(PAGE_SWAP_DISABLE),
            reserved_one: on(RESERVED_MBO),
        }
    }

    /// The flags that are set, by name, for messages.
    pub fn flags(&self) -> Vec<&'static str> {
        FLAGS.iter().filter(|(m, _)| self.raw & m != 0).map(|(_, n)| *n).collect()
    }
}

impl std::fmt::Display for SnpPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x} (ABI {}.{}", self.raw, self.abi_major, self.abi_minor)?;
        for flag in self.flags() {
            write!(f, ", {flag}")?;
        }
        f.write_str(")")
    }
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

    #[test]
    fn decodes_the_bits_real_reports_carry() {
        let p = SnpPolicy::decode(0x3001f);
        assert_eq!((p.abi_major, p.abi_minor, p.smt, p.reserved_one, p.debug, p.migrate_ma), (0, 31, true, true, false, false));
        let d = SnpPolicy::decode(0xb0000);
        assert!(d.debug && d.smt && !d.single_socket);
        assert_eq!(d.to_string(), "0xb0000 (ABI 0.0, SMT, DEBUG)");
        assert!(SnpPolicy::decode(SINGLE_SOCKET).single_socket);
        assert_eq!(SnpPolicy::decode(0x2030000 | MIGRATE_MA).flags(), ["SMT", "MIGRATE_MA", "PAGE_SWAP_DISABLE"]);
        assert_eq!(SnpPolicy::decode(0xffff_ffff_ffff_ffff).flags().len(), FLAGS.len());
    }
}
