use kaunta_core::redeem::RedemptionResult;
use kaunta_core::redeem::telesend::{ClaimResult, DenominationView};
use tauri::State;

use super::{CommandResult, signed_in};
use crate::AppState;

/// Sends the customer an SMS code; `amount` (ETB) for a partial redemption.
#[tauri::command]
pub async fn telesend_claim(
    state: State<'_, AppState>,
    code: String,
    amount: Option<String>,
) -> CommandResult<ClaimResult> {
    let cashier = signed_in(&state).await?;
    state.till.claim_gift(&cashier, &code, amount.as_deref()).await.map_err(|e| e.to_public())
}

/// Redeems with the SMS code the customer read out (none for anonymous vouchers).
#[tauri::command]
pub async fn telesend_redeem(
    state: State<'_, AppState>,
    code: String,
    verification_code: Option<String>,
) -> CommandResult<RedemptionResult> {
    let cashier = signed_in(&state).await?;
    state.till.redeem_gift(&cashier, &code, verification_code.as_deref()).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn telesend_cancel(state: State<'_, AppState>, code: String) -> CommandResult<bool> {
    let cashier = signed_in(&state).await?;
    state.till.cancel_claim(&cashier, &code).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn telesend_denominations(state: State<'_, AppState>) -> CommandResult<Vec<DenominationView>> {
    signed_in(&state).await?;
    state.till.gift_denominations().await.map_err(|e| e.to_public())
}
