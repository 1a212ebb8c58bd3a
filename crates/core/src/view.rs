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
}
