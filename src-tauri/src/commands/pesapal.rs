use std::time::Duration;

use kaunta_core::ledger::{AuditEntry, Outcome};
use kaunta_core::providers::pesapal::IpnNotificationType;
use kaunta_core::redeem::pesapal::{CheckoutInput, CheckoutStarted, CheckoutStatus, IpnSettings};
use tauri::{AppHandle, Runtime, State, Url};

use super::{CommandResult, manager, public, signed_in};
use crate::{AppState, checkout};

/// How long one `pesapal_wait` call holds before the UI asks again.
const WAIT: Duration = Duration::from_secs(20);

/// Submits the order, then opens its payment page in the checkout window;
/// the UI shows the same page as a QR code.
#[tauri::command]
pub async fn pesapal_checkout<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    input: CheckoutInput,
) -> CommandResult<CheckoutStarted> {
    let cashier = signed_in(&state).await?;
    let started = state.till.checkout_pesapal(&cashier, &input).await.map_err(|e| e.to_public())?;
    let redirect = Url::parse(&started.redirect_url).map_err(|e| public("provider_error", e.to_string()))?;
    let callback = Url::parse(&started.callback_url).map_err(|e| public("provider_error", e.to_string()))?;
    checkout::open(&app, &started.transaction_id, redirect, callback).map_err(|e| {
        public("window", format!("The checkout window could not open ({e}); the customer can scan the code"))
    })?;
    Ok(started)
}

fn close_if_final<R: Runtime>(app: &AppHandle<R>, status: &CheckoutStatus) {
    if status.state != "pending" {
        checkout::close(app);
    }
}

#[tauri::command]
pub async fn pesapal_wait<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    transaction_id: String,
) -> CommandResult<CheckoutStatus> {
    let cashier = signed_in(&state).await?;
    let status = state.till.wait_pesapal(&cashier, &transaction_id, WAIT).await.map_err(|e| e.to_public())?;
    close_if_final(&app, &status);
    Ok(status)
}

#[tauri::command]
pub async fn pesapal_status<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    transaction_id: String,
) -> CommandResult<CheckoutStatus> {
    let cashier = signed_in(&state).await?;
    let status = state.till.pesapal_status(&cashier, &transaction_id).await.map_err(|e| e.to_public())?;
    close_if_final(&app, &status);
    Ok(status)
}

/// The cashier stops waiting; the order stays open and queryable.
#[tauri::command]
pub async fn pesapal_stop_waiting<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    transaction_id: String,
) -> CommandResult<()> {
    let cashier = signed_in(&state).await?;
    // The id lands in the audit log: only one of our own transaction ids will do.
    let lookup = transaction_id.clone();
    let known = transaction_id.len() == 36
        && state.till.db(move |l| l.transaction(&lookup)).await.map_err(|e| e.to_public())?.is_some();
    if !known {
        return Err(public("not_found", "No such checkout"));
    }
    checkout::close(&app);
    let entry = AuditEntry {
        provider: Some("pesapal".into()),
        transaction_id: Some(transaction_id),
        ..AuditEntry::new(
            &cashier,
            "checkout_wait_stopped",
            Outcome::Info,
            "the cashier stopped waiting; order left open",
        )
    };
    state.till.audit(entry).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn pesapal_ipn_list(state: State<'_, AppState>) -> CommandResult<IpnSettings> {
    signed_in(&state).await?;
    state.till.pesapal_ipns().await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn pesapal_ipn_register(
    state: State<'_, AppState>,
    url: String,
    method: String,
) -> CommandResult<IpnSettings> {
    let actor = manager(&state).await?.name;
    let method = IpnNotificationType::parse(&method).ok_or_else(|| public("invalid_method", "Choose GET or POST"))?;
    state.till.register_pesapal_ipn(&actor, &url, method).await.map_err(|e| e.to_public())
}

#[tauri::command]
pub async fn pesapal_ipn_choose(state: State<'_, AppState>, ipn_id: String) -> CommandResult<IpnSettings> {
    let actor = manager(&state).await?.name;
    state.till.choose_pesapal_ipn(&actor, &ipn_id).await.map_err(|e| e.to_public())
}
