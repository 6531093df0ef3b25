//! Numbered schema migrations, each applied once in an immediate transaction
//! and recorded with a checksum, so an edited old migration is caught instead
//! of silently diverging from tills that already ran it.

use rusqlite::{Connection, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::LedgerError;

pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "transactions and audit log", include_str!("sql/001_init.sql")),
    (2, "verification claims", include_str!("sql/002_claims.sql")),
];

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

pub fn run(conn: &mut Connection) -> Result<(), LedgerError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL
        ) STRICT;",
    )?;
    for (version, name, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded: Option<String> = tx
            .query_row("SELECT checksum FROM schema_migrations WHERE version = ?1", [version], |r| r.get(0))
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
        match recorded {
            Some(sum) if sum == checksum(sql) => continue,
            Some(_) => return Err(LedgerError::MigrationChanged { version: *version }),
            None => {
                tx.execute_batch(sql)
                    .map_err(|e| LedgerError::Migration { version: *version, message: e.to_string() })?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                    params![version, name, checksum(sql), super::now_text()],
                )?;
                tx.commit()?;
            }
        }
    }
    let newest: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if newest > known {
        return Err(LedgerError::TooNew { found: newest, known });
    }
    Ok(())
}
