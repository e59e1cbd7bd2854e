//! `prelaunch verify`: is the evidence genuine, and is it the guest that was expected?
//!
//! Authenticity (SNP: report signature, VCEK/VLEK chain to AMD's roots, KEY_INFO, CHIP_ID, TCB,
//! CRLs; TDX: quote and QE report signatures, PCK chain to Intel's root, collateral) and the
//! expectations (measurement, policy and attributes, report data, ...) are checked by
//! `prelaunch_measure::appraise`; this module reads the inputs, prints the verdict and maps it to
//! the exit code: 0 ok, 3 mismatch, 4 not authentic, 1 bad input, 2 usage.

mod inputs;
mod print;
mod reference;

use std::path::PathBuf;

use clap::Args;
use prelaunch_files::{Input, Kind, show};
use prelaunch_measure::Mode;
use prelaunch_measure::appraise::tdx::collateral::Collateral;
use prelaunch_measure::appraise::{self, Expectations, MinTcb, Outcome, RtmrExpectation, Verdict, VerifyTime, Waivers};
use prelaunch_measure::digest;
use prelaunch_measure::report::{Evidence, EvidenceFile};

use crate::error::{CliError, Context, usage};
use crate::launch::{Files, LaunchArgs};
use crate::output::Out;

#[derive(Args, Debug)]
#[command(after_help = "\
Every check is listed with pass, fail, not-run or waived. A check that cannot run (no certificate, no
collateral, no CRL) fails the verdict unless waived: --measurement-only waives all authenticity
checks, --no-tcb the checks that need TDX collateral, --no-crl revocation.
Exit codes: 0 authentic and as expected; 3 authentic but not as expected (measurement, policy or
TD attributes, report data, TCB status or minimum, RTMR, ...); 4 not authentic or cannot be
authenticated (signature, chain, unknown root, revoked, expired, key kind); 1 bad input; 2 usage.")]
pub struct VerifyArgs {
    /// Evidence: SNP report (1184 bytes, optionally followed by its certificate table), TDX quote
    /// (v4/v5) or TDREPORT (1024 bytes). Repeat it, or name a directory, to verify many: one line
    /// (one JSON document with --json) each.
    #[arg(long, value_name = "FILE|DIR", required = true)]
    pub report: Vec<PathBuf>,
    /// The expected measurement (hex); otherwise computed from the launch arguments.
    #[arg(long, value_name = "HEX", conflicts_with = "mode")]
    pub expect: Option<String>,
    /// Reference values the measurement (and RTMR0-2) must be among, in any format
    /// `reference-values` writes (JSON, CoRIM, signed CoRIM, GCE, Trustee), instead of --expect
    /// or the launch arguments: a match names its launch shape, a miss the nearest entries.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["expect", "mode"])]
    pub reference: Option<PathBuf>,
    /// The public key (PEM) a signed CoRIM --reference is verified with.
    #[arg(long, value_name = "FILE")]
    pub reference_key: Option<PathBuf>,
    /// Waive the signature check of a signed CoRIM --reference read without --reference-key.
    #[arg(long)]
    pub no_reference_signature: bool,
    /// Certificates: PEM bundles, DER files, SNP certificate tables, or a directory laid out as
    /// AMD's KDS serves them (vcek/v1/Milan/cert_chain, .../crl, VCEKs). Repeatable.
    #[arg(long, value_name = "PATH")]
    pub certs: Vec<PathBuf>,
    /// The VCEK or VLEK certificate (PEM or DER); the same as one --certs.
    #[arg(long, value_name = "FILE")]
    pub vcek: Option<PathBuf>,
    /// A CRL (PEM or DER), e.g. AMD's KDS /vcek/v1/PRODUCT/crl. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// TDX collateral: QuoteCollateralV3 JSON (TCB info, QE identity, signatures, issuer chains, CRLs).
    #[arg(long, value_name = "FILE")]
    pub collateral: Option<PathBuf>,
    /// Trust this root certificate besides AMD's and Intel's built-in roots (a private PKI, tests).
    #[arg(long, value_name = "FILE")]
    pub trust_root: Vec<PathBuf>,
    /// Verify as of this time (RFC 3339, e.g. 2025-06-01T00:00:00Z) instead of now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Waive every authenticity check: compare the fields only.
    #[arg(long)]
    pub measurement_only: bool,
    /// Waive the checks that need TDX collateral (TCB status, QE and TDX module identity).
    #[arg(long)]
    pub no_tcb: bool,
    /// Waive revocation when no CRL is at hand.
    #[arg(long)]
    pub no_crl: bool,
    /// Accept a guest that allows debugging (SNP policy DEBUG, TD_ATTRIBUTES.DEBUG).
    #[arg(long)]
    pub allow_debug: bool,
    /// Expected REPORT_DATA (hex, up to 64 bytes; shorter values are zero-padded on the right).
    #[arg(long, value_name = "HEX")]
    pub report_data: Option<String>,
    /// (SNP) Expected HOST_DATA (hex, up to 32 bytes, zero-padded).
    #[arg(long, value_name = "HEX")]
    pub host_data: Option<String>,
    /// (SNP) Expected ID_KEY_DIGEST (hex, 48 bytes).
    #[arg(long, value_name = "HEX")]
    pub id_key_digest: Option<String>,
    /// (SNP) Expected AUTHOR_KEY_DIGEST (hex, 48 bytes).
    #[arg(long, value_name = "HEX")]
    pub author_key_digest: Option<String>,
    /// (SNP) Expected VMPL of the requester.
    #[arg(long, value_name = "N")]
    pub vmpl: Option<u32>,
    /// (SNP) Minimum REPORTED_TCB: bootloader,tee,snp,microcode[,fmc].
    #[arg(long, value_name = "BL,TEE,SNP,UCODE[,FMC]")]
    pub min_tcb: Option<MinTcb>,
    /// (TDX) TCB statuses accepted besides UpToDate (e.g. SWHardeningNeeded,OutOfDate).
    #[arg(long, value_name = "STATUS", value_delimiter = ',')]
    pub accept_tcb_status: Vec<String>,
    /// (TDX) Expected RTMR value: N=HEX (N 0 to 3). Repeatable.
    #[arg(long, value_name = "N=HEX")]
    pub rtmr: Vec<String>,
    /// Print a JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub launch: Option<LaunchArgs>,
}

/// Reads and recognises evidence, naming the file in errors; the bytes are kept for signature checks.
pub fn read_evidence(path: &std::path::Path) -> Result<(Input, Evidence), CliError> {
    let f = Input::open(path, Kind::EVIDENCE)?;
    let ev = Evidence::detect(&f).in_file(path)?;
    Ok((f, ev))
}

/// `--expect` replaces the launch arguments, so `--mode` is required only without it (derive
/// cannot say so for a flattened optional group).
pub fn tweak(cmd: clap::Command) -> clap::Command {
    cmd.mut_arg("mode", |a| a.required(false).required_unless_present_any(["expect", "reference"]))
}

pub fn parse_expected(hex_str: &str) -> Result<Vec<u8>, CliError> {
    let b = hex::decode(hex_str.trim().trim_start_matches("0x"))
        .map_err(|e| CliError::Usage(format!("--expect {hex_str:?}: not hex ({e})")))?;
    if b.len() != 48 && b.len() != 32 {
        return usage(format!("--expect: {} bytes; expected a 48-byte (SNP, TDX) or 32-byte (SEV) measurement", b.len()));
    }
    Ok(b)
}

/// Hex of at most `N` bytes, zero-padded on the right (`exact`: exactly `N`).
fn hex_arg<const N: usize>(flag: &str, s: &Option<String>, exact: bool) -> Result<Option<[u8; N]>, CliError> {
    let Some(s) = s else { return Ok(None) };
    let b = hex::decode(s.trim().trim_start_matches("0x")).map_err(|e| CliError::Usage(format!("{flag} {s:?}: not hex ({e})")))?;
    if b.len() > N || (exact && b.len() != N) {
        return usage(format!("{flag}: {} bytes; expected {}{N}", b.len(), if exact { "" } else { "at most " }));
    }
    let mut out = [0u8; N];
    out[..b.len()].copy_from_slice(&b);
    Ok(Some(out))
}

fn rtmr_arg(s: &str) -> Result<RtmrExpectation, CliError> {
    let bad = |why: &str| CliError::Usage(format!("--rtmr {s:?}: {why}; expected N=HEX with N 0 to 3 and 48 bytes of hex"));
    let (n, h) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
    let index: u8 = n.trim().parse().ok().filter(|i| *i < 4).ok_or_else(|| bad("the register number is not 0 to 3"))?;
    let v = hex::decode(h.trim().trim_start_matches("0x")).map_err(|_| bad("not hex"))?;
    let value: [u8; 48] = v.try_into().map_err(|v: Vec<u8>| bad(&format!("{} bytes", v.len())))?;
    Ok(RtmrExpectation { index, value, source: format!("--rtmr {index}") })
}

/// What every report of the run is checked with.
struct Run {
    expect: Expectations,
    waivers: Waivers,
    at: VerifyTime,
    store: appraise::CertStore,
    trust: appraise::TrustAnchors,
    collateral: Option<Collateral>,
    /// The evidence kind the launch arguments computed a measurement for.
    launch_mode: Option<(Mode, String)>,
    /// `--reference`: the set the measurement is looked up in.
    reference: Option<reference::Reference>,
}

pub fn run(a: &VerifyArgs, out: &Out) -> Result<(), CliError> {
    let paths = inputs::report_paths(&a.report)?;
    let r = prepare(a, out)?;
    let batch = paths.len() > 1;
    let mut cache = appraise::snp::ChainCache::default();
    let mut worst = Outcome::Ok;
    let mut errors = 0usize;
    let mut measurement_differs = false;
    for p in &paths {
        match verify_one(p, &r, &mut cache) {
            Ok((ev, verdict)) => {
                worst = worst.max(verdict.outcome());
                measurement_differs |= verdict.get("measurement").is_some_and(|c| c.status == appraise::Status::Fail);
                if batch {
                    print::batch_line(p, &ev, &verdict, &r.expect, a.json, out)?;
                } else {
                    print::single(&ev, &verdict, &r.expect, a.json, out)?;
                }
            }
            Err(e) if batch => {
                errors += 1;
                print::batch_error(p, &e, a.json)?;
            }
            Err(e) => return Err(e),
        }
    }
    if errors > 0 {
        return Err(CliError::Failed(format!("{errors} of {} evidence files could not be read", paths.len())));
    }
    let what = if batch { "some evidence is".to_string() } else { format!("{} is", show(&paths[0])) };
    match worst {
        Outcome::Ok => Ok(()),
        Outcome::Mismatch => {
            let hint = if measurement_differs {
                "; `prelaunch diagnose` searches the configurations that could explain a measurement"
            } else {
                ""
            };
            Err(CliError::Mismatch(format!("{what} authentic but not as expected (see the failed checks){hint}")))
        }
        Outcome::NotAuthentic => Err(CliError::NotAuthentic(format!("{what} not shown authentic (see the failed checks)"))),
    }
}

fn prepare(a: &VerifyArgs, out: &Out) -> Result<Run, CliError> {
    let at = match &a.at {
        Some(s) => VerifyTime::parse_rfc3339(s).map_err(|e| CliError::Usage(format!("--at: {e}")))?,
        None => VerifyTime::now(),
    };
    let mut expect = Expectations {
        report_data: hex_arg::<64>("--report-data", &a.report_data, false)?,
        host_data: hex_arg::<32>("--host-data", &a.host_data, false)?,
        id_key_digest: hex_arg::<48>("--id-key-digest", &a.id_key_digest, true)?,
        author_key_digest: hex_arg::<48>("--author-key-digest", &a.author_key_digest, true)?,
        vmpl: a.vmpl,
        min_tcb: a.min_tcb,
        accept_tcb_status: a.accept_tcb_status.clone(),
        rtmrs: a.rtmr.iter().map(|s| rtmr_arg(s)).collect::<Result<_, _>>()?,
        allow_debug: a.allow_debug,
        ..Expectations::default()
    };
    for s in &expect.accept_tcb_status {
        if appraise::tdx::tcb::Status::parse(s).is_none() {
            return usage(format!(
                "--accept-tcb-status {s:?}: not a TCB status (UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, TDRelaunchAdvised, TDRelaunchAdvisedConfigurationNeeded)"
            ));
        }
    }
    if a.reference.is_none() && (a.reference_key.is_some() || a.no_reference_signature) {
        return usage("--reference-key and --no-reference-signature apply to a --reference FILE");
    }
    let mut launch_mode = None;
    let mut reference = None;
    match (&a.expect, &a.launch) {
        (None, _) if let Some(file) = &a.reference => {
            reference = Some(reference::Reference::open(file, a.reference_key.as_deref(), a.no_reference_signature)?);
        }
        (Some(e), _) => {
            expect.measurement = Some(parse_expected(e)?);
            expect.measurement_source = "--expect".into();
        }
        (None, Some(l)) => {
            let files = Files::default();
            let launch = l.build(out, &files)?;
            if !launch.vcpus.is_single() {
                return usage("verify takes one --vcpus count; use `prelaunch diagnose` to search several");
            }
            let m = digest::fold_observed(&launch.plan, launch.resume, None)
                .map_err(|e| CliError::Failed(format!("{}: {e}", show(launch.firmware_path()))))?;
            expect.measurement = Some(m.as_bytes().to_vec());
            expect.measurement_source = format!("the value computed for {}", show(launch.firmware_path()));
            launch_mode = Some((l.mode.mode(), l.mode_name().to_string()));
        }
        (None, None) => return usage("give --expect HEX, --reference FILE or the launch arguments (--mode, --ovmf, ...) to compute it"),
    }
    let mut cert_paths = a.certs.clone();
    cert_paths.extend(a.vcek.iter().cloned());
    cert_paths.extend(a.crl.iter().cloned());
    let collateral = match &a.collateral {
        Some(p) => Some(Collateral::parse(&inputs::read(p, inputs::COLLATERAL)?).in_file(p)?),
        None => None,
    };
    Ok(Run {
        expect,
        waivers: Waivers { measurement_only: a.measurement_only, no_tcb: a.no_tcb, no_crl: a.no_crl },
        at,
        store: inputs::load_certs(&cert_paths)?,
        trust: inputs::load_trust(&a.trust_root)?,
        collateral,
        launch_mode,
        reference,
    })
}

fn verify_one(path: &std::path::Path, r: &Run, cache: &mut appraise::snp::ChainCache) -> Result<(Evidence, Verdict), CliError> {
    let bytes = Input::open(path, Kind::EVIDENCE)?;
    let file = EvidenceFile::parse(&bytes).in_file(path)?;
    let ev = file.evidence;
    if let Some((mode, name)) = &r.launch_mode {
        let want = if matches!(ev, Evidence::SnpReport(_)) { Mode::Snp } else { Mode::Tdx };
        if *mode != want {
            return usage(format!("{} is a {}, but --mode {name} was given", show(path), ev.kind()));
        }
    }
    // SNP and TDX evidence carry a 48-byte measurement; a 32-byte value (SEV's) cannot be compared.
    if let Some(m) = &r.expect.measurement
        && m.len() != 48
    {
        return usage(format!("--expect: {} bytes, but {} is a {} whose measurement is 48 bytes", m.len(), show(path), ev.kind()));
    }
    let snp_only = [
        ("--host-data", r.expect.host_data.is_some()),
        ("--id-key-digest", r.expect.id_key_digest.is_some()),
        ("--author-key-digest", r.expect.author_key_digest.is_some()),
        ("--vmpl", r.expect.vmpl.is_some()),
        ("--min-tcb", r.expect.min_tcb.is_some()),
    ];
    let tdx_only = [
        ("--rtmr", !r.expect.rtmrs.is_empty()),
        ("--collateral", r.collateral.is_some()),
        ("--accept-tcb-status", !r.expect.accept_tcb_status.is_empty()),
    ];
    let misplaced = match ev {
        Evidence::SnpReport(_) => tdx_only.iter().find(|(_, on)| *on),
        _ => snp_only.iter().find(|(_, on)| *on),
    };
    if let Some((flag, _)) = misplaced {
        return usage(format!("{flag} does not apply to {} (a {})", show(path), ev.kind()));
    }
    let mut verdict = match &ev {
        Evidence::SnpReport(rep) => {
            let cx = appraise::snp::Context { store: &r.store, trust: &r.trust, expect: &r.expect, waivers: r.waivers, at: r.at };
            let raw = bytes.get(..prelaunch_measure::report::SNP_REPORT_LEN).unwrap_or_default();
            appraise::snp::appraise(&appraise::snp::SnpEvidence { raw, report: rep, table: file.cert_table.as_ref() }, &cx, cache)
        }
        Evidence::TdxQuote(q) => appraise::tdx::appraise_quote(q, &bytes, &tdx_context(r)),
        Evidence::TdReport(t) => appraise::tdx::appraise_tdreport(t, &tdx_context(r)),
    };
    if let Some(rf) = &r.reference {
        rf.check(&ev, &mut verdict);
    }
    Ok((ev, verdict))
}

fn tdx_context(r: &Run) -> appraise::tdx::Context<'_> {
    appraise::tdx::Context {
        trust: &r.trust,
        collateral: r.collateral.as_ref(),
        store: &r.store,
        expect: &r.expect,
        waivers: r.waivers,
        at: r.at,
    }
}
