//! Transactions from intent to outcome. Every state change commits together
//! with the audit row that describes it.

use std::fmt;
use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::audit::{self, AuditEntry};
use super::{Ledger, LedgerError, lease, now_text, stored_time};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Completed,
    Failed,
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "completed" => State::Completed,
            "failed" => State::Failed,
            "unknown" => State::Unknown,
            _ => State::Pending,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, State::Completed | State::Failed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What we are about to ask a provider to do, written before we ask.
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    pub cashier: String,
    pub provider: String,
    pub operation: &'static str,
    pub voucher_code: Option<String>,
    pub code_masked: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub owner: String,
    pub training: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransactionRow {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub till_id: String,
    pub cashier: String,
    pub provider: String,
    pub operation: String,
    pub code_masked: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub state: State,
    pub provider_reference: Option<String>,
    pub customer_name: Option<String>,
    pub outcome_message: Option<String>,
    pub training: bool,
    #[serde(skip)]
    pub voucher_code: Option<String>,
    #[serde(skip)]
    pub owner: String,
}

/// The columns `read` expects, in its order (history.rs reads rows too).
macro_rules! columns {
    () => {
        "id, created_at, updated_at, till_id, cashier, provider, operation, code_masked,
    amount_minor, currency, state, provider_reference, customer_name, outcome_message, training,
    voucher_code, owner"
    };
}

pub(super) const COLUMNS: &str = columns!();
const SELECT: &str = concat!("SELECT ", columns!(), " FROM transactions");

pub(super) fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<TransactionRow> {
    Ok(TransactionRow {
        id: r.get(0)?,
        created_at: r.get(1)?,
        updated_at: r.get(2)?,
        till_id: r.get(3)?,
        cashier: r.get(4)?,
        provider: r.get(5)?,
        operation: r.get(6)?,
        code_masked: r.get(7)?,
        amount_minor: r.get(8)?,
        currency: r.get(9)?,
        state: State::parse(&r.get::<_, String>(10)?),
        provider_reference: r.get(11)?,
        customer_name: r.get(12)?,
        outcome_message: r.get(13)?,
        training: r.get(14)?,
        voucher_code: r.get(15)?,
        owner: r.get(16)?,
    })
}

/// How a transaction ended (or did not).
#[derive(Debug, Clone, Default)]
pub struct Finish {
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub provider_reference: Option<String>,
    pub customer_name: Option<String>,
    pub message: String,
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl Ledger {
    /// Commits the `pending` row and its audit row before any request is sent.
    /// The partial unique index turns a second redemption of the same code in
    /// flight into `InFlight`, whichever process or till tries it.
    pub fn begin(&self, intent: &Intent, audit: &AuditEntry) -> Result<(), LedgerError> {
        self.write(|tx| {
            let now = now_text();
            tx.execute(
                "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                    voucher_code, code_masked, amount_minor, currency, state, owner, training)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12)",
                params![
                    intent.id,
                    now,
                    self.till_id,
                    intent.cashier,
                    intent.provider,
                    intent.operation,
                    intent.voucher_code,
                    intent.code_masked,
                    intent.amount_minor,
                    intent.currency,
                    intent.owner,
                    intent.training
                ],
            )
            .map_err(|e| if is_unique_violation(&e) { LedgerError::InFlight } else { e.into() })?;
            audit::append(tx, &self.till_id, audit)?;
            crate::crash::point("intent_uncommitted");
            Ok(())
        })
    }

    /// Moves a transaction out of `pending` or `unknown`. A final state never
    /// changes again: a late or repeated outcome cannot rewrite history.
    pub fn finish(
        &self,
        id: &str,
        to: State,
        finish: &Finish,
        audit: &AuditEntry,
    ) -> Result<TransactionRow, LedgerError> {
        self.write(|tx| {
            let current: Option<String> =
                tx.query_row("SELECT state FROM transactions WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            let state = State::parse(&current.ok_or_else(|| LedgerError::NoSuchTransaction(id.to_string()))?);
            if state.is_final() {
                return Err(LedgerError::AlreadyFinal { id: id.to_string(), state, to });
            }
            tx.execute(
                "UPDATE transactions SET state = ?2, updated_at = ?3,
                    amount_minor = COALESCE(?4, amount_minor), currency = COALESCE(?5, currency),
                    provider_reference = COALESCE(?6, provider_reference),
                    customer_name = COALESCE(?7, customer_name), outcome_message = ?8
                 WHERE id = ?1",
                params![
                    id,
                    to.as_str(),
                    now_text(),
                    finish.amount_minor,
                    finish.currency,
                    finish.provider_reference,
                    finish.customer_name,
                    finish.message
                ],
            )?;
            audit::append(tx, &self.till_id, audit)?;
            crate::crash::point("outcome_uncommitted");
            Ok(tx.query_row(&format!("{SELECT} WHERE id = ?1"), [id], read)?)
        })
    }

    /// Changes a final state when the provider itself changed its answer
    /// (Pesapal: FAILED then COMPLETED, COMPLETED then REVERSED). Applies
    /// only while the row is still `from`, so two settlers cannot both
    /// apply it; `None` when someone else moved the row first.
    pub fn amend(
        &self,
        id: &str,
        from: State,
        to: State,
        finish: &Finish,
        audit: &AuditEntry,
    ) -> Result<Option<TransactionRow>, LedgerError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE transactions SET state = ?3, updated_at = ?4,
                    provider_reference = COALESCE(?5, provider_reference), outcome_message = ?6
                 WHERE id = ?1 AND state = ?2",
                params![id, from.as_str(), to.as_str(), now_text(), finish.provider_reference, finish.message],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            audit::append(tx, &self.till_id, audit)?;
            Ok(Some(tx.query_row(&format!("{SELECT} WHERE id = ?1"), [id], read)?))
        })
    }

    /// Records the provider's reference of a transaction still in flight
    /// (Pesapal's order tracking id, needed to ask about it later).
    pub fn set_reference(&self, id: &str, reference: &str, audit: &AuditEntry) -> Result<(), LedgerError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE transactions SET provider_reference = ?2, updated_at = ?3
                 WHERE id = ?1 AND state IN ('pending', 'unknown')",
                params![id, reference, now_text()],
            )?;
            audit::append(tx, &self.till_id, audit)?;
            Ok(())
        })
    }

    pub fn transaction_by_reference(
        &self,
        provider: &str,
        reference: &str,
    ) -> Result<Option<TransactionRow>, LedgerError> {
        Ok(self
            .conn()
            .query_row(
                &format!("{SELECT} WHERE provider = ?1 AND provider_reference = ?2 ORDER BY created_at DESC LIMIT 1"),
                params![provider, reference],
                read,
            )
            .optional()?)
    }

    pub fn transaction(&self, id: &str) -> Result<Option<TransactionRow>, LedgerError> {
        Ok(self.conn().query_row(&format!("{SELECT} WHERE id = ?1"), [id], read).optional()?)
    }

    /// A redemption of this code that forbids another: completed, or still
    /// in flight (pending or unknown). In-flight rows come first, then the
    /// newest completed one.
    pub fn blocking_redemption(&self, provider: &str, code: &str) -> Result<Option<TransactionRow>, LedgerError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "{SELECT} WHERE provider = ?1 AND voucher_code = ?2 AND operation = 'redeem'
                     AND state IN ('pending', 'unknown', 'completed') ORDER BY state = 'completed', updated_at DESC LIMIT 1"
                ),
                params![provider, code],
                read,
            )
            .optional()?)
    }

    /// The newest transactions first, bounded.
    pub fn recent(&self, limit: u32) -> Result<Vec<TransactionRow>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY created_at DESC, id DESC LIMIT ?1"))?;
        let rows = stmt.query_map([limit], read)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Final checkouts of `provider` created at or after `since` that carry
    /// a provider reference: the ones whose answer may still change. Read
    /// through the (provider, created_at) index, so the cost follows the
    /// day's checkouts, not the ledger's size.
    pub fn final_checkouts_since(
        &self,
        provider: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<TransactionRow>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "{SELECT} WHERE provider = ?1 AND created_at >= ?2 AND operation = 'checkout'
                 AND state IN ('completed', 'failed') AND provider_reference IS NOT NULL
               ORDER BY created_at"
        ))?;
        let rows = stmt.query_map(params![provider, stored_time(since)], read)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn open_transactions(&self) -> Result<Vec<TransactionRow>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{SELECT} WHERE state IN ('pending', 'unknown') ORDER BY created_at"))?;
        let rows = stmt.query_map([], read)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Turns every `pending` row whose process died into `unknown`: its request
    /// may or may not have reached the provider. Rows of live processes (a
    /// headless command running beside the window) are left alone, and so
    /// are those the caller settles another way (`settled_elsewhere`).
    pub fn mark_abandoned_unknown(
        &self,
        data_dir: &Path,
        actor: &str,
        settled_elsewhere: impl Fn(&TransactionRow) -> bool,
    ) -> Result<Vec<TransactionRow>, LedgerError> {
        let mut changed = Vec::new();
        for row in self.open_transactions()? {
            if row.state != State::Pending || settled_elsewhere(&row) || !lease::is_abandoned(data_dir, &row.owner) {
                continue;
            }
            let audit = AuditEntry::about(
                &row,
                actor,
                "crash_recovered",
                super::Outcome::Info,
                "the process that sent this request stopped before recording the answer; outcome unknown",
            );
            let finish = Finish {
                message: "Kaunta stopped before the provider's answer was recorded".into(),
                ..Finish::default()
            };
            match self.finish(&row.id, State::Unknown, &finish, &audit) {
                Ok(row) => changed.push(row),
                // Another process recovered it first.
                Err(LedgerError::AlreadyFinal { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Outcome;

    fn intent(id: &str, code: &str) -> Intent {
        Intent {
            id: id.into(),
            cashier: "amina".into(),
            provider: "pesavoucher".into(),
            operation: "redeem",
            voucher_code: Some(code.into()),
            code_masked: Some(crate::voucher_code::mask(code)),
            amount_minor: Some(75_000),
            currency: Some("KES".into()),
            owner: uuid::Uuid::now_v7().to_string(),
            training: true,
        }
    }

    fn note() -> AuditEntry {
        AuditEntry::new("amina", "redeem_attempt", Outcome::Info, "")
    }

    #[test]
    fn a_second_redemption_in_flight_is_refused_by_the_database() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        ledger.begin(&intent("a", "NLV-1234"), &note()).unwrap();
        assert!(matches!(ledger.begin(&intent("b", "NLV-1234"), &note()), Err(LedgerError::InFlight)));
        // The refused attempt left nothing behind, not even an audit row.
        assert_eq!(ledger.recent(10).unwrap().len(), 1);
        assert_eq!(ledger.verify_audit(|_| {}).unwrap().rows, 1);
        // Unknown still blocks; failed frees the code.
        ledger.finish("a", State::Unknown, &Finish::default(), &note()).unwrap();
        assert!(matches!(ledger.begin(&intent("b", "NLV-1234"), &note()), Err(LedgerError::InFlight)));
        ledger.finish("a", State::Failed, &Finish::default(), &note()).unwrap();
        ledger.begin(&intent("b", "NLV-1234"), &note()).unwrap();
    }

    #[test]
    fn final_checkouts_since_picks_only_recent_final_referenced_checkouts_of_the_provider() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let checkout = |id: &str, provider: &str| Intent {
            provider: provider.into(),
            operation: "checkout",
            voucher_code: None,
            code_masked: None,
            ..intent(id, "")
        };
        let done =
            |reference: Option<&str>| Finish { provider_reference: reference.map(String::from), ..Finish::default() };
        for (id, provider, state, reference) in [
            ("paid", "pesapal", State::Completed, Some("ref-paid")),
            ("declined", "pesapal", State::Failed, Some("ref-declined")),
            ("old", "pesapal", State::Completed, Some("ref-old")),
            ("open", "pesapal", State::Unknown, Some("ref-open")),
            ("never-sent", "pesapal", State::Failed, None),
            ("other-provider", "giftpesa", State::Completed, Some("ref-gift")),
        ] {
            ledger.begin(&checkout(id, provider), &note()).unwrap();
            ledger.finish(id, state, &done(reference), &note()).unwrap();
        }
        // A redemption with a reference is not a checkout.
        ledger.begin(&intent("redeem", "NLV-1234"), &note()).unwrap();
        ledger.finish("redeem", State::Completed, &done(Some("ref-redeem")), &note()).unwrap();
        let day_ago = chrono::Utc::now() - chrono::TimeDelta::hours(24);
        let older = stored_time(day_ago - chrono::TimeDelta::seconds(1));
        ledger.conn().execute("UPDATE transactions SET created_at = ?1 WHERE id = 'old'", [older]).unwrap();

        let mut ids: Vec<String> =
            ledger.final_checkouts_since("pesapal", day_ago).unwrap().into_iter().map(|r| r.id).collect();
        ids.sort();
        assert_eq!(ids, ["declined", "paid"]);
    }

    #[test]
    fn a_final_state_never_changes() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        ledger.begin(&intent("a", "NLV-1234"), &note()).unwrap();
        ledger.finish("a", State::Completed, &Finish::default(), &note()).unwrap();
        assert!(matches!(
            ledger.finish("a", State::Failed, &Finish::default(), &note()),
            Err(LedgerError::AlreadyFinal { .. })
        ));
        assert_eq!(ledger.transaction("a").unwrap().unwrap().state, State::Completed);
        assert_eq!(ledger.blocking_redemption("pesavoucher", "NLV-1234").unwrap().unwrap().state, State::Completed);
    }

    #[test]
    fn only_pending_rows_of_dead_processes_become_unknown() {
        let (dir, ledger) = crate::ledger::tests::ledger();
        let live = lease::Lease::acquire(dir.path()).unwrap();
        let mut mine = intent("live", "NLV-AAAA");
        mine.owner = live.id().to_string();
        ledger.begin(&mine, &note()).unwrap();
        ledger.begin(&intent("dead", "NLV-BBBB"), &note()).unwrap();
        let changed = ledger.mark_abandoned_unknown(dir.path(), "system", |_| false).unwrap();
        assert_eq!(changed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["dead"]);
        assert_eq!(ledger.transaction("live").unwrap().unwrap().state, State::Pending);
        assert_eq!(ledger.transaction("dead").unwrap().unwrap().state, State::Unknown);
    }
}
