//! Yahoo Finance's chart API, the fallback: `GET /v8/finance/chart/{symbol}` with
//! `period1`/`period2` in UNIX seconds. Timestamps are the bars' opens; a daily bar's date
//! is taken in the exchange's zone (`meta.exchangeTimezoneName`). OHLC come split-adjusted
//! and `adjclose` split+dividend adjusted, as in Yahoo's CSV downloads. A row with a null
//! price is left out and counted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use systrade_core::Market;
use systrade_data::Adjust;

use crate::error::FetchError;
use crate::http::{DataClient, Verdict};
use crate::provider::{Instrument, ProviderKind, Vendor, stored};
use crate::rows::{BarInterval, VendorRow};

pub struct Yahoo {
    client: DataClient,
    /// Rows left out per symbol (null prices), for the report.
    dropped: BTreeMap<String, usize>,
}

#[derive(Deserialize)]
struct Envelope {
    chart: Chart,
}

#[derive(Deserialize)]
struct Chart {
    result: Option<Vec<Result1>>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    exchange_timezone_name: Option<String>,
}

#[derive(Deserialize)]
struct Result1 {
    meta: Meta,
    #[serde(default)]
    timestamp: Vec<i64>,
    indicators: Indicators,
}

#[derive(Deserialize)]
struct Indicators {
    quote: Vec<Quote>,
    #[serde(default)]
    adjclose: Vec<AdjClose>,
}

#[derive(Deserialize)]
struct Quote {
    open: Vec<Option<f64>>,
    high: Vec<Option<f64>>,
    low: Vec<Option<f64>>,
    close: Vec<Option<f64>>,
    volume: Vec<Option<f64>>,
}

#[derive(Deserialize)]
struct AdjClose {
    adjclose: Vec<Option<f64>>,
}

impl Yahoo {
    pub fn new(client: DataClient) -> Yahoo {
        Yahoo {
            client,
            dropped: BTreeMap::new(),
        }
    }

    /// Rows left out of `symbol`'s last download for a null price.
    pub fn dropped(&self, remote: &str) -> usize {
        self.dropped.get(remote).copied().unwrap_or(0)
    }

    fn interval(iv: BarInterval) -> &'static str {
        match iv {
            BarInterval::Day => "1d",
            BarInterval::Hour => "60m",
            BarInterval::FiveMinutes => "5m",
            BarInterval::Minute => "1m",
        }
    }

    fn rows(
        &mut self,
        text: &str,
        inst: &Instrument,
        iv: BarInterval,
    ) -> Result<Vec<VendorRow>, FetchError> {
        let bad = |m: String| FetchError::Answer {
            provider: "yahoo",
            symbol: Some(inst.remote.clone()),
            message: m,
        };
        let env: Envelope = serde_json::from_str(text).map_err(|e| bad(format!("chart: {e}")))?;
        if let Some(err) = env.chart.error.filter(|e| !e.is_null()) {
            return Err(bad(format!("chart error {err}")));
        }
        let Some(r) = env
            .chart
            .result
            .and_then(|mut v| (!v.is_empty()).then(|| v.remove(0)))
        else {
            return Ok(vec![]);
        };
        let tz: chrono_tz::Tz = r
            .meta
            .exchange_timezone_name
            .as_deref()
            .and_then(|z| z.parse().ok())
            .unwrap_or(match inst.market {
                Market::B3 => chrono_tz::America::Sao_Paulo,
                Market::Crypto => chrono_tz::UTC,
                Market::Us => chrono_tz::America::New_York,
            });
        let q = r
            .indicators
            .quote
            .first()
            .ok_or_else(|| bad("no quote".into()))?;
        let adj = r.indicators.adjclose.first().map(|a| &a.adjclose);
        let n = r.timestamp.len();
        if [
            q.open.len(),
            q.high.len(),
            q.low.len(),
            q.close.len(),
            q.volume.len(),
        ]
        .iter()
        .any(|l| *l != n)
            || adj.is_some_and(|a| a.len() != n)
        {
            return Err(bad("quote arrays and timestamps differ in length".into()));
        }
        let mut rows = Vec::with_capacity(n);
        let mut dropped = 0;
        for (i, ts) in r.timestamp.iter().enumerate() {
            let at = DateTime::from_timestamp(*ts, 0)
                .ok_or_else(|| bad(format!("timestamp {ts} out of range")))?;
            let (Some(o), Some(h), Some(l), Some(c), Some(v)) =
                (q.open[i], q.high[i], q.low[i], q.close[i], q.volume[i])
            else {
                dropped += 1;
                continue;
            };
            let time = if iv == BarInterval::Day {
                VendorRow::day_key(at.with_timezone(&tz).date_naive())
            } else {
                VendorRow::instant_key(at)
            };
            let mut row = VendorRow::ohlcv(time, o, h, l, c, v);
            row.adj_close = Some(adj.and_then(|a| a[i]).unwrap_or(c));
            if rows.last().is_some_and(|p: &VendorRow| p.time == row.time) {
                // Yahoo appends the live bar of today with the same date: the later wins.
                rows.pop();
            }
            rows.push(row);
        }
        self.dropped.insert(inst.remote.clone(), dropped);
        Ok(rows)
    }
}

impl Vendor for Yahoo {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Yahoo
    }

    fn resolve(&self, input: &str, market: Option<Market>) -> Result<Instrument, FetchError> {
        if let Some(base) = input.strip_suffix(".SA") {
            return Ok(Instrument {
                symbol: stored(base)?,
                remote: input.to_string(),
                market: Market::B3,
            });
        }
        Ok(match market {
            Some(Market::B3) => Instrument {
                symbol: stored(input)?,
                remote: format!("{input}.SA"),
                market: Market::B3,
            },
            Some(Market::Crypto) => {
                let (b, q) = crate::provider::pair(input).ok_or_else(|| {
                    FetchError::Usage(format!("yahoo: {input:?} is not a pair (BTC-USD)"))
                })?;
                Instrument {
                    symbol: stored(&format!("{b}{q}"))?,
                    remote: format!("{b}-{q}"),
                    market: Market::Crypto,
                }
            }
            _ => Instrument::us(input)?,
        })
    }

    fn bars(
        &mut self,
        which: &[Instrument],
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        _adjust: Adjust,
    ) -> Result<Vec<Vec<VendorRow>>, FetchError> {
        let mut out = Vec::new();
        for inst in which {
            let q = [
                ("period1", from.timestamp().to_string()),
                // period2 is exclusive: the last second of `to` is included.
                ("period2", (to.timestamp() + 1).to_string()),
                ("interval", Self::interval(interval).to_string()),
                ("includeAdjustedClose", "true".to_string()),
                ("events", "div,splits".to_string()),
            ];
            let path = format!("/v8/finance/chart/{}", inst.remote);
            let text = self.client.get(&path, &q, &[], &|_| Verdict::Ok)?;
            out.push(self.rows(&text, inst, interval)?);
        }
        Ok(out)
    }

    fn client(&self) -> &DataClient {
        &self.client
    }

    fn notes(&self, inst: &Instrument) -> Vec<String> {
        match self.dropped(&inst.remote) {
            0 => vec![],
            n => vec![format!("{n} rows with a null price left out")],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Rules;

    #[test]
    fn test_a_chart_gives_exchange_dates_and_leaves_null_rows_out() {
        let mut y = Yahoo::new(DataClient::new(
            "http://127.0.0.1:9",
            Rules::new("yahoo", 1, std::time::Duration::from_secs(1)),
        ));
        let text = r#"{"chart":{"result":[{"meta":{"currency":"USD","exchangeTimezoneName":"America/New_York","gmtoffset":-18000},
            "timestamp":[1609770600,1609857000,1609943400],
            "indicators":{"quote":[{"open":[133.52,128.89,null],"high":[133.61,131.74,null],"low":[126.76,128.43,null],"close":[129.41,131.01,null],"volume":[143301900,97664900,null]}],
            "adjclose":[{"adjclose":[127.0,128.6,null]}]}}],"error":null}}"#;
        let inst = y.resolve("AAPL", None).unwrap();
        let rows = y.rows(text, &inst, BarInterval::Day).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].time, "2021-01-04");
        assert_eq!(rows[1].adj_close, Some(128.6));
        assert_eq!(y.notes(&inst), ["1 rows with a null price left out"]);
        let b3 = y.resolve("PETR4", Some(Market::B3)).unwrap();
        assert_eq!(
            (b3.symbol.as_str(), b3.remote.as_str()),
            ("PETR4", "PETR4.SA")
        );
    }
}
