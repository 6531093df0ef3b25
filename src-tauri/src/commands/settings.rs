use std::collections::BTreeMap;

use kaunta_core::till::CredentialStatus;
use tauri::State;

use super::{CommandResult, provider, signed_in};
use crate::AppState;

#[tauri::command]
pub fn credentials_status(state: State<'_, AppState>) -> Vec<CredentialStatus> {
    state.till.credential_status()
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
    let actor = signed_in(&state)?;
    let json = serde_json::to_value(values).expect("a string map is JSON");
    state.till.set_credentials(id, json, &actor).await.map_err(|e| e.to_public())?;
    Ok(state.till.credential_status())
}
