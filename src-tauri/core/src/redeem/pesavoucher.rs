//! PesaVoucher at the till: validate on paste, then redeem the whole voucher.

use super::{Reason, Redemption, RedemptionResult, ValidationResult, require_cashier, voucher_audit};
use crate::error::FlowError;
use crate::ledger::transactions::Finish;
use crate::ledger::{Outcome, State, TransactionRow};
use crate::providers::ProviderId;
use crate::providers::pesavoucher::{Decline, Validation};
use crate::till::Till;
use crate::voucher_code::VoucherCode;

const PROVIDER: ProviderId = ProviderId::PesaVoucher;

impl Till {
    /// Read-only; every check lands in the audit log.
    pub async fn validate_voucher(&self, cashier: &str, raw_code: &str) -> Result<ValidationResult, FlowError> {
        let cashier = require_cashier(cashier)?;
        let code = VoucherCode::parse(raw_code)?;
        let client = self.pesavoucher().await?;
        let answer = client.validate_voucher(&code).await;
        let (outcome, details) = match &answer {
            Ok(Validation::Valid(v)) => (Outcome::Success, format!("valid: {}", v.amount)),
            Ok(Validation::Invalid(reasons)) => {
                (Outcome::Failure, reasons.iter().map(|r| r.1.as_str()).collect::<Vec<_>>().join("; "))
            }
            Err(e) => (Outcome::Failure, super::ProviderFailure::audit_text(e)),
        };
        let mut entry = voucher_audit(PROVIDER, cashier, "validate", outcome, &code.masked(), details);
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

    /// Redeems a voucher at most once. Validates first (the document's
    /// advice), so the intent carries the amount and a voucher that cannot be
    /// redeemed never gets an intent. A lost answer leaves the transaction
    /// `unknown`, returned as a result: the cashier must not hand over goods.
    pub async fn redeem_voucher(&self, cashier: &str, raw_code: &str) -> Result<RedemptionResult, FlowError> {
        let cashier = require_cashier(cashier)?;
        let code = VoucherCode::parse(raw_code)?;
        let mut r = Redemption::of_voucher(PROVIDER, cashier, &code);
        self.refuse_if_blocked(&r, true).await?;

        let client = self.pesavoucher().await?;
        let valid = match client.validate_voucher(&code).await? {
            Validation::Valid(v) => v,
            Validation::Invalid(mut reasons) => {
                let (reason, message) = reasons.remove(0);
                self.audit(voucher_audit(
                    PROVIDER,
                    cashier,
                    "redeem_refused",
                    Outcome::Failure,
                    &code.masked(),
                    message.clone(),
                ))
                .await?;
                return Err(FlowError::Declined { message: reason.plain(&message), code: reason.code() });
            }
        };
        r.amount = Some(valid.amount);
        let intent = self.begin_redemption(&r).await?;
        let answer = client.redeem_voucher(&code, cashier, &intent.id).await;
        let row = self
            .finish_redemption(&r, &intent, &answer, |redeemed| {
                let mut message = format!("Voucher redeemed successfully at {}", redeemed.redeemed_at);
                if redeemed.amount != valid.amount {
                    message.push_str(&format!(
                        " (amount {} differs from the validated {})",
                        redeemed.amount, valid.amount
                    ));
                }
                Finish {
                    amount_minor: Some(redeemed.amount.minor),
                    currency: Some(redeemed.amount.currency.code().into()),
                    provider_reference: Some(redeemed.redeemed_at.clone()),
                    customer_name: redeemed.customer_name.clone().or(valid.customer_name.clone()),
                    message,
                }
            })
            .await?;
        match answer {
            Err(e) if row.state == State::Failed => Err(e.into()),
            _ => Ok(self.conclude(row).await),
        }
    }

    /// "Already redeemed" means ours went through; still valid means it did
    /// not. Anything else (unreachable, not found) stays for a manager.
    pub(crate) async fn pesavoucher_verdict(&self, row: &TransactionRow) -> Option<(State, String)> {
        let code = row.voucher_code.as_deref().and_then(|c| VoucherCode::parse(c).ok())?;
        let client = self.pesavoucher().await.ok()?;
        match client.validate_voucher(&code).await {
            Ok(Validation::Invalid(reasons)) => reasons.iter().find_map(|(d, m)| {
                matches!(d, Decline::AlreadyRedeemed { .. })
                    .then(|| (State::Completed, format!("reconciled: PesaVoucher says “{m}”")))
            }),
            Ok(Validation::Valid(_)) => {
                Some((State::Failed, "reconciled: PesaVoucher says the voucher is still unredeemed".to_string()))
            }
            Err(_) => None,
        }
    }
}
