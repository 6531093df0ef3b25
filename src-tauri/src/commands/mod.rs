//! Thin `#[tauri::command]` adapters: arguments in, a core call, JSON out.
//! Errors cross IPC as `{code, message}` (kaunta_core::PublicError).

pub mod cashier;
pub mod giftpesa;
pub mod names;
pub mod pesapal;
pub mod session;
pub mod settings;
pub mod telesend;

use kaunta_core::PublicError;
use kaunta_core::providers::ProviderId;

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
