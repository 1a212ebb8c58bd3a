//! What can go wrong fetching market data. Every message names the provider, and the
//! symbol or file where there is one; no URL, key or echoed secret is ever in it.

use systrade_data::DataError;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request was wrong or the vendor refused it (a 4xx other than a rate limit).
    #[error("{provider}: HTTP {status}: {message}")]
    Refused {
        provider: &'static str,
        status: u16,
        message: String,
    },
    /// The vendor kept answering "too many requests" (429, Binance's 418 ban, Alpha
    /// Vantage's throttle note) longer than a fetch waits.
    #[error("{provider}: rate limited: {message}")]
    RateLimited {
        provider: &'static str,
        message: String,
    },
    /// The vendor failed (5xx) or could not be reached, also after the retries.
    #[error("{provider}: {message}")]
    Unavailable {
        provider: &'static str,
        message: String,
    },
    /// An answer that is not the vendor's documented shape.
    #[error("{provider}: unexpected answer{}: {message}", symbol.as_deref().map(|s| format!(" for {s}")).unwrap_or_default())]
    Answer {
        provider: &'static str,
        symbol: Option<String>,
        message: String,
    },
    /// A key the provider needs is not in the environment.
    #[error("{0}")]
    Credentials(String),
    /// Bad arguments: an unknown symbol form, an interval the provider lacks, a store that
    /// holds another vendor's series.
    #[error("{0}")]
    Usage(String),
    /// The downloaded rows failed validation, or the store could not be read or written.
    #[error(transparent)]
    Data(#[from] DataError),
}

impl FetchError {
    /// The user's input is at fault (exit code 2), not the vendor or the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            FetchError::Usage(_) | FetchError::Credentials(_) | FetchError::Refused { .. }
        ) || matches!(self, FetchError::Data(e) if e.is_bad_input())
    }
}
