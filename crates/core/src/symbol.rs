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

/// True when looking `wanted` symbols up among `keys` sorted ones is best done by one walk
/// along the keys ([`walk_sorted`]) rather than a search each.
pub fn worth_walking(wanted: usize, keys: usize) -> bool {
    wanted * 8 >= keys
}

/// For each of `wanted`, the value of its entry among `entries` (ascending by symbol, as a
/// `BTreeMap` iterates), found in one walk along the two: `None` for a symbol without one.
/// `wanted` must be strictly ascending; when it is not, the answer is `None` (search instead).
pub fn walk_sorted<'m, 'w, V>(
    entries: impl Iterator<Item = (&'m Symbol, V)>,
    wanted: impl IntoIterator<Item = &'w Symbol>,
) -> Option<Vec<Option<V>>> {
    let mut entries = entries.peekable();
    let mut prev: Option<&Symbol> = None;
    let mut out = Vec::new();
    for s in wanted {
        if prev.is_some_and(|p| p >= s) {
            return None;
        }
        prev = Some(s);
        while entries.next_if(|(k, _)| *k < s).is_some() {}
        out.push(entries.next_if(|(k, _)| *k == s).map(|(_, v)| v));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_walk_sorted_finds_each_entry_or_refuses_an_unsorted_list() {
        let s = |x: &str| Symbol::new(x).unwrap();
        let map: std::collections::BTreeMap<Symbol, u32> =
            [(s("B"), 2), (s("D"), 4), (s("F"), 6)].into();
        let wanted = [s("A"), s("B"), s("E"), s("F"), s("G")];
        let got = walk_sorted(map.iter(), &wanted).unwrap();
        assert_eq!(got, [None, Some(&2), None, Some(&6), None]);
        assert_eq!(walk_sorted(map.iter(), &[s("D"), s("B")]), None);
        assert_eq!(walk_sorted(map.iter(), &[s("D"), s("D")]), None);
    }

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
