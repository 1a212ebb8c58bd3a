//! The union calendar of every name's sessions, with each name's closes and opens carried
//! forward over its gaps (NaN before its first bar, and after its last bar the last close
//! stays: a delisted name keeps its last price, as bt's forward fill).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use systrade_core::bar::mean_volume_before;
use systrade_core::{DailyBar, Symbol};

/// Prices on the union calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub dates: Vec<NaiveDate>,
    /// In symbol order.
    pub symbols: Vec<Symbol>,
    /// `close[s][t]`: carried forward; NaN before the name's first bar.
    pub close: Vec<Vec<f64>>,
    /// `open[s][t]`: the session's open, or the carried close on a gap. Empty on a panel read
    /// back without its opens ([`Panel::read_from`]: a rotation filling at the close never
    /// reads them; [`Panel::read_opens_from`] adds them).
    pub open: Vec<Vec<f64>>,
    /// The names' average volume before the sessions a rebalance trades in.
    pub liquidity: Liquidity,
}

/// Bars an average daily volume is taken over.
pub const ADV_WINDOW: usize = 20;

/// Each name's average daily volume (in units, the mean of its last [`ADV_WINDOW`] bars
/// before the session) on the sessions a monthly rebalance trades in — each month's first
/// session and the one after: what a backtest's fills are measured against (capacity).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Liquidity {
    /// Panel rows, ascending.
    pub rows: Vec<usize>,
    /// `adv[i][s]`: name `s`'s average volume before row `rows[i]`; NaN when it has fewer
    /// than [`ADV_WINDOW`] bars before it or a volume that is not a number.
    pub adv: Vec<Vec<f64>>,
}

impl Liquidity {
    fn of(dates: &[NaiveDate], data: &BTreeMap<Symbol, Vec<DailyBar>>, rows: Vec<usize>) -> Self {
        let mut adv = vec![vec![f64::NAN; data.len()]; rows.len()];
        for (s, bars) in data.values().enumerate() {
            for (i, r) in rows.iter().enumerate() {
                if let Some(v) = mean_volume_before(bars, dates[*r], ADV_WINDOW) {
                    adv[i][s] = v;
                }
            }
        }
        Liquidity { rows, adv }
    }
}

impl Panel {
    /// Builds the panel (bars in date order, as the data layer gives them).
    pub fn new(data: &BTreeMap<Symbol, Vec<DailyBar>>) -> Panel {
        let mut dates: Vec<NaiveDate> =
            data.values().flat_map(|b| b.iter().map(|x| x.ts)).collect();
        dates.sort_unstable();
        dates.dedup();
        let mut close = Vec::with_capacity(data.len());
        let mut open = Vec::with_capacity(data.len());
        for bars in data.values() {
            let mut c = vec![f64::NAN; dates.len()];
            let mut o = vec![f64::NAN; dates.len()];
            // Both in date order: one walk places every bar on its row.
            let mut next = bars.iter().peekable();
            let mut last = f64::NAN;
            for (t, d) in dates.iter().enumerate() {
                while next.peek().is_some_and(|b| b.ts < *d) {
                    next.next();
                }
                match next.peek() {
                    Some(b) if b.ts == *d => {
                        c[t] = b.close;
                        o[t] = b.open;
                        last = b.close;
                        next.next();
                    }
                    _ => {
                        c[t] = last;
                        o[t] = last;
                    }
                }
            }
            close.push(c);
            open.push(o);
        }
        let mut panel = Panel {
            dates,
            symbols: data.keys().cloned().collect(),
            close,
            open,
            liquidity: Liquidity::default(),
        };
        // Each month's first session and the one after (a next-open fill): ascending already.
        let mut rows: Vec<usize> = panel
            .month_starts()
            .into_iter()
            .flat_map(|t| [t, t + 1])
            .filter(|t| *t < panel.dates.len())
            .collect();
        rows.dedup();
        panel.liquidity = Liquidity::of(&panel.dates, data, rows);
        panel
    }

    /// Name `s`'s average daily volume before row `t` (`None` off the rebalance sessions,
    /// with too few bars, or without a positive volume).
    pub fn adv(&self, s: usize, t: usize) -> Option<f64> {
        let i = self.liquidity.rows.binary_search(&t).ok()?;
        let v = *self.liquidity.adv.get(i)?.get(s)?;
        (v.is_finite() && v > 0.0).then_some(v)
    }

    /// The column of a symbol.
    pub fn column(&self, s: &str) -> Option<usize> {
        self.symbols.iter().position(|x| x.as_str() == s)
    }

    /// The simple mean of `close[s][t+1−n ..= t]` (None when any of them is missing).
    pub fn sma(&self, s: usize, t: usize, n: usize) -> Option<f64> {
        if n == 0 || t + 1 < n {
            return None;
        }
        let xs = &self.close[s][t + 1 - n..=t];
        if xs.iter().any(|x| !x.is_finite()) {
            return None;
        }
        Some(xs.iter().sum::<f64>() / n as f64)
    }

    /// 12−1 momentum: `close[t − skip] / close[t − lookback] − 1` (None when either is
    /// missing or the older is not positive).
    pub fn momentum(&self, s: usize, t: usize, lookback: usize, skip: usize) -> Option<f64> {
        if t < lookback {
            return None;
        }
        let (a, b) = (self.close[s][t - lookback], self.close[s][t - skip]);
        (a.is_finite() && b.is_finite() && a > 0.0).then(|| b / a - 1.0)
    }

    /// Daily simple returns of `s` over the `n` sessions ending at `t` (None where a close
    /// is missing).
    pub fn returns(&self, s: usize, t: usize, n: usize) -> Vec<Option<f64>> {
        let from = (t + 1).saturating_sub(n);
        (from..=t)
            .map(|i| {
                if i == 0 {
                    return None;
                }
                let (a, b) = (self.close[s][i - 1], self.close[s][i]);
                (a.is_finite() && b.is_finite() && a > 0.0).then(|| b / a - 1.0)
            })
            .collect()
    }

    /// bt's `RunMonthly` dates: the first session, then every session whose month differs
    /// from the previous one's, never the last session.
    pub fn month_starts(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let n = self.dates.len();
        if n == 0 {
            return out;
        }
        out.push(0);
        use chrono::Datelike;
        for i in 1..n.saturating_sub(1) {
            let (a, b) = (self.dates[i - 1], self.dates[i]);
            if (a.year(), a.month()) != (b.year(), b.month()) {
                out.push(i);
            }
        }
        out
    }
}

impl Panel {
    /// The panel without its opens as bytes (dates as days from the common era, prices as
    /// little-endian f64 bits: exact), for a cache; [`Panel::opens_to_bytes`] holds the opens.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (n, k) = (self.dates.len(), self.symbols.len());
        let mut out = Vec::with_capacity(16 + n * 4 + k * (16 + n * 8));
        out.extend_from_slice(&(n as u64).to_le_bytes());
        out.extend_from_slice(&(k as u64).to_le_bytes());
        for d in &self.dates {
            out.extend_from_slice(&chrono::Datelike::num_days_from_ce(d).to_le_bytes());
        }
        for (j, s) in self.symbols.iter().enumerate() {
            out.extend_from_slice(&(s.as_str().len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_str().as_bytes());
            for v in &self.close[j] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let l = &self.liquidity;
        out.extend_from_slice(&(l.rows.len() as u64).to_le_bytes());
        for (r, adv) in l.rows.iter().zip(&l.adv) {
            out.extend_from_slice(&(*r as u64).to_le_bytes());
            for v in adv {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// The opens as bytes: the panel's shape, then each name's column.
    pub fn opens_to_bytes(&self) -> Vec<u8> {
        let (n, k) = (self.dates.len(), self.open.len());
        let mut out = Vec::with_capacity(16 + k * n * 8);
        out.extend_from_slice(&(n as u64).to_le_bytes());
        out.extend_from_slice(&(k as u64).to_le_bytes());
        for v in self.open.iter().flatten() {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Reads what [`Panel::opens_to_bytes`] wrote of this panel (its shape must match) from a
    /// stream holding at most `limit` more bytes; `None` on anything else, the panel as it was.
    pub fn read_opens_from(&mut self, r: &mut impl std::io::Read, limit: u64) -> Option<()> {
        let (n, k) = (self.dates.len(), self.symbols.len());
        let mut head = [0u8; 16];
        r.read_exact(&mut head).ok()?;
        let word = |b: &[u8]| usize::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok();
        if word(&head[..8])? != n || word(&head[8..])? != k {
            return None;
        }
        let mut src = Bounded {
            r,
            left: limit.checked_sub(16)?,
        };
        let mut open = Vec::with_capacity(k);
        for _ in 0..k {
            open.push(src.f64s(n)?);
        }
        self.open = open;
        Some(())
    }

    /// Reads what [`Panel::to_bytes`] wrote; `None` on anything else.
    pub fn from_bytes(b: &[u8]) -> Option<Panel> {
        let mut rest = b;
        let p = Panel::read_from(&mut rest, b.len() as u64)?;
        rest.is_empty().then_some(p)
    }

    /// Reads what [`Panel::to_bytes`] wrote from a stream holding at most `limit` more bytes
    /// (no length read from it allocates beyond that), a column at a time; `None` on anything
    /// else. The caller checks that nothing follows. The panel has no opens.
    pub fn read_from(r: &mut impl std::io::Read, limit: u64) -> Option<Panel> {
        let mut src = Bounded { r, left: limit };
        let mut buf = Vec::new();
        let word = |buf: &[u8]| -> Option<usize> {
            usize::try_from(u64::from_le_bytes(buf.try_into().ok()?)).ok()
        };
        src.bytes(&mut buf, 8)?;
        let n = word(&buf)?;
        src.bytes(&mut buf, 8)?;
        let k = word(&buf)?;
        src.bytes(&mut buf, n.checked_mul(4)?)?;
        let dates = buf
            .chunks_exact(4)
            .map(|c| NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(c.try_into().ok()?)))
            .collect::<Option<Vec<_>>>()?;
        let fit = usize::try_from(limit / 16).unwrap_or(usize::MAX);
        let mut symbols = Vec::with_capacity(k.min(fit));
        let mut close = Vec::with_capacity(k.min(fit));
        for _ in 0..k {
            src.bytes(&mut buf, 8)?;
            let len = word(&buf)?;
            src.bytes(&mut buf, len)?;
            symbols.push(Symbol::new(std::str::from_utf8(&buf).ok()?).ok()?);
            close.push(src.f64s(n)?);
        }
        src.bytes(&mut buf, 8)?;
        let m = word(&buf)?;
        let mut liquidity = Liquidity {
            rows: Vec::with_capacity(m.min(fit)),
            adv: Vec::with_capacity(m.min(fit)),
        };
        for _ in 0..m {
            src.bytes(&mut buf, 8)?;
            liquidity.rows.push(word(&buf).filter(|r| *r < n)?);
            liquidity.adv.push(src.f64s(k)?);
        }
        if !liquidity.rows.is_sorted_by(|a, b| a < b) {
            return None;
        }
        Some(Panel {
            dates,
            symbols,
            close,
            open: Vec::new(),
            liquidity,
        })
    }
}

/// A stream read within a byte budget: nothing read from it asks for more than is left.
struct Bounded<'a, R> {
    r: &'a mut R,
    left: u64,
}

impl<R: std::io::Read> Bounded<'_, R> {
    /// The next `n` bytes into `buf`.
    fn bytes(&mut self, buf: &mut Vec<u8>, n: usize) -> Option<()> {
        self.left = self.left.checked_sub(u64::try_from(n).ok()?)?;
        buf.resize(n, 0);
        self.r.read_exact(buf).ok()
    }

    /// The next `n` little-endian f64s, read straight into the column.
    fn f64s(&mut self, n: usize) -> Option<Vec<f64>> {
        self.left = self
            .left
            .checked_sub(u64::try_from(n.checked_mul(8)?).ok()?)?;
        let mut col = vec![0.0_f64; n];
        self.r.read_exact(bytemuck::cast_slice_mut(&mut col)).ok()?;
        if cfg!(target_endian = "big") {
            for v in &mut col {
                *v = f64::from_bits(u64::from_le(v.to_bits()));
            }
        }
        Some(col)
    }
}
