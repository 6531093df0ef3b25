//! The Pesapal checkout below the window: the intent before the order, the
//! status asked until final, a payment recorded once and checked, failures
//! in plain words, and recovery after a crash.

mod support;

use std::time::Duration;

use kaunta_core::ledger::State;
use kaunta_core::redeem::pesapal::CheckoutInput;
use kaunta_core::training::Fault;
use support::till;

fn input(amount: &str) -> CheckoutInput {
    CheckoutInput {
        amount: amount.into(),
        description: "Groceries".into(),
        phone: Some("0723456456".into()),
        ..CheckoutInput::default()
    }
}

#[tokio::test]
async fn a_checkout_is_paid_confirmed_and_recorded_once() {
    let t = till().await;
    let started = t.till.checkout_pesapal("Amina", &input("1,500")).await.unwrap();
    assert_eq!(started.amount.display, "KES 1,500.00");
    assert!(started.redirect_url.contains(&started.order_tracking_id));
    assert_eq!(started.qr.modules.len(), started.qr.width * started.qr.width);
    let row = t.till.ledger().transaction(&started.transaction_id).unwrap().unwrap();
    assert_eq!((row.state, row.operation.as_str()), (State::Pending, "checkout"));
    assert_eq!(row.provider_reference.as_deref(), Some(started.order_tracking_id.as_str()));

    let pending = t.till.pesapal_status("Amina", &started.transaction_id).await.unwrap();
    assert_eq!(pending.state, "pending");

    let sims = t.till.simulators().unwrap();
    assert!(sims.pesapal.complete(&started.order_tracking_id));
    let done = t.till.wait_pesapal("Amina", &started.transaction_id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.state, "completed", "{done:?}");
    let result = done.result.unwrap();
    assert_eq!(result.message, "KES 1,500.00 paid: hand over the goods");
    assert!(result.receipt.is_some());
    assert!(done.confirmation_code.is_some());

    // A second report (callback, IPN, another poll) records nothing new.
    let again = t.till.pesapal_status("Amina", &started.transaction_id).await.unwrap();
    assert_eq!(again.state, "completed");
    let count = |event: &str| -> i64 {
        rusqlite::Connection::open(t.till.ledger().path())
            .unwrap()
            .query_row("SELECT COUNT(*) FROM audit_log WHERE event = ?1", [event], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count("checkout_outcome"), 1);
    assert_eq!(count("receipt_printed"), 1, "one receipt however often the payment is reported");
}

#[tokio::test]
async fn a_failed_payment_is_failed_in_plain_words() {
    let t = till().await;
    let started = t.till.checkout_pesapal("Amina", &input("200")).await.unwrap();
    assert!(t.till.simulators().unwrap().pesapal.fail(&started.order_tracking_id));
    let status = t.till.pesapal_status("Amina", &started.transaction_id).await.unwrap();
    assert_eq!(status.state, "failed");
    assert!(status.message.starts_with("Payment failed"), "{}", status.message);
    assert_eq!(t.till.ledger().transaction(&started.transaction_id).unwrap().unwrap().state, State::Failed);
}

#[tokio::test]
async fn bad_input_is_refused_before_any_order() {
    let t = till().await;
    for (i, code) in [
        (input("0"), "invalid_amount"),
        (input("12.345"), "invalid_amount"),
        (CheckoutInput { description: " ".into(), ..input("10") }, "invalid_description"),
        (CheckoutInput { description: "x".repeat(101), ..input("10") }, "invalid_description"),
        (CheckoutInput { phone: None, ..input("10") }, "contact_missing"),
        (CheckoutInput { phone: Some("12".into()), ..input("10") }, "invalid_phone"),
        (CheckoutInput { phone: None, email: Some("a@<b>.com".into()), ..input("10") }, "invalid_email"),
    ] {
        assert_eq!(t.till.checkout_pesapal("Amina", &i).await.unwrap_err().code(), code, "{i:?}");
    }
    assert!(t.till.ledger().recent(10).unwrap().is_empty());
    assert!(t.till.simulators().unwrap().pesapal.orders().is_empty());
}

#[tokio::test]
async fn a_lost_order_answer_takes_no_payment_and_fails() {
    let t = till().await;
    t.till.simulators().unwrap().pesapal.faults.inject("SubmitOrderRequest", Fault::DropAfterApply);
    let e = t.till.checkout_pesapal("Amina", &input("300")).await.unwrap_err();
    assert_eq!(e.code(), "checkout_not_created", "{e:?}");
    assert!(e.to_string().contains("No payment was taken; you can try again"), "{e}");
    let row = &t.till.ledger().recent(1).unwrap()[0];
    assert_eq!(row.state, State::Failed);
    assert!(row.outcome_message.as_deref().unwrap().contains("No payment was taken"));
}

/// Another till process (still running: its lease is held) opened the
/// checkout; this one leaves the row alone on recovery but can ask about it.
/// The kill -9 case is in tests/headless.rs.
#[tokio::test]
async fn a_checkout_opened_by_another_live_process_can_be_asked_about() {
    let dir = tempfile::tempdir().unwrap();
    support::write_config(dir.path(), |_| {});
    let crashed = kaunta_core::Till::open(dir.path(), support::options()).await.unwrap();
    let started = crashed.checkout_pesapal("Amina", &input("700")).await.unwrap();
    let tracking = started.order_tracking_id.clone();
    // The customer pays; a second till process comes up against the same provider.
    assert!(crashed.simulators().unwrap().pesapal.complete(&tracking));
    let base = crashed.simulators().unwrap().base_url(kaunta_core::providers::ProviderId::Pesapal);
    // Keep the first till (and its simulators) alive, as another running process would be.
    let _first = crashed;
    support::write_config(dir.path(), |c| {
        c.providers.insert(
            kaunta_core::providers::ProviderId::Pesapal,
            kaunta_core::config::ProviderConfig { base_url: Some(base.to_string()), ..Default::default() },
        );
    });
    let restarted = kaunta_core::Till::open(dir.path(), support::options()).await.unwrap();
    let settled = restarted.recover("system").await.unwrap();
    assert!(settled.is_empty(), "a row whose owner still holds its lease is not touched");
    let status = restarted.pesapal_status("Manager", &started.transaction_id).await.unwrap();
    assert_eq!(status.state, "completed");
}
