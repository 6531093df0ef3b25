//! Pesapal checkout at the till: submit an order (our transaction id is the
//! merchant reference, written as the intent first), let the customer pay
//! in the checkout window or on their phone, then ask GetTransactionStatus
//! until the payment is final. A callback or an IPN carries no status, so
//! every report leads to a status query, and a payment is recorded once,
//! after its reference, currency and amount are checked.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use url::Url;

use super::{Redemption, RedemptionResult, redemption_result, require_cashier};
use crate::error::FlowError;
use crate::ledger::transactions::Finish;
use crate::ledger::{AuditEntry, LedgerError, Outcome, State, TransactionRow};
use crate::money::{Currency, Money};
use crate::phone::Msisdn;
use crate::providers::ProviderId;
use crate::providers::pesapal::{
    self, BillingAddress, IpnNotificationType, OrderRequest, PaymentStatus, TransactionStatus,
};
use crate::till::{MoneyView, Till};

const PROVIDER: ProviderId = ProviderId::Pesapal;
const IPN_KEY: &str = "ipn_id";
const CURRENCY: Currency = Currency::KES;
/// Marks a checkout Pesapal reversed after we recorded it paid: it waits for
/// a manager, whatever Pesapal says next.
const REVERSED_AFTER_PAID: &str = "Pesapal reversed this payment after it was recorded as paid: the money went back \
     to the customer. A manager must check it";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckoutInput {
    pub amount: String,
    pub description: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

/// A QR code as rows of '1' (dark) and '0' (light): the UI draws it, so no
/// markup crosses IPC.
#[derive(Debug, Clone, Serialize)]
pub struct QrMatrix {
    pub width: usize,
    pub modules: String,
}

impl QrMatrix {
    pub fn encode(text: &str) -> QrMatrix {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("a URL fits in a QR code");
        let modules = code.to_colors().iter().map(|c| if *c == qrcode::Color::Dark { '1' } else { '0' }).collect();
        QrMatrix { width: code.width(), modules }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckoutStarted {
    pub transaction_id: String,
    pub order_tracking_id: String,
    pub redirect_url: String,
    pub callback_url: String,
    pub amount: MoneyView,
    pub qr: QrMatrix,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckoutStatus {
    pub transaction_id: String,
    /// pending, completed, failed or unknown (the ledger's state).
    pub state: String,
    /// Pesapal's status: INVALID (not paid yet), COMPLETED, FAILED, REVERSED.
    pub status: Option<PaymentStatus>,
    pub description: Option<String>,
    pub payment_method: Option<String>,
    pub confirmation_code: Option<String>,
    pub payment_account: Option<String>,
    pub message: String,
    pub result: Option<RedemptionResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IpnEntryView {
    pub ipn_id: String,
    pub url: String,
    pub created_date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IpnSettings {
    pub chosen: Option<String>,
    pub entries: Vec<IpnEntryView>,
}

fn invalid(code: &'static str, message: impl Into<String>) -> FlowError {
    FlowError::Declined { code, message: message.into() }
}

fn text(value: Option<&str>, max: usize, code: &'static str, what: &str) -> Result<Option<String>, FlowError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(code, format!("{what} is at most {max} plain characters")));
    }
    Ok(Some(v.to_string()))
}

fn email(value: Option<&str>) -> Result<Option<String>, FlowError> {
    let Some(e) = text(value, 100, "invalid_email", "The email address")? else { return Ok(None) };
    let ok = e.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
        && !e.chars().any(|c| c.is_whitespace() || c == '<' || c == '>');
    if !ok {
        return Err(invalid("invalid_email", "That email address does not look right"));
    }
    Ok(Some(e))
}

/// `j•••@example.com` or the phone masked like GiftPesa's.
fn mask_contact(phone: Option<&Msisdn>, email: Option<&str>) -> String {
    if let Some(p) = phone {
        let s = p.as_str();
        return s.chars().enumerate().map(|(i, c)| if i >= 4 && i + 3 < s.len() { '•' } else { c }).collect();
    }
    match email.and_then(|e| e.split_once('@')) {
        Some((user, domain)) => format!("{}•••@{domain}", user.chars().next().unwrap_or('•')),
        None => String::new(),
    }
}

impl Till {
    /// Where the customer's browser goes after paying: configured (https),
    /// or the simulator's page in training. The checkout window never loads
    /// it: its navigation there is caught.
    pub fn pesapal_callback_url(&self) -> Result<Url, FlowError> {
        let configured = self.config().providers.get(&PROVIDER).and_then(|p| p.callback_url.clone());
        let raw = match configured {
            Some(url) => url,
            // Training: a page on the simulator's host (built in, or `kaunta simulate`).
            None if self.is_training() => {
                let mut url = self.provider_base_url(PROVIDER)?;
                url.set_path("/pesapal/callback");
                url.set_query(None);
                url.to_string()
            }
            None => {
                return Err(invalid(
                    "callback_missing",
                    "Pesapal needs a callback page: set [providers.pesapal] callback_url in config.toml",
                ));
            }
        };
        let url = Url::parse(&raw).map_err(|_| invalid("callback_missing", "The Pesapal callback_url is not a URL"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1") | Some("localhost") | Some("[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(invalid("callback_missing", "The Pesapal callback_url must use https"));
        }
        Ok(url)
    }

    fn pesapal_environment(&self) -> &'static str {
        self.config().environment.as_str()
    }

    /// The IPN every order names: chosen by a manager and kept in the
    /// database. Training registers one with the simulator on first use.
    async fn pesapal_ipn_id(&self) -> Result<String, FlowError> {
        let env = self.pesapal_environment();
        if let Some(id) = self.db(move |l| l.setting(PROVIDER.as_str(), env, IPN_KEY)).await? {
            return Ok(id);
        }
        if !self.is_training() {
            return Err(invalid(
                "ipn_missing",
                "No Pesapal IPN is chosen: a manager must register or choose one in Settings",
            ));
        }
        let url = self.pesapal_callback_url()?;
        Ok(self
            .register_pesapal_ipn("system", url.as_str(), IpnNotificationType::Get)
            .await?
            .chosen
            .unwrap_or_default())
    }

    pub async fn checkout_pesapal(&self, cashier: &str, input: &CheckoutInput) -> Result<CheckoutStarted, FlowError> {
        let cashier = require_cashier(cashier)?;
        let amount = Money::parse(&input.amount, CURRENCY)?;
        // Pesapal takes a JSON float: refuse what it cannot carry exactly
        // before an intent is written.
        amount.to_wire_f64()?;
        let description = text(Some(&input.description), 100, "invalid_description", "The description")?
            .ok_or_else(|| invalid("invalid_description", "Describe what the customer is paying for"))?;
        let phone = input.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(Msisdn::parse).transpose()?;
        if phone.as_ref().is_some_and(|p| p.country() != crate::phone::Country::Kenya) {
            return Err(invalid("invalid_phone", "Pesapal checkouts here take a Kenyan phone number (07…, +2547…)"));
        }
        let email = email(input.email.as_deref())?;
        if phone.is_none() && email.is_none() {
            return Err(invalid("contact_missing", "Enter the customer's phone number or email address"));
        }
        let first_name = text(input.first_name.as_deref(), 40, "invalid_name", "The first name")?;
        let last_name = text(input.last_name.as_deref(), 40, "invalid_name", "The last name")?;
        let callback = self.pesapal_callback_url()?;
        let client = self.pesapal().await?;
        let notification_id = self.pesapal_ipn_id().await?;

        let r = Redemption {
            provider: PROVIDER,
            cashier,
            key: None,
            operation: "checkout",
            masked: mask_contact(phone.as_ref(), email.as_deref()),
            amount: Some(amount),
        };
        let intent = self.begin_redemption(&r).await?;
        let billing = BillingAddress {
            phone_number: phone,
            email_address: email,
            first_name,
            last_name,
            country_code: Some("KE".into()),
            ..BillingAddress::default()
        };
        let order = OrderRequest {
            merchant_reference: &intent.id,
            amount,
            description: &description,
            callback_url: &callback,
            cancellation_url: None,
            redirect_mode: None,
            notification_id: &notification_id,
            branch: Some(&self.config().store_name),
            billing_address: &billing,
        };
        let submitted = client.submit_order(&order).await;
        match submitted {
            Ok(s) => {
                let entry = AuditEntry {
                    provider: Some(PROVIDER.as_str().into()),
                    subject: Some(r.masked.clone()),
                    transaction_id: Some(intent.id.clone()),
                    amount_minor: Some(amount.minor),
                    currency: Some(CURRENCY.code().into()),
                    ..AuditEntry::new(
                        cashier,
                        "checkout_opened",
                        Outcome::Info,
                        format!("order {}", s.order_tracking_id),
                    )
                };
                let (id, tracking) = (intent.id.clone(), s.order_tracking_id.clone());
                self.db(move |l| l.set_reference(&id, &tracking, &entry)).await?;
                Ok(CheckoutStarted {
                    transaction_id: intent.id.clone(),
                    qr: QrMatrix::encode(s.redirect_url.as_str()),
                    order_tracking_id: s.order_tracking_id,
                    redirect_url: s.redirect_url.to_string(),
                    callback_url: callback.to_string(),
                    amount: amount.into(),
                })
            }
            Err(e) => {
                let failed: Result<(), NoPaymentTaken> = Err(NoPaymentTaken(e));
                self.finish_redemption(&r, &intent, &failed, |_| Finish::default()).await?;
                let Err(NoPaymentTaken(e)) = failed else { unreachable!("built as an error above") };
                Err(FlowError::Declined {
                    code: "checkout_not_created",
                    message: format!("The order could not be opened: {e} No payment was taken; you can try again."),
                })
            }
        }
    }

    /// Asks Pesapal once and records a final answer. Idempotent: a
    /// transaction already final is reported as it is.
    pub async fn pesapal_status(&self, actor: &str, transaction_id: &str) -> Result<CheckoutStatus, FlowError> {
        let lookup = transaction_id.to_string();
        let row = self.db(move |l| l.transaction(&lookup)).await?.ok_or(FlowError::NoSuchTransaction)?;
        if row.provider != PROVIDER.as_str() || row.operation != "checkout" {
            return Err(FlowError::NoSuchTransaction);
        }
        if row.state.is_final() {
            return Ok(self.status_of_row(row, None, false).await);
        }
        let Some(tracking) = row.provider_reference.clone() else {
            return Ok(self.status_of_row(row, None, false).await);
        };
        let status = self.pesapal().await?.transaction_status(&tracking).await?;
        let (row, settled_now) = self.settle_pesapal(actor, row, &status).await?;
        Ok(self.status_of_row(row, Some(status), settled_now).await)
    }

    /// Polls with a growing pause until the payment is final or `within` has
    /// passed; the UI calls it again while it is pending.
    pub async fn wait_pesapal(
        &self,
        actor: &str,
        transaction_id: &str,
        within: Duration,
    ) -> Result<CheckoutStatus, FlowError> {
        let deadline = Instant::now() + within;
        // While the cashier waits, this process's reconciler leaves the order
        // to this loop; a pass already asking about it keeps it instead.
        let _held = self.lease().hold(transaction_id);
        let mut pause = Duration::from_millis(500);
        loop {
            let status = self.pesapal_status(actor, transaction_id).await?;
            if status.state != "pending" || Instant::now() + pause > deadline {
                return Ok(status);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(4));
        }
    }

    /// Records a final status once, after checking it belongs to this order.
    /// Returns the row and whether this call moved it to a final state (only
    /// then is a receipt printed: repeated reports print nothing).
    async fn settle_pesapal(
        &self,
        actor: &str,
        row: TransactionRow,
        status: &TransactionStatus,
    ) -> Result<(TransactionRow, bool), FlowError> {
        let expected = MoneyView::from_parts(row.amount_minor, row.currency.as_deref())
            .and_then(|m| Some(Money::new(m.minor, m.currency.parse().ok()?)));
        if row.state.is_final() || row.outcome_message.as_deref() == Some(REVERSED_AFTER_PAID) {
            return self.amend_pesapal(actor, row, status, expected).await;
        }
        let (state, outcome, message, reference) = match status.status {
            PaymentStatus::Invalid => return Ok((row, false)),
            PaymentStatus::Completed => match expected.map(|e| status.confirms(&row.id, e)) {
                Some(Ok(())) => (
                    State::Completed,
                    Outcome::Success,
                    format!(
                        "Paid by {} {}, confirmation {}",
                        status.payment_method, status.payment_account, status.confirmation_code
                    ),
                    None,
                ),
                Some(Err(mismatch)) => {
                    (State::Unknown, Outcome::Failure, format!("{mismatch}: a manager must check this payment"), None)
                }
                None => (State::Unknown, Outcome::Failure, "The order's amount is not recorded".into(), None),
            },
            PaymentStatus::Failed => (
                State::Failed,
                Outcome::Failure,
                format!("Payment failed: {}", non_empty(&status.description, &status.payment_status_description)),
                None,
            ),
            PaymentStatus::Reversed => {
                (State::Failed, Outcome::Failure, "The payment was reversed: no money was kept".to_string(), None)
            }
        };
        if state == row.state {
            return Ok((row, false));
        }
        let entry = AuditEntry::about(&row, actor, "checkout_outcome", outcome, format!("{state}: {message}"));
        // The order tracking id stays the reference: it is how Pesapal is asked.
        let finish = Finish { provider_reference: reference, message, ..Finish::default() };
        let id = row.id.clone();
        match self.db(move |l| l.finish(&id, state, &finish, &entry)).await {
            Ok(row) => Ok((row, true)),
            // Another report (callback, poll, a second till) recorded it first.
            Err(FlowError::Ledger(LedgerError::AlreadyFinal { .. })) => {
                let id = row.id.clone();
                Ok((self.db(move |l| l.transaction(&id)).await?.unwrap_or(row), false))
            }
            Err(e) => Err(e),
        }
    }

    /// Pesapal changed its answer about a final order. The money decides:
    /// paid after a reported failure is completed (audited as such);
    /// reversed after it was recorded as paid goes to a manager, since the
    /// goods have most likely left the store. Anything else changes nothing.
    async fn amend_pesapal(
        &self,
        actor: &str,
        row: TransactionRow,
        status: &TransactionStatus,
        expected: Option<Money>,
    ) -> Result<(TransactionRow, bool), FlowError> {
        let (to, outcome, message, event) = match (row.state, status.status) {
            (State::Failed, PaymentStatus::Completed) => match expected.map(|e| status.confirms(&row.id, e)) {
                Some(Ok(())) => (
                    State::Completed,
                    Outcome::Success,
                    format!(
                        "Paid after Pesapal first reported it failed: paid by {} {}, confirmation {}",
                        status.payment_method, status.payment_account, status.confirmation_code
                    ),
                    "checkout_paid_after_failure",
                ),
                Some(Err(mismatch)) => (
                    State::Unknown,
                    Outcome::Failure,
                    format!("Paid after Pesapal first reported it failed, but {mismatch}: a manager must check it"),
                    "checkout_paid_after_failure",
                ),
                None => return Ok((row, false)),
            },
            // A manager who settled it as paid already knew of the reversal.
            (State::Completed, PaymentStatus::Reversed) if !super::resolved_by_manager(&row) => {
                (State::Unknown, Outcome::Failure, REVERSED_AFTER_PAID.to_string(), "checkout_reversed")
            }
            _ => return Ok((row, false)),
        };
        let entry = AuditEntry::about(&row, actor, event, outcome, format!("{} to {to}: {message}", row.state));
        let finish = Finish { message, ..Finish::default() };
        let (id, from) = (row.id.clone(), row.state);
        match self.db(move |l| l.amend(&id, from, to, &finish, &entry)).await? {
            Some(amended) => Ok((amended, true)),
            // Another settler moved it first.
            None => {
                let id = row.id.clone();
                Ok((self.db(move |l| l.transaction(&id)).await?.unwrap_or(row), false))
            }
        }
    }

    /// The answer for the UI; the receipt prints only when `settled_now`.
    async fn status_of_row(
        &self,
        row: TransactionRow,
        status: Option<TransactionStatus>,
        settled_now: bool,
    ) -> CheckoutStatus {
        let state = row.state;
        let result = match state {
            State::Completed if settled_now => Some(self.conclude(row.clone()).await),
            State::Completed => Some(redemption_result(row.clone(), None)),
            State::Unknown => Some(redemption_result(row.clone(), None)),
            _ => None,
        };
        let message = match state {
            State::Pending => "Waiting for payment".to_string(),
            _ => row.outcome_message.clone().unwrap_or_default(),
        };
        CheckoutStatus {
            transaction_id: row.id,
            state: state.as_str().into(),
            status: status.as_ref().map(|s| s.status),
            description: status.as_ref().map(|s| s.payment_status_description.clone()),
            payment_method: status.as_ref().map(|s| s.payment_method.clone()).filter(|s| !s.is_empty()),
            confirmation_code: status.as_ref().map(|s| s.confirmation_code.clone()).filter(|s| !s.is_empty()),
            payment_account: status.as_ref().map(|s| s.payment_account.clone()).filter(|s| !s.is_empty()),
            message,
            result,
        }
    }

    /// For reconciling: Pesapal's word on an open checkout, or a changed
    /// word on a final one, recorded once.
    pub(crate) async fn pesapal_verdict(&self, row: &TransactionRow) -> Option<TransactionRow> {
        let tracking = row.provider_reference.clone()?;
        let status = self.pesapal().await.ok()?.transaction_status(&tracking).await.ok()?;
        let (settled, settled_now) = self.settle_pesapal("system", row.clone(), &status).await.ok()?;
        if settled_now && settled.state == State::Completed {
            self.print_receipt(&settled, None).await;
        }
        // Reported when it moved: to a final state, or out of one.
        (settled_now && (settled.state.is_final() || row.state.is_final())).then_some(settled)
    }

    pub async fn register_pesapal_ipn(
        &self,
        actor: &str,
        url: &str,
        method: IpnNotificationType,
    ) -> Result<IpnSettings, FlowError> {
        let url = Url::parse(url.trim()).map_err(|_| invalid("invalid_url", "The IPN address is not a URL"))?;
        let registered = self.pesapal().await?.register_ipn(&url, method).await?;
        self.choose_pesapal_ipn(actor, &registered.ipn_id).await
    }

    pub async fn choose_pesapal_ipn(&self, actor: &str, ipn_id: &str) -> Result<IpnSettings, FlowError> {
        let ipn_id = text(Some(ipn_id), 64, "invalid_ipn", "The IPN id")?
            .ok_or_else(|| invalid("invalid_ipn", "Choose an IPN"))?;
        let env = self.pesapal_environment();
        let entry = AuditEntry {
            provider: Some(PROVIDER.as_str().into()),
            ..AuditEntry::new(
                actor,
                "settings_changed",
                Outcome::Success,
                format!("Pesapal IPN {ipn_id} chosen for {env}"),
            )
        };
        self.db(move |l| l.set_setting(PROVIDER.as_str(), env, IPN_KEY, &ipn_id, &entry)).await?;
        self.pesapal_ipns().await
    }

    pub async fn pesapal_ipns(&self) -> Result<IpnSettings, FlowError> {
        let env = self.pesapal_environment();
        let chosen = self.db(move |l| l.setting(PROVIDER.as_str(), env, IPN_KEY)).await?;
        let entries = self
            .pesapal()
            .await?
            .ipn_list()
            .await?
            .into_iter()
            .map(|e| IpnEntryView {
                ipn_id: e.ipn_id,
                url: e.url,
                created_date: e.created_date.map(|d| d.to_rfc3339()),
            })
            .collect();
        Ok(IpnSettings { chosen, entries })
    }
}

/// A failed SubmitOrderRequest, lost answer or not: without the redirect
/// URL nobody can pay the order, so no money moved and it simply failed.
struct NoPaymentTaken(pesapal::PesapalError);

impl std::fmt::Display for NoPaymentTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} No payment was taken.", self.0)
    }
}

impl super::ProviderFailure for NoPaymentTaken {
    fn outcome_unknown(&self) -> bool {
        false
    }

    fn detail(&self) -> Option<&str> {
        self.0.detail()
    }
}

fn non_empty(a: &str, b: &str) -> String {
    if a.trim().is_empty() { b.to_string() } else { a.to_string() }
}
