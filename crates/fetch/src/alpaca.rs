//! Alpaca market data v2: `GET /v2/stocks/bars` (many symbols a call, `page_token`, the
//! limit counting bars across all symbols, `adjustment`, `feed`) and
//! `GET /v1beta3/crypto/us/bars` (no keys needed). 1Day stock bars are stamped at
//! midnight New York in UTC; crypto days at midnight US Central.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use systrade_core::Market;
use systrade_data::Adjust;

use crate::error::FetchError;
use crate::http::{DataClient, Verdict};
use crate::provider::{Instrument, ProviderKind, Vendor, pair, secret, stored};
use crate::rows::{BarInterval, VendorRow};

pub struct Alpaca {
    client: DataClient,
    /// `sip` (Alpaca's default) or `iex` (free plans' real-time feed).
    pub feed: String,
    /// The key pair (default: `APCA_API_KEY_ID`/`APCA_API_SECRET_KEY` when needed).
    keys: Option<(String, String)>,
}

#[derive(Deserialize)]
struct Bar {
    t: String,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    v: f64,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    bars: Option<BTreeMap<String, Vec<Bar>>>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// The bars a call may return in all (Alpaca's maximum `limit`).
const PAGE_LIMIT: u32 = 10_000;

impl Alpaca {
    pub fn new(client: DataClient) -> Alpaca {
        Alpaca {
            client,
            feed: std::env::var("APCA_DATA_FEED")
                .ok()
                .filter(|f| !f.trim().is_empty())
                .unwrap_or_else(|| "sip".into()),
            keys: None,
        }
    }

    /// With this key pair instead of the environment's.
    pub fn with_keys(mut self, key_id: &str, secret_key: &str) -> Alpaca {
        systrade_core::redact::register(secret_key);
        self.keys = Some((key_id.to_string(), secret_key.to_string()));
        self
    }

    fn keys(&self, required: bool) -> Result<Vec<(&'static str, String)>, FetchError> {
        let pair = match &self.keys {
            Some((k, s)) => (Some(k.clone()), Some(s.clone())),
            None => (secret("APCA_API_KEY_ID"), secret("APCA_API_SECRET_KEY")),
        };
        match pair {
            (Some(k), Some(s)) => Ok(vec![
                ("APCA-API-KEY-ID", k),
                ("APCA-API-SECRET-KEY", s),
            ]),
            _ if !required => Ok(vec![]),
            _ => Err(FetchError::Credentials(
                "alpaca: stock bars need APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment".into(),
            )),
        }
    }

    fn timeframe(iv: BarInterval) -> &'static str {
        match iv {
            BarInterval::Day => "1Day",
            BarInterval::Hour => "1Hour",
            BarInterval::FiveMinutes => "5Min",
            BarInterval::Minute => "1Min",
        }
    }

    /// The bar's key: a daily bar's market date (New York for stocks, UTC for crypto —
    /// a crypto day stamped at midnight Central is that UTC date), else its instant.
    fn key(t: &str, iv: BarInterval, market: Market) -> Result<String, String> {
        let at = DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("bar time {t:?}: {e}"))?
            .with_timezone(&Utc);
        Ok(if iv == BarInterval::Day {
            VendorRow::day_key(market.local_date(at))
        } else {
            VendorRow::instant_key(at)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn fetch_group(
        &mut self,
        group: &[&Instrument],
        path: &str,
        iv: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        adjust: Option<Adjust>,
        headers: &[(&str, String)],
    ) -> Result<BTreeMap<String, Vec<VendorRow>>, FetchError> {
        let symbols: Vec<&str> = group.iter().map(|i| i.remote.as_str()).collect();
        let market = group.first().map_or(Market::Us, |i| i.market);
        let mut query: Vec<(&str, String)> = vec![
            ("symbols", symbols.join(",")),
            ("timeframe", Self::timeframe(iv).into()),
            ("start", from.to_rfc3339_opts(SecondsFormat::Secs, true)),
            ("end", to.to_rfc3339_opts(SecondsFormat::Secs, true)),
            ("limit", PAGE_LIMIT.to_string()),
            ("sort", "asc".into()),
        ];
        if let Some(a) = adjust {
            let adjustment = match a {
                Adjust::None => "raw",
                Adjust::Split => "split",
                Adjust::Total => "all",
            };
            query.push(("adjustment", adjustment.into()));
            query.push(("feed", self.feed.clone()));
        }
        let mut out: BTreeMap<String, Vec<VendorRow>> = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = query.clone();
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let text = self.client.get(path, &q, headers, &|_| Verdict::Ok)?;
            let page: Page = serde_json::from_str(&text).map_err(|e| FetchError::Answer {
                provider: "alpaca",
                symbol: None,
                message: format!("bars page: {e}"),
            })?;
            for (sym, bars) in page.bars.unwrap_or_default() {
                let rows = out.entry(sym.clone()).or_default();
                for b in bars {
                    let time = Self::key(&b.t, iv, market).map_err(|m| FetchError::Answer {
                        provider: "alpaca",
                        symbol: Some(sym.clone()),
                        message: m,
                    })?;
                    rows.push(VendorRow::ohlcv(time, b.o, b.h, b.l, b.c, b.v));
                }
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) if Some(&t) == token.as_ref() => {
                    return Err(FetchError::Answer {
                        provider: "alpaca",
                        symbol: None,
                        message: "the same next_page_token twice".into(),
                    });
                }
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }
}

impl Vendor for Alpaca {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Alpaca
    }

    fn resolve(&self, input: &str, market: Option<Market>) -> Result<Instrument, FetchError> {
        let crypto = market != Some(Market::Us)
            && (market == Some(Market::Crypto) || input.contains(['/', '-']) || {
                pair(input).is_some_and(|(_, q)| matches!(q.as_str(), "USD" | "USDT" | "USDC"))
            });
        if crypto {
            let (base, quote) = pair(input).ok_or_else(|| {
                FetchError::Usage(format!("alpaca: {input:?} is not a crypto pair (BTC/USD)"))
            })?;
            return Ok(Instrument {
                symbol: stored(&format!("{base}{quote}"))?,
                remote: format!("{base}/{quote}"),
                market: Market::Crypto,
            });
        }
        if market == Some(Market::B3) {
            return Err(FetchError::Usage(format!(
                "alpaca: {input} is a B3 name; Alpaca has US equities and crypto (use --provider yahoo)"
            )));
        }
        Instrument::us(input)
    }

    fn batch(&self) -> usize {
        100
    }

    fn bars(
        &mut self,
        which: &[Instrument],
        interval: BarInterval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        adjust: Adjust,
    ) -> Result<Vec<Vec<VendorRow>>, FetchError> {
        let stocks: Vec<&Instrument> = which
            .iter()
            .filter(|i| i.market != Market::Crypto)
            .collect();
        let crypto: Vec<&Instrument> = which
            .iter()
            .filter(|i| i.market == Market::Crypto)
            .collect();
        let mut got = BTreeMap::new();
        if !stocks.is_empty() {
            let h = self.keys(true)?;
            got.extend(self.fetch_group(
                &stocks,
                "/v2/stocks/bars",
                interval,
                from,
                to,
                Some(adjust),
                &h,
            )?);
        }
        if !crypto.is_empty() {
            let h = self.keys(false)?;
            got.extend(self.fetch_group(
                &crypto,
                "/v1beta3/crypto/us/bars",
                interval,
                from,
                to,
                None,
                &h,
            )?);
        }
        Ok(which
            .iter()
            .map(|i| got.remove(&i.remote).unwrap_or_default())
            .collect())
    }

    fn client(&self) -> &DataClient {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_daily_bars_take_their_new_york_date_across_dst() {
        let k = |t| Alpaca::key(t, BarInterval::Day, Market::Us).unwrap();
        assert_eq!(k("2022-02-01T05:00:00Z"), "2022-02-01");
        assert_eq!(k("2023-09-27T04:00:00Z"), "2023-09-27");
        assert_eq!(
            Alpaca::key("2022-03-10T06:00:00Z", BarInterval::Day, Market::Crypto).unwrap(),
            "2022-03-10"
        );
        assert_eq!(
            Alpaca::key("2022-05-27T10:18:00Z", BarInterval::Minute, Market::Crypto).unwrap(),
            "2022-05-27T10:18:00Z"
        );
    }

    #[test]
    fn test_the_recorded_multi_symbol_page_parses() {
        let Some(text) = systrade_core_fixture("stock_bars_1day_multi_alpacapy.json") else {
            return;
        };
        let page: Page = serde_json::from_str(&text).unwrap();
        assert!(!page.bars.unwrap_or_default().is_empty());
    }

    fn systrade_core_fixture(name: &str) -> Option<String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/broker-fixtures/alpaca")
            .join(name);
        match std::fs::read_to_string(&p) {
            Ok(t) => Some(t),
            Err(_) => {
                println!("skipped: {} is not here", p.display());
                None
            }
        }
    }
}
