//! Walks the whole chain in order and names the first row that does not fit:
//! a gap in the sequence (a row cut out), a link that does not match the row
//! before (a row inserted or rebuilt), or a hash that does not match the row
//! (a row edited).
//!
//! Every row's hash is recomputed. Recomputing is most of the cost (a JSON
//! text and a SHA-256 per row), so one connection walks the rows, checks the
//! sequence and the links as it goes, and hands the rows in batches to worker
//! threads that recompute the hashes. Rows are copied into one string per
//! batch, not a `String` per field. The walk stays on the caller's connection,
//! so the whole check sees one snapshot of the log.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use super::{BadLink, GENESIS, HashedFields, SELECT_ROWS, Verification, digest};
use crate::ledger::LedgerError;

/// Rows per batch handed to a worker, and how often progress is reported.
const BATCH: usize = 4_096;
/// The text columns of a row, in `SELECT_ROWS` order after `seq`, less
/// `amount_minor` (column 8): at, till_id, actor, event, provider, subject,
/// transaction_id, currency, outcome, details, prev_hash, hash.
const TEXT_COLUMNS: [usize; 12] = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13];
/// Which of them may be NULL.
const NULLABLE: [bool; 12] = [false, false, false, false, true, true, true, true, false, false, false, false];
const PREV_HASH: usize = 10;
const HASH: usize = 11;

struct RawRow {
    seq: i64,
    amount_minor: Option<i64>,
    /// Byte ranges of the text columns in the batch's text (None for NULL).
    spans: [Option<(usize, usize)>; 12],
}

/// Consecutive rows, their text in one string.
#[derive(Default)]
struct Batch {
    text: String,
    rows: Vec<RawRow>,
}

impl Batch {
    fn field(&self, row: &RawRow, i: usize) -> Option<&str> {
        row.spans[i].map(|(a, b)| &self.text[a..b])
    }

    fn required(&self, row: &RawRow, i: usize) -> &str {
        // The walk refused a NULL in these columns before batching the row.
        self.field(row, i).unwrap_or_default()
    }

    /// The first row whose recomputed hash is not its stored one, with its
    /// link (the hash of the row before it, already checked by the walk).
    fn first_changed(&self, json: &mut Vec<u8>) -> Option<(i64, String)> {
        let mut hex = [0u8; 64];
        self.rows.iter().find_map(|row| {
            let fields: HashedFields<'_> = (
                row.seq,
                self.required(row, 0),
                self.required(row, 1),
                self.required(row, 2),
                self.required(row, 3),
                self.field(row, 4),
                self.field(row, 5),
                self.field(row, 6),
                row.amount_minor,
                self.field(row, 7),
                self.required(row, 8),
                self.required(row, 9),
            );
            let prev_hash = self.required(row, PREV_HASH);
            hex::encode_to_slice(digest(prev_hash, &fields, json), &mut hex).expect("64 hex digits for 32 bytes");
            (hex.as_slice() != self.required(row, HASH).as_bytes()).then(|| (row.seq, prev_hash.to_string()))
        })
    }
}

/// A column as text, as `AuditRow` would read it: an error for text that is
/// not UTF-8, or a NULL where none may be.
fn text<'r>(r: &'r Row<'_>, i: usize, nullable: bool) -> rusqlite::Result<Option<&'r str>> {
    match r.get_ref(i)? {
        ValueRef::Null if nullable => Ok(None),
        v => v.as_str().map(Some).map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e))),
    }
}

/// What a worker found in one batch, and the batch emptied for reuse (a
/// fresh megabyte per batch would be paid for in page faults).
struct Checked {
    no: usize,
    rows: usize,
    changed: Option<(i64, String)>,
    spare: Batch,
}

/// What the walk found: the rows whose sequence and links fit, the last of
/// their hashes, and the first row that broke either.
struct Walked {
    rows: u64,
    head: String,
    broken: Option<BadLink>,
}

/// Counts the rows of the batches confirmed so far, in order, for progress.
#[derive(Default)]
struct Confirmed {
    next: usize,
    early: BTreeMap<usize, usize>,
    rows: u64,
    changed: Option<(i64, String)>,
}

impl Confirmed {
    fn add(&mut self, c: &mut Checked) -> bool {
        if let Some((seq, link)) = c.changed.take()
            && self.changed.as_ref().is_none_or(|(s, _)| seq < *s)
        {
            self.changed = Some((seq, link));
        }
        self.early.insert(c.no, c.rows);
        let before = self.next;
        while let Some(rows) = self.early.remove(&self.next) {
            self.rows += rows as u64;
            self.next += 1;
        }
        self.next != before
    }
}

pub fn verify(conn: &Connection, mut progress: impl FnMut(u64)) -> Result<Verification, LedgerError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    // The lowest seq a worker found changed: the walk need not go past it.
    let changed_at = AtomicI64::new(i64::MAX);
    let (walked, confirmed) = std::thread::scope(|s| {
        let (done_tx, done_rx) = mpsc::channel::<Checked>();
        let mut queues = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = mpsc::sync_channel::<(usize, Batch)>(2);
            let done = done_tx.clone();
            let changed_at = &changed_at;
            s.spawn(move || {
                let mut json = Vec::with_capacity(1_024);
                for (no, mut batch) in rx {
                    let changed = batch.first_changed(&mut json);
                    if let Some((seq, _)) = &changed {
                        changed_at.fetch_min(*seq, Ordering::Relaxed);
                    }
                    let rows = batch.rows.len();
                    batch.text.clear();
                    batch.rows.clear();
                    if done.send(Checked { no, rows, changed, spare: batch }).is_err() {
                        break;
                    }
                }
            });
            queues.push(tx);
        }
        drop(done_tx);
        let mut confirmed = Confirmed::default();
        let walked = walk(
            conn,
            &queues,
            &changed_at,
            |c| {
                if confirmed.add(c) {
                    progress(confirmed.rows);
                }
            },
            &done_rx,
        );
        // Every batch sent is checked before the verdict.
        drop(queues);
        for mut c in done_rx {
            confirmed.add(&mut c);
        }
        (walked, confirmed)
    });
    let walked = walked?;
    let changed = confirmed.changed.filter(|(seq, _)| walked.broken.as_ref().is_none_or(|b| *seq < b.seq));
    if let Some((seq, link)) = changed {
        // Every row before it fits, and the sequence has no gap up to it.
        return Ok(Verification {
            rows: (seq - 1).max(0) as u64,
            head: link,
            first_bad: Some(BadLink {
                seq,
                reason: "its content does not match its hash (the row was changed)".to_string(),
            }),
        });
    }
    if walked.broken.is_none() {
        // Only a worker's panic (re-raised by the scope) can leave rows unhashed;
        // never report a chain intact that was not wholly checked.
        assert_eq!(confirmed.rows, walked.rows, "every row walked was hashed");
        progress(walked.rows);
    }
    Ok(Verification { rows: walked.rows, head: walked.head, first_bad: walked.broken })
}

/// Reads the chain in order, checks sequence and links, and sends the rows
/// to the workers in batches; stops at the first break, or once a worker has
/// found a changed row before the rows still unread.
fn walk(
    conn: &Connection,
    queues: &[mpsc::SyncSender<(usize, Batch)>],
    changed_at: &AtomicI64,
    mut confirmed: impl FnMut(&mut Checked),
    done: &mpsc::Receiver<Checked>,
) -> Result<Walked, LedgerError> {
    let mut stmt = conn.prepare(&format!("{SELECT_ROWS} ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1;
    let mut prev = GENESIS.to_string();
    let mut count = 0u64;
    let mut batch = Batch::default();
    let mut spares: Vec<Batch> = Vec::new();
    let mut sent = 0usize;
    let mut send = |batch: Batch, spares: &mut Vec<Batch>| {
        let sent_ok = queues[sent % queues.len()].send((sent, batch)).is_ok();
        sent += 1;
        while let Ok(mut c) = done.try_recv() {
            confirmed(&mut c);
            spares.push(c.spare);
        }
        sent_ok
    };
    let mut broken = None;
    while let Some(r) = rows.next()? {
        if changed_at.load(Ordering::Relaxed) < expected_seq {
            break;
        }
        let seq: i64 = r.get(0)?;
        if seq != expected_seq {
            let reason = format!("expected row {expected_seq} here: rows {expected_seq} to {} are missing", seq - 1);
            broken = Some(BadLink { seq, reason });
            break;
        }
        let mut spans = [None; 12];
        for (k, (&col, &nullable)) in TEXT_COLUMNS.iter().zip(&NULLABLE).enumerate() {
            if let Some(t) = text(r, col, nullable)? {
                let start = batch.text.len();
                batch.text.push_str(t);
                spans[k] = Some((start, batch.text.len()));
            }
        }
        let row = RawRow { seq, amount_minor: r.get(8)?, spans };
        if batch.field(&row, PREV_HASH) != Some(prev.as_str()) {
            broken = Some(BadLink { seq, reason: "its link to the row before does not match".to_string() });
            break;
        }
        prev.clear();
        prev.push_str(batch.required(&row, HASH));
        batch.rows.push(row);
        expected_seq += 1;
        count += 1;
        if batch.rows.len() == BATCH {
            let full = std::mem::replace(&mut batch, spares.pop().unwrap_or_default());
            if !send(full, &mut spares) {
                break;
            }
        }
    }
    if !batch.rows.is_empty() {
        send(batch, &mut spares);
    }
    Ok(Walked { rows: count, head: prev, broken })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::audit::{self, AuditEntry, AuditRow, Outcome};
    use crate::ledger::tests::ledger;
    use sha2::Digest;

    /// The check as it was before it was spread over threads: one row at a
    /// time, in order. The threaded walk must name the same row.
    fn one_by_one(conn: &Connection) -> Verification {
        let mut stmt = conn.prepare(&format!("{SELECT_ROWS} ORDER BY seq")).unwrap();
        let rows: Vec<AuditRow> = stmt.query_map([], audit::read_row).unwrap().map(Result::unwrap).collect();
        let mut prev = GENESIS.to_string();
        let mut count = 0;
        for (i, row) in rows.iter().enumerate() {
            let expected = i as i64 + 1;
            let reason = if row.seq != expected {
                Some(format!("expected row {expected} here: rows {expected} to {} are missing", row.seq - 1))
            } else if row.prev_hash != prev {
                Some("its link to the row before does not match".to_string())
            } else if row.compute_hash() != row.hash {
                Some("its content does not match its hash (the row was changed)".to_string())
            } else {
                None
            };
            if let Some(reason) = reason {
                return Verification { rows: count, head: prev, first_bad: Some(BadLink { seq: row.seq, reason }) };
            }
            prev = row.hash.clone();
            count += 1;
        }
        Verification { rows: count, head: prev, first_bad: None }
    }

    /// The hash of a row is the one `serde_json::json!` gave when the chain
    /// was first written: stored hashes of old tills still verify.
    #[test]
    fn the_streamed_hash_is_the_hash_of_the_json_array() {
        let row = AuditRow {
            seq: 42,
            at: "2026-11-25T10:00:00.123Z".into(),
            till_id: "TILL-1".into(),
            actor: "Amina \"Mama\" Wanjiku \\ ü 🧾".into(),
            event: "redeem_outcome".into(),
            provider: Some("pesavoucher".into()),
            subject: None,
            transaction_id: Some("0193-\u{0}-\n\t".into()),
            amount_minor: Some(-75_000),
            currency: None,
            outcome: "success".into(),
            details: "completed: \u{7f}\u{1b}[0m</script>".into(),
            prev_hash: "ab".repeat(32),
            hash: String::new(),
        };
        let fields = serde_json::json!([
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
        ]);
        let expected = sha2::Sha256::digest(format!("{}\n{fields}", row.prev_hash).as_bytes());
        assert_eq!(row.compute_hash(), hex::encode(expected));
    }

    fn entry(i: usize) -> AuditEntry {
        AuditEntry {
            amount_minor: (!i.is_multiple_of(3)).then_some(i as i64 * 100),
            subject: i.is_multiple_of(2).then(|| format!("•••-{i:04}")),
            ..AuditEntry::new("amina", "validate", Outcome::Info, format!("event {i} \"quoted\""))
        }
    }

    /// Several batches' worth of rows, broken in each way at chosen rows
    /// (several at once: the earliest is named), against the one-by-one walk.
    #[test]
    fn the_threaded_walk_names_the_row_the_one_by_one_walk_names() {
        let n = BATCH * 3 + 123;
        let edits: &[(&str, &[&str])] = &[
            ("intact", &[]),
            ("an edit late", &["UPDATE audit_log SET details = 'x' WHERE seq = 12000"]),
            ("an edit in the first row", &["UPDATE audit_log SET actor = 'x' WHERE seq = 1"]),
            ("the last row edited", &["UPDATE audit_log SET amount_minor = 7 WHERE seq = 12411"]),
            (
                "an edit before a cut",
                &["UPDATE audit_log SET details = 'x' WHERE seq = 9000", "DELETE FROM audit_log WHERE seq = 9500"],
            ),
            (
                "a cut before an edit",
                &["DELETE FROM audit_log WHERE seq = 4100", "UPDATE audit_log SET details = 'x' WHERE seq = 8000"],
            ),
            (
                "a relinked row before an edit in an earlier batch's worker",
                &[
                    "UPDATE audit_log SET prev_hash = hash WHERE seq = 5000",
                    "UPDATE audit_log SET details = 'x' WHERE seq = 5001",
                ],
            ),
            ("the end cut off", &["DELETE FROM audit_log WHERE seq > 12000"]),
            ("a NULL subject set", &["UPDATE audit_log SET subject = NULL WHERE seq = 3"]),
        ];
        for (what, sql) in edits {
            let (_dir, ledger) = ledger();
            {
                let mut conn = ledger.conn();
                let tx = conn.transaction().unwrap();
                for i in 0..n {
                    audit::append(&tx, "TILL-1", &entry(i)).unwrap();
                }
                tx.commit().unwrap();
                conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").unwrap();
                for s in *sql {
                    conn.execute_batch(s).unwrap();
                }
            }
            let mut reported = Vec::new();
            let got = ledger.verify_audit(|rows| reported.push(rows)).unwrap();
            assert_eq!(got, one_by_one(&ledger.conn()), "{what}");
            assert!(reported.windows(2).all(|w| w[0] <= w[1]), "progress only grows: {what}");
            if got.first_bad.is_none() {
                // Intact, or cut at the end (which only the anchor shows).
                assert_eq!(reported.last().copied(), Some(got.rows), "{what}");
                assert!(sql.is_empty() || sql[0].contains("seq > "), "{what}");
            }
        }
    }
}
