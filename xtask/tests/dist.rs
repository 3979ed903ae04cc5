//! `xtask dist` writes man pages and completions that name every option and subcommand the
//! binaries' `--help` lists, so the files cannot drift from the command lines: the test runs the
//! real xtask binary and reads what it wrote.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command as Process;

use clap::Command;
use clap::error::ErrorKind;

/// What one binary's help offers: the long options of the command and of every subcommand, and
/// the subcommands.
#[derive(Debug)]
struct Offered {
    options: BTreeSet<String>,
    subcommands: BTreeSet<String>,
}

/// Walks clap's command tree and also reads the `--help` text each command prints, so an option
/// only the help text shows (or only the tree has) is expected too.
fn offered(cmd: &Command) -> Offered {
    let mut cmd = cmd.clone();
    cmd.build();
    let mut offered = Offered {
        options: BTreeSet::new(),
        subcommands: BTreeSet::new(),
    };
    walk(&cmd, &[cmd.get_name().to_owned()], &mut offered);
    offered
}

fn walk(cmd: &Command, path: &[String], offered: &mut Offered) {
    let help = help_text(path);
    offered.options.extend(long_options(&help));
    offered.options.extend(
        cmd.get_arguments()
            .filter(|arg| !arg.is_hide_set())
            .filter_map(|arg| arg.get_long())
            .map(|long| format!("--{long}")),
    );
    offered.subcommands.extend(listed_commands(&help));
    // `help` is clap's own subcommand; the man page is that help, so it has no entry there.
    for sub in cmd
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
    {
        offered.subcommands.insert(sub.get_name().to_owned());
        let mut path = path.to_vec();
        path.push(sub.get_name().to_owned());
        walk(sub, &path, offered);
    }
    offered.subcommands.remove("help");
}

/// What `<path...> --help` prints, as the binary's `main` would print it.
fn help_text(path: &[String]) -> String {
    let cmd = xtask::commands()
        .into_iter()
        .find(|cmd| cmd.get_name() == path[0])
        .expect("a binary of the workspace");
    let args = path.iter().cloned().chain(["--help".to_owned()]);
    let err = cmd
        .try_get_matches_from(args)
        .expect_err("--help stops parsing");
    assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{path:?} --help");
    err.render().to_string()
}

/// Every `--word` in a help text.
fn long_options(help: &str) -> Vec<String> {
    help.match_indices("--")
        .map(|(at, _)| {
            let name: String = help[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            name.trim_end_matches('-').to_owned()
        })
        .filter(|name| name.starts_with(|c: char| c.is_ascii_alphabetic()))
        .map(|name| format!("--{name}"))
        .collect()
}

/// The first word of each entry of the help's `Commands:` list (a wrapped line is indented further).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// How roff source sets `text` in bold, the way an option or command heads its entry.
fn roff_bold(text: &str) -> String {
    format!("\\fB{}\\fR", text.replace('-', "\\-"))
}

/// The options and subcommands that have no entry in the man page.
fn missing_from_man(page: &str, offered: &Offered) -> Vec<String> {
    offered
        .options
        .iter()
        .chain(&offered.subcommands)
        .filter(|name| !page.contains(&roff_bold(name)))
        .cloned()
        .collect()
}

/// The long options a completion script does not offer. Fish spells `--jobs` as `-l jobs`.
fn missing_from_completion(script: &str, fish: bool, offered: &Offered) -> Vec<String> {
    offered
        .options
        .iter()
        .filter(|option| {
            let word = if fish {
                format!("-l {}", &option[2..])
            } else {
                option.to_string()
            };
            !names(script, &word)
        })
        .cloned()
        .collect()
}

/// Whether `word` occurs in `text` not followed by more of a name (`--url` is not in `--url-x`).
fn names(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        !text[at + word.len()..]
            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn run_dist(out: &Path) {
    let output = Process::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("dist")
        .arg(out)
        .output()
        .expect("xtask runs");
    assert!(
        output.status.success(),
        "xtask dist {} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

#[test]
fn pages_and_completions_name_everything_help_lists() {
    let out = tempfile::tempdir().unwrap();
    run_dist(out.path());
    for cmd in xtask::commands() {
        let name = cmd.get_name();
        let offered = offered(&cmd);
        // A walk that found nothing would make every check below pass.
        assert!(
            offered.options.contains("--help") && offered.options.len() > 10,
            "{offered:?}"
        );

        let page = out.path().join(format!("{name}.1"));
        let missing = missing_from_man(&read(&page), &offered);
        assert!(
            missing.is_empty(),
            "{} has no entry for {missing:?}",
            page.display()
        );

        for (file, fish) in [
            (format!("{name}.bash"), false),
            (format!("_{name}"), false),
            (format!("{name}.fish"), true),
        ] {
            let script = out.path().join(file);
            let missing = missing_from_completion(&read(&script), fish, &offered);
            assert!(
                missing.is_empty(),
                "{} does not offer {missing:?}",
                script.display()
            );
        }
    }
    let asg = offered(&xtask::commands()[1]);
    assert!(asg.subcommands.contains("status") && asg.options.contains("--watch"));
}

#[test]
fn bash_loads_the_completions() {
    let out = tempfile::tempdir().unwrap();
    run_dist(out.path());
    for name in ["fetch", "asg-deploy"] {
        let script = out.path().join(format!("{name}.bash"));
        let output = Process::new("bash")
            .args(["-c", r#"source "$1" && complete -p "$2""#, "bash"])
            .arg(&script)
            .arg(name)
            .output()
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(name) && output.stderr.is_empty(),
            "sourcing {} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr),
        );
    }
}

/// The checks above can fail: a page or script without one option's entry is caught.
#[test]
fn a_missing_entry_is_reported() {
    let [fetch, _] = xtask::commands();
    let offered = offered(&fetch);
    let page = String::from_utf8(xtask::man_page(fetch.clone()).unwrap()).unwrap();
    assert!(missing_from_man(&page, &offered).is_empty());
    let without_jobs = page.replace(&roff_bold("--jobs"), "");
    assert_eq!(missing_from_man(&without_jobs, &offered), ["--jobs"]);

    let script = String::from_utf8(xtask::completion(clap_complete::Shell::Fish, fetch)).unwrap();
    assert!(missing_from_completion(&script, true, &offered).is_empty());
    let without_retries = script.replace("-l retries", "-l retries-x");
    assert_eq!(
        missing_from_completion(&without_retries, true, &offered),
        ["--retries"]
    );
}
