//! The files a package ships beside the binaries: the man pages and shell completions of `fetch`
//! and `asg-deploy`, made from the clap definitions the binaries parse with, so they say what
//! `--help` says.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Command, CommandFactory};
use clap_complete::{Generator, Shell};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

/// The shells completions are written for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// The command line of each binary, exactly as its `main` parses it.
pub fn commands() -> [Command; 2] {
    [
        downloader::cli::Cli::command(),
        asg_deployer::cli::Cli::command(),
    ]
}

/// Writes `<name>.1` and each shell's completion file for every binary into `out_dir` (created if
/// missing), under the names `man` and the shells look for; returns the paths written.
pub fn dist(out_dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let mut written = Vec::new();
    for cmd in commands() {
        let name = cmd.get_name().to_owned();
        let mut files = vec![(format!("{name}.1"), man_page(cmd.clone())?)];
        for shell in SHELLS {
            files.push((shell.file_name(&name), completion(shell, cmd.clone())));
        }
        for (file, contents) in files {
            let path = out_dir.join(file);
            fs::write(&path, contents)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The section 1 man page of `cmd`, as roff source.
///
/// A command with subcommands gets one page whose COMMANDS section describes each subcommand with
/// its own options, where clap_mangen would refer to a page per subcommand: `asg-deploy`'s six
/// commands share all their settings, so six more pages would mostly repeat this one.
pub fn man_page(mut cmd: Command) -> io::Result<Vec<u8>> {
    // `about` is the crate's description, "fetch: download ...": NAME already starts with the name.
    let prefix = format!("{}: ", cmd.get_name());
    let about = cmd.get_about().map(ToString::to_string);
    if let Some(rest) = about
        .as_deref()
        .and_then(|about| about.strip_prefix(&prefix))
    {
        cmd = cmd.about(rest.to_owned());
    }
    let mut page = Vec::new();
    let man = Man::new(cmd.clone());
    if !cmd.has_subcommands() {
        man.render(&mut page)?;
        return Ok(page);
    }
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    commands_section(&cmd).to_writer(&mut page)?;
    if cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some() {
        man.render_extra_section(&mut page)?;
    }
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// One entry per subcommand: its name, what it does and the options declared on it. `cmd` is not
/// built, so the global options (already in OPTIONS) have not been copied into its subcommands.
fn commands_section(cmd: &Command) -> Roff {
    let mut roff = Roff::default();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        roff.control("TP", []);
        roff.text([bold(sub.get_name())]);
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            roff.text([roman(about.to_string())]);
        }
        let options: Vec<_> = sub
            .get_arguments()
            .filter(|arg| !arg.is_hide_set() && !arg.is_positional())
            .collect();
        if options.is_empty() {
            continue;
        }
        roff.control("RS", []);
        for arg in options {
            let mut header = Vec::new();
            if let Some(short) = arg.get_short() {
                header.extend([bold(format!("-{short}")), roman(", ")]);
            }
            if let Some(long) = arg.get_long() {
                header.push(bold(format!("--{long}")));
            }
            if arg.get_action().takes_values() {
                let value = arg.get_value_names().and_then(|names| names.first());
                let value =
                    value.map_or_else(|| arg.get_id().as_str().to_uppercase(), |v| v.to_string());
                header.extend([roman(" "), italic(format!("<{value}>"))]);
            }
            roff.control("TP", []);
            roff.text(header);
            if let Some(help) = arg.get_long_help().or_else(|| arg.get_help()) {
                roff.text([roman(help.to_string())]);
            }
        }
        roff.control("RE", []);
    }
    roff
}

/// The completion script of `cmd` for `shell`.
pub fn completion(shell: Shell, mut cmd: Command) -> Vec<u8> {
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    script
}
