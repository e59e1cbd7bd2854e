//! The SNP guest policy (SEV-SNP firmware ABI, "Guest Policy"): what the guest owner allowed at
//! launch, as the report's POLICY field carries it.

use serde::Serialize;

/// Bit positions of the defined policy flags.
pub mod bit {
    pub const SMT: u32 = 16;
    /// Reserved, must be one.
    pub const RESERVED_ONE: u32 = 17;
    pub const MIGRATE_MA: u32 = 18;
    pub const DEBUG: u32 = 19;
    pub const SINGLE_SOCKET: u32 = 20;
    pub const CXL_ALLOW: u32 = 21;
    pub const MEM_AES_256_XTS: u32 = 22;
    pub const RAPL_DIS: u32 = 23;
    pub const CIPHERTEXT_HIDING: u32 = 24;
    pub const PAGE_SWAP_DISABLE: u32 = 25;
}

/// A decoded guest policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

impl SnpPolicy {
    pub fn decode(raw: u64) -> SnpPolicy {
        let on = |b: u32| raw >> b & 1 == 1;
        SnpPolicy {
            raw,
            abi_major: (raw >> 8) as u8,
            abi_minor: raw as u8,
            smt: on(bit::SMT),
            migrate_ma: on(bit::MIGRATE_MA),
            debug: on(bit::DEBUG),
            single_socket: on(bit::SINGLE_SOCKET),
            cxl_allow: on(bit::CXL_ALLOW),
            mem_aes_256_xts: on(bit::MEM_AES_256_XTS),
            rapl_dis: on(bit::RAPL_DIS),
            ciphertext_hiding: on(bit::CIPHERTEXT_HIDING),
            page_swap_disable: on(bit::PAGE_SWAP_DISABLE),
            reserved_one: on(bit::RESERVED_ONE),
        }
    }

    /// The flags that are set, by name, for messages.
    pub fn flags(&self) -> Vec<&'static str> {
        [
            (self.smt, "SMT"),
            (self.migrate_ma, "MIGRATE_MA"),
            (self.debug, "DEBUG"),
            (self.single_socket, "SINGLE_SOCKET"),
            (self.cxl_allow, "CXL_ALLOW"),
            (self.mem_aes_256_xts, "MEM_AES_256_XTS"),
            (self.rapl_dis, "RAPL_DIS"),
            (self.ciphertext_hiding, "CIPHERTEXT_HIDING"),
            (self.page_swap_disable, "PAGE_SWAP_DISABLE"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
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
    fn decodes_the_bits_real_reports_carry() {
        let p = SnpPolicy::decode(0x3001f);
        assert_eq!((p.abi_major, p.abi_minor, p.smt, p.reserved_one, p.debug, p.migrate_ma), (0, 31, true, true, false, false));
        let d = SnpPolicy::decode(0xb0000);
        assert!(d.debug && d.smt && !d.single_socket);
        assert_eq!(d.to_string(), "0xb0000 (ABI 0.0, SMT, DEBUG)");
        assert!(SnpPolicy::decode(1 << 20).single_socket);
    }
}
