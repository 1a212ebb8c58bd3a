//! Stable identifiers: a hash of an object's canonical fields, so the same decision gets
//! the same id in every run (a re-run never submits a duplicate order).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::CoreError;
use crate::json::to_canonical_string;

/// Hex SHA-256 of arbitrary bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A 32-hex-character id (128 bits of SHA-256) of the canonical JSON of `fields`, prefixed
/// with `prefix` (e.g. `ord-…`) so ids say what they name.
pub fn stable_id<T: Serialize>(prefix: &str, fields: &T) -> Result<String, CoreError> {
    let canonical = to_canonical_string(fields)?;
    let hex = sha256_hex(canonical.as_bytes());
    Ok(format!("{prefix}-{}", &hex[..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_same_fields_same_id_regardless_of_key_order() {
        let a = serde_json::json!({"b": 1, "a": "x"});
        let b = serde_json::json!({"a": "x", "b": 1});
        assert_eq!(stable_id("t", &a).unwrap(), stable_id("t", &b).unwrap());
        let c = serde_json::json!({"a": "x", "b": 2});
        assert_ne!(stable_id("t", &a).unwrap(), stable_id("t", &c).unwrap());
        assert_eq!(stable_id("t", &a).unwrap().len(), 2 + 32);
    }

    #[test]
    fn test_sha256_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
