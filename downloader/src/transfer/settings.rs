//! What shapes every transfer of a run, decided once by `run` and handed to each file and part.

use std::sync::Arc;
use std::time::Duration;

use crate::lanes::Lanes;
use crate::transfer::layout::Connections;
use crate::transfer::rate::RateLimit;

/// Settings that shape every transfer of a run.
#[derive(Clone)]
pub struct Settings {
    /// Files above this size are split into parts of at least this size.
    pub part_size: u64,
    /// Parts of one file in flight at once.
    pub connections: Connections,
    /// Retries of a transient failure, per request.
    pub retries: u32,
    /// Longest wait for the next byte.
    pub idle_timeout: Duration,
    /// Where the parts of a split file run, spread so that one big file uses every core.
    pub lanes: Arc<Lanes>,
    /// The run's shared rate cap (`--limit-rate`).
    pub rate: Option<Arc<RateLimit>>,
    /// The largest file accepted (`--max-filesize`).
    pub max_filesize: Option<u64>,
    /// Never replace a file there already (`--no-clobber`).
    pub no_clobber: bool,
}
