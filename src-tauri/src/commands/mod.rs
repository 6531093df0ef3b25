//! Thin `#[tauri::command]` adapters: arguments in, a core call, JSON out.
//! Errors cross IPC as `{code, message}` (kaunta_core::PublicError).

pub mod backoffice;
pub mod backup;
pub mod cashier;
pub mod giftpesa;
pub mod health;
pub mod history;
pub mod names;
pub mod payouts;
pub mod pesapal;
pub mod session;
pub mod settings;
pub mod shifts;
pub mod staff;
pub mod telesend;

use kaunta_core::PublicError;
use kaunta_core::providers::ProviderId;
use kaunta_core::staff::Staff;

use crate::AppState;

pub type CommandResult<T> = Result<T, PublicError>;

pub(crate) fn public(code: &str, message: impl Into<String>) -> PublicError {
    PublicError { code: code.into(), message: message.into() }
}

pub(crate) fn provider(id: &str) -> CommandResult<ProviderId> {
    id.parse().map_err(|m: String| public("unknown_provider", m))
}

/// Who is signed in, checked against the staff list on every use: someone
/// deactivated (or demoted) at another till loses access at once.
pub(crate) async fn signed_in(state: &AppState) -> CommandResult<String> {
    current_staff(state).await.map(|s| s.name)
}

async fn current_staff(state: &AppState) -> CommandResult<Staff> {
    let staff = state.staff().ok_or_else(|| kaunta_core::FlowError::NoCashier.to_public())?;
    match state.till.active_staff(&staff.name).await.map_err(|e| e.to_public())? {
        Some(current) => {
            if current != staff {
                state.set_staff(Some(current.clone()));
            }
            Ok(current)
        }
        None => {
            state.set_staff(None);
            Err(public("signed_out", "You are no longer on the staff list: ask a manager"))
        }
    }
}

/// The manager whose name and PIN opened the back office, for commands only
/// managers may run, re-checked against the staff list. Their name is the
/// actor in the audit rows those commands write.
pub(crate) async fn manager(state: &AppState) -> CommandResult<Staff> {
    let me = current_staff(state).await?;
    let required =
        || public("manager_required", "Only a manager can do this: a manager must enter their name and PIN first");
    let approved = state.manager().ok_or_else(required)?;
    // Usually the manager is the one signed in: their row was just read.
    let current = if approved.name == me.name {
        Some(me)
    } else {
        state.till.active_staff(&approved.name).await.map_err(|e| e.to_public())?
    };
    match current {
        Some(current) if current.is_manager() => Ok(current),
        _ => {
            state.set_manager(None);
            Err(required())
        }
    }
}
