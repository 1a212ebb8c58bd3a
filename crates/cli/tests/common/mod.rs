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

/// A signal in [−0.3, 1.0) per name per weekday from `from` to `to`, changing every day
/// (a fixed LCG: the same file every run): `date,symbol,signal`.
pub fn daily_signals(names: &[&str], from: &str, to: &str) -> String {
    use chrono::Datelike;
    let (mut d, end): (chrono::NaiveDate, chrono::NaiveDate) =
        (from.parse().unwrap(), to.parse().unwrap());
    let mut x: u64 = 7;
    let mut out = String::from("date,symbol,signal\n");
    while d <= end {
        if d.weekday().num_days_from_monday() < 5 {
            for s in names {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((x >> 33) % 1300) as f64 / 1000.0 - 0.3;
                out.push_str(&format!("{d},{s},{v:.3}\n"));
            }
        }
        d = d.succ_opt().unwrap();
    }
    out
}

/// The top `n` names by signal on `date` of a `date,symbol,signal` text (positive signals,
/// strongest first, ties by symbol).
pub fn top_signals(signals: &str, date: &str, n: usize) -> std::collections::BTreeSet<String> {
    let mut v: Vec<(String, f64)> = signals
        .lines()
        .skip(1)
        .filter(|l| l.starts_with(date))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[1].to_string(), c[2].parse().unwrap())
        })
        .filter(|(_, x)| *x > 0.0)
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(n).map(|x| x.0).collect()
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

/// A tear sheet's Summary metrics, label → value as shown (HTML entities left as written).
pub fn sheet_metrics(html: &str) -> std::collections::BTreeMap<String, String> {
    html.split(r#"<div class="metric"><div class="label">"#)
        .skip(1)
        .filter_map(|m| {
            let (label, rest) = m.split_once("</div>")?;
            let value = rest
                .strip_prefix(r#"<div class="value">"#)?
                .split_once("</div>")?
                .0;
            Some((label.to_string(), value.to_string()))
        })
        .collect()
}

/// A row's field as a number.
pub fn f(r: &std::collections::BTreeMap<String, String>, k: &str) -> f64 {
    r[k].parse().unwrap_or_else(|_| panic!("{k}: {:?}", r[k]))
}

/// A merged sweep's files equal, byte for byte, the ones one process wrote.
pub fn same_sweep_files(one: &Path, merged: &Path) {
    for f in [
        "sweep.csv",
        "sensitivity.csv",
        "marginals.csv",
        "heatmap.svg",
    ] {
        let (a, b) = (one.join(f), merged.join(f));
        if !a.exists() {
            assert!(!b.exists(), "{f}");
            continue;
        }
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{f} differs"
        );
    }
}

/// `configs/trend_crypto.toml` copied into `dir` reading the shared crypto data by absolute
/// path (`None` without `../shared`).
pub fn trend_crypto_copy(dir: &Path) -> Option<std::path::PathBuf> {
    let data = systrade_testkit::shared("data/crypto_binance_spot/1d")?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cfg = dir.join("trend.toml");
    std::fs::write(
        &cfg,
        read(&repo.join("configs/trend_crypto.toml"))
            .replace("../../shared/data/crypto_binance_spot/1d", s(&data)),
    )
    .unwrap();
    Some(cfg)
}
