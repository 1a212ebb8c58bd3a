//! Instrument symbols.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The name of one instrument as the user and the data files spell it (`AAPL`, `BRK.B`,
/// `BTCUSDT`, `PETR3`). Validated on construction so that it can safely name files and
/// database keys; case is kept as written. Shared, so cloning one (every decision and order
/// carries symbols) costs a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(Arc<str>);

impl Symbol {
    /// Validates and wraps a symbol.
    pub fn new(s: impl Into<String>) -> Result<Self, CoreError> {
        let s = s.into();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-^=".contains(c);
        // A leading dot would make a hidden or relative file name out of the symbol.
        if s.is_empty() || s.len() > 32 || s.starts_with('.') || !s.chars().all(ok_char) {
            return Err(CoreError::InvalidSymbol(s));
        }
        Ok(Symbol(Arc::from(s)))
    }

    /// The symbol as text.
    /// `symbols` as one line, `", "` between them (for messages and reports).
    pub fn join<'a>(symbols: impl IntoIterator<Item = &'a Symbol>) -> String {
        symbols
            .into_iter()
            .map(Symbol::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Symbol {
    type Error = CoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Symbol::new(s)
    }
}

impl From<Symbol> for String {
    fn from(s: Symbol) -> String {
        s.0.to_string()
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Symbol {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_symbol_accepts_vendor_spellings() {
        for s in [
            "AAPL", "BRK.B", "BTCUSDT", "PETR3", "^BVSP", "BTC-USD", "EURUSD=X",
        ] {
            assert_eq!(Symbol::new(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn test_symbol_rejects_path_like_and_empty() {
        for s in ["", "a b", "../x", "a/b", ".hidden", "x\ny", &"A".repeat(33)] {
            assert!(Symbol::new(s).is_err(), "{s:?} should be rejected");
        }
    }
}
