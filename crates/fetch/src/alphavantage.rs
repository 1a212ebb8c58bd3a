//! Alpha Vantage: `TIME_SERIES_DAILY_ADJUSTED` (raw OHLC, adjusted close, dividends and
//! split coefficients — the layout of its CSV downloads) and `NEWS_SENTIMENT` (articles
//! with a sentiment score and label per ticker). The key is the `apikey` query parameter
//! (`ALPHAVANTAGE_API_KEY`). Alpha Vantage answers its throttle with a 200 whose body is a
//! `Note` or `Information` about call frequency: that is a rate limit, backed off as one.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use systrade_core::{Market, Symbol};
use systrade_data::Adjust;
pub use systrade_data::news::NewsItem;

use crate::error::FetchError;
use crate::http::{DataClient, Verdict};
use crate::provider::{Instrument, ProviderKind, Vendor, secret};
use crate::rows::{BarInterval, VendorRow};

pub struct AlphaVantage {
    client: DataClient,
    key: String,
}

/// A 200 body that is Alpha Vantage's throttle, not data.
pub fn throttle_note(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    let o = v.as_object()?;
    let note = o.get("Note").or_else(|| o.get("Information"))?.as_str()?;
    let l = note.to_lowercase();
    (l.contains("call frequency")
        || l.contains("rate limit")
        || l.contains("requests per")
        || l.contains("calls per"))
    .then(|| note.to_string())
}

fn check(text: &str) -> Verdict {
    match throttle_note(text) {
        Some(n) => Verdict::Throttled(n),
        None => Verdict::Ok,
    }
}

impl AlphaVantage {
    pub fn new(client: DataClient) -> Result<AlphaVantage, FetchError> {
        let key = secret("ALPHAVANTAGE_API_KEY").ok_or_else(|| {
            FetchError::Credentials(
                "alphavantage: ALPHAVANTAGE_API_KEY is not set in the environment".into(),
            )
        })?;
        Ok(AlphaVantage { client, key })
    }

    /// A body's refusal (`Error Message`, or an `Information` that is not a throttle,
    /// e.g. a premium endpoint).
    fn refusal(v: &Value, symbol: &str) -> Option<FetchError> {
        let o = v.as_object()?;
        let m = o
            .get("Error Message")
            .or_else(|| o.get("Information"))
            .or_else(|| o.get("Note"))?
            .as_str()?;
        Some(FetchError::Refused {
            provider: "alphavantage",
            status: 200,
            message: format!("{symbol}: {}", systrade_core::redact::redact(m)),
        })
    }

    fn query(&mut self, params: &[(&str, String)], symbol: &str) -> Result<Value, FetchError> {
        let mut q: Vec<(&str, String)> = params.to_vec();
        q.push(("apikey", self.key.clone()));
        let text = self.client.get("/query", &q, &[], &check)?;
        let v: Value = serde_json::from_str(&text).map_err(|e| FetchError::Answer {
            provider: "alphavantage",
            symbol: Some(symbol.to_string()),
            message: format!("not JSON: {e}"),
        })?;
        Ok(v)
    }

    fn daily(
        &mut self,
        inst: &Instrument,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VendorRow>, FetchError> {
        // `compact` is the latest 100 sessions (about 140 days); older starts need `full`.
        let compact = (self.client.now() - from).num_days() < 130;
        let v = self.query(
            &[
                ("function", "TIME_SERIES_DAILY_ADJUSTED".into()),
                ("symbol", inst.remote.clone()),
                (
                    "outputsize",
                    if compact { "compact" } else { "full" }.into(),
                ),
                ("datatype", "json".into()),
            ],
            &inst.remote,
        )?;
        let Some(series) = v.get("Time Series (Daily)").and_then(Value::as_object) else {
            return Err(
                Self::refusal(&v, &inst.remote).unwrap_or_else(|| FetchError::Answer {
                    provider: "alphavantage",
                    symbol: Some(inst.remote.clone()),
                    message: "no \"Time Series (Daily)\" in the answer".into(),
                }),
            );
        };
        let bad = |m: String| FetchError::Answer {
            provider: "alphavantage",
            symbol: Some(inst.remote.clone()),
            message: m,
        };
        let (lo, hi) = (from.date_naive(), to.date_naive());
        let mut rows = BTreeMap::new();
        for (date, fields) in series {
            let d = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| bad(format!("date {date:?}")))?;
            if d < lo || d > hi {
                continue;
            }
            let num = |k: &str| {
                fields
                    .get(k)
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad(format!("{date}: {k:?} missing or not a number")))
            };
            let mut r = VendorRow::ohlcv(
                VendorRow::day_key(d),
                num("1. open")?,
                num("2. high")?,
                num("3. low")?,
                num("4. close")?,
                num("6. volume")?,
            );
            r.adj_close = Some(num("5. adjusted close")?);
            r.dividend = Some(num("7. dividend amount")?);
            r.split = Some(num("8. split coefficient")?);
            rows.insert(d, r);
        }
        Ok(rows.into_values().collect())
    }

    /// The articles about `symbol` published from `from` on (oldest first): one item per
    /// article, with the sentiment about this ticker.
    pub fn news_of(
        &mut self,
        symbol: &Symbol,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<NewsItem>, FetchError> {
        let v = self.query(
            &[
                ("function", "NEWS_SENTIMENT".into()),
                ("tickers", symbol.to_string()),
                ("time_from", from.format("%Y%m%dT%H%M").to_string()),
                ("time_to", to.format("%Y%m%dT%H%M").to_string()),
                ("sort", "EARLIEST".into()),
                ("limit", "1000".into()),
            ],
            symbol.as_str(),
        )?;
        if v.get("feed").and_then(Value::as_array).is_none() {
            return Err(
                Self::refusal(&v, symbol.as_str()).unwrap_or_else(|| FetchError::Answer {
                    provider: "alphavantage",
                    symbol: Some(symbol.to_string()),
                    message: "no \"feed\" in the news answer".into(),
                }),
            );
        }
        systrade_data::news::parse_feed(&v, Some(symbol)).map_err(|message| FetchError::Answer {
            provider: "alphavantage",
            symbol: Some(symbol.to_string()),
            message,
        })
    }
}

impl Vendor for AlphaVantage {
    fn kind(&self) -> ProviderKind {
        ProviderKind::AlphaVantage
    }

    fn resolve(&self, input: &str, market: Option<Market>) -> Result<Instrument, FetchError> {
        if matches!(market, Some(Market::B3 | Market::Crypto)) {
            return Err(FetchError::Usage(format!(
                "alphavantage: {input}: only US equities are fetched from Alpha Vantage"
            )));
        }
        Instrument::us(input)
    }

    fn bars(
        &mut self,
        which: &[Instrument],
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        _adjust: Adjust,
    ) -> Result<Vec<Vec<VendorRow>>, FetchError> {
        if interval != BarInterval::Day {
            return Err(FetchError::Usage(
                "alphavantage: only daily bars (--interval 1d) are fetched from TIME_SERIES_DAILY_ADJUSTED".into(),
            ));
        }
        which.iter().map(|i| self.daily(i, from, to)).collect()
    }

    fn client(&self) -> &DataClient {
        &self.client
    }

    fn news(&mut self) -> Option<&mut AlphaVantage> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_throttle_note_is_told_from_a_refusal() {
        assert!(throttle_note(r#"{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day."}"#).is_some());
        assert!(throttle_note(r#"{"Information": "We have detected your API key as XYZ and our standard API rate limit is 25 requests per day."}"#).is_some());
        assert!(throttle_note(r#"{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint."}"#).is_none());
        assert!(throttle_note(r#"{"Meta Data": {}}"#).is_none());
        let r = AlphaVantage::refusal(
            &serde_json::json!({"Error Message": "Invalid API call."}),
            "ZZZZ",
        )
        .unwrap();
        assert!(r.to_string().contains("ZZZZ: Invalid API call."));
    }
}
