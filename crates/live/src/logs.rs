//! The run folder's JSONL logs: every record carries a sequence number that keeps growing
//! across the day's files and re-runs, the run id, the strategy, the symbol and a reason.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Appends records to `logs/<name>.jsonl` under a run folder.
pub struct Logs {
    dir: PathBuf,
    seq: u64,
    run_id: String,
    strategy: String,
    ts: String,
    /// Records written per file in this run (for the summary).
    pub counts: BTreeMap<String, usize>,
    /// This run's error records, as "symbol: reason" (for the alerts).
    pub errors: Vec<String>,
}

/// The highest `seq` in the folder's logs (0 when none).
fn last_seq(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut max = 0;
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        for line in text.lines() {
            if let Some(s) = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.get("seq").and_then(Value::as_u64))
            {
                max = max.max(s);
            }
        }
    }
    max
}

impl Logs {
    pub fn new(dir: &Path, run_id: &str, strategy: &str, ts: &str) -> Self {
        Logs {
            dir: dir.to_path_buf(),
            seq: last_seq(dir),
            run_id: run_id.into(),
            strategy: strategy.into(),
            ts: ts.into(),
            counts: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// Appends one record (its fields plus seq, ts, run_id, strategy) to `file`.
    pub fn write(&mut self, file: &str, symbol: Option<&str>, reason: &str, fields: Value) {
        self.seq += 1;
        let mut m = match fields {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => Map::from_iter([("detail".to_string(), other)]),
        };
        m.insert("seq".into(), self.seq.into());
        m.insert("ts".into(), self.ts.clone().into());
        m.insert("run_id".into(), self.run_id.clone().into());
        m.insert("strategy".into(), self.strategy.clone().into());
        m.insert(
            "symbol".into(),
            symbol.map_or(Value::Null, |s| s.to_string().into()),
        );
        m.insert("reason".into(), reason.into());
        // Nothing secret is stored, even in text a server echoed back.
        let line = systrade_core::redact::redact(
            &systrade_core::json::to_canonical_string(&Value::Object(m))
                .unwrap_or_else(|_| "{}".into()),
        );
        *self.counts.entry(file.to_string()).or_default() += 1;
        if file == "errors" {
            self.errors.push(match symbol {
                Some(s) => format!("{s}: {reason}"),
                None => reason.to_string(),
            });
        }
        append_line(&self.dir.join(format!("{file}.jsonl")), &line);
    }
}

/// Appends one line to a log file (creating it and its folder). A log line that cannot be
/// written must not stop the day's work, so a failure is only reported.
pub fn append_line(path: &Path, line: &str) {
    let res = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(f, "{line}")
        });
    if let Err(e) = res {
        eprintln!("warning: could not append to {}: {e}", path.display());
    }
}
