//! Errors of the data crate.

use std::fmt;
use std::path::PathBuf;

/// Where in the input a problem is: file, line (1-based, the header is line 1) and symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub symbol: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(sym) = &self.symbol {
            write!(f, " [{sym}]")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong reading, validating or storing market data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The input is malformed: it cannot be trusted at all (always fatal).
    #[error("{at}: {problem}")]
    Structural { at: Location, problem: String },
    /// A value problem under `--on-bad-row fail`.
    #[error("{at}: {problem} (--on-bad-row fail)")]
    BadRow { at: Location, problem: String },
    /// The caller asked for something that does not exist (unknown symbol, missing file).
    #[error("{0}")]
    NotFound(String),
    /// A bad option or argument combination.
    #[error("{0}")]
    Usage(String),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: migrating schema: {message}")]
    Migration { path: PathBuf, message: String },
    #[error(transparent)]
    Core(#[from] systrade_core::CoreError),
}

impl DataError {
    /// True when the error is the user's input (exit code 2), not a system failure.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            DataError::Structural { .. }
                | DataError::BadRow { .. }
                | DataError::NotFound(_)
                | DataError::Usage(_)
        )
    }

    pub(crate) fn structural(at: Location, problem: impl Into<String>) -> Self {
        DataError::Structural {
            at,
            problem: problem.into(),
        }
    }
}
