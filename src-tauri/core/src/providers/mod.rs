//! One module per provider: its typed requests and responses, its client and
//! its errors. Nothing here knows about Tauri or SQLite.

pub mod bitpesa;
pub mod giftpesa;
pub mod http;
pub mod pesapal;
pub mod pesavoucher;
pub mod telesend;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProviderId {
    #[serde(rename = "pesavoucher")]
    PesaVoucher,
    #[serde(rename = "telesend")]
    Telesend,
    #[serde(rename = "giftpesa")]
    GiftPesa,
    #[serde(rename = "pesapal")]
    Pesapal,
    /// Manager payouts from the store's balance; not a counter provider.
    #[serde(rename = "bitpesa")]
    BitPesa,
}

impl ProviderId {
    /// Every provider: history filters, credentials in Settings, simulators.
    pub const ALL: [ProviderId; 5] =
        [ProviderId::PesaVoucher, ProviderId::Telesend, ProviderId::GiftPesa, ProviderId::Pesapal, ProviderId::BitPesa];

    /// The providers a cashier serves customers with at the counter (one tab
    /// each). BitPesa is a manager's payout tool, so it is not among them.
    pub const CASHIER: [ProviderId; 4] =
        [ProviderId::PesaVoucher, ProviderId::Telesend, ProviderId::GiftPesa, ProviderId::Pesapal];

    pub fn is_cashier(self) -> bool {
        Self::CASHIER.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::PesaVoucher => "pesavoucher",
            ProviderId::Telesend => "telesend",
            ProviderId::GiftPesa => "giftpesa",
            ProviderId::Pesapal => "pesapal",
            ProviderId::BitPesa => "bitpesa",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            ProviderId::PesaVoucher => "PesaVoucher",
            ProviderId::Telesend => "Telesend",
            ProviderId::GiftPesa => "GiftPesa",
            ProviderId::Pesapal => "Pesapal",
            ProviderId::BitPesa => "BitPesa",
        }
    }

    /// The documented sandbox address; `None` where the document names none
    /// (Telesend), so a manager must configure one.
    pub fn sandbox_url(self) -> Option<&'static str> {
        match self {
            ProviderId::PesaVoucher => Some(pesavoucher::SANDBOX_URL),
            ProviderId::Telesend => None,
            // The document names one host only; sandbox uses it too.
            ProviderId::GiftPesa => Some(giftpesa::SANDBOX_URL),
            ProviderId::Pesapal => Some(pesapal::SANDBOX_URL),
            ProviderId::BitPesa => Some(bitpesa::SANDBOX_URL),
        }
    }

    pub fn live_url(self) -> Option<&'static str> {
        match self {
            ProviderId::PesaVoucher => Some(pesavoucher::LIVE_URL),
            ProviderId::Telesend => None,
            ProviderId::GiftPesa => Some(giftpesa::LIVE_URL),
            ProviderId::Pesapal => Some(pesapal::LIVE_URL),
            ProviderId::BitPesa => Some(bitpesa::LIVE_URL),
        }
    }

    /// What the provider's reference is called on screens and receipts.
    pub fn reference_label(self) -> &'static str {
        match self {
            ProviderId::PesaVoucher => "Redeemed at",
            ProviderId::Telesend => "Telebirr ref",
            ProviderId::GiftPesa => "Receipt No",
            ProviderId::Pesapal => "Pesapal order",
            ProviderId::BitPesa => "BitPesa ref",
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderId::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown provider “{}”", crate::text::excerpt(s, 32)))
    }
}
