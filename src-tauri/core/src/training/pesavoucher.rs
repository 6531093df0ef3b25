//! PesaVoucher as the document describes it: the same paths, headers,
//! fields, status codes and messages, over sample vouchers that cover every
//! documented case.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use super::faults::FaultBoard;
use super::server::{ConnectionKill, faulted};
use super::{TRAINING_API_KEY, TRAINING_API_SECRET};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimStatus {
    Active,
    NotActive,
    Deleted,
    PlatformOnly,
    OtherMerchant,
    Redeemed { on: String },
}

#[derive(Debug, Clone)]
pub struct SimVoucher {
    /// Amount in cents.
    pub amount_minor: i64,
    pub status: SimStatus,
    pub name: String,
    pub email: String,
    /// False models a customer wallet that cannot cover the voucher.
    pub wallet_funded: bool,
}

/// A sample voucher: its code, what it demonstrates, and its amount.
pub struct Sample {
    pub code: &'static str,
    pub case: &'static str,
    pub amount_minor: i64,
}

/// Listed on the training screen and in the README, so a trainee can try every case.
pub const SAMPLES: &[Sample] = &[
    Sample { code: "NLV-DTUMJQ6ILG9WNISE", case: "active (the document's sample, Jane Doe)", amount_minor: 75_000 },
    Sample { code: "TRN-ACTIVE-1200", case: "active", amount_minor: 120_050 },
    Sample { code: "TRN-ACTIVE-5000", case: "active", amount_minor: 500_000 },
    Sample { code: "TRN-REDEEMED-01", case: "already redeemed", amount_minor: 100_000 },
    Sample { code: "TRN-INACTIVE-01", case: "not active", amount_minor: 20_000 },
    Sample { code: "TRN-DELETED-001", case: "deleted", amount_minor: 30_000 },
    Sample { code: "TRN-PLATFORM-01", case: "only redeemable on the PesaVoucher platform", amount_minor: 40_000 },
    Sample { code: "TRN-OTHERSHOP-1", case: "belongs to another merchant", amount_minor: 60_000 },
    Sample { code: "TRN-NOFUNDS-001", case: "valid, but the customer's wallet cannot cover it", amount_minor: 80_000 },
    Sample {
        code: "TRN-PRACTICE-…",
        case: "any code starting TRN-PRACTICE- is a fresh KES 500 voucher",
        amount_minor: 50_000,
    },
];

const PRACTICE_PREFIX: &str = "TRN-PRACTICE-";

pub struct PesaVoucherSim {
    vouchers: Mutex<BTreeMap<String, SimVoucher>>,
    redemptions: Mutex<BTreeMap<String, u32>>,
    created: Mutex<u64>,
    pub faults: FaultBoard,
}

fn voucher(amount_minor: i64, status: SimStatus, name: &str, email: &str) -> SimVoucher {
    SimVoucher { amount_minor, status, name: name.into(), email: email.into(), wallet_funded: true }
}

impl PesaVoucherSim {
    pub fn with_samples() -> Self {
        use SimStatus::*;
        let mut v = BTreeMap::new();
        let mut add = |code: &str, status: SimStatus, name: &str, email: &str| {
            let amount = SAMPLES.iter().find(|s| s.code == code).map_or(0, |s| s.amount_minor);
            v.insert(code.to_string(), voucher(amount, status, name, email));
        };
        add("NLV-DTUMJQ6ILG9WNISE", Active, "Jane Doe", "customer@example.com");
        add("TRN-ACTIVE-1200", Active, "Wanjiru Kamau", "wanjiru@example.com");
        add("TRN-ACTIVE-5000", Active, "Otieno Odhiambo", "otieno@example.com");
        add("TRN-REDEEMED-01", Redeemed { on: "2025-11-20 10:30:00".into() }, "Achieng Atieno", "achieng@example.com");
        add("TRN-INACTIVE-01", NotActive, "Kiprop Kibet", "kiprop@example.com");
        add("TRN-DELETED-001", Deleted, "Mutua Musyoka", "mutua@example.com");
        add("TRN-PLATFORM-01", PlatformOnly, "Njeri Wambui", "njeri@example.com");
        add("TRN-OTHERSHOP-1", OtherMerchant, "Baraka Mwangi", "baraka@example.com");
        add("TRN-NOFUNDS-001", Active, "Halima Hassan", "halima@example.com");
        v.get_mut("TRN-NOFUNDS-001").unwrap().wallet_funded = false;
        PesaVoucherSim {
            vouchers: Mutex::new(v),
            redemptions: Mutex::new(BTreeMap::new()),
            created: Mutex::new(0),
            faults: FaultBoard::default(),
        }
    }

    /// How many times each code was redeemed: the simulator's own count, so a
    /// test can prove a voucher was never redeemed twice at the provider.
    pub fn redemption_counts(&self) -> BTreeMap<String, u32> {
        self.redemptions.lock().unwrap().clone()
    }

    pub fn status(&self, code: &str) -> Option<SimStatus> {
        self.vouchers.lock().unwrap().get(code).map(|v| v.status.clone())
    }

    fn lookup(&self, code: &str) -> Option<SimVoucher> {
        let mut vouchers = self.vouchers.lock().unwrap();
        if code.starts_with(PRACTICE_PREFIX) && code.len() > PRACTICE_PREFIX.len() && !vouchers.contains_key(code) {
            vouchers.insert(
                code.to_string(),
                voucher(50_000, SimStatus::Active, "Practice Customer", "practice@example.com"),
            );
        }
        vouchers.get(code).cloned()
    }

    fn validate(&self, code: &str) -> Response {
        let invalid =
            |msg: String| Json(json!({"success": true, "valid": false, "validation_errors": [msg]})).into_response();
        let Some(v) = self.lookup(code) else {
            return invalid("Voucher not found or has been deleted".into());
        };
        match v.status {
            SimStatus::Active => Json(json!({
                "success": true,
                "valid": true,
                "voucher": {
                    "code": code,
                    "amount": v.amount_minor as f64 / 100.0,
                    "currency": "KES",
                    "status": "active",
                    "is_active": true,
                    "recipient": {"name": v.name, "email": v.email}
                }
            }))
            .into_response(),
            SimStatus::NotActive => invalid("Voucher is not active".into()),
            SimStatus::Deleted => invalid("Voucher not found or has been deleted".into()),
            SimStatus::PlatformOnly => {
                invalid("Voucher is only redeemable at PesaVoucher platform, not at merchant locations".into())
            }
            SimStatus::OtherMerchant => invalid("Voucher does not belong to your merchant account".into()),
            SimStatus::Redeemed { on } => invalid(format!("Voucher already redeemed on {on}")),
        }
    }

    fn redeem(&self, code: &str, redeemed_by: Option<&str>) -> Response {
        let Some(v) = self.lookup(code) else {
            return error(StatusCode::NOT_FOUND, "Voucher not found or does not belong to your merchant account");
        };
        match &v.status {
            SimStatus::Active => {}
            SimStatus::NotActive => return error(StatusCode::BAD_REQUEST, "Voucher is not active"),
            SimStatus::Deleted => return error(StatusCode::NOT_FOUND, "Voucher has been deleted"),
            SimStatus::PlatformOnly => {
                return error(
                    StatusCode::FORBIDDEN,
                    "Voucher is only redeemable at PesaVoucher platform, not at merchant locations",
                );
            }
            SimStatus::OtherMerchant => {
                return error(StatusCode::FORBIDDEN, "Voucher not found or does not belong to your merchant account");
            }
            SimStatus::Redeemed { on } => {
                return error(StatusCode::BAD_REQUEST, &format!("Voucher has already been redeemed on {on}"));
            }
        }
        if !v.wallet_funded {
            return error(StatusCode::BAD_REQUEST, "Insufficient wallet balance");
        }
        let at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        self.vouchers.lock().unwrap().get_mut(code).unwrap().status = SimStatus::Redeemed { on: at.clone() };
        *self.redemptions.lock().unwrap().entry(code.to_string()).or_default() += 1;
        Json(json!({
            "success": true,
            "message": "Voucher redeemed successfully",
            "redemption": {
                "voucher_code": code,
                "amount": v.amount_minor as f64 / 100.0,
                "currency": "KES",
                "redeemed_at": at,
                "redeemed_by": redeemed_by,
                "customer": {"name": v.name, "email": v.email}
            }
        }))
        .into_response()
    }

    fn create(&self, body: &Value) -> Response {
        let (Some(email), Some(amount), Some(currency)) =
            (body["email"].as_str(), body["amount"].as_f64(), body["currency"].as_str())
        else {
            return error(StatusCode::BAD_REQUEST, "Missing required fields: email, amount, currency");
        };
        if currency != "KES" {
            return error(StatusCode::BAD_REQUEST, "Currency must be KES");
        }
        if amount < 50.0 {
            return error(StatusCode::BAD_REQUEST, "Minimum voucher amount is KES 50");
        }
        if amount > 150_000.0 {
            return error(StatusCode::BAD_REQUEST, "Maximum voucher amount is KES 150000");
        }
        if email.ends_with("@unknown.example") {
            return error(StatusCode::NOT_FOUND, "User not found");
        }
        if amount > 100_000.0 {
            return error(StatusCode::BAD_REQUEST, "Insufficient merchant balance");
        }
        let n = {
            let mut created = self.created.lock().unwrap();
            *created += 1;
            *created
        };
        let code = format!("TEST-NLV-{n:012}");
        // Vouchers a merchant creates are spent on the PesaVoucher platform.
        self.vouchers.lock().unwrap().insert(
            code.clone(),
            voucher((amount * 100.0).round() as i64, SimStatus::PlatformOnly, "Voucher Recipient", email),
        );
        Json(json!({
            "success": true,
            "voucher_code": code,
            "currency": "KES",
            "amount": amount,
            "transaction_id": format!("TRN{n:07}"),
            "unique_id": body["unique_id"],
        }))
        .into_response()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"success": false, "error": message}))).into_response()
}

fn authenticated(headers: &HeaderMap) -> bool {
    headers.get("X-API-KEY").and_then(|v| v.to_str().ok()) == Some(TRAINING_API_KEY)
        && headers.get("X-API-SECRET").and_then(|v| v.to_str().ok()) == Some(TRAINING_API_SECRET)
}

pub(super) fn routes(sim: Arc<PesaVoucherSim>) -> Router {
    Router::new()
        .route("/validate_voucher", post(validate_voucher))
        .route("/redeem_voucher", post(redeem_voucher))
        .route("/create_voucher", post(create_voucher))
        .with_state(sim)
}

type Ctx = (State<Arc<PesaVoucherSim>>, Extension<ConnectionKill>, HeaderMap);

/// Authentication and body checks shared by the three endpoints. The
/// error is the finished response; its size does not matter in a simulator.
#[allow(clippy::result_large_err)]
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Response> {
    if !authenticated(headers) {
        return Err(error(StatusCode::UNAUTHORIZED, "Authentication failed"));
    }
    serde_json::from_slice::<Value>(body).map_err(|_| error(StatusCode::BAD_REQUEST, "Invalid JSON body"))
}

async fn validate_voucher((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "validate_voucher", &kill, move || match parse_body(&headers, &body) {
        Err(r) => r,
        Ok(b) => match b["voucher_code"].as_str() {
            Some(code) if !code.is_empty() => s.validate(code),
            _ => error(StatusCode::BAD_REQUEST, "Missing required field: voucher_code"),
        },
    })
    .await
}

async fn redeem_voucher((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "redeem_voucher", &kill, move || match parse_body(&headers, &body) {
        Err(r) => r,
        Ok(b) => match (b["voucher_code"].as_str(), b["currency"].as_str()) {
            (Some(code), Some(currency)) if !code.is_empty() => {
                if currency != "KES" {
                    error(StatusCode::BAD_REQUEST, "Currency must be KES")
                } else {
                    s.redeem(code, b["redeemed_by"].as_str())
                }
            }
            _ => error(StatusCode::BAD_REQUEST, "Missing required field: voucher_code or currency"),
        },
    })
    .await
}

async fn create_voucher((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "create_voucher", &kill, move || match parse_body(&headers, &body) {
        Err(r) => r,
        Ok(b) => s.create(&b),
    })
    .await
}
