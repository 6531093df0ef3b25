use kaunta_core::providers::ProviderId;
use kaunta_core::receipt::Delivery;
use kaunta_core::redeem::{RedemptionResult, ValidationResult};
use kaunta_core::till::TransactionView;
use tauri::State;

use super::{CommandResult, provider, public, signed_in};
use crate::AppState;

/// The cashier screen keeps a short list; history lives in the back office.
const RECENT_ROWS: u32 = 10;

/// Validate-then-redeem is PesaVoucher's flow; Telesend claims first (commands/telesend.rs).
fn pesavoucher_only(id: ProviderId) -> CommandResult<()> {
    match id {
        ProviderId::PesaVoucher => Ok(()),
        other => {
            Err(public("wrong_flow", format!("{} vouchers are redeemed on their own screen", other.display_name())))
        }
    }
}

#[tauri::command]
pub async fn validate_voucher(
    state: State<'_, AppState>,
    provider: String,
    code: String,
) -> CommandResult<ValidationResult> {
    pesavoucher_only(self::provider(&provider)?)?;
    let cashier = signed_in(&state).await?;
    state.till.validate_voucher(&cashier, &code).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn redeem_voucher(
    state: State<'_, AppState>,
    provider: String,
    code: String,
) -> CommandResult<RedemptionResult> {
    pesavoucher_only(self::provider(&provider)?)?;
    let cashier = signed_in(&state).await?;
    state.till.redeem_voucher(&cashier, &code).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn recent_transactions(state: State<'_, AppState>) -> CommandResult<Vec<TransactionView>> {
    state.till.recent(RECENT_ROWS).await.map_err(|e| e.to_public())
}

/// Prints a completed transaction's receipt again, marked REPRINT.
#[tauri::command]
pub async fn reprint_receipt(state: State<'_, AppState>, id: String) -> CommandResult<Delivery> {
    let by = signed_in(&state).await?;
    let lookup = id.clone();
    let row = state
        .till
        .db(move |l| l.transaction(&lookup))
        .await
        .map_err(|e| e.to_public())?
        .ok_or_else(|| public("not_found", "No such transaction"))?;
    if row.state != kaunta_core::ledger::State::Completed {
        return Err(public("not_completed", "Only completed transactions have a receipt"));
    }
    Ok(state.till.print_receipt(&row, Some(&by)).await)
}
