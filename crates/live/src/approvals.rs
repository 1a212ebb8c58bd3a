//! The semi-auto execution level (spec/execution-and-buckets.md §2): staged orders approved
//! and sent, or canceled, by hand — through the same idempotent submit, stop manager and fill
//! sync as the daily run.
//!
//! Every entry point checks all of its input before it touches the broker or the ledger, so a
//! refusal changes nothing. Broker calls come first and the ledger records them in one
//! transaction afterwards; an order the broker already has (a crash in between) is found
//! again by its client order id, as in the daily run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use systrade_backtest::dec;
use systrade_broker::{
    Broker, BrokerOrder, OrderRequest, OrderStatus, OrderType, RetryPolicy, TimeInForce,
};
use systrade_config::ReadOptions;
use systrade_core::Symbol;
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_store::{Approval, Ledger, LedgerOrder, StopRow};

use crate::day::{qty_text, retry};
use crate::desk::Desk;
use crate::logs::Logs;
use crate::orders::stop_request;
use crate::stops::{in_force, protected_qty, put_stop, stop_row};
use crate::submit::place_once;
use crate::sync::{FillSync, merge};
use crate::venue::Venue;
use crate::{bad, refused, strategy_name};
use systrade_config::run::BrokerKind;

/// A config loaded for its book: the desk (data, broker settings) and the book's name.
pub struct ApprovalBook {
    pub config: PathBuf,
    pub desk: Desk,
    pub name: String,
    /// `--broker`: the venue instead of the config's `[run] broker`.
    pub broker: Option<BrokerKind>,
    /// `--live`: orders may go to a live account (with SYSTRADE_LIVE_CONFIRM).
    pub live: bool,
}

impl ApprovalBook {
    pub fn load(
        config: &Path,
        data: Option<&Path>,
        read: &ReadOptions,
        now: DateTime<Utc>,
    ) -> anyhow::Result<ApprovalBook> {
        let (desk, _) = Desk::load(config, data, read, None, now)?;
        let name = strategy_name(config, desk.run_cfg().name.as_deref());
        Ok(ApprovalBook {
            config: config.to_path_buf(),
            desk,
            name,
            broker: None,
            live: false,
        })
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.desk.run_cfg().max_retries,
            base_delay: Duration::from_millis(self.desk.run_cfg().retry_base_ms),
        }
    }

    /// The book's venue: its configured broker and account under `home`.
    pub fn venue(&self, home: &Path) -> Venue {
        Venue::new(
            self.broker.unwrap_or(self.desk.run_cfg().broker),
            home,
            &self.desk.run_cfg().account,
        )
    }

    fn logs(&self, home: &Path, session: NaiveDate, label: &str, stamp: &str) -> Logs {
        Logs::new(
            &home.join(format!("runs/{}/{session}/logs", self.name)),
            label,
            &self.name,
            stamp,
        )
    }
}

/// What sending a batch of approved orders did.
pub struct Released {
    /// The orders as the broker now has them (and any stop changed to make room for a sell).
    pub orders: Vec<LedgerOrder>,
    /// Stop rows to set (`None`: the symbol's stop is gone).
    pub stops: Vec<(Symbol, Option<StopRow>)>,
    pub fills: FillSync,
}

/// The orders waiting for approval that `ids` name (all of the book's with `all`), checked:
/// each exists, is the book's, waits for approval, all for one session. Sells come first
/// (their cash pays the buys, as in the daily run).
pub fn choose(
    ledger: &Ledger,
    book: &ApprovalBook,
    ids: &[String],
    all: bool,
) -> anyhow::Result<Vec<LedgerOrder>> {
    let mut chosen = if all {
        ledger.pending(Some(&book.name))?
    } else {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                return Err(bad(format!("order {id} is named twice")));
            }
            let o = ledger.order(&ClientOrderId(id.clone()))?.ok_or_else(|| {
                bad(format!(
                    "order {id}: not in the ledger {}",
                    ledger.path().display()
                ))
            })?;
            if o.strategy != book.name {
                return Err(bad(format!(
                    "order {id} belongs to book {:?}, not {:?} ({})",
                    o.strategy,
                    book.name,
                    book.config.display()
                )));
            }
            if o.status != OrderStatus::Staged || o.approval != Some(Approval::Pending) {
                return Err(bad(format!(
                    "order {id} ({} {}) does not wait for approval: it is {}{}",
                    o.symbol,
                    o.purpose,
                    o.status,
                    match o.approval {
                        Some(Approval::Manual) =>
                            " at the manual level (trade it by hand)".to_string(),
                        Some(x) => format!(", approval {x}"),
                        None => String::new(),
                    }
                )));
            }
            out.push(o);
        }
        out
    };
    let sessions: BTreeSet<NaiveDate> = chosen.iter().map(|o| o.market_day).collect();
    if sessions.len() > 1 {
        return Err(bad(format!(
            "the orders are for different sessions ({}); approve one session at a time",
            sessions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    chosen.sort_by_key(|o| o.side == Side::Buy);
    Ok(chosen)
}

/// Sends `orders` (all of one session, sells first) to the book's broker and records what it
/// did in one ledger transaction: a sell first shrinks or cancels the stop that reserves its
/// units; new entries filled at once are protected now, not at the next run.
pub fn release(
    home: &Path,
    book: &ApprovalBook,
    ledger: &mut Ledger,
    orders: &[LedgerOrder],
    stamp: &str,
) -> anyhow::Result<Released> {
    let Some(session) = orders.first().map(|o| o.market_day) else {
        return Err(bad("no orders to release"));
    };
    let d = &book.desk;
    // The kill switch: no new risk goes out, whoever releases it (sells still do).
    let buys: Vec<String> = orders
        .iter()
        .filter(|o| o.side == Side::Buy && !o.kind.is_stop())
        .map(|o| format!("{} {}", o.client_order_id, o.symbol))
        .collect();
    if !buys.is_empty() && crate::gates::kill_switch(home, d.run_cfg()) {
        return Err(bad(format!(
            "{}: the kill switch is set: no buy goes to the broker ({}); clear it at the desk first",
            book.name,
            buys.join(", ")
        )));
    }
    let mut broker = book.venue(home).connect_for_orders(d, session, book.live)?;
    let broker = &mut *broker;
    let policy = book.policy();
    let mut logs = book.logs(home, session, &format!("approve {stamp}"), stamp);
    let mut r = Released {
        orders: Vec::new(),
        stops: Vec::new(),
        fills: FillSync::default(),
    };
    for o in orders {
        if d.twap()
            .is_some_and(|t| crate::twap::works(t, o.qty, o.decision_price, o.purpose))
        {
            // A large order of a TWAP book is worked in slices by the intraday cycles.
            logs.write(
                "order_submit",
                Some(o.symbol.as_str()),
                "twap_planned",
                json!({"client_order_id": o.client_order_id, "side": o.side, "qty": qty_text(o.qty),
                       "purpose": o.purpose, "approved": stamp}),
            );
            r.orders.push(LedgerOrder {
                approval: Some(Approval::Approved),
                note: Some(format!(
                    "approved {stamp}; worked as TWAP slices by the intraday cycles (`systrade run --cycle intraday`)"
                )),
                ..o.clone()
            });
            continue;
        }
        if o.side == Side::Sell
            && retry(policy, &mut logs, "order", || {
                broker.order(&o.client_order_id)
            })?
            .is_none()
        {
            make_room(broker, (&mut logs, policy), book, ledger, o, &mut r)?;
        }
        let req = OrderRequest {
            client_order_id: o.client_order_id.clone(),
            symbol: o.symbol.clone(),
            side: o.side,
            qty: o.qty,
            // A sheet's limit price goes to the broker as a limit order (a day order: what
            // it does not fill in its session expires there).
            order_type: match o.limit_price {
                Some(limit) => OrderType::Limit { limit },
                None => OrderType::Market,
            },
            tif: TimeInForce::Day,
            session,
        };
        let b = place_once(broker, &req, &mut logs, policy)?.order();
        logs.write(
            "order_submit",
            Some(o.symbol.as_str()),
            b.status.as_str(),
            json!({"client_order_id": o.client_order_id, "side": o.side, "qty": qty_text(o.qty),
                   "filled_qty": qty_text(b.filled_qty), "avg_price": b.avg_price.map(qty_text),
                   "purpose": o.purpose, "approved": stamp, "why": b.reason}),
        );
        let mut approved = o.clone();
        approved.approval = Some(Approval::Approved);
        approved.note = Some(format!("approved {stamp}"));
        r.orders.push(merge(&approved, &b));
    }
    protect(broker, (&mut logs, policy), book, ledger, orders, &mut r)?;
    // The approved orders are in the ledger (staged), so their fills are matched here.
    let account = &book.desk.run_cfg().account;
    r.fills = FillSync::collect(broker, ledger, &book.name, account, &mut logs, policy)?;
    r.fills.log(&mut logs);
    record(ledger, book, &r, stamp)?;
    Ok(r)
}

/// Frees the units a protective stop reserves for sell `o`: the stop is replaced by one on
/// what stays held (one step, so the position is never without protection), or canceled
/// when nothing does.
fn make_room(
    broker: &mut dyn Broker,
    (logs, policy): (&mut Logs, RetryPolicy),
    book: &ApprovalBook,
    ledger: &Ledger,
    o: &LedgerOrder,
    r: &mut Released,
) -> anyhow::Result<()> {
    let held = retry(policy, logs, "positions", || broker.positions())?
        .into_iter()
        .find(|p| p.symbol == o.symbol);
    let Some(held) = held else {
        return Ok(());
    };
    if held.qty - held.reserved >= o.qty {
        return Ok(());
    }
    let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
    let existing: Vec<&BrokerOrder> = open
        .iter()
        .filter(|x| x.symbol == o.symbol && x.order_type.is_stop())
        .collect();
    let Some(level) = existing.first().and_then(|s| s.order_type.stop_price()) else {
        return Ok(());
    };
    let keep = (held.qty - o.qty).max(Decimal::ZERO);
    let why = format!("sell {} approved", o.client_order_id);
    if keep.is_zero() {
        for stop in &existing {
            let c = retry(policy, logs, "cancel", || {
                broker.cancel(&stop.client_order_id)
            })?;
            if let Some(old) = ledger.order(&stop.client_order_id)? {
                let mut x = merge(&old, &c);
                x.note = Some(format!("canceled for sell {}", o.client_order_id));
                r.orders.push(x);
            }
            logs.write(
                "stop_updates",
                Some(o.symbol.as_str()),
                "canceled",
                json!({"client_order_id": stop.client_order_id, "why": why}),
            );
        }
        r.stops.push((o.symbol.clone(), None));
        return Ok(());
    }
    let req = stop_request(&book.name, o.market_day, &o.symbol, keep, level)?;
    let mut put = put_stop(broker, (logs, policy), ledger, &book.name, &req, &existing)?;
    if put.rejected() {
        return Err(anyhow::anyhow!(
            "{}: the broker refused to shrink stop {} to {} ({}); the sell was not sent",
            o.symbol,
            existing[0].client_order_id,
            keep.normalize(),
            put.placed.reason.unwrap_or_default()
        ));
    }
    put.records[0].note = Some(format!("resized for sell {}", o.client_order_id));
    r.stops.push((o.symbol.clone(), Some(stop_row(&req))));
    logs.write(
        "stop_updates",
        Some(o.symbol.as_str()),
        "placed",
        json!({"level": qty_text(level), "qty": qty_text(keep),
               "replaced": existing[0].client_order_id, "why": why}),
    );
    r.orders.extend(put.records);
    Ok(())
}

/// Places the protective stop of each symbol an approved buy added to, at the level the
/// strategy carries for it (strategies with stops only), on everything held.
fn protect(
    broker: &mut dyn Broker,
    (logs, policy): (&mut Logs, RetryPolicy),
    book: &ApprovalBook,
    ledger: &Ledger,
    orders: &[LedgerOrder],
    r: &mut Released,
) -> anyhow::Result<()> {
    let Some(session) = orders.first().map(|o| o.market_day) else {
        return Ok(());
    };
    let bought: BTreeSet<Symbol> = orders
        .iter()
        .filter(|o| o.side == Side::Buy)
        .map(|o| o.symbol.clone())
        .collect();
    protect_symbols(broker, (logs, policy), (book, ledger), session, &bought, r)
}

/// Places the protective stop of each of `symbols` that is held, at the level the strategy
/// carries for it, on what working sells leave of it (strategies with stops only).
fn protect_symbols(
    broker: &mut dyn Broker,
    (logs, policy): (&mut Logs, RetryPolicy),
    (book, ledger): (&ApprovalBook, &Ledger),
    session: NaiveDate,
    symbols: &BTreeSet<Symbol>,
    r: &mut Released,
) -> anyhow::Result<()> {
    if !book.desk.uses_stops() {
        return Ok(());
    }
    let carried = ledger.carried(&book.name)?;
    let held = retry(policy, logs, "positions", || broker.positions())?;
    let working = retry(policy, logs, "open_orders", || broker.open_orders())?;
    for sym in symbols {
        let Some(qty) = held
            .iter()
            .find(|p| &p.symbol == sym)
            .map(|p| protected_qty(p.qty, &working, sym))
            .filter(|q| *q > Decimal::ZERO)
        else {
            continue;
        };
        let Some(level) = carried.tickers.get(sym).and_then(|t| t.0).map(dec) else {
            logs.write(
                "stop_updates",
                Some(sym.as_str()),
                "rejected",
                json!({"why": "no stop level carried for it; the next run places one"}),
            );
            continue;
        };
        let open = retry(policy, logs, "open_orders", || broker.open_orders())?;
        let existing: Vec<&BrokerOrder> = open
            .iter()
            .filter(|o| &o.symbol == sym && o.order_type.is_stop())
            .collect();
        let req = stop_request(&book.name, session, sym, qty, level)?;
        if in_force(&existing, &req).is_some() {
            continue;
        }
        let put = put_stop(broker, (logs, policy), ledger, &book.name, &req, &existing)?;
        let detail = json!({"level": qty_text(level), "qty": qty_text(qty),
                            "why": put.placed.reason.as_deref().unwrap_or("the entry filled")});
        if put.rejected() {
            logs.write("stop_updates", Some(sym.as_str()), "rejected", detail);
        } else {
            logs.write("stop_updates", Some(sym.as_str()), "placed", detail);
            r.stops.push((sym.clone(), Some(stop_row(&req))));
        }
        r.orders.extend(put.records);
    }
    Ok(())
}

/// `systrade protect`: after the open, every held position of the book without a working
/// stop on all of it gets the one the strategy carries for it — the entries a venue filled at the open
/// (orders it queued before the open) are protected in their own session, as the backtest
/// protects them, instead of at the next run. The venue's fills are booked with it.
pub fn protect_held(
    home: &Path,
    book: &ApprovalBook,
    ledger: &mut Ledger,
    session: NaiveDate,
    stamp: &str,
) -> anyhow::Result<Released> {
    if !book.desk.uses_stops() {
        return Err(bad(format!(
            "{}: the strategy defines no protective stops",
            book.config.display()
        )));
    }
    let mut broker = book
        .venue(home)
        .connect_for_orders(&book.desk, session, book.live)?;
    let broker = &mut *broker;
    let policy = book.policy();
    let mut logs = book.logs(home, session, &format!("protect {stamp}"), stamp);
    let account = &book.desk.run_cfg().account;
    let mut r = Released {
        orders: Vec::new(),
        stops: Vec::new(),
        fills: FillSync::default(),
    };
    let open = retry(policy, &mut logs, "open_orders", || broker.open_orders())?;
    // Positions without exactly one stop on what working sells leave of them: new entries,
    // and adds the open filled on top of a stop sized for yesterday's quantity.
    let uncovered: BTreeSet<Symbol> = retry(policy, &mut logs, "positions", || broker.positions())?
        .into_iter()
        .filter(|p| p.qty > Decimal::ZERO)
        .filter(|p| {
            let stops: Vec<&BrokerOrder> = open
                .iter()
                .filter(|o| o.symbol == p.symbol && o.order_type.is_stop())
                .collect();
            let want = protected_qty(p.qty, &open, &p.symbol);
            !matches!(stops[..], [one] if one.remaining() == want)
        })
        .map(|p| p.symbol)
        .collect();
    protect_symbols(
        broker,
        (&mut logs, policy),
        (book, ledger),
        session,
        &uncovered,
        &mut r,
    )?;
    // The fills and order statuses last, so they are the venue's after the stops moved.
    r.fills = FillSync::collect(broker, ledger, &book.name, account, &mut logs, policy)?;
    r.fills.log(&mut logs);
    record(ledger, book, &r, stamp)?;
    Ok(r)
}

/// Records what `release` did, in one transaction.
fn record(
    ledger: &mut Ledger,
    book: &ApprovalBook,
    r: &Released,
    stamp: &str,
) -> anyhow::Result<()> {
    let name = book.name.as_str();
    ledger
        .write(&format!("approve {stamp}"), |w| {
            for o in &r.orders {
                w.upsert_order(o)?;
            }
            for (s, row) in &r.stops {
                w.set_stop(name, s, row.as_ref())?;
            }
            r.fills.book(w, name, &book.desk.run_cfg().account)
        })
        .map_err(refused)?;
    Ok(())
}

/// What `cancel` did: each order as the ledger now records it.
pub struct Canceled {
    pub orders: Vec<LedgerOrder>,
}

/// The orders `ids` name, checked before anything is touched: each exists, belongs to `book`
/// (when given) and is staged or working. Returns (staged, working).
pub fn cancelable(
    ledger: &Ledger,
    ids: &[String],
    book: Option<&str>,
) -> anyhow::Result<(Vec<LedgerOrder>, Vec<LedgerOrder>)> {
    let mut staged = Vec::new();
    let mut working = Vec::new();
    for id in ids {
        let o = ledger.order(&ClientOrderId(id.clone()))?.ok_or_else(|| {
            bad(format!(
                "order {id}: not in the ledger {}",
                ledger.path().display()
            ))
        })?;
        if let Some(b) = book
            && o.strategy != b
        {
            return Err(bad(format!(
                "order {id} belongs to book {:?}, not {b:?}",
                o.strategy
            )));
        }
        match o.status {
            OrderStatus::Staged => staged.push(o),
            s if s.is_open() => working.push(o),
            s => {
                return Err(bad(format!(
                    "order {id} ({} {}) is already {s}",
                    o.symbol, o.purpose
                )));
            }
        }
    }
    Ok((staged, working))
}

/// Cancels staged orders in the ledger and working ones at `book`'s broker (at the account's
/// own clock: canceling must not move it), then records it all in one transaction.
/// Cancels the orders `ids` name (of book `name` when given): staged ones in the ledger,
/// working ones at the broker of the book `load` gives (loaded only when one works; none:
/// a working order is refused).
pub fn cancel_ids(
    home: &Path,
    ledger: &mut Ledger,
    ids: &[String],
    name: Option<&str>,
    load: impl FnOnce() -> anyhow::Result<Option<ApprovalBook>>,
    stamp: &str,
) -> anyhow::Result<Canceled> {
    let (staged, working) = cancelable(ledger, ids, name)?;
    let book = if working.is_empty() { None } else { load()? };
    cancel(home, ledger, (&staged, &working), book.as_ref(), stamp)
}

pub fn cancel(
    home: &Path,
    ledger: &mut Ledger,
    (staged, working): (&[LedgerOrder], &[LedgerOrder]),
    book: Option<&ApprovalBook>,
    stamp: &str,
) -> anyhow::Result<Canceled> {
    let mut updates: Vec<LedgerOrder> = staged
        .iter()
        .map(|o| LedgerOrder {
            status: OrderStatus::Canceled,
            note: Some(format!("canceled before it was sent ({stamp})")),
            ..o.clone()
        })
        .collect();
    let mut cleared = Vec::new();
    if let Some(first) = working.first() {
        let Some(book) = book else {
            return Err(bad(format!(
                "order {} is working at the broker: pass --config to cancel it there",
                first.client_order_id
            )));
        };
        let venue = book.venue(home);
        let session = venue
            .current_session()?
            .ok_or_else(|| bad(format!("no paper account at {}", venue.location())))?;
        let mut broker = venue.connect_for_orders(&book.desk, session, book.live)?;
        let broker = &mut *broker;
        let policy = book.policy();
        let mut logs = book.logs(home, session, &format!("cancel {stamp}"), stamp);
        for o in working {
            let c = retry(policy, &mut logs, "cancel", || {
                broker.cancel(&o.client_order_id)
            })?;
            logs.write(
                "order_submit",
                Some(o.symbol.as_str()),
                c.status.as_str(),
                json!({"client_order_id": o.client_order_id, "why": "canceled by hand"}),
            );
            if o.kind.is_stop() && c.status.is_terminal() {
                cleared.push((o.strategy.clone(), o.client_order_id.clone()));
            }
            updates.push(merge(o, &c));
        }
    }
    ledger
        .write(&format!("cancel {stamp}"), |w| {
            for u in &updates {
                w.upsert_order(u)?;
            }
            for (strategy, id) in &cleared {
                w.clear_stop_order(strategy, id)?;
            }
            Ok(())
        })
        .map_err(refused)?;
    Ok(Canceled { orders: updates })
}

/// `orders` summed up for a person: id, side, quantity, symbol.
pub fn order_text(o: &LedgerOrder) -> String {
    format!(
        "{} {} {} {}",
        o.client_order_id,
        if o.side == Side::Buy { "BUY" } else { "SELL" },
        qty_text(o.qty),
        o.symbol
    )
}

/// The book's order `id` as the ledger now has it (falls back to `o`).
pub fn current(ledger: &Ledger, o: &LedgerOrder) -> anyhow::Result<LedgerOrder> {
    Ok(ledger
        .order(&o.client_order_id)?
        .unwrap_or_else(|| o.clone()))
}
