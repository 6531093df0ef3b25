//! Pesapal API 3.0 as its document describes it: RequestToken with a
//! bearer token that expires, RegisterIPN and GetIpnList, SubmitOrderRequest
//! (a merchant reference is accepted once), GetTransactionStatus with its
//! two status fields, and the checkout page at `redirect_url`, whose Pay,
//! Fail and Cancel links send the customer to the callback URL with the
//! documented parameters. Samples from the document are the fixtures.
//!
//! The document shows no error codes beyond the error object's shape; the
//! codes here are the simulator's (`providers::pesapal::codes`), in the
//! object's snake_case style. Business errors come with HTTP 200 and the
//! error object, as Pesapal does; a missing or expired token is HTTP 401.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::faults::FaultBoard;
use super::server::{ConnectionKill, faulted};
use super::{TRAINING_PESAPAL_CONSUMER_KEY, TRAINING_PESAPAL_CONSUMER_SECRET};
use crate::money::{Currency, Money};
use crate::providers::ProviderId;
use crate::providers::pesapal::{PaymentStatus, codes};

/// The lifetime of tokens unless told otherwise: the document's 5 minutes.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The training till's IPN id: the first entry of the document's
/// GetIpnList sample, registered on a fresh simulator.
pub const TRAINING_IPN_ID: &str = "e32182ca-0983-4fa0-91bc-c3bb813ba750";

/// The document's GetIpnList sample: (url, created_date, ipn_id).
pub const SAMPLE_IPNS: [(&str, &str, &str); 2] = [
    ("https://www.myapplication.com/ipn", "2022-03-03T17:29:03.7208266Z", TRAINING_IPN_ID),
    (
        "https://ipn.myapplication.com/application2",
        "2021-12-05T04:23:45.5509243Z",
        "c3bb813ba750-0983-4fa0-91bc-e32182ca",
    ),
];

/// The document's failed-card sample, used when a customer presses Fail.
pub const SAMPLE_FAILED_DESCRIPTION: &str = "Unable to Authorize Transaction.Kindly contact your bank for assistance";
pub const SAMPLE_CARD_ACCOUNT: &str = "476173**0010";
pub const SAMPLE_CARD_CONFIRMATION: &str = "6513008693186320103009";

/// What a trainee can try, for the training screen and README.
pub struct Sample {
    pub what: &'static str,
    pub how: &'static str,
}

pub const SAMPLES: &[Sample] = &[
    Sample { what: "Pay", how: "the checkout page's Pay: COMPLETED (MPESA with a phone number, else Visa)" },
    Sample { what: "Fail", how: "the checkout page's Fail: FAILED, the document's declined-card sample" },
    Sample { what: "Cancel", how: "the checkout page's Cancel: back to the till, the order stays INVALID (pending)" },
    Sample { what: "merchant reference", how: "used twice: refused with duplicate_order_reference" },
    Sample { what: "notification_id", how: "not registered: refused with invalid_notification_id" },
    Sample { what: "consumer key or secret", how: "wrong: invalid_consumer_key_or_secret_provided" },
    Sample { what: "token", how: "missing, unknown or expired: HTTP 401" },
];

/// An IPN Pesapal would have sent after a status change. It is recorded,
/// not sent: a training till has no public IPN URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpnCall {
    pub url: String,
    pub method: &'static str,
    #[serde(rename = "OrderTrackingId")]
    pub order_tracking_id: String,
    #[serde(rename = "OrderMerchantReference")]
    pub merchant_reference: String,
    #[serde(rename = "OrderNotificationType")]
    pub notification_type: &'static str,
}

#[derive(Debug, Clone)]
struct SimIpn {
    url: String,
    created_date: String,
    ipn_id: String,
    method: &'static str,
}

/// One order, as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimOrder {
    pub order_tracking_id: String,
    pub merchant_reference: String,
    pub amount: Money,
    pub description: String,
    pub callback_url: String,
    pub cancellation_url: Option<String>,
    pub notification_id: String,
    pub phone_number: Option<String>,
    pub email_address: Option<String>,
    pub status: PaymentStatus,
    pub payment_method: String,
    pub confirmation_code: String,
    pub payment_account: String,
    /// GetTransactionStatus's `description`.
    pub status_description: String,
    pub created_date: DateTime<Utc>,
    /// Status queries still to answer INVALID whatever the status.
    pub pending_reads: u32,
}

#[derive(Default)]
struct Book {
    ipns: Vec<SimIpn>,
    /// By order tracking id.
    orders: BTreeMap<String, SimOrder>,
    /// Merchant reference → order tracking id.
    references: HashMap<String, String>,
    /// SubmitOrderRequests received per merchant reference, refused ones included.
    submissions: BTreeMap<String, u32>,
    ipn_calls: Vec<IpnCall>,
    sequence: u64,
    default_pending_reads: u32,
}

pub struct PesapalSim {
    tokens: Mutex<HashMap<String, Instant>>,
    token_lifetime: Mutex<Duration>,
    tokens_issued: Mutex<u64>,
    book: Mutex<Book>,
    pub faults: FaultBoard,
}

impl PesapalSim {
    pub fn with_samples() -> Self {
        let ipns = SAMPLE_IPNS
            .iter()
            .map(|(url, created, id)| SimIpn {
                url: url.to_string(),
                created_date: created.to_string(),
                ipn_id: id.to_string(),
                method: "GET",
            })
            .collect();
        PesapalSim {
            tokens: Mutex::new(HashMap::new()),
            token_lifetime: Mutex::new(TOKEN_LIFETIME),
            tokens_issued: Mutex::new(0),
            book: Mutex::new(Book { ipns, ..Book::default() }),
            faults: FaultBoard::default(),
        }
    }

    // ---- controls ----

    /// The lifetime announced (`expiryDate`) and enforced for tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.token_lifetime.lock().unwrap() = lifetime;
    }

    /// Revokes every token issued so far: the next call with one is answered 401.
    pub fn expire_tokens(&self) {
        self.tokens.lock().unwrap().clear();
    }

    /// Tokens issued by RequestToken (refused sign-ins not counted).
    pub fn tokens_issued(&self) -> u64 {
        *self.tokens_issued.lock().unwrap()
    }

    pub fn order(&self, order_tracking_id: &str) -> Option<SimOrder> {
        self.book.lock().unwrap().orders.get(order_tracking_id).cloned()
    }

    pub fn order_by_reference(&self, merchant_reference: &str) -> Option<SimOrder> {
        let book = self.book.lock().unwrap();
        book.references.get(merchant_reference).and_then(|id| book.orders.get(id)).cloned()
    }

    pub fn orders(&self) -> Vec<SimOrder> {
        self.book.lock().unwrap().orders.values().cloned().collect()
    }

    /// SubmitOrderRequests received per merchant reference (refused
    /// duplicates included), so a test can prove nothing was sent twice.
    pub fn submission_counts(&self) -> BTreeMap<String, u32> {
        self.book.lock().unwrap().submissions.clone()
    }

    /// The IPN calls Pesapal would have made, oldest first.
    pub fn ipn_calls(&self) -> Vec<IpnCall> {
        self.book.lock().unwrap().ipn_calls.clone()
    }

    /// The customer paid: COMPLETED. False for an unknown order or one
    /// already COMPLETED or REVERSED.
    pub fn complete(&self, order_tracking_id: &str) -> bool {
        self.settle(order_tracking_id, PaymentStatus::Completed)
    }

    /// The payment failed: FAILED. Only an unpaid (INVALID) order can fail.
    pub fn fail(&self, order_tracking_id: &str) -> bool {
        self.settle(order_tracking_id, PaymentStatus::Failed)
    }

    /// A completed payment was reversed: REVERSED.
    pub fn reverse(&self, order_tracking_id: &str) -> bool {
        self.settle(order_tracking_id, PaymentStatus::Reversed)
    }

    /// The next `reads` status queries of this order answer INVALID, as
    /// mobile money does for a while after the customer pays.
    pub fn hold_pending(&self, order_tracking_id: &str, reads: u32) -> bool {
        match self.book.lock().unwrap().orders.get_mut(order_tracking_id) {
            Some(order) => {
                order.pending_reads = reads;
                true
            }
            None => false,
        }
    }

    /// Every order paid or failed from now on reads INVALID for this many
    /// status queries first (0, the default, answers at once).
    pub fn set_default_pending_reads(&self, reads: u32) {
        self.book.lock().unwrap().default_pending_reads = reads;
    }

    fn settle(&self, order_tracking_id: &str, to: PaymentStatus) -> bool {
        let mut book = self.book.lock().unwrap();
        book.sequence += 1;
        let n = book.sequence;
        let hold = book.default_pending_reads;
        let Some(order) = book.orders.get_mut(order_tracking_id) else { return false };
        let allowed = match to {
            // A customer may pay after a failed attempt on the same page.
            PaymentStatus::Completed => matches!(order.status, PaymentStatus::Invalid | PaymentStatus::Failed),
            PaymentStatus::Failed => order.status == PaymentStatus::Invalid,
            PaymentStatus::Reversed => order.status == PaymentStatus::Completed,
            PaymentStatus::Invalid => false,
        };
        if !allowed {
            return false;
        }
        order.status = to;
        order.created_date = Utc::now();
        order.pending_reads = hold;
        match to {
            PaymentStatus::Completed => {
                if let Some(phone) = &order.phone_number {
                    order.payment_method = "MPESA".into();
                    order.payment_account = mask(phone);
                    order.confirmation_code = format!("TRN{n:07}");
                } else {
                    order.payment_method = "Visa".into();
                    order.payment_account = SAMPLE_CARD_ACCOUNT.into();
                    order.confirmation_code = format!("{SAMPLE_CARD_CONFIRMATION}{n}");
                }
                order.status_description = "Payment completed successfully".into();
            }
            PaymentStatus::Failed => {
                order.payment_method = "Visa".into();
                order.payment_account = SAMPLE_CARD_ACCOUNT.into();
                order.confirmation_code = SAMPLE_CARD_CONFIRMATION.into();
                order.status_description = SAMPLE_FAILED_DESCRIPTION.into();
            }
            PaymentStatus::Reversed => order.status_description = "Payment reversed".into(),
            PaymentStatus::Invalid => {}
        }
        let (notification_id, tracking, reference) =
            (order.notification_id.clone(), order.order_tracking_id.clone(), order.merchant_reference.clone());
        if let Some(ipn) = book.ipns.iter().find(|i| i.ipn_id == notification_id) {
            let call = IpnCall {
                url: ipn.url.clone(),
                method: ipn.method,
                order_tracking_id: tracking,
                merchant_reference: reference,
                notification_type: "IPNCHANGE",
            };
            book.ipn_calls.push(call);
        }
        true
    }

    // ---- the API ----

    fn request_token(&self, body: &Value) -> Response {
        let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
        if text("consumer_key") != TRAINING_PESAPAL_CONSUMER_KEY
            || text("consumer_secret") != TRAINING_PESAPAL_CONSUMER_SECRET
        {
            return Json(json!({
                "token": null,
                "expiryDate": null,
                "error": {
                    "type": "api_error",
                    "code": codes::INVALID_CREDENTIALS,
                    "message": "Invalid consumer_key or consumer_secret provided"
                },
                "status": "500",
                "message": "Invalid consumer_key or consumer_secret provided"
            }))
            .into_response();
        }
        let lifetime = *self.token_lifetime.lock().unwrap();
        let token = format!("pesapal-training-{}", uuid::Uuid::now_v7().simple());
        self.tokens.lock().unwrap().insert(token.clone(), Instant::now() + lifetime);
        *self.tokens_issued.lock().unwrap() += 1;
        let expiry = Utc::now() + chrono::TimeDelta::from_std(lifetime).unwrap_or(chrono::TimeDelta::MAX);
        Json(json!({
            "token": token,
            "expiryDate": seven_decimals(expiry),
            "error": null,
            "status": "200",
            "message": "Request processed successfully"
        }))
        .into_response()
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

    fn register_ipn(&self, body: &Value) -> Response {
        let url = body.get("url").and_then(Value::as_str).map(str::trim).unwrap_or_default();
        let Some(url) = Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https")) else {
            return refusal("invalid_ipn_url", "url must be a valid http or https URL", json!({}));
        };
        let (method, number) = match body.get("ipn_notification_type").and_then(Value::as_str) {
            Some("GET") => ("GET", 0),
            Some("POST") => ("POST", 1),
            _ => {
                return refusal(
                    "invalid_ipn_notification_type",
                    "ipn_notification_type must be GET or POST",
                    json!({}),
                );
            }
        };
        let ipn = SimIpn {
            url: url.to_string(),
            created_date: seven_decimals(Utc::now()),
            ipn_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            method,
        };
        let answer = json!({
            "url": ipn.url,
            "created_date": ipn.created_date,
            "ipn_id": ipn.ipn_id,
            "notification_type": number,
            "ipn_notification_type_description": method,
            "ipn_status": 1,
            "ipn_status_description": "Active",
            "error": null,
            "status": "200"
        });
        self.book.lock().unwrap().ipns.push(ipn);
        Json(answer).into_response()
    }

    fn ipn_list(&self) -> Response {
        let book = self.book.lock().unwrap();
        let list: Vec<Value> = book
            .ipns
            .iter()
            .map(|i| json!({"url": i.url, "created_date": i.created_date, "ipn_id": i.ipn_id, "error": null, "status": "200"}))
            .collect();
        Json(list).into_response()
    }

    fn submit_order(&self, body: &Value, host: &str) -> Response {
        let id = body.get("id").and_then(Value::as_str).map(str::trim).unwrap_or_default().to_string();
        let refused = |code: &str, message: &str| {
            refusal(code, message, json!({"order_tracking_id": null, "merchant_reference": id, "redirect_url": null}))
        };
        let mut book = self.book.lock().unwrap();
        if !id.is_empty() {
            *book.submissions.entry(id.clone()).or_default() += 1;
        }
        if id.is_empty() || id.chars().count() > 50 {
            return refused("invalid_merchant_reference", "id is required: at most 50 characters");
        }
        if book.references.contains_key(&id) {
            return refused(
                codes::DUPLICATE_ORDER_REFERENCE,
                &format!("An order with merchant reference {id} already exists"),
            );
        }
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_string();
        let Ok(currency) = text(body, "currency").parse::<Currency>() else {
            return refused("invalid_currency", "currency must be an ISO currency code");
        };
        let amount = body.get("amount").and_then(Value::as_f64).map(|a| Money::from_wire_f64(a, currency));
        let Some(Ok(amount)) = amount.filter(|a| a.as_ref().is_ok_and(|m| m.minor > 0)) else {
            return refused("invalid_amount", "amount must be a positive amount of the currency");
        };
        let description = text(body, "description");
        if description.is_empty() || description.chars().count() > 100 {
            return refused("invalid_description", "description is required: at most 100 characters");
        }
        let web_url = |s: &str| Url::parse(s).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
        let callback_url = text(body, "callback_url");
        if web_url(&callback_url).is_none() {
            return refused("invalid_callback_url", "callback_url must be a valid URL");
        }
        let cancellation_url = Some(text(body, "cancellation_url")).filter(|s| !s.is_empty());
        if cancellation_url.as_deref().is_some_and(|u| web_url(u).is_none()) {
            return refused("invalid_cancellation_url", "cancellation_url must be a valid URL");
        }
        if !matches!(text(body, "redirect_mode").as_str(), "" | "TOP_WINDOW" | "PARENT_WINDOW") {
            return refused("invalid_redirect_mode", "redirect_mode must be TOP_WINDOW or PARENT_WINDOW");
        }
        let notification_id = text(body, "notification_id");
        if !book.ipns.iter().any(|i| i.ipn_id == notification_id) {
            return refused(codes::INVALID_NOTIFICATION_ID, "notification_id is not a registered IPN URL");
        }
        let Some(address) = body.get("billing_address").filter(|a| a.is_object()) else {
            return refused("invalid_billing_address", "billing_address is required");
        };
        let phone = Some(text(address, "phone_number")).filter(|s| !s.is_empty());
        let email = Some(text(address, "email_address")).filter(|s| !s.is_empty());
        if phone.is_none() && email.is_none() {
            return refused("invalid_billing_address", "phone_number or email_address is required");
        }
        if text(address, "state").chars().count() > 3 {
            return refused("invalid_billing_address", "state: at most 3 characters");
        }
        let country = text(address, "country_code");
        if !country.is_empty() && (country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic())) {
            return refused("invalid_billing_address", "country_code must be 2 characters (ISO 3166-1)");
        }
        let order_tracking_id = uuid::Uuid::now_v7().hyphenated().to_string();
        let order = SimOrder {
            order_tracking_id: order_tracking_id.clone(),
            merchant_reference: id.clone(),
            amount,
            description,
            callback_url,
            cancellation_url,
            notification_id,
            phone_number: phone,
            email_address: email,
            status: PaymentStatus::Invalid,
            payment_method: String::new(),
            confirmation_code: String::new(),
            payment_account: String::new(),
            status_description: String::new(),
            created_date: Utc::now(),
            pending_reads: 0,
        };
        book.references.insert(id.clone(), order_tracking_id.clone());
        book.orders.insert(order_tracking_id.clone(), order);
        let redirect_url = format!(
            "http://{host}{}/pesapaliframe/PesapalIframe3/Index/?OrderTrackingId={order_tracking_id}",
            super::prefix(ProviderId::Pesapal)
        );
        Json(json!({
            "order_tracking_id": order_tracking_id,
            "merchant_reference": id,
            "redirect_url": redirect_url,
            "error": null,
            "status": "200"
        }))
        .into_response()
    }

    fn transaction_status(&self, order_tracking_id: Option<&str>) -> Response {
        let mut book = self.book.lock().unwrap();
        let Some(order) = order_tracking_id.and_then(|id| book.orders.get_mut(id.trim())) else {
            return Json(json!({
                "payment_method": null,
                "amount": 0,
                "created_date": null,
                "confirmation_code": null,
                "payment_status_description": null,
                "description": null,
                "message": "Pesapal could not find a transaction with this OrderTrackingId",
                "payment_account": null,
                "call_back_url": null,
                "status_code": null,
                "merchant_reference": null,
                "payment_status_code": "",
                "currency": null,
                "error": {
                    "error_type": "api_error",
                    "code": codes::ORDER_NOT_FOUND,
                    "message": "Pesapal could not find a transaction with this OrderTrackingId",
                    "call_back_url": null
                },
                "status": "500"
            }))
            .into_response();
        };
        let pending = order.pending_reads > 0 || order.status == PaymentStatus::Invalid;
        order.pending_reads = order.pending_reads.saturating_sub(1);
        let order = order.clone();
        drop(book);
        let (status, method, code, account, description) = if pending {
            (PaymentStatus::Invalid, "", "", "", "")
        } else {
            (
                order.status,
                order.payment_method.as_str(),
                order.confirmation_code.as_str(),
                order.payment_account.as_str(),
                order.status_description.as_str(),
            )
        };
        let mut call_back_url = Url::parse(&order.callback_url).expect("checked on submit");
        call_back_url
            .query_pairs_mut()
            .append_pair("OrderTrackingId", &order.order_tracking_id)
            .append_pair("OrderMerchantReference", &order.merchant_reference);
        Json(json!({
            "payment_method": method,
            "amount": wire_amount(order.amount),
            "created_date": order.created_date.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
            "confirmation_code": code,
            "payment_status_description": title_case(status),
            "description": description,
            "message": "Request processed successfully",
            "payment_account": account,
            "call_back_url": call_back_url.as_str(),
            "status_code": status.code(),
            "merchant_reference": order.merchant_reference,
            "payment_status_code": "",
            "currency": order.amount.currency.code(),
            "error": {"error_type": null, "code": null, "message": null, "call_back_url": null},
            "status": "200"
        }))
        .into_response()
    }

    // ---- the checkout page ----

    fn checkout_page(&self, order_tracking_id: &str) -> Response {
        let Some(order) = self.order(order_tracking_id) else {
            return (StatusCode::NOT_FOUND, Html(page("Order not found", "<p>This payment link is not valid.</p>")))
                .into_response();
        };
        let link = |action: &str| {
            let mut url = Url::parse("http://sim/").expect("static URL");
            url.set_path(&format!("{}/pesapaliframe/PesapalIframe3/{action}", super::prefix(ProviderId::Pesapal)));
            url.query_pairs_mut().append_pair("OrderTrackingId", &order.order_tracking_id);
            escape(&url[url::Position::BeforePath..])
        };
        let body = format!(
            "<p class=\"training\">TRAINING: no real money moves.</p>\
             <dl>\
             <dt>Merchant reference</dt><dd id=\"merchant-reference\">{reference}</dd>\
             <dt>Description</dt><dd id=\"description\">{description}</dd>\
             <dt>Amount</dt><dd id=\"amount\">{amount}</dd>\
             <dt>Status</dt><dd id=\"status\">{status}</dd>\
             </dl>\
             <p class=\"actions\">\
             <a id=\"pay\" href=\"{pay}\">Pay</a> \
             <a id=\"fail\" href=\"{fail}\">Fail</a> \
             <a id=\"cancel\" href=\"{cancel}\">Cancel</a>\
             </p>",
            reference = escape(&order.merchant_reference),
            description = escape(&order.description),
            amount = escape(&order.amount.to_string()),
            status = order.status.as_str(),
            pay = link("Pay"),
            fail = link("Fail"),
            cancel = link("Cancel"),
        );
        Html(page("Pesapal checkout (training)", &body)).into_response()
    }

    /// Pay and Fail settle the order; all three send the customer back with
    /// the documented parameters (Cancel to `cancellation_url` when given).
    fn checkout_action(&self, order_tracking_id: &str, action: Action) -> Response {
        match action {
            Action::Pay => {
                self.complete(order_tracking_id);
            }
            Action::Fail => {
                self.fail(order_tracking_id);
            }
            Action::Cancel => {}
        }
        let Some(order) = self.order(order_tracking_id) else {
            return (StatusCode::NOT_FOUND, Html(page("Order not found", "<p>This payment link is not valid.</p>")))
                .into_response();
        };
        let target = match (action, &order.cancellation_url) {
            (Action::Cancel, Some(cancel)) => cancel,
            _ => &order.callback_url,
        };
        let mut location = Url::parse(target).expect("checked on submit");
        location
            .query_pairs_mut()
            .append_pair("OrderTrackingId", &order.order_tracking_id)
            .append_pair("OrderMerchantReference", &order.merchant_reference)
            .append_pair("OrderNotificationType", "CALLBACKURL");
        Redirect::to(location.as_str()).into_response()
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Pay,
    Fail,
    Cancel,
}

/// "2021-08-26T12:29:30.5177702Z", as in the RequestToken sample.
fn seven_decimals(at: DateTime<Utc>) -> String {
    format!("{}.{:07}Z", at.format("%Y-%m-%dT%H:%M:%S"), at.timestamp_subsec_nanos() / 100)
}

/// "Failed", as in the sample.
fn title_case(status: PaymentStatus) -> String {
    let word = status.as_str();
    format!("{}{}", &word[..1], word[1..].to_ascii_lowercase())
}

/// A whole amount as an integer (`"amount": 100` in the sample), else a decimal.
fn wire_amount(amount: Money) -> Value {
    let scale = 10i64.pow(amount.currency.exponent());
    if amount.minor % scale == 0 { json!(amount.minor / scale) } else { json!(amount.to_wire_f64().unwrap_or(0.0)) }
}

/// "0723***000": the first four and last three digits.
fn mask(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "***".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}***{tail}")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:2em;max-width:32em}}\
         .training{{color:#a40;font-weight:bold}}\
         .actions a{{display:inline-block;padding:.6em 1.4em;margin-right:.6em;border:1px solid #333;\
         border-radius:4px;text-decoration:none;color:#000}}\
         #pay{{background:#2a7;color:#fff}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    )
}

/// The error object with HTTP 200, as Pesapal answers a request it refuses,
/// beside the endpoint's own fields (`fields`, set to null).
fn refusal(code: &str, message: &str, fields: Value) -> Response {
    let mut body = fields;
    body["error"] = json!({"type": "api_error", "code": code, "message": message});
    body["status"] = json!("400");
    Json(body).into_response()
}

/// An error object with its HTTP status (401, 406, 415, 400).
fn http_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "error": {"type": "api_error", "code": code, "message": message},
        "status": status.as_u16().to_string()
    });
    (status, Json(body)).into_response()
}

fn unauthorized() -> Response {
    http_error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is missing, invalid or expired")
}

/// The document's required headers: `Accept: application/json` always,
/// `Content-Type: application/json` with a body.
#[allow(clippy::result_large_err)]
fn check_headers(headers: &HeaderMap, with_body: bool) -> Result<(), Response> {
    let has = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"))
    };
    if !has(header::ACCEPT) {
        return Err(http_error(StatusCode::NOT_ACCEPTABLE, "not_acceptable", "Accept must be application/json"));
    }
    if with_body && !has(header::CONTENT_TYPE) {
        return Err(http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ));
    }
    Ok(())
}

#[allow(clippy::result_large_err)]
fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Response> {
    check_headers(headers, true)?;
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| http_error(StatusCode::BAD_REQUEST, "invalid_request", "The request body is not a JSON object"))
}

pub(super) fn routes(sim: Arc<PesapalSim>) -> Router {
    Router::new()
        .route("/api/Auth/RequestToken", post(request_token))
        .route("/api/URLSetup/RegisterIPN", post(register_ipn))
        .route("/api/URLSetup/GetIpnList", get(ipn_list))
        .route("/api/Transactions/SubmitOrderRequest", post(submit_order))
        .route("/api/Transactions/GetTransactionStatus", get(transaction_status))
        .route("/pesapaliframe/PesapalIframe3/Index", get(checkout))
        .route("/pesapaliframe/PesapalIframe3/Index/", get(checkout))
        .route("/pesapaliframe/PesapalIframe3/{action}", get(checkout_action))
        .with_state(sim)
}

/// `/__sim/pesapal/…`: the in-process controls over HTTP, for tests that run
/// the till in another process.
pub(super) fn control_routes(sim: Arc<PesapalSim>) -> Router {
    Router::new()
        .route("/orders", get(control_orders))
        .route("/orders/{order_tracking_id}/{action}", post(control_order))
        .with_state(sim)
}

type Ctx = (State<Arc<PesapalSim>>, Extension<ConnectionKill>, HeaderMap);

async fn request_token((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "RequestToken", &kill, move || match json_body(&headers, &body) {
        Ok(b) => s.request_token(&b),
        Err(r) => r,
    })
    .await
}

async fn register_ipn((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "RegisterIPN", &kill, move || {
        if !s.bearer_ok(&headers) {
            return unauthorized();
        }
        match json_body(&headers, &body) {
            Ok(b) => s.register_ipn(&b),
            Err(r) => r,
        }
    })
    .await
}

async fn ipn_list((State(sim), Extension(kill), headers): Ctx) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "GetIpnList", &kill, move || {
        if !s.bearer_ok(&headers) {
            return unauthorized();
        }
        match check_headers(&headers, false) {
            Ok(()) => s.ipn_list(),
            Err(r) => r,
        }
    })
    .await
}

async fn submit_order((State(sim), Extension(kill), headers): Ctx, body: axum::body::Bytes) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "SubmitOrderRequest", &kill, move || {
        if !s.bearer_ok(&headers) {
            return unauthorized();
        }
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1").to_string();
        match json_body(&headers, &body) {
            Ok(b) => s.submit_order(&b, &host),
            Err(r) => r,
        }
    })
    .await
}

#[derive(Deserialize)]
struct StatusQuery {
    #[serde(rename = "orderTrackingId")]
    order_tracking_id: Option<String>,
}

async fn transaction_status((State(sim), Extension(kill), headers): Ctx, Query(q): Query<StatusQuery>) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "GetTransactionStatus", &kill, move || {
        if !s.bearer_ok(&headers) {
            return unauthorized();
        }
        match check_headers(&headers, false) {
            Ok(()) => s.transaction_status(q.order_tracking_id.as_deref()),
            Err(r) => r,
        }
    })
    .await
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(rename = "OrderTrackingId", default)]
    order_tracking_id: String,
}

async fn checkout((State(sim), Extension(kill), _): Ctx, Query(q): Query<PageQuery>) -> Response {
    let s = sim.clone();
    faulted(&sim.faults, "checkout", &kill, move || s.checkout_page(&q.order_tracking_id)).await
}

async fn checkout_action(
    (State(sim), Extension(kill), _): Ctx,
    Path(action): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let action = match action.as_str() {
        "Pay" => Action::Pay,
        "Fail" => Action::Fail,
        "Cancel" => Action::Cancel,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let endpoint = match action {
        Action::Pay => "checkout_pay",
        Action::Fail => "checkout_fail",
        Action::Cancel => "checkout_cancel",
    };
    let s = sim.clone();
    faulted(&sim.faults, endpoint, &kill, move || s.checkout_action(&q.order_tracking_id, action)).await
}

async fn control_orders(State(sim): State<Arc<PesapalSim>>) -> Response {
    Json(sim.orders()).into_response()
}

#[derive(Deserialize)]
struct HoldQuery {
    #[serde(default)]
    reads: u32,
}

/// POST /__sim/pesapal/orders/{id}/complete|fail|reverse|hold?reads=N
async fn control_order(
    State(sim): State<Arc<PesapalSim>>,
    Path((id, action)): Path<(String, String)>,
    Query(q): Query<HoldQuery>,
) -> Response {
    let done = match action.as_str() {
        "complete" => sim.complete(&id),
        "fail" => sim.fail(&id),
        "reverse" => sim.reverse(&id),
        "hold" => sim.hold_pending(&id, q.reads),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match sim.order(&id) {
        Some(order) if done => Json(order).into_response(),
        Some(order) => (StatusCode::CONFLICT, Json(order)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_the_samples_write_them() {
        let at: DateTime<Utc> = "2021-08-26T12:29:30.5177702Z".parse().unwrap();
        assert_eq!(seven_decimals(at), "2021-08-26T12:29:30.5177702Z");
        assert_eq!(
            crate::providers::pesapal::parse_utc(&at.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()),
            Some("2021-08-26T12:29:30.517Z".parse().unwrap())
        );
    }

    #[test]
    fn amounts_and_words_are_written_as_in_the_sample() {
        assert_eq!(wire_amount(Money::new(10_000, Currency::KES)), json!(100));
        assert_eq!(wire_amount(Money::new(120_050, Currency::KES)), json!(1200.5));
        assert_eq!(wire_amount(Money::new(5_000, Currency::UGX)), json!(5000));
        assert_eq!(title_case(PaymentStatus::Failed), "Failed");
        assert_eq!(mask("0723000456"), "0723***456");
    }

    #[test]
    fn orders_settle_only_along_real_transitions() {
        let sim = PesapalSim::with_samples();
        let order = SimOrder {
            order_tracking_id: "t1".into(),
            merchant_reference: "r1".into(),
            amount: Money::new(10_000, Currency::KES),
            description: "d".into(),
            callback_url: "https://h/cb".into(),
            cancellation_url: None,
            notification_id: TRAINING_IPN_ID.into(),
            phone_number: None,
            email_address: Some("a@b.co".into()),
            status: PaymentStatus::Invalid,
            payment_method: String::new(),
            confirmation_code: String::new(),
            payment_account: String::new(),
            status_description: String::new(),
            created_date: Utc::now(),
            pending_reads: 0,
        };
        sim.book.lock().unwrap().orders.insert("t1".into(), order);
        assert!(!sim.reverse("t1"), "nothing to reverse before payment");
        assert!(sim.fail("t1"));
        assert!(sim.complete("t1"), "paid after a failed attempt");
        assert!(!sim.fail("t1") && !sim.complete("t1"));
        assert!(sim.reverse("t1"));
        assert_eq!(sim.order("t1").unwrap().status, PaymentStatus::Reversed);
        assert!(!sim.complete("nope"));
        let calls = sim.ipn_calls();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].url, "https://www.myapplication.com/ipn");
        assert_eq!(calls[0].notification_type, "IPNCHANGE");
    }
}
