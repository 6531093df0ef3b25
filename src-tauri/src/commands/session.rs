use kaunta_core::ledger::{AuditEntry, Outcome};
use kaunta_core::providers::ProviderId;
use serde::Serialize;
use tauri::State;

use super::{CommandResult, public};
use crate::AppState;

#[derive(Debug, Serialize)]
pub struct ProviderInfo {
    pub id: &'static str,
    pub name: &'static str,
}

#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub environment: &'static str,
    pub training: bool,
    pub store_name: String,
    pub till_id: String,
    pub version: &'static str,
    pub cashier: Option<String>,
    pub providers: Vec<ProviderInfo>,
}

fn info(state: &AppState) -> AppInfo {
    let config = state.till.config();
    AppInfo {
        environment: config.environment.as_str(),
        training: config.is_training(),
        store_name: config.store_name.clone(),
        till_id: config.till_id.clone(),
        version: env!("CARGO_PKG_VERSION"),
        cashier: state.cashier(),
        providers: ProviderId::ALL.iter().map(|p| ProviderInfo { id: p.as_str(), name: p.display_name() }).collect(),
    }
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    info(&state)
}

#[tauri::command]
pub async fn sign_in(state: State<'_, AppState>, name: String) -> CommandResult<AppInfo> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(public("invalid_name", "Type your name (up to 64 characters) to sign in"));
    }
    state
        .till
        .audit(AuditEntry::new(&name, "sign_in", Outcome::Success, "signed in at the cashier screen"))
        .await
        .map_err(|e| e.to_public())?;
    state.set_cashier(Some(name));
    Ok(info(&state))
}

#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> CommandResult<AppInfo> {
    if let Some(name) = state.cashier() {
        state
            .till
            .audit(AuditEntry::new(&name, "sign_out", Outcome::Success, "signed out"))
            .await
            .map_err(|e| e.to_public())?;
    }
    state.set_cashier(None);
    Ok(info(&state))
}
