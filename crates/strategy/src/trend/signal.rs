//! §1–2 and the stop inputs of §6, per ticker, streaming: each new visible bar updates every
//! window in O(1), so a decision never recomputes history and never sees past its cut.

use serde::{Deserialize, Serialize};
use systrade_core::DailyBar;
use systrade_indicators::{
    Atr, Ema, Hlc, Indicator, LinRegR2, RollingMax, RollingMin, RollingVol, Sma, StdDev,
};

/// How the R² filter scales the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterMode {
    /// `q = 1` when R² ≥ r2_min, else 0.
    #[default]
    Binary,
    /// `q = min(1, R²/r2_min)`.
    Continuous,
}

/// Signal parameters with the spec's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalParams {
    pub ma_pairs: Vec<(usize, usize)>,
    pub donchian_window: usize,
    pub w_ma: f64,
    pub w_dc: f64,
    pub smooth_span: usize,
    pub r2_window: usize,
    pub r2_min: f64,
    pub filter_mode: FilterMode,
    pub vov_window: usize,
    pub vov_max: f64,
    /// Window of the rolling volatility whose instability vol-of-vol measures.
    pub vol_window: usize,
    pub atr_window: usize,
    pub stop_lookback: usize,
    pub atr_mult: f64,
}

impl Default for SignalParams {
    fn default() -> Self {
        SignalParams {
            ma_pairs: vec![(5, 20), (10, 40), (20, 80), (40, 160)],
            donchian_window: 40,
            w_ma: 0.5,
            w_dc: 0.5,
            smooth_span: 3,
            r2_window: 30,
            r2_min: 0.20,
            filter_mode: FilterMode::Binary,
            vov_window: 60,
            vov_max: 0.50,
            vol_window: 20,
            atr_window: 20,
            stop_lookback: 22,
            atr_mult: 3.0,
        }
    }
}

impl SignalParams {
    /// Bars a ticker needs before it can signal: `max(all windows) + 1`.
    pub fn warmup(&self) -> usize {
        let ma = self
            .ma_pairs
            .iter()
            .map(|(f, s)| (*f).max(*s))
            .max()
            .unwrap_or(0);
        [
            ma,
            self.donchian_window + 1,
            self.r2_window,
            self.vol_window + self.vov_window,
            self.atr_window + 1,
            self.stop_lookback,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
            + 1
    }

    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), String> {
        if self.ma_pairs.is_empty() {
            return Err("ma_pairs: at least one (fast, slow) pair".into());
        }
        for (f, s) in &self.ma_pairs {
            if *f == 0 || f >= s {
                return Err(format!("ma_pairs: ({f}, {s}) needs 0 < fast < slow"));
            }
        }
        for (name, v) in [
            ("donchian_window", self.donchian_window),
            ("smooth_span", self.smooth_span),
            ("r2_window", self.r2_window),
            ("vov_window", self.vov_window),
            ("vol_window", self.vol_window),
            ("atr_window", self.atr_window),
            ("stop_lookback", self.stop_lookback),
        ] {
            if v == 0 || (name == "r2_window" && v < 2) || (name == "vol_window" && v < 2) {
                return Err(format!("{name}: must be a positive window (got {v})"));
            }
        }
        for (name, v) in [
            ("w_ma", self.w_ma),
            ("w_dc", self.w_dc),
            ("r2_min", self.r2_min),
            ("vov_max", self.vov_max),
            ("atr_mult", self.atr_mult),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name}: must be a non-negative number (got {v})"));
            }
        }
        if self.r2_min == 0.0 && self.filter_mode == FilterMode::Continuous {
            return Err("r2_min: must be positive with filter_mode = \"continuous\"".into());
        }
        Ok(())
    }
}

/// Everything the signal knows after a bar, for the desired-trades log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalSnapshot {
    /// §1: the bar exists, is not stale, and passes validation.
    pub data_ok: bool,
    pub bars: usize,
    pub ma_signal: Option<f64>,
    pub dc_signal: Option<f64>,
    /// The blend after EWM smoothing.
    pub weighted: Option<f64>,
    pub r2: Option<f64>,
    pub q: Option<f64>,
    pub vol_of_vol: Option<f64>,
    pub v: Option<f64>,
    /// `max(0, weighted · q · v)`; `None` during warm-up.
    pub final_signal: Option<f64>,
    pub atr: Option<f64>,
    pub highest_high: Option<f64>,
    /// `highest_high − atr_mult · ATR`, before any ratchet.
    pub chandelier: Option<f64>,
    pub last_close: Option<f64>,
}

/// One ticker's streaming signal state.
#[derive(Debug, Clone)]
pub struct TickerSignal {
    p: SignalParams,
    bars: usize,
    prev_close: Option<f64>,
    emas: Vec<(Ema, Ema)>,
    last_ema: Vec<(Option<f64>, Option<f64>)>,
    dc_hi: RollingMax,
    dc_lo: RollingMin,
    /// The channel ending at the previous bar (the shift of §2.2).
    prev_channel: Option<(f64, f64)>,
    smooth: Option<f64>,
    r2: LinRegR2,
    vol: RollingVol,
    vov_sd: StdDev,
    vov_mean: Sma,
    atr: Atr,
    hh: RollingMax,
    last: SignalSnapshot,
}

impl TickerSignal {
    pub fn new(p: &SignalParams) -> Result<Self, String> {
        p.validate()?;
        let e = |err: systrade_indicators::IndicatorError| err.to_string();
        let emas = p
            .ma_pairs
            .iter()
            .map(|(f, s)| Ok((Ema::new(*f).map_err(e)?, Ema::new(*s).map_err(e)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TickerSignal {
            last_ema: vec![(None, None); emas.len()],
            emas,
            bars: 0,
            prev_close: None,
            dc_hi: RollingMax::new(p.donchian_window).map_err(e)?,
            dc_lo: RollingMin::new(p.donchian_window).map_err(e)?,
            prev_channel: None,
            smooth: None,
            r2: LinRegR2::new(p.r2_window).map_err(e)?,
            vol: RollingVol::new(p.vol_window, 1.0).map_err(e)?,
            vov_sd: StdDev::new(p.vov_window).map_err(e)?,
            vov_mean: Sma::new(p.vov_window).map_err(e)?,
            atr: Atr::new(p.atr_window).map_err(e)?,
            hh: RollingMax::new(p.stop_lookback).map_err(e)?,
            last: SignalSnapshot {
                data_ok: false,
                bars: 0,
                ma_signal: None,
                dc_signal: None,
                weighted: None,
                r2: None,
                q: None,
                vol_of_vol: None,
                v: None,
                final_signal: None,
                atr: None,
                highest_high: None,
                chandelier: None,
                last_close: None,
            },
            p: p.clone(),
        })
    }

    /// The state after the last bar fed.
    pub fn snapshot(&self) -> &SignalSnapshot {
        &self.last
    }

    /// Feeds the next visible bar (T−1 for the coming decision).
    pub fn update(&mut self, b: &DailyBar) -> &SignalSnapshot {
        self.bars += 1;
        let stale = b.volume <= 0.0 && self.prev_close == Some(b.close);
        let data_ok = b.ohlcv().is_valid() && !stale;

        // §2.1 MA ribbon: mean of ±1 over the pairs.
        for ((fast, slow), last) in self.emas.iter_mut().zip(self.last_ema.iter_mut()) {
            *last = (fast.update(b.close), slow.update(b.close));
        }
        let ma_signal = if self
            .last_ema
            .iter()
            .all(|(f, s)| f.is_some() && s.is_some())
        {
            let s: f64 = self
                .last_ema
                .iter()
                .map(|(f, s)| if f > s { 1.0 } else { -1.0 })
                .sum();
            Some(s / self.last_ema.len() as f64)
        } else {
            None
        };

        // §2.2 Donchian over the window ending at the previous bar.
        let dc_signal = self.prev_channel.map(|(hi, lo)| {
            if hi == lo {
                0.0
            } else {
                (2.0 * (b.close - (hi + lo) / 2.0) / (hi - lo)).clamp(-1.0, 1.0)
            }
        });
        let (hi, lo) = (self.dc_hi.update(b.high), self.dc_lo.update(b.low));
        self.prev_channel = hi.zip(lo);

        // §2.3 blend and EWM smoothing (span; adjust = false, seeded with the first value).
        let weighted = match (ma_signal, dc_signal) {
            (Some(m), Some(d)) => {
                let x = self.p.w_ma * m + self.p.w_dc * d;
                let alpha = 2.0 / (self.p.smooth_span as f64 + 1.0);
                let s = match self.smooth {
                    Some(prev) => prev + alpha * (x - prev),
                    None => x,
                };
                self.smooth = Some(s);
                Some(s)
            }
            _ => None,
        };

        // §2.4 filters: R² of ln(close) on time; vol-of-vol of the rolling volatility.
        let r2 = self.r2.update(b.close.ln());
        let q = r2.map(|r| match self.p.filter_mode {
            FilterMode::Binary => f64::from(u8::from(r >= self.p.r2_min)),
            FilterMode::Continuous => (r / self.p.r2_min).min(1.0),
        });
        let (vol_of_vol, v) = match self.vol.update(b.close) {
            Some(vol) => {
                let (sd, mean) = (self.vov_sd.update(vol), self.vov_mean.update(vol));
                match (sd, mean) {
                    (Some(sd), Some(m)) if m > 0.0 => {
                        let vov = sd / m;
                        (
                            Some(vov),
                            Some(if vov > self.p.vov_max { 0.0 } else { 1.0 }),
                        )
                    }
                    (Some(_), Some(_)) => (None, Some(0.0)),
                    _ => (None, None),
                }
            }
            None => (None, None),
        };

        // §2.5 long-only final signal, once every input is defined.
        let final_signal = match (weighted, q, v) {
            (Some(w), Some(q), Some(v)) if self.bars >= self.p.warmup() => {
                Some((w * q * v).max(0.0))
            }
            _ => None,
        };

        // §3, §6 ATR and the chandelier level on T−1 bars.
        let atr = self.atr.update(Hlc {
            high: b.high,
            low: b.low,
            close: b.close,
        });
        let highest_high = self.hh.update(b.high);
        let chandelier = highest_high.zip(atr).map(|(h, a)| h - self.p.atr_mult * a);
        self.prev_close = Some(b.close);
        self.last = SignalSnapshot {
            data_ok,
            bars: self.bars,
            ma_signal,
            dc_signal,
            weighted,
            r2,
            q,
            vol_of_vol,
            v,
            final_signal,
            atr,
            highest_high,
            chandelier,
            last_close: Some(b.close),
        };
        &self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use systrade_core::{Bar, Ohlcv};

    fn bar(i: i64, o: f64, h: f64, l: f64, c: f64) -> DailyBar {
        Bar::new(
            NaiveDate::from_ymd_opt(2021, 1, 1).unwrap() + chrono::Duration::days(i),
            Ohlcv {
                open: o,
                high: h,
                low: l,
                close: c,
                volume: 1000.0,
            },
        )
    }

    fn small() -> SignalParams {
        SignalParams {
            ma_pairs: vec![(2, 4)],
            donchian_window: 3,
            r2_window: 3,
            vol_window: 2,
            vov_window: 3,
            atr_window: 2,
            stop_lookback: 3,
            ..SignalParams::default()
        }
    }

    #[test]
    fn test_donchian_uses_the_channel_ending_at_the_previous_bar() {
        // Highs 10, 11, 12 and lows 8, 9, 10 form the channel (hi 12, lo 8, mid 10) before
        // bar 3; bar 3 closes at 14 with a high of 15 that must not widen its own channel.
        let mut s = TickerSignal::new(&small()).unwrap();
        for (i, (h, l)) in [(10.0, 8.0), (11.0, 9.0), (12.0, 10.0)].iter().enumerate() {
            s.update(&bar(i as i64, (h + l) / 2.0, *h, *l, (h + l) / 2.0));
        }
        let snap = s.update(&bar(3, 13.0, 15.0, 12.5, 14.0));
        // dc = clamp(2·(14 − 10)/(12 − 8)) = clamp(2) = 1; a close at 11 gives 0.5.
        assert_eq!(snap.dc_signal, Some(1.0));
        let mut s2 = TickerSignal::new(&small()).unwrap();
        for (i, (h, l)) in [(10.0, 8.0), (11.0, 9.0), (12.0, 10.0)].iter().enumerate() {
            s2.update(&bar(i as i64, (h + l) / 2.0, *h, *l, (h + l) / 2.0));
        }
        assert_eq!(
            s2.update(&bar(3, 11.0, 11.5, 10.5, 11.0)).dc_signal,
            Some(0.5)
        );
    }

    #[test]
    fn test_rising_market_signals_long_and_falling_is_clamped_to_zero() {
        let p = SignalParams::default();
        let mut up = TickerSignal::new(&p).unwrap();
        let mut down = TickerSignal::new(&p).unwrap();
        let n = p.warmup() + 20;
        let (mut su, mut sd) = (None, None);
        for i in 0..n {
            // A steady trend with a little noise so the vol-of-vol filter is defined.
            let wiggle = if i % 2 == 0 { 1.002 } else { 0.999 };
            let cu = 100.0 * 1.01f64.powi(i as i32) * wiggle;
            let cd = 100.0 * 0.99f64.powi(i as i32) * wiggle;
            su = up
                .update(&bar(i as i64, cu, cu * 1.01, cu * 0.99, cu))
                .final_signal;
            sd = down
                .update(&bar(i as i64, cd, cd * 1.01, cd * 0.99, cd))
                .final_signal;
        }
        assert!(su.unwrap() > 0.5, "uptrend: {su:?}");
        assert_eq!(sd, Some(0.0), "downtrend clamps to zero");
        let snap = up.snapshot();
        assert_eq!(snap.ma_signal, Some(1.0));
        assert!(snap.r2.unwrap() > 0.9);
        assert!(snap.chandelier.unwrap() < snap.last_close.unwrap());
    }

    #[test]
    fn test_warmup_and_data_ok() {
        let p = SignalParams::default();
        assert_eq!(p.warmup(), 161, "max(all windows) + 1 with the 160-bar EMA");
        let mut s = TickerSignal::new(&p).unwrap();
        for i in 0..159 {
            assert_eq!(
                s.update(&bar(i, 10.0, 10.5, 9.5, 10.0 + (i % 3) as f64 * 0.1))
                    .final_signal,
                None
            );
        }
        // A stale bar (no volume, unchanged close) is not data_ok.
        let last = s.snapshot().last_close.unwrap();
        let stale = Bar::new(
            NaiveDate::from_ymd_opt(2021, 12, 1).unwrap(),
            Ohlcv {
                open: last,
                high: last,
                low: last,
                close: last,
                volume: 0.0,
            },
        );
        assert!(!s.update(&stale).data_ok);
        assert!(s.update(&bar(300, 10.0, 10.5, 9.5, 10.2)).data_ok);
    }

    #[test]
    fn test_params_validation_names_the_key() {
        let bad = SignalParams {
            ma_pairs: vec![(20, 5)],
            ..SignalParams::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("ma_pairs"));
        let bad = SignalParams {
            donchian_window: 0,
            ..SignalParams::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("donchian_window"));
        let bad = SignalParams {
            vov_max: -1.0,
            ..SignalParams::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("vov_max"));
    }
}
