//! The `asg-deploy` binary: parse, check, run, print one error line per problem, exit with its code.

use clap::Parser;
use tokio_util::sync::CancellationToken;

use asg_deployer::aws::Clients;
use asg_deployer::cli::{Cli, Command};
use asg_deployer::config::Config;
use asg_deployer::error::Error;
use asg_deployer::exit_code::ExitCode;
use asg_deployer::progress::Display;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let code = match Config::from_settings(cli.command, &cli.settings) {
        Ok(config) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(execute(config)),
            Err(e) => report(&Error::Aws {
                action: "starting the runtime".into(),
                message: e.to_string(),
            }),
        },
        Err(e) => report(&e),
    };
    code.into()
}

async fn execute(config: Config) -> ExitCode {
    let shutdown = CancellationToken::new();
    let on_ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
            // A second Ctrl-C leaves at once.
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(ExitCode::Interrupted.code());
            }
        }
    });
    let clients = if matches!(config.command, Command::Render { .. }) {
        None
    } else {
        match Clients::connect(&config.target).await {
            Ok(c) => Some(c),
            Err(e) => return report(&e),
        }
    };
    let display = Display::new();
    let result = asg_deployer::run(&config, clients.as_ref(), &display, shutdown).await;
    display.finish();
    match result {
        Ok(()) => ExitCode::Success,
        Err(e) => report(&e),
    }
}

fn report(err: &Error) -> ExitCode {
    for line in err.to_string().lines() {
        eprintln!("asg-deploy: error: {line}");
    }
    ExitCode::from_error(err)
}
