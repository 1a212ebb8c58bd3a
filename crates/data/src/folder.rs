//! Reading many files: a folder tree of vendor files, or one file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use systrade_core::Symbol;

use crate::error::DataError;
use crate::parse::{Content, ParseOptions, ParsedFile, RateSeries, SectorRow, parse_file};
use crate::series::{Interval, PriceSeries};

const DATA_EXTENSIONS: [&str; 5] = ["csv", "xlsx", "xls", "xlsm", "ods"];

/// The data files under `root` (recursively, sorted by path, hidden entries skipped), or
/// `root` itself when it is a file.
pub fn data_files(root: &Path) -> Result<Vec<PathBuf>, DataError> {
    let meta = std::fs::metadata(root)
        .map_err(|_| DataError::NotFound(format!("{}: no such file or folder", root.display())))?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| DataError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| DataError::Io {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            // The entry's type comes with the listing (no `stat` per file); a symbolic link
            // is followed to see what it points at.
            let kind = entry.file_type().map_err(|source| DataError::Io {
                path: path.clone(),
                source,
            })?;
            let is_dir = if kind.is_symlink() {
                path.is_dir()
            } else {
                kind.is_dir()
            };
            if is_dir {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| DATA_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(DataError::NotFound(format!(
            "{}: no CSV or spreadsheet files found",
            root.display()
        )));
    }
    Ok(out)
}

/// Parses every file, in path order, with up to `threads` files in flight; stops at the
/// first error (the one of the earliest file, so the message does not depend on timing).
pub fn parse_all(
    files: &[PathBuf],
    opts: &ParseOptions,
    progress: &(dyn Fn(&Path) + Sync),
) -> Result<Vec<ParsedFile>, DataError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<ParsedFile, DataError>>> = Vec::new();
    slots.resize_with(files.len(), || None);
    let slots = std::sync::Mutex::new(slots);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let r = parse_file(path, opts);
                    progress(path);
                    if let Ok(mut g) = slots.lock() {
                        g[i] = Some(r);
                    }
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_default();
    let mut out = Vec::with_capacity(files.len());
    for (slot, path) in slots.into_iter().zip(files) {
        match slot {
            Some(r) => out.push(r?),
            None => {
                return Err(DataError::Usage(format!(
                    "{}: parser did not run",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
}

/// The key a price series is stored under: one series per symbol and interval.
pub type SeriesKey = (Symbol, Interval);

/// Everything read from a folder, by kind.
#[derive(Debug, Default)]
pub struct Dataset {
    pub prices: BTreeMap<SeriesKey, PriceSeries>,
    pub rates: BTreeMap<String, RateSeries>,
    pub sectors: BTreeMap<Symbol, SectorRow>,
    pub files: Vec<ParsedFile>,
}

impl Dataset {
    /// Groups parsed files; two files giving the same symbol and interval (or the same rate
    /// series) is an error naming both.
    pub fn from_files(files: Vec<ParsedFile>) -> Result<Self, DataError> {
        let mut ds = Dataset::default();
        let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut claim =
            |key: String, path: &Path| match origin.insert(key.clone(), path.to_path_buf()) {
                Some(prev) => Err(DataError::Usage(format!(
                    "{key} is given by two files: {} and {}; import them separately or rename one",
                    prev.display(),
                    path.display()
                ))),
                None => Ok(()),
            };
        for f in &files {
            match &f.content {
                Content::Prices(p) => {
                    claim(format!("{} ({})", p.symbol, p.interval), &f.path)?;
                    ds.prices
                        .insert((p.symbol.clone(), p.interval), (**p).clone());
                }
                Content::Rates(rs) => {
                    for r in rs {
                        claim(format!("rate series {}", r.name), &f.path)?;
                        ds.rates.insert(r.name.clone(), r.clone());
                    }
                }
                Content::Sectors(rows) => {
                    for r in rows {
                        ds.sectors.insert(r.symbol.clone(), r.clone());
                    }
                }
                Content::CashEvents(_) | Content::IndexWeights { .. } | Content::Ignored(_) => {}
            }
        }
        ds.files = files;
        Ok(ds)
    }

    /// Reads a folder (or one file) with the given options.
    pub fn load(root: &Path, opts: &ParseOptions) -> Result<Self, DataError> {
        let files = data_files(root)?;
        Dataset::from_files(parse_all(&files, opts, &|_| {})?)
    }

    /// The daily series of a symbol.
    pub fn daily(&self, symbol: &Symbol) -> Option<&PriceSeries> {
        self.prices.get(&(symbol.clone(), Interval::Daily))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nested folders, and links to a folder and to a file, are walked like the real thing;
    /// hidden entries and other extensions are not data.
    #[test]
    fn test_data_files_walks_folders_and_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        for p in [
            root.join("SPY.csv"),
            root.join("sub/QQQ.CSV"),
            root.join(".hidden/IWM.csv"),
            root.join("notes.txt"),
            elsewhere.join("TLT.csv"),
            elsewhere.join("GLD.csv"),
        ] {
            std::fs::write(&p, "date,close\n").unwrap();
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&elsewhere, root.join("linked")).unwrap();
            std::os::unix::fs::symlink(elsewhere.join("GLD.csv"), root.join("GLD.csv")).unwrap();
        }
        let found: Vec<String> = data_files(&root)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        let mut want = vec!["SPY.csv", "sub/QQQ.CSV"];
        if cfg!(unix) {
            want.extend(["GLD.csv", "linked/GLD.csv", "linked/TLT.csv"]);
        }
        want.sort_unstable();
        assert_eq!(found, want);
        assert!(matches!(
            data_files(&elsewhere.join("none")),
            Err(DataError::NotFound(_))
        ));
    }
}
