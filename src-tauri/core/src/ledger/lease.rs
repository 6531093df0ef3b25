//! Which process owns a pending intent. Each running Kaunta (the window or a
//! headless command) holds an exclusive lock on its own lease file; the
//! kernel drops the lock when the process dies, even by `kill -9`. A pending
//! row whose owner's lease can be locked by someone else was left by a crash.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

pub struct Lease {
    id: String,
    path: PathBuf,
    _file: File,
}

impl Lease {
    pub fn acquire(data_dir: &Path) -> std::io::Result<Lease> {
        let dir = data_dir.join("run");
        std::fs::create_dir_all(&dir)?;
        let id = uuid::Uuid::now_v7().to_string();
        let path = dir.join(format!("{id}.lock"));
        let file = OpenOptions::new().create_new(true).write(true).open(&path)?;
        file.lock()?;
        Ok(Lease { id, path, _file: file })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// True when the process that took lease `id` is gone.
pub fn is_abandoned(data_dir: &Path, id: &str) -> bool {
    // Lease ids are our own UUIDs; anything else in the column is not a path to follow.
    if uuid::Uuid::parse_str(id).is_err() {
        return true;
    }
    let path = data_dir.join("run").join(format!("{id}.lock"));
    let Ok(file) = OpenOptions::new().write(true).open(&path) else {
        return true;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = std::fs::remove_file(&path);
            true
        }
        Err(TryLockError::WouldBlock) => false,
        Err(TryLockError::Error(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lease_is_not_abandoned_and_a_dropped_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let lease = Lease::acquire(dir.path()).unwrap();
        let id = lease.id().to_string();
        assert!(!is_abandoned(dir.path(), &id));
        drop(lease);
        assert!(is_abandoned(dir.path(), &id));
        assert!(is_abandoned(dir.path(), "../../etc/passwd"));
    }
}
