use kaunta_core::ledger::{AuditEntry, Outcome};
use kaunta_core::providers::ProviderId;
use kaunta_core::staff::Role;
use serde::Serialize;
use tauri::State;

use super::CommandResult;
use crate::AppState;

#[derive(Debug, Serialize)]
pub struct ProviderInfo {
    pub id: &'static str,
    pub name: &'static str,
}

impl ProviderInfo {
    fn of(p: &ProviderId) -> ProviderInfo {
        ProviderInfo { id: p.as_str(), name: p.display_name() }
    }
}

#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub environment: &'static str,
    pub training: bool,
    pub store_name: String,
    pub till_id: String,
    pub version: &'static str,
    /// No staff yet: the window asks for the first manager.
    pub needs_first_manager: bool,
    pub cashier: Option<String>,
    pub role: Option<Role>,
    /// The manager whose approval is open for back-office work, if any.
    pub manager: Option<String>,
    /// The cashier's providers, one tab each.
    pub providers: Vec<ProviderInfo>,
    /// Providers only managers use (BitPesa payouts): in Settings, not as tabs.
    pub payout_providers: Vec<ProviderInfo>,
}

async fn info(state: &AppState) -> CommandResult<AppInfo> {
    let config = state.till.config();
    let staff = state.staff();
    let needs_first_manager = staff.is_none() && state.till.needs_first_manager().await.map_err(|e| e.to_public())?;
    Ok(AppInfo {
        environment: config.environment.as_str(),
        training: config.is_training(),
        store_name: config.store_name.clone(),
        till_id: config.till_id.clone(),
        version: env!("CARGO_PKG_VERSION"),
        needs_first_manager,
        cashier: staff.as_ref().map(|s| s.name.clone()),
        role: staff.map(|s| s.role),
        manager: state.manager_name(),
        providers: ProviderId::CASHIER.iter().map(ProviderInfo::of).collect(),
        payout_providers: ProviderId::ALL.iter().filter(|p| !p.is_cashier()).map(ProviderInfo::of).collect(),
    })
}

#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> CommandResult<AppInfo> {
    info(&state).await
}

/// First run: the person setting up the till becomes its first manager and is signed in.
#[tauri::command]
pub async fn create_first_manager(state: State<'_, AppState>, name: String, pin: String) -> CommandResult<AppInfo> {
    let staff = state.till.create_first_manager(&name, &pin).await.map_err(|e| e.to_public())?;
    let entry = AuditEntry::new(&staff.name, "sign_in", Outcome::Success, "signed in as the store's first manager");
    state.till.audit(entry).await.map_err(|e| e.to_public())?;
    state.set_staff(Some(staff));
    info(&state).await
}

#[tauri::command]
pub async fn sign_in(state: State<'_, AppState>, name: String, pin: String) -> CommandResult<AppInfo> {
    let staff = state.till.check_pin(&name, &pin, "sign_in").await.map_err(|e| e.to_public())?;
    state.set_staff(Some(staff));
    info(&state).await
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
    state.set_staff(None);
    info(&state).await
}

/// A manager's name and PIN open the back office (and Settings) until it
/// is closed, the cashier signs out, or it lies unused (state::MANAGER_IDLE).
#[tauri::command]
pub async fn manager_unlock(state: State<'_, AppState>, name: String, pin: String) -> CommandResult<AppInfo> {
    super::signed_in(&state).await?;
    let manager = state.till.approve_as_manager(&name, &pin).await.map_err(|e| e.to_public())?;
    state.set_manager(Some(manager));
    info(&state).await
}

#[tauri::command]
pub async fn manager_lock(state: State<'_, AppState>) -> CommandResult<AppInfo> {
    if let Some(name) = state.manager_name() {
        state
            .till
            .audit(AuditEntry::new(&name, "manager_lock", Outcome::Info, "closed the back office"))
            .await
            .map_err(|e| e.to_public())?;
    }
    state.set_manager(None);
    info(&state).await
}
