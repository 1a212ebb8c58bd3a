//! `systrade indicators`

use std::fmt::Write as _;

use anyhow::Context;
use systrade_core::Symbol;
use systrade_data::DataSource;
use systrade_indicators::spec::{BarColumns, compute, parse_specs};

use crate::args::IndicatorsArgs;
use crate::exit::BadInput;

/// The shortest text that reads back to the same double; empty for a warm-up value.
pub fn cell(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

pub fn run(a: &IndicatorsArgs) -> anyhow::Result<()> {
    let specs = parse_specs(&a.ind).map_err(BadInput)?;
    let symbol = Symbol::new(&a.symbol).map_err(|e| BadInput(e.to_string()))?;
    let source = DataSource::open(&a.data)?;
    let series = source.daily(&symbol, &a.read.parse_options())?;
    let b = &series.bars;
    let col = |f: fn(&systrade_core::DailyBar) -> f64| b.iter().map(f).collect::<Vec<f64>>();
    let (high, low, close, volume) = (
        col(|x| x.high),
        col(|x| x.low),
        col(|x| x.close),
        col(|x| x.volume),
    );
    let bars = BarColumns {
        high: &high,
        low: &low,
        close: &close,
        volume: &volume,
        periods_per_year: f64::from(series.market.periods_per_year()),
    };
    let anchor = |text: &str| {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| b.iter().position(|x| x.ts == d))
    };
    let mut columns = Vec::with_capacity(specs.len());
    for s in &specs {
        columns.push(compute(s, &bars, &anchor).map_err(BadInput)?);
    }
    let mut out = String::with_capacity(b.len() * (12 + 20 * specs.len()));
    out.push_str("date");
    for s in &specs {
        out.push(',');
        out.push_str(&s.column());
    }
    out.push('\n');
    for (i, bar) in b.iter().enumerate() {
        let _ = write!(out, "{}", bar.ts);
        for c in &columns {
            out.push(',');
            out.push_str(&cell(c.get(i)));
        }
        out.push('\n');
    }
    match &a.out {
        Some(path) => {
            systrade_core::fsio::write_atomic(path, out.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote {} rows × {} indicators of {symbol} to {}",
                b.len(),
                specs.len(),
                path.display()
            );
        }
        None => print!("{out}"),
    }
    Ok(())
}
