//! Pesapal API 3.0 (providers/pesapal-api-3.txt): a bearer token from
//! RequestToken, IPN registration, SubmitOrderRequest (whose `redirect_url`
//! the customer pays on), the callback and IPN parameters, and
//! GetTransactionStatus. Paths and field names follow the document exactly.
//!
//! SubmitOrderRequest creates an order; money moves only when the customer
//! pays on the checkout page. It is still sent `Once`: a lost answer may have
//! created the order, and the document says a merchant reference must be
//! unique, so it is never sent again with the same reference.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::http::{self, TransportError};
use crate::money::{Currency, Money, MoneyError};
use crate::phone::Msisdn;
use crate::secrets::{self, Redacted, SecretError};

pub const SANDBOX_URL: &str = "https://cybqa.pesapal.com/pesapalv3";
pub const LIVE_URL: &str = "https://pay.pesapal.com/v3";

const REQUEST_TOKEN: &str = "api/Auth/RequestToken";
const REGISTER_IPN: &str = "api/URLSetup/RegisterIPN";
const GET_IPN_LIST: &str = "api/URLSetup/GetIpnList";
const SUBMIT_ORDER_REQUEST: &str = "api/Transactions/SubmitOrderRequest";
const GET_TRANSACTION_STATUS: &str = "api/Transactions/GetTransactionStatus";

/// "This access token is valid for a maximum period of 5 minutes." Used when
/// the answer has no readable `expiryDate`, and as a cap: a till whose clock
/// is slow would otherwise keep a token past its real expiry.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// A token is renewed this long before its `expiryDate` (a quarter of its
/// lifetime for tokens shorter than four minutes), so none expires in flight.
pub const TOKEN_RENEWAL_MARGIN: Duration = Duration::from_secs(60);

/// "Maximum - 50 characters"
pub const MAX_MERCHANT_REFERENCE: usize = 50;
/// "Maximum - 100 characters"
pub const MAX_DESCRIPTION: usize = 100;
/// "Customer's state Maximum - 3 characters"
pub const MAX_STATE: usize = 3;
/// Other free-text fields have no documented limit; this keeps them sane.
const MAX_TEXT: usize = 100;
const MAX_ID: usize = 64;

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub consumer_key: String,
    pub consumer_secret: String,
}

impl Credentials {
    pub fn check(&self) -> Result<(), SecretError> {
        secrets::check_field("consumer_key", &self.consumer_key)?;
        secrets::check_field("consumer_secret", &self.consumer_secret)
    }
}

impl secrets::ProviderCredentials for Credentials {
    const SHAPE: &'static str = "{\"consumer_key\": \"…\", \"consumer_secret\": \"…\"}";
    fn check(&self) -> Result<(), SecretError> {
        Credentials::check(self)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("consumer_key", &Redacted).field("consumer_secret", &Redacted).finish()
    }
}

// ---- the error object ----

/// Pesapal's error object. The document spells its kind `type` in the
/// general error object and `error_type` in GetTransactionStatus; both are
/// read. An object whose fields are all null means "no error".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub error_type: String,
    pub code: String,
    pub message: String,
}

impl ApiError {
    fn from_value(v: &Value) -> Option<ApiError> {
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => http::excerpt(s.trim().as_bytes()),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let e = match v {
            Value::Null | Value::Bool(false) => return None,
            Value::Number(n) if n.as_i64() == Some(0) => return None,
            Value::Object(map) => ApiError {
                error_type: text(map.get("type").or_else(|| map.get("error_type"))),
                code: text(map.get("code")),
                message: text(map.get("message")),
            },
            // The document types `error` as Integer in two tables; a string
            // or a number there is an error we can only quote.
            Value::String(_) => ApiError { message: text(Some(v)), ..ApiError::default() },
            other => ApiError { code: text(Some(other)), ..ApiError::default() },
        };
        (!e.is_empty()).then_some(e)
    }

    fn is_empty(&self) -> bool {
        self.error_type.is_empty() && self.code.is_empty() && self.message.is_empty()
    }

    /// "code: message", whichever parts are present.
    fn summary(&self) -> String {
        match (self.code.is_empty(), self.message.is_empty()) {
            (false, false) => format!("{}: {}", self.code, self.message),
            (false, true) => self.code.clone(),
            (true, false) => self.message.clone(),
            (true, true) => self.error_type.clone(),
        }
    }
}

/// Codes the simulator sends, and the one Pesapal is known to send for bad
/// credentials. Real Pesapal codes beyond these are shown as it words them.
pub mod codes {
    pub const INVALID_CREDENTIALS: &str = "invalid_consumer_key_or_secret_provided";
    pub const DUPLICATE_ORDER_REFERENCE: &str = "duplicate_order_reference";
    pub const INVALID_NOTIFICATION_ID: &str = "invalid_notification_id";
    pub const ORDER_NOT_FOUND: &str = "payment_details_not_found";
}

#[derive(Debug, thiserror::Error)]
pub enum PesapalError {
    /// Pesapal answered with its error object (often with HTTP 200), or a
    /// 4xx: it refused the request, and nothing was created.
    #[error("{}", refused_text(.error))]
    Refused { http_status: u16, status: String, error: ApiError },
    /// HTTP 401: the bearer token was not accepted. Nothing was done; the
    /// next call signs in again.
    #[error("Pesapal did not accept this till's session token. Nothing was done; try again.")]
    Unauthorized { http_status: u16, error: ApiError },
    /// 5xx: on SubmitOrderRequest the order may or may not exist.
    /// `detail` (what Pesapal said) is for the audit log (see `detail()`).
    #[error("Pesapal answered with a server error (HTTP {http_status}).")]
    Server { http_status: u16, detail: String },
    #[error("Pesapal cannot be reached ({0}). Nothing was sent; try again when it is back.")]
    Unreachable(String),
    #[error("Pesapal did not answer ({0}).")]
    NoAnswer(String),
    /// An answer that is not what the document shows; `detail` says how.
    #[error("Pesapal's answer could not be read (HTTP {http_status}).")]
    Malformed { http_status: u16, detail: String },
    /// RequestToken failed, so the call itself was never sent.
    #[error("{}", sign_in_text(.0))]
    SignIn(#[source] Box<PesapalError>),
    /// Bad input, refused before any request.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Amount(#[from] MoneyError),
}

fn refused_text(e: &ApiError) -> String {
    match e.code.as_str() {
        codes::INVALID_CREDENTIALS => {
            "Pesapal did not accept the consumer key and secret: a manager must check them in Settings.".into()
        }
        codes::DUPLICATE_ORDER_REFERENCE => {
            "Pesapal already has an order with this reference. Start a new payment.".into()
        }
        codes::INVALID_NOTIFICATION_ID => {
            "Pesapal does not know this till's IPN registration: a manager must register the IPN URL again in \
             Settings."
                .into()
        }
        codes::ORDER_NOT_FOUND => "Pesapal has no payment with this tracking id.".into(),
        _ if e.is_empty() => "Pesapal refused the request.".into(),
        _ => format!("Pesapal refused the request ({}).", e.summary()),
    }
}

fn sign_in_text(inner: &PesapalError) -> String {
    match inner {
        PesapalError::Refused { .. } | PesapalError::Unauthorized { .. } => {
            "Pesapal did not accept the consumer key and secret: a manager must check them in Settings. \
             Nothing was sent."
                .into()
        }
        other => format!("Could not sign in to Pesapal, so nothing was sent: {other}"),
    }
}

impl PesapalError {
    /// True when Pesapal may have acted although we have no answer: a
    /// SubmitOrderRequest that ends so must be recorded as `unknown`. A
    /// failed sign-in is never unknown: the call was not sent.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, PesapalError::NoAnswer(_) | PesapalError::Server { .. } | PesapalError::Malformed { .. })
    }

    /// What the provider actually sent (an excerpt of its body, the
    /// parser's complaint), for the audit log and diagnostics. Never part of
    /// the message: a cashier reads plain words, not JSON or an HTML page.
    pub fn detail(&self) -> Option<&str> {
        match self {
            PesapalError::Server { detail, .. } | PesapalError::Malformed { detail, .. } => Some(detail),
            PesapalError::SignIn(inner) => inner.detail(),
            _ => None,
        }
    }

    /// True when Pesapal could not be reached at all (for the status banner).
    pub fn is_unreachable(&self) -> bool {
        match self {
            PesapalError::Unreachable(_) => true,
            PesapalError::SignIn(inner) => inner.is_unreachable(),
            _ => false,
        }
    }

    /// For the UI to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            PesapalError::Refused { error, .. } => match error.code.as_str() {
                codes::INVALID_CREDENTIALS => "credentials_rejected",
                codes::DUPLICATE_ORDER_REFERENCE => "duplicate_reference",
                codes::INVALID_NOTIFICATION_ID => "ipn_not_registered",
                codes::ORDER_NOT_FOUND => "not_found",
                _ => "refused",
            },
            PesapalError::Unauthorized { .. } => "unauthorized",
            PesapalError::Server { .. } => "server_error",
            PesapalError::Unreachable(_) => "unreachable",
            PesapalError::NoAnswer(_) => "no_answer",
            PesapalError::Malformed { .. } => "malformed_answer",
            PesapalError::SignIn(inner) => match inner.as_ref() {
                PesapalError::Refused { .. } | PesapalError::Unauthorized { .. } => "credentials_rejected",
                other => other.code(),
            },
            PesapalError::Input(_) => "invalid_input",
            PesapalError::Amount(_) => "invalid_amount",
        }
    }

    /// Pesapal's own error object, when it sent one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            PesapalError::Refused { error, .. } | PesapalError::Unauthorized { error, .. } => Some(error),
            PesapalError::SignIn(inner) => inner.api_error(),
            _ => None,
        }
    }
}

impl From<TransportError> for PesapalError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unreachable(m) => PesapalError::Unreachable(m),
            TransportError::NoAnswer(m) => PesapalError::NoAnswer(m),
        }
    }
}

// ---- dates ----

/// Pesapal's dates as UTC: "2021-08-26T12:29:30.5177702Z" (seven decimals),
/// "2022-04-30T07:41:09.763" (no offset: read as UTC, as the document says
/// its dates are), or any offset (converted).
pub fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(t, format) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, format) {
            return Some(d.and_utc());
        }
    }
    None
}

// ---- IPN ----

/// The HTTP method Pesapal uses to call an IPN URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpnNotificationType {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

impl IpnNotificationType {
    pub fn as_str(self) -> &'static str {
        match self {
            IpnNotificationType::Get => "GET",
            IpnNotificationType::Post => "POST",
        }
    }

    /// `notification_type` of RegisterIPN's answer: the sample pairs 0 with GET.
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            0 => Some(IpnNotificationType::Get),
            1 => Some(IpnNotificationType::Post),
            _ => None,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "GET" => Some(IpnNotificationType::Get),
            "POST" => Some(IpnNotificationType::Post),
            _ => None,
        }
    }
}

/// RegisterIPN's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpnRegistration {
    pub url: String,
    pub created_date: Option<DateTime<Utc>>,
    /// The `notification_id` of every SubmitOrderRequest. Keep it in the
    /// database: it outlives this process.
    pub ipn_id: String,
    pub notification_type: IpnNotificationType,
    pub active: bool,
    pub ipn_status_description: String,
}

/// One entry of GetIpnList.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpnEntry {
    pub url: String,
    pub created_date: Option<DateTime<Utc>>,
    pub ipn_id: String,
}

// ---- orders ----

/// "TOP_WINDOW returns to the topmost window … PARENT_WINDOW returns the
/// immediate parent of a window." Left out, Pesapal uses TOP_WINDOW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedirectMode {
    TopWindow,
    ParentWindow,
}

/// The customer address object. Phone number or email address is required;
/// the rest is optional. Empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingAddress {
    pub phone_number: Option<Msisdn>,
    pub email_address: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. "KE".
    pub country_code: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub line_1: Option<String>,
    pub line_2: Option<String>,
    pub city: Option<String>,
    /// At most 3 characters.
    pub state: Option<String>,
    /// Digits. The document types it Integer but its sample sends a string;
    /// it goes out as a string so a leading zero ("00100") survives.
    pub postal_code: Option<String>,
    pub zip_code: Option<String>,
}

impl BillingAddress {
    pub fn phone(phone: Msisdn) -> Self {
        BillingAddress { phone_number: Some(phone), ..BillingAddress::default() }
    }

    pub fn email(email: impl Into<String>) -> Self {
        BillingAddress { email_address: Some(email.into()), ..BillingAddress::default() }
    }
}

/// What the till asks Pesapal to charge. `merchant_reference` is our own
/// id (the document's `id`), recorded as the intent before the call.
#[derive(Debug, Clone)]
pub struct OrderRequest<'a> {
    pub merchant_reference: &'a str,
    /// Sent as `currency` and the decimal `amount`.
    pub amount: Money,
    pub description: &'a str,
    pub callback_url: &'a Url,
    pub cancellation_url: Option<&'a Url>,
    pub redirect_mode: Option<RedirectMode>,
    /// The `ipn_id` from RegisterIPN.
    pub notification_id: &'a str,
    pub branch: Option<&'a str>,
    pub billing_address: &'a BillingAddress,
}

/// SubmitOrderRequest's answer: where the customer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedOrder {
    pub order_tracking_id: String,
    pub merchant_reference: String,
    pub redirect_url: Url,
}

/// `status_code` of GetTransactionStatus: "0 - INVALID, 1 - COMPLETED,
/// 2 - FAILED, 3 - REVERSED".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Not paid (yet): mobile money reads so for a while before it
    /// completes. Pending, not failed.
    Invalid,
    Completed,
    Failed,
    /// Paid, then reversed: no money is kept.
    Reversed,
}

impl PaymentStatus {
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(PaymentStatus::Invalid),
            1 => Some(PaymentStatus::Completed),
            2 => Some(PaymentStatus::Failed),
            3 => Some(PaymentStatus::Reversed),
            _ => None,
        }
    }

    pub fn code(self) -> i64 {
        match self {
            PaymentStatus::Invalid => 0,
            PaymentStatus::Completed => 1,
            PaymentStatus::Failed => 2,
            PaymentStatus::Reversed => 3,
        }
    }

    /// The document's word for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Invalid => "INVALID",
            PaymentStatus::Completed => "COMPLETED",
            PaymentStatus::Failed => "FAILED",
            PaymentStatus::Reversed => "REVERSED",
        }
    }

    /// `payment_status_description`, in any case ("Failed" in the sample).
    pub fn from_description(text: &str) -> Option<Self> {
        [PaymentStatus::Invalid, PaymentStatus::Completed, PaymentStatus::Failed, PaymentStatus::Reversed]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// True when no later status query will change the answer for the till.
    /// INVALID is not final: keep asking.
    pub fn is_final(self) -> bool {
        !matches!(self, PaymentStatus::Invalid)
    }
}

/// GetTransactionStatus's answer. `status_code` (a number) and
/// `payment_status_description` (text) are two fields; `status` is read
/// from the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionStatus {
    /// The tracking id that was asked about.
    pub order_tracking_id: String,
    pub status: PaymentStatus,
    pub status_code: i64,
    pub payment_status_description: String,
    pub payment_method: String,
    pub confirmation_code: String,
    /// Masked card or phone number, e.g. "476173**0010".
    pub payment_account: String,
    /// Present whenever the payment is COMPLETED.
    pub amount: Option<Money>,
    pub merchant_reference: String,
    pub created_date: Option<DateTime<Utc>>,
    pub description: String,
    pub message: String,
    pub call_back_url: Option<String>,
}

/// Why a status does not confirm the order the till submitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("Pesapal reports this payment for another order ({got})")]
    MerchantReference { got: String },
    #[error("Pesapal reports {got} paid, not {expected}")]
    Amount { expected: Money, got: Money },
    #[error("Pesapal reports no amount for this payment")]
    NoAmount,
}

impl TransactionStatus {
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }

    /// Checks merchant reference, currency and amount against the order the
    /// till recorded, before a payment is counted.
    pub fn confirms(&self, merchant_reference: &str, expected: Money) -> Result<(), Mismatch> {
        if self.merchant_reference != merchant_reference {
            return Err(Mismatch::MerchantReference { got: http::excerpt(self.merchant_reference.as_bytes()) });
        }
        match self.amount {
            None => Err(Mismatch::NoAmount),
            Some(got) if got != expected => Err(Mismatch::Amount { expected, got }),
            Some(_) => Ok(()),
        }
    }
}

/// Who is telling the till about an order: the customer's browser arriving
/// at the callback URL, or Pesapal calling the IPN URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    #[serde(rename = "CALLBACKURL")]
    CallbackUrl,
    #[serde(rename = "IPNCHANGE")]
    IpnChange,
}

/// The parameters of a callback or an IPN call. They carry no status: ask
/// GetTransactionStatus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    #[serde(rename = "OrderTrackingId")]
    pub order_tracking_id: String,
    #[serde(rename = "OrderMerchantReference")]
    pub merchant_reference: String,
    #[serde(rename = "OrderNotificationType")]
    pub notification_type: NotificationType,
}

impl Notification {
    /// Reads `OrderTrackingId`, `OrderMerchantReference` and
    /// `OrderNotificationType` from a URL's query (a callback, or a GET IPN).
    pub fn from_query(url: &Url) -> Option<Notification> {
        let find = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
        let order_tracking_id = find("OrderTrackingId").filter(|s| !s.is_empty())?;
        let merchant_reference = find("OrderMerchantReference").unwrap_or_default();
        let notification_type = match find("OrderNotificationType")?.as_str() {
            "CALLBACKURL" => NotificationType::CallbackUrl,
            "IPNCHANGE" => NotificationType::IpnChange,
            _ => return None,
        };
        Some(Notification { order_tracking_id, merchant_reference, notification_type })
    }

    /// The callback, if `navigated` is the order's `callback_url` (same
    /// scheme, host, port and path) with Pesapal's parameters appended.
    pub fn from_callback(callback_url: &Url, navigated: &Url) -> Option<Notification> {
        let same = callback_url.scheme() == navigated.scheme()
            && callback_url.host_str() == navigated.host_str()
            && callback_url.port_or_known_default() == navigated.port_or_known_default()
            && callback_url.path() == navigated.path();
        Notification::from_query(navigated).filter(|n| same && n.notification_type == NotificationType::CallbackUrl)
    }

    /// A POST IPN's JSON body, as in the document's sample.
    pub fn from_json(body: &[u8]) -> Option<Notification> {
        serde_json::from_slice(body).ok().filter(|n: &Notification| !n.order_tracking_id.trim().is_empty())
    }
}

// ---- wire types, exactly as documented ----

#[derive(Serialize)]
struct TokenRequest<'a> {
    consumer_key: &'a str,
    consumer_secret: &'a str,
}

#[derive(Deserialize)]
struct WireToken {
    token: Option<String>,
    #[serde(rename = "expiryDate")]
    expiry_date: Option<String>,
}

#[derive(Debug, Serialize)]
struct RegisterIpnRequest<'a> {
    url: &'a str,
    ipn_notification_type: &'static str,
}

#[derive(Debug, Deserialize)]
struct WireIpnRegistration {
    url: Option<String>,
    created_date: Option<String>,
    ipn_id: Option<String>,
    notification_type: Option<i64>,
    ipn_notification_type_description: Option<String>,
    ipn_status: Option<i64>,
    // The parameter table spells it "ipn_status_decription"; the sample does not.
    #[serde(alias = "ipn_status_decription")]
    ipn_status_description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireIpnEntry {
    url: Option<String>,
    created_date: Option<String>,
    ipn_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct SubmitOrderBody<'a> {
    id: &'a str,
    currency: &'static str,
    amount: f64,
    description: &'a str,
    callback_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_mode: Option<RedirectMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation_url: Option<&'a str>,
    notification_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    branch: Option<&'a str>,
    billing_address: WireBillingAddress<'a>,
}

#[derive(Debug, Serialize)]
struct WireBillingAddress<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    email_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    middle_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line_1: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line_2: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip_code: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct WireSubmitted {
    order_tracking_id: Option<String>,
    merchant_reference: Option<String>,
    redirect_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireStatus {
    payment_method: Option<String>,
    amount: Option<serde_json::Number>,
    created_date: Option<String>,
    confirmation_code: Option<String>,
    payment_status_description: Option<String>,
    description: Option<String>,
    message: Option<String>,
    payment_account: Option<String>,
    call_back_url: Option<String>,
    status_code: Option<Value>,
    merchant_reference: Option<String>,
    currency: Option<String>,
}

// ---- the client ----

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

/// How long a token lives, from its `expiryDate` and the time it was
/// requested; a missing or unreadable date means the documented maximum.
fn token_lifetime(expiry_date: Option<&str>, requested_at: DateTime<Utc>) -> Duration {
    match expiry_date.and_then(parse_utc) {
        Some(expiry) => (expiry - requested_at).to_std().unwrap_or(Duration::ZERO).min(MAX_TOKEN_LIFETIME),
        None => MAX_TOKEN_LIFETIME,
    }
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    /// Held across RequestToken so concurrent calls share one sign-in.
    token: tokio::sync::Mutex<Option<Token>>,
}

impl Client {
    pub fn new(base: Url, credentials: Credentials) -> Self {
        Self::with_timeout(base, credentials, http::REQUEST_TIMEOUT)
    }

    pub fn with_timeout(base: Url, credentials: Credentials, timeout: Duration) -> Self {
        Client { http: http::client(timeout), base, credentials, token: tokio::sync::Mutex::new(None) }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// POST api/URLSetup/RegisterIPN. A 401 is answered by signing in again
    /// once and repeating: it proves nothing was registered.
    pub async fn register_ipn(
        &self,
        url: &Url,
        notification_type: IpnNotificationType,
    ) -> Result<IpnRegistration, PesapalError> {
        check_url("IPN URL", url)?;
        let body = RegisterIpnRequest { url: url.as_str(), ipn_notification_type: notification_type.as_str() };
        let endpoint = http::endpoint(&self.base, REGISTER_IPN);
        let answer = self.with_renewal(|| self.http.post(endpoint.clone()).json(&body)).await?;
        read_ipn_registration(&answer, url, notification_type)
    }

    /// GET api/URLSetup/GetIpnList.
    pub async fn ipn_list(&self) -> Result<Vec<IpnEntry>, PesapalError> {
        let endpoint = http::endpoint(&self.base, GET_IPN_LIST);
        let answer = self.with_renewal(|| self.http.get(endpoint.clone())).await?;
        read_ipn_list(&answer)
    }

    /// POST api/Transactions/SubmitOrderRequest. The caller must have
    /// recorded its intent (the merchant reference) first, and must not send
    /// the same reference again when `outcome_unknown()` is true. Sent once:
    /// a 401 is a plain failure (no order was created) and the next call
    /// signs in again.
    pub async fn submit_order(&self, order: &OrderRequest<'_>) -> Result<SubmittedOrder, PesapalError> {
        let body = order_body(order)?;
        let bearer = self.bearer().await?;
        let endpoint = http::endpoint(&self.base, SUBMIT_ORDER_REQUEST);
        let answer = self.send(self.http.post(endpoint).json(&body).bearer_auth(&bearer)).await?;
        if is_unauthorized(&answer) {
            self.forget(&bearer).await;
        }
        read_submitted(&answer, order.merchant_reference)
    }

    /// GET api/Transactions/GetTransactionStatus?orderTrackingId=…
    /// Read-only: after a 401, signs in again once and repeats.
    pub async fn transaction_status(&self, order_tracking_id: &str) -> Result<TransactionStatus, PesapalError> {
        check_id("order tracking id", order_tracking_id, MAX_ID)?;
        let mut endpoint = http::endpoint(&self.base, GET_TRANSACTION_STATUS);
        endpoint.query_pairs_mut().append_pair("orderTrackingId", order_tracking_id);
        let answer = self
            .with_renewal(|| {
                // The document lists Content-Type as required here too.
                self.http.get(endpoint.clone()).header(reqwest::header::CONTENT_TYPE, "application/json")
            })
            .await?;
        let w: WireStatus = interpret(&answer)?;
        interpret_status(answer.status, w, order_tracking_id)
    }

    /// A call with the cached token; after a 401, signs in again once and
    /// repeats it. Only for calls that a 401 proves were not acted upon.
    async fn with_renewal(&self, build: impl Fn() -> reqwest::RequestBuilder) -> Result<Answer, PesapalError> {
        let mut signed_in_again = false;
        loop {
            let bearer = self.bearer().await?;
            let answer = self.send(build().bearer_auth(&bearer)).await?;
            if is_unauthorized(&answer) {
                self.forget(&bearer).await;
                if !signed_in_again {
                    signed_in_again = true;
                    continue;
                }
            }
            return Ok(answer);
        }
    }

    /// The cached bearer token, or a new one from RequestToken.
    async fn bearer(&self) -> Result<String, PesapalError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && token.fresh(Instant::now())
        {
            return Ok(token.bearer.clone());
        }
        *slot = None;
        let token = self.request_token().await.map_err(|e| PesapalError::SignIn(Box::new(e)))?;
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

    /// POST api/Auth/RequestToken. Its body is never quoted in an error: it
    /// could hold a token.
    async fn request_token(&self) -> Result<Token, PesapalError> {
        self.credentials.check().map_err(|e| PesapalError::Input(format!("Pesapal credentials: {e}")))?;
        let body = TokenRequest {
            consumer_key: self.credentials.consumer_key.trim(),
            consumer_secret: self.credentials.consumer_secret.trim(),
        };
        let requested_at = (Instant::now(), Utc::now());
        let answer = self.send(self.http.post(http::endpoint(&self.base, REQUEST_TOKEN)).json(&body)).await?;
        let (bearer, expiry_date) = read_token(&answer)?;
        let lifetime = token_lifetime(expiry_date.as_deref(), requested_at.1);
        Ok(Token::new(bearer, requested_at.0, lifetime))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, PesapalError> {
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(TransportError::from_reqwest)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(TransportError::from_reqwest)?.to_vec();
        Ok(Answer { status, body })
    }
}

fn read_ipn_registration(
    answer: &Answer,
    url: &Url,
    notification_type: IpnNotificationType,
) -> Result<IpnRegistration, PesapalError> {
    let w: WireIpnRegistration = interpret(answer)?;
    let malformed = |detail: &str| PesapalError::Malformed { http_status: answer.status, detail: detail.into() };
    let ipn_id = w.ipn_id.filter(|s| !s.trim().is_empty()).ok_or_else(|| malformed("no ipn_id"))?;
    let registered_type = w
        .ipn_notification_type_description
        .as_deref()
        .and_then(IpnNotificationType::parse)
        .or_else(|| w.notification_type.and_then(IpnNotificationType::from_number))
        .unwrap_or(notification_type);
    Ok(IpnRegistration {
        url: w.url.unwrap_or_else(|| url.to_string()),
        created_date: w.created_date.as_deref().and_then(parse_utc),
        ipn_id,
        notification_type: registered_type,
        active: w.ipn_status == Some(1),
        ipn_status_description: w.ipn_status_description.unwrap_or_default(),
    })
}

fn read_ipn_list(answer: &Answer) -> Result<Vec<IpnEntry>, PesapalError> {
    let list: Vec<WireIpnEntry> = interpret(answer)?;
    Ok(list
        .into_iter()
        .filter_map(|e| {
            Some(IpnEntry {
                url: e.url.unwrap_or_default(),
                created_date: e.created_date.as_deref().and_then(parse_utc),
                ipn_id: e.ipn_id.filter(|s| !s.trim().is_empty())?,
            })
        })
        .collect())
}

/// The new order, if the answer is for `ours` (the merchant reference
/// sent) and its page can be shown.
fn read_submitted(answer: &Answer, ours: &str) -> Result<SubmittedOrder, PesapalError> {
    let w: WireSubmitted = interpret(answer)?;
    let malformed = |detail: String| PesapalError::Malformed { http_status: answer.status, detail };
    let order_tracking_id =
        w.order_tracking_id.filter(|s| !s.trim().is_empty()).ok_or_else(|| malformed("no order_tracking_id".into()))?;
    let merchant_reference = w.merchant_reference.unwrap_or_default();
    if merchant_reference != ours {
        return Err(malformed("the answer is for another merchant reference".into()));
    }
    let redirect_url = w.redirect_url.ok_or_else(|| malformed("no redirect_url".into()))?;
    let redirect_url = Url::parse(redirect_url.trim()).map_err(|_| malformed("redirect_url is not a URL".into()))?;
    // The checkout window loads this page: TLS, or this computer.
    if !(redirect_url.scheme() == "https" || (redirect_url.scheme() == "http" && is_loopback(&redirect_url))) {
        return Err(malformed("redirect_url is not an https address".into()));
    }
    Ok(SubmittedOrder { order_tracking_id, merchant_reference, redirect_url })
}

/// RequestToken's bearer token and its `expiryDate` as written.
fn read_token(answer: &Answer) -> Result<(String, Option<String>), PesapalError> {
    if is_unauthorized(answer) {
        return Err(PesapalError::Unauthorized { http_status: answer.status, error: error_of(&answer.body) });
    }
    let malformed = |detail: &str| PesapalError::Malformed { http_status: answer.status, detail: detail.into() };
    let w: WireToken = interpret(answer).map_err(|e| match e {
        PesapalError::Malformed { .. } => malformed("the sign-in answer is not what the document shows"),
        other => other,
    })?;
    let usable = |s: &String| !s.is_empty() && s.len() <= 8192 && s.bytes().all(|b| b.is_ascii_graphic());
    let bearer = w.token.filter(usable).ok_or_else(|| malformed("the sign-in answer has no token"))?;
    Ok((bearer, w.expiry_date))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A 401, whether as the HTTP status or as the body's `status` of a 200.
fn is_unauthorized(answer: &Answer) -> bool {
    answer.status == 401
        || ((200..300).contains(&answer.status)
            && serde_json::from_slice::<Value>(&answer.body).ok().as_ref().and_then(body_status).as_deref()
                == Some("401"))
}

/// The body's `status` ("200" in the samples; a number is read too).
fn body_status(v: &Value) -> Option<String> {
    match v.get("status")? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn error_of(body: &[u8]) -> ApiError {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(ApiError::from_value))
        .unwrap_or_default()
}

/// An answer as `T`, or the typed error it carries: the error object (with
/// any HTTP status), a 401, a 4xx, a 5xx, or a body that cannot be read.
fn interpret<T: DeserializeOwned>(answer: &Answer) -> Result<T, PesapalError> {
    let http_status = answer.status;
    let value: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let error = match &value {
        Some(Value::Object(map)) => map.get("error").and_then(ApiError::from_value),
        Some(Value::Array(items)) => items.iter().find_map(|i| i.get("error").and_then(ApiError::from_value)),
        _ => None,
    };
    let status = value.as_ref().and_then(body_status).unwrap_or_default();
    if is_unauthorized(answer) {
        return Err(PesapalError::Unauthorized { http_status, error: error.unwrap_or_default() });
    }
    if (500..600).contains(&http_status) {
        let detail = error.map(|e| e.summary()).unwrap_or_else(|| http::excerpt(&answer.body));
        return Err(PesapalError::Server { http_status, detail });
    }
    if let Some(error) = error {
        return Err(PesapalError::Refused { http_status, status, error });
    }
    if !(200..300).contains(&http_status) {
        let message = value
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(|s| http::excerpt(s.as_bytes()))
            // A body that is not Pesapal's JSON (an HTML page, say) is no
            // message for a cashier: the HTTP status speaks for it.
            .unwrap_or_default();
        let error = ApiError { code: format!("http_{http_status}"), message, ..ApiError::default() };
        return Err(PesapalError::Refused { http_status, status, error });
    }
    let malformed = |detail: String| PesapalError::Malformed { http_status, detail };
    let value = value.ok_or_else(|| malformed("not JSON".into()))?;
    if !status.is_empty() && !status.starts_with('2') {
        return Err(malformed(format!("status “{}” without an error", http::excerpt(status.as_bytes()))));
    }
    serde_json::from_value(value).map_err(|e| malformed(e.to_string()))
}

fn interpret_status(
    http_status: u16,
    w: WireStatus,
    order_tracking_id: &str,
) -> Result<TransactionStatus, PesapalError> {
    let malformed = |detail: String| PesapalError::Malformed { http_status, detail };
    let description_text = w.payment_status_description.unwrap_or_default();
    let from_text = PaymentStatus::from_description(&description_text);
    let status_code = match &w.status_code {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().parse().ok(),
        _ => None,
    };
    let status = match (status_code, from_text) {
        (Some(code), text) => {
            let status =
                PaymentStatus::from_code(code).ok_or_else(|| malformed(format!("unknown status_code {code}")))?;
            // The two fields must not contradict each other: a payment is
            // counted only on an answer that agrees with itself.
            if text.is_some_and(|t| t != status) {
                return Err(malformed(format!(
                    "status_code {code} but payment_status_description “{}”",
                    http::excerpt(description_text.as_bytes())
                )));
            }
            status
        }
        (None, Some(text)) => text,
        (None, None) => return Err(malformed("no status_code".into())),
    };
    let currency = w.currency.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let amount = match (&w.amount, currency) {
        (Some(n), Some(c)) => {
            let currency: Currency = c.parse().map_err(|e: MoneyError| malformed(e.to_string()))?;
            let value = n.as_f64().ok_or_else(|| malformed("amount is not a number".into()))?;
            Some(Money::from_wire_f64(value, currency).map_err(|e| malformed(e.to_string()))?)
        }
        _ => None,
    };
    if status == PaymentStatus::Completed && amount.is_none() {
        return Err(malformed("a COMPLETED payment without amount and currency".into()));
    }
    Ok(TransactionStatus {
        order_tracking_id: order_tracking_id.to_string(),
        status,
        status_code: status.code(),
        payment_status_description: description_text,
        payment_method: w.payment_method.unwrap_or_default(),
        confirmation_code: w.confirmation_code.unwrap_or_default(),
        payment_account: w.payment_account.unwrap_or_default(),
        amount,
        merchant_reference: w.merchant_reference.unwrap_or_default(),
        created_date: w.created_date.as_deref().and_then(parse_utc),
        description: w.description.unwrap_or_default(),
        message: w.message.unwrap_or_default(),
        call_back_url: w.call_back_url.filter(|s| !s.trim().is_empty()),
    })
}

// ---- validation before sending ----

fn input(message: String) -> PesapalError {
    PesapalError::Input(message)
}

/// Free text: single-line and bounded. `None` when empty.
fn optional_text<'a>(label: &str, value: Option<&'a str>, max: usize) -> Result<Option<&'a str>, PesapalError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if v.chars().count() > max {
        return Err(input(format!("The {label} is too long (at most {max} characters)")));
    }
    if v.chars().any(char::is_control) {
        return Err(input(format!("The {label} has characters Pesapal cannot take")));
    }
    Ok(Some(v))
}

fn required_text<'a>(label: &str, value: &'a str, max: usize) -> Result<&'a str, PesapalError> {
    optional_text(label, Some(value), max)?.ok_or_else(|| input(format!("Enter the {label}")))
}

/// Ids travel in URLs and are echoed back: plain ASCII, no spaces.
fn check_id(label: &str, value: &str, max: usize) -> Result<(), PesapalError> {
    if value.is_empty() {
        return Err(input(format!("The {label} is missing")));
    }
    if value.chars().count() > max {
        return Err(input(format!("The {label} is too long (at most {max} characters)")));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(input(format!("The {label} has characters Pesapal cannot take")));
    }
    Ok(())
}

fn check_url(label: &str, url: &Url) -> Result<(), PesapalError> {
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(input(format!("The {label} must be an http or https address")));
    }
    Ok(())
}

/// "It should be unique at all times for every order request. Maximum - 50
/// characters." Letters, digits and `-_.:` only: it is echoed in the
/// callback URL's query.
fn check_merchant_reference(reference: &str) -> Result<(), PesapalError> {
    check_id("merchant reference", reference, MAX_MERCHANT_REFERENCE)?;
    if !reference.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
        return Err(input("The merchant reference may hold only letters, digits and - _ . :".into()));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), PesapalError> {
    let shape_ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && email.matches('@').count() == 1;
    if shape_ok { Ok(()) } else { Err(input("The customer's email address is not valid".into())) }
}

/// The document's local form, as in its sample ("0723xxxxxx").
fn local_phone(phone: &Msisdn) -> String {
    format!("0{}", &phone.as_str()[3..])
}

fn order_body<'a>(o: &'a OrderRequest<'a>) -> Result<SubmitOrderBody<'a>, PesapalError> {
    // Not trimmed: the reference is the ledger's key and must go out as recorded.
    let id = o.merchant_reference;
    check_merchant_reference(id)?;
    if o.amount.minor <= 0 {
        return Err(PesapalError::Amount(MoneyError::NotPositive));
    }
    let amount = o.amount.to_wire_f64()?;
    let description = required_text("description", o.description, MAX_DESCRIPTION)?;
    check_url("callback URL", o.callback_url)?;
    if let Some(url) = o.cancellation_url {
        check_url("cancellation URL", url)?;
    }
    let notification_id = o.notification_id.trim();
    check_id("IPN id (notification_id)", notification_id, MAX_ID)
        .map_err(|_| input("Register the IPN URL in Settings first: this till has no valid IPN id".into()))?;
    let branch = optional_text("branch", o.branch, MAX_TEXT)?;
    let b = o.billing_address;
    let email_address = optional_text("email address", b.email_address.as_deref(), 254)?;
    if let Some(email) = email_address {
        check_email(email)?;
    }
    if b.phone_number.is_none() && email_address.is_none() {
        return Err(input("Enter the customer's phone number or email address".into()));
    }
    let country_code = optional_text("country code", b.country_code.as_deref(), 2)?;
    if let Some(c) = country_code
        && (c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(input("The country code must be two letters, for example KE".into()));
    }
    let digits = |label: &str, v: Option<&'a str>| -> Result<Option<&'a str>, PesapalError> {
        let v = optional_text(label, v, 10)?;
        if v.is_some_and(|v| !v.bytes().all(|b| b.is_ascii_digit())) {
            return Err(input(format!("The {label} must be digits only")));
        }
        Ok(v)
    };
    Ok(SubmitOrderBody {
        id,
        currency: o.amount.currency.code(),
        amount,
        description,
        callback_url: o.callback_url.as_str(),
        redirect_mode: o.redirect_mode,
        cancellation_url: o.cancellation_url.map(Url::as_str),
        notification_id,
        branch,
        billing_address: WireBillingAddress {
            email_address,
            phone_number: b.phone_number.as_ref().map(local_phone),
            country_code: country_code.map(str::to_ascii_uppercase),
            first_name: optional_text("first name", b.first_name.as_deref(), MAX_TEXT)?,
            middle_name: optional_text("middle name", b.middle_name.as_deref(), MAX_TEXT)?,
            last_name: optional_text("last name", b.last_name.as_deref(), MAX_TEXT)?,
            line_1: optional_text("address line 1", b.line_1.as_deref(), MAX_TEXT)?,
            line_2: optional_text("address line 2", b.line_2.as_deref(), MAX_TEXT)?,
            city: optional_text("city", b.city.as_deref(), MAX_TEXT)?,
            state: optional_text("state", b.state.as_deref(), MAX_STATE)?,
            postal_code: digits("postal code", b.postal_code.as_deref())?,
            zip_code: digits("zip code", b.zip_code.as_deref())?,
        },
    })
}

/// The code the client runs on each endpoint's answer, for the fuzz targets.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;
    use crate::fuzzing::Seen;

    /// The merchant reference and tracking id the seeds carry.
    pub const MERCHANT_REFERENCE: &str = "TABL-0001";
    pub const ORDER_TRACKING_ID: &str = "b945e4af-80a5-4ec1-8706-e03f8332fb04";

    pub fn response(endpoint: u8, status: u16, body: &[u8]) -> Seen {
        let answer = Answer { status, body: body.to_vec() };
        match endpoint % 6 {
            // A failed sign-in reaches the cashier wrapped, as `bearer` wraps it.
            0 => match read_token(&answer) {
                Ok(_) => Seen::default(),
                Err(e) => Seen::error(PesapalError::SignIn(Box::new(e))),
            },
            1 => {
                let url = Url::parse("https://till.example/pesapal/ipn").expect("a fixed URL parses");
                match read_ipn_registration(&answer, &url, IpnNotificationType::Get) {
                    Ok(_) => Seen::default(),
                    Err(e) => Seen::error(e),
                }
            }
            2 => match read_ipn_list(&answer) {
                Ok(_) => Seen::default(),
                Err(e) => Seen::error(e),
            },
            3 => match read_submitted(&answer, MERCHANT_REFERENCE) {
                Ok(_) => Seen::default(),
                Err(e) => Seen::error(e),
            },
            4 => match interpret(&answer).and_then(|w| interpret_status(answer.status, w, ORDER_TRACKING_ID)) {
                Ok(t) => {
                    let mut seen = Seen { amounts: t.amount.into_iter().collect(), messages: vec![] };
                    // The flow refuses to count a status that does not match the order.
                    if let Some(expected) = t.amount
                        && let Err(m) = t.confirms(MERCHANT_REFERENCE, expected)
                    {
                        seen.messages.push(m.to_string());
                    }
                    seen
                }
                Err(e) => Seen::error(e),
            },
            // A POST IPN's body.
            _ => {
                Notification::from_json(body);
                Seen::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, body: body.as_bytes().to_vec() }
    }

    /// The document's GetTransactionStatus sample, verbatim.
    const STATUS_SAMPLE: &str = r#"{
        "payment_method": "Visa",
        "amount": 100,
        "created_date": "2022-04-30T07:41:09.763",
        "confirmation_code": "6513008693186320103009",
        "payment_status_description": "Failed",
        "description": "Unable to Authorize Transaction.Kindly contact your bank for assistance",
        "message": "Request processed successfully",
        "payment_account": "476173**0010",
        "call_back_url": "https://test.com/?OrderTrackingId=7e6b62d9-883e-440f-a63e-e1105bbfadc3&OrderMerchantReference=1515111111",
        "status_code": 2,
        "merchant_reference": "1515111111",
        "payment_status_code": "",
        "currency": "KES",
        "error": {
            "error_type": null,
            "code": null,
            "message": null,
            "call_back_url": null
        },
        "status": "200"
    }"#;

    fn status_of(body: &str) -> Result<TransactionStatus, PesapalError> {
        let a = answer(200, body);
        let w: WireStatus = interpret(&a)?;
        interpret_status(200, w, "7e6b62d9-883e-440f-a63e-e1105bbfadc3")
    }

    fn kes(minor: i64) -> Money {
        Money::new(minor, Currency::KES)
    }

    #[test]
    fn the_documented_status_sample_parses_field_by_field() {
        let s = status_of(STATUS_SAMPLE).unwrap();
        assert_eq!(s.status, PaymentStatus::Failed);
        assert_eq!(s.status_code, 2);
        assert_eq!(s.payment_status_description, "Failed");
        assert!(s.is_final());
        assert_eq!(s.payment_method, "Visa");
        assert_eq!(s.amount, Some(kes(10_000)));
        assert_eq!(s.confirmation_code, "6513008693186320103009");
        assert_eq!(s.payment_account, "476173**0010");
        assert_eq!(s.merchant_reference, "1515111111");
        assert_eq!(s.created_date, Some("2022-04-30T07:41:09.763Z".parse::<DateTime<Utc>>().unwrap()));
        assert!(s.description.starts_with("Unable to Authorize"));
        assert_eq!(s.message, "Request processed successfully");
        assert!(s.call_back_url.unwrap().contains("OrderMerchantReference=1515111111"));
    }

    #[test]
    fn every_status_code_maps_and_only_invalid_is_pending() {
        for (code, word, status, is_final) in [
            (0, "INVALID", PaymentStatus::Invalid, false),
            (1, "Completed", PaymentStatus::Completed, true),
            (2, "FAILED", PaymentStatus::Failed, true),
            (3, "reversed", PaymentStatus::Reversed, true),
        ] {
            let body = STATUS_SAMPLE
                .replace("\"status_code\": 2", &format!("\"status_code\": {code}"))
                .replace("\"Failed\"", &format!("\"{word}\""));
            let s = status_of(&body).unwrap();
            assert_eq!((s.status, s.status_code, s.is_final()), (status, code, is_final), "{code}");
            assert_eq!(PaymentStatus::from_code(code), Some(status));
            assert_eq!(status.code(), code);
        }
    }

    #[test]
    fn the_number_and_the_text_are_two_fields_that_must_agree() {
        // A description Kaunta does not know is kept as text; the number decides.
        let pending =
            STATUS_SAMPLE.replace("\"status_code\": 2", "\"status_code\": 0").replace("\"Failed\"", "\"Pending\"");
        let s = status_of(&pending).unwrap();
        assert_eq!((s.status, s.payment_status_description.as_str()), (PaymentStatus::Invalid, "Pending"));
        // Contradicting fields: not trusted.
        let contradiction = STATUS_SAMPLE.replace("\"status_code\": 2", "\"status_code\": 1");
        assert!(status_of(&contradiction).unwrap_err().outcome_unknown());
        // No number: the text is read.
        let text_only = STATUS_SAMPLE.replace("\"status_code\": 2,", "");
        assert_eq!(status_of(&text_only).unwrap().status, PaymentStatus::Failed);
        let code_as_text = STATUS_SAMPLE.replace("\"status_code\": 2", "\"status_code\": \"2\"");
        assert_eq!(status_of(&code_as_text).unwrap().status, PaymentStatus::Failed);
        let unknown = STATUS_SAMPLE.replace("\"status_code\": 2", "\"status_code\": 7");
        assert!(matches!(status_of(&unknown), Err(PesapalError::Malformed { .. })));
    }

    #[test]
    fn a_completed_payment_must_say_how_much() {
        let completed =
            STATUS_SAMPLE.replace("\"status_code\": 2", "\"status_code\": 1").replace("\"Failed\"", "\"Completed\"");
        assert_eq!(status_of(&completed).unwrap().amount, Some(kes(10_000)));
        let decimal = completed.replace("\"amount\": 100,", "\"amount\": 1200.5,");
        assert_eq!(status_of(&decimal).unwrap().amount, Some(kes(120_050)));
        let no_amount = completed.replace("\"amount\": 100,", "");
        assert!(status_of(&no_amount).unwrap_err().outcome_unknown());
        let odd_currency = completed.replace("\"KES\"", "\"XYZ\"");
        assert!(status_of(&odd_currency).unwrap_err().outcome_unknown());
        let too_fine = completed.replace("\"amount\": 100,", "\"amount\": 10.005,");
        assert!(status_of(&too_fine).unwrap_err().outcome_unknown());
        // Pending answers may come without an amount.
        let pending = STATUS_SAMPLE
            .replace("\"status_code\": 2", "\"status_code\": 0")
            .replace("\"Failed\"", "\"INVALID\"")
            .replace("\"amount\": 100,", "\"amount\": null,");
        assert_eq!(status_of(&pending).unwrap().amount, None);
    }

    #[test]
    fn a_status_confirms_only_its_own_order_and_amount() {
        let completed =
            STATUS_SAMPLE.replace("\"status_code\": 2", "\"status_code\": 1").replace("\"Failed\"", "\"Completed\"");
        let s = status_of(&completed).unwrap();
        assert_eq!(s.confirms("1515111111", kes(10_000)), Ok(()));
        assert!(matches!(s.confirms("other", kes(10_000)), Err(Mismatch::MerchantReference { .. })));
        assert!(matches!(s.confirms("1515111111", kes(10_001)), Err(Mismatch::Amount { .. })));
        let usd = Money::new(10_000, Currency::USD);
        assert!(matches!(s.confirms("1515111111", usd), Err(Mismatch::Amount { .. })));
    }

    #[test]
    fn the_error_object_is_an_error_even_with_http_200() {
        let body = r#"{"error": {"type": "error_type", "code": "response_code",
            "message": "Detailed error message goes here.."}}"#;
        match interpret::<WireSubmitted>(&answer(200, body)) {
            Err(e @ PesapalError::Refused { http_status: 200, .. }) => {
                let api = e.api_error().unwrap();
                assert_eq!(
                    (api.error_type.as_str(), api.code.as_str(), api.message.as_str()),
                    ("error_type", "response_code", "Detailed error message goes here..")
                );
                assert!(!e.outcome_unknown());
                assert_eq!(e.code(), "refused");
                assert!(e.to_string().contains("Detailed error message goes here.."), "{e}");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        // GetTransactionStatus spells it error_type.
        let status_error = STATUS_SAMPLE.replace(
            "\"error_type\": null,\n            \"code\": null,",
            "\"error_type\": \"api_error\",\n            \"code\": \"payment_details_not_found\",",
        );
        let e = status_of(&status_error).unwrap_err();
        assert_eq!((e.code(), e.api_error().unwrap().error_type.as_str()), ("not_found", "api_error"));
    }

    #[test]
    fn answers_are_classified_by_what_the_till_can_know() {
        let cases = [
            (
                200,
                r#"{"order_tracking_id": "x", "merchant_reference": "r", "redirect_url": "https://h/p", "error": null, "status": "200"}"#,
                None,
            ),
            (200, "{\"order_tracking_id\": \"b9", Some(("malformed_answer", true))),
            (200, "<html>hello</html>", Some(("malformed_answer", true))),
            (200, r#"{"order_tracking_id": null, "error": null, "status": "500"}"#, Some(("malformed_answer", true))),
            (500, r#"{"error": {"type": "api_error", "code": "x", "message": "boom"}}"#, Some(("server_error", true))),
            (502, "<html>Bad Gateway</html>", Some(("server_error", true))),
            (401, "", Some(("unauthorized", false))),
            (200, r#"{"error": null, "status": "401"}"#, Some(("unauthorized", false))),
            (
                400,
                r#"{"error": {"type": "validation_error", "code": "bad", "message": "no"}, "status": "400"}"#,
                Some(("refused", false)),
            ),
            (429, "Too many requests", Some(("refused", false))),
            (200, r#"{"error": "Something went wrong", "status": "500"}"#, Some(("refused", false))),
        ];
        for (status, body, expected) in cases {
            let got = interpret::<WireSubmitted>(&answer(status, body));
            match (got, expected) {
                (Ok(_), None) => {}
                (Err(e), Some((code, unknown))) => {
                    assert_eq!((e.code(), e.outcome_unknown()), (code, unknown), "{status} {body}")
                }
                (got, _) => panic!("{status} {body}: {:?}", got.map(|_| ())),
            }
        }
    }

    #[test]
    fn an_all_null_error_object_is_no_error() {
        for v in
            [r#"null"#, r#"{"error_type": null, "code": null, "message": null, "call_back_url": null}"#, "0", "\"\""]
        {
            assert_eq!(ApiError::from_value(&serde_json::from_str(v).unwrap()), None, "{v}");
        }
    }

    #[test]
    fn dates_are_read_as_utc_whatever_their_form() {
        let at = |s: &str| parse_utc(s).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        assert_eq!(at("2021-08-26T12:29:30.5177702Z").as_deref(), Some("2021-08-26T12:29:30.517770Z"));
        assert_eq!(at("2022-04-30T07:41:09.763").as_deref(), Some("2022-04-30T07:41:09.763000Z"));
        assert_eq!(at("2022-04-30T07:41:09").as_deref(), Some("2022-04-30T07:41:09.000000Z"));
        assert_eq!(at("2022-04-30T10:41:09.763+03:00").as_deref(), Some("2022-04-30T07:41:09.763000Z"));
        assert_eq!(at("2022-04-30T10:41:09+0300").as_deref(), Some("2022-04-30T07:41:09.000000Z"));
        assert_eq!(at("2022-04-30 07:41:09.5").as_deref(), Some("2022-04-30T07:41:09.500000Z"));
        assert_eq!(at("30/04/2022 07:41"), None);
        assert_eq!(at(""), None);
    }

    #[test]
    fn a_token_lives_until_shortly_before_its_expiry_date_and_at_most_five_minutes() {
        let now: DateTime<Utc> = "2021-08-26T12:24:30.5177702Z".parse().unwrap();
        assert_eq!(token_lifetime(Some("2021-08-26T12:29:30.5177702Z"), now), Duration::from_secs(300));
        assert_eq!(token_lifetime(Some("2021-08-26T15:27:30.5177702+03:00"), now), Duration::from_secs(180));
        assert_eq!(token_lifetime(Some("2021-08-26T12:27:30.5177702"), now), Duration::from_secs(180));
        // A slow till clock, a past date, no date.
        assert_eq!(token_lifetime(Some("2021-08-26T14:00:00Z"), now), MAX_TOKEN_LIFETIME);
        assert_eq!(token_lifetime(Some("2021-08-26T12:00:00Z"), now), Duration::ZERO);
        assert_eq!(token_lifetime(None, now), MAX_TOKEN_LIFETIME);
        assert_eq!(token_lifetime(Some("soon"), now), MAX_TOKEN_LIFETIME);

        let t0 = Instant::now();
        let five = Token::new("t".into(), t0, Duration::from_secs(300));
        assert!(five.fresh(t0 + Duration::from_secs(239)));
        assert!(!five.fresh(t0 + Duration::from_secs(240)));
        let short = Token::new("t".into(), t0, Duration::from_secs(40));
        assert!(short.fresh(t0 + Duration::from_secs(29)));
        assert!(!short.fresh(t0 + Duration::from_secs(30)));
        assert!(!Token::new("t".into(), t0, Duration::ZERO).fresh(t0));
    }

    fn sample_order<'a>(callback: &'a Url, address: &'a BillingAddress) -> OrderRequest<'a> {
        OrderRequest {
            merchant_reference: "AA1122-3344ZZ",
            amount: kes(10_000),
            description: "Payment description goes here",
            callback_url: callback,
            cancellation_url: None,
            redirect_mode: None,
            notification_id: "fe078e53-78da-4a83-aa89-e7ded5c456e6",
            branch: Some("Store Name - HQ"),
            billing_address: address,
        }
    }

    fn sample_address() -> BillingAddress {
        BillingAddress {
            phone_number: Some(Msisdn::parse("0723000000").unwrap()),
            email_address: Some("john.doe@example.com".into()),
            country_code: Some("KE".into()),
            first_name: Some("John".into()),
            middle_name: Some(String::new()),
            last_name: Some("Doe".into()),
            line_1: Some("Pesapal Limited".into()),
            ..BillingAddress::default()
        }
    }

    #[test]
    fn the_order_body_is_the_documents_sample() {
        let callback = Url::parse("https://www.myapplication.com/response-page").unwrap();
        let address = sample_address();
        let body = serde_json::to_value(order_body(&sample_order(&callback, &address)).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "id": "AA1122-3344ZZ",
                "currency": "KES",
                "amount": 100.0,
                "description": "Payment description goes here",
                "callback_url": "https://www.myapplication.com/response-page",
                "notification_id": "fe078e53-78da-4a83-aa89-e7ded5c456e6",
                "branch": "Store Name - HQ",
                "billing_address": {
                    "email_address": "john.doe@example.com",
                    "phone_number": "0723000000",
                    "country_code": "KE",
                    "first_name": "John",
                    "last_name": "Doe",
                    "line_1": "Pesapal Limited"
                }
            })
        );
    }

    #[test]
    fn amounts_go_out_as_exact_decimals() {
        let callback = Url::parse("https://h/cb").unwrap();
        let address = sample_address();
        for (minor, currency, wire) in [
            (120_050, Currency::KES, "1200.5"),
            (1, Currency::KES, "0.01"),
            (1_999_999, Currency::KES, "19999.99"),
            (5_000, Currency::UGX, "5000.0"),
        ] {
            let order = OrderRequest { amount: Money::new(minor, currency), ..sample_order(&callback, &address) };
            let text = serde_json::to_string(&order_body(&order).unwrap()).unwrap();
            assert!(text.contains(&format!("\"amount\":{wire},")), "{text}");
            assert!(text.contains(&format!("\"currency\":\"{}\"", currency.code())), "{text}");
        }
        for minor in [0, -100] {
            let order = OrderRequest { amount: kes(minor), ..sample_order(&callback, &address) };
            assert!(matches!(order_body(&order), Err(PesapalError::Amount(MoneyError::NotPositive))));
        }
    }

    #[test]
    fn orders_that_break_the_documents_limits_are_refused() {
        let callback = Url::parse("https://h/cb").unwrap();
        let ftp = Url::parse("ftp://h/cb").unwrap();
        let good = sample_address();
        let long_ref = "R".repeat(51);
        let ok_ref = "R".repeat(50);
        let long_description = "d".repeat(101);
        let ok_description = "d".repeat(100);
        let nobody = BillingAddress { first_name: Some("John".into()), ..BillingAddress::default() };
        let blank_email = BillingAddress { email_address: Some("  ".into()), ..BillingAddress::default() };
        let bad_email = BillingAddress::email("john.doe@");
        let bad_state = BillingAddress { state: Some("Nairobi".into()), ..good.clone() };
        let bad_country = BillingAddress { country_code: Some("KEN".into()), ..good.clone() };
        let bad_postal = BillingAddress { postal_code: Some("00-100".into()), ..good.clone() };
        let base = sample_order(&callback, &good);
        let refused = [
            OrderRequest { merchant_reference: &long_ref, ..base.clone() },
            OrderRequest { merchant_reference: "", ..base.clone() },
            OrderRequest { merchant_reference: "AA 11", ..base.clone() },
            OrderRequest { merchant_reference: " AA1122", ..base.clone() },
            OrderRequest { merchant_reference: "AA/11?x=1", ..base.clone() },
            OrderRequest { description: &long_description, ..base.clone() },
            OrderRequest { description: "  ", ..base.clone() },
            OrderRequest { description: "two\nlines", ..base.clone() },
            OrderRequest { callback_url: &ftp, ..base.clone() },
            OrderRequest { notification_id: "", ..base.clone() },
            OrderRequest { billing_address: &nobody, ..base.clone() },
            OrderRequest { billing_address: &blank_email, ..base.clone() },
            OrderRequest { billing_address: &bad_email, ..base.clone() },
            OrderRequest { billing_address: &bad_state, ..base.clone() },
            OrderRequest { billing_address: &bad_country, ..base.clone() },
            OrderRequest { billing_address: &bad_postal, ..base.clone() },
        ];
        for (i, order) in refused.iter().enumerate() {
            let e = order_body(order).map(|_| ()).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "case {i}: {e}");
            assert!(!e.outcome_unknown());
        }
        let phone_only = BillingAddress::phone(Msisdn::parse("+254723000000").unwrap());
        let email_only = BillingAddress::email("jane@example.co.ke");
        for order in [
            OrderRequest { merchant_reference: &ok_ref, description: &ok_description, ..base.clone() },
            OrderRequest { billing_address: &phone_only, ..base.clone() },
            OrderRequest { billing_address: &email_only, ..base.clone() },
            OrderRequest { merchant_reference: "019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b", ..base.clone() },
        ] {
            assert!(order_body(&order).is_ok(), "{:?}", order.merchant_reference);
        }
    }

    #[test]
    fn the_callback_is_recognised_only_at_the_callback_url() {
        let callback = Url::parse("https://www.myapplication.com/response-page").unwrap();
        let sample = Url::parse(
            "https://www.myapplication.com/response-page?OrderTrackingId=b945e4af-80a5-4ec1-8706-e03f8332fb04\
             &OrderMerchantReference=TEST1515111119&OrderNotificationType=CALLBACKURL",
        )
        .unwrap();
        let n = Notification::from_callback(&callback, &sample).unwrap();
        assert_eq!(n.order_tracking_id, "b945e4af-80a5-4ec1-8706-e03f8332fb04");
        assert_eq!(n.merchant_reference, "TEST1515111119");
        assert_eq!(n.notification_type, NotificationType::CallbackUrl);
        let elsewhere = Url::parse(&sample.as_str().replace("response-page", "other")).unwrap();
        assert_eq!(Notification::from_callback(&callback, &elsewhere), None);
        let ipn = Url::parse(&sample.as_str().replace("CALLBACKURL", "IPNCHANGE")).unwrap();
        assert_eq!(Notification::from_callback(&callback, &ipn), None);
        assert_eq!(Notification::from_query(&ipn).unwrap().notification_type, NotificationType::IpnChange);
        let post = br#"{"OrderNotificationType":"IPNCHANGE","OrderTrackingId":"b945e4af-80a5-4ec1-8706-e03f8332fb04","OrderMerchantReference":"TEST1515111119"}"#;
        assert_eq!(Notification::from_json(post).unwrap().merchant_reference, "TEST1515111119");
    }

    #[test]
    fn the_documented_ipn_samples_parse() {
        let registered = r#"{"url": "https://myapplication.com/ipn", "created_date": "2024-06-14T07:50:22.2825997Z",
            "ipn_id": "84740ab4-3cd9-47da-8a4f-dd1db53494b5", "notification_type": 0,
            "ipn_notification_type_description": "GET", "ipn_status": 1, "ipn_status_description": "Active",
            "error": null, "status": "200"}"#;
        let w: WireIpnRegistration = interpret(&answer(200, registered)).unwrap();
        assert_eq!(w.ipn_id.as_deref(), Some("84740ab4-3cd9-47da-8a4f-dd1db53494b5"));
        assert_eq!(w.ipn_status_description.as_deref(), Some("Active"));
        let list = r#"[{"url": "https://www.myapplication.com/ipn", "created_date": "2022-03-03T17:29:03.7208266Z",
            "ipn_id": "e32182ca-0983-4fa0-91bc-c3bb813ba750", "error": null, "status": "200"},
            {"url": "https://ipn.myapplication.com/application2", "created_date": "2021-12-05T04:23:45.5509243Z",
            "ipn_id": "c3bb813ba750-0983-4fa0-91bc-e32182ca", "error": null, "status": "200"}]"#;
        let entries: Vec<WireIpnEntry> = interpret(&answer(200, list)).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].ipn_id.as_deref(), Some("c3bb813ba750-0983-4fa0-91bc-e32182ca"));
    }

    #[test]
    fn credentials_never_print_and_are_checked() {
        let c = Credentials { consumer_key: "key-123".into(), consumer_secret: "secret-456".into() };
        let shown = format!("{c:?}");
        assert!(!shown.contains("key-123") && !shown.contains("secret-456"));
        assert!(c.check().is_ok());
        assert!(Credentials { consumer_secret: " ".into(), ..c.clone() }.check().is_err());
        assert!(Credentials { consumer_key: "a\nb".into(), ..c }.check().is_err());
    }
}
