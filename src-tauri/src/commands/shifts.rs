//! Shifts at this till: open, the running X report, the closing Z report
//! and its reprints.

use kaunta_core::ledger::shifts::ShiftRow;
use kaunta_core::shift::{ReportOutcome, ShiftClosed, ZReprinted};
use tauri::State;

use super::{CommandResult, manager, signed_in};
use crate::AppState;

/// The open shift at this till, if any.
#[tauri::command]
pub async fn shift_current(state: State<'_, AppState>) -> CommandResult<Option<ShiftRow>> {
    signed_in(&state).await?;
    state.till.current_shift().await.map_err(|e| e.to_public())
}

/// Anyone signed in may open a shift.
#[tauri::command]
pub async fn shift_open(state: State<'_, AppState>) -> CommandResult<ShiftRow> {
    let actor = signed_in(&state).await?;
    state.till.open_shift(&actor).await.map_err(|e| e.to_public())
}

/// The running shift's figures; `print` also saves (and prints) the PDF.
#[tauri::command]
pub async fn shift_x_report(state: State<'_, AppState>, print: Option<bool>) -> CommandResult<ReportOutcome> {
    let actor = signed_in(&state).await?;
    state.till.x_report(&actor, print.unwrap_or(false)).await.map_err(|e| e.to_public())
}

/// Managers only: closes the shift and returns the Z report and its PDF.
#[tauri::command]
pub async fn shift_close(state: State<'_, AppState>) -> CommandResult<ShiftClosed> {
    let by = manager(&state).await?;
    state.till.close_shift(&by).await.map_err(|e| e.to_public())
}

/// Managers only: a closed shift's Z report again, marked REPRINT.
#[tauri::command]
pub async fn shift_reprint_z(state: State<'_, AppState>, shift_id: String) -> CommandResult<ZReprinted> {
    let by = manager(&state).await?;
    state.till.reprint_z(&by, &shift_id).await.map_err(|e| e.to_public())
}

/// Managers only: this till's shifts, newest first.
#[tauri::command]
pub async fn shift_list(state: State<'_, AppState>, limit: Option<u32>) -> CommandResult<Vec<ShiftRow>> {
    manager(&state).await?;
    state.till.list_shifts(limit.unwrap_or(50)).await.map_err(|e| e.to_public())
}
