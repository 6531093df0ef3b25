//! The audit chain: each row's hash covers the previous hash and every field
//! of the row, so an edited, inserted or removed row breaks the chain there.

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

impl AuditRow {
    /// SHA-256 over the previous hash and a JSON array of the fields: JSON
    /// escapes every separator, so no two different rows hash the same text.
    pub fn compute_hash(&self) -> String {
        let fields = serde_json::json!([
            self.seq,
            self.at,
            self.till_id,
            self.actor,
            self.event,
            self.provider,
            self.subject,
            self.transaction_id,
            self.amount_minor,
            self.currency,
            self.outcome,
            self.details,
        ]);
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(fields.to_string().as_bytes());
        hex::encode(h.finalize())
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

/// Walks the whole chain in order and names the first row that does not fit:
/// a gap in the sequence (a row cut out), a link that does not match the row
/// before (a row inserted or rebuilt), or a hash that does not match the row
/// (a row edited).
pub fn verify(conn: &Connection, mut progress: impl FnMut(u64)) -> Result<Verification, LedgerError> {
    let mut stmt = conn.prepare(&format!("{SELECT_ROWS} ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_string();
    let mut count = 0u64;
    while let Some(r) = rows.next()? {
        let row = read_row(r)?;
        let bad = if row.seq != expected_seq {
            Some(format!("expected row {expected_seq} here: rows {expected_seq} to {} are missing", row.seq - 1))
        } else if row.prev_hash != prev {
            Some("its link to the row before does not match".to_string())
        } else if row.compute_hash() != row.hash {
            Some("its content does not match its hash (the row was changed)".to_string())
        } else {
            None
        };
        if let Some(reason) = bad {
            return Ok(Verification { rows: count, head: prev, first_bad: Some(BadLink { seq: row.seq, reason }) });
        }
        prev = row.hash;
        expected_seq += 1;
        count += 1;
        if count.is_multiple_of(4_096) {
            progress(count);
        }
    }
    progress(count);
    Ok(Verification { rows: count, head: prev, first_bad: None })
}
