//! The execution monitor (spec/execution-and-buckets.md §2): every fill measured against the
//! price its order was decided at (a stop's is its level) and, given prices, against the
//! arrival price — the open of the session the order went to market in, the first price it
//! could trade at — per fill and per day. The first is the cost of deciding on a close and
//! trading later (the gap); the second the cost of the execution itself.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use systrade_backtest::f;
use systrade_core::Symbol;
use systrade_core::contracts::Side;
use systrade_core::money::decimal_text as qty;
use systrade_store::{Ledger, Purpose};

/// One fill measured against its order's decision price.
pub struct Slip {
    pub date: NaiveDate,
    pub book: String,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    pub reference: Decimal,
    /// Basis points, positive = worse than the decision price.
    pub bps: f64,
    /// In money: what the difference cost (positive) or saved.
    pub cost: Decimal,
    /// The order's purpose.
    pub purpose: Purpose,
    /// The open of the fill's session (with prices; never for a stop, whose reference is its
    /// level).
    pub arrival: Option<Decimal>,
}

impl Slip {
    /// Basis points against the arrival price, positive = worse.
    pub fn arrival_bps(&self) -> Option<f64> {
        let a = self.arrival.filter(|a| !a.is_zero())?;
        Some(f(self.sign() * (self.price - a) / a) * 1e4)
    }

    /// In money, against the arrival price.
    pub fn arrival_cost(&self) -> Option<Decimal> {
        self.arrival
            .map(|a| self.sign() * (self.price - a) * self.qty)
    }

    fn sign(&self) -> Decimal {
        if self.side == Side::Buy {
            Decimal::ONE
        } else {
            -Decimal::ONE
        }
    }
}

/// Sets each fill's arrival price: the open of its session from `bars` (a fill of a session
/// the bars lack, or of a stop, keeps none).
pub fn with_arrivals(slips: &mut [Slip], bars: &BTreeMap<Symbol, Vec<systrade_core::DailyBar>>) {
    for s in slips.iter_mut().filter(|s| s.purpose != Purpose::Stop) {
        s.arrival = bars.get(&s.symbol).and_then(|b| {
            b.iter()
                .find(|x| x.ts == s.date)
                .map(|x| systrade_backtest::dec(x.open))
        });
    }
}

/// One day's fills summed: count, traded notional (at the decision prices) and slippage cost.
#[derive(Default)]
pub struct SlipDay {
    pub fills: usize,
    pub notional: Decimal,
    pub cost: Decimal,
    /// Against the arrival prices: the fills that have one, their notional and cost.
    pub arrival_notional: Decimal,
    pub arrival_cost: Decimal,
}

impl SlipDay {
    /// The notional-weighted slippage in basis points (0 on no notional).
    pub fn bps(&self) -> f64 {
        if self.notional.is_zero() {
            0.0
        } else {
            f(self.cost / self.notional) * 1e4
        }
    }

    /// The notional-weighted slippage against arrival, in basis points (none without).
    pub fn arrival_bps(&self) -> Option<f64> {
        (!self.arrival_notional.is_zero())
            .then(|| f(self.arrival_cost / self.arrival_notional) * 1e4)
    }
}

/// The measurements of every fill of `book` (all books when `None`) whose order has a
/// decision price.
pub fn slippages(ledger: &Ledger, book: Option<&str>) -> anyhow::Result<Vec<Slip>> {
    let mut out = Vec::new();
    for fl in ledger.fills(book)? {
        // A fill booked without an order (a manual trade) has no decision price.
        let Some(o) = ledger.order(&fl.client_order_id)? else {
            continue;
        };
        let Some(reference) = o.decision_price.or(o.stop_price).filter(|p| !p.is_zero()) else {
            continue;
        };
        let sign = if fl.side == Side::Buy {
            Decimal::ONE
        } else {
            -Decimal::ONE
        };
        let diff = sign * (fl.price - reference);
        out.push(Slip {
            date: fl.date,
            book: fl.strategy.clone(),
            symbol: fl.symbol.clone(),
            side: fl.side,
            qty: fl.qty,
            price: fl.price,
            reference,
            bps: f(diff / reference) * 1e4,
            cost: diff * fl.qty,
            purpose: o.purpose,
            arrival: None,
        });
    }
    Ok(out)
}

/// The fills summed per day.
pub fn by_day(slips: &[Slip]) -> BTreeMap<NaiveDate, SlipDay> {
    let mut days: BTreeMap<NaiveDate, SlipDay> = BTreeMap::new();
    for s in slips {
        let e = days.entry(s.date).or_default();
        e.fills += 1;
        e.notional += s.qty * s.reference;
        e.cost += s.cost;
        if let (Some(a), Some(c)) = (s.arrival, s.arrival_cost()) {
            e.arrival_notional += s.qty * a;
            e.arrival_cost += c;
        }
    }
    days
}

/// Basis points rounded to 2 decimals, for JSON.
fn bps2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The fills and their days as JSON; decimals as text.
pub fn slippage_json(slips: &[Slip], days: &BTreeMap<NaiveDate, SlipDay>) -> serde_json::Value {
    serde_json::json!({
        "fills": slips.iter().map(|s| serde_json::json!({
            "date": s.date, "book": s.book, "symbol": s.symbol, "side": s.side,
            "qty": qty(s.qty), "price": qty(s.price.round_dp(8)),
            "decision_price": qty(s.reference), "purpose": s.purpose,
            "slippage_bps": bps2(s.bps), "slippage_cost": qty(s.cost.round_dp(6)),
            "arrival_price": s.arrival.map(qty), "arrival_bps": s.arrival_bps().map(bps2),
            "arrival_cost": s.arrival_cost().map(|c| qty(c.round_dp(6))),
        })).collect::<Vec<_>>(),
        "by_day": days.iter().map(|(d, day)| serde_json::json!({
            "date": d, "fills": day.fills, "notional": qty(day.notional.round_dp(2)),
            "slippage_cost": qty(day.cost.round_dp(6)), "slippage_bps": bps2(day.bps()),
            "arrival_cost": (!day.arrival_notional.is_zero()).then(|| qty(day.arrival_cost.round_dp(6))),
            "arrival_bps": day.arrival_bps().map(bps2),
        })).collect::<Vec<_>>(),
    })
}

/// The fills as a fixed-width table, then the days.
pub fn slippage_table(slips: &[Slip], days: &BTreeMap<NaiveDate, SlipDay>) -> String {
    let mut out = format!(
        "{:<10} {:<14} {:<10} {:<4} {:>12} {:>14} {:>14} {:>9} {:>12} {:>14} {:>9}  purpose\n",
        "date",
        "book",
        "symbol",
        "side",
        "qty",
        "price",
        "decision",
        "bps",
        "cost",
        "arrival",
        "arr bps"
    );
    for s in slips {
        out.push_str(&format!(
            "{:<10} {:<14} {:<10} {:<4} {:>12} {:>14} {:>14} {:>9.2} {:>12.2} {:>14} {:>9}  {}\n",
            s.date,
            s.book,
            s.symbol,
            s.side.as_str(),
            qty(s.qty),
            qty(s.price.round_dp(6)),
            qty(s.reference),
            s.bps,
            f(s.cost),
            s.arrival.map(qty).unwrap_or_else(|| "-".into()),
            s.arrival_bps()
                .map_or_else(|| "-".into(), |b| format!("{b:.2}")),
            s.purpose
        ));
    }
    out.push_str("\nper day (positive = worse than the decision price / the arrival price):\n");
    for (d, day) in days {
        out.push_str(&format!(
            "  {d}: {} fills, notional {:.2}, slippage {:.2} ({:.2} bps){}\n",
            day.fills,
            f(day.notional),
            f(day.cost),
            day.bps(),
            day.arrival_bps()
                .map(|b| format!("; against arrival {:.2} ({b:.2} bps)", f(day.arrival_cost)))
                .unwrap_or_default()
        ));
    }
    out
}
