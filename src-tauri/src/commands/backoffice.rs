//! Manager work that settles money: the queue of transactions whose outcome
//! is unknown, and refunds sent as PesaVoucher vouchers.

use kaunta_core::ledger::State as TxState;
use kaunta_core::redeem::RedemptionResult;
use kaunta_core::till::TransactionView;
use serde::Serialize;
use tauri::State;

use super::{CommandResult, manager, public};
use crate::AppState;

/// Every transaction a manager must still look at, oldest first.
#[tauri::command]
pub async fn unknown_list(state: State<'_, AppState>) -> CommandResult<Vec<TransactionView>> {
    manager(&state).await?;
    let rows = state.till.db(|l| l.open_transactions()).await.map_err(|e| e.to_public())?;
    Ok(rows.into_iter().filter(|r| r.state == TxState::Unknown).map(TransactionView::from).collect())
}

#[derive(Debug, Serialize)]
pub struct Recheck {
    /// Settled by asking the providers that can answer (PesaVoucher, Pesapal).
    pub settled: Vec<TransactionView>,
    /// Still waiting for a manager's decision.
    pub remaining: Vec<TransactionView>,
}

/// Asks each provider that has a status query about the unknown rows again.
#[tauri::command]
pub async fn unknown_recheck(state: State<'_, AppState>) -> CommandResult<Recheck> {
    let by = manager(&state).await?;
    let settled = state.till.recover(&by.name).await.map_err(|e| e.to_public())?;
    let remaining = unknown_list(state).await?;
    Ok(Recheck { settled: settled.into_iter().map(TransactionView::from).collect(), remaining })
}

/// A manager's decision, with a reason, on one unknown transaction.
#[tauri::command]
pub async fn resolve_transaction(
    state: State<'_, AppState>,
    id: String,
    outcome: String,
    reason: String,
) -> CommandResult<TransactionView> {
    let by = manager(&state).await?;
    let to = match outcome.as_str() {
        "completed" => TxState::Completed,
        "failed" => TxState::Failed,
        _ => return Err(public("invalid_resolution", "Choose completed or failed")),
    };
    let row = state.till.resolve(&by.name, &id, to, &reason).await.map_err(|e| e.to_public())?;
    Ok(row.into())
}

#[tauri::command]
pub async fn refund_voucher(
    state: State<'_, AppState>,
    email: String,
    amount: String,
    message: Option<String>,
) -> CommandResult<RedemptionResult> {
    let by = manager(&state).await?;
    state.till.refund_voucher(&by, &email, &amount, message.as_deref()).await.map_err(|e| e.to_public())
}
