//! Numbered schema migrations, each applied once in an immediate transaction
//! and recorded with a checksum, so an edited old migration is caught instead
//! of silently diverging from tills that already ran it.

use rusqlite::{Connection, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::LedgerError;

pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "transactions and audit log", include_str!("sql/001_init.sql")),
    (2, "verification claims", include_str!("sql/002_claims.sql")),
    (3, "checkouts and provider settings", include_str!("sql/003_checkouts.sql")),
    (4, "history indexes and daily totals", include_str!("sql/004_history_indexes.sql")),
    (5, "staff and shifts", include_str!("sql/005_staff_and_shifts.sql")),
];

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

pub fn run(conn: &mut Connection) -> Result<(), LedgerError> {
    run_up_to(conn, i64::MAX)
}

/// Applies the migrations up to `last`: tests start from an older schema.
pub(crate) fn run_up_to(conn: &mut Connection, last: i64) -> Result<(), LedgerError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL
        ) STRICT;",
    )?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 <= last) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every schema a till may still have upgrades with its rows intact.
    #[test]
    fn each_previous_version_upgrades_with_its_rows() {
        for from in 1..MIGRATIONS.len() as i64 {
            let dir = tempfile::tempdir().unwrap();
            let mut conn = Connection::open(dir.path().join("old.sqlite3")).unwrap();
            run_up_to(&mut conn, from).unwrap();
            conn.execute(
                "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                    voucher_code, code_masked, amount_minor, currency, state, owner, training)
                 VALUES ('t1', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'TILL-1', 'amina',
                    'pesavoucher', 'redeem', 'NLV-1234', '•••-1234', 75000, 'KES', 'unknown', 'x', 1)",
                [],
            )
            .unwrap();
            run(&mut conn).unwrap();
            let (state, amount): (String, i64) = conn
                .query_row("SELECT state, amount_minor FROM transactions WHERE id = 't1'", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            assert_eq!((state.as_str(), amount), ("unknown", 75_000), "from version {from}");
            // The in-flight guard survived the rebuild.
            let again = conn.execute(
                "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                    voucher_code, state, owner, training)
                 VALUES ('t2', 'x', 'x', 'TILL-1', 'amina', 'pesavoucher', 'redeem', 'NLV-1234', 'pending', 'x', 1)",
                [],
            );
            assert!(again.is_err(), "from version {from}");
        }
    }
}
