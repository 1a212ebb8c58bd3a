//! A deterministic synthetic market for tests and the demo.
//!
//! Returns come from a factor model with the features strategies react to on real data:
//! a market factor and sector factors whose drifts switch between bull, bear and calm regimes
//! (so trends exist and end), per-name trend regimes (so cross-sectional momentum exists),
//! GARCH(1,1) volatility clustering, Student-t (ν = 4) fat tails, overnight gaps, and volume
//! that rises with |return|. Prices are written in cents and volumes in whole shares, so the
//! files look and parse like a vendor's. The same seed gives byte-identical files.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StudentT};
use systrade_core::{Bar, DailyBar, Market, Ohlcv, Symbol};

use crate::error::DataError;

/// Sector names and the ticker prefix of their members.
const SECTORS: [(&str, &str); 6] = [
    ("Technology", "TEC"),
    ("Energy", "ENE"),
    ("Financials", "FIN"),
    ("Health Care", "HLT"),
    ("Industrials", "IND"),
    ("Consumer", "CON"),
];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    pub symbols: usize,
    /// Trading sessions per symbol.
    pub days: usize,
    pub seed: u64,
    /// First session (moved forward to a trading day).
    pub start: NaiveDate,
    /// Whose calendar the sessions follow.
    pub market: Market,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            symbols: 20,
            days: 1000,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2015, 1, 2).unwrap_or(NaiveDate::MIN),
            market: Market::Us,
        }
    }
}

/// One generated symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSeries {
    pub symbol: Symbol,
    pub sector: String,
    pub bars: Vec<DailyBar>,
}

/// A GARCH(1,1) variance process around a long-run daily volatility.
struct Garch {
    omega: f64,
    alpha: f64,
    beta: f64,
    var: f64,
}

impl Garch {
    fn new(long_run_vol: f64) -> Self {
        let (alpha, beta) = (0.08, 0.90);
        let lr = long_run_vol * long_run_vol;
        Garch {
            omega: (1.0 - alpha - beta) * lr,
            alpha,
            beta,
            var: lr,
        }
    }

    fn sigma(&self) -> f64 {
        self.var.sqrt()
    }

    fn update(&mut self, shock: f64) {
        self.var = self.omega + self.alpha * shock * shock + self.beta * self.var;
    }
}

/// A Markov chain over drift regimes.
struct Regime {
    drifts: &'static [f64],
    stay: f64,
    state: usize,
}

impl Regime {
    fn step(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        if rng.random::<f64>() > self.stay {
            let k = self.drifts.len();
            self.state = (self.state + 1 + rng.random_range(0..k - 1)) % k;
        }
        self.drifts[self.state]
    }
}

const MARKET_DRIFTS: [f64; 3] = [0.0007, -0.0009, 0.0001];
const SECTOR_DRIFTS: [f64; 3] = [0.0004, -0.0004, 0.0];
const NAME_DRIFTS: [f64; 3] = [0.0009, -0.0009, 0.0];

/// Generates the market. Deterministic for a given config.
pub fn generate(cfg: &SynthConfig) -> Result<Vec<SynthSeries>, DataError> {
    if cfg.symbols == 0 || cfg.days < 2 {
        return Err(DataError::Usage(
            "synth needs at least 1 symbol and 2 days".into(),
        ));
    }
    // Every bar is held until the files are written (~48 bytes each): refuse what cannot fit
    // rather than die half-way.
    const MAX_BARS: usize = 100_000_000;
    if cfg.symbols.saturating_mul(cfg.days) > MAX_BARS {
        return Err(DataError::Usage(format!(
            "synth of {} symbols × {} days is {} bars (about {} GB in memory); at most {MAX_BARS} bars: fewer symbols or days, or several folders with other seeds",
            cfg.symbols,
            cfg.days,
            cfg.symbols.saturating_mul(cfg.days),
            cfg.symbols.saturating_mul(cfg.days).saturating_mul(48) / 1_000_000_000
        )));
    }
    let cal = cfg.market.calendar();
    let mut dates = Vec::with_capacity(cfg.days);
    let mut d = if cal.is_trading_day(cfg.start) {
        cfg.start
    } else {
        cal.next_trading_day(cfg.start)
    };
    for _ in 0..cfg.days {
        dates.push(d);
        d = cal.next_trading_day(d);
    }

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let t4 = StudentT::new(4.0).map_err(|e| DataError::Usage(e.to_string()))?;
    let t_scale = (4.0f64 / 2.0).sqrt(); // unit variance: Var(t_ν) = ν/(ν−2)
    let normal = Normal::new(0.0, 1.0).map_err(|e| DataError::Usage(e.to_string()))?;
    let z = |rng: &mut ChaCha8Rng| t4.sample(rng) / t_scale;

    let n_sectors = SECTORS.len().min(cfg.symbols);
    let mut mkt_reg = Regime {
        drifts: &MARKET_DRIFTS,
        stay: 0.985,
        state: 0,
    };
    let mut mkt_vol = Garch::new(0.010);
    let mut sec_reg: Vec<Regime> = (0..n_sectors)
        .map(|i| Regime {
            drifts: &SECTOR_DRIFTS,
            stay: 0.99,
            state: i % 3,
        })
        .collect();
    let mut sec_vol: Vec<Garch> = (0..n_sectors).map(|_| Garch::new(0.006)).collect();

    struct Name {
        sector: usize,
        beta_m: f64,
        beta_s: f64,
        regime: Regime,
        vol: Garch,
        lr_vol: f64,
        base_volume: f64,
        close: f64,
        bars: Vec<DailyBar>,
    }
    let mut names: Vec<Name> = (0..cfg.symbols)
        .map(|i| {
            let lr_vol = rng.random_range(0.010..0.020);
            Name {
                sector: i % n_sectors,
                beta_m: rng.random_range(0.7..1.3),
                beta_s: rng.random_range(0.5..1.0),
                regime: Regime {
                    drifts: &NAME_DRIFTS,
                    stay: 0.99,
                    state: rng.random_range(0..3),
                },
                vol: Garch::new(lr_vol),
                lr_vol,
                base_volume: rng.random_range(2e5..5e6f64).round(),
                close: (rng.random_range(20.0..200.0f64) * 100.0).round() / 100.0,
                bars: Vec::with_capacity(cfg.days),
            }
        })
        .collect();

    for (t, date) in dates.iter().enumerate() {
        let mu_m = mkt_reg.step(&mut rng);
        let shock_m = mkt_vol.sigma() * z(&mut rng);
        mkt_vol.update(shock_m);
        let sec: Vec<f64> = (0..n_sectors)
            .map(|s| {
                let mu = sec_reg[s].step(&mut rng);
                let shock = sec_vol[s].sigma() * z(&mut rng);
                sec_vol[s].update(shock);
                mu + shock
            })
            .collect();
        for n in names.iter_mut() {
            // A name near zero would print as a flat line in cents; lean its trend upward.
            let mut mu_i = n.regime.step(&mut rng);
            if n.close < 3.0 {
                n.regime.state = 0;
                mu_i = NAME_DRIFTS[0];
            }
            let shock_i = n.vol.sigma() * z(&mut rng);
            n.vol.update(shock_i);
            let r = (n.beta_m * (mu_m + shock_m) + n.beta_s * sec[n.sector] + mu_i + shock_i)
                .clamp(-0.4, 0.4);
            let sigma = (n.vol.sigma().powi(2) + (n.beta_m * mkt_vol.sigma()).powi(2)).sqrt();
            let gap = 0.35 * r + 0.2 * n.lr_vol * normal.sample(&mut rng);
            let prev = n.close;
            let (open, close) = if t == 0 {
                (prev, prev * r.exp())
            } else {
                (prev * gap.exp(), prev * r.exp())
            };
            let hi = open.max(close) * (0.5 * sigma * normal.sample(&mut rng).abs()).exp();
            let lo = open.min(close) * (-0.5 * sigma * normal.sample(&mut rng).abs()).exp();
            let cents = |x: f64| ((x * 100.0).round() / 100.0).max(0.01);
            let (open, close) = (cents(open), cents(close));
            let high = cents(hi).max(open).max(close);
            let low = cents(lo).min(open).min(close);
            let surprise = r.abs() / n.lr_vol;
            let volume =
                (n.base_volume * (1.0 + 0.8 * surprise) * (0.3 * normal.sample(&mut rng)).exp())
                    .round()
                    .max(100.0);
            n.close = close;
            n.bars.push(Bar::new(
                *date,
                Ohlcv {
                    open,
                    high,
                    low,
                    close,
                    volume,
                },
            ));
        }
    }

    let mut counters = [0usize; SECTORS.len()];
    names
        .into_iter()
        .map(|n| {
            counters[n.sector] += 1;
            let (sector, prefix) = SECTORS[n.sector];
            let symbol = Symbol::new(format!("{prefix}{:02}", counters[n.sector]))?;
            Ok(SynthSeries {
                symbol,
                sector: sector.to_string(),
                bars: n.bars,
            })
        })
        .collect()
}

/// The CSV text of a daily series in the generic layout, prices in cents.
pub fn to_csv(bars: &[DailyBar]) -> String {
    let mut s = String::with_capacity(bars.len() * 48 + 40);
    s.push_str("date,open,high,low,close,volume\n");
    for b in bars {
        s.push_str(&format!(
            "{},{:.2},{:.2},{:.2},{:.2},{:.0}\n",
            b.ts, b.open, b.high, b.low, b.close, b.volume
        ));
    }
    s
}

/// Writes one `SYMBOL.csv` per series plus `sectors.csv` into `dir` (each file atomically).
pub fn write_folder(series: &[SynthSeries], dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut written = Vec::new();
    for s in series {
        let p = dir.join(format!("{}.csv", s.symbol));
        systrade_core::fsio::write_atomic(&p, to_csv(&s.bars).as_bytes())?;
        written.push(p);
    }
    let mut sectors = String::from("symbol,sector\n");
    for s in series {
        sectors.push_str(&format!("{},{}\n", s.symbol, s.sector));
    }
    let p = dir.join("sectors.csv");
    systrade_core::fsio::write_atomic(&p, sectors.as_bytes())?;
    written.push(p);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_number_of_symbols_gets_unique_names_and_too_many_bars_are_refused() {
        let many = generate(&SynthConfig {
            symbols: 2_400,
            days: 2,
            ..SynthConfig::default()
        })
        .unwrap();
        let names: std::collections::BTreeSet<String> =
            many.iter().map(|s| s.symbol.to_string()).collect();
        assert_eq!(names.len(), 2_400);
        let e = generate(&SynthConfig {
            symbols: 50_000,
            days: 2_520,
            ..SynthConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("50000 symbols × 2520 days"), "{e}");
    }

    fn cfg(seed: u64) -> SynthConfig {
        SynthConfig {
            symbols: 12,
            days: 800,
            seed,
            ..SynthConfig::default()
        }
    }

    #[test]
    fn test_same_seed_same_market_different_seed_differs() {
        let a = generate(&cfg(7)).unwrap();
        let b = generate(&cfg(7)).unwrap();
        let c = generate(&cfg(8)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a[0].bars, c[0].bars);
    }

    #[test]
    fn test_bars_are_valid_and_follow_the_calendar() {
        let m = generate(&cfg(1)).unwrap();
        for s in &m {
            assert_eq!(s.bars.len(), 800);
            for b in &s.bars {
                assert!(b.ohlcv().is_valid(), "{} {:?}", s.symbol, b);
                assert!(Market::Us.calendar().is_trading_day(b.ts));
            }
        }
    }

    fn returns(bars: &[DailyBar]) -> Vec<f64> {
        bars.windows(2)
            .map(|w| (w[1].close / w[0].close).ln())
            .collect()
    }

    #[test]
    fn test_stylised_facts_fat_tails_and_vol_clustering() {
        let m = generate(&SynthConfig {
            symbols: 6,
            days: 3000,
            seed: 3,
            ..SynthConfig::default()
        })
        .unwrap();
        let r = returns(&m[0].bars);
        let n = r.len() as f64;
        let mean = r.iter().sum::<f64>() / n;
        let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let kurt = r.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n / (var * var);
        assert!(kurt > 4.0, "excess kurtosis expected, got kurtosis {kurt}");
        // Absolute returns are autocorrelated (GARCH); raw returns much less so. |r| rather
        // than r²: with t(4) shocks the fourth moment is infinite and acf(r²) is noise.
        let abs: Vec<f64> = r.iter().map(|x| (x - mean).abs()).collect();
        let ac = |x: &[f64]| {
            let m = x.iter().sum::<f64>() / x.len() as f64;
            let num: f64 = x.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
            let den: f64 = x.iter().map(|v| (v - m).powi(2)).sum();
            num / den
        };
        assert!(ac(&abs) > 0.08, "vol clustering: acf(|r|) = {}", ac(&abs));
        assert!(
            ac(&r).abs() < ac(&abs),
            "returns themselves are close to uncorrelated"
        );
        // Volume rises with |return|.
        let vols: Vec<f64> = m[0].bars[1..].iter().map(|b| b.volume.ln()).collect();
        let abs_r: Vec<f64> = r.iter().map(|x| x.abs()).collect();
        let corr = {
            let (ma, mb) = (abs_r.iter().sum::<f64>() / n, vols.iter().sum::<f64>() / n);
            let cov: f64 = abs_r
                .iter()
                .zip(&vols)
                .map(|(a, b)| (a - ma) * (b - mb))
                .sum();
            let va: f64 = abs_r.iter().map(|a| (a - ma).powi(2)).sum();
            let vb: f64 = vols.iter().map(|b| (b - mb).powi(2)).sum();
            cov / (va * vb).sqrt()
        };
        assert!(corr > 0.2, "volume tied to |r|: corr {corr}");
    }

    #[test]
    fn test_names_share_a_market_factor() {
        let m = generate(&SynthConfig {
            symbols: 6,
            days: 1500,
            seed: 5,
            ..SynthConfig::default()
        })
        .unwrap();
        let (a, b) = (returns(&m[0].bars), returns(&m[1].bars));
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        let corr = cov / (va * vb).sqrt();
        assert!(corr > 0.2 && corr < 0.95, "cross-correlation {corr}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn prop_same_seed_byte_identical_and_valid(seed in 0u64..u64::MAX, symbols in 1usize..8, days in 2usize..160) {
            let c = SynthConfig { symbols, days, seed, ..SynthConfig::default() };
            let a: Vec<String> = generate(&c).unwrap().iter().map(|s| to_csv(&s.bars)).collect();
            let b: Vec<String> = generate(&c).unwrap().iter().map(|s| to_csv(&s.bars)).collect();
            proptest::prop_assert_eq!(&a, &b);
            for s in generate(&c).unwrap() {
                proptest::prop_assert!(s.bars.iter().all(|b| b.ohlcv().is_valid()));
            }
        }
    }

    #[test]
    fn test_rejects_empty_request() {
        assert!(
            generate(&SynthConfig {
                symbols: 0,
                ..SynthConfig::default()
            })
            .is_err()
        );
    }
}
