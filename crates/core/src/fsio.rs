//! Atomic file writes: a reader sees the old file or the new one, never half of one.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use serde::Serialize;

use crate::CoreError;
use crate::json::to_canonical_pretty;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CoreError + '_ {
    move |source| CoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether a file waits for the disk before it is put in place. Either way it is written to a
/// temporary file and renamed over its target: a reader, and a run killed at any instant, see
/// the old file or the new one, never half of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced before the rename: the file survives a power cut once the call returns. For
    /// what cannot be recomputed — ledgers, state, orders, what a broker said.
    Synced,
    /// Put in place without waiting for the disk: a power cut (not a killed process) before
    /// the kernel's write-back (about 30 s) can leave the new file empty. For derived research
    /// artifacts — a backtest's files and tear sheet — which a rerun rewrites byte for byte.
    /// On Linux a file it replaces is exchanged with the new one and then removed, rather than
    /// renamed over: ext4 would start writing the new file back inside that rename
    /// (`auto_da_alloc`), a sync's cost without its promise (1.5 ms for a 1.9 MB file here).
    Renamed,
}

/// Writes `bytes` to `path` through a temporary file in the same folder, synced and then
/// renamed over the target. Creates the parent folder when missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    write_atomic_as(path, bytes, Durability::Synced)
}

/// [`write_atomic`] with the given [`Durability`].
pub fn write_atomic_as(path: &Path, bytes: &[u8], d: Durability) -> Result<(), CoreError> {
    let mut w = AtomicWriter::create(path)?;
    w.write_all(bytes).map_err(io_err(path))?;
    let f = w.flushed()?;
    f.finish(d)?;
    f.put(d)
}

/// A derived research artifact (a backtest's files, a tear sheet), which a rerun rewrites byte
/// for byte: [`write_atomic_as`] with [`Durability::Renamed`].
pub fn write_artifact(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    write_atomic_as(path, bytes, Durability::Renamed)
}

/// Writes several files as [`write_atomic_as`] does: each goes to its temporary file; when
/// [`Durability::Synced`], the syncs run side by side (one thread per file; the filesystem
/// can join them in one journal commit); then each is renamed over its target in the given
/// order. On an error the files not yet renamed are left as they were.
pub fn write_all_atomic(files: &[(&Path, &[u8])], d: Durability) -> Result<(), CoreError> {
    let mut pending = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let mut w = AtomicWriter::create(path)?;
        w.write_all(bytes).map_err(io_err(path))?;
        pending.push(w.flushed()?);
    }
    if d == Durability::Renamed {
        pending.iter().try_for_each(|f| f.finish(d))?;
        return pending.into_iter().try_for_each(|f| f.put(d));
    }
    std::thread::scope(|scope| {
        let syncs: Vec<_> = pending
            .iter()
            .map(|f| scope.spawn(move || f.finish(Durability::Synced)))
            .collect();
        syncs.into_iter().try_for_each(|h| {
            h.join().map_err(|_| CoreError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other("a file sync panicked"),
            })?
        })
    })?;
    pending.into_iter().try_for_each(Flushed::rename)
}

/// A temporary file with all its bytes written, not yet synced or in place.
struct Flushed {
    path: PathBuf,
    tmp: NamedTempFile,
}

impl Flushed {
    /// Makes it an ordinary file (a temporary file is 0600) and, when [`Durability::Synced`],
    /// waits until it is on disk.
    fn finish(&self, d: Durability) -> Result<(), CoreError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(io_err(&self.path))?;
        }
        match d {
            Durability::Synced => self.tmp.as_file().sync_all().map_err(io_err(&self.path)),
            Durability::Renamed => Ok(()),
        }
    }

    /// Puts the file in place as `d` says (see [`Durability::Renamed`]).
    fn put(self, d: Durability) -> Result<(), CoreError> {
        #[cfg(target_os = "linux")]
        if d == Durability::Renamed
            && std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_file())
        {
            use rustix::fs::{CWD, RenameFlags, renameat_with};
            use rustix::io::Errno;
            match renameat_with(CWD, self.tmp.path(), CWD, &self.path, RenameFlags::EXCHANGE) {
                // The temporary name now holds the old file: removed with it.
                Ok(()) => return self.tmp.close().map_err(io_err(&self.path)),
                // A filesystem without the exchange: renamed over, as elsewhere.
                Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {}
                Err(e) => return Err(io_err(&self.path)(e.into())),
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = d;
        self.rename()
    }

    fn rename(self) -> Result<(), CoreError> {
        let path = self.path;
        self.tmp.persist(&path).map_err(|e| CoreError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// A file written as it is produced and put in place at once: the text goes to a temporary
/// file in the target's folder; [`AtomicWriter::commit`] syncs it and renames it over the
/// target. Dropped without a commit, the temporary file is removed and the target is as it
/// was (a reader sees the old file or the new one, never half of one).
pub struct AtomicWriter {
    path: PathBuf,
    out: BufWriter<NamedTempFile>,
}

impl AtomicWriter {
    /// Starts the file that will become `path`; creates the parent folder when missing.
    pub fn create(path: &Path) -> Result<Self, CoreError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(io_err(path))?;
        Ok(AtomicWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, tmp),
        })
    }

    /// The file this one becomes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs and renames the file over its target.
    pub fn commit(self) -> Result<(), CoreError> {
        let f = self.flushed()?;
        f.finish(Durability::Synced)?;
        f.rename()
    }

    fn flushed(self) -> Result<Flushed, CoreError> {
        let path = self.path;
        let tmp = self.out.into_inner().map_err(|e| CoreError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        Ok(Flushed { path, tmp })
    }
}

impl Write for AtomicWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes a value as canonical pretty JSON, atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), CoreError> {
    let text = to_canonical_pretty(value)?;
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn test_atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.json");
        write_json_atomic(&p, &serde_json::json!({"b": 2, "a": 1})).unwrap();
        write_json_atomic(&p, &serde_json::json!({"c": 3})).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\n  \"c\": 3\n}\n");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temp files left: {names:?}");
    }

    /// Renamed without a sync: in place with its bytes, an ordinary file, nothing left over.
    #[test]
    fn test_renamed_files_are_in_place_like_synced_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("sub/b.html"));
        write_atomic(&a, b"old\n").unwrap();
        write_atomic_as(&a, b"new\n", Durability::Renamed).unwrap();
        write_all_atomic(&[(&b, b"<p>\n")], Durability::Renamed).unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "<p>\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [&a, &b] {
                let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o644, "{}", p.display());
            }
        }
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["a.csv", "sub"], "no temporary file left");
        // A reader of the old file keeps its bytes; a folder in the way is refused, untouched;
        // a symbolic link is replaced by the file, as a rename does.
        let mut old = std::fs::File::open(&a).unwrap();
        write_atomic_as(&a, b"newer\n", Durability::Renamed).unwrap();
        let mut text = String::new();
        old.read_to_string(&mut text).unwrap();
        assert_eq!(text, "new\n");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "newer\n");
        let folder = dir.path().join("sub");
        assert!(write_atomic_as(&folder, b"x", Durability::Renamed).is_err());
        assert!(folder.join("b.html").is_file());
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&a, &link).unwrap();
            write_atomic_as(&link, b"own\n", Durability::Renamed).unwrap();
            assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
            assert_eq!(std::fs::read_to_string(&a).unwrap(), "newer\n");
        }
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["a.csv", "link.csv", "sub"],
            "no temporary file left"
        );
    }

    /// Several files at once: all in place with their bytes, no temporary file left; a file
    /// that cannot be started changes nothing.
    #[test]
    fn test_write_all_atomic_puts_every_file_in_place_or_none_on_a_bad_path() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("sub/b.json"));
        write_atomic(&a, b"old\n").unwrap();
        write_all_atomic(&[(&a, b"new a\n"), (&b, b"{}\n")], Durability::Synced).unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "{}\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&b).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode, 0o644,
                "an ordinary file, not the temporary file's 0600"
            );
        }
        // A target under a plain file: refused before anything is renamed.
        let under_file = a.join("c.csv");
        for d in [Durability::Synced, Durability::Renamed] {
            assert!(write_all_atomic(&[(&b, b"changed\n"), (&under_file, b"x")], d).is_err());
        }
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "{}\n");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    }

    #[test]
    fn test_a_writer_dropped_without_commit_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        write_atomic(&p, b"old\n").unwrap();
        let mut w = AtomicWriter::create(&p).unwrap();
        w.write_all(b"new, half").unwrap();
        drop(w);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\n");
        let mut w = AtomicWriter::create(&p).unwrap();
        w.write_all(b"new\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "old\n",
            "not before the commit"
        );
        w.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}
