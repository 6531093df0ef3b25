//! Backups of the ledger. The till's only record of money moved is one
//! SQLite file; a dead disk takes every transaction and the audit trail with
//! it. A backup is a consistent copy made with SQLite's `VACUUM INTO` on a
//! read-only connection of its own: in WAL mode a reader never blocks the
//! till's writer, so redemptions go on while the copy is made. The copy is
//! written under a hidden temporary name, synced to disk, and checked (SQLite's
//! integrity check and the whole audit chain) before it takes its final name,
//! `kaunta-<till id>-<UTC yyyymmddThhmmssZ>.sqlite3`. Only then are this
//! till's older backups beyond `[backup] keep` deleted; nothing else in the
//! folder is touched.
//!
//! Restoring is done by hand with the app stopped (see README, "Backups"):
//! `verify_backup` checks a file first, reading it and nothing else.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use serde::Serialize;

use crate::FlowError;
use crate::ledger::anchor::AuditAnchor;
use crate::ledger::{AuditEntry, Outcome, known_schema_version};
use crate::shift::AuditHead;
use crate::till::Till;

/// The UTC time in a backup's name: sorts as text, readable by a person.
const STAMP: &str = "%Y%m%dT%H%M%SZ";
/// A temporary copy this old was left by a crash or a power cut, not by a
/// backup still running: the next backup deletes it.
const STALE_PART: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error(
        "The backup folder {dir} does not exist: plug in the backup drive, or set [backup] dir in config.toml \
         to a folder that exists. No backup was made"
    )]
    NoFolder { dir: String },
    #[error(
        "Kaunta cannot write to the backup folder {dir} ({detail}): check that the drive is not read-only and \
         that the folder may be written. No backup was made"
    )]
    NotWritable { dir: String, detail: String },
    #[error("The backup drive is full ({dir}): free some space or use a bigger drive. No backup was made")]
    DiskFull { dir: String },
    #[error("The backup could not be made: {0}. No backup was made")]
    Copy(String),
    #[error("The new copy did not pass its check, so it was deleted and no backup was made: {0}")]
    Rejected(String),
    #[error("Cannot read {path}: {detail}")]
    Unreadable { path: String, detail: String },
    #[error("{path} is not a Kaunta database")]
    NotKaunta { path: String },
    #[error("{path} was written by a newer Kaunta (schema {found}; this version knows {known}): use that version")]
    TooNew { path: String, found: i64, known: i64 },
    #[error("{path} is damaged: SQLite's integrity check says {detail}")]
    Damaged { path: String, detail: String },
    #[error("The audit log in {path} is broken at row {seq}: {reason}")]
    ChainBroken { path: String, seq: i64, reason: String },
}

impl BackupError {
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::NoFolder { .. } => "backup_dir_missing",
            BackupError::NotWritable { .. } => "backup_dir_unwritable",
            BackupError::DiskFull { .. } => "backup_disk_full",
            BackupError::Copy(_) => "backup_failed",
            BackupError::Rejected(_) => "backup_rejected",
            BackupError::Unreadable { .. } => "backup_unreadable",
            BackupError::NotKaunta { .. } => "backup_not_kaunta",
            BackupError::TooNew { .. } => "backup_too_new",
            BackupError::Damaged { .. } => "backup_damaged",
            BackupError::ChainBroken { .. } => "backup_chain_broken",
        }
    }
}

/// What a check of a backup file found: it is whole, its audit chain holds,
/// and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupCheck {
    pub path: String,
    pub bytes: u64,
    pub schema_version: i64,
    pub transactions: i64,
    pub audit_rows: u64,
    /// The copy's last audit row (row 0 and the genesis hash for an empty log).
    pub head: AuditHead,
}

/// A backup made, checked and in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupMade {
    #[serde(flatten)]
    pub check: BackupCheck,
    /// RFC 3339 UTC, the time in its name.
    pub made_at: String,
    /// How long the copy, its check and the pruning took.
    pub millis: u64,
    /// This till's older backups deleted to keep `[backup] keep`.
    pub pruned: Vec<String>,
    /// An older backup that could not be deleted (the new one is fine).
    pub prune_error: Option<String>,
}

/// A backup's outcome where it is not the point of the action (a Z close):
/// the close stands either way, and the screen says which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BackupOutcome {
    Made(BackupMade),
    Failed { code: String, message: String },
}

/// Copies the ledger at `source` into `dir`, checks the copy, and keeps this
/// till's newest `keep` backups there. Blocking: run it off the async workers.
pub fn make(source: &Path, dir: &Path, till_id: &str, keep: u32) -> Result<BackupMade, BackupError> {
    let conn = open_source(source)?;
    make_with(&conn, dir, till_id, keep, Utc::now())
}

/// A read-only connection of the backup's own: the till's connection (and
/// its mutex) is never held while the copy is made, and a read-only
/// connection cannot take the write lock redemptions need.
fn open_source(source: &Path) -> Result<Connection, BackupError> {
    let failed = |e: rusqlite::Error| BackupError::Copy(format!("the till's database could not be read: {e}"));
    let conn = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(failed)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(failed)?;
    Ok(conn)
}

fn make_with(
    conn: &Connection,
    dir: &Path,
    till_id: &str,
    keep: u32,
    now: DateTime<Utc>,
) -> Result<BackupMade, BackupError> {
    let started = Instant::now();
    let shown = dir.display().to_string();
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(BackupError::NotWritable { dir: shown, detail: "it is a file, not a folder".into() }),
        Err(e) => return Err(io_error(&shown, e)),
    }
    let path = free_name(dir, till_id, now);
    let part = part_of(&path);
    let copied = File::create_new(&part).map_err(|e| io_error(&shown, e)).and_then(|_| {
        copy_into(conn, &part, &path, &shown).inspect_err(|_| {
            for leftover in [part.clone(), journal_of(&part)] {
                let _ = std::fs::remove_file(leftover);
            }
        })
    });
    let check = copied?;
    let (pruned, prune_error) = prune(dir, till_id, keep, &path);
    Ok(BackupMade {
        check,
        made_at: crate::ledger::stored_time(now),
        millis: started.elapsed().as_millis() as u64,
        pruned,
        prune_error,
    })
}

/// The copy, synced and checked under its temporary name, then renamed into place.
fn copy_into(conn: &Connection, part: &Path, path: &Path, shown: &str) -> Result<BackupCheck, BackupError> {
    let target = part.to_str().ok_or_else(|| BackupError::NotWritable {
        dir: shown.to_string(),
        detail: "its name has characters SQLite cannot take".into(),
    })?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(|e| sqlite_error(shown, e))?;
    // Renamed before it reached the disk, a power cut could leave a backup
    // with a good name and no content.
    File::open(part).and_then(|f| f.sync_all()).map_err(|e| io_error(shown, e))?;
    let (check, _) = check_file(part, path).map_err(|e| BackupError::Rejected(e.to_string()))?;
    std::fs::rename(part, path).map_err(|e| io_error(shown, e))?;
    // The rename itself reaches the disk with the folder's entry. Some
    // filesystems (network shares, FAT) refuse to sync a folder; the file's
    // own content is already synced.
    if let Ok(folder) = File::open(path.parent().unwrap_or(Path::new("."))) {
        let _ = folder.sync_all();
    }
    Ok(check)
}

/// Checks a backup file a manager may restore from: SQLite's integrity
/// check, that it is a Kaunta database this version can open, and the whole
/// audit chain. Opened read-only and immutable, so the check writes nothing
/// beside it (no journal, no lock file) and reads exactly the bytes a
/// restore would copy.
pub fn verify_backup(path: &Path) -> Result<BackupCheck, BackupError> {
    check_file(path, path).map(|(check, _)| check)
}

/// Opens `file` read-only and immutable: nothing is written beside it.
fn open_immutable(file: &Path) -> Result<Connection, String> {
    let absolute = std::path::absolute(file).map_err(|e| e.to_string())?;
    let mut uri = url::Url::from_file_path(&absolute).map_err(|_| "not a usable file name".to_string())?;
    uri.set_query(Some("immutable=1"));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(uri.as_str(), flags).map_err(|e| e.to_string())
}

/// Where a backup stands against the audit head this till kept in the
/// keyring at its last Z close, the anchor `audit verify` checks the live
/// log against. A chain alone cannot show that a whole copy was rebuilt by
/// someone who can write files; the anchor, kept outside, can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BackupAnchor {
    /// No Z close has anchored this till's log yet.
    None,
    /// The copy holds the anchored row with the anchored hash.
    Holds { anchor: AuditAnchor },
    /// The copy ends before the anchored row: it was made before the last
    /// Z close, and restoring it loses the rows after its own head.
    Older { anchor: AuditAnchor },
    /// The anchor could not be read (no keyring, no such till here).
    Unchecked { reason: String },
}

/// A backup checked whole, and against the anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchoredBackupCheck {
    #[serde(flatten)]
    pub check: BackupCheck,
    pub anchor: BackupAnchor,
}

/// [`verify_backup`], then the copy against `anchor` (the till's, read from
/// the keyring by the caller). A copy whose anchored row has another hash
/// was rewritten and is refused like a broken chain.
pub fn verify_backup_anchored(
    path: &Path,
    anchor: Result<Option<AuditAnchor>, String>,
) -> Result<AnchoredBackupCheck, BackupError> {
    let (check, conn) = check_file(path, path)?;
    let anchor = match anchor {
        Err(reason) => BackupAnchor::Unchecked { reason },
        Ok(None) => BackupAnchor::None,
        Ok(Some(anchor)) if anchor.seq > check.head.seq => BackupAnchor::Older { anchor },
        Ok(Some(anchor)) => {
            let name = path.display().to_string();
            let found: Option<String> = conn
                .query_row("SELECT hash FROM audit_log WHERE seq = ?1", [anchor.seq], |r| r.get(0))
                .map_err(|e| BackupError::Unreadable { path: name.clone(), detail: e.to_string() })?;
            if found.as_deref() != Some(anchor.hash.as_str()) {
                return Err(BackupError::ChainBroken {
                    path: name,
                    seq: anchor.seq,
                    reason: format!(
                        "its hash differs from the one kept in the keyring when the shift closed at {} (printed on \
                         that Z report): this copy's log was rewritten",
                        anchor.at
                    ),
                });
            }
            BackupAnchor::Holds { anchor }
        }
    };
    Ok(AnchoredBackupCheck { check, anchor })
}

/// Checks `file`, naming it `shown` in what it reports; the connection it
/// read through is handed back for further reads of the same file.
fn check_file(file: &Path, shown: &Path) -> Result<(BackupCheck, Connection), BackupError> {
    let name = shown.display().to_string();
    let unreadable = |detail: String| BackupError::Unreadable { path: name.clone(), detail };
    let meta = std::fs::metadata(file).map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("it is not a file".into()));
    }
    let conn = open_immutable(file).map_err(unreadable)?;
    let not_kaunta = || BackupError::NotKaunta { path: name.clone() };
    // A file that is not SQLite at all fails at its first read, not at open.
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema
             WHERE type = 'table' AND name IN ('audit_log', 'transactions', 'schema_migrations')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => not_kaunta(),
            Some(ErrorCode::DatabaseCorrupt) => BackupError::Damaged { path: name.clone(), detail: e.to_string() },
            _ => unreadable(e.to_string()),
        })?;
    if tables != 3 {
        return Err(not_kaunta());
    }
    let damaged = |detail: String| BackupError::Damaged { path: name.clone(), detail };
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check(5)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| damaged(e.to_string()))?;
    if problems != ["ok"] {
        return Err(damaged(crate::text::excerpt(&problems.join("; "), 300)));
    }
    let read = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map_err(|e| damaged(e.to_string()));
    let schema_version = read("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")?;
    let known = known_schema_version();
    if schema_version > known {
        return Err(BackupError::TooNew { path: name, found: schema_version, known });
    }
    let transactions = read("SELECT COUNT(*) FROM transactions")?;
    let chain = crate::ledger::audit::verify(&conn, |_| {}).map_err(|e| damaged(e.to_string()))?;
    if let Some(bad) = chain.first_bad {
        return Err(BackupError::ChainBroken { path: name, seq: bad.seq, reason: bad.reason });
    }
    let check = BackupCheck {
        path: name,
        bytes: meta.len(),
        schema_version,
        transactions,
        audit_rows: chain.rows,
        // An intact chain numbers its rows 1, 2, 3 … without a gap.
        head: AuditHead { seq: chain.rows as i64, hash: chain.head },
    };
    Ok((check, conn))
}

fn backup_name(till_id: &str, stamp: &str, n: u32) -> String {
    if n == 1 { format!("kaunta-{till_id}-{stamp}.sqlite3") } else { format!("kaunta-{till_id}-{stamp}-{n}.sqlite3") }
}

/// The backup's name; a second backup within the same second gets `-2` and so on.
fn free_name(dir: &Path, till_id: &str, now: DateTime<Utc>) -> PathBuf {
    let stamp = now.format(STAMP).to_string();
    (1..)
        .map(|n| dir.join(backup_name(till_id, &stamp, n)))
        .find(|p| !p.exists() && !part_of(p).exists())
        .expect("some suffix is free")
}

/// Hidden while it is written, so a half-made copy is never taken for a backup.
fn part_of(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    path.with_file_name(format!(".{name}.part"))
}

fn journal_of(part: &Path) -> PathBuf {
    let mut name = part.as_os_str().to_owned();
    name.push("-journal");
    PathBuf::from(name)
}

/// When and in which order a file name is one of this till's backups; None
/// for every other file (another till's backups, anything a person put there).
fn ours(name: &str, till_id: &str) -> Option<(NaiveDateTime, u32)> {
    let rest = name.strip_prefix("kaunta-")?.strip_prefix(till_id)?.strip_prefix('-')?.strip_suffix(".sqlite3")?;
    let (stamp, n) = match rest.split_once('-') {
        // Written `-2`, `-3` …: never `-1` or `-02`.
        Some((stamp, n)) => (stamp, n.parse::<u32>().ok().filter(|v| *v >= 2 && v.to_string() == n)?),
        None => (rest, 1),
    };
    if stamp.len() != 16 {
        return None;
    }
    Some((NaiveDateTime::parse_from_str(stamp, STAMP).ok()?, n))
}

/// Deletes this till's backups beyond the newest `keep` (never the one just
/// made, whatever the clock says) and temporary copies a crash left behind.
fn prune(dir: &Path, till_id: &str, keep: u32, just_made: &Path) -> (Vec<String>, Option<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return (Vec::new(), Some(format!("the backup folder could not be listed: {e}"))),
    };
    let mut backups = Vec::new();
    let mut stale = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if let Some(order) = ours(&name, till_id) {
            if entry.path() != just_made {
                backups.push((order, entry.path()));
            }
        } else if let Some(copy) =
            name.strip_prefix('.').and_then(|n| n.strip_suffix(".part").or(n.strip_suffix(".part-journal")))
            && ours(copy, till_id).is_some()
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| SystemTime::now().duration_since(t).is_ok_and(|age| age > STALE_PART))
        {
            stale.push(entry.path());
        }
    }
    backups.sort_by_key(|(order, _)| std::cmp::Reverse(*order));
    let mut deleted = Vec::new();
    let mut error = None;
    let older = backups.into_iter().skip(keep.saturating_sub(1) as usize).map(|(_, path)| path);
    for path in older {
        match std::fs::remove_file(&path) {
            Ok(()) => deleted.push(path.display().to_string()),
            Err(e) => {
                error.get_or_insert_with(|| format!("{} could not be deleted: {e}", path.display()));
            }
        }
    }
    for path in stale {
        let _ = std::fs::remove_file(path);
    }
    (deleted, error)
}

fn io_error(dir: &str, e: std::io::Error) -> BackupError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => BackupError::NoFolder { dir: dir.to_string() },
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => BackupError::DiskFull { dir: dir.to_string() },
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            BackupError::NotWritable { dir: dir.to_string(), detail: "permission denied".into() }
        }
        _ => BackupError::NotWritable { dir: dir.to_string(), detail: e.to_string() },
    }
}

fn sqlite_error(dir: &str, e: rusqlite::Error) -> BackupError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => BackupError::DiskFull { dir: dir.to_string() },
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            BackupError::NotWritable { dir: dir.to_string(), detail: e.to_string() }
        }
        _ => BackupError::Copy(e.to_string()),
    }
}

impl Till {
    /// Where this till's backups go (`[backup] dir`).
    pub fn backup_dir(&self) -> PathBuf {
        self.config().backup.dir_in(self.data_dir())
    }

    /// Backs the ledger up into `[backup] dir`; see [`Till::back_up_to`].
    pub async fn back_up(&self, actor: &str, why: &str) -> Result<BackupMade, FlowError> {
        let dir = self.backup_dir();
        if self.config().backup.dir.is_none() {
            // The default folder is the till's own, made on first use. A
            // folder set in the config is a drive that must be there: made
            // here, it would put the backup on the till's own disk whenever
            // the stick is not plugged in. A failure here is the backup's own.
            let _ = std::fs::create_dir_all(&dir);
        }
        self.back_up_to(actor, why, dir).await
    }

    /// Makes a checked copy of the ledger in `dir` (see [`make`]), and
    /// records in the live audit log that it did, naming the file and the
    /// copy's head, or why it could not. `why` says what asked for it.
    pub async fn back_up_to(&self, actor: &str, why: &str, dir: PathBuf) -> Result<BackupMade, FlowError> {
        let actor = crate::redeem::require_cashier(actor)?.to_string();
        let source = self.ledger().path().to_path_buf();
        let (till_id, keep) = (self.config().till_id.clone(), self.config().backup.keep);
        let shown = dir.display().to_string();
        let made = Till::blocking(move || make(&source, &dir, &till_id, keep)).await;
        let entry = match &made {
            Ok(m) => AuditEntry {
                subject: Some(m.check.path.clone()),
                ..AuditEntry::new(
                    &actor,
                    "backup_made",
                    Outcome::Success,
                    format!(
                        "{why}: {} transaction(s), {} audit row(s), head row {} {}; {} older backup(s) deleted{}",
                        m.check.transactions,
                        m.check.audit_rows,
                        m.check.head.seq,
                        m.check.head.hash,
                        m.pruned.len(),
                        m.prune_error.as_deref().map_or(String::new(), |e| format!("; {e}"))
                    ),
                )
            },
            Err(e) => AuditEntry {
                subject: Some(shown),
                ..AuditEntry::new(&actor, "backup_failed", Outcome::Failure, format!("{why}: {e}"))
            },
        };
        self.audit(entry).await?;
        Ok(made?)
    }

    /// A backup whose failure must not undo what asked for it (a Z close).
    pub(crate) async fn back_up_reporting(&self, actor: &str, why: &str) -> BackupOutcome {
        match self.back_up(actor, why).await {
            Ok(made) => BackupOutcome::Made(made),
            Err(e) => BackupOutcome::Failed { code: e.code().to_string(), message: e.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::ledger::{Ledger, audit};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    /// A ledger with `audit_rows` chained audit rows and `transactions`
    /// completed redemptions, written through a connection of its own.
    fn populated(audit_rows: usize, transactions: usize) -> (tempfile::TempDir, Arc<Ledger>) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_data_dir(dir.path(), "TILL-1").unwrap();
        let mut conn = Connection::open(ledger.path()).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..transactions {
            tx.execute(
                "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                    voucher_code, code_masked, amount_minor, currency, state, owner, training)
                 VALUES (?1, '2026-11-25T10:00:00.000Z', '2026-11-25T10:00:00.000Z', 'TILL-1', 'Amina',
                    'pesavoucher', 'redeem', ?2, '•••-1234', ?3, 'KES', 'completed', 'x', 0)",
                rusqlite::params![format!("t{i:06}"), format!("TRN-{i:08}"), 5_000 + i as i64],
            )
            .unwrap();
        }
        for i in 0..audit_rows {
            let entry = AuditEntry {
                amount_minor: Some(i as i64),
                ..AuditEntry::new("Amina", "validate", Outcome::Info, format!("event {i}"))
            };
            audit::append(&tx, "TILL-1", &entry).unwrap();
        }
        tx.commit().unwrap();
        (dir, Arc::new(ledger))
    }

    fn backups_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    fn head_of(ledger: &Ledger) -> AuditHead {
        let v = ledger.verify_audit(|_| {}).unwrap();
        AuditHead { seq: v.rows as i64, hash: v.head }
    }

    #[test]
    fn a_backup_is_checked_against_the_head_kept_at_the_last_z_close() {
        let (dir, ledger) = populated(50, 10);
        let to = dir.path().join("backups");
        std::fs::create_dir(&to).unwrap();
        let made = make_with(&open_source(ledger.path()).unwrap(), &to, "TILL-1", 14, Utc::now()).unwrap();
        let path = PathBuf::from(&made.check.path);
        let kept = |seq: i64, hash: String| AuditAnchor {
            till_id: "TILL-1".into(),
            database: ledger.anchor_name(),
            seq,
            hash,
            at: "2026-11-25T17:00:00.000Z".into(),
        };
        let at_30 = kept(30, ledger.audit_hash_at(30).unwrap().unwrap());

        let holds = verify_backup_anchored(&path, Ok(Some(at_30.clone()))).unwrap();
        assert_eq!(holds.check, made.check);
        assert_eq!(holds.anchor, BackupAnchor::Holds { anchor: at_30.clone() });
        let none = verify_backup_anchored(&path, Ok(None)).unwrap().anchor;
        assert_eq!(none, BackupAnchor::None);
        let unread = verify_backup_anchored(&path, Err("no keyring".into())).unwrap().anchor;
        assert_eq!(unread, BackupAnchor::Unchecked { reason: "no keyring".into() });

        // A Z close after the copy anchored a row the copy does not have.
        let later = kept(51, "ab".repeat(32));
        let older = verify_backup_anchored(&path, Ok(Some(later.clone()))).unwrap().anchor;
        assert_eq!(older, BackupAnchor::Older { anchor: later });

        // A whole copy rebuilt with a consistent chain of its own passes the
        // chain check, but not the row the keyring vouches for.
        let rebuilt = kept(30, "cd".repeat(32));
        let e = verify_backup_anchored(&path, Ok(Some(rebuilt))).unwrap_err();
        assert_eq!(e.code(), "backup_chain_broken");
        assert!(e.to_string().contains("broken at row 30") && e.to_string().contains("rewritten"), "{e}");
    }

    #[test]
    fn a_backup_holds_what_the_ledger_holds_and_verifies() {
        let (dir, ledger) = populated(300, 120);
        let to = dir.path().join("backups");
        std::fs::create_dir(&to).unwrap();
        let made =
            make_with(&open_source(ledger.path()).unwrap(), &to, "TILL-1", 14, at("2026-11-25T18:04:05Z")).unwrap();
        let path = to.join("kaunta-TILL-1-20261125T180405Z.sqlite3");
        assert_eq!(made.check.path, path.display().to_string());
        assert_eq!((made.check.transactions, made.check.audit_rows), (120, 300));
        assert_eq!(made.check.head, head_of(&ledger));
        assert_eq!(made.check.schema_version, known_schema_version());
        assert_eq!(made.made_at, "2026-11-25T18:04:05.000Z");
        assert_eq!(backups_in(&to), ["kaunta-TILL-1-20261125T180405Z.sqlite3"], "no temporary file is left");

        assert_eq!(verify_backup(&path).unwrap(), made.check);
        // The copy stands alone: a restore copies one file, with no -wal beside it.
        let copy = Connection::open(&path).unwrap();
        let mode: String = copy.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "delete");
        drop(copy);
        // Restored as the ledger, it opens, and its chain is the one backed up.
        let restored = tempfile::tempdir().unwrap();
        std::fs::copy(&path, restored.path().join(crate::ledger::LEDGER_FILE)).unwrap();
        let reopened = Ledger::in_data_dir(restored.path(), "TILL-1").unwrap();
        assert_eq!(head_of(&reopened), made.check.head);
        assert_eq!(reopened.recent(1_000).unwrap().len(), 120);
    }

    /// Calls `during` from inside SQLite every `every` virtual-machine steps
    /// of `conn`'s statements while `run` runs: a hook inside `VACUUM INTO`.
    fn with_progress<T>(
        conn: &mut Connection,
        every: i32,
        mut during: impl FnMut() + Send + 'static,
        run: impl FnOnce(&Connection) -> T,
    ) -> T {
        conn.progress_handler(
            every,
            Some(move || {
                during();
                false
            }),
        )
        .unwrap();
        let out = run(conn);
        conn.progress_handler(0, None::<fn() -> bool>).unwrap();
        out
    }

    #[test]
    fn the_till_writes_while_a_backup_is_being_copied() {
        let (dir, ledger) = populated(20_000, 5_000);
        let to = dir.path().join("backups");
        std::fs::create_dir(&to).unwrap();
        let before = head_of(&ledger);
        let mut conn = open_source(ledger.path()).unwrap();

        // How many times SQLite calls back during a whole copy, so that the
        // write below lands in the middle of the next one.
        let calls = Arc::new(AtomicU64::new(0));
        let counted = calls.clone();
        let started = Instant::now();
        with_progress(
            &mut conn,
            100,
            move || {
                counted.fetch_add(1, Ordering::Relaxed);
            },
            |conn| make_with(conn, &to, "TILL-1", 14, Utc::now()),
        )
        .unwrap();
        eprintln!("backup of 20,000 audit rows and 5,000 transactions: {:?}", started.elapsed());
        let calls = calls.load(Ordering::Relaxed);
        assert!(calls > 100, "the copy is long enough to write in the middle of: {calls}");

        let written = Arc::new(Mutex::new(None));
        let (till, answer) = (ledger.clone(), written.clone());
        let mut seen = 0u64;
        let made = with_progress(
            &mut conn,
            100,
            move || {
                seen += 1;
                if seen == calls / 2 {
                    // The till's own connection, from another thread, as a redemption would.
                    let (done, result) = std::sync::mpsc::channel();
                    let till = till.clone();
                    std::thread::spawn(move || {
                        let entry = AuditEntry::new("Amina", "redeem_attempt", Outcome::Info, "during a backup");
                        let _ = done.send(till.record(&entry).map(|row| row.seq).map_err(|e| e.to_string()));
                    });
                    // A bound, not a pause: a blocked write fails the test instead of hanging it.
                    *answer.lock().unwrap() = Some(result.recv_timeout(Duration::from_secs(60)));
                }
            },
            |conn| make_with(conn, &to, "TILL-1", 14, Utc::now()),
        )
        .unwrap();
        let written = written.lock().unwrap().take().expect("the hook ran mid-copy");
        assert_eq!(written, Ok(Ok(before.seq + 1)), "the till wrote while the copy was in progress");
        // The copy is the snapshot it started from; the live log went on.
        assert_eq!(made.check.head, before);
        assert_eq!(made.check.transactions, 5_000);
        assert_eq!(ledger.audit_len().unwrap(), before.seq as u64 + 1);
    }

    fn touch(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), b"not ours to delete").unwrap();
    }

    #[test]
    fn pruning_keeps_the_newest_of_ours_and_nothing_else_is_touched() {
        let (dir, ledger) = populated(5, 1);
        let to = dir.path().join("backups");
        std::fs::create_dir(&to).unwrap();
        let others = [
            "kaunta-TILL-2-20200101T000000Z.sqlite3",
            "kaunta-TILL-1-X-20200101T000000Z.sqlite3",
            "kaunta-TILL-1-20200101T000000Z.sqlite3.bak",
            "kaunta-TILL-1-2020010T000000Z.sqlite3",
            "kaunta-TILL-1-20200101T000000Z-02.sqlite3",
            "kaunta.sqlite3",
            "notes.txt",
        ];
        for name in others {
            touch(&to, name);
        }
        let conn = open_source(ledger.path()).unwrap();
        let times = ["2026-11-20T18:00:00Z", "2026-11-21T18:00:00Z", "2026-11-21T18:00:00Z", "2026-11-22T18:00:00Z"];
        let mut pruned = Vec::new();
        for t in times {
            pruned.push(make_with(&conn, &to, "TILL-1", 2, at(t)).unwrap().pruned);
        }
        let ours = |name: &str| to.join(name).display().to_string();
        assert_eq!(pruned[0], Vec::<String>::new());
        assert_eq!(pruned[1], Vec::<String>::new());
        assert_eq!(pruned[2], [ours("kaunta-TILL-1-20261120T180000Z.sqlite3")]);
        assert_eq!(pruned[3], [ours("kaunta-TILL-1-20261121T180000Z.sqlite3")], "-2 is the later of one second");
        let mut expected: Vec<String> = others.iter().map(|s| s.to_string()).collect();
        expected.extend([
            "kaunta-TILL-1-20261121T180000Z-2.sqlite3".into(),
            "kaunta-TILL-1-20261122T180000Z.sqlite3".into(),
        ]);
        expected.sort();
        assert_eq!(backups_in(&to), expected);

        // A clock set back: the backup just made is kept all the same.
        let made = make_with(&conn, &to, "TILL-1", 1, at("2020-01-01T00:00:00Z")).unwrap();
        assert_eq!(made.pruned.len(), 2);
        assert!(Path::new(&made.check.path).exists());
    }

    #[test]
    fn a_stale_temporary_copy_is_cleared_and_a_fresh_one_left_alone() {
        let (dir, ledger) = populated(5, 1);
        let to = dir.path().join("backups");
        std::fs::create_dir(&to).unwrap();
        let stale = ".kaunta-TILL-1-20261120T180000Z.sqlite3.part";
        let running = ".kaunta-TILL-1-20261121T180000Z.sqlite3.part";
        touch(&to, stale);
        touch(&to, running);
        let old = SystemTime::now() - STALE_PART - Duration::from_secs(60);
        File::options().write(true).open(to.join(stale)).unwrap().set_modified(old).unwrap();
        make_with(&open_source(ledger.path()).unwrap(), &to, "TILL-1", 14, at("2026-11-22T18:00:00Z")).unwrap();
        assert_eq!(backups_in(&to), [running, "kaunta-TILL-1-20261122T180000Z.sqlite3"]);
    }

    #[test]
    fn a_missing_or_unusable_folder_is_named_plainly() {
        let (dir, ledger) = populated(5, 1);
        let conn = open_source(ledger.path()).unwrap();
        let missing = dir.path().join("usb");
        let e = make_with(&conn, &missing, "TILL-1", 14, Utc::now()).unwrap_err();
        assert_eq!(e.code(), "backup_dir_missing");
        assert!(e.to_string().starts_with(&format!("The backup folder {} does not exist", missing.display())), "{e}");
        let file = dir.path().join("a-file");
        touch(dir.path(), "a-file");
        let e = make_with(&conn, &file, "TILL-1", 14, Utc::now()).unwrap_err();
        assert_eq!(e.code(), "backup_dir_unwritable");
        assert!(e.to_string().contains("it is a file, not a folder"), "{e}");
    }

    /// A folder this process cannot write to: read-only by its mode, or, for
    /// root (whom modes do not stop), /sys, which refuses new files to anyone.
    fn unwritable(dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.join("read-only");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        if File::create_new(locked.join("probe")).is_err() {
            return locked;
        }
        assert!(File::create_new("/sys/kaunta-probe").is_err(), "no folder here refuses writes");
        PathBuf::from("/sys")
    }

    #[tokio::test]
    async fn an_unwritable_folder_is_refused_plainly_audited_and_left_as_it_was() {
        let (dir, till) = crate::till::test_till().await;
        let to = unwritable(dir.path());
        let before = backups_in(&to);
        let e = till.back_up_to("Mama Njeri", "asked for by a manager", to.clone()).await.unwrap_err();
        assert_eq!(e.code(), "backup_dir_unwritable");
        assert_eq!(
            e.to_string(),
            format!(
                "Kaunta cannot write to the backup folder {} (permission denied): check that the drive is not \
                 read-only and that the folder may be written. No backup was made",
                to.display()
            )
        );
        assert_eq!(backups_in(&to), before, "nothing was left behind");
        let conn = Connection::open(till.ledger().path()).unwrap();
        let (actor, outcome, subject, details): (String, String, String, String) = conn
            .query_row(
                "SELECT actor, outcome, subject, details FROM audit_log WHERE event = 'backup_failed'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!((actor.as_str(), outcome.as_str()), ("Mama Njeri", "failure"));
        assert_eq!(subject, to.display().to_string());
        assert_eq!(details, format!("asked for by a manager: {e}"));
    }

    #[test]
    fn a_ledger_whose_chain_is_broken_is_not_backed_up_and_no_copy_is_left() {
        let (dir, ledger) = populated(50, 3);
        let conn = Connection::open(ledger.path()).unwrap();
        conn.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = 'x' WHERE seq = 17")
            .unwrap();
        let to = dir.path().join("backups");
        std::fs::create_dir(&to).unwrap();
        let e = make_with(&open_source(ledger.path()).unwrap(), &to, "TILL-1", 14, Utc::now()).unwrap_err();
        assert_eq!(e.code(), "backup_rejected");
        assert!(e.to_string().contains("is broken at row 17: its content does not match its hash"), "{e}");
        assert_eq!(backups_in(&to), Vec::<String>::new());
    }

    #[test]
    fn an_edited_backup_fails_verification_naming_the_row() {
        let (dir, ledger) = populated(40, 2);
        let to = dir.path().join("backups");
        std::fs::create_dir(&to).unwrap();
        let made = make_with(&open_source(ledger.path()).unwrap(), &to, "TILL-1", 14, Utc::now()).unwrap();
        let path = PathBuf::from(&made.check.path);
        let before = std::fs::read(&path).unwrap();
        verify_backup(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before, "verifying writes nothing");
        assert_eq!(backups_in(&to).len(), 1, "nor anything beside it");

        let copy = Connection::open(&path).unwrap();
        copy.execute_batch("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET amount_minor = 1 WHERE seq = 23")
            .unwrap();
        drop(copy);
        let e = verify_backup(&path).unwrap_err();
        assert_eq!(e.code(), "backup_chain_broken");
        assert_eq!(
            e.to_string(),
            format!(
                "The audit log in {} is broken at row 23: its content does not match its hash (the row was changed)",
                path.display()
            )
        );
    }

    #[test]
    fn files_that_are_not_kaunta_backups_are_refused_plainly() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.sqlite3");
        std::fs::write(&text, "a shopping list, not a database ".repeat(200)).unwrap();
        assert_eq!(verify_backup(&text).unwrap_err().code(), "backup_not_kaunta");
        let other = dir.path().join("other.sqlite3");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        assert_eq!(verify_backup(&other).unwrap_err().code(), "backup_not_kaunta");
        let e = verify_backup(&dir.path().join("nope.sqlite3")).unwrap_err();
        assert_eq!(e.code(), "backup_unreadable");
        assert!(e.to_string().starts_with("Cannot read "), "{e}");
    }

    #[test]
    fn only_our_own_names_count_as_backups() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, STAMP).unwrap();
        assert_eq!(ours("kaunta-TILL-1-20261125T180405Z.sqlite3", "TILL-1"), Some((t("20261125T180405Z"), 1)));
        assert_eq!(ours("kaunta-TILL-1-20261125T180405Z-3.sqlite3", "TILL-1"), Some((t("20261125T180405Z"), 3)));
        for name in [
            "kaunta-TILL-1-20261125T180405Z-1.sqlite3",
            "kaunta-TILL-1-20261125T180405Z-03.sqlite3",
            "kaunta-TILL-1-20261325T180405Z.sqlite3",
            "kaunta-TILL-10-20261125T180405Z.sqlite3",
            "kaunta-till-1-20261125T180405Z.sqlite3",
            ".kaunta-TILL-1-20261125T180405Z.sqlite3.part",
        ] {
            assert_eq!(ours(name, "TILL-1"), None, "{name}");
        }
    }
}
