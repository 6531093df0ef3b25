//! Faults a simulator can be told to inject, one request at a time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer normally, late.
    Latency {
        ms: u64,
    },
    /// The provider's JSON error envelope with this status, nothing applied.
    Status {
        status: u16,
    },
    RateLimited {
        retry_after: u64,
    },
    /// A 200 whose body is cut off mid-JSON, after the operation was applied.
    MalformedJson,
    /// The operation was applied, then this status answered in the
    /// provider's JSON error envelope (an auth layer's 401 or a gateway's 5xx
    /// after the fact): only a 422 proves nothing happened.
    StatusAfterApply {
        status: u16,
    },
    /// A proxy's HTML error page, nothing applied.
    HtmlErrorPage {
        status: u16,
    },
    /// The request was read, then the connection closed without an answer.
    DropBeforeApply,
    /// The operation was applied, then the connection closed without an answer.
    DropAfterApply,
    /// Apply, then never answer (the client times out or is killed).
    HangAfterApply,
    /// Never answer, never apply.
    HangBeforeApply,
}

impl Fault {
    pub fn applies_operation(&self) -> bool {
        matches!(
            self,
            Fault::Latency { .. }
                | Fault::StatusAfterApply { .. }
                | Fault::MalformedJson
                | Fault::DropAfterApply
                | Fault::HangAfterApply
        )
    }
}

/// Queued faults per endpoint, and a count of requests received per endpoint
/// that tests can wait on instead of sleeping.
pub struct FaultBoard {
    queued: Mutex<HashMap<String, VecDeque<Fault>>>,
    received: watch::Sender<HashMap<String, u64>>,
}

impl Default for FaultBoard {
    fn default() -> Self {
        FaultBoard { queued: Mutex::new(HashMap::new()), received: watch::channel(HashMap::new()).0 }
    }
}

impl FaultBoard {
    pub fn inject(&self, endpoint: &str, fault: Fault) {
        self.queued.lock().unwrap().entry(endpoint.to_string()).or_default().push_back(fault);
    }

    pub fn clear(&self) {
        self.queued.lock().unwrap().clear();
    }

    /// Records a request to `endpoint` and hands out its fault, if one is queued.
    pub fn arrive(&self, endpoint: &str) -> Option<Fault> {
        self.received.send_modify(|m| *m.entry(endpoint.to_string()).or_default() += 1);
        self.queued.lock().unwrap().get_mut(endpoint).and_then(VecDeque::pop_front)
    }

    pub fn received(&self) -> HashMap<String, u64> {
        self.received.borrow().clone()
    }

    /// Resolves once `endpoint` has received at least `count` requests.
    pub async fn wait_for(&self, endpoint: &str, count: u64) {
        let mut rx = self.received.subscribe();
        let _ = rx.wait_for(|m| m.get(endpoint).copied().unwrap_or(0) >= count).await;
    }
}
