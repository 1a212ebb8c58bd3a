//! Capacity (spec/execution-and-buckets.md §4): the largest share of a name's average daily
//! volume any fill of a backtest needed — the first number that says how far a strategy's
//! capital can grow before its fills move the market.

use chrono::NaiveDate;
use serde_json::json;
use systrade_core::Symbol;

/// The fill that needed the largest share of its name's average daily volume, and how many
/// fills had no average to be measured against.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub max_adv_share: f64,
    pub symbol: Symbol,
    pub date: NaiveDate,
    /// Bars the average is taken over (the ones before the fill's session).
    pub window: usize,
    pub unmeasured: usize,
}

impl Capacity {
    /// The largest of `fills` — `(symbol, date, share)`, the share `None` where the name had
    /// no average volume before that session; `None` when no fill could be measured.
    pub fn of<'a>(
        fills: impl IntoIterator<Item = (&'a Symbol, NaiveDate, Option<f64>)>,
        window: usize,
    ) -> Option<Capacity> {
        let mut unmeasured = 0;
        let mut best: Option<(f64, &Symbol, NaiveDate)> = None;
        for (symbol, date, share) in fills {
            match share {
                None => unmeasured += 1,
                Some(x) if best.is_none_or(|(b, _, _)| x > b) => best = Some((x, symbol, date)),
                Some(_) => {}
            }
        }
        best.map(|(max_adv_share, symbol, date)| Capacity {
            max_adv_share,
            symbol: symbol.clone(),
            date,
            window,
            unmeasured,
        })
    }

    /// `summary.json`'s `capacity`.
    pub fn json(c: Option<&Capacity>) -> serde_json::Value {
        match c {
            Some(c) => json!({
                "max_adv_share": c.max_adv_share,
                "adv_window": c.window,
                "symbol": c.symbol.to_string(),
                "date": c.date.to_string(),
                "fills_without_adv": c.unmeasured,
            }),
            None => serde_json::Value::Null,
        }
    }

    /// As a person reads it: `0.4756% of its 20-session ADV (EQIX, 2003-02-03)`.
    pub fn text(c: Option<&Capacity>) -> String {
        match c {
            Some(c) => format!(
                "{:.4}% of its {}-session ADV ({}, {}){}",
                c.max_adv_share * 100.0,
                c.window,
                c.symbol,
                c.date,
                if c.unmeasured > 0 {
                    format!("; {} fills without an ADV", c.unmeasured)
                } else {
                    String::new()
                }
            ),
            None => "n/a (no fill had an average volume to measure)".into(),
        }
    }
}

/// Bars an engine fill's average volume is taken over (the rotation panel's window).
pub const ENGINE_ADV_WINDOW: usize = 20;

/// An engine backtest's fills against each name's mean volume over its
/// [`ENGINE_ADV_WINDOW`] bars before the fill's session (`data`: the daily bars it ran on).
pub fn of_engine_fills(
    fills: &[systrade_backtest::FillRecord],
    data: &std::collections::BTreeMap<Symbol, Vec<systrade_core::DailyBar>>,
) -> Option<Capacity> {
    use rust_decimal::prelude::ToPrimitive;
    let adv = |s: &Symbol, day: NaiveDate| -> Option<f64> {
        let mean = systrade_core::bar::mean_volume_before(data.get(s)?, day, ENGINE_ADV_WINDOW)?;
        (mean.is_finite() && mean > 0.0).then_some(mean)
    };
    Capacity::of(
        fills.iter().map(|f| {
            let share = adv(&f.symbol, f.date).and_then(|a| Some(f.qty.to_f64()?.abs() / a));
            (&f.symbol, f.date, share)
        }),
        ENGINE_ADV_WINDOW,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_largest_measured_fill_and_the_unmeasured_count() {
        let (a, b) = (Symbol::new("AAA").unwrap(), Symbol::new("BBB").unwrap());
        let d = |n| NaiveDate::from_ymd_opt(2024, 1, n).unwrap();
        let fills = [
            (&a, d(2), Some(0.01)),
            (&b, d(3), None),
            (&b, d(4), Some(0.03)),
            (&a, d(5), Some(0.03)),
        ];
        let c = Capacity::of(fills, 20).unwrap();
        assert_eq!(
            (c.max_adv_share, c.symbol.as_str(), c.date),
            (0.03, "BBB", d(4)),
            "the first of equals"
        );
        assert_eq!(c.unmeasured, 1);
        assert_eq!(
            Capacity::text(Some(&c)),
            "3.0000% of its 20-session ADV (BBB, 2024-01-04); 1 fills without an ADV"
        );
        assert_eq!(Capacity::of([(&a, d(2), None)], 20), None);
        assert_eq!(Capacity::json(None), serde_json::Value::Null);
    }
}
