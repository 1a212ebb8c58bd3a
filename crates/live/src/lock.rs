//! One run at a time per strategy: a lock file holding the owner's pid and the time that
//! process started. A lock whose owner is gone (a killed run) is stale: reported and taken
//! over — also when its pid now belongs to an unrelated process (the start time differs).

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

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat`, field 22);
/// `None` where that cannot be read.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The owner written in a lock file: `PID [START]`.
fn owner(text: &str) -> Option<(i32, Option<u64>)> {
    let mut it = text.split_whitespace();
    let pid = it.next()?.parse().ok()?;
    let start = it.next().and_then(|s| s.parse().ok());
    Some((pid, start))
}

/// The lock's owner still runs: its pid is alive and, when the lock says when it started,
/// it is the same process.
fn holds(pid: i32, start: Option<u64>) -> bool {
    if pid as u32 == std::process::id() || !alive(pid) {
        return false;
    }
    match (start, start_time(pid as u32)) {
        (Some(want), Some(now)) => want == now,
        _ => true,
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
                    let me = std::process::id();
                    match start_time(me) {
                        Some(t) => writeln!(f, "{me} {t}")?,
                        None => writeln!(f, "{me}")?,
                    }
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
                    match owner(&text) {
                        Some((p, start)) if holds(p, start) => {
                            anyhow::bail!(
                                "another run (pid {p}) holds the lock {}; wait for it to finish",
                                path.display()
                            );
                        }
                        other => {
                            // Dead owner, a reused pid, or an unreadable file: take it over.
                            stale = Some(other.map_or(-1, |(p, _)| p));
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
        let (l, stale) = RunLock::acquire(&p).unwrap();
        assert_eq!(stale, Some(2147483000));
        drop(l);
        // A live pid that started at another time is an unrelated process reusing the pid.
        let parent = std::os::unix::process::parent_id();
        let started = start_time(parent).expect("/proc is readable");
        std::fs::write(&p, format!("{parent} {started}\n")).unwrap();
        assert!(RunLock::acquire(&p).is_err(), "the same process holds it");
        std::fs::write(&p, format!("{parent} {}\n", started + 1)).unwrap();
        let (_l, stale) = RunLock::acquire(&p).unwrap();
        assert_eq!(stale, Some(parent as i32), "a reused pid is stale");
    }
}
