//! The redemption flow every provider shares: refuse what is blocked, write
//! the intent, call the provider once, record the outcome, print the
//! receipt. Each provider's module decides only what is its own (validate
//! first, claim with an SMS code …). The window and the headless commands
//! both come through here.

pub mod giftpesa;
pub mod payout;
pub mod pesapal;
pub mod pesavoucher;
pub mod reconcile;
pub mod refund;
pub mod telesend;

use serde::Serialize;

use crate::error::FlowError;
use crate::ledger::lease::Held;
use crate::ledger::transactions::Finish;
use crate::ledger::{AuditEntry, Intent, LedgerError, Outcome, State, TransactionRow};
use crate::money::Money;
use crate::providers::ProviderId;
use crate::receipt::{self, Delivery, Receipt};
use crate::till::{MoneyView, Till};
use crate::voucher_code::VoucherCode;

#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidationResult {
    pub code_masked: String,
    pub valid: bool,
    pub amount: Option<MoneyView>,
    pub customer_name: Option<String>,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RedemptionResult {
    pub transaction_id: String,
    pub provider: String,
    /// `completed`, or `unknown` when the provider's answer was lost.
    pub state: String,
    pub amount: Option<MoneyView>,
    pub customer_name: Option<String>,
    pub code_masked: String,
    pub provider_reference: Option<String>,
    pub message: String,
    pub receipt: Option<Delivery>,
    pub training: bool,
}

/// What a provider error says about the money: a lost answer leaves the
/// outcome unknown, anything else is a plain failure.
pub trait ProviderFailure: std::fmt::Display {
    fn outcome_unknown(&self) -> bool;

    /// What the provider actually sent, for the audit log only.
    fn detail(&self) -> Option<&str> {
        None
    }

    /// The plain message, and for the audit log what the provider sent.
    fn audit_text(&self) -> String {
        match self.detail().map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => format!("{self} Provider sent: {d}"),
            None => self.to_string(),
        }
    }
}

impl ProviderFailure for crate::providers::pesavoucher::PesaVoucherError {
    fn outcome_unknown(&self) -> bool {
        // An unreadable amount on a successful answer: money moved, but not
        // as far as we can tell how much.
        self.outcome_unknown() || matches!(self, Self::Amount(_))
    }

    fn detail(&self) -> Option<&str> {
        self.detail()
    }
}

impl ProviderFailure for crate::providers::giftpesa::GiftPesaError {
    fn outcome_unknown(&self) -> bool {
        self.outcome_unknown()
    }

    fn detail(&self) -> Option<&str> {
        self.detail()
    }
}

impl ProviderFailure for crate::providers::pesapal::PesapalError {
    fn outcome_unknown(&self) -> bool {
        self.outcome_unknown()
    }

    fn detail(&self) -> Option<&str> {
        self.detail()
    }
}

impl ProviderFailure for crate::providers::telesend::TelesendError {
    fn outcome_unknown(&self) -> bool {
        self.outcome_unknown() || matches!(self, Self::Amount(_))
    }

    fn detail(&self) -> Option<&str> {
        self.detail()
    }
}

/// An audit row about a voucher (or, for GiftPesa, a customer's phone),
/// always masked.
pub(crate) fn voucher_audit(
    provider: ProviderId,
    actor: &str,
    event: &'static str,
    outcome: Outcome,
    masked: &str,
    details: String,
) -> AuditEntry {
    AuditEntry {
        provider: Some(provider.as_str().into()),
        subject: Some(masked.to_string()),
        ..AuditEntry::new(actor, event, outcome, details)
    }
}

/// A stored UTC time as the till's clock shows it.
pub(crate) fn local_time(utc: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(utc)
        .map(|t| t.with_timezone(&chrono::Local).format("%d %b %Y %H:%M").to_string())
        .unwrap_or_else(|_| utc.to_string())
}

pub(crate) fn require_cashier(cashier: &str) -> Result<&str, FlowError> {
    let c = cashier.trim();
    if c.is_empty() || c.chars().count() > 64 || c.chars().any(char::is_control) {
        return Err(FlowError::NoCashier);
    }
    Ok(c)
}

/// One redemption's identity, from intent to receipt.
pub(crate) struct Redemption<'a> {
    pub provider: ProviderId,
    pub cashier: &'a str,
    /// What one redemption at a time is guarded on: the voucher code, or for
    /// GiftPesa (which has no codes) the customer's phone; none for a
    /// checkout. Never shown.
    pub key: Option<String>,
    /// `redeem`, or `checkout` for a payment.
    pub operation: &'static str,
    pub masked: String,
    /// `None` when only the provider knows (a voucher's whole remaining value).
    pub amount: Option<Money>,
}

impl<'a> Redemption<'a> {
    pub fn of_voucher(provider: ProviderId, cashier: &'a str, code: &VoucherCode) -> Self {
        Redemption {
            provider,
            cashier,
            key: Some(code.expose().to_string()),
            operation: "redeem",
            masked: code.masked(),
            amount: None,
        }
    }

    fn audit(&self, event: &'static str, outcome: Outcome, details: String) -> AuditEntry {
        voucher_audit(self.provider, self.cashier, event, outcome, &self.masked, details)
    }
}

/// How a manager's decision starts its outcome message.
const RESOLVED_BY: &str = "resolved by ";

/// A manager decided this row's outcome by hand.
pub(crate) fn resolved_by_manager(row: &TransactionRow) -> bool {
    row.outcome_message.as_deref().is_some_and(|m| m.starts_with(RESOLVED_BY))
}

/// An intent written and held by the flow that wrote it: while this lives,
/// no reconcile pass of this process touches the row.
pub(crate) struct Begun {
    intent: Intent,
    _held: Held,
}

impl std::ops::Deref for Begun {
    type Target = Intent;

    fn deref(&self) -> &Intent {
        &self.intent
    }
}

impl Till {
    /// Refuses a redemption the ledger already forbids: one in flight
    /// (pending or unknown) always, a completed one too when the provider
    /// redeems vouchers whole.
    pub(crate) async fn refuse_if_blocked(&self, r: &Redemption<'_>, completed_blocks: bool) -> Result<(), FlowError> {
        let Some(key) = r.key.clone() else { return Ok(()) };
        let (p, c) = (r.provider.as_str().to_string(), key);
        let Some(earlier) = self.db(move |l| l.blocking_redemption(&p, &c)).await? else { return Ok(()) };
        let refusal = match earlier.state {
            State::Completed if !completed_blocks => return Ok(()),
            State::Completed => FlowError::AlreadyRedeemedHere { at: local_time(&earlier.updated_at) },
            _ => FlowError::InFlight,
        };
        self.audit(r.audit("redeem_refused", Outcome::Failure, refusal.to_string())).await?;
        Err(refusal)
    }

    /// Writes the intent; a second redemption of the same code in flight
    /// (another till, a double click) is refused here by the database.
    pub(crate) async fn begin_redemption(&self, r: &Redemption<'_>) -> Result<Begun, FlowError> {
        self.ensure_shift_open(r.cashier).await?;
        let id = uuid::Uuid::now_v7().to_string();
        // Held before it is written, so no pass ever sees it pending and unheld.
        let held = self.lease().hold(&id).expect("a fresh id is held by nobody");
        let intent = Intent {
            id,
            cashier: r.cashier.to_string(),
            provider: r.provider.as_str().into(),
            operation: r.operation,
            voucher_code: r.key.clone(),
            code_masked: Some(r.masked.clone()),
            amount_minor: r.amount.map(|a| a.minor),
            currency: r.amount.map(|a| a.currency.code().to_string()),
            owner: self.lease_id().into(),
            training: self.is_training(),
        };
        let mut attempt =
            r.audit("redeem_attempt", Outcome::Info, format!("intent recorded; calling {}", r.provider.display_name()));
        attempt.transaction_id = Some(intent.id.clone());
        attempt.amount_minor = intent.amount_minor;
        attempt.currency = intent.currency.clone();
        let begun = {
            let (intent, attempt) = (intent.clone(), attempt.clone());
            self.db(move |l| l.begin(&intent, &attempt)).await
        };
        match begun {
            Ok(()) => Ok(Begun { intent, _held: held }),
            Err(FlowError::Ledger(LedgerError::InFlight)) => {
                self.audit(r.audit("redeem_refused", Outcome::Failure, "already in flight".into())).await?;
                Err(FlowError::InFlight)
            }
            Err(e) => Err(e),
        }
    }

    /// Records how the provider call ended. `finish` carries what the answer
    /// said on success; failures and lost answers get their message here.
    pub(crate) async fn finish_redemption<T, E: ProviderFailure>(
        &self,
        r: &Redemption<'_>,
        intent: &Intent,
        answer: &Result<T, E>,
        success: impl FnOnce(&T) -> Finish,
    ) -> Result<TransactionRow, FlowError> {
        let (state, finish, outcome) = match answer {
            Ok(t) => (State::Completed, success(t), Outcome::Success),
            Err(e) if e.outcome_unknown() => (
                State::Unknown,
                Finish { message: format!("{e} The redemption may or may not have happened."), ..Finish::default() },
                Outcome::Failure,
            ),
            Err(e) => (State::Failed, Finish { message: e.to_string(), ..Finish::default() }, Outcome::Failure),
        };
        // The audit row keeps what the provider sent; the cashier's message does not.
        let details = match answer {
            Err(e) => match e.detail().map(str::trim).filter(|d| !d.is_empty()) {
                Some(d) => format!("{state}: {} Provider sent: {d}", finish.message),
                None => format!("{state}: {}", finish.message),
            },
            Ok(_) => format!("{state}: {}", finish.message),
        };
        let mut entry = r.audit("redeem_outcome", outcome, details);
        entry.transaction_id = Some(intent.id.clone());
        entry.amount_minor = finish.amount_minor.or(intent.amount_minor);
        entry.currency = finish.currency.clone().or(intent.currency.clone());
        let id = intent.id.clone();
        self.db(move |l| l.finish(&id, state, &finish, &entry)).await
    }

    /// The answer the cashier sees; prints the receipt of a completed one.
    pub(crate) async fn conclude(&self, row: TransactionRow) -> RedemptionResult {
        let receipt = if row.state == State::Completed { Some(self.print_receipt(&row, None).await) } else { None };
        redemption_result(row, receipt)
    }

    /// Saves the receipt and prints it when printing is on. Never fails the
    /// redemption: the money has moved, the cashier needs to know that first.
    /// `reprint_by` names who asked for a copy (marked REPRINT), if this is one.
    pub async fn print_receipt(&self, row: &TransactionRow, reprint_by: Option<&str>) -> Delivery {
        let reprint = reprint_by.is_some();
        let provider: Option<ProviderId> = row.provider.parse().ok();
        let receipt = Receipt {
            store_name: self.config().store_name.clone(),
            till_id: row.till_id.clone(),
            cashier: row.cashier.clone(),
            local_time: local_time(&row.updated_at),
            title: match row.operation.as_str() {
                "checkout" => "PAYMENT RECEIVED",
                "create_voucher" => "REFUND VOUCHER ISSUED",
                "payout" => "PAYOUT SENT",
                _ => "VOUCHER REDEEMED",
            }
            .into(),
            provider: provider.map_or(row.provider.clone(), |p| p.display_name().to_string()),
            code_masked: row.code_masked.clone(),
            customer_name: row.customer_name.clone(),
            amount: MoneyView::from_parts(row.amount_minor, row.currency.as_deref())
                .and_then(|m| Some(Money::new(m.minor, m.currency.parse().ok()?))),
            details: row
                .provider_reference
                .iter()
                .map(|r| (provider.map_or("Reference", |p| p.reference_label()).to_string(), r.clone()))
                // A checkout's outcome names the payment method and confirmation code.
                .chain(
                    row.outcome_message
                        .iter()
                        .filter(|_| matches!(row.operation.as_str(), "checkout" | "create_voucher" | "payout"))
                        .map(|m| {
                            let label = if row.operation == "payout" { "Payout" } else { "Payment" };
                            (label.to_string(), m.clone())
                        }),
                )
                .collect(),
            transaction_id: row.id.clone(),
            training: row.training,
            reprint,
        };
        let data_dir = self.data_dir().to_path_buf();
        let saved = tokio::task::spawn_blocking(move || receipt::save(&receipt, &data_dir))
            .await
            .expect("receipt layout does not panic");
        let delivery = match saved {
            Ok((path, height)) if self.config().receipt.print => {
                receipt::print::print(&path, self.config().receipt.printer.as_deref(), Some(height)).await
            }
            Ok((path, _)) => {
                Delivery { path: path.display().to_string(), printed: false, printer: None, print_error: None }
            }
            Err(e) => Delivery { path: String::new(), printed: false, printer: None, print_error: Some(e.to_string()) },
        };
        let (event, outcome) = match (reprint, delivery.printed || delivery.print_error.is_none()) {
            (false, true) => ("receipt_printed", Outcome::Success),
            (false, false) => ("receipt_failed", Outcome::Failure),
            (true, true) => ("receipt_reprinted", Outcome::Success),
            (true, false) => ("receipt_reprint_failed", Outcome::Failure),
        };
        let entry = AuditEntry {
            provider: Some(row.provider.clone()),
            subject: row.code_masked.clone(),
            transaction_id: Some(row.id.clone()),
            ..AuditEntry::new(
                reprint_by.unwrap_or(&row.cashier),
                event,
                outcome,
                match (&delivery.printer, &delivery.print_error) {
                    (_, Some(err)) => err.clone(),
                    (Some(p), None) if delivery.printed => format!("printed on {p}"),
                    _ => "saved as PDF".to_string(),
                },
            )
        };
        // The receipt is out; failing to log that must not hide the redemption.
        let _ = self.audit(entry).await;
        delivery
    }

    /// After a crash or a lost answer: turns abandoned `pending` rows into
    /// `unknown`, then asks each provider that can answer about its
    /// `unknown` redemptions. The rest wait for a manager (`resolve`).
    /// Rows another live process owns are left to it.
    pub async fn recover(&self, actor: &str) -> Result<Vec<TransactionRow>, FlowError> {
        // A final checkout's later changes are the running app's to watch.
        self.reconcile_pass(actor, &mut |row| !row.state.is_final()).await
    }

    /// A manager's decision on a transaction whose outcome is unknown,
    /// recorded with the reason. Only `unknown` rows can be resolved so.
    pub async fn resolve(&self, manager: &str, id: &str, to: State, reason: &str) -> Result<TransactionRow, FlowError> {
        let manager = require_cashier(manager)?.to_string();
        let reason = reason.trim();
        // One line of text: a control character (NUL, ESC, a line break)
        // would be written to the transaction and the audit log as is.
        if reason.is_empty()
            || reason.chars().count() > 500
            || reason.chars().any(char::is_control)
            || !matches!(to, State::Completed | State::Failed)
        {
            return Err(FlowError::InvalidResolution);
        }
        let lookup = id.to_string();
        let row = self.db(move |l| l.transaction(&lookup)).await?.ok_or(FlowError::NoSuchTransaction)?;
        if row.state != State::Unknown {
            return Err(FlowError::NotUnknown { state: row.state.to_string() });
        }
        if row.provider == ProviderId::BitPesa.as_str() {
            // A payout BitPesa holds is settled by BitPesa's word, not by hand.
            self.bitpesa_manual_resolution(&row, to).await?;
        }
        let entry = AuditEntry::about(&row, &manager, "resolved_by_manager", Outcome::Info, format!("{to}: {reason}"));
        let finish = Finish { message: format!("{RESOLVED_BY}{manager}: {reason}"), ..Finish::default() };
        let id = row.id.clone();
        self.db(move |l| l.finish(&id, to, &finish, &entry)).await
    }
}

pub(crate) fn redemption_result(row: TransactionRow, receipt: Option<Delivery>) -> RedemptionResult {
    let amount = MoneyView::from_parts(row.amount_minor, row.currency.as_deref());
    let done = if row.operation == "checkout" { "paid" } else { "redeemed" };
    let message = match (row.state, &amount) {
        (State::Completed, Some(a)) if row.operation == "create_voucher" => {
            format!("{} refund voucher sent: the customer receives it by email", a.display)
        }
        (State::Completed, Some(a)) => format!("{} {done}: hand over the goods", a.display),
        (State::Completed, None) => "Redeemed: hand over the goods".to_string(),
        (State::Unknown, _) => format!(
            "Outcome unknown: do NOT hand over the goods yet. A manager must check this {}. {}",
            match row.operation.as_str() {
                "checkout" => "payment",
                "create_voucher" => "refund with PesaVoucher before sending another",
                _ => "voucher",
            },
            row.outcome_message.clone().unwrap_or_default()
        ),
        _ => row.outcome_message.clone().unwrap_or_default(),
    };
    RedemptionResult {
        transaction_id: row.id,
        provider: row.provider,
        state: row.state.as_str().into(),
        amount,
        customer_name: row.customer_name,
        code_masked: row.code_masked.unwrap_or_default(),
        provider_reference: row.provider_reference,
        message,
        receipt,
        training: row.training,
    }
}
