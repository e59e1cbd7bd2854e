//! One integration-test binary per crate: each file below was its own binary, and linking
//! one statically linked binary per file cost more than compiling them.

mod authenticode;
mod eventlog_bad_inputs;
mod eventlog_real;
mod idblock_crosscheck;
mod idblock_sign;
mod igvm_bad_inputs;
mod igvm_fixture;
mod igvm_measure;
mod igvm_written;
mod image_bad_inputs;
mod image_limits;
mod plan_properties;
mod plan_rules;
mod reference_corim;
mod reference_formats;
mod report_fixtures;
mod report_parsers;
mod tdx_rtmr_peers;
mod tdx_rtmr_real;
