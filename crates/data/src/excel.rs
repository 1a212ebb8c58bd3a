//! Spreadsheet input (`.xlsx`, `.xls`, `.ods`): the first sheet, as rows of text cells, fed to
//! the same header detection and parsers as CSV files.

use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto_from_rs};
use csv::StringRecord;

use crate::error::{DataError, Location};

pub(crate) fn rows(path: &Path, bytes: &[u8]) -> Result<Vec<(u64, StringRecord)>, DataError> {
    let at = |line: Option<u64>| Location {
        file: path.to_path_buf(),
        line,
        symbol: None,
    };
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e| DataError::structural(at(None), format!("not a readable spreadsheet: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| DataError::structural(at(None), "the workbook has no sheet"))?
        .map_err(|e| DataError::structural(at(None), format!("reading the first sheet: {e}")))?;
    let first_row = range.start().map(|(r, _)| u64::from(r)).unwrap_or(0);
    let mut out = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let line = first_row + i as u64 + 1;
        let mut rec = StringRecord::new();
        for cell in row {
            let text = match cell {
                Data::Empty => String::new(),
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
                    s.trim().to_string()
                }
                Data::Float(f) => f.to_string(),
                Data::Int(i) => i.to_string(),
                Data::Bool(b) => b.to_string(),
                Data::DateTime(dt) => match dt.as_datetime() {
                    Some(ndt) if ndt.time() == chrono::NaiveTime::MIN => {
                        ndt.format("%Y-%m-%d").to_string()
                    }
                    Some(ndt) => ndt.format("%Y-%m-%d %H:%M:%S").to_string(),
                    None => {
                        return Err(DataError::structural(
                            at(Some(line)),
                            format!("unreadable date cell {dt}"),
                        ));
                    }
                },
                Data::Error(e) => {
                    return Err(DataError::structural(
                        at(Some(line)),
                        format!("spreadsheet error cell {e}"),
                    ));
                }
            };
            rec.push_field(&text);
        }
        // Trailing blank rows are formatting, not data.
        if rec.iter().all(|c| c.is_empty()) {
            continue;
        }
        out.push((line, rec));
    }
    Ok(out)
}
