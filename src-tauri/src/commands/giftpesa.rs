use kaunta_core::providers::giftpesa::Merchant;
use kaunta_core::redeem::RedemptionResult;
use kaunta_core::redeem::giftpesa::GiftPesaInput;
use serde::Serialize;
use tauri::State;

use super::{CommandResult, manager, signed_in};
use crate::AppState;

/// Redeems a customer's GiftPesa balance at the store's M-Pesa till.
#[tauri::command]
pub async fn giftpesa_redeem(state: State<'_, AppState>, input: GiftPesaInput) -> CommandResult<RedemptionResult> {
    let cashier = signed_in(&state).await?;
    state.till.redeem_giftpesa(&cashier, &input).await.map_err(|e| e.to_public())
}

/// Also the connection check after credentials are entered.
#[tauri::command]
pub async fn giftpesa_merchants(state: State<'_, AppState>) -> CommandResult<Vec<Merchant>> {
    signed_in(&state).await?;
    state.till.giftpesa_merchants().await.map_err(|e| e.to_public())
}

#[derive(Debug, Serialize)]
pub struct GiftPesaSettings {
    pub till_number: Option<String>,
    pub certificate_imported: bool,
}

#[tauri::command]
pub fn giftpesa_settings(state: State<'_, AppState>) -> GiftPesaSettings {
    GiftPesaSettings {
        till_number: state.till.giftpesa_till(),
        certificate_imported: state.till.giftpesa_certificate_path().is_some(),
    }
}

/// `contents` is the key.crt the manager picked (PEM text); it is public.
#[tauri::command]
pub async fn giftpesa_import_certificate(
    state: State<'_, AppState>,
    contents: String,
) -> CommandResult<GiftPesaSettings> {
    let actor = manager(&state).await?.name;
    state.till.import_giftpesa_certificate(contents.as_bytes(), &actor).await.map_err(|e| e.to_public())?;
    Ok(giftpesa_settings(state))
}
