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

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

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
    let mut by_cashier: Vec<(String, Vec<TotalsGroup>)> = Vec::new();
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

    /// The figures of a shift: up to its close, or up to now while it runs.
    pub fn shift_figures(&self, shift: &ShiftRow, include_training: bool) -> Result<ShiftFigures, LedgerError> {
        figures(&self.conn(), &shift.till_id, &shift.opened_at, shift.closed_at.as_deref(), include_training)
    }

    /// Closes this till's open shift: its figures up to now, the
    /// `shift_closed` audit row (`details` gets the figures' summary
    /// appended by `describe`), and that row's seq and hash kept on the
    /// shift, in one transaction. `None` when no shift is open.
    pub fn close_shift(
        &self,
        closed_by: &str,
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
            let entry =
                AuditEntry { subject: Some(shift.id.clone()), details: describe(&shift, &figures), ..entry.clone() };
            let head = audit::append(tx, &self.till_id, &entry)?;
            tx.execute(
                "UPDATE shifts SET closed_by = ?2, closed_at = ?3, audit_head_seq = ?4, audit_head_hash = ?5
                 WHERE id = ?1",
                params![shift.id, closed_by, closed_at, head.seq, head.hash],
            )?;
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
            .close_shift("Mama Njeri", false, &entry("shift_closed"), |s, f| {
                format!("{} closed, {}", s.id, f.totals.count)
            })
            .unwrap()
            .unwrap();
        assert_eq!(closed.head.details, "s1 closed, 0");
        let last = ledger
            .conn()
            .query_row("SELECT MAX(seq), hash FROM audit_log", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .unwrap();
        assert_eq!((closed.shift.audit_head_seq, closed.shift.audit_head_hash.clone()), (Some(last.0), Some(last.1)));
        assert_eq!(ledger.shift("s1").unwrap(), Some(closed.shift.clone()));
        assert!(ledger.current_shift().unwrap().is_none());
        assert!(ledger.close_shift("x", false, &entry("shift_closed"), |_, _| String::new()).unwrap().is_none());
        assert!(matches!(ledger.open_shift("s2", "Baraka", &entry("shift_opened")).unwrap(), Opened::New(_)));
        let recent = ledger.recent_shifts(10).unwrap();
        assert_eq!(recent.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s2", "s1"]);
    }
}
