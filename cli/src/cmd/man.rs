//! `prelaunch man`: man pages generated from the argument model, so they never drift from `--help`.

use std::path::Path;

use crate::error::CliError;

pub fn run(out_dir: Option<&Path>) -> Result<(), CliError> {
    let cmd = crate::command();
    let render = |cmd: clap::Command| {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page).map_err(|e| CliError::Failed(format!("cannot render a man page: {e}")))?;
        Ok::<_, CliError>(page)
    };
    match out_dir {
        None => {
            crate::output::stdout_bytes(&render(cmd)?);
            Ok(())
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| CliError::Failed(format!("{}: {e}", prelaunch_files::show(dir))))?;
            // clap_mangen::generate_to, with each page written atomically and never through a link.
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            let mut todo = vec![cmd];
            while let Some(c) = todo.pop() {
                todo.extend(c.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
                let name = clap_mangen::Man::new(c.clone()).get_filename();
                prelaunch_files::write_atomic(dir.join(name), &render(c)?)?;
            }
            Ok(())
        }
    }
}
