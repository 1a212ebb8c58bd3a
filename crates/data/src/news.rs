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
