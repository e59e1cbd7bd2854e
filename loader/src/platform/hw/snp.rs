//! The SEV-SNP launch on real hardware: KVM_SEV_INIT2 and SNP_LAUNCH_START when the platform is
//! created, one SNP_LAUNCH_UPDATE per populate attempt (uaddr 0 in place, else a page-aligned source
//! buffer; KVM reports partial progress by advancing gfn_start/uaddr/len), then SNP_LAUNCH_FINISH
//! with an ID block carrying the expected digest, signed with the given ID key or an ephemeral one:
//! the AMD firmware itself refuses a launch whose digest differs (BAD_MEASUREMENT).

use std::collections::BTreeMap;

use kvm_bindings::{kvm_sev_init, kvm_sev_snp_launch_finish, kvm_sev_snp_launch_start, kvm_sev_snp_launch_update};
use prelaunch_measure::Measurement;
use prelaunch_measure::hash::Sha384Digest;
use prelaunch_measure::idblock::{IdBlock, IdKey, SignedIdBlock};
use prelaunch_measure::plan::PAGE_SIZE;
use prelaunch_measure::snp::PageType;

use super::snp_cpuid;
use super::snp_ioctls::SnpIoctls;
use super::vcpu_state::VcpuState;
use super::{IoctlError, SourceBuffer};
use crate::memory::MemoryBackend;
use crate::platform::{DigestSource, Finish, Platform, PlatformError, PopulateCall};

/// SEV_FEATURES bit 0, SNPActive: KVM sets it itself for SNP VMs and refuses it in vmsa_features.
const SEV_FEATURE_SNP_ACTIVE: u64 = 1;
/// GHCB protocol version 2 (SNP).
const GHCB_VERSION: u16 = 2;
/// SEV firmware status BAD_MEASUREMENT.
const BAD_MEASUREMENT: u64 = 0x0b;
/// SEV firmware status INVALID_PARAM (a CPUID page the firmware corrected).
const INVALID_PARAM: u64 = 0x16;

/// SEV firmware status codes (SEV-SNP ABI, "Status Codes") as names.
pub fn fw_status(code: u64) -> String {
    let name = match code {
        0x01 => "INVALID_PLATFORM_STATE",
        0x02 => "INVALID_GUEST_STATE",
        0x03 => "INVALID_CONFIG",
        0x04 => "INVALID_LENGTH",
        0x07 => "POLICY_FAILURE",
        0x09 => "INVALID_ADDRESS",
        0x0a => "BAD_SIGNATURE",
        0x0b => "BAD_MEASUREMENT",
        0x10 => "INVALID_GUEST",
        0x11 => "INVALID_COMMAND",
        0x15 => "UNSUPPORTED",
        0x16 => "INVALID_PARAM",
        0x17 => "RESOURCE_LIMIT",
        0x19 => "INVALID_PAGE_SIZE",
        0x1a => "INVALID_PAGE_STATE",
        0x1c => "INVALID_PAGE_OWNER",
        _ => return format!("SEV firmware status {code:#x}"),
    };
    format!("SEV firmware status {name}, {code:#04x}")
}

/// The SNP launch parameters.
#[derive(Debug, Clone)]
pub struct SnpParams {
    /// Guest policy (SNP_LAUNCH_START and the ID block).
    pub policy: u64,
    /// SEV features in the VMSAs (KVM_SEV_INIT2's vmsa_features, SNPActive excluded).
    pub guest_features: u64,
    /// The digest the ID block makes the firmware enforce.
    pub expected: Sha384Digest,
    /// The ID key; an ephemeral one is generated when absent.
    pub id_key: Option<IdKey>,
}

/// An SNP launch in progress.
pub struct HwSnp<I: SnpIoctls> {
    io: I,
    params: SnpParams,
    vcpus: BTreeMap<u32, VcpuState>,
}

fn err(call: &'static str) -> impl Fn(IoctlError) -> PlatformError {
    move |e| e.into_platform(call, fw_status)
}

impl<I: SnpIoctls> HwSnp<I> {
    /// KVM_SEV_INIT2 then SNP_LAUNCH_START.
    pub fn start(mut io: I, params: SnpParams) -> Result<Self, PlatformError> {
        let mut init = kvm_sev_init {
            vmsa_features: params.guest_features & !SEV_FEATURE_SNP_ACTIVE,
            ghcb_version: GHCB_VERSION,
            ..Default::default()
        };
        io.sev_init2(&mut init).map_err(err("KVM_SEV_INIT2"))?;
        let mut start = kvm_sev_snp_launch_start { policy: params.policy, ..Default::default() };
        io.launch_start(&mut start).map_err(err("SNP_LAUNCH_START"))?;
        Ok(HwSnp { io, params, vcpus: BTreeMap::new() })
    }

    /// The CPUID page, always from a source buffer (in place too): the firmware's correction comes
    /// back only through a source page (sev.c `sev_gmem_post_populate`, v8 22/46).
    fn cpuid_page(&mut self, call: &PopulateCall<'_>) -> Result<u64, PlatformError> {
        if call.remaining() != PAGE_SIZE {
            return Err(PlatformError::Refused(format!(
                "SNP_LAUNCH_UPDATE: a CPUID page is one 4 KiB page, this run is {:#x} bytes",
                call.remaining()
            )));
        }
        let entries = self.io.supported_cpuid().map_err(err("KVM_GET_SUPPORTED_CPUID"))?;
        let table = snp_cpuid::fill(&entries).map_err(PlatformError::Refused)?;
        let page = snp_cpuid::page(&table);
        let source = SourceBuffer::new(Some(&page), PAGE_SIZE)?;
        let mut update = kvm_sev_snp_launch_update {
            gfn_start: call.gpa() / PAGE_SIZE,
            uaddr: source.addr(),
            len: PAGE_SIZE,
            type_: PageType::Cpuid as u8,
            ..Default::default()
        };
        match self.io.launch_update(&mut update) {
            Ok(()) => Ok(PAGE_SIZE - update.len),
            Err(IoctlError { errno: libc::EIO, fw_error: INVALID_PARAM }) => {
                let back = snp_cpuid::read(source.bytes(PAGE_SIZE as usize).unwrap_or(&[]));
                let fixes = snp_cpuid::corrections(&table, &back);
                Err(PlatformError::Refused(format!(
                    "SNP_LAUNCH_UPDATE of the CPUID page at GPA {:#x}: the AMD firmware corrected {} entr{} ({}); refusing to launch with CPUID values the host's KVM_GET_SUPPORTED_CPUID promised but the platform does not offer: {}",
                    call.gpa(),
                    fixes.len(),
                    if fixes.len() == 1 { "y" } else { "ies" },
                    fw_status(INVALID_PARAM),
                    fixes.join("; ")
                )))
            }
            Err(e) => Err(err("SNP_LAUNCH_UPDATE")(e)),
        }
    }

    /// The ioctl layer (tests inspect the fake's record).
    pub fn ioctls(&self) -> &I {
        &self.io
    }
}

impl<I: SnpIoctls> Platform for HwSnp<I> {
    fn name(&self) -> &'static str {
        "hw"
    }

    fn describe(&self) -> String {
        "AMD SEV-SNP firmware through KVM (SNP_LAUNCH_UPDATE, SNP_LAUNCH_FINISH with an ID block)".into()
    }

    fn models_conversion(&self) -> bool {
        false
    }

    fn populate(&mut self, call: &PopulateCall<'_>, _mem: &dyn MemoryBackend) -> Result<u64, PlatformError> {
        let op = call.op;
        let t = op
            .kind
            .page_type()
            .ok_or_else(|| PlatformError::Refused(format!("SNP_LAUNCH_UPDATE: {} is not an SNP page type", op.kind.name())))?;
        if t == PageType::Vmsa {
            // KVM builds each VMSA from the vCPU's registers at SNP_LAUNCH_FINISH.
            let vcpu = op.vcpu.unwrap_or(0);
            // KVM builds the VMSA from the registers and INIT2's vmsa_features with SNPActive: refuse
            // a page it would not reproduce (the launch would end in BAD_MEASUREMENT).
            let features = self.params.guest_features | SEV_FEATURE_SNP_ACTIVE;
            let state = VcpuState::from_vmsa_checked(call.source.unwrap_or(&[]), features)
                .map_err(|e| PlatformError::Refused(format!("VMSA of vCPU {vcpu}: {e}")))?;
            self.vcpus.insert(vcpu, state);
            return Ok(PAGE_SIZE);
        }
        let remaining = call.remaining();
        if t == PageType::Cpuid {
            return self.cpuid_page(call);
        }
        // ZERO pages take no source; in place, the bytes are already in (now private) guest memory.
        let source = if call.in_place || t == PageType::Zero { None } else { Some(SourceBuffer::new(call.remaining_source(), remaining)?) };
        let mut update = kvm_sev_snp_launch_update {
            gfn_start: call.gpa() / PAGE_SIZE,
            uaddr: source.as_ref().map_or(0, SourceBuffer::addr),
            len: remaining,
            type_: t as u8,
            ..Default::default()
        };
        self.io.launch_update(&mut update).map_err(err("SNP_LAUNCH_UPDATE"))?;
        remaining.checked_sub(update.len).filter(|d| d % PAGE_SIZE == 0).ok_or_else(|| PlatformError::Ioctl {
            call: "SNP_LAUNCH_UPDATE",
            errno: "bad progress".into(),
            detail: format!(": len went from {remaining:#x} to {:#x}", update.len),
        })
    }

    fn finish(&mut self) -> Result<Finish, PlatformError> {
        for (&id, state) in &self.vcpus {
            self.io.create_vcpu(id, state).map_err(err("KVM_CREATE_VCPU"))?;
        }
        let key = match &self.params.id_key {
            Some(k) => k.clone(),
            None => IdKey::ephemeral().map_err(|e| PlatformError::Unsupported(format!("cannot make an ephemeral ID key: {e}")))?,
        };
        let block = IdBlock { policy: self.params.policy, ..IdBlock::new(self.params.expected) };
        let signed = SignedIdBlock::sign(block, &key, None);
        let id_block = signed.block.to_bytes();
        let id_auth = signed.auth.to_bytes();
        let mut finish = kvm_sev_snp_launch_finish {
            id_block_uaddr: id_block.as_ptr() as u64,
            id_auth_uaddr: id_auth.as_ptr() as u64,
            id_block_en: 1,
            ..Default::default()
        };
        match self.io.launch_finish(&mut finish) {
            Ok(()) => {}
            Err(IoctlError { fw_error: BAD_MEASUREMENT, .. }) => {
                return Err(PlatformError::Refused(format!(
                    "SNP_LAUNCH_FINISH: the AMD firmware refused the launch: its launch digest is not the ID block's {} ({})",
                    hex::encode(self.params.expected),
                    fw_status(BAD_MEASUREMENT)
                )));
            }
            Err(e) => return Err(err("SNP_LAUNCH_FINISH")(e)),
        }
        Ok(Finish { digest: Some(Measurement::Sha384(self.params.expected)), source: DigestSource::IdBlockEnforced, record: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use prelaunch_measure::plan::{OpKind, Operation, Region, Source};
    use prelaunch_measure::snp::Vmm;
    use prelaunch_measure::snp::vmsa::{BSP_EIP, VMSA_GPA, reset_vmsa};

    use prelaunch_measure::plan::{InputKind, RegionPurpose};

    use super::*;
    use crate::LoadError;
    use crate::load::{MAX_POPULATE_RETRIES, PopulateStats, populate_op};
    use crate::memory::memfd::MemfdBackend;
    use crate::platform::hw::fake::{FakeSnp, Inject, SnpCall};

    const EXPECTED: Sha384Digest = [0xab; 48];
    const FW: u64 = 0xfffd_0000;

    fn start(fake: FakeSnp) -> HwSnp<FakeSnp> {
        HwSnp::start(fake, SnpParams { policy: 0x30000, guest_features: 1, expected: EXPECTED, id_key: None }).unwrap()
    }

    fn run(p: &mut HwSnp<FakeSnp>, ops: &[(Operation, Option<&[u8]>)], in_place: bool) -> Result<PopulateStats, LoadError> {
        let mem = MemfdBackend::create(&[Region {
            name: "fw".into(),
            purpose: RegionPurpose::Firmware,
            gpa: 0xffe0_0000,
            size: 0x20_0000,
            gmem_offset: 0,
        }])
        .unwrap();
        let mut stats = PopulateStats::default();
        for (i, (op, src)) in ops.iter().enumerate() {
            populate_op(p, &mem, i, op, *src, in_place, &mut stats)?;
        }
        Ok(stats)
    }

    fn vmsa(vcpu: u32, page: &[u8]) -> (Operation, Option<&[u8]>) {
        let mut op = Operation::new(VMSA_GPA, PAGE_SIZE, OpKind::Vmsa, Source::Page { page: format!("vmsa-{vcpu}") });
        op.vcpu = Some(vcpu);
        (op, Some(page))
    }

    fn normal(len: u64) -> Operation {
        Operation::new(FW, len, OpKind::Normal, Source::File { file: InputKind::Firmware, offset: 0 })
    }

    fn updates(p: &HwSnp<FakeSnp>) -> Vec<(u64, bool, u64, u8)> {
        p.ioctls()
            .calls
            .iter()
            .filter_map(|c| match c {
                SnpCall::Update { gfn, uaddr_zero, len, page_type } => Some((*gfn, *uaddr_zero, *len, *page_type)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn in_place_launch_issues_the_kvm_sequence_and_an_id_block_with_the_expected_digest() {
        let fw = vec![0x5au8; 0x3000];
        let (bsp, ap) = (reset_vmsa(BSP_EIP, 1, 0x800f12, Vmm::Qemu), reset_vmsa(0x80b004, 1, 0x800f12, Vmm::Qemu));
        let mut p = start(FakeSnp::default());
        let ops = [
            (normal(0x3000), Some(&fw[..])),
            (Operation::new(0xffe0_0000, PAGE_SIZE, OpKind::Zero, Source::None), None),
            (Operation::new(0xffe0_1000, PAGE_SIZE, OpKind::Secrets, Source::None), None),
            (Operation::new(0xffe0_2000, PAGE_SIZE, OpKind::Cpuid, Source::None), None),
            vmsa(0, &bsp[..]),
            vmsa(1, &ap[..]),
        ];
        let stats = run(&mut p, &ops, true).unwrap();
        assert_eq!((stats.calls, stats.partial, stats.retries), (6, 0, 0));
        let fin = p.finish().unwrap();
        assert_eq!(fin.digest, Some(Measurement::Sha384(EXPECTED)));
        assert_eq!(fin.source, DigestSource::IdBlockEnforced);
        let calls = &p.ioctls().calls;
        assert_eq!(calls[0], SnpCall::Init2 { vmsa_features: 0, ghcb_version: 2 }, "SNPActive is KVM's to set");
        assert_eq!(calls[1], SnpCall::Start { policy: 0x30000 });
        assert_eq!(
            updates(&p),
            vec![(0xfffd0, true, 0x3000, 1), (0xffe00, true, 0x1000, 3), (0xffe01, true, 0x1000, 5), (0xffe02, false, 0x1000, 6)],
            "the CPUID page always has a source: the firmware's correction comes back only through one"
        );
        assert_eq!(calls[6], SnpCall::Vcpu { id: 0, rip: 0xfff0 });
        assert_eq!(calls[7], SnpCall::Vcpu { id: 1, rip: 0xb004 });
        let SnpCall::Finish { id_block: Some(block), auth_key_en: 0 } = &calls[8] else { panic!("{:?}", calls[8]) };
        assert_eq!((block.ld, block.policy), (EXPECTED, 0x30000));
        assert_eq!(calls.len(), 9);
    }

    #[test]
    fn partial_progress_and_eintr_resume_where_kvm_stopped() {
        let fw = vec![1u8; 0x3000];
        let mut fake = FakeSnp::default();
        fake.update_faults.extend([Inject::Partial(1, 0), Inject::Fail(libc::EINTR, 0), Inject::Partial(1, 0)]);
        let mut p = start(fake);
        let stats = run(&mut p, &[(normal(0x3000), Some(&fw[..]))], true).unwrap();
        assert_eq!(
            updates(&p),
            vec![(0xfffd0, true, 0x3000, 1), (0xfffd1, true, 0x2000, 1), (0xfffd1, true, 0x2000, 1), (0xfffd2, true, 0x1000, 1)]
        );
        assert_eq!((stats.calls, stats.partial, stats.retries), (3, 2, 1));
    }

    #[test]
    fn without_in_place_pages_come_from_a_source_buffer_except_zero_pages() {
        let fw = vec![2u8; 0x2000];
        let mut fake = FakeSnp::default();
        fake.update_faults.push_back(Inject::Partial(1, 0));
        let mut p = start(fake);
        let ops = [
            (normal(0x2000), Some(&fw[..])),
            (Operation::new(0xffe0_0000, PAGE_SIZE, OpKind::Zero, Source::None), None),
            (Operation::new(0xffe0_1000, PAGE_SIZE, OpKind::Secrets, Source::None), None),
        ];
        run(&mut p, &ops, false).unwrap();
        assert_eq!(
            updates(&p),
            vec![(0xfffd0, false, 0x2000, 1), (0xfffd1, false, 0x1000, 1), (0xffe00, true, 0x1000, 3), (0xffe01, false, 0x1000, 5)]
        );
    }

    #[test]
    fn endless_eagain_gives_up_after_bounded_retries_naming_the_page() {
        let mut fake = FakeSnp::default();
        fake.update_faults.extend(std::iter::repeat_n(Inject::Fail(libc::EAGAIN, 0), 20));
        let mut p = start(fake);
        let fw = vec![0u8; 0x1000];
        let e = run(&mut p, &[(normal(0x1000), Some(&fw[..]))], true).unwrap_err();
        assert!(matches!(e, LoadError::Stalled { tries: MAX_POPULATE_RETRIES, gpa: FW, .. }), "{e:?}");
        assert!(e.to_string().contains("0xfffd0000") && e.to_string().contains("EAGAIN"), "{e}");
        assert_eq!(updates(&p).len(), MAX_POPULATE_RETRIES as usize);
    }

    #[test]
    fn firmware_errors_are_named() {
        let mut fake = FakeSnp::default();
        fake.update_faults.push_back(Inject::Fail(libc::EIO, 0x1a));
        let mut p = start(fake);
        let fw = vec![0u8; 0x1000];
        let e = run(&mut p, &[(normal(0x1000), Some(&fw[..]))], true).unwrap_err().to_string();
        assert!(e.contains("SNP_LAUNCH_UPDATE: EIO") && e.contains("INVALID_PAGE_STATE"), "{e}");

        let mut p = start(FakeSnp { finish_fault: Some(IoctlError { errno: libc::EIO, fw_error: BAD_MEASUREMENT }), ..Default::default() });
        let e = p.finish().unwrap_err().to_string();
        assert!(e.contains("refused the launch") && e.contains(&hex::encode(EXPECTED)) && e.contains("BAD_MEASUREMENT"), "{e}");
    }
}
