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

use std::io::Read;
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

/// The cached series for `key`, if a cache file holds exactly that key. The file is read as
/// a stream (never whole in memory beside the bars it holds).
pub fn load(dir: &Path, key: &str) -> Option<Vec<DailySeries>> {
    let r = SealedReader::open(&file_for(dir, key))?;
    read_series(r, key)
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
    let mut c = Checksum::new(bytes.len() as u64);
    c.update(bytes);
    c.finish()
}

/// [`checksum`] of a stream of `len` bytes fed in pieces of any size (the same value).
struct Checksum {
    seed: u64,
    lanes: [u64; 4],
    /// The bytes of an unfinished 32-byte block.
    pending: [u8; 32],
    filled: usize,
}

impl Checksum {
    fn mix(h: u64, w: u64) -> u64 {
        (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31)
    }

    fn new(len: u64) -> Checksum {
        let seed = 0xcbf2_9ce4_8422_2325 ^ len;
        Checksum {
            seed,
            lanes: [seed, seed ^ 1, seed ^ 2, seed ^ 3],
            pending: [0; 32],
            filled: 0,
        }
    }

    fn block(&mut self, b: &[u8]) {
        for (l, h) in self.lanes.iter_mut().enumerate() {
            let mut w = [0; 8];
            w.copy_from_slice(&b[8 * l..8 * l + 8]);
            *h = Self::mix(*h, u64::from_le_bytes(w));
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        if self.filled > 0 {
            let n = (32 - self.filled).min(bytes.len());
            self.pending[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            if self.filled < 32 {
                return;
            }
            let block = self.pending;
            self.block(&block);
            self.filled = 0;
        }
        let blocks = bytes.chunks_exact(32);
        let tail = blocks.remainder();
        for b in blocks {
            self.block(b);
        }
        self.pending[..tail.len()].copy_from_slice(tail);
        self.filled = tail.len();
    }

    fn finish(&self) -> u64 {
        let h = self.lanes.iter().fold(self.seed, |h, l| Self::mix(h, *l));
        self.pending[..self.filled]
            .iter()
            .fold(h, |h, b| Self::mix(h, u64::from(*b)))
    }
}

/// A sealed cache file read as a stream: the checksum is computed as the bytes go by and
/// checked by [`SealedReader::finish`], so nothing read from it counts before that; no read
/// goes past the length the file had when opened.
pub struct SealedReader<R: Read = std::io::BufReader<std::fs::File>> {
    inner: R,
    sum: Checksum,
    expected: u64,
    left: u64,
}

impl SealedReader {
    fn open(path: &Path) -> Option<SealedReader> {
        let file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        SealedReader::new(std::io::BufReader::with_capacity(1 << 16, file), len)
    }
}

impl<R: Read> SealedReader<R> {
    /// `inner` holds `len` bytes: `MAGIC`, the checksum, the body.
    fn new(mut inner: R, len: u64) -> Option<SealedReader<R>> {
        let mut head = [0; MAGIC.len() + 8];
        inner.read_exact(&mut head).ok()?;
        let (magic, sum) = head.split_at(MAGIC.len());
        if magic != MAGIC.as_slice() {
            return None;
        }
        let left = len.checked_sub(head.len() as u64)?;
        Some(SealedReader {
            inner,
            sum: Checksum::new(left),
            expected: u64::from_le_bytes(sum.try_into().ok()?),
            left,
        })
    }

    /// Bytes of the body not read yet (a bound for any length read from it).
    pub fn remaining(&self) -> u64 {
        self.left
    }

    /// Whether the whole body was read and its checksum is right.
    pub fn finish(self) -> bool {
        self.left == 0 && self.sum.finish() == self.expected
    }

    /// A length field (8 bytes, little-endian) no larger than what is left.
    fn len(&mut self) -> Option<usize> {
        let mut b = [0; 8];
        self.read_exact(&mut b).ok()?;
        let n = u64::from_le_bytes(b);
        (n <= self.left).then(|| usize::try_from(n).ok()).flatten()
    }

    /// The key the file was written under, compared with `key`.
    fn holds_key(&mut self, key: &str) -> bool {
        match self.len() {
            Some(n) if n == key.len() => {
                let mut k = vec![0; n];
                self.read_exact(&mut k).is_ok() && k == key.as_bytes()
            }
            _ => false,
        }
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let cap = usize::try_from(self.left).map_or(buf.len(), |l| l.min(buf.len()));
        let n = self.inner.read(&mut buf[..cap])?;
        self.sum.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
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

/// What a caller cached under `key` (another structure built from the same files, such as
/// a strategy's price panel), as a stream positioned after the key, if the file holds
/// exactly that key. Read it whole, then [`SealedReader::finish`] tells whether it is sound.
pub fn load_blob(dir: &Path, key: &str) -> Option<SealedReader> {
    let mut r = SealedReader::open(&file_for(dir, key))?;
    r.holds_key(key).then_some(r)
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
#[cfg(test)]
fn decode(bytes: &[u8], key: &str) -> Option<Vec<DailySeries>> {
    read_series(SealedReader::new(bytes, bytes.len() as u64)?, key)
}

/// The series of a sealed stream written by [`encode`] under `key`, decoded a series at a
/// time; `None` unless the key, every length and the checksum are right.
fn read_series<R: Read>(mut r: SealedReader<R>, key: &str) -> Option<Vec<DailySeries>> {
    if !r.holds_key(key) {
        return None;
    }
    let count = r.len()?;
    let mut out = Vec::with_capacity(count.min(100_000));
    let mut raw = Vec::new();
    let field = |r: &mut SealedReader<R>| -> Option<String> {
        let mut text = vec![0; r.len()?];
        r.read_exact(&mut text).ok()?;
        String::from_utf8(text).ok()
    };
    for _ in 0..count {
        let symbol = Symbol::new(&field(&mut r)?).ok()?;
        let market: Market = field(&mut r)?.parse().ok()?;
        let n = r.len()?;
        raw.resize(n.checked_mul(44).filter(|b| *b as u64 <= r.remaining())?, 0);
        r.read_exact(&mut raw).ok()?;
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
    r.finish().then_some(out)
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
        assert_eq!(blob(dir.path(), "b1").as_deref(), Some(&b"panel"[..]));
        assert!(load_blob(dir.path(), "b2").is_none());
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
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] = b'X';
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(blob(dir.path(), "b1"), None);
    }

    /// A blob read whole, if it is sound.
    fn blob(dir: &Path, key: &str) -> Option<Vec<u8>> {
        let mut r = load_blob(dir, key)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).ok()?;
        r.finish().then_some(out)
    }

    /// The checksum fed in pieces of any size equals the checksum of the whole.
    #[test]
    fn test_checksum_in_pieces_equals_whole() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [0, 1, 31, 32, 33, 64, 100, 1000] {
            let whole = checksum(&bytes[..len]);
            for step in [1, 3, 7, 31, 32, 33, 500] {
                let mut c = Checksum::new(len as u64);
                for piece in bytes[..len].chunks(step) {
                    c.update(piece);
                }
                assert_eq!(c.finish(), whole, "len {len} step {step}");
            }
        }
    }

    /// A length field larger than the rest of the file is refused before anything is
    /// allocated for it.
    #[test]
    fn test_a_length_beyond_the_file_is_refused() {
        let mut body = Vec::new();
        body.extend_from_slice(&2u64.to_le_bytes());
        body.extend_from_slice(b"k1");
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        let mut bytes = sealed(body.len());
        bytes.extend_from_slice(&body);
        let bytes = seal(bytes);
        assert_eq!(decode(&bytes, "k1"), None);
    }
}
