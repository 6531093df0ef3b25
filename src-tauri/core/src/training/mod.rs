//! Built-in provider simulators for training mode and tests: real HTTP on
//! loopback, so the same client code runs as against the real providers.
//! Each provider lives under its own path prefix on one server; `/__sim/`
//! holds the controls tests use to inject faults and wait for requests.

pub mod bitpesa;
pub mod faults;
pub mod giftpesa;
pub mod pesapal;
pub mod pesavoucher;
mod server;
pub mod telesend;

pub use faults::Fault;
pub use server::Simulators;

use crate::providers::ProviderId;

/// Training credentials: not secrets. The simulator checks them, so the
/// client's authentication headers are exercised as in production.
pub const TRAINING_API_KEY: &str = "training-key";
pub const TRAINING_API_SECRET: &str = "training-secret";
pub const TRAINING_API_TOKEN: &str = "training-token";
/// GiftPesa: the `Username` header and the API key the till encrypts with
/// `giftpesa::TRAINING_CERTIFICATE`.
pub const TRAINING_GIFTPESA_USERNAME: &str = "training-store";
pub const TRAINING_GIFTPESA_API_KEY: &str = "training-giftpesa-key";
/// Pesapal: the consumer key and secret RequestToken exchanges for a token.
pub const TRAINING_PESAPAL_CONSUMER_KEY: &str = "training-pesapal-consumer-key";
pub const TRAINING_PESAPAL_CONSUMER_SECRET: &str = "training-pesapal-consumer-secret";
/// BitPesa: the key and the secret every request is signed with; the
/// simulator verifies the signature for real.
pub const TRAINING_BITPESA_API_KEY: &str = "training-bitpesa-key";
pub const TRAINING_BITPESA_API_SECRET: &str = "training-bitpesa-secret";

/// Path prefix of each provider's simulator.
pub fn prefix(provider: ProviderId) -> &'static str {
    match provider {
        ProviderId::PesaVoucher => "/pesavoucher/api/v1",
        ProviderId::Telesend => "/telesend",
        ProviderId::GiftPesa => "/giftpesa",
        ProviderId::Pesapal => "/pesapal",
        ProviderId::BitPesa => "/bitpesa",
    }
}
