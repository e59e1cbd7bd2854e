//! `prelaunch man`: man pages generated from the argument model, so they never drift from `--help`.

use std::path::Path;

use crate::error::CliError;

/// roff for the sections every page carries (README "Exit codes", "Environment").
const EXIT_AND_ENVIRONMENT: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success: the result is on standard output.
.TP
\fB1\fR
Error: a file, format or platform failure; the message names the file and the offset or field.
.TP
\fB2\fR
Usage: arguments that do not fit together, or options that do not apply to the chosen mode.
.TP
\fB3\fR
Not as expected: authentic, but the measurement or another checked field differs from the
expectation (verify, load, diagnose, event\-log).
.TP
\fB4\fR
Not authentic (verify): a signature, certificate chain, root, revocation or collateral check failed.
.SH ENVIRONMENT
.TP
\fBPRELAUNCH_QEMU_FIRMWARE_DIRS\fR
Colon\-separated directories of QEMU firmware descriptors, lowest precedence first; replaces
/usr/share/qemu/firmware, /etc/qemu/firmware and $XDG_CONFIG_HOME/qemu/firmware (or
~/.config/qemu/firmware).
.TP
\fBNO_COLOR\fR
When set, no colour even on a terminal (unless \fB\-\-color always\fR).
"#;

pub fn run(out_dir: Option<&Path>) -> Result<(), CliError> {
    let cmd = crate::command();
    let render = |cmd: clap::Command| {
        let mut page = Vec::new();
        let man = clap_mangen::Man::new(cmd);
        // clap_mangen's page, section by section, with EXIT STATUS and ENVIRONMENT (which it has no
        // source for) before VERSION, where man-pages(7) puts them.
        let sections = |page: &mut Vec<u8>| -> std::io::Result<()> {
            man.render_title(page)?;
            man.render_name_section(page)?;
            man.render_synopsis_section(page)?;
            man.render_description_section(page)?;
            man.render_options_section(page)?;
            man.render_subcommands_section(page)?;
            man.render_extra_section(page)?;
            page.extend_from_slice(EXIT_AND_ENVIRONMENT.as_bytes());
            man.render_version_section(page)?;
            man.render_authors_section(page)
        };
        sections(&mut page).map_err(|e| CliError::Failed(format!("cannot render a man page: {e}")))?;
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

#[cfg(test)]
mod tests {
    /// `--help` and the man pages say what every option does: no argument without help text.
    #[test]
    fn every_option_has_help() {
        let mut cmd = crate::command();
        cmd.build();
        let mut todo = vec![(String::from("prelaunch"), cmd)];
        let mut missing = Vec::new();
        while let Some((path, c)) = todo.pop() {
            for a in c.get_arguments().filter(|a| !a.is_hide_set()) {
                if a.get_help().is_none() && !matches!(a.get_id().as_str(), "help" | "version") {
                    missing.push(format!("{path} {}", a.get_long().map_or_else(|| a.get_id().to_string(), |l| format!("--{l}"))));
                }
            }
            todo.extend(c.get_subcommands().map(|s| (format!("{path} {}", s.get_name()), s.clone())));
        }
        assert!(missing.is_empty(), "options without help: {missing:?}");
    }
}
