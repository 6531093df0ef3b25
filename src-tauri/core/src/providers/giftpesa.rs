//! GiftPesa API (providers/giftpesa-api.txt): sign in with the API key
//! RSA-encrypted under the account's `key.crt`, redeem at an M-Pesa till,
//! list merchants and query a disbursement. Field names, headers and paths
//! follow the document, its spelling included (`TrasanctionDate`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::http::{self, TransportError};
use crate::money::{Currency, Money, MoneyError};
use crate::phone::{Msisdn, TillNumber};
use crate::secrets::{self, Redacted, SecretError};

/// The only address the document gives. It names no sandbox, so sandbox
/// mode uses the same host: GiftPesa's test accounts live there.
pub const LIVE_URL: &str = "https://3api.giftpesa.com";
pub const SANDBOX_URL: &str = LIVE_URL;

/// Amounts are integers of this currency ("KES 10 redeemed at …").
pub const CURRENCY: Currency = Currency::KES;

/// The document does not show the /authorize answer; when it carries no
/// lifetime the token is assumed good for this long.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(55 * 60);
/// A token is renewed this long before it expires (a quarter of its lifetime
/// for tokens shorter than four minutes), so none expires in flight.
pub const TOKEN_RENEWAL_MARGIN: Duration = Duration::from_secs(60);
/// Lifetimes beyond this are distrusted and shortened to it.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

const MAX_NAME: usize = 100;
const MAX_REMARKS: usize = 200;
const MAX_TRANSACTION_ID: usize = 64;

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    /// The account username, sent as the `Username` header.
    pub username: String,
    /// The API key from the GiftPesa dashboard; only ever sent encrypted.
    pub api_key: String,
}

impl Credentials {
    pub fn check(&self) -> Result<(), SecretError> {
        secrets::check_field("username", &self.username)?;
        secrets::check_field("api_key", &self.api_key)?;
        if self.api_key.contains(':') {
            // "API_KEY:TIMESTAMP" would be ambiguous to the provider.
            return Err(SecretError::Invalid("api_key must not contain ':'".into()));
        }
        Ok(())
    }
}

impl secrets::ProviderCredentials for Credentials {
    const SHAPE: &'static str = "{\"username\": \"…\", \"api_key\": \"…\"}";
    fn check(&self) -> Result<(), SecretError> {
        Credentials::check(self)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &Redacted).field("api_key", &Redacted).finish()
    }
}

/// The public key from the account's `key.crt`, which encrypts the API key
/// for /authorize. Public, so not a secret; it comes with the credentials.
#[derive(Clone)]
pub struct EncryptionKey {
    key: rsa::PublicKey,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use rsa::traits::PublicKeyParts;
        f.debug_struct("EncryptionKey").field("bits", &(self.key.size() * 8)).finish()
    }
}

impl EncryptionKey {
    /// Reads `key.crt`: an X.509 certificate in PEM (the first one, if the
    /// file holds a chain) or DER. A bare RSA public key in PEM is accepted
    /// too, since the document also calls the file a "Pem file".
    pub fn from_certificate(bytes: &[u8]) -> Result<EncryptionKey, GiftPesaError> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        use x509_cert::Certificate;
        use x509_cert::der::{Decode, DecodePem, Encode};

        fn unusable(what: &str) -> GiftPesaError {
            GiftPesaError::Key(format!("The GiftPesa key.crt file {what}"))
        }
        fn not_rsa<E>(_: E) -> GiftPesaError {
            unusable("does not hold an RSA public key")
        }
        // A PEM block of this kind, from its BEGIN line to its END line.
        let block = |text: &'_ str, label: &str| -> Option<Result<String, GiftPesaError>> {
            let begin = format!("-----BEGIN {label}-----");
            let end = format!("-----END {label}-----");
            let from = &text[text.find(&begin)?..];
            Some(match from.find(&end) {
                Some(at) => Ok(from[..at + end.len()].to_string()),
                None => Err(unusable("is cut short")),
            })
        };
        let cert_der = |der: &[u8]| -> Result<rsa::PublicKey, GiftPesaError> {
            let cert = Certificate::from_der(der).map_err(|_| unusable("is not a readable certificate"))?;
            let spki = cert.tbs_certificate().subject_public_key_info().to_der().map_err(not_rsa)?;
            rsa::PublicKey::from_public_key_der(&spki).map_err(not_rsa)
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Ok(EncryptionKey { key: cert_der(bytes)? });
        };
        let key = if let Some(pem) = block(text, "CERTIFICATE") {
            let cert = Certificate::from_pem(pem?).map_err(|_| unusable("is not a readable certificate"))?;
            let spki = cert.tbs_certificate().subject_public_key_info().to_der().map_err(not_rsa)?;
            rsa::PublicKey::from_public_key_der(&spki).map_err(not_rsa)?
        } else if let Some(pem) = block(text, "PUBLIC KEY") {
            rsa::PublicKey::from_public_key_pem(&pem?).map_err(not_rsa)?
        } else if let Some(pem) = block(text, "RSA PUBLIC KEY") {
            rsa::PublicKey::from_pkcs1_pem(&pem?).map_err(not_rsa)?
        } else if text.contains("-----BEGIN ") {
            return Err(unusable("holds no certificate (is it the private key?)"));
        } else {
            cert_der(bytes)?
        };
        Ok(EncryptionKey { key })
    }

    /// The documented header value: `Basic base64(RSA-PKCS#1-v1.5("API_KEY:TIMESTAMP"))`.
    /// Each call encrypts with fresh random padding.
    pub fn authorization(&self, api_key: &str, at: DateTime<Utc>) -> Result<String, GiftPesaError> {
        let plaintext = format!("{api_key}:{}", timestamp(at));
        let encrypted = self.key.pkcs1v15_encrypt(plaintext.as_bytes()).map_err(|e| match e {
            rsa::Error::MessageTooLong => {
                GiftPesaError::Key("The GiftPesa API key is too long to encrypt with the key.crt key".into())
            }
            other => GiftPesaError::Key(format!("Encrypting the GiftPesa API key failed: {other}")),
        })?;
        Ok(format!("Basic {}", BASE64.encode(encrypted)))
    }
}

/// The document's TIMESTAMP: UTC as yyyymmddhhmmss.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%S").to_string()
}

/// Why GiftPesa said no: one reason per status in the document's error
/// table, plus a 200 whose `Status` is not "success".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    TooManyRequests,
    InternalServerError,
    ServiceUnavailable,
    /// A status the document does not list.
    OtherStatus,
    /// HTTP 200 with a `Status` of "failed".
    Failed,
}

impl Reason {
    pub fn from_status(status: u16) -> Reason {
        match status {
            400 => Reason::BadRequest,
            401 => Reason::Unauthorized,
            403 => Reason::Forbidden,
            404 => Reason::NotFound,
            405 => Reason::MethodNotAllowed,
            406 => Reason::NotAcceptable,
            429 => Reason::TooManyRequests,
            500 => Reason::InternalServerError,
            503 => Reason::ServiceUnavailable,
            _ => Reason::OtherStatus,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Reason::BadRequest => "bad_request",
            Reason::Unauthorized => "unauthorized",
            Reason::Forbidden => "forbidden",
            Reason::NotFound => "not_found",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::NotAcceptable => "not_acceptable",
            Reason::TooManyRequests => "too_many_requests",
            Reason::InternalServerError => "internal_server_error",
            Reason::ServiceUnavailable => "service_unavailable",
            Reason::OtherStatus => "unexpected_status",
            Reason::Failed => "redeem_failed",
        }
    }

    /// The document's own words for the status.
    pub fn documented_meaning(self) -> &'static str {
        match self {
            Reason::BadRequest => "Bad Request -- Your request is invalid.",
            Reason::Unauthorized => "Unauthorized -- Invalid API Key / Access Token.",
            Reason::Forbidden => "Forbidden -- Forbidden resource access.",
            Reason::NotFound => "Not Found -- The specified resource could not be found.",
            Reason::MethodNotAllowed => "Method Not Allowed -- Method not allowed on resource.",
            Reason::NotAcceptable => "Not Acceptable -- Invalid request format.",
            Reason::TooManyRequests => "Too Many Requests -- Request overload",
            Reason::InternalServerError => {
                "Internal Server Error -- We had a problem with our server. Try again later."
            }
            Reason::ServiceUnavailable => {
                "Service Unavailable -- We're temporarily offline for maintenance. Please try again later."
            }
            Reason::OtherStatus | Reason::Failed => "",
        }
    }

    /// What the cashier reads: plain words and what to do next.
    pub fn plain(self) -> &'static str {
        match self {
            Reason::BadRequest => {
                "GiftPesa refused the redemption as invalid: check the customer's phone number, the amount \
                 (not more than the voucher balance) and the till number."
            }
            Reason::Unauthorized => {
                "GiftPesa did not accept this till's sign-in. Nothing was done; try again, and if it happens \
                 again a manager must check the GiftPesa username, API key and key.crt in Settings."
            }
            Reason::Forbidden => {
                "GiftPesa does not allow this here (for example a voucher locked to another merchant, or a till \
                 not on this account). Nothing was done."
            }
            Reason::NotFound => {
                "GiftPesa found nothing for these details: check the phone number and till number with the customer."
            }
            Reason::MethodNotAllowed | Reason::NotAcceptable => {
                "GiftPesa could not accept the request Kaunta sent. Nothing was done; please report this."
            }
            Reason::TooManyRequests => "GiftPesa is busy (too many requests). Wait a moment and try again.",
            Reason::InternalServerError => "GiftPesa had a problem on its side.",
            Reason::ServiceUnavailable => "GiftPesa is offline for maintenance.",
            Reason::OtherStatus => "GiftPesa gave an answer Kaunta does not know.",
            Reason::Failed => "GiftPesa says the redemption failed. Nothing was redeemed.",
        }
    }

    fn explain(self, provider_message: &str) -> String {
        let said = provider_message.trim();
        if said.is_empty() || said == self.documented_meaning() {
            self.plain().to_string()
        } else {
            format!("{} (GiftPesa: {said})", self.plain())
        }
    }
}

/// A 5xx in plain words: the document's meaning where it has one.
fn server_text(reason: Reason, status: u16) -> String {
    match reason {
        Reason::InternalServerError | Reason::ServiceUnavailable => {
            format!("{} (HTTP {status}).", reason.plain().trim_end_matches('.'))
        }
        _ => format!("GiftPesa answered with a server error (HTTP {status})."),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GiftPesaError {
    /// GiftPesa answered and said no (4xx, or 200 with Status "failed"): nothing happened.
    #[error("{}", .reason.explain(.provider_message))]
    Declined { reason: Reason, status: u16, provider_message: String },
    /// 5xx: on /redeem the money may or may not have moved.
    /// `excerpt` (what GiftPesa said) is for the audit log (see `detail`).
    #[error("{}", server_text(*.reason, *.status))]
    Server { reason: Reason, status: u16, excerpt: String },
    #[error("GiftPesa cannot be reached ({0}). Nothing was sent; try again when it is back.")]
    Unreachable(String),
    #[error("GiftPesa did not answer ({0}).")]
    NoAnswer(String),
    /// An answer that is not what the document shows; `detail` says how.
    #[error("GiftPesa's answer could not be read (HTTP {status}).")]
    Malformed { status: u16, detail: String },
    /// /authorize answered 2xx without a token. Lists the keys that came
    /// back, never their values.
    #[error("GiftPesa's sign-in answer has no access token (it had: {})", .keys.join(", "))]
    NoToken { keys: Vec<String> },
    /// Signing in failed, so the call itself was never sent.
    #[error("Could not sign in to GiftPesa: {0}")]
    Authorize(#[source] Box<GiftPesaError>),
    #[error("{0}")]
    Key(String),
    /// Bad input, refused before any request.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Amount(#[from] MoneyError),
}

impl GiftPesaError {
    /// True when GiftPesa may have acted although we have no answer: a
    /// redemption that ends so must be recorded as `unknown`. A failed
    /// sign-in is never unknown: the redemption was not sent.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, GiftPesaError::NoAnswer(_) | GiftPesaError::Server { .. } | GiftPesaError::Malformed { .. })
    }

    /// What the provider actually sent (an excerpt of its body, the
    /// parser's complaint), for the audit log and diagnostics. Never part of
    /// the message: a cashier reads plain words, not JSON or an HTML page.
    pub fn detail(&self) -> Option<&str> {
        match self {
            GiftPesaError::Server { excerpt, .. } => Some(excerpt),
            GiftPesaError::Malformed { detail, .. } => Some(detail),
            GiftPesaError::Authorize(inner) => inner.detail(),
            _ => None,
        }
    }

    /// True when GiftPesa could not be reached at all (for the status banner).
    pub fn is_unreachable(&self) -> bool {
        match self {
            GiftPesaError::Unreachable(_) => true,
            GiftPesaError::Authorize(inner) => inner.is_unreachable(),
            _ => false,
        }
    }

    /// For the UI to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            GiftPesaError::Declined { reason, .. } | GiftPesaError::Server { reason, .. } => reason.code(),
            GiftPesaError::Unreachable(_) => "unreachable",
            GiftPesaError::NoAnswer(_) => "no_answer",
            GiftPesaError::Malformed { .. } => "malformed_answer",
            GiftPesaError::NoToken { .. } => "no_token",
            GiftPesaError::Authorize(inner) => match inner.as_ref() {
                GiftPesaError::Declined { reason: Reason::Unauthorized, .. } => "credentials_rejected",
                other => other.code(),
            },
            GiftPesaError::Key(_) => "certificate",
            GiftPesaError::Input(_) => "invalid_input",
            GiftPesaError::Amount(_) => "invalid_amount",
        }
    }
}

impl From<TransportError> for GiftPesaError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unreachable(m) => GiftPesaError::Unreachable(m),
            TransportError::NoAnswer(m) => GiftPesaError::NoAnswer(m),
        }
    }
}

// ---- wire types, exactly as documented ----

#[derive(Debug, Serialize)]
struct RedeemRequest<'a> {
    #[serde(rename = "TransactionID")]
    transaction_id: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "TillNo")]
    till_no: &'a str,
    #[serde(rename = "Amount")]
    amount: i64,
    #[serde(rename = "Remarks", skip_serializing_if = "Option::is_none")]
    remarks: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct WireRedeemed {
    #[serde(rename = "TransactionID")]
    transaction_id: String,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "ReceiptNo")]
    receipt_no: String,
    #[serde(rename = "TransactionCode")]
    transaction_code: String,
    #[serde(rename = "TrasanctionDate")]
    transaction_date: String,
    #[serde(rename = "Merchant")]
    merchant: String,
    #[serde(rename = "TillNo")]
    till_no: String,
    #[serde(rename = "Amount")]
    amount: serde_json::Number,
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Debug, Deserialize)]
struct WireDisbursement {
    #[serde(rename = "DisbursementID")]
    disbursement_id: String,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "Amount")]
    amount: serde_json::Number,
    #[serde(rename = "RecipientsCount")]
    recipients_count: u32,
    #[serde(rename = "AmountDisbursed")]
    amount_disbursed: serde_json::Number,
}

// ---- domain types ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Label")]
    pub label: String,
}

/// One entry of GET /merchants, as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    #[serde(rename = "MerchantID")]
    pub merchant_id: String,
    #[serde(rename = "Merchant")]
    pub merchant: String,
    #[serde(rename = "Category")]
    pub category: Category,
}

/// What the till asks GiftPesa to redeem. `transaction_id` is our own id,
/// recorded as the intent before the call.
#[derive(Debug, Clone)]
pub struct Redemption<'a> {
    pub transaction_id: &'a str,
    /// The recipient's name.
    pub name: &'a str,
    pub phone: &'a Msisdn,
    pub till: &'a TillNumber,
    pub amount: Money,
    pub remarks: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed {
    pub transaction_id: String,
    pub status: String,
    pub receipt_no: String,
    pub transaction_code: String,
    /// As sent in `TrasanctionDate`. The document's sample reads
    /// "2020-28-06 19:02:50" (year-day-month), so it is kept as text for the
    /// receipt rather than guessed at.
    pub transaction_date: String,
    pub merchant: String,
    pub till_no: String,
    pub amount: Money,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disbursement {
    pub disbursement_id: String,
    pub status: String,
    pub amount: Money,
    pub recipients_count: u32,
    pub amount_disbursed: Money,
}

/// How often a call may be sent: reads and /authorize back off and retry on
/// 429 and 503; /redeem is sent `Once`, whatever happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Once,
    ExponentialBackoff,
}

/// Bounds for retries of reads and /authorize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff; doubled each retry.
    pub base_delay: Duration,
    /// The longest a cashier waits between attempts. A `Retry-After` longer
    /// than this is honoured by not retrying at all: the error comes back.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { retries: 2, base_delay: Duration::from_millis(250), max_wait: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.retries {
            return None;
        }
        match retry_after {
            Some(asked) if asked > self.max_wait => None,
            Some(asked) => Some(asked),
            None => Some(self.base_delay.saturating_mul(1 << attempt.min(16)).min(self.max_wait)),
        }
    }
}

struct Token {
    bearer: String,
    renew_at: Instant,
}

impl Token {
    fn new(bearer: String, requested_at: Instant, lifetime: Duration) -> Token {
        let lifetime = lifetime.min(MAX_TOKEN_LIFETIME);
        let margin = TOKEN_RENEWAL_MARGIN.min(lifetime / 4);
        Token { bearer, renew_at: requested_at + (lifetime - margin) }
    }

    fn fresh(&self, now: Instant) -> bool {
        now < self.renew_at
    }
}

struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    key: EncryptionKey,
    retry: RetryPolicy,
    /// Held across /authorize so concurrent calls share one sign-in.
    token: tokio::sync::Mutex<Option<Token>>,
}

impl Client {
    pub fn new(base: Url, credentials: Credentials, key: EncryptionKey) -> Self {
        Self::with_timeout(base, credentials, key, http::REQUEST_TIMEOUT)
    }

    pub fn with_timeout(base: Url, credentials: Credentials, key: EncryptionKey, timeout: Duration) -> Self {
        Client {
            http: http::client(timeout),
            base,
            credentials,
            key,
            retry: RetryPolicy::default(),
            token: tokio::sync::Mutex::new(None),
        }
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// GET /merchants. Read-only: retried on 429/503, and once more with a
    /// fresh token after a 401.
    pub async fn merchants(&self) -> Result<Vec<Merchant>, GiftPesaError> {
        let answer = self.read(http::endpoint(&self.base, "merchants")).await?;
        read_merchants(&answer)
    }

    /// GET /query/:id: the status of a disbursement.
    pub async fn query_disbursement(&self, disbursement_id: &str) -> Result<Disbursement, GiftPesaError> {
        check_text("disbursement id", disbursement_id, MAX_TRANSACTION_ID, true)?;
        let mut url = http::endpoint(&self.base, "query");
        url.path_segments_mut().expect("an http(s) base URL has path segments").push(disbursement_id);
        let answer = self.read(url).await?;
        read_disbursement(&answer)
    }

    /// POST /redeem. Moves money: the caller must have recorded its intent,
    /// and must not retry when `outcome_unknown()` is true. Sent once: a 401
    /// is a plain failure (nothing was redeemed) and the next call signs in
    /// again; 429 and 5xx are not retried.
    pub async fn redeem(&self, r: &Redemption<'_>) -> Result<Redeemed, GiftPesaError> {
        check_text("transaction id", r.transaction_id, MAX_TRANSACTION_ID, true)?;
        check_text("customer name", r.name, MAX_NAME, false)?;
        if let Some(remarks) = r.remarks.filter(|s| !s.trim().is_empty()) {
            check_text("remarks", remarks, MAX_REMARKS, false)?;
        }
        let body = RedeemRequest {
            transaction_id: r.transaction_id,
            name: r.name.trim(),
            phone: r.phone.with_plus(),
            till_no: r.till.as_str(),
            amount: whole_shillings(r.amount)?,
            remarks: r.remarks.map(str::trim).filter(|s| !s.is_empty()),
        };
        let bearer = self.bearer().await?;
        let request = self.http.post(http::endpoint(&self.base, "redeem")).bearer_auth(&bearer).json(&body);
        let answer = self.send(request, Strategy::Once).await?;
        if answer.status == 401 {
            self.forget(&bearer).await;
        }
        interpret_redeem(&answer, r.transaction_id)
    }

    /// A read with the cached token; after a 401, signs in again once and
    /// repeats the read.
    async fn read(&self, url: Url) -> Result<Answer, GiftPesaError> {
        let mut signed_in_again = false;
        loop {
            let bearer = self.bearer().await?;
            let answer =
                self.send(self.http.get(url.clone()).bearer_auth(&bearer), Strategy::ExponentialBackoff).await?;
            if answer.status == 401 && !signed_in_again {
                self.forget(&bearer).await;
                signed_in_again = true;
                continue;
            }
            accepted(&answer)?;
            return Ok(answer);
        }
    }

    /// The cached bearer token, or a new one from /authorize.
    async fn bearer(&self) -> Result<String, GiftPesaError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && token.fresh(Instant::now())
        {
            return Ok(token.bearer.clone());
        }
        *slot = None;
        let token = self.authorize().await.map_err(|e| GiftPesaError::Authorize(Box::new(e)))?;
        let bearer = token.bearer.clone();
        *slot = Some(token);
        Ok(bearer)
    }

    /// Drops the cached token if it is the one that was refused (another
    /// call may already have replaced it).
    async fn forget(&self, bearer: &str) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.bearer == bearer) {
            *slot = None;
        }
    }

    /// GET /authorize, as documented. A 2xx body is never quoted in an
    /// error: it could hold a token.
    async fn authorize(&self) -> Result<Token, GiftPesaError> {
        self.credentials.check().map_err(|e| GiftPesaError::Input(format!("GiftPesa credentials: {e}")))?;
        let url = http::endpoint(&self.base, "authorize");
        let mut attempt = 0;
        loop {
            let requested_at = Instant::now();
            let request = self
                .http
                .get(url.clone())
                .header(reqwest::header::AUTHORIZATION, self.key.authorization(&self.credentials.api_key, Utc::now())?)
                .header("Username", &self.credentials.username);
            let answer = self.send(request, Strategy::Once).await?;
            if let Some(wait) = self.retry_wait(&answer, Strategy::ExponentialBackoff, attempt) {
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let (bearer, lifetime) = read_token(&answer)?;
            return Ok(Token::new(bearer, requested_at, lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME)));
        }
    }

    fn retry_wait(&self, answer: &Answer, strategy: Strategy, attempt: u32) -> Option<Duration> {
        if strategy == Strategy::Once || !matches!(answer.status, 429 | 503) {
            return None;
        }
        self.retry.wait(attempt, answer.retry_after)
    }

    /// Sends a request, repeating it on 429/503 when the strategy allows.
    async fn send(&self, request: reqwest::RequestBuilder, strategy: Strategy) -> Result<Answer, GiftPesaError> {
        let mut attempt = 0;
        loop {
            let this = request.try_clone().expect("GiftPesa request bodies are bytes, never streams");
            let response = this.send().await.map_err(TransportError::from_reqwest)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response.bytes().await.map_err(TransportError::from_reqwest)?.to_vec();
            let answer = Answer { status, retry_after, body };
            match self.retry_wait(&answer, strategy, attempt) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => return Ok(answer),
            }
        }
    }
}

/// Whole shillings for the wire; cents are refused, not dropped.
fn whole_shillings(amount: Money) -> Result<i64, GiftPesaError> {
    if amount.currency != CURRENCY {
        return Err(GiftPesaError::Input(format!("GiftPesa redeems Kenya shillings only, not {}", amount.currency)));
    }
    if amount.minor <= 0 {
        return Err(GiftPesaError::Amount(MoneyError::NotPositive));
    }
    amount
        .to_wire_whole_units()
        .map_err(|_| GiftPesaError::Input(format!("GiftPesa redeems whole shillings only: {amount} has cents")))
}

fn kes_from_wire(n: &serde_json::Number) -> Result<Money, GiftPesaError> {
    if let Some(whole) = n.as_i64() {
        let minor = whole.checked_mul(100).ok_or(MoneyError::Overflow)?;
        return Ok(Money::new(minor, CURRENCY));
    }
    let value = n.as_f64().ok_or(MoneyError::Overflow)?;
    Ok(Money::from_wire_f64(value, CURRENCY)?)
}

/// Text fields: present, bounded, single-line. Ids must also be plain ASCII
/// without spaces, as they travel in paths and logs and are echoed back.
fn check_text(label: &str, value: &str, max: usize, id: bool) -> Result<(), GiftPesaError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(GiftPesaError::Input(format!("Enter the {label}")));
    }
    if v.chars().count() > max {
        return Err(GiftPesaError::Input(format!("The {label} is too long (at most {max} characters)")));
    }
    if v.chars().any(char::is_control) || (id && (v != value || !v.bytes().all(|b| b.is_ascii_graphic()))) {
        return Err(GiftPesaError::Input(format!("The {label} has characters GiftPesa cannot take")));
    }
    Ok(())
}

/// A non-2xx answer as a typed error, with the provider's own words if its
/// body has any (the document does not show error bodies).
fn refusal(status: u16, body: &[u8]) -> GiftPesaError {
    let reason = Reason::from_status(status);
    let said = provider_message(body);
    match status {
        500..=599 => GiftPesaError::Server { reason, status, excerpt: said.unwrap_or_else(|| http::excerpt(body)) },
        // A body without GiftPesa's words (an HTML page, say) is no message
        // for a cashier: the status's documented meaning speaks for it.
        400..=499 => GiftPesaError::Declined { reason, status, provider_message: said.unwrap_or_default() },
        _ => GiftPesaError::Malformed {
            status,
            detail: format!("unexpected HTTP status: {}", said.unwrap_or_else(|| http::excerpt(body))),
        },
    }
}

/// GiftPesa's own words in a JSON error body, if it has any.
fn provider_message(body: &[u8]) -> Option<String> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else { return None };
    ["Message", "message", "Error", "error", "Description", "description", "detail"].iter().find_map(|key| {
        match map.get(*key) {
            Some(Value::String(s)) => Some(http::excerpt(s.as_bytes())),
            _ => None,
        }
    })
}

/// Nothing for a 2xx answer; the refusal any other status is.
fn accepted(answer: &Answer) -> Result<(), GiftPesaError> {
    if (200..300).contains(&answer.status) { Ok(()) } else { Err(refusal(answer.status, &answer.body)) }
}

fn read_merchants(answer: &Answer) -> Result<Vec<Merchant>, GiftPesaError> {
    serde_json::from_slice(&answer.body)
        .map_err(|e| GiftPesaError::Malformed { status: answer.status, detail: e.to_string() })
}

fn read_disbursement(answer: &Answer) -> Result<Disbursement, GiftPesaError> {
    let malformed = |detail: String| GiftPesaError::Malformed { status: answer.status, detail };
    let w: WireDisbursement = serde_json::from_slice(&answer.body).map_err(|e| malformed(e.to_string()))?;
    Ok(Disbursement {
        disbursement_id: w.disbursement_id,
        status: w.status,
        amount: kes_from_wire(&w.amount)?,
        recipients_count: w.recipients_count,
        amount_disbursed: kes_from_wire(&w.amount_disbursed)?,
    })
}

/// The bearer token and its lifetime from /authorize's answer.
fn read_token(answer: &Answer) -> Result<(String, Option<Duration>), GiftPesaError> {
    accepted(answer)?;
    parse_token(answer.status, &answer.body)
}

fn interpret_redeem(answer: &Answer, transaction_id: &str) -> Result<Redeemed, GiftPesaError> {
    let status = answer.status;
    if !(200..300).contains(&status) {
        return Err(refusal(status, &answer.body));
    }
    let malformed = |detail: String| GiftPesaError::Malformed { status, detail };
    let w: WireRedeemed = serde_json::from_slice(&answer.body).map_err(|e| malformed(e.to_string()))?;
    match w.status.trim().to_ascii_lowercase().as_str() {
        "success" | "successful" => {}
        "failed" | "failure" | "fail" => {
            return Err(GiftPesaError::Declined { reason: Reason::Failed, status, provider_message: w.message });
        }
        // "pending" or anything new: GiftPesa may yet act.
        other => return Err(malformed(format!("redemption status “{}”", http::excerpt(other.as_bytes())))),
    }
    if w.transaction_id != transaction_id {
        return Err(malformed("the answer is for another TransactionID".into()));
    }
    // An amount that does not read as exact shillings is an answer we cannot
    // trust: unknown, not failed.
    let amount = kes_from_wire(&w.amount).map_err(|e| malformed(e.to_string()))?;
    Ok(Redeemed {
        transaction_id: w.transaction_id,
        status: w.status,
        receipt_no: w.receipt_no,
        transaction_code: w.transaction_code,
        transaction_date: w.transaction_date,
        merchant: w.merchant,
        till_no: w.till_no,
        amount,
        message: w.message,
    })
}

const TOKEN_KEYS: [&str; 6] = ["access_token", "AccessToken", "accessToken", "token", "Token", "Access_Token"];
const EXPIRY_KEYS: [&str; 4] = ["expires_in", "ExpiresIn", "expiresIn", "Expires_In"];

/// The /authorize answer, which the document does not show: a token under
/// one of the usual keys, at the top or under `data`, with an optional
/// lifetime in seconds. Errors name the keys found, never a value.
fn parse_token(status: u16, body: &[u8]) -> Result<(String, Option<Duration>), GiftPesaError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| GiftPesaError::Malformed { status, detail: "the sign-in answer is not JSON".into() })?;
    let usable = |s: &str| !s.is_empty() && s.len() <= 8192 && s.bytes().all(|b| b.is_ascii_graphic());
    let map = match value {
        Value::String(s) if usable(&s) => return Ok((s, None)),
        Value::Object(map) => map,
        _ => return Err(GiftPesaError::NoToken { keys: vec![] }),
    };
    let nested = ["data", "Data"].iter().find_map(|k| map.get(*k).and_then(Value::as_object));
    let levels: Vec<&serde_json::Map<String, Value>> = std::iter::once(&map).chain(nested).collect();
    let find = |keys: &[&str]| levels.iter().find_map(|m| keys.iter().find_map(|k| m.get(*k)));
    if let Some(Value::String(token)) = find(&TOKEN_KEYS)
        && usable(token)
    {
        let lifetime = find(&EXPIRY_KEYS).and_then(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        return Ok((token.clone(), lifetime.map(Duration::from_secs)));
    }
    let mut keys: Vec<String> = map.keys().cloned().collect();
    if let Some(inner) = nested {
        let prefix = if map.contains_key("data") { "data" } else { "Data" };
        keys.extend(inner.keys().map(|k| format!("{prefix}.{k}")));
    }
    // Enough to recognise the answer's shape, short enough for a message.
    keys.truncate(6);
    keys.iter_mut().for_each(|k| *k = crate::text::excerpt(k, 32));
    Err(GiftPesaError::NoToken { keys })
}

/// The code the client runs on each endpoint's answer, for the fuzz targets.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;
    use crate::fuzzing::Seen;

    /// The `TransactionID` the redeem seeds carry (the document's sample).
    pub const TRANSACTION_ID: &str = "<TransactionID>";

    pub fn response(endpoint: u8, status: u16, body: &[u8]) -> Seen {
        let answer = Answer { status, retry_after: None, body: body.to_vec() };
        match endpoint % 4 {
            // A failed sign-in reaches the cashier wrapped, as `bearer` wraps it.
            0 => match read_token(&answer) {
                Ok(_) => Seen::default(),
                Err(e) => Seen::error(GiftPesaError::Authorize(Box::new(e))),
            },
            1 => match accepted(&answer).and_then(|()| read_merchants(&answer)) {
                Ok(_) => Seen::default(),
                Err(e) => Seen::error(e),
            },
            2 => match accepted(&answer).and_then(|()| read_disbursement(&answer)) {
                Ok(d) => Seen { amounts: vec![d.amount, d.amount_disbursed], messages: vec![] },
                Err(e) => Seen::error(e),
            },
            _ => match interpret_redeem(&answer, TRANSACTION_ID) {
                Ok(r) => Seen { amounts: vec![r.amount], messages: vec![] },
                Err(e) => Seen::error(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, retry_after: None, body: body.as_bytes().to_vec() }
    }

    /// The document's redeem response, verbatim.
    const REDEEM_SAMPLE: &str = r#"{
        "TransactionID": "<TransactionID>",
        "Status": "success",
        "ReceiptNo": "PEKL98SO",
        "TransactionCode": "A9012333",
        "TrasanctionDate": "2020-28-06 19:02:50",
        "Merchant": "Naivas - EastGate",
        "TillNo": "123456",
        "Amount": 10,
        "Message": "PEKL98SO confirmed. KES 10 redeemed at Naivas - Eastgate on 2020-28-06 19:02:50."
    }"#;

    #[test]
    fn the_documented_redeem_response_parses_field_by_field() {
        let r = interpret_redeem(&answer(200, REDEEM_SAMPLE), "<TransactionID>").unwrap();
        assert_eq!(r.receipt_no, "PEKL98SO");
        assert_eq!(r.transaction_code, "A9012333");
        assert_eq!(r.transaction_date, "2020-28-06 19:02:50");
        assert_eq!(r.merchant, "Naivas - EastGate");
        assert_eq!(r.till_no, "123456");
        assert_eq!(r.amount, Money::new(1_000, Currency::KES));
        assert!(r.message.starts_with("PEKL98SO confirmed."));
    }

    #[test]
    fn a_redeem_answer_we_cannot_trust_is_unknown_not_failed() {
        let other_id = interpret_redeem(&answer(200, REDEEM_SAMPLE), "mine").unwrap_err();
        assert!(other_id.outcome_unknown(), "{other_id:?}");
        let correct_spelling = REDEEM_SAMPLE.replace("TrasanctionDate", "TransactionDate");
        assert!(interpret_redeem(&answer(200, &correct_spelling), "<TransactionID>").unwrap_err().outcome_unknown());
        let pending = REDEEM_SAMPLE.replace("\"success\"", "\"pending\"");
        assert!(interpret_redeem(&answer(200, &pending), "<TransactionID>").unwrap_err().outcome_unknown());
        let cents = REDEEM_SAMPLE.replace("\"Amount\": 10,", "\"Amount\": 10.005,");
        assert!(interpret_redeem(&answer(200, &cents), "<TransactionID>").unwrap_err().outcome_unknown());
        assert!(interpret_redeem(&answer(200, "{\"Status\": \"succ"), "x").unwrap_err().outcome_unknown());
    }

    #[test]
    fn a_failed_status_is_a_plain_failure() {
        let failed = REDEEM_SAMPLE.replace("\"success\"", "\"failed\"");
        let e = interpret_redeem(&answer(200, &failed), "<TransactionID>").unwrap_err();
        assert!(!e.outcome_unknown());
        assert_eq!(e.code(), "redeem_failed");
    }

    #[test]
    fn every_documented_status_has_its_reason_and_classification() {
        let cases = [
            (400, "bad_request", false),
            (401, "unauthorized", false),
            (403, "forbidden", false),
            (404, "not_found", false),
            (405, "method_not_allowed", false),
            (406, "not_acceptable", false),
            (429, "too_many_requests", false),
            (500, "internal_server_error", true),
            (503, "service_unavailable", true),
            (502, "unexpected_status", true),
            (418, "unexpected_status", false),
        ];
        for (status, code, unknown) in cases {
            let e = interpret_redeem(&answer(status, r#"{"Message": "x"}"#), "t").unwrap_err();
            assert_eq!((e.code(), e.outcome_unknown()), (code, unknown), "{status}");
            let reason = Reason::from_status(status);
            if reason != Reason::OtherStatus {
                assert!(!reason.documented_meaning().is_empty() && !reason.plain().is_empty());
            }
        }
    }

    #[test]
    fn the_providers_words_are_shown_only_when_they_add_something() {
        let e = refusal(400, br#"{"Message": "Bad Request -- Your request is invalid."}"#);
        assert_eq!(e.to_string(), Reason::BadRequest.plain());
        let e = refusal(400, br#"{"Message": "Insufficient balance"}"#);
        assert!(e.to_string().ends_with("(GiftPesa: Insufficient balance)"), "{e}");
        // A body that is not GiftPesa's JSON is no message for a cashier.
        let e = refusal(404, b"<html>\nnot here</html>");
        assert_eq!(e.to_string(), Reason::NotFound.plain());
        // A 5xx says so in plain words; what came back is kept for the audit log.
        let e = refusal(502, b"<html><title>502 Bad Gateway</title></html>");
        assert_eq!(e.to_string(), "GiftPesa answered with a server error (HTTP 502).");
        assert_eq!(e.detail(), Some("<html><title>502 Bad Gateway</title></html>"));
    }

    #[test]
    fn tokens_are_found_under_the_usual_keys() {
        let cases = [
            (r#"{"access_token": "abc", "expires_in": 3600}"#, Some(3600)),
            (r#"{"AccessToken": "abc", "ExpiresIn": "120"}"#, Some(120)),
            (r#"{"token": "abc"}"#, None),
            (r#"{"status": "ok", "data": {"accessToken": "abc", "expiresIn": 60}}"#, Some(60)),
            (r#""abc""#, None),
        ];
        for (body, lifetime) in cases {
            let (token, got) = parse_token(200, body.as_bytes()).unwrap();
            assert_eq!((token.as_str(), got), ("abc", lifetime.map(Duration::from_secs)), "{body}");
        }
    }

    #[test]
    fn a_sign_in_answer_without_a_token_names_its_keys_but_no_value() {
        let body = br#"{"status": "ok", "secret_thing": "s3cr3t-value", "data": {"jwt": "eyJ-secret"}}"#;
        let e = parse_token(200, body).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("status") && text.contains("secret_thing") && text.contains("data.jwt"), "{text}");
        assert!(!text.contains("s3cr3t-value") && !text.contains("eyJ-secret"), "{text}");
        let e = parse_token(200, b"token=eyJ-secret").unwrap_err();
        assert!(!e.to_string().contains("eyJ-secret"));
        assert!(matches!(parse_token(200, br#"{"token": ""}"#), Err(GiftPesaError::NoToken { .. })));
        assert!(matches!(parse_token(200, br#"{"token": "a b"}"#), Err(GiftPesaError::NoToken { .. })));
    }

    #[test]
    fn tokens_are_renewed_shortly_before_they_expire() {
        let t0 = Instant::now();
        let hour = Token::new("t".into(), t0, Duration::from_secs(3600));
        assert!(hour.fresh(t0 + Duration::from_secs(3539)));
        assert!(!hour.fresh(t0 + Duration::from_secs(3540)));
        let short = Token::new("t".into(), t0, Duration::from_secs(40));
        assert!(short.fresh(t0 + Duration::from_secs(29)));
        assert!(!short.fresh(t0 + Duration::from_secs(30)));
        assert!(!Token::new("t".into(), t0, Duration::ZERO).fresh(t0));
        let absurd = Token::new("t".into(), t0, Duration::from_secs(u32::MAX as u64));
        assert!(!absurd.fresh(t0 + MAX_TOKEN_LIFETIME));
    }

    #[test]
    fn retries_are_bounded_and_honour_retry_after() {
        let p = RetryPolicy { retries: 2, base_delay: Duration::from_millis(100), max_wait: Duration::from_secs(1) };
        assert_eq!(p.wait(0, None), Some(Duration::from_millis(100)));
        assert_eq!(p.wait(1, None), Some(Duration::from_millis(200)));
        assert_eq!(p.wait(2, None), None);
        assert_eq!(p.wait(0, Some(Duration::ZERO)), Some(Duration::ZERO));
        assert_eq!(p.wait(0, Some(Duration::from_secs(1))), Some(Duration::from_secs(1)));
        assert_eq!(p.wait(0, Some(Duration::from_secs(2))), None);
        let long = RetryPolicy { retries: 40, ..p };
        assert_eq!(long.wait(30, None), Some(Duration::from_secs(1)));
    }

    #[test]
    fn the_timestamp_is_utc_yyyymmddhhmmss() {
        let at = DateTime::parse_from_rfc3339("2021-05-12T07:04:09+03:00").unwrap().with_timezone(&Utc);
        assert_eq!(timestamp(at), "20210512040409");
    }

    #[test]
    fn amounts_go_out_as_whole_shillings_only() {
        assert_eq!(whole_shillings(Money::new(1_000, Currency::KES)).unwrap(), 10);
        assert!(matches!(whole_shillings(Money::new(1_050, Currency::KES)), Err(GiftPesaError::Input(_))));
        assert!(matches!(whole_shillings(Money::new(0, Currency::KES)), Err(GiftPesaError::Amount(_))));
        assert!(matches!(whole_shillings(Money::new(1_000, Currency::ETB)), Err(GiftPesaError::Input(_))));
    }

    #[test]
    fn the_redeem_body_uses_the_documents_names() {
        let phone = Msisdn::parse("0720123456").unwrap();
        let body = RedeemRequest {
            transaction_id: "T1",
            name: "Jane Doe",
            phone: phone.with_plus(),
            till_no: "123456",
            amount: 10,
            remarks: Some("Weekly shopping"),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"TransactionID": "T1", "Name": "Jane Doe", "Phone": "+254720123456",
                "TillNo": "123456", "Amount": 10, "Remarks": "Weekly shopping"})
        );
    }

    #[test]
    fn the_documented_merchants_sample_parses() {
        let body = r#"[{"MerchantID": "naivas", "Merchant": "Naivas",
            "Category": {"ID": "supermarkets", "Label": "Supermarkets"}},
            {"MerchantID": "pizza-inn", "Merchant": "Pizza Inn",
            "Category": {"ID": "cafes-restaurants", "Label": "Cafes and Restaurants"}}]"#;
        let list: Vec<Merchant> = serde_json::from_str(body).unwrap();
        assert_eq!(list[1].merchant_id, "pizza-inn");
        assert_eq!(list[1].category.label, "Cafes and Restaurants");
    }

    #[test]
    fn key_files_are_read_as_people_save_them() {
        let pem = crate::training::giftpesa::TRAINING_CERTIFICATE;
        let crlf = pem.replace('\n', "\r\n");
        let chain = format!("Bag Attributes\n  friendlyName: giftpesa\n{pem}{pem}");
        let key_first = format!("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n{pem}");
        for text in [pem, crlf.as_str(), chain.as_str(), key_first.as_str()] {
            let key = EncryptionKey::from_certificate(text.as_bytes()).unwrap();
            assert!(key.authorization("k", Utc::now()).unwrap().starts_with("Basic "));
        }
        let cut = &pem[..pem.len() / 2];
        assert!(matches!(EncryptionKey::from_certificate(cut.as_bytes()), Err(GiftPesaError::Key(_))));
        let key = EncryptionKey::from_certificate(pem.as_bytes()).unwrap();
        let huge = "k".repeat(300);
        match key.authorization(&huge, Utc::now()) {
            Err(GiftPesaError::Key(m)) => assert!(!m.contains(&huge) && m.contains("too long")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn credentials_never_print_and_are_checked() {
        let c = Credentials { username: "store-1".into(), api_key: "key-123".into() };
        let shown = format!("{c:?}");
        assert!(!shown.contains("store-1") && !shown.contains("key-123"));
        assert!(c.check().is_ok());
        assert!(Credentials { api_key: "a:b".into(), ..c.clone() }.check().is_err());
        assert!(Credentials { username: " ".into(), ..c }.check().is_err());
    }
}
