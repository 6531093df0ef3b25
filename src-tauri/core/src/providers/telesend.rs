//! Telesend gift vouchers (providers/telesend-gifts-api.txt): claim with an
//! SMS verification code, redeem in full or in part, list denominations.
//! Amounts are Ethiopian birr. Field names and messages follow the document.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::http::{self, TransportError};
use crate::money::{Currency, Money, MoneyError};
use crate::secrets::{self, Redacted, SecretError};
use crate::voucher_code::VoucherCode;

pub const CURRENCY: Currency = Currency::ETB;

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub api_token: String,
}

impl Credentials {
    pub fn check(&self) -> Result<(), SecretError> {
        secrets::check_field("api_token", &self.api_token)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("api_token", &Redacted).finish()
    }
}

/// Why Telesend said no: one variant per message in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decline {
    AlreadyRedeemed,
    NoSuchVoucher,
    AmountAboveRemaining,
    VerificationCodeMissing,
    NoClaimStarted,
    WrongVerificationCode,
    Expired,
    Restricted,
    NoSuchMerchant,
    Telebirr(String),
    AuthenticationFailed,
    /// HTTP 429: refused for now, nothing done; no Retry-After is waited
    /// out at the counter, the cashier tries again.
    Busy,
    Other,
}

impl Decline {
    pub fn from_message(message: &str) -> Decline {
        let m = message.trim();
        if let Some(rest) = m.strip_prefix("Telebirr Error:") {
            return Decline::Telebirr(rest.trim().trim_matches('"').to_string());
        }
        match m {
            "Voucher is already Redeemed" => Decline::AlreadyRedeemed,
            "No voucher with specified code" => Decline::NoSuchVoucher,
            "Specified amount is more than the remaining voucher amount" => Decline::AmountAboveRemaining,
            "Verification Code is missing" => Decline::VerificationCodeMissing,
            "No Voucher redeem process started for by owner" => Decline::NoClaimStarted,
            "The provided verification code is not correct." => Decline::WrongVerificationCode,
            "Expiration date has already passed." => Decline::Expired,
            "No merchant with given id" => Decline::NoSuchMerchant,
            _ if m.starts_with("The given voucher is restricted") => Decline::Restricted,
            _ => Decline::Other,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Decline::AlreadyRedeemed => "already_redeemed",
            Decline::NoSuchVoucher => "not_found",
            Decline::AmountAboveRemaining => "amount_above_remaining",
            Decline::VerificationCodeMissing => "verification_code_missing",
            Decline::NoClaimStarted => "no_claim_started",
            Decline::WrongVerificationCode => "wrong_verification_code",
            Decline::Expired => "expired",
            Decline::Restricted => "restricted",
            Decline::NoSuchMerchant => "no_such_merchant",
            Decline::Telebirr(_) => "telebirr_error",
            Decline::AuthenticationFailed => "authentication_failed",
            Decline::Busy => "rate_limited",
            Decline::Other => "declined",
        }
    }

    pub fn plain(&self, provider_message: &str) -> String {
        match self {
            Decline::AlreadyRedeemed => {
                "This gift voucher has already been used in full. Do not hand over goods.".into()
            }
            Decline::NoSuchVoucher => "No such gift voucher: check the code with the customer.".into(),
            Decline::AmountAboveRemaining => {
                "That amount is more than what is left on the voucher: enter a smaller amount.".into()
            }
            Decline::VerificationCodeMissing => {
                "This voucher needs the customer's SMS code: send the code, then type what the customer received."
                    .into()
            }
            Decline::NoClaimStarted => "No SMS code was sent for this voucher yet: press Send SMS code first.".into(),
            Decline::WrongVerificationCode => {
                "That SMS code is not correct: ask the customer to read it again and retype it.".into()
            }
            Decline::Expired => "This gift voucher has expired and cannot be used.".into(),
            Decline::Restricted => {
                "This voucher can only be used at the shop it was bought for, not at this store.".into()
            }
            Decline::NoSuchMerchant => {
                "Telesend does not know this store's merchant id: a manager must check it in Settings.".into()
            }
            Decline::Telebirr(why) => format!("Telebirr could not complete the payment: {why}"),
            Decline::AuthenticationFailed => {
                "Telesend refused this till's API token: a manager must check it in Settings.".into()
            }
            Decline::Busy => {
                "Telesend is busy (too many requests): nothing was redeemed. Wait a minute and try again.".into()
            }
            Decline::Other => format!("Telesend declined: {provider_message}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelesendError {
    #[error("{}", .reason.plain(.provider_message))]
    Declined { reason: Decline, provider_message: String, status: u16 },
    #[error("Telesend cannot be reached ({0}). Nothing was charged; try again when it is back.")]
    Unreachable(String),
    #[error("Telesend did not answer ({0}).")]
    NoAnswer(String),
    /// 5xx; `excerpt` is for the audit log (see `detail`).
    #[error("Telesend answered with a server error (HTTP {status}).")]
    Server { status: u16, excerpt: String },
    /// An answer that is not what the document shows; `detail` says how.
    #[error("Telesend's answer could not be read (HTTP {status}).")]
    Malformed { status: u16, detail: String },
    #[error(transparent)]
    Amount(#[from] MoneyError),
}

impl TelesendError {
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, TelesendError::NoAnswer(_) | TelesendError::Server { .. } | TelesendError::Malformed { .. })
    }

    /// What the provider actually sent (an excerpt of its body, the
    /// parser's complaint), for the audit log and diagnostics. Never part of
    /// the message: a cashier reads plain words, not JSON or an HTML page.
    pub fn detail(&self) -> Option<&str> {
        match self {
            TelesendError::Server { excerpt, .. } => Some(excerpt),
            TelesendError::Malformed { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

impl From<TransportError> for TelesendError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unreachable(m) => TelesendError::Unreachable(m),
            TransportError::NoAnswer(m) => TelesendError::NoAnswer(m),
        }
    }
}

// ---- wire types ----

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InitiateClaim<'a> {
    voucher_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RedeemGift<'a> {
    voucher_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merchant_id: Option<u64>,
}

/// `{success, message, statusCode, data}` on every answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    success: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRedeemed {
    response: String,
    reference_number: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDenomination {
    id: u64,
    status: String,
    amount_etb: f64,
}

// ---- results ----

#[derive(Debug, Clone, PartialEq)]
pub struct Redeemed {
    pub response: String,
    /// Telebirr's reference for the transfer to the merchant.
    pub reference_number: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Denomination {
    pub id: u64,
    pub active: bool,
    pub amount: Money,
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

    /// Sends the owner an SMS verification code, reserving `amount` (the
    /// whole remaining value when `None`). Moves no money.
    pub async fn initiate_claim(&self, code: &VoucherCode, amount: Option<Money>) -> Result<String, TelesendError> {
        let amount = amount.map(Money::to_wire_f64).transpose()?;
        let env = self
            .send(
                self.http
                    .post(self.url("topup-transactions/initiate-claim"))
                    .json(&InitiateClaim { voucher_code: code.expose(), amount }),
            )
            .await?;
        Ok(read_claim(env))
    }

    /// Moves money to the merchant: record the intent first, never retry on
    /// an unknown outcome.
    pub async fn redeem_gift(
        &self,
        code: &VoucherCode,
        verification_code: Option<&str>,
        merchant_id: Option<u64>,
    ) -> Result<Redeemed, TelesendError> {
        let env = self
            .send(self.http.post(self.url("topup-transactions/redeem-gift")).json(&RedeemGift {
                voucher_code: code.expose(),
                verification_code,
                merchant_id,
            }))
            .await?;
        read_redeemed(env)
    }

    pub async fn gift_denominations(&self) -> Result<Vec<Denomination>, TelesendError> {
        let env = self.send(self.http.get(self.url("client/gift-denominations"))).await?;
        read_denominations(env)
    }

    fn url(&self, path: &str) -> Url {
        http::endpoint(&self.base, path)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Envelope, TelesendError> {
        let response = request
            .header("x-api-token", &self.credentials.api_token)
            .send()
            .await
            .map_err(TransportError::from_reqwest)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(TransportError::from_reqwest)?;
        interpret(status, &bytes)
    }
}

/// What initiate-claim says it did (the document puts it in `data`).
fn read_claim(env: Envelope) -> String {
    env.data.as_str().map(str::to_string).or(env.message).unwrap_or_default()
}

fn read_redeemed(env: Envelope) -> Result<Redeemed, TelesendError> {
    let r: WireRedeemed = serde_json::from_value(env.data)
        .map_err(|e| TelesendError::Malformed { status: 200, detail: format!("redeem-gift data: {e}") })?;
    // `response` is quoted to the cashier when only Telesend knows the amount.
    Ok(Redeemed { response: http::excerpt(r.response.as_bytes()), reference_number: r.reference_number })
}

fn read_denominations(env: Envelope) -> Result<Vec<Denomination>, TelesendError> {
    let list: Vec<WireDenomination> = serde_json::from_value(env.data)
        .map_err(|e| TelesendError::Malformed { status: 200, detail: format!("gift-denominations data: {e}") })?;
    list.into_iter()
        .map(|d| {
            Ok(Denomination {
                id: d.id,
                active: d.status == "ACTIVE",
                amount: Money::from_wire_f64(d.amount_etb, CURRENCY)?,
            })
        })
        .collect()
}

fn interpret(status: u16, body: &[u8]) -> Result<Envelope, TelesendError> {
    if status >= 500 {
        return Err(TelesendError::Server { status, excerpt: http::excerpt(body) });
    }
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(env) => env,
        Err(_) if (400..500).contains(&status) => {
            let reason = match status {
                401 => Decline::AuthenticationFailed,
                429 => Decline::Busy,
                _ => Decline::Other,
            };
            // Its body (an HTML page, say) is no message for a cashier.
            let provider_message = format!("HTTP {status} without a readable reason");
            return Err(TelesendError::Declined { reason, provider_message, status });
        }
        Err(e) => return Err(TelesendError::Malformed { status, detail: e.to_string() }),
    };
    if env.success && (200..300).contains(&status) {
        return Ok(env);
    }
    // The provider's words reach the cashier: one short line, however they came.
    let message =
        env.message.map(|m| http::excerpt(m.as_bytes())).unwrap_or_else(|| format!("HTTP {status} without a message"));
    let reason = match status {
        401 => Decline::AuthenticationFailed,
        429 => Decline::Busy,
        _ => Decline::from_message(&message),
    };
    Err(TelesendError::Declined { reason, provider_message: message, status })
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
            // Only the audit log keeps what initiate-claim says.
            0 => {
                read_claim(env);
                Seen::default()
            }
            // The redeem flow quotes `response` when only Telesend knows the amount.
            1 => match read_redeemed(env) {
                Ok(r) => {
                    Seen { amounts: vec![], messages: vec![format!("Redeemed ({}): hand over the goods", r.response)] }
                }
                Err(e) => Seen::error(e),
            },
            _ => match read_denominations(env) {
                Ok(list) => Seen { amounts: list.iter().map(|d| d.amount).collect(), messages: vec![] },
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
            ("Voucher is already Redeemed", "already_redeemed"),
            ("No voucher with specified code", "not_found"),
            ("Specified amount is more than the remaining voucher amount", "amount_above_remaining"),
            ("Verification Code is missing", "verification_code_missing"),
            ("No Voucher redeem process started for by owner", "no_claim_started"),
            ("The provided verification code is not correct.", "wrong_verification_code"),
            ("Expiration date has already passed.", "expired"),
            ("The given voucher is restricted. You cant change merchant using this voucher card", "restricted"),
            ("No merchant with given id", "no_such_merchant"),
            ("Telebirr Error: \"Receiver account is locked\"", "telebirr_error"),
        ];
        for (m, code) in cases {
            assert_eq!(Decline::from_message(m).code(), code, "{m}");
        }
        assert_eq!(
            Decline::from_message("Telebirr Error: \"Receiver account is locked\""),
            Decline::Telebirr("Receiver account is locked".into())
        );
    }

    #[test]
    fn the_documented_success_schemas_parse() {
        let env = interpret(
            200,
            br#"{"success": true, "message": "ok", "statusCode": 200,
                 "data": {"response": "Redeemed", "referenceNumber": "TBR123456"}}"#,
        )
        .unwrap();
        let r: WireRedeemed = serde_json::from_value(env.data).unwrap();
        assert_eq!(r.reference_number, "TBR123456");
        let env = interpret(
            200,
            br#"{"success": true, "message": "ok", "statusCode": 200, "data": [{"id": 7, "status": "ACTIVE", "amountEtb": 500}]}"#,
        )
        .unwrap();
        let d: Vec<WireDenomination> = serde_json::from_value(env.data).unwrap();
        assert_eq!((d[0].id, d[0].amount_etb), (7, 500.0));
    }

    #[test]
    fn errors_keep_the_providers_words_and_status() {
        let body = br#"{"statusCode": 403, "success": false, "message": "The provided verification code is not correct.", "data": null}"#;
        match interpret(403, body) {
            Err(TelesendError::Declined { reason: Decline::WrongVerificationCode, status: 403, provider_message }) => {
                assert_eq!(provider_message, "The provided verification code is not correct.")
            }
            other => panic!("{other:?}"),
        }
        assert!(interpret(502, b"<html>").unwrap_err().outcome_unknown());
        assert!(interpret(200, b"{").unwrap_err().outcome_unknown());
    }
}
