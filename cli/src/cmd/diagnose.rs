//! (in progress)

use clap::Args;

use crate::error::CliError;
use crate::output::Out;

#[derive(Args, Debug)]
pub struct DiagnoseArgs {}

pub fn run(_a: &DiagnoseArgs, _out: &Out) -> Result<(), CliError> {
    Err(CliError::Failed("not implemented yet".into()))
}
