//! `systrade metrics`

use std::collections::BTreeMap;

use serde_json::{Value, json};
use systrade_core::Market;
use systrade_data::market_fit::infer_market;
use systrade_data::values::read_value_series;
use systrade_metrics::{Period, period_returns, returns_from_nav, summarize};

use crate::args::MetricsArgs;
use crate::exit::BadInput;

/// How many of the latest returns the `_last1000` keys cover.
const LAST_N: usize = 1000;

pub fn run(a: &MetricsArgs) -> anyhow::Result<()> {
    let (dates, returns) = if let Some(path) = &a.returns {
        let s = read_value_series(path, a.column.as_deref(), &["ret", "return", "returns"])?;
        (s.dates, s.values)
    } else if let Some(path) = &a.equity {
        let s = read_value_series(path, a.column.as_deref(), &["nav", "equity"])?;
        if let Some(i) = s.values.iter().position(|v| *v <= 0.0) {
            return Err(BadInput(format!(
                "{}: {} on {} is {}; an equity curve must stay positive",
                path.display(),
                s.column,
                s.dates[i],
                s.values[i]
            ))
            .into());
        }
        (s.dates[1..].to_vec(), returns_from_nav(&s.values))
    } else {
        return Err(BadInput("give --returns or --equity".into()).into());
    };
    let periods = match a.periods {
        Some(p) if p > 0 => f64::from(p),
        Some(p) => return Err(BadInput(format!("--periods must be positive, got {p}")).into()),
        None if infer_market(&dates) == Market::Crypto => 365.0,
        None => 252.0,
    };
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let take = returns.len().min(LAST_N);
    for (suffix, d, r) in [
        ("", &dates[..], &returns[..]),
        (
            "_last1000",
            &dates[dates.len() - take..],
            &returns[returns.len() - take..],
        ),
    ] {
        let s = summarize(d, r, None, periods).map_err(|e| BadInput(e.to_string()))?;
        if let Value::Object(map) = serde_json::to_value(&s)? {
            for (k, v) in map {
                if suffix.is_empty() || !matches!(k.as_str(), "periods_per_year" | "risk_free") {
                    out.insert(format!("{k}{suffix}"), v);
                }
            }
        }
    }
    let yearly: BTreeMap<String, f64> = period_returns(&dates, &returns, Period::Year)
        .map_err(|e| BadInput(e.to_string()))?
        .into_iter()
        .collect();
    out.insert("yearly_returns".into(), json!(yearly));
    println!(
        "{}",
        systrade_core::json::to_canonical_pretty(&out)?.trim_end()
    );
    Ok(())
}
