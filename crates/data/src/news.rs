//! News sentiment: one article's sentiment about one ticker (Alpha Vantage's
//! `NEWS_SENTIMENT` shape), stored per ticker and article.

use chrono::NaiveDate;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use systrade_core::Symbol;

use crate::db::{MarketDb, db_err};
use crate::error::DataError;

/// One article's sentiment about one ticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsItem {
    pub symbol: Symbol,
    /// The day it was published.
    pub date: NaiveDate,
    /// `YYYYMMDDTHHMMSS`, as the vendor sent it.
    pub published: String,
    /// The sentiment about this ticker (−1 bearish … +1 bullish).
    pub score: f64,
    pub label: String,
    pub relevance: f64,
    pub headline: String,
    pub source: String,
    pub url: String,
}

impl MarketDb {
    /// Stores articles (an article already stored is kept as it is); returns how many were
    /// new.
    pub fn store_news(&mut self, items: &[NewsItem]) -> Result<usize, DataError> {
        let path = self.path().to_path_buf();
        let e = db_err(&path);
        let tx = self.conn_mut().transaction().map_err(&e)?;
        let mut new = 0;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO news (ticker, published, url, date, score, label, relevance, headline, source)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(&e)?;
            for n in items {
                new += st
                    .execute(params![
                        n.symbol.as_str(),
                        n.published,
                        n.url,
                        n.date.to_string(),
                        n.score,
                        n.label,
                        n.relevance,
                        n.headline,
                        n.source
                    ])
                    .map_err(&e)?;
            }
        }
        tx.commit().map_err(&e)?;
        Ok(new)
    }

    /// The articles about `symbol`, oldest first.
    pub fn news(&self, symbol: &Symbol) -> Result<Vec<NewsItem>, DataError> {
        let e = db_err(self.path());
        let mut st = self
            .conn()
            .prepare_cached(
                "SELECT date, published, score, label, relevance, headline, source, url FROM news WHERE ticker = ?1 ORDER BY published, url",
            )
            .map_err(&e)?;
        let rows = st
            .query_map([symbol.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .map_err(&e)?;
        let mut out = Vec::new();
        for row in rows {
            let (date, published, score, label, relevance, headline, source, url) =
                row.map_err(&e)?;
            let date = date.parse().map_err(|_| {
                DataError::Usage(format!(
                    "{} table news [{symbol}]: date {date:?} is not YYYY-MM-DD",
                    self.path().display()
                ))
            })?;
            out.push(NewsItem {
                symbol: symbol.clone(),
                date,
                published,
                score,
                label,
                relevance,
                headline,
                source,
                url,
            });
        }
        Ok(out)
    }
}

/// The articles of an Alpha Vantage `NEWS_SENTIMENT` answer (`{"feed": [...]}`): one item per
/// article and ticker it scores — only `only`'s when given; tickers that are not symbols
/// (`CRYPTO:BTC`, `FOREX:USD`) are left out. A timestamp or score that does not parse is an
/// error naming the article. Sorted by publication, duplicates (same ticker, time and URL)
/// dropped.
pub fn parse_feed(v: &serde_json::Value, only: Option<&Symbol>) -> Result<Vec<NewsItem>, String> {
    use serde_json::Value;
    let Some(feed) = v.get("feed").and_then(Value::as_array) else {
        return Err("no \"feed\" in the news answer".into());
    };
    let text = |a: &Value, k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let num = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<f64>().ok())
    };
    let mut out = Vec::new();
    for a in feed {
        let published = text(a, "time_published");
        let Ok(at) = chrono::NaiveDateTime::parse_from_str(&published, "%Y%m%dT%H%M%S") else {
            return Err(format!("article time_published {published:?}"));
        };
        let Some(list) = a.get("ticker_sentiment").and_then(Value::as_array) else {
            continue;
        };
        for ts in list {
            let ticker = text(ts, "ticker");
            let symbol = match only {
                Some(s) if s.as_str() == ticker => s.clone(),
                Some(_) => continue,
                None => match Symbol::new(&ticker) {
                    Ok(s) if !ticker.contains(':') => s,
                    _ => continue,
                },
            };
            let (Some(score), Some(relevance)) = (
                num(ts, "ticker_sentiment_score"),
                num(ts, "relevance_score"),
            ) else {
                return Err(format!(
                    "article {published} ({ticker}): sentiment score is not a number"
                ));
            };
            out.push(NewsItem {
                symbol,
                date: at.date(),
                published: published.clone(),
                score,
                label: text(ts, "ticker_sentiment_label"),
                relevance,
                headline: text(a, "title"),
                source: text(a, "source"),
                url: text(a, "url"),
            });
        }
    }
    out.sort_by(|a, b| (&a.symbol, &a.published, &a.url).cmp(&(&b.symbol, &b.published, &b.url)));
    out.dedup_by(|a, b| a.symbol == b.symbol && a.url == b.url && a.published == b.published);
    Ok(out)
}
