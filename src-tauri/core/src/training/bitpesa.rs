//! BitPesa (TransferZero) as its documents describe it, for training mode and
//! tests: every request's signature verified for real (HMAC-SHA512 with the
//! training secret, over the URL the client used and the exact body, each
//! nonce accepted once); balances; business senders created once and found
//! by `external_id`; transactions created, funded from the balance, read and
//! cancelled, with the documented states and 422 `errors` / `meta` answers.
//!
//! Time is deterministic: a funded transaction moves one step after every
//! `advance_after` reads of `GET /v1/transactions/{id}` (default 2), or at
//! once through `/__sim/bitpesa/transactions/{id}/advance|pay|fail`. What a
//! payout does is chosen by the last two digits of the recipient's phone
//! number or bank account, in the spirit of the sandbox's test numbers
//! (sandbox-testing.md): see `SAMPLES`.
//!
//! The simulator pays out in the currency it is funded in (the store's
//! balance in that currency); it has no exchange rates.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::faults::FaultBoard;
use super::server::{ConnectionKill, faulted};
use super::{TRAINING_BITPESA_API_KEY, TRAINING_BITPESA_API_SECRET};
use crate::money::{Currency, Money};
use crate::providers::bitpesa::sign;

/// Where the simulator "sends" its webhooks: recorded, never sent (a
/// training till has no public address). Signed as BitPesa signs them.
pub const TRAINING_WEBHOOK_URL: &str = "https://relay.example.com/kaunta/bitpesa";

/// The store's balances on a fresh simulator, in minor units.
pub const OPENING_BALANCES: [(Currency, i64); 3] =
    [(Currency::KES, 50_000_000), (Currency::UGX, 5_000_000), (Currency::USD, 100_000)];

/// What a trainee can try: the recipient's phone number or account ending.
pub struct Sample {
    pub recipient: &'static str,
    pub case: &'static str,
}

pub const SAMPLES: &[Sample] = &[
    Sample { recipient: "KES::Mobile +254712345678 (any other ending)", case: "paid out after two status checks" },
    Sample {
        recipient: "KES::Mobile +254712345619 / UGX::Mobile +256772123419",
        case: "payout fails: 414 mobile number not registered for mobile money; cancel it to refund the balance",
    },
    Sample {
        recipient: "KES::Bank account ending 19, e.g. 1234567819",
        case: "payout fails: 416 invalid account number",
    },
    Sample { recipient: "phone or account ending 49", case: "payout fails: 5 sender error, cannot be processed" },
    Sample { recipient: "phone or account ending 01 or 11", case: "stays pending at the provider (code 14)" },
    Sample { recipient: "KES::Bank account 1234567800, bank_code 68 (Equity)", case: "paid out" },
    Sample { recipient: "more than the balance", case: "funding refused with 422: insufficient balance" },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Pay,
    /// recipient_error (code, description)
    RecipientError,
    SenderError,
    StayPending,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimTransaction {
    pub id: String,
    pub external_id: String,
    pub state: String,
    pub input: Money,
    pub paid: Money,
    pub corridor: String,
    pub recipient_id: String,
    pub recipient_state: String,
    pub recipient_type: String,
    pub state_reason: Option<String>,
    pub reason_code: Option<String>,
    pub reason_category: Option<String>,
    pub may_cancel: bool,
    pub editable: bool,
    pub cancel_requested: bool,
    pub details: BTreeMap<String, String>,
    pub sender_id: String,
    pub metadata: Value,
    pub plan: Plan,
    pub created_at: String,
    /// Reads since the last step.
    pub reads: u32,
    /// Answer without `paid_amount` (a test of a missing field).
    pub hide_paid_amount: bool,
    /// Debits that funded it: more than one would be a payout paid twice.
    pub debits: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimSender {
    pub id: String,
    pub external_id: Option<String>,
    pub state: String,
    pub body: Value,
}

/// A webhook BitPesa would have sent: the URL, its three headers and body.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookCall {
    pub url: String,
    pub key: String,
    pub nonce: String,
    pub signature: String,
    pub body: String,
}

#[derive(Default)]
struct Book {
    balances: BTreeMap<String, Money>,
    senders: Vec<SimSender>,
    sender_creations: u32,
    transactions: BTreeMap<String, SimTransaction>,
    transaction_creations: u32,
    debits: u32,
    nonces: HashSet<String>,
    webhooks: Vec<WebhookCall>,
    advance_after: u32,
    /// Listings filtered by `external_id` also return objects that have
    /// none (see `seed_foreign_transaction`).
    loose_listing: bool,
}

pub struct BitPesaSim {
    book: Mutex<Book>,
    pub faults: FaultBoard,
}

/// The corridors the simulator pays, with their currency.
fn corridor_currency(kind: &str) -> Option<Currency> {
    match kind {
        "KES::Mobile" | "KES::Bank" => Some(Currency::KES),
        "UGX::Mobile" => Some(Currency::UGX),
        _ => None,
    }
}

/// kes-bank.md's bank codes.
pub const KES_BANK_CODES: &[(&str, &str)] = &[
    ("03", "Absa Bank"),
    ("35", "African Banking Corporation"),
    ("19", "Bank of Africa Kenya"),
    ("06", "Bank of Baroda"),
    ("16", "Citibank"),
    ("11", "Co-operative Bank of Kenya"),
    ("23", "Consolidated Bank of Kenya"),
    ("25", "Credit Bank Ltd"),
    ("63", "Diamond Trust Bank"),
    ("75", "DIB Bank"),
    ("43", "ECO Bank Kenya"),
    ("68", "Equity Bank Limited"),
    ("70", "Family Bank"),
    ("74", "First Community Bank"),
    ("53", "Guaranty Trust Bank Kenya"),
    ("55", "Guardian Bank"),
    ("72", "Gulf African Bank"),
    ("61", "Housing Finance Co. Kenya"),
    ("57", "I&M Bank"),
    ("51", "Kingdom Bank"),
    ("01", "Kenya Commercial Bank"),
    ("78", "KWFT Bank"),
    ("65", "Mayfair Bank"),
    ("14", "M-Oriental Commercial Bank Limited"),
    ("18", "Middle East Bank"),
    ("12", "National Bank of Kenya"),
    ("07", "NCBA Bank"),
    ("50", "Paramount Universal Bank Limited"),
    ("10", "Prime Bank"),
    ("66", "Sidian Bank"),
    ("31", "Stanbic Bank Kenya"),
    ("02", "Standard Chartered Bank"),
    ("76", "UBA Kenya Bank Ltd"),
    ("54", "Victoria Bank Limited"),
];

fn plan_for(account: &str) -> Plan {
    let digits: String = account.chars().filter(char::is_ascii_digit).collect();
    match digits.get(digits.len().saturating_sub(2)..).unwrap_or_default() {
        "19" => Plan::RecipientError,
        "49" => Plan::SenderError,
        "01" | "11" => Plan::StayPending,
        _ => Plan::Pay,
    }
}

/// An amount as a JSON number written exactly (`1500.0`, `12.5`).
fn number(m: Money) -> Box<RawValue> {
    let text = m.to_wire_decimal();
    let text = if text.contains('.') { text } else { format!("{text}.0") };
    RawValue::from_string(text).expect("a decimal is a JSON number")
}

fn raw_json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn errors(status: StatusCode, object: Value, list: &[(&str, &str)]) -> Response {
    let mut errs = serde_json::Map::new();
    for (field, message) in list {
        errs.entry(field.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(json!({"error": message}));
    }
    let mut object = if object.is_object() { object } else { json!({}) };
    object["errors"] = Value::Object(errs);
    (status, Json(json!({"object": object}))).into_response()
}

fn meta_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"object": {}, "meta": {"error": message}}))).into_response()
}

#[derive(Serialize)]
struct RecipientOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    transaction_id: &'a str,
    created_at: &'a str,
    state: &'a str,
    transaction_state: &'a str,
    state_reason: Option<&'a str>,
    state_reason_details: Option<Value>,
    editable: bool,
    may_cancel: bool,
    requested_amount: Box<RawValue>,
    requested_currency: &'a str,
    input_amount: Box<RawValue>,
    input_currency: &'a str,
    output_amount: Box<RawValue>,
    output_currency: &'a str,
    payout_method: Value,
    metadata: Value,
    external_id: Option<&'a str>,
}

#[derive(Serialize)]
struct TransactionOut<'a> {
    id: &'a str,
    metadata: &'a Value,
    state: &'a str,
    input_amount: Box<RawValue>,
    input_currency: &'a str,
    sender: Value,
    payin_methods: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paid_amount: Option<Box<RawValue>>,
    due_amount: Box<RawValue>,
    recipients: Vec<RecipientOut<'a>>,
    created_at: &'a str,
    external_id: Option<&'a str>,
}

fn recipient_out(t: &SimTransaction) -> RecipientOut<'_> {
    let currency = t.input.currency.code();
    RecipientOut {
        id: &t.recipient_id,
        kind: &t.recipient_type,
        transaction_id: &t.id,
        created_at: &t.created_at,
        state: &t.recipient_state,
        transaction_state: &t.state,
        state_reason: t.state_reason.as_deref(),
        state_reason_details: t.reason_code.as_ref().map(
            |code| json!({"code": code, "category": t.reason_category, "messages": [], "description": t.state_reason}),
        ),
        editable: t.editable,
        may_cancel: t.may_cancel,
        requested_amount: number(t.input),
        requested_currency: currency,
        input_amount: number(t.input),
        input_currency: currency,
        output_amount: number(t.input),
        output_currency: currency,
        payout_method: json!({"id": format!("pm-{}", t.recipient_id), "type": t.corridor, "details": t.details, "metadata": {}}),
        metadata: json!({}),
        external_id: Some(t.external_id.as_str()).filter(|e| !e.is_empty()),
    }
}

fn transaction_out(t: &SimTransaction) -> TransactionOut<'_> {
    let due = Money::new(t.input.minor - t.paid.minor, t.input.currency);
    TransactionOut {
        id: &t.id,
        metadata: &t.metadata,
        state: &t.state,
        input_amount: number(t.input),
        input_currency: t.input.currency.code(),
        sender: json!({"id": t.sender_id, "type": "business", "state": "approved"}),
        payin_methods: Vec::new(),
        paid_amount: (!t.hide_paid_amount).then(|| number(t.paid)),
        due_amount: number(due),
        recipients: vec![recipient_out(t)],
        created_at: &t.created_at,
        external_id: Some(t.external_id.as_str()).filter(|e| !e.is_empty()),
    }
}

#[derive(Serialize)]
struct Obj<T> {
    object: T,
}

impl BitPesaSim {
    pub fn with_samples() -> Self {
        let balances = OPENING_BALANCES.iter().map(|(c, m)| (c.code().to_string(), Money::new(*m, *c))).collect();
        BitPesaSim {
            book: Mutex::new(Book { balances, advance_after: 2, ..Book::default() }),
            faults: FaultBoard::default(),
        }
    }

    /// Reads of a funded transaction before each step (0: every read steps).
    pub fn set_advance_after(&self, reads: u32) {
        self.book.lock().unwrap().advance_after = reads;
    }

    pub fn balance(&self, currency: Currency) -> Option<Money> {
        self.book.lock().unwrap().balances.get(currency.code()).copied()
    }

    pub fn set_balance(&self, amount: Money) {
        self.book.lock().unwrap().balances.insert(amount.currency.code().into(), amount);
    }

    /// How many senders were created (a re-used sender is not created again).
    pub fn sender_creations(&self) -> u32 {
        self.book.lock().unwrap().sender_creations
    }

    pub fn transaction_creations(&self) -> u32 {
        self.book.lock().unwrap().transaction_creations
    }

    pub fn transactions(&self) -> Vec<SimTransaction> {
        self.book.lock().unwrap().transactions.values().cloned().collect()
    }

    pub fn transaction(&self, id_or_external: &str) -> Option<SimTransaction> {
        let book = self.book.lock().unwrap();
        book.transactions.values().find(|t| t.id == id_or_external || t.external_id == id_or_external).cloned()
    }

    /// Debits that funded the transaction with this id or `external_id`.
    pub fn debits_for(&self, id_or_external: &str) -> u32 {
        self.transaction(id_or_external).map_or(0, |t| t.debits)
    }

    pub fn webhooks(&self) -> Vec<WebhookCall> {
        self.book.lock().unwrap().webhooks.clone()
    }

    /// Someone else's transaction on the same account, with no
    /// `external_id`, approved and unfunded; from now on listings filtered
    /// by `external_id` return it too (an API that filters only objects
    /// carrying the field). Returns its id.
    pub fn seed_foreign_transaction(&self, amount: Money) -> String {
        let mut book = self.book.lock().unwrap();
        book.loose_listing = true;
        let id = uuid::Uuid::now_v7().to_string();
        let details = BTreeMap::from([
            ("first_name".to_string(), "Other".to_string()),
            ("last_name".to_string(), "Customer".to_string()),
            ("phone_number".to_string(), "+254722000000".to_string()),
            ("mobile_provider".to_string(), "mpesa".to_string()),
        ]);
        let t = SimTransaction {
            id: id.clone(),
            external_id: String::new(),
            state: "approved".into(),
            input: amount,
            paid: Money::new(0, amount.currency),
            corridor: "KES::Mobile".into(),
            recipient_id: uuid::Uuid::now_v7().to_string(),
            recipient_state: "initial".into(),
            recipient_type: "person".into(),
            state_reason: None,
            reason_code: None,
            reason_category: None,
            may_cancel: true,
            editable: true,
            cancel_requested: false,
            details,
            sender_id: "foreign-sender".into(),
            metadata: json!({}),
            plan: Plan::Pay,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            reads: 0,
            hide_paid_amount: false,
            debits: 0,
        };
        book.transactions.insert(id.clone(), t);
        id
    }

    /// Someone else's approved sender with no `external_id`, listed as
    /// `seed_foreign_transaction` lists its transaction. Returns its id.
    pub fn seed_foreign_sender(&self) -> String {
        let mut book = self.book.lock().unwrap();
        book.loose_listing = true;
        let id = uuid::Uuid::now_v7().to_string();
        let body = json!({"type": "business", "name": "Another Shop Ltd", "country": "KE"});
        book.senders.push(SimSender { id: id.clone(), external_id: None, state: "approved".into(), body });
        id
    }

    /// Answers for this transaction leave out `paid_amount`.
    pub fn hide_paid_amount(&self, id: &str, hide: bool) -> bool {
        let mut book = self.book.lock().unwrap();
        let Some(key) = find_key(&book, id) else { return false };
        book.transactions.get_mut(&key).expect("found").hide_paid_amount = hide;
        true
    }

    /// Puts a transaction and its recipient in the given states (BitPesa's
    /// `stuck`, `exception`, `manual` …), with BitPesa's `may_cancel`.
    pub fn set_states(&self, id: &str, transaction: &str, recipient: &str, may_cancel: bool) -> bool {
        let mut book = self.book.lock().unwrap();
        let Some(key) = find_key(&book, id) else { return false };
        let t = book.transactions.get_mut(&key).expect("found");
        t.state = transaction.into();
        t.recipient_state = recipient.into();
        t.may_cancel = may_cancel;
        t.reads = 0;
        true
    }

    /// Moves a transaction one step now, as if time had passed.
    pub fn advance(&self, id: &str) -> bool {
        let mut book = self.book.lock().unwrap();
        let Some(key) = find_key(&book, id) else { return false };
        step(&mut book, &key)
    }

    /// Forces the plan of a transaction not yet final, then steps it.
    pub fn force(&self, id: &str, plan: Plan) -> bool {
        let mut book = self.book.lock().unwrap();
        let Some(key) = find_key(&book, id) else { return false };
        book.transactions.get_mut(&key).expect("found").plan = plan;
        step(&mut book, &key)
    }

    fn snapshot(&self) -> Value {
        let book = self.book.lock().unwrap();
        json!({
            "balances": book.balances.iter().map(|(c, m)| (c.clone(), m.to_wire_decimal())).collect::<BTreeMap<_, _>>(),
            "sender_creations": book.sender_creations,
            "senders": book.senders,
            "transaction_creations": book.transaction_creations,
            "debits": book.debits,
            "transactions": book.transactions.values().collect::<Vec<_>>(),
        })
    }

    /// Checks the three headers and the signature over this request's URL
    /// and body; a nonce is good once.
    #[allow(clippy::result_large_err)]
    fn authenticate(&self, method: &str, url: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), Response> {
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let (key, nonce, signature) = (h("Authorization-Key"), h("Authorization-Nonce"), h("Authorization-Signature"));
        if key.is_empty() || nonce.is_empty() || signature.is_empty() {
            return Err(meta_error(StatusCode::UNAUTHORIZED, "Authorization headers are missing"));
        }
        if key != TRAINING_BITPESA_API_KEY {
            return Err(meta_error(StatusCode::UNAUTHORIZED, "Invalid API key"));
        }
        if !sign::verify(TRAINING_BITPESA_API_SECRET, &nonce, method, url, body, &signature) {
            return Err(meta_error(StatusCode::UNAUTHORIZED, "Invalid signature"));
        }
        if !self.book.lock().unwrap().nonces.insert(nonce) {
            return Err(meta_error(StatusCode::UNAUTHORIZED, "Nonce has already been used"));
        }
        Ok(())
    }

    fn accounts(&self) -> Response {
        let book = self.book.lock().unwrap();
        #[derive(Serialize)]
        struct Account<'a> {
            amount: Box<RawValue>,
            currency: &'a str,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            meta: Value,
            object: Vec<Account<'a>>,
        }
        let out = Out {
            meta: json!({"negative_balance": false}),
            object: book.balances.iter().map(|(c, m)| Account { amount: number(*m), currency: c }).collect(),
        };
        raw_json(serde_json::to_string(&out).expect("serialises"))
    }

    fn find_senders(&self, external_id: Option<&str>) -> Response {
        let book = self.book.lock().unwrap();
        let found: Vec<Value> = book
            .senders
            .iter()
            .filter(|s| {
                external_id.is_none_or(|e| {
                    s.external_id.as_deref() == Some(e) || (book.loose_listing && s.external_id.is_none())
                })
            })
            .map(sender_json)
            .collect();
        let count = found.len();
        Json(json!({"object": found, "meta": {"pagination": {"current_page": 1, "total_pages": 1, "total_count": count}}}))
            .into_response()
    }

    fn create_sender(&self, body: &Value) -> Response {
        let Some(sender) = body.get("sender").filter(|s| s.is_object()) else {
            return errors(StatusCode::UNPROCESSABLE_ENTITY, json!({}), &[("sender", "can't be blank")]);
        };
        let text = |k: &str| sender.get(k).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_string();
        let mut missing: Vec<(&str, &str)> = Vec::new();
        let business = text("type") == "business";
        let required: &[&str] = if business {
            &["name", "country", "city", "street", "postal_code", "email"]
        } else {
            &["first_name", "last_name", "country", "city", "street", "postal_code", "email", "birth_date"]
        };
        for field in required {
            if text(field).is_empty() {
                missing.push((field, "can't be blank"));
            }
        }
        if sender.get("documents").is_none_or(|d| !d.is_array()) {
            missing.push(("documents", "blank"));
        }
        if !missing.is_empty() {
            return errors(StatusCode::UNPROCESSABLE_ENTITY, sender.clone(), &missing);
        }
        let external_id = Some(text("external_id")).filter(|e| !e.is_empty());
        let mut book = self.book.lock().unwrap();
        if let Some(existing) =
            external_id.as_ref().and_then(|e| book.senders.iter().find(|s| s.external_id.as_ref() == Some(e)))
        {
            return errors(
                StatusCode::UNPROCESSABLE_ENTITY,
                sender_json(existing),
                &[("external_id", "has already been taken")],
            );
        }
        let created = SimSender {
            id: uuid::Uuid::now_v7().to_string(),
            external_id,
            // Training: KYC is waived, senders are approved at once.
            state: "approved".into(),
            body: sender.clone(),
        };
        book.sender_creations += 1;
        book.senders.push(created.clone());
        (StatusCode::CREATED, Json(json!({"object": sender_json(&created)}))).into_response()
    }

    fn find_transactions(&self, external_id: Option<&str>) -> Response {
        let book = self.book.lock().unwrap();
        let found: Vec<TransactionOut<'_>> = book
            .transactions
            .values()
            .filter(|t| {
                external_id.is_none_or(|e| t.external_id == e || (book.loose_listing && t.external_id.is_empty()))
            })
            .map(transaction_out)
            .collect();
        #[derive(Serialize)]
        struct Out<'a> {
            object: Vec<TransactionOut<'a>>,
            meta: Value,
        }
        let count = found.len();
        let out = Out {
            object: found,
            meta: json!({"pagination": {"current_page": 1, "total_pages": 1, "total_count": count}}),
        };
        raw_json(serde_json::to_string(&out).expect("serialises"))
    }

    fn create_transaction(&self, body: &Value) -> Response {
        let Some(t) = body.get("transaction").filter(|t| t.is_object()) else {
            return errors(StatusCode::UNPROCESSABLE_ENTITY, json!({}), &[("transaction", "can't be blank")]);
        };
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_string();
        let refuse = |list: &[(&str, &str)]| errors(StatusCode::UNPROCESSABLE_ENTITY, t.clone(), list);
        let external_id = text(t, "external_id");
        let mut book = self.book.lock().unwrap();
        if !external_id.is_empty()
            && let Some(existing) = book.transactions.values().find(|x| x.external_id == external_id)
        {
            let mut object = serde_json::to_value(Obj { object: transaction_out(existing) })
                .map(|v| v["object"].clone())
                .unwrap_or_default();
            object["errors"] = json!({"external_id": [{"error": "has already been taken"}]});
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"object": object}))).into_response();
        }
        let sender_id = t.get("sender").map(|s| text(s, "id")).unwrap_or_default();
        let sender_ext = t.get("sender").map(|s| text(s, "external_id")).unwrap_or_default();
        let Some(sender) = book
            .senders
            .iter()
            .find(|s| {
                (!sender_id.is_empty() && s.id == sender_id)
                    || (!sender_ext.is_empty() && s.external_id.as_deref() == Some(sender_ext.as_str()))
            })
            .cloned()
        else {
            return refuse(&[("sender", "not found")]);
        };
        if sender.state != "approved" {
            return refuse(&[("sender", "is not approved")]);
        }
        let recipients = t.get("recipients").and_then(Value::as_array).cloned().unwrap_or_default();
        let [recipient] = recipients.as_slice() else {
            return refuse(&[("recipients", "the simulator pays exactly one recipient per transaction")]);
        };
        let input_currency = text(t, "input_currency");
        let method = recipient.get("payout_method").cloned().unwrap_or_default();
        let corridor = text(&method, "type");
        let Some(currency) = corridor_currency(&corridor) else {
            return refuse(&[("payout_method", "type is not a supported payout type")]);
        };
        if input_currency != currency.code() || text(recipient, "requested_currency") != currency.code() {
            return refuse(&[("input_currency", "the simulator pays out in the currency it is funded in")]);
        }
        let amount_text = match recipient.get("requested_amount") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        // KES and UGX pay no subunits: BitPesa rounds them up.
        let Ok(requested) = Money::from_wire_decimal(&amount_text, currency).or_else(|_| {
            let whole: f64 = amount_text.parse().map_err(|_| ())?;
            Money::from_wire_decimal(&format!("{}", whole.ceil()), currency).map_err(|_| ())
        }) else {
            return refuse(&[("requested_amount", "is not a number")]);
        };
        let scale = 10i64.pow(currency.exponent());
        let requested = Money::new((requested.minor + scale - 1) / scale * scale, currency);
        if requested.minor <= 0 {
            return refuse(&[("requested_amount", "must be greater than 0")]);
        }
        let kind = text(recipient, "type");
        let details: BTreeMap<String, String> = method
            .get("details")
            .and_then(Value::as_object)
            .map(|d| d.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let d = |k: &str| details.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
        let mut problems: Vec<(&str, &str)> = Vec::new();
        match kind.as_str() {
            "person" => {
                if d("first_name").is_empty() {
                    problems.push(("first_name", "can't be blank"));
                }
                if d("last_name").is_empty() {
                    problems.push(("last_name", "can't be blank"));
                }
            }
            "business" => {
                if d("name").is_empty() {
                    problems.push(("name", "can't be blank"));
                }
            }
            _ => problems.push(("type", "must be person or business")),
        }
        let phone_ok = |prefix: &str| {
            let p = d("phone_number");
            p.starts_with(prefix) && p.len() == prefix.len() + 9 && p[1..].bytes().all(|b| b.is_ascii_digit())
        };
        match corridor.as_str() {
            "KES::Mobile" => {
                if !phone_ok("+254") {
                    problems.push(("phone_number", "is invalid"));
                }
                if d("mobile_provider") != "mpesa" {
                    problems.push(("mobile_provider", "is not included in the list"));
                }
                if d("transfer_reason").is_empty() {
                    problems.push(("transfer_reason", "can't be blank"));
                }
            }
            "UGX::Mobile" => {
                if !phone_ok("+256") {
                    problems.push(("phone_number", "is invalid"));
                }
                if !matches!(d("mobile_provider").as_str(), "airtel" | "mtn") {
                    problems.push(("mobile_provider", "is not included in the list"));
                }
                if d("transfer_reason").is_empty() {
                    problems.push(("transfer_reason", "can't be blank"));
                }
            }
            _ => {
                if d("street").is_empty() {
                    problems.push(("street", "can't be blank"));
                }
                if !KES_BANK_CODES.iter().any(|(code, _)| *code == d("bank_code")) {
                    problems.push(("bank_code", "is not included in the list"));
                }
                if d("bank_account").is_empty() || !d("bank_account").bytes().all(|b| b.is_ascii_digit()) {
                    problems.push(("bank_account", "is invalid"));
                }
            }
        }
        if !problems.is_empty() {
            return refuse(&problems);
        }
        let account = if corridor == "KES::Bank" { d("bank_account") } else { d("phone_number") };
        let id = uuid::Uuid::now_v7().to_string();
        let sim = SimTransaction {
            id: id.clone(),
            external_id: if external_id.is_empty() { format!("sim-{id}") } else { external_id },
            state: "approved".into(),
            input: requested,
            paid: Money::new(0, currency),
            corridor,
            recipient_id: uuid::Uuid::now_v7().to_string(),
            recipient_state: "initial".into(),
            recipient_type: kind,
            state_reason: None,
            reason_code: None,
            reason_category: None,
            may_cancel: true,
            editable: true,
            cancel_requested: false,
            details,
            sender_id: sender.id,
            metadata: t.get("metadata").cloned().unwrap_or_else(|| json!({})),
            plan: plan_for(&account),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            reads: 0,
            hide_paid_amount: false,
            debits: 0,
        };
        book.transaction_creations += 1;
        let body = serde_json::to_string(&Obj { object: transaction_out(&sim) }).expect("serialises");
        book.transactions.insert(id, sim);
        (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }

    fn read_transaction(&self, id: &str) -> Response {
        let mut book = self.book.lock().unwrap();
        if !book.transactions.contains_key(id) {
            return meta_error(StatusCode::NOT_FOUND, "Transaction not found");
        }
        let advance_after = book.advance_after;
        let t = book.transactions.get_mut(id).expect("present");
        let moving = t.paid.minor > 0 && !matches!(t.state.as_str(), "paid" | "refunded");
        if moving {
            t.reads += 1;
            if t.reads > advance_after {
                step(&mut book, id);
            }
        }
        let t = &book.transactions[id];
        raw_json(serde_json::to_string(&Obj { object: transaction_out(t) }).expect("serialises"))
    }

    fn debit(&self, body: &Value) -> Response {
        let Some(debit) = body.get("debit").filter(|d| d.is_object()) else {
            return errors(StatusCode::UNPROCESSABLE_ENTITY, json!({}), &[("debit", "can't be blank")]);
        };
        let text = |k: &str| debit.get(k).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_string();
        let refuse = |list: &[(&str, &str)]| errors(StatusCode::UNPROCESSABLE_ENTITY, debit.clone(), list);
        if text("to_type") != "Transaction" {
            return refuse(&[("to_type", "is not included in the list")]);
        }
        let mut book = self.book.lock().unwrap();
        let id = text("to_id");
        let Some(t) = book.transactions.get(&id).cloned() else {
            return refuse(&[("to_id", "not found")]);
        };
        if t.state != "approved" {
            return refuse(&[("base", "Transaction cannot be funded in its current state")]);
        }
        let currency = text("currency");
        if !currency.is_empty() && currency != t.input.currency.code() {
            return refuse(&[("currency", "does not match the transaction's input_currency")]);
        }
        let amount = match debit.get("amount") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if amount.is_some_and(|a| Money::from_wire_decimal(&a, t.input.currency).ok() != Some(t.input)) {
            return refuse(&[("amount", "does not match the transaction's input_amount")]);
        }
        let balance = book.balances.get(t.input.currency.code()).copied().unwrap_or(Money::new(0, t.input.currency));
        if balance.minor < t.input.minor {
            return refuse(&[("base", &format!("Insufficient balance in your {} account", t.input.currency))]);
        }
        book.balances
            .insert(t.input.currency.code().into(), Money::new(balance.minor - t.input.minor, t.input.currency));
        book.debits += 1;
        let tx = book.transactions.get_mut(&id).expect("present");
        tx.debits += 1;
        tx.paid = tx.input;
        tx.state = "received".into();
        tx.recipient_state = "pending".into();
        // A payout under way cannot be cancelled until the provider answers.
        tx.may_cancel = false;
        tx.reads = 0;
        let debit_id = uuid::Uuid::now_v7().to_string();
        let (currency, amount) = (tx.input.currency.code(), tx.input.to_wire_decimal());
        let out = json!({"object": [{"id": debit_id, "currency": currency, "amount": amount, "to_id": id,
            "to_type": "Transaction", "metadata": {}}]});
        notify(&mut book, &id, "transaction.received");
        Json(out).into_response()
    }

    fn cancel(&self, recipient_id: &str) -> Response {
        let mut book = self.book.lock().unwrap();
        let Some(key) = book.transactions.values().find(|t| t.recipient_id == recipient_id).map(|t| t.id.clone())
        else {
            return meta_error(StatusCode::NOT_FOUND, "Recipient not found");
        };
        let t = book.transactions.get_mut(&key).expect("present");
        let refuse =
            |message: &str| errors(StatusCode::UNPROCESSABLE_ENTITY, json!({"id": recipient_id}), &[("base", message)]);
        match t.recipient_state.as_str() {
            "success" => return refuse("Recipient has already been paid out"),
            "canceled" | "refunded" => return refuse("Recipient has already been cancelled"),
            "initial" => {
                // Never funded: cancelled at once, nothing to refund.
                t.recipient_state = "canceled".into();
                t.state = "canceled".into();
                t.may_cancel = false;
                t.editable = false;
            }
            "pending" => {
                // Cancelled only if the provider confirms the payout failed.
                t.cancel_requested = true;
            }
            _ => {
                t.recipient_state = "canceled".into();
                t.state = "canceled".into();
                t.cancel_requested = true;
                t.may_cancel = false;
                t.editable = false;
                t.reads = 0;
            }
        }
        let state = t.state.clone();
        let body = serde_json::to_string(&Obj { object: recipient_out(&book.transactions[&key]) }).expect("serialises");
        if state == "canceled" {
            notify(&mut book, &key, "transaction.canceled");
        }
        raw_json(body)
    }
}

fn find_key(book: &Book, id: &str) -> Option<String> {
    book.transactions.values().find(|t| t.id == id || t.external_id == id).map(|t| t.id.clone())
}

/// One step of a funded transaction's life.
fn step(book: &mut Book, id: &str) -> bool {
    let Some(t) = book.transactions.get_mut(id) else { return false };
    t.reads = 0;
    let event = match (t.state.as_str(), t.recipient_state.as_str()) {
        ("paid", _) | ("refunded", _) => return false,
        // Cancelled after funding: the refund lands, the transaction is final.
        ("canceled", _) if t.paid.minor > 0 => {
            t.state = "refunded".into();
            t.recipient_state = "refunded".into();
            let refund = t.paid;
            let balance = book.balances.entry(refund.currency.code().into()).or_insert(Money::new(0, refund.currency));
            *balance = Money::new(balance.minor + refund.minor, refund.currency);
            "transaction.refunded"
        }
        ("canceled", _) | ("approved", _) | ("initial", _) => return false,
        (_, "pending") => match (t.plan, t.cancel_requested) {
            (Plan::Pay, _) => {
                t.state = "paid".into();
                t.recipient_state = "success".into();
                t.may_cancel = false;
                t.editable = false;
                t.state_reason = None;
                t.reason_code = Some("0".into());
                t.reason_category = Some("paid".into());
                "transaction.paid"
            }
            (Plan::StayPending, false) => {
                t.reason_code = Some("14".into());
                t.reason_category = Some("pending".into());
                t.state_reason = Some("This transaction is awaiting a status update from the provider.".into());
                return false;
            }
            (_, true) => {
                // The provider confirmed the failure of a payout asked to be cancelled.
                t.state = "canceled".into();
                t.recipient_state = "canceled".into();
                t.may_cancel = false;
                t.editable = false;
                "transaction.canceled"
            }
            (Plan::RecipientError, false) => {
                let (code, reason) = if t.corridor == "KES::Bank" {
                    (
                        "416",
                        "Account number is invalid. Please update the account details. You can also cancel this transaction.",
                    )
                } else {
                    (
                        "414",
                        "Mobile number is not registered for mobile money. Please update the mobile details. You can also cancel this transaction.",
                    )
                };
                t.state = "manual".into();
                t.recipient_state = "error".into();
                t.may_cancel = true;
                t.editable = true;
                t.reason_code = Some(code.into());
                t.reason_category = Some("recipient_error".into());
                t.state_reason = Some(reason.into());
                "recipient.error"
            }
            (Plan::SenderError, false) => {
                t.state = "manual".into();
                t.recipient_state = "error".into();
                t.may_cancel = true;
                t.editable = false;
                t.reason_code = Some("5".into());
                t.reason_category = Some("sender_error".into());
                t.state_reason = Some("Transaction cannot be processed. Please cancel this transaction.".into());
                "recipient.error"
            }
        },
        // An error stays until cancelled (BitPesa keeps retrying).
        _ => return false,
    };
    notify(book, id, event);
    true
}

/// Records the webhook BitPesa would send for this event, signed.
fn notify(book: &mut Book, id: &str, event: &str) {
    let t = &book.transactions[id];
    let body = if event.starts_with("recipient.") {
        serde_json::to_string(&json!({"webhook": "training-webhook", "event": event, "object": raw(&recipient_out(t))}))
    } else {
        serde_json::to_string(
            &json!({"webhook": "training-webhook", "event": event, "object": raw(&transaction_out(t))}),
        )
    }
    .expect("serialises");
    let nonce = uuid::Uuid::now_v7().to_string();
    let signature = sign::signature(TRAINING_BITPESA_API_SECRET, &nonce, "POST", TRAINING_WEBHOOK_URL, body.as_bytes());
    book.webhooks.push(WebhookCall {
        url: TRAINING_WEBHOOK_URL.into(),
        key: TRAINING_BITPESA_API_KEY.into(),
        nonce,
        signature,
        body,
    });
}

/// A value whose amounts are exact numbers, re-read as JSON for embedding.
fn raw<T: Serialize>(v: &T) -> Value {
    serde_json::from_str(&serde_json::to_string(v).expect("serialises")).expect("valid JSON")
}

fn sender_json(s: &SimSender) -> Value {
    let mut v = s.body.clone();
    v["id"] = json!(s.id);
    v["state"] = json!(s.state);
    v["external_id"] = json!(s.external_id);
    v
}

pub(super) fn routes(sim: Arc<BitPesaSim>) -> Router {
    Router::new()
        .route("/v1/accounts", get(accounts))
        .route("/v1/accounts/debits", post(debits))
        .route("/v1/senders", get(find_senders).post(create_sender))
        .route("/v1/transactions", get(find_transactions).post(create_transaction))
        .route("/v1/transactions/{id}", get(read_transaction))
        .route("/v1/recipients/{id}", delete(cancel))
        .with_state(sim)
}

/// `/__sim/bitpesa/…`: controls for tests and trainees.
pub(super) fn control_routes(sim: Arc<BitPesaSim>) -> Router {
    Router::new()
        .route("/state", get(control_state))
        .route("/webhooks", get(control_webhooks))
        .route("/advance_after", post(control_advance_after))
        .route("/transactions/{id}/{action}", post(control_transaction))
        .with_state(sim)
}

type Ctx = (State<Arc<BitPesaSim>>, Extension<ConnectionKill>, HeaderMap, OriginalUri);

/// The URL the client signed: scheme, the Host it called, the original path and query.
fn full_url(headers: &HeaderMap, uri: &OriginalUri) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}{}", uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
}

#[allow(clippy::result_large_err)]
fn json_object(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| meta_error(StatusCode::BAD_REQUEST, "The request body is not a JSON object"))
}

async fn run(
    (State(sim), Extension(kill), headers, uri): Ctx,
    method: &'static str,
    endpoint: &'static str,
    body: axum::body::Bytes,
    apply: impl FnOnce(&BitPesaSim, &[u8]) -> Response + Send,
) -> Response {
    let url = full_url(&headers, &uri);
    let s = sim.clone();
    faulted(&sim.faults, endpoint, &kill, move || match s.authenticate(method, &url, &headers, &body) {
        Ok(()) => apply(&s, &body),
        Err(r) => r,
    })
    .await
}

#[derive(Deserialize)]
struct ExternalQuery {
    external_id: Option<String>,
}

async fn accounts(ctx: Ctx) -> Response {
    run(ctx, "GET", "accounts", Default::default(), |s, _| s.accounts()).await
}

async fn debits(ctx: Ctx, body: axum::body::Bytes) -> Response {
    run(ctx, "POST", "debits", body, |s, b| match json_object(b) {
        Ok(v) => s.debit(&v),
        Err(r) => r,
    })
    .await
}

async fn find_senders(ctx: Ctx) -> Response {
    let q: Option<ExternalQuery> = ctx.3.0.query().and_then(serde_urlencoded_query);
    run(ctx, "GET", "find_sender", Default::default(), move |s, _| {
        s.find_senders(q.as_ref().and_then(|q| q.external_id.as_deref()))
    })
    .await
}

async fn create_sender(ctx: Ctx, body: axum::body::Bytes) -> Response {
    run(ctx, "POST", "create_sender", body, |s, b| match json_object(b) {
        Ok(v) => s.create_sender(&v),
        Err(r) => r,
    })
    .await
}

async fn find_transactions(ctx: Ctx) -> Response {
    let q: Option<ExternalQuery> = ctx.3.0.query().and_then(serde_urlencoded_query);
    run(ctx, "GET", "find_transaction", Default::default(), move |s, _| {
        s.find_transactions(q.as_ref().and_then(|q| q.external_id.as_deref()))
    })
    .await
}

async fn create_transaction(ctx: Ctx, body: axum::body::Bytes) -> Response {
    run(ctx, "POST", "create_transaction", body, |s, b| match json_object(b) {
        Ok(v) => s.create_transaction(&v),
        Err(r) => r,
    })
    .await
}

async fn read_transaction(Path(id): Path<String>, ctx: Ctx) -> Response {
    run(ctx, "GET", "transaction", Default::default(), move |s, _| s.read_transaction(&id)).await
}

async fn cancel(Path(id): Path<String>, ctx: Ctx) -> Response {
    run(ctx, "DELETE", "cancel", Default::default(), move |s, _| s.cancel(&id)).await
}

/// `external_id=…` from a query string (form-encoded, as the client writes it).
fn serde_urlencoded_query(query: &str) -> Option<ExternalQuery> {
    let external_id =
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "external_id").map(|(_, v)| v.into_owned());
    Some(ExternalQuery { external_id })
}

async fn control_state(State(sim): State<Arc<BitPesaSim>>) -> Response {
    Json(sim.snapshot()).into_response()
}

async fn control_webhooks(State(sim): State<Arc<BitPesaSim>>) -> Response {
    Json(sim.webhooks()).into_response()
}

#[derive(Deserialize)]
struct ReadsQuery {
    reads: u32,
}

/// POST /__sim/bitpesa/advance_after?reads=N
async fn control_advance_after(State(sim): State<Arc<BitPesaSim>>, Query(q): Query<ReadsQuery>) -> Response {
    sim.set_advance_after(q.reads);
    Json(json!({"advance_after": q.reads})).into_response()
}

/// POST /__sim/bitpesa/transactions/{id or external_id}/advance|pay|fail
async fn control_transaction(
    State(sim): State<Arc<BitPesaSim>>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let done = match action.as_str() {
        "advance" => sim.advance(&id),
        "pay" => sim.force(&id, Plan::Pay),
        "fail" => sim.force(&id, Plan::RecipientError),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match sim.transaction(&id) {
        Some(t) if done => Json(t).into_response(),
        Some(t) => (StatusCode::CONFLICT, Json(t)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_choose_their_fate_by_their_last_digits() {
        assert_eq!(plan_for("+254712345678"), Plan::Pay);
        assert_eq!(plan_for("+254712345619"), Plan::RecipientError);
        assert_eq!(plan_for("1234567849"), Plan::SenderError);
        assert_eq!(plan_for("+256772123411"), Plan::StayPending);
        assert_eq!(plan_for("1234567800"), Plan::Pay);
    }

    #[test]
    fn amounts_are_written_as_exact_numbers() {
        assert_eq!(number(Money::new(150_000, Currency::KES)).get(), "1500.0");
        assert_eq!(number(Money::new(120_050, Currency::KES)).get(), "1200.5");
        assert_eq!(number(Money::new(5_000, Currency::UGX)).get(), "5000.0");
    }
}
