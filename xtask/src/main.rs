//! `cargo xtask`: project tasks that are not part of any binary. Only `dist` so far.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Project tasks, run as `cargo xtask TASK`.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
enum Task {
    /// Write fetch.1, asg-deploy.1 and their bash, zsh and fish completions into OUT_DIR.
    Dist {
        /// Directory the files are written to; created if missing.
        out_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let Task::Dist { out_dir } = Task::parse();
    match xtask::dist(&out_dir) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
