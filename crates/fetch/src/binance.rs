//! Binance spot klines: `GET /api/v3/klines` with `startTime`/`endTime` in epoch
//! milliseconds and at most 1,000 bars a call; each kline is an array
//! `[openTime, "open", "high", "low", "close", "volume", closeTime, …]`. A 429 asks to
//! back off; a 418 means the IP was banned for not backing off — both honour
//! `Retry-After`. No key is needed for market data.

use chrono::{DateTime, Utc};
use serde_json::Value;
use systrade_core::Market;
use systrade_data::Adjust;

use crate::error::FetchError;
use crate::http::{DataClient, Verdict};
use crate::provider::{Instrument, ProviderKind, Vendor, pair, stored};
use crate::rows::{BarInterval, VendorRow};

/// Bars one call may return.
pub const MAX_KLINES: usize = 1000;

pub struct Binance {
    client: DataClient,
}

impl Binance {
    pub fn new(client: DataClient) -> Binance {
        Binance { client }
    }

    /// One kline; its open time in milliseconds too.
    fn row(k: &Value, iv: BarInterval, symbol: &str) -> Result<(i64, VendorRow), FetchError> {
        let bad = |m: String| FetchError::Answer {
            provider: "binance",
            symbol: Some(symbol.to_string()),
            message: m,
        };
        let a = k
            .as_array()
            .filter(|a| a.len() >= 7)
            .ok_or_else(|| bad(format!("kline {k} is not an array of at least 7")))?;
        let ms = a[0]
            .as_i64()
            .ok_or_else(|| bad(format!("kline open time {} is not milliseconds", a[0])))?;
        let num = |i: usize, name: &str| {
            a[i].as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .or_else(|| a[i].as_f64())
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("kline {ms}: {name} {} is not a number", a[i])))
        };
        let at = DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| bad(format!("kline open time {ms} is out of range")))?;
        let time = VendorRow::utc_key(at, iv);
        Ok((
            ms,
            VendorRow::ohlcv(
                time,
                num(1, "open")?,
                num(2, "high")?,
                num(3, "low")?,
                num(4, "close")?,
                num(5, "volume")?,
            ),
        ))
    }
}

impl Vendor for Binance {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Binance
    }

    fn resolve(&self, input: &str, _market: Option<Market>) -> Result<Instrument, FetchError> {
        let (base, quote) = pair(input).ok_or_else(|| {
            FetchError::Usage(format!("binance: {input:?} is not a pair (BTCUSDT)"))
        })?;
        let s = format!("{base}{quote}");
        Ok(Instrument {
            symbol: stored(&s)?,
            remote: s,
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
        let mut out = Vec::new();
        for inst in which {
            let mut start = from.timestamp_millis();
            let end = to.timestamp_millis();
            let mut rows: Vec<VendorRow> = Vec::new();
            while start <= end {
                let q = [
                    ("symbol", inst.remote.clone()),
                    ("interval", interval.as_str().to_string()),
                    ("startTime", start.to_string()),
                    ("endTime", end.to_string()),
                    ("limit", MAX_KLINES.to_string()),
                ];
                let text = self
                    .client
                    .get("/api/v3/klines", &q, &[], &|_| Verdict::Ok)?;
                let page: Vec<Value> =
                    serde_json::from_str(&text).map_err(|e| FetchError::Answer {
                        provider: "binance",
                        symbol: Some(inst.remote.clone()),
                        message: format!("klines: {e}"),
                    })?;
                let n = page.len();
                let mut last_ms = None;
                for k in &page {
                    let (ms, r) = Self::row(k, interval, &inst.remote)?;
                    if last_ms.is_some_and(|l| ms <= l) {
                        return Err(FetchError::Answer {
                            provider: "binance",
                            symbol: Some(inst.remote.clone()),
                            message: format!("klines out of order at open time {ms}"),
                        });
                    }
                    last_ms = Some(ms);
                    rows.push(r);
                }
                // A full page may be followed by more; so may a short one whose last bar is
                // not the last of the range (a vendor may cap pages lower than asked).
                match last_ms {
                    Some(l) if n >= MAX_KLINES || l + interval.seconds() * 1000 <= end => {
                        start = l + 1;
                    }
                    _ => break,
                }
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
    fn test_a_kline_reads_strings_and_its_utc_day() {
        let k: Value = serde_json::from_str(
            r#"[1502928000000,"4261.48000000","4485.39000000","4200.74000000","4285.08000000","795.15037700",1503014399999,"3454770.05073206",3427,"616.24854100","2678216.40060401","0"]"#,
        )
        .unwrap();
        let (ms, r) = Binance::row(&k, BarInterval::Day, "BTCUSDT").unwrap();
        assert_eq!(ms, 1502928000000);
        assert_eq!(r.time, "2017-08-17");
        assert_eq!(r.close, 4285.08);
        assert!(Binance::row(&serde_json::json!([1, "x"]), BarInterval::Day, "B").is_err());
    }
}
