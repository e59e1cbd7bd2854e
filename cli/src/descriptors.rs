//! QEMU firmware interop descriptors (docs/interop/firmware.json): the JSON files distributions install
//! to say which firmware supports what. Read with QEMU's precedence: files are ordered by name; a file in
//! a later directory (/etc, then the user's config) replaces the same-named file of an earlier one, and
//! an empty file hides it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Set to a colon-separated list of directories (lowest precedence first) to replace the system ones.
pub const DIRS_ENV: &str = "PRELAUNCH_QEMU_FIRMWARE_DIRS";

#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(default)]
    description: String,
    #[serde(rename = "interface-types", default)]
    interface_types: Vec<String>,
    mapping: Mapping,
    #[serde(default)]
    targets: Vec<Target>,
    #[serde(default)]
    features: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Mapping {
    device: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    executable: Option<FileRef>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(rename = "nvram-template", default)]
    nvram_template: Option<FileRef>,
}

#[derive(Debug, Deserialize)]
struct FileRef {
    filename: String,
    #[serde(default = "raw_format")]
    format: String,
}

fn raw_format() -> String {
    "raw".into()
}

#[derive(Debug, Deserialize)]
struct Target {
    architecture: String,
}

/// A usable descriptor.
#[derive(Debug, Clone)]
pub struct Descriptor {
    /// The JSON file it was read from.
    pub source: PathBuf,
    pub description: String,
    pub device: String,
    /// `split`, `combined` or `stateless` for flash; `memory` for -bios.
    pub mode: String,
    pub executable: PathBuf,
    pub format: String,
    pub nvram_template: Option<PathBuf>,
    pub features: Vec<String>,
    pub x86_64: bool,
    pub uefi: bool,
}

/// A descriptor file that could not be used, with the reason.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub source: PathBuf,
    pub reason: String,
}

/// The search directories, lowest precedence first.
pub fn dirs() -> Vec<PathBuf> {
    if let Some(v) = std::env::var_os(DIRS_ENV) {
        return std::env::split_paths(&v).collect();
    }
    let mut d = vec![PathBuf::from("/usr/share/qemu/firmware"), PathBuf::from("/etc/qemu/firmware")];
    let config =
        std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")));
    if let Some(c) = config {
        d.push(c.join("qemu/firmware"));
    }
    d
}

/// Every descriptor in precedence order (QEMU tries them in file-name order).
pub fn load() -> (Vec<Descriptor>, Vec<Skipped>) {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                by_name.insert(name, e.path());
            }
        }
    }
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for path in by_name.into_values() {
        match read(&path) {
            Ok(Some(d)) => found.push(d),
            Ok(None) => {}
            Err(reason) => skipped.push(Skipped { source: path, reason }),
        }
    }
    (found, skipped)
}

/// Reads one descriptor (bounded, never blocking on a FIFO); `Ok(None)` for an empty (masking) file.
fn read(path: &Path) -> Result<Option<Descriptor>, String> {
    let text = prelaunch_files::Input::open(path, prelaunch_files::Kind::DESCRIPTOR).map_err(|e| e.to_string())?;
    parse(&text, path)
}

/// Parses a descriptor's bytes; `Ok(None)` for an empty (masking) file. `source` is recorded as
/// where it came from.
pub fn parse(text: &[u8], source: &Path) -> Result<Option<Descriptor>, String> {
    if text.trim_ascii().is_empty() {
        return Ok(None);
    }
    let raw: Raw = serde_json::from_slice(text).map_err(|e| format!("not a firmware descriptor: {e}"))?;
    let (executable, format, mode) = match raw.mapping.device.as_str() {
        "flash" => {
            let exe = raw.mapping.executable.as_ref().ok_or("flash mapping without an executable")?;
            (exe.filename.clone(), exe.format.clone(), raw.mapping.mode.clone().unwrap_or_else(|| "split".into()))
        }
        "memory" => (raw.mapping.filename.clone().ok_or("memory mapping without a filename")?, "raw".into(), "memory".into()),
        other => return Err(format!("mapping device {other:?} is not a firmware image prelaunch can read")),
    };
    Ok(Some(Descriptor {
        source: source.to_path_buf(),
        description: raw.description,
        device: raw.mapping.device,
        mode,
        executable: PathBuf::from(executable),
        format,
        nvram_template: raw.mapping.nvram_template.map(|n| PathBuf::from(n.filename)),
        features: raw.features,
        x86_64: raw.targets.iter().any(|t| t.architecture == "x86_64"),
        uefi: raw.interface_types.iter().any(|t| t == "uefi"),
    }))
}

/// The first x86-64 descriptor, in QEMU's order, that advertises `feature`, is a raw image that exists,
/// and whose image really supports the feature; and, for every descriptor considered, why it was
/// taken or passed over (for the error that none fits, and for `-v`).
pub fn best_for(feature: &str) -> (Option<Descriptor>, Vec<String>) {
    let (found, skipped) = load();
    let mut considered: Vec<String> = skipped.iter().map(|s| format!("{}: {}", prelaunch_files::show(&s.source), s.reason)).collect();
    for d in found {
        let name = prelaunch_files::show(&d.source).to_string();
        let reason = if !d.x86_64 {
            "not for x86_64".to_string()
        } else if d.format != "raw" {
            format!("image format {:?}, not raw", d.format)
        } else if !d.features.iter().any(|f| f == feature) {
            format!("does not advertise {feature}")
        } else {
            match image_problems(&d.executable, feature) {
                None => {
                    considered.push(format!("{name}: advertises {feature}; chosen"));
                    return (Some(d), considered);
                }
                Some(why) => format!("advertises {feature}, but its image {}: {why}", prelaunch_files::show(&d.executable)),
            }
        };
        considered.push(format!("{name}: {reason}"));
    }
    (None, considered)
}

/// Why the image at `path` cannot launch with `feature`, or `None` when it can.
fn image_problems(path: &Path, feature: &str) -> Option<String> {
    let f = match prelaunch_files::Input::open(path, prelaunch_files::Kind::FIRMWARE) {
        Ok(f) => f,
        Err(e) => return Some(e.to_string()),
    };
    let img = match prelaunch_measure::FirmwareImage::parse(&f) {
        Ok(i) => i,
        Err(e) => return Some(format!("not a firmware image: {e}")),
    };
    let s = img.support();
    let problems = match feature {
        "amd-sev" if img.footer.is_none() => vec!["no OVMF footer table".to_string()],
        "amd-sev-es" => s.sev_es,
        "amd-sev-snp" => s.snp,
        "intel-tdx" => s.tdx,
        _ => vec![],
    };
    if problems.is_empty() { None } else { Some(problems.join("; ")) }
}

/// What `inspect` finds in a descriptor's image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageVerdict {
    pub snp: bool,
    pub sev_es: bool,
    pub kernel_hashes: bool,
    pub tdx: bool,
    pub sev: bool,
}

impl ImageVerdict {
    pub fn supports(&self, feature: &str) -> bool {
        match feature {
            "amd-sev" => self.sev,
            "amd-sev-es" => self.sev_es,
            "amd-sev-snp" => self.snp,
            "intel-tdx" => self.tdx,
            _ => true,
        }
    }
}

/// Inspects the descriptor's executable; `None` when it cannot be read or parsed.
pub fn verdict(d: &Descriptor) -> Option<ImageVerdict> {
    let f = prelaunch_files::Input::open(&d.executable, prelaunch_files::Kind::FIRMWARE).ok()?;
    let img = prelaunch_measure::FirmwareImage::parse(&f).ok()?;
    let s = img.support();
    Some(ImageVerdict {
        snp: s.snp.is_empty(),
        sev_es: s.sev_es.is_empty(),
        kernel_hashes: s.kernel_hashes.is_empty(),
        tdx: s.tdx.is_empty(),
        sev: img.footer.is_some(),
    })
}

/// The confidential-computing features a descriptor can advertise.
pub const CC_FEATURES: [&str; 4] = ["amd-sev", "amd-sev-es", "amd-sev-snp", "intel-tdx"];
