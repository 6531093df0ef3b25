//! PesaVoucher Vouchers API v1 (providers/pesavoucher-api.txt): validate,
//! redeem and create vouchers. Field names and messages follow the document.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::http::{self, TransportError};
use crate::money::{Currency, Money, MoneyError};
use crate::secrets::{self, Redacted, SecretError};
use crate::voucher_code::VoucherCode;

pub const LIVE_URL: &str = "https://payments.pesavoucher.com/api/v1";
pub const SANDBOX_URL: &str = "https://sandbox.payments.pesavoucher.com/api/v1";

/// The only currency the API accepts ("currently only KES supported").
pub const CURRENCY: Currency = Currency::KES;
pub const MIN_VOUCHER: Money = Money::new(5_000, Currency::KES);
pub const MAX_VOUCHER: Money = Money::new(15_000_000, Currency::KES);

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

/// Why PesaVoucher said no, one variant per message in the document. The
/// provider's own words are kept beside it for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Decline {
    NotFound,
    Deleted,
    NotActive,
    AlreadyRedeemed {
        on: Option<String>,
    },
    PlatformOnly,
    OtherMerchant,
    InsufficientWalletBalance,
    CurrencyNotSupported,
    MissingFields,
    UserNotFound,
    BelowMinimum,
    AboveMaximum,
    InsufficientMerchantBalance,
    AuthenticationFailed,
    /// HTTP 429: refused for now, nothing done; no Retry-After is waited
    /// out at the counter, the cashier tries again.
    Busy,
    Other,
}

impl Decline {
    /// Classifies a message from `error` or `validation_errors`.
    pub fn from_message(message: &str) -> Decline {
        let m = message.trim();
        let redeemed_on = |prefix: &str| {
            m.strip_prefix(prefix).map(|rest| {
                let on = rest.trim();
                Decline::AlreadyRedeemed { on: (!on.is_empty()).then(|| on.to_string()) }
            })
        };
        if let Some(d) =
            redeemed_on("Voucher already redeemed on").or_else(|| redeemed_on("Voucher has already been redeemed on"))
        {
            return d;
        }
        match m {
            "Voucher not found or has been deleted"
            | "Voucher not found or does not belong to your merchant account" => Decline::NotFound,
            "Voucher has been deleted" => Decline::Deleted,
            "Voucher is not active" => Decline::NotActive,
            "Voucher does not belong to your merchant account" => Decline::OtherMerchant,
            "Insufficient wallet balance" => Decline::InsufficientWalletBalance,
            "Currency must be KES" => Decline::CurrencyNotSupported,
            "User not found" => Decline::UserNotFound,
            "Insufficient merchant balance" => Decline::InsufficientMerchantBalance,
            _ if m.starts_with("Voucher is only redeemable at PesaVoucher platform") => Decline::PlatformOnly,
            _ if m.starts_with("Missing required field") => Decline::MissingFields,
            _ if m.starts_with("Minimum voucher amount") => Decline::BelowMinimum,
            _ if m.starts_with("Maximum voucher amount") => Decline::AboveMaximum,
            _ => Decline::Other,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Decline::NotFound => "not_found",
            Decline::Deleted => "deleted",
            Decline::NotActive => "not_active",
            Decline::AlreadyRedeemed { .. } => "already_redeemed",
            Decline::PlatformOnly => "platform_only",
            Decline::OtherMerchant => "other_merchant",
            Decline::InsufficientWalletBalance => "insufficient_wallet_balance",
            Decline::CurrencyNotSupported => "currency_not_supported",
            Decline::MissingFields => "missing_fields",
            Decline::UserNotFound => "user_not_found",
            Decline::BelowMinimum => "below_minimum",
            Decline::AboveMaximum => "above_maximum",
            Decline::InsufficientMerchantBalance => "insufficient_merchant_balance",
            Decline::AuthenticationFailed => "authentication_failed",
            Decline::Busy => "rate_limited",
            Decline::Other => "declined",
        }
    }

    /// What the cashier reads: plain words and what to do next.
    pub fn plain(&self, provider_message: &str) -> String {
        match self {
            Decline::NotFound => "No such voucher: check the code with the customer, or scan it again.".into(),
            Decline::Deleted => "This voucher has been cancelled by PesaVoucher and cannot be used.".into(),
            Decline::NotActive => {
                "This voucher is not active yet, or has been suspended. Ask the customer to contact PesaVoucher.".into()
            }
            Decline::AlreadyRedeemed { on: Some(on) } => {
                format!("This voucher was already used on {on}. Do not hand over goods.")
            }
            Decline::AlreadyRedeemed { on: None } => "This voucher was already used. Do not hand over goods.".into(),
            Decline::PlatformOnly => "This voucher can only be used on pesavoucher.com, not in a shop.".into(),
            Decline::OtherMerchant => "This voucher belongs to another shop and cannot be used here.".into(),
            Decline::InsufficientWalletBalance => {
                "The customer's PesaVoucher wallet does not have enough money for this voucher.".into()
            }
            Decline::CurrencyNotSupported => "PesaVoucher accepts only Kenya shillings (KES).".into(),
            Decline::MissingFields => {
                format!("PesaVoucher says the request was incomplete ({provider_message}). Please report this.")
            }
            Decline::UserNotFound => "That email address has no PesaVoucher account.".into(),
            Decline::BelowMinimum => format!("The smallest voucher is {MIN_VOUCHER}."),
            Decline::AboveMaximum => format!("The largest voucher is {MAX_VOUCHER}."),
            Decline::InsufficientMerchantBalance => {
                "The store's PesaVoucher balance is too low for this voucher.".into()
            }
            Decline::AuthenticationFailed => {
                "PesaVoucher refused this till's credentials: a manager must check them in Settings.".into()
            }
            Decline::Busy => {
                "PesaVoucher is busy (too many requests): nothing was redeemed. Wait a minute and try again.".into()
            }
            Decline::Other => format!("PesaVoucher declined: {provider_message}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PesaVoucherError {
    /// The provider answered and said no: nothing happened.
    #[error("{}", .reason.plain(.provider_message))]
    Declined { reason: Decline, provider_message: String, status: u16 },
    #[error("PesaVoucher cannot be reached ({0}). Nothing was charged; try again when it is back.")]
    Unreachable(String),
    #[error("PesaVoucher did not answer ({0}).")]
    NoAnswer(String),
    /// 5xx; `excerpt` is for the audit log (see `detail`).
    #[error("PesaVoucher answered with a server error (HTTP {status}).")]
    Server { status: u16, excerpt: String },
    /// An answer that is not what the document shows; `detail` says how.
    #[error("PesaVoucher's answer could not be read (HTTP {status}).")]
    Malformed { status: u16, detail: String },
    #[error(transparent)]
    Amount(#[from] MoneyError),
}

impl PesaVoucherError {
    /// True when the provider may have acted although we have no answer:
    /// a money-moving call that ends so must be recorded as `unknown`.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            PesaVoucherError::NoAnswer(_) | PesaVoucherError::Server { .. } | PesaVoucherError::Malformed { .. }
        )
    }

    /// What the provider actually sent (an excerpt of its body, the
    /// parser's complaint), for the audit log and diagnostics. Never part of
    /// the message: a cashier reads plain words, not JSON or an HTML page.
    pub fn detail(&self) -> Option<&str> {
        match self {
            PesaVoucherError::Server { excerpt, .. } => Some(excerpt),
            PesaVoucherError::Malformed { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

impl From<TransportError> for PesaVoucherError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unreachable(m) => PesaVoucherError::Unreachable(m),
            TransportError::NoAnswer(m) => PesaVoucherError::NoAnswer(m),
        }
    }
}

// ---- wire types, exactly as documented ----

#[derive(Debug, Serialize)]
struct ValidateRequest<'a> {
    voucher_code: &'a str,
}

#[derive(Debug, Serialize)]
struct RedeemRequest<'a> {
    voucher_code: &'a str,
    currency: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redeemed_by: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct CreateRequest<'a> {
    email: &'a str,
    amount: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_id: Option<&'a str>,
    currency: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

/// Every response shares `success`; failures carry `error`.
#[derive(Debug, Deserialize)]
struct Envelope {
    success: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    valid: Option<bool>,
    #[serde(default)]
    validation_errors: Option<Vec<String>>,
    #[serde(default)]
    voucher: Option<WireVoucher>,
    #[serde(default)]
    redemption: Option<WireRedemption>,
    #[serde(default)]
    voucher_code: Option<String>,
    #[serde(default)]
    amount: Option<f64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    transaction_id: Option<String>,
    #[serde(default)]
    unique_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireVoucher {
    code: String,
    amount: f64,
    currency: String,
    status: String,
    is_active: bool,
    #[serde(default)]
    recipient: Option<WirePerson>,
}

#[derive(Debug, Deserialize)]
struct WirePerson {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireRedemption {
    voucher_code: String,
    amount: f64,
    currency: String,
    redeemed_at: String,
    #[serde(default)]
    redeemed_by: Option<String>,
    #[serde(default)]
    customer: Option<WirePerson>,
}

// ---- domain results ----

#[derive(Debug, Clone, PartialEq)]
pub struct ValidVoucher {
    pub code: String,
    pub amount: Money,
    pub status: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    Valid(ValidVoucher),
    /// Each reason with the provider's message.
    Invalid(Vec<(Decline, String)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redeemed {
    pub voucher_code: String,
    pub amount: Money,
    pub redeemed_at: String,
    pub redeemed_by: Option<String>,
    pub customer_name: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreatedVoucher {
    pub voucher_code: String,
    pub amount: Money,
    pub transaction_id: Option<String>,
    pub unique_id: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
}

impl Client {
    pub fn new(base: Url, credentials: Credentials) -> Self {
        Self::with_timeout(base, credentials, http::REQUEST_TIMEOUT)
    }

    pub fn with_timeout(base: Url, credentials: Credentials, timeout: Duration) -> Self {
        Client { http: http::client(timeout), base, credentials }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Read-only: safe to repeat.
    pub async fn validate_voucher(&self, code: &VoucherCode) -> Result<Validation, PesaVoucherError> {
        let env = self.post("validate_voucher", &ValidateRequest { voucher_code: code.expose() }).await?;
        read_validation(env)
    }

    /// Moves money: the caller must have recorded its intent first, and must
    /// not retry on an error for which `outcome_unknown()` is true.
    pub async fn redeem_voucher(
        &self,
        code: &VoucherCode,
        redeemed_by: &str,
        note: &str,
    ) -> Result<Redeemed, PesaVoucherError> {
        let body = RedeemRequest {
            voucher_code: code.expose(),
            currency: CURRENCY.code(),
            note: Some(note),
            redeemed_by: Some(redeemed_by),
        };
        let env = self.post("redeem_voucher", &body).await?;
        read_redeemed(env)
    }

    /// A voucher for a customer (refunds, payouts); `unique_id` is our
    /// transaction id so a lost answer can be matched later.
    pub async fn create_voucher(
        &self,
        email: &str,
        amount: Money,
        unique_id: &str,
        message: Option<&str>,
    ) -> Result<CreatedVoucher, PesaVoucherError> {
        let body = CreateRequest {
            email,
            amount: amount.to_wire_f64()?,
            unique_id: Some(unique_id),
            currency: amount.currency.code(),
            message,
        };
        let env = self.post("create_voucher", &body).await?;
        read_created(env, body.amount)
    }

    async fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Envelope, PesaVoucherError> {
        let response = self
            .http
            .post(http::endpoint(&self.base, path))
            .header("X-API-KEY", &self.credentials.api_key)
            .header("X-API-SECRET", &self.credentials.api_secret)
            .json(body)
            .send()
            .await
            .map_err(TransportError::from_reqwest)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(TransportError::from_reqwest)?;
        interpret(status, &bytes)
    }
}

/// A `validate_voucher` answer that `interpret` let through.
fn read_validation(env: Envelope) -> Result<Validation, PesaVoucherError> {
    match (env.valid, env.voucher) {
        (Some(true), Some(v)) => {
            let currency: Currency = v.currency.parse()?;
            let recipient = v.recipient.unwrap_or(WirePerson { name: None, email: None });
            Ok(Validation::Valid(ValidVoucher {
                code: v.code,
                amount: Money::from_wire_f64(v.amount, currency)?,
                status: if v.is_active { v.status } else { "inactive".into() },
                customer_name: recipient.name,
                customer_email: recipient.email,
            }))
        }
        (Some(false), _) => {
            let reasons: Vec<String> =
                env.validation_errors.unwrap_or_default().iter().map(|m| http::excerpt(m.as_bytes())).collect();
            let reasons = if reasons.is_empty() { vec!["Voucher is not valid".to_string()] } else { reasons };
            Ok(Validation::Invalid(reasons.into_iter().map(|m| (Decline::from_message(&m), m)).collect()))
        }
        _ => Err(PesaVoucherError::Malformed { status: 200, detail: "no `valid` verdict with a voucher".into() }),
    }
}

fn read_redeemed(env: Envelope) -> Result<Redeemed, PesaVoucherError> {
    let r = env
        .redemption
        .ok_or_else(|| PesaVoucherError::Malformed { status: 200, detail: "success without a `redemption`".into() })?;
    let currency: Currency = r.currency.parse()?;
    Ok(Redeemed {
        voucher_code: r.voucher_code,
        amount: Money::from_wire_f64(r.amount, currency)?,
        redeemed_at: r.redeemed_at,
        redeemed_by: r.redeemed_by,
        customer_name: r.customer.and_then(|c| c.name),
        message: env.error.unwrap_or_else(|| "Voucher redeemed successfully".into()),
    })
}

/// `sent` is the amount asked for: the document's answer may omit `amount`.
fn read_created(env: Envelope, sent: f64) -> Result<CreatedVoucher, PesaVoucherError> {
    let currency: Currency = env.currency.as_deref().unwrap_or(CURRENCY.code()).parse()?;
    let voucher_code = env.voucher_code.ok_or_else(|| PesaVoucherError::Malformed {
        status: 200,
        detail: "success without a `voucher_code`".into(),
    })?;
    Ok(CreatedVoucher {
        voucher_code,
        amount: Money::from_wire_f64(env.amount.unwrap_or(sent), currency)?,
        transaction_id: env.transaction_id,
        unique_id: env.unique_id,
    })
}

/// Turns a status and body into the envelope or a typed error. Kept apart
/// from I/O so every documented answer is unit-tested from its sample.
fn interpret(status: u16, body: &[u8]) -> Result<Envelope, PesaVoucherError> {
    let parsed: Result<Envelope, _> = serde_json::from_slice(body);
    if status >= 500 {
        return Err(PesaVoucherError::Server { status, excerpt: http::excerpt(body) });
    }
    let env = match parsed {
        Ok(env) => env,
        // A 4xx is a "no" even when its body is unreadable.
        Err(_) if (400..500).contains(&status) => {
            let reason = match status {
                401 => Decline::AuthenticationFailed,
                429 => Decline::Busy,
                _ => Decline::Other,
            };
            // Its body (an HTML page, say) is no message for a cashier.
            let provider_message = format!("HTTP {status} without a readable reason");
            return Err(PesaVoucherError::Declined { reason, provider_message, status });
        }
        Err(e) => {
            return Err(PesaVoucherError::Malformed { status, detail: e.to_string() });
        }
    };
    if env.success && (200..300).contains(&status) {
        return Ok(env);
    }
    // The provider's words reach the cashier: one short line, however they came.
    let message = env
        .error
        .as_deref()
        .map(|m| http::excerpt(m.as_bytes()))
        .unwrap_or_else(|| format!("HTTP {status} without an error message"));
    let reason = match status {
        401 => Decline::AuthenticationFailed,
        429 => Decline::Busy,
        _ => Decline::from_message(&message),
    };
    if (200..300).contains(&status) || (400..500).contains(&status) {
        return Err(PesaVoucherError::Declined { reason, provider_message: message, status });
    }
    Err(PesaVoucherError::Malformed { status, detail: message })
}

/// The code the client runs on each endpoint's answer, for the fuzz targets.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;
    use crate::fuzzing::Seen;

    pub fn response(endpoint: u8, status: u16, body: &[u8]) -> Seen {
        let env = match interpret(status, body) {
            Ok(env) => env,
            Err(e) => return Seen::error(e),
        };
        match endpoint % 3 {
            0 => match read_validation(env) {
                Ok(Validation::Valid(v)) => Seen { amounts: vec![v.amount], messages: vec![] },
                Ok(Validation::Invalid(reasons)) => {
                    Seen { amounts: vec![], messages: reasons.iter().map(|(d, m)| d.plain(m)).collect() }
                }
                Err(e) => Seen::error(e),
            },
            1 => match read_redeemed(env) {
                Ok(r) => Seen { amounts: vec![r.amount], messages: vec![] },
                Err(e) => Seen::error(e),
            },
            _ => match read_created(env, 750.0) {
                Ok(c) => Seen { amounts: vec![c.amount], messages: vec![] },
                Err(e) => Seen::error(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_message_has_its_own_reason() {
        let cases = [
            ("Voucher not found or has been deleted", "not_found"),
            ("Voucher is not active", "not_active"),
            ("Voucher already redeemed on 2025-11-20 10:30:00", "already_redeemed"),
            ("Voucher is only redeemable at PesaVoucher platform, not at merchant locations", "platform_only"),
            ("Voucher is only redeemable at PesaVoucher platform", "platform_only"),
            ("Voucher does not belong to your merchant account", "other_merchant"),
            ("Missing required field: voucher_code or currency", "missing_fields"),
            ("Currency must be KES", "currency_not_supported"),
            ("Voucher not found or does not belong to your merchant account", "not_found"),
            ("Voucher has been deleted", "deleted"),
            ("Voucher has already been redeemed on 2025-11-20 10:30:00", "already_redeemed"),
            ("Insufficient wallet balance", "insufficient_wallet_balance"),
            ("Missing required fields: email, amount, currency", "missing_fields"),
            ("Minimum voucher amount is KES 50", "below_minimum"),
            ("Maximum voucher amount is KES 150000", "above_maximum"),
            ("User not found", "user_not_found"),
            ("Insufficient merchant balance", "insufficient_merchant_balance"),
            ("Something new", "declined"),
        ];
        for (message, code) in cases {
            assert_eq!(Decline::from_message(message).code(), code, "{message}");
        }
        assert_eq!(
            Decline::from_message("Voucher already redeemed on 2025-11-20 10:30:00"),
            Decline::AlreadyRedeemed { on: Some("2025-11-20 10:30:00".into()) }
        );
    }

    #[test]
    fn the_documented_valid_sample_parses() {
        let body = br#"{"success": true, "valid": true, "voucher": {"code": "NLV-DTUMJQ6ILG9WNISE",
            "amount": 750.00, "currency": "KES", "status": "active", "is_active": true,
            "recipient": {"name": "Jane Doe", "email": "customer@example.com"}}}"#;
        let env = interpret(200, body).unwrap();
        let v = env.voucher.unwrap();
        assert_eq!(Money::from_wire_f64(v.amount, Currency::KES).unwrap(), Money::new(75_000, Currency::KES));
        assert_eq!(v.recipient.unwrap().name.as_deref(), Some("Jane Doe"));
    }

    #[test]
    fn the_documented_error_sample_is_a_decline_with_the_providers_words() {
        let body = br#"{"success": false, "error": "Voucher has already been redeemed on 2025-11-20 10:30:00"}"#;
        match interpret(400, body) {
            Err(PesaVoucherError::Declined {
                reason: Decline::AlreadyRedeemed { on },
                provider_message,
                status: 400,
            }) => {
                assert_eq!(on.as_deref(), Some("2025-11-20 10:30:00"));
                assert!(provider_message.starts_with("Voucher has already"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_errors_and_garbage_mean_the_outcome_is_unknown() {
        assert!(interpret(500, br#"{"success":false,"error":"Internal server error"}"#).unwrap_err().outcome_unknown());
        assert!(interpret(502, b"<html>Bad Gateway</html>").unwrap_err().outcome_unknown());
        assert!(interpret(200, b"{\"success\": tru").unwrap_err().outcome_unknown());
        assert!(!interpret(403, b"<html>Forbidden</html>").unwrap_err().outcome_unknown());
        assert!(matches!(
            interpret(401, br#"{"success":false,"error":"Authentication failed"}"#),
            Err(PesaVoucherError::Declined { reason: Decline::AuthenticationFailed, .. })
        ));
    }

    #[test]
    fn raw_answers_reach_the_audit_detail_not_the_message() {
        let e = interpret(502, b"<html>\n<h1>502 Bad Gateway</h1></html>").unwrap_err();
        assert_eq!(e.to_string(), "PesaVoucher answered with a server error (HTTP 502).");
        assert_eq!(e.detail(), Some("<html> <h1>502 Bad Gateway</h1></html>"));
        let e = interpret(200, b"{\"success\": \"tru").unwrap_err();
        assert_eq!(e.to_string(), "PesaVoucher's answer could not be read (HTTP 200).");
        assert!(e.detail().is_some_and(|d| d.contains("EOF while parsing")), "{e:?}");
        let e = interpret(403, b"<html>Forbidden</html>").unwrap_err();
        assert_eq!(e.to_string(), "PesaVoucher declined: HTTP 403 without a readable reason");
    }

    #[test]
    fn credentials_never_print() {
        let c = Credentials { api_key: "key-123".into(), api_secret: "s3cr3t".into() };
        let shown = format!("{c:?}");
        assert!(!shown.contains("key-123") && !shown.contains("s3cr3t"));
    }
}
