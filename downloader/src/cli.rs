//! The raw command line, as clap parses it. Nothing here is validated beyond its type:
//! [`crate::config::Config`] turns it into settings the rest of the crate can trust.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};

/// Download many http, https and s3 URLs concurrently: each distinct URL once, written atomically,
/// verified, retried when the failure is transient, resumed when interrupted.
#[derive(Debug, Parser)]
#[command(name = "fetch", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// URLs to download (http://, https://, s3://bucket/key, s3://bucket/prefix/ for every object under a prefix).
    /// Append #sha256=<64 hex digits> to verify a file.
    #[arg(short = 'u', long = "url", value_name = "URL", num_args = 1..)]
    pub urls: Vec<String>,

    /// Name the file of the URL given just before (as wget's -O does; curl's -O means the opposite,
    /// "name it after the URL", which fetch always does otherwise). A plain name: no '/', not '..'.
    /// Repeatable, once per URL; no two URLs may get the same name.
    #[arg(short = 'O', long = "output", value_name = "NAME")]
    pub output_names: Vec<String>,

    /// For each -O in order: the index in `urls` of the URL given before it, if any (filled by
    /// [`Cli::parse_args`]).
    #[arg(skip)]
    pub named: Vec<(Option<usize>, String)>,

    /// Read URLs from FILE, one per line ("-" reads standard input); blank lines and lines starting with # are ignored.
    /// Indented lines under a URL give options for it alone, as aria2c's input files do:
    /// "  out=NAME" names its file, "  sha256=HEX" is the same as #sha256=HEX on the URL.
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,

    /// Directory the files are written to; created if missing. "-" writes the one URL's bytes to
    /// standard output instead (as --stdout).
    #[arg(short = 'o', long, value_name = "DIR", default_value = ".")]
    pub output_dir: PathBuf,

    /// Write the one URL's bytes to standard output, in order, and nothing else (the report goes
    /// to standard error). Retries continue from the last byte written when the server allows
    /// it; a failure after the first byte exits 1 and says how many bytes were written.
    #[arg(long, conflicts_with_all = ["output_dir", "json", "no_clobber", "dry_run", "output_names"])]
    pub stdout: bool,

    /// How many files download at once.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,

    /// How many times a transient failure (connection error, stall, 408, 429, 5xx, S3 throttling) is retried.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,

    /// Seconds allowed to establish a connection.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub connect_timeout: f64,

    /// Seconds a transfer may go without receiving a byte before it fails or is retried.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Seconds the whole run may take; what is unfinished then is reported as failed and kept for resuming.
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<f64>,

    /// Files larger than this are fetched as several ranged parts at once (e.g. 8MiB, 512KiB); parts of
    /// a big file grow (up to 64MiB) so that each connection makes about four requests.
    #[arg(long, value_name = "SIZE", default_value = "8MiB")]
    pub part_size: String,

    /// The connections one file uses for its parts. Without it a split file starts with 2 (one
    /// when several run at once) and steps them up (x4, then x2 or x4) while that raises the run's
    /// rate by at least half a connection's share for each one added, up to 16 or its share by
    /// size of 64 (or of -j, if more) among the split files transferring; given, it is fixed.
    #[arg(short = 'x', long, value_name = "N")]
    pub max_connections_per_file: Option<usize>,

    /// Cap the whole run's download rate at RATE a second (e.g. 10MiB, 500KiB), shared by all
    /// files and parts: for a boot script that must not starve the service beside it, or a
    /// metered link. Smooth at the one-second scale.
    #[arg(long, value_name = "RATE")]
    pub limit_rate: Option<String>,

    /// Fail a file whose announced size is larger than SIZE (e.g. 2GiB) before any byte of it is
    /// written, and one that grows past SIZE while arriving at that point; nothing of it is kept.
    #[arg(long, value_name = "SIZE")]
    pub max_filesize: Option<String>,

    /// Never replace a file that exists already: its URL is reported skipped, with the reason.
    /// (By default a file there is replaced once the new one is complete and verified.)
    #[arg(long)]
    pub no_clobber: bool,

    /// Send this header with every http(s) request, as 'Name: value' (repeatable); @FILE reads one
    /// per line, keeping secrets out of the process list. Sent to each URL's own scheme, host and
    /// port only: a redirect elsewhere drops it.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Also trust this PEM CA certificate for https URLs and an https --endpoint-url (the system's roots
    /// stay trusted; TLS is always verified).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// AWS profile for s3:// URLs (default: AWS_PROFILE, else the default credential chain).
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,

    /// AWS region to start from for s3:// URLs; buckets in other regions are still found.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// S3-compatible endpoint (path-style addressing), also AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Do not sign S3 requests (public buckets); no credentials are looked up.
    #[arg(long)]
    pub no_sign_request: bool,

    /// Download only the objects of an s3://bucket/prefix/ listing whose key, relative to the
    /// prefix, matches GLOB (`*` also matches `/`; `?`, `[abc]`, `{a,b}`). Repeatable, and evaluated
    /// in order with --exclude: the last filter that matches a key decides. Keys no filter matches
    /// are downloaded, unless the first filter is an --include.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Leave out the objects of an s3://bucket/prefix/ listing whose key, relative to the prefix,
    /// matches GLOB. Repeatable; see --include for the order.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Ask S3 for objects of a Requester Pays bucket, agreeing that the requests and the data
    /// are billed to the caller's account.
    #[arg(long)]
    pub request_payer: bool,

    /// Print what would be downloaded where, after listing s3 prefixes and resolving names and
    /// conflicts, and exit: nothing is downloaded or written.
    #[arg(long)]
    pub dry_run: bool,

    /// The --include and --exclude filters in the order given (filled by [`Cli::parse_args`]).
    #[arg(skip)]
    pub filters: Vec<(FilterRule, String)>,

    /// Print the final report as one JSON document on standard output.
    #[arg(long)]
    pub json: bool,

    /// No progress display (the final report is still printed).
    #[arg(short, long)]
    pub quiet: bool,

    /// Log requests, retries and resumes to stderr (-vv adds the AWS SDK's and HTTP client's
    /// own logs); FETCH_LOG takes a tracing filter such as `downloader=debug`.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Whether a filter takes matching keys in or leaves them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterRule {
    /// `--include`.
    Include,
    /// `--exclude`.
    Exclude,
}

impl Cli {
    /// Parses the process's arguments, as [`Parser::parse`] does (printing clap's own errors and
    /// exiting 2), and also records which URL each `-O` follows and the order of `--include`/`--exclude`,
    /// which clap's struct loses.
    pub fn parse_args() -> Cli {
        Self::from_matches(Self::command().get_matches()).unwrap_or_else(|e| e.exit())
    }

    /// [`Self::parse_args`] for a given argument list.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::from_matches(Self::command().try_get_matches_from(args)?)
    }

    fn from_matches(matches: clap::ArgMatches) -> Result<Cli, clap::Error> {
        let mut cli = Cli::from_arg_matches(&matches)?;
        let url_at: Vec<usize> = matches
            .indices_of("urls")
            .map_or(Vec::new(), Iterator::collect);
        if let Some(name_at) = matches.indices_of("output_names") {
            cli.named = name_at
                .zip(&cli.output_names)
                .map(|(at, name)| (url_at.iter().rposition(|&u| u < at), name.clone()))
                .collect();
        }
        let mut filters: Vec<(usize, FilterRule, String)> = Vec::new();
        for (id, rule) in [
            ("include", FilterRule::Include),
            ("exclude", FilterRule::Exclude),
        ] {
            if let (Some(indices), Some(values)) =
                (matches.indices_of(id), matches.get_many::<String>(id))
            {
                filters.extend(indices.zip(values).map(|(i, v)| (i, rule, v.clone())));
            }
        }
        filters.sort_by_key(|(index, _, _)| *index);
        cli.filters = filters
            .into_iter()
            .map(|(_, rule, glob)| (rule, glob))
            .collect();
        Ok(cli)
    }
}

const AFTER_HELP: &str = "\
Exit status: 0 every URL was downloaded, 1 any URL failed or was unsupported, 2 usage error, 130 interrupted.

Examples:
  fetch -u https://example.com/app.jar#sha256=<hex> -o /var/www/app
  fetch -j 16 -i urls.txt -o downloads
  fetch -u s3://my-bucket/builds/42/ -o config";
