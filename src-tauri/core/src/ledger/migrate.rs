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
    (6, "cashier and hourly totals, search index", include_str!("sql/006_history_search_and_totals.sql")),
    (7, "Z report figures kept at close", include_str!("sql/007_kept_z_figures.sql")),
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
            if from >= 5 {
                conn.execute(
                    "INSERT INTO shifts (id, till_id, opened_by, opened_at, closed_by, closed_at, audit_head_seq,
                        audit_head_hash)
                     VALUES ('s1', 'TILL-1', 'Amina', '2026-01-01T00:00:00.000Z', 'Njeri',
                        '2026-01-01T09:00:00.000Z', 7, 'abc')",
                    [],
                )
                .unwrap();
            }
            run(&mut conn).unwrap();
            // 007: a shift closed before it keeps its close, with no Z figures
            // (a reprint says so rather than recount).
            if from >= 5 {
                let (closed_by, head, kept): (String, i64, Option<String>) = conn
                    .query_row("SELECT closed_by, audit_head_seq, z_figures FROM shifts WHERE id = 's1'", [], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .unwrap();
                assert_eq!((closed_by.as_str(), head, kept), ("Njeri", 7, None), "from version {from}");
            }
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
            // 006's tables were filled from the rows the till already had.
            let (by_cashier, by_hour, found): (i64, i64, String) = conn
                .query_row(
                    "SELECT (SELECT total FROM transaction_cashier_day_totals WHERE cashier = 'AMINA'
                            AND day = '2026-01-01' AND state = 'unknown'),
                        (SELECT n FROM transaction_hour_totals WHERE hour = '2026-01-01T00'),
                        (SELECT d.id FROM transaction_search JOIN transaction_search_docs d
                            ON d.docid = transaction_search.rowid WHERE transaction_search MATCH '\"lv-\" AND \"v-1\" AND \"-12\"')",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!((by_cashier, by_hour, found.as_str()), (75_000, 1, "t1"), "from version {from}");
        }
    }

    /// The transactions the search index names for both their own id and
    /// their own code (every trigram of each).
    fn found_by_code_and_id(conn: &Connection) -> Vec<String> {
        let all_trigrams = |text: &str| {
            let chars: Vec<char> = text.chars().collect();
            chars.windows(3).map(|w| format!("\"{}\"", w.iter().collect::<String>())).collect::<Vec<_>>().join(" AND ")
        };
        let mut stmt = conn.prepare("SELECT id, voucher_code FROM transactions").unwrap();
        let rows: Vec<(String, Option<String>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        let mut lookup = conn
            .prepare(
                "SELECT d.id FROM transaction_search JOIN transaction_search_docs d
                 ON d.docid = transaction_search.rowid WHERE transaction_search MATCH ?1",
            )
            .unwrap();
        let mut found = |query: String| -> Vec<String> {
            lookup.query_map([query], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        let mut out: Vec<String> = rows
            .into_iter()
            .filter(|(id, code)| {
                found(all_trigrams(id)).contains(id)
                    && code.as_deref().is_none_or(|c| found(all_trigrams(c)).contains(id))
            })
            .map(|(id, _)| id)
            .collect();
        out.sort();
        out
    }

    /// What each maintained table holds, next to a recount of the
    /// transactions, as rows of text (rows counting nothing left out).
    fn maintained_vs_recount(conn: &Connection) -> Vec<(Vec<String>, Vec<String>)> {
        let rows = |sql: &str| -> Vec<String> {
            let mut stmt = conn.prepare(sql).unwrap();
            let mut out: Vec<String> =
                stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
            out.sort();
            out
        };
        let group = "training || '|' || currency || '|' || provider || '|' || operation || '|' || state || '|' || n \
            || '|' || total";
        let recount = "training || '|' || COALESCE(currency, '') || '|' || provider || '|' || operation || '|' \
            || state || '|' || COUNT(*) || '|' || COALESCE(SUM(amount_minor), 0)";
        let keys = "training, COALESCE(currency, ''), provider, operation, state";
        vec![
            (
                rows(&format!("SELECT day || '|' || {group} FROM transaction_day_totals WHERE n != 0")),
                rows(&format!(
                    "SELECT substr(created_at, 1, 10) || '|' || {recount} FROM transactions
                     GROUP BY substr(created_at, 1, 10), {keys}"
                )),
            ),
            (
                rows(&format!(
                    "SELECT lower(cashier) || '|' || day || '|' || {group} FROM transaction_cashier_day_totals WHERE n != 0"
                )),
                rows(&format!(
                    "SELECT lower(cashier) || '|' || substr(created_at, 1, 10) || '|' || {recount} FROM transactions
                     GROUP BY lower(cashier), substr(created_at, 1, 10), {keys}"
                )),
            ),
            (
                rows(&format!("SELECT hour || '|' || {group} FROM transaction_hour_totals WHERE n != 0")),
                rows(&format!(
                    "SELECT substr(created_at, 1, 13) || '|' || {recount} FROM transactions
                     GROUP BY substr(created_at, 1, 13), {keys}"
                )),
            ),
            // Each transaction is found in the search index by its own code and id.
            (found_by_code_and_id(conn), rows("SELECT id FROM transactions")),
            (rows("SELECT id FROM transaction_search_docs"), rows("SELECT id FROM transactions")),
        ]
    }

    /// The tables 006 adds are filled from an older till's rows, and every
    /// kind of later change (new rows, outcomes, references, corrections of
    /// time or cashier, removals) keeps them equal to a recount.
    #[test]
    fn the_maintained_tables_equal_a_recount_after_the_upgrade_and_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("old.sqlite3")).unwrap();
        run_up_to(&mut conn, 5).unwrap();
        let insert = |conn: &Connection, i: i64| {
            conn.execute(
                "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                    voucher_code, code_masked, amount_minor, currency, state, owner, training)
                 VALUES (?1, ?2, ?2, 'TILL-1', ?3, ?4, 'redeem', ?5, ?6, ?7, ?8, ?9, 'x', ?10)",
                rusqlite::params![
                    format!("tx-{i:04}"),
                    format!("2026-01-{:02}T{:02}:{:02}:00.000Z", 1 + i % 3, (i * 7) % 24, i % 60),
                    ["Amina", "AMINA", "baraka"][i as usize % 3],
                    ["pesavoucher", "telesend", "giftpesa"][i as usize % 3],
                    (i % 5 != 0).then(|| format!("NLV-{i:06}X")),
                    (i % 5 != 0).then(|| format!("•••-{:04}", i % 10_000)),
                    (i % 4 != 0).then_some(1_000 + i),
                    (i % 6 != 0).then_some("KES"),
                    ["completed", "failed", "unknown", "pending"][i as usize % 4],
                    i % 9 == 0
                ],
            )
            .unwrap();
        };
        for i in 0..200 {
            insert(&conn, i);
        }
        run(&mut conn).unwrap();
        for (i, (kept, recount)) in maintained_vs_recount(&conn).into_iter().enumerate() {
            assert_eq!(kept, recount, "table {i} after the upgrade");
            assert!(!kept.is_empty());
        }
        for i in 200..260 {
            insert(&conn, i);
        }
        conn.execute_batch(
            "UPDATE transactions SET state = 'completed', amount_minor = COALESCE(amount_minor, 5),
                provider_reference = 'REF-' || id WHERE state = 'pending';
             UPDATE transactions SET currency = 'ETB' WHERE id LIKE 'tx-00_7';
             UPDATE transactions SET created_at = '2026-01-04T23:59:59.999Z', cashier = 'Chebet' WHERE id LIKE 'tx-01_3';
             UPDATE transactions SET voucher_code = 'NLV-CHANGED' || id, training = 1 WHERE id LIKE 'tx-02_1';
             DELETE FROM transactions WHERE id LIKE 'tx-00_9';",
        )
        .unwrap();
        for (i, (kept, recount)) in maintained_vs_recount(&conn).into_iter().enumerate() {
            assert_eq!(kept, recount, "table {i} after the changes");
        }
    }
}
