//! Numeric keys of a config overridden by dotted name (`signal.donchian_window=40`): what
//! parameter sweeps, walk-forward and random search vary. The result is the config's text
//! with the keys set, parsed again by the strategy's own loader so every check still runs.

/// Sections that choose a config's inputs or its identity, not its behaviour: a study
/// varies parameters over the same data, so these are refused.
const FIXED_ROOTS: [&str; 2] = ["data", "strategy"];

/// `text` (a config file's TOML) with each dotted `key` set to its number. A key may name a
/// number the file leaves at its default (its section is created); it may not name a table,
/// a string, a list, or a section of inputs (`data.*`). An integral value is written as an
/// integer unless the file has that key as a float.
pub fn with_overrides(text: &str, overrides: &[(String, f64)]) -> Result<String, String> {
    let mut root: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    for (key, value) in overrides {
        set(&mut root, key, *value)?;
    }
    toml::to_string(&root).map_err(|e| e.to_string())
}

/// Checks that every key can be set (without a value's own range check, which the strategy's
/// loader does per point).
pub fn check_keys(text: &str, keys: &[&str]) -> Result<(), String> {
    let mut root: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    for key in keys {
        set(&mut root, key, 1.0)?;
    }
    Ok(())
}

fn set(root: &mut toml::Table, key: &str, value: f64) -> Result<(), String> {
    if !value.is_finite() {
        return Err(format!("{key}: {value} is not a finite number"));
    }
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "{key:?}: expected a dotted key such as signal.donchian_window"
        ));
    }
    if FIXED_ROOTS.contains(&parts[0]) {
        return Err(format!(
            "{key}: the {} section chooses the inputs, not a parameter; a study varies parameters over the same data",
            parts[0]
        ));
    }
    let (leaf, path) = parts.split_last().ok_or_else(|| format!("{key}: empty"))?;
    let mut table = root;
    for (i, part) in path.iter().enumerate() {
        let entry = table
            .entry((*part).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            other => {
                return Err(format!(
                    "{key}: {} is a {}, not a section",
                    parts[..=i].join("."),
                    other.type_str()
                ));
            }
        };
    }
    let integral = value.fract() == 0.0 && value.abs() < 9.0e15;
    let new = match table.get(*leaf) {
        Some(toml::Value::Float(_)) => toml::Value::Float(value),
        Some(toml::Value::Integer(_)) if !integral => {
            return Err(format!(
                "{key}: the config has a whole number here; {value} is not one"
            ));
        }
        Some(toml::Value::Integer(_)) | None if integral => toml::Value::Integer(value as i64),
        None => toml::Value::Float(value),
        Some(other) => {
            return Err(format!(
                "{key}: the config has a {} here, not a number",
                other.type_str()
            ));
        }
    };
    table.insert((*leaf).to_string(), new);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "strategy = \"trend\"\n[data]\nsource = \"x\"\n[signal]\ndonchian_window = 40\nr2_min = 0.2\nfilter_mode = \"binary\"\n";

    fn table(t: &str) -> toml::Table {
        toml::from_str(t).unwrap()
    }

    #[test]
    fn test_overrides_keep_the_kind_of_number_and_create_default_keys() {
        let out = with_overrides(
            TEXT,
            &[
                ("signal.donchian_window".into(), 60.0),
                ("signal.r2_min".into(), 1.0),
                ("sizing.target_vol".into(), 0.3),
                ("gates.cooldown_days".into(), 5.0),
            ],
        )
        .unwrap();
        let t = table(&out);
        assert_eq!(t["signal"]["donchian_window"].as_integer(), Some(60));
        assert_eq!(t["signal"]["r2_min"].as_float(), Some(1.0));
        assert_eq!(t["sizing"]["target_vol"].as_float(), Some(0.3));
        assert_eq!(t["gates"]["cooldown_days"].as_integer(), Some(5));
        assert_eq!(t["data"]["source"].as_str(), Some("x"));
    }

    #[test]
    fn test_overrides_refuse_inputs_strings_fractions_of_integers_and_tables() {
        let err = |k: &str, v: f64| with_overrides(TEXT, &[(k.into(), v)]).unwrap_err();
        assert!(err("data.source", 1.0).contains("chooses the inputs"));
        assert!(err("signal.filter_mode", 1.0).contains("string"));
        assert!(err("signal.donchian_window", 40.5).contains("whole number"));
        assert!(err("signal", 1.0).contains("table"));
        assert!(err("signal.donchian_window.x", 1.0).contains("not a section"));
        assert!(err("signal..x", 1.0).contains("dotted key"));
        assert!(check_keys(TEXT, &["signal.donchian_window", "sizing.target_vol"]).is_ok());
        assert!(check_keys(TEXT, &["strategy"]).is_err());
    }
}
