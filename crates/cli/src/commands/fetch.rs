//! `systrade data fetch`: the flags wired to `systrade_fetch`, and the report.

use systrade_core::Market;
use systrade_data::{Adjust, ParseOptions};
use systrade_fetch::{BarInterval, Plan, ProviderKind, Store};

use super::progress;
use crate::args::{AdjustArg, FetchArgs, IntervalArg, PolicyArg, ProviderArg};
use crate::exit::bad;

fn provider(p: ProviderArg) -> ProviderKind {
    match p {
        ProviderArg::Alpaca => ProviderKind::Alpaca,
        ProviderArg::Coinbase => ProviderKind::Coinbase,
        ProviderArg::Binance => ProviderKind::Binance,
        ProviderArg::Yahoo => ProviderKind::Yahoo,
        ProviderArg::Alphavantage => ProviderKind::AlphaVantage,
    }
}

fn interval(i: IntervalArg) -> BarInterval {
    match i {
        IntervalArg::Day => BarInterval::Day,
        IntervalArg::Hour => BarInterval::Hour,
        IntervalArg::FiveMinutes => BarInterval::FiveMinutes,
        IntervalArg::Minute => BarInterval::Minute,
    }
}

pub fn run(a: &FetchArgs) -> anyhow::Result<()> {
    let (inputs, config_adjust): (Vec<(String, Option<Market>)>, Option<Adjust>) = match &a.config {
        Some(cfg) => {
            let u = systrade_config::universe(cfg).map_err(bad)?;
            (
                u.tickers.iter().map(|t| (t.clone(), u.market)).collect(),
                Some(u.adjust),
            )
        }
        None => (
            a.symbols
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .map(|s| (s, None))
                .collect(),
            None,
        ),
    };
    if inputs.is_empty() {
        return Err(bad("--symbols: no symbol given"));
    }
    if let (Some(s), Some(e)) = (a.start, a.end)
        && s > e
    {
        return Err(bad(format!("--start {s} is after --end {e}")));
    }
    let adjust = match a.adjust {
        Some(AdjustArg::None) => Adjust::None,
        Some(AdjustArg::Split) => Adjust::Split,
        Some(AdjustArg::Total) => Adjust::Total,
        None => config_adjust.unwrap_or_default(),
    };
    let opts = ParseOptions {
        adjust,
        on_bad_row: match a.on_bad_row {
            PolicyArg::Fail => systrade_data::BadRowPolicy::Fail,
            PolicyArg::Skip => systrade_data::BadRowPolicy::Skip,
            PolicyArg::Flag => systrade_data::BadRowPolicy::Flag,
            PolicyArg::Keep => systrade_data::BadRowPolicy::Keep,
        },
        trust_last_candle: true,
        ..Default::default()
    };
    let plan = Plan {
        interval: interval(a.interval),
        start: a.start,
        end: a.end,
        adjust,
        overlap: a.overlap,
        news: a.news,
    };
    let kind = provider(a.provider);
    let mut vendor = systrade_fetch::connect(
        kind,
        systrade_fetch::Limits {
            rate: a.rate_limit,
            attempts: a.max_retries,
        },
    )?;
    let mut store: Box<dyn Store> = match (&a.db, &a.out) {
        (Some(db), _) => Box::new(systrade_fetch::DbStore::open(db)?),
        (None, Some(out)) => Box::new(systrade_fetch::FolderStore::new(out)?),
        (None, None) => return Err(bad("give --db FILE or --out DIR")),
    };
    let pb = if a.json {
        indicatif::ProgressBar::hidden()
    } else {
        progress(
            inputs.len() as u64,
            &format!("fetching from {}", kind.as_str()),
        )
    };
    let report = systrade_fetch::fetch(
        vendor.as_mut(),
        store.as_mut(),
        &inputs,
        &plan,
        &opts,
        &mut |r| {
            pb.set_message(r.symbol.clone());
            pb.inc(1);
        },
    );
    pb.finish_and_clear();
    let report = report?;
    if a.json {
        println!(
            "{}",
            systrade_core::json::to_canonical_pretty(&report)?.trim_end()
        );
    } else {
        print!("{}", report.render());
    }
    Ok(())
}
