//! The audit chain: each row's hash covers the previous hash and every field
//! of the row, so an edited, inserted or removed row breaks the chain there.

mod verify;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{LedgerError, now_text};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Info,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Info => "info",
        }
    }
}

/// What a caller asks to record; the ledger adds the time, the sequence and the hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub actor: String,
    pub event: &'static str,
    pub provider: Option<String>,
    /// What the event touched, masked where it is a voucher code.
    pub subject: Option<String>,
    pub transaction_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub outcome: Outcome,
    pub details: String,
}

impl AuditEntry {
    pub fn new(actor: &str, event: &'static str, outcome: Outcome, details: impl Into<String>) -> Self {
        AuditEntry {
            actor: actor.to_string(),
            event,
            provider: None,
            subject: None,
            transaction_id: None,
            amount_minor: None,
            currency: None,
            outcome,
            details: details.into(),
        }
    }

    /// An entry about one transaction, naming its provider, masked code,
    /// id, amount and currency.
    pub fn about(
        row: &super::TransactionRow,
        actor: &str,
        event: &'static str,
        outcome: Outcome,
        details: impl Into<String>,
    ) -> Self {
        AuditEntry {
            provider: Some(row.provider.clone()),
            subject: row.code_masked.clone(),
            transaction_id: Some(row.id.clone()),
            amount_minor: row.amount_minor,
            currency: row.currency.clone(),
            ..AuditEntry::new(actor, event, outcome, details)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub till_id: String,
    pub actor: String,
    pub event: String,
    pub provider: Option<String>,
    pub subject: Option<String>,
    pub transaction_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub outcome: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields a row's hash covers, in their order (the stored row less its
/// two hashes), borrowed.
pub(crate) type HashedFields<'a> = (
    i64,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
    &'a str,
    &'a str,
);

/// SHA-256 over the previous hash, a newline and a JSON array of the
/// fields: JSON escapes every separator, so no two different rows hash the
/// same text. `json` is scratch space, reused so a walk over a million rows
/// allocates once.
pub(crate) fn digest(prev_hash: &str, fields: &HashedFields<'_>, json: &mut Vec<u8>) -> [u8; 32] {
    json.clear();
    // Writing strings and integers into a Vec cannot fail.
    serde_json::to_writer(&mut *json, fields).expect("JSON of strings and integers");
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(json.as_slice());
    h.finalize().into()
}

impl AuditRow {
    fn hashed_fields(&self) -> HashedFields<'_> {
        (
            self.seq,
            &self.at,
            &self.till_id,
            &self.actor,
            &self.event,
            self.provider.as_deref(),
            self.subject.as_deref(),
            self.transaction_id.as_deref(),
            self.amount_minor,
            self.currency.as_deref(),
            &self.outcome,
            &self.details,
        )
    }

    /// The row's hash as lowercase hex (see [`digest`]).
    pub fn compute_hash(&self) -> String {
        hex::encode(digest(&self.prev_hash, &self.hashed_fields(), &mut Vec::new()))
    }
}

/// Appends inside the caller's transaction, so the event and the change it
/// describes commit together or not at all.
pub fn append(conn: &Connection, till_id: &str, entry: &AuditEntry) -> Result<AuditRow, LedgerError> {
    let last: Option<(i64, String)> = conn
        .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS.to_string()));
    let mut row = AuditRow {
        seq: prev_seq + 1,
        at: now_text(),
        till_id: till_id.to_string(),
        actor: entry.actor.clone(),
        event: entry.event.to_string(),
        provider: entry.provider.clone(),
        subject: entry.subject.clone(),
        transaction_id: entry.transaction_id.clone(),
        amount_minor: entry.amount_minor,
        currency: entry.currency.clone(),
        outcome: entry.outcome.as_str().to_string(),
        details: entry.details.clone(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = row.compute_hash();
    conn.execute(
        "INSERT INTO audit_log (seq, at, till_id, actor, event, provider, subject, transaction_id,
            amount_minor, currency, outcome, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            row.seq,
            row.at,
            row.till_id,
            row.actor,
            row.event,
            row.provider,
            row.subject,
            row.transaction_id,
            row.amount_minor,
            row.currency,
            row.outcome,
            row.details,
            row.prev_hash,
            row.hash
        ],
    )?;
    Ok(row)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub rows: u64,
    pub head: String,
    /// The first row whose link is broken, and why.
    pub first_bad: Option<BadLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLink {
    pub seq: i64,
    pub reason: String,
}

pub(super) const SELECT_ROWS: &str = "SELECT seq, at, till_id, actor, event, provider, subject, transaction_id,
    amount_minor, currency, outcome, details, prev_hash, hash FROM audit_log";

pub(super) fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        till_id: r.get(2)?,
        actor: r.get(3)?,
        event: r.get(4)?,
        provider: r.get(5)?,
        subject: r.get(6)?,
        transaction_id: r.get(7)?,
        amount_minor: r.get(8)?,
        currency: r.get(9)?,
        outcome: r.get(10)?,
        details: r.get(11)?,
        prev_hash: r.get(12)?,
        hash: r.get(13)?,
    })
}

impl super::Ledger {
    /// How many rows the audit log holds (its last sequence number): what a
    /// verification will walk.
    pub fn audit_len(&self) -> Result<u64, LedgerError> {
        let last: i64 = self.conn().query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_log", [], |r| r.get(0))?;
        Ok(last.max(0) as u64)
    }
}

pub use verify::verify;
