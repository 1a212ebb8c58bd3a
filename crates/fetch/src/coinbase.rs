//! Coinbase Advanced Trade public candles: `GET /api/v3/brokerage/market/products/{id}/
//! candles` with `start`/`end` in UNIX seconds and at most 350 buckets a call, newest
//! first, buckets without trades left out. No key is needed.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use systrade_core::Market;
use systrade_data::Adjust;

use crate::error::FetchError;
use crate::http::{DataClient, Verdict};
use crate::provider::{Instrument, ProviderKind, Vendor, pair, stored};
use crate::rows::{BarInterval, VendorRow};

/// Buckets one call may span.
pub const MAX_CANDLES: i64 = 350;

pub struct Coinbase {
    client: DataClient,
}

#[derive(Deserialize)]
struct Candle {
    start: String,
    low: String,
    high: String,
    open: String,
    close: String,
    volume: String,
}

#[derive(Deserialize)]
struct Candles {
    candles: Vec<Candle>,
}

impl Coinbase {
    pub fn new(client: DataClient) -> Coinbase {
        Coinbase { client }
    }

    fn granularity(iv: BarInterval) -> &'static str {
        match iv {
            BarInterval::Day => "ONE_DAY",
            BarInterval::Hour => "ONE_HOUR",
            BarInterval::FiveMinutes => "FIVE_MINUTE",
            BarInterval::Minute => "ONE_MINUTE",
        }
    }

    fn row(c: &Candle, iv: BarInterval, symbol: &str) -> Result<VendorRow, FetchError> {
        let bad = |m: String| FetchError::Answer {
            provider: "coinbase",
            symbol: Some(symbol.to_string()),
            message: m,
        };
        let num = |name: &str, s: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("candle {}: {name} {s:?} is not a number", c.start)))
        };
        let secs: i64 = c
            .start
            .parse()
            .map_err(|_| bad(format!("candle start {:?} is not UNIX seconds", c.start)))?;
        let at = DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| bad(format!("candle start {secs} is out of range")))?;
        let time = VendorRow::utc_key(at, iv);
        Ok(VendorRow::ohlcv(
            time,
            num("open", &c.open)?,
            num("high", &c.high)?,
            num("low", &c.low)?,
            num("close", &c.close)?,
            num("volume", &c.volume)?,
        ))
    }
}

impl Vendor for Coinbase {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Coinbase
    }

    fn resolve(&self, input: &str, _market: Option<Market>) -> Result<Instrument, FetchError> {
        let (base, quote) = pair(input).ok_or_else(|| {
            FetchError::Usage(format!(
                "coinbase: {input:?} is not a product (BTC-USD, or BTCUSD)"
            ))
        })?;
        Ok(Instrument {
            symbol: stored(&format!("{base}{quote}"))?,
            remote: format!("{base}-{quote}"),
            market: Market::Crypto,
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
        let g = interval.seconds();
        let mut out = Vec::new();
        for inst in which {
            let path = format!("/api/v3/brokerage/market/products/{}/candles", inst.remote);
            // Bucket-aligned windows of at most 350 buckets, oldest first.
            let mut start = from.timestamp().div_euclid(g) * g;
            let end = to.timestamp();
            let mut rows: Vec<VendorRow> = Vec::new();
            while start <= end {
                let stop = (start + MAX_CANDLES * g - 1).min(end);
                let q = [
                    ("start", start.to_string()),
                    ("end", stop.to_string()),
                    ("granularity", Self::granularity(interval).to_string()),
                    ("limit", MAX_CANDLES.to_string()),
                ];
                let text = self.client.get(&path, &q, &[], &|_| Verdict::Ok)?;
                let page: Candles =
                    serde_json::from_str(&text).map_err(|e| FetchError::Answer {
                        provider: "coinbase",
                        symbol: Some(inst.remote.clone()),
                        message: format!("candles: {e}"),
                    })?;
                let mut chunk = page
                    .candles
                    .iter()
                    .map(|c| Self::row(c, interval, &inst.remote))
                    .collect::<Result<Vec<_>, _>>()?;
                chunk.sort_by(|a, b| a.time.cmp(&b.time));
                rows.extend(chunk);
                start = stop + 1;
            }
            rows.dedup_by(|a, b| a.time == b.time);
            out.push(rows);
        }
        Ok(out)
    }

    fn client(&self) -> &DataClient {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_recorded_candles_parse_into_utc_days() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/broker-fixtures/coinbase/http_candles.json");
        let Ok(text) = std::fs::read_to_string(&p) else {
            println!("skipped: {} is not here", p.display());
            return;
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let body = v
            .get("response")
            .and_then(|r| r.get("body"))
            .cloned()
            .unwrap_or(v);
        let page: Candles = serde_json::from_value(body).unwrap();
        let r = Coinbase::row(&page.candles[0], BarInterval::Hour, "BTC-USD").unwrap();
        assert!(r.time.ends_with(":00:00Z"));
        assert!(r.high >= r.low);
    }
}
