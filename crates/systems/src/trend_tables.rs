//! A trend backtest's per-session tables, written as the replay makes each decision: at
//! thousands of names and years of sessions they are gigabytes held in memory otherwise.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use chrono::NaiveDate;
use systrade_backtest::decision_line;
use systrade_core::fsio::AtomicWriter;
use systrade_pipeline::trend::{
    DayRecord, RecordSink, SNAPSHOT_HEADER, TARGETS_HEADER, desired_trades_jsonl, snapshot_rows,
    targets_history_rows,
};
use systrade_strategy::Decision;

/// `decisions.jsonl`, `targets.csv` and, with full logs, `snapshots.csv` and
/// `logs/desired_trades.jsonl`, each written into a temporary file and put in place only by
/// [`Tables::commit`]: a run that fails or is refused leaves the folder's files as they were.
pub struct Tables {
    /// The engine's `decisions.jsonl`: every session's targets, reasons and stops.
    decisions: AtomicWriter,
    targets: AtomicWriter,
    /// With full logs: the per-ticker table at three stages of every session.
    snapshots: Option<AtomicWriter>,
    /// With full logs: every gate's verdict for every ticker and session.
    log: Option<AtomicWriter>,
    /// The first write that failed: the replay goes on, the run fails at the commit.
    error: Option<anyhow::Error>,
}

impl Tables {
    /// Starts the tables in `out` (created when missing).
    pub fn create(out: &Path, full_logs: bool) -> anyhow::Result<Self> {
        let start = |name: &str, header: Option<String>| -> anyhow::Result<AtomicWriter> {
            let path = out.join(name);
            let mut w = AtomicWriter::create(&path)?;
            if let Some(h) = header {
                writeln!(w, "{h}").with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(w)
        };
        Ok(Tables {
            decisions: start("decisions.jsonl", None)?,
            targets: start("targets.csv", Some(format!("as_of,{TARGETS_HEADER}")))?,
            snapshots: full_logs
                .then(|| start("snapshots.csv", Some(SNAPSHOT_HEADER.to_string())))
                .transpose()?,
            log: full_logs
                .then(|| start("logs/desired_trades.jsonl", None))
                .transpose()?,
            error: None,
        })
    }

    /// Appends one decision's rows to every table.
    pub fn add(&mut self, r: &DayRecord) {
        if self.error.is_none() {
            self.error = self.write(r).err();
        }
    }

    /// Appends one decision of the engine (after the close of `date`).
    pub fn add_decision(&mut self, date: NaiveDate, d: &Decision) {
        if self.error.is_none() {
            self.error = decision_line(date, d)
                .map_err(anyhow::Error::from)
                .and_then(|line| put(&mut self.decisions, &line))
                .err();
        }
    }

    fn write(&mut self, r: &DayRecord) -> anyhow::Result<()> {
        put(&mut self.targets, &targets_history_rows(r))?;
        if let Some(snapshots) = &mut self.snapshots {
            put(snapshots, &snapshot_rows(r))?;
        }
        if let Some(log) = &mut self.log {
            put(log, &desired_trades_jsonl(std::slice::from_ref(r))?)?;
        }
        Ok(())
    }

    /// Puts every table in place; a lean run into the folder of an earlier full one removes
    /// that run's full tables (nothing stale beside new files).
    pub fn commit(self, out: &Path) -> anyhow::Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.decisions.commit()?;
        self.targets.commit()?;
        for (w, name) in [
            (self.snapshots, "snapshots.csv"),
            (self.log, "logs/desired_trades.jsonl"),
        ] {
            let path = out.join(name);
            match w {
                Some(w) => w.commit()?,
                None if path.exists() => std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?,
                None => {}
            }
        }
        Ok(())
    }
}

fn put(w: &mut AtomicWriter, text: &str) -> anyhow::Result<()> {
    w.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", w.path().display()))
}

/// Takes each of the engine's decisions with the date of the close it was made after.
pub type Observer = Box<dyn FnMut(NaiveDate, &Decision) + Send>;

/// Tables a strategy writes into as it decides (see `TrendStrategy::stream_records`).
pub struct Shared(Arc<Mutex<Tables>>);

impl Shared {
    pub fn new(t: Tables) -> Self {
        Shared(Arc::new(Mutex::new(t)))
    }

    /// The sink to hand the strategy.
    pub fn sink(&self) -> RecordSink {
        let t = Arc::clone(&self.0);
        // A panic while writing would have ended the run; its tables are still consistent.
        Box::new(move |r: &DayRecord| t.lock().unwrap_or_else(PoisonError::into_inner).add(r))
    }

    /// The engine's observer, writing each decision as it is made.
    pub fn observer(&self) -> Observer {
        let t = Arc::clone(&self.0);
        Box::new(move |date: NaiveDate, d: &Decision| {
            t.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add_decision(date, d)
        })
    }

    /// The tables back, once the strategy (and its sink) is gone.
    pub fn into_inner(self) -> anyhow::Result<Tables> {
        let m = Arc::try_unwrap(self.0)
            .map_err(|_| anyhow::anyhow!("the strategy still holds its tables' writer"))?;
        Ok(m.into_inner().unwrap_or_else(PoisonError::into_inner))
    }
}
