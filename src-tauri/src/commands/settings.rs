use std::collections::BTreeMap;

use kaunta_core::till::CredentialStatus;
use tauri::State;

use super::{CommandResult, manager, provider};
use crate::AppState;

/// Keyring calls go over D-Bus and may wait on an unlock prompt: never on
/// the main thread or an async worker.
#[tauri::command]
pub async fn credentials_status(state: State<'_, AppState>) -> CommandResult<Vec<CredentialStatus>> {
    let till = state.till.clone();
    tokio::task::spawn_blocking(move || till.credential_status())
        .await
        .map_err(|e| super::public("internal", e.to_string()))
}

/// Saves credentials in the keyring; the answer is the status list, never
/// the values.
#[tauri::command]
pub async fn set_credentials(
    state: State<'_, AppState>,
    provider: String,
    values: BTreeMap<String, String>,
) -> CommandResult<Vec<CredentialStatus>> {
    let id = self::provider(&provider)?;
    let actor = manager(&state).await?.name;
    let json = serde_json::to_value(values).expect("a string map is JSON");
    state.till.set_credentials(id, json, &actor).await.map_err(|e| e.to_public())?;
    let till = state.till.clone();
    tokio::task::spawn_blocking(move || till.credential_status())
        .await
        .map_err(|e| super::public("internal", e.to_string()))
}
