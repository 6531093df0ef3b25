//! Kaunta's core: flows, provider clients, ledger, receipts, secrets and
//! training simulators. Nothing here imports Tauri, so all of it is tested
//! without a window.

pub mod backup;
pub mod config;
pub mod crash;
pub mod error;
pub mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod history_report;
pub mod ledger;
pub mod money;
pub mod phone;
pub mod providers;
pub mod receipt;
pub mod redeem;
pub mod secrets;
pub mod shift;
pub mod staff;
pub mod text;
pub mod till;
pub mod training;
pub mod voucher_code;

pub use error::{FlowError, PublicError};
pub use till::{Till, TillOptions};
