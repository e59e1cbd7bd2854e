//! `sev-crate-measure OVMF VCPUS VCPU_TYPE`: prints the SEV-SNP launch digest (QEMU, default guest
//! features 0x1, no kernel) computed by `sev::measurement::snp::snp_calc_launch_digest` of the sev
//! crate 8.0.0, as hex. The peer that bench/run.sh times beside prelaunch and sev-snp-measure.

use std::{path::PathBuf, process::ExitCode};

use sev::measurement::{
    snp::{snp_calc_launch_digest, SnpMeasurementArgs},
    vcpu_types::CpuType,
    vmsa::{GuestFeatures, VMMType},
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: {} OVMF VCPUS VCPU_TYPE", args[0]);
        return ExitCode::from(2);
    }
    let vcpus: u32 = match args[2].parse() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("bad vCPU count {:?}: {e}", args[2]);
            return ExitCode::from(2);
        }
    };
    let vcpu_type = match CpuType::try_from(args[3].as_str()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let measurement = SnpMeasurementArgs {
        vcpus,
        vcpu_type,
        ovmf_file: PathBuf::from(&args[1]),
        guest_features: GuestFeatures::default(),
        kernel_file: None,
        initrd_file: None,
        append: None,
        ovmf_hash_str: None,
        vmm_type: Some(VMMType::QEMU),
    };
    match snp_calc_launch_digest(measurement) {
        Ok(ld) => {
            println!("{}", ld.get_hex_ld());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sev crate: {e}");
            ExitCode::FAILURE
        }
    }
}
