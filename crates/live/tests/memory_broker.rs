//! The daily run is generic over `Broker`: whole days run through a second venue — an
//! in-memory account written here from the venues' rules, sharing only the backtest's
//! fill/cost model with the paper adapter — leave the same ledger as the paper account.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;
use rust_decimal::Decimal;
use systrade_backtest::{dec, f, stop_trigger};
use systrade_broker::{
    Account, Broker, BrokerError, BrokerFill, BrokerOrder, OrderRequest, OrderStatus, OrderType,
    PaperConfig, Position, Preview,
};
use systrade_core::contracts::{ClientOrderId, Side};
use systrade_core::{DailyBar, Symbol};
use systrade_live::desk::Desk;
use systrade_live::schedule::Schedule;
use systrade_live::venue::{Connector, Venue};
use systrade_live::{RunRequest, run, run_with};
use systrade_testkit::shared;

/// An order as the in-memory venue keeps it.
#[derive(Clone)]
struct Held {
    o: BrokerOrder,
    /// The session a market order had its one try at the open.
    tried_on: Option<NaiveDate>,
}

/// The account: cash, positions (qty, cost), orders in arrival order, fills, its clock.
#[derive(Default)]
struct State {
    started: bool,
    cash: Decimal,
    positions: BTreeMap<Symbol, (Decimal, Decimal)>,
    orders: Vec<Held>,
    fills: Vec<BrokerFill>,
    synced_through: Option<NaiveDate>,
}

/// The venue: one account in memory, kept across days.
#[derive(Clone, Default)]
struct MemoryVenue(Rc<RefCell<State>>);

/// A connection to it at one session, over the desk's bars.
struct MemoryBroker<'d> {
    state: Rc<RefCell<State>>,
    cfg: PaperConfig,
    data: &'d BTreeMap<Symbol, Vec<DailyBar>>,
    session: NaiveDate,
}

impl Connector for MemoryVenue {
    fn connect<'d>(
        &self,
        _venue: &Venue,
        desk: &'d Desk,
        session: NaiveDate,
    ) -> anyhow::Result<Box<dyn Broker + 'd>> {
        let cfg = desk.paper_config();
        assert!(
            !cfg.shorting && cfg.margin == Decimal::ONE,
            "the in-memory venue is a cash account"
        );
        {
            let mut s = self.0.borrow_mut();
            if !s.started {
                s.started = true;
                s.cash = cfg.initial_cash;
                s.synced_through = session.pred_opt();
            }
        }
        let b = MemoryBroker {
            state: self.0.clone(),
            cfg,
            data: desk.bars(),
            session,
        };
        b.sync();
        Ok(Box::new(b))
    }
}

impl MemoryBroker<'_> {
    fn bar(&self, sym: &Symbol, d: NaiveDate) -> Option<&DailyBar> {
        let bars = self.data.get(sym)?;
        bars.binary_search_by_key(&d, |b| b.ts)
            .ok()
            .map(|i| &bars[i])
    }

    fn close_before(&self, sym: &Symbol, d: NaiveDate) -> Option<f64> {
        let bars = self.data.get(sym)?;
        let i = bars.partition_point(|b| b.ts < d);
        i.checked_sub(1).map(|k| bars[k].close)
    }

    fn held(s: &State, sym: &Symbol) -> Decimal {
        s.positions.get(sym).map_or(Decimal::ZERO, |p| p.0)
    }

    /// Held units not reserved by working sells (other than `except`).
    fn available(s: &State, sym: &Symbol, except: &[ClientOrderId]) -> Decimal {
        let reserved: Decimal = s
            .orders
            .iter()
            .filter(|h| {
                &h.o.symbol == sym
                    && h.o.side == Side::Sell
                    && h.o.status.is_open()
                    && !except.contains(&h.o.client_order_id)
            })
            .map(|h| h.o.remaining())
            .sum();
        Self::held(s, sym).max(Decimal::ZERO) - reserved
    }

    fn refusal(&self, s: &State, req: &OrderRequest, except: &[ClientOrderId]) -> Option<String> {
        if req.qty <= Decimal::ZERO {
            return Some(format!("qty must be positive, got {}", req.qty));
        }
        if !self.data.contains_key(&req.symbol) {
            return Some(format!("unknown symbol {}", req.symbol));
        }
        if req.order_type.limit_price().is_some() {
            return Some("the in-memory venue takes market and stop orders only".into());
        }
        let available = Self::available(s, &req.symbol, except);
        (req.side == Side::Sell && req.qty > available).then(|| {
            format!(
                "insufficient qty available for order (requested: {}, available: {})",
                req.qty.normalize(),
                available.normalize()
            )
        })
    }

    fn find(s: &mut State, id: &ClientOrderId) -> Option<usize> {
        s.orders.iter().position(|h| &h.o.client_order_id == id)
    }

    fn insert(s: &mut State, req: &OrderRequest, status: OrderStatus, reason: Option<String>) {
        let n = s.orders.len() + 1;
        s.orders.push(Held {
            o: BrokerOrder {
                client_order_id: req.client_order_id.clone(),
                broker_id: format!("mem-{n}"),
                symbol: req.symbol.clone(),
                side: req.side,
                qty: req.qty,
                order_type: req.order_type,
                tif: req.tif,
                session: req.session,
                status,
                filled_qty: Decimal::ZERO,
                avg_price: None,
                reason,
            },
            tried_on: None,
        });
    }

    /// One execution: the fill, the order's progress, cash and the position.
    fn execute(s: &mut State, i: usize, qty: Decimal, price: Decimal, fee: Decimal, d: NaiveDate) {
        let o = s.orders[i].o.clone();
        let n = s.fills.len() + 1;
        s.fills.push(BrokerFill {
            fill_id: format!("mem-fill-{n}"),
            client_order_id: o.client_order_id.clone(),
            symbol: o.symbol.clone(),
            side: o.side,
            qty,
            price,
            fee,
            date: d,
        });
        let filled = o.filled_qty + qty;
        let avg = match o.avg_price {
            Some(a) if !o.filled_qty.is_zero() => (a * o.filled_qty + price * qty) / filled,
            _ => price,
        };
        let h = &mut s.orders[i].o;
        h.filled_qty = filled;
        h.avg_price = Some(avg);
        h.status = if filled >= o.qty {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        let signed = if o.side == Side::Buy { qty } else { -qty };
        s.cash -= signed * price + fee;
        let (held, cost) = s.positions.get(&o.symbol).copied().unwrap_or_default();
        let new = held + signed;
        if new.is_zero() {
            s.positions.remove(&o.symbol);
        } else {
            let new_cost = if held.is_zero() || (held > Decimal::ZERO) == (signed > Decimal::ZERO) {
                cost + signed * price
            } else {
                cost * new / held
            };
            s.positions.insert(o.symbol.clone(), (new, new_cost));
        }
    }

    /// A market order's one try at the open of `bar`.
    fn fill_at_open(&self, s: &mut State, i: usize, bar: &DailyBar, d: NaiveDate) {
        s.orders[i].tried_on = Some(d);
        let o = s.orders[i].o.clone();
        let costs = self.cfg.costs;
        let side: i8 = if o.side == Side::Buy { 1 } else { -1 };
        let price = costs.fill_price(dec(bar.open), side, 0.0, bar);
        let mut qty = o.remaining();
        let mut short_of = None;
        if o.side == Side::Buy {
            let can = costs.affordable(qty, price, s.cash);
            if can < qty {
                short_of = Some("insufficient buying power for the rest");
            }
            qty = can;
        } else {
            let long = Self::held(s, &o.symbol).max(Decimal::ZERO);
            if qty > long {
                short_of = Some("account is not allowed to short");
                qty = long;
            }
        }
        if let Some(lot) = self.cfg.lot.filter(|l| *l > Decimal::ZERO) {
            qty = (qty / lot).trunc() * lot;
        }
        if qty <= Decimal::ZERO {
            s.orders[i].o.status = OrderStatus::Rejected;
            s.orders[i].o.reason = Some(short_of.unwrap_or("nothing to fill").into());
            return;
        }
        let fee = costs.fee(qty, price);
        Self::execute(s, i, qty, price, fee, d);
        if let Some(why) = short_of {
            s.orders[i].o.reason = Some(why.into());
        }
    }

    /// Market orders due at `d`'s open (sells first), then — the bar complete — stops
    /// inside it, and the day orders that had their try expire.
    fn process(&self, s: &mut State, d: NaiveDate, complete: bool) {
        let mut due: Vec<usize> = (0..s.orders.len())
            .filter(|&i| {
                let h = &s.orders[i];
                h.o.order_type == OrderType::Market
                    && h.o.status.is_open()
                    && h.tried_on.is_none()
                    && h.o.session <= d
            })
            .collect();
        due.sort_by_key(|&i| s.orders[i].o.side == Side::Buy);
        for i in due {
            if let Some(bar) = self.bar(&s.orders[i].o.symbol, d) {
                self.fill_at_open(s, i, bar, d);
            }
        }
        if !complete {
            return;
        }
        for i in 0..s.orders.len() {
            let o = s.orders[i].o.clone();
            let (Some(level), true, true) = (
                o.order_type.stop_price(),
                o.status.is_open(),
                o.session <= d,
            ) else {
                continue;
            };
            let Some(bar) = self.bar(&o.symbol, d) else {
                continue;
            };
            let Some(trigger) = stop_trigger(f(level), true, bar) else {
                continue;
            };
            let held = Self::held(s, &o.symbol);
            let qty = o.remaining().min(held.abs());
            if qty.is_zero() || held <= Decimal::ZERO {
                s.orders[i].o.status = OrderStatus::Canceled;
                s.orders[i].o.reason = Some("triggered with nothing left to protect".into());
                continue;
            }
            let price = self.cfg.costs.fill_price(dec(trigger), -1, 0.0, bar);
            let fee = self.cfg.costs.fee(qty, price);
            Self::execute(s, i, qty, price, fee, d);
            if qty < o.remaining() {
                s.orders[i].o.status = OrderStatus::Filled;
                s.orders[i].o.reason = Some("triggered; sold the whole position".into());
            }
        }
        for h in &mut s.orders {
            if h.o.order_type == OrderType::Market
                && h.o.status.is_open()
                && h.tried_on.is_some_and(|t| t <= d)
            {
                h.o.status = OrderStatus::Expired;
                h.o.reason.get_or_insert_with(|| {
                    "day order: the unfilled rest expired with the session".into()
                });
            }
        }
    }

    /// Plays the sessions between the last connection and this one.
    fn sync(&self) {
        let mut s = self.state.borrow_mut();
        let through = s.synced_through;
        let mut dates: Vec<NaiveDate> = s
            .orders
            .iter()
            .filter(|h| h.o.status.is_open())
            .filter_map(|h| self.data.get(&h.o.symbol))
            .flat_map(|bars| bars.iter().map(|b| b.ts))
            .filter(|d| *d < self.session && through.is_none_or(|t| *d > t))
            .collect();
        dates.sort();
        dates.dedup();
        for d in dates {
            self.process(&mut s, d, true);
        }
        self.process(&mut s, self.session, false);
        s.synced_through = self.session.pred_opt().max(through);
    }
}

impl Broker for MemoryBroker<'_> {
    fn kind(&self) -> &str {
        "memory"
    }

    fn is_live(&self) -> bool {
        false
    }

    fn account(&mut self) -> Result<Account, BrokerError> {
        let s = self.state.borrow();
        let mut equity = s.cash;
        for (sym, (qty, cost)) in &s.positions {
            let px = self
                .close_before(sym, self.session)
                .map(dec)
                .unwrap_or(*cost / *qty);
            equity += *qty * px;
        }
        Ok(Account {
            id: self.cfg.account_id.clone(),
            currency: self.cfg.currency.clone(),
            cash: s.cash,
            equity,
            paper: true,
            trading_blocked: false,
        })
    }

    fn positions(&mut self) -> Result<Vec<Position>, BrokerError> {
        let s = self.state.borrow();
        Ok(s.positions
            .iter()
            .map(|(sym, (qty, cost))| Position {
                symbol: sym.clone(),
                qty: *qty,
                avg_price: *cost / *qty,
                reserved: *qty - Self::available(&s, sym, &[]).max(Decimal::ZERO),
            })
            .collect())
    }

    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError> {
        let s = self.state.borrow();
        Ok(s.orders
            .iter()
            .filter(|h| h.o.status.is_open())
            .map(|h| h.o.clone())
            .collect())
    }

    fn order(&mut self, id: &ClientOrderId) -> Result<Option<BrokerOrder>, BrokerError> {
        let s = self.state.borrow();
        Ok(s.orders
            .iter()
            .find(|h| &h.o.client_order_id == id)
            .map(|h| h.o.clone()))
    }

    fn fills(&mut self, since: Option<NaiveDate>) -> Result<Vec<BrokerFill>, BrokerError> {
        let s = self.state.borrow();
        Ok(s.fills
            .iter()
            .filter(|x| since.is_none_or(|d| x.date >= d))
            .cloned()
            .collect())
    }

    fn submit(&mut self, req: &OrderRequest) -> Result<BrokerOrder, BrokerError> {
        let mut s = self.state.borrow_mut();
        if Self::find(&mut s, &req.client_order_id).is_some() {
            return Err(BrokerError::Duplicate(req.client_order_id.clone()));
        }
        match self.refusal(&s, req, &[]) {
            Some(why) => Self::insert(&mut s, req, OrderStatus::Rejected, Some(why)),
            None => {
                Self::insert(&mut s, req, OrderStatus::Accepted, None);
                if req.order_type == OrderType::Market
                    && req.session <= self.session
                    && let Some(bar) = self.bar(&req.symbol, self.session)
                {
                    let i = s.orders.len() - 1;
                    self.fill_at_open(&mut s, i, bar, self.session);
                }
            }
        }
        Ok(s.orders[s.orders.len() - 1].o.clone())
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<BrokerOrder, BrokerError> {
        let mut s = self.state.borrow_mut();
        let i = Self::find(&mut s, id).ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        let o = &mut s.orders[i].o;
        if !o.status.is_open() {
            return Err(BrokerError::Invalid(format!(
                "order {id} is already in \"{}\" state",
                o.status
            )));
        }
        o.status = OrderStatus::Canceled;
        o.reason = Some("canceled by the client".into());
        Ok(o.clone())
    }

    fn replace(
        &mut self,
        id: &ClientOrderId,
        new: &OrderRequest,
    ) -> Result<BrokerOrder, BrokerError> {
        let mut s = self.state.borrow_mut();
        let i = Self::find(&mut s, id).ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        if !s.orders[i].o.status.is_open() {
            return Err(BrokerError::Invalid(format!("order {id} is not open")));
        }
        if Self::find(&mut s, &new.client_order_id).is_some() {
            return Err(BrokerError::Duplicate(new.client_order_id.clone()));
        }
        match self.refusal(&s, new, std::slice::from_ref(id)) {
            Some(why) => Self::insert(&mut s, new, OrderStatus::Rejected, Some(why)),
            None => {
                s.orders[i].o.status = OrderStatus::Canceled;
                s.orders[i].o.reason = Some(format!("replaced by {}", new.client_order_id));
                Self::insert(&mut s, new, OrderStatus::Accepted, None);
            }
        }
        Ok(s.orders[s.orders.len() - 1].o.clone())
    }

    fn preview(
        &mut self,
        req: &OrderRequest,
        freeing: &[ClientOrderId],
    ) -> Result<Preview, BrokerError> {
        let s = self.state.borrow();
        let refusal = self.refusal(&s, req, freeing);
        Ok(Preview {
            client_order_id: req.client_order_id.clone(),
            accepted: refusal.is_none(),
            reason: refusal,
            est_price: None,
            est_fee: None,
        })
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// `configs/trend_crypto.toml` over the shared Binance candles.
fn crypto_cfg(dir: &Path, data: &Path) -> PathBuf {
    let committed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/trend_crypto.toml");
    let text = std::fs::read_to_string(committed).unwrap().replace(
        "source = \"../../shared/data/crypto_binance_spot/1d\"",
        &format!("source = {:?}", data.display().to_string()),
    );
    let p = dir.join("trend_crypto.toml");
    std::fs::write(&p, format!("{text}\n[run]\nretry_base_ms = 1\n")).unwrap();
    p
}

fn request(cfg: &Path, d: NaiveDate) -> RunRequest {
    let now: DateTime<Utc> = format!("{d}T00:05:00Z").parse().unwrap();
    RunRequest {
        configs: vec![cfg.to_path_buf()],
        broker: None,
        as_of: Some(d),
        dry_run: false,
        force_run: false,
        live: false,
        schedule: Schedule::Any,
        data: None,
        now,
        read: Default::default(),
        refresh: true,
    }
}

/// A ledger table as text rows, without the venue's own ids (broker order and fill ids),
/// which no two venues share.
fn table(home: &Path, sql: &str) -> Vec<Vec<String>> {
    let c = Connection::open(home.join("ledger.sqlite")).unwrap();
    let mut st = c.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => String::new(),
                rusqlite::types::ValueRef::Integer(x) => x.to_string(),
                rusqlite::types::ValueRef::Real(x) => x.to_string(),
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    String::from_utf8_lossy(t).into_owned()
                }
            })
            .collect())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn test_days_through_an_in_memory_venue_leave_the_same_ledger_as_the_paper_account() {
    let Some(data) = shared("data/crypto_binance_spot/1d") else {
        panic!("../shared/data/crypto_binance_spot/1d is needed");
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = crypto_cfg(dir.path(), &data);
    let (paper_home, memory_home) = (dir.path().join("paper"), dir.path().join("memory"));
    let memory = MemoryVenue::default();
    // Late summer 2021: the rally and the 7 September crash — entries, trailing stops,
    // stop-outs, exits.
    let mut d = day("2021-08-16");
    while d <= day("2021-09-24") {
        let a = request(&cfg, d);
        let p = run(&paper_home, &a).unwrap_or_else(|e| panic!("{d} paper: {e:#}"));
        let m = run_with(&memory_home, &a, &memory).unwrap_or_else(|e| panic!("{d} memory: {e:#}"));
        assert_eq!((p.len(), m.len()), (1, 1), "{d}: one summary each");
        d = d.succ_opt().unwrap();
    }
    let orders = "SELECT client_order_id, strategy, market_day, symbol, side, kind, qty, \
                  stop_price, purpose, status, filled_qty, avg_price, note, decision_price, \
                  approval FROM orders ORDER BY client_order_id";
    let fills = "SELECT client_order_id, strategy, symbol, side, qty, price, fee, date, purpose \
                 FROM fills ORDER BY date, client_order_id, qty";
    let stops = "SELECT * FROM stops ORDER BY 1, 2";
    let positions = "SELECT * FROM positions ORDER BY 1, 2";
    let equity = "SELECT * FROM equity ORDER BY 1, 2";
    for (what, sql) in [
        ("orders", orders),
        ("fills", fills),
        ("stops", stops),
        ("positions", positions),
        ("equity", equity),
    ] {
        let (p, m) = (table(&paper_home, sql), table(&memory_home, sql));
        assert_eq!(p, m, "{what}: the two venues' ledgers differ");
    }
    // The window trades: the comparison is not of two empty books.
    let filled = table(&paper_home, fills);
    let stop_fills = table(
        &paper_home,
        "SELECT count(*) FROM fills f JOIN orders o USING (client_order_id) WHERE o.kind = 'stop'",
    );
    assert!(filled.len() >= 10, "{} fills", filled.len());
    assert!(stop_fills[0][0] != "0", "no stop fired in the window");
    // And the daily artifacts agree, the venue's name aside.
    let summary = |home: &Path| {
        let t = std::fs::read_to_string(
            home.join("runs/trend_crypto/2021-09-24/daily_summary_2021-09-24.json"),
        )
        .unwrap();
        t.replace("\"memory\"", "\"paper\"")
    };
    assert_eq!(summary(&paper_home), summary(&memory_home));
}
