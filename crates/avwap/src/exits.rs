//! The exits of a held position (spec §4) as one state machine, [`Tracker`], that the
//! backtest drives with `raise = true` (it moves the stops) and the broker-independent exit
//! simulator, [`simulate`], drives with `raise = false` over a recorded stop path: the bars
//! and the stop path in, the exit out — what every real exit must reproduce.
//!
//! A session in order: a close-based exit decided the evening before fills at the open;
//! then the stop in force is checked bar by bar (intraday bars where they exist, else the
//! daily bar against the level in force that session); at the close the AVWAP and time
//! exits are decided for the next open, and, on a session without intraday data, the daily
//! swing low may raise the stop for the next one.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use systrade_core::calendar::Calendar;
use systrade_core::{DailyBar, IntradayBar};

use crate::anchor;
use crate::intraday::{Sessions, ny_instant, session_bars};
use crate::panel::Panel;
use crate::params::ExitParams;
use crate::stops::{StopPath, StopPoint, StopSource, confirmed_lows, raise_effective, submit_from};

/// Why a position closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ExitReason {
    /// The protective stop filled; the source of the level in force.
    Stop(StopSource),
    /// Closed below the AVWAP `avwap_exit_days` sessions running; sold at the next open.
    AvwapLoss,
    /// Held `max_hold_days` sessions; sold at the next open.
    TimeStop,
    /// Still open when the data ends (marked to the last close).
    EndOfData,
}

impl ExitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Stop(StopSource::Initial) => "stop_initial",
            ExitReason::Stop(StopSource::Intraday) => "stop_intraday",
            ExitReason::Stop(StopSource::Daily) => "stop_daily",
            ExitReason::AvwapLoss => "avwap_loss",
            ExitReason::TimeStop => "time_stop",
            ExitReason::EndOfData => "end_of_data",
        }
    }

    pub fn parse(s: &str) -> Option<ExitReason> {
        Some(match s {
            "stop_initial" => ExitReason::Stop(StopSource::Initial),
            "stop_intraday" => ExitReason::Stop(StopSource::Intraday),
            "stop_daily" => ExitReason::Stop(StopSource::Daily),
            "avwap_loss" => ExitReason::AvwapLoss,
            "time_stop" => ExitReason::TimeStop,
            "end_of_data" => ExitReason::EndOfData,
            _ => return None,
        })
    }
}

impl From<ExitReason> for String {
    fn from(r: ExitReason) -> String {
        r.as_str().to_string()
    }
}

impl TryFrom<String> for ExitReason {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        ExitReason::parse(&s).ok_or_else(|| format!("unknown exit reason {s:?}"))
    }
}

/// An exit at its reference price (before slippage and fees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    pub day: NaiveDate,
    /// The intraday bar a stop filled in; `None` at the open or in a daily bar.
    pub at: Option<DateTime<Utc>>,
    pub price: f64,
    pub reason: ExitReason,
}

/// The price a long's stop at `level` fills at in a bar, when its low reaches it: the level,
/// or the open when the bar opened through it.
pub fn stop_fill(open: f64, low: f64, level: f64) -> Option<f64> {
    (low <= level).then(|| open.min(level))
}

/// A held position's exit state (kept between the daily run's cycles).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    pub entry_day: NaiveDate,
    pub entry_price: f64,
    /// The anchor of the AVWAP the position was entered on (an index into the panel).
    pub anchor_index: usize,
    pub path: StopPath,
    /// Closes below the AVWAP running.
    pub below: u32,
    /// Sessions held so far (the entry day is the first).
    pub held: u32,
    /// Lowest and highest prices seen while held.
    pub worst: f64,
    pub best: f64,
    pub intraday_days: u32,
    pub daily_days: u32,
    /// A close-based exit decided for the next open.
    pub pending: Option<ExitReason>,
}

impl Tracker {
    pub fn new(
        entry_day: NaiveDate,
        entry_price: f64,
        anchor_index: usize,
        path: StopPath,
    ) -> Self {
        Tracker {
            entry_day,
            entry_price,
            anchor_index,
            path,
            below: 0,
            held: 0,
            worst: entry_price,
            best: entry_price,
            intraday_days: 0,
            daily_days: 0,
            pending: None,
        }
    }

    /// The open of a session: a pending close-based exit fills at the open.
    pub fn at_open(&mut self, bar: &DailyBar) -> Option<Exit> {
        let reason = self.pending.take()?;
        self.worst = self.worst.min(bar.open);
        self.best = self.best.max(bar.open);
        Some(Exit {
            day: bar.ts,
            at: None,
            price: bar.open,
            reason,
        })
    }

    /// The session's stop checks: minute by minute on `intraday` (the session's one-minute
    /// bars; raising the stop on confirmed higher lows when `raise`), else on the daily bar.
    pub fn session(
        &mut self,
        bar: &DailyBar,
        intraday: Option<&[IntradayBar]>,
        p: &ExitParams,
        cal: &dyn Calendar,
        raise: bool,
    ) -> Option<Exit> {
        match intraday.filter(|b| !b.is_empty()) {
            Some(bars) => {
                self.intraday_days += 1;
                self.intraday_session(bar.ts, bars, p, cal, raise)
            }
            None => {
                self.daily_days += 1;
                self.daily_session(bar, cal)
            }
        }
    }

    /// Stops on the session's one-minute bars (a stop triggers on the tape); higher lows on
    /// its `bar_minutes` bars, each raise in force from the close of the bar that confirmed it
    /// (never before `stop_submit_after`).
    fn intraday_session(
        &mut self,
        day: NaiveDate,
        minutes: &[IntradayBar],
        p: &ExitParams,
        cal: &dyn Calendar,
        raise: bool,
    ) -> Option<Exit> {
        let submit = submit_from(day, p.stop_submit_after)?;
        let raises: Vec<StopPoint> = if raise {
            let structure = session_bars(minutes, p.bar_minutes, cal);
            let bars = structure.get(&day).map(Vec::as_slice).unwrap_or(&[]);
            confirmed_lows(bars, p.intraday_pivot_k)
                .into_iter()
                .map(|(j, level)| StopPoint {
                    effective: raise_effective(bars[j].ts, p.bar_minutes, submit),
                    level,
                    source: StopSource::Intraday,
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut next = raises.iter().peekable();
        for m in minutes {
            while let Some(r) = next.next_if(|r| r.effective <= m.ts) {
                self.path.raise(*r);
            }
            if let Some(sp) = self.path.in_force_at(m.ts)
                && let Some(price) = stop_fill(m.open, m.low, sp.level)
            {
                self.worst = self.worst.min(price);
                self.best = self.best.max(m.open);
                return Some(Exit {
                    day,
                    at: Some(m.ts),
                    price,
                    reason: ExitReason::Stop(sp.source),
                });
            }
            self.worst = self.worst.min(m.low);
            self.best = self.best.max(m.high);
        }
        // Raises confirmed by the session's last bar take effect at the next session.
        for r in next {
            self.path.raise(*r);
        }
        None
    }

    fn daily_session(&mut self, bar: &DailyBar, cal: &dyn Calendar) -> Option<Exit> {
        // The level in force during the session: the latest effective by its close.
        let close = cal
            .session(bar.ts)
            .and_then(|s| ny_instant(bar.ts, s.close))?;
        if let Some(sp) = self.path.in_force_at(close)
            && let Some(price) = stop_fill(bar.open, bar.low, sp.level)
        {
            self.worst = self.worst.min(price);
            self.best = self.best.max(bar.open);
            return Some(Exit {
                day: bar.ts,
                at: None,
                price,
                reason: ExitReason::Stop(sp.source),
            });
        }
        self.worst = self.worst.min(bar.low);
        self.best = self.best.max(bar.high);
        None
    }

    /// The close of bar `t` (the session just checked): the AVWAP and time exits for the next
    /// open, and on a session without intraday data the daily swing-low fallback.
    pub fn at_close(
        &mut self,
        panel: &Panel,
        t: usize,
        had_intraday: bool,
        p: &ExitParams,
        cal: &dyn Calendar,
        raise: bool,
    ) {
        let bar = &panel.bars[t];
        self.held += 1;
        if raise
            && !had_intraday
            && let Some((_, level)) = panel.swing_low(t)
            && level < bar.close
            && let Some(effective) = submit_from(cal.next_trading_day(bar.ts), p.stop_submit_after)
        {
            self.path.raise(StopPoint {
                effective,
                level,
                source: StopSource::Daily,
            });
        }
        match anchor::avwap(&panel.bars, self.anchor_index, t) {
            Some(v) if bar.close < v => self.below += 1,
            _ => self.below = 0,
        }
        if self.below >= p.avwap_exit_days {
            self.pending = Some(ExitReason::AvwapLoss);
        } else if self.held >= p.max_hold_days {
            self.pending = Some(ExitReason::TimeStop);
        }
    }
}

/// A recorded trade for the simulator: where it entered and its stop path as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub entry_day: NaiveDate,
    pub entry_price: f64,
    pub anchor_index: usize,
    pub path: StopPath,
}

/// The broker-independent exit simulator: replays the daily and intraday bars from the
/// entry day through `through` against the recorded stop path, and returns the exit the
/// rules give (or `None` while the position would still be open).
pub fn simulate(
    panel: &Panel,
    sessions: Option<&Sessions>,
    trade: &Recorded,
    through: NaiveDate,
    p: &ExitParams,
    cal: &dyn Calendar,
) -> Option<Exit> {
    replay(panel, sessions, trade, through, p, cal).1
}

/// [`simulate`], with the tracker as the replay left it (the prices seen while held, the
/// sessions with and without intraday bars, the sessions held): a trade's analytics.
pub fn replay(
    panel: &Panel,
    sessions: Option<&Sessions>,
    trade: &Recorded,
    through: NaiveDate,
    p: &ExitParams,
    cal: &dyn Calendar,
) -> (Tracker, Option<Exit>) {
    let mut tr = Tracker::new(
        trade.entry_day,
        trade.entry_price,
        trade.anchor_index,
        trade.path.clone(),
    );
    let start = panel.bars.partition_point(|b| b.ts < trade.entry_day);
    for t in start..panel.bars.len() {
        let bar = &panel.bars[t];
        if bar.ts > through {
            break;
        }
        if let Some(x) = tr.at_open(bar) {
            tr.held += 1;
            return (tr, Some(x));
        }
        let intraday = sessions.and_then(|s| s.get(&bar.ts)).map(Vec::as_slice);
        if let Some(x) = tr.session(bar, intraday, p, cal, false) {
            tr.held += 1;
            return (tr, Some(x));
        }
        tr.at_close(
            panel,
            t,
            intraday.is_some_and(|b| !b.is_empty()),
            p,
            cal,
            false,
        );
    }
    (tr, None)
}
