//! One integration-test binary per crate: each file below was its own binary, and linking
//! one statically linked binary per file cost more than compiling them.

mod common;
mod contract;
mod conventions;
mod diagnose;
mod event_log;
mod evidence_forged;
mod evidence_genuine;
mod evidence_support;
mod firmware_list;
mod first_hour;
mod hostile_io;
mod igvm;
mod json_schemas;
mod layout;
mod limits;
mod load_check_guest;
mod load_faults;
mod load_hw;
mod load_plan;
mod load_probe;
mod load_support;
mod load_vectors;
mod measure_extras;
mod measure_tdx;
mod qemu_args;
mod reference_values;
mod robustness;
mod vectors;
mod verify;
