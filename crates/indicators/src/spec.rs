//! Indicator specifications as users write them (`sma:20`, `atr:14`, `avwap:2024-03-01`) and
//! their computation over a bar table. Column names match the fixtures (`sma_20`, `atr_14`,
//! `linreg_r2_30`).

use crate::{
    IndicatorError, Series, atr, avwap, donchian_high, donchian_low, ema, linreg_r2, log_return,
    pivot_high, pivot_low, rolling_vol, rsi, simple_return, sma, stdev, true_range, wilder,
};

/// Names accepted by [`parse_specs`], with the parameter each takes.
pub const CATALOGUE: [(&str, &str); 16] = [
    ("sma", "window"),
    ("ema", "window"),
    ("wilder", "window"),
    ("atr", "window"),
    ("true_range", "none"),
    ("donchian_high", "window"),
    ("donchian_low", "window"),
    ("stdev", "window"),
    (
        "rolling_vol",
        "window (annualised with the market's periods per year)",
    ),
    ("rsi", "window"),
    ("linreg_r2", "window"),
    ("simple_return", "none"),
    ("log_return", "none"),
    ("pivot_high", "bars each side"),
    ("pivot_low", "bars each side"),
    ("avwap", "anchor date YYYY-MM-DD"),
];

/// One requested indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorSpec {
    pub name: String,
    pub param: Option<String>,
}

impl IndicatorSpec {
    /// The output column name: `name_param`, or `name` without a parameter.
    pub fn column(&self) -> String {
        match &self.param {
            Some(p) => format!("{}_{p}", self.name),
            None => self.name.clone(),
        }
    }

    fn window(&self) -> Result<usize, String> {
        let p = self
            .param
            .as_deref()
            .ok_or_else(|| format!("{} needs a window, e.g. {}:20", self.name, self.name))?;
        p.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!(
                "{}: window must be a positive whole number, got {p:?}",
                self.name
            )
        })
    }
}

/// Parses `sma:20,ema:20,atr:14,true_range`. Errors name the offending item and list what
/// is accepted.
pub fn parse_specs(text: &str) -> Result<Vec<IndicatorSpec>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, param) = match item.split_once(':') {
            Some((n, p)) => (n.trim().to_ascii_lowercase(), Some(p.trim().to_string())),
            None => (item.to_ascii_lowercase(), None),
        };
        let Some((_, kind)) = CATALOGUE.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = CATALOGUE.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown indicator {name:?} in {item:?}; known: {}",
                names.join(", ")
            ));
        };
        if *kind == "none" && param.is_some() {
            return Err(format!("{name} takes no parameter (got {item:?})"));
        }
        let spec = IndicatorSpec { name, param };
        if kind.starts_with("window") || kind.starts_with("bars") {
            spec.window()?;
        } else if *kind == "anchor date YYYY-MM-DD" && spec.param.is_none() {
            return Err("avwap needs an anchor date, e.g. avwap:2024-03-01".into());
        }
        if out
            .iter()
            .any(|s: &IndicatorSpec| s.column() == spec.column())
        {
            return Err(format!("{} is requested twice", spec.column()));
        }
        out.push(spec);
    }
    if out.is_empty() {
        return Err("no indicator given, e.g. --ind sma:20,ema:20,atr:14".into());
    }
    Ok(out)
}

/// A bar table: equal-length columns, oldest first.
#[derive(Debug, Clone, Copy)]
pub struct BarColumns<'a> {
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
    /// Periods per year for annualised indicators.
    pub periods_per_year: f64,
}

/// Computes one indicator. `anchor` resolves an avwap anchor text to a bar index.
pub fn compute(
    spec: &IndicatorSpec,
    bars: &BarColumns<'_>,
    anchor: &dyn Fn(&str) -> Option<usize>,
) -> Result<Series, String> {
    let e = |err: IndicatorError| err.to_string();
    let (h, l, c, v) = (bars.high, bars.low, bars.close, bars.volume);
    Ok(match spec.name.as_str() {
        "sma" => sma(c, spec.window()?).map_err(e)?,
        "ema" => ema(c, spec.window()?).map_err(e)?,
        "wilder" => wilder(c, spec.window()?).map_err(e)?,
        "atr" => atr(h, l, c, spec.window()?).map_err(e)?,
        "true_range" => true_range(h, l, c).map_err(e)?,
        "donchian_high" => donchian_high(h, spec.window()?).map_err(e)?,
        "donchian_low" => donchian_low(l, spec.window()?).map_err(e)?,
        "stdev" => stdev(c, spec.window()?).map_err(e)?,
        "rolling_vol" => rolling_vol(c, spec.window()?, bars.periods_per_year).map_err(e)?,
        "rsi" => rsi(c, spec.window()?).map_err(e)?,
        "linreg_r2" => linreg_r2(c, spec.window()?).map_err(e)?,
        "simple_return" => simple_return(c),
        "log_return" => log_return(c),
        "pivot_high" => pivot_high(h, spec.window()?).map_err(e)?,
        "pivot_low" => pivot_low(l, spec.window()?).map_err(e)?,
        "avwap" => {
            let text = spec.param.as_deref().unwrap_or("");
            let i = anchor(text)
                .ok_or_else(|| format!("avwap anchor {text} is not a date in the data"))?;
            avwap(h, l, c, v, i).map_err(e)?
        }
        other => return Err(format!("unknown indicator {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_specs() {
        let s = parse_specs("sma:20, EMA:20,true_range,linreg_r2:30").unwrap();
        let cols: Vec<String> = s.iter().map(|x| x.column()).collect();
        assert_eq!(cols, ["sma_20", "ema_20", "true_range", "linreg_r2_30"]);
        assert!(
            parse_specs("macd:12")
                .unwrap_err()
                .contains("unknown indicator \"macd\"")
        );
        assert!(parse_specs("sma").unwrap_err().contains("needs a window"));
        assert!(parse_specs("sma:0").unwrap_err().contains("positive"));
        assert!(parse_specs("sma:x").is_err());
        assert!(parse_specs("true_range:3").is_err());
        assert!(parse_specs("sma:5,sma:5").unwrap_err().contains("twice"));
        assert!(parse_specs("").is_err());
    }
}
