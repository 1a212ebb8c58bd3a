//! What the command-line tests share: running the binary and reading what it wrote.
#![allow(dead_code)] // each test binary uses its own subset

pub mod daily;
pub mod dash;
pub mod http;
pub mod venue;

use std::path::Path;

use assert_cmd::Command;

/// Spawns `c`, a server that prints its `http://` address on its first line, and waits for
/// that line: the child, the address and the line.
pub fn spawn_server(mut c: std::process::Command) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut child = c.spawn().unwrap();
    let mut banner = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in the banner {banner:?}"))
        .to_string();
    (child, url, banner)
}

/// How a run ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `systrade` with `args` in `cwd` (no SYSTRADE_HOME from the environment).
pub fn run_in(args: &[&str], cwd: &Path) -> Run {
    let out = Command::cargo_bin("systrade")
        .unwrap()
        .env_remove("SYSTRADE_HOME")
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `systrade` with `args` in the current folder.
pub fn run(args: &[&str]) -> Run {
    run_in(args, Path::new("."))
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A config file committed under `configs/`.
pub fn committed(name: &str) -> String {
    std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../configs")
            .join(name),
    )
    .unwrap()
}

/// A CSV as rows of named fields (plain CSV: no quoted commas).
pub fn rows(p: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = read(p);
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_else(|| panic!("{}: empty", p.display()))
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

/// A row's field as a number.
pub fn f(r: &std::collections::BTreeMap<String, String>, k: &str) -> f64 {
    r[k].parse().unwrap_or_else(|_| panic!("{k}: {:?}", r[k]))
}
