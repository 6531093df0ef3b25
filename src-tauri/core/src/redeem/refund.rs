//! A refund as a PesaVoucher: a manager sends the customer a new voucher
//! (POST /create_voucher) for an amount within the documented limits. It
//! follows the redemption lifecycle (intent, one call, outcome, receipt), so
//! a lost answer leaves it `unknown` for a manager to resolve, and our
//! transaction id travels as `unique_id` to match it later.

use super::{Redemption, RedemptionResult};
use crate::error::FlowError;
use crate::ledger::transactions::Finish;
use crate::money::{Currency, Money};
use crate::providers::ProviderId;
use crate::staff::{Staff, StaffError};
use crate::till::Till;
use crate::voucher_code::VoucherCode;

/// pesavoucher-api.txt, Create Voucher: "min: 50.00, max: 150,000.00 KES".
pub const MIN_REFUND: Money = Money::new(5_000, Currency::KES);
pub const MAX_REFUND: Money = Money::new(15_000_000, Currency::KES);
const MAX_MESSAGE: usize = 300;

/// A customer's email as the manager typed it: checked for shape only; the
/// provider says whether it is a registered PesaVoucher user.
fn parse_email(raw: &str) -> Result<String, FlowError> {
    let email = raw.trim();
    let bad = || FlowError::Declined {
        code: "invalid_email",
        message: "Type the customer's email address, the one registered on PesaVoucher".into(),
    };
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
        || domain.contains('@')
    {
        return Err(bad());
    }
    Ok(email.to_string())
}

/// "amina@example.com" as "a•••@example.com": enough to recognise, not to harvest.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}•••@{domain}", local.chars().next().unwrap_or('•')),
        None => "•••".into(),
    }
}

impl Till {
    pub async fn refund_voucher(
        &self,
        manager: &Staff,
        email: &str,
        amount: &str,
        message: Option<&str>,
    ) -> Result<RedemptionResult, FlowError> {
        if !manager.is_manager() {
            return Err(StaffError::NotManager.into());
        }
        let email = parse_email(email)?;
        let amount = Money::parse(amount, Currency::KES)?;
        if amount.minor < MIN_REFUND.minor || amount.minor > MAX_REFUND.minor {
            return Err(FlowError::Declined {
                code: "amount_out_of_range",
                message: format!("A refund voucher is between {MIN_REFUND} and {MAX_REFUND}"),
            });
        }
        let message = message.map(str::trim).filter(|m| !m.is_empty());
        if message.is_some_and(|m| m.chars().count() > MAX_MESSAGE || m.chars().any(char::is_control)) {
            return Err(FlowError::Declined {
                code: "invalid_message",
                message: format!("Keep the message to one line of up to {MAX_MESSAGE} characters"),
            });
        }
        let client = self.pesavoucher().await?;
        let r = Redemption {
            provider: ProviderId::PesaVoucher,
            cashier: &manager.name,
            // The ledger's one-in-flight guard, keyed on customer and amount: a
            // second refund while one is pending or unknown is refused, so a
            // lost answer cannot turn into two vouchers.
            key: Some(format!("refund:{}:{}", email.to_lowercase(), amount.minor)),
            operation: "create_voucher",
            masked: mask_email(&email),
            amount: Some(amount),
        };
        let intent = match self.begin_redemption(&r).await {
            Err(FlowError::InFlight) => {
                return Err(FlowError::Declined {
                    code: "refund_in_flight",
                    message: format!(
                        "A {amount} refund to {} is already being sent or awaits a manager's check \
                         (Unknown outcomes): settle that one first",
                        mask_email(&email)
                    ),
                });
            }
            other => other?,
        };
        let answer = client.create_voucher(&email, amount, &intent.id, message).await;
        let row = self
            .finish_redemption(&r, &intent, &answer, |created| Finish {
                amount_minor: Some(created.amount.minor),
                currency: Some(created.amount.currency.code().into()),
                provider_reference: created.transaction_id.clone(),
                customer_name: None,
                // The new voucher is the customer's money: kept masked, like every code.
                message: format!(
                    "refund voucher {} sent to {}",
                    VoucherCode::parse(&created.voucher_code).map_or_else(|_| "(code)".into(), |c| c.masked()),
                    mask_email(&email)
                ),
            })
            .await?;
        Ok(self.conclude(row).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_shape_and_masked() {
        assert_eq!(parse_email("  amina@example.com ").unwrap(), "amina@example.com");
        for bad in ["", "amina", "@example.com", "amina@", "amina@example", "a b@example.com", "a@b@c.com"] {
            assert!(parse_email(bad).is_err(), "{bad:?}");
        }
        assert_eq!(mask_email("amina@example.com"), "a•••@example.com");
    }

    #[test]
    fn the_documented_limits_are_ksh_50_and_150_000() {
        assert_eq!(MIN_REFUND.to_wire_f64().unwrap(), 50.0);
        assert_eq!(MAX_REFUND.to_wire_f64().unwrap(), 150_000.0);
    }
}
