//! Telesend as its document describes it: initiate-claim sends the owner an
//! SMS code (kept here for the training screen, since no phone receives it),
//! redeem-gift checks it and pays the merchant, partial claims leave the
//! rest on the voucher.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use super::TRAINING_API_TOKEN;
use super::faults::FaultBoard;
use super::server::{ConnectionKill, faulted};

/// The merchant id of the training store.
pub const TRAINING_MERCHANT_ID: u64 = 1;

#[derive(Debug, Clone)]
pub struct SimGift {
    /// Birr cents left on the voucher.
    pub remaining_minor: i64,
    pub anonymous: bool,
    pub expired: bool,
    /// Restricted vouchers can be redeemed only at the merchant they were bought for.
    pub restricted: bool,
    pub merchant_id: u64,
    pub msisdn: String,
    /// Models a Telebirr failure on payout.
    pub telebirr_error: Option<String>,
}

pub struct Sample {
    pub code: &'static str,
    pub case: &'static str,
}

pub const SAMPLES: &[Sample] = &[
    Sample { code: "TS-GIFT-1000", case: "ETB 1,000.00, needs the customer's SMS code" },
    Sample { code: "TS-GIFT-2500", case: "ETB 2,500.00, needs the SMS code; try a partial amount" },
    Sample { code: "TS-ANON-500", case: "ETB 500.00, anonymous: no SMS code needed" },
    Sample { code: "TS-REDEEMED-1", case: "already redeemed" },
    Sample { code: "TS-EXPIRED-1", case: "expired" },
    Sample { code: "TS-RESTRICT-1", case: "restricted to another merchant" },
    Sample { code: "TS-TELEBIRR-1", case: "Telebirr refuses the payout" },
];

#[derive(Debug, Clone)]
struct Claim {
    verification_code: String,
    amount_minor: i64,
}

pub struct TelesendSim {
    gifts: Mutex<BTreeMap<String, SimGift>>,
    claims: Mutex<BTreeMap<String, Claim>>,
    redemptions: Mutex<BTreeMap<String, u32>>,
    sequence: Mutex<u64>,
    pub faults: FaultBoard,
}

fn gift(remaining_minor: i64, merchant_id: u64) -> SimGift {
    SimGift {
        remaining_minor,
        anonymous: false,
        expired: false,
        restricted: true,
        merchant_id,
        msisdn: "251911234567".into(),
        telebirr_error: None,
    }
}

impl TelesendSim {
    pub fn with_samples() -> Self {
        let mut g = BTreeMap::new();
        g.insert("TS-GIFT-1000".to_string(), gift(100_000, TRAINING_MERCHANT_ID));
        g.insert("TS-GIFT-2500".to_string(), gift(250_000, TRAINING_MERCHANT_ID));
        g.insert("TS-ANON-500".to_string(), SimGift { anonymous: true, ..gift(50_000, TRAINING_MERCHANT_ID) });
        g.insert("TS-REDEEMED-1".to_string(), gift(0, TRAINING_MERCHANT_ID));
        g.insert("TS-EXPIRED-1".to_string(), SimGift { expired: true, ..gift(30_000, TRAINING_MERCHANT_ID) });
        g.insert("TS-RESTRICT-1".to_string(), gift(40_000, 2));
        g.insert(
            "TS-TELEBIRR-1".to_string(),
            SimGift { telebirr_error: Some("Receiver account is locked".into()), ..gift(60_000, TRAINING_MERCHANT_ID) },
        );
        TelesendSim {
            gifts: Mutex::new(g),
            claims: Mutex::new(BTreeMap::new()),
            redemptions: Mutex::new(BTreeMap::new()),
            sequence: Mutex::new(0),
            faults: FaultBoard::default(),
        }
    }

    /// The SMS code the owner of `voucher` would have received.
    pub fn sms_code(&self, voucher: &str) -> Option<String> {
        self.claims.lock().unwrap().get(voucher).map(|c| c.verification_code.clone())
    }

    pub fn redemption_counts(&self) -> BTreeMap<String, u32> {
        self.redemptions.lock().unwrap().clone()
    }

    pub fn remaining_minor(&self, voucher: &str) -> Option<i64> {
        self.gifts.lock().unwrap().get(voucher).map(|g| g.remaining_minor)
    }

    fn next(&self) -> u64 {
        let mut s = self.sequence.lock().unwrap();
        *s += 1;
        *s
    }

    fn initiate_claim(&self, body: &Value) -> Response {
        let Some(code) = body["voucherCode"].as_str() else {
            return error(StatusCode::NOT_FOUND, "No voucher with specified code");
        };
        let Some(g) = self.gifts.lock().unwrap().get(code).cloned() else {
            return error(StatusCode::NOT_FOUND, "No voucher with specified code");
        };
        if g.remaining_minor == 0 {
            return error(StatusCode::NOT_FOUND, "Voucher is already Redeemed");
        }
        let amount_minor = match body.get("amount").and_then(Value::as_f64) {
            Some(a) => (a * 100.0).round() as i64,
            None => g.remaining_minor,
        };
        if amount_minor > g.remaining_minor || amount_minor <= 0 {
            return error(StatusCode::FORBIDDEN, "Specified amount is more than the remaining voucher amount");
        }
        // Six digits that differ per claim; a trainee reads them off the screen.
        let n = self.next();
        let verification_code = format!("{:06}", (n * 7_919 + 104_729) % 1_000_000);
        self.claims.lock().unwrap().insert(code.to_string(), Claim { verification_code, amount_minor });
        ok(json!("Voucher code has been sent to user Successfully"))
    }

    fn redeem_gift(&self, body: &Value) -> Response {
        let Some(code) = body["voucherCode"].as_str() else {
            return error(StatusCode::NOT_FOUND, "No voucher with specified code");
        };
        let Some(g) = self.gifts.lock().unwrap().get(code).cloned() else {
            return error(StatusCode::NOT_FOUND, "No voucher with specified code");
        };
        if g.remaining_minor == 0 {
            return error(StatusCode::NOT_FOUND, "Voucher is already Redeemed");
        }
        if let Some(m) = body.get("merchantId").and_then(Value::as_u64) {
            if m > 2 {
                return error(StatusCode::NOT_FOUND, "No merchant with given id");
            }
            if m != g.merchant_id && g.restricted {
                return error(
                    StatusCode::FORBIDDEN,
                    "The given voucher is restricted. You cant change merchant using this voucher card",
                );
            }
        }
        let amount_minor = if g.anonymous {
            g.remaining_minor
        } else {
            let Some(given) = body.get("verificationCode").and_then(Value::as_str) else {
                return error(StatusCode::FORBIDDEN, "Verification Code is missing");
            };
            let Some(claim) = self.claims.lock().unwrap().get(code).cloned() else {
                return error(StatusCode::FORBIDDEN, "No Voucher redeem process started for by owner");
            };
            if g.expired {
                return error(StatusCode::FORBIDDEN, "Expiration date has already passed.");
            }
            if given != claim.verification_code {
                return error(StatusCode::FORBIDDEN, "The provided verification code is not correct.");
            }
            claim.amount_minor
        };
        if let Some(why) = &g.telebirr_error {
            return error(StatusCode::NOT_FOUND, &format!("Telebirr Error: \"{why}\""));
        }
        self.claims.lock().unwrap().remove(code);
        self.gifts.lock().unwrap().get_mut(code).unwrap().remaining_minor -= amount_minor;
        *self.redemptions.lock().unwrap().entry(code.to_string()).or_default() += 1;
        let reference = format!("TB{:010}", 5_000_000 + self.next());
        ok(
            json!({"response": format!("ETB {:.2} transferred to the merchant", amount_minor as f64 / 100.0), "referenceNumber": reference}),
        )
    }
}

fn ok(data: Value) -> Response {
    Json(json!({"success": true, "message": "Success", "statusCode": 200, "data": data})).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"statusCode": status.as_u16(), "success": false, "message": message, "data": null})))
        .into_response()
}

fn authenticated(headers: &HeaderMap) -> bool {
    headers.get("x-api-token").and_then(|v| v.to_str().ok()) == Some(TRAINING_API_TOKEN)
}

pub(super) fn routes(sim: Arc<TelesendSim>) -> Router {
    Router::new()
        .route("/topup-transactions/initiate-claim", post(initiate_claim))
        .route("/topup-transactions/redeem-gift", post(redeem_gift))
        .route("/client/gift-denominations", get(denominations))
        .with_state(sim)
}

type Ctx = (State<Arc<TelesendSim>>, Extension<ConnectionKill>, HeaderMap);

#[allow(clippy::result_large_err)]
fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Value, Response> {
    if !authenticated(headers) {
        return Err(error(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    serde_json::from_slice(body).map_err(|_| error(StatusCode::BAD_REQUEST, "Invalid JSON body"))
}

async fn initiate_claim((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "initiate-claim", &kill, move || match parse(&headers, &body) {
        Ok(b) => s.initiate_claim(&b),
        Err(r) => r,
    })
    .await
}

async fn redeem_gift((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "redeem-gift", &kill, move || match parse(&headers, &body) {
        Ok(b) => s.redeem_gift(&b),
        Err(r) => r,
    })
    .await
}

async fn denominations((State(sim), Extension(kill), headers): Ctx) -> Response {
    faulted(&sim.faults, "gift-denominations", &kill, move || {
        if !authenticated(&headers) {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        ok(json!([
            {"id": 1, "status": "ACTIVE", "amountEtb": 100},
            {"id": 2, "status": "ACTIVE", "amountEtb": 250},
            {"id": 3, "status": "ACTIVE", "amountEtb": 500},
            {"id": 7, "status": "ACTIVE", "amountEtb": 1000},
            {"id": 8, "status": "INACTIVE", "amountEtb": 2500},
        ]))
    })
    .await
}
