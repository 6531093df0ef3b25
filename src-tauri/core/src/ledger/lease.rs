//! Which process owns a pending intent. Each running Kaunta (the window or a
//! headless command) holds an exclusive lock on its own lease file; the
//! kernel drops the lock when the process dies, even by `kill -9`. A pending
//! row whose owner's lease can be locked by someone else was left by a crash.
//!
//! Inside a live process the lease also knows which of its rows a flow is
//! still working on (`hold`): a pending row of our own that nobody holds was
//! left behind by a failed outcome write or an abandoned wait, and may be
//! reconciled without waiting for a restart.

use std::collections::HashSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub struct Lease {
    id: String,
    path: PathBuf,
    _file: File,
    held: Arc<Mutex<HashSet<String>>>,
}

/// A flow's claim on one transaction of this process; released on drop,
/// so an early return or a panic cannot leave a row held forever.
#[must_use = "the row is only held while this guard lives"]
pub struct Held {
    id: String,
    held: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

impl Lease {
    pub fn acquire(data_dir: &Path) -> std::io::Result<Lease> {
        let dir = data_dir.join("run");
        std::fs::create_dir_all(&dir)?;
        let id = uuid::Uuid::now_v7().to_string();
        let path = dir.join(format!("{id}.lock"));
        let file = OpenOptions::new().create_new(true).write(true).open(&path)?;
        file.lock()?;
        Ok(Lease { id, path, _file: file, held: Arc::default() })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Marks transaction `id` as worked on by a flow of this process; `None`
    /// when another flow already holds it.
    pub fn hold(&self, id: &str) -> Option<Held> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(id.to_string()).then(|| Held { id: id.to_string(), held: self.held.clone() })
    }

    /// Takes transaction `id` (owned by lease `owner`) for settling: only
    /// when its owner is gone, or it is ours and no flow of ours is working
    /// on it. Holding it keeps a second settler in this process away; an
    /// owner that is alive elsewhere settles its own rows.
    pub fn settle(&self, data_dir: &Path, owner: &str, id: &str) -> Option<Held> {
        let held = self.hold(id)?;
        (owner == self.id || is_abandoned(data_dir, owner)).then_some(held)
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

    #[test]
    fn own_rows_are_settled_only_when_no_flow_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let (mine, other) = (Lease::acquire(dir.path()).unwrap(), Lease::acquire(dir.path()).unwrap());
        let held = mine.hold("tx").unwrap();
        assert!(mine.hold("tx").is_none(), "one flow at a time");
        assert!(mine.settle(dir.path(), mine.id(), "tx").is_none());
        assert!(mine.settle(dir.path(), mine.id(), "other-tx").is_some());
        // Another live process's row is never ours to settle, held or not.
        assert!(mine.settle(dir.path(), other.id(), "tx2").is_none());
        drop(held);
        let settling = mine.settle(dir.path(), mine.id(), "tx").unwrap();
        assert!(mine.hold("tx").is_none(), "a row being settled is not taken twice");
        drop(settling);
        let gone = other.id().to_string();
        drop(other);
        assert!(mine.settle(dir.path(), &gone, "tx2").is_some());
    }
}
