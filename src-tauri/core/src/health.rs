//! Whether each provider can be reached right now, for the cashier screen's
//! per-provider status and its "cannot be reached" banner (DESIGN.md
//! invariant 10: a voucher is honoured only with its provider online, so
//! the till says plainly when one is not, and never queues a redemption).
//!
//! A probe is one GET of the provider's base address with a short timeout:
//! any HTTP answer, whatever its status, proves the network path and the
//! provider's server are up; it moves no money, needs no credentials and
//! touches no rate-limited endpoint.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::providers::ProviderId;
use crate::providers::http::{self, TransportError};
use crate::till::Till;

/// Long enough for a slow mobile link, short enough that a dead one is
/// reported while the customer is still at the counter.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Not probed yet.
    Unknown,
    Up,
    Down,
}

/// One provider's status as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderHealth {
    pub provider: &'static str,
    pub name: &'static str,
    pub reach: Reach,
    /// When the current state began (UTC, RFC 3339): "down since 14:02".
    pub since: Option<String>,
    /// When it was last checked (UTC, RFC 3339).
    pub checked_at: Option<String>,
    /// For a provider that is down: what a cashier can do about it.
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    reach: Reach,
    since: Option<String>,
    checked_at: Option<String>,
    message: Option<String>,
}

/// The latest probe of every provider; shared by whoever probes and whoever shows.
#[derive(Debug)]
pub struct HealthBoard {
    entries: Mutex<BTreeMap<ProviderId, Entry>>,
}

impl Default for HealthBoard {
    fn default() -> Self {
        let unknown = Entry { reach: Reach::Unknown, since: None, checked_at: None, message: None };
        HealthBoard { entries: Mutex::new(ProviderId::ALL.iter().map(|p| (*p, unknown.clone())).collect()) }
    }
}

impl HealthBoard {
    /// Records a probe's result. Returns whether the provider's state changed.
    pub fn note(&self, provider: ProviderId, reach: Reach, message: Option<String>) -> bool {
        let now = crate::ledger::now_text();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.entry(provider).or_insert(Entry {
            reach: Reach::Unknown,
            since: None,
            checked_at: None,
            message: None,
        });
        let changed = entry.reach != reach;
        if changed {
            entry.since = Some(now.clone());
        }
        entry.reach = reach;
        entry.checked_at = Some(now);
        entry.message = message;
        changed
    }

    pub fn snapshot(&self) -> Vec<ProviderHealth> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .map(|(p, e)| ProviderHealth {
                provider: p.as_str(),
                name: p.display_name(),
                reach: e.reach,
                since: e.since.clone(),
                checked_at: e.checked_at.clone(),
                message: e.message.clone(),
            })
            .collect()
    }
}

/// One GET of `url`: any HTTP answer is `Up`.
pub async fn probe(client: &reqwest::Client, url: url::Url, name: &str) -> (Reach, Option<String>) {
    match client.get(url).send().await {
        Ok(_) => (Reach::Up, None),
        Err(e) => {
            let why = match TransportError::from_reqwest(e) {
                TransportError::Unreachable(_) => "cannot be reached",
                TransportError::NoAnswer(_) => "is not answering",
            };
            (
                Reach::Down,
                Some(format!(
                    "{name} {why}: check this till's internet connection. Its vouchers and payments \
                     cannot be taken until it answers"
                )),
            )
        }
    }
}

impl Till {
    /// Probes every provider at once and records the results on `board`.
    /// Returns whether any provider's state changed.
    pub async fn check_providers(&self, board: &HealthBoard, timeout: Duration) -> bool {
        let client = http::client(timeout);
        let probes = ProviderId::ALL.map(|provider| {
            let client = client.clone();
            let url = self.provider_base_url(provider);
            async move {
                let (reach, message) = match url {
                    Ok(url) => probe(&client, url, provider.display_name()).await,
                    // A till without an address for it (not configured): nothing to say.
                    Err(_) => (Reach::Unknown, None),
                };
                board.note(provider, reach, message)
            }
        });
        // At once: a dead provider's timeout must not delay the others' news.
        futures_util::future::join_all(probes).await.into_iter().any(|changed| changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_of_state_moves_since_and_a_repeat_does_not() {
        let board = HealthBoard::default();
        assert!(board.snapshot().iter().all(|h| h.reach == Reach::Unknown && h.since.is_none()));
        assert!(board.note(ProviderId::Telesend, Reach::Up, None));
        let since = board.snapshot().into_iter().find(|h| h.provider == "telesend").unwrap().since;
        assert!(!board.note(ProviderId::Telesend, Reach::Up, None), "no change");
        let again = board.snapshot().into_iter().find(|h| h.provider == "telesend").unwrap();
        assert_eq!(again.since, since);
        assert!(again.checked_at.is_some());
        assert!(board.note(ProviderId::Telesend, Reach::Down, Some("down".into())));
        let down = board.snapshot().into_iter().find(|h| h.provider == "telesend").unwrap();
        assert_eq!((down.reach, down.message.as_deref()), (Reach::Down, Some("down")));
        assert_eq!(board.snapshot().len(), ProviderId::ALL.len());
    }
}
