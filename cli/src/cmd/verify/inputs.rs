//! Reading what `verify` is given: evidence files and directories, certificates (files, PEM
//! bundles, directories laid out as AMD's KDS serves them), CRLs, collateral, roots. Every file is
//! opened through `prelaunch_files` (type checked before it can block, bounded per kind).

use std::path::{Path, PathBuf};

use prelaunch_files::{Input, Kind, show};
use prelaunch_measure::appraise::{CertStore, TrustAnchors};

use crate::error::CliError;

/// Certificates, CRLs and certificate tables: AMD's and Intel's are a few KB; a bundle of a
/// fleet's VCEKs or a large CRL stays well below.
pub const CERTS: Kind = Kind { what: "certificate, CRL or certificate table", max: 1 << 20, map: false };
/// TDX collateral JSON: 15-25 KB in practice; the PCK CRL grows slowly.
pub const COLLATERAL: Kind = Kind { what: "collateral file", max: 4 << 20, map: false };
const MAX_CERT_FILE: u64 = 1 << 20;
/// Most files visited below one `--certs` directory, and how deep.
const MAX_DIR_FILES: usize = 10_000;
const MAX_DIR_DEPTH: usize = 6;
/// Most evidence files one `--report DIR` names.
const MAX_REPORTS_IN_DIR: usize = 1_000_000;

fn failed(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Failed(format!("{}: {e}", show(path)))
}

/// Reads a file of `kind` through `prelaunch_files`.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, CliError> {
    Ok(Input::open(path, kind)?.to_vec())
}

/// The evidence files: each `--report` file, and the regular files directly inside each
/// `--report` directory, sorted by name.
pub fn report_paths(given: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for p in given {
        if p.is_dir() {
            let mut names: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| failed(p, e))?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .take(MAX_REPORTS_IN_DIR)
                .collect();
            names.sort();
            if names.is_empty() {
                return Err(failed(p, "the directory holds no files"));
            }
            out.extend(names);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Loads `--certs`, `--vcek` and `--crl` paths. A file that holds no certificate is an error; in a
/// directory (a KDS mirror: `vcek/v1/Milan/cert_chain`, `.../crl`, VCEKs by hwID) such files are
/// skipped.
pub fn load_certs(paths: &[PathBuf]) -> Result<CertStore, CliError> {
    let mut store = CertStore::default();
    for p in paths {
        if p.is_dir() {
            let mut seen = 0;
            walk(p, 0, &mut seen, &mut store)?;
            if store.certs.is_empty() && store.crls.is_empty() {
                return Err(failed(p, "no certificate or CRL found in the directory"));
            }
        } else {
            let bytes = read(p, CERTS)?;
            store.add(&bytes, &show(p).to_string()).map_err(|e| CliError::Failed(e.to_string()))?;
        }
    }
    Ok(store)
}

fn walk(dir: &Path, depth: usize, seen: &mut usize, store: &mut CertStore) -> Result<(), CliError> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(|e| failed(dir, e))?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        *seen += 1;
        if *seen > MAX_DIR_FILES {
            return Err(failed(dir, format!("more than {MAX_DIR_FILES} files below the certificate directory")));
        }
        let Ok(t) = e.file_type() else { continue };
        let path = e.path();
        if t.is_dir() {
            walk(&path, depth + 1, seen, store)?;
        } else if t.is_file() && e.metadata().is_ok_and(|m| m.len() <= MAX_CERT_FILE) {
            let bytes = read(&path, CERTS)?;
            // Files that are not certificates (indexes, notes) are expected in a mirror.
            let _ = store.add(&bytes, &show(&path).to_string());
        }
    }
    Ok(())
}

/// The built-in roots plus each `--trust-root`.
pub fn load_trust(paths: &[PathBuf]) -> Result<TrustAnchors, CliError> {
    let mut t = TrustAnchors::builtin();
    for p in paths {
        let bytes = read(p, CERTS)?;
        t.add(&bytes, &show(p).to_string()).map_err(|e| CliError::Failed(e.to_string()))?;
    }
    Ok(t)
}
