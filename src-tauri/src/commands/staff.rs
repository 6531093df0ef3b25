//! The staff list, for managers: add people, reset PINs, change roles,
//! deactivate.

use kaunta_core::staff::{Role, StaffChange, StaffView};
use serde::Deserialize;
use tauri::State;

use super::{CommandResult, manager};
use crate::AppState;

fn role(s: &str) -> CommandResult<Role> {
    s.parse().map_err(|e: kaunta_core::staff::StaffError| e.to_public())
}

#[tauri::command]
pub async fn staff_list(state: State<'_, AppState>) -> CommandResult<Vec<StaffView>> {
    manager(&state).await?;
    state.till.list_staff().await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn staff_add(
    state: State<'_, AppState>,
    name: String,
    role: String,
    pin: String,
) -> CommandResult<StaffView> {
    let by = manager(&state).await?;
    state.till.add_staff(&by, &name, self::role(&role)?, &pin).await.map_err(|e| e.to_public())
}

#[derive(Debug, Deserialize)]
pub struct StaffChangeInput {
    pub pin: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
}

#[tauri::command]
pub async fn staff_change(
    state: State<'_, AppState>,
    name: String,
    change: StaffChangeInput,
) -> CommandResult<StaffView> {
    let by = manager(&state).await?;
    let change =
        StaffChange { pin: change.pin, role: change.role.as_deref().map(role).transpose()?, active: change.active };
    state.till.change_staff(&by, &name, change).await.map_err(|e| e.to_public())
}
