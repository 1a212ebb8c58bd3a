//! Deterministic JSON: sorted keys, one float rule, no NaN.
//!
//! The float rule: every finite `f64` is written as the shortest decimal that parses back to
//! the identical double (serde_json's ryu output), with `-0.0` written as `0.0`. serde_json
//! turns a NaN or infinite `f64` into `null` before we see it, so producers guard their floats
//! with [`finite`] when they build an artifact: an artifact must never carry a silent NaN.

use serde::Serialize;
use serde_json::Value;

use crate::CoreError;

/// Converts a value to a `serde_json::Value` with every object's keys sorted and floats
/// normalised.
pub fn to_canonical_value<T: Serialize>(v: &T) -> Result<Value, CoreError> {
    let mut value = serde_json::to_value(v)?;
    normalise(&mut value);
    value.sort_all_objects();
    Ok(value)
}

fn normalise(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && n.is_f64()
                && f == 0.0
                && f.is_sign_negative()
            {
                *v = serde_json::json!(0.0);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        Value::Object(map) => map.values_mut().for_each(normalise),
        _ => {}
    }
}

/// Canonical compact JSON text (used for hashing ids).
pub fn to_canonical_string<T: Serialize>(v: &T) -> Result<String, CoreError> {
    Ok(serde_json::to_string(&to_canonical_value(v)?)?)
}

/// Canonical pretty JSON text with a trailing newline (used for artifacts people read).
pub fn to_canonical_pretty<T: Serialize>(v: &T) -> Result<String, CoreError> {
    let mut s = serde_json::to_string_pretty(&to_canonical_value(v)?)?;
    s.push('\n');
    Ok(s)
}

/// Refuses a non-finite float before it is serialised (serde_json would write `null`).
pub fn finite(v: f64, what: &str) -> Result<f64, CoreError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CoreError::NonFinite {
            path: what.to_string(),
        })
    }
}

pub use crate::shortest::{push_shortest, shortest};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn test_keys_sorted_even_from_hashmap() {
        let mut m = HashMap::new();
        for k in ["zeta", "alpha", "mid", "beta"] {
            m.insert(k, 1);
        }
        let s = to_canonical_string(&m).unwrap();
        assert_eq!(s, r#"{"alpha":1,"beta":1,"mid":1,"zeta":1}"#);
    }

    #[test]
    fn test_float_rule_shortest_round_trip_and_negative_zero() {
        let s =
            to_canonical_string(&serde_json::json!({"a": 0.1, "b": -0.0, "c": 1e-300})).unwrap();
        assert_eq!(s, r#"{"a":0.1,"b":0.0,"c":1e-300}"#);
    }

    #[test]
    fn test_pretty_has_trailing_newline() {
        assert!(
            to_canonical_pretty(&serde_json::json!({"a": 1}))
                .unwrap()
                .ends_with("}\n")
        );
    }

    #[test]
    fn test_finite_guard() {
        assert!(finite(f64::NAN, "x").is_err());
        assert_eq!(finite(1.5, "x").unwrap(), 1.5);
    }
}
