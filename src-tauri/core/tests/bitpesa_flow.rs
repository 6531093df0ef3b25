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
    let reads = || sim.faults.received().get("transaction").copied().unwrap_or(0);
    let reads_before = reads();
    let pending = t.till.ledger().transaction(&started.transaction_id).unwrap().unwrap();
    assert_eq!(pending.state, State::Pending, "paid at BitPesa, not yet known to the ledger");
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
    assert_eq!(reads(), reads_before, "a refused webhook asks BitPesa nothing");
    assert_eq!(t.till.ledger().transaction(&started.transaction_id).unwrap().unwrap().state, State::Pending);
    let imported = t.till.import_bitpesa_webhook("Njeri", &delivery).await.unwrap();
    assert_eq!(imported.state, "completed", "{imported:?}");
    assert!(imported.receipt.is_some());
    // The import itself read the transaction once and settled the row.
    assert_eq!(reads(), reads_before + 1, "the webhook's import read BitPesa's status");
    assert_eq!(t.till.ledger().transaction(&started.transaction_id).unwrap().unwrap().state, State::Completed);
    let events = events_of(&t, &started.transaction_id);
    assert!(events.iter().any(|e| e == "payout_outcome"));
}

fn sim_of(t: &TestTill) -> std::sync::Arc<kaunta_core::training::bitpesa::BitPesaSim> {
    t.till.simulators().unwrap().bitpesa.clone()
}

fn trail(t: &TestTill, id: &str) -> Vec<(String, String, String)> {
    t.till.ledger().audit_trail(id).unwrap().into_iter().map(|e| (e.event, e.outcome, e.details)).collect()
}

#[tokio::test]
async fn a_status_read_failing_right_after_funding_answers_funded_and_the_balance_is_debited_once() {
    let t = till().await;
    let sim = sim_of(&t);
    // The first status read is the one right after funding.
    sim.faults.inject("transaction", Fault::Status { status: 502 });
    let started = t.till.start_payout(&manager(), &refund("1,200", "0712345678")).await.unwrap();
    assert_eq!(started.state, "pending", "{started:?}");
    assert!(started.message.starts_with("Funded; BitPesa's status not read yet"), "{}", started.message);
    assert!(started.bitpesa_id.is_some());
    assert_eq!(sim.faults.received().get("transaction").copied(), Some(1));
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 120_000)));
    // The list, which reads nothing, says the same from the ledger.
    let listed = t.till.recent_payouts(10).await.unwrap();
    assert_eq!(listed[0].message, "Funded; BitPesa's status not read yet");
    let done = t.till.follow_payout("Njeri", &started.transaction_id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(done.state, "completed", "{done:?}");
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 120_000)), "debited once");
    assert_eq!(sim.transaction_creations(), 1);
}

#[tokio::test]
async fn a_foreign_transaction_or_sender_without_external_id_is_never_adopted() {
    let t = till().await;
    let sim = sim_of(&t);
    let foreign = sim.seed_foreign_transaction(kes(100_000));
    sim.seed_foreign_sender();
    // The create is lost before BitPesa applied it: the lookup lists only the foreign one.
    sim.faults.inject("create_transaction", Fault::DropBeforeApply);
    let started = t.till.start_payout(&manager(), &refund("1,000", "0712345678")).await.unwrap();
    assert_eq!(started.state, "unknown", "{started:?}");
    assert!(started.bitpesa_id.is_none(), "{started:?}");
    assert_eq!(sim.sender_creations(), 1, "the store's own sender, not the one without external_id");
    // Nor does reconciliation adopt (and cancel) it.
    let settled = t.till.recover("system").await.unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].state, State::Failed);
    assert!(settled[0].provider_reference.is_none());
    let other = sim.transaction(&foreign).unwrap();
    assert_eq!((other.state.as_str(), other.paid.minor), ("approved", 0), "never funded nor cancelled by us");
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES)));
}

#[tokio::test]
async fn a_manager_cannot_close_an_unknown_payout_bitpesa_holds_by_hand() {
    let t = till().await;
    let sim = sim_of(&t);
    // Created at BitPesa, its answer and the lookup lost: unknown.
    sim.faults.inject("create_transaction", Fault::DropAfterApply);
    sim.faults.inject("find_transaction", Fault::Status { status: 502 });
    let held = t.till.start_payout(&manager(), &refund("1,000", "0712345678")).await.unwrap();
    assert_eq!(held.state, "unknown");
    for to in [State::Failed, State::Completed] {
        let e = t.till.resolve("Njeri", &held.transaction_id, to, "portal looks failed").await.unwrap_err();
        assert_eq!(e.code(), "resolve_in_payouts", "{e}");
        assert!(e.to_string().contains("Payouts tab"), "{e}");
    }
    assert_eq!(t.till.ledger().transaction(&held.transaction_id).unwrap().unwrap().state, State::Unknown);

    // Never created at BitPesa: it may be closed as failed, not as paid.
    sim.faults.inject("create_transaction", Fault::DropBeforeApply);
    let never = t.till.start_payout(&manager(), &refund("900", "0712345678")).await.unwrap();
    assert_eq!(never.state, "unknown");
    let e = t.till.resolve("Njeri", &never.transaction_id, State::Completed, "paid").await.unwrap_err();
    assert_eq!(e.code(), "resolve_in_payouts");
    let row = t.till.resolve("Njeri", &never.transaction_id, State::Failed, "never created").await.unwrap();
    assert_eq!(row.state, State::Failed);
}

#[tokio::test]
async fn a_sender_lookup_failing_after_the_intent_ends_it_failed_with_its_audit_row() {
    let t = till().await;
    let sim = sim_of(&t);
    t.till.start_payout(&manager(), &refund("100", "0712345678")).await.unwrap();
    // The remembered sender is gone at BitPesa (a 422 on `sender`), and finding it again fails.
    rusqlite::Connection::open(t.till.ledger().path())
        .unwrap()
        .execute("UPDATE provider_settings SET value = 'no-such-sender' WHERE provider = 'bitpesa'", [])
        .unwrap();
    sim.faults.inject("find_sender", Fault::Status { status: 503 });
    t.till.start_payout(&manager(), &refund("200", "0712345678")).await.unwrap_err();
    let recent = t.till.recent_payouts(10).await.unwrap();
    assert_eq!(recent.len(), 2);
    let orphan = &recent[0];
    assert_eq!(orphan.state, "failed", "{orphan:?}");
    assert!(orphan.message.starts_with("Not created: "), "{}", orphan.message);
    assert!(!orphan.message.contains("Funded"));
    assert_eq!(events_of(&t, &orphan.transaction_id).last().map(String::as_str), Some("payout_outcome"));
    assert_eq!(sim.transaction_creations(), 1);
}

#[tokio::test]
async fn a_payout_not_yet_at_bitpesa_is_never_shown_as_funded() {
    let t = till().await;
    let sim = sim_of(&t);
    sim.faults.inject("create_transaction", Fault::HangBeforeApply);
    let (input, by) = (refund("300", "0712345678"), manager());
    let start = t.till.start_payout(&by, &input);
    let look = async {
        sim.faults.wait_for("create_transaction", 1).await;
        t.till.recent_payouts(10).await.unwrap()
    };
    let listed = tokio::select! {
        _ = start => panic!("the create hangs"),
        listed = look => listed,
    };
    assert_eq!(listed[0].state, "pending");
    assert!(!listed[0].message.contains("Funded"), "{}", listed[0].message);
    assert!(listed[0].message.starts_with("Not created at BitPesa yet"), "{}", listed[0].message);
}

#[tokio::test]
async fn a_cancelled_transaction_without_paid_amount_waits_for_its_refund() {
    let t = till().await;
    let sim = sim_of(&t);
    sim.set_advance_after(100);
    let started = t.till.start_payout(&manager(), &refund("2,500", "+254 712 345 619")).await.unwrap();
    assert!(sim.advance(&started.transaction_id), "the payout fails at the provider");
    assert!(sim.hide_paid_amount(&started.transaction_id, true));
    let cancelling = t.till.cancel_payout(&manager(), &started.transaction_id).await.unwrap();
    assert_eq!(cancelling.provider_state.as_deref(), Some("canceled"));
    assert_eq!(cancelling.state, "pending", "funded per the ledger: not 'cancelled before funding' {cancelling:?}");
    assert!(cancelling.cancel_requested);
    assert!(sim.advance(&started.transaction_id), "the refund lands");
    let ended = t.till.refresh_payout(&manager(), &started.transaction_id).await.unwrap();
    assert_eq!(ended.state, "failed");
    assert!(ended.message.contains("refunded"), "{}", ended.message);
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES)));

    // Never funded per the ledger (created, answer lost, reconciled and
    // cancelled): failed although paid_amount is missing.
    sim.faults.inject("create_transaction", Fault::DropAfterApply);
    sim.faults.inject("find_transaction", Fault::Status { status: 502 });
    let lost = t.till.start_payout(&manager(), &refund("1,000", "0712345678")).await.unwrap();
    assert_eq!(lost.state, "unknown");
    assert!(sim.hide_paid_amount(&lost.transaction_id, true));
    let settled = t.till.recover("system").await.unwrap();
    let row = settled.iter().find(|r| r.id == lost.transaction_id).unwrap();
    assert_eq!(row.state, State::Failed);
    assert_eq!(row.outcome_message.as_deref(), Some("Cancelled before funding: nothing was paid out"));
}

#[tokio::test]
async fn a_stuck_or_exception_payout_is_not_called_failed_and_cancel_is_bitpesas_call() {
    let t = till().await;
    let sim = sim_of(&t);
    sim.set_advance_after(100);
    let started = t.till.start_payout(&manager(), &refund("800", "0712345678")).await.unwrap();
    for (transaction, recipient, may_cancel) in
        [("received", "stuck", false), ("exception", "pending", false), ("received", "manual", true)]
    {
        assert!(sim.set_states(&started.transaction_id, transaction, recipient, may_cancel));
        let v = t.till.refresh_payout(&manager(), &started.transaction_id).await.unwrap();
        assert_eq!(v.state, "pending");
        assert!(v.message.starts_with("BitPesa is checking this payout: it may or may not have been paid"), "{v:?}");
        assert!(!v.message.contains("failed"), "{}", v.message);
        assert_eq!(v.may_cancel, may_cancel, "{transaction}/{recipient}: BitPesa's flag decides");
    }
}

#[tokio::test]
async fn every_quiet_cancel_is_audited_success_or_failure() {
    let t = till().await;
    let sim = sim_of(&t);
    sim.set_balance(kes(50_000));
    // Funding refused (422): the unfunded transaction is cancelled, and that is audited.
    let e = t.till.start_payout(&manager(), &refund("1,000", "0712345678")).await.unwrap_err();
    assert_eq!(e.code(), "not_funded");
    let first = t.till.recent_payouts(10).await.unwrap()[0].transaction_id.clone();
    let cancels: Vec<_> = trail(&t, &first).into_iter().filter(|e| e.0 == "payout_cancel_requested").collect();
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    assert_eq!(cancels[0].1, "success");
    // The cancel request itself refused: audited as a failure.
    sim.faults.inject("cancel", Fault::Status { status: 503 });
    t.till.start_payout(&manager(), &refund("900", "0712345678")).await.unwrap_err();
    let second = t.till.recent_payouts(10).await.unwrap()[0].transaction_id.clone();
    let cancels: Vec<_> = trail(&t, &second).into_iter().filter(|e| e.0 == "payout_cancel_requested").collect();
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    assert_eq!(cancels[0].1, "failure");
}

#[tokio::test]
async fn a_401_on_funding_is_not_proof_the_transaction_reads_first() {
    let t = till().await;
    let sim = sim_of(&t);
    // BitPesa debited, then a 401 came back: the read shows it funded.
    sim.faults.inject("debits", Fault::StatusAfterApply { status: 401 });
    let funded = t.till.start_payout(&manager(), &refund("600", "0712345678")).await.unwrap();
    assert_eq!(funded.state, "pending", "{funded:?}");
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 60_000)));
    assert_eq!(sim.transaction(&funded.transaction_id).unwrap().state, "received", "not cancelled");
    assert!(events_of(&t, &funded.transaction_id).iter().any(|e| e == "payout_funded"));
    let done = t.till.follow_payout("Njeri", &funded.transaction_id, Duration::from_secs(10)).await.unwrap();
    assert_eq!(done.state, "completed");

    // A 401 with nothing debited: the read shows it unfunded; cancelled, failed.
    sim.faults.inject("debits", Fault::Status { status: 401 });
    let e = t.till.start_payout(&manager(), &refund("500", "0712345678")).await.unwrap_err();
    assert_eq!(e.code(), "not_funded", "{e}");
    let refused = t.till.recent_payouts(10).await.unwrap()[0].clone();
    assert_eq!(refused.state, "failed");
    assert_eq!(sim.transaction(&refused.transaction_id).unwrap().state, "canceled");
    assert_eq!(sim.balance(Currency::KES), Some(kes(OPENING_KES - 60_000)));
}
