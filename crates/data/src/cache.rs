//! A cache of a folder's parsed daily series, so a folder of vendor files is parsed once and
//! every later run reads the bars back in a few milliseconds.
//!
//! The cache is keyed by everything the parse depends on — the running program (its path,
//! size and modification time, so a rebuilt binary never trusts an older parse), the folder,
//! the parse options, and every data file's path, size and modification time to the
//! nanosecond — and the file stores that whole key and is checked byte for byte on reading:
//! a changed file, other options or another build reparse. A cache that cannot be read or
//! written is ignored (the parse is the truth; the cache only saves time). Each file carries
//! a checksum of its contents, so it is written without waiting for the disk: a file a crash
//! left torn or zeroed fails the checksum and is parsed again.
//!
//! Where: `SYSTRADE_CACHE_DIR`, else `$XDG_CACHE_HOME/systrade`, else `~/.cache/systrade`;
//! `SYSTRADE_CACHE_DIR=off` turns it off. It keeps the [`KEEP`] most recently written
//! files and removes older ones when it writes.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use systrade_core::{DailyBar, Market, Symbol};

use crate::parse::ParseOptions;
use crate::source::DailySeries;

const MAGIC: &[u8; 16] = b"SYSTRADE-DAILY02";

/// How many cache files are kept (the oldest go first).
pub const KEEP: usize = 32;

/// The cache folder, or `None` when caching is off or no home is known.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("SYSTRADE_CACHE_DIR") {
        Some(v) if v == "off" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("systrade")),
    }
}

fn stamp(p: &Path) -> Option<String> {
    let m = std::fs::metadata(p).ok()?;
    let t = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{}|{}|{}", p.display(), m.len(), t.as_nanos()))
}

/// The key of a parse of `files` under `root` with `opts` (`None` when a file's metadata
/// cannot be read: no caching then).
pub fn key(root: &Path, files: &[PathBuf], opts: &ParseOptions) -> Option<String> {
    let exe = std::env::current_exe().ok().and_then(|e| stamp(&e))?;
    let mut k = format!(
        "{}\n{exe}\n{}\n{opts:?}\n",
        env!("CARGO_PKG_VERSION"),
        std::fs::canonicalize(root).ok()?.display()
    );
    for f in files {
        k.push_str(&stamp(f)?);
        k.push('\n');
    }
    Some(k)
}

fn fnv(bytes: &[u8], seed: u64) -> u64 {
    bytes.iter().fold(seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn file_for(dir: &Path, key: &str) -> PathBuf {
    let b = key.as_bytes();
    dir.join(format!(
        "daily-{:016x}{:016x}.bin",
        fnv(b, 0xcbf2_9ce4_8422_2325),
        fnv(b, 0x8422_2325_cbf2_9ce4)
    ))
}

/// The cached series for `key`, if a cache file holds exactly that key.
pub fn load(dir: &Path, key: &str) -> Option<Vec<DailySeries>> {
    let bytes = std::fs::read(file_for(dir, key)).ok()?;
    decode(&bytes, key)
}

/// Stores the series for `key` (atomically; a failure is ignored).
pub fn store(dir: &Path, key: &str, series: &[DailySeries]) {
    put(dir, key, &encode(key, series));
}

/// Writes a [`sealed`] file under a temporary name and renames it into place; no sync: the
/// checksum catches a torn file.
fn put(dir: &Path, key: &str, bytes: &[u8]) {
    use std::io::Write;
    let _ = std::fs::create_dir_all(dir);
    // A cache that cannot be written is ignored (module docs).
    let _ = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .and_then(|mut tmp| {
            tmp.write_all(bytes)?;
            tmp.persist(file_for(dir, key)).map_err(|e| e.error)
        });
    prune(dir);
}

/// A 64-bit checksum of `bytes` (four independent lanes of 8-byte words, so it runs at
/// memory speed; catches torn and zeroed files, not tampering).
fn checksum(bytes: &[u8]) -> u64 {
    let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31);
    let word = |c: &[u8]| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    let blocks = bytes.chunks_exact(32);
    let tail = blocks.remainder();
    let seed = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut lanes = [seed, seed ^ 1, seed ^ 2, seed ^ 3];
    for b in blocks {
        for (l, h) in lanes.iter_mut().enumerate() {
            *h = mix(*h, word(&b[8 * l..8 * l + 8]));
        }
    }
    let mut h = lanes.iter().fold(seed, |h, l| mix(h, *l));
    for b in tail {
        h = mix(h, u64::from(*b));
    }
    h
}

/// A file's bytes begin with `MAGIC` and room for the checksum [`seal`] fills in.
fn sealed(capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + capacity);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0; 8]);
    out
}

/// Writes the checksum of what follows it.
fn seal(mut out: Vec<u8>) -> Vec<u8> {
    let at = MAGIC.len();
    let sum = checksum(&out[at + 8..]);
    out[at..at + 8].copy_from_slice(&sum.to_le_bytes());
    out
}

/// The body of a cache file (after `MAGIC` and the checksum), if both are right.
fn unseal(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (sum, body) = rest.split_at_checked(8)?;
    (u64::from_le_bytes(sum.try_into().ok()?) == checksum(body)).then_some(body)
}

/// Removes all but the [`KEEP`] newest cache files.
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("daily-") && n.ends_with(".bin")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= KEEP {
        return;
    }
    files.sort();
    for (_, p) in &files[..files.len() - KEEP] {
        let _ = std::fs::remove_file(p);
    }
}

/// The files a folder's daily series come from (for a caller's own cache key).
pub fn files_of(root: &Path) -> Option<Vec<PathBuf>> {
    crate::folder::data_files(root).ok()
}

/// Bytes a caller cached under `key` (another structure built from the same files, such
/// as a strategy's price panel), if the file holds exactly that key.
pub fn load_blob(dir: &Path, key: &str) -> Option<Vec<u8>> {
    let mut bytes = std::fs::read(file_for(dir, key)).ok()?;
    let body = unseal(&bytes)?;
    let mut r = Reader { bytes: body, at: 0 };
    let n = r.len()?;
    if r.take(n)? != key.as_bytes() {
        return None;
    }
    // What follows the key, in place (no second copy of the blob).
    let at = bytes.len() - body.len() + r.at;
    bytes.drain(..at);
    Some(bytes)
}

/// Stores `body` under `key` (atomically; a failure is ignored).
pub fn store_blob(dir: &Path, key: &str, body: &[u8]) {
    let mut out = sealed(8 + key.len() + body.len());
    out.extend_from_slice(&(key.len() as u64).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(body);
    put(dir, key, &seal(out));
}

fn encode(key: &str, series: &[DailySeries]) -> Vec<u8> {
    let bars: usize = series.iter().map(|s| s.bars.len()).sum();
    let mut out = sealed(16 + key.len() + bars * 44);
    out.extend_from_slice(&(key.len() as u64).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&(series.len() as u64).to_le_bytes());
    for s in series {
        for text in [s.symbol.as_str(), s.market.as_str()] {
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&(s.bars.len() as u64).to_le_bytes());
        for b in &s.bars {
            out.extend_from_slice(&chrono::Datelike::num_days_from_ce(&b.ts).to_le_bytes());
            for v in [b.open, b.high, b.low, b.close, b.volume] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    seal(out)
}

/// Reads what [`encode`] wrote; `None` on any difference (another key, a short file).
fn decode(bytes: &[u8], key: &str) -> Option<Vec<DailySeries>> {
    let bytes = unseal(bytes)?;
    let mut r = Reader { bytes, at: 0 };
    let n = r.len()?;
    if r.take(n)? != key.as_bytes() {
        return None;
    }
    let count = r.len()?;
    let mut out = Vec::with_capacity(count.min(100_000));
    for _ in 0..count {
        let n = r.len()?;
        let symbol = Symbol::new(std::str::from_utf8(r.take(n)?).ok()?).ok()?;
        let n = r.len()?;
        let market: Market = std::str::from_utf8(r.take(n)?).ok()?.parse().ok()?;
        let n = r.len()?;
        let raw = r.take(n.checked_mul(44)?)?;
        let mut bars = Vec::with_capacity(n);
        for c in raw.chunks_exact(44) {
            let day = i32::from_le_bytes(c[0..4].try_into().ok()?);
            let f = |k: usize| -> Option<f64> {
                Some(f64::from_le_bytes(
                    c[4 + 8 * k..12 + 8 * k].try_into().ok()?,
                ))
            };
            bars.push(DailyBar {
                ts: NaiveDate::from_num_days_from_ce_opt(day)?,
                open: f(0)?,
                high: f(1)?,
                low: f(2)?,
                close: f(3)?,
                volume: f(4)?,
            });
        }
        out.push(DailySeries {
            symbol,
            market,
            bars,
        });
    }
    (r.at == bytes.len()).then_some(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(self.take(8)?.try_into().ok()?)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Vec<DailySeries> {
        let d = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        vec![DailySeries {
            symbol: Symbol::new("AAA").unwrap(),
            market: Market::Us,
            bars: vec![DailyBar {
                ts: d,
                open: 1.5,
                high: 2.0,
                low: 1.0,
                close: f64::from_bits(0x3ff0_0000_0000_0001),
                volume: 10.0,
            }],
        }]
    }

    #[test]
    fn test_round_trip_is_exact_and_any_difference_misses() {
        let s = series();
        let bytes = encode("k1", &s);
        assert_eq!(decode(&bytes, "k1"), Some(s.clone()));
        assert_eq!(decode(&bytes, "k2"), None, "another key");
        assert_eq!(decode(&bytes[..bytes.len() - 1], "k1"), None, "short");
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer, "k1"), None, "trailing bytes");
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), "k1", &s);
        assert_eq!(load(dir.path(), "k1"), Some(s));
        assert_eq!(load(dir.path(), "k3"), None);
        store_blob(dir.path(), "b1", b"panel");
        assert_eq!(load_blob(dir.path(), "b1").as_deref(), Some(&b"panel"[..]));
        assert_eq!(load_blob(dir.path(), "b2"), None);
        // Only the newest KEEP files stay.
        for k in 0..KEEP + 5 {
            store_blob(dir.path(), &format!("many{k}"), b"x");
        }
        let n = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(n, KEEP);
    }

    /// A file a crash left torn, zeroed or with one bit flipped is not read back: the
    /// checksum misses and the data is parsed again.
    #[test]
    fn test_a_damaged_file_misses() {
        let s = series();
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), "k1", &s);
        let path = file_for(dir.path(), "k1");
        let good = std::fs::read(&path).unwrap();
        let bar_at = good.len() - 20;
        let mut flipped = good.clone();
        flipped[bar_at] ^= 0x01;
        let mut zeroed = good.clone();
        zeroed[MAGIC.len()..].fill(0);
        let mut torn = good.clone();
        torn[bar_at..].fill(0);
        for (what, bytes) in [("flipped", flipped), ("zeroed", zeroed), ("torn", torn)] {
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(load(dir.path(), "k1"), None, "{what}");
        }
        std::fs::write(&path, &good).unwrap();
        assert_eq!(load(dir.path(), "k1"), Some(s));
        store_blob(dir.path(), "b1", b"panel");
        let path = file_for(dir.path(), "b1");
        let mut blob = std::fs::read(&path).unwrap();
        let last = blob.len() - 1;
        blob[last] = b'X';
        std::fs::write(&path, &blob).unwrap();
        assert_eq!(load_blob(dir.path(), "b1"), None);
    }
}
