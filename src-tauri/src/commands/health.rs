//! Whether each provider can be reached, for the cashier screen.

use kaunta_core::health::{PROBE_TIMEOUT, ProviderHealth};
use tauri::State;

use super::{CommandResult, signed_in};
use crate::AppState;

/// Each provider's status; with `refresh`, probed now (all at once, at
/// most `PROBE_TIMEOUT`) rather than as last seen.
#[tauri::command]
pub async fn provider_health(state: State<'_, AppState>, refresh: Option<bool>) -> CommandResult<Vec<ProviderHealth>> {
    signed_in(&state).await?;
    if refresh.unwrap_or(false) {
        state.till.check_providers(&state.health, PROBE_TIMEOUT).await;
    }
    Ok(state.health.snapshot())
}
