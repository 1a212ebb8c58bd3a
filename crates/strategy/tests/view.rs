//! `MarketView::histories_from` sees exactly what `history_from` sees, symbol by symbol.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use systrade_core::{DailyBar, Symbol};
use systrade_strategy::MarketView;

fn day(i: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(u64::from(i))
}

fn bar(i: u32) -> DailyBar {
    DailyBar {
        ts: day(i),
        open: 1.0,
        high: 1.0,
        low: 1.0,
        close: f64::from(i),
        volume: 1.0,
    }
}

proptest! {
    #[test]
    fn histories_from_equals_one_lookup_per_symbol(
        // Which of 12 names have data, and how many bars each (days 0, 2, 4, …).
        lengths in proptest::collection::vec(0u32..9, 12),
        // The names asked for (indices; unknown ones 12..15, repeats and any order allowed).
        asked in proptest::collection::vec(0usize..15, 0..20),
        sort in any::<bool>(),
        cut in 0u32..20,
        hints in proptest::collection::vec(0usize..12, 20),
    ) {
        let name = |i: usize| Symbol::new(format!("S{i:02}")).unwrap();
        let data: BTreeMap<Symbol, Vec<DailyBar>> = lengths
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (name(i), (0..*n).map(|k| bar(2 * k)).collect()))
            .collect();
        let mut symbols: Vec<Symbol> = asked.iter().map(|i| name(*i)).collect();
        if sort {
            symbols.sort();
            symbols.dedup();
        }
        let view = MarketView::new(day(cut), &data);
        let got = view.histories_from(&symbols, |i| hints[i]);
        prop_assert_eq!(got.len(), symbols.len());
        for (i, s) in symbols.iter().enumerate() {
            prop_assert_eq!(got[i].bars(), view.history_from(s, hints[i]).bars(), "{}", s);
            prop_assert_eq!(got[i].bars(), view.history(s).bars(), "{}", s);
        }
    }
}
