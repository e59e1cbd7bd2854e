//! `prelaunch`: prepare, measure, load and verify confidential-VM launch images.
//!
//! Thin by design: parses arguments, calls `prelaunch-measure` and `prelaunch-loader`, formats output.

// Every write to stdout and stderr goes through output.rs (outln!, errln!): println! panics on a
// closed pipe or a full disk.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod applicable;
mod cmd;
mod descriptors;
mod detail;
mod error;
mod kernel_kind;
mod launch;
mod numbers;
mod output;
mod peer_args;

use clap::{CommandFactory, FromArgMatches, Subcommand, ValueEnum};

use crate::error::CliError;
use crate::output::Out;

// Each line fits 80 columns: clap wraps longer ones, mid-command, on a narrow terminal.
const EXAMPLES: &str = "\
Examples:
  prelaunch inspect OVMF.fd
  prelaunch measure --mode snp --vcpus 4 --vcpu-type EPYC-Milan --ovmf OVMF.fd
  prelaunch measure --mode snp --vcpus 1-64 --vcpu-type EPYC-Genoa \\
      --ovmf OVMF.fd --output-format json
  prelaunch measure --mode tdx --ovmf OVMF.fd --tdx-page-order two-pass --explain
  prelaunch layout --mode snp --vcpus 2 --vcpu-type EPYC-v4 --ovmf OVMF.fd \\
      --json > plan.json
  prelaunch load --platform sim --plan plan.json --ovmf OVMF.fd --mode snp
  prelaunch reference-values --vcpus 1-512 \\
      --vcpu-type EPYC-Milan,EPYC-Genoa,EPYC-Turin --ovmf OVMF.fd \\
      --format corim --out rv.corim
  prelaunch verify --report report.bin --certs vcek.der --mode snp --vcpus 4 \\
      --vcpu-type EPYC-Milan --ovmf OVMF.fd
  prelaunch verify --report quote.bin --collateral collateral.json --expect MRTD_HEX
  prelaunch event-log /sys/firmware/acpi/tables/data/CCEL --report quote.bin

Exit codes: 0 success, 1 error, 2 usage, 3 mismatch (authentic, but not as expected),
4 not authentic (verify: signature, chain, root, revocation, collateral).";

/// Prepare, measure, load and verify confidential-VM launch images (AMD SEV-SNP, Intel TDX).
#[derive(clap::Parser, Debug)]
#[command(name = "prelaunch", version, about, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Print only results and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More detail on stderr (with `measure`, sev-snp-measure's verbose line).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Colour: auto (only on a terminal), always or never.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the structures of a firmware image and what it supports.
    Inspect(cmd::inspect::InspectArgs),
    /// The system's firmware, as QEMU's firmware descriptors describe it.
    #[command(subcommand)]
    Firmware(cmd::firmware::FirmwareCommand),
    /// Compute the launch measurement (accepts sev-snp-measure's arguments).
    Measure(cmd::measure::MeasureArgs),
    /// The QEMU command line (or libvirt domain XML) that launches exactly what `measure` measures.
    QemuArgs(cmd::qemu_args::QemuArgsArgs),
    /// Show the launch plan: 2 MiB-aligned memory regions and populate runs.
    Layout(cmd::layout::LayoutArgs),
    /// Execute a launch plan against KVM guest_memfd memory and compare the platform's digest.
    Load(cmd::load::LoadArgs),
    /// Verify attestation evidence: authentic (signatures, certificate chains, TCB) and as expected.
    Verify(Box<cmd::verify::VerifyArgs>),
    /// Reference values for every launch shape (JSON, CoRIM, GCE, Trustee), or --check a file.
    #[command(visible_alias = "refvals")]
    ReferenceValues(Box<cmd::reference_values::ReferenceValuesArgs>),
    /// Search the launch configurations that could explain a report's measurement.
    Diagnose(cmd::diagnose::DiagnoseArgs),
    /// Replay a TDX CC event log (CCEL) into RTMR0-3, every event decoded; check it against a quote.
    EventLog(cmd::event_log::EventLogArgs),
    /// IGVM files: write one from an OVMF (`igvm build`); `measure --igvm` and `inspect` read them.
    #[command(subcommand)]
    Igvm(cmd::igvm_build::IgvmCommand),
    /// Create an SNP ID block and ID auth info for QEMU.
    IdBlock(cmd::id_block::IdBlockArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (to --out-dir, or print the main page).
    Man {
        /// Write one page per command (prelaunch.1, prelaunch-measure.1, ...) into DIR.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<std::path::PathBuf>,
    },
}

/// The command line: the derived one, with per-subcommand adjustments derive cannot express.
pub fn command() -> clap::Command {
    Cli::command()
        .mut_subcommand("load", cmd::load::tweak)
        .mut_subcommand("measure", |c| {
            // --policy is a launch option that no digest depends on: `load` takes it, `measure` refuses it.
            cmd::measure::tweak(c).infer_long_args(true).mut_arg("policy", |a| a.hide(true))
        })
        .mut_subcommand("verify", cmd::verify::tweak)
}

fn run(cli: Cli) -> Result<(), CliError> {
    let out = Out::new(cli.quiet, cli.verbose, cli.color);
    match cli.command {
        Command::Inspect(a) => cmd::inspect::run(&a, &out),
        Command::Firmware(c) => cmd::firmware::run(&c, &out),
        Command::Measure(a) => cmd::measure::run(&a, &out),
        Command::Layout(a) => cmd::layout::run(&a, &out),
        Command::QemuArgs(a) => cmd::qemu_args::run(&a, &out),
        Command::Load(a) => cmd::load::run(&a, &out),
        Command::Verify(a) => cmd::verify::run(&a, &out),
        Command::ReferenceValues(a) => cmd::reference_values::run(&a, &out),
        Command::Diagnose(a) => cmd::diagnose::run(&a, &out),
        Command::EventLog(a) => cmd::event_log::run(&a, &out),
        Command::Igvm(c) => cmd::igvm_build::run(&c, &out),
        Command::IdBlock(a) => cmd::id_block::run(&a, &out),
        Command::Completions { shell } => {
            // Rendered into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "prelaunch", &mut script);
            output::stdout_bytes(&script);
            Ok(())
        }
        Command::Man { out_dir } => cmd::man::run(out_dir.as_deref()),
    }
}

fn main() {
    let cmd = command();
    let args = peer_args::expand(std::env::args_os().collect(), &cmd);
    let matches = cmd.try_get_matches_from(args).unwrap_or_else(|e| output::clap_exit(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| output::clap_exit(e));
    applicable::enforce(&matches, cli.quiet);
    let result = run(cli);
    output::finish();
    if let Err(e) = result {
        match &e {
            // The comparison was already reported on stdout.
            CliError::Mismatch(m) | CliError::NotAuthentic(m) if m.is_empty() => {}
            _ => errln!("prelaunch: error: {e}"),
        }
        std::process::exit(e.exit_code());
    }
}
