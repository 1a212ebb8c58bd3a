//! The look-ahead-proof window onto history that strategies receive.

use chrono::NaiveDate;

use crate::bar::DailyBar;

/// The bars a decision may see: every bar strictly before the decision date, and nothing
/// after. It is built by cutting a full history, and offers no way to reach the rows it cut
/// off, so a strategy cannot look ahead even by accident.
#[derive(Debug, Clone, Copy)]
pub struct HistoryView<'a> {
    bars: &'a [DailyBar],
}

impl<'a> HistoryView<'a> {
    /// The bars of `history` (sorted by date) whose date is strictly before `decision_date`.
    pub fn before(history: &'a [DailyBar], decision_date: NaiveDate) -> Self {
        let n = history.partition_point(|b| b.ts < decision_date);
        HistoryView {
            bars: &history[..n],
        }
    }

    /// [`HistoryView::before`] for a caller that saw the first `hint` bars visible last time
    /// (a replay moving forward): it scans on from there instead of searching the whole
    /// history, touching the one or two bars that became visible. Any `hint` gives the same
    /// view as `before`.
    pub fn before_from(history: &'a [DailyBar], decision_date: NaiveDate, hint: usize) -> Self {
        if hint > history.len() || (hint > 0 && history[hint - 1].ts >= decision_date) {
            return Self::before(history, decision_date);
        }
        let n = hint
            + history[hint..]
                .iter()
                .take_while(|b| b.ts < decision_date)
                .count();
        HistoryView {
            bars: &history[..n],
        }
    }

    /// All visible bars, oldest first.
    pub fn bars(&self) -> &'a [DailyBar] {
        self.bars
    }

    /// The most recent visible bar.
    pub fn last(&self) -> Option<&'a DailyBar> {
        self.bars.last()
    }

    /// Number of visible bars.
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// True when nothing is visible.
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// Closes of the visible bars, oldest first.
    pub fn closes(&self) -> impl Iterator<Item = f64> + 'a {
        self.bars.iter().map(|b| b.close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bar::{Bar, Ohlcv};

    #[test]
    fn test_view_excludes_decision_date_and_later() {
        let d = |x| NaiveDate::from_ymd_opt(2024, 1, x).unwrap();
        let v = Ohlcv {
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
        };
        let hist: Vec<DailyBar> = (1..=5).map(|x| Bar::new(d(x), v)).collect();
        let view = HistoryView::before(&hist, d(4));
        assert_eq!(view.len(), 3);
        assert_eq!(view.last().unwrap().ts, d(3));
        assert!(HistoryView::before(&hist, d(1)).is_empty());
    }

    proptest::proptest! {
        /// Any hint, right or wrong, gives the view `before` gives.
        #[test]
        fn prop_a_hint_never_changes_the_view(
            days in proptest::collection::btree_set(1u32..200, 0..60),
            cut in 0u32..210,
            hint in 0usize..70,
        ) {
            let d = |x: u32| NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(i64::from(x));
            let v = Ohlcv { open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 };
            let hist: Vec<DailyBar> = days.iter().map(|x| Bar::new(d(*x), v)).collect();
            let want = HistoryView::before(&hist, d(cut)).len();
            proptest::prop_assert_eq!(HistoryView::before_from(&hist, d(cut), hint).len(), want);
        }
    }
}
