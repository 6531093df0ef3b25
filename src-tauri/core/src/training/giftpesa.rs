//! GiftPesa as the document describes it: /authorize really decrypts the
//! RSA-encrypted `API_KEY:TIMESTAMP` with the training private key, and
//! /redeem, /merchants and /query/:id answer with the document's fields and
//! sample values. Every status of the document's error table can be reached;
//! `SAMPLES` says how.
//!
//! The training key pair and self-signed certificate in `giftpesa/` were
//! made once with `openssl req -x509 -newkey rsa:2048 -nodes`. They guard
//! nothing: the private key is public by design, like the training API key.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::faults::FaultBoard;
use super::server::{ConnectionKill, faulted};
use super::{TRAINING_GIFTPESA_API_KEY, TRAINING_GIFTPESA_USERNAME};
use crate::money::{Currency, Money};
use crate::phone::{Msisdn, TillNumber};
use crate::providers::giftpesa::Reason;

/// The certificate a training till encrypts its API key with (its `key.crt`).
pub const TRAINING_CERTIFICATE: &str = include_str!("giftpesa/training.crt");
const TRAINING_PRIVATE_KEY: &str = include_str!("giftpesa/training-key.pem");

/// How far a request's TIMESTAMP may be from the simulator's clock.
pub const TIMESTAMP_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// The lifetime the simulator gives its tokens unless told otherwise.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(55 * 60);
/// A number not listed in `SAMPLES` holds a fresh practice voucher of this many shillings.
pub const PRACTICE_BALANCE: i64 = 5_000;

/// The training store's M-Pesa till (the document's sample).
pub const TRAINING_TILL: &str = "123456";

/// A sample input, what it demonstrates, and where it goes.
pub struct Sample {
    pub field: &'static str,
    pub value: &'static str,
    pub case: &'static str,
}

/// Every case a trainee (or a test) can reach, for the training screen and README.
pub const SAMPLES: &[Sample] = &[
    Sample { field: "Phone", value: "+254720123456", case: "Jane Doe (the document's sample), KES 1,000 balance" },
    Sample { field: "Phone", value: "0722000050", case: "John Doe, KES 50 balance: redeem more for a 400" },
    Sample { field: "Phone", value: "any other mobile", case: "a fresh practice voucher of KES 5,000" },
    Sample { field: "Phone", value: "0700000400", case: "400 Bad Request" },
    Sample { field: "Phone", value: "0700000403", case: "403 Forbidden: voucher locked to other merchants" },
    Sample { field: "Phone", value: "0700000404", case: "404 Not Found: no voucher for this number" },
    Sample { field: "Phone", value: "0700000429", case: "429 Too Many Requests (Retry-After: 1)" },
    Sample { field: "Phone", value: "0700000500", case: "500 Internal Server Error, nothing redeemed" },
    Sample { field: "Phone", value: "0700000503", case: "503 Service Unavailable, nothing redeemed" },
    Sample { field: "TillNo", value: "123456", case: "Naivas - EastGate (the document's sample)" },
    Sample { field: "TillNo", value: "any other 5 to 8 digits", case: "Training Merchant - Till <number>" },
    Sample { field: "TillNo", value: "403403", case: "403 Forbidden: a till of another account" },
    Sample { field: "TillNo", value: "404404", case: "404 Not Found: no such till" },
    Sample { field: "Amount", value: "0, negative, decimal or above the balance", case: "400 Bad Request" },
    Sample { field: "body", value: "not JSON", case: "406 Not Acceptable" },
    Sample { field: "method", value: "GET /redeem", case: "405 Method Not Allowed" },
    Sample { field: "token", value: "missing, unknown or expired", case: "401 Unauthorized" },
    Sample {
        field: "DisbursementID",
        value: "TRN-DISB-0001",
        case: "success, KES 100 to 1 recipient (the document's query sample)",
    },
    Sample {
        field: "DisbursementID",
        value: "TRN-DISB-0002",
        case: "success, KES 150 to 2 recipients (the document's disburse sample)",
    },
    Sample { field: "DisbursementID", value: "TRN-DISB-FAILED", case: "failed, nothing disbursed" },
    Sample { field: "DisbursementID", value: "TRN-DISB-OTHER", case: "403 Forbidden: another account's" },
    Sample { field: "DisbursementID", value: "any other", case: "404 Not Found" },
];

/// Numbers 0700 000 NNN answer with HTTP status NNN.
const TRIGGER_PREFIX: &str = "254700000";
const FORBIDDEN_TILL: &str = "403403";
const MISSING_TILL: &str = "404404";

fn private_key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs8::DecodePrivateKey;
        rsa::PrivateKey::from_pkcs8_pem(TRAINING_PRIVATE_KEY).expect("the committed training key parses")
    })
}

pub struct GiftPesaSim {
    tokens: Mutex<HashMap<String, Instant>>,
    token_lifetime: Mutex<Duration>,
    tokens_issued: Mutex<u64>,
    /// Whole shillings left on each phone number's voucher.
    balances: Mutex<BTreeMap<String, i64>>,
    redemptions: Mutex<BTreeMap<String, u32>>,
    receipts: Mutex<u64>,
    pub faults: FaultBoard,
}

impl GiftPesaSim {
    pub fn with_samples() -> Self {
        // Jane Doe and John Doe; the simulator does not check Name.
        let balances = BTreeMap::from([("254720123456".to_string(), 1_000), ("254722000050".to_string(), 50)]);
        GiftPesaSim {
            tokens: Mutex::new(HashMap::new()),
            token_lifetime: Mutex::new(TOKEN_LIFETIME),
            tokens_issued: Mutex::new(0),
            balances: Mutex::new(balances),
            redemptions: Mutex::new(BTreeMap::new()),
            receipts: Mutex::new(0),
            faults: FaultBoard::default(),
        }
    }

    /// The lifetime announced (`ExpiresIn`) and enforced for tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.token_lifetime.lock().unwrap() = lifetime;
    }

    /// Revokes every token issued so far, as a provider restart or key
    /// rotation would: the next call with one is answered 401.
    pub fn expire_tokens(&self) {
        self.tokens.lock().unwrap().clear();
    }

    /// Tokens issued by /authorize (failed sign-ins not counted).
    pub fn tokens_issued(&self) -> u64 {
        *self.tokens_issued.lock().unwrap()
    }

    /// How many times each TransactionID was redeemed: the simulator's own
    /// count, so a test can prove nothing was redeemed twice. The document
    /// promises no idempotency for a repeated TransactionID, so the simulator
    /// assumes the worst and redeems it again: a double send shows here.
    pub fn redemption_counts(&self) -> BTreeMap<String, u32> {
        self.redemptions.lock().unwrap().clone()
    }

    /// A sample voucher's balance, by phone number in any accepted form.
    pub fn balance(&self, phone: &str) -> Option<Money> {
        let phone = Msisdn::parse(phone).ok()?;
        self.balances.lock().unwrap().get(phone.as_str()).map(|b| Money::new(b * 100, Currency::KES))
    }

    fn authorize(&self, headers: &HeaderMap) -> Response {
        let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let username = headers.get("Username").and_then(|v| v.to_str().ok()).map(str::trim);
        let (Some(authorization), Some(username)) = (text(header::AUTHORIZATION), username) else {
            return error(StatusCode::UNAUTHORIZED);
        };
        let Some(encoded) = authorization.strip_prefix("Basic ") else {
            return error(StatusCode::UNAUTHORIZED);
        };
        let Ok(encrypted) = BASE64.decode(encoded.trim()) else {
            return error(StatusCode::BAD_REQUEST);
        };
        let Ok(plain) = private_key().pkcs1v15_decrypt(&encrypted) else {
            return error(StatusCode::UNAUTHORIZED);
        };
        let Some((api_key, stamp)) = std::str::from_utf8(&plain).ok().and_then(|p| p.rsplit_once(':')) else {
            return error(StatusCode::BAD_REQUEST);
        };
        let Some(at) = parse_timestamp(stamp) else {
            return error(StatusCode::BAD_REQUEST);
        };
        if api_key != TRAINING_GIFTPESA_API_KEY || username != TRAINING_GIFTPESA_USERNAME {
            return error(StatusCode::UNAUTHORIZED);
        }
        if (chrono::Utc::now() - at).abs() > TIMESTAMP_TOLERANCE {
            return error(StatusCode::UNAUTHORIZED);
        }
        let lifetime = *self.token_lifetime.lock().unwrap();
        let token = format!("gp-training-{}", uuid::Uuid::now_v7().simple());
        self.tokens.lock().unwrap().insert(token.clone(), Instant::now() + lifetime);
        *self.tokens_issued.lock().unwrap() += 1;
        // The document does not show this answer; PascalCase like its others.
        Json(json!({"AccessToken": token, "TokenType": "Bearer", "ExpiresIn": lifetime.as_secs()})).into_response()
    }

    fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        let Some(token) =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let mut tokens = self.tokens.lock().unwrap();
        match tokens.get(token.trim()) {
            Some(expiry) if Instant::now() < *expiry => true,
            Some(_) => {
                tokens.remove(token.trim());
                false
            }
            None => false,
        }
    }

    fn merchants(&self) -> Response {
        Json(json!([
            {"MerchantID": "naivas", "Merchant": "Naivas", "Category": {"ID": "supermarkets", "Label": "Supermarkets"}},
            {"MerchantID": "pizza-inn", "Merchant": "Pizza Inn",
             "Category": {"ID": "cafes-restaurants", "Label": "Cafes and Restaurants"}}
        ]))
        .into_response()
    }

    fn query(&self, id: &str) -> Response {
        let (status, amount, count, disbursed) = match id {
            "TRN-DISB-0001" => ("success", 100, 1, 100),
            "TRN-DISB-0002" => ("success", 150, 2, 150),
            "TRN-DISB-FAILED" => ("failed", 100, 1, 0),
            "TRN-DISB-OTHER" => return error(StatusCode::FORBIDDEN),
            _ => return error(StatusCode::NOT_FOUND),
        };
        Json(json!({
            "DisbursementID": id,
            "Status": status,
            "Amount": amount,
            "RecipientsCount": count,
            "AmountDisbursed": disbursed,
        }))
        .into_response()
    }

    fn redeem(&self, body: &[u8]) -> Response {
        let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body) else {
            return error(StatusCode::NOT_ACCEPTABLE);
        };
        let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let (Some(transaction_id), Some(_name), Some(phone), Some(till), Some(amount)) = (
            text("TransactionID"),
            text("Name"),
            text("Phone"),
            text("TillNo"),
            b.get("Amount").and_then(Value::as_i64),
        ) else {
            return error(StatusCode::BAD_REQUEST);
        };
        let (Ok(phone), Ok(till)) = (Msisdn::parse(phone), TillNumber::parse(till)) else {
            return error(StatusCode::BAD_REQUEST);
        };
        if amount <= 0 {
            return error(StatusCode::BAD_REQUEST);
        }
        if let Some(status) = phone.as_str().strip_prefix(TRIGGER_PREFIX).and_then(|s| s.parse::<u16>().ok()) {
            return match status {
                429 => (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "1")],
                    Json(body_for(StatusCode::TOO_MANY_REQUESTS)),
                )
                    .into_response(),
                s => error(StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)),
            };
        }
        let merchant = match till.as_str() {
            FORBIDDEN_TILL => return error(StatusCode::FORBIDDEN),
            MISSING_TILL => return error(StatusCode::NOT_FOUND),
            "123456" => "Naivas - EastGate".to_string(),
            other => format!("Training Merchant - Till {other}"),
        };
        {
            let mut balances = self.balances.lock().unwrap();
            let balance = balances.entry(phone.as_str().to_string()).or_insert(PRACTICE_BALANCE);
            if amount > *balance {
                return error(StatusCode::BAD_REQUEST);
            }
            *balance -= amount;
        }
        *self.redemptions.lock().unwrap().entry(transaction_id.to_string()).or_default() += 1;
        let n = {
            let mut receipts = self.receipts.lock().unwrap();
            *receipts += 1;
            *receipts
        };
        let receipt = format!("TR{n:06}");
        // The document's sample date reads year-day-month ("2020-28-06
        // 19:02:50"); the simulator writes it the same way, in Nairobi time.
        let nairobi = chrono::FixedOffset::east_opt(3 * 3600).expect("UTC+3 is a valid offset");
        let date = chrono::Utc::now().with_timezone(&nairobi).format("%Y-%d-%m %H:%M:%S").to_string();
        Json(json!({
            "TransactionID": transaction_id,
            "Status": "success",
            "ReceiptNo": receipt,
            "TransactionCode": format!("A{}", 9_012_332 + n),
            "TrasanctionDate": date,
            "Merchant": merchant,
            "TillNo": till.as_str(),
            "Amount": amount,
            "Message": format!("{receipt} confirmed. KES {amount} redeemed at {merchant} on {date}."),
        }))
        .into_response()
    }
}

/// The document shows no error body; the simulator sends its error table's
/// words for the status.
fn body_for(status: StatusCode) -> Value {
    json!({"Status": "failed", "Message": Reason::from_status(status.as_u16()).documented_meaning()})
}

fn error(status: StatusCode) -> Response {
    (status, Json(body_for(status))).into_response()
}

fn parse_timestamp(stamp: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if stamp.len() != 14 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S").ok().map(|t| t.and_utc())
}

pub(super) fn routes(sim: Arc<GiftPesaSim>) -> Router {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/merchants", get(merchants))
        .route("/redeem", post(redeem))
        .route("/query/{id}", get(query))
        .method_not_allowed_fallback(|| async { error(StatusCode::METHOD_NOT_ALLOWED) })
        .with_state(sim)
}

type Ctx = (State<Arc<GiftPesaSim>>, Extension<ConnectionKill>, HeaderMap);

async fn authorize((State(sim), Extension(kill), headers): Ctx) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "authorize", &kill, move || s.authorize(&headers)).await
}

async fn merchants((State(sim), Extension(kill), headers): Ctx) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "merchants", &kill, move || {
        if s.bearer_ok(&headers) { s.merchants() } else { error(StatusCode::UNAUTHORIZED) }
    })
    .await
}

async fn query((State(sim), Extension(kill), headers): Ctx, Path(id): Path<String>) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "query", &kill, move || {
        if s.bearer_ok(&headers) { s.query(&id) } else { error(StatusCode::UNAUTHORIZED) }
    })
    .await
}

async fn redeem((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "redeem", &kill, move || {
        if s.bearer_ok(&headers) { s.redeem(&body) } else { error(StatusCode::UNAUTHORIZED) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_certificate_matches_the_private_key() {
        use crate::providers::giftpesa::EncryptionKey;
        let key = EncryptionKey::from_certificate(TRAINING_CERTIFICATE.as_bytes()).unwrap();
        let now = chrono::Utc::now();
        let header = key.authorization("k", now).unwrap();
        let encrypted = BASE64.decode(header.strip_prefix("Basic ").unwrap()).unwrap();
        let plain = private_key().pkcs1v15_decrypt(&encrypted).unwrap();
        assert_eq!(String::from_utf8(plain).unwrap(), format!("k:{}", crate::providers::giftpesa::timestamp(now)));
    }

    #[test]
    fn timestamps_must_be_fourteen_digits_of_a_real_time() {
        assert!(parse_timestamp("20210512040409").is_some());
        assert!(parse_timestamp("20211312040409").is_none());
        assert!(parse_timestamp("2021051204040").is_none());
        assert!(parse_timestamp("+0210512040409").is_none());
    }
}
