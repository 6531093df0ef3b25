//! The back office's Audit tab: a backup of the till's database on demand.

use kaunta_core::backup::BackupMade;
use tauri::State;

use super::{CommandResult, manager};
use crate::AppState;

/// Managers only: copies the ledger into `[backup] dir`, checks the copy,
/// and answers with its file, counts and audit head (or why none was made;
/// either way the attempt is in the audit log under the manager's name).
#[tauri::command]
pub async fn backup_now(state: State<'_, AppState>) -> CommandResult<BackupMade> {
    let by = manager(&state).await?;
    state.till.back_up(&by.name, "asked for in the back office").await.map_err(|e| e.to_public())
}
