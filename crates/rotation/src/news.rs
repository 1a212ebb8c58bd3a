//! The optional news input of bucket A (spec/execution-and-buckets.md §3, §5): each name's
//! news sentiment over the last `days` sessions' dates, relevance-weighted; a name not held
//! whose sentiment is below `block` gets no new entry (`news_risk`), with the headline behind
//! it (the most negative article of the window).

use chrono::NaiveDate;
use serde::Serialize;

/// One article's sentiment about one name.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub date: NaiveDate,
    /// −1 bearish … +1 bullish.
    pub score: f64,
    /// 0 … 1: how much the article is about the name.
    pub relevance: f64,
    pub headline: String,
}

/// The rule: the window in calendar days, the blocking level and the relevance an article
/// needs to count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewsRule {
    pub days: u32,
    pub block: f64,
    pub min_relevance: f64,
}

/// A name's news at a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sentiment {
    /// Relevance-weighted mean score of the window's articles.
    pub score: f64,
    pub articles: usize,
    /// The most negative article's headline.
    pub headline: String,
}

/// Articles per panel column (date order) and the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct News {
    pub by_column: Vec<Vec<Article>>,
    pub rule: NewsRule,
}

impl News {
    /// The sentiment of column `s` on the decision date `d`: the articles dated
    /// `(d − days, d]` (an article of the decision day counts: the rotation decides after
    /// the close). `None` without an article.
    pub fn sentiment(&self, s: usize, d: NaiveDate) -> Option<Sentiment> {
        let list = self.by_column.get(s)?;
        let from = d - chrono::Duration::days(i64::from(self.rule.days));
        let lo = list.partition_point(|a| a.date <= from);
        let hi = list.partition_point(|a| a.date <= d);
        let window: Vec<&Article> = list[lo..hi]
            .iter()
            .filter(|a| a.relevance >= self.rule.min_relevance && a.score.is_finite())
            .collect();
        let weight: f64 = window.iter().map(|a| a.relevance.max(0.0)).sum();
        if window.is_empty() || weight <= 0.0 {
            return None;
        }
        let score = window
            .iter()
            .map(|a| a.score * a.relevance.max(0.0))
            .sum::<f64>()
            / weight;
        let worst = window
            .iter()
            .min_by(|a, b| a.score.total_cmp(&b.score))
            .map(|a| a.headline.clone())
            .unwrap_or_default();
        Some(Sentiment {
            score,
            articles: window.len(),
            headline: worst,
        })
    }

    /// The sentiment of column `s` on `d` when it blocks a new entry.
    pub fn blocks(&self, s: usize, d: NaiveDate) -> Option<Sentiment> {
        self.sentiment(s, d).filter(|x| x.score < self.rule.block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn test_sentiment_is_the_windows_relevance_weighted_mean_and_names_the_worst_headline() {
        let a = |date: &str, score: f64, relevance: f64, h: &str| Article {
            date: d(date),
            score,
            relevance,
            headline: h.into(),
        };
        let news = News {
            by_column: vec![vec![
                a("2024-05-20", -0.9, 1.0, "too old"),
                a("2024-05-27", -0.4, 0.5, "bad"),
                a("2024-05-30", 0.2, 0.25, "fine"),
                a("2024-05-31", -0.1, 0.05, "ignored: not relevant"),
                a("2024-06-03", -0.8, 1.0, "after the decision"),
            ]],
            rule: NewsRule {
                days: 7,
                block: -0.15,
                min_relevance: 0.1,
            },
        };
        let s = news.sentiment(0, d("2024-05-31")).unwrap();
        // (−0.4·0.5 + 0.2·0.25) / 0.75 = −0.2
        assert!((s.score + 0.2).abs() < 1e-12, "{s:?}");
        assert_eq!((s.articles, s.headline.as_str()), (2, "bad"));
        assert!(news.blocks(0, d("2024-05-31")).is_some());
        // 2024-05-27 is outside (2024-05-27, 2024-06-03]: only the later article counts.
        assert_eq!(news.sentiment(0, d("2024-06-03")).unwrap().articles, 2);
        assert_eq!(news.sentiment(0, d("2024-05-01")), None);
        assert_eq!(news.sentiment(1, d("2024-05-31")), None);
    }
}
