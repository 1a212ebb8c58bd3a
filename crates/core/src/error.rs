//! Typed errors of the core crate.

use std::path::PathBuf;

/// Everything that can go wrong inside `systrade-core`.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A symbol string that cannot name an instrument.
    #[error(
        "invalid symbol {0:?}: use 1-32 characters from A-Z, a-z, 0-9, '.', '-', '_', '^', '=', '/'"
    )]
    InvalidSymbol(String),
    /// A market name that is not one of the supported markets.
    #[error("unknown market {0:?}: expected one of us, b3, crypto")]
    UnknownMarket(String),
    /// A float that cannot be written to an artifact (NaN or infinite).
    #[error("non-finite number at {path}: artifacts never carry NaN or infinity")]
    NonFinite { path: String },
    /// Serialisation failure of a value that should always serialise.
    #[error("serialising to JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Filesystem failure during an atomic write.
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The user's input is wrong (a bad flag combination, a bad config key, a malformed file):
/// the command exits with code 2, naming what to fix. Any crate may raise it; the binary maps
/// it to the exit code wherever it sits in an error's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// A daily run that completed on stale data: every symbol of a strategy lacked its decision
/// bar, so nothing new was decided (stops were kept). The command line maps it to exit 3
/// ("ran with stale data"), so a scheduler notices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StaleRun(pub String);
