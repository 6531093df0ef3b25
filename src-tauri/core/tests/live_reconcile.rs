//! The running app settles what no flow is working on any more, without a
//! restart: a Pesapal order paid after the cashier stopped waiting, a row
//! whose outcome could not be written, a Pesapal answer that changed after
//! it was final. Rows another live till owns, or a flow still holds, are
//! never touched; GiftPesa is redeemed once however often it is submitted.

mod support;

use std::time::Duration;

use kaunta_core::Till;
use kaunta_core::ledger::State;
use kaunta_core::providers::ProviderId;
use kaunta_core::redeem::giftpesa::GiftPesaInput;
use kaunta_core::redeem::pesapal::CheckoutInput;
use kaunta_core::redeem::reconcile::Reconciler;
use kaunta_core::training::Fault;
use support::{ACTIVE, audit_count, till};

fn checkout(amount: &str) -> CheckoutInput {
    CheckoutInput {
        amount: amount.into(),
        description: "Groceries".into(),
        phone: Some("0723456456".into()),
        ..CheckoutInput::default()
    }
}

fn state_of(till: &Till, id: &str) -> State {
    till.ledger().transaction(id).unwrap().unwrap().state
}

/// A second till process on the same database, using the first one's
/// simulator for `provider` (each training till starts its own).
async fn second_till(first: &support::TestTill, provider: ProviderId) -> Till {
    let base = first.till.simulators().unwrap().base_url(provider);
    support::write_config(first.dir.path(), |c| {
        c.providers.insert(
            provider,
            kaunta_core::config::ProviderConfig { base_url: Some(base.to_string()), ..Default::default() },
        );
    });
    Till::open(first.dir.path(), support::options()).await.unwrap()
}

#[tokio::test]
async fn a_pesapal_order_paid_after_the_cashier_stopped_waiting_is_completed_without_a_restart() {
    let t = till().await;
    let started = t.till.checkout_pesapal("Amina", &checkout("950")).await.unwrap();
    // The cashier's wait ends with the order unpaid; they walk away from it.
    let waited = t.till.wait_pesapal("Amina", &started.transaction_id, Duration::ZERO).await.unwrap();
    assert_eq!(waited.state, "pending");

    let mut reconciler = Reconciler::new();
    assert!(reconciler.pass(&t.till).await.unwrap().is_empty(), "unpaid: nothing to record");
    assert_eq!(state_of(&t.till, &started.transaction_id), State::Pending, "an unpaid order stays open");

    // The customer pays with the QR code on their phone.
    assert!(t.till.simulators().unwrap().pesapal.complete(&started.order_tracking_id));
    let settled = Reconciler::new().pass(&t.till).await.unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!((settled[0].id.as_str(), settled[0].state), (started.transaction_id.as_str(), State::Completed));
    assert_eq!(audit_count(&t.till, "checkout_outcome"), 1);
    assert_eq!(audit_count(&t.till, "receipt_printed"), 1);

    // Later passes and the cashier's own look record nothing more.
    assert!(Reconciler::new().pass(&t.till).await.unwrap().is_empty());
    assert_eq!(t.till.pesapal_status("Amina", &started.transaction_id).await.unwrap().state, "completed");
    assert_eq!(audit_count(&t.till, "checkout_outcome"), 1);
    assert_eq!(audit_count(&t.till, "receipt_printed"), 1);
}

#[tokio::test]
async fn an_outcome_that_could_not_be_written_is_settled_by_the_next_pass() {
    let t = till().await;
    // A real SQLite error on every outcome write, as a full or broken disk gives.
    let conn = rusqlite::Connection::open(t.till.ledger().path()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse_outcomes BEFORE UPDATE OF state ON transactions WHEN NEW.state != 'pending'
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .unwrap();
    let e = t.till.redeem_voucher("Amina", ACTIVE).await.unwrap_err();
    assert!(!e.to_string().is_empty());
    let sims = t.till.simulators().unwrap();
    assert_eq!(sims.pesavoucher.redemption_counts().get(ACTIVE), Some(&1), "PesaVoucher redeemed it");
    let row = &t.till.ledger().open_transactions().unwrap()[0];
    assert_eq!(row.state, State::Pending, "the answer never reached the ledger");
    assert_eq!(t.till.redeem_voucher("Amina", ACTIVE).await.unwrap_err().code(), "in_flight");

    // While the disk still refuses, a pass fails and leaves the row as it was.
    assert!(Reconciler::new().pass(&t.till).await.is_err());
    assert_eq!(state_of(&t.till, &row.id), State::Pending);

    conn.execute_batch("DROP TRIGGER refuse_outcomes").unwrap();
    let settled = Reconciler::new().pass(&t.till).await.unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!((settled[0].id.as_str(), settled[0].state), (row.id.as_str(), State::Completed));
    assert_eq!(audit_count(&t.till, "outcome_unrecorded"), 1);
    assert_eq!(audit_count(&t.till, "reconciled"), 1);
    assert_eq!(sims.pesavoucher.redemption_counts().get(ACTIVE), Some(&1), "never redeemed twice");
    support::assert_audit_intact("outcome write failure", &t.till);
}

#[tokio::test]
async fn a_request_still_in_flight_is_left_alone_by_every_pass() {
    let t = till().await;
    let sims = t.till.simulators().unwrap();
    // Long enough that both passes below run while it is still in flight.
    sims.pesavoucher.faults.inject("redeem_voucher", Fault::Latency { ms: 3_000 });
    let other = second_till(&t, ProviderId::PesaVoucher).await;
    let till = &t.till;
    let redeem = till.redeem_voucher("Amina", ACTIVE);
    let passes = async {
        // Wait until the intent is written: the request is then on its way.
        while till.ledger().open_transactions().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let own = Reconciler::new().pass(till).await.unwrap();
        let foreign = Reconciler::new().pass(&other).await.unwrap();
        let foreign_recover = other.recover("system").await.unwrap();
        let row = &till.ledger().open_transactions().unwrap()[0];
        assert_eq!(row.state, State::Pending, "the passes ran while the request was in flight");
        (own, foreign, foreign_recover)
    };
    let (redeemed, (own, foreign, foreign_recover)) = tokio::join!(redeem, passes);
    assert!(own.is_empty() && foreign.is_empty() && foreign_recover.is_empty());
    assert_eq!(redeemed.unwrap().state, "completed");
    assert_eq!(audit_count(till, "outcome_unrecorded"), 0);
    assert_eq!(audit_count(till, "reconciled"), 0);
}

#[tokio::test]
async fn an_unknown_pesavoucher_row_is_reconciled_only_once_its_owner_is_gone() {
    // `t` serves the simulators and is the other till; `owner` redeems.
    let t = till().await;
    let owner = second_till(&t, ProviderId::PesaVoucher).await;
    let sims = t.till.simulators().unwrap();
    sims.pesavoucher.faults.inject("redeem_voucher", Fault::Status { status: 500 });
    let r = owner.redeem_voucher("Amina", ACTIVE).await.unwrap();
    assert_eq!(r.state, "unknown");

    // The voucher still looks valid, but its owner is alive: the request
    // may yet be applied, so another till's "still valid" proves nothing.
    assert!(t.till.recover("system").await.unwrap().is_empty());
    assert!(Reconciler::new().pass(&t.till).await.unwrap().is_empty());
    assert_eq!(state_of(&t.till, &r.transaction_id), State::Unknown);
    assert_eq!(audit_count(&t.till, "reconciled"), 0);

    // Its process ends: now the survivor settles it, once.
    drop(owner);
    let settled = Reconciler::new().pass(&t.till).await.unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!((settled[0].id.as_str(), settled[0].state), (r.transaction_id.as_str(), State::Failed));
    assert_eq!(audit_count(&t.till, "reconciled"), 1);
    assert_eq!(t.till.redeem_voucher("Amina", ACTIVE).await.unwrap().state, "completed");
}

#[tokio::test]
async fn pesapal_paid_after_a_reported_failure_is_completed_and_audited() {
    let t = till().await;
    let started = t.till.checkout_pesapal("Amina", &checkout("400")).await.unwrap();
    let sim = &t.till.simulators().unwrap().pesapal;
    assert!(sim.fail(&started.order_tracking_id));
    assert_eq!(t.till.pesapal_status("Amina", &started.transaction_id).await.unwrap().state, "failed");

    // The customer tries again on the same order, and this time it goes through.
    assert!(sim.complete(&started.order_tracking_id));
    let settled = Reconciler::new().pass(&t.till).await.unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].state, State::Completed);
    assert!(settled[0].outcome_message.as_deref().unwrap().starts_with("Paid after Pesapal first reported it failed"));
    assert_eq!(audit_count(&t.till, "checkout_paid_after_failure"), 1);
    assert_eq!(audit_count(&t.till, "receipt_printed"), 1);
    assert!(Reconciler::new().pass(&t.till).await.unwrap().is_empty(), "recorded once");
    assert_eq!(audit_count(&t.till, "checkout_paid_after_failure"), 1);
    support::assert_audit_intact("failed then completed", &t.till);
}

#[tokio::test]
async fn a_pesapal_payment_reversed_after_it_completed_waits_for_a_manager() {
    let t = till().await;
    let started = t.till.checkout_pesapal("Amina", &checkout("650")).await.unwrap();
    let sim = &t.till.simulators().unwrap().pesapal;
    assert!(sim.complete(&started.order_tracking_id));
    let done = t.till.wait_pesapal("Amina", &started.transaction_id, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.state, "completed");

    assert!(sim.reverse(&started.order_tracking_id));
    let flagged = Reconciler::new().pass(&t.till).await.unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].state, State::Unknown);
    assert_eq!(audit_count(&t.till, "checkout_reversed"), 1);
    // Pesapal keeps saying REVERSED; the flag stays until a manager decides.
    assert!(t.till.recover("Manager Njeri").await.unwrap().is_empty());
    assert!(Reconciler::new().pass(&t.till).await.unwrap().is_empty());
    assert_eq!(state_of(&t.till, &started.transaction_id), State::Unknown);
    assert_eq!(audit_count(&t.till, "checkout_reversed"), 1);
    // The manager settles it as paid (the customer paid cash instead):
    // Pesapal's standing REVERSED does not flag it again.
    let resolved = t
        .till
        .resolve("Manager Njeri", &started.transaction_id, State::Completed, "customer paid cash instead")
        .await
        .unwrap();
    assert_eq!(resolved.state, State::Completed);
    assert!(Reconciler::new().pass(&t.till).await.unwrap().is_empty());
    assert_eq!(state_of(&t.till, &started.transaction_id), State::Completed);
    assert_eq!(audit_count(&t.till, "checkout_reversed"), 1);
    support::assert_audit_intact("completed then reversed", &t.till);
}

fn gift(amount: &str) -> GiftPesaInput {
    GiftPesaInput {
        name: "Jane Doe".into(),
        phone: "0720123456".into(),
        amount: amount.into(),
        till: None,
        remarks: None,
        confirm_repeat: false,
    }
}

#[tokio::test]
async fn giftpesa_submitted_twice_at_once_or_twice_in_a_row_redeems_once() {
    let t = till().await;
    let input = gift("300");
    let (a, b) = tokio::join!(t.till.redeem_giftpesa("Amina", &input), t.till.redeem_giftpesa("Amina", &input));
    let (ok, refused): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(Result::is_ok);
    assert_eq!(ok.len(), 1, "exactly one of two simultaneous submissions goes through");
    let code = refused[0].as_ref().unwrap_err().code();
    assert!(matches!(code, "in_flight" | "just_redeemed"), "{code}");

    // A double click after the first finished, or the same from another till.
    let refusals = audit_count(&t.till, "redeem_refused");
    let e = t.till.redeem_giftpesa("Amina", &gift("300")).await.unwrap_err();
    assert_eq!(e.code(), "just_redeemed");
    support::assert_plain("double click", &e.to_string());
    let other = second_till(&t, ProviderId::GiftPesa).await;
    assert_eq!(other.redeem_giftpesa("Amina", &gift("300")).await.unwrap_err().code(), "just_redeemed");

    let counts = t.till.simulators().unwrap().giftpesa.redemption_counts();
    assert_eq!(counts.values().sum::<u32>(), 1, "GiftPesa was asked once");
    assert_eq!(audit_count(&t.till, "redeem_refused"), refusals + 2, "both refusals are audited");
    // A different amount is a different request.
    assert_eq!(t.till.redeem_giftpesa("Amina", &gift("200")).await.unwrap().state, "completed");

    // A genuine second purchase of the same amount, confirmed by the cashier
    // after the warning: redeemed, and the confirmation audited.
    let again = GiftPesaInput { confirm_repeat: true, ..gift("200") };
    assert_eq!(t.till.redeem_giftpesa("Amina", &again).await.unwrap().state, "completed");
    assert_eq!(audit_count(&t.till, "repeat_confirmed"), 1);
    let counts = t.till.simulators().unwrap().giftpesa.redemption_counts();
    assert_eq!(counts.values().sum::<u32>(), 3, "two of 200 and one of 300");
    // A confirmation is not needed, and not audited, when nothing repeats.
    let first = GiftPesaInput { confirm_repeat: true, ..gift("150") };
    assert_eq!(t.till.redeem_giftpesa("Amina", &first).await.unwrap().state, "completed");
    assert_eq!(audit_count(&t.till, "repeat_confirmed"), 1);
}
