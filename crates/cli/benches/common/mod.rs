//! What the command-line benchmarks share: running the release binary and copying homes.
#![allow(dead_code)] // each benchmark uses its own subset

use std::path::Path;
use std::process::Command;

/// Runs `systrade` (no SYSTRADE_HOME from the environment); panics with its stderr on failure.
pub fn sys(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_systrade"))
        .args(args)
        .env_remove("SYSTRADE_HOME")
        .output()
        .expect("systrade runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}
