//! The flow's error: every lower error wrapped, each with a stable `code`
//! the UI and scripts can branch on and a message a cashier understands.

use serde::Serialize;

use crate::config::{ConfigError, Environment};
use crate::ledger::LedgerError;
use crate::money::MoneyError;
use crate::providers::ProviderId;
use crate::providers::giftpesa::GiftPesaError;
use crate::providers::pesavoucher::PesaVoucherError;
use crate::providers::telesend::TelesendError;
use crate::receipt::ReceiptError;
use crate::secrets::SecretError;
use crate::voucher_code::VoucherCodeError;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    InvalidCode(#[from] VoucherCodeError),
    #[error("{0}")]
    InvalidAmount(#[from] MoneyError),
    #[error("Sign in first: every transaction records who served the customer")]
    NoCashier,
    /// The provider (or the voucher's state) said no; `code` is the reason.
    #[error("{message}")]
    Declined { code: &'static str, message: String },
    #[error("This voucher was already redeemed at this store ({at}). Do not hand over goods.")]
    AlreadyRedeemedHere { at: String },
    #[error(
        "This voucher is already being redeemed, or its last redemption awaits a manager's check. Do not hand over goods."
    )]
    InFlight,
    #[error("{provider} cannot be reached right now. Nothing was charged; try again in a moment.")]
    Unreachable { provider: &'static str, detail: String },
    #[error("{0}")]
    Provider(String),
    #[error("Give a reason (one line of up to 500 characters) and choose completed or failed")]
    InvalidResolution,
    #[error("No such transaction")]
    NoSuchTransaction,
    #[error("Only a transaction whose outcome is unknown can be resolved; this one is {state}")]
    NotUnknown { state: String },
    #[error("No {provider} credentials for {environment} mode: a manager must enter them in Settings")]
    MissingCredentials { provider: ProviderId, environment: Environment },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error("The training simulators could not start: {0}")]
    Simulator(String),
    #[error(transparent)]
    Staff(#[from] crate::staff::StaffError),
    #[error(transparent)]
    Reprint(#[from] crate::shift::ReprintError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
}

impl FlowError {
    pub fn code(&self) -> &'static str {
        match self {
            FlowError::InvalidCode(_) => "invalid_code",
            FlowError::InvalidAmount(_) => "invalid_amount",
            FlowError::NoCashier => "no_cashier",
            FlowError::Declined { code, .. } => code,
            FlowError::AlreadyRedeemedHere { .. } => "already_redeemed",
            FlowError::InFlight | FlowError::Ledger(LedgerError::InFlight) => "in_flight",
            FlowError::Unreachable { .. } => "provider_unreachable",
            FlowError::Provider(_) => "provider_error",
            FlowError::InvalidResolution => "invalid_resolution",
            FlowError::NoSuchTransaction => "not_found",
            FlowError::NotUnknown { .. } => "not_unknown",
            FlowError::Ledger(LedgerError::ClaimedElsewhere { .. }) => "claimed_elsewhere",
            FlowError::MissingCredentials { .. } => "credentials_missing",
            FlowError::Config(_) => "config",
            FlowError::Secrets(SecretError::Unavailable { .. }) => "keyring_unavailable",
            FlowError::Secrets(_) => "credentials_invalid",
            FlowError::Ledger(_) => "ledger",
            FlowError::Receipt(_) => "receipt",
            FlowError::Simulator(_) => "simulator",
            FlowError::Staff(e) => e.code(),
            FlowError::Reprint(e) => e.code(),
            FlowError::Backup(e) => e.code(),
        }
    }

    /// Declined or refused: the customer's voucher is the problem, not the till.
    pub fn is_declined(&self) -> bool {
        matches!(
            self,
            FlowError::InvalidCode(_)
                | FlowError::InvalidAmount(_)
                | FlowError::Declined { .. }
                | FlowError::AlreadyRedeemedHere { .. }
                | FlowError::InFlight
                | FlowError::Ledger(LedgerError::InFlight)
                | FlowError::Ledger(LedgerError::ClaimedElsewhere { .. })
        )
    }

    pub fn to_public(&self) -> PublicError {
        PublicError { code: self.code().to_string(), message: self.to_string() }
    }
}

impl From<PesaVoucherError> for FlowError {
    fn from(e: PesaVoucherError) -> Self {
        match e {
            PesaVoucherError::Declined { reason, ref provider_message, .. } => {
                FlowError::Declined { message: reason.plain(provider_message), code: reason.code() }
            }
            PesaVoucherError::Unreachable(detail) => FlowError::Unreachable { provider: "PesaVoucher", detail },
            other => FlowError::Provider(other.to_string()),
        }
    }
}

impl From<GiftPesaError> for FlowError {
    fn from(e: GiftPesaError) -> Self {
        if e.is_unreachable() {
            return FlowError::Unreachable { provider: "GiftPesa", detail: e.to_string() };
        }
        match e {
            GiftPesaError::Declined { .. }
            | GiftPesaError::Input(_)
            | GiftPesaError::Authorize(_)
            | GiftPesaError::NoToken { .. }
            | GiftPesaError::Key(_) => FlowError::Declined { code: e.code(), message: e.to_string() },
            GiftPesaError::Amount(m) => FlowError::InvalidAmount(m),
            other => FlowError::Provider(other.to_string()),
        }
    }
}

impl From<crate::providers::pesapal::PesapalError> for FlowError {
    fn from(e: crate::providers::pesapal::PesapalError) -> Self {
        use crate::providers::pesapal::PesapalError as P;
        if e.is_unreachable() {
            return FlowError::Unreachable { provider: "Pesapal", detail: e.to_string() };
        }
        match e {
            P::Amount(m) => FlowError::InvalidAmount(m),
            P::NoAnswer(_) | P::Server { .. } | P::Malformed { .. } => FlowError::Provider(e.to_string()),
            other => FlowError::Declined { code: other.code(), message: other.to_string() },
        }
    }
}

impl From<crate::providers::bitpesa::BitPesaError> for FlowError {
    fn from(e: crate::providers::bitpesa::BitPesaError) -> Self {
        use crate::providers::bitpesa::BitPesaError as B;
        if e.is_unreachable() {
            return FlowError::Unreachable { provider: "BitPesa", detail: e.to_string() };
        }
        match e {
            B::Amount(m) => FlowError::Provider(format!("BitPesa sent an amount Kaunta cannot read exactly: {m}")),
            B::NoAnswer(_) | B::Server { .. } | B::Malformed { .. } => FlowError::Provider(e.to_string()),
            other => FlowError::Declined { code: other.code(), message: other.to_string() },
        }
    }
}

impl From<crate::phone::PhoneError> for FlowError {
    fn from(e: crate::phone::PhoneError) -> Self {
        FlowError::Declined { code: "invalid_phone", message: e.to_string() }
    }
}

impl From<TelesendError> for FlowError {
    fn from(e: TelesendError) -> Self {
        match e {
            TelesendError::Declined { reason, ref provider_message, .. } => {
                FlowError::Declined { message: reason.plain(provider_message), code: reason.code() }
            }
            TelesendError::Unreachable(detail) => FlowError::Unreachable { provider: "Telesend", detail },
            other => FlowError::Provider(other.to_string()),
        }
    }
}

/// What crosses IPC or a `--json` answer: a code and a message, never a
/// secret or a debug dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicError {
    pub code: String,
    pub message: String,
}
