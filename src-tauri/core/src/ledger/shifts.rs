//! Shifts at a till, from open to close, and the figures of a shift's
//! transactions for its X and Z reports.
//!
//! A shift's figures are this till's transactions created from the shift's
//! opening up to its close (or up to now, while it runs), grouped by
//! cashier, training flag, currency, provider, operation and state: every
//! total of the reports is a sum of these groups, never across currencies,
//! operations or the training flag.
//!
//! Closing writes the `shift_closed` audit row, reads the figures, and keeps
//! that row's seq and hash (the audit log's head) on the shift, all in one
//! immediate transaction: the Z report names exactly the head it closed on.
//! The same transaction keeps the Z report's groups on the shift
//! (`z_figures`, see `KeptZ`): a reprint must show what the close printed,
//! and a recount would not once an unknown outcome is settled.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audit::{self, AuditEntry, AuditRow};
use super::history::{HistoryTotals, TotalsGroup, parse_state};
use super::{Ledger, LedgerError, State, now_text};

/// One shift as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftRow {
    pub id: String,
    pub till_id: String,
    pub opened_by: String,
    pub opened_at: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
    /// The audit log's head when the shift closed: its last row's seq and hash.
    pub audit_head_seq: Option<i64>,
    pub audit_head_hash: Option<String>,
}

impl ShiftRow {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

const SHIFT_COLUMNS: &str = "id, till_id, opened_by, opened_at, closed_by, closed_at, audit_head_seq, audit_head_hash";

fn read_shift(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShiftRow> {
    Ok(ShiftRow {
        id: r.get(0)?,
        till_id: r.get(1)?,
        opened_by: r.get(2)?,
        opened_at: r.get(3)?,
        closed_by: r.get(4)?,
        closed_at: r.get(5)?,
        audit_head_seq: r.get(6)?,
        audit_head_hash: r.get(7)?,
    })
}

/// One cashier's groups of a shift.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CashierTotals {
    pub cashier: String,
    pub totals: HistoryTotals,
}

/// Everything a shift report counts: the till's totals and each cashier's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShiftFigures {
    pub totals: HistoryTotals,
    /// By cashier, in name order (any case).
    pub by_cashier: Vec<CashierTotals>,
}

/// What a Z report printed, kept on its shift at close: a reprint shows
/// these figures whatever is settled, corrected or added after the close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptZ {
    pub store_name: String,
    /// The till was in training: its training rows were counted, apart.
    pub training: bool,
    pub figures: ShiftFigures,
}

/// `shifts.z_figures` as stored: each cashier's groups, from which the rest
/// is added up on reading, as at close. Types of its own rather than the
/// report's, so changing those cannot change how an old close reads.
#[derive(Serialize, Deserialize)]
struct StoredZ {
    store_name: String,
    training: bool,
    by_cashier: Vec<StoredCashier>,
}

#[derive(Serialize, Deserialize)]
struct StoredCashier {
    cashier: String,
    groups: Vec<StoredGroup>,
}

#[derive(Serialize, Deserialize)]
struct StoredGroup {
    training: bool,
    currency: Option<String>,
    provider: String,
    operation: String,
    state: String,
    count: i64,
    amount_minor: i64,
}

impl KeptZ {
    /// The JSON `shifts.z_figures` holds.
    fn to_stored(&self) -> Result<String, LedgerError> {
        let stored = StoredZ {
            store_name: self.store_name.clone(),
            training: self.training,
            by_cashier: self
                .figures
                .by_cashier
                .iter()
                .map(|c| StoredCashier {
                    cashier: c.cashier.clone(),
                    groups: c
                        .totals
                        .groups
                        .iter()
                        .map(|g| StoredGroup {
                            training: g.training,
                            currency: g.currency.clone(),
                            provider: g.provider.clone(),
                            operation: g.operation.clone(),
                            state: g.state.as_str().to_string(),
                            count: g.count,
                            amount_minor: g.amount_minor,
                        })
                        .collect(),
                })
                .collect(),
        };
        serde_json::to_string(&stored)
            .map_err(|e| LedgerError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
    }

    fn from_stored(json: &str) -> Result<KeptZ, LedgerError> {
        let unreadable = |e: Box<dyn std::error::Error + Send + Sync>| {
            LedgerError::Sqlite(rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, e))
        };
        let stored: StoredZ = serde_json::from_str(json).map_err(|e| unreadable(Box::new(e)))?;
        let by_cashier = stored
            .by_cashier
            .into_iter()
            .map(|c| {
                let groups = c
                    .groups
                    .into_iter()
                    .map(|g| {
                        Ok(TotalsGroup {
                            training: g.training,
                            currency: g.currency,
                            provider: g.provider,
                            operation: g.operation,
                            state: parse_state(&g.state).map_err(|e| unreadable(Box::new(e)))?,
                            count: g.count,
                            amount_minor: g.amount_minor,
                        })
                    })
                    .collect::<Result<Vec<_>, LedgerError>>()?;
                Ok((c.cashier, groups))
            })
            .collect::<Result<CashierGroups, LedgerError>>()?;
        Ok(KeptZ {
            store_name: stored.store_name,
            training: stored.training,
            figures: from_cashier_groups(by_cashier)?,
        })
    }
}

/// The words that end a `shift_closed` audit row: the SHA-256 of the kept
/// figures' JSON. The audit row is in the hash chain, so figures changed in
/// the file after the close no longer match it.
fn kept_digest_note(json: &str) -> String {
    format!("; figures kept for reprints, sha256 {}", hex::encode(Sha256::digest(json.as_bytes())))
}

/// What a closed shift kept of its Z report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// Open, or closed before Z reports were kept (schema 007).
    Nothing,
    Figures(KeptZ),
    /// The kept figures no longer match the digest in the close's audit row.
    Altered,
}

/// What opening a shift found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    New(ShiftRow),
    /// This till already has an open shift: that one.
    AlreadyOpen(ShiftRow),
}

/// The shift that closed, its figures, and its `shift_closed` audit row
/// (the audit log's head at close).
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub shift: ShiftRow,
    pub figures: ShiftFigures,
    pub head: AuditRow,
}

fn open_shift_of(conn: &Connection, till_id: &str) -> Result<Option<ShiftRow>, LedgerError> {
    Ok(conn
        .query_row(
            &format!("SELECT {SHIFT_COLUMNS} FROM shifts WHERE till_id = ?1 AND closed_at IS NULL"),
            [till_id],
            read_shift,
        )
        .optional()?)
}

/// The figures of `till_id`'s transactions created in `[from, to)` (no end:
/// up to now). Training transactions count only when `include_training`,
/// and then in groups of their own.
pub(crate) fn figures(
    conn: &Connection,
    till_id: &str,
    from: &str,
    to: Option<&str>,
    include_training: bool,
) -> Result<ShiftFigures, LedgerError> {
    let training = if include_training { "" } else { " AND training = 0" };
    let sql = format!(
        "SELECT MIN(cashier), training, COALESCE(currency, ''), provider, operation, state,
                COUNT(*), COALESCE(SUM(amount_minor), 0)
         FROM transactions
         WHERE created_at >= ?1 AND created_at < ?2 AND till_id = ?3{training}
         GROUP BY cashier COLLATE NOCASE, training, currency, provider, operation, state
         ORDER BY cashier COLLATE NOCASE, training, currency, provider, operation, state"
    );
    // RFC 3339 times compare as text; "9" sorts after any year's first digit.
    let to = to.unwrap_or("9");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![from, to, till_id])?;
    let mut by_cashier: CashierGroups = Vec::new();
    while let Some(r) = rows.next()? {
        let cashier: String = r.get(0)?;
        let currency: String = r.get(2)?;
        let state: String = r.get(5)?;
        let group = TotalsGroup {
            training: r.get(1)?,
            currency: (!currency.is_empty()).then_some(currency),
            provider: r.get(3)?,
            operation: r.get(4)?,
            state: parse_state(&state).unwrap_or(State::Pending),
            count: r.get(6)?,
            amount_minor: r.get(7)?,
        };
        match by_cashier.last_mut() {
            Some((name, groups)) if name.eq_ignore_ascii_case(&cashier) || *name == cashier => groups.push(group),
            _ => by_cashier.push((cashier, vec![group])),
        }
    }
    from_cashier_groups(by_cashier)
}

/// Each cashier's name and groups, in the order the report lists them.
type CashierGroups = Vec<(String, Vec<TotalsGroup>)>;

/// The figures of each cashier's groups: theirs, and the till's (their sum).
/// Counting at close and reading what the close kept both end here, so a
/// reprint adds up exactly as the original did.
fn from_cashier_groups(by_cashier: CashierGroups) -> Result<ShiftFigures, LedgerError> {
    // The till's groups: each cashier's, added up by everything but the cashier.
    let mut all: Vec<TotalsGroup> = Vec::new();
    for group in by_cashier.iter().flat_map(|(_, g)| g) {
        let same = |g: &&mut TotalsGroup| {
            g.training == group.training
                && g.currency == group.currency
                && g.provider == group.provider
                && g.operation == group.operation
                && g.state == group.state
        };
        match all.iter_mut().find(|g| same(g)) {
            Some(g) => {
                let overflow = || LedgerError::Sqlite(rusqlite::Error::IntegralValueOutOfRange(6, g.amount_minor));
                g.count = g.count.checked_add(group.count).ok_or_else(overflow)?;
                g.amount_minor = g.amount_minor.checked_add(group.amount_minor).ok_or_else(overflow)?;
            }
            None => all.push(group.clone()),
        }
    }
    all.sort_by(|a, b| {
        (a.training, &a.currency, &a.provider, &a.operation, a.state.as_str()).cmp(&(
            b.training,
            &b.currency,
            &b.provider,
            &b.operation,
            b.state.as_str(),
        ))
    });
    let by_cashier = by_cashier
        .into_iter()
        .map(|(cashier, groups)| Ok(CashierTotals { cashier, totals: HistoryTotals::from_groups(groups)? }))
        .collect::<Result<Vec<_>, LedgerError>>()?;
    Ok(ShiftFigures { totals: HistoryTotals::from_groups(all)?, by_cashier })
}

impl Ledger {
    /// Opens a shift at this till, with its audit row, unless one is open.
    pub fn open_shift(&self, id: &str, opened_by: &str, entry: &AuditEntry) -> Result<Opened, LedgerError> {
        self.write(|tx| {
            if let Some(open) = open_shift_of(tx, &self.till_id)? {
                return Ok(Opened::AlreadyOpen(open));
            }
            let row = ShiftRow {
                id: id.to_string(),
                till_id: self.till_id.clone(),
                opened_by: opened_by.to_string(),
                opened_at: now_text(),
                closed_by: None,
                closed_at: None,
                audit_head_seq: None,
                audit_head_hash: None,
            };
            tx.execute(
                "INSERT INTO shifts (id, till_id, opened_by, opened_at) VALUES (?1, ?2, ?3, ?4)",
                params![row.id, row.till_id, row.opened_by, row.opened_at],
            )?;
            audit::append(tx, &self.till_id, &AuditEntry { subject: Some(row.id.clone()), ..entry.clone() })?;
            Ok(Opened::New(row))
        })
    }

    /// This till's open shift, if any.
    pub fn current_shift(&self) -> Result<Option<ShiftRow>, LedgerError> {
        open_shift_of(&self.conn(), &self.till_id)
    }

    pub fn shift(&self, id: &str) -> Result<Option<ShiftRow>, LedgerError> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {SHIFT_COLUMNS} FROM shifts WHERE id = ?1"), [id], read_shift)
            .optional()?)
    }

    /// This till's shifts, newest first.
    pub fn recent_shifts(&self, limit: u32) -> Result<Vec<ShiftRow>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SHIFT_COLUMNS} FROM shifts WHERE till_id = ?1 ORDER BY opened_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![self.till_id, limit.clamp(1, 1000)], read_shift)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// A shift and what its close kept of the Z report, checked against the
    /// digest in the close's audit row. `None`: no such shift.
    pub fn shift_with_kept_z(&self, id: &str) -> Result<Option<(ShiftRow, Kept)>, LedgerError> {
        let conn = self.conn();
        let found = conn
            .query_row(
                &format!(
                    "SELECT {SHIFT_COLUMNS}, z_figures, (SELECT details FROM audit_log WHERE seq = audit_head_seq)
                     FROM shifts WHERE id = ?1"
                ),
                [id],
                |r| Ok((read_shift(r)?, r.get::<_, Option<String>>(8)?, r.get::<_, Option<String>>(9)?)),
            )
            .optional()?;
        let Some((shift, json, closed_note)) = found else { return Ok(None) };
        let kept = match (json, closed_note) {
            (None, _) => Kept::Nothing,
            (Some(json), Some(note)) if note.ends_with(&kept_digest_note(&json)) => {
                Kept::Figures(KeptZ::from_stored(&json)?)
            }
            (Some(_), _) => Kept::Altered,
        };
        Ok(Some((shift, kept)))
    }

    /// The figures of a shift: up to its close, or up to now while it runs.
    pub fn shift_figures(&self, shift: &ShiftRow, include_training: bool) -> Result<ShiftFigures, LedgerError> {
        figures(&self.conn(), &shift.till_id, &shift.opened_at, shift.closed_at.as_deref(), include_training)
    }

    /// Closes this till's open shift: its figures up to now, the
    /// `shift_closed` audit row (`details` gets the figures' summary
    /// appended by `describe`), and that row's seq and hash kept on the
    /// shift with the figures (and `store_name`) the Z report prints, in one
    /// transaction. `None` when no shift is open.
    pub fn close_shift(
        &self,
        closed_by: &str,
        store_name: &str,
        include_training: bool,
        entry: &AuditEntry,
        describe: impl FnOnce(&ShiftRow, &ShiftFigures) -> String,
    ) -> Result<Option<Closed>, LedgerError> {
        self.write(|tx| {
            let Some(mut shift) = open_shift_of(tx, &self.till_id)? else {
                return Ok(None);
            };
            let closed_at = now_text();
            let figures = figures(tx, &self.till_id, &shift.opened_at, Some(&closed_at), include_training)?;
            let kept = KeptZ { store_name: store_name.to_string(), training: include_training, figures };
            let stored = kept.to_stored()?;
            let details = describe(&shift, &kept.figures) + &kept_digest_note(&stored);
            let entry = AuditEntry { subject: Some(shift.id.clone()), details, ..entry.clone() };
            let head = audit::append(tx, &self.till_id, &entry)?;
            tx.execute(
                "UPDATE shifts SET closed_by = ?2, closed_at = ?3, audit_head_seq = ?4, audit_head_hash = ?5,
                    z_figures = ?6
                 WHERE id = ?1",
                params![shift.id, closed_by, closed_at, head.seq, head.hash, stored],
            )?;
            let figures = kept.figures;
            shift.closed_by = Some(closed_by.to_string());
            shift.closed_at = Some(closed_at);
            shift.audit_head_seq = Some(head.seq);
            shift.audit_head_hash = Some(head.hash.clone());
            Ok(Some(Closed { shift, figures, head }))
        })
    }

    /// The hash of audit row `seq`, if the log has it.
    pub fn audit_hash_at(&self, seq: i64) -> Result<Option<String>, LedgerError> {
        Ok(self.conn().query_row("SELECT hash FROM audit_log WHERE seq = ?1", [seq], |r| r.get(0)).optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Outcome;

    /// A transaction written straight into the table: (till, cashier,
    /// provider, operation, state, amount, currency, training, created_at).
    type Tx<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, Option<i64>, Option<&'a str>, bool, &'a str);

    fn insert(ledger: &Ledger, rows: &[Tx<'_>]) {
        let conn = ledger.conn();
        for (i, (till, cashier, provider, operation, state, amount, currency, training, at)) in rows.iter().enumerate()
        {
            conn.execute(
                "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                    amount_minor, currency, state, owner, training)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'x', ?10)",
                params![format!("t{i:03}"), at, till, cashier, provider, operation, amount, currency, state, training],
            )
            .unwrap();
        }
    }

    const IN: &str = "2026-11-25T09:00:00.000Z";

    /// Three cashiers (one typed in two cases), four providers, every state,
    /// KES and ETB, a training row, and rows before the window, after it and
    /// from another till.
    fn sample(ledger: &Ledger) {
        insert(
            ledger,
            &[
                ("TILL-1", "Amina", "pesavoucher", "redeem", "completed", Some(75_000), Some("KES"), false, IN),
                ("TILL-1", "Amina", "pesavoucher", "redeem", "completed", Some(25_050), Some("KES"), false, IN),
                ("TILL-1", "amina", "pesavoucher", "redeem", "failed", Some(10_000), Some("KES"), false, IN),
                ("TILL-1", "Amina", "telesend", "redeem", "completed", Some(50_000), Some("ETB"), false, IN),
                ("TILL-1", "Baraka", "pesavoucher", "redeem", "unknown", Some(30_000), Some("KES"), false, IN),
                ("TILL-1", "Baraka", "giftpesa", "redeem", "completed", Some(100_000), Some("KES"), false, IN),
                ("TILL-1", "Baraka", "pesapal", "checkout", "completed", Some(12_345), Some("KES"), false, IN),
                ("TILL-1", "Baraka", "pesapal", "checkout", "pending", Some(5_000), Some("KES"), false, IN),
                ("TILL-1", "Chebet", "telesend", "redeem", "completed", Some(20_000), Some("ETB"), false, IN),
                ("TILL-1", "Chebet", "telesend", "redeem", "failed", None, None, false, IN),
                // Training, outside the window, another till: never in real figures.
                ("TILL-1", "Chebet", "pesavoucher", "redeem", "completed", Some(99_900), Some("KES"), true, IN),
                (
                    "TILL-1",
                    "Amina",
                    "pesavoucher",
                    "redeem",
                    "completed",
                    Some(1),
                    Some("KES"),
                    false,
                    "2026-11-25T07:59:59.999Z",
                ),
                (
                    "TILL-1",
                    "Amina",
                    "pesavoucher",
                    "redeem",
                    "completed",
                    Some(2),
                    Some("KES"),
                    false,
                    "2026-11-25T17:00:00.000Z",
                ),
                ("TILL-2", "Amina", "pesavoucher", "redeem", "completed", Some(4), Some("KES"), false, IN),
            ],
        );
    }

    fn currency<'a>(f: &'a HistoryTotals, currency: &str, operation: &str) -> &'a super::super::history::CurrencyTotal {
        f.by_currency
            .iter()
            .find(|c| !c.training && c.currency.as_deref() == Some(currency) && c.operation == operation)
            .unwrap_or_else(|| panic!("no {currency} {operation} in {f:?}"))
    }

    #[test]
    fn a_shift_counts_its_own_tills_real_business_in_its_window_by_currency_provider_state_and_cashier() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        sample(&ledger);
        let f = figures(&ledger.conn(), "TILL-1", "2026-11-25T08:00:00.000Z", Some("2026-11-25T17:00:00.000Z"), false)
            .unwrap();
        assert_eq!(f.totals.count, 10);
        let kes = currency(&f.totals, "KES", "redeem");
        assert_eq!((kes.count, kes.completed_count, kes.completed_minor), (5, 3, 200_050));
        assert_eq!((kes.open_count, kes.open_minor, kes.failed_count), (1, 30_000, 1));
        let etb = currency(&f.totals, "ETB", "redeem");
        assert_eq!((etb.count, etb.completed_count, etb.completed_minor, etb.open_count), (2, 2, 70_000, 0));
        let checkout = currency(&f.totals, "KES", "checkout");
        assert_eq!((checkout.completed_minor, checkout.open_count, checkout.open_minor), (12_345, 1, 5_000));
        // A failed row without an amount counts, adds nothing, in no currency.
        let none = f.totals.by_currency.iter().find(|c| c.currency.is_none()).unwrap();
        assert_eq!((none.count, none.failed_count, none.completed_minor), (1, 1, 0));
        assert!(f.totals.by_currency.iter().all(|c| !c.training));

        let group = |p: &str, s: State| f.totals.groups.iter().find(|g| g.provider == p && g.state == s).unwrap();
        assert_eq!(
            (group("pesavoucher", State::Completed).count, group("pesavoucher", State::Completed).amount_minor),
            (2, 100_050)
        );
        assert_eq!(group("pesavoucher", State::Failed).amount_minor, 10_000);
        assert_eq!(group("giftpesa", State::Completed).amount_minor, 100_000);

        let names: Vec<_> = f.by_cashier.iter().map(|c| c.cashier.as_str()).collect();
        assert_eq!(names, ["Amina", "Baraka", "Chebet"], "one Amina whatever the case");
        let amina = &f.by_cashier[0].totals;
        assert_eq!(amina.count, 4);
        assert_eq!(currency(amina, "KES", "redeem").completed_minor, 100_050);
        assert_eq!(currency(amina, "KES", "redeem").failed_count, 1);
        assert_eq!(currency(amina, "ETB", "redeem").completed_minor, 50_000);
        let baraka = &f.by_cashier[1].totals;
        assert_eq!(
            (currency(baraka, "KES", "redeem").completed_minor, currency(baraka, "KES", "redeem").open_minor),
            (100_000, 30_000)
        );
        // Every cashier's figures add up to the till's.
        let sum: i64 = f.by_cashier.iter().map(|c| c.totals.count).sum();
        assert_eq!(sum, f.totals.count);
        for total in &f.totals.by_currency {
            let per_cashier: i64 = f
                .by_cashier
                .iter()
                .flat_map(|c| &c.totals.by_currency)
                .filter(|c| c.currency == total.currency && c.operation == total.operation)
                .map(|c| c.completed_minor)
                .sum();
            assert_eq!(per_cashier, total.completed_minor, "{total:?}");
        }
    }

    #[test]
    fn a_training_till_counts_training_rows_apart() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        sample(&ledger);
        let f = figures(&ledger.conn(), "TILL-1", "2026-11-25T08:00:00.000Z", None, true).unwrap();
        // No end: the row at 17:00 counts too.
        assert_eq!(f.totals.count, 12);
        let training = f.totals.by_currency.iter().find(|c| c.training).unwrap();
        assert_eq!((training.currency.as_deref(), training.completed_minor), (Some("KES"), 99_900));
        assert_eq!(currency(&f.totals, "KES", "redeem").completed_minor, 200_052);
    }

    fn entry(event: &'static str) -> AuditEntry {
        AuditEntry::new("Amina", event, Outcome::Success, "")
    }

    #[test]
    fn one_shift_at_a_time_and_closing_keeps_the_audit_head() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        assert!(ledger.current_shift().unwrap().is_none());
        let Opened::New(shift) = ledger.open_shift("s1", "Amina", &entry("shift_opened")).unwrap() else {
            panic!("no shift was open")
        };
        assert!(
            matches!(ledger.open_shift("s2", "Baraka", &entry("shift_opened")).unwrap(), Opened::AlreadyOpen(s) if s.id == "s1")
        );
        assert_eq!(ledger.current_shift().unwrap(), Some(shift.clone()));
        let closed = ledger
            .close_shift("Mama Njeri", "Duka", false, &entry("shift_closed"), |s, f| {
                format!("{} closed, {}", s.id, f.totals.count)
            })
            .unwrap()
            .unwrap();
        let stored: String =
            ledger.conn().query_row("SELECT z_figures FROM shifts WHERE id = 's1'", [], |r| r.get(0)).unwrap();
        assert_eq!(closed.head.details, format!("s1 closed, 0{}", kept_digest_note(&stored)));
        let last = ledger
            .conn()
            .query_row("SELECT MAX(seq), hash FROM audit_log", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .unwrap();
        assert_eq!((closed.shift.audit_head_seq, closed.shift.audit_head_hash.clone()), (Some(last.0), Some(last.1)));
        assert_eq!(ledger.shift("s1").unwrap(), Some(closed.shift.clone()));
        assert!(ledger.current_shift().unwrap().is_none());
        assert!(
            ledger.close_shift("x", "Duka", false, &entry("shift_closed"), |_, _| String::new()).unwrap().is_none()
        );
        assert!(matches!(ledger.open_shift("s2", "Baraka", &entry("shift_opened")).unwrap(), Opened::New(_)));
        let recent = ledger.recent_shifts(10).unwrap();
        assert_eq!(recent.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s2", "s1"]);
    }

    /// Opens shift `s1` a second ago, so rows written "now" fall inside it
    /// and the close, a moment later, comes after them without waiting.
    fn shift_opened_a_second_ago(ledger: &Ledger) -> (ShiftRow, String) {
        ledger.open_shift("s1", "Amina", &entry("shift_opened")).unwrap();
        let start = super::super::stored_time(chrono::Utc::now() - chrono::TimeDelta::seconds(1));
        ledger.conn().execute("UPDATE shifts SET opened_at = ?1 WHERE id = 's1'", [&start]).unwrap();
        (ledger.shift("s1").unwrap().unwrap(), start)
    }

    #[test]
    fn the_close_keeps_its_figures_and_settling_an_outcome_later_changes_only_a_recount() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let (shift, at) = shift_opened_a_second_ago(&ledger);
        assert_eq!(ledger.shift_with_kept_z("s1").unwrap(), Some((shift, Kept::Nothing)), "open: nothing kept yet");
        let at = at.as_str();
        insert(
            &ledger,
            &[
                ("TILL-1", "Amina", "pesavoucher", "redeem", "completed", Some(75_000), Some("KES"), false, at),
                ("TILL-1", "amina", "pesavoucher", "redeem", "unknown", Some(30_000), Some("KES"), false, at),
                ("TILL-1", "Baraka", "telesend", "redeem", "completed", Some(50_000), Some("ETB"), false, at),
                ("TILL-1", "Baraka", "telesend", "redeem", "failed", None, None, false, at),
                ("TILL-1", "Chebet", "pesavoucher", "redeem", "completed", Some(99_900), Some("KES"), true, at),
            ],
        );
        let closed = ledger
            .close_shift("Mama Njeri", "Duka", true, &entry("shift_closed"), |_, _| String::new())
            .unwrap()
            .unwrap();
        assert_eq!(closed.figures.totals.count, 5);
        let (row, kept) = ledger.shift_with_kept_z("s1").unwrap().unwrap();
        assert_eq!(row, closed.shift);
        assert_eq!(
            kept,
            Kept::Figures(KeptZ { store_name: "Duka".into(), training: true, figures: closed.figures.clone() }),
            "the kept figures add up exactly as the close's"
        );

        // The manager settles the unknown outcome after the close.
        ledger.conn().execute("UPDATE transactions SET state = 'completed' WHERE state = 'unknown'", []).unwrap();
        let recount = ledger.shift_figures(&row, true).unwrap();
        assert_ne!(recount, closed.figures, "a recount moves with the settlement");
        let (_, kept) = ledger.shift_with_kept_z("s1").unwrap().unwrap();
        assert!(matches!(kept, Kept::Figures(k) if k.figures == closed.figures), "what the Z report printed does not");

        // A shift closed before 007 has nothing kept.
        ledger.conn().execute("UPDATE shifts SET z_figures = NULL WHERE id = 's1'", []).unwrap();
        assert_eq!(ledger.shift_with_kept_z("s1").unwrap().unwrap().1, Kept::Nothing);
        assert_eq!(ledger.shift_with_kept_z("nope").unwrap(), None);
    }

    #[test]
    fn kept_figures_changed_after_the_close_no_longer_match_the_audit_log() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let (_, at) = shift_opened_a_second_ago(&ledger);
        let at = at.as_str();
        insert(
            &ledger,
            &[("TILL-1", "Amina", "pesavoucher", "redeem", "completed", Some(75_000), Some("KES"), false, at)],
        );
        ledger.close_shift("Mama Njeri", "Duka", false, &entry("shift_closed"), |_, _| String::new()).unwrap();
        let stored: String =
            ledger.conn().query_row("SELECT z_figures FROM shifts WHERE id = 's1'", [], |r| r.get(0)).unwrap();
        assert!(stored.contains("\"amount_minor\":75000"), "{stored}");

        // Someone with the database file lowers the takings.
        let lowered = stored.replace("75000", "7500");
        ledger.conn().execute("UPDATE shifts SET z_figures = ?1 WHERE id = 's1'", [&lowered]).unwrap();
        assert_eq!(ledger.shift_with_kept_z("s1").unwrap().unwrap().1, Kept::Altered);
        // Even JSON that no longer reads is reported as altered, never as other figures.
        ledger.conn().execute("UPDATE shifts SET z_figures = '{\"training\": 1}' WHERE id = 's1'", []).unwrap();
        assert_eq!(ledger.shift_with_kept_z("s1").unwrap().unwrap().1, Kept::Altered);
        // Restored, it matches again.
        ledger.conn().execute("UPDATE shifts SET z_figures = ?1 WHERE id = 's1'", [&stored]).unwrap();
        assert!(matches!(ledger.shift_with_kept_z("s1").unwrap().unwrap().1, Kept::Figures(_)));
    }
}
