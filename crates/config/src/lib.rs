//! Run configuration files (TOML). Every spec parameter is a key with the spec's default;
//! unknown keys are refused with their name.

pub mod book;
pub mod momentum;
pub mod run;
pub mod trend;

use std::path::{Path, PathBuf};

/// How price files are read: the parse options the user asked for, and whether the
/// adjustment was given explicitly (otherwise a config's `data.adjust` decides).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub parse: systrade_data::ParseOptions,
    /// `--adjust` was given: it wins over the config's `data.adjust`.
    pub adjust_given: bool,
}

/// The kind of a strategy config, from its `strategy` key: parsed once, then matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyKind {
    Trend,
    Momentum,
    /// A book traded from trade sheets: no daily decision, only staging and approvals.
    Sheet,
}

impl StrategyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Trend => "trend",
            StrategyKind::Momentum => "momentum",
            StrategyKind::Sheet => "sheet",
        }
    }

    /// The kind of the config at `path`: its `strategy` key, which must name a known kind.
    pub fn of(path: &Path) -> Result<StrategyKind, String> {
        let v: toml::Table = parse(path, &read(path)?, |_| Ok(()))?;
        match v.get("strategy").and_then(|s| s.as_str()) {
            Some("trend") => Ok(StrategyKind::Trend),
            Some("momentum") => Ok(StrategyKind::Momentum),
            Some("sheet") => Ok(StrategyKind::Sheet),
            Some(other) => Err(format!(
                "{}: strategy: unknown {other:?} (\"trend\", \"momentum\" or \"sheet\")",
                path.display()
            )),
            None => Err(format!(
                "{}: strategy: missing (\"trend\" or \"momentum\")",
                path.display()
            )),
        }
    }
}

/// The longest window or count a config key may ask for: 10,000 sessions (40 years of
/// daily bars; 27 years of crypto). Longer asks for memory no data can fill, so it is bad
/// input rather than an allocation failure halfway through a run.
pub const MAX_WINDOW: u64 = 10_000;

/// Every `(key, value)` window or count must be at most [`MAX_WINDOW`]; the error names the
/// key.
pub fn check_windows(keys: &[(&str, u64)]) -> Result<(), String> {
    for (key, v) in keys {
        if *v > MAX_WINDOW {
            return Err(format!(
                "{key}: {v} is longer than any data can use (at most {MAX_WINDOW} sessions)"
            ));
        }
    }
    Ok(())
}

/// Parses a config text and validates it; every error starts with the file's path and names
/// the key.
pub fn parse<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    validate: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, String> {
    let cfg: T = toml::from_str(text)
        .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim()))?;
    validate(&cfg).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(cfg)
}

/// Reads a config file's text.
pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A path written in a config file: relative paths are relative to the file's folder.
pub fn resolve(config: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config.parent().unwrap_or(Path::new(".")).join(p)
    }
}
