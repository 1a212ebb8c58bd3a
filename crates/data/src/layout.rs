//! What a file is, decided from its header alone.

use serde::{Deserialize, Serialize};

/// The vendor layout of a price file, and with it how its prices are adjusted at the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriceFormat {
    /// `Date,Open,High,Low,Close,Adj Close,Volume`: OHLC split-adjusted, `Adj Close` also
    /// dividend-adjusted (any column order; a `Ticker` column is allowed).
    Yahoo,
    /// `Date,Close,High,Low,Open,Volume` (yfinance auto-adjust): all of OHLC back-adjusted for
    /// splits and dividends.
    YahooB3,
    /// AlphaVantage daily adjusted: raw traded OHLC, `adjusted_close`, dividends and splits.
    Alphavantage,
    /// Binance klines `time,open,high,low,close,volume,timestamp`: UTC open times; the last row
    /// of a download is the still-open candle.
    Binance,
    /// `date|timestamp,open,high,low,close,volume` in any order: prices as given.
    Generic,
}

impl PriceFormat {
    /// The name used on the command line and in provenance.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceFormat::Yahoo => "yahoo",
            PriceFormat::YahooB3 => "yahoo-b3",
            PriceFormat::Alphavantage => "alphavantage",
            PriceFormat::Binance => "binance",
            PriceFormat::Generic => "generic",
        }
    }

    /// How the file's OHLC columns are adjusted by the vendor.
    pub fn source_basis(self) -> &'static str {
        match self {
            PriceFormat::Yahoo => "split-adjusted OHLC; Adj Close split+dividend adjusted",
            PriceFormat::YahooB3 => "split+dividend adjusted OHLC (not traded prices)",
            PriceFormat::Alphavantage => {
                "raw traded OHLC; adjusted_close, splits and dividends given"
            }
            PriceFormat::Binance => "raw traded OHLC (no corporate actions)",
            PriceFormat::Generic => "as given",
        }
    }
}

/// The unit of a rate series value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateUnit {
    /// Percent per business day (e.g. CDI, SGS series 12).
    PctPerDay,
    /// Percent per year (annualised, 252 business days for Brazilian rates).
    PctPerYear,
    /// Percent per month (e.g. monthly IPCA).
    PctPerMonth,
    /// Not stated by the header; pass `--rate-unit` to say.
    Unspecified,
}

impl RateUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            RateUnit::PctPerDay => "pct_per_day",
            RateUnit::PctPerYear => "pct_per_year",
            RateUnit::PctPerMonth => "pct_per_month",
            RateUnit::Unspecified => "unspecified",
        }
    }

    /// Parses the command-line / stored name.
    pub fn parse(s: &str) -> Option<RateUnit> {
        Some(match s {
            "pct_per_day" | "daily" => RateUnit::PctPerDay,
            "pct_per_year" | "annual" => RateUnit::PctPerYear,
            "pct_per_month" | "monthly" => RateUnit::PctPerMonth,
            "unspecified" => RateUnit::Unspecified,
            _ => return None,
        })
    }
}

/// Column positions of a price file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceColumns {
    pub time: usize,
    pub open: usize,
    pub high: usize,
    pub low: usize,
    pub close: usize,
    pub volume: usize,
    pub adj_close: Option<usize>,
    pub dividend: Option<usize>,
    pub split: Option<usize>,
    /// Columns present but not used (reported in provenance).
    pub ignored: Vec<String>,
}

/// What a file holds, decided from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Prices {
        format: PriceFormat,
        cols: PriceColumns,
    },
    /// `date,<value>`: one rate series.
    Rate {
        date: usize,
        value: usize,
        unit: RateUnit,
    },
    /// CDI with an annual and a daily column, the daily one a string with `%`.
    RateAnnualDaily {
        date: usize,
        annual: usize,
        daily: usize,
    },
    /// A symbol → sector map (optionally subsector and name).
    Sectors {
        symbol: usize,
        sector: usize,
        subsector: Option<usize>,
        name: Option<usize>,
    },
    /// Cash events per ticker (`Data,Valor,Tipo,Por quantas ações,Ticker`, dd/mm/yyyy dates).
    CashEvents {
        date: usize,
        value: usize,
        kind: usize,
        per_shares: Option<usize>,
        ticker: usize,
    },
    /// An index's theoretical portfolio (`Código,Ação,Tipo,Qtde. Teórica,Part. (%)`).
    IndexWeights {
        ticker: usize,
        name: Option<usize>,
        kind: Option<usize>,
        qty: Option<usize>,
        weight: usize,
    },
    /// A data-folder manifest (`path,rows,first,last,bytes,git_blob,…`): not market data.
    Manifest,
}

fn norm(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .trim()
        .to_lowercase()
}

/// Decides the file kind from the header. `forced` restricts price detection to one format.
/// Returns a description of what was expected when the header is not recognised.
pub fn detect(header: &[&str], forced: Option<PriceFormat>) -> Result<FileKind, String> {
    let h: Vec<String> = header.iter().map(|s| norm(s)).collect();
    let find = |names: &[&str]| h.iter().position(|c| names.contains(&c.as_str()));
    let has = |name: &str| h.iter().any(|c| c == name);

    let ohlcv = (
        find(&["open"]),
        find(&["high"]),
        find(&["low"]),
        find(&["close"]),
        find(&["volume"]),
    );
    let time = find(&["date", "timestamp", "time", "datetime"]);
    if let (Some(time), (Some(open), Some(high), Some(low), Some(close), Some(volume))) =
        (time, ohlcv)
    {
        let format = price_format(&h);
        if let Some(f) = forced
            && f != format
            && f != PriceFormat::Generic
        {
            return Err(format!(
                "header looks like {} but --format {} was given",
                format.as_str(),
                f.as_str()
            ));
        }
        let format = forced.unwrap_or(format);
        let time = match format {
            // Binance: `time` is the text open time, `timestamp` the same in epoch ms.
            PriceFormat::Binance => find(&["time"]).unwrap_or(time),
            _ => time,
        };
        let adj_close = find(&["adj close", "adjusted_close", "adj_close"]);
        let dividend = find(&["dividend_amount", "dividends"]);
        let split = find(&["split_coefficient", "stock splits"]);
        let used = [
            Some(time),
            Some(open),
            Some(high),
            Some(low),
            Some(close),
            Some(volume),
            adj_close,
            dividend,
            split,
        ];
        let ignored = h
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(&Some(*i)))
            .map(|(_, c)| c.clone())
            .collect();
        return Ok(FileKind::Prices {
            format,
            cols: PriceColumns {
                time,
                open,
                high,
                low,
                close,
                volume,
                adj_close,
                dividend,
                split,
                ignored,
            },
        });
    }
    if forced.is_some() {
        return Err(
            "a price file needs date (or timestamp), open, high, low, close and volume columns"
                .into(),
        );
    }

    if has("path") && has("git_blob") {
        return Ok(FileKind::Manifest);
    }
    if let (Some(date), Some(annual), Some(daily)) = (
        find(&["date", "data"]),
        find(&["taxa anualizada"]),
        find(&["variação diária", "variacao diaria"]),
    ) {
        return Ok(FileKind::RateAnnualDaily {
            date,
            annual,
            daily,
        });
    }
    if let (Some(ticker), Some(weight)) = (find(&["código", "codigo"]), find(&["part. (%)"])) {
        return Ok(FileKind::IndexWeights {
            ticker,
            name: find(&["ação", "acao"]),
            kind: find(&["tipo"]),
            qty: find(&["qtde. teórica", "qtde. teorica"]),
            weight,
        });
    }
    if let (Some(date), Some(value), Some(kind), Some(ticker)) = (
        find(&["data"]),
        find(&["valor"]),
        find(&["tipo"]),
        find(&["ticker"]),
    ) {
        return Ok(FileKind::CashEvents {
            date,
            value,
            kind,
            per_shares: find(&["por quantas ações"]),
            ticker,
        });
    }
    if let (Some(symbol), Some(sector)) = (
        find(&["symbol", "ticker"]),
        find(&["sector", "setor", "gics sector"]),
    ) {
        return Ok(FileKind::Sectors {
            symbol,
            sector,
            subsector: find(&["subsector", "subsetor"]),
            name: find(&["name", "nome"]),
        });
    }
    let non_empty: Vec<usize> = (0..h.len()).filter(|&i| !h[i].is_empty()).collect();
    if non_empty.len() == 2
        && let Some(date) = find(&["date", "data"])
    {
        let value = non_empty.into_iter().find(|&i| i != date).unwrap_or(date);
        let unit = match h[value].as_str() {
            "cdi" => RateUnit::PctPerDay,
            "ipca" => RateUnit::PctPerMonth,
            "rate" | "selic" | "taxa" => RateUnit::PctPerYear,
            _ => RateUnit::Unspecified,
        };
        return Ok(FileKind::Rate { date, value, unit });
    }
    Err(
        "unrecognised header: expected a price file (date/timestamp, open, high, low, close, volume: \
         Yahoo, Yahoo B3, AlphaVantage, Binance or generic), a rate series (date,<rate>), \
         a sector map (symbol,sector) or a dividend/index-weight table"
            .into(),
    )
}

fn price_format(h: &[String]) -> PriceFormat {
    let joined = h.join(",");
    match joined.as_str() {
        "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient" => {
            PriceFormat::Alphavantage
        }
        "time,open,high,low,close,volume,timestamp" => PriceFormat::Binance,
        "date,close,high,low,open,volume" => PriceFormat::YahooB3,
        _ if h.iter().any(|c| c == "adj close") => PriceFormat::Yahoo,
        _ => PriceFormat::Generic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(h: &str) -> Result<FileKind, String> {
        let cols: Vec<&str> = h.split(',').collect();
        detect(&cols, None)
    }

    fn fmt(h: &str) -> PriceFormat {
        match kind(h).unwrap() {
            FileKind::Prices { format, .. } => format,
            k => panic!("not prices: {k:?}"),
        }
    }

    #[test]
    fn test_vendor_layouts() {
        assert_eq!(
            fmt("Date,Open,High,Low,Close,Adj Close,Volume"),
            PriceFormat::Yahoo
        );
        assert_eq!(
            fmt("Date,High,Low,Open,Close,Volume,Adj Close,Ticker"),
            PriceFormat::Yahoo
        );
        assert_eq!(fmt("Date,Close,High,Low,Open,Volume"), PriceFormat::YahooB3);
        assert_eq!(
            fmt(
                "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient"
            ),
            PriceFormat::Alphavantage
        );
        assert_eq!(
            fmt("time,open,high,low,close,volume,timestamp"),
            PriceFormat::Binance
        );
        assert_eq!(
            fmt("timestamp,open,high,low,close,volume"),
            PriceFormat::Generic
        );
        assert_eq!(
            fmt("\u{feff}date,open,high,low,close,volume"),
            PriceFormat::Generic
        );
    }

    #[test]
    fn test_binance_uses_text_time_column() {
        match kind("time,open,high,low,close,volume,timestamp").unwrap() {
            FileKind::Prices { cols, .. } => {
                assert_eq!(cols.time, 0);
                assert_eq!(cols.ignored, vec!["timestamp".to_string()]);
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn test_reference_layouts() {
        assert!(matches!(
            kind("Date,cdi").unwrap(),
            FileKind::Rate {
                unit: RateUnit::PctPerDay,
                ..
            }
        ));
        assert!(matches!(
            kind("Date,Value").unwrap(),
            FileKind::Rate {
                unit: RateUnit::Unspecified,
                ..
            }
        ));
        assert!(matches!(
            kind("date,taxa anualizada,variação diária").unwrap(),
            FileKind::RateAnnualDaily { .. }
        ));
        assert!(matches!(
            kind("Symbol,Name,Sector").unwrap(),
            FileKind::Sectors { .. }
        ));
        assert!(matches!(
            kind(",Ticker,Setor,Subsetor").unwrap(),
            FileKind::Sectors {
                subsector: Some(3),
                ..
            }
        ));
        assert!(matches!(
            kind(",Data,Valor,Tipo,Por quantas ações,Ticker").unwrap(),
            FileKind::CashEvents { .. }
        ));
        assert!(matches!(
            kind(",Código,Ação,Tipo,Qtde. Teórica,Part. (%)").unwrap(),
            FileKind::IndexWeights { .. }
        ));
        assert!(matches!(
            kind("path,rows,first,last,bytes,git_blob,source_repo").unwrap(),
            FileKind::Manifest
        ));
    }

    #[test]
    fn test_unknown_and_incomplete_headers_fail() {
        assert!(kind("foo,bar,baz").is_err());
        assert!(kind("date,open,high,low,close").is_err(), "no volume");
        assert!(kind("").is_err());
    }

    #[test]
    fn test_forced_format_must_agree() {
        let h: Vec<&str> = "Date,Open,High,Low,Close,Adj Close,Volume"
            .split(',')
            .collect();
        assert!(detect(&h, Some(PriceFormat::Binance)).is_err());
        assert!(detect(&h, Some(PriceFormat::Generic)).is_ok());
    }
}
