//! Telesend gift vouchers at the till: claim (the customer gets an SMS
//! code), then redeem with that code, in full or in part. Anonymous
//! vouchers skip the claim.

use serde::Serialize;

use super::{Redemption, RedemptionResult, require_cashier, voucher_audit};
use crate::error::FlowError;
use crate::ledger::claims::{Claim, ClaimEnd};
use crate::ledger::transactions::Finish;
use crate::ledger::{Outcome, State};
use crate::money::Money;
use crate::providers::ProviderId;
use crate::providers::telesend::{self, Decline, TelesendError};
use crate::till::{MoneyView, Till};
use crate::voucher_code::VoucherCode;

const PROVIDER: ProviderId = ProviderId::Telesend;

#[derive(Debug, Clone, Serialize)]
pub struct ClaimResult {
    pub claim_id: String,
    pub code_masked: String,
    /// `None`: the whole remaining value of the voucher.
    pub amount: Option<MoneyView>,
    pub message: String,
    /// Training mode only: the code the customer's phone would have shown.
    pub training_sms_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DenominationView {
    pub id: u64,
    pub active: bool,
    pub amount: MoneyView,
}

fn parse_amount(raw: Option<&str>) -> Result<Option<Money>, FlowError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let amount = Money::parse(s, telesend::CURRENCY)?;
            // Sent as a JSON float: refused here if it cannot be sent exactly.
            amount.to_wire_f64()?;
            Ok(Some(amount))
        }
    }
}

fn parse_verification(raw: Option<&str>) -> Result<Option<String>, FlowError> {
    let Some(code) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    if code.len() > 12 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FlowError::Declined {
            code: "invalid_verification_code",
            message: "The SMS code has only letters and digits (up to 12): ask the customer to read it again".into(),
        });
    }
    Ok(Some(code.to_string()))
}

impl Till {
    /// Asks Telesend to send the voucher's owner an SMS code, reserving
    /// `amount` (or the whole remaining value). No money moves yet; calling
    /// it again for the same voucher resends the code.
    pub async fn claim_gift(
        &self,
        cashier: &str,
        raw_code: &str,
        raw_amount: Option<&str>,
    ) -> Result<ClaimResult, FlowError> {
        let cashier = require_cashier(cashier)?;
        let code = VoucherCode::parse(raw_code)?;
        let amount = parse_amount(raw_amount)?;
        let r = Redemption { amount, ..Redemption::of_voucher(PROVIDER, cashier, &code) };
        self.refuse_if_blocked(&r, false).await?;
        let client = self.telesend().await?;

        let claim = Claim {
            id: uuid::Uuid::now_v7().to_string(),
            created_at: String::new(),
            till_id: String::new(),
            cashier: cashier.to_string(),
            provider: PROVIDER.as_str().into(),
            voucher_code: code.expose().into(),
            code_masked: code.masked(),
            amount_minor: amount.map(|a| a.minor),
            currency: telesend::CURRENCY.code().into(),
            training: self.is_training(),
        };
        let mut requested = voucher_audit(
            PROVIDER,
            cashier,
            "claim_requested",
            Outcome::Info,
            &code.masked(),
            "asking Telesend to send the customer an SMS code".into(),
        );
        requested.amount_minor = claim.amount_minor;
        requested.currency = Some(claim.currency.clone());
        let claim = self.db(move |l| l.open_claim(&claim, &requested)).await?;

        match client.initiate_claim(&code, amount).await {
            Ok(message) => {
                self.audit(voucher_audit(PROVIDER, cashier, "claim_sent", Outcome::Success, &code.masked(), message))
                    .await?;
                Ok(ClaimResult {
                    claim_id: claim.id,
                    code_masked: code.masked(),
                    amount: amount.map(MoneyView::from),
                    message: "The customer has been sent an SMS code: type the code they read out.".into(),
                    training_sms_code: self.training_sms_code(&code),
                })
            }
            Err(e) => {
                let details = super::ProviderFailure::audit_text(&e);
                let failed =
                    voucher_audit(PROVIDER, cashier, "claim_failed", Outcome::Failure, &code.masked(), details);
                let id = claim.id.clone();
                self.db(move |l| l.end_claim(&id, ClaimEnd::Cancelled, Some(&failed))).await?;
                Err(e.into())
            }
        }
    }

    /// The SMS code from the built-in simulator, so a trainee can finish a
    /// claim; never in sandbox or live mode.
    fn training_sms_code(&self, code: &VoucherCode) -> Option<String> {
        if !self.is_training() {
            return None;
        }
        self.simulators()?.telesend.sms_code(code.expose())
    }

    /// Redeems with the customer's SMS code (none for anonymous vouchers).
    /// A wrong code keeps the claim open, so the cashier can retype it.
    pub async fn redeem_gift(
        &self,
        cashier: &str,
        raw_code: &str,
        verification_code: Option<&str>,
    ) -> Result<RedemptionResult, FlowError> {
        let cashier = require_cashier(cashier)?;
        let code = VoucherCode::parse(raw_code)?;
        let verification = parse_verification(verification_code)?;
        let mut r = Redemption::of_voucher(PROVIDER, cashier, &code);
        self.refuse_if_blocked(&r, false).await?;
        let client = self.telesend().await?;
        let (p, c) = (PROVIDER.as_str(), code.expose().to_string());
        let claim = self.db(move |l| l.open_claim_for(p, &c)).await?;
        r.amount = claim.as_ref().and_then(|c| c.amount_minor).map(|m| Money::new(m, telesend::CURRENCY));

        let intent = self.begin_redemption(&r).await?;
        let answer = client.redeem_gift(&code, verification.as_deref(), self.telesend_merchant_id()).await;
        let row = self
            .finish_redemption(&r, &intent, &answer, |redeemed| Finish {
                provider_reference: Some(redeemed.reference_number.clone()),
                message: redeemed.response.clone(),
                ..Finish::default()
            })
            .await?;

        let claim_over = match &answer {
            Ok(_) => Some(ClaimEnd::Redeemed),
            Err(TelesendError::Declined { reason, .. }) => match reason {
                Decline::AlreadyRedeemed | Decline::NoSuchVoucher | Decline::Expired | Decline::Restricted => {
                    Some(ClaimEnd::Cancelled)
                }
                _ => None,
            },
            Err(_) => None,
        };
        if let (Some(end), Some(claim)) = (claim_over, &claim) {
            let id = claim.id.clone();
            let event = if end == ClaimEnd::Redeemed { "claim_redeemed" } else { "claim_closed" };
            let entry = voucher_audit(PROVIDER, cashier, event, Outcome::Info, &code.masked(), "claim closed".into());
            self.db(move |l| l.end_claim(&id, end, Some(&entry))).await?;
        }
        match answer {
            Err(e) if row.state == State::Failed => Err(e.into()),
            _ => {
                let mut result = self.conclude(row).await;
                if result.state == "completed" && result.amount.is_none() {
                    // Anonymous or whole-value redemptions: only Telesend knows the
                    // amount, and its answer says it.
                    let said = answer.as_ref().map(|a| a.response.as_str()).unwrap_or_default();
                    result.message = format!("Redeemed ({said}): hand over the goods");
                }
                Ok(result)
            }
        }
    }

    /// The cashier gives up on a claim (the customer has no phone at hand …).
    pub async fn cancel_claim(&self, cashier: &str, raw_code: &str) -> Result<bool, FlowError> {
        let cashier = require_cashier(cashier)?;
        let code = VoucherCode::parse(raw_code)?;
        let (p, c) = (PROVIDER.as_str(), code.expose().to_string());
        let Some(claim) = self.db(move |l| l.open_claim_for(p, &c)).await? else { return Ok(false) };
        let entry = voucher_audit(
            PROVIDER,
            cashier,
            "claim_cancelled",
            Outcome::Info,
            &code.masked(),
            "cancelled by the cashier".into(),
        );
        self.db(move |l| l.end_claim(&claim.id, ClaimEnd::Cancelled, Some(&entry))).await?;
        Ok(true)
    }

    pub async fn gift_denominations(&self) -> Result<Vec<DenominationView>, FlowError> {
        let list = self.telesend().await?.gift_denominations().await?;
        Ok(list.into_iter().map(|d| DenominationView { id: d.id, active: d.active, amount: d.amount.into() }).collect())
    }
}
