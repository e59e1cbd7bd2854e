//! `prelaunch man`: man pages generated from the argument model, so they never drift from `--help`.

use std::path::Path;

use crate::error::CliError;

pub fn run(out_dir: Option<&Path>) -> Result<(), CliError> {
    let cmd = crate::command();
    let io = |e: std::io::Error| CliError::Failed(format!("cannot write man page: {e}"));
    match out_dir {
        None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout()).map_err(io),
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| CliError::Failed(format!("{}: {e}", dir.display())))?;
            clap_mangen::generate_to(cmd, dir).map_err(io)
        }
    }
}
