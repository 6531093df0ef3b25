//! BitPesa payouts: a manager pays money out of the store's BitPesa balance,
//! a refund to a customer's M-Pesa or a payment to a supplier's bank or
//! mobile account. The store is the sender, created once and re-used by its
//! `external_id`; the intent is committed before the transaction is created
//! (our transaction id is BitPesa's `external_id`); the transaction is
//! funded from the balance and followed until paid out, or cancelled and
//! refunded. Only a 422 proves BitPesa did nothing: any other lost answer is
//! looked up by `external_id` before anything else, and otherwise left
//! `unknown` for `recover` to settle.
//!
//! A desktop till cannot receive webhooks, so it polls with a backoff that
//! keeps within BitPesa's limits (six status reads in the first hour, then
//! one an hour); a webhook relayed by a manager can be verified and imported.
//!
//! `state_reason` is for managers: it is in [`PayoutView`] and the audit log,
//! never on the remittance slip.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Redemption, local_time};
use crate::error::FlowError;
use crate::ledger::history::{HistoryFilter, Operation};
use crate::ledger::transactions::Finish;
use crate::ledger::{AuditEntry, LedgerError, Outcome, State, TransactionRow};
use crate::money::{Currency, Money};
use crate::phone::{Country, Msisdn};
use crate::providers::ProviderId;
use crate::providers::bitpesa::{self, BitPesaError, NewSender, Transaction, TransactionState};
use crate::receipt::Delivery;
use crate::staff::{Staff, StaffError};
use crate::till::{MoneyView, Till};
use crate::training::bitpesa::KES_BANK_CODES;

// ---------------------------------------------------------------------------
// Public API (used by the Tauri commands and the CLI)
// ---------------------------------------------------------------------------

/// A payout as the manager's form sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PayoutInput {
    /// `KES::Mobile`, `KES::Bank` or `UGX::Mobile`.
    pub corridor: String,
    /// As typed, in the corridor's currency: "1,500".
    pub amount: String,
    /// The recipient's details, keyed by BitPesa's field names (see [`CorridorView`]).
    #[serde(default)]
    pub recipient: BTreeMap<String, String>,
    /// Why the money goes out (a refund of order 123, invoice 45).
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptionView {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub required: bool,
    /// `text`, `phone` or `select`.
    pub kind: &'static str,
    pub options: Vec<OptionView>,
    pub placeholder: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorridorView {
    pub id: &'static str,
    pub label: &'static str,
    pub currency: &'static str,
    /// `person` or `business`.
    pub recipient_type: &'static str,
    /// Paid in whole units only (KES, UGX: BitPesa pays no subunits).
    pub whole_units: bool,
    pub fields: Vec<FieldView>,
    /// None: the provider documents no limit.
    pub min: Option<MoneyView>,
    pub max: Option<MoneyView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BalanceView {
    pub currency: String,
    /// None for a currency Kaunta does not know; `amount_text` still shows it.
    pub amount: Option<MoneyView>,
    /// BitPesa's amount exactly as sent.
    pub amount_text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayoutView {
    /// Ours; BitPesa's `external_id`.
    pub transaction_id: String,
    pub bitpesa_id: Option<String>,
    pub corridor: String,
    /// The ledger's state: pending, completed, failed or unknown.
    pub state: String,
    /// BitPesa's transaction state (approved, received, paid, manual, canceled, refunded …).
    pub provider_state: Option<String>,
    /// BitPesa's recipient state (initial, pending, success, error, canceled, refunded …).
    pub recipient_state: Option<String>,
    /// Taken from the balance.
    pub amount: Option<MoneyView>,
    /// What the recipient receives.
    pub output: Option<MoneyView>,
    /// Masked.
    pub recipient: String,
    pub reason: Option<String>,
    /// BitPesa's explanation of a problem: for managers only, never for customers.
    pub state_reason: Option<String>,
    pub may_cancel: bool,
    pub cancel_requested: bool,
    /// Plain words for the manager.
    pub message: String,
    /// The remittance slip, when this call saw the payout complete.
    pub receipt: Option<Delivery>,
    pub training: bool,
    pub created_at: String,
    /// When to ask again (None once final), within BitPesa's limits.
    pub poll_after_ms: Option<u64>,
}

/// A webhook as a relay received it: the URL BitPesa called, its three
/// authentication headers and the exact body.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookDelivery {
    pub url: String,
    pub key: String,
    pub nonce: String,
    pub signature: String,
    pub body: String,
}

// ---------------------------------------------------------------------------
// Corridors (documents: _includes/corridors/kes-mobile.md, kes-bank.md, ugx-mobile.md)
// ---------------------------------------------------------------------------

const PROVIDER: ProviderId = ProviderId::BitPesa;
const OPERATION: &str = "payout";
const SENDER_KEY: &str = "sender_id";
const MAX_REASON: usize = 140;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    KenyanPhone,
    UgandanPhone,
    BankAccount,
    Select(&'static [(&'static str, &'static str)]),
}

struct Field {
    name: &'static str,
    label: &'static str,
    required: bool,
    kind: Kind,
    placeholder: &'static str,
}

struct Corridor {
    id: &'static str,
    label: &'static str,
    currency: Currency,
    recipient_type: &'static str,
    fields: &'static [Field],
    /// Sent as given, not asked for.
    fixed: &'static [(&'static str, &'static str)],
    /// For `transfer_reason` when the form leaves it empty.
    default_reason: Option<&'static str>,
}

/// A few of transfer_reasons.md's keys, the ones a shop pays for.
const TRANSFER_REASONS: &[(&str, &str)] = &[
    ("third_party_person_account", "Money to a third party person (refund to a customer)"),
    ("personal_account", "Money into the recipient's own account"),
    ("other_business_services", "Business services (supplier)"),
    ("donations_and_gifts", "Donations and gifts"),
];

const UGX_PROVIDERS: &[(&str, &str)] = &[("airtel", "Airtel"), ("mtn", "MTN")];

const CORRIDORS: &[Corridor] = &[
    Corridor {
        id: "KES::Mobile",
        label: "M-Pesa, Kenya: refund a customer or pay a supplier's M-Pesa",
        currency: Currency::KES,
        recipient_type: "person",
        fields: &[
            Field { name: "first_name", label: "First name", required: true, kind: Kind::Text, placeholder: "Amina" },
            Field { name: "last_name", label: "Last name", required: true, kind: Kind::Text, placeholder: "Wanjiru" },
            Field {
                name: "phone_number",
                label: "M-Pesa number",
                required: true,
                kind: Kind::KenyanPhone,
                placeholder: "0712 345 678",
            },
            Field {
                name: "transfer_reason",
                label: "Transfer reason",
                required: false,
                kind: Kind::Select(TRANSFER_REASONS),
                placeholder: "",
            },
        ],
        fixed: &[("mobile_provider", "mpesa")],
        default_reason: Some("third_party_person_account"),
    },
    Corridor {
        id: "KES::Bank",
        label: "Bank account, Kenya: pay a supplier",
        currency: Currency::KES,
        recipient_type: "business",
        fields: &[
            Field {
                name: "name",
                label: "Business name",
                required: true,
                kind: Kind::Text,
                placeholder: "Acme Supplies Ltd",
            },
            Field {
                name: "bank_code",
                label: "Bank",
                required: true,
                kind: Kind::Select(KES_BANK_CODES),
                placeholder: "",
            },
            Field {
                name: "bank_account",
                label: "Account number",
                required: true,
                kind: Kind::BankAccount,
                placeholder: "1234567890",
            },
            Field { name: "street", label: "Street", required: true, kind: Kind::Text, placeholder: "1 Main Street" },
            Field { name: "city", label: "City", required: false, kind: Kind::Text, placeholder: "Nairobi" },
        ],
        fixed: &[],
        default_reason: None,
    },
    Corridor {
        id: "UGX::Mobile",
        label: "Mobile money, Uganda (Airtel, MTN): pay a supplier",
        currency: Currency::UGX,
        recipient_type: "person",
        fields: &[
            Field { name: "first_name", label: "First name", required: true, kind: Kind::Text, placeholder: "Okello" },
            Field { name: "last_name", label: "Last name", required: true, kind: Kind::Text, placeholder: "Mugisha" },
            Field {
                name: "phone_number",
                label: "Mobile number",
                required: true,
                kind: Kind::UgandanPhone,
                placeholder: "+256 772 123 456",
            },
            Field {
                name: "mobile_provider",
                label: "Network",
                required: true,
                kind: Kind::Select(UGX_PROVIDERS),
                placeholder: "",
            },
            Field {
                name: "transfer_reason",
                label: "Transfer reason",
                required: false,
                kind: Kind::Select(TRANSFER_REASONS),
                placeholder: "",
            },
        ],
        fixed: &[],
        default_reason: Some("other_business_services"),
    },
];

fn invalid(code: &'static str, message: impl Into<String>) -> FlowError {
    FlowError::Declined { code, message: message.into() }
}

fn corridor(id: &str) -> Result<&'static Corridor, FlowError> {
    CORRIDORS.iter().find(|c| c.id.eq_ignore_ascii_case(id.trim())).ok_or_else(|| {
        invalid(
            "invalid_corridor",
            format!("Choose how to pay: {}", CORRIDORS.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")),
        )
    })
}

/// A Ugandan mobile number as E.164: +2567XXXXXXXX (also 2567…, 07… typed for Uganda).
fn ugandan_phone(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let national = compact
        .strip_prefix("+256")
        .or_else(|| compact.strip_prefix("00256"))
        .or_else(|| compact.strip_prefix("256"))
        .or_else(|| compact.strip_prefix('0'))?;
    (national.len() == 9 && national.starts_with('7') && national.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+256{national}"))
}

/// The recipient, checked: BitPesa's details, a masked label and a name.
struct ParsedRecipient {
    details: BTreeMap<String, String>,
    masked: String,
}

fn mask_digits(digits: &str, keep_start: usize, keep_end: usize) -> String {
    let n = digits.chars().count();
    digits.chars().enumerate().map(|(i, c)| if i >= keep_start && i + keep_end < n { '•' } else { c }).collect()
}

fn parse_recipient(c: &Corridor, given: &BTreeMap<String, String>) -> Result<ParsedRecipient, FlowError> {
    let bad = |m: String| invalid("invalid_recipient", m);
    if let Some(unknown) = given.keys().find(|k| !c.fields.iter().any(|f| f.name == k.as_str())) {
        return Err(bad(format!(
            "{} payouts have no “{}” field",
            c.id,
            crate::text::excerpt(unknown, crate::text::SHORT)
        )));
    }
    let mut details = BTreeMap::new();
    let mut account_masked = String::new();
    for f in c.fields {
        let value = given.get(f.name).map(|v| v.trim()).unwrap_or_default();
        if value.is_empty() {
            if f.required {
                return Err(bad(format!("Enter the {}", f.label.to_lowercase())));
            }
            continue;
        }
        if value.chars().count() > 100 || value.chars().any(char::is_control) {
            return Err(bad(format!("The {} is at most 100 plain characters", f.label.to_lowercase())));
        }
        let value = match f.kind {
            Kind::Text => value.to_string(),
            Kind::KenyanPhone => {
                let phone = Msisdn::parse(value)?;
                if phone.country() != Country::Kenya {
                    return Err(bad("M-Pesa payouts go to a Kenyan number (07…, 01…, +254…)".into()));
                }
                account_masked = mask_digits(phone.as_str(), 4, 3);
                phone.with_plus()
            }
            Kind::UgandanPhone => {
                let phone = ugandan_phone(value).ok_or_else(|| {
                    bad(format!(
                        "“{}” is not a Ugandan mobile number: use +2567XXXXXXXX",
                        crate::text::excerpt(value, crate::text::SHORT)
                    ))
                })?;
                account_masked = mask_digits(&phone[1..], 4, 3);
                phone
            }
            Kind::BankAccount => {
                let digits: String = value.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
                if !(5..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("The account number is 5 to 20 digits".into()));
                }
                account_masked = mask_digits(&digits, 0, 4);
                digits
            }
            Kind::Select(options) => {
                let found = options.iter().find(|(v, _)| v.eq_ignore_ascii_case(value));
                found
                    .map(|(v, _)| v.to_string())
                    .ok_or_else(|| bad(format!("Choose a {} from the list", f.label.to_lowercase())))?
            }
        };
        details.insert(f.name.to_string(), value);
    }
    for (k, v) in c.fixed {
        details.insert(k.to_string(), v.to_string());
    }
    if let Some(reason) = c.default_reason {
        details.entry("transfer_reason".into()).or_insert_with(|| reason.to_string());
    }
    let short = match c.recipient_type {
        "business" => details.get("name").cloned().unwrap_or_default(),
        _ => format!(
            "{} {}.",
            details.get("first_name").map(String::as_str).unwrap_or_default(),
            details.get("last_name").and_then(|l| l.chars().next()).unwrap_or('•')
        ),
    };
    Ok(ParsedRecipient { details, masked: format!("{short} {account_masked}") })
}

/// Stored as the row's `code_masked`: "KES::Mobile Amina W. 2547•••••678".
fn split_masked(code_masked: Option<&str>) -> (String, String) {
    let text = code_masked.unwrap_or_default();
    match text.split_once(' ') {
        Some((c, rest)) if c.contains("::") => (c.to_string(), rest.to_string()),
        _ => (String::new(), text.to_string()),
    }
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(40).collect()
}

/// BitPesa's status-read limits (architecture.md, "API limits"): for each
/// transaction at most six `GET /v1/transactions/{id}` in the first hour
/// after its creation, then one an hour; 2,500 a day for the whole account.
///
/// Kaunta's schedule, by the payout's age (from its ledger row, written just
/// before BitPesa creates the transaction):
/// - read 1 at funding: `start_payout`'s own read, or the read that settled a
///   lost or refused funding answer (never both);
/// - reads 2 to 6 at 1, 5, 15, 30 and 45 minutes (these checkpoints);
/// - then one an hour, at each whole hour of its age (60, 120 … minutes).
///
/// `poll_after_ms` points at the next of these; the UI never asks sooner and
/// the CLI sleeps until it. A payout so costs at most 6 reads in its first
/// hour and 29 in its first day: the 2,500 a day cover about 85 payouts open
/// at once. A manager's cancel reads twice more (before and after the
/// DELETE); a relayed webhook costs one read.
const LIVE_CHECKPOINTS: [u64; 5] = [60, 300, 900, 1_800, 2_700];

/// Milliseconds until the next read the schedule above allows, for a payout
/// `age` seconds old.
fn live_poll_after_ms(age: u64) -> u64 {
    let next = LIVE_CHECKPOINTS.iter().find(|c| **c > age).copied().unwrap_or(age / 3_600 * 3_600 + 3_600);
    (next - age).max(1) * 1_000
}

fn age_seconds(created_at: &str) -> u64 {
    chrono::DateTime::parse_from_rfc3339(created_at)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0) as u64)
        .unwrap_or(0)
}

impl Till {
    // ---- public API ----

    /// The corridors this till pays, with the fields each needs.
    pub fn payout_corridors() -> Vec<CorridorView> {
        CORRIDORS
            .iter()
            .map(|c| CorridorView {
                id: c.id,
                label: c.label,
                currency: c.currency.code(),
                recipient_type: c.recipient_type,
                whole_units: true,
                fields: c
                    .fields
                    .iter()
                    .map(|f| FieldView {
                        name: f.name,
                        label: f.label,
                        required: f.required,
                        kind: match f.kind {
                            Kind::Select(_) => "select",
                            Kind::KenyanPhone | Kind::UgandanPhone => "phone",
                            Kind::Text | Kind::BankAccount => "text",
                        },
                        options: match f.kind {
                            Kind::Select(options) => {
                                options.iter().map(|(value, label)| OptionView { value, label }).collect()
                            }
                            _ => Vec::new(),
                        },
                        placeholder: f.placeholder,
                    })
                    .collect(),
                min: None,
                max: None,
            })
            .collect()
    }

    /// The store's BitPesa balances (GET /v1/accounts), audited.
    pub async fn bitpesa_balances(&self, by: &Staff) -> Result<Vec<BalanceView>, FlowError> {
        require_manager(by)?;
        let answer = self.bitpesa().await?.accounts().await;
        let entry = |outcome, details: String| AuditEntry {
            provider: Some(PROVIDER.as_str().into()),
            ..AuditEntry::new(&by.name, "balances_viewed", outcome, details)
        };
        let balances = match answer {
            Ok(b) => b,
            Err(e) => {
                self.audit(entry(Outcome::Failure, e.audit_text())).await?;
                return Err(e.into());
            }
        };
        let views: Vec<BalanceView> = balances
            .accounts
            .iter()
            .map(|a| BalanceView {
                amount: a.currency.parse::<Currency>().ok().and_then(|c| a.amount.money(c).ok()).map(MoneyView::from),
                currency: a.currency.clone(),
                amount_text: a.amount.text().to_string(),
            })
            .collect();
        let summary = views.iter().map(|v| format!("{} {}", v.currency, v.amount_text)).collect::<Vec<_>>().join(", ");
        self.audit(entry(Outcome::Success, summary)).await?;
        Ok(views)
    }

    /// Creates the payout at BitPesa and funds it from the balance. Errors
    /// before the intent change nothing; after it, the row records how it ended.
    pub async fn start_payout(&self, by: &Staff, input: &PayoutInput) -> Result<PayoutView, FlowError> {
        require_manager(by)?;
        let corridor = corridor(&input.corridor)?;
        let recipient = parse_recipient(corridor, &input.recipient)?;
        let amount = Money::parse(&input.amount, corridor.currency)?;
        if amount.to_wire_whole_units().is_err() {
            return Err(invalid(
                "invalid_amount",
                format!("{} payouts are in whole {}: BitPesa pays no cents", corridor.id, corridor.currency),
            ));
        }
        let reason = input.reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON || reason.chars().any(char::is_control) {
            return Err(invalid(
                "invalid_reason",
                format!("Say why this payout is made (up to {MAX_REASON} characters)"),
            ));
        }
        let client = self.bitpesa().await?;
        let mut sender_id = self.bitpesa_sender(&by.name, false).await?;

        let masked = format!("{} {}", corridor.id, recipient.masked);
        let r = Redemption {
            provider: PROVIDER,
            cashier: &by.name,
            key: None,
            operation: OPERATION,
            masked: masked.clone(),
            amount: Some(amount),
        };
        let intent = self.begin_redemption(&r).await?;
        let audit = |event: &'static str, outcome: Outcome, details: String| AuditEntry {
            provider: Some(PROVIDER.as_str().into()),
            subject: Some(masked.clone()),
            transaction_id: Some(intent.id.clone()),
            amount_minor: Some(amount.minor),
            currency: Some(amount.currency.code().into()),
            ..AuditEntry::new(&by.name, event, outcome, details)
        };
        let new_transaction = |sender_id: &str| bitpesa::NewTransaction {
            input_currency: corridor.currency.code().into(),
            sender: bitpesa::SenderRef { id: sender_id.to_string() },
            recipients: vec![bitpesa::NewRecipient {
                requested_amount: amount.to_wire_decimal(),
                requested_currency: corridor.currency.code().into(),
                kind: corridor.recipient_type,
                payout_method: bitpesa::NewPayoutMethod {
                    kind: corridor.id.into(),
                    details: recipient.details.clone(),
                },
            }],
            metadata: serde_json::json!({ "reason": reason, "till_id": self.config().till_id }),
            external_id: intent.id.clone(),
        };

        // Create: no money moves yet.
        let mut created = client.create_transaction(&new_transaction(&sender_id)).await;
        if let Err(BitPesaError::Validation { errors, .. }) = &created
            && errors.iter().any(|e| e.field == "sender")
        {
            // The remembered sender is gone (a new sandbox, a disabled sender):
            // a 422 proved nothing was created, so find or create it and ask again.
            sender_id = match self.bitpesa_sender(&by.name, true).await {
                Ok(id) => id,
                Err(e) => {
                    // Nothing was created: the intent ends here, not as an orphan.
                    self.end_payout(
                        &by.name,
                        &intent.id,
                        State::Failed,
                        Outcome::Failure,
                        format!("Not created: {e}"),
                        None,
                    )
                    .await?;
                    return Err(e);
                }
            };
            created = client.create_transaction(&new_transaction(&sender_id)).await;
        }
        let transaction = match created {
            Ok(t) => t,
            Err(e) if e.outcome_unknown() => {
                // Only a 422 proves it was not created: look it up by our id first.
                match client.find_transaction(&intent.id).await {
                    Ok(Some(t)) => {
                        self.audit(audit(
                            "payout_found",
                            Outcome::Info,
                            format!("create answer lost ({e}); found {}", t.id),
                        ))
                        .await?;
                        t
                    }
                    other => {
                        let lookup = match other {
                            Ok(_) => "no transaction with this id yet".to_string(),
                            Err(l) => l.to_string(),
                        };
                        let row = self
                            .end_payout_after(
                                &by.name,
                                &intent.id,
                                State::Unknown,
                                Outcome::Failure,
                                format!("{e} Lookup: {lookup}. The payout may or may not have been created; do not send it again before it is reconciled."),
                                None,
                                Some(&e),
                            )
                            .await?;
                        return Ok(self.view_of(row, None, None).await);
                    }
                }
            }
            Err(e) => {
                self.end_payout_after(
                    &by.name,
                    &intent.id,
                    State::Failed,
                    Outcome::Failure,
                    format!("Not created: {e}"),
                    None,
                    Some(&e),
                )
                .await?;
                return Err(e.into());
            }
        };
        {
            let (id, reference) = (intent.id.clone(), transaction.id.clone());
            let entry = audit(
                "payout_created",
                Outcome::Info,
                format!("BitPesa transaction {} ({}), sender {sender_id}", transaction.id, transaction.state),
            );
            self.db(move |l| l.set_reference(&id, &reference, &entry)).await?;
        }
        // Amounts exact: fund only what the manager asked for.
        let input_amount = transaction.input().ok().flatten();
        if input_amount != Some(amount) {
            let shown = input_amount.map_or_else(|| "no readable amount".to_string(), |m| m.to_string());
            let cancelled =
                self.cancel_quietly(&by.name, &intent.id, &transaction, "amount mismatch, never funded").await;
            let message = format!(
                "BitPesa's transaction is for {shown}, not {amount}: it was not funded{}",
                if cancelled { " and was cancelled" } else { "; it expires unfunded within the hour" }
            );
            self.end_payout(&by.name, &intent.id, State::Failed, Outcome::Failure, message.clone(), None).await?;
            return Err(invalid("amount_mismatch", message));
        }

        // Fund: money moves. Recorded first, so a later reading of the ledger
        // knows whether Kaunta ever asked for the debit.
        self.audit(audit("payout_fund_requested", Outcome::Info, format!("asking BitPesa to debit {amount}"))).await?;
        // The transaction as read after funding, when the funding answer
        // itself had to be checked: that read is the first status read.
        let mut read_after_funding: Option<Transaction> = None;
        match client.fund(&transaction.id, amount).await {
            Ok(()) => {
                self.audit(audit("payout_funded", Outcome::Success, format!("{amount} debited from the balance")))
                    .await?;
            }
            Err(e @ BitPesaError::Validation { .. }) => {
                // A 422: BitPesa proved it did not debit.
                let cancelled = self.cancel_quietly(&by.name, &intent.id, &transaction, "funding refused (422)").await;
                let message = format!(
                    "Not funded: {e} Nothing was paid out{}.",
                    if cancelled { "; the unfunded transaction was cancelled" } else { "" }
                );
                self.end_payout(&by.name, &intent.id, State::Failed, Outcome::Failure, message.clone(), None).await?;
                return Err(invalid("not_funded", message));
            }
            Err(e) => {
                // Only a 422 proves nothing happened: a 401, another refusal or
                // a lost answer is settled by reading the transaction first.
                let lost = matches!(
                    e,
                    BitPesaError::NoAnswer(_) | BitPesaError::Server { .. } | BitPesaError::Malformed { .. }
                );
                match client.transaction(&transaction.id).await {
                    Ok(t) if t.is_funded() => {
                        self.audit(audit(
                            "payout_funded",
                            Outcome::Success,
                            format!("funding answer: {e}; BitPesa shows it funded"),
                        ))
                        .await?;
                        read_after_funding = Some(t);
                    }
                    Ok(t) if !lost && t.funding() == Some(false) => {
                        // BitPesa answered (no lost request that could still land)
                        // and shows nothing paid in: not funded, cancelled as a 422 is.
                        let cancelled =
                            self.cancel_quietly(&by.name, &intent.id, &t, "funding refused, read unfunded").await;
                        let message = format!(
                            "Not funded: {e} BitPesa shows the transaction {} with nothing paid in; nothing was paid out{}.",
                            t.state,
                            if cancelled { " and the unfunded transaction was cancelled" } else { "" }
                        );
                        self.end_payout_after(
                            &by.name,
                            &intent.id,
                            State::Failed,
                            Outcome::Failure,
                            message.clone(),
                            None,
                            Some(&e),
                        )
                        .await?;
                        return Err(invalid("not_funded", message));
                    }
                    other => {
                        let seen = match other {
                            Ok(t) => format!("BitPesa shows it {}", t.state),
                            Err(l) => l.to_string(),
                        };
                        let row = self
                            .end_payout_after(
                                &by.name,
                                &intent.id,
                                State::Unknown,
                                Outcome::Failure,
                                format!("The funding answer was not a clear yes or no ({e}; {seen}). Reconcile before paying again."),
                                None,
                                Some(&e),
                            )
                            .await?;
                        return Ok(self.view_of(row, None, None).await);
                    }
                }
            }
        }
        // Funded: from here on the answer is a view, never an error, so
        // nobody is invited to pay it again. The status read below is the
        // first of BitPesa's allowed reads (see LIVE_CHECKPOINTS).
        let id = intent.id.clone();
        let row = self.db(move |l| l.transaction(&id)).await?.ok_or(FlowError::NoSuchTransaction)?;
        let answer = match read_after_funding {
            Some(t) => self.settle_and_view(&by.name, row.clone(), t).await,
            None => self.refresh_row(&by.name, row.clone()).await,
        };
        match answer {
            Ok(view) => Ok(view),
            Err(e) => {
                let mut view = self.view_of(row, None, None).await;
                view.message =
                    format!("Funded; BitPesa's status not read yet ({e}). Kaunta follows it: do not pay this again.");
                Ok(view)
            }
        }
    }

    /// Asks BitPesa once and records a final state. For the UI's polling.
    pub async fn refresh_payout(&self, by: &Staff, transaction_id: &str) -> Result<PayoutView, FlowError> {
        require_manager(by)?;
        let row = self.payout_row(transaction_id).await?;
        self.refresh_row(&by.name, row).await
    }

    /// Polls with a growing pause until the payout is final, unknown, or
    /// `within` has passed. For the CLI.
    pub async fn follow_payout(
        &self,
        actor: &str,
        transaction_id: &str,
        within: Duration,
    ) -> Result<PayoutView, FlowError> {
        let deadline = Instant::now() + within;
        let mut pause = Duration::from_millis(100);
        loop {
            let row = self.payout_row(transaction_id).await?;
            let view = self.refresh_row(actor, row).await?;
            if view.state != "pending" {
                return Ok(view);
            }
            if !self.is_training() {
                pause = Duration::from_millis(view.poll_after_ms.unwrap_or(60_000));
            }
            if Instant::now() + pause > deadline {
                return Ok(view);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(800));
        }
    }

    /// Asks BitPesa to cancel the payout (DELETE /v1/recipients/{id}). It is
    /// asynchronous: the payout stays pending until BitPesa reports it
    /// `refunded` (or, unfunded, `canceled`).
    pub async fn cancel_payout(&self, by: &Staff, transaction_id: &str) -> Result<PayoutView, FlowError> {
        require_manager(by)?;
        let row = self.payout_row(transaction_id).await?;
        if row.state.is_final() {
            return Err(invalid(
                "cannot_cancel",
                format!("This payout is already {}: there is nothing to cancel", row.state),
            ));
        }
        let client = self.bitpesa().await?;
        let transaction = match &row.provider_reference {
            Some(id) => client.transaction(id).await?,
            None => client.find_transaction(&row.id).await?.ok_or_else(|| {
                invalid("cannot_cancel", "BitPesa has no transaction for this payout: nothing to cancel")
            })?,
        };
        let recipient = transaction
            .recipient()
            .ok_or_else(|| FlowError::Provider("BitPesa's transaction has no recipient".into()))?
            .clone();
        if transaction.state() == TransactionState::Paid || recipient.state == "success" {
            self.refresh_row(&by.name, row).await?;
            return Err(invalid("cannot_cancel", "This payout has already been paid out: it cannot be cancelled"));
        }
        let entry =
            |outcome, details: String| AuditEntry::about(&row, &by.name, "payout_cancel_requested", outcome, details);
        if !matches!(recipient.state.as_str(), "canceled" | "refunded") {
            match client.cancel_recipient(&recipient.id).await {
                Ok(r) => {
                    self.audit(entry(
                        Outcome::Success,
                        format!("recipient {} is now {} (may_cancel was {})", r.id, r.state, recipient.may_cancel),
                    ))
                    .await?
                }
                Err(e) => {
                    self.audit(entry(Outcome::Failure, e.audit_text())).await?;
                    return Err(match e {
                        BitPesaError::Validation { .. } => invalid("cannot_cancel", e.to_string()),
                        other => other.into(),
                    });
                }
            }
        }
        let row = self.payout_row(&row.id).await?;
        self.refresh_row(&by.name, row).await
    }

    /// The latest payouts from the ledger (no provider call).
    pub async fn recent_payouts(&self, limit: u32) -> Result<Vec<PayoutView>, FlowError> {
        let filter = HistoryFilter {
            provider: Some(PROVIDER),
            operation: Some(Operation::Payout),
            include_training: self.is_training(),
            ..HistoryFilter::default()
        };
        let page = self.db(move |l| l.history_page(&filter, None, limit)).await?;
        let mut out = Vec::with_capacity(page.rows.len());
        for row in page.rows {
            out.push(self.view_of(row, None, None).await);
        }
        Ok(out)
    }

    /// Verifies a relayed webhook with this till's BitPesa key and secret,
    /// records it, and settles its payout after reading the transaction.
    pub async fn import_bitpesa_webhook(
        &self,
        actor: &str,
        delivery: &WebhookDelivery,
    ) -> Result<PayoutView, FlowError> {
        let client = self.bitpesa().await?;
        let verified = bitpesa::verify_webhook(
            client.credentials(),
            &delivery.url,
            &delivery.key,
            &delivery.nonce,
            &delivery.signature,
            delivery.body.as_bytes(),
        );
        let details = match &verified {
            Ok(w) => format!("{} for transaction {}", w.event, w.transaction_id().unwrap_or("(none)")),
            Err(e) => e.to_string(),
        };
        let outcome = if verified.is_ok() { Outcome::Success } else { Outcome::Failure };
        self.audit(AuditEntry {
            provider: Some(PROVIDER.as_str().into()),
            ..AuditEntry::new(actor, "webhook_received", outcome, details)
        })
        .await?;
        let webhook = verified?;
        let bitpesa_id = webhook
            .transaction_id()
            .ok_or_else(|| invalid("not_found", format!("The {} event names no transaction", webhook.event)))?
            .to_string();
        let row = self.payout_row(&bitpesa_id).await?;
        self.refresh_row(actor, row).await
    }

    /// Whether a manager may close this unknown BitPesa payout by hand
    /// (`Till::resolve`). A payout BitPesa holds may still pay out whatever
    /// the ledger says, and a closed row is never read again: so it is
    /// settled from the Payouts tab (refresh, cancel), by BitPesa's word.
    /// Only a payout BitPesa has no transaction for may be closed, as failed.
    pub(crate) async fn bitpesa_manual_resolution(&self, row: &TransactionRow, to: State) -> Result<(), FlowError> {
        const CODE: &str = "resolve_in_payouts";
        let go_to_payouts = |why: &str| {
            invalid(
                CODE,
                format!(
                    "{why} Settle it in the Payouts tab: Refresh asks BitPesa for its status, Cancel asks BitPesa \
                     to cancel and refund it. Kaunta closes it when BitPesa reports it paid or refunded."
                ),
            )
        };
        if row.provider_reference.is_some() {
            return Err(go_to_payouts("BitPesa has this payout and may still pay it out."));
        }
        match self.bitpesa().await?.find_transaction(&row.id).await {
            Ok(None) if to == State::Failed => Ok(()),
            Ok(None) => Err(invalid(
                CODE,
                "BitPesa has no transaction for this payout: nothing was paid out, so it can only be closed as failed",
            )),
            Ok(Some(_)) => Err(go_to_payouts("BitPesa has this payout and may still pay it out.")),
            Err(e) => Err(go_to_payouts(&format!("BitPesa could not be asked about this payout ({e})."))),
        }
    }

    // ---- internals ----

    /// One of our payout rows, by our id or BitPesa's.
    async fn payout_row(&self, id: &str) -> Result<TransactionRow, FlowError> {
        let id = id.trim().to_string();
        let row = self
            .db(move |l| match l.transaction(&id)? {
                Some(row) => Ok(Some(row)),
                None => l.transaction_by_reference(PROVIDER.as_str(), &id),
            })
            .await?;
        row.filter(|r| r.provider == PROVIDER.as_str() && r.operation == OPERATION).ok_or(FlowError::NoSuchTransaction)
    }

    /// The store as a BitPesa sender: remembered per environment, else found
    /// by its `external_id`, else created once.
    async fn bitpesa_sender(&self, actor: &str, forget: bool) -> Result<String, FlowError> {
        let env = self.config().environment.as_str();
        if !forget && let Some(id) = self.db(move |l| l.setting(PROVIDER.as_str(), env, SENDER_KEY)).await? {
            return Ok(id);
        }
        let details = self.sender_details()?;
        let client = self.bitpesa().await?;
        let (sender, how) = match client.find_sender(&details.external_id).await? {
            Some(s) => (s, "found by external_id"),
            None => (client.create_sender(&details).await?, "created"),
        };
        if !sender.may_transact() {
            return Err(invalid(
                "sender_not_approved",
                format!(
                    "BitPesa has not approved the store as a sender yet (state “{}”): payouts wait for that approval",
                    sender.state
                ),
            ));
        }
        let entry = AuditEntry {
            provider: Some(PROVIDER.as_str().into()),
            ..AuditEntry::new(
                actor,
                "settings_changed",
                Outcome::Success,
                format!("BitPesa sender {} {how} for {env} ({})", sender.id, details.external_id),
            )
        };
        let id = sender.id.clone();
        self.db(move |l| l.set_setting(PROVIDER.as_str(), env, SENDER_KEY, &id, &entry)).await?;
        Ok(sender.id)
    }

    /// The store's sender details from `[providers.bitpesa.sender]`; training
    /// fills in a sample store.
    fn sender_details(&self) -> Result<NewSender, FlowError> {
        let config = self.config();
        let c = config.providers.get(&PROVIDER).and_then(|p| p.sender.clone()).unwrap_or_default();
        let training = self.is_training();
        let sample = |v: &Option<String>, s: &str| {
            v.clone().filter(|v| !v.trim().is_empty()).or(training.then(|| s.to_string()))
        };
        let city = sample(&c.city, "Nairobi");
        let street = sample(&c.street, "Kenyatta Avenue 1");
        let postal_code = sample(&c.postal_code, "00100");
        let email = sample(&c.email, "payouts@training.kaunta.example");
        let missing: Vec<&str> =
            [("city", &city), ("street", &street), ("postal_code", &postal_code), ("email", &email)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| *k)
                .collect();
        if !missing.is_empty() {
            return Err(invalid(
                "sender_details_missing",
                format!(
                    "BitPesa needs the store's {} as its sender: set them under [providers.bitpesa.sender] in config.toml",
                    missing.join(", ")
                ),
            ));
        }
        let country = c.country.clone().unwrap_or_else(|| "KE".into()).to_ascii_uppercase();
        Ok(NewSender {
            kind: "business",
            name: c.name.clone().unwrap_or_else(|| config.store_name.clone()),
            trading_country: country.clone(),
            country,
            city: city.unwrap_or_default(),
            street: street.unwrap_or_default(),
            postal_code: postal_code.unwrap_or_default(),
            address_description: String::new(),
            registration_number: c.registration_number.clone(),
            phone_number: c.phone.clone().or(training.then(|| "+254700000000".to_string())),
            email: email.unwrap_or_default(),
            external_id: c.external_id.clone().unwrap_or_else(|| format!("kaunta-store-{}", slug(&config.store_name))),
            documents: Vec::new(),
            ip: "127.0.0.1".into(),
            metadata: serde_json::json!({}),
        })
    }

    /// Best effort: cancels an unfunded transaction so it can never be
    /// funded. Every request is audited (`payout_cancel_requested`, success
    /// or failure) against our transaction `id`.
    async fn cancel_quietly(&self, actor: &str, id: &str, t: &Transaction, why: &str) -> bool {
        // Without a client or a recipient no request is made.
        let (Ok(client), Some(r)) = (self.bitpesa().await, t.recipient()) else { return false };
        let answer = client.cancel_recipient(&r.id).await.map(|r| (r.id, r.state));
        let lookup = id.to_string();
        let row = self.db(move |l| l.transaction(&lookup)).await.ok().flatten();
        let (outcome, details) = match &answer {
            Ok((rid, state)) => (Outcome::Success, format!("{why}: recipient {rid} is now {state}")),
            Err(e) => (Outcome::Failure, format!("{why}: {e}")),
        };
        let entry = AuditEntry {
            provider: Some(PROVIDER.as_str().into()),
            subject: row.as_ref().and_then(|r| r.code_masked.clone()),
            transaction_id: Some(id.to_string()),
            amount_minor: row.as_ref().and_then(|r| r.amount_minor),
            currency: row.as_ref().and_then(|r| r.currency.clone()),
            ..AuditEntry::new(actor, "payout_cancel_requested", outcome, details)
        };
        // Best effort: a failed audit write must not turn into a second payout.
        let _ = self.audit(entry).await;
        answer.is_ok()
    }

    /// Whether Kaunta ever asked BitPesa to fund this payout (its ledger).
    async fn fund_requested(&self, id: &str) -> Result<bool, FlowError> {
        Ok(self.events_of(id).await?.iter().any(|e| matches!(e.as_str(), "payout_fund_requested" | "payout_funded")))
    }

    /// Moves the row to a state with its audit row.
    async fn end_payout(
        &self,
        actor: &str,
        id: &str,
        state: State,
        outcome: Outcome,
        message: String,
        finish: Option<Finish>,
    ) -> Result<TransactionRow, FlowError> {
        self.end_payout_after(actor, id, state, outcome, message, finish, None).await
    }

    /// `end_payout` after BitPesa's error `e`: what BitPesa sent (an HTML
    /// page, a cut-off body) goes to the audit row, never into the message.
    #[allow(clippy::too_many_arguments)]
    async fn end_payout_after(
        &self,
        actor: &str,
        id: &str,
        state: State,
        outcome: Outcome,
        message: String,
        finish: Option<Finish>,
        e: Option<&BitPesaError>,
    ) -> Result<TransactionRow, FlowError> {
        let sent = e.and_then(BitPesaError::detail).map(str::trim).filter(|d| !d.is_empty());
        let details = match sent {
            Some(d) => format!("{state}: {message} BitPesa sent: {d}"),
            None => format!("{state}: {message}"),
        };
        let lookup = id.to_string();
        let row = self.db(move |l| l.transaction(&lookup)).await?.ok_or(FlowError::NoSuchTransaction)?;
        let entry = AuditEntry::about(&row, actor, "payout_outcome", outcome, details);
        let finish = Finish { message, ..finish.unwrap_or_default() };
        let id = row.id.clone();
        self.db(move |l| l.finish(&id, state, &finish, &entry)).await
    }

    /// One read of the payout at BitPesa, recorded.
    async fn refresh_row(&self, actor: &str, row: TransactionRow) -> Result<PayoutView, FlowError> {
        if row.state.is_final() {
            return Ok(self.view_of(row, None, None).await);
        }
        let client = self.bitpesa().await?;
        let transaction = match &row.provider_reference {
            Some(id) => client.transaction(id).await?,
            None => match client.find_transaction(&row.id).await? {
                Some(t) => {
                    let entry = AuditEntry {
                        provider: Some(PROVIDER.as_str().into()),
                        subject: row.code_masked.clone(),
                        transaction_id: Some(row.id.clone()),
                        ..AuditEntry::new(
                            actor,
                            "payout_found",
                            Outcome::Info,
                            format!("found by external_id: {}", t.id),
                        )
                    };
                    let (id, reference) = (row.id.clone(), t.id.clone());
                    self.db(move |l| l.set_reference(&id, &reference, &entry)).await?;
                    t
                }
                None => return Ok(self.view_of(row, None, None).await),
            },
        };
        self.settle_and_view(actor, row, transaction).await
    }

    /// Records what a read of the transaction says and shows it.
    async fn settle_and_view(
        &self,
        actor: &str,
        row: TransactionRow,
        transaction: Transaction,
    ) -> Result<PayoutView, FlowError> {
        let (row, settled_now) = self.settle_payout(actor, row, &transaction).await?;
        let receipt = if settled_now && row.state == State::Completed {
            Some(self.print_receipt(&row, None).await)
        } else {
            None
        };
        Ok(self.view_of(row, Some(&transaction), receipt).await)
    }

    /// The events of a payout's audit trail, oldest first.
    async fn events_of(&self, id: &str) -> Result<Vec<String>, FlowError> {
        let id = id.to_string();
        self.db(move |l| Ok(l.audit_trail(&id)?.into_iter().map(|e| e.event).collect())).await
    }

    /// Records what BitPesa's transaction says: a status change in the audit
    /// log (once per change), and the final state once. Returns the row and
    /// whether this call made it final.
    async fn settle_payout(
        &self,
        actor: &str,
        row: TransactionRow,
        t: &Transaction,
    ) -> Result<(TransactionRow, bool), FlowError> {
        let recipient = t.recipient();
        let status = format!(
            "transaction {}, recipient {}{}",
            t.state,
            recipient.map_or("-", |r| r.state.as_str()),
            recipient.and_then(|r| r.state_reason.as_deref()).map(|s| format!(": {s}")).unwrap_or_default()
        );
        let id = row.id.clone();
        let last = self
            .db(move |l| {
                Ok(l.audit_trail(&id)?.into_iter().rev().find(|e| e.event == "payout_status").map(|e| e.details))
            })
            .await?;
        if last.as_deref() != Some(status.as_str()) {
            self.audit(AuditEntry {
                provider: Some(PROVIDER.as_str().into()),
                subject: row.code_masked.clone(),
                transaction_id: Some(row.id.clone()),
                ..AuditEntry::new(actor, "payout_status", Outcome::Info, status)
            })
            .await?;
        }
        let expected = MoneyView::from_parts(row.amount_minor, row.currency.as_deref())
            .and_then(|m| Some(Money::new(m.minor, m.currency.parse().ok()?)));
        let (state, outcome, message) = match t.state() {
            TransactionState::Paid => match (t.input().ok().flatten(), expected) {
                (Some(a), Some(e)) if a == e => {
                    let output = recipient.and_then(|r| r.output().ok().flatten()).unwrap_or(a);
                    (State::Completed, Outcome::Success, format!("Paid out {output}"))
                }
                (a, _) => (
                    State::Unknown,
                    Outcome::Failure,
                    format!(
                        "BitPesa reports it paid, for {}: a manager must check this payout",
                        a.map_or("an unreadable amount".to_string(), |a| a.to_string())
                    ),
                ),
            },
            TransactionState::Refunded => (
                State::Failed,
                Outcome::Failure,
                "Cancelled: the money was refunded to the BitPesa balance".to_string(),
            ),
            // Cancelled before funding only when BitPesa says nothing was paid
            // in, or Kaunta never asked for the debit; a cancelled transaction
            // that may hold money stays open until BitPesa reports `refunded`.
            TransactionState::Canceled
                if t.funding() == Some(false) || (t.funding().is_none() && !self.fund_requested(&row.id).await?) =>
            {
                (State::Failed, Outcome::Failure, "Cancelled before funding: nothing was paid out".to_string())
            }
            _ if row.state == State::Unknown && t.is_funded() => {
                (State::Pending, Outcome::Info, "BitPesa has this payout, funded: following it again".to_string())
            }
            _ => return Ok((row, false)),
        };
        if state == row.state {
            return Ok((row, false));
        }
        let event = if state == State::Pending { "reconciled" } else { "payout_outcome" };
        let entry = AuditEntry::about(&row, actor, event, outcome, format!("{state}: {message}"));
        let name = recipient.and_then(|r| recipient_name(&r.payout_method.as_ref()?.details));
        let finish =
            Finish { provider_reference: Some(t.id.clone()), customer_name: name, message, ..Finish::default() };
        let id = row.id.clone();
        match self.db(move |l| l.finish(&id, state, &finish, &entry)).await {
            Ok(row) => Ok((row, state.is_final())),
            Err(FlowError::Ledger(LedgerError::AlreadyFinal { .. })) => {
                let id = row.id.clone();
                Ok((self.db(move |l| l.transaction(&id)).await?.unwrap_or(row), false))
            }
            Err(e) => Err(e),
        }
    }

    /// For `recover`: settles an open payout if BitPesa can say. An unknown
    /// payout never created is failed; one created but never funded is
    /// cancelled so nobody can fund it later.
    pub(crate) async fn bitpesa_verdict(&self, row: &TransactionRow) -> Option<TransactionRow> {
        let client = self.bitpesa().await.ok()?;
        if row.state == State::Pending && row.provider_reference.is_none() {
            // A request still in flight in a live process.
            return None;
        }
        let found = match &row.provider_reference {
            Some(id) => Some(client.transaction(id).await.ok()?),
            None => client.find_transaction(&row.id).await.ok()?,
        };
        let Some(t) = found else {
            let settled = self
                .end_payout(
                    "system",
                    &row.id,
                    State::Failed,
                    Outcome::Failure,
                    "BitPesa has no transaction with this id: it was never created, nothing was paid".into(),
                    None,
                )
                .await
                .ok()?;
            return Some(settled);
        };
        if row.provider_reference.is_none() {
            let entry = AuditEntry {
                provider: Some(PROVIDER.as_str().into()),
                subject: row.code_masked.clone(),
                transaction_id: Some(row.id.clone()),
                ..AuditEntry::new("system", "payout_found", Outcome::Info, format!("found by external_id: {}", t.id))
            };
            let (id, reference) = (row.id.clone(), t.id.clone());
            self.db(move |l| l.set_reference(&id, &reference, &entry)).await.ok()?;
        }
        let mut t = t;
        if row.state == State::Unknown
            && !t.is_funded()
            && matches!(t.state(), TransactionState::Approved | TransactionState::Initial)
            && self.cancel_quietly("system", &row.id, &t, "created but never funded").await
        {
            t = client.transaction(&t.id).await.ok()?;
        }
        let (settled, settled_now) = self.settle_payout("system", row.clone(), &t).await.ok()?;
        if settled_now && settled.state == State::Completed {
            self.print_receipt(&settled, None).await;
        }
        (settled.state != row.state).then_some(settled)
    }

    async fn view_of(&self, row: TransactionRow, t: Option<&Transaction>, receipt: Option<Delivery>) -> PayoutView {
        let (corridor, recipient) = split_masked(row.code_masked.as_deref());
        let r = t.and_then(Transaction::recipient);
        let final_ = row.state.is_final();
        let cancel_requested = r.is_some_and(|r| matches!(r.state.as_str(), "canceled" | "refunded"))
            || t.is_some_and(|t| t.state() == TransactionState::Canceled);
        // The payout failed at the provider; BitPesa retries until cancelled.
        let in_error = r.is_some_and(|r| r.state == "error");
        // BitPesa itself is looking into it (transaction-flow.md: `stuck` "we
        // don't know whether it has been paid or not", `exception`, `manual`):
        // it may have been paid, so cancelling is BitPesa's call, not ours.
        let checking = !in_error
            && (r.is_some_and(|r| matches!(r.state.as_str(), "stuck" | "manual" | "exception"))
                || t.is_some_and(|t| matches!(t.state(), TransactionState::Exception | TransactionState::Manual)));
        // Without a transaction read now, the ledger says what Kaunta did.
        let funded_per_ledger = t.is_none()
            && row.state == State::Pending
            && row.provider_reference.is_some()
            && self.events_of(&row.id).await.is_ok_and(|e| e.iter().any(|e| e == "payout_funded"));
        let reason = t.and_then(|t| t.metadata.get("reason")).and_then(|v| v.as_str()).map(str::to_string);
        let message = match row.state {
            State::Completed => row.outcome_message.clone().unwrap_or_else(|| "Paid out".into()),
            State::Failed => row.outcome_message.clone().unwrap_or_else(|| "Not paid out".into()),
            State::Unknown => format!(
                "Outcome unknown: do not pay this again. Kaunta asks BitPesa again on Reconcile. {}",
                row.outcome_message.clone().unwrap_or_default()
            ),
            State::Pending if cancel_requested => {
                "Cancellation requested: waiting for BitPesa to refund the balance".into()
            }
            State::Pending if in_error => "The payout failed at the provider. BitPesa keeps retrying until it is \
                                           cancelled: cancel it to return the money to the balance"
                .into(),
            State::Pending if checking => "BitPesa is checking this payout: it may or may not have been paid; ask \
                                           BitPesa support before cancelling"
                .into(),
            State::Pending if t.is_some_and(|t| !t.is_funded()) => "Created, not funded yet".into(),
            State::Pending if t.is_some() => "Funded: BitPesa is paying out".into(),
            // No transaction read: say only what the ledger knows.
            State::Pending if row.provider_reference.is_none() => {
                "Not created at BitPesa yet: nothing was funded".into()
            }
            State::Pending if funded_per_ledger => "Funded; BitPesa's status not read yet".into(),
            State::Pending => "Created at BitPesa; funding not confirmed, status not read yet".into(),
        };
        let poll_after_ms =
            (!final_).then(|| if self.is_training() { 500 } else { live_poll_after_ms(age_seconds(&row.created_at)) });
        PayoutView {
            transaction_id: row.id.clone(),
            bitpesa_id: row.provider_reference.clone().or_else(|| t.map(|t| t.id.clone())),
            corridor,
            state: row.state.as_str().into(),
            provider_state: t.map(|t| t.state.clone()),
            recipient_state: r.map(|r| r.state.clone()),
            amount: MoneyView::from_parts(row.amount_minor, row.currency.as_deref()),
            output: r.and_then(|r| r.output().ok().flatten()).map(MoneyView::from),
            recipient,
            reason,
            state_reason: r.and_then(|r| r.state_reason.clone()).or_else(|| t.and_then(|t| t.state_reason.clone())),
            // BitPesa's flag decides; a failed payout (`error`) is cancellable
            // as the documents say. Never while BitPesa is checking it unless
            // BitPesa itself says so.
            may_cancel: !final_ && !cancel_requested && (r.is_some_and(|r| r.may_cancel) || in_error),
            cancel_requested,
            message,
            receipt,
            training: row.training,
            created_at: local_time(&row.created_at),
            poll_after_ms,
        }
    }
}

fn require_manager(by: &Staff) -> Result<(), FlowError> {
    if by.is_manager() { Ok(()) } else { Err(StaffError::NotManager.into()) }
}

/// "Amina Wanjiru" or "Acme Supplies Ltd", from the payout details.
fn recipient_name(details: &serde_json::Value) -> Option<String> {
    let text = |k: &str| details.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
    text("name").map(str::to_string).or_else(|| Some(format!("{} {}", text("first_name")?, text("last_name")?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn an_mpesa_recipient_is_parsed_to_the_documented_details_and_masked() {
        let c = corridor("kes::mobile").unwrap();
        let r = parse_recipient(
            c,
            &map(&[("first_name", "Amina"), ("last_name", "Wanjiru"), ("phone_number", "0712 345 678")]),
        )
        .unwrap();
        assert_eq!(r.details["phone_number"], "+254712345678");
        assert_eq!(r.details["mobile_provider"], "mpesa");
        assert_eq!(r.details["transfer_reason"], "third_party_person_account");
        assert_eq!(r.masked, "Amina W. 2547•••••678");
        let details = serde_json::to_value(&r.details).unwrap();
        assert_eq!(recipient_name(&details).as_deref(), Some("Amina Wanjiru"));
    }

    #[test]
    fn bad_recipients_are_refused_before_any_request() {
        let mobile = corridor("KES::Mobile").unwrap();
        for bad in [
            map(&[("first_name", "A"), ("last_name", "B")]),
            map(&[("first_name", "A"), ("last_name", "B"), ("phone_number", "0911 234 567")]),
            map(&[("first_name", "A"), ("last_name", "B"), ("phone_number", "0712345678"), ("bank_code", "68")]),
            map(&[("first_name", "A\u{7}"), ("last_name", "B"), ("phone_number", "0712345678")]),
        ] {
            assert!(parse_recipient(mobile, &bad).is_err(), "{bad:?}");
        }
        let bank = corridor("KES::Bank").unwrap();
        let ok = map(&[
            ("name", "Acme Ltd"),
            ("bank_code", "68"),
            ("bank_account", "1234-5678-90"),
            ("street", "1 Main St"),
        ]);
        let r = parse_recipient(bank, &ok).unwrap();
        assert_eq!(r.details["bank_account"], "1234567890");
        assert_eq!(r.masked, "Acme Ltd ••••••7890");
        let mut wrong_bank = ok.clone();
        wrong_bank.insert("bank_code".into(), "99".into());
        assert!(parse_recipient(bank, &wrong_bank).is_err());
        assert!(corridor("NGN::Bank").is_err());
    }

    #[test]
    fn ugandan_numbers_are_written_in_e164() {
        assert_eq!(ugandan_phone("+256 772 123 456").as_deref(), Some("+256772123456"));
        assert_eq!(ugandan_phone("0772123456").as_deref(), Some("+256772123456"));
        assert_eq!(ugandan_phone("256772123456").as_deref(), Some("+256772123456"));
        assert_eq!(ugandan_phone("+254712345678"), None);
        assert_eq!(ugandan_phone("+25677212345"), None);
    }

    #[test]
    fn the_corridor_list_names_bitpesas_fields() {
        let list = Till::payout_corridors();
        assert_eq!(list.iter().map(|c| c.id).collect::<Vec<_>>(), ["KES::Mobile", "KES::Bank", "UGX::Mobile"]);
        let bank = &list[1];
        assert_eq!(bank.recipient_type, "business");
        let code = bank.fields.iter().find(|f| f.name == "bank_code").unwrap();
        assert_eq!(code.kind, "select");
        assert!(code.options.iter().any(|o| o.value == "68" && o.label == "Equity Bank Limited"));
    }

    #[test]
    fn the_polling_hint_keeps_within_bitpesas_status_read_limits() {
        // Walk a payout's first day polling exactly when the hint says, the
        // first read being the one made at funding (age 0).
        let mut reads = vec![0u64];
        let mut age = 0;
        while age < 86_400 {
            age += live_poll_after_ms(age) / 1_000;
            reads.push(age);
        }
        let first_hour = reads.iter().filter(|a| **a < 3_600).count();
        assert_eq!(first_hour, 6, "six reads in the first hour, the funding read included: {reads:?}");
        // After the first hour, at most one read in any hour of age.
        for hour in 1..24 {
            let n = reads.iter().filter(|a| (hour * 3_600..(hour + 1) * 3_600).contains(*a)).count();
            assert!(n <= 1, "hour {hour}: {n} reads");
        }
        assert!(reads.windows(2).all(|w| w[1] > w[0]), "the hint always points ahead");
        // Asked between checkpoints, the hint still waits for the next one.
        assert_eq!(live_poll_after_ms(2), 58_000);
        assert_eq!(live_poll_after_ms(2_700), 900_000);
        assert_eq!(live_poll_after_ms(3_700), 3_500_000);
    }

    #[test]
    fn the_stored_subject_splits_into_corridor_and_recipient() {
        assert_eq!(
            split_masked(Some("KES::Mobile Amina W. 2547•••••678")),
            ("KES::Mobile".to_string(), "Amina W. 2547•••••678".to_string())
        );
        assert_eq!(slug("Duka la Mama Njeri!"), "duka-la-mama-njeri");
    }
}
