//! Verification claims (Telesend): which voucher awaits the customer's SMS
//! code, for how much, at which till.

use rusqlite::{OptionalExtension, params};

use super::audit::{self, AuditEntry};
use super::{Ledger, LedgerError, now_text};

/// An SMS code is useless after this long; a claim older than this no
/// longer blocks the voucher.
pub const CLAIM_LIFETIME_MINUTES: i64 = 15;

#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub id: String,
    pub created_at: String,
    pub till_id: String,
    pub cashier: String,
    pub provider: String,
    pub voucher_code: String,
    pub code_masked: String,
    pub amount_minor: Option<i64>,
    pub currency: String,
    pub training: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimEnd {
    Redeemed,
    Cancelled,
}

const SELECT: &str = "SELECT id, created_at, till_id, cashier, provider, voucher_code, code_masked, amount_minor,
    currency, training FROM claims";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Claim> {
    Ok(Claim {
        id: r.get(0)?,
        created_at: r.get(1)?,
        till_id: r.get(2)?,
        cashier: r.get(3)?,
        provider: r.get(4)?,
        voucher_code: r.get(5)?,
        code_masked: r.get(6)?,
        amount_minor: r.get(7)?,
        currency: r.get(8)?,
        training: r.get(9)?,
    })
}

fn expire_stale(tx: &rusqlite::Transaction<'_>) -> Result<(), LedgerError> {
    let cutoff = (chrono::Utc::now() - chrono::Duration::minutes(CLAIM_LIFETIME_MINUTES))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tx.execute(
        "UPDATE claims SET state = 'expired', updated_at = ?2 WHERE state = 'open' AND updated_at < ?1",
        params![cutoff, now_text()],
    )?;
    Ok(())
}

impl Ledger {
    /// Opens a claim, or renews this till's open claim for the same voucher
    /// (a resend, possibly for a new amount). Another till's open claim
    /// blocks: two tills must not race for one voucher.
    pub fn open_claim(&self, claim: &Claim, audit: &AuditEntry) -> Result<Claim, LedgerError> {
        self.write(|tx| {
            expire_stale(tx)?;
            let existing = tx
                .query_row(
                    &format!("{SELECT} WHERE provider = ?1 AND voucher_code = ?2 AND state = 'open'"),
                    params![claim.provider, claim.voucher_code],
                    read,
                )
                .optional()?;
            let stored = match existing {
                Some(open) if open.till_id != self.till_id => {
                    return Err(LedgerError::ClaimedElsewhere { till_id: open.till_id });
                }
                Some(open) => {
                    tx.execute(
                        "UPDATE claims SET amount_minor = ?2, cashier = ?3, updated_at = ?4 WHERE id = ?1",
                        params![open.id, claim.amount_minor, claim.cashier, now_text()],
                    )?;
                    Claim { amount_minor: claim.amount_minor, cashier: claim.cashier.clone(), ..open }
                }
                None => {
                    let now = now_text();
                    tx.execute(
                        "INSERT INTO claims (id, created_at, updated_at, till_id, cashier, provider, voucher_code,
                            code_masked, amount_minor, currency, state, training)
                         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', ?10)",
                        params![
                            claim.id,
                            now,
                            self.till_id,
                            claim.cashier,
                            claim.provider,
                            claim.voucher_code,
                            claim.code_masked,
                            claim.amount_minor,
                            claim.currency,
                            claim.training
                        ],
                    )?;
                    Claim { created_at: now, till_id: self.till_id.clone(), ..claim.clone() }
                }
            };
            audit::append(tx, &self.till_id, audit)?;
            Ok(stored)
        })
    }

    /// This till's open claim on a voucher, if any.
    pub fn open_claim_for(&self, provider: &str, code: &str) -> Result<Option<Claim>, LedgerError> {
        self.write(|tx| {
            expire_stale(tx)?;
            Ok(tx
                .query_row(
                    &format!("{SELECT} WHERE provider = ?1 AND voucher_code = ?2 AND state = 'open' AND till_id = ?3"),
                    params![provider, code, self.till_id],
                    read,
                )
                .optional()?)
        })
    }

    /// Closes a claim; the audit row goes with it when given.
    pub fn end_claim(&self, id: &str, end: ClaimEnd, audit: Option<&AuditEntry>) -> Result<(), LedgerError> {
        self.write(|tx| {
            let state = match end {
                ClaimEnd::Redeemed => "redeemed",
                ClaimEnd::Cancelled => "cancelled",
            };
            tx.execute(
                "UPDATE claims SET state = ?2, updated_at = ?3 WHERE id = ?1 AND state = 'open'",
                params![id, state, now_text()],
            )?;
            if let Some(entry) = audit {
                audit::append(tx, &self.till_id, entry)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Outcome;

    fn claim(id: &str) -> Claim {
        Claim {
            id: id.into(),
            created_at: String::new(),
            till_id: String::new(),
            cashier: "amina".into(),
            provider: "telesend".into(),
            voucher_code: "TS-GIFT-1000".into(),
            code_masked: "••-••••-1000".into(),
            amount_minor: Some(50_000),
            currency: "ETB".into(),
            training: true,
        }
    }

    fn note() -> AuditEntry {
        AuditEntry::new("amina", "claim_initiated", Outcome::Success, "")
    }

    #[test]
    fn one_open_claim_per_voucher_and_a_resend_renews_it() {
        let dir = tempfile::tempdir().unwrap();
        let till1 = Ledger::in_data_dir(dir.path(), "TILL-1").unwrap();
        let till2 = Ledger::in_data_dir(dir.path(), "TILL-2").unwrap();
        let first = till1.open_claim(&claim("a"), &note()).unwrap();
        let resend = till1.open_claim(&Claim { amount_minor: Some(20_000), ..claim("b") }, &note()).unwrap();
        assert_eq!(resend.id, first.id, "a resend renews the open claim");
        assert_eq!(resend.amount_minor, Some(20_000));
        assert!(matches!(till2.open_claim(&claim("c"), &note()), Err(LedgerError::ClaimedElsewhere { .. })));
        assert!(till2.open_claim_for("telesend", "TS-GIFT-1000").unwrap().is_none());

        till1.end_claim(&first.id, ClaimEnd::Redeemed, None).unwrap();
        assert!(till1.open_claim_for("telesend", "TS-GIFT-1000").unwrap().is_none());
        till2.open_claim(&claim("c"), &note()).unwrap();
    }

    #[test]
    fn a_stale_claim_expires() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_data_dir(dir.path(), "TILL-1").unwrap();
        ledger.open_claim(&claim("a"), &note()).unwrap();
        ledger.conn().execute("UPDATE claims SET updated_at = '2000-01-01T00:00:00.000Z'", []).unwrap();
        assert!(ledger.open_claim_for("telesend", "TS-GIFT-1000").unwrap().is_none());
        let other = Ledger::in_data_dir(dir.path(), "TILL-2").unwrap();
        other.open_claim(&claim("b"), &note()).unwrap();
    }
}
