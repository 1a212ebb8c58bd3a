//! Reading the small CSV files users hand to commands (signals, positions, trade exports):
//! a header with known columns, and errors that name the file, the line and the symbol.

use std::path::Path;

use chrono::NaiveDate;
use systrade_core::Symbol;

use crate::bad;

/// A CSV with a header, read as rows of named cells; `required` columns must be present and
/// no column may be unknown.
pub struct Table {
    pub path: String,
    head: Vec<String>,
    pub rows: Vec<(usize, csv::StringRecord)>,
}

impl Table {
    pub fn read(path: &Path, required: &[&str], optional: &[&str]) -> anyhow::Result<Table> {
        let p = path.display().to_string();
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| bad(format!("{p}: {e}")))?;
        let head: Vec<String> = rdr
            .headers()
            .map_err(|e| bad(format!("{p}: {e}")))?
            .iter()
            .map(str::to_ascii_lowercase)
            .collect();
        for r in required {
            if !head.iter().any(|h| h == r) {
                return Err(bad(format!(
                    "{p}: the header needs a `{r}` column (columns: {}{})",
                    required.join(", "),
                    if optional.is_empty() {
                        String::new()
                    } else {
                        format!("; optional: {}", optional.join(", "))
                    }
                )));
            }
        }
        if let Some(h) = head
            .iter()
            .find(|h| !required.contains(&h.as_str()) && !optional.contains(&h.as_str()))
        {
            return Err(bad(format!(
                "{p}: unknown column {h:?} (known: {})",
                required
                    .iter()
                    .chain(optional)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut rows = Vec::new();
        for (k, rec) in rdr.records().enumerate() {
            let line = k + 2;
            rows.push((line, rec.map_err(|e| bad(format!("{p} line {line}: {e}")))?));
        }
        Ok(Table {
            path: p,
            head,
            rows,
        })
    }

    pub fn cell<'r>(&self, rec: &'r csv::StringRecord, col: &str) -> &'r str {
        self.head
            .iter()
            .position(|h| h == col)
            .and_then(|i| rec.get(i))
            .unwrap_or("")
    }

    pub fn at(&self, line: usize, what: impl std::fmt::Display) -> anyhow::Error {
        bad(format!("{} line {line}: {what}", self.path))
    }

    pub fn date(&self, line: usize, sym: &str, col: &str, t: &str) -> anyhow::Result<NaiveDate> {
        NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
            self.at(
                line,
                format!("{sym}: {col} {t:?} is not a date (YYYY-MM-DD)"),
            )
        })
    }
}

/// The sectors a data source knows: the `sectors` table of a SQLite source, or the
/// `sectors.csv` (`symbol,sector`) of a folder; none otherwise.
pub fn sectors_of(source: &Path) -> anyhow::Result<std::collections::BTreeMap<Symbol, String>> {
    let mut out = std::collections::BTreeMap::new();
    if source.is_dir() {
        let p = source.join("sectors.csv");
        if p.exists() {
            let t = Table::read(&p, &["symbol", "sector"], &[])?;
            for (line, rec) in &t.rows {
                let s = t.cell(rec, "symbol");
                let sym = Symbol::new(s).map_err(|e| t.at(*line, e))?;
                out.insert(sym, t.cell(rec, "sector").to_string());
            }
        }
    } else if source.is_file()
        && let Ok(db) = systrade_data::db::MarketDb::open_existing(source)
    {
        for (t, s) in db.sectors()? {
            if let Ok(sym) = Symbol::new(t) {
                out.insert(sym, s);
            }
        }
    }
    Ok(out)
}
