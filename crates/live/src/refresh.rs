//! Before deciding: a config with `[data] refresh = "<provider>"` has its data source
//! brought through the decision bar by `systrade_fetch`. A refresh that fails does not stop
//! the run — stops must still be kept — but it is said loudly, and the symbols left without
//! their decision bar take no new risk (`data_ok = 0`).

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use systrade_config::{ReadOptions, StrategyKind};
use systrade_core::Market;
use systrade_fetch::ProviderKind;
use systrade_fetch::fetch::{Report, Status};

use crate::BadInput;

/// What a refresh needs from the run.
pub struct RefreshRequest<'a> {
    pub config: &'a Path,
    /// `--data`, overriding the config's source.
    pub data: Option<&'a Path>,
    pub read: &'a ReadOptions,
    pub as_of: Option<NaiveDate>,
    pub now: DateTime<Utc>,
}

/// The market a refresh fetches for: the config's, else the provider's (crypto venues) or US.
fn market_of(configured: Option<Market>, p: ProviderKind) -> Market {
    configured.unwrap_or(match p {
        ProviderKind::Coinbase | ProviderKind::Binance => Market::Crypto,
        _ => Market::Us,
    })
}

/// The decision bar of a run on `day`: the session before it (crypto: the day before).
pub fn decision_bar(market: Market, day: NaiveDate) -> NaiveDate {
    match market {
        Market::Crypto => day.pred_opt().unwrap_or(day),
        _ => market.calendar().previous_trading_day(day),
    }
}

/// Refreshes the config's data when it names a provider; `Ok(None)` when it does not. The
/// error of a refresh that ran and failed is returned as `Ok(Some(Err(..)))`, for the
/// caller to report and carry on.
pub fn refresh(r: &RefreshRequest<'_>) -> anyhow::Result<Option<Result<Report, String>>> {
    if StrategyKind::of(r.config).map_err(BadInput)? == StrategyKind::Sheet {
        return Ok(None);
    }
    let u = systrade_config::universe(r.config).map_err(BadInput)?;
    let Some(name) = u.refresh.as_deref() else {
        return Ok(None);
    };
    let provider = ProviderKind::parse(name).ok_or_else(|| {
        BadInput(format!(
            "{}: data.refresh: unknown provider {name:?}",
            r.config.display()
        ))
    })?;
    let market = market_of(u.market, provider);
    let day = r
        .as_of
        .unwrap_or_else(|| crate::session_or_today(market, r.now));
    let through = decision_bar(market, day);
    let source = r.data.map(Path::to_path_buf).unwrap_or(u.source);
    let mut opts = r.read.parse.clone();
    if !r.read.adjust_given {
        opts.adjust = u.adjust;
    }
    opts.trust_last_candle = true;
    let got = systrade_fetch::refresh::refresh(&systrade_fetch::refresh::Refresh {
        provider,
        source: &source,
        tickers: &u.tickers,
        market: u.market,
        through,
        opts: &opts,
    });
    Ok(Some(got.map_err(|e| e.to_string())))
}

/// What a refresh did, in lines a person reads: one summary, then every revision.
pub fn lines(r: &Report) -> Vec<String> {
    let count = |s: Status| r.symbols.iter().filter(|x| x.status == s).count();
    let mut out = vec![format!(
        "data refresh from {} into {}: {} updated, {} new, {} revised, {} up to date, {} without data ({} requests)",
        r.provider,
        r.store,
        count(Status::Updated),
        count(Status::New),
        count(Status::Revised),
        count(Status::UpToDate),
        count(Status::NoData),
        r.requests
    )];
    for s in &r.symbols {
        for v in &s.revisions {
            out.push(format!(
                "data revised by {}: {} {}: {} (applied)",
                r.provider, s.symbol, v.time, v.change
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_decision_bar_is_the_session_before() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // Monday after a weekend; the Tuesday after Memorial Day 2024.
        assert_eq!(decision_bar(Market::Us, d("2024-03-11")), d("2024-03-08"));
        assert_eq!(decision_bar(Market::Us, d("2024-05-28")), d("2024-05-24"));
        assert_eq!(
            decision_bar(Market::Crypto, d("2024-03-11")),
            d("2024-03-10")
        );
        assert_eq!(market_of(None, ProviderKind::Binance), Market::Crypto);
        assert_eq!(market_of(Some(Market::B3), ProviderKind::Yahoo), Market::B3);
    }
}
