//! Shared helpers for tests that read `../shared`.

use std::path::PathBuf;

/// `../shared/<rel>` from the workspace root, or `None` (with one printed skip line) when the
/// shared folder is not beside the checkout.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let p = root.join(rel);
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
