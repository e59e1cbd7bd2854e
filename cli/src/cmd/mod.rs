//! One module per subcommand.

pub mod diagnose;
pub mod event_log;
pub mod firmware;
pub mod id_block;
pub mod igvm;
pub mod igvm_build;
pub mod igvm_inspect;
pub mod inspect;
pub mod layout;
pub mod load;
pub mod man;
pub mod measure;
pub mod measure_tdx;
pub mod measure_tdx_log;
pub mod probe;
pub mod qemu_args;
pub mod qemu_cmdline;
pub mod qemu_libvirt;
pub mod reference_values;
pub mod verify;
