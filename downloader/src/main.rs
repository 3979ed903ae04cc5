//! The `fetch` binary: parse the command line, run, print one error line at most, exit.
// The futures of a run nest deeper than the default limit of 128 lets the compiler lay out.
#![recursion_limit = "256"]

use std::io::Write;

use downloader::cli::Cli;
use downloader::config::Config;
use downloader::error::Error;
use downloader::exit_code::ExitCode;
use downloader::stop::{Stop, StopReason};

fn main() -> std::process::ExitCode {
    // clap prints its own usage errors and exits with 2, help and version with 0.
    let cli = Cli::parse_args();
    init_logging(cli.verbose);
    let config = match Config::from_cli(cli) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("fetch: error: {err}");
            return ExitCode::Usage.into();
        }
    };
    // Transfers run on their own threads (see `downloader::lanes`); this one plans and reports.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("fetch: error: cannot start the async runtime: {err}");
            return ExitCode::Failure.into();
        }
    };
    runtime.block_on(run(config)).into()
}

/// Diagnostics go to stderr through `tracing`, off unless asked for: the report is the output.
fn init_logging(verbose: u8) {
    let filter = match (std::env::var("FETCH_LOG"), verbose) {
        (Ok(filter), _) => filter,
        (Err(_), 0) => return,
        (Err(_), 1) => "downloader=debug".to_string(),
        (Err(_), _) => "debug".to_string(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

async fn run(config: Config) -> ExitCode {
    let stop = Stop::new();
    tokio::spawn(watch_signals(stop.clone()));
    if let Some(deadline) = config.deadline {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            stop.stop(StopReason::Deadline);
        });
    }
    match downloader::run(&config, stop).await {
        Ok(report) => {
            // One line per URL: buffered, or tens of thousands of URLs cost as many writes.
            let mut stderr = std::io::BufWriter::new(std::io::stderr().lock());
            let _ = report
                .write_human(&mut stderr)
                .and_then(|()| stderr.flush());
            if config.json {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{}", report.to_json());
            }
            report.exit_code()
        }
        Err(err) => {
            eprintln!("fetch: error: {err}");
            match err {
                Error::Usage(_) => ExitCode::Usage,
                _ => ExitCode::Failure,
            }
        }
    }
}

/// First Ctrl-C or SIGTERM: stop starting work, let transfers leave resumable files, report.
/// Second: quit at once.
async fn watch_signals(stop: Stop) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let signal = async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
        }
    };
    signal.await;
    eprintln!("fetch: interrupted; saving partial downloads (press Ctrl-C again to quit at once)");
    stop.stop(StopReason::Interrupted);
    let _ = tokio::signal::ctrl_c().await;
    std::process::exit(ExitCode::Interrupted.code());
}
