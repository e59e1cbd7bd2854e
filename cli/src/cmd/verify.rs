//! (in progress)

use clap::Args;

use crate::error::CliError;
use crate::output::Out;

#[derive(Args, Debug)]
pub struct VerifyArgs {}

pub fn run(_a: &VerifyArgs, _out: &Out) -> Result<(), CliError> {
    Err(CliError::Failed("not implemented yet".into()))
}
