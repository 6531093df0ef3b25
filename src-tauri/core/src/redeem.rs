//! The redemption flow: validate, write the intent, call the provider once,
//! record the outcome, print the receipt. The same code serves the window
//! and the headless commands.

use serde::Serialize;

use crate::error::FlowError;
use crate::ledger::transactions::Finish;
use crate::ledger::{AuditEntry, Intent, Outcome, State, TransactionRow};
use crate::providers::ProviderId;
use crate::providers::pesavoucher::{PesaVoucherError, Validation};
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

fn voucher_audit(
    actor: &str,
    event: &'static str,
    outcome: Outcome,
    code: &VoucherCode,
    details: String,
) -> AuditEntry {
    AuditEntry {
        provider: Some(ProviderId::PesaVoucher.as_str().into()),
        subject: Some(code.masked()),
        ..AuditEntry::new(actor, event, outcome, details)
    }
}

/// A stored UTC time as the till's clock shows it.
fn local_time(utc: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(utc)
        .map(|t| t.with_timezone(&chrono::Local).format("%d %b %Y %H:%M").to_string())
        .unwrap_or_else(|_| utc.to_string())
}

fn require_cashier(cashier: &str) -> Result<&str, FlowError> {
    let c = cashier.trim();
    if c.is_empty() || c.chars().count() > 64 || c.chars().any(char::is_control) {
        return Err(FlowError::NoCashier);
    }
    Ok(c)
}

impl Till {
    /// Read-only; every check lands in the audit log.
    pub async fn validate_voucher(&self, cashier: &str, raw_code: &str) -> Result<ValidationResult, FlowError> {
        let cashier = require_cashier(cashier)?;
        let code = VoucherCode::parse(raw_code)?;
        let client = self.pesavoucher()?;
        let answer = client.validate_voucher(&code).await;
        let (outcome, details) = match &answer {
            Ok(Validation::Valid(v)) => (Outcome::Success, format!("valid: {}", v.amount)),
            Ok(Validation::Invalid(reasons)) => {
                (Outcome::Failure, reasons.iter().map(|r| r.1.as_str()).collect::<Vec<_>>().join("; "))
            }
            Err(e) => (Outcome::Failure, e.to_string()),
        };
        let mut entry = voucher_audit(cashier, "validate", outcome, &code, details);
        if let Ok(Validation::Valid(v)) = &answer {
            entry.amount_minor = Some(v.amount.minor);
            entry.currency = Some(v.amount.currency.code().into());
        }
        self.audit(entry).await?;
        Ok(match answer? {
            Validation::Valid(v) => ValidationResult {
                code_masked: code.masked(),
                valid: true,
                amount: Some(v.amount.into()),
                customer_name: v.customer_name,
                reasons: vec![],
            },
            Validation::Invalid(reasons) => ValidationResult {
                code_masked: code.masked(),
                valid: false,
                amount: None,
                customer_name: None,
                reasons: reasons
                    .into_iter()
                    .map(|(d, m)| Reason { code: d.code().into(), message: d.plain(&m) })
                    .collect(),
            },
        })
    }

    /// Redeems a voucher at most once. The intent row is committed before the
    /// request; a lost answer leaves the transaction `unknown` (returned as a
    /// result, not an error: the cashier must not hand over goods).
    pub async fn redeem_voucher(&self, cashier: &str, raw_code: &str) -> Result<RedemptionResult, FlowError> {
        let cashier = require_cashier(cashier)?.to_string();
        let code = VoucherCode::parse(raw_code)?;
        let provider = ProviderId::PesaVoucher.as_str();

        let (p, c) = (provider.to_string(), code.expose().to_string());
        if let Some(earlier) = self.db(move |l| l.blocking_redemption(&p, &c)).await? {
            let refusal = match earlier.state {
                State::Completed => FlowError::AlreadyRedeemedHere { at: local_time(&earlier.updated_at) },
                _ => FlowError::InFlight,
            };
            self.audit(voucher_audit(&cashier, "redeem_refused", Outcome::Failure, &code, refusal.to_string())).await?;
            return Err(refusal);
        }

        // Validate first (the document's advice): the intent then carries the
        // amount, and a voucher that cannot be redeemed never gets an intent.
        let client = self.pesavoucher()?;
        let valid = match client.validate_voucher(&code).await? {
            Validation::Valid(v) => v,
            Validation::Invalid(mut reasons) => {
                let (reason, message) = reasons.remove(0);
                self.audit(voucher_audit(&cashier, "redeem_refused", Outcome::Failure, &code, message.clone())).await?;
                return Err(FlowError::Declined { message: reason.plain(&message), reason });
            }
        };

        let id = uuid::Uuid::now_v7().to_string();
        let intent = Intent {
            id: id.clone(),
            cashier: cashier.clone(),
            provider: provider.into(),
            operation: "redeem",
            voucher_code: Some(code.expose().into()),
            code_masked: Some(code.masked()),
            amount_minor: Some(valid.amount.minor),
            currency: Some(valid.amount.currency.code().into()),
            owner: self.lease_id().into(),
            training: self.is_training(),
        };
        let mut attempt = voucher_audit(
            &cashier,
            "redeem_attempt",
            Outcome::Info,
            &code,
            "intent recorded; calling PesaVoucher".into(),
        );
        attempt.transaction_id = Some(id.clone());
        attempt.amount_minor = intent.amount_minor;
        attempt.currency = intent.currency.clone();
        let begun = {
            let (intent, attempt) = (intent.clone(), attempt.clone());
            self.db(move |l| l.begin(&intent, &attempt)).await
        };
        if let Err(e) = begun {
            if matches!(e, FlowError::Ledger(crate::ledger::LedgerError::InFlight)) {
                self.audit(voucher_audit(
                    &cashier,
                    "redeem_refused",
                    Outcome::Failure,
                    &code,
                    "already in flight".into(),
                ))
                .await?;
                return Err(FlowError::InFlight);
            }
            return Err(e);
        }

        let answer = client.redeem_voucher(&code, &cashier, &id).await;

        let (state, finish, outcome) = match &answer {
            Ok(r) => {
                let mut message = format!("Voucher redeemed successfully at {}", r.redeemed_at);
                if r.amount != valid.amount {
                    message.push_str(&format!(" (amount {} differs from the validated {})", r.amount, valid.amount));
                }
                let finish = Finish {
                    amount_minor: Some(r.amount.minor),
                    currency: Some(r.amount.currency.code().into()),
                    provider_reference: Some(r.redeemed_at.clone()),
                    customer_name: r.customer_name.clone().or(valid.customer_name.clone()),
                    message,
                };
                (State::Completed, finish, Outcome::Success)
            }
            Err(e) if e.outcome_unknown() || matches!(e, PesaVoucherError::Amount(_)) => (
                State::Unknown,
                Finish { message: format!("{e} The redemption may or may not have happened."), ..Finish::default() },
                Outcome::Failure,
            ),
            Err(e) => (State::Failed, Finish { message: e.to_string(), ..Finish::default() }, Outcome::Failure),
        };
        let mut entry =
            voucher_audit(&cashier, "redeem_outcome", outcome, &code, format!("{state}: {}", finish.message));
        entry.transaction_id = Some(id.clone());
        entry.amount_minor = finish.amount_minor.or(intent.amount_minor);
        entry.currency = finish.currency.clone().or(intent.currency.clone());
        let row = {
            let id = id.clone();
            self.db(move |l| l.finish(&id, state, &finish, &entry)).await?
        };

        match answer {
            Ok(_) => {
                let receipt = self.print_receipt(&row, false).await;
                Ok(self.redemption_result(row, Some(receipt)))
            }
            Err(e) if state == State::Unknown => {
                let _ = e;
                Ok(self.redemption_result(row, None))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn redemption_result(&self, row: TransactionRow, receipt: Option<Delivery>) -> RedemptionResult {
        let amount = MoneyView::from_parts(row.amount_minor, row.currency.as_deref());
        let message = match (row.state, &amount) {
            (State::Completed, Some(a)) => format!("{} redeemed: hand over the goods", a.display),
            (State::Unknown, _) => format!(
                "Outcome unknown: do NOT hand over the goods yet. A manager must check this voucher. {}",
                row.outcome_message.clone().unwrap_or_default()
            ),
            _ => row.outcome_message.clone().unwrap_or_default(),
        };
        RedemptionResult {
            transaction_id: row.id,
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

    /// Saves the receipt and prints it when printing is on. Never fails the
    /// redemption: the money has moved, the cashier needs to know that first.
    pub async fn print_receipt(&self, row: &TransactionRow, reprint: bool) -> Delivery {
        let receipt = Receipt {
            store_name: self.config().store_name.clone(),
            till_id: row.till_id.clone(),
            cashier: row.cashier.clone(),
            local_time: local_time(&row.updated_at),
            title: "VOUCHER REDEEMED".into(),
            provider: ProviderId::PesaVoucher.display_name().into(),
            code_masked: row.code_masked.clone(),
            customer_name: row.customer_name.clone(),
            amount: MoneyView::from_parts(row.amount_minor, row.currency.as_deref())
                .and_then(|m| Some(crate::money::Money::new(m.minor, m.currency.parse().ok()?))),
            details: row.provider_reference.iter().map(|r| ("Redeemed at".to_string(), r.clone())).collect(),
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
                &row.cashier,
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
    /// `unknown`, then asks the provider about every `unknown` redemption.
    /// "Already redeemed" means ours went through; still valid means it did
    /// not. Anything else stays for a manager.
    pub async fn recover(&self, actor: &str) -> Result<Vec<TransactionRow>, FlowError> {
        let dir = self.data_dir().to_path_buf();
        let who = actor.to_string();
        self.db(move |l| l.mark_abandoned_unknown(&dir, &who)).await?;
        let open = self.db(|l| l.open_transactions()).await?;
        let mut settled = Vec::new();
        for row in open.into_iter().filter(|r| r.state == State::Unknown && r.operation == "redeem") {
            let Some(code) = row.voucher_code.as_deref().and_then(|c| VoucherCode::parse(c).ok()) else {
                continue;
            };
            let Ok(client) = self.pesavoucher() else {
                break;
            };
            let verdict = match client.validate_voucher(&code).await {
                Ok(Validation::Invalid(reasons)) => reasons.iter().find_map(|(d, m)| {
                    matches!(d, crate::providers::pesavoucher::Decline::AlreadyRedeemed { .. })
                        .then(|| (State::Completed, format!("reconciled: PesaVoucher says “{m}”")))
                }),
                Ok(Validation::Valid(_)) => {
                    Some((State::Failed, "reconciled: PesaVoucher says the voucher is still unredeemed".to_string()))
                }
                Err(_) => None,
            };
            let Some((state, message)) = verdict else {
                continue;
            };
            let mut entry = voucher_audit(
                actor,
                "reconciled",
                if state == State::Completed { Outcome::Success } else { Outcome::Failure },
                &code,
                message.clone(),
            );
            entry.transaction_id = Some(row.id.clone());
            entry.amount_minor = row.amount_minor;
            entry.currency = row.currency.clone();
            let id = row.id.clone();
            let finish = Finish { message, ..Finish::default() };
            match self.db(move |l| l.finish(&id, state, &finish, &entry)).await {
                Ok(row) => settled.push(row),
                Err(FlowError::Ledger(crate::ledger::LedgerError::AlreadyFinal { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(settled)
    }
}
