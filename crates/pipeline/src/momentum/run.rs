//! The monthly loop and the daily accounting (§2–8): formation at each month-end close from
//! data through it, trades at the next open, books + overlay as an excess return over the
//! CDI, EWMA volatility targeting, costs, and the cost grid from the same pass.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use systrade_core::{Calendar, Symbol};

use super::beta::composite_beta;
use super::limits::{self, Limited};
use super::panel::Panel;
use super::select::{
    CohortBook, SideKind, SideUpdate, TargetRow, Universe, full_rebalance, limited_update,
    target_count, target_rows,
};
use super::{BookKind, MomentumParams};
use crate::PipelineError;
use systrade_backtest::overlay::Limits;

/// The pre-export checks of one cohort at one formation (§9).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthCheck {
    pub cohort: usize,
    /// Full rebalance (`m mod cohorts = cohort`) or limited update.
    pub full: bool,
    pub started: bool,
    pub long_gross: f64,
    pub short_gross: f64,
    pub n_long: usize,
    pub n_short: usize,
    /// Largest and smallest name weight against the cap and floor in force.
    pub max_weight: f64,
    pub min_weight: f64,
    pub cap: f64,
    pub floor: f64,
    /// Largest known-sector share of a side (full rebalances).
    pub max_sector_share: f64,
    #[serde(flatten)]
    pub update: SideUpdate,
}

/// One formation: what was decided at a month-end close, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Formation {
    /// The month-end close the formation used.
    pub date: NaiveDate,
    /// The session whose open executes it (None at the end of the data).
    pub trade_date: Option<NaiveDate>,
    /// Months since the first formation.
    pub month_index: usize,
    pub n_eligible: usize,
    pub n_target: usize,
    /// The benchmark's 63-day vol above its trailing 80th percentile: exit caps doubled.
    pub stress: bool,
    /// When the universe was too small: the month keeps its holdings.
    pub failed: Option<String>,
    /// Percentile ranks of the eligible names.
    pub ranks: BTreeMap<Symbol, f64>,
    /// Reference prices (the formation close) of every ranked or held name.
    pub ref_price: BTreeMap<Symbol, f64>,
    pub cohorts: Vec<CohortBook>,
    /// `(cohort, row)` for every name held before or after, in cohort and side order.
    pub rows: Vec<(usize, TargetRow)>,
    pub checks: Vec<MonthCheck>,
    pub betas: BTreeMap<Symbol, f64>,
    pub beta_p: f64,
    pub overlay_h: f64,
    /// Portfolio weights (mean of the cohort books), signed, after the book's limits.
    pub weights: BTreeMap<Symbol, f64>,
    /// What the book's limits changed at this formation (`None`: nothing).
    #[serde(skip)]
    pub limited: Option<Limited>,
}

impl Formation {
    /// `YYYY-MM` of the formation.
    pub fn month(&self) -> String {
        format!("{:04}-{:02}", self.date.year(), self.date.month())
    }
}

/// One row of `timeseries.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesRow {
    pub date: NaiveDate,
    pub nav: f64,
    pub ret: f64,
    /// Before costs.
    pub ret_gross: f64,
    pub cdi: f64,
    pub excess: f64,
    pub scale: f64,
    pub beta_p: f64,
    pub overlay_h: f64,
    pub long_gross: f64,
    pub short_gross: f64,
    /// One-way traded notional / NAV of the books at the scale in force.
    pub turnover: f64,
    pub cost: f64,
    /// Unscaled book + overlay excess return (the VT input).
    pub r_u: f64,
    /// Traded book notional Σ|Δw| (unscaled) and overlay |Δh|: the cost grid's inputs.
    pub traded: f64,
    pub overlay_traded: f64,
}

/// One row of `cost_grid.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostGridRow {
    pub cost_bps: f64,
    pub cagr: Option<f64>,
    pub vol: Option<f64>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub max_dd: Option<f64>,
    pub calmar: Option<f64>,
    pub turnover_annual: f64,
}

/// Per-cohort statistics of its own (unscaled) book.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortStats {
    pub cohort: usize,
    pub full_rebalances: usize,
    pub limited_updates: usize,
    pub avg_names_long: f64,
    pub avg_names_short: f64,
    pub hard_exits: usize,
    pub soft_exits: usize,
    pub avg_turnover_per_update: f64,
    /// Annualised mean and volatility of the cohort book's daily excess return.
    pub excess_return_annual: f64,
    pub excess_vol_annual: f64,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub book: BookKind,
    pub cohorts: usize,
    pub beta_overlay: bool,
    pub period: (Option<NaiveDate>, Option<NaiveDate>),
    pub cagr: Option<f64>,
    pub vol: Option<f64>,
    /// Excess over the CDI.
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub max_dd: Option<f64>,
    pub calmar: Option<f64>,
    pub hit_rate: Option<f64>,
    pub avg_turnover: f64,
    pub beta_to_benchmark: Option<f64>,
    pub benchmark: String,
    pub cost_bps: f64,
    pub total_cost: f64,
    pub cdi_cagr: Option<f64>,
    pub formations: usize,
    pub failed_formations: Vec<String>,
    pub stress_months: usize,
    pub per_cohort: Vec<CohortStats>,
    pub warnings: Vec<String>,
}

/// What is in force at the open after the last row of the run: the daily run's targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextOpen {
    /// The last row's date (the close the next session is decided on).
    pub after: NaiveDate,
    /// True when that close was a formation: the next open trades its new books.
    pub formation: bool,
    /// Signed portfolio weights at the next open (mean of the cohort books).
    pub weights: BTreeMap<Symbol, f64>,
    pub overlay_h: f64,
    pub beta_p: f64,
    /// The volatility-targeting scale of the next session, from returns through `after`.
    pub scale: f64,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct MomentumResult {
    pub series: Vec<SeriesRow>,
    pub formations: Vec<Formation>,
    pub cost_grid: Vec<CostGridRow>,
    pub summary: Summary,
    pub next: NextOpen,
}

/// `s_t = min(max_leverage, target_vol / σ̂_{t−1})`, 1 during the warm-up (§7).
fn vt_scale(var: f64, n_ret: usize, p: &MomentumParams) -> f64 {
    if n_ret < p.vt_warmup || var <= 0.0 {
        1.0
    } else {
        (p.target_vol / (var.sqrt() * p.annualization.sqrt())).min(p.max_leverage)
    }
}

/// What a run needs besides the parameters.
pub struct Inputs<'a> {
    pub panel: &'a Panel,
    /// The CDI's simple daily rate (a fraction) on each panel date.
    pub cdi: &'a [f64],
    /// The benchmark's close-to-close return into each panel date (0 on the first).
    pub bench: &'a [f64],
    /// Which benchmark that is, for the summary.
    pub bench_name: String,
    pub calendar: &'a dyn Calendar,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    /// Warnings from loading, carried into the summary.
    pub warnings: Vec<String>,
    /// The book's position and drawdown limits (a portfolio bucket's), off by default.
    pub limits: Limits,
}

fn net(
    gross: f64,
    scale: f64,
    traded: f64,
    overlay: f64,
    cost_bps: f64,
    p: &MomentumParams,
) -> f64 {
    gross - scale * (cost_bps * 1e-4 * traded + p.overlay_cost_bps * 1e-4 * overlay)
}

/// Sample standard deviation (ddof 1).
fn stdev(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    Some((x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt())
}

/// Linear-interpolated quantile (numpy's default).
fn quantile(xs: &mut [f64], q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let pos = q * (xs.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
}

/// True when the benchmark's realised vol at row `f` is above the `stress_quantile` of its
/// trailing history (which needs at least a year of vol readings).
fn stress_at(bench: &[f64], f: usize, p: &MomentumParams) -> bool {
    let w = p.stress_vol_window;
    if f + 1 < w + 252 {
        return false;
    }
    let vol = |t: usize| stdev(&bench[t + 1 - w..=t]).unwrap_or(0.0);
    let first = (w - 1).max((f + 1).saturating_sub(p.stress_history));
    let mut hist: Vec<f64> = (first..=f).map(vol).collect();
    let now = vol(f);
    now > quantile(&mut hist, p.stress_quantile)
}

/// Daily return of ticker `i` into row `t`, NaN without bars on both ends.
fn ret_or_nan(panel: &Panel, i: usize, t: usize) -> f64 {
    match (t > 0).then(|| (panel.close(i, t), panel.close_ffill(i, t - 1))) {
        Some((Some(c), Some(p))) => c / p - 1.0,
        _ => f64::NAN,
    }
}

/// Runs the strategy over the panel.
pub fn run(inp: &Inputs<'_>, p: &MomentumParams) -> Result<MomentumResult, PipelineError> {
    p.validate()?;
    let panel = inp.panel;
    let n_rows = panel.len();
    if inp.cdi.len() != n_rows || inp.bench.len() != n_rows {
        return Err(PipelineError::Config(
            "the CDI and benchmark series must cover every panel date".into(),
        ));
    }
    let in_range =
        |d: NaiveDate| inp.start.is_none_or(|s| d >= s) && inp.end.is_none_or(|e| d <= e);
    let is_formation = |t: usize| {
        let d = panel.dates[t];
        inp.calendar.next_trading_day(d).month() != d.month()
    };
    let sides: &[SideKind] = match p.book {
        BookKind::Ls => &[SideKind::Long, SideKind::Short],
        BookKind::D10 => &[SideKind::Long],
    };
    let k = p.cohorts;
    let mut cohorts = vec![CohortBook::default(); k];
    let mut formations: Vec<Formation> = Vec::new();
    let mut first: Option<NaiveDate> = None;
    let mut warnings = inp.warnings.clone();
    let mut failed_formations = Vec::new();

    // Weights in force (signed portfolio weights by ticker index) and those to apply at the
    // next open, with the overlay.
    let nt = panel.tickers.len();
    let index: BTreeMap<&Symbol, usize> = panel
        .tickers
        .iter()
        .enumerate()
        .map(|(i, s)| (s, i))
        .collect();
    let mut w = vec![0.0; nt];
    let mut h = 0.0;
    let mut beta_p = 0.0;
    let mut pending: Option<(Vec<f64>, f64, f64)> = None;
    let mut series: Vec<SeriesRow> = Vec::new();
    let mut cohort_rets: Vec<Vec<f64>> = vec![Vec::new(); k];
    let mut cohort_w: Vec<Vec<f64>> = vec![vec![0.0; nt]; k];
    let (mut var, mut n_ret) = (0.0f64, 0usize);
    let mut nav = 1.0;
    let mut peak: f64 = 1.0;
    let mut last_row: Option<usize> = None;
    // Sectors never change during a run.
    let sector_map: BTreeMap<Symbol, String> = panel
        .tickers
        .iter()
        .cloned()
        .zip(panel.sectors.iter().cloned())
        .collect();

    for t in 0..n_rows {
        let date = panel.dates[t];
        if inp.end.is_some_and(|e| date > e) {
            break;
        }
        last_row = Some(t);
        // 1. The day's return, from the session after the first formation on.
        if first.is_some() {
            let cdi = inp.cdi[t];
            let (new_w, new_h, new_beta) = match pending.take() {
                Some(x) => (Some(x.0), x.1, x.2),
                None => (None, h, beta_p),
            };
            // Close-to-close returns of the day, shared by the book and the cohort stats.
            let day_ret: Vec<f64> = (0..nt).map(|i| panel.ret(i, t)).collect();
            let mut book = 0.0;
            let mut traded = 0.0;
            for i in 0..nt {
                match &new_w {
                    Some(nw) => {
                        let (gap, intra) = panel.split_ret(i, t);
                        book += w[i] * gap + nw[i] * intra;
                        traded += (nw[i] - w[i]).abs();
                    }
                    None => book += w[i] * day_ret[i],
                }
            }
            if let Some(nw) = new_w {
                w = nw;
            }
            let overlay_traded = (new_h - h).abs();
            h = new_h;
            beta_p = new_beta;
            let net_w: f64 = w.iter().sum();
            let r_u = book - cdi * net_w + h * (inp.bench[t] - cdi);
            // EWMA vol of r_u through the previous day scales today's book.
            let scale = vt_scale(var, n_ret, p);
            var = if n_ret == 0 {
                r_u * r_u
            } else {
                p.ewma_lambda * var + (1.0 - p.ewma_lambda) * r_u * r_u
            };
            n_ret += 1;
            let gross = cdi + scale * r_u;
            let ret = net(gross, scale, traded, overlay_traded, p.cost_bps, p);
            nav *= 1.0 + ret;
            peak = peak.max(nav);
            for (j, cw) in cohort_w.iter().enumerate() {
                if cohorts[j].started {
                    let r: f64 = (0..nt).map(|i| cw[i] * (day_ret[i] - cdi)).sum();
                    cohort_rets[j].push(r);
                }
            }
            series.push(SeriesRow {
                date,
                nav,
                ret,
                ret_gross: gross,
                cdi,
                excess: ret - cdi,
                scale,
                beta_p,
                overlay_h: h,
                long_gross: w.iter().filter(|x| **x > 0.0).sum(),
                short_gross: -w.iter().filter(|x| **x < 0.0).sum::<f64>(),
                turnover: scale * traded / 2.0,
                cost: gross - ret,
                r_u,
                traded,
                overlay_traded,
            });
        }

        // 2. A formation at this close.
        if !(is_formation(t) && in_range(date)) {
            continue;
        }
        let f = t;
        let mut ranks_raw: Vec<(Symbol, f64)> = Vec::new();
        let mut ref_price = BTreeMap::new();
        for (i, s) in panel.tickers.iter().enumerate() {
            if let Some(c) = panel.close(i, f) {
                ref_price.insert(s.clone(), c);
            }
            if f < p.skip + p.lookback || panel.bars_through(i, f) < p.history_needed() {
                continue;
            }
            let Some(last) = panel.close(i, f) else {
                continue;
            };
            if last < p.min_price {
                continue;
            }
            if panel
                .median_value(i, f, p.adv_window)
                .is_none_or(|v| v < p.min_adv)
            {
                continue;
            }
            let (Some(a), Some(b)) = (
                panel.close_ffill(i, f - p.skip),
                panel.close_ffill(i, f - p.skip - p.lookback),
            ) else {
                continue;
            };
            ranks_raw.push((s.clone(), a / b - 1.0));
        }
        let n_elig = ranks_raw.len();
        if n_elig < p.min_eligible {
            let msg = format!(
                "{date}: {n_elig} eligible names, fewer than min_eligible {}",
                p.min_eligible
            );
            if first.is_some() {
                failed_formations.push(msg.clone());
                let m = month_index(first, date);
                formations.push(Formation {
                    date,
                    trade_date: panel.dates.get(t + 1).copied(),
                    month_index: m,
                    n_eligible: n_elig,
                    n_target: 0,
                    stress: false,
                    failed: Some(msg),
                    ranks: BTreeMap::new(),
                    ref_price,
                    cohorts: cohorts.clone(),
                    rows: Vec::new(),
                    checks: Vec::new(),
                    betas: BTreeMap::new(),
                    beta_p,
                    overlay_h: h,
                    weights: weights_map(&panel.tickers, &w),
                    limited: None,
                });
            }
            continue;
        }
        ranks_raw.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let ranks: BTreeMap<Symbol, f64> = ranks_raw
            .iter()
            .enumerate()
            .map(|(r, (s, _))| {
                let p = if n_elig > 1 {
                    r as f64 / (n_elig - 1) as f64
                } else {
                    0.5
                };
                (s.clone(), p)
            })
            .collect();
        if first.is_none() {
            first = Some(date);
        }
        let m = month_index(first, date);
        let n_target = target_count(n_elig, p);
        let stress = stress_at(inp.bench, f, p);
        let cap_frac = if stress {
            p.stress_exit_cap_frac
        } else {
            p.exit_cap_frac
        };
        let u = Universe {
            ranks: &ranks,
            sectors: &sector_map,
        };
        let mut rows = Vec::new();
        let mut checks = Vec::new();
        for (j, cohort) in cohorts.iter_mut().enumerate() {
            let full = m % k == j;
            let prev = cohort.clone();
            let (next, upd) = if full {
                let mut next = CohortBook {
                    started: true,
                    ..CohortBook::default()
                };
                let mut upd = SideUpdate::default();
                for &side in sides {
                    let (b, u2) = full_rebalance(prev.side(side), side, u, n_target, p);
                    match side {
                        SideKind::Long => next.long = b,
                        SideKind::Short => next.short = b,
                    }
                    upd.hard_exits += u2.hard_exits;
                    upd.notes.extend(u2.notes);
                }
                upd.turnover = super::select::turnover(&prev, &next);
                (next, upd)
            } else {
                limited_update(&prev, sides, u, n_target, cap_frac, p)
            };
            for r in target_rows(&prev, &next, sides, u, p) {
                rows.push((j, r));
            }
            let (_, cap, floor) = super::select::side_weights(
                &next.long.names.keys().cloned().collect::<Vec<_>>(),
                n_target,
                p,
            );
            let (_, cap_s, floor_s) = super::select::side_weights(
                &next.short.names.keys().cloned().collect::<Vec<_>>(),
                n_target,
                p,
            );
            let all_w: Vec<f64> = next
                .long
                .names
                .values()
                .chain(next.short.names.values())
                .map(|h| h.weight)
                .collect();
            let mut max_sector_share: f64 = 0.0;
            for &side in sides {
                let b = next.side(side);
                let mut by: BTreeMap<&str, f64> = BTreeMap::new();
                for (s, hh) in &b.names {
                    let sec = u.sectors.get(s).map(String::as_str).unwrap_or("");
                    if !sec.is_empty() && sec != "unknown" {
                        *by.entry(sec).or_insert(0.0) += hh.weight;
                    }
                }
                let g = b.gross();
                if g > 0.0 {
                    for v in by.values() {
                        max_sector_share = max_sector_share.max(v / g);
                    }
                }
            }
            if !upd.notes.is_empty() {
                for n in &upd.notes {
                    warnings.push(format!("{date} cohort {j}: {n}"));
                }
            }
            checks.push(MonthCheck {
                cohort: j,
                full,
                started: next.started,
                long_gross: next.long.gross(),
                short_gross: next.short.gross(),
                n_long: next.long.names.len(),
                n_short: next.short.names.len(),
                max_weight: all_w.iter().copied().fold(0.0, f64::max),
                min_weight: if all_w.is_empty() {
                    0.0
                } else {
                    all_w.iter().copied().fold(f64::INFINITY, f64::min)
                },
                cap: cap.max(cap_s),
                floor: floor.min(floor_s),
                max_sector_share,
                update: upd,
            });
            *cohort = next;
        }
        // Portfolio weights: the mean of the cohort books.
        let mut new_w = vec![0.0; nt];
        for (j, c) in cohorts.iter().enumerate() {
            let signed = c.signed();
            let cw = &mut cohort_w[j];
            cw.iter_mut().for_each(|x| *x = 0.0);
            for (s, x) in signed {
                if let Some(&i) = index.get(&s) {
                    new_w[i] += x / k as f64;
                    cw[i] = x;
                }
            }
        }
        // The book's limits, against the weights in force (what the next open trades from).
        let limited = limits::apply(
            &inp.limits,
            &panel.tickers,
            &w,
            &mut new_w,
            |i| {
                ranks
                    .get(&panel.tickers[i])
                    .map_or(0.0, |r| (r - 0.5).abs())
            },
            if peak > 0.0 { 1.0 - nav / peak } else { 0.0 },
        );
        if limited.bit() {
            warnings.push(format!("{date}: {}", limited.describe(&inp.limits)));
        }
        // §6 overlay from composite betas through this close.
        let mut betas = BTreeMap::new();
        let (mut bp, mut hh) = (0.0, 0.0);
        if p.beta_overlay {
            let lo = (f + 1).saturating_sub(p.beta_window);
            let bench = &inp.bench[lo..=f];
            for (i, s) in panel.tickers.iter().enumerate() {
                if new_w[i] == 0.0 {
                    continue;
                }
                let a: Vec<f64> = (lo..=f).map(|t| ret_or_nan(panel, i, t)).collect();
                let b = composite_beta(&a, bench, p.beta_halflife, p.beta_shrink).unwrap_or(1.0);
                betas.insert(s.clone(), b);
                bp += new_w[i] * b;
            }
            hh = -bp;
        }
        pending = Some((new_w.clone(), hh, bp));
        formations.push(Formation {
            date,
            trade_date: panel.dates.get(t + 1).copied(),
            month_index: m,
            n_eligible: n_elig,
            n_target,
            stress,
            failed: None,
            ranks,
            ref_price,
            cohorts: cohorts.clone(),
            rows,
            checks,
            betas,
            beta_p: bp,
            overlay_h: hh,
            weights: weights_map(&panel.tickers, &new_w),
            limited: limited.bit().then_some(limited),
        });
    }
    if first.is_none() {
        return Err(PipelineError::Config(format!(
            "no formation had min_eligible {} names between {} and {}",
            p.min_eligible,
            inp.start
                .map(|d| d.to_string())
                .unwrap_or_else(|| "the start".into()),
            inp.end
                .map(|d| d.to_string())
                .unwrap_or_else(|| "the end".into())
        )));
    }
    let after = last_row.map_or(panel.dates[0], |t| panel.dates[t]);
    let next = NextOpen {
        after,
        formation: pending.is_some(),
        weights: weights_map(&panel.tickers, pending.as_ref().map_or(&w, |x| &x.0)),
        overlay_h: pending.as_ref().map_or(h, |x| x.1),
        beta_p: pending.as_ref().map_or(beta_p, |x| x.2),
        scale: vt_scale(var, n_ret, p),
    };
    let summary = summarize(
        &series,
        &formations,
        &cohort_rets,
        inp,
        p,
        failed_formations,
        warnings,
    )?;
    let cost_grid = p
        .cost_grid
        .iter()
        .map(|c| grid_row(&series, *c, p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MomentumResult {
        series,
        formations,
        cost_grid,
        summary,
        next,
    })
}

fn weights_map(tickers: &[Symbol], w: &[f64]) -> BTreeMap<Symbol, f64> {
    tickers
        .iter()
        .zip(w)
        .filter(|(_, x)| **x != 0.0)
        .map(|(s, x)| (s.clone(), *x))
        .collect()
}

fn month_index(first: Option<NaiveDate>, d: NaiveDate) -> usize {
    let f = first.unwrap_or(d);
    ((d.year() - f.year()) * 12 + d.month() as i32 - f.month() as i32).max(0) as usize
}

fn metrics_of(
    series: &[SeriesRow],
    rets: &[f64],
    p: &MomentumParams,
) -> Result<systrade_metrics::Summary, PipelineError> {
    let dates: Vec<NaiveDate> = series.iter().map(|r| r.date).collect();
    let cdi: Vec<f64> = series.iter().map(|r| r.cdi).collect();
    systrade_metrics::summarize(&dates, rets, Some(&cdi), p.annualization)
        .map_err(|e| PipelineError::Config(format!("metrics: {e}")))
}

/// A cost-grid row: the same pass's gross returns net of costs at `cost_bps`.
fn grid_row(
    series: &[SeriesRow],
    cost_bps: f64,
    p: &MomentumParams,
) -> Result<CostGridRow, PipelineError> {
    let rets: Vec<f64> = series
        .iter()
        .map(|r| {
            net(
                r.ret_gross,
                r.scale,
                r.traded,
                r.overlay_traded,
                cost_bps,
                p,
            )
        })
        .collect();
    let m = metrics_of(series, &rets, p)?;
    Ok(CostGridRow {
        cost_bps,
        cagr: m.cagr,
        vol: m.annual_vol,
        sharpe: m.sharpe,
        sortino: m.sortino,
        max_dd: m.max_drawdown,
        calmar: m.calmar,
        turnover_annual: annual_turnover(series, p),
    })
}

fn annual_turnover(series: &[SeriesRow], p: &MomentumParams) -> f64 {
    if series.is_empty() {
        return 0.0;
    }
    series.iter().map(|r| r.turnover).sum::<f64>() / series.len() as f64 * p.annualization
}

fn summarize(
    series: &[SeriesRow],
    formations: &[Formation],
    cohort_rets: &[Vec<f64>],
    inp: &Inputs<'_>,
    p: &MomentumParams,
    failed_formations: Vec<String>,
    warnings: Vec<String>,
) -> Result<Summary, PipelineError> {
    let rets: Vec<f64> = series.iter().map(|r| r.ret).collect();
    let m = metrics_of(series, &rets, p)?;
    let cdi_rets: Vec<f64> = series.iter().map(|r| r.cdi).collect();
    let cdi_m = metrics_of(series, &cdi_rets, p)?;
    let first_row = series
        .first()
        .and_then(|r| inp.panel.dates.iter().position(|d| *d == r.date))
        .unwrap_or(0);
    let bench: Vec<f64> = inp.bench[first_row..first_row + series.len()].to_vec();
    let beta = systrade_metrics::beta(&rets, &bench).ok().flatten();
    let per_cohort = (0..p.cohorts)
        .map(|j| {
            let checks: Vec<&MonthCheck> = formations
                .iter()
                .flat_map(|f| f.checks.iter().filter(|c| c.cohort == j && c.started))
                .collect();
            let n = checks.len().max(1) as f64;
            let r = &cohort_rets[j];
            CohortStats {
                cohort: j,
                full_rebalances: checks.iter().filter(|c| c.full).count(),
                limited_updates: checks.iter().filter(|c| !c.full).count(),
                avg_names_long: checks.iter().map(|c| c.n_long as f64).sum::<f64>() / n,
                avg_names_short: checks.iter().map(|c| c.n_short as f64).sum::<f64>() / n,
                hard_exits: checks.iter().map(|c| c.update.hard_exits).sum(),
                soft_exits: checks.iter().map(|c| c.update.soft_exits).sum(),
                avg_turnover_per_update: checks.iter().map(|c| c.update.turnover).sum::<f64>() / n,
                excess_return_annual: if r.is_empty() {
                    0.0
                } else {
                    r.iter().sum::<f64>() / r.len() as f64 * p.annualization
                },
                excess_vol_annual: stdev(r).unwrap_or(0.0) * p.annualization.sqrt(),
            }
        })
        .collect();
    Ok(Summary {
        book: p.book,
        cohorts: p.cohorts,
        beta_overlay: p.beta_overlay,
        period: (
            series.first().map(|r| r.date),
            series.last().map(|r| r.date),
        ),
        cagr: m.cagr,
        vol: m.annual_vol,
        sharpe: m.sharpe,
        sortino: m.sortino,
        max_dd: m.max_drawdown,
        calmar: m.calmar,
        hit_rate: m.hit_rate,
        avg_turnover: annual_turnover(series, p),
        beta_to_benchmark: beta,
        benchmark: inp.bench_name.clone(),
        cost_bps: p.cost_bps,
        total_cost: series.iter().map(|r| r.cost).sum(),
        cdi_cagr: cdi_m.cagr,
        formations: formations.iter().filter(|f| f.failed.is_none()).count(),
        failed_formations,
        stress_months: formations.iter().filter(|f| f.stress).count(),
        per_cohort,
        warnings,
    })
}
