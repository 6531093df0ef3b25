//! The ledger remembers: transactions from intent to outcome, and the audit
//! log, in one SQLite file. It knows nothing of HTTP.

pub mod anchor;
pub mod audit;
pub mod claims;
pub mod history;
pub mod lease;
mod migrate;
mod settings;
pub mod shifts;
pub mod staff;
pub mod transactions;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use audit::{AuditEntry, AuditRow, Outcome, Verification};
pub use transactions::{Intent, State, TransactionRow};

pub const LEDGER_FILE: &str = "kaunta.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("The till's database could not be opened at {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("The till's database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("Database upgrade {version} failed: {message}")]
    Migration { version: i64, message: String },
    #[error("Database upgrade {version} was changed after it was applied; restore the original program version")]
    MigrationChanged { version: i64 },
    #[error("This database was written by a newer Kaunta (schema {found}, this version knows {known}): update Kaunta")]
    TooNew { found: i64, known: i64 },
    #[error("This voucher already has a redemption in progress or awaiting a manager's check")]
    InFlight,
    #[error("Transaction {0} does not exist")]
    NoSuchTransaction(String),
    #[error("This voucher is being claimed at {till_id}: finish or cancel it there first")]
    ClaimedElsewhere { till_id: String },
    #[error("Transaction {id} is already {state} and cannot change to {to}")]
    AlreadyFinal { id: String, state: State, to: State },
    #[error("That change would leave the store without an active manager")]
    NoManagerLeft,
}

/// The newest schema this Kaunta knows: a database beyond it was written by a
/// newer version.
pub fn known_schema_version() -> i64 {
    migrate::MIGRATIONS.last().map_or(0, |m| m.0)
}

pub(crate) fn now_text() -> String {
    stored_time(chrono::Utc::now())
}

/// A time as the ledger stores it (UTC, milliseconds, `Z`), so text
/// comparison is time order.
pub(crate) fn stored_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One connection behind a mutex: a till writes a few rows a minute, and one
/// writer keeps the audit chain strictly ordered within the process. Across
/// processes (the window and a headless command) SQLite's write lock orders
/// them, because every write begins IMMEDIATE.
pub struct Ledger {
    conn: Mutex<Connection>,
    till_id: String,
    path: PathBuf,
}

impl Ledger {
    pub fn open(path: &Path, till_id: &str) -> Result<Ledger, LedgerError> {
        let open_err = |e: rusqlite::Error| LedgerError::Open { path: path.to_path_buf(), message: e.to_string() };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(open_err)?;
        // WAL with FULL sync: a committed intent survives a power cut.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        migrate::run(&mut conn)?;
        Ok(Ledger { conn: Mutex::new(conn), till_id: till_id.to_string(), path: path.to_path_buf() })
    }

    pub fn in_data_dir(data_dir: &Path, till_id: &str) -> Result<Ledger, LedgerError> {
        Self::open(&data_dir.join(LEDGER_FILE), till_id)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn till_id(&self) -> &str {
        &self.till_id
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (an open
        // transaction is rolled back when dropped), so the poison is moot.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in an immediate transaction, committing only when it succeeds.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn record(&self, entry: &AuditEntry) -> Result<AuditRow, LedgerError> {
        self.write(|tx| audit::append(tx, &self.till_id, entry))
    }

    pub fn verify_audit(&self, progress: impl FnMut(u64)) -> Result<Verification, LedgerError> {
        let conn = self.conn();
        audit::verify(&conn, progress)
    }

    pub fn audit_trail(&self, transaction_id: &str) -> Result<Vec<AuditRow>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{} WHERE transaction_id = ?1 ORDER BY seq", audit::SELECT_ROWS))?;
        let rows = stmt.query_map([transaction_id], audit::read_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_data_dir(dir.path(), "TILL-1").unwrap();
        (dir, ledger)
    }

    #[test]
    fn a_fresh_file_is_migrated_and_reopening_is_idempotent() {
        let (dir, ledger) = ledger();
        drop(ledger);
        let again = Ledger::in_data_dir(dir.path(), "TILL-1").unwrap();
        let n: i64 = again.conn().query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n, migrate::MIGRATIONS.len() as i64);
        let mode: String = again.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn an_edited_migration_is_refused() {
        let (dir, ledger) = ledger();
        ledger.conn().execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1", []).unwrap();
        drop(ledger);
        assert!(matches!(Ledger::in_data_dir(dir.path(), "TILL-1"), Err(LedgerError::MigrationChanged { version: 1 })));
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_error() {
        let (dir, ledger) = ledger();
        ledger
            .conn()
            .execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x', '2030-01-01T00:00:00Z')", [])
            .unwrap();
        drop(ledger);
        assert!(matches!(Ledger::in_data_dir(dir.path(), "TILL-1"), Err(LedgerError::TooNew { found: 999, .. })));
    }

    fn entry(i: i64) -> AuditEntry {
        AuditEntry {
            amount_minor: Some(i),
            ..AuditEntry::new("amina", "validate", Outcome::Info, format!("event {i}"))
        }
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (_dir, ledger) = ledger();
        for i in 0..20 {
            ledger.record(&entry(i)).unwrap();
        }
        let v = ledger.verify_audit(|_| {}).unwrap();
        assert_eq!(v.rows, 20);
        assert_eq!(v.first_bad, None);
    }

    #[test]
    fn the_audit_log_refuses_updates_and_deletes() {
        let (_dir, ledger) = ledger();
        ledger.record(&entry(1)).unwrap();
        assert!(ledger.conn().execute("UPDATE audit_log SET details = 'x'", []).is_err());
        assert!(ledger.conn().execute("DELETE FROM audit_log", []).is_err());
    }

    /// Someone with the file drops the triggers and edits: verification names the row.
    fn tamper(ledger: &Ledger, sql: &str) {
        let conn = ledger.conn();
        conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").unwrap();
        conn.execute_batch(sql).unwrap();
    }

    #[test]
    fn an_edited_row_is_named() {
        let (_dir, ledger) = ledger();
        for i in 0..10 {
            ledger.record(&entry(i)).unwrap();
        }
        tamper(&ledger, "UPDATE audit_log SET amount_minor = 1 WHERE seq = 7");
        let bad = ledger.verify_audit(|_| {}).unwrap().first_bad.unwrap();
        assert_eq!(bad.seq, 7);
        assert!(bad.reason.contains("changed"));
    }

    #[test]
    fn a_removed_row_is_named() {
        let (_dir, ledger) = ledger();
        for i in 0..10 {
            ledger.record(&entry(i)).unwrap();
        }
        tamper(&ledger, "DELETE FROM audit_log WHERE seq = 4");
        let bad = ledger.verify_audit(|_| {}).unwrap().first_bad.unwrap();
        assert_eq!(bad.seq, 5);
        assert!(bad.reason.contains("missing"));
    }

    #[test]
    fn a_rehashed_row_breaks_the_next_link() {
        let (_dir, ledger) = ledger();
        for i in 0..5 {
            ledger.record(&entry(i)).unwrap();
        }
        // Recompute row 3's own hash after editing it: the next row's link still points at the old one.
        let mut row =
            ledger.conn().query_row(&format!("{} WHERE seq = 3", audit::SELECT_ROWS), [], audit::read_row).unwrap();
        row.details = "forged".into();
        let forged = row.compute_hash();
        tamper(&ledger, &format!("UPDATE audit_log SET details = 'forged', hash = '{forged}' WHERE seq = 3"));
        let bad = ledger.verify_audit(|_| {}).unwrap().first_bad.unwrap();
        assert_eq!(bad.seq, 4);
    }
}
