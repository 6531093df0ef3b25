//! One module per provider: its typed requests and responses, its client and
//! its errors. Nothing here knows about Tauri or SQLite.

pub mod http;
pub mod pesavoucher;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProviderId {
    #[serde(rename = "pesavoucher")]
    PesaVoucher,
}

impl ProviderId {
    pub const ALL: [ProviderId; 1] = [ProviderId::PesaVoucher];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::PesaVoucher => "pesavoucher",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            ProviderId::PesaVoucher => "PesaVoucher",
        }
    }

    pub fn sandbox_url(self) -> &'static str {
        match self {
            ProviderId::PesaVoucher => pesavoucher::SANDBOX_URL,
        }
    }

    pub fn live_url(self) -> &'static str {
        match self {
            ProviderId::PesaVoucher => pesavoucher::LIVE_URL,
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
            .ok_or_else(|| format!("unknown provider “{}”", s.chars().take(32).collect::<String>()))
    }
}
