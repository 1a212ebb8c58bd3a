//! Helpers for tests that read `../shared` (real data and reference fixtures). On a machine
//! without it they print one skip line and let the test return early, so `cargo test` passes
//! anywhere (DESIGN §8).

use std::path::PathBuf;

use systrade_core::DailyBar;
use systrade_data::parse::Content;
use systrade_data::{Adjust, ParseOptions, parse_file};

/// `../shared/<rel>` beside the workspace, or `None` after printing a skip line.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        println!(
            "skip: {} not found (real-data test needs ../shared beside the checkout)",
            p.display()
        );
        None
    }
}

/// The data file (relative to `../shared`) a fixture symbol was computed from.
pub fn fixture_source(symbol: &str) -> String {
    match symbol {
        "SPY" | "XLK" | "XLE" | "XLB" | "XLF" | "XLI" | "XLP" | "XLU" | "XLV" | "XLY" | "XLC"
        | "AGG" => {
            format!("data/us_etf_daily_yahoo/{symbol}.csv")
        }
        s if s.ends_with("USDT") => format!("data/crypto_binance_spot/1d/{symbol}_1d.csv"),
        _ => format!("data/sp500_daily_alphavantage/daily/{symbol}.csv"),
    }
}

/// The daily bars of a file under `../shared` as the fixtures read them: the file's own
/// columns (no adjustment), rows with value problems kept out (the partial Binance candle).
/// Panics when the file is missing or not a daily price file: callers check [`shared`] first.
pub fn raw_daily(rel: &str) -> Vec<DailyBar> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel);
    let parsed = parse_file(
        &path,
        &ParseOptions {
            adjust: Adjust::None,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"));
    match parsed.content {
        Content::Prices(p) => p
            .bars
            .daily()
            .unwrap_or_else(|| panic!("{rel}: not daily"))
            .to_vec(),
        other => panic!("{rel}: not a price file: {}", other.kind()),
    }
}

/// A minimal .xlsx: one sheet with a header row (`header`), a date column (Excel serials,
/// date-formatted) and a number column. Panics on a zip error (test helper).
pub fn xlsx_bytes(header: [&str; 2], rows: &[(u32, f64)]) -> Vec<u8> {
    use std::io::Write;
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{}</t></is></c><c r="B1" t="inlineStr"><is><t>{}</t></is></c></row>"#,
    )
    .replace("{}", "\u{0}")
    .replacen('\u{0}', header[0], 1)
    .replacen('\u{0}', header[1], 1);
    for (i, (serial, v)) in rows.iter().enumerate() {
        let r = i + 2;
        sheet.push_str(&format!(
            r#"<row r="{r}"><c r="A{r}" s="1"><v>{serial}</v></c><c r="B{r}"><v>{v}</v></c></row>"#
        ));
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#.to_string()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="CDI" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#.to_string()),
        ("xl/styles.xml", r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="0"/><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#.to_string()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    for (name, body) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("zip");
        zip.write_all(body.as_bytes()).expect("zip");
    }
    zip.finish().expect("zip");
    buf.into_inner()
}
