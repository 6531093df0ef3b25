//! Thin `#[tauri::command]` adapters: arguments in, a core call, JSON out.
//! Errors cross IPC as `{code, message}` (kaunta_core::PublicError).

pub mod backoffice;
pub mod cashier;
pub mod giftpesa;
pub mod history;
pub mod names;
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

pub(crate) fn signed_in(state: &AppState) -> CommandResult<String> {
    state.cashier().ok_or_else(|| kaunta_core::FlowError::NoCashier.to_public())
}

/// The manager whose name and PIN opened the back office, for commands only
/// managers may run. Their name is the actor in the audit rows those write.
pub(crate) fn manager(state: &AppState) -> CommandResult<Staff> {
    signed_in(state)?;
    state.manager().ok_or_else(|| {
        public("manager_required", "Only a manager can do this: a manager must enter their name and PIN first")
    })
}
