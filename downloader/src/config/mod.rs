//! The validated configuration, built once from the command line. Everything downstream receives a
//! [`Config`] it never has to check again.

pub mod filter;
pub mod header;
pub mod wanted;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::cli::Cli;
use crate::config::filter::Filters;
use crate::config::wanted::Wanted;
use crate::error::{Error, Result};
use crate::source::tls::CaCert;

/// The most connections a file's ramp may reach when `-x` is not given (aria2c's `-x` limit).
pub const DEFAULT_CONNECTIONS_PER_FILE: usize = 16;

/// The most connections the split files of a run use for their parts together, or `-j` when that
/// is more. A file's parts are bounded by its share of these. Past four files at 16 parts the
/// share shrinks: enough for five files on a server that caps each connection at 25 MiB/s to
/// reach what two cores can take in (aria2c and rclone at 16 each open 80), few enough that a run
/// does not look like a flood to a server that counts its clients' connections.
pub const RUN_CONNECTIONS: usize = 64;

/// Settings for s3:// URLs.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// Named profile; `None` means the default credential chain.
    pub profile: Option<String>,
    /// Region to start from.
    pub region: Option<String>,
    /// S3-compatible endpoint; requests then use path-style addressing.
    pub endpoint_url: Option<String>,
    /// Send unsigned requests (public buckets).
    pub no_sign_request: bool,
    /// Agree to pay for requests to a Requester Pays bucket (`--request-payer`).
    pub request_payer: bool,
    /// Which objects of a prefix listing are downloaded (`--include`, `--exclude`).
    pub filters: Filters,
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URLs in the order given, command line first, then the input file, each with the
    /// options given for it alone (checked: names are plain and distinct).
    pub urls: Vec<Wanted>,
    /// Where files are written.
    pub output_dir: PathBuf,
    /// Files downloading at once (at least 1).
    pub jobs: usize,
    /// Retries of a transient failure, per request.
    pub retries: u32,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit for a transfer that receives nothing.
    pub idle_timeout: Duration,
    /// Limit for the whole run.
    pub deadline: Option<Duration>,
    /// Size above which a file is split into ranged parts.
    pub part_size: u64,
    /// Connections one file uses for its parts (at least 1), if `-x` was given; otherwise the
    /// number is measured while the file arrives, up to [`DEFAULT_CONNECTIONS_PER_FILE`] (see
    /// [`crate::transfer::ramp`]).
    pub connections_per_file: Option<usize>,
    /// The whole run's download rate cap in bytes a second (`--limit-rate`).
    pub limit_rate: Option<u64>,
    /// The largest file accepted (`--max-filesize`).
    pub max_filesize: Option<u64>,
    /// Keep files that exist already (`--no-clobber`).
    pub no_clobber: bool,
    /// Extra trusted CA certificates (`--ca-cert`).
    pub ca_cert: Option<CaCert>,
    /// Extra headers for http(s) requests (`--header`), for each URL's own origin only.
    pub headers: HeaderMap,
    /// s3:// settings.
    pub s3: S3Settings,
    /// Only plan: list, name and report what would be downloaded, writing nothing.
    pub dry_run: bool,
    /// Write the one URL's bytes to standard output (`-o -`, `--stdout`), not to a file.
    pub stdout: bool,
    /// Print the JSON report on stdout.
    pub json: bool,
    /// Hide progress.
    pub quiet: bool,
}

/// The smallest part size accepted: smaller parts cost more in requests than they gain.
const MIN_PART_SIZE: u64 = 64 * 1024;

impl Config {
    /// Checks the command line and reads the input file. Errors are usage errors (exit code 2).
    pub fn from_cli(cli: Cli) -> Result<Config> {
        let mut urls: Vec<Wanted> = cli.urls.iter().map(|u| Wanted::url(u.trim())).collect();
        wanted::attach_names(&mut urls, &cli.named)?;
        if let Some(path) = &cli.input_file {
            urls.extend(read_url_list(path)?);
        }
        urls.retain(|u| !u.url.is_empty());
        wanted::check_all(&urls)?;
        if urls.is_empty() {
            return Err(Error::Usage(
                "no URL given; pass one or more with -u URL or a list with -i FILE".into(),
            ));
        }
        let stdout = cli.stdout || cli.output_dir.as_os_str() == "-";
        if stdout {
            check_stdout(&cli, &urls)?;
        }
        if cli.jobs == 0 {
            return Err(Error::Usage("--jobs must be at least 1".into()));
        }
        if cli.max_connections_per_file == Some(0) {
            return Err(Error::Usage(
                "--max-connections-per-file must be at least 1".into(),
            ));
        }
        let part_size = parse_size(&cli.part_size)?;
        let limit_rate = cli
            .limit_rate
            .as_deref()
            .map(|rate| positive_size("--limit-rate", rate))
            .transpose()?;
        let max_filesize = cli
            .max_filesize
            .as_deref()
            .map(|size| positive_size("--max-filesize", size))
            .transpose()?;
        let ca_cert = match &cli.ca_cert {
            Some(path) => Some(read_ca_cert(path)?),
            None => None,
        };
        let endpoint_url = cli
            .endpoint_url
            .clone()
            .or_else(|| non_empty_env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| non_empty_env("AWS_ENDPOINT_URL"));
        if let Some(endpoint) = &endpoint_url {
            let parsed = url::Url::parse(endpoint).map_err(|e| {
                Error::Usage(format!(
                    "--endpoint-url {endpoint} is not a URL ({e}); give it as http://host:port"
                ))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(Error::Usage(format!(
                    "--endpoint-url {endpoint} must start with http:// or https://"
                )));
            }
        }
        Ok(Config {
            urls,
            output_dir: cli.output_dir,
            jobs: cli.jobs,
            retries: cli.retries,
            connect_timeout: seconds("--connect-timeout", cli.connect_timeout)?,
            idle_timeout: seconds("--timeout", cli.timeout)?,
            deadline: cli
                .deadline
                .map(|secs| seconds("--deadline", secs))
                .transpose()?,
            part_size,
            connections_per_file: cli.max_connections_per_file,
            limit_rate,
            max_filesize,
            no_clobber: cli.no_clobber,
            ca_cert,
            headers: crate::config::header::parse(&cli.headers)?,
            s3: S3Settings {
                profile: cli.profile.filter(|p| !p.is_empty()),
                region: cli.region,
                endpoint_url,
                no_sign_request: cli.no_sign_request,
                request_payer: cli.request_payer,
                filters: Filters::new(&cli.filters)?,
            },
            dry_run: cli.dry_run,
            stdout,
            json: cli.json,
            quiet: cli.quiet,
        })
    }
}

/// What standard output (`-o -`) cannot go with: it takes one file's bytes and nothing else.
/// (`--stdout` itself is kept from these by clap.)
fn check_stdout(cli: &Cli, urls: &[Wanted]) -> Result<()> {
    if urls.len() > 1 {
        return Err(Error::Usage(format!(
            "standard output (-o -) takes the bytes of one URL, and {} were given; write several to a directory with -o DIR",
            urls.len()
        )));
    }
    let refused = [
        (
            cli.json,
            "--json prints the report on standard output, which -o - gives to the file's bytes",
        ),
        (
            cli.no_clobber,
            "--no-clobber keeps existing files, and -o - writes no file",
        ),
        (
            cli.dry_run,
            "--dry-run says where files would be written, and -o - writes no file",
        ),
        (
            urls.iter().any(|u| u.name.is_some()),
            "a name for the file (-O, out=) has no use with -o -, which writes no file",
        ),
    ];
    match refused.into_iter().find(|(given, _)| *given) {
        Some((_, why)) => Err(Error::Usage(format!("{why}; leave one of them out"))),
        None => Ok(()),
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A positive, finite number of seconds.
fn seconds(flag: &str, secs: f64) -> Result<Duration> {
    if secs.is_finite() && secs > 0.0 && secs < 1e9 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(Error::Usage(format!(
            "{flag} must be a positive number of seconds, not {secs}"
        )))
    }
}

/// A size such as `8MiB`, `512KiB`, `1048576`.
fn parse_size(text: &str) -> Result<u64> {
    let size: bytesize::ByteSize = text.trim().parse().map_err(|_| {
        Error::Usage(format!(
            "--part-size {text} is not a size; write it like 8MiB or 524288"
        ))
    })?;
    if size.as_u64() < MIN_PART_SIZE {
        return Err(Error::Usage(format!(
            "--part-size {text} is too small; use at least 64KiB"
        )));
    }
    Ok(size.as_u64())
}

/// A size above zero such as `10MiB`, `500KiB`, `1048576`, for `flag`.
fn positive_size(flag: &str, text: &str) -> Result<u64> {
    match text.trim().parse::<bytesize::ByteSize>() {
        Ok(size) if size.as_u64() > 0 => Ok(size.as_u64()),
        _ => Err(Error::Usage(format!(
            "{flag} {text} is not a size above zero; write it like 10MiB, 500KiB or 1048576"
        ))),
    }
}

/// Reads a URL list (see [`wanted::parse_list`]); `-` is standard input.
fn read_url_list(path: &PathBuf) -> Result<Vec<Wanted>> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::Usage(format!("cannot read URLs from standard input: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            Error::Usage(format!(
                "cannot read the input file {}: {e}",
                path.display()
            ))
        })?
    };
    let source = if path.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    wanted::parse_list(&text, &source)
}

fn read_ca_cert(path: &PathBuf) -> Result<CaCert> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::Usage(format!("cannot read --ca-cert {}: {e}", path.display())))?;
    CaCert::parse(pem).map_err(|why| {
        Error::Usage(format!(
            "--ca-cert {} cannot be used ({why}); give a PEM file with -----BEGIN CERTIFICATE-----",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config> {
        let mut argv = vec!["fetch"];
        argv.extend_from_slice(args);
        Config::from_cli(Cli::try_parse_args(argv).expect("clap accepts the arguments"))
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("8MiB").unwrap(), 8 * 1024 * 1024);
        assert_eq!(parse_size("524288").unwrap(), 524_288);
        assert!(parse_size("1KiB").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn rates_and_limits_parse_like_part_sizes() {
        assert_eq!(positive_size("--limit-rate", "10MiB").unwrap(), 10 << 20);
        assert_eq!(positive_size("--limit-rate", "500KiB").unwrap(), 500 << 10);
        assert_eq!(positive_size("--limit-rate", " 1000 ").unwrap(), 1000);
        for bad in ["0", "fast", "-1KiB", ""] {
            let err = positive_size("--limit-rate", bad).unwrap_err();
            assert!(err.to_string().starts_with("--limit-rate"), "{err}");
        }
        let cfg = config(&[
            "-u",
            "http://x/a",
            "--limit-rate",
            "1MiB",
            "--max-filesize",
            "1KB",
        ]);
        let cfg = cfg.unwrap();
        assert_eq!(
            (cfg.limit_rate, cfg.max_filesize),
            (Some(1 << 20), Some(1000))
        );
    }

    #[test]
    fn no_urls_is_a_usage_error() {
        assert!(matches!(config(&[]), Err(Error::Usage(_))));
    }

    #[test]
    fn zero_jobs_is_a_usage_error() {
        assert!(matches!(
            config(&["-u", "http://x/a", "-j", "0"]),
            Err(Error::Usage(_))
        ));
    }

    #[test]
    fn timeouts_must_be_positive() {
        assert!(matches!(
            config(&["-u", "http://x/a", "--timeout", "0"]),
            Err(Error::Usage(_))
        ));
        let ok = config(&["-u", "http://x/a", "--timeout", "1.5"]).unwrap();
        assert_eq!(ok.idle_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn input_file_lines_are_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("urls.txt");
        std::fs::write(&list, "# comment\n\nhttp://x/a\n  http://x/b  \n").unwrap();
        let cfg = config(&["-u", "http://x/c", "-i", list.to_str().unwrap()]).unwrap();
        let urls: Vec<&str> = cfg.urls.iter().map(|w| w.url.as_str()).collect();
        assert_eq!(urls, vec!["http://x/c", "http://x/a", "http://x/b"]);
    }

    #[test]
    fn dash_o_names_the_url_before_it() {
        let cfg = config(&[
            "-u",
            "http://x/a",
            "http://x/b",
            "-O",
            "b.bin",
            "-u",
            "http://x/c",
        ])
        .unwrap();
        let names: Vec<Option<&str>> = cfg.urls.iter().map(|w| w.name.as_deref()).collect();
        assert_eq!(names, vec![None, Some("b.bin"), None]);
        for bad in [
            vec!["-O", "first", "-u", "http://x/a"],
            vec!["-u", "http://x/a", "-O", "one", "-O", "two"],
            vec!["-u", "http://x/a", "-O", "f", "-u", "http://x/b", "-O", "f"],
            vec!["-u", "http://x/a", "-O", "../f"],
            vec!["-u", "s3://bucket/prefix/", "-O", "f"],
        ] {
            assert!(matches!(config(&bad), Err(Error::Usage(_))), "{bad:?}");
        }
    }

    #[test]
    fn missing_input_file_is_a_usage_error() {
        let err = config(&["-i", "does-not-exist.txt"]).unwrap_err();
        assert!(
            err.to_string().contains("cannot read the input file"),
            "{err}"
        );
    }
}
