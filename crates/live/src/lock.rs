//! One run at a time per strategy: a lock file holding the owner's pid. A lock whose pid
//! is gone (a killed run) is stale: reported and taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A held lock; dropping it releases the file.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// True when a process with this pid exists.
fn alive(pid: i32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists; it sends nothing.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

impl RunLock {
    /// Takes the lock; `Ok((lock, Some(pid)))` when a stale lock of `pid` was taken over.
    pub fn acquire(path: &Path) -> anyhow::Result<(RunLock, Option<i32>)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut stale = None;
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id())?;
                    f.sync_all()?;
                    return Ok((
                        RunLock {
                            path: path.to_path_buf(),
                        },
                        stale,
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(path).unwrap_or_default();
                    let pid: Option<i32> = text.trim().parse().ok();
                    match pid {
                        Some(p) if p as u32 != std::process::id() && alive(p) => {
                            anyhow::bail!(
                                "another run (pid {p}) holds the lock {}; wait for it to finish",
                                path.display()
                            );
                        }
                        _ => {
                            // Dead owner (or an unreadable file): take it over.
                            stale = Some(pid.unwrap_or(-1));
                            std::fs::remove_file(path)?;
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!("could not take the lock {}", path.display())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_live_lock_refuses_and_stale_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("locks/x.lock");
        let (held, stale) = RunLock::acquire(&p).unwrap();
        assert!(stale.is_none());
        drop(held);
        assert!(!p.exists(), "released on drop");
        // Our parent (the test harness) is alive: its lock is respected.
        std::fs::write(&p, format!("{}\n", std::os::unix::process::parent_id())).unwrap();
        assert!(RunLock::acquire(&p).is_err());
        // A pid that cannot exist is stale.
        std::fs::write(&p, "2147483000\n").unwrap();
        let (_l, stale) = RunLock::acquire(&p).unwrap();
        assert_eq!(stale, Some(2147483000));
    }
}
