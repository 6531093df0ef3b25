//! BitPesa (TransferZero) API v1 (providers/bitpesa-api.txt,
//! bitpesa-authentication.txt and the provider's public docs): balances,
//! senders found by `external_id` or created once, transactions created,
//! funded from the balance, read and cancelled, and webhooks verified.
//! Every request is signed over the exact bytes sent (see `sign`).
//!
//! Amounts are read from the JSON text exactly as BitPesa wrote it (a number
//! or a string), never through a float; amounts sent are decimal strings, as
//! the document's samples send them (`"requested_amount": "100"`).
//!
//! Errors follow the document's two kinds: a 422 carries validation errors
//! in `errors` (`{"field": [{"error": "…"}]}`, top-level or inside the
//! returned `object`), other errors a message in `meta`. Only a 422 proves a
//! money-moving request did nothing; any other unexpected answer leaves the
//! outcome unknown until the transaction is looked up.

pub mod sign;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use super::http::{self, TransportError};
use crate::money::{Currency, Money, MoneyError};
use crate::secrets::{self, Redacted, SecretError};

pub const SANDBOX_URL: &str = "https://api-sandbox.transferzero.com";
pub const LIVE_URL: &str = "https://api.transferzero.com";

/// `create_and_fund` "might take more than a minute"; plain creation and
/// funding are quicker, but a slow answer must still end in a lookup, not a
/// frozen till.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub api_key: String,
    pub api_secret: String,
}

impl Credentials {
    pub fn check(&self) -> Result<(), SecretError> {
        secrets::check_field("api_key", &self.api_key)?;
        secrets::check_field("api_secret", &self.api_secret)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("api_key", &Redacted).field("api_secret", &Redacted).finish()
    }
}

/// One validation error: the field BitPesa names (`base` for the whole
/// request) and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field.as_str() {
            "base" | "main_error" | "" => f.write_str(&self.message),
            field => write!(f, "{}: {}", field.replace('_', " "), self.message),
        }
    }
}

fn summary(errors: &[FieldError], meta: &Option<String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    // `main_error` repeats `base` with a prefix; show it only when alone.
    let has_base = errors.iter().any(|e| e.field == "base");
    for e in errors.iter().filter(|e| !(has_base && e.field == "main_error")) {
        let text = e.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
    }
    if let Some(m) = meta.as_ref().filter(|m| !parts.contains(m)) {
        parts.push(m.clone());
    }
    // However many errors came back, the manager reads a few lines.
    if parts.is_empty() { "no reason given".into() } else { crate::text::excerpt(&parts.join("; "), 240) }
}

#[derive(Debug, thiserror::Error)]
pub enum BitPesaError {
    /// HTTP 422: the request was refused and nothing was created or moved.
    #[error("BitPesa refused the request: {}", summary(.errors, .meta))]
    Validation { errors: Vec<FieldError>, meta: Option<String> },
    #[error(
        "BitPesa refused this till's API key or request signature ({message}): a manager must check the \
         BitPesa credentials in Settings"
    )]
    Unauthorized { message: String },
    #[error("BitPesa has no such {what}")]
    NotFound { what: &'static str },
    /// Another 4xx: a refusal, but not the one that proves nothing happened.
    /// `message` is BitPesa's `meta` text or plain words for the status; the
    /// body itself stays in `excerpt`, for the audit log.
    #[error("BitPesa refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String, excerpt: String },
    #[error("BitPesa cannot be reached ({0}). Nothing was sent; try again when it is back.")]
    Unreachable(String),
    #[error("BitPesa did not answer ({0}).")]
    NoAnswer(String),
    /// What BitPesa sent stays in `excerpt` for the audit log (`detail()`): a
    /// manager reads plain words, never a raw body.
    #[error("BitPesa answered with a server error (HTTP {status}).")]
    Server { status: u16, excerpt: String },
    #[error("BitPesa's answer could not be read (HTTP {status}).")]
    Malformed { status: u16, detail: String },
    #[error(transparent)]
    Amount(#[from] MoneyError),
    #[error(
        "The webhook's signature does not match: it was not sent by BitPesa with this till's key, \
         or it was changed on the way. Nothing was imported."
    )]
    BadSignature,
}

impl BitPesaError {
    pub fn code(&self) -> &'static str {
        match self {
            BitPesaError::Validation { .. } => "validation_failed",
            BitPesaError::Unauthorized { .. } => "unauthorized",
            BitPesaError::NotFound { .. } => "not_found",
            BitPesaError::Refused { .. } => "declined",
            BitPesaError::Unreachable(_) => "provider_unreachable",
            BitPesaError::NoAnswer(_) => "no_answer",
            BitPesaError::Server { .. } => "server_error",
            BitPesaError::Malformed { .. } => "malformed",
            BitPesaError::Amount(_) => "invalid_amount",
            BitPesaError::BadSignature => "bad_signature",
        }
    }

    /// True when BitPesa may have acted although we hold no clear answer.
    /// For a money-moving request only a 422 (or an authentication refusal,
    /// which stops a request before anything else) proves it did nothing.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            BitPesaError::NoAnswer(_)
                | BitPesaError::Server { .. }
                | BitPesaError::Malformed { .. }
                | BitPesaError::Refused { .. }
                | BitPesaError::NotFound { .. }
        )
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self, BitPesaError::Unreachable(_))
    }

    /// What BitPesa actually sent, for the audit log only.
    pub fn detail(&self) -> Option<&str> {
        match self {
            BitPesaError::Server { excerpt, .. } => Some(excerpt),
            BitPesaError::Malformed { detail, .. } => Some(detail),
            BitPesaError::Refused { excerpt, .. } => Some(excerpt),
            _ => None,
        }
    }

    /// The plain message, and what BitPesa sent: for audit rows.
    pub fn audit_text(&self) -> String {
        match self.detail().map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => format!("{self} BitPesa sent: {d}"),
            None => self.to_string(),
        }
    }
}

impl From<TransportError> for BitPesaError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unreachable(m) => BitPesaError::Unreachable(m),
            TransportError::NoAnswer(m) => BitPesaError::NoAnswer(m),
        }
    }
}

// ---- amounts, exactly as written ----

/// A decimal from BitPesa's JSON, kept as its text: `1000.00`, `"2000.0"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WireDecimal(String);

impl WireDecimal {
    pub fn text(&self) -> &str {
        &self.0
    }

    pub fn money(&self, currency: Currency) -> Result<Money, MoneyError> {
        Money::from_wire_decimal(&self.0, currency)
    }

    /// True for any amount above zero (a funded transaction's `paid_amount`).
    pub fn is_positive(&self) -> bool {
        let t = self.0.trim();
        !t.starts_with('-') && t.chars().any(|c| c.is_ascii_digit() && c != '0')
    }

    /// True only for a readable zero (`0`, `0.0`, `"0.00"`): not for text
    /// that is no number at all.
    pub fn is_zero(&self) -> bool {
        let t = self.0.trim().trim_start_matches(['-', '+']);
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        !int.is_empty() && int.bytes().chain(frac.bytes()).all(|b| b == b'0')
    }
}

impl<'de> Deserialize<'de> for WireDecimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        let text = raw.get().trim();
        if text.starts_with('"') {
            let s: String = serde_json::from_str(text).map_err(de::Error::custom)?;
            return Ok(WireDecimal(s.trim().to_string()));
        }
        if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Ok(WireDecimal(text.to_string()));
        }
        Err(de::Error::custom(format!("expected an amount, found {}", text.chars().take(16).collect::<String>())))
    }
}

// ---- wire types, with the document's field names ----

#[derive(Debug, Clone, Deserialize)]
pub struct Balance {
    pub amount: WireDecimal,
    pub currency: String,
}

#[derive(Debug, Clone)]
pub struct Balances {
    /// `meta.negative_balance`: may the store go below zero.
    pub negative_balance: bool,
    pub accounts: Vec<Balance>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Sender {
    pub id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl Sender {
    /// Only an `approved` sender can transact.
    pub fn may_transact(&self) -> bool {
        self.state == "approved"
    }
}

/// A business sender, as "Business senders" lists its fields.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NewSender {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    /// Country of incorporation (ISO 3166-1 alpha-2).
    pub country: String,
    pub trading_country: String,
    pub city: String,
    pub street: String,
    pub postal_code: String,
    pub address_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    /// E.164.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub email: String,
    pub external_id: String,
    pub documents: Vec<Value>,
    pub ip: String,
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct SenderRef {
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewPayoutMethod {
    #[serde(rename = "type")]
    pub kind: String,
    pub details: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewRecipient {
    /// Exact decimal text.
    pub requested_amount: String,
    pub requested_currency: String,
    /// `person` or `business`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub payout_method: NewPayoutMethod,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewTransaction {
    pub input_currency: String,
    pub sender: SenderRef,
    pub recipients: Vec<NewRecipient>,
    pub metadata: Value,
    /// Our transaction id: duplicates are refused, and a lost answer is found by it.
    pub external_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct StateReasonDetails {
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub messages: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PayoutMethod {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub details: Value,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Recipient {
    pub id: String,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub transaction_state: Option<String>,
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub state_reason_details: Option<StateReasonDetails>,
    #[serde(default)]
    pub may_cancel: bool,
    #[serde(default)]
    pub editable: bool,
    #[serde(default)]
    pub requested_amount: Option<WireDecimal>,
    #[serde(default)]
    pub requested_currency: Option<String>,
    #[serde(default)]
    pub input_amount: Option<WireDecimal>,
    #[serde(default)]
    pub input_currency: Option<String>,
    #[serde(default)]
    pub output_amount: Option<WireDecimal>,
    #[serde(default)]
    pub output_currency: Option<String>,
    #[serde(default)]
    pub payout_method: Option<PayoutMethod>,
    #[serde(default)]
    pub external_id: Option<String>,
}

impl Recipient {
    /// What the recipient receives, exactly.
    pub fn output(&self) -> Result<Option<Money>, MoneyError> {
        money_of(self.output_amount.as_ref(), self.output_currency.as_deref())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Transaction {
    pub id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub input_amount: Option<WireDecimal>,
    #[serde(default)]
    pub input_currency: Option<String>,
    #[serde(default)]
    pub paid_amount: Option<WireDecimal>,
    #[serde(default)]
    pub due_amount: Option<WireDecimal>,
    #[serde(default)]
    pub recipients: Vec<Recipient>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub sender: Option<Sender>,
    #[serde(default)]
    pub metadata: Value,
}

/// The transaction states of "Transaction object", as a closed set the
/// flow can match on; unknown words are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionState {
    Initial,
    Approved,
    Pending,
    Processing,
    Received,
    Mispaid,
    Manual,
    Paid,
    Canceled,
    Refunded,
    Exception,
    Other(String),
}

impl TransactionState {
    pub fn parse(s: &str) -> TransactionState {
        match s {
            "initial" => TransactionState::Initial,
            "approved" => TransactionState::Approved,
            "pending" => TransactionState::Pending,
            "processing" => TransactionState::Processing,
            "received" => TransactionState::Received,
            "mispaid" => TransactionState::Mispaid,
            "manual" => TransactionState::Manual,
            "paid" => TransactionState::Paid,
            "canceled" | "cancelled" => TransactionState::Canceled,
            "refunded" => TransactionState::Refunded,
            "exception" => TransactionState::Exception,
            other => TransactionState::Other(other.to_string()),
        }
    }
}

impl Transaction {
    pub fn state(&self) -> TransactionState {
        TransactionState::parse(&self.state)
    }

    /// What funding takes from the balance, exactly.
    pub fn input(&self) -> Result<Option<Money>, MoneyError> {
        money_of(self.input_amount.as_ref(), self.input_currency.as_deref())
    }

    /// BitPesa has received money for it (funded from the balance).
    pub fn is_funded(&self) -> bool {
        self.paid_amount.as_ref().is_some_and(WireDecimal::is_positive)
            || matches!(
                self.state(),
                TransactionState::Pending
                    | TransactionState::Processing
                    | TransactionState::Received
                    | TransactionState::Mispaid
                    | TransactionState::Manual
                    | TransactionState::Paid
                    | TransactionState::Refunded
            )
    }

    /// Whether BitPesa holds money for it: `Some(true)` funded (see
    /// [`Self::is_funded`]), `Some(false)` only when `paid_amount` is present
    /// and zero, `None` when it is missing or unreadable (possibly funded).
    pub fn funding(&self) -> Option<bool> {
        if self.is_funded() {
            return Some(true);
        }
        self.paid_amount.as_ref().filter(|p| p.is_zero()).map(|_| false)
    }

    /// The one recipient Kaunta's payouts have.
    pub fn recipient(&self) -> Option<&Recipient> {
        self.recipients.first()
    }
}

fn money_of(amount: Option<&WireDecimal>, currency: Option<&str>) -> Result<Option<Money>, MoneyError> {
    match (amount, currency) {
        (Some(a), Some(c)) => Ok(Some(a.money(c.parse()?)?)),
        _ => Ok(None),
    }
}

/// A webhook's body: `{"webhook": id, "event": "…", "object": {…}}`.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub webhook: Option<String>,
    pub event: String,
    pub object: WebhookObject,
}

#[derive(Debug, Clone)]
pub enum WebhookObject {
    Transaction(Box<Transaction>),
    /// Payout errors arrive on the recipient; its `transaction_id` names the transaction.
    Recipient(Box<Recipient>),
    /// An event Kaunta does not act on (senders, documents …).
    Other,
}

impl Webhook {
    /// The BitPesa transaction this event is about, if any.
    pub fn transaction_id(&self) -> Option<&str> {
        match &self.object {
            WebhookObject::Transaction(t) => Some(&t.id),
            WebhookObject::Recipient(r) => r.transaction_id.as_deref(),
            WebhookObject::Other => None,
        }
    }
}

#[derive(Deserialize)]
struct WebhookEnvelope<'a> {
    #[serde(default)]
    webhook: Option<String>,
    event: String,
    #[serde(borrow)]
    object: &'a RawValue,
}

/// Verifies a webhook with the same signature as requests (method POST, the
/// URL BitPesa called, the exact body) and our key, then parses it.
pub fn verify_webhook(
    credentials: &Credentials,
    url: &str,
    key: &str,
    nonce: &str,
    signature: &str,
    body: &[u8],
) -> Result<Webhook, BitPesaError> {
    if key.trim() != credentials.api_key
        || nonce.trim().is_empty()
        || !sign::verify(&credentials.api_secret, nonce.trim(), "POST", url.trim(), body, signature)
    {
        return Err(BitPesaError::BadSignature);
    }
    parse_webhook(body)
}

pub fn parse_webhook(body: &[u8]) -> Result<Webhook, BitPesaError> {
    let malformed = |e: serde_json::Error| BitPesaError::Malformed { status: 200, detail: e.to_string() };
    let env: WebhookEnvelope<'_> = serde_json::from_slice(body).map_err(malformed)?;
    let object = if env.event.starts_with("transaction.") {
        WebhookObject::Transaction(Box::new(serde_json::from_str(env.object.get()).map_err(malformed)?))
    } else if env.event.starts_with("recipient.") {
        WebhookObject::Recipient(Box::new(serde_json::from_str(env.object.get()).map_err(malformed)?))
    } else {
        WebhookObject::Other
    };
    Ok(Webhook { webhook: env.webhook, event: env.event, object })
}

// ---- envelopes ----

#[derive(Deserialize)]
struct Envelope<T> {
    object: T,
}

#[derive(Debug, Deserialize)]
struct BalancesEnvelope {
    #[serde(default)]
    meta: Option<BalancesMeta>,
    object: Vec<Balance>,
}

#[derive(Debug, Deserialize)]
struct BalancesMeta {
    #[serde(default)]
    negative_balance: bool,
}

/// Validation errors from a `{"field": [{"error": "…"}]}` object.
fn field_errors(errors: &Value) -> Vec<FieldError> {
    let Some(map) = errors.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    for (field, list) in map {
        let items = match list {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for item in items {
            let message = match &item {
                Value::String(s) => s.clone(),
                Value::Object(o) => o.get("error").and_then(Value::as_str).map(str::to_string).unwrap_or_default(),
                _ => String::new(),
            };
            if !message.is_empty() {
                // BitPesa's words are quoted to a manager: one short line each.
                out.push(FieldError {
                    field: http::excerpt(field.as_bytes()),
                    message: http::excerpt(message.as_bytes()),
                });
            }
        }
    }
    out
}

/// `meta.error`, or the meta's first text.
fn meta_message(body: &Value) -> Option<String> {
    let meta = body.get("meta")?;
    meta.get("error")
        .and_then(Value::as_str)
        .or_else(|| meta.as_object()?.values().find_map(Value::as_str))
        .map(|s| http::excerpt(s.as_bytes()))
}

/// Turns a status and body into the typed result or error. Kept apart from
/// I/O so the documented answers are unit-tested from their samples.
fn interpret<T: serde::de::DeserializeOwned>(status: u16, body: &[u8], what: &'static str) -> Result<T, BitPesaError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| BitPesaError::Malformed { status, detail: e.to_string() });
    }
    if status >= 500 {
        return Err(BitPesaError::Server { status, excerpt: http::excerpt(body) });
    }
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let meta = parsed.as_ref().and_then(meta_message);
    match status {
        422 => {
            let mut errors = Vec::new();
            if let Some(v) = &parsed {
                for place in [v.get("errors"), v.get("object").and_then(|o| o.get("errors"))].into_iter().flatten() {
                    errors.extend(field_errors(place));
                }
            }
            Err(BitPesaError::Validation { errors, meta })
        }
        401 => Err(BitPesaError::Unauthorized { message: meta.unwrap_or_else(|| "HTTP 401".into()) }),
        404 => Err(BitPesaError::NotFound { what }),
        _ => Err(BitPesaError::Refused {
            status,
            message: meta.unwrap_or_else(|| match status {
                // No Retry-After is read: nothing is retried by itself, the manager tries again later.
                429 => "too many requests; wait a minute before trying again".into(),
                _ => "no reason given".into(),
            }),
            excerpt: http::excerpt(body),
        }),
    }
}

pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
}

impl Client {
    pub fn new(base: Url, credentials: Credentials) -> Self {
        Self::with_timeout(base, credentials, REQUEST_TIMEOUT)
    }

    pub fn with_timeout(base: Url, credentials: Credentials, timeout: Duration) -> Self {
        Client { http: http::client(timeout), base, credentials }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = http::endpoint(&self.base, path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Signs and sends. The signature covers exactly the URL and bytes sent.
    async fn call(&self, method: Method, url: Url, body: Option<Vec<u8>>) -> Result<(u16, Vec<u8>), BitPesaError> {
        let body = body.unwrap_or_default();
        let nonce = uuid::Uuid::now_v7().to_string();
        let signature = sign::signature(&self.credentials.api_secret, &nonce, method.as_str(), url.as_str(), &body);
        let mut request = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Authorization-Key", &self.credentials.api_key)
            .header("Authorization-Nonce", nonce)
            .header("Authorization-Signature", signature);
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request.send().await.map_err(TransportError::from_reqwest)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(TransportError::from_reqwest)?;
        Ok((status, bytes.to_vec()))
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &'static str,
    ) -> Result<T, BitPesaError> {
        let (status, body) = self.call(Method::GET, self.url(path, query), None).await?;
        interpret(status, &body, what)
    }

    async fn send_json<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
        what: &'static str,
    ) -> Result<T, BitPesaError> {
        let bytes = serde_json::to_vec(body).expect("request types always serialise");
        let (status, answer) = self.call(method, self.url(path, &[]), Some(bytes)).await?;
        interpret(status, &answer, what)
    }

    /// GET /v1/accounts: the balance per currency. Read-only.
    pub async fn accounts(&self) -> Result<Balances, BitPesaError> {
        let env: BalancesEnvelope = self.get("v1/accounts", &[], "account").await?;
        Ok(Balances { negative_balance: env.meta.is_some_and(|m| m.negative_balance), accounts: env.object })
    }

    /// GET /v1/senders?external_id=…: the sender created earlier with our id.
    pub async fn find_sender(&self, external_id: &str) -> Result<Option<Sender>, BitPesaError> {
        let env: Envelope<Vec<Sender>> = self.get("v1/senders", &[("external_id", external_id)], "sender").await?;
        // Only an object carrying exactly our id is ours: a listing may hold
        // others (a filter ignored, objects without an external_id).
        Ok(env.object.into_iter().find(|s| s.external_id.as_deref() == Some(external_id)))
    }

    /// POST /v1/senders. A duplicate `external_id` is refused (422), so the
    /// caller looks the sender up first.
    pub async fn create_sender(&self, sender: &NewSender) -> Result<Sender, BitPesaError> {
        let env: Envelope<Sender> =
            self.send_json(Method::POST, "v1/senders", &serde_json::json!({ "sender": sender }), "sender").await?;
        Ok(env.object)
    }

    /// POST /v1/transactions. Creates, does not fund: no money moves yet,
    /// but a lost answer must still be looked up by `external_id`.
    pub async fn create_transaction(&self, transaction: &NewTransaction) -> Result<Transaction, BitPesaError> {
        let body = serde_json::json!({ "transaction": transaction });
        let env: Envelope<Transaction> = self.send_json(Method::POST, "v1/transactions", &body, "transaction").await?;
        Ok(env.object)
    }

    /// GET /v1/transactions?external_id=…
    pub async fn find_transaction(&self, external_id: &str) -> Result<Option<Transaction>, BitPesaError> {
        let env: Envelope<Vec<Transaction>> =
            self.get("v1/transactions", &[("external_id", external_id)], "transaction").await?;
        // Only a transaction carrying exactly our id is ours: adopting another
        // (one without an external_id) could fund someone else's payout.
        Ok(env.object.into_iter().find(|t| t.external_id.as_deref() == Some(external_id)))
    }

    /// GET /v1/transactions/{id} (BitPesa's id, not the external one).
    pub async fn transaction(&self, id: &str) -> Result<Transaction, BitPesaError> {
        let env: Envelope<Transaction> = self.get(&format!("v1/transactions/{id}"), &[], "transaction").await?;
        Ok(env.object)
    }

    /// POST /v1/accounts/debits: funds the transaction from the balance.
    /// Moves money. With `currency` and `amount`, BitPesa funds only if they
    /// match the transaction's input. 200 funded, 422 not funded; anything
    /// else is unknown until the transaction is read.
    pub async fn fund(&self, transaction_id: &str, amount: Money) -> Result<(), BitPesaError> {
        let body = serde_json::json!({
            "debit": {
                "currency": amount.currency.code(),
                "amount": amount.to_wire_decimal(),
                "to_id": transaction_id,
                "to_type": "Transaction"
            }
        });
        let _: Value = self.send_json(Method::POST, "v1/accounts/debits", &body, "transaction").await?;
        Ok(())
    }

    /// DELETE /v1/recipients/{id}: asks BitPesa to cancel the payout. It is
    /// asynchronous: the transaction is final only once `refunded`.
    pub async fn cancel_recipient(&self, recipient_id: &str) -> Result<Recipient, BitPesaError> {
        let (status, body) =
            self.call(Method::DELETE, self.url(&format!("v1/recipients/{recipient_id}"), &[]), None).await?;
        let env: Envelope<Recipient> = interpret(status, &body, "recipient")?;
        Ok(env.object)
    }
}

/// The code the client runs on each endpoint's answer, and on a webhook,
/// for the fuzz targets.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;
    use crate::fuzzing::Seen;

    /// The till's key in the webhook target, and the URL BitPesa calls.
    pub const KEY: &str = "fuzz-key";
    pub const SECRET: &str = "fuzz-secret";
    pub const NONCE: &str = "0b4a1d3e-5f1c-4e4a-9a55-6c1f0f0f0f0f";
    pub const WEBHOOK_URL: &str = "https://till.example/bitpesa/webhook";

    /// What the payout flow reads from a transaction: amounts, funding.
    fn transaction(t: &Transaction, seen: &mut Seen) {
        let funded = t.is_funded();
        match t.funding() {
            Some(true) => assert!(funded, "funding() says funded, is_funded() does not: {t:?}"),
            Some(false) => assert!(
                !funded && t.paid_amount.as_ref().is_some_and(WireDecimal::is_zero),
                "funding() says unfunded without a zero paid_amount: {t:?}"
            ),
            None => assert!(!funded),
        }
        t.state();
        seen.amounts.extend(t.input().ok().flatten());
        for r in &t.recipients {
            seen.amounts.extend(r.output().ok().flatten());
        }
    }

    fn result<T>(r: Result<T, BitPesaError>, read: impl FnOnce(T, &mut Seen)) -> Seen {
        match r {
            Ok(v) => {
                let mut seen = Seen::default();
                read(v, &mut seen);
                seen
            }
            Err(e) => Seen::error(e),
        }
    }

    pub fn response(endpoint: u8, status: u16, body: &[u8]) -> Seen {
        match endpoint % 8 {
            0 => result(interpret::<BalancesEnvelope>(status, body, "account"), |env, seen| {
                for a in env.object {
                    seen.amounts.extend(a.currency.parse::<Currency>().ok().and_then(|c| a.amount.money(c).ok()));
                }
            }),
            1 => result(interpret::<Envelope<Vec<Sender>>>(status, body, "sender"), |_, _| {}),
            2 => result(interpret::<Envelope<Sender>>(status, body, "sender"), |_, _| {}),
            3 | 5 => result(interpret::<Envelope<Transaction>>(status, body, "transaction"), |env, seen| {
                transaction(&env.object, seen)
            }),
            4 => result(interpret::<Envelope<Vec<Transaction>>>(status, body, "transaction"), |env, seen| {
                env.object.iter().for_each(|t| transaction(t, seen))
            }),
            6 => result(interpret::<Value>(status, body, "transaction"), |_, _| {}),
            _ => result(interpret::<Envelope<Recipient>>(status, body, "recipient"), |env, seen| {
                seen.amounts.extend(env.object.output().ok().flatten())
            }),
        }
    }

    /// Verifies and parses `body` as a webhook signed with `forged`, or
    /// with the till's own key when `None`. Also says whether the
    /// signature was the genuine one.
    pub fn webhook(forged: Option<&str>, body: &[u8]) -> (bool, Seen) {
        let credentials = Credentials { api_key: KEY.into(), api_secret: SECRET.into() };
        let genuine = sign::signature(SECRET, NONCE, "POST", WEBHOOK_URL, body);
        let signature = forged.unwrap_or(&genuine);
        let seen = result(verify_webhook(&credentials, WEBHOOK_URL, KEY, NONCE, signature, body), |w, seen| {
            w.transaction_id();
            match &w.object {
                WebhookObject::Transaction(t) => transaction(t, seen),
                WebhookObject::Recipient(r) => seen.amounts.extend(r.output().ok().flatten()),
                WebhookObject::Other => {}
            }
        });
        (signature == genuine, seen)
    }

    /// A BitPesa decimal as the payout flow reads it, with its sign checks
    /// held to the exact amount.
    pub fn decimal(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let d = WireDecimal(text.trim().to_string());
        let m = d.money(currency)?;
        // `is_zero` lets a payout be cancelled as unfunded, `is_positive`
        // marks it funded: neither may disagree with the amount.
        assert!(!d.is_zero() || m.minor == 0, "{text:?} is_zero but reads as {m:?}");
        assert!(m.minor <= 0 || d.is_positive(), "{text:?} reads as {m:?} but is not is_positive");
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Transaction object" from transaction-flow.md, its payout fields cut short.
    const SAMPLE_TRANSACTION: &str = r#"{"object": {
        "id": "5280d11f-0ed3-4a60-ab07-29fdb058e4c4", "metadata": {}, "state": "approved",
        "input_amount": 1000.00, "input_currency": "GBP",
        "sender": {"id": "fdee3b02-81ad-409d-9f34-2b0dd5c39e8f", "type": "person", "state": "approved",
                   "external_id": "76f69f5e-912f-43e5-bf3a-9081dbc476f4", "first_name": "Peter"},
        "payin_methods": [], "paid_amount": 0.0, "due_amount": 1000.00,
        "recipients": [{"id": "31288256-ec72-4a0a-bab7-06fb3a6cc8dd", "type": "person",
            "transaction_id": "5280d11f-0ed3-4a60-ab07-29fdb058e4c4", "created_at": "2017-08-08T13:19:32.855Z",
            "input_usd_amount": 772.5, "state": "initial", "transaction_state": "initial", "editable": true,
            "may_cancel": true, "requested_amount": 750.0, "requested_currency": "USD",
            "input_amount": 1000.00, "input_currency": "EUR", "output_amount": 294750.0, "output_currency": "NGN",
            "payout_method": {"id": "e7e6ca2e-1b38-4d55-991c-d6933c2f6043", "type": "NGN::Bank",
              "details": {"first_name": "Johnny", "last_name": "English", "bank_code": "050",
                          "bank_account": "11039382982833", "bank_account_type": "20"},
              "metadata": {}, "provider": "interswitch", "fields": {}},
            "metadata": {}}],
        "created_at": "2017-08-08 13:19:32 UTC", "expires_at": "2017-08-08T14:19:32.855Z",
        "external_id": "806ec63a-a5a7-43cc-9d75-1ee74fbcc026"}}"#;

    /// "Receiving error messages": the recipient.error webhook.
    const SAMPLE_RECIPIENT_ERROR: &str = r#"{
      "webhook": "fd599451-4f3c-4045-91e1-d68ed12ffb75", "event": "recipient.error",
      "object": {"created_at": "2018-05-28 08:06:13 UTC", "editable": true,
        "id": "f0c2f4ea-96cd-4270-b688-48af937fc53e", "input_usd_amount": 30.98, "may_cancel": true,
        "metadata": {}, "state": "error",
        "state_reason": "Stolen card. Please contact account holder. This transaction is not possible. Please cancel.",
        "state_reason_details": {"code": "32", "category": "temporary_error",
          "messages": ["Temporary error", "Bank Error", "Undefined bank error"],
          "description": "The beneficiary's bank is not accepting payments at the moment. We will retry the transaction. You can also cancel or edit the transaction"},
        "transaction_id": "94581e7a-a35a-430f-be0b-c8269a8acf4c", "transaction_state": "received",
        "payout_method": {"id": "f2cce765-abb0-4b56-96bb-623cd0f78f9c", "type": "NGN::Bank",
          "details": {"bank_code": "060", "last_name": "Test", "first_name": "Bank",
                      "bank_account": "123345678", "bank_account_type": "20"},
          "metadata": {}, "provider": "interswitch"},
        "requested_amount": 10874.0, "requested_currency": "NGN", "input_amount": 10874.0,
        "input_currency": "NGN", "output_amount": 10874.0, "output_currency": "NGN",
        "external_id": "806ec63a-a5a7-43cc-9d75-1ee74fbcc026"}}"#;

    #[test]
    fn the_documented_transaction_parses_with_exact_amounts() {
        let env: Envelope<Transaction> = interpret(200, SAMPLE_TRANSACTION.as_bytes(), "transaction").unwrap();
        let t = env.object;
        assert_eq!(t.state(), TransactionState::Approved);
        assert_eq!(t.input_amount.as_ref().unwrap().text(), "1000.00");
        assert!(!t.is_funded(), "paid_amount 0.0 and approved: not funded");
        let r = t.recipient().unwrap();
        assert!(r.may_cancel);
        assert_eq!(r.output_amount.as_ref().unwrap().text(), "294750.0");
        assert_eq!(r.output_currency.as_deref(), Some("NGN"));
        assert_eq!(r.requested_amount.as_ref().unwrap().money(Currency::USD), Ok(Money::new(75_000, Currency::USD)));
        assert_eq!(t.external_id.as_deref(), Some("806ec63a-a5a7-43cc-9d75-1ee74fbcc026"));
        assert_eq!(t.sender.unwrap().id, "fdee3b02-81ad-409d-9f34-2b0dd5c39e8f");
    }

    #[test]
    fn a_cancelled_transaction_is_unfunded_only_when_paid_amount_says_zero() {
        let parse = |json: &str| serde_json::from_str::<Transaction>(json).unwrap();
        assert_eq!(parse(r#"{"id": "t", "state": "canceled", "paid_amount": 0.0}"#).funding(), Some(false));
        assert_eq!(parse(r#"{"id": "t", "state": "canceled", "paid_amount": "0"}"#).funding(), Some(false));
        assert_eq!(parse(r#"{"id": "t", "state": "canceled", "paid_amount": 1500.0}"#).funding(), Some(true));
        assert_eq!(parse(r#"{"id": "t", "state": "canceled"}"#).funding(), None, "missing: possibly funded");
        assert_eq!(parse(r#"{"id": "t", "state": "canceled", "paid_amount": null}"#).funding(), None);
        assert_eq!(parse(r#"{"id": "t", "state": "canceled", "paid_amount": "n/a"}"#).funding(), None);
        assert_eq!(parse(r#"{"id": "t", "state": "refunded"}"#).funding(), Some(true));
    }

    #[test]
    fn amounts_are_read_from_their_text_not_through_a_float() {
        // 2^53 + 1 cents is not a double; the text keeps it.
        let body = br#"{"meta": {"negative_balance": false},
            "object": [{"amount": 90071992547409.91, "currency": "KES"}, {"amount": "2000.0", "currency": "UGX"},
                       {"amount": 123.45, "currency": "USD"}, {"amount": 1000, "currency": "XOF"}]}"#;
        let env: BalancesEnvelope = interpret(200, body, "account").unwrap();
        let a = &env.object;
        assert_eq!(a[0].amount.money(Currency::KES), Ok(Money::new(9_007_199_254_740_991, Currency::KES)));
        assert_eq!(a[1].amount.money(Currency::UGX), Ok(Money::new(2_000, Currency::UGX)));
        assert_eq!(a[2].amount.money(Currency::USD), Ok(Money::new(12_345, Currency::USD)));
        assert_eq!(a[3].amount.text(), "1000");
        assert!(!env.meta.unwrap().negative_balance);
        let bad = br#"{"object": [{"amount": true, "currency": "KES"}]}"#;
        assert!(interpret::<BalancesEnvelope>(200, bad, "account").unwrap_err().outcome_unknown());
    }

    #[test]
    fn validation_errors_are_read_from_errors_top_level_or_in_the_object() {
        let top = br#"{"errors": {"documents": [{"error": "blank"}], "base": [{"error": "Sender is not approved"}]}}"#;
        match interpret::<Value>(422, top, "sender") {
            Err(e @ BitPesaError::Validation { .. }) => {
                assert_eq!(e.code(), "validation_failed");
                assert!(!e.outcome_unknown(), "a 422 proves nothing was created");
                let text = e.to_string();
                assert!(text.contains("documents: blank") && text.contains("Sender is not approved"), "{text}");
            }
            other => panic!("{other:?}"),
        }
        // handling-zar-mandates.md: the errors inside the returned transaction.
        let inner = br#"{"object": {"id": "x", "state": "initial", "errors": {
            "base": [{"error": "Mandate is in progress"}],
            "main_error": [{"error": "Transaction details are invalid: Mandate is in progress"}]}}}"#;
        let e = interpret::<Value>(422, inner, "transaction").unwrap_err();
        assert_eq!(e.to_string(), "BitPesa refused the request: Mandate is in progress");
    }

    #[test]
    fn other_errors_carry_their_message_in_meta() {
        let body = br#"{"object": {}, "meta": {"error": "Account Invalid"}}"#;
        let e = interpret::<Value>(400, body, "account").unwrap_err();
        assert!(matches!(&e, BitPesaError::Refused { status: 400, message, .. } if message == "Account Invalid"));
        assert!(e.outcome_unknown(), "only a 422 proves nothing happened");
        let e = interpret::<Value>(422, body, "account").unwrap_err();
        assert_eq!(e.to_string(), "BitPesa refused the request: Account Invalid");
        let e = interpret::<Value>(401, br#"{"meta": {"error": "Invalid signature"}}"#, "account").unwrap_err();
        assert_eq!(e.code(), "unauthorized");
        assert!(!e.outcome_unknown());
        assert!(e.to_string().contains("Invalid signature"));
    }

    #[test]
    fn server_errors_and_garbage_leave_the_outcome_unknown() {
        assert!(interpret::<Value>(502, b"<html>Bad Gateway</html>", "x").unwrap_err().outcome_unknown());
        assert!(interpret::<Value>(200, b"{\"object\": {", "x").unwrap_err().outcome_unknown());
        let e = interpret::<Value>(429, b"{\"error\":\"Too many requests\"}", "x").unwrap_err();
        assert!(e.outcome_unknown());
        // The raw body goes to the audit text, never into the message.
        assert!(!e.to_string().contains('{'), "{e}");
        assert!(e.audit_text().contains("Too many requests"), "{}", e.audit_text());
    }

    #[test]
    fn the_documented_recipient_error_webhook_parses() {
        let w = parse_webhook(SAMPLE_RECIPIENT_ERROR.as_bytes()).unwrap();
        assert_eq!(w.event, "recipient.error");
        assert_eq!(w.transaction_id(), Some("94581e7a-a35a-430f-be0b-c8269a8acf4c"));
        let WebhookObject::Recipient(r) = &w.object else { panic!("{w:?}") };
        assert_eq!(r.state, "error");
        assert!(r.may_cancel);
        assert_eq!(r.state_reason_details.as_ref().unwrap().category.as_deref(), Some("temporary_error"));
        assert_eq!(r.output_amount.as_ref().unwrap().text(), "10874.0");
        assert!(r.output().is_err(), "NGN is not a currency Kaunta knows: said so, not guessed");
    }

    #[test]
    fn webhooks_are_verified_with_the_request_signature() {
        let creds = Credentials { api_key: "key".into(), api_secret: "secret".into() };
        let url = "https://relay.example.com/bitpesa?till=1";
        let body = SAMPLE_RECIPIENT_ERROR.as_bytes();
        let sig = sign::signature("secret", "n-1", "POST", url, body);
        assert!(verify_webhook(&creds, url, "key", "n-1", &sig, body).is_ok());
        for (url2, key, nonce, body2) in [
            ("https://relay.example.com/bitpesa", "key", "n-1", body),
            (url, "other-key", "n-1", body),
            (url, "key", "n-2", body),
            (url, "key", "n-1", &body[..body.len() - 1]),
        ] {
            assert!(matches!(verify_webhook(&creds, url2, key, nonce, &sig, body2), Err(BitPesaError::BadSignature)));
        }
    }

    #[test]
    fn requests_serialise_with_the_documented_names() {
        let t = NewTransaction {
            input_currency: "KES".into(),
            sender: SenderRef { id: "s-1".into() },
            recipients: vec![NewRecipient {
                requested_amount: Money::new(150_000, Currency::KES).to_wire_decimal(),
                requested_currency: "KES".into(),
                kind: "person",
                payout_method: NewPayoutMethod {
                    kind: "KES::Mobile".into(),
                    details: BTreeMap::from([("mobile_provider".to_string(), "mpesa".to_string())]),
                },
            }],
            metadata: serde_json::json!({}),
            external_id: "tx-1".into(),
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["recipients"][0]["requested_amount"], "1500");
        assert_eq!(v["recipients"][0]["type"], "person");
        assert_eq!(v["recipients"][0]["payout_method"]["type"], "KES::Mobile");
        assert_eq!(v["sender"]["id"], "s-1");
    }

    #[test]
    fn credentials_never_print() {
        let c = Credentials { api_key: "key-123".into(), api_secret: "s3cr3t".into() };
        let shown = format!("{c:?}");
        assert!(!shown.contains("key-123") && !shown.contains("s3cr3t"));
    }
}
