//! The back office's History and Audit tabs. Managers only; every look and
//! every export is in the audit log, with the manager as its actor.

use std::time::{Duration, Instant};

use kaunta_core::history_report::HistoryReportFile;
use kaunta_core::ledger::anchor::AnchoredVerification;
use kaunta_core::ledger::history::{DailyTotals, HistoryCursor, HistoryFilter, HistoryTotals};
use kaunta_core::till::{ExportedFile, HistoryView, TransactionDetail};
use serde::Serialize;
use tauri::State;
use tauri::ipc::Channel;

use super::{CommandResult, manager, public};
use crate::AppState;

/// Rows per page when the screen does not say.
const PAGE_ROWS: u32 = 50;
/// Progress messages at most this often: the window needs a moving bar, not
/// a message per row.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// How far a long task has gone, sent on its channel.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// Sends (done, total) on `channel` at most every [`PROGRESS_EVERY`], and
/// always when done reaches total.
fn throttled(channel: Channel<Progress>) -> impl FnMut(u64, u64) + Send + 'static {
    let mut last: Option<Instant> = None;
    move |done, total| {
        if done >= total || last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            last = Some(Instant::now());
            // A closed window cannot hear; the task goes on regardless.
            let _ = channel.send(Progress { done, total });
        }
    }
}

/// The filter as the screen sent it; a bad date or state is refused with
/// the filter's own plain message rather than Tauri's argument error.
fn parse_filter(value: serde_json::Value) -> CommandResult<HistoryFilter> {
    serde_json::from_value(value).map_err(|e| public("invalid_filter", e.to_string()))
}

/// A page of the filter, newest first. Without a cursor: the first page,
/// with the totals and daily chart of the whole filter, recorded in the
/// audit log as one view; with the cursor of the previous page: the next
/// page of that view.
#[tauri::command]
pub async fn history_page(
    state: State<'_, AppState>,
    filter: serde_json::Value,
    after: Option<HistoryCursor>,
    limit: Option<u32>,
) -> CommandResult<HistoryView> {
    let by = manager(&state).await?;
    state
        .till
        .history_view(&by.name, parse_filter(filter)?, after, limit.unwrap_or(PAGE_ROWS))
        .await
        .map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn history_totals(state: State<'_, AppState>, filter: serde_json::Value) -> CommandResult<HistoryTotals> {
    let by = manager(&state).await?;
    state.till.history_totals(&by.name, parse_filter(filter)?).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn history_daily(state: State<'_, AppState>, filter: serde_json::Value) -> CommandResult<DailyTotals> {
    let by = manager(&state).await?;
    state.till.history_daily(&by.name, parse_filter(filter)?).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn transaction_detail(state: State<'_, AppState>, id: String) -> CommandResult<TransactionDetail> {
    let by = manager(&state).await?;
    state.till.transaction_detail(&by.name, &id).await.map_err(|e| e.to_public())
}

/// Writes the filter's transactions as an RFC 4180 CSV into Downloads (or
/// the data directory's `exports`); answers with the file and its row count.
#[tauri::command]
pub async fn history_export_csv(
    state: State<'_, AppState>,
    filter: serde_json::Value,
    on_progress: Channel<Progress>,
) -> CommandResult<ExportedFile> {
    let by = manager(&state).await?;
    state
        .till
        .export_history_csv_file(&by.name, parse_filter(filter)?, throttled(on_progress))
        .await
        .map_err(|e| e.to_public())
}

/// Saves the filter's totals as a PDF report beside the CSV exports;
/// answers with the file and the report's figures.
#[tauri::command]
pub async fn history_export_pdf(
    state: State<'_, AppState>,
    filter: serde_json::Value,
) -> CommandResult<HistoryReportFile> {
    let by = manager(&state).await?;
    state.till.export_history_pdf(&by.name, parse_filter(filter)?).await.map_err(|e| e.to_public())
}

/// Walks the audit chain and checks it against the last shift close's
/// anchor; answers with the rows checked and the first broken link, if any.
#[tauri::command]
pub async fn audit_verify(
    state: State<'_, AppState>,
    on_progress: Channel<Progress>,
) -> CommandResult<AnchoredVerification> {
    let by = manager(&state).await?;
    state.till.verify_audit_with_progress(&by.name, throttled(on_progress)).await.map_err(|e| e.to_public())
}
