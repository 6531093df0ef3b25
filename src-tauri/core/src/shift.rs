//! Shifts: opened by anyone signed in at the till, closed by a manager. An
//! X report shows the running shift's figures; closing makes the Z report,
//! keeps the audit log's head on it and in the keyring (the anchor that
//! verification checks the log against), saves it as PDF and prints it.
//! A manager may reprint any closed shift's Z report later: the figures the
//! close kept, marked REPRINT, saved beside the original, never over it.
//!
//! One report model serves the window, the command line and the PDF.

use serde::Serialize;

use crate::FlowError;
use crate::backup::BackupOutcome;
use crate::ledger::anchor::{AnchoredVerification, AuditAnchor};
use crate::ledger::history::{CurrencyTotal, HistoryTotals, TotalsGroup};
use crate::ledger::shifts::{Closed, Kept, KeptZ, Opened, ShiftFigures, ShiftRow};
use crate::ledger::{AuditEntry, Outcome};
use crate::providers::ProviderId;
use crate::receipt::{self, Delivery};
use crate::staff::{Staff, StaffError};
use crate::till::{MoneyView, Till};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// The running shift, figures up to now; the shift stays open.
    X,
    /// The shift closed: its final figures and the audit head it closed on.
    Z,
}

/// One currency's figures for one operation, with its amounts as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyLine {
    #[serde(flatten)]
    pub total: CurrencyTotal,
    pub completed: Option<MoneyView>,
    /// Pending or unknown: money that may or may not have moved.
    pub open: Option<MoneyView>,
}

impl From<&CurrencyTotal> for CurrencyLine {
    fn from(t: &CurrencyTotal) -> Self {
        let money = |minor| MoneyView::from_parts(Some(minor), t.currency.as_deref());
        CurrencyLine { completed: money(t.completed_minor), open: money(t.open_minor), total: t.clone() }
    }
}

/// One provider x operation x state x currency group, with its amount as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupLine {
    #[serde(flatten)]
    pub group: TotalsGroup,
    pub provider_name: String,
    pub amount: Option<MoneyView>,
}

impl From<&TotalsGroup> for GroupLine {
    fn from(g: &TotalsGroup) -> Self {
        let provider_name = g.provider.parse::<ProviderId>().map_or(g.provider.clone(), |p| p.display_name().into());
        GroupLine {
            amount: MoneyView::from_parts(Some(g.amount_minor), g.currency.as_deref()),
            provider_name,
            group: g.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashierLine {
    pub cashier: String,
    pub count: i64,
    pub by_currency: Vec<CurrencyLine>,
}

/// Who asked for a copy of a Z report, and when (RFC 3339 UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reprint {
    pub by: String,
    pub at: String,
}

/// The audit log's last row when the shift closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// An X or Z report: who, where, when, and the shift's figures, never a sum
/// across currencies, operations or the training flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftReport {
    pub kind: ReportKind,
    pub store_name: String,
    pub shift: ShiftRow,
    /// The end of the period counted: the close (Z), or when made (X).
    pub until: String,
    /// The till is in training mode: its training transactions are counted,
    /// in lines of their own (`training: true`). A live till counts real
    /// business only.
    pub training: bool,
    pub count: i64,
    /// By training flag, currency and operation.
    pub by_currency: Vec<CurrencyLine>,
    /// By training flag, currency, provider, operation and state.
    pub by_provider: Vec<GroupLine>,
    pub by_cashier: Vec<CashierLine>,
    /// Z only.
    pub audit_head: Option<AuditHead>,
    /// A copy made after the close (Z only), printed marked REPRINT.
    pub reprint: Option<Reprint>,
}

impl ShiftReport {
    pub fn new(
        kind: ReportKind,
        store_name: &str,
        shift: ShiftRow,
        until: String,
        training: bool,
        f: &ShiftFigures,
    ) -> Self {
        let lines = |t: &HistoryTotals| t.by_currency.iter().map(CurrencyLine::from).collect::<Vec<_>>();
        ShiftReport {
            kind,
            store_name: store_name.to_string(),
            audit_head: match (kind, shift.audit_head_seq, &shift.audit_head_hash) {
                (ReportKind::Z, Some(seq), Some(hash)) => Some(AuditHead { seq, hash: hash.clone() }),
                _ => None,
            },
            shift,
            until,
            training,
            count: f.totals.count,
            by_currency: lines(&f.totals),
            by_provider: f.totals.groups.iter().map(GroupLine::from).collect(),
            by_cashier: f
                .by_cashier
                .iter()
                .map(|c| CashierLine {
                    cashier: c.cashier.clone(),
                    count: c.totals.count,
                    by_currency: lines(&c.totals),
                })
                .collect(),
            reprint: None,
        }
    }

    /// One line for the audit log: what the report counted.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} transaction(s)", self.count)];
        for c in &self.by_currency {
            let amount = c.completed.as_ref().map_or(String::new(), |m| format!(" {}", m.display));
            parts.push(format!(
                "{} {}: {} completed{amount}, {} open, {} failed{}",
                c.total.currency.as_deref().unwrap_or("no amount"),
                c.total.operation,
                c.total.completed_count,
                c.total.open_count,
                c.total.failed_count,
                if c.total.training { " (training)" } else { "" }
            ));
        }
        parts.join("; ")
    }
}

/// A report and where its PDF went (when one was made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportOutcome {
    pub report: ShiftReport,
    pub delivery: Option<Delivery>,
}

/// A Z report reprinted, and where its copy went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZReprinted {
    pub report: ShiftReport,
    pub delivery: Delivery,
}

/// Why a Z report cannot be reprinted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReprintError {
    #[error("There is no shift {0} at this till")]
    NoSuchShift(String),
    #[error("This shift is still open: its Z report is printed when a manager closes it")]
    NotClosed,
    #[error(
        "This shift closed before Kaunta kept Z report figures for reprinting: use the PDF saved at its close, in the reports folder"
    )]
    NotKept,
    #[error(
        "The Z report figures kept for this shift were changed after it closed: they no longer match the audit log. Use the PDF saved at its close, and check the audit log"
    )]
    Altered,
}

impl ReprintError {
    pub fn code(&self) -> &'static str {
        match self {
            ReprintError::NoSuchShift(_) => "shift_not_found",
            ReprintError::NotClosed => "shift_not_closed",
            ReprintError::NotKept => "z_report_not_kept",
            ReprintError::Altered => "z_report_altered",
        }
    }
}

/// The Z report, its PDF, and whether the audit head was kept in the keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftClosed {
    pub report: ShiftReport,
    pub delivery: Delivery,
    pub anchored: bool,
    /// Why the head could not be kept in the keyring (it is still on the
    /// report and on the shift).
    pub anchor_error: Option<String>,
    /// The backup made after the close (`[backup] at_shift_close`), or why
    /// none could be made; None when backups at close are off.
    pub backup: Option<BackupOutcome>,
}

fn no_shift() -> FlowError {
    FlowError::Declined { code: "no_open_shift", message: "No shift is open at this till: open one first".into() }
}

impl Till {
    pub async fn current_shift(&self) -> Result<Option<ShiftRow>, FlowError> {
        self.db(|l| l.current_shift()).await
    }

    /// Opens a shift at this till; refused while one is open.
    pub async fn open_shift(&self, actor: &str) -> Result<ShiftRow, FlowError> {
        let actor = crate::redeem::require_cashier(actor)?.to_string();
        let id = uuid::Uuid::now_v7().to_string();
        let entry = AuditEntry::new(
            &actor,
            "shift_opened",
            Outcome::Success,
            format!("shift opened at {}", self.config().till_id),
        );
        match self.db(move |l| l.open_shift(&id, &actor, &entry)).await? {
            Opened::New(shift) => Ok(shift),
            Opened::AlreadyOpen(shift) => Err(FlowError::Declined {
                code: "shift_already_open",
                message: format!(
                    "A shift is already open at this till: opened by {} on {}",
                    shift.opened_by,
                    crate::redeem::local_time(&shift.opened_at)
                ),
            }),
        }
    }

    /// Every transaction belongs to a shift, so none is missing from a Z
    /// report: the first one after a close (or on a new till) opens a shift,
    /// in the name of whoever made it, and the audit log says it was automatic.
    pub(crate) async fn ensure_shift_open(&self, actor: &str) -> Result<(), FlowError> {
        if self.db(|l| l.current_shift()).await?.is_some() {
            return Ok(());
        }
        let (id, actor) = (uuid::Uuid::now_v7().to_string(), actor.to_string());
        let entry = AuditEntry::new(
            &actor,
            "shift_opened",
            Outcome::Info,
            format!("shift opened automatically at {} by its first transaction", self.config().till_id),
        );
        // Another process may open it first: either way a shift is open.
        self.db(move |l| l.open_shift(&id, &actor, &entry)).await.map(|_| ())
    }

    /// The running shift's X report, recorded as viewed in the audit log;
    /// with `print`, also saved as PDF (and printed when printing is on).
    pub async fn x_report(&self, actor: &str, print: bool) -> Result<ReportOutcome, FlowError> {
        let actor = crate::redeem::require_cashier(actor)?.to_string();
        let training = self.is_training();
        let store = self.config().store_name.clone();
        let who = actor.clone();
        let report = self
            .db(move |l| {
                let Some(shift) = l.current_shift()? else { return Ok(None) };
                let until = crate::ledger::now_text();
                let figures = l.shift_figures(&shift, training)?;
                let report = ShiftReport::new(ReportKind::X, &store, shift, until, training, &figures);
                l.record(&AuditEntry {
                    subject: Some(report.shift.id.clone()),
                    ..AuditEntry::new(
                        &who,
                        "shift_report_viewed",
                        Outcome::Success,
                        format!("X report: {}", report.summary()),
                    )
                })?;
                Ok(Some(report))
            })
            .await?
            .ok_or_else(no_shift)?;
        let delivery = if print { Some(self.deliver_report(&report, &actor).await) } else { None };
        Ok(ReportOutcome { report, delivery })
    }

    /// Closes the shift (managers only): the Z report's figures, the
    /// `shift_closed` audit row and the head it makes, in one transaction;
    /// then the head in the keyring, the PDF saved and printed.
    pub async fn close_shift(&self, by: &Staff) -> Result<ShiftClosed, FlowError> {
        if !by.is_manager() {
            return Err(StaffError::NotManager.into());
        }
        let training = self.is_training();
        let entry = AuditEntry::new(&by.name, "shift_closed", Outcome::Success, "");
        let (name, till_id) = (by.name.clone(), self.config().till_id.clone());
        let store = self.config().store_name.clone();
        let closed = self
            .db(move |l| {
                l.close_shift(&name, &store, training, &entry, |shift, figures| {
                    let report = ShiftReport::new(ReportKind::Z, "", shift.clone(), String::new(), training, figures);
                    format!("Z report of the shift opened by {} at {}: {}", shift.opened_by, till_id, report.summary())
                })
            })
            .await?
            .ok_or_else(no_shift)?;
        let Closed { shift, figures, head } = closed;
        let until = shift.closed_at.clone().unwrap_or_default();
        let report = ShiftReport::new(ReportKind::Z, &self.config().store_name, shift, until, training, &figures);

        let anchor = AuditAnchor {
            till_id: head.till_id.clone(),
            database: self.ledger().anchor_name(),
            seq: head.seq,
            hash: head.hash.clone(),
            at: head.at.clone(),
        };
        let secrets = self.secrets().clone();
        let anchor_error = Till::blocking(move || secrets.set_audit_anchor(&anchor)).await.err().map(|e| e.to_string());
        if let Some(error) = &anchor_error {
            let _ = self
                .audit(AuditEntry {
                    subject: Some(report.shift.id.clone()),
                    ..AuditEntry::new(
                        &by.name,
                        "audit_anchor_failed",
                        Outcome::Failure,
                        format!("audit head row {} not kept in the keyring: {error}", head.seq),
                    )
                })
                .await;
        }
        let delivery = self.deliver_report(&report, &by.name).await;
        // After the report is out: a backup that fails (a stick not plugged
        // in) must not cost the manager the Z report, and the close stands.
        let backup = if self.config().backup.at_shift_close {
            Some(self.back_up_reporting(&by.name, &format!("at the Z close of shift {}", report.shift.id)).await)
        } else {
            None
        };
        Ok(ShiftClosed { report, delivery, anchored: anchor_error.is_none(), anchor_error, backup })
    }

    /// A copy of a closed shift's Z report (managers only): the figures,
    /// store name and training flag its close kept, marked REPRINT with who
    /// asked and when, saved as `reports/<shift id>-z-reprint-N.pdf` and
    /// printed when printing is on. A shift closed before figures were kept
    /// is refused rather than recounted: a recount may differ from the original.
    pub async fn reprint_z(&self, by: &Staff, shift_id: &str) -> Result<ZReprinted, FlowError> {
        if !by.is_manager() {
            return Err(StaffError::NotManager.into());
        }
        let id = shift_id.trim().to_string();
        let found = self.db(move |l| l.shift_with_kept_z(&id)).await?;
        let (shift, kept) =
            found.ok_or_else(|| ReprintError::NoSuchShift(crate::text::excerpt(shift_id.trim(), 40)))?;
        let Some(until) = shift.closed_at.clone() else {
            return Err(ReprintError::NotClosed.into());
        };
        let KeptZ { store_name, training, figures } = match kept {
            Kept::Figures(kept) => kept,
            Kept::Nothing => return Err(ReprintError::NotKept.into()),
            Kept::Altered => {
                let entry = AuditEntry {
                    subject: Some(shift.id.clone()),
                    ..AuditEntry::new(
                        &by.name,
                        "shift_report_reprint_refused",
                        Outcome::Failure,
                        "the Z report figures kept on the shift no longer match its shift_closed audit row",
                    )
                };
                self.audit(entry).await?;
                return Err(ReprintError::Altered.into());
            }
        };
        let mut report = ShiftReport::new(ReportKind::Z, &store_name, shift, until, training, &figures);
        report.reprint = Some(Reprint { by: by.name.clone(), at: crate::ledger::now_text() });
        let delivery = self.deliver_report(&report, &by.name).await;
        Ok(ZReprinted { report, delivery })
    }

    /// This till's shifts, newest first.
    pub async fn list_shifts(&self, limit: u32) -> Result<Vec<ShiftRow>, FlowError> {
        self.db(move |l| l.recent_shifts(limit)).await
    }

    /// The audit chain, checked against the head kept in the keyring at the
    /// last shift close.
    pub async fn verify_audit_anchored(&self) -> Result<AnchoredVerification, FlowError> {
        let (secrets, till_id, database) =
            (self.secrets().clone(), self.config().till_id.clone(), self.ledger().anchor_name());
        let anchor = Till::blocking(move || secrets.audit_anchor(&till_id, &database)).await.map_err(|e| e.to_string());
        self.db(move |l| l.verify_audit_anchored(anchor, |_| {})).await
    }

    /// Saves the report under `reports/` and prints it when printing is on;
    /// never fails the close: the shift is closed, the manager must know that
    /// first. A reprint is audited as one, under the manager who asked.
    async fn deliver_report(&self, report: &ShiftReport, actor: &str) -> Delivery {
        let data_dir = self.data_dir().to_path_buf();
        let copy = report.clone();
        let saved = Till::blocking(move || receipt::report::save(&copy, &data_dir)).await;
        let delivery = match saved {
            Ok((path, height)) if self.config().receipt.print => {
                receipt::print::print(&path, self.config().receipt.printer.as_deref(), Some(height)).await
            }
            Ok((path, _)) => {
                Delivery { path: path.display().to_string(), printed: false, printer: None, print_error: None }
            }
            Err(e) => Delivery { path: String::new(), printed: false, printer: None, print_error: Some(e.to_string()) },
        };
        let ok = delivery.print_error.is_none();
        let kind = match (report.kind, report.reprint.is_some()) {
            (ReportKind::X, _) => "X report",
            (ReportKind::Z, false) => "Z report",
            (ReportKind::Z, true) => "Z report reprint",
        };
        let details = match (&delivery.printer, &delivery.print_error) {
            (_, Some(err)) => format!("{kind}: {err}"),
            (Some(p), None) if delivery.printed => format!("{kind} printed on {p}, saved {}", delivery.path),
            _ => format!("{kind} saved {}", delivery.path),
        };
        let entry = AuditEntry {
            subject: Some(report.shift.id.clone()),
            ..AuditEntry::new(
                actor,
                match (report.reprint.is_some(), ok) {
                    (false, true) => "shift_report_printed",
                    (false, false) => "shift_report_print_failed",
                    (true, true) => "shift_report_reprinted",
                    (true, false) => "shift_report_reprint_failed",
                },
                if ok { Outcome::Success } else { Outcome::Failure },
                details,
            )
        };
        let _ = self.audit(entry).await;
        delivery
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Till;
    use crate::staff::Role;

    fn manager() -> Staff {
        Staff { name: "Mama Njeri".into(), role: Role::Manager }
    }

    /// Opens a shift dated a second ago, so rows written at its opening
    /// come before a close made now without waiting for the clock.
    async fn open_a_second_ago(till: &Till) -> ShiftRow {
        let shift = till.open_shift("Amina").await.unwrap();
        sql(till, "UPDATE shifts SET opened_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 second')");
        shift
    }

    /// A transaction of the open shift, at its opening, straight into the table.
    fn insert(till: &Till, id: &str, state: &str, amount: i64) {
        let conn = rusqlite::Connection::open(till.ledger().path()).unwrap();
        conn.execute(
            "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                amount_minor, currency, state, owner, training)
             VALUES (?1, (SELECT opened_at FROM shifts WHERE closed_at IS NULL), '', ?2, 'Amina', 'pesavoucher',
                'redeem', ?3, 'KES', ?4, 'x', ?5)",
            rusqlite::params![id, till.config().till_id, amount, state, till.is_training()],
        )
        .unwrap();
    }

    fn sql(till: &Till, statement: &str) {
        rusqlite::Connection::open(till.ledger().path()).unwrap().execute(statement, []).unwrap();
    }

    #[tokio::test]
    async fn a_reprint_shows_what_the_close_printed_even_after_an_outcome_is_settled() {
        let (_dir, till) = crate::till::test_till().await;
        open_a_second_ago(&till).await;
        insert(&till, "a", "completed", 75_000);
        insert(&till, "b", "unknown", 30_000);
        let closed = till.close_shift(&manager()).await.unwrap();
        let id = closed.report.shift.id.clone();
        let original = std::fs::read(&closed.delivery.path).unwrap();

        // Settled after the close: a recount would now show it completed.
        sql(&till, "UPDATE transactions SET state = 'completed' WHERE id = 'b'");
        let again = till.reprint_z(&Staff { name: "Baraka".into(), role: Role::Manager }, &id).await.unwrap();
        let marked = again.report.reprint.clone().expect("marked as a reprint");
        assert_eq!(marked.by, "Baraka");
        assert_eq!(ShiftReport { reprint: None, ..again.report.clone() }, closed.report, "the close's figures");
        let kes = &again.report.by_currency[0];
        assert_eq!((kes.total.completed_count, kes.total.open_count), (1, 1));

        assert!(again.delivery.path.ends_with(&format!("{id}-z-reprint-1.pdf")), "{}", again.delivery.path);
        assert!(std::fs::read(&again.delivery.path).unwrap().starts_with(b"%PDF-"));
        assert_eq!(std::fs::read(&closed.delivery.path).unwrap(), original, "the original is never overwritten");
        let second = till.reprint_z(&manager(), &id).await.unwrap();
        assert!(second.delivery.path.ends_with(&format!("{id}-z-reprint-2.pdf")), "{}", second.delivery.path);

        let conn = rusqlite::Connection::open(till.ledger().path()).unwrap();
        let (actor, outcome, subject, details): (String, String, String, String) = conn
            .query_row(
                "SELECT actor, outcome, subject, details FROM audit_log WHERE event = 'shift_report_reprinted'
                 ORDER BY seq LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!((actor.as_str(), outcome.as_str(), subject.as_str()), ("Baraka", "success", id.as_str()));
        assert!(details.starts_with("Z report reprint saved ") && details.ends_with("-z-reprint-1.pdf"), "{details}");
    }

    fn audit_rows(till: &Till, event: &str) -> Vec<(String, String, String)> {
        let conn = rusqlite::Connection::open(till.ledger().path()).unwrap();
        let mut stmt =
            conn.prepare("SELECT outcome, subject, details FROM audit_log WHERE event = ?1 ORDER BY seq").unwrap();
        stmt.query_map([event], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    }

    #[tokio::test]
    async fn a_z_close_backs_up_after_the_report_and_says_where() {
        let (_dir, till) = crate::till::test_till().await;
        open_a_second_ago(&till).await;
        insert(&till, "a", "completed", 75_000);
        let closed = till.close_shift(&manager()).await.unwrap();
        let Some(crate::backup::BackupOutcome::Made(made)) = &closed.backup else {
            panic!("no backup: {:?}", closed.backup);
        };
        assert!(made.check.path.starts_with(&till.backup_dir().display().to_string()), "{}", made.check.path);
        assert_eq!(made.check.transactions, 1);
        // The backup holds the close: its report printed and its head anchored.
        let head = closed.report.audit_head.clone().unwrap();
        assert!(made.check.head.seq > head.seq, "{:?} after {head:?}", made.check.head);
        let copy = crate::backup::verify_backup(std::path::Path::new(&made.check.path)).unwrap();
        assert_eq!(copy, made.check);
        let conn = rusqlite::Connection::open(&made.check.path).unwrap();
        let kept: String =
            conn.query_row("SELECT hash FROM audit_log WHERE seq = ?1", [head.seq], |r| r.get(0)).unwrap();
        assert_eq!(kept, head.hash);
        let printed: i64 = conn
            .query_row("SELECT COUNT(*) FROM audit_log WHERE event = 'shift_report_printed'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(printed, 1, "the report was delivered before the copy was made");

        let made_rows = audit_rows(&till, "backup_made");
        assert_eq!(made_rows.len(), 1);
        let (outcome, subject, details) = &made_rows[0];
        assert_eq!((outcome.as_str(), subject.as_str()), ("success", made.check.path.as_str()));
        assert!(details.starts_with(&format!("at the Z close of shift {}: 1 transaction(s)", closed.report.shift.id)));
        assert!(details.contains(&format!("head row {} {}", made.check.head.seq, made.check.head.hash)), "{details}");
    }

    #[tokio::test]
    async fn a_backup_that_fails_does_not_fail_the_close() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config::default();
        config.receipt.print = false;
        config.backup.dir = Some(dir.path().join("usb-stick-not-plugged-in"));
        config.save(dir.path()).unwrap();
        let options = crate::TillOptions { keyring_service: format!("kaunta-test-{}", uuid::Uuid::now_v7()) };
        let till = Till::open(dir.path(), options).await.unwrap();
        open_a_second_ago(&till).await;
        let closed = till.close_shift(&manager()).await.unwrap();
        assert!(closed.report.shift.closed_at.is_some());
        assert!(std::path::Path::new(&closed.delivery.path).exists(), "the Z report was saved");
        let Some(crate::backup::BackupOutcome::Failed { code, message }) = &closed.backup else {
            panic!("expected a failure: {:?}", closed.backup);
        };
        assert_eq!(code, "backup_dir_missing");
        assert!(message.contains("usb-stick-not-plugged-in does not exist"), "{message}");
        assert!(till.current_shift().await.unwrap().is_none(), "the shift is closed");
        let failed = audit_rows(&till, "backup_failed");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, "failure");
        assert!(failed[0].2.ends_with(message.as_str()), "{}", failed[0].2);

        // Off in the config: no backup, and nothing said about one.
        let mut config = till.config().clone();
        config.backup.at_shift_close = false;
        drop(till);
        config.save(dir.path()).unwrap();
        let options = crate::TillOptions { keyring_service: format!("kaunta-test-{}", uuid::Uuid::now_v7()) };
        let till = Till::open(dir.path(), options).await.unwrap();
        open_a_second_ago(&till).await;
        assert_eq!(till.close_shift(&manager()).await.unwrap().backup, None);
        assert_eq!(audit_rows(&till, "backup_failed").len(), 1);
    }

    #[tokio::test]
    async fn only_a_manager_reprints_and_only_a_closed_shift_with_kept_figures() {
        let (_dir, till) = crate::till::test_till().await;
        let open = till.open_shift("Amina").await.unwrap();
        let cashier = Staff { name: "Amina".into(), role: Role::Cashier };
        assert_eq!(till.reprint_z(&cashier, &open.id).await.unwrap_err().code(), "not_manager");
        let unknown = till.reprint_z(&manager(), "no-such-shift").await.unwrap_err();
        assert_eq!(
            (unknown.code(), unknown.to_string().as_str()),
            ("shift_not_found", "There is no shift no-such-shift at this till")
        );
        assert_eq!(till.reprint_z(&manager(), &open.id).await.unwrap_err().code(), "shift_not_closed");

        till.close_shift(&manager()).await.unwrap();
        assert_eq!(till.reprint_z(&cashier, &open.id).await.unwrap_err().code(), "not_manager");
        // As a shift closed before schema 007 left it.
        sql(&till, "UPDATE shifts SET z_figures = NULL");
        let e = till.reprint_z(&manager(), &open.id).await.unwrap_err();
        assert_eq!(e.code(), "z_report_not_kept");
        assert!(e.to_string().contains("use the PDF saved at its close"), "{e}");
        // Figures changed in the file after the close: refused, and the refusal audited.
        sql(&till, "UPDATE shifts SET z_figures = '{\"store_name\":\"x\",\"training\":false,\"by_cashier\":[]}'");
        let e = till.reprint_z(&manager(), &open.id).await.unwrap_err();
        assert_eq!(e.code(), "z_report_altered");
        let conn = rusqlite::Connection::open(till.ledger().path()).unwrap();
        let refused: i64 = conn
            .query_row("SELECT COUNT(*) FROM audit_log WHERE event = 'shift_report_reprint_refused'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(refused, 1);
        let reprints = std::fs::read_dir(till.data_dir().join("reports"))
            .unwrap()
            .filter(|f| f.as_ref().unwrap().file_name().to_string_lossy().contains("reprint"))
            .count();
        assert_eq!(reprints, 0, "nothing saved for a refused reprint");
    }
}
