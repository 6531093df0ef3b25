//! The audit log's head anchored outside the database. A hash chain alone
//! cannot show rows cut from its end, nor a chain rebuilt by someone who can
//! write the file; so at every shift close the head (seq and hash) is printed
//! on the Z report and kept in the OS keyring, and verification checks the
//! chain against the last anchor.

use serde::{Deserialize, Serialize};

use super::audit::{BadLink, Verification};
use super::{Ledger, LedgerError};

/// The audit log's head when a shift closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    pub till_id: String,
    /// The database file the head is of (its full path).
    pub database: String,
    pub seq: i64,
    pub hash: String,
    /// When it was anchored (RFC 3339, UTC): the shift's close.
    pub at: String,
}

/// What the anchor check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AnchorCheck {
    /// No shift has closed at this till yet: nothing to check against.
    None,
    /// The anchored row is there with the anchored hash: every row up to it
    /// is the one written then.
    Matched { anchor: AuditAnchor },
    /// The anchored row is gone: rows were cut from the end.
    Missing { anchor: AuditAnchor },
    /// The anchored row's hash differs: the log up to it was rewritten.
    Mismatch { anchor: AuditAnchor, found: String },
    /// The anchor could not be read (no keyring, a damaged entry).
    Unchecked { reason: String },
}

/// The chain check and the anchor check together. `first_bad` names the
/// first bad row whichever check found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchoredVerification {
    #[serde(flatten)]
    pub chain: Verification,
    pub anchor: AnchorCheck,
}

impl AnchoredVerification {
    pub fn is_intact(&self) -> bool {
        self.chain.first_bad.is_none()
    }

    /// Whether every row before the first bad one is known intact (a chain
    /// break or a cut end); not so when the anchored row itself was rewritten.
    pub fn rows_before_are_intact(&self) -> bool {
        self.chain.first_bad.as_ref().is_some_and(|b| b.seq == self.chain.rows as i64 + 1)
    }
}

/// Checks an already verified chain against the anchor; `hash_at` reads the
/// hash of a row (none when the row is missing).
pub fn check(
    mut chain: Verification,
    anchor: Option<AuditAnchor>,
    hash_at: impl FnOnce(i64) -> Result<Option<String>, LedgerError>,
) -> Result<AnchoredVerification, LedgerError> {
    let Some(anchor) = anchor else {
        return Ok(AnchoredVerification { chain, anchor: AnchorCheck::None });
    };
    // A break the chain check found before the anchored row comes first.
    let earlier_break = chain.first_bad.as_ref().is_some_and(|b| b.seq <= anchor.seq);
    let check = match hash_at(anchor.seq)? {
        Some(found) if found == anchor.hash => AnchorCheck::Matched { anchor },
        Some(found) => {
            if !earlier_break {
                chain.first_bad = Some(BadLink {
                    seq: anchor.seq,
                    reason: format!(
                        "its hash differs from the one kept in the keyring when the shift closed at {} \
                         (printed on that Z report): the log up to this row was rewritten",
                        anchor.at
                    ),
                });
                // Which row the rewrite began at cannot be known from the file.
                chain.rows = 0;
            }
            AnchorCheck::Mismatch { anchor, found }
        }
        None => {
            if chain.first_bad.is_none() {
                let last = chain.rows as i64;
                chain.first_bad = Some(BadLink {
                    seq: last + 1,
                    reason: format!(
                        "rows {} to {} are missing: the log ends at row {last}, but the shift that closed at {} \
                         anchored row {} in the keyring (rows were cut from the end)",
                        last + 1,
                        anchor.seq,
                        anchor.at,
                        anchor.seq
                    ),
                });
            }
            AnchorCheck::Missing { anchor }
        }
    };
    Ok(AnchoredVerification { chain, anchor: check })
}

/// What names the database at `path` in its anchor: the full path of its
/// file (as given when it cannot be resolved, e.g. a disk being restored).
pub fn anchor_name_of(path: &std::path::Path) -> String {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

impl Ledger {
    /// What names this database in its anchor: the full path of its file.
    pub fn anchor_name(&self) -> String {
        anchor_name_of(&self.path)
    }

    /// Verifies the chain, then checks it against `anchor` (the last one
    /// kept in the keyring), or notes why no anchor could be read.
    pub fn verify_audit_anchored(
        &self,
        anchor: Result<Option<AuditAnchor>, String>,
        progress: impl FnMut(u64),
    ) -> Result<AnchoredVerification, LedgerError> {
        let chain = self.verify_audit(progress)?;
        match anchor {
            Ok(anchor) => check(chain, anchor, |seq| self.audit_hash_at(seq)),
            Err(reason) => Ok(AnchoredVerification { chain, anchor: AnchorCheck::Unchecked { reason } }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AuditEntry, Outcome};

    fn logged(n: i64) -> (tempfile::TempDir, Ledger) {
        let (dir, ledger) = crate::ledger::tests::ledger();
        for i in 0..n {
            ledger.record(&AuditEntry::new("amina", "validate", Outcome::Info, format!("event {i}"))).unwrap();
        }
        (dir, ledger)
    }

    fn anchor_at(ledger: &Ledger, seq: i64) -> AuditAnchor {
        AuditAnchor {
            till_id: "TILL-1".into(),
            database: "/tmp/kaunta.sqlite3".into(),
            seq,
            hash: ledger.audit_hash_at(seq).unwrap().unwrap(),
            at: "2026-11-25T17:00:00.000Z".into(),
        }
    }

    fn verify(ledger: &Ledger, anchor: Option<AuditAnchor>) -> AnchoredVerification {
        ledger.verify_audit_anchored(Ok(anchor), |_| {}).unwrap()
    }

    /// Someone with the file drops the triggers and runs `sql`.
    fn tamper(ledger: &Ledger, sql: &str) {
        let conn = ledger.conn();
        conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").unwrap();
        conn.execute_batch(sql).unwrap();
    }

    #[test]
    fn an_intact_log_matches_its_anchor_and_may_grow_past_it() {
        let (_dir, ledger) = logged(10);
        let anchor = anchor_at(&ledger, 6);
        let v = verify(&ledger, Some(anchor.clone()));
        assert!(v.is_intact());
        assert_eq!(v.chain.rows, 10);
        assert_eq!(v.anchor, AnchorCheck::Matched { anchor });
        assert_eq!(verify(&ledger, None).anchor, AnchorCheck::None);
    }

    #[test]
    fn rows_cut_from_the_end_are_named_although_the_chain_is_intact() {
        let (_dir, ledger) = logged(10);
        let anchor = anchor_at(&ledger, 9);
        tamper(&ledger, "DELETE FROM audit_log WHERE seq >= 8");
        // The chain alone sees nothing wrong.
        assert_eq!(ledger.verify_audit(|_| {}).unwrap().first_bad, None);
        let v = verify(&ledger, Some(anchor.clone()));
        let bad = v.chain.first_bad.clone().unwrap();
        assert_eq!(bad.seq, 8);
        assert!(
            bad.reason.contains("rows 8 to 9 are missing") && bad.reason.contains("cut from the end"),
            "{}",
            bad.reason
        );
        assert_eq!(v.chain.rows, 7);
        assert!(v.rows_before_are_intact());
        assert_eq!(v.anchor, AnchorCheck::Missing { anchor });
    }

    #[test]
    fn a_rebuilt_chain_is_caught_at_the_anchored_row() {
        let (_dir, ledger) = logged(6);
        let anchor = anchor_at(&ledger, 5);
        // Rewrite row 3 and rehash every row after it: a consistent chain.
        let rows: Vec<crate::ledger::AuditRow> = {
            let conn = ledger.conn();
            let mut stmt = conn.prepare(&format!("{} ORDER BY seq", crate::ledger::audit::SELECT_ROWS)).unwrap();
            stmt.query_map([], crate::ledger::audit::read_row).unwrap().map(Result::unwrap).collect()
        };
        let mut sql = String::new();
        let mut prev = rows[1].hash.clone();
        for mut row in rows.into_iter().skip(2) {
            if row.seq == 3 {
                row.details = "forged".into();
            }
            row.prev_hash = prev;
            row.hash = row.compute_hash();
            prev = row.hash.clone();
            sql += &format!(
                "UPDATE audit_log SET details = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {};",
                row.details, row.prev_hash, row.hash, row.seq
            );
        }
        tamper(&ledger, &sql);
        assert_eq!(ledger.verify_audit(|_| {}).unwrap().first_bad, None, "the chain alone is fooled");
        let v = verify(&ledger, Some(anchor));
        let bad = v.chain.first_bad.clone().unwrap();
        assert_eq!(bad.seq, 5);
        assert!(bad.reason.contains("rewritten"), "{}", bad.reason);
        assert!(!v.rows_before_are_intact());
        assert!(matches!(v.anchor, AnchorCheck::Mismatch { .. }));
    }

    #[test]
    fn a_break_before_the_anchor_is_named_first() {
        let (_dir, ledger) = logged(10);
        let anchor = anchor_at(&ledger, 9);
        tamper(&ledger, "UPDATE audit_log SET details = 'x' WHERE seq = 4");
        let v = verify(&ledger, Some(anchor));
        assert_eq!(v.chain.first_bad.unwrap().seq, 4);
    }

    #[test]
    fn an_unreadable_anchor_is_reported_not_hidden() {
        let (_dir, ledger) = logged(2);
        let v = ledger.verify_audit_anchored(Err("no keyring".into()), |_| {}).unwrap();
        assert!(v.is_intact());
        assert_eq!(v.anchor, AnchorCheck::Unchecked { reason: "no keyring".into() });
    }
}
