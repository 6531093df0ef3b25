//! What every provider client shares: one configured `reqwest::Client`, and
//! the line between "never reached the provider" and "the answer was lost".

use std::time::Duration;

use url::Url;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// One client per provider, so connections are reused; explicit timeouts so
/// a silent provider turns into an `unknown` outcome instead of a frozen till.
pub fn client(request_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(request_timeout)
        .user_agent(concat!("Kaunta/", env!("CARGO_PKG_VERSION")))
        // Providers are reached directly; a proxy from the environment would
        // be a place for credentials to leak.
        .no_proxy()
        // A redirect would carry our key headers to another host (reqwest
        // strips only Authorization), possibly over plain http, and turn a
        // POST into a GET: a provider answering 3xx is an answer to classify,
        // never a place to follow.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client with static settings always builds")
}

/// How a request failed below HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The connection was never made: the provider cannot have acted.
    #[error("could not connect: {0}")]
    Unreachable(String),
    /// The request may have been delivered and acted upon.
    #[error("no answer: {0}")]
    NoAnswer(String),
}

impl TransportError {
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        let connect = e.is_connect();
        // Strip the URL: it can carry a query a log should not keep.
        let text = e.without_url().to_string();
        if connect { TransportError::Unreachable(text) } else { TransportError::NoAnswer(text) }
    }
}

/// Joins an endpoint path onto a base URL that may or may not end in `/`.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{}", base.path().trim_end_matches('/'), path.trim_start_matches('/'));
    url.set_path(&joined);
    url
}

/// A short, single-line excerpt of a body for error messages (HTML error pages
/// can be long; control characters could garble a log line).
/// For the audit log and diagnostics only: a provider's raw body is never a
/// message for a cashier (see each provider error's `detail`).
pub fn excerpt(body: &[u8]) -> String {
    crate::text::excerpt(String::from_utf8_lossy(body).trim(), 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_join_with_one_slash() {
        let a = Url::parse("https://h/api/v1").unwrap();
        let b = Url::parse("https://h/api/v1/").unwrap();
        assert_eq!(endpoint(&a, "validate_voucher").as_str(), "https://h/api/v1/validate_voucher");
        assert_eq!(endpoint(&b, "/validate_voucher").as_str(), "https://h/api/v1/validate_voucher");
    }

    #[test]
    fn excerpts_are_short_and_single_line() {
        let e = excerpt(format!("<html>\n{}</html>", "x".repeat(500)).as_bytes());
        assert!(!e.contains('\n'));
        assert!(e.chars().count() <= 121);
    }
}
