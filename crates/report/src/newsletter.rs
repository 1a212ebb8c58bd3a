//! The daily newsletter (spec/execution-and-buckets.md §5): one email, a section per
//! strategy or bucket — buy / sell / watch with shares and money, why in words, what to avoid
//! and why, open positions with stops and PnL, recent fills, data warnings. The caller fills
//! the model from the day's contracts with numbers already formatted, so rendering is a pure
//! function of the model.

use serde::Serialize;

use crate::{ReportError, templates};

/// A label and its formatted value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// An order of the day: what to buy or sell, how much, its state and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradeLine {
    /// `BUY` or `SELL`.
    pub action: String,
    pub symbol: String,
    pub shares: String,
    /// The decision price (last close), the order's reference.
    pub price: String,
    pub notional: String,
    /// Where the order stands, in words ("filled at 64.23", "waits for your approval").
    pub status: String,
    /// The rationale tags, in words.
    pub why: String,
}

/// A name worth watching: a signal that did not (yet) make a trade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchLine {
    pub symbol: String,
    pub why: String,
}

/// An entry the gates blocked, or a name to stay away from, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AvoidLine {
    pub symbol: String,
    pub shares: String,
    pub why: String,
}

/// An open position marked at the last close.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionLine {
    pub symbol: String,
    pub shares: String,
    pub avg_price: String,
    pub last: String,
    pub value: String,
    /// The protective stop's level, or "none".
    pub stop: String,
    /// How far the stop is below (above, for a short) the last close, in percent.
    pub stop_distance: String,
    pub pnl: String,
    pub pnl_pct: String,
    pub losing: bool,
}

/// A fill booked in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillLine {
    pub date: String,
    pub symbol: String,
    pub side: String,
    pub shares: String,
    pub price: String,
    pub fee: String,
    pub purpose: String,
}

/// One strategy or bucket.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Section {
    pub name: String,
    /// What kind of book it is ("trend following", "momentum cohorts", "trade sheet",
    /// "manual trades").
    pub kind: String,
    /// The session the section describes.
    pub as_of: String,
    pub facts: Vec<Fact>,
    pub trades: Vec<TradeLine>,
    pub watch: Vec<WatchLine>,
    pub avoid: Vec<AvoidLine>,
    pub positions: Vec<PositionLine>,
    pub fills: Vec<FillLine>,
    /// The fills' period in words ("2020-12-14 to 2020-12-15").
    pub fills_period: String,
    pub warnings: Vec<String>,
}

/// The whole newsletter of a day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Newsletter {
    /// The market day it reports (YYYY-MM-DD).
    pub date: String,
    pub sections: Vec<Section>,
    /// Warnings that concern no single section (missing runs, stale data).
    pub warnings: Vec<String>,
}

/// A newsletter ready to send or preview.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Newsletter {
    /// "systrade 2020-12-15: 2 buys, 1 sell, 3 to watch, 1 blocked, 2 warnings".
    pub fn subject(&self) -> String {
        let count = |side: &str| {
            self.sections
                .iter()
                .flat_map(|s| &s.trades)
                .filter(|t| t.action == side)
                .count()
        };
        let watch: usize = self.sections.iter().map(|s| s.watch.len()).sum();
        let avoid: usize = self.sections.iter().map(|s| s.avoid.len()).sum();
        let warnings: usize = self.warnings.len()
            + self
                .sections
                .iter()
                .map(|s| s.warnings.len())
                .sum::<usize>();
        let mut parts = vec![
            plural(count("BUY"), "buy", "buys"),
            plural(count("SELL"), "sell", "sells"),
            format!("{watch} to watch"),
        ];
        if avoid > 0 {
            parts.push(format!("{avoid} blocked"));
        }
        if warnings > 0 {
            parts.push(plural(warnings, "warning", "warnings"));
        }
        format!("systrade {}: {}", self.date, parts.join(", "))
    }

    pub fn render(&self) -> Result<Rendered, ReportError> {
        #[derive(Serialize)]
        struct Ctx<'a> {
            n: &'a Newsletter,
            subject: String,
        }
        let ctx = Ctx {
            n: self,
            subject: self.subject(),
        };
        Ok(Rendered {
            subject: ctx.subject.clone(),
            html: templates::render("newsletter.html", &ctx)?,
            text: templates::render("newsletter.txt", &ctx)?,
        })
    }
}
