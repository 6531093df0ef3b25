//! GiftPesa at the till: a customer's gift balance redeemed at the store's
//! M-Pesa till by name, phone and amount. There is no voucher code: one
//! redemption at a time is guarded on the customer's phone.

use serde::Deserialize;

use super::{Redemption, RedemptionResult, require_cashier};
use crate::error::FlowError;
use crate::ledger::State;
use crate::ledger::transactions::Finish;
use crate::money::Money;
use crate::phone::{Msisdn, TillNumber};
use crate::providers::ProviderId;
use crate::providers::giftpesa::{self, Merchant};
use crate::till::Till;

const PROVIDER: ProviderId = ProviderId::GiftPesa;
/// A completed redemption of the same amount for the same customer this
/// recently is most likely a double submission (a double click, a second
/// till): it is refused unless the cashier confirms a second purchase.
const REPEAT_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// What the cashier typed, checked before anything is written or sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GiftPesaInput {
    pub name: String,
    pub phone: String,
    pub amount: String,
    /// A till other than the configured one, for this redemption only.
    #[serde(default)]
    pub till: Option<String>,
    #[serde(default)]
    pub remarks: Option<String>,
    /// The cashier was told this customer was just given the same amount
    /// and confirms that this is a second purchase.
    #[serde(default)]
    pub confirm_repeat: bool,
}

fn invalid(code: &'static str, message: &str) -> FlowError {
    FlowError::Declined { code, message: message.into() }
}

fn checked_text(value: &str, max: usize, code: &'static str, message: &str) -> Result<String, FlowError> {
    let v = value.trim();
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(code, message));
    }
    Ok(v.to_string())
}

/// `2547…` shown as `2547•••••678`.
fn mask_phone(phone: &Msisdn) -> String {
    let s = phone.as_str();
    s.chars().enumerate().map(|(i, c)| if i >= 4 && i + 3 < s.len() { '•' } else { c }).collect()
}

impl Till {
    pub async fn redeem_giftpesa(&self, cashier: &str, input: &GiftPesaInput) -> Result<RedemptionResult, FlowError> {
        let cashier = require_cashier(cashier)?;
        let name = checked_text(&input.name, 60, "invalid_name", "Type the customer's name (up to 60 characters)")?;
        if name.is_empty() {
            return Err(invalid("invalid_name", "Type the customer's name"));
        }
        let phone = Msisdn::parse(&input.phone)?;
        if phone.country() != crate::phone::Country::Kenya {
            return Err(invalid("invalid_phone", "GiftPesa takes a Kenyan phone number (07…, +2547…, 2547…)"));
        }
        let amount = Money::parse(&input.amount, giftpesa::CURRENCY)?;
        // GiftPesa takes whole shillings: refuse cents instead of dropping them.
        amount.to_wire_whole_units()?;
        let remarks = match &input.remarks {
            Some(r) => Some(checked_text(r, 100, "invalid_remarks", "Remarks are at most 100 plain characters")?),
            None => None,
        }
        .filter(|r| !r.is_empty());
        let configured = self.giftpesa_till();
        let till_text = match input.till.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => t.to_string(),
            None => configured.clone().ok_or_else(|| {
                invalid("till_missing", "No M-Pesa till number is set for GiftPesa: a manager must set it in Settings")
            })?,
        };
        let till = TillNumber::parse(&till_text)?;
        // Money to another till than the store's is worth a line of its own in the log.
        let overridden = configured.as_deref() != Some(till.as_str());

        let r = Redemption {
            provider: PROVIDER,
            cashier,
            key: Some(phone.as_str().to_string()),
            operation: "redeem",
            masked: mask_phone(&phone),
            amount: Some(amount),
        };
        self.refuse_if_blocked(&r, false).await?;
        self.refuse_if_repeated(&r, &name, input.confirm_repeat).await?;
        let client = self.giftpesa().await?;
        if overridden {
            let note = format!(
                "M-Pesa till {} instead of the configured {}",
                till.as_str(),
                configured.as_deref().unwrap_or("(none)")
            );
            self.audit(super::voucher_audit(
                PROVIDER,
                cashier,
                "till_override",
                crate::ledger::Outcome::Info,
                &r.masked,
                note,
            ))
            .await?;
        }
        let intent = self.begin_redemption(&r).await?;
        let request = giftpesa::Redemption {
            transaction_id: &intent.id,
            name: &name,
            phone: &phone,
            till: &till,
            amount,
            remarks: remarks.as_deref(),
        };
        let answer = client.redeem(&request).await;
        let row = self
            .finish_redemption(&r, &intent, &answer, |done| Finish {
                amount_minor: Some(done.amount.minor),
                currency: Some(done.amount.currency.code().into()),
                provider_reference: Some(done.receipt_no.clone()),
                customer_name: Some(name.clone()),
                message: format!(
                    "{} (transaction {}, {} till {})",
                    done.message, done.transaction_code, done.merchant, done.till_no
                ),
            })
            .await?;
        match answer {
            Err(e) if row.state == State::Failed => Err(e.into()),
            _ => Ok(self.conclude(row).await),
        }
    }

    /// GiftPesa has no voucher code to make a second identical submission
    /// fail: the same customer, phone and amount just completed is refused
    /// here until the cashier confirms it (`confirm_repeat`), and the
    /// confirmation is audited. Two submissions at once are refused by the
    /// ledger's one-in-flight guard.
    async fn refuse_if_repeated(&self, r: &Redemption<'_>, name: &str, confirmed: bool) -> Result<(), FlowError> {
        let Some(key) = r.key.clone() else { return Ok(()) };
        let Some(amount) = r.amount else { return Ok(()) };
        let Some(last) = self.db(move |l| l.blocking_redemption(PROVIDER.as_str(), &key)).await? else {
            return Ok(());
        };
        let recent = chrono::DateTime::parse_from_rfc3339(&last.updated_at)
            .is_ok_and(|t| chrono::Utc::now() - t.with_timezone(&chrono::Utc) < REPEAT_WINDOW);
        let same_customer =
            last.customer_name.as_deref().is_some_and(|n| n.trim().to_lowercase() == name.to_lowercase());
        if last.state != State::Completed || last.amount_minor != Some(amount.minor) || !same_customer || !recent {
            return Ok(());
        }
        let when = super::local_time(&last.updated_at);
        let (action, outcome, note, refusal) = if confirmed {
            let note = format!("second redemption of {amount} for this phone confirmed (the last was at {when})");
            ("repeat_confirmed", crate::ledger::Outcome::Info, note, None)
        } else {
            let refusal = FlowError::Declined {
                code: "just_redeemed",
                message: format!(
                    "{amount} was already redeemed for this customer at {when}. Redeem again only if this is \
                     a second purchase"
                ),
            };
            ("redeem_refused", crate::ledger::Outcome::Failure, refusal.to_string(), Some(refusal))
        };
        self.audit(super::voucher_audit(PROVIDER, r.cashier, action, outcome, &r.masked, note)).await?;
        refusal.map_or(Ok(()), Err)
    }

    pub async fn giftpesa_merchants(&self) -> Result<Vec<Merchant>, FlowError> {
        Ok(self.giftpesa().await?.merchants().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked_but_recognisable() {
        let p = Msisdn::parse("0712345678").unwrap();
        assert_eq!(mask_phone(&p), "2547•••••678");
    }
}
