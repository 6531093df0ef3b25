//! BitPesa payouts from the store's balance, for managers: balances,
//! corridors, pay out, follow, cancel. The screen polls `payout_refresh`
//! when each answer says to: a desktop till receives no webhooks.

use kaunta_core::Till;
use kaunta_core::redeem::payout::{BalanceView, CorridorView, PayoutInput, PayoutView};
use tauri::State;

use super::{CommandResult, manager};
use crate::AppState;

#[tauri::command]
pub async fn payout_corridors(state: State<'_, AppState>) -> CommandResult<Vec<CorridorView>> {
    manager(&state).await?;
    Ok(Till::payout_corridors())
}

#[tauri::command]
pub async fn bitpesa_balances(state: State<'_, AppState>) -> CommandResult<Vec<BalanceView>> {
    let by = manager(&state).await?;
    state.till.bitpesa_balances(&by).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn payout_start(state: State<'_, AppState>, input: PayoutInput) -> CommandResult<PayoutView> {
    let by = manager(&state).await?;
    state.till.start_payout(&by, &input).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn payout_refresh(state: State<'_, AppState>, id: String) -> CommandResult<PayoutView> {
    let by = manager(&state).await?;
    state.till.refresh_payout(&by, &id).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn payout_cancel(state: State<'_, AppState>, id: String) -> CommandResult<PayoutView> {
    let by = manager(&state).await?;
    state.till.cancel_payout(&by, &id).await.map_err(|e| e.to_public())
}

/// The payouts the Payouts tab lists (the ledger's, newest first).
const RECENT_PAYOUTS: u32 = 20;

#[tauri::command]
pub async fn payout_recent(state: State<'_, AppState>) -> CommandResult<Vec<PayoutView>> {
    manager(&state).await?;
    state.till.recent_payouts(RECENT_PAYOUTS).await.map_err(|e| e.to_public())
}
