//! `prelaunch id-block`: an SNP ID block and ID auth info, and the values QEMU takes.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use prelaunch_measure::idblock::{IdBlock, IdKey, SignedIdBlock};
use serde_json::json;

use crate::error::{CliError, Context, usage};
use crate::launch::parse_int;
use crate::outln;
use crate::output::{Doc, Out, print_doc};

#[derive(Args, Debug)]
pub struct IdBlockArgs {
    /// The expected launch digest: 96 hex digits, or base64 (as sev-snp-measure prints it).
    #[arg(long, value_name = "HEX")]
    pub measurement: String,
    /// ID key: P-384 private key, PEM (SEC1 or PKCS#8).
    #[arg(long, value_name = "PEM")]
    pub id_key: PathBuf,
    /// Author key: P-384 private key, PEM; signs the ID key.
    #[arg(long, value_name = "PEM")]
    pub author_key: Option<PathBuf>,
    /// FAMILY_ID, 16 bytes hex (default zero).
    #[arg(long, value_name = "HEX")]
    pub family_id: Option<String>,
    /// IMAGE_ID, 16 bytes hex (default zero).
    #[arg(long, value_name = "HEX")]
    pub image_id: Option<String>,
    /// Guest security version number (GUEST_SVN) the ID block binds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub guest_svn: u32,
    /// Guest policy.
    #[arg(long, value_name = "HEX", value_parser = parse_int, default_value = "0x30000")]
    pub policy: u64,
    /// Write id_block.bin, id_auth.bin and qemu-args.txt here.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Print a JSON document (schema/id-block.v1.schema.json) instead of QEMU's properties.
    #[arg(long)]
    pub json: bool,
}

fn id16(field: &str, s: &Option<String>) -> Result<[u8; 16], CliError> {
    match s {
        None => Ok([0; 16]),
        Some(s) => hex::decode(s.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| CliError::Usage(format!("--{field} {s:?}: expected 32 hex digits (16 bytes)"))),
    }
}

fn measurement(s: &str) -> Result<[u8; 48], CliError> {
    let t = s.trim();
    let bytes = if t.len() == 96 && t.bytes().all(|c| c.is_ascii_hexdigit()) { hex::decode(t).ok() } else { STANDARD.decode(t).ok() };
    match bytes.and_then(|b| b.try_into().ok()) {
        Some(m) => Ok(m),
        None => usage(format!("--measurement {s:?}: expected a 48-byte launch digest as 96 hex digits or base64")),
    }
}

fn key(path: &PathBuf) -> Result<IdKey, CliError> {
    let pem = prelaunch_files::Input::open(path, prelaunch_files::Kind::KEY)?;
    IdKey::from_pem_bytes(&pem).in_file(path)
}

pub fn run(a: &IdBlockArgs, _out: &Out) -> Result<(), CliError> {
    let mut block = IdBlock::new(measurement(&a.measurement)?);
    block.family_id = id16("family-id", &a.family_id)?;
    block.image_id = id16("image-id", &a.image_id)?;
    block.guest_svn = a.guest_svn;
    block.policy = a.policy;
    let id_key = key(&a.id_key)?;
    let author = a.author_key.as_ref().map(key).transpose()?;
    let signed = SignedIdBlock::sign(block, &id_key, author.as_ref());
    let qemu = signed.qemu_args();
    let id_digest = signed.id_key_digest();
    let author_digest = signed.author_key_digest();
    if let Some(dir) = &a.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| CliError::Failed(format!("{}: {e}", prelaunch_files::show(dir))))?;
        prelaunch_files::write_atomic(dir.join("id_block.bin"), &signed.block.to_bytes())?;
        prelaunch_files::write_atomic(dir.join("id_auth.bin"), &signed.auth.to_bytes())?;
        prelaunch_files::write_atomic(dir.join("qemu-args.txt"), format!("{qemu}\n").as_bytes())?;
    }
    if a.json {
        return print_doc(
            Doc::ID_BLOCK,
            &json!({
                "id_block": qemu.id_block,
                "id_auth": qemu.id_auth,
                "author_key_enabled": qemu.author_key_enabled,
                "id_key_digest": hex::encode(id_digest),
                "author_key_digest": author_digest.map(hex::encode),
            }),
        );
    }
    outln!("{qemu}");
    outln!("id_key_digest: {} ({})", hex::encode(id_digest), STANDARD.encode(id_digest));
    if let Some(d) = author_digest {
        outln!("author_key_digest: {} ({})", hex::encode(d), STANDARD.encode(d));
    }
    Ok(())
}
