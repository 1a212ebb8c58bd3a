//! Run configuration files (TOML). Every spec parameter is a key with the spec's default;
//! unknown keys are refused with their name.

pub mod book;
pub mod momentum;
pub mod run;
pub mod trend;

use std::path::{Path, PathBuf};

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
