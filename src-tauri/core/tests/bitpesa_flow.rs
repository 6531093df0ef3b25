//! BitPesa payouts below the window: a manager's payout created, funded and
//! followed to paid with a remittance slip; the store's sender re-used; a
//! failed payout cancelled and refunded; lost answers looked up by
//! external_id and reconciled; every step in the audit log.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kaunta_core::ledger::State;
use kaunta_core::money::{Currency, Money};
use kaunta_core::redeem::payout::{PayoutInput, WebhookDelivery};
use kaunta_core::staff::{Role, Staff};
use kaunta_core::training::Fault;
use kaunta_core::training::bitpesa::OPENING_BALANCES;
use support::{TestTill, till};

fn manager() -> Staff {
    Staff { name: "Njeri".into(), role: Role::Manager }
}

fn refund(amount: &str, phone: &str) -> PayoutInput {
    let recipient: BTreeMap<String, String> =
        [("first_name", "Amina"), ("last_name", "Wanjiru"), ("phone_number", phone)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    PayoutInput {
        corridor: "KES::Mobile".into(),
        amount: amount.into(),
        recipient,
        reason: "Refund of order 123".into(),
    }
}

fn kes(minor: i64) -> Money {
    Money::new(minor, Currency::KES)
}

const OPENING_KES: i64 = OPENING_BALANCES[0].1;

fn events_of(t: &TestTill, id: &str) -> Vec<String> {
    t.till.ledger().audit_trail(id).unwrap().into_iter().map(|e| e.event).collect()
}

#[tokio::test]
async fn a_refund_is_paid_out_to_mpesa_with_a_slip_and_every_step_audited() {
    let t = till().await;
    let balances = t.till.bitpesa_balances(&manager()).await.unwrap();
    assert_eq!(
        balances.iter().find(|b| b.currency == "KES").unwrap().amount.as_ref().unwrap().display,
        "KES 500,000.00"
    );

    let started = t.till.start_payout(&manager(), &refund("1,500", "0712 345 678")).await.unwrap();
    assert_eq!(started.state, "pending", "{started:?}");
    assert_eq!(started.corridor, "KES::Mobile");
    assert_eq!(started.recipient, "Amina W. 2547•••••678");
    assert_eq!(started.amount.as_ref().unwrap().display, "KES 1,500.00");
    assert_eq!(started.reason.as_deref(), Some("Refund of order 123"));
    assert!(started.bitpesa_id.is_some());
    let row = t.till.ledger().transaction(&started.transaction_id).unwrap().unwrap();
    assert_eq!((row.operation.as_str(), row.provider.as_str()), ("payout", "bitpesa"));
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    assert_eq!(sim.transaction(&started.transaction_id).unwrap().external_id, started.transaction_id);
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 150_000)));

    let done = t.till.follow_payout("Njeri", &started.transaction_id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(done.state, "completed", "{done:?}");
    assert_eq!(done.provider_state.as_deref(), Some("paid"));
    assert_eq!(done.output.as_ref().unwrap().display, "KES 1,500.00");
    assert!(done.receipt.is_some(), "the remittance slip prints");
    assert!(!done.may_cancel);
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 150_000)), "paid once");

    let events = events_of(&t, &started.transaction_id);
    for step in
        ["redeem_attempt", "payout_created", "payout_funded", "payout_status", "payout_outcome", "receipt_printed"]
    {
        assert!(events.iter().any(|e| e == step), "{step} missing from {events:?}");
    }
    // A second look records nothing new and prints nothing.
    let again = t.till.refresh_payout(&manager(), &started.transaction_id).await.unwrap();
    assert!(again.receipt.is_none());
    assert_eq!(events_of(&t, &started.transaction_id).len(), events.len());
    assert!(t.till.ledger().verify_audit(|_| {}).unwrap().first_bad.is_none());
}

#[tokio::test]
async fn the_store_is_created_as_a_sender_once_and_found_by_external_id_when_forgotten() {
    let t = till().await;
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    t.till.start_payout(&manager(), &refund("100", "0712345678")).await.unwrap();
    t.till.start_payout(&manager(), &refund("200", "0712345678")).await.unwrap();
    assert_eq!(sim.sender_creations(), 1);
    // The remembered sender id is lost: found again by its external_id, not created.
    rusqlite::Connection::open(t.till.ledger().path())
        .unwrap()
        .execute("DELETE FROM provider_settings WHERE provider = 'bitpesa'", [])
        .unwrap();
    t.till.start_payout(&manager(), &refund("300", "0712345678")).await.unwrap();
    assert_eq!(sim.sender_creations(), 1);
    assert_eq!(sim.transaction_creations(), 3);
    let senders: Vec<String> = sim.transactions().into_iter().map(|t| t.sender_id).collect();
    assert!(senders.windows(2).all(|w| w[0] == w[1]), "one sender for every payout: {senders:?}");
}

#[tokio::test]
async fn a_payout_that_fails_is_cancelled_and_the_balance_refunded() {
    let t = till().await;
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    let started = t.till.start_payout(&manager(), &refund("2,500", "+254 712 345 619")).await.unwrap();
    let failed = t.till.follow_payout("Njeri", &started.transaction_id, Duration::from_secs(10)).await.unwrap();
    // BitPesa keeps retrying a failed payout: it stays pending until cancelled.
    assert_eq!(failed.state, "pending");
    assert_eq!(failed.recipient_state.as_deref(), Some("error"));
    assert!(failed.may_cancel);
    assert!(failed.state_reason.as_deref().unwrap().starts_with("Mobile number is not registered"));
    assert!(failed.message.contains("cancel it"), "{}", failed.message);
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 250_000)));

    let cashier = Staff { name: "Amina".into(), role: Role::Cashier };
    assert_eq!(t.till.cancel_payout(&cashier, &started.transaction_id).await.unwrap_err().code(), "not_manager");

    let cancelling = t.till.cancel_payout(&manager(), &started.transaction_id).await.unwrap();
    assert!(cancelling.cancel_requested);
    assert!(!cancelling.may_cancel);
    let ended = t.till.follow_payout("Njeri", &started.transaction_id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(ended.state, "failed", "{ended:?}");
    assert_eq!(ended.provider_state.as_deref(), Some("refunded"));
    assert!(ended.receipt.is_none());
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES)), "refunded in full");
    let events = events_of(&t, &started.transaction_id);
    assert!(events.iter().any(|e| e == "payout_cancel_requested"), "{events:?}");
    assert_eq!(events.last().map(String::as_str), Some("payout_outcome"));
    // Final: nothing more to cancel.
    assert_eq!(t.till.cancel_payout(&manager(), &started.transaction_id).await.unwrap_err().code(), "cannot_cancel");
}

#[tokio::test]
async fn a_lost_create_answer_is_found_by_external_id_and_funded_once() {
    let t = till().await;
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    sim.faults.inject("create_transaction", Fault::DropAfterApply);
    let started = t.till.start_payout(&manager(), &refund("1,000", "0712345678")).await.unwrap();
    assert_eq!(started.state, "pending", "{started:?}");
    assert_eq!(sim.transaction_creations(), 1, "never created twice");
    assert!(events_of(&t, &started.transaction_id).iter().any(|e| e == "payout_found"));
    let done = t.till.follow_payout("Njeri", &started.transaction_id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(done.state, "completed");
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 100_000)));
}

#[tokio::test]
async fn an_unknown_payout_never_funded_is_reconciled_by_recover_and_cancelled() {
    let t = till().await;
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    sim.faults.inject("create_transaction", Fault::DropAfterApply);
    sim.faults.inject("find_transaction", Fault::Status { status: 502 });
    let started = t.till.start_payout(&manager(), &refund("1,000", "0712345678")).await.unwrap();
    assert_eq!(started.state, "unknown", "{started:?}");
    assert!(started.message.contains("do not pay this again"), "{}", started.message);

    let settled = t.till.recover("system").await.unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].state, State::Failed);
    let at_bitpesa = sim.transaction(&started.transaction_id).unwrap();
    assert_eq!(at_bitpesa.state, "canceled", "cancelled so nobody can fund it later");
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES)), "nothing left the balance");
    let events = events_of(&t, &started.transaction_id);
    assert!(events.iter().any(|e| e == "payout_found") && events.iter().any(|e| e == "payout_cancel_requested"));
}

#[tokio::test]
async fn a_lost_funding_answer_is_settled_by_reading_the_transaction() {
    let t = till().await;
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    sim.faults.inject("debits", Fault::DropAfterApply);
    let started = t.till.start_payout(&manager(), &refund("700", "0712345678")).await.unwrap();
    assert_eq!(started.state, "pending", "the read showed it funded: {started:?}");
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 70_000)));
    let done = t.till.follow_payout("Njeri", &started.transaction_id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(done.state, "completed");
}

#[tokio::test]
async fn refusals_change_nothing_and_say_why() {
    let t = till().await;
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    let cashier = Staff { name: "Amina".into(), role: Role::Cashier };
    assert_eq!(t.till.start_payout(&cashier, &refund("100", "0712345678")).await.unwrap_err().code(), "not_manager");
    assert_eq!(t.till.bitpesa_balances(&cashier).await.unwrap_err().code(), "not_manager");
    let cents = t.till.start_payout(&manager(), &refund("100.50", "0712345678")).await.unwrap_err();
    assert_eq!(cents.code(), "invalid_amount");
    assert!(cents.to_string().contains("whole KES"), "{cents}");
    let wrong = PayoutInput { corridor: "NGN::Bank".into(), ..refund("100", "0712345678") };
    assert_eq!(t.till.start_payout(&manager(), &wrong).await.unwrap_err().code(), "invalid_corridor");
    assert_eq!(sim.transaction_creations(), 0);
    assert!(t.till.recent_payouts(10).await.unwrap().is_empty());

    // More than the balance: created, refused funding (422), recorded failed.
    sim.set_balance(kes(50_000));
    let e = t.till.start_payout(&manager(), &refund("1,000", "0712345678")).await.unwrap_err();
    assert_eq!(e.code(), "not_funded");
    assert!(e.to_string().contains("Insufficient balance"), "{e}");
    let recent = t.till.recent_payouts(10).await.unwrap();
    assert_eq!(recent[0].state, "failed");
    assert_eq!(sim.balance(Currency::KES), Some(kes(50_000)));
}

#[tokio::test]
async fn a_supplier_is_paid_by_bank_and_a_relayed_webhook_is_verified_and_imported() {
    let t = till().await;
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    sim.set_advance_after(100);
    let recipient: BTreeMap<String, String> = [
        ("name", "Acme Supplies Ltd"),
        ("bank_code", "68"),
        ("bank_account", "1234567800"),
        ("street", "1 Main Street"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let input =
        PayoutInput { corridor: "KES::Bank".into(), amount: "12,000".into(), recipient, reason: "Invoice 45".into() };
    let started = t.till.start_payout(&manager(), &input).await.unwrap();
    assert_eq!(started.recipient, "Acme Supplies Ltd ••••••7800");
    assert!(sim.advance(&started.transaction_id));
    let hook = sim.webhooks().into_iter().last().unwrap();
    let delivery = WebhookDelivery {
        url: hook.url.clone(),
        key: hook.key.clone(),
        nonce: hook.nonce.clone(),
        signature: hook.signature.clone(),
        body: hook.body.clone(),
    };
    // A tampered copy is refused and imports nothing.
    let tampered = WebhookDelivery { body: hook.body.replace("paid", "paid "), ..delivery.clone() };
    assert_eq!(t.till.import_bitpesa_webhook("Njeri", &tampered).await.unwrap_err().code(), "bad_signature");
    let imported = t.till.import_bitpesa_webhook("Njeri", &delivery).await.unwrap();
    assert_eq!(imported.state, "completed", "{imported:?}");
    assert!(imported.receipt.is_some());
    let events = events_of(&t, &started.transaction_id);
    assert!(events.iter().any(|e| e == "payout_outcome"));
}
