//! The tear sheet of a backtest: one self-contained `report.html` (inline CSS, inline SVG
//! charts, no external resource) with the summary metrics, the monthly returns, the charts,
//! and the run's own tables (cost grid, splits, walk-forward, top trades).

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::chart::{self, Chart, Line};
use crate::{ReportError, templates};

/// A table as shown: cells already formatted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// One line under the table (what the numbers mean); may be empty.
    pub note: String,
}

/// A run's daily path: one row per date, every vector aligned with `dates`.
#[derive(Debug, Clone, PartialEq)]
pub struct Performance {
    pub dates: Vec<NaiveDate>,
    pub equity: Vec<f64>,
    /// A benchmark's level on each date (any scale; drawn as growth of 1).
    pub benchmark: Option<(String, Vec<f64>)>,
    /// The cash rate per period (CDI, T-bills), aligned with `dates`: drawn as growth of 1
    /// and subtracted from returns in the rolling Sharpe.
    pub cash_rate: Option<(String, Vec<f64>)>,
    /// (gross, net) exposure on each date: Σ|position value| / equity and
    /// (long − short value) / equity. `None` when the run does not know it (a stitched
    /// walk-forward).
    pub exposure: Option<(Vec<f64>, Vec<f64>)>,
    /// Traded notional / equity on each date.
    pub turnover: Option<Vec<f64>>,
    pub periods_per_year: f64,
}

impl Performance {
    /// Lengths agree, values are finite and the equity is positive.
    pub fn validate(&self) -> Result<(), ReportError> {
        let n = self.dates.len();
        if n < 2 {
            return Err(ReportError::Input(format!(
                "a tear sheet needs at least 2 dates, got {n}"
            )));
        }
        let mut series: Vec<(&str, &[f64])> = vec![("equity", &self.equity)];
        if let Some((g, n)) = &self.exposure {
            series.push(("gross", g));
            series.push(("net", n));
        }
        if let Some(t) = &self.turnover {
            series.push(("turnover", t));
        }
        if let Some((name, v)) = &self.benchmark {
            series.push((name, v));
        }
        if let Some((name, v)) = &self.cash_rate {
            series.push((name, v));
        }
        for (name, v) in series {
            if v.len() != n {
                return Err(ReportError::Input(format!(
                    "{name}: {} values for {n} dates",
                    v.len()
                )));
            }
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(ReportError::Input(format!(
                    "{name}: not a number on {}",
                    self.dates[i]
                )));
            }
        }
        if let Some(i) = self.equity.iter().position(|x| *x <= 0.0) {
            return Err(ReportError::Input(format!(
                "equity is not positive on {}",
                self.dates[i]
            )));
        }
        if self.dates.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ReportError::Input("dates are not increasing".into()));
        }
        Ok(())
    }

    /// Simple returns from the second date on.
    pub fn returns(&self) -> Vec<f64> {
        self.equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
    }

    fn dated(&self, v: impl IntoIterator<Item = f64>) -> Vec<(NaiveDate, f64)> {
        self.dates.iter().copied().zip(v).collect()
    }

    /// The charts, by file stem: equity vs benchmark/cash, drawdown, rolling 12-month
    /// Sharpe, gross/net exposure, monthly turnover. A chart without data (a run shorter
    /// than a year has no rolling Sharpe) is left out.
    pub fn charts(&self) -> Result<Vec<(&'static str, Chart)>, ReportError> {
        self.validate()?;
        let growth = |v: &[f64]| -> Vec<f64> {
            let base = v.first().copied().filter(|b| *b != 0.0).unwrap_or(1.0);
            v.iter().map(|x| x / base).collect()
        };
        let mut lines = vec![Line {
            name: "strategy".into(),
            points: self.dated(growth(&self.equity)),
        }];
        if let Some((name, v)) = &self.benchmark {
            lines.push(Line {
                name: name.clone(),
                points: self.dated(growth(v)),
            });
        }
        if let Some((name, r)) = &self.cash_rate {
            let mut nav = 1.0;
            let cash: Vec<f64> = r
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    if i > 0 {
                        nav *= 1.0 + x;
                    }
                    nav
                })
                .collect();
            lines.push(Line {
                name: name.clone(),
                points: self.dated(cash),
            });
        }
        let title = match (&self.benchmark, &self.cash_rate) {
            (Some((b, _)), Some((c, _))) => format!("Equity vs {b} and {c}"),
            (Some((b, _)), None) | (None, Some((b, _))) => format!("Equity vs {b}"),
            (None, None) => "Equity".to_string(),
        };
        let mut out = vec![("equity", Chart::new(&title, "growth of 1", lines))];
        let rets = self.returns();
        let dd = systrade_metrics::drawdown_series(&rets);
        out.push((
            "drawdown",
            Chart::new(
                "Drawdown",
                "below the peak",
                vec![Line {
                    name: "drawdown".into(),
                    points: std::iter::once((self.dates[0], 0.0))
                        .chain(self.dates[1..].iter().copied().zip(dd))
                        .collect(),
                }],
            )
            .percent()
            .area(),
        ));
        let window = self.periods_per_year.round() as usize;
        let excess: Vec<f64> = match &self.cash_rate {
            Some((_, r)) => rets.iter().zip(&r[1..]).map(|(a, b)| a - b).collect(),
            None => rets.clone(),
        };
        let roll = systrade_metrics::rolling_sharpe(&excess, window, self.periods_per_year);
        let points: Vec<(NaiveDate, f64)> = self.dates[1..]
            .iter()
            .zip(roll)
            .filter_map(|(d, v)| v.map(|v| (*d, v)))
            .collect();
        if !points.is_empty() {
            let label = match &self.cash_rate {
                Some((c, _)) => format!("Rolling 12-month Sharpe over {c}"),
                None => "Rolling 12-month Sharpe".into(),
            };
            out.push((
                "rolling_sharpe_12m",
                Chart::new(
                    &label,
                    "Sharpe",
                    vec![Line {
                        name: format!("{window} periods"),
                        points,
                    }],
                ),
            ));
        }
        if let Some((gross, net)) = &self.exposure {
            let line = |name: &str, xs: &[f64]| Line {
                name: name.into(),
                points: self.dated(xs.iter().copied()),
            };
            // A book without shorts has net = gross: one line, not two on top of each other.
            let (title, lines) = if gross == net {
                (
                    "Gross exposure (= net: no shorts)",
                    vec![line("gross = net", gross)],
                )
            } else {
                (
                    "Gross and net exposure",
                    vec![line("gross", gross), line("net", net)],
                )
            };
            out.push(("exposure", Chart::new(title, "of equity", lines).percent()));
        }
        let Some(turnover) = &self.turnover else {
            return Ok(out);
        };
        let mut monthly: Vec<(NaiveDate, f64)> = Vec::new();
        for (d, t) in self.dates.iter().zip(turnover) {
            match monthly.last_mut() {
                Some((m, v)) if m.year() == d.year() && m.month() == d.month() => *v += t,
                _ => monthly.push((*d, *t)),
            }
        }
        out.push((
            "turnover",
            Chart::new(
                "Turnover per month",
                "traded / equity",
                vec![Line {
                    name: "turnover".into(),
                    points: monthly,
                }],
            )
            .percent()
            .area(),
        ));
        Ok(out)
    }

    /// Compounded returns per month, a row per year with the year's total.
    pub fn monthly_table(&self) -> Table {
        let rets = self.returns();
        let months = systrade_metrics::period_returns(
            &self.dates[1..],
            &rets,
            systrade_metrics::Period::Month,
        )
        .unwrap_or_default();
        let years = systrade_metrics::period_returns(
            &self.dates[1..],
            &rets,
            systrade_metrics::Period::Year,
        )
        .unwrap_or_default();
        let mut header = vec!["year".to_string()];
        header.extend(
            [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ]
            .map(String::from),
        );
        header.push("year".into());
        let rows = years
            .iter()
            .map(|(y, total)| {
                let mut row = vec![y.clone()];
                for m in 1..=12 {
                    let label = format!("{y}-{m:02}");
                    row.push(
                        months
                            .iter()
                            .find(|(l, _)| *l == label)
                            .map(|(_, r)| pct(*r))
                            .unwrap_or_default(),
                    );
                }
                row.push(pct(*total));
                row
            })
            .collect();
        Table {
            caption: "Monthly returns".into(),
            header,
            rows,
            note: "Compounded daily returns of the equity, after costs.".into(),
        }
    }
}

/// A fraction as a percent with 2 decimals ("-0.00%" prints as "0.00%").
pub fn pct(x: f64) -> String {
    let v = (x * 10_000.0).round() / 100.0;
    format!("{:.2}%", if v == 0.0 { 0.0 } else { v })
}

/// Everything a tear sheet shows.
#[derive(Debug, Clone, PartialEq)]
pub struct TearSheet {
    pub title: String,
    pub subtitle: String,
    pub perf: Performance,
    /// (label, formatted value) in the order shown.
    pub metrics: Vec<(String, String)>,
    /// Cost grid, splits, walk-forward windows, top trades… in the order shown.
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
struct ChartView<'a> {
    id: &'a str,
    title: &'a str,
    svg: &'a str,
}

#[derive(Serialize)]
struct Metric<'a> {
    label: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct View<'a> {
    title: &'a str,
    subtitle: &'a str,
    metrics: Vec<Metric<'a>>,
    monthly: Table,
    charts: Vec<ChartView<'a>>,
    tables: &'a [Table],
    notes: &'a [String],
}

/// The tear sheet as one HTML document.
pub fn render(ts: &TearSheet) -> Result<String, ReportError> {
    let charts = drawn(&ts.perf)?;
    render_with(ts, &charts)
}

/// Each chart with its SVG, drawn once for the page and the files alike.
fn drawn(perf: &Performance) -> Result<Vec<(&'static str, Chart, String)>, ReportError> {
    perf.charts()?
        .into_iter()
        .map(|(id, c)| {
            let svg = chart::svg(&c)?;
            Ok((id, c, svg))
        })
        .collect()
}

fn render_with(
    ts: &TearSheet,
    charts: &[(&'static str, Chart, String)],
) -> Result<String, ReportError> {
    // The charts are most of the document.
    let size = charts.iter().map(|(_, _, svg)| svg.len()).sum::<usize>() + (64 << 10);
    templates::render_sized(
        "tearsheet.html",
        &View {
            title: &ts.title,
            subtitle: &ts.subtitle,
            metrics: ts
                .metrics
                .iter()
                .map(|(l, v)| Metric { label: l, value: v })
                .collect(),
            monthly: ts.perf.monthly_table(),
            charts: charts
                .iter()
                .map(|(id, c, svg)| ChartView {
                    id,
                    title: &c.title,
                    svg,
                })
                .collect(),
            tables: &ts.tables,
            notes: &ts.notes,
        },
        size,
    )
}

/// Writes `report.html` into `dir` and, with `plots`, every chart as `charts/<stem>.svg`
/// and `charts/<stem>.png`; returns the report's path.
pub fn write(ts: &TearSheet, dir: &Path, plots: bool) -> Result<PathBuf, ReportError> {
    let charts = drawn(&ts.perf)?;
    let path = dir.join("report.html");
    write_file(&path, render_with(ts, &charts)?.as_bytes())?;
    if plots {
        for (stem, c, svg) in &charts {
            write_file(&dir.join(format!("charts/{stem}.svg")), svg.as_bytes())?;
            write_file(&dir.join(format!("charts/{stem}.png")), &chart::png(c)?)?;
        }
    }
    Ok(path)
}

/// A research artifact a rerun rewrites byte for byte: renamed into place, not synced.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    systrade_core::fsio::write_artifact(path, bytes).map_err(|e| ReportError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}
