//! Fault injection for tests: make a broker call fail the way real venues fail.
//!
//! A fault list is text (so a test can hand it to a child process through
//! `SYSTRADE_PAPER_FAULTS`): comma-separated rules `OP:KIND[@SYMBOL][*N]` where
//! - `OP` is `account`, `positions`, `open_orders`, `order`, `fills`, `submit`, `cancel`,
//!   `replace`, `preview` or `any`;
//! - `KIND` is `reject` (the order comes back rejected), `timeout` (for `submit`: the broker
//!   takes the order but the answer is lost; elsewhere the call fails), `429`, a 5xx status
//!   such as `503`, `partial=F` (a market order fills only the fraction F at the open; the
//!   rest expires with the session), or `kill` (the broker carries the call out, then the
//!   calling process dies before it hears the answer: a `kill -9` at the worst moment);
//! - `@SYMBOL` limits an order rule to one symbol, `*N` to the first N matching calls.
//!
//! Example: `submit:429*2,submit:partial=0.5@ETHUSDT,cancel:503`.

use std::str::FromStr;

use rust_decimal::Decimal;
use systrade_core::Symbol;

const OPS: [&str; 10] = [
    "account",
    "positions",
    "open_orders",
    "order",
    "fills",
    "submit",
    "cancel",
    "replace",
    "preview",
    "any",
];

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    Reject,
    Timeout,
    RateLimited,
    Server(u16),
    Partial(Decimal),
    /// The call reaches the broker, then the caller's process is killed.
    Kill,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    op: String,
    kind: FaultKind,
    symbol: Option<Symbol>,
    remaining: Option<u32>,
}

/// A list of injected faults; each matching call uses one up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    rules: Vec<Rule>,
}

impl FromStr for Faults {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for raw in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let bad =
                |why: &str| format!("fault rule {raw:?}: {why} (syntax OP:KIND[@SYMBOL][*N])");
            let (body, remaining) = match raw.split_once('*') {
                Some((b, n)) => (
                    b,
                    Some(n.parse::<u32>().map_err(|_| bad("N must be a count"))?),
                ),
                None => (raw, None),
            };
            let (body, symbol) = match body.split_once('@') {
                Some((b, s)) => (b, Some(Symbol::new(s).map_err(|e| bad(&e.to_string()))?)),
                None => (body, None),
            };
            let (op, kind) = body.split_once(':').ok_or_else(|| bad("missing ':'"))?;
            if !OPS.contains(&op) {
                return Err(bad(&format!(
                    "unknown op {op:?} (one of {})",
                    OPS.join(", ")
                )));
            }
            let kind = match kind {
                "reject" => FaultKind::Reject,
                "timeout" => FaultKind::Timeout,
                "429" => FaultKind::RateLimited,
                "kill" => FaultKind::Kill,
                k if k.starts_with("partial=") => {
                    let f: Decimal = k["partial=".len()..]
                        .parse()
                        .map_err(|_| bad("partial=F needs a fraction"))?;
                    if f <= Decimal::ZERO || f >= Decimal::ONE {
                        return Err(bad("a partial fill fraction must be in (0, 1)"));
                    }
                    FaultKind::Partial(f)
                }
                k => match k.parse::<u16>() {
                    Ok(s) if (500..600).contains(&s) => FaultKind::Server(s),
                    _ => return Err(bad(&format!("unknown kind {k:?}"))),
                },
            };
            rules.push(Rule {
                op: op.to_string(),
                kind,
                symbol,
                remaining,
            });
        }
        Ok(Faults { rules })
    }
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// The fault to inject into this call, if any (using one up).
    pub fn hit(&mut self, op: &str, symbol: Option<&Symbol>) -> Option<FaultKind> {
        let rule = self.rules.iter_mut().find(|r| {
            (r.op == op || r.op == "any")
                && r.remaining != Some(0)
                && r.symbol.as_ref().is_none_or(|s| Some(s) == symbol)
        })?;
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        Some(rule.kind.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rules_parse_match_and_run_out() {
        let mut f: Faults = "submit:429*2, submit:partial=0.5@ETH, cancel:503"
            .parse()
            .unwrap();
        let eth = Symbol::new("ETH").unwrap();
        let btc = Symbol::new("BTC").unwrap();
        assert_eq!(f.hit("submit", Some(&btc)), Some(FaultKind::RateLimited));
        assert_eq!(f.hit("submit", Some(&btc)), Some(FaultKind::RateLimited));
        assert_eq!(f.hit("submit", Some(&btc)), None, "used up");
        assert_eq!(
            f.hit("submit", Some(&eth)),
            Some(FaultKind::Partial(Decimal::new(5, 1)))
        );
        assert_eq!(f.hit("cancel", None), Some(FaultKind::Server(503)));
        assert_eq!(
            f.hit("cancel", None),
            Some(FaultKind::Server(503)),
            "no *N: forever"
        );
        assert_eq!(f.hit("account", None), None);
        for bad in [
            "submit",
            "sell:429",
            "submit:418",
            "submit:partial=2",
            "submit:429*x",
        ] {
            assert!(bad.parse::<Faults>().is_err(), "{bad}");
        }
    }
}
