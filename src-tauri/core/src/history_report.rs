//! The manager's history report: what a filter adds up to, on one page of
//! the 80 mm roll, saved as PDF beside the CSV exports. Figures only, from
//! the ledger's totals (fast at a million rows): the CSV is for the rows.
//!
//! One report model serves the window, the command line and the PDF.

use serde::Serialize;

use crate::FlowError;
use crate::export;
use crate::ledger::history::{HistoryFilter, HistoryTotals};
use crate::ledger::{AuditEntry, Outcome};
use crate::receipt;
use crate::shift::{CurrencyLine, GroupLine};
use crate::till::Till;

/// Who made the report, where and when, for which filter, and its totals:
/// never a sum across currencies, operations or the training flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryReport {
    pub store_name: String,
    pub till_id: String,
    pub exported_by: String,
    /// When it was made, UTC as stored; printed in local time.
    pub at: String,
    /// The filter as the audit log words it ([`HistoryFilter::summary`]).
    pub filter: String,
    /// Training transactions are counted (in lines of their own): the
    /// filter asked for them or the till is in training mode.
    pub training: bool,
    pub count: i64,
    /// By training flag, currency and operation.
    pub by_currency: Vec<CurrencyLine>,
    /// By training flag, currency, provider, operation and state.
    pub by_provider: Vec<GroupLine>,
}

impl HistoryReport {
    pub fn new(
        store_name: &str,
        till_id: &str,
        exported_by: &str,
        at: String,
        filter: &HistoryFilter,
        totals: &HistoryTotals,
    ) -> Self {
        HistoryReport {
            store_name: store_name.into(),
            till_id: till_id.into(),
            exported_by: exported_by.into(),
            at,
            filter: filter.summary(),
            training: filter.include_training,
            count: totals.count,
            by_currency: totals.by_currency.iter().map(CurrencyLine::from).collect(),
            by_provider: totals.groups.iter().map(GroupLine::from).collect(),
        }
    }
}

/// A history report and the PDF it was saved as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryReportFile {
    pub path: String,
    pub report: HistoryReport,
}

impl Till {
    /// The filter's totals as a PDF report, saved as
    /// `kaunta-history-<till>-<yyyymmdd-hhmmss>.pdf` where the CSV exports
    /// go, and recorded in the audit log (`history_exported`), or its failure.
    pub async fn export_history_pdf(&self, actor: &str, filter: HistoryFilter) -> Result<HistoryReportFile, FlowError> {
        let actor = crate::redeem::require_cashier(actor)?.to_string();
        let filter = self.history_scope(filter)?;
        let scoped = filter.clone();
        let totals = self.db(move |l| l.history_totals(&scoped)).await?;
        let now = chrono::Local::now();
        let at = now.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let config = self.config();
        let report = HistoryReport::new(&config.store_name, &config.till_id, &actor, at, &filter, &totals);

        let (dir, till_id, copy) = (export::export_dir(self.data_dir()), config.till_id.clone(), report.clone());
        let saved = Till::blocking(move || {
            let path = export::new_history_file(&dir, &till_id, now, "pdf").map_err(|e| e.to_string())?;
            receipt::history::save(&copy, &path).map_err(|e| e.to_string())?;
            Ok::<_, String>(path)
        })
        .await;
        let (outcome, details) = match &saved {
            Ok(path) => (
                Outcome::Success,
                format!("PDF report of {} transaction(s) saved {}; {}", report.count, path.display(), report.filter),
            ),
            Err(e) => (Outcome::Failure, format!("PDF report not saved: {e}; {}", report.filter)),
        };
        self.audit(AuditEntry {
            provider: filter.provider.map(|p| p.as_str().into()),
            ..AuditEntry::new(&actor, "history_exported", outcome, details)
        })
        .await?;
        match saved {
            Ok(path) => Ok(HistoryReportFile { path: path.display().to_string(), report }),
            Err(message) => Err(FlowError::Declined { code: "export_failed", message }),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Till;
    use crate::ledger::history::HistoryFilter;

    fn insert(till: &Till, id: &str, provider: &str, state: &str, amount: i64, currency: &str, training: bool) {
        let conn = rusqlite::Connection::open(till.ledger().path()).unwrap();
        conn.execute(
            "INSERT INTO transactions (id, created_at, updated_at, till_id, cashier, provider, operation,
                code_masked, amount_minor, currency, state, owner, training)
             VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), '', 'TILL-1', 'Amina', ?2, 'redeem', '••••1234',
                ?3, ?4, ?5, 'x', ?6)",
            rusqlite::params![id, provider, amount, currency, state, training],
        )
        .unwrap();
    }

    #[tokio::test]
    async fn a_history_report_is_written_where_exports_go_and_audited() {
        let (_dir, till) = crate::till::test_till().await;
        insert(&till, "a", "pesavoucher", "completed", 120_050, "KES", false);
        insert(&till, "b", "pesavoucher", "completed", 30_000, "KES", false);
        insert(&till, "c", "telesend", "failed", 50_000, "ETB", false);
        insert(&till, "d", "pesapal", "unknown", 10_000, "KES", false);
        insert(&till, "t", "pesavoucher", "completed", 999_900, "KES", true);

        let filter = HistoryFilter { include_training: true, ..Default::default() };
        let file = till.export_history_pdf("Mama Njeri", filter).await.unwrap();
        let path = std::path::PathBuf::from(&file.path);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let till_part = format!(
            "kaunta-history-{}-",
            till.config().till_id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_', "_")
        );
        assert!(name.starts_with(&till_part) && name.ends_with(".pdf"), "{name}");
        assert_eq!(path.parent(), Some(crate::export::export_dir(till.data_dir()).as_path()));
        assert!(bytes.starts_with(b"%PDF-"));
        let r = &file.report;
        assert_eq!((r.count, r.exported_by.as_str(), r.training), (5, "Mama Njeri", true));
        let kes = r.by_currency.iter().find(|c| c.total.currency.as_deref() == Some("KES") && !c.total.training);
        let kes = kes.unwrap();
        assert_eq!((kes.total.completed_count, kes.total.open_count), (2, 1));
        assert_eq!(kes.completed.as_ref().unwrap().display, "KES 1,500.50");

        let conn = rusqlite::Connection::open(till.ledger().path()).unwrap();
        let (event, actor, outcome, details): (String, String, String, String) = conn
            .query_row("SELECT event, actor, outcome, details FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!((event.as_str(), actor.as_str(), outcome.as_str()), ("history_exported", "Mama Njeri", "success"));
        assert!(details.contains("PDF report of 5 transaction(s)"), "{details}");
        assert!(details.contains("training included") && details.contains(name), "{details}");

        let bad = HistoryFilter { cashier: Some(" ".into()), ..Default::default() };
        assert_eq!(till.export_history_pdf("Mama Njeri", bad).await.unwrap_err().code(), "invalid_filter");
    }
}
