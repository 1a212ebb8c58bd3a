//! The anchored-VWAP system loaded with its data (`systrade scan`, `backtest`): daily bars
//! from `data.source`, one-minute bars from `data.intraday` turned into the session bars
//! the stops read, and the artifacts each command writes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde_json::json;
use systrade_avwap::backtest::{self, Outcome, Settings};
use systrade_avwap::intraday::{Sessions, daily_from, session_bars};
use systrade_avwap::panel::Panel;
use systrade_avwap::scan::{self, Scan, num};
use systrade_avwap::{AvwapError, AvwapParams};
use systrade_config::ReadOptions;
use systrade_config::avwap::AvwapConfig;
use systrade_core::fsio::write_atomic;
use systrade_core::{DailyBar, Market, Symbol};
use systrade_data::parse::Content;
use systrade_data::{Bars, DataSource};

use crate::bad;
use crate::capacity::Capacity;

/// A config loaded with its data.
pub struct Loaded {
    pub cfg: AvwapConfig,
    pub params: AvwapParams,
    pub panels: BTreeMap<Symbol, Panel>,
    /// One-minute bars of the regular session, by session, per symbol with intraday data
    /// (stops trigger on them; the higher lows are read on `exits.bar_minutes` bars built
    /// from them).
    pub sessions: BTreeMap<Symbol, Sessions>,
    /// Symbols whose daily bars were built from their intraday bars.
    pub from_intraday: Vec<Symbol>,
    pub source: PathBuf,
}

/// Loads `config`; `data` overrides `data.source`.
pub fn load(config: &Path, data: Option<&Path>, read: &ReadOptions) -> anyhow::Result<Loaded> {
    let cfg = AvwapConfig::load(config).map_err(bad)?;
    let params = cfg.params();
    let source = data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cfg.source(config));
    let opts = cfg.parse_options(read);
    let wanted: Option<Vec<Symbol>> = cfg
        .data
        .tickers
        .as_ref()
        .map(|t| t.iter().filter_map(|s| Symbol::new(s).ok()).collect());
    let keep = |s: &Symbol| wanted.as_ref().is_none_or(|w| w.contains(s));
    let mut daily: BTreeMap<Symbol, Vec<DailyBar>> = BTreeMap::new();
    let src =
        DataSource::open(&source).with_context(|| format!("{}: data.source", config.display()))?;
    for s in src
        .all_daily(&opts)
        .with_context(|| format!("{}: loading {}", config.display(), source.display()))?
    {
        if s.market != Market::Us {
            return Err(bad(format!(
                "{}: {} in {} is a {} series; the AVWAP system trades New York sessions",
                config.display(),
                s.symbol,
                source.display(),
                s.market.as_str()
            )));
        }
        if keep(&s.symbol) {
            daily.insert(s.symbol, s.bars);
        }
    }
    let cal = Market::Us.calendar();
    let mut sessions = BTreeMap::new();
    let mut from_intraday = Vec::new();
    if let Some(dir) = cfg.intraday(config) {
        for (sym, minute) in read_intraday(config, "data.intraday", &dir, &opts)? {
            if !keep(&sym) {
                continue;
            }
            let s = session_bars(&minute, 1, cal);
            if !daily.contains_key(&sym) {
                daily.insert(sym.clone(), daily_from(&s));
                from_intraday.push(sym.clone());
            }
            sessions.insert(sym, s);
        }
    }
    if let Some(w) = &wanted {
        let missing: Vec<&str> = w
            .iter()
            .filter(|s| !daily.contains_key(*s))
            .map(Symbol::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!(
                "{}: data.tickers: no prices for {} in {}",
                config.display(),
                missing.join(", "),
                source.display()
            )));
        }
    }
    if daily.is_empty() {
        return Err(bad(format!(
            "{}: data.source {} holds no daily prices",
            config.display(),
            source.display()
        )));
    }
    let panels = daily
        .into_iter()
        .map(|(s, bars)| (s.clone(), Panel::new(s, bars, &params.scan)))
        .collect();
    Ok(Loaded {
        cfg,
        params,
        panels,
        sessions,
        from_intraday,
        source,
    })
}

/// Every intraday price file under `dir` (the config's `key`), by symbol (one file per
/// symbol, one-minute bars).
pub fn read_intraday(
    config: &Path,
    key: &str,
    dir: &Path,
    opts: &systrade_data::ParseOptions,
) -> anyhow::Result<BTreeMap<Symbol, Vec<systrade_core::IntradayBar>>> {
    let files = systrade_data::import::read_folder(dir, opts, &|_, _| {})
        .with_context(|| format!("{}: {key} {}", config.display(), dir.display()))?;
    let mut out = BTreeMap::new();
    for f in files {
        let Content::Prices(s) = f.content else {
            continue;
        };
        let Bars::Intraday(bars) = s.bars else {
            return Err(bad(format!(
                "{}: {key}: {} holds daily bars; this folder is for one-minute bars (daily files go in data.source)",
                config.display(),
                f.path.display()
            )));
        };
        if 60 % s.interval.seconds() != 0 && s.interval.seconds() != 60 {
            return Err(bad(format!(
                "{}: {key}: {} has {}-second bars; one-minute bars are needed",
                config.display(),
                f.path.display(),
                s.interval.seconds()
            )));
        }
        if out.insert(s.symbol.clone(), bars).is_some() {
            return Err(bad(format!(
                "{}: {key}: two files hold {} (one file per symbol)",
                config.display(),
                s.symbol
            )));
        }
    }
    Ok(out)
}

impl Loaded {
    /// The scan after the close of `as_of`, refused as `stale_watchlist` when the data's
    /// latest session is older than the last session on or before it.
    pub fn scan(&self, as_of: NaiveDate) -> Result<Scan, AvwapError> {
        scan::scan(
            &self.panels,
            as_of,
            self.params.scan.anchor,
            &self.params.scan,
            Market::Us.calendar(),
        )
    }

    /// The backtest over the config's window.
    pub fn backtest(&self) -> Outcome {
        let b = &self.cfg.backtest;
        self.backtest_with(&self.cfg, &self.params, &self.panels, (b.start, b.end))
    }

    /// The backtest of another config's parameters over this data (`panels` built with its
    /// scan parameters), over `window` (first and last session traded).
    pub fn backtest_with(
        &self,
        cfg: &AvwapConfig,
        params: &AvwapParams,
        panels: &BTreeMap<Symbol, Panel>,
        (start, end): (Option<NaiveDate>, Option<NaiveDate>),
    ) -> Outcome {
        let b = &cfg.backtest;
        let settings = Settings {
            cash: b.cash,
            start,
            end,
            fee_bps: b.fee_bps,
            slippage_bps: b.slippage_bps,
        };
        backtest::run(&backtest::Inputs {
            panels,
            sessions: &self.sessions,
            params,
            safety: &cfg.safety,
            settings: &settings,
            cal: Market::Us.calendar(),
        })
    }
}

/// Writes `candidates_D.csv` and `scan_D.csv` (every symbol's verdict) into `out`.
pub fn write_scan(scan: &Scan, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let day = scan.data_date;
    write_files(
        out,
        [
            (format!("candidates_{day}.csv"), scan::candidates_csv(scan)),
            (format!("scan_{day}.csv"), scan::scan_csv(scan)),
        ],
    )
}

/// Writes each `(name, text)` into `out` atomically; returns the paths.
fn write_files<N: AsRef<Path>>(
    out: &Path,
    files: impl IntoIterator<Item = (N, String)>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, text) in files {
        let p = out.join(name);
        write_atomic(&p, text.as_bytes()).with_context(|| format!("writing {}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}

/// The header of the backtest's `trades.csv`.
pub const TRADES_HEADER: &str = "trade_id,symbol,scan_date,anchor_kind,anchor_date,entry_date,entry_price,qty,initial_stop,stop_basis,risk,risk_budget,exit_date,exit_time,exit_price,exit_reason,final_stop,pnl,fees,r_multiple,mae,mfe,mae_r,mfe_r,stop_efficiency,holding_days,stop_mode,intraday_days,daily_days,open";

/// `trades.csv`: one row per trade with its analytics.
pub fn trades_csv(o: &Outcome) -> String {
    let mut out = format!("{TRADES_HEADER}\n");
    for t in &o.trades {
        let s = &t.stats;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{:.2},{:.2},{},{},{},{},{},{:.2},{:.2},{},{},{},{},{},{},{},{},{},{},{}",
            t.id,
            t.symbol,
            t.scan.date,
            t.scan.anchor.map(|a| a.kind.as_str()).unwrap_or(""),
            t.scan
                .anchor_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
            t.entry_date,
            num(Some(t.entry_price)),
            t.qty,
            num(Some(t.initial_stop)),
            t.stop_basis.as_str(),
            t.risk,
            t.budget,
            t.exit.day,
            t.exit
                .at
                .map(|x| x.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default(),
            num(Some(t.exit_price)),
            t.exit.reason.as_str(),
            num(t.path.last().map(|p| p.level)),
            t.pnl,
            t.fees,
            num(Some(s.r_multiple)),
            num(Some(s.mae)),
            num(Some(s.mfe)),
            num(Some(s.mae_r)),
            num(Some(s.mfe_r)),
            num(s.stop_efficiency),
            t.holding_days,
            t.stop_mode(),
            t.intraday_days,
            t.daily_days,
            u8::from(t.open),
        );
    }
    out
}

/// `stops.csv`: every level of every trade's stop path, from when it was in force.
pub fn stops_csv(o: &Outcome) -> String {
    let mut out = String::from("trade_id,symbol,effective,level,source\n");
    for t in &o.trades {
        for p in &t.path {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                t.id,
                t.symbol,
                p.effective.format("%Y-%m-%dT%H:%M:%SZ"),
                num(Some(p.level)),
                p.source.as_str()
            );
        }
    }
    out
}

/// `candidates.csv`: every scan's candidates and what became of each at the next open.
pub fn candidates_csv(o: &Outcome) -> String {
    let mut out = format!(
        "scan_date,{},entry_date,outcome,qty,stop,entry_price\n",
        scan::CANDIDATES_HEADER
    );
    for c in &o.candidates {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            c.row.date,
            scan::candidate_fields(&c.row),
            c.entry_date.map(|d| d.to_string()).unwrap_or_default(),
            c.outcome,
            c.qty.map(|q| q.to_string()).unwrap_or_default(),
            num(c.stop),
            num(c.entry_price),
        );
    }
    out
}

/// `timeseries.csv`: the account after each close.
pub fn timeseries_csv(o: &Outcome) -> String {
    let mut out = String::from("date,equity,cash,gross,n_positions,ret\n");
    for r in &o.series {
        let _ = writeln!(
            out,
            "{},{:.2},{:.2},{},{},{}",
            r.date,
            r.equity,
            r.cash,
            num(Some(r.gross)),
            r.n_positions,
            num(Some(r.ret))
        );
    }
    out
}

/// `summary.json`: the metrics, the exits by reason and the stop modes.
/// Every fill of the run — entries, and exits before the data ended — against its name's
/// mean volume over the `scan.adv_window` bars before the session.
pub fn capacity(l: &Loaded, o: &Outcome) -> Option<Capacity> {
    capacity_with(&l.panels, &l.params, o)
}

/// [`capacity`] of a run on `panels` built with `params`.
pub fn capacity_with(
    panels: &BTreeMap<Symbol, Panel>,
    params: &AvwapParams,
    o: &Outcome,
) -> Option<Capacity> {
    let share = |s: &Symbol, day: NaiveDate, qty: u64| -> Option<f64> {
        let p = panels.get(s)?;
        let t = p.index_of(day)?;
        let adv = p.avg_volume.get(t.checked_sub(1)?).copied().flatten()?;
        (adv > 0.0).then(|| qty as f64 / adv)
    };
    let fills = o.trades.iter().flat_map(|t| {
        let entry = (
            &t.symbol,
            t.entry_date,
            share(&t.symbol, t.entry_date, t.qty),
        );
        let exit = (!t.open).then(|| (&t.symbol, t.exit.day, share(&t.symbol, t.exit.day, t.qty)));
        std::iter::once(entry).chain(exit)
    });
    Capacity::of(fills, params.scan.adv_window)
}

pub fn summary(l: &Loaded, o: &Outcome) -> anyhow::Result<serde_json::Value> {
    let dates: Vec<NaiveDate> = o.series.iter().skip(1).map(|r| r.date).collect();
    let rets: Vec<f64> = o.series.iter().skip(1).map(|r| r.ret).collect();
    let metrics = if rets.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(systrade_metrics::summarize(&dates, &rets, None, 252.0)?)?
    };
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut modes: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &o.trades {
        *reasons.entry(t.exit.reason.as_str()).or_default() += 1;
        *modes.entry(t.stop_mode()).or_default() += 1;
    }
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &o.candidates {
        for code in c.outcome.split(';') {
            *outcomes.entry(code).or_default() += 1;
        }
    }
    let closed: Vec<_> = o.trades.iter().filter(|t| !t.open).collect();
    let mean_r = (!closed.is_empty())
        .then(|| closed.iter().map(|t| t.stats.r_multiple).sum::<f64>() / closed.len() as f64);
    let last = o.series.last();
    Ok(json!({
        "strategy": "avwap",
        "anchor": l.params.scan.anchor.as_str(),
        "symbols": l.panels.len(),
        "symbols_with_intraday": l.sessions.len(),
        "daily_from_intraday": l.from_intraday,
        "initial_cash": l.cfg.backtest.cash,
        "first_date": o.series.first().map(|r| r.date),
        "last_date": last.map(|r| r.date),
        "final_equity": last.map(|r| r.equity),
        "n_trades": o.trades.len(),
        "n_open_trades": o.trades.iter().filter(|t| t.open).count(),
        "mean_r_multiple": mean_r,
        "exits_by_reason": reasons,
        "stop_modes": modes,
        "candidate_outcomes": outcomes,
        "capacity": Capacity::json(capacity(l, o).as_ref()),
        "metrics": metrics,
    }))
}

/// Writes every backtest artifact into `out`; returns the files.
pub fn write_backtest(l: &Loaded, o: &Outcome, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let summary = systrade_core::json::to_canonical_string(&summary(l, o)?)?;
    write_files(
        out,
        [
            ("trades.csv", trades_csv(o)),
            ("stops.csv", stops_csv(o)),
            ("candidates.csv", candidates_csv(o)),
            ("timeseries.csv", timeseries_csv(o)),
            ("summary.json", format!("{summary}\n")),
        ],
    )
}

/// The tear sheet: the equity curve, the metrics, the exits by reason and the trades with
/// their R, MAE/MFE and stop efficiency.
pub fn tearsheet(
    l: &Loaded,
    o: &Outcome,
    title: String,
) -> anyhow::Result<systrade_report::tearsheet::TearSheet> {
    use crate::tearsheet::{opt_num, opt_pct};
    use systrade_report::tearsheet::{Performance, Table, TearSheet};
    let s = summary(l, o)?;
    let m = &s["metrics"];
    let f = |k: &str| m[k].as_f64();
    let closed: Vec<_> = o.trades.iter().filter(|t| !t.open).collect();
    let wins = closed.iter().filter(|t| t.pnl > 0.0).count();
    let eff: Vec<f64> = closed
        .iter()
        .filter_map(|t| t.stats.stop_efficiency)
        .collect();
    let metrics = vec![
        ("CAGR".to_string(), opt_pct(f("cagr"))),
        ("volatility".into(), opt_pct(f("annual_vol"))),
        ("Sharpe".into(), opt_num(f("sharpe"))),
        ("max drawdown".into(), opt_pct(f("max_drawdown"))),
        (
            "trades".into(),
            format!(
                "{} ({} open)",
                o.trades.len(),
                o.trades.len() - closed.len()
            ),
        ),
        (
            "win rate".into(),
            opt_pct((!closed.is_empty()).then(|| wins as f64 / closed.len() as f64)),
        ),
        ("mean R".into(), opt_num(s["mean_r_multiple"].as_f64())),
        (
            "mean stop efficiency".into(),
            opt_num((!eff.is_empty()).then(|| eff.iter().sum::<f64>() / eff.len() as f64)),
        ),
        (
            "capacity (largest fill)".into(),
            Capacity::text(capacity(l, o).as_ref()),
        ),
    ];
    let mut by_reason: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for t in &closed {
        let e = by_reason.entry(t.exit.reason.as_str()).or_default();
        e.0 += 1;
        e.1 += t.stats.r_multiple;
    }
    let reasons = Table {
        caption: "Exits by reason".into(),
        header: vec!["reason".into(), "trades".into(), "mean R".into()],
        rows: by_reason
            .iter()
            .map(|(r, (n, sum))| vec![r.to_string(), n.to_string(), format!("{:.2}", sum / *n as f64)])
            .collect(),
        note: "stop_intraday: a confirmed five-minute higher low; stop_daily: the daily swing-low fallback; avwap_loss: closes below the AVWAP; time_stop: max_hold_days".into(),
    };
    let mut recent: Vec<_> = o.trades.iter().collect();
    recent.sort_by(|a, b| b.entry_date.cmp(&a.entry_date).then(b.id.cmp(&a.id)));
    let trades = Table {
        caption: "Latest trades".into(),
        header: [
            "symbol", "entry", "exit", "reason", "R", "MAE (R)", "MFE (R)", "stop eff.", "days",
            "stops",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows: recent
            .iter()
            .take(30)
            .map(|t| {
                vec![
                    t.symbol.to_string(),
                    format!("{} {}", t.entry_date, num(Some(t.entry_price))),
                    format!("{} {}", t.exit.day, num(Some(t.exit_price))),
                    t.exit.reason.as_str().to_string(),
                    format!("{:.2}", t.stats.r_multiple),
                    format!("{:.2}", t.stats.mae_r),
                    format!("{:.2}", t.stats.mfe_r),
                    opt_num(t.stats.stop_efficiency),
                    t.holding_days.to_string(),
                    t.stop_mode().to_string(),
                ]
            })
            .collect(),
        note: "stops: intraday (five-minute higher lows), daily (swing-low fallback) or mixed; every trade is in trades.csv".into(),
    };
    Ok(TearSheet {
        title,
        subtitle: format!(
            "{} symbols ({} with intraday bars), anchor {}",
            l.panels.len(),
            l.sessions.len(),
            l.params.scan.anchor.as_str()
        ),
        perf: Performance {
            dates: o.series.iter().map(|r| r.date).collect(),
            equity: o.series.iter().map(|r| r.equity).collect(),
            benchmark: None,
            cash_rate: None,
            exposure: Some((
                o.series.iter().map(|r| r.gross).collect(),
                o.series.iter().map(|r| r.gross).collect(),
            )),
            turnover: None,
            periods_per_year: 252.0,
        },
        metrics,
        tables: vec![reasons, trades],
        notes: vec![],
    })
}

/// The entries a session would send: the scan's candidates sized at their last close (the
/// marketable order's reference) with `equity`, gated by the config's `[safety]`.
pub fn plan(
    l: &Loaded,
    scan: &Scan,
    day: NaiveDate,
    equity: f64,
) -> Vec<systrade_avwap::backtest::CandidateOutcome> {
    let rows = scan.candidates().into_iter().cloned().collect();
    let price = |s: &Symbol| {
        l.panels
            .get(s)
            .and_then(|p| p.index_of(scan.data_date).map(|t| p.bars[t].close))
    };
    let ctx = systrade_risk::gates::GateContext {
        as_of: day,
        equity,
        ..Default::default()
    };
    systrade_avwap::backtest::plan_entries(
        &l.panels,
        rows,
        day,
        &price,
        &ctx,
        &l.cfg.safety,
        &l.params,
    )
}

/// An AVWAP book's plan for one session (a portfolio bucket's `plan` and newsletter): the
/// scan after the close before the session and its entries sized at `equity` — the
/// standalone `plan`'s. Stale data plans nothing and says so.
pub struct SessionPlan {
    pub as_of: NaiveDate,
    pub equity: f64,
    /// `None` when the scan was refused (the warning says why).
    pub scan: Option<Scan>,
    pub candidates: Vec<systrade_avwap::backtest::CandidateOutcome>,
    pub warnings: Vec<String>,
}

impl SessionPlan {
    /// The candidates entered, with their quantity and price.
    pub fn entries(
        &self,
    ) -> impl Iterator<Item = (&systrade_avwap::backtest::CandidateOutcome, u64, f64)> {
        self.candidates.iter().filter_map(|c| {
            (c.outcome == "entered").then_some(())?;
            Some((c, c.qty?, c.entry_price?))
        })
    }
}

/// The plan of `session` at `equity` (see [`SessionPlan`]).
pub fn plan_session(l: &Loaded, session: NaiveDate, equity: f64) -> SessionPlan {
    let scan_day = Market::Us.calendar().previous_trading_day(session);
    match l.scan(scan_day) {
        Ok(scan) => SessionPlan {
            as_of: session,
            equity,
            candidates: plan(l, &scan, session, equity),
            scan: Some(scan),
            warnings: Vec::new(),
        },
        Err(e) => SessionPlan {
            as_of: session,
            equity,
            scan: None,
            candidates: Vec::new(),
            warnings: vec![format!("no scan of {scan_day}: {e}; nothing planned")],
        },
    }
}

/// Writes a session's plan into `out`: the scan's files and `orders_D.csv` ([`write_plan`])
/// when there was a scan, and `plan_D.json` (equity, entries, warnings).
pub fn write_session_plan(p: &SessionPlan, out: &Path) -> anyhow::Result<()> {
    if let Some(scan) = &p.scan {
        write_plan(scan, &p.candidates, p.as_of, out)?;
    }
    let entries: Vec<serde_json::Value> = p
        .entries()
        .map(|(c, qty, px)| {
            json!({
                "symbol": c.row.symbol.as_str(),
                "qty": qty,
                "ref_price": num(Some(px)),
                "stop": num(c.stop),
            })
        })
        .collect();
    let summary = json!({
        "strategy": "avwap",
        "as_of": p.as_of,
        "equity": format!("{:.2}", p.equity),
        "scan": p.scan.as_ref().map(|s| s.data_date),
        "candidates": p.candidates.len(),
        "entries": entries,
        "warnings": p.warnings,
    });
    let path = out.join(format!("plan_{}.json", p.as_of));
    systrade_core::fsio::write_json_atomic(&path, &summary)
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes the scan's files and `orders_D.csv` (every candidate with its order or the reason
/// it has none).
pub fn write_plan(
    scan: &Scan,
    plan: &[systrade_avwap::backtest::CandidateOutcome],
    day: NaiveDate,
    out: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = write_scan(scan, out)?;
    let mut text =
        String::from("symbol,side,qty,ref_price,stop,stop_basis,risk,risk_budget,score,outcome\n");
    for c in plan {
        let risk = match (c.qty, c.entry_price, c.stop) {
            (Some(q), Some(p), Some(s)) => format!("{:.2}", q as f64 * (p - s)),
            _ => String::new(),
        };
        let _ = writeln!(
            text,
            "{},buy,{},{},{},{},{risk},{},{},{}",
            c.row.symbol,
            c.qty.map(|q| q.to_string()).unwrap_or_default(),
            num(c.entry_price),
            num(c.stop),
            c.basis.map(|b| b.as_str()).unwrap_or(""),
            c.budget.map(|b| format!("{b:.2}")).unwrap_or_default(),
            num(c.row.score),
            c.outcome
        );
    }
    let p = out.join(format!("orders_{day}.csv"));
    write_atomic(&p, text.as_bytes()).with_context(|| format!("writing {}", p.display()))?;
    written.push(p);
    Ok(written)
}
